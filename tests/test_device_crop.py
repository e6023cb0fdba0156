"""Crops on the device (twintrack/tracker/device_crop.py) against geometry.crop_and_resize (cv2.warpAffine).

Tolerance, from measurement on the noise and smooth frames below: cv2 rounds its output to uint8 (up to 0.5 grey
levels; its fixed-point sample positions added at most 0.001 here) and the device crop does not round. Measured mean
|diff| 0.07-0.35 and max 0.50 grey levels inside the frame, up to 0.84 where taps straddle the frame's edge (cv2 also
rounds the padding colour); asserted: mean < 0.4, max < 1.5. The CUDA tests (``pytest -m gpu``) compare the same function on CUDA and CPU within 1e-3 and run
MDNet with device crops on CUDA; on CPU the tracker's device-crop path is switched on by hand and compared with
its cv2 path. SiamFC's CUDA test checks its device-cut search crops against cv2's and its boxes against the CPU's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import moving_target_clip, smooth_background, textured_patch
from test_mdnet import SMALL as MDNET_SMALL, make_net
from twintrack.configs import load_config
from twintrack.geometry import crop_and_resize, iou
from twintrack.tracker.device_crop import crop_resize, upload_frame
from twintrack.tracker.mdnet import MDNetTracker

CPU = torch.device("cpu")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def frames():
    """A noise frame (the hardest case for interpolation) and a smooth one with a textured square."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    smooth = smooth_background(150, 200)
    smooth[40:104, 60:124] = textured_patch(rng, 64)
    return {"noise": noise, "smooth": smooth}


# (centre, source side or (w, h), output side or (w, h)): the centre in units of the frame's width and height, a
# scalar side below 3 in units of the frame's width, other sides in pixels. Inside, across each edge and corner, fully outside, downscaled 2-4x, upscaled 3x, rectangles.
CASES = [
    ((0.5, 0.5), 0.33, 127),        # inside, downscale
    ((0.06, 0.05), 200.0, 255),     # across the top-left corner, slight upscale
    ((0.98, 1.08), 90.0, 255),      # across the bottom-right, upscale
    ((0.502, 0.493), 37.5, 107),    # inside, upscale ~3x, fractional centre
    ((-0.3, -0.4), 80.0, 64),       # fully outside: the padding colour
    ((0.5, 0.5), 2.0, 100),         # the whole frame and more, downscale
    ((0.2, 0.7), (60.0, 25.0), 107),       # rectangle (MDNet's crop path)
    ((0.9, 0.1), (40.0, 90.0), (64, 48)),  # rectangle to a rectangle, across the top-right
]


def case(image, centre, side, out):
    h, w = image.shape[:2]
    centre = (centre[0] * w, centre[1] * h)
    side = side * w if np.isscalar(side) and side < 3 else side  # small scalars are a fraction of the width
    return centre, side, out


@pytest.mark.parametrize("name", ["noise", "smooth"])
@pytest.mark.parametrize("index", range(len(CASES)))
def test_device_crop_reproduces_crop_and_resize(name, index):
    image = frames()[name]
    centre, side, out = case(image, *CASES[index])
    colour = image.reshape(-1, 3).mean(axis=0)
    expected = crop_and_resize(image, centre, side, out, colour).astype(np.float32)
    got = crop_resize(upload_frame(image, CPU), [centre], [side], out, colour)
    assert got.dtype == torch.float32 and got.shape[:2] == (1, 3)
    diff = np.abs(got[0].permute(1, 2, 0).numpy() - expected)
    assert diff.mean() < 0.4 and diff.max() < 1.5, (diff.mean(), diff.max())


def test_many_crops_in_one_call_equal_one_by_one_with_per_crop_colours():
    image = frames()["noise"]
    frame = upload_frame(image, CPU)
    centres = np.array([[30.0, 20.0], [150.5, 110.25], [80.0, 60.0], [-10.0, 130.0]])
    sides = np.array([[50.0, 40.0], [70.0, 70.0], [20.0, 35.5], [90.0, 60.0]])
    colours = np.array([[0.0, 0.0, 0.0], [255.0, 128.0, 3.0], [10.0, 20.0, 30.0], [200.0, 100.0, 50.0]])
    batch = crop_resize(frame, centres, sides, 48, colours)
    assert batch.shape == (4, 3, 48, 48)
    for n in range(4):
        one = crop_resize(frame, centres[n : n + 1], sides[n : n + 1], 48, colours[n])
        torch.testing.assert_close(batch[n : n + 1], one, rtol=0, atol=1e-4)
        expected = crop_and_resize(image, centres[n], sides[n], 48, colours[n]).astype(np.float32)
        assert np.abs(batch[n].permute(1, 2, 0).numpy() - expected).max() < 1.5
    assert crop_resize(frame, np.zeros((0, 2)), np.zeros(0), 48, colours[0]).shape == (0, 3, 48, 48)
    grey = crop_resize(frame, [(-100.0, -100.0)], [20.0], 8, 77)  # one value pads every channel, as in cv2's helper
    assert torch.equal(grey, torch.full((1, 3, 8, 8), 77.0))


def test_a_crop_of_the_frame_itself_is_the_frame():
    image = frames()["smooth"]
    h, w = image.shape[:2]
    got = crop_resize(upload_frame(image, CPU), [(w / 2, h / 2)], [(w, h)], (w, h), (0, 0, 0))
    # float32 rounding of the sample positions only (grid_sample's normalised coordinates)
    torch.testing.assert_close(got[0], torch.from_numpy(image).permute(2, 0, 1).float(), rtol=0, atol=1e-2)


# --------------------------------------------------------------------------------------------- MDNet wiring

SMALL = {**MDNET_SMALL, "region_size": 191, "precision": "fp32"}


@pytest.fixture(scope="module")
def clip():
    return moving_target_clip(8, (160, 160), 32, (30, 40), (3, 2), background="smooth", seed=3)


def track(device, clip, device_crops: bool | None = None, **overrides):
    clip_frames, gt = clip
    tracker = MDNetTracker(make_net(), load_config("mdnet", {**SMALL, **overrides}), device, seed=0)
    if device_crops is not None:
        tracker.extractor.device_crops = device_crops
    tracker.init(clip_frames[0], gt[0])
    return tracker, np.array([tracker.update(frame).box for frame in clip_frames[1:]])


def test_mdnet_uses_cv2_crops_on_cpu_and_device_crops_elsewhere():
    assert not MDNetTracker(make_net(), load_config("mdnet", SMALL), CPU, seed=0).extractor.device_crops


@pytest.mark.parametrize("feature_path", ["roi", "crop"])
def test_mdnet_with_device_crops_on_cpu_tracks_like_the_cv2_path(feature_path, clip):
    _, gt = clip
    _, cv2_boxes = track(CPU, clip, feature_path=feature_path)
    tracker, device_boxes = track(CPU, clip, device_crops=True, feature_path=feature_path)
    assert np.isfinite(device_boxes).all()
    assert iou(device_boxes, gt[1:]).mean() > 0.6
    assert iou(device_boxes, cv2_boxes).mean() > 0.8


@pytest.mark.gpu
@needs_cuda
def test_device_crop_on_cuda_equals_cpu():
    for image in frames().values():
        colour = image.reshape(-1, 3).mean(axis=0)
        cases = [case(image, *c) for c in CASES]
        for centre, side, out in cases:
            cpu = crop_resize(upload_frame(image, CPU), [centre], [side], out, colour)
            cuda = crop_resize(upload_frame(image, torch.device("cuda")), [centre], [side], out, colour)
            assert cuda.device.type == "cuda"
            torch.testing.assert_close(cuda.cpu(), cpu, rtol=0, atol=1e-3)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("feature_path", ["roi", "crop"])
def test_mdnet_tracks_on_cuda_with_device_crops(feature_path, clip):
    _, gt = clip
    tracker, cuda_boxes = track(torch.device("cuda"), clip, feature_path=feature_path)
    assert tracker.extractor.device_crops
    _, cpu_boxes = track(CPU, clip, feature_path=feature_path)
    assert np.isfinite(cuda_boxes).all()
    assert iou(cuda_boxes, gt[1:]).mean() > 0.6
    assert iou(cuda_boxes, cpu_boxes).mean() > 0.7


@pytest.mark.gpu
@needs_cuda
def test_siamfc_search_crops_on_cuda():
    """SiamFC with its search crops cut on the device: the crops match cv2's, and tracking matches the CPU's."""
    import twintrack

    clip_frames, gt = moving_target_clip(10, (160, 192), 32, (30, 40), (3, 2), background="smooth", seed=4)
    tracker = twintrack.create_tracker("siamfc", device="cuda")
    tracker.init(clip_frames[0], gt[0])
    crops = tracker.search_crop(clip_frames[1])
    assert crops.device.type == "cuda" and crops.shape[1] == 3
    for crop, (cx, cy, side) in zip(crops.cpu(), tracker.search_regions()):
        expected = crop_and_resize(clip_frames[1], (cx, cy), side, crop.shape[-1], tracker.avg_color)
        diff = np.abs(crop.permute(1, 2, 0).numpy() - expected)
        assert diff.mean() < 0.4 and diff.max() < 1.5
    boxes = {}
    for device in ("cuda", "cpu"):
        tracker = twintrack.create_tracker("siamfc", device=device)
        tracker.init(clip_frames[0], gt[0])
        boxes[device] = np.array([tracker.update(frame).box for frame in clip_frames[1:]])
    assert iou(boxes["cuda"], gt[1:]).mean() > 0.6
    assert iou(boxes["cuda"], boxes["cpu"]).mean() > 0.8
