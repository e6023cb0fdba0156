"""Evaluation: our metrics against got10k's, a perfect tracker's scores, and the eval CLI's resumable results."""

from __future__ import annotations

import numpy as np
import pytest

from twintrack.cli import main
from twintrack.eval.metrics import score_sequence
from twintrack.eval.sequences import load_folder_sequences
from twintrack.geometry import from_one_based, to_one_based

from conftest import moving_target_clip, write_sequence_folder


def random_boxes(rng, n):
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(5, 80, (n, 2))
    return np.concatenate([xy, wh], axis=1)


def test_metrics_equal_got10k_on_random_boxes():
    from got10k.experiments.otb import ExperimentOTB
    from got10k.utils.metrics import center_error, rect_iou

    rng = np.random.default_rng(0)
    gt = random_boxes(rng, 300)
    pred = gt + rng.normal(0, 15, gt.shape)
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    ours = score_sequence(pred, gt)
    # got10k's ExperimentOTB._calc_curves, called without building the experiment (which would download OTB).
    experiment = ExperimentOTB.__new__(ExperimentOTB)
    experiment.nbins_iou, experiment.nbins_ce = 21, 51
    succ, prec = experiment._calc_curves(rect_iou(pred.copy(), gt.copy()), center_error(pred, gt))
    np.testing.assert_allclose(ours.success_curve, succ, atol=1e-12)
    np.testing.assert_allclose(ours.precision_curve, prec, atol=1e-12)
    assert ours.success_auc == pytest.approx(np.mean(succ))
    assert ours.precision == pytest.approx(prec[20])


def test_ground_truth_tracker_scores_the_maximum():
    gt = random_boxes(np.random.default_rng(1), 50)
    score = score_sequence(gt, gt)
    # IoU is 1 > every threshold below 1, but not > 1.0 itself: 20 of 21 bins, AUC 20/21 (as got10k).
    assert score.success_auc == pytest.approx(20 / 21)
    assert score.precision == 1.0
    assert score.mean_iou == pytest.approx(1.0)


def test_one_based_round_trip():
    boxes = np.array([[1.0, 1.0, 10.0, 20.0], [5.5, 7.25, 3.0, 4.0]])
    np.testing.assert_array_equal(from_one_based(boxes)[0], [0.0, 0.0, 10.0, 20.0])
    np.testing.assert_array_equal(to_one_based(from_one_based(boxes)), boxes)


def test_eval_cli_writes_results_and_skips_finished_sequences(tmp_path, capsys):
    data = tmp_path / "data"
    for name, seed in (("seq_a", 0), ("seq_b", 1)):
        frames, boxes = moving_target_clip(6, (96, 96), 24, (20, 30), (3, 2), seed=seed)
        write_sequence_folder(data / name, frames, boxes)
    sequences = load_folder_sequences(data)
    assert [s.name for s in sequences] == ["seq_a", "seq_b"]
    out = tmp_path / "out"
    assert main(["eval", "--baseline", "kcf", "--dataset", f"folder:{data}", "--out", str(out)]) == 0
    result = out / "results" / "kcf" / "seq_a.txt"
    rows = np.loadtxt(result, delimiter=",", ndmin=2)
    assert rows.shape == (6, 4)
    # got10k layout: 1-based boxes; the first row is the first ground-truth box.
    np.testing.assert_allclose(from_one_based(rows[0]), sequences[0].ground_truth[0], atol=1e-3)
    assert (out / "report.md").exists() and (out / "success.png").exists() and (out / "precision.png").exists()
    # A second run keeps finished results (same mtime); --overwrite redoes them.
    stamp = result.stat().st_mtime_ns
    assert main(["eval", "--baseline", "kcf", "--dataset", f"folder:{data}", "--out", str(out)]) == 0
    assert result.stat().st_mtime_ns == stamp
    assert main(["eval", "--baseline", "kcf", "--dataset", f"folder:{data}", "--out", str(out), "--overwrite"]) == 0
    assert result.stat().st_mtime_ns != stamp


def test_eval_cli_bad_dataset_is_one_line(tmp_path, capsys):
    assert main(["eval", "--baseline", "kcf", "--dataset", f"folder:{tmp_path / 'nope'}", "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("twintrack: error:")
