"""The fault-injection suite, corrupted inputs: every kind of file the CLI reads (video, image, weights,
checkpoint, config YAML, ground-truth boxes, still-set boxes.csv, pack.json), damaged every way (empty, truncated,
random bytes, a folder in its place). Each is one `twintrack: error:` line naming the file, status 2, no
traceback, and nothing written."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import pytest
from conftest import moving_target_clip, write_image_folder, write_training_set

from faults import corrupt
from faults.harness import assert_one_error_line, files_under, run_main

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

BOX = "20,24,24,24"
DAMAGES = list(corrupt.ALL.items())
# A tiny SiamFC run: 2 steps of 2 pairs on 64x64 frames.
TINY = ["epochs=1", "pairs_per_epoch=4", "batch_size=2", "exemplar_size=63", "search_size=95",
        "autocast_bf16=false", "workers=0", "log_every=1"]


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else "dir"


def assert_refused(result, out_folder: Path, before: set, *fragments: str) -> None:
    assert_one_error_line(result, *fragments)
    assert files_under(out_folder) == before, "a refused command wrote files"


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "out").mkdir()
    return tmp_path


def track_args(source, out: Path, *extra) -> list:
    return ["track", source, "--box", BOX, "--device", "cpu", "--boxes", out / "b.txt", "--output", out / "v.mp4",
            *extra]


@pytest.mark.parametrize("name, damage", DAMAGES)
def test_damaged_video(capsys, workdir, synthetic_video, random_weights, name, damage):
    video = workdir / "clip.mp4"
    shutil.copy(synthetic_video, video)
    damage(video)
    result = run_main(capsys, *track_args(video, workdir / "out", "--weights", random_weights))
    assert_refused(result, workdir / "out", set(), "clip.mp4")


@pytest.mark.parametrize("name, damage", DAMAGES)
def test_damaged_first_image(capsys, workdir, clip, random_weights, name, damage):
    folder = write_image_folder(workdir / "seq", clip[0][:3])
    damage(folder / "0001.png")
    result = run_main(capsys, *track_args(folder, workdir / "out", "--weights", random_weights))
    assert_refused(result, workdir / "out", set(), "0001.png")


@pytest.mark.parametrize("name, damage", DAMAGES + [("text", corrupt.text), ("flipped", corrupt.flipped_middle)])
def test_damaged_weights(capsys, workdir, synthetic_video, random_weights, name, damage):
    weights = workdir / "w.safetensors"
    shutil.copy(random_weights, weights)
    damage(weights)
    result = run_main(capsys, *track_args(synthetic_video, workdir / "out", "--weights", weights))
    if name == "flipped" and result.returncode == 0:
        pytest.skip("the flipped bytes fell inside tensor data: still a valid file (NaN is checked separately)")
    assert_refused(result, workdir / "out", set(), "w.safetensors")


@pytest.fixture(scope="module")
def training_set(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp("train") / "data", count=2, frames=6)


def train_args(data, out: Path, *extra) -> list:
    return ["train", "siamfc", "--data", *([data] if not isinstance(data, list) else data), "--out", out,
            "--device", "cpu", *TINY, *extra]


# An empty YAML file is an empty mapping: the preset, unchanged (documented in docs/reliability.md).
@pytest.mark.parametrize("name, damage", [d for d in DAMAGES if d[0] != "empty"]
                         + [("text", corrupt.text), ("unknown key", None)])
def test_damaged_config_yaml(capsys, workdir, training_set, name, damage):
    config = workdir / "train.yaml"
    config.write_text("epochs: 1\npairs_per_epoch: 4\nbatch_size: 2\n")
    if damage is None:
        config.write_text("epochs: 1\nlearning_rate: 0.1\n")
    else:
        damage(config)
    result = run_main(capsys, *train_args(training_set, workdir / "out" / "run", "--config", config))
    assert_refused(result, workdir / "out", set(), "train.yaml")


# A box file cut at a line end is still a valid, shorter box file (OTB folders hold more frames than boxes, and
# the sequence is cut to its boxes), so "truncated" is not among these damages.
@pytest.mark.parametrize("name, damage", [d for d in DAMAGES if d[0] != "truncated"] + [("text", corrupt.text)])
@pytest.mark.parametrize("command", ["train", "eval"])
def test_damaged_ground_truth(capsys, workdir, training_set, name, damage, command):
    data = workdir / "data"
    shutil.copytree(training_set, data)
    damage(data / "seq1" / "groundtruth_rect.txt")
    if command == "train":
        result = run_main(capsys, *train_args(data, workdir / "out" / "run"))
    else:
        pytest.importorskip("got10k")
        result = run_main(capsys, "eval", "--baseline", "kcf", "--dataset", f"folder:{data}", "--out",
                          workdir / "out" / "eval")
    assert_refused(result, workdir / "out", set(), "seq1")


@pytest.mark.parametrize("name, damage", DAMAGES + [("text", corrupt.text)])
def test_damaged_still_set_boxes_csv(capsys, workdir, clip, name, damage):
    still = workdir / "stills"
    write_image_folder(still / "img", clip[0][:2], suffix=".jpg")
    (still / "boxes.csv").write_text("filename,x,y,w,h\n0001.jpg,20,24,24,24\n0002.jpg,22,25,24,24\n")
    damage(still / "boxes.csv")
    result = run_main(capsys, *train_args(still, workdir / "out" / "run"))
    assert_refused(result, workdir / "out", set(), "boxes.csv")


@pytest.fixture(scope="module")
def pack(tmp_path_factory, training_set):
    from twintrack.cli.main import main

    out = tmp_path_factory.mktemp("pack") / "pack"
    assert main(["precrop", "--data", str(training_set), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("name, damage", DAMAGES + [("text", corrupt.text)])
def test_damaged_pack_json(capsys, workdir, pack, name, damage):
    copy = workdir / "pack"
    shutil.copytree(pack, copy)
    damage(copy / "pack.json")
    result = run_main(capsys, *train_args(copy, workdir / "out" / "run"))
    assert_refused(result, workdir / "out", set(), "pack.json")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, training_set):
    from twintrack.cli.main import main

    run = tmp_path_factory.mktemp("run") / "run"
    assert main([str(a) for a in train_args(training_set, run)]) == 0
    return run


@pytest.mark.parametrize("name, damage", DAMAGES + [("flipped", corrupt.flipped_middle)])
def test_damaged_checkpoint_on_resume(capsys, workdir, training_set, finished_run, name, damage):
    run = workdir / "out" / "run"
    shutil.copytree(finished_run, run)
    damage(run / "checkpoint.pt")
    before = {p: digest(p) for p in files_under(run)}
    result = run_main(capsys, *train_args(training_set, run, "--resume"))
    assert_one_error_line(result, "checkpoint.pt")
    assert {p: digest(p) for p in files_under(run)} == before  # nothing rewritten, nothing added
