"""geometry.py: box conventions, IoU, clipping, crops and frame conversion."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twintrack.geometry import (
    box_is_valid,
    center_error,
    clip_box,
    context_size,
    crop_and_resize,
    cxcywh_to_xywh,
    from_one_based,
    iou,
    jitter_boxes,
    to_one_based,
    to_rgb_uint8,
    xywh_to_cxcywh,
)

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0.1, max_value=1e4, allow_nan=False, allow_infinity=False)
boxes = st.tuples(finite, finite, positive, positive)

# ------------------------------------------------------------------------------------------------------------ IoU


def test_iou_identical_boxes_is_one():
    assert iou([3.5, 7, 20, 10], [3.5, 7, 20, 10]) == pytest.approx(1.0)


def test_iou_disjoint_and_touching_boxes_is_zero():
    assert iou([0, 0, 10, 10], [50, 50, 10, 10]) == 0.0
    # Sharing an edge is no overlap: pixel columns [0, 10) and [10, 20).
    assert iou([0, 0, 10, 10], [10, 0, 10, 10]) == 0.0


def test_iou_hand_computed_overlaps():
    # Shifted by half a width: intersection 5x10 = 50, union 100 + 100 - 50 = 150.
    assert iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(1 / 3)
    # The top half of a box: intersection 50, union 100.
    assert iou([0, 0, 10, 10], [0, 0, 10, 5]) == pytest.approx(0.5)
    # Quarter overlap of two 4x4 boxes: intersection 2x2 = 4, union 16 + 16 - 4 = 28.
    assert iou([0, 0, 4, 4], [2, 2, 4, 4]) == pytest.approx(4 / 28)


def test_iou_zero_size_box_is_zero():
    assert iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0
    assert iou([5, 5, 0, 0], [0, 0, 10, 10]) == 0.0
    assert iou([5, 5, 0, 3], [0, 0, 10, 10]) == 0.0


def test_iou_is_elementwise_over_arrays():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]])
    np.testing.assert_allclose(iou(a, b), [1.0, 1 / 3, 0.0])
    # One box against many broadcasts.
    np.testing.assert_allclose(iou(a, [0, 0, 10, 10]), [1.0, 1.0, 1.0])


@settings(max_examples=200, deadline=None)
@given(boxes, boxes)
def test_iou_is_symmetric_and_within_unit_interval(a, b):
    forward, backward = float(iou(a, b)), float(iou(b, a))
    assert forward == pytest.approx(backward)
    assert 0.0 <= forward <= 1.0 + 1e-9  # (y + h) - y loses a few ulps far from the origin


def test_center_error_hand_computed():
    # Centres (5, 5) and (8, 9): a 3-4-5 triangle.
    assert center_error([0, 0, 10, 10], [3, 4, 10, 10]) == pytest.approx(5.0)


# ------------------------------------------------------------------------------------------------ box conversions


def test_xywh_cxcywh_hand_computed():
    np.testing.assert_allclose(xywh_to_cxcywh([10, 20, 30, 40]), [25, 40, 30, 40])
    np.testing.assert_allclose(cxcywh_to_xywh([25, 40, 30, 40]), [10, 20, 30, 40])
    # The whole W x H image is centred at (W / 2, H / 2).
    np.testing.assert_allclose(xywh_to_cxcywh([0, 0, 64, 48]), [32, 24, 64, 48])


@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, min_size=1, max_size=5))
def test_xywh_cxcywh_round_trip(box_list):
    arr = np.array(box_list, dtype=np.float64)
    np.testing.assert_allclose(cxcywh_to_xywh(xywh_to_cxcywh(arr)), arr, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(xywh_to_cxcywh(cxcywh_to_xywh(arr)), arr, rtol=1e-9, atol=1e-6)


def test_one_based_conversion_hand_computed_and_does_not_mutate():
    one_based = np.array([[1.0, 1.0, 5.0, 6.0], [11.0, 21.0, 3.0, 4.0]])
    original = one_based.copy()
    np.testing.assert_allclose(from_one_based(one_based), [[0, 0, 5, 6], [10, 20, 3, 4]])
    np.testing.assert_array_equal(one_based, original)  # callers' arrays are left alone
    np.testing.assert_allclose(to_one_based([0, 0, 5, 6]), [1, 1, 5, 6])


@settings(max_examples=100, deadline=None)
@given(st.lists(boxes, min_size=1, max_size=5))
def test_one_based_round_trip(box_list):
    arr = np.array(box_list, dtype=np.float64)
    np.testing.assert_allclose(to_one_based(from_one_based(arr)), arr, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(from_one_based(to_one_based(arr)), arr, rtol=1e-12, atol=1e-9)


# ----------------------------------------------------------------------------------------------------- clip_box


def assert_inside(box, frame_w, frame_h, tol=1e-9):
    x, y, w, h = box
    assert w > 0 and h > 0, box
    assert x >= -tol and y >= -tol, box
    assert x + w <= frame_w + tol and y + h <= frame_h + tol, (box, frame_w, frame_h)


def test_clip_box_hand_computed():
    np.testing.assert_allclose(clip_box([10, 10, 20, 20], 100, 100), [10, 10, 20, 20])  # already inside
    np.testing.assert_allclose(clip_box([-5, 90, 20, 20], 100, 100), [0, 80, 20, 20])  # pushed back in
    np.testing.assert_allclose(clip_box([500, 500, 10, 10], 100, 100), [90, 90, 10, 10])  # beyond bottom-right
    np.testing.assert_allclose(clip_box([-500, -500, 10, 10], 100, 100), [0, 0, 10, 10])  # beyond top-left
    np.testing.assert_allclose(clip_box([0, 0, 300, 50], 100, 80), [0, 0, 100, 50])  # wider than the frame
    np.testing.assert_allclose(clip_box([10, 10, 0, -3], 100, 100), [10, 10, 1, 1])  # collapsed -> min_size


@settings(max_examples=300, deadline=None)
@given(
    st.floats(-5000, 5000),
    st.floats(-5000, 5000),
    st.floats(-100, 5000),
    st.floats(-100, 5000),
    st.integers(1, 2000),
    st.integers(1, 2000),
)
def test_clip_box_keeps_any_box_inside_the_frame(x, y, w, h, frame_w, frame_h):
    out = clip_box([x, y, w, h], frame_w, frame_h)
    assert out.shape == (4,)
    assert_inside(out, frame_w, frame_h)
    assert out[2] >= min(1.0, frame_w) - 1e-12 and out[3] >= min(1.0, frame_h) - 1e-12


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 500), st.integers(2, 500), st.floats(1, 100), st.floats(1, 100), st.sampled_from("LRTB"))
def test_clip_box_for_boxes_fully_outside_hugs_the_crossed_border(frame_w, frame_h, w, h, side):
    far = 10_000.0
    box = {"L": [-far, 0, w, h], "R": [far, 0, w, h], "T": [0, -far, w, h], "B": [0, far, w, h]}[side]
    out = clip_box(box, frame_w, frame_h)
    assert_inside(out, frame_w, frame_h)
    if side == "L":
        assert out[0] == 0
    elif side == "R":
        assert out[0] + out[2] == pytest.approx(frame_w)
    elif side == "T":
        assert out[1] == 0
    else:
        assert out[1] + out[3] == pytest.approx(frame_h)


def test_box_is_valid_reasons():
    assert box_is_valid([10, 10, 20, 20], 100, 100) is None
    assert box_is_valid([-5, -5, 20, 20], 100, 100) is None  # partly outside is fine
    assert "w=0" in box_is_valid([10, 10, 0, 20], 100, 100)
    assert "outside" in box_is_valid([100, 10, 20, 20], 100, 100)
    assert "outside" in box_is_valid([-20, 10, 20, 20], 100, 100)
    assert "four finite numbers" in box_is_valid([1, 2, 3], 100, 100)
    assert "four finite numbers" in box_is_valid([1, 2, np.nan, 4], 100, 100)


def test_jitter_boxes_with_frame_stay_inside_and_are_repeatable():
    rng = np.random.default_rng(0)
    out = jitter_boxes(rng, [40, 40, 20, 30], 64, translate=0.5, scale=5, frame_wh=(80, 60))
    assert out.shape == (64, 4)
    for box in out:
        assert_inside(box, 80, 60)
        assert box[2] >= 4 and box[3] >= 4
    again = jitter_boxes(np.random.default_rng(0), [40, 40, 20, 30], 64, translate=0.5, scale=5, frame_wh=(80, 60))
    np.testing.assert_array_equal(out, again)


# ---------------------------------------------------------------------------------------------------------- crops


def crop_by_padding(image, center_xy, size, border_value):
    """The slow obvious crop at scale 1: pad the image generously with border_value, then slice."""
    height, width = image.shape[:2]
    pad = 2 * size + max(width, height) + 100  # wide enough for any crop these tests take
    padded = np.empty((height + 2 * pad, width + 2 * pad, image.shape[2]), dtype=image.dtype)
    padded[:] = np.asarray(border_value, dtype=image.dtype)
    padded[pad : pad + height, pad : pad + width] = image
    x0 = int(round(center_xy[0] - size / 2)) + pad
    y0 = int(round(center_xy[1] - size / 2)) + pad
    return padded[y0 : y0 + size, x0 : x0 + size]


def aligned_center(corner: int, size: int) -> float:
    """A centre whose crop's top-left corner is the integer ``corner`` (half-integer for odd sizes)."""
    return corner + size / 2


@pytest.mark.parametrize(
    "corner_xy",
    [
        (3, 4),  # fully inside
        (-6, 5),  # sticks out on the left
        (12, 5),  # sticks out on the right
        (4, -7),  # sticks out at the top
        (4, 11),  # sticks out at the bottom
        (-6, -7),  # top-left corner
        (12, 11),  # bottom-right corner
        (-40, -40),  # entirely outside: all padding
        (-3, -3),  # larger than the image on every side (with size 26)
    ],
)
@pytest.mark.parametrize("size", [9, 26])
def test_crop_and_resize_at_scale_one_equals_pad_then_slice(corner_xy, size):
    rng = np.random.default_rng(abs(corner_xy[0]) * 100 + abs(corner_xy[1]) + size)
    image = rng.integers(0, 256, (18, 20, 3), dtype=np.uint8)  # H=18, W=20
    border = (7, 130, 250)
    center = (aligned_center(corner_xy[0], size), aligned_center(corner_xy[1], size))
    got = crop_and_resize(image, center, size, size, border_value=border)
    expected = crop_by_padding(image, center, size, border)
    assert got.shape == (size, size, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 24),
    st.integers(1, 24),
    st.integers(1, 30),
    st.integers(-40, 40),
    st.integers(-40, 40),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    st.integers(0, 2**32 - 1),
)
def test_crop_and_resize_at_scale_one_equals_pad_then_slice_random(height, width, size, x0, y0, border, seed):
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    center = (aligned_center(x0, size), aligned_center(y0, size))
    got = crop_and_resize(image, center, size, size, border_value=border)
    np.testing.assert_array_equal(got, crop_by_padding(image, center, size, border))


def test_crop_and_resize_default_border_is_the_image_mean_colour():
    image = np.zeros((10, 10, 3), np.uint8)
    image[:, :5] = (200, 100, 0)  # mean colour (100, 50, 0)
    crop = crop_and_resize(image, (-100, -100), 8, 8)  # entirely outside
    np.testing.assert_array_equal(crop, np.broadcast_to(np.array([100, 50, 0], np.uint8), (8, 8, 3)))


def test_crop_and_resize_scalar_border_value_fills_every_channel():
    image = np.zeros((4, 4, 3), np.uint8)
    crop = crop_and_resize(image, (2, 2), 8, 8, border_value=128)
    np.testing.assert_array_equal(crop[0, 0], [128, 128, 128])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 255),
    st.floats(-50, 80),
    st.floats(-50, 80),
    st.floats(1, 200),
    st.integers(1, 40),
    st.sampled_from([cv2.INTER_LINEAR, cv2.INTER_NEAREST, cv2.INTER_AREA]),
)
def test_crop_and_resize_of_constant_image_is_constant(value, cx, cy, src, out, interpolation):
    image = np.full((30, 40, 3), value, np.uint8)
    crop = crop_and_resize(image, (cx, cy), src, out, interpolation=interpolation)
    assert crop.shape == (out, out, 3)
    np.testing.assert_array_equal(crop, np.full_like(crop, value))


def test_crop_and_resize_rectangular_sizes_and_grayscale():
    gray = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    crop = crop_and_resize(gray, (15, 10), (12, 6), (24, 12), border_value=0)
    assert crop.shape == (12, 24)  # out_size is (w, h)
    # Scale 1 on a grayscale image: an exact slice of rows 7..12, columns 9..20.
    exact = crop_and_resize(gray, (15, 10), (12, 6), (12, 6), border_value=0)
    np.testing.assert_array_equal(exact, gray[7:13, 9:21])


def test_context_size_hand_computed():
    # 40x20 target: p = 0.5 * 60 = 30, side = sqrt(70 * 50) = sqrt(3500).
    assert context_size((40, 20)) == pytest.approx(math.sqrt(3500))
    # 10x10 target: p = 10, side = 20.
    assert context_size((10, 10)) == pytest.approx(20.0)
    # No context: the geometric mean of the sides.
    assert context_size((9, 4), context=0.0) == pytest.approx(6.0)


# ------------------------------------------------------------------------------------------------ frame conversion


def test_to_rgb_uint8_grayscale_2d():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = to_rgb_uint8(gray)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(rgb[:, :, channel], gray)


def test_to_rgb_uint8_grayscale_one_channel():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    rgb = to_rgb_uint8(gray)
    assert rgb.shape == (3, 4, 3)
    np.testing.assert_array_equal(rgb, np.repeat(gray, 3, axis=2))


def test_to_rgb_uint8_drops_alpha():
    rgba = np.random.default_rng(0).integers(0, 256, (5, 6, 4), dtype=np.uint8)
    rgb = to_rgb_uint8(rgba)
    assert rgb.shape == (5, 6, 3) and rgb.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(rgb, rgba[:, :, :3])


def test_to_rgb_uint8_keeps_rgb_and_scales_unit_floats():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_rgb_uint8(rgb), rgb)
    unit = np.full((2, 2, 3), 0.5, dtype=np.float32)
    np.testing.assert_array_equal(to_rgb_uint8(unit), np.full((2, 2, 3), 127, np.uint8))


@pytest.mark.parametrize("shape", [(4, 4, 5), (4, 4, 2), (4,), (2, 4, 4, 3)])
def test_to_rgb_uint8_refuses_other_shapes(shape):
    with pytest.raises(ValueError, match="HxW"):
        to_rgb_uint8(np.zeros(shape, np.uint8))
