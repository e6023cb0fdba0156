"""Which backbone engine runs, and why, is said once on stderr by `twintrack track`: weights without an int8
calibration no longer lose the int8 engine in silence, and the line gives the one command that calibrates one."""

from __future__ import annotations

import pytest

from faults.harness import run_main

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

BOX = "20,24,24,24"


@pytest.fixture
def int8_cpu(monkeypatch):
    """A CPU where precision=auto picks int8 (VNNI/AMX), whatever this machine has."""
    pytest.importorskip("onnxruntime")
    from twintrack.runtime import cpu

    monkeypatch.setattr(cpu, "native_int8", lambda: True)


def engine_lines(stderr: str) -> list[str]:
    return [line for line in stderr.split("\n") if line.startswith("twintrack: backbone engine")]


def test_own_weights_say_once_that_int8_is_lost_and_how_to_calibrate(capsys, int8_cpu, synthetic_video,
                                                                     random_weights):
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                      "--max-frames", "2")
    assert result.returncode == 0, result.stderr
    [line] = engine_lines(result.stderr)
    assert "int8" in line and "no int8 calibration for these weights" in line
    command = line.split("twintrack export", 1)[1]
    for part in (f"siamfc --weights {random_weights}", "--int8", "--calib-data", "--out", "int8_model="):
        assert part in command, line


def test_shipped_weights_say_that_int8_runs(capsys, int8_cpu, synthetic_video):
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--device", "cpu", "--max-frames", "2")
    assert result.returncode == 0, result.stderr
    [line] = engine_lines(result.stderr)
    assert line.startswith("twintrack: backbone engine int8") and "twintrack export" not in line


def test_an_asked_for_precision_is_named_as_the_reason(capsys, synthetic_video, random_weights):
    result = run_main(capsys, "track", synthetic_video, "--box", BOX, "--weights", random_weights, "--device", "cpu",
                      "--max-frames", "2", "precision=fp32")
    [line] = engine_lines(result.stderr)
    assert line.startswith("twintrack: backbone engine fp32") and "precision=fp32" in line


def test_the_library_names_the_engine_and_the_reason(int8_cpu, random_weights):
    import twintrack
    from twintrack.app.api import backbone_engine

    engine = backbone_engine(twintrack.create_tracker("siamfc", weights=random_weights, device="cpu"))
    assert engine.name in ("fp32", "bf16") and "no int8 calibration" in engine.reason and engine.needs_calibration
    shipped = backbone_engine(twintrack.create_tracker("siamfc", device="cpu"))
    assert shipped.name == "int8" and not shipped.needs_calibration
