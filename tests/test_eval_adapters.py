"""The got10k adapter: each benchmark kind read from a tiny fake dataset in its real on-disk layout (no network),
run end to end through `twintrack eval`, and the toolkit faults the adapter works around."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
from PIL import Image

from twintrack.cli import main

# got10k is the eval extra's; a machine without it skips this module instead of failing collection.
VOT = pytest.importorskip("got10k.datasets").VOT

from twintrack.eval.got10k_adapter import Got10kTracker, make_experiment, open_benchmark
from twintrack.geometry import from_one_based
from twintrack.tracker.base import TrackResult

from conftest import moving_target_clip

FRAMES = 8


def _clip(seed: int, count: int = FRAMES, size: int = 96):
    return moving_target_clip(count, (size, size), 24 if size >= 96 else 12, (20, 24) if size >= 96 else (8, 10),
                              (2, 1), seed=seed)


def _write_frames(folder: Path, frames, pattern: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = folder / (pattern % (i + 1))
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def _one_based_lines(boxes, sep=",") -> str:
    return "\n".join(sep.join(f"{v:g}" for v in (x + 1, y + 1, w, h)) for x, y, w, h in boxes) + "\n"


def fake_otb(root: Path) -> dict:
    truth = {}
    for seed, name in enumerate(("Bolt", "Boy")):  # names from OTB2015's list
        frames, boxes = _clip(seed)
        _write_frames(root / name / "img", frames, "%04d.jpg")
        # OTB files mix delimiters; got10k reads both. Tab-separated here, as some OTB sequences are.
        (root / name / "groundtruth_rect.txt").write_text(_one_based_lines(boxes, sep="\t"))
        truth[name] = boxes
    return truth


def fake_dtb70(root: Path) -> dict:
    truth = {}
    for seed, name in enumerate(("Animal1", "Car2")):
        frames, boxes = _clip(seed)
        _write_frames(root / name / "img", frames, "%05d.jpg")
        (root / name / "groundtruth_rect.txt").write_text(_one_based_lines(boxes))
        truth[name] = boxes
    return truth


def fake_lasot(root: Path) -> dict:
    truth = {}
    for seed, name in enumerate(("airplane-1", "airplane-9")):  # in got10k's LaSOT test split
        frames, boxes = _clip(seed)
        folder = root / "airplane" / name
        _write_frames(folder / "img", frames, "%08d.jpg")
        (folder / "groundtruth.txt").write_text(_one_based_lines(boxes))
        truth[name] = boxes
    return truth


def fake_uav123(root: Path) -> dict:
    # uav6 is UAV123's shortest sequence: frames 1..109 (got10k's uav123.json); small frames keep it quick.
    frames, boxes = _clip(0, count=109, size=48)
    boxes = boxes.copy()
    _write_frames(root / "data_seq" / "UAV123" / "uav6", frames, "%06d.jpg")
    lines = _one_based_lines(boxes).splitlines()
    lines[50] = "NaN,NaN,NaN,NaN"  # UAV123 marks frames without a visible target like this
    (root / "anno" / "UAV123").mkdir(parents=True)
    (root / "anno" / "UAV123" / "uav6.txt").write_text("\n".join(lines) + "\n")
    boxes[50] = np.nan
    return {"uav6": boxes}


def fake_got10k(root: Path) -> dict:
    truth = {}
    names = ["GOT-10k_Val_000001", "GOT-10k_Val_000002"]
    for seed, name in enumerate(names):
        frames, boxes = _clip(seed)
        folder = root / "val" / name
        _write_frames(folder, frames, "%08d.jpg")
        (folder / "groundtruth.txt").write_text(_one_based_lines(boxes))
        (folder / "meta_info.ini").write_text("[METAINFO]\nobject_class: thing\nresolution: (96, 96)\n")
        for label, value in (("cover", 8), ("absence", 0), ("cut_by_image", 0)):
            (folder / f"{label}.label").write_text("\n".join([str(value)] * FRAMES) + "\n")
        truth[name] = boxes
    (root / "val" / "list.txt").write_text("\n".join(names) + "\n")
    return truth


def fake_vot(root: Path) -> dict:
    truth = {}
    names = ["ball", "car"]
    for seed, name in enumerate(names):
        frames, boxes = _clip(seed)
        _write_frames(root / name, frames, "%08d.jpg")
        # VOT annotations are 4-corner polygons (1-based): here axis-aligned, clockwise from top-left.
        polys = [(x + 1, y + 1, x + 1 + w, y + 1, x + 1 + w, y + 1 + h, x + 1, y + 1 + h) for x, y, w, h in boxes]
        (root / name / "groundtruth.txt").write_text("\n".join(",".join(f"{v:g}" for v in p) for p in polys) + "\n")
        (root / name / "occlusion.tag").write_text("\n".join(["0"] * (FRAMES - 2) + ["1", "1"]) + "\n")
        # The rectangle is the one got10k derives from a polygon (area-preserving, VOT's +1 pixel size), 0-based.
        truth[name] = from_one_based(VOT._corner2rect(None, np.array(polys, dtype=np.float64)))
    (root / "list.txt").write_text("\n".join(names) + "\n")
    return truth


FAKES = {"otb": fake_otb, "dtb70": fake_dtb70, "lasot": fake_lasot, "uav123": fake_uav123,
         "got10k": fake_got10k, "vot": fake_vot}


@pytest.fixture
def no_download(monkeypatch):
    """Any got10k download attempt fails the test (the OTB and VOT datasets import ``download`` by name)."""
    import got10k.datasets.otb as otb_module
    import got10k.datasets.vot as vot_module

    def forbidden(*args, **kwargs):
        raise AssertionError(f"got10k tried to download {args}")

    monkeypatch.setattr(otb_module, "download", forbidden)
    monkeypatch.setattr(vot_module, "download", forbidden)


@pytest.mark.parametrize("kind", sorted(FAKES))
def test_benchmark_reads_fake_dataset_as_zero_based_sequences(kind, tmp_path, no_download):
    truth = FAKES[kind](tmp_path / kind)
    bench = open_benchmark(kind, str(tmp_path / kind))
    assert sorted(s.name for s in bench.sequences) == sorted(truth)
    for sequence in bench.sequences:
        assert len(sequence.frames) == len(truth[sequence.name])
        np.testing.assert_allclose(sequence.ground_truth, truth[sequence.name], atol=1e-9)  # NaN == NaN here


@pytest.mark.parametrize("kind", sorted(FAKES))
def test_eval_cli_runs_each_benchmark_kind(kind, tmp_path, no_download):
    import got10k.experiments.vot as got10k_vot

    FAKES[kind](tmp_path / kind)
    out = tmp_path / "out"
    font_size = matplotlib.rcParams["font.size"]
    assert main(["eval", "--baseline", "kcf", "--dataset", f"{kind}:{tmp_path / kind}", "--out", str(out)]) == 0
    performance = json.loads(next((out / "got10k_reports").glob("*/performance.json")).read_text())
    assert "kcf" in performance
    report = (out / "report.md").read_text()
    assert (out / "report.html").read_text().count("<table>") >= 2
    if kind == "vot":
        assert 0 <= performance["kcf"]["accuracy"] <= 1
        assert list((out / "results" / "kcf" / "baseline").iterdir())
        assert "accuracy" in report
    else:
        assert "success AUC" in report and (out / "success.png").exists()
    # The adapter's patches do not outlive the call: numpy, got10k's module and matplotlib are as they were.
    assert got10k_vot.np is np and not hasattr(np, "NaN")
    assert matplotlib.rcParams["font.size"] == font_size


def test_our_scores_equal_got10k_report_on_a_benchmark(tmp_path, no_download):
    fake_otb(tmp_path / "otb")
    out = tmp_path / "out"
    assert main(["eval", "--baseline", "csrt", "--dataset", f"otb:{tmp_path / 'otb'}", "--out", str(out)]) == 0
    from twintrack.eval.jobs import load_run

    bench = open_benchmark("otb", str(tmp_path / "otb"))
    runs = [load_run("ope", out / "results", "csrt", s) for s in bench.sequences]
    performance = json.loads((out / "got10k_reports" / "csrt" / "performance.json").read_text())["csrt"]
    assert np.mean([r.score.success_auc for r in runs]) == pytest.approx(performance["overall"]["success_score"])
    assert np.mean([r.score.precision for r in runs]) == pytest.approx(performance["overall"]["precision_score"])


class ReplayTracker:
    """Returns given 0-based boxes in order and records what init received."""

    def __init__(self, boxes):
        self.boxes = np.asarray(boxes, dtype=np.float64)
        self.frames = []

    def init(self, frame, box):
        self.init_box = np.asarray(box, dtype=np.float64)
        self.frames.append(frame)
        self.index = 0

    def update(self, frame):
        self.frames.append(frame)
        self.index += 1
        return TrackResult(box=self.boxes[self.index], score=1.0)


def test_got10k_wrapper_converts_between_one_and_zero_based(tmp_path):
    boxes = np.array([[10.0, 20.0, 30.0, 40.0], [12.5, 21.0, 30.0, 41.0], [0.0, 0.0, 5.0, 6.0]])
    replay = ReplayTracker(boxes)
    wrapper = Got10kTracker("replay", lambda: replay)
    paths = _write_frames(tmp_path / "f", [np.zeros((50, 60, 3), np.uint8)] * 3, "%d.png")
    Image.open(paths[1]).convert("L").save(paths[1])  # a grayscale file becomes an RGB frame
    one_based = boxes + [1, 1, 0, 0]
    tracked, times = wrapper.track([str(p) for p in paths], one_based[0])
    np.testing.assert_array_equal(replay.init_box, boxes[0])  # got10k's 1-based init box -> 0-based for us
    np.testing.assert_allclose(tracked, one_based)  # our 0-based boxes -> 1-based for got10k
    assert all(f.shape == (50, 60, 3) and f.dtype == np.uint8 for f in replay.frames)
    assert len(times) == 3


def test_ground_truth_tracker_scores_the_maximum_through_got10k(tmp_path, no_download):
    truth = fake_dtb70(tmp_path / "dtb70")
    bench = open_benchmark("dtb70", str(tmp_path / "dtb70"))
    experiment = make_experiment(bench, tmp_path / "results", tmp_path / "reports")
    for sequence in bench.sequences:
        wrapper = Got10kTracker("oracle", lambda s=sequence: ReplayTracker(truth[s.name]))
        boxes, times = wrapper.track(list(sequence.frames), truth[sequence.name][0] + [1, 1, 0, 0])
        experiment._record(str(tmp_path / "results" / "oracle" / f"{sequence.name}.txt"), boxes, times)
    from twintrack.eval.got10k_adapter import run_report
    from twintrack.eval.jobs import load_run

    overall = run_report(experiment, ["oracle"])["oracle"]["overall"]
    assert overall["success_score"] == pytest.approx(20 / 21)  # IoU 1 passes 20 of 21 thresholds (not > 1.0)
    assert overall["precision_score"] == 1.0
    for sequence in bench.sequences:
        score = load_run("ope", tmp_path / "results", "oracle", sequence).score
        assert score.success_auc == pytest.approx(20 / 21)
        assert score.precision == 1.0 and score.normalized_precision == 1.0


def test_missing_or_unknown_datasets_are_user_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for spec in (f"vot:{tmp_path / 'empty'}", f"nope:{tmp_path}", f"lasot:{tmp_path / 'empty'}",
                 f"otb:{tmp_path / 'missing'}"):
        assert main(["eval", "--baseline", "kcf", "--dataset", spec, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("twintrack: error:"), err
    fake_got10k(tmp_path / "g")
    assert main(["eval", "--baseline", "kcf", "--dataset", f"got10k:{tmp_path / 'g'}", "--split", "test",
                 "--out", str(tmp_path / "o")]) == 2
    assert "only 'val' has ground truth" in capsys.readouterr().err
