"""app/validate.py: validation during training tracks with the network in training and leaves it untouched."""

from __future__ import annotations

import torch

from conftest import make_random_net, moving_target_clip, write_sequence_folder
from twintrack.app.validate import TrackingValidator


def test_validation_scores_and_leaves_the_training_network_alone(tmp_path):
    write_sequence_folder(tmp_path / "val" / "seq", *moving_target_clip(5, (96, 96), 24, (20, 24), (2, 1), seed=2))
    net = make_random_net(0).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    scores = TrackingValidator("siamfc", str(tmp_path / "val"), torch.device("cpu"))(net)
    assert set(scores) == {"val_auc", "val_prec"} and 0.0 <= scores["val_auc"] <= 1.0
    after = net.state_dict()
    assert before.keys() == after.keys()  # BatchNorm not folded away
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert net.training  # still in training mode


def test_the_mdnet_trainer_validates_through_the_shared_loop(tmp_path):
    import csv

    from conftest import write_training_set
    from twintrack.configs import load_config
    from twintrack.data import discover
    from twintrack.train.mdnet_trainer import MDNetTrainer

    data = write_training_set(tmp_path / "data", count=2, frames=6, frame_size=(96, 96), target=24, start=(20, 24))
    config = load_config("train_mdnet", {"iterations": 4, "frames_per_iter": 2, "batch_pos": 4, "batch_neg": 8,
                                         "region_size": 127, "autocast_bf16": False, "val_data": str(data / "seq0"),
                                         "val_every": 1})
    device = torch.device("cpu")
    small = {"n_pos_init": 20, "n_neg_init": 60, "maxiter_init": 2, "n_samples": 16, "batch_neg_cand": 32,
             "n_bbreg": 20, "maxiter_update": 1, "region_size": 127}

    class SmallMDNetValidator(TrackingValidator):
        def __call__(self, net):  # the preset's MDNet is slow: a small one on the same loop
            from twintrack.eval.runner import run_sequence

            tracker = self.entry.build_tracker(net, self.entry.load_config(small), self.device, seed=0)
            run = run_sequence(tracker, self.sequences[0])
            return {"val_auc": run.score.success_auc, "val_prec": run.score.precision}

    trainer = MDNetTrainer(config, discover(data), tmp_path / "run", device,
                           validator=SmallMDNetValidator("mdnet", str(data / "seq0"), device))
    trainer.fit(progress=False)
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]  # two domains: an epoch is two iterations
    assert all(0.0 <= float(r["val_auc"]) <= 1.0 for r in rows)
    assert (tmp_path / "run" / "curves.png").exists() and any((tmp_path / "run" / "tb").iterdir())
