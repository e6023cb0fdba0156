"""Shared fixtures: synthetic clips (frames + ground truth), video / image-folder writers, random weights.

Everything here is small on purpose: the suite runs on 2 CPU cores, often beside a training run.
"""

from __future__ import annotations

import textwrap

import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps no example database and its caches in the system temp folder, not in the repository. No
# deadline: timings on a busy 2-core machine say nothing about correctness.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "twintrack-hypothesis")
settings.register_profile("twintrack", database=None, deadline=None)
settings.load_profile("twintrack")

# ../shared/data seen from the project root (see shared/data/README.md); never copied into the repository.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require_shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with a clear reason when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (expected ../shared/data next to the project)")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module: its tests stay gentle on a machine shared with a training run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_data() -> Path:
    return require_shared_data()


# --------------------------------------------------------------------------------------------- synthetic clips


def textured_patch(rng: np.random.Generator, size: int) -> np.ndarray:
    """A high-contrast random texture (4x4-pixel blocks, so it survives JPEG / mp4 compression)."""
    blocks = rng.integers(0, 256, ((size + 3) // 4, (size + 3) // 4, 3), dtype=np.uint8)
    return np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)[:size, :size]


def smooth_background(height: int, width: int) -> np.ndarray:
    """A gentle grey gradient: flat enough that a textured target is the only structure in view."""
    ys, xs = np.mgrid[0:height, 0:width]
    grey = 100 + 40 * (xs / max(1, width - 1)) + 20 * (ys / max(1, height - 1))
    return np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)


def noise_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def moving_target_clip(
    count: int,
    frame_size: tuple[int, int],
    patch_size: int,
    start_xy: tuple[int, int],
    step_xy: tuple[int, int],
    background: str = "smooth",
    seed: int = 0,
):
    """``count`` RGB frames (H, W = frame_size) with a textured square moving by ``step_xy`` pixels per frame.

    Returns (frames, boxes): boxes are the exact 0-based x, y, w, h of the pasted patch (clipped to the frame).
    """
    rng = np.random.default_rng(seed)
    height, width = frame_size
    patch = textured_patch(rng, patch_size)
    frames, boxes = [], []
    for i in range(count):
        if background == "noise":
            frame = noise_background(rng, height, width)
        else:
            frame = smooth_background(height, width)
        x = start_xy[0] + step_xy[0] * i
        y = start_xy[1] + step_xy[1] * i
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + patch_size, width), min(y + patch_size, height)
        if x1 > x0 and y1 > y0:
            frame[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]
        frames.append(frame)
        boxes.append([x, y, patch_size, patch_size])
    return frames, np.array(boxes, dtype=np.float64)


def write_video(path: Path, frames, fps: float = 10.0) -> Path:
    """RGB frames -> an mp4v video that OpenCV can read back."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_image_folder(folder: Path, frames, suffix: str = ".png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i + 1:04d}{suffix}"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def write_sequence_folder(folder: Path, frames, boxes) -> Path:
    """An OTB-style training sequence: img/*.jpg + groundtruth_rect.txt (1-based x, y)."""
    write_image_folder(folder / "img", frames, suffix=".jpg")
    lines = [f"{x + 1:g},{y + 1:g},{w:g},{h:g}" for x, y, w, h in boxes]
    (folder / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return folder


# ------------------------------------------------------------------------------------------------------ fixtures

CLIP_FRAMES = 12
CLIP_SIZE = (96, 96)  # H, W
CLIP_PATCH = 24


def write_training_set(root: Path, count: int = 2, frames: int = 6, seed: int = 200, frame_size=(64, 64),
                       target: int = 16, start=(10, 12)) -> Path:
    """``count`` OTB-style training sequences under ``root``: a textured target moving 2 px right and 1 px down
    per frame over noise (a different clip per sequence)."""
    for s in range(count):
        clip_frames, boxes = moving_target_clip(frames, frame_size, target, start, (2, 1), background="noise",
                                                seed=seed + s)
        write_sequence_folder(root / f"seq{s}", clip_frames, boxes)
    return root


@pytest.fixture(scope="session")
def clip():
    """12 frames 96x96: a 24x24 textured square moving 2 px right and 1 px down per frame over noise."""
    return moving_target_clip(CLIP_FRAMES, CLIP_SIZE, CLIP_PATCH, (20, 24), (2, 1), background="noise", seed=1)


@pytest.fixture(scope="session")
def synthetic_video(tmp_path_factory, clip) -> Path:
    frames, _ = clip
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory, clip) -> Path:
    frames, _ = clip
    return write_image_folder(tmp_path_factory.mktemp("frames") / "seq", frames)


def make_random_net(seed: int = 0):
    """A fresh SiamFCNet with fixed-seed random (kaiming) weights: enough for plumbing tests without training.

    Always a new object: SiamFCTracker folds BatchNorm into the network it is given, in place.
    """
    from twintrack.models import SiamFCNet, init_weights

    torch.manual_seed(seed)
    net = SiamFCNet()
    init_weights(net.backbone)
    return net


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> Path:
    """A .safetensors file of a random-init SiamFCNet, with arch metadata siamfc_vggm."""
    from twintrack.weights import save_weights

    path = tmp_path_factory.mktemp("weights") / "random.safetensors"
    return save_weights(make_random_net(0), path, arch="siamfc_vggm")


def sitecustomize_blocking(modules) -> str:
    """The text of a sitecustomize.py that makes ``modules`` (top-level names) unimportable: a meta-path hook, as
    in a venv where the extras that provide them are not installed. Put its folder first on PYTHONPATH."""
    return textwrap.dedent(f"""
        import sys
        BLOCKED = {set(modules)!r}

        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, _Block())
    """)

