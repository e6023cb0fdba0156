"""MDNet's output box (box regression as output only, py-MDNet's way), SiamFC's first-frame template (the
re-detection's proposals), aspect jitter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import moving_target_clip
from test_mdnet import CLIP_WH, make_tracker
from twintrack.geometry import uniform_boxes, xywh_to_cxcywh
from twintrack.models.mdnet import FEATURE_ORIGIN
from twintrack.tracker.template_prior import EXEMPLAR_CELLS, TemplatePrior

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------------------------------------ aspect jitter


def test_aspect_jitter_changes_each_side_within_its_bounds():
    box = np.array([100.0, 100.0, 40.0, 20.0])
    out = uniform_boxes(np.random.default_rng(0), box, 500, translate=0.0, scale=0.0, aspect=1.1)
    factors = out[:, 2:] / box[2:]
    assert (factors >= 1 / 1.1 - 1e-12).all() and (factors <= 1.1 + 1e-12).all()
    # Width and height are drawn independently, so the aspect ratio changes (it cannot with aspect 1).
    ratios = factors[:, 0] / factors[:, 1]
    assert ratios.min() < 0.9 and ratios.max() > 1.1
    # Centres do not move with translate 0: the jitter is about the centre.
    np.testing.assert_allclose(xywh_to_cxcywh(out)[:, :2], np.tile([120.0, 110.0], (500, 1)))


def test_aspect_one_keeps_the_old_random_stream():
    a = uniform_boxes(np.random.default_rng(3), [10, 10, 20, 30], 50, translate=0.5, scale=5.0)
    b = uniform_boxes(np.random.default_rng(3), [10, 10, 20, 30], 50, translate=0.5, scale=5.0, aspect=1.0)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------- template prior


def noise_map(seed: int = 0, size: int = 27) -> torch.Tensor:
    return torch.randn(1, 64, size, size, generator=torch.Generator().manual_seed(seed))


def test_template_is_the_central_exemplar_cells_and_peaks_where_the_target_was():
    fmap = noise_map()
    prior = TemplatePrior(fmap, target_centre_px=127.5)
    assert prior.template.shape == (1, 64, EXEMPLAR_CELLS, EXEMPLAR_CELLS)
    torch.testing.assert_close(prior.template, fmap[:, :, 8:19, 8:19])
    response = prior.response(fmap)
    assert response.shape == (17, 17) and response.min() == 0.0 and response.max() == 1.0
    assert np.unravel_index(response.argmax(), response.shape) == (8, 8)  # unmoved: the centre cell
    # Cell 8 stands for the first frame's target centre, 127.5 px (2 px beyond the template's centre cell, 125.5).
    assert prior.cell0_px + 8 * 8 == pytest.approx(127.5)
    assert FEATURE_ORIGIN + 8 * 13 == pytest.approx(125.5)
    assert prior.at(response, np.array([[127.5, 127.5]]))[0] == pytest.approx(1.0)


@pytest.mark.parametrize("dx, dy", [(3, -2), (-5, 4), (0, 6)])
def test_template_response_follows_a_shifted_target(dx, dy):
    first = noise_map(1)
    prior = TemplatePrior(first, target_centre_px=127.5)
    # The next frame: the same content moved by (dx, dy) cells = (8 dx, 8 dy) region pixels.
    moved = torch.roll(first, shifts=(dy, dx), dims=(2, 3))
    response = prior.response(moved)
    assert np.unravel_index(response.argmax(), response.shape) == (8 + dy, 8 + dx)
    centre = np.array([[127.5 + 8 * dx, 127.5 + 8 * dy]])
    assert prior.at(response, centre)[0] == pytest.approx(1.0)
    # Half a cell away the bilinear read is the mean of the two neighbouring cells.
    half = prior.at(response, centre + [[4.0, 0.0]])[0]
    assert half == pytest.approx((response[8 + dy, 8 + dx] + response[8 + dy, 9 + dx]) / 2)


def test_template_reads_outside_the_map_clamp_to_its_edge():
    fmap = noise_map(2)
    prior = TemplatePrior(fmap, target_centre_px=127.5)
    response = prior.response(fmap)
    far = prior.at(response, np.array([[-500.0, -500.0], [5000.0, 5000.0]]))
    np.testing.assert_allclose(far, [response[0, 0], response[-1, -1]])


def test_template_needs_a_map_at_least_as_large_as_the_exemplar():
    with pytest.raises(ValueError, match="smaller than"):
        TemplatePrior(noise_map(size=9), target_centre_px=36.0)


# ------------------------------------------------------------------------------------- the tracker's output box


@pytest.fixture(scope="module")
def clip():
    return moving_target_clip(8, CLIP_WH[::-1], 32, (30, 40), (3, 2), background="smooth", seed=3)


def test_regressed_box_is_the_output_only(clip):
    # py-MDNet samples the next frame around the classification box (the top-5 mean); the regressed box is what the
    # tracker reports. Feeding it back let a biased regressor grow the box frame after frame (MountainBike6).
    frames, gt = clip
    tracker = make_tracker(seed=0)
    tracker.init(frames[0], gt[0])
    assert tracker.regressor is not None
    differed = 0
    for frame in frames[1:]:
        result = tracker.update(frame)
        differed += not np.allclose(result.box, tracker.target)
    assert differed > 0
