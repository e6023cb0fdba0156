"""SiamFC's box regression (``use_bbreg``, on in the preset): MDNet's ridge regression on RoIAlign features of SiamFC's
own search crops, fitted on the first frame on top of an offline prior (``bbreg_prior``), refines the reported box
only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import twintrack
from conftest import noise_background, textured_patch
from twintrack.configs import load_config
from twintrack.errors import UserError
from twintrack.geometry import iou
from twintrack.models.mdnet import MDNet


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    pass


def growing_clip(count=8, side=32):
    """240x320 noise; a textured square that drifts right and grows by 4 % per frame."""
    rng = np.random.default_rng(5)
    patch = textured_patch(rng, 96)
    frames, boxes = [], []
    for i in range(count):
        size = int(round(side * 1.04 ** i))
        frame = noise_background(rng, 240, 320)
        x, y = 100 + 3 * i, 90
        frame[y : y + size, x : x + size] = np.asarray(
            torch.nn.functional.interpolate(torch.from_numpy(patch).permute(2, 0, 1)[None].float(), size=(size, size),
                                            mode="bilinear", align_corners=False)[0].permute(1, 2, 0).round().byte())
        frames.append(frame)
        boxes.append([x, y, size, size])
    return frames, np.array(boxes, dtype=np.float64)


def run(frames, box, **overrides):
    tracker = twintrack.create_tracker("siamfc", device="cpu", **overrides)
    tracker.init(frames[0], box)
    states, results = [], []
    for frame in frames[1:]:
        results.append(tracker.update(frame))
        states.append(np.concatenate([tracker.center, tracker.target_size]))
    return tracker, results, np.array(states)


def test_pooled_boxes_are_mapped_from_frame_pixels_into_the_search_crop():
    tracker = twintrack.create_tracker("siamfc", device="cpu")
    feat = torch.randn(1, 512, 27, 27, generator=torch.Generator().manual_seed(0))
    # Crop centred at (100, 100), 51 frame pixels a side -> 255 crop pixels: 5 crop pixels per frame pixel, origin
    # (74.5, 74.5). Box (90, 95, 10, 10) -> x1 = 15.5 x 5 = 77.5, y1 = 20.5 x 5 = 102.5, x2 = 127.5, y2 = 152.5.
    pooled = tracker._pool(feat, np.array([[90.0, 95.0, 10.0, 10.0]]), (100.0, 100.0), 51.0)
    expected = MDNet.pool(feat.contiguous(memory_format=torch.channels_last),
                          torch.tensor([[0.0, 77.5, 102.5, 127.5, 152.5]]))
    assert pooled.shape == (1, 512 * 9)
    np.testing.assert_allclose(pooled, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_on_in_the_preset_with_the_shipped_prior_and_off_the_reported_box_is_siamfcs():
    frames, boxes = growing_clip()
    tracker, _, _ = run(frames, boxes[0])
    assert tracker.config.use_bbreg is True and tracker.config.bbreg_prior == "auto"
    assert tracker.regressor is not None and tracker.regressor.prior is not None  # the shipped backbone's
    tracker, results, _ = run(frames, boxes[0], use_bbreg=False)
    assert tracker.regressor is None and tracker.regressor_prior is None
    np.testing.assert_allclose(results[-1].box[2:], tracker.target_size)


def test_regression_refines_the_reported_box_only_and_leaves_the_tracked_state_alone():
    frames, boxes = growing_clip()
    _, plain, plain_states = run(frames, boxes[0], use_bbreg=False)
    tracker, refined, states = run(frames, boxes[0], use_bbreg=True, bbreg_prior="")
    assert tracker.regressor is not None
    # The search follows SiamFC's own centre and scale: identical with and without the regression.
    np.testing.assert_array_equal(states, plain_states)
    assert [r.score for r in refined] == [r.score for r in plain]
    moved = [not np.allclose(a.box, b.box) for a, b in zip(refined, plain)]
    assert all(moved)  # every located frame's report is the regressed box
    assert iou(np.array([r.box for r in refined]), boxes[1:]).mean() > 0.6


def test_the_first_frame_regressor_pulls_a_shifted_box_towards_the_target():
    frames, boxes = growing_clip()
    tracker = twintrack.create_tracker("siamfc", device="cpu", use_bbreg=True)
    tracker.init(frames[0], boxes[0])
    feat = tracker.embed(tracker.search_crop(frames[0]))[1:2]  # the middle scale: the crop the regressor saw
    target = boxes[0]
    for offset in ([6.0, 0.0, 0.0, 0.0], [0.0, -5.0, 0.0, 0.0], [-2.0, -2.0, 6.0, 6.0]):
        shifted = target + np.array(offset)
        refined = tracker._regress(shifted, feat, tracker.center, tracker.search_side)
        assert iou(refined[None], target[None])[0] > iou(shifted[None], target[None])[0]


def test_a_lost_frame_reports_siamfcs_box():
    frames, boxes = growing_clip(count=4)
    blank = noise_background(np.random.default_rng(9), 240, 320)
    tracker = twintrack.create_tracker("siamfc", device="cpu", use_bbreg=True)
    tracker.init(frames[0], boxes[0])
    result = tracker.update(blank)
    assert result.lost
    np.testing.assert_allclose(result.box[:2] + result.box[2:] / 2, tracker.center)
    np.testing.assert_allclose(result.box[2:], tracker.target_size)


@pytest.mark.parametrize("key, value", [("n_bbreg", 5), ("bbreg_iou_min", 1.0), ("bbreg_lambda", 0.0),
                                        ("bbreg_scale", -1.0), ("bbreg_aspect", 0.5)])
def test_box_regression_settings_are_checked(key, value):
    with pytest.raises(UserError, match=key):
        load_config("siamfc", {key: value})


# ------------------------------------------------------------------ an offline regression as the prior (bbreg_prior)
def toy_samples(seed=0, count=40, dim=6):
    rng = np.random.default_rng(seed)
    target = np.array([50.0, 40.0, 20.0, 30.0])
    boxes = target + np.concatenate([rng.normal(0, 2, (count, 2)), rng.normal(0, 2, (count, 2))], axis=1)
    return rng.normal(0, 1, (count, dim)), boxes, target


def test_a_regression_with_a_prior_adds_the_prior_and_fits_what_it_leaves():
    from twintrack.tracker.bbreg import BoxRegressor, regression_targets

    features, boxes, target = toy_samples()
    rng = np.random.default_rng(1)
    prior = BoxRegressor.from_arrays(rng.normal(0, 0.1, (6, 4)), rng.normal(0, 1, 6), rng.normal(0, 0.1, 4))
    targets = regression_targets(boxes, target)
    # An overwhelming ridge leaves only the intercept: the prior's deltas plus the mean of what they miss.
    stiff = BoxRegressor(1e12, prior=prior).fit(features, boxes, target)
    expected = prior.deltas(features) + (targets - prior.deltas(features)).mean(axis=0)
    np.testing.assert_allclose(stiff.deltas(features), expected, atol=1e-6)
    # A weak ridge fits the targets themselves (6 features, 40 samples: least squares, close but not exact).
    loose = BoxRegressor(1e-6, prior=prior).fit(features, boxes, target)
    plain = BoxRegressor(1e-6).fit(features, boxes, target)
    np.testing.assert_allclose(loose.deltas(features), plain.deltas(features), atol=1e-6)


def test_a_saved_regression_loads_back_and_bad_files_are_one_line_errors(tmp_path):
    from safetensors.numpy import save_file

    from twintrack.tracker.bbreg import load_regressor

    rng = np.random.default_rng(2)
    arrays = {"weights": rng.normal(size=(6, 4)).astype(np.float32), "feature_mean": np.ones(6, np.float32),
              "target_mean": np.zeros(4, np.float32)}
    save_file(arrays, tmp_path / "prior.safetensors")
    loaded = load_regressor(tmp_path / "prior.safetensors")
    features = rng.normal(size=(3, 6))
    np.testing.assert_allclose(loaded.deltas(features), (features - 1) @ arrays["weights"], rtol=1e-6)
    with pytest.raises(UserError, match="does not exist"):
        load_regressor(tmp_path / "missing.safetensors")
    (tmp_path / "garbage.safetensors").write_text("not a tensor file")
    with pytest.raises(UserError, match="not one bench/fit_box_regressor.py wrote"):
        load_regressor(tmp_path / "garbage.safetensors")
    save_file({"weights": arrays["weights"]}, tmp_path / "partial.safetensors")
    with pytest.raises(UserError, match="not one"):
        load_regressor(tmp_path / "partial.safetensors")


def test_the_tracker_fits_its_first_frame_on_top_of_bbreg_prior(tmp_path):
    from safetensors.numpy import save_file

    frames, boxes = growing_clip(count=4)
    weights = np.zeros((4608, 4), np.float32)
    weights[:, 2] = 0.01  # the prior's width correction grows with the features' sum
    for name, prior_weights in (("constant", np.zeros_like(weights)), ("varying", weights)):
        save_file({"weights": prior_weights, "feature_mean": np.zeros(4608, np.float32),
                   "target_mean": np.array([0, 0, np.log(1.1), 0], np.float32)}, tmp_path / f"{name}.safetensors")
    _, plain, plain_states = run(frames, boxes[0], use_bbreg=True, bbreg_prior="")
    tracker, constant, states = run(frames, boxes[0], use_bbreg=True,
                                    bbreg_prior=str(tmp_path / "constant.safetensors"))
    assert tracker.regressor.prior is tracker.regressor_prior is not None
    np.testing.assert_array_equal(states, plain_states)  # still the reported box only
    # A constant prior is taken back out by the first frame's intercept (the mean residual): the same boxes.
    np.testing.assert_allclose([r.box for r in constant], [r.box for r in plain], atol=1e-6)
    _, varying, _ = run(frames, boxes[0], use_bbreg=True, bbreg_prior=str(tmp_path / "varying.safetensors"))
    assert not np.allclose([r.box for r in varying], [r.box for r in plain])


def test_the_shipped_prior_is_used_only_with_the_backbone_it_was_fitted_on(random_weights):
    # Other weights give other features: auto falls back to the first frame's regression alone.
    tracker = twintrack.create_tracker("siamfc", weights=random_weights, device="cpu")
    assert tracker.config.bbreg_prior == "auto" and tracker.regressor_prior is None
    frames, boxes = growing_clip(count=3)
    tracker.init(frames[0], boxes[0])
    assert tracker.regressor is not None and tracker.regressor.prior is None
