"""The fault suite, eval provenance: a result records what computed its numbers besides config and weights (the
backbone engine and precision, torch / onnxruntime / OpenCV versions, the processor) and is redone when that
differs; report.md shows them. The issue: int8 results were reported as-is by a venv without onnxruntime."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import moving_target_clip, write_sequence_folder

from twintrack.cli.main import main
from twintrack.runtime import cpu

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]
pytest.importorskip("got10k")
pytest.importorskip("onnxruntime")


def write_dataset(root: Path) -> Path:
    for name, seed in (("seq_a", 0), ("seq_b", 1)):
        clip, boxes = moving_target_clip(4, (96, 96), 24, (20, 30), (3, 2), seed=seed)
        write_sequence_folder(root / name, clip, boxes)
    return root


def evaluate(data: Path, out: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["eval", "--tracker", "siamfc", "--device", "cpu", "--dataset", f"folder:{data}",
                 "--out", str(out)]) == 0
    return capsys.readouterr().out


def record(out: Path) -> dict:
    return json.loads((out / "results" / "siamfc" / ".provenance" / "seq_a.json").read_text())


def test_int8_results_are_redone_where_onnxruntime_is_missing(tmp_path, capsys, monkeypatch):
    import cv2
    import onnxruntime
    import torch

    data, out = write_dataset(tmp_path / "data"), tmp_path / "out"
    monkeypatch.setattr(cpu, "native_int8", lambda: True)  # precision auto takes int8 (shipped calibration)
    monkeypatch.setattr(cpu, "native_bf16", lambda: False)
    evaluate(data, out, capsys)
    first = record(out)
    assert first["engine"] == "onnxruntime int8"
    assert (first["torch"], first["onnxruntime"], first["opencv"]) == (
        torch.__version__, onnxruntime.__version__, cv2.__version__)
    assert first["cpu"]
    report = (out / "report.md").read_text()
    for shown in ("onnxruntime int8", torch.__version__, onnxruntime.__version__, cv2.__version__, first["cpu"]):
        assert shown in report, shown

    # Another venv, without onnxruntime: precision auto runs fp32 in torch, so its numbers differ.
    with monkeypatch.context() as without_ort:
        without_ort.setitem(sys.modules, "onnxruntime", None)
        printed = evaluate(data, out, capsys)
        assert "2 to run" in printed and "2 redone: engine changed" in printed
        assert record(out)["engine"] == "torch fp32 cpu" and record(out)["onnxruntime"] is None
        assert "torch fp32 cpu" in (out / "report.md").read_text()
        assert "0 to run" in evaluate(data, out, capsys)  # the same venv again: nothing to redo

    printed = evaluate(data, out, capsys)
    assert "2 redone: engine changed" in printed and record(out) == first

    monkeypatch.setattr(torch, "__version__", "0.0.1-other")
    assert "2 redone: torch version changed" in evaluate(data, out, capsys)
