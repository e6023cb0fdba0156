"""The fault suite, checks before work: `lr-find` refuses an unusable --out or a missing matplotlib before its
first step, and `train` on the core install (no tensorboard or matplotlib) names the extra before it loads data or
writes anything into the run folder."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import sitecustomize_blocking, write_training_set
from faults.harness import ROOT, assert_one_error_line, files_under, run_main

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

TINY_LR_FIND = ["--device", "cpu", "--steps", "4", "batch_size=2", "exemplar_size=63", "search_size=95",
                "autocast_bf16=false", "workers=0"]


@pytest.fixture(scope="module")
def training_set(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp("train") / "data", count=2, frames=6)


def lr_find(capsys, data, out):
    return run_main(capsys, "lr-find", "siamfc", "--data", data, "--out", out, *TINY_LR_FIND)


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only folder"])
def test_lr_find_refuses_an_unusable_out_before_any_step(capsys, tmp_path, training_set, where):
    import os

    if where == "read-only folder" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    (tmp_path / "file").write_text("kept\n")
    out = {"a file": tmp_path / "file", "under a file": tmp_path / "file" / "lr"}.get(where)
    if out is None:
        (tmp_path / "locked").mkdir()
        (tmp_path / "locked").chmod(0o500)
        out = tmp_path / "locked" / "lr"
    try:
        result = lr_find(capsys, training_set, out)
    finally:
        (tmp_path / "locked").chmod(0o700) if (tmp_path / "locked").exists() else None
    assert_one_error_line(result, "--out", str(out if where != "under a file" else tmp_path / "file"))
    assert "lr-find step" not in result.stdout and "sequences" not in result.stdout
    assert (tmp_path / "file").read_text() == "kept\n"


def test_lr_find_without_matplotlib_is_refused_before_any_step(capsys, tmp_path, training_set, monkeypatch):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # `import matplotlib...` now raises ImportError
    result = lr_find(capsys, training_set, tmp_path / "lr")
    assert_one_error_line(result, "matplotlib", "pip install 'twintrack[train]'")
    assert "lr-find step" not in result.stdout
    assert not (tmp_path / "lr").exists()


# The core install: none of the train extra's packages import (a meta-path hook, as in tests/test_packaging.py).
BLOCK_TRAIN_EXTRA = sitecustomize_blocking(["tensorboard", "matplotlib", "pytorch_optimizer", "got10k", "six",
                                            "trax", "av"])


@pytest.mark.parametrize("tracker", ["siamfc", "mdnet"])
def test_train_on_the_core_install_names_the_extra_before_any_work(tmp_path, training_set, tracker):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCK_TRAIN_EXTRA)
    env = {"PYTHONPATH": f"{tmp_path / 'site'}:{ROOT}", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
           "HOME": str(tmp_path)}
    out = tmp_path / "runs" / "run"
    done = subprocess.run([sys.executable, "-m", "twintrack.cli", "train", tracker, "--data", str(training_set),
                           "--out", str(out), "--device", "cpu", "--max-steps", "1"],
                          capture_output=True, text=True, env=env, timeout=300)
    line = assert_one_error_line(done, "pip install 'twintrack[train]'")
    assert "tensorboard" in line or "matplotlib" in line
    assert "sequences" not in done.stdout  # refused before the data was loaded
    assert files_under(tmp_path / "runs") == set()  # no config.yaml, no empty metrics.csv
