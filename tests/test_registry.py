"""The tracker registry: a toy tracker registered from outside the package is listed, tracked (library and CLI),
evaluated (`twintrack eval`, in-process) and refused when unknown, with no edit to twintrack."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import twintrack
from twintrack.cli import main
from twintrack.errors import UserError
from twintrack.tracker.base import TrackResult
from twintrack.app.registry import TrackerEntry, get_tracker, list_trackers, register_tracker, unregister_tracker

from conftest import moving_target_clip, write_sequence_folder, write_video


@dataclass(frozen=True)
class ToyConfig:
    search: int = 0  # pixels searched around the last box, each way (the preset sets it)
    min_texture: float = 0.0


class TextureNet(torch.nn.Module):
    """Per-pixel texture (absolute Laplacian of the grey image): the toy's whole "network", no weights."""

    def __init__(self) -> None:
        super().__init__()
        kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
        self.register_buffer("kernel", kernel.view(1, 1, 3, 3))

    def forward(self, grey: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(grey, self.kernel, padding=1).abs()


class ToyTracker:
    """Moves the box to the most textured place within ``search`` pixels (the synthetic target is the only
    texture in view)."""

    def __init__(self, net, config: ToyConfig, device) -> None:
        self.net, self.config, self.device = net, config, device
        self.box = None

    def init(self, frame, box) -> None:
        self.box = np.asarray(box, dtype=np.float64)

    def update(self, frame) -> TrackResult:
        grey = torch.from_numpy(frame.mean(axis=2, dtype=np.float32))[None, None].to(self.device)
        texture = self.net(grey)[0, 0].cpu().numpy()
        sums = np.pad(texture.cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # integral image
        x0, y0, w, h = (int(round(v)) for v in self.box)
        best, where = -1.0, (x0, y0)
        s = self.config.search
        for y in range(max(0, y0 - s), min(texture.shape[0] - h, y0 + s) + 1):
            for x in range(max(0, x0 - s), min(texture.shape[1] - w, x0 + s) + 1):
                total = sums[y + h, x + w] - sums[y, x + w] - sums[y + h, x] + sums[y, x]
                if total > best:
                    best, where = total, (x, y)
        self.box = np.array([where[0], where[1], w, h], dtype=np.float64)
        return TrackResult(self.box.copy(), score=1.0, lost=best < self.config.min_texture)


@pytest.fixture
def toy(tmp_path):
    preset = tmp_path / "toy.yaml"
    preset.write_text("search: 6\nmin_texture: 0.0\n")
    register_tracker(TrackerEntry(name="toy", config_class=ToyConfig, preset=str(preset),
                                  build_model=lambda config: TextureNet(), tracker_class=ToyTracker,
                                  description="texture follower (test)"))
    yield "toy"
    unregister_tracker("toy")


def test_listed_and_refused_when_unknown(toy):
    assert twintrack.list_trackers()[:2] == ("siamfc", "mdnet") and "toy" in twintrack.list_trackers()
    assert "toy" not in list_trackers(trainable=True)
    with pytest.raises(UserError, match="already registered"):
        register_tracker(get_tracker("toy"))
    with pytest.raises(UserError, match="choose one of siamfc, mdnet, twin, toy"):
        twintrack.create_tracker("nosuch")
    with pytest.raises(UserError, match="cannot be trained"):
        get_tracker("toy").load_train_config()


def test_unregistered_after_the_test():
    assert "toy" not in twintrack.list_trackers()


def test_tracks_through_create_tracker_with_two_configs_side_by_side(toy):
    frames, boxes = moving_target_clip(8, (80, 96), 16, (10, 12), (4, 3), seed=5)
    near = twintrack.create_tracker("toy", device="cpu", search=1)  # too small a search for 4 px per frame
    far = twintrack.create_tracker("toy", device="cpu")  # the preset's 6
    assert (near.config.search, far.config.search) == (1, 6)
    near.init(frames[0], boxes[0])
    far.init(frames[0], boxes[0])
    for frame, box in zip(frames[1:], boxes[1:]):
        far_box, near_box = far.update(frame).box, near.update(frame).box
        np.testing.assert_allclose(far_box, box, atol=1.0)  # the texture's edge can pull it by a pixel
    assert np.abs(near_box - boxes[-1]).max() > 5
    with pytest.raises(UserError, match="unknown config key"):
        twintrack.create_tracker("toy", nosuch=1)


def test_tracked_by_the_cli(toy, tmp_path):
    frames, boxes = moving_target_clip(6, (64, 80), 16, (8, 8), (3, 2), seed=6)
    video = write_video(tmp_path / "clip.mp4", frames)
    out = tmp_path / "boxes.txt"
    assert main(["track", str(video), "--box", "8,8,16,16", "--tracker", "toy", "--boxes", str(out),
                 "search=5"]) == 0
    written = np.loadtxt(out, delimiter=",", ndmin=2)
    assert written.shape == (6, 4)
    np.testing.assert_allclose(written[-1], boxes[-1], atol=1.0)


def test_evaluated_by_twintrack_eval(toy, tmp_path, capsys):
    for name, seed in (("seq_a", 1), ("seq_b", 2)):
        write_sequence_folder(tmp_path / "data" / name, *moving_target_clip(6, (72, 72), 16, (8, 10), (3, 2),
                                                                            seed=seed))
    out = tmp_path / "out"
    assert main(["eval", "--tracker", "toy", "--dataset", f"folder:{tmp_path / 'data'}", "--out", str(out),
                 "--device", "cpu"]) == 0
    report = (out / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| toy |"))
    assert float(row.split("|")[2]) > 0.8  # boxes within a pixel (perfect ones score 20/21 = 0.952)
    assert "search: 6" in report  # the resolved config of the toy
    assert (out / "results" / "toy" / "seq_b.txt").exists()
