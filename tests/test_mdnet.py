"""MDNet: sample generators, RoIAlign geometry, box regression and the online tracker, on synthetic data.

Everything runs on CPU with a random-init (kaiming, fixed seed) network: random VGG-M features already separate a
high-contrast texture from a smooth background, and the fc layers are fine-tuned online from the first frame, so
following a moving texture is a real end-to-end check of sampling, pooling, fine-tuning, scoring and regression.
Sizes are tiny (<= 160 px frames, region_size 127, tens of samples) because the suite shares 2 cores with training.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from conftest import moving_target_clip, require_shared_data, textured_patch
from twintrack.configs import load_config
from twintrack.geometry import iou, jitter_boxes, sample_by_iou, uniform_boxes
from twintrack.models import VGGM, init_weights
from twintrack.models.mdnet import FEATURE_ORIGIN, POOLED_SIZE, MDNet, normalize
from twintrack.tracker.base import TrackResult
from twintrack.tracker.bbreg import BoxRegressor, apply_deltas, regression_targets
from twintrack.tracker.mdnet import MDNetTracker

CPU = torch.device("cpu")

# Small online-learning budget: ~0.4 s per init and ~0.05 s per frame on one core (roi path).
SMALL = {
    "region_size": 127,
    "n_pos_init": 50,
    "n_neg_init": 200,
    "maxiter_init": 10,
    "n_samples": 64,
    "batch_neg_cand": 128,
    "n_bbreg": 100,
    "maxiter_update": 5,
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_net(weight_seed: int = 0) -> MDNet:
    """A fresh random-init MDNet (the tracker folds BatchNorm into the backbone in place: never share one)."""
    torch.manual_seed(weight_seed)
    net = MDNet(num_branches=1)
    init_weights(net)
    return net


def make_tracker(seed: int | None = 0, weight_seed: int = 0, **overrides) -> MDNetTracker:
    config = load_config("mdnet", {**SMALL, **overrides})
    return MDNetTracker(make_net(weight_seed), config, CPU, seed=seed)


def run(tracker, frames, init_box):
    """init on frames[0], update on the rest; returns (boxes incl. the init box, scores of the updates)."""
    tracker.init(frames[0], init_box)
    boxes, scores = [np.asarray(init_box, dtype=np.float64)], []
    for frame in frames[1:]:
        result = tracker.update(frame)
        assert isinstance(result, TrackResult)
        boxes.append(np.asarray(result.box, dtype=np.float64))
        scores.append(result.score)
    return np.array(boxes), np.array(scores)


def assert_inside(boxes, width, height):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    assert np.isfinite(boxes).all()
    assert (boxes[:, 2] > 0).all() and (boxes[:, 3] > 0).all()
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 0] + boxes[:, 2] <= width + 1e-9).all()
    assert (boxes[:, 1] + boxes[:, 3] <= height + 1e-9).all()


# ----------------------------------------------------------------------------------------------- sample generator

FRAME_WH = (160, 120)


@pytest.mark.parametrize("box", [(60.0, 40.0, 30.0, 24.0), (0.0, 0.0, 20.0, 16.0), (130.0, 96.0, 30.0, 24.0)],
                         ids=["middle", "top-left-corner", "bottom-right-corner"])
def test_positive_samples_overlap_the_box_and_stay_inside(box):
    rng = np.random.default_rng(0)
    out = sample_by_iou(rng, jitter_boxes, box, 100, (0.7, 1.0), translate=0.1, scale=1.0, frame_wh=FRAME_WH)
    assert out.shape == (100, 4)
    overlaps = iou(out, np.array([box]))
    assert (overlaps >= 0.7).all() and (overlaps <= 1.0).all()
    assert_inside(out, *FRAME_WH)
    assert len(np.unique(out, axis=0)) > 90  # real jitter, not one box repeated


@pytest.mark.parametrize("box", [(60.0, 40.0, 30.0, 24.0), (0.0, 0.0, 20.0, 16.0), (130.0, 96.0, 30.0, 24.0)],
                         ids=["middle", "top-left-corner", "bottom-right-corner"])
@pytest.mark.parametrize("iou_max", [0.5, 0.3])
def test_negative_samples_overlap_little_and_stay_inside(box, iou_max):
    rng = np.random.default_rng(1)
    out = sample_by_iou(rng, uniform_boxes, box, 200, (0.0, iou_max), translate=2.0, scale=5.0, frame_wh=FRAME_WH)
    assert out.shape == (200, 4)
    overlaps = iou(out, np.array([box]))
    assert (overlaps >= 0.0).all() and (overlaps <= iou_max).all()
    assert_inside(out, *FRAME_WH)
    assert (out[:, 2] >= 4).all() and (out[:, 3] >= 4).all()  # the generators' min_size


def test_sample_by_iou_returns_fewer_boxes_rather_than_wrong_ones():
    # A box filling the whole frame: every clipped candidate overlaps it a lot, so no negative exists.
    rng = np.random.default_rng(0)
    out = sample_by_iou(rng, uniform_boxes, (0, 0, *FRAME_WH), 50, (0.0, 0.05), translate=1.0, scale=5.0,
                        frame_wh=FRAME_WH)
    assert out.shape[1:] == (4,) and len(out) < 50
    assert (iou(out, np.array([[0, 0, *FRAME_WH]])) <= 0.05).all()


def test_sample_by_iou_is_reproducible_with_a_seed():
    a = sample_by_iou(np.random.default_rng(7), jitter_boxes, (60, 40, 30, 24), 30, (0.7, 1.0), translate=0.1,
                      scale=1.0, frame_wh=FRAME_WH)
    b = sample_by_iou(np.random.default_rng(7), jitter_boxes, (60, 40, 30, 24), 30, (0.7, 1.0), translate=0.1,
                      scale=1.0, frame_wh=FRAME_WH)
    assert np.array_equal(a, b)


# ---------------------------------------------------------------------------------------- model: RoIAlign geometry


@pytest.fixture(scope="module")
def noise_features():
    """A random-init backbone in eval mode, a 199x199 noise image (20x20 conv3 cells) and its feature map."""
    net = make_net(0).eval()
    image = torch.rand(1, 3, 199, 199, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        feat = net.features(image)
    assert feat.shape == (1, 512, 20, 20) and VGGM.output_size(199) == 20
    return net, image, feat


def grid_roi(a: int, b: int, cells: int = POOLED_SIZE) -> torch.Tensor:
    """The box covering conv3 cells a..a+cells-1 (x) and b..b+cells-1 (y): cell i spans 8 i + 21.5 +- 4 pixels."""
    x1 = FEATURE_ORIGIN - VGGM.total_stride / 2 + VGGM.total_stride * a
    y1 = FEATURE_ORIGIN - VGGM.total_stride / 2 + VGGM.total_stride * b
    side = VGGM.total_stride * cells
    return torch.tensor([[0.0, x1, y1, x1 + side, y1 + side]])


def cells(feat, a: int, b: int) -> torch.Tensor:
    return normalize(F.relu(feat[..., b : b + POOLED_SIZE, a : a + POOLED_SIZE]).flatten(1))


def test_feature_origin_is_the_receptive_field_centre():
    # The receptive field of conv3 cell (j, i) spans input pixels 8 i .. 8 i + 42: centre 8 i + 21.5 (continuous).
    net = make_net(0).eval()
    image = (torch.rand(1, 3, 99, 99, generator=torch.Generator().manual_seed(1)) * 255).requires_grad_(True)
    feat = net.features(image)
    i, j = 3, 2  # x cell, y cell
    feat[0, :, j, i].sum().backward()
    support = image.grad[0].abs().sum(dim=0) > 0
    cols = torch.nonzero(support.any(dim=0)).flatten()
    rows = torch.nonzero(support.any(dim=1)).flatten()
    assert (cols.min().item(), cols.max().item()) == (8 * i, 8 * i + 42)
    assert (rows.min().item(), rows.max().item()) == (8 * j, 8 * j + 42)
    assert (cols.min().item() + cols.max().item() + 1) / 2 == FEATURE_ORIGIN + 8 * i


@pytest.mark.parametrize("a,b", [(1, 1), (5, 3), (10, 12), (16, 16)])
def test_pool_of_a_grid_aligned_box_is_centred_on_its_cells(noise_features, a, b):
    """pool() puts each of its 3x3 bins exactly on one conv3 cell.

    With sampling_ratio=1 (one sample at each bin centre) RoIAlign returns the cells themselves: measured max
    difference 0.0. pool() uses sampling_ratio=2: two samples per bin and axis at the cell centre +- 1/4 cell, which
    bilinear interpolation turns into the fixed 3-tap blur [1/8, 3/4, 1/8] of the cells in x and in y; pool()
    equals that blur to float precision (measured max 1e-6 on values of ~5; tolerance 1e-5).
    """
    _, _, feat = noise_features
    rois = grid_roi(a, b)
    with torch.no_grad():
        pooled = MDNet.pool(feat, rois)
    assert pooled.shape == (1, 512 * POOLED_SIZE**2)

    # The same shift as pool(), one sample per bin: the cells exactly.
    shifted = rois.clone()
    shifted[:, 1:] -= FEATURE_ORIGIN - VGGM.total_stride / 2
    one_sample = roi_align(feat, shifted, POOLED_SIZE, spatial_scale=1 / VGGM.total_stride, sampling_ratio=1,
                           aligned=True)
    torch.testing.assert_close(normalize(F.relu(one_sample).flatten(1)), cells(feat, a, b), rtol=0, atol=1e-5)

    # pool() itself: the [1/8, 3/4, 1/8] blur of the 5x5 cells around the 3x3 window (a, b >= 1 for the border).
    kernel = torch.tensor([0.125, 0.75, 0.125])
    window = feat[0, :, b - 1 : b + POOLED_SIZE + 1, a - 1 : a + POOLED_SIZE + 1]
    blurred = torch.zeros(512, POOLED_SIZE, POOLED_SIZE)
    for dy in range(3):
        for dx in range(3):
            blurred += kernel[dy] * kernel[dx] * window[:, dy : dy + POOLED_SIZE, dx : dx + POOLED_SIZE]
    torch.testing.assert_close(pooled, normalize(F.relu(blurred[None]).flatten(1)), rtol=0, atol=1e-5)

    # And it is nearest to the right cells: a one-cell misalignment would be much further away.
    right = (pooled - cells(feat, a, b)).abs().mean()
    for da, db in [(1, 0), (-1, 0), (0, 1), (0, -1)]:
        assert right < 0.6 * (pooled - cells(feat, a + da, b + db)).abs().mean()


@pytest.mark.parametrize("a0,b0", [(3, 2), (1, 5)])
def test_features_are_translation_equivariant_in_steps_of_eight_pixels(noise_features, a0, b0):
    """Cropping the image at (8 a0, 8 b0) shifts the conv3 grid by exactly (a0, b0) cells (valid convolutions,
    strides 2 * 2 * 2): measured max difference 0.0 on values up to ~110; tolerance 1e-4 absolute."""
    net, image, feat = noise_features
    with torch.no_grad():
        cropped = net.features(image[..., 8 * b0 :, 8 * a0 :])
        h, w = cropped.shape[-2:]
        torch.testing.assert_close(cropped, feat[..., b0 : b0 + h, a0 : a0 + w], rtol=1e-5, atol=1e-4)
        # The same region pooled from either map: box coordinates move with the crop.
        a, b = 6, 7
        rois = grid_roi(a, b)
        rois_cropped = rois.clone()
        rois_cropped[:, [1, 3]] -= 8 * a0
        rois_cropped[:, [2, 4]] -= 8 * b0
        torch.testing.assert_close(MDNet.pool(cropped, rois_cropped), MDNet.pool(feat, rois), rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(cells(cropped, a - a0, b - b0), cells(feat, a, b), rtol=1e-5, atol=1e-4)


def test_normalize_gives_unit_rms_and_crop_pool_its_shape():
    x = torch.randn(5, 4608, generator=torch.Generator().manual_seed(0)) * 37.0
    torch.testing.assert_close(normalize(x).pow(2).mean(dim=1), torch.ones(5), rtol=1e-4, atol=1e-4)
    net = make_net(0).eval()
    with torch.no_grad():
        pooled = net.crop_pool(torch.rand(2, 3, 107, 107, generator=torch.Generator().manual_seed(0)) * 255)
    assert pooled.shape == (2, 512 * POOLED_SIZE**2)
    torch.testing.assert_close(pooled.pow(2).mean(dim=1), torch.ones(2), rtol=1e-4, atol=1e-4)


def test_head_can_start_at_fc5_with_cached_fc4_outputs():
    net = make_net(0).eval()
    x = normalize(torch.randn(4, 4608, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        full = net.classify(x)
        from_fc5 = net.classify(net.head.fc4(x), in_layer="fc5")
    assert full.shape == (4, 2)
    torch.testing.assert_close(full, from_fc5)
    with pytest.raises(ValueError, match="in_layer"):
        net.classify(x, in_layer="fc6")


# ------------------------------------------------------------------------------------------------ box regression


def test_regression_targets_and_apply_deltas_round_trip():
    rng = np.random.default_rng(0)
    target = np.array([40.0, 50.0, 30.0, 20.0])
    boxes = sample_by_iou(rng, uniform_boxes, target, 200, (0.3, 1.0), translate=0.5, scale=5.0)
    deltas = regression_targets(boxes, target)
    assert deltas.shape == (len(boxes), 4) and (np.abs(deltas[:, 2:]) <= 1).all()
    np.testing.assert_allclose(apply_deltas(boxes, deltas), np.tile(target, (len(boxes), 1)), rtol=0, atol=1e-9)
    # Zero deltas leave boxes alone; log-size deltas are clamped to +-1 (a factor e at most).
    np.testing.assert_allclose(apply_deltas(boxes, np.zeros_like(deltas)), boxes, rtol=0, atol=1e-9)
    grown = apply_deltas(np.array([[0.0, 0.0, 10.0, 10.0]]), np.array([[0.0, 0.0, 3.0, -3.0]]))
    np.testing.assert_allclose(grown[0, 2:], [10 * np.e, 10 / np.e])


def test_box_regressor_recovers_a_linearly_encoded_shift():
    """Features that encode each box's offset from the target linearly (64-d, plus noise): the ridge regressor
    moves held-out boxes onto the target. Measured mean IoU 0.70 before, 0.995 after (ridge_lambda 1)."""
    rng = np.random.default_rng(0)
    target = np.array([40.0, 50.0, 30.0, 20.0])
    mapping = rng.standard_normal((4, 64))

    def features(boxes):
        return regression_targets(boxes, target) @ mapping + 0.01 * rng.standard_normal((len(boxes), 64))

    train = sample_by_iou(rng, uniform_boxes, target, 200, (0.6, 1.0), translate=0.3, scale=3.0, frame_wh=(160, 160))
    test = sample_by_iou(rng, uniform_boxes, target, 100, (0.6, 1.0), translate=0.3, scale=3.0, frame_wh=(160, 160))
    regressor = BoxRegressor(ridge_lambda=1.0).fit(features(train), train, target)
    predicted = regressor.predict(features(test), test)
    before = iou(test, target[None]).mean()
    after = iou(predicted, target[None])
    assert before < 0.8
    assert after.mean() > 0.95 and after.min() > 0.9, (before, after.mean(), after.min())


def test_unfitted_box_regressor_returns_the_boxes():
    boxes = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_array_equal(BoxRegressor().predict(np.zeros((1, 8)), boxes), boxes)


# ------------------------------------------------------------------------------------------------------- tracker

CLIP_WH = (160, 160)


@pytest.fixture(scope="module")
def moving_clip():
    """24 frames 160x160: a 32x32 texture moving (3, 2) px per frame over a smooth gradient (69 px in all)."""
    return moving_target_clip(24, CLIP_WH[::-1], 32, (30, 40), (3, 2), background="smooth", seed=3)


@pytest.fixture(scope="module")
def tracked(moving_clip):
    frames, gt = moving_clip
    # region_size 191, not SMALL's 127: a 127 region spans only one target side each way, and since the next frame
    # is searched around the classification box (box regression is output only, as in py-MDNet), random-init
    # features let the box lag until the texture leaves the region (mean IoU 0.17 with weight seed 0).
    tracker = make_tracker(seed=0, region_size=191)
    boxes, scores = run(tracker, frames, gt[0])
    return tracker, boxes, scores


def test_online_fine_tuning_lowers_the_loss():
    # A textured target on noise. Hard negative mining makes single runs of 10 steps noisy (one tracker seed in
    # six ends higher than it starts), so the losses are averaged over tracker seeds 0-3: measured first-5 mean
    # 1.00, last-5 mean 0.81 (weight seed 0).
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    frame[40:72, 50:82] = textured_patch(rng, 32)
    runs = []
    for seed in range(4):
        tracker = make_tracker(seed=seed)
        tracker.init(frame, (50, 40, 32, 32))
        runs.append(tracker.init_losses)
    losses = np.array(runs)
    assert losses.shape == (4, SMALL["maxiter_init"]) and np.isfinite(losses).all()
    assert losses[:, -5:].mean() < losses[:, :5].mean(), np.round(losses, 3)


def test_mdnet_follows_a_moving_texture(moving_clip, tracked):
    # Measured mean IoU 0.85 and 0.88 with weight seeds 0 and 1 (last five frames >= 0.78); a box that stayed put
    # would end at IoU 0.
    _, gt = moving_clip
    _, boxes, _ = tracked
    overlaps = iou(boxes[1:], gt[1:])
    assert overlaps.mean() > 0.6, np.round(overlaps, 2)
    assert overlaps[-5:].min() > 0.4, np.round(overlaps, 2)
    assert iou(gt[0], gt[-1]) == 0.0  # the target really left its first box


def test_mdnet_boxes_stay_inside_and_scores_are_probabilities(tracked):
    _, boxes, scores = tracked
    assert_inside(boxes, *CLIP_WH)
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()


def test_mdnet_is_deterministic_with_a_seed(moving_clip):
    frames, gt = moving_clip
    first, first_scores = run(make_tracker(seed=0), frames[:6], gt[0])
    second, second_scores = run(make_tracker(seed=0), frames[:6], gt[0])
    assert np.array_equal(first, second) and np.array_equal(first_scores, second_scores)


def test_reinit_starts_the_same_as_a_fresh_tracker(moving_clip):
    # init() resets fc4/fc5 to the loaded weights and draws a new fc6: a second video gives the first one's answers.
    frames, gt = moving_clip
    tracker = make_tracker(seed=0)
    first, _ = run(tracker, frames[:4], gt[0])
    again, _ = run(tracker, frames[:4], gt[0])
    assert np.array_equal(first, again)


def test_create_tracker_with_saved_weights_matches_a_direct_build(moving_clip, tmp_path):
    from twintrack import create_tracker
    from twintrack.weights import save_weights

    frames, gt = moving_clip
    path = save_weights(make_net(0), tmp_path / "mdnet.safetensors", arch="mdnet_vggm")
    built = create_tracker("mdnet", weights=path, device="cpu", seed=0, **SMALL)
    assert isinstance(built, MDNetTracker) and built.config.region_size == 127
    direct, _ = run(make_tracker(seed=0), frames[:4], gt[0])
    via_api, _ = run(built, frames[:4], gt[0])
    np.testing.assert_allclose(via_api, direct, rtol=0, atol=1e-6)


def test_crop_feature_path_runs_and_returns_valid_boxes(moving_clip):
    # One 107x107 conv pass per box: ~1.4 s a frame with the SMALL counts, so fewer samples and frames here.
    frames, gt = moving_clip
    tracker = make_tracker(seed=0, feature_path="crop", n_pos_init=20, n_neg_init=60, n_samples=32, n_bbreg=30,
                           n_pos_update=10, n_neg_update=20, batch_neg_cand=64, batch_neg=32, batch_pos=16)
    boxes, scores = run(tracker, frames[:4], gt[0])
    assert_inside(boxes, *CLIP_WH)
    assert (scores >= 0).all() and (scores <= 1).all()
    assert iou(boxes[-1], gt[3]) > 0.3  # measured 0.8


def test_sample_memories_stay_bounded():
    frames, gt = moving_target_clip(11, (120, 120), 32, (30, 30), (2, 1), background="smooth", seed=3)
    tracker = make_tracker(seed=0, n_frames_long=3, n_frames_short=2, long_interval=2)
    tracker.init(frames[0], gt[0])
    assert len(tracker.pos_memory) == 1 and len(tracker.neg_memory) == 1
    for frame in frames[1:]:
        tracker.update(frame)
        assert len(tracker.pos_memory) <= 3 and len(tracker.neg_memory) <= 2
    # Measured: every frame succeeds here, so both memories are full, not merely bounded.
    assert len(tracker.pos_memory) == 3 and len(tracker.neg_memory) == 2
    assert all(len(chunk) <= tracker.config.n_pos_update for chunk in tracker.pos_memory)
    assert all(len(chunk) <= tracker.config.n_neg_update for chunk in tracker.neg_memory)


def test_update_before_init_raises():
    tracker = make_tracker()
    with pytest.raises(RuntimeError, match="init"):
        tracker.update(np.zeros((64, 64, 3), dtype=np.uint8))


def test_grayscale_frames_work(moving_clip):
    frames, gt = moving_clip
    gray = [f[:, :, 0].copy() for f in frames[:4]]
    assert gray[0].ndim == 2
    boxes, scores = run(make_tracker(seed=0), gray, gt[0])
    assert_inside(boxes, *CLIP_WH)
    assert (scores >= 0).all() and (scores <= 1).all()


@pytest.mark.parametrize("box", [(0.0, 0.0, 32.0, 32.0), (0.0, 0.0, 120.0, 120.0), (50.0, 50.0, 3.0, 3.0)],
                         ids=["corner", "whole-frame", "tiny"])
def test_awkward_init_boxes_still_track(box):
    # At a corner, covering the whole frame (no negatives exist) or 3x3 (no regression samples): valid boxes.
    frames, _ = moving_target_clip(3, (120, 120), 32, (0, 0), (3, 2), background="noise", seed=3)
    boxes, scores = run(make_tracker(seed=0), frames, box)
    assert_inside(boxes, 120, 120)
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()


# ----------------------------------------------------------------------------------------------------- real data


def test_shipped_mdnet_weights_on_bag_reach_floor():
    from twintrack import create_tracker
    from twintrack.eval.runner import run_sequence
    from twintrack.eval.sequences import load_folder_sequences

    (sequence,) = load_folder_sequences(require_shared_data("sot", "val", "bag"))
    tracker = create_tracker("mdnet", device="cpu", seed=0)
    result = run_sequence(tracker, sequence)
    assert_inside(result.boxes, *_frame_wh(sequence.frames[0]))
    # Measured 0.702 with the shipped weights (README figures); the floor leaves room for BLAS differences.
    assert result.score.success_auc > 0.5, result.score


def test_shipped_mdnet_keeps_a_small_targets_size_on_mountainbike6():
    # A 26x23 px target in 640x360 frames. With the regressed box fed back into the next frame's search, the box grew
    # to 57x50 within 13 frames and AUC was 0.09; with it as output only, seeds 0-5 give 0.49-0.54.
    from twintrack import create_tracker
    from twintrack.eval.runner import run_sequence
    from twintrack.eval.sequences import load_folder_sequences

    (sequence,) = load_folder_sequences(require_shared_data("sot", "val", "MountainBike6"))
    result = run_sequence(create_tracker("mdnet", device="cpu", seed=0), sequence)
    assert result.score.success_auc > 0.35, result.score
    # Largest box area over the first box's: measured 2.0 (the target itself grows to 1.4x), 4.7 when fed back.
    first_area = np.prod(sequence.ground_truth[0, 2:])
    assert np.prod(result.boxes[:, 2:], axis=1).max() < 3 * first_area


def _frame_wh(path):
    from twintrack.app.sources import read_image

    frame = read_image(path)
    return frame.shape[1], frame.shape[0]
