"""Bit depths converted by the type's range, NaN refused, bad API input one UserError.

Each test reproduces the row as reported (real files where the row is about files) and checks the fixed behaviour.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from conftest import make_random_net
from twintrack.data.images import read_image
from twintrack.errors import UserError
from twintrack.geometry import to_rgb_uint8
from twintrack.tracker.base import check_frame, check_init_box
from twintrack.weights import load_weights, save_weights

pytestmark = pytest.mark.faults


# ------------------------------------------------------------------------------------------- row 9: bit depths


def test_uint16_frames_scale_by_the_type_range_not_the_frame_maximum():
    # Two 16-bit frames of one scene, the second darker: a per-frame maximum made both equally bright.
    bright = np.full((4, 4, 3), 65535, np.uint16)
    dark = np.full((4, 4, 3), 257 * 100, np.uint16)
    assert to_rgb_uint8(bright).max() == 255
    np.testing.assert_array_equal(to_rgb_uint8(dark), np.full((4, 4, 3), 100, np.uint8))


def test_uint16_through_the_api_is_not_clipped():
    frame = np.full((4, 4, 3), 1000, np.uint16)  # was clipped to 255 (white)
    np.testing.assert_array_equal(check_frame(frame), np.full((4, 4, 3), 4, np.uint8))  # 1000 * 255 / 65535


def test_sixteen_bit_png_files_are_converted_by_range(tmp_path):
    # Frame 1 spans the full 16-bit range, frame 2 only its lower half: the old per-frame scaling wrote both
    # with a maximum of 255.
    ramp = np.linspace(0, 65535, 16, dtype=np.uint16).reshape(4, 4)
    for name, image in (("a.png", ramp), ("b.png", ramp // 2)):
        assert cv2.imwrite(str(tmp_path / name), image)
    a, b = read_image(tmp_path / "a.png"), read_image(tmp_path / "b.png")
    assert a.dtype == np.uint8 and a.shape == (4, 4, 3)
    assert a.max() == 255 and b.max() == 127  # 32767 * 255 / 65535 = 127.498


def test_sixteen_bit_colour_png_keeps_rgb_order(tmp_path):
    bgr = np.zeros((2, 2, 3), np.uint16)
    bgr[..., 2] = 65535  # red in OpenCV's BGR order
    assert cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = read_image(tmp_path / "red.png")
    np.testing.assert_array_equal(rgb[0, 0], [255, 0, 0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_frames_are_refused(bad):
    frame = np.full((8, 8, 3), 0.5, np.float32)
    frame[3, 3, 1] = bad
    with pytest.raises(UserError, match="NaN or infinite"):
        check_frame(frame)
    with pytest.raises(UserError, match="NaN or infinite"):
        check_frame(np.full((8, 8, 3), np.nan))


def test_float_frames_are_zero_to_one_and_others_refused():
    np.testing.assert_array_equal(check_frame(np.ones((2, 2, 3))), np.full((2, 2, 3), 255, np.uint8))
    with pytest.raises(UserError, match="0..1"):
        check_frame(np.full((2, 2, 3), 200.0))  # was silently clipped; 0..255 floats must be divided first


def test_int_frames_outside_0_255_are_refused():
    np.testing.assert_array_equal(check_frame(np.full((2, 2, 3), 7, np.int64)), np.full((2, 2, 3), 7, np.uint8))
    with pytest.raises(UserError, match="0..255"):
        check_frame(np.full((2, 2, 3), 4095, np.int32))


def test_nan_weights_are_refused_at_load(tmp_path):
    net = make_random_net(0)
    with torch.no_grad():
        next(iter(net.parameters())).view(-1)[0] = float("nan")
    path = save_weights(net, tmp_path / "nan.safetensors", arch="siamfc_vggm")
    with pytest.raises(UserError, match=r"nan\.safetensors.*NaN or infinite"):
        load_weights(make_random_net(1), path, arch="siamfc_vggm")


def test_nan_weights_are_one_cli_line(tmp_path, synthetic_video):
    from faults.harness import run_cli

    net = make_random_net(0)
    with torch.no_grad():
        next(iter(net.parameters())).view(-1)[0] = float("inf")
    path = save_weights(net, tmp_path / "inf.safetensors", arch="siamfc_vggm")
    result = run_cli("track", str(synthetic_video), "--box", "20,24,24,24", "--weights", str(path),
                     "--boxes", str(tmp_path / "out.txt"))
    assert result.returncode == 2 and "NaN or infinite" in result.stderr
    assert not (tmp_path / "out.txt").exists()


# ----------------------------------------------------------------------------------------- row 10: API input


@pytest.mark.parametrize("frame", [None, "frame.jpg", 3, [[1, 2], [3]], object(), np.zeros((4, 4), bool)])
def test_bad_frames_are_one_user_error(frame):
    with pytest.raises(UserError):
        check_frame(frame)


@pytest.mark.parametrize("box", ["10,10,20,20", b"1,2,3,4", None, [1, 2, 3], [1, "a", 3, 4], {"x": 1}])
def test_bad_boxes_are_one_user_error(box):
    with pytest.raises(UserError, match="box"):
        check_init_box(box, np.zeros((50, 50, 3), np.uint8))


def test_tracker_init_and_update_refuse_bad_input_with_user_error(random_weights):
    import twintrack

    tracker = twintrack.create_tracker("siamfc", weights=random_weights, device="cpu")
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(UserError, match="None"):
        tracker.init(None, (10, 10, 20, 20))
    with pytest.raises(UserError, match="string"):
        tracker.init(frame, "10,10,20,20")
    tracker.init(frame, (10, 10, 20, 20))
    with pytest.raises(UserError, match="None"):
        tracker.update(None)
    with pytest.raises(UserError, match="NaN"):
        tracker.update(np.full((64, 64, 3), np.nan, np.float32))
