"""The fault suite, files of the installed package: a damaged table of shipped files (``int8.json``, and
``bbreg_prior.json``, read the same way) is one line naming it, as a damaged ONNX file already was. The package is
copied and the copy damaged, so the working tree is never touched."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import moving_target_clip, write_image_folder
from faults import corrupt
from faults.harness import ROOT, assert_one_error_line, cli_env

pytestmark = [pytest.mark.faults]


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    """A copy of the twintrack package (what `pip install` puts in site-packages), first on the path."""
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(ROOT / "twintrack", root / "twintrack", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    clip, _ = moving_target_clip(3, (96, 96), 24, (20, 30), (3, 2), seed=0)
    return write_image_folder(tmp_path_factory.mktemp("clip") / "img", clip, suffix=".jpg")


@pytest.mark.parametrize("name, damage", list(corrupt.ALL.items()) + [("text", corrupt.text)])
def test_damaged_int8_table_in_the_installed_package_is_one_line(package_copy, frames, tmp_path, name, damage):
    table = package_copy / "twintrack" / "weights" / "int8.json"
    kept = tmp_path / "int8.json"
    shutil.copy(table, kept) if table.is_file() else None
    damage(table)
    try:
        env = {**cli_env(), "PYTHONPATH": str(package_copy)}
        done = subprocess.run([sys.executable, "-m", "twintrack.cli", "track", str(frames), "--box", "20,30,24,24",
                               "--device", "cpu", "--boxes", str(tmp_path / "boxes.txt"), "precision=int8"],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    finally:
        shutil.rmtree(table) if table.is_dir() else table.unlink(missing_ok=True)
        shutil.copy(kept, table)
    assert_one_error_line(done, "int8.json", "reinstall twintrack")
    assert not (tmp_path / "boxes.txt").exists()
