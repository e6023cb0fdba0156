"""eval/validate.py: validation during training tracks with the network in training and leaves it untouched."""

from __future__ import annotations

import torch

from conftest import make_random_net, moving_target_clip, write_sequence_folder
from twintrack.eval.validate import TrackingValidator


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
