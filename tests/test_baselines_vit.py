"""OpenCV's VitTrack as a baseline: the model path from the user (never shipped), a one-line error when it is missing,
and a real run with the file in ../shared/models/vittrack when it is there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import moving_target_clip, write_sequence_folder
from twintrack.cli import main
from twintrack.errors import UserError
from twintrack.eval.baselines import VITTRACK_ENV, VITTRACK_FILE, OpenCVTracker, vittrack_path
from twintrack.geometry import iou

VIT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "vittrack"


def require_vit() -> Path:
    if not (VIT_DIR / VITTRACK_FILE).is_file():
        pytest.skip(f"VitTrack's ONNX file not found in {VIT_DIR}")
    return VIT_DIR / VITTRACK_FILE


def test_missing_model_is_one_line_naming_what_to_pass(monkeypatch, tmp_path):
    monkeypatch.delenv(VITTRACK_ENV, raising=False)
    with pytest.raises(UserError, match="needs VitTrack's ONNX file") as err:
        OpenCVTracker("vit")
    assert "\n" not in str(err.value) and "--vit-model" in str(err.value) and VITTRACK_ENV in str(err.value)
    with pytest.raises(UserError, match="'/nope/vit.onnx' does not exist") as err:
        OpenCVTracker("vit", model="/nope/vit.onnx")
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match=f"'{tmp_path / VITTRACK_FILE}' does not exist"):
        vittrack_path(tmp_path)  # a folder without the file


def test_path_as_a_file_a_folder_or_the_environment(tmp_path, monkeypatch):
    model = tmp_path / VITTRACK_FILE
    model.write_bytes(b"onnx")
    assert vittrack_path(model) == model
    assert vittrack_path(str(tmp_path)) == model
    monkeypatch.setenv(VITTRACK_ENV, str(model))
    assert vittrack_path() == model


def test_vittrack_follows_a_moving_texture_with_its_own_score():
    model = require_vit()
    frames, truth = moving_target_clip(20, (160, 160), 32, (20, 30), (3, 2), background="smooth", seed=0)
    tracker = OpenCVTracker("vit", model=model)
    tracker.init(frames[0], truth[0])
    results = [tracker.update(frame) for frame in frames[1:]]
    boxes = np.array([r.box for r in results])
    scores = np.array([r.score for r in results])
    assert iou(boxes, truth[1:]).mean() > 0.6
    # The network's confidence, not OpenCV's ok flag; lost is its own rule (score below 0.2).
    assert np.all((scores >= 0) & (scores <= 1)) and len(np.unique(scores)) > 2
    assert [r.lost for r in results] == [s < 0.2 for s in scores]


def test_eval_cli_runs_the_vit_baseline(tmp_path, monkeypatch, capsys):
    model = require_vit()
    monkeypatch.setenv(VITTRACK_ENV, "")  # unset, and restored after --vit-model sets it for the workers
    data = tmp_path / "data"
    frames, boxes = moving_target_clip(6, (96, 96), 24, (20, 30), (3, 2), seed=0)
    write_sequence_folder(data / "seq_a", frames, boxes)
    common = ["eval", "--baseline", "vit", "--dataset", f"folder:{data}"]
    assert main(common + ["--out", str(tmp_path / "missing")]) == 2
    assert "twintrack: error: baseline 'vit' needs VitTrack's ONNX file" in capsys.readouterr().err
    assert main(common + ["--out", str(tmp_path / "out"), "--vit-model", str(model)]) == 0
    rows = np.loadtxt(tmp_path / "out" / "results" / "vit" / "seq_a.txt", delimiter=",", ndmin=2)
    assert rows.shape == (6, 4)
