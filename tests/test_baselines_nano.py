"""OpenCV's NanoTrack v2 as a baseline: model paths from the user (never shipped), one-line errors when missing,
and a real run with the files in ../shared/models/nanotrack when they are there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import moving_target_clip, write_sequence_folder
from twintrack.cli import main
from twintrack.errors import UserError
from twintrack.eval.baselines import NANOTRACK_ENV, NANOTRACK_FILES, OpenCVTracker, nanotrack_paths
from twintrack.geometry import iou

NANO_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "nanotrack"


def require_nano() -> Path:
    if not all((NANO_DIR / name).is_file() for name in NANOTRACK_FILES):
        pytest.skip(f"NanoTrack v2 ONNX files not found in {NANO_DIR}")
    return NANO_DIR


def test_missing_model_is_one_line_naming_what_to_pass(monkeypatch):
    monkeypatch.delenv(NANOTRACK_ENV, raising=False)
    with pytest.raises(UserError, match="needs NanoTrack v2's two ONNX files") as err:
        OpenCVTracker("nano")
    assert "\n" not in str(err.value) and "--nano-model" in str(err.value)
    with pytest.raises(UserError, match="'/nope/b.onnx' does not exist"):
        nanotrack_paths(f"{__file__},/nope/b.onnx")
    with pytest.raises(UserError, match="exactly two"):
        nanotrack_paths("a.onnx,b.onnx,c.onnx")


def test_paths_as_a_pair_a_comma_list_a_folder_or_the_environment(tmp_path, monkeypatch):
    for name in NANOTRACK_FILES:
        (tmp_path / name).write_bytes(b"onnx")
    expected = tuple(tmp_path / name for name in NANOTRACK_FILES)
    assert nanotrack_paths(tmp_path) == expected
    assert nanotrack_paths(",".join(str(p) for p in expected)) == expected
    assert nanotrack_paths(list(expected)) == expected
    monkeypatch.setenv(NANOTRACK_ENV, str(tmp_path))
    assert nanotrack_paths() == expected


def test_nanotrack_follows_a_moving_texture():
    model = require_nano()
    frames, truth = moving_target_clip(20, (160, 160), 32, (20, 30), (3, 2), background="smooth", seed=0)
    tracker = OpenCVTracker("nano", model=model)
    tracker.init(frames[0], truth[0])
    boxes = np.array([tracker.update(frame).box for frame in frames[1:]])
    # Measured: mean IoU 0.9 on this clip.
    assert iou(boxes, truth[1:]).mean() > 0.6


def test_eval_cli_runs_the_nano_baseline(tmp_path, monkeypatch, capsys):
    model = require_nano()
    monkeypatch.delenv(NANOTRACK_ENV, raising=False)
    data = tmp_path / "data"
    frames, boxes = moving_target_clip(6, (96, 96), 24, (20, 30), (3, 2), seed=0)
    write_sequence_folder(data / "seq_a", frames, boxes)
    common = ["eval", "--baseline", "nano", "--dataset", f"folder:{data}"]
    assert main(common + ["--out", str(tmp_path / "missing")]) == 2
    assert "twintrack: error: baseline 'nano' needs NanoTrack v2" in capsys.readouterr().err
    assert main(common + ["--out", str(tmp_path / "out"), "--nano-model", str(model)]) == 0
    rows = np.loadtxt(tmp_path / "out" / "results" / "nano" / "seq_a.txt", delimiter=",", ndmin=2)
    assert rows.shape == (6, 4)


def test_a_baselines_record_names_its_model_files_so_another_model_is_redone(tmp_path, monkeypatch):
    from twintrack.eval.provenance import tracker_record, why_stale

    for name in NANOTRACK_FILES:
        (tmp_path / name).write_bytes(name.encode())
    monkeypatch.setenv(NANOTRACK_ENV, str(tmp_path))
    first = tracker_record("nano", True, None, None, None)
    assert len(first["model_sha256"]) == 2
    (tmp_path / NANOTRACK_FILES[1]).write_bytes(b"another head")
    second = tracker_record("nano", True, None, None, None)
    assert why_stale(first, second) == "model file"
    assert "model_sha256" not in tracker_record("csrt", True, None, None, None)
