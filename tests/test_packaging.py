"""The slim core: tracking works where no extra is installed; a missing extra is one line naming it; metadata."""

from __future__ import annotations

import subprocess
import textwrap
import sys
from pathlib import Path

import pytest

import twintrack
from conftest import sitecustomize_blocking

from twintrack.errors import UserError
from twintrack.optional import EXTRA_OF_MODULE, MissingExtra, require

REPO = Path(__file__).resolve().parents[1]

# A meta-path hook that makes the extras' modules unimportable, as in a venv with only the core installed.
BLOCK_EXTRAS = sitecustomize_blocking(["got10k", "matplotlib", "pytorch_optimizer", "trax", "six", "onnx",
                                       "onnxruntime", "av", "vot"])


def run_without_extras(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    (tmp_path / "sitecustomize.py").write_text(BLOCK_EXTRAS)
    env = {"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_core_tracks_without_any_extra(tmp_path):
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import twintrack
        frames = np.zeros((4, 96, 128, 3), np.uint8)
        for i, frame in enumerate(frames):
            frame[30 + i: 60 + i, 40 + 2 * i: 70 + 2 * i] = (220, 60, 40)
        tracker = twintrack.create_tracker("siamfc", device="cpu")
        tracker.init(frames[0], (40, 30, 30, 30))
        result = tracker.update(frames[1])
        assert result.box.shape == (4,) and 0 <= result.score <= 1
        for name in ("got10k", "matplotlib", "pytorch_optimizer", "trax"):
            assert name not in sys.modules, name
        print("ok", result.box.round(1).tolist())
    """)
    done = run_without_extras(code, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")


def test_missing_extra_is_one_line_naming_it():
    with pytest.raises(MissingExtra) as caught:
        require("twintrack_no_such_module_xyz", "twintrack eval", extra="eval")
    message = str(caught.value)
    assert "\n" not in message
    assert "pip install 'twintrack[eval]'" in message and "twintrack eval" in message
    # A UserError for the CLI (one line, status 2) and an ImportError for callers that test for one.
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ImportError)


def test_require_names_the_extra_that_brings_a_module(monkeypatch):
    monkeypatch.setitem(EXTRA_OF_MODULE, "twintrack_missing_for_test", "vot")
    with pytest.raises(MissingExtra, match=r"pip install 'twintrack\[vot\]'"):
        require("twintrack_missing_for_test.sub", "the TraX server")


def test_license_and_typing_marker_ship():
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert (REPO / "twintrack" / "py.typed").exists()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'license = "MIT"' in pyproject and '"py.typed"' in pyproject


def test_exactly_one_opencv_wheel_is_declared():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = [d for d in project["dependencies"] if d.lower().startswith("opencv")]
    assert declared == ["opencv-contrib-python-headless>=4.8"]
    for extra, deps in project["optional-dependencies"].items():
        assert not [d for d in deps if d.lower().startswith("opencv")], extra
    core = {d.split(">")[0].split("=")[0].lower() for d in project["dependencies"]}
    assert core == {"torch", "numpy", "opencv-contrib-python-headless", "safetensors", "pyyaml", "tqdm"}


def run_cli_without_extras(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    code = f"import sys; from twintrack.cli import main; sys.exit(main({args!r}))"
    return run_without_extras(code, tmp_path)


def test_version_is_one_line_and_matches_the_package(tmp_path):
    done = run_cli_without_extras(["--version"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"twintrack {twintrack.__version__}"
    assert 'dynamic = ["version"]' in (REPO / "pyproject.toml").read_text()


def test_a_command_whose_extra_is_missing_names_the_extra(tmp_path):
    done = run_cli_without_extras(["eval", "--tracker", "siamfc", "--dataset", "folder:x", "--out", "y"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "twintrack: error: twintrack eval needs the 'got10k' package, which is not installed; "
        "install it with: pip install 'twintrack[eval]'"]
