"""The twin tracker (tracker/twin.py): SiamFC and MDNet side by side, the answer chosen per frame by their scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import twintrack
from conftest import moving_target_clip
from twintrack.configs import config_to_dict
from twintrack.errors import UserError
from twintrack.tracker.base import TrackResult
from twintrack.tracker.twin import choose

# MDNet made cheap for a 96x96 clip (first-frame training and candidates cut down); the twin passes these on.
MDNET_SMALL = {"n_pos_init": 50, "n_neg_init": 200, "maxiter_init": 10, "n_samples": 64, "batch_neg_cand": 128,
               "n_bbreg": 100, "maxiter_update": 5}


def result(score: float) -> TrackResult:
    return TrackResult(box=np.array([1.0, 2.0, 3.0, 4.0]), score=score, lost=score < 0.5)


@pytest.mark.parametrize("siamfc,mdnet,expected", [
    (0.9, 0.2, "siamfc"), (0.6, 0.99, "siamfc"),  # SiamFC found: its answer, however sure MDNet is
    (0.3, 0.7, "mdnet"),                          # SiamFC lost, MDNet found: MDNet's
    (0.3, 0.4, "siamfc"), (0.1, 0.45, "siamfc"),  # both lost: SiamFC's (it holds its size near the loss)
])
def test_siamfc_first_reports_mdnet_only_where_siamfc_is_lost_and_mdnet_is_not(siamfc, mdnet, expected):
    assert choose("siamfc_first", result(siamfc), result(mdnet)) == expected


@pytest.mark.parametrize("siamfc,mdnet,expected", [(0.9, 0.2, "siamfc"), (0.6, 0.99, "mdnet"),
                                                   (0.3, 0.4, "mdnet"), (0.7, 0.7, "siamfc")])
def test_max_reports_the_higher_score_and_siamfc_on_a_tie(siamfc, mdnet, expected):
    assert choose("max", result(siamfc), result(mdnet)) == expected


@pytest.fixture(scope="module")
def clip():
    return moving_target_clip(8, (96, 96), 24, (20, 24), (2, 1), background="noise", seed=1)


def test_the_twins_boxes_are_its_trackers_own_boxes_frame_by_frame(clip):
    """Neither tracker is told what the other found: the twin's answer on each frame is, bit for bit, the answer of
    the tracker its rule chose, as that tracker gives it running alone (same seed)."""
    frames, boxes = clip
    twin = twintrack.create_tracker("twin", device="cpu", seed=3, mdnet=MDNET_SMALL)
    alone = {"siamfc": twintrack.create_tracker("siamfc", device="cpu"),
             "mdnet": twintrack.create_tracker("mdnet", device="cpu", seed=3, **MDNET_SMALL)}
    twin.init(frames[0], boxes[0])
    for tracker in alone.values():
        tracker.init(frames[0], boxes[0])
    for frame in frames[1:]:
        got = twin.update(frame)
        own = {name: tracker.update(frame) for name, tracker in alone.items()}
        assert twin.chosen == choose("siamfc_first", own["siamfc"], own["mdnet"])
        expected = own[twin.chosen]
        np.testing.assert_array_equal(got.box, expected.box)
        assert (got.score, got.lost) == (expected.score, expected.lost)


def test_mdnets_answer_stands_in_while_siamfc_is_lost(clip, monkeypatch):
    frames, boxes = clip
    twin = twintrack.create_tracker("twin", device="cpu", seed=0)  # MDNet's preset: sure of the square (0.97)
    twin.init(frames[0], boxes[0])
    lost = TrackResult(box=np.array([0.0, 0.0, 24.0, 24.0]), score=0.1, lost=True)
    monkeypatch.setattr(twin.siamfc, "update", lambda frame: lost)
    got = twin.update(frames[1])
    assert twin.chosen == "mdnet" and not got.lost
    assert not np.array_equal(got.box, lost.box)
    # MDNet follows the square (2 px right, 1 px down per frame) while SiamFC's answer is set aside.
    assert np.abs(got.box[:2] - boxes[1][:2]).max() < 8


@pytest.mark.parametrize("follows", [False, True])
def test_siamfc_follows_continues_siamfc_from_mdnets_stand_in_box(clip, monkeypatch, follows):
    frames, boxes = clip
    twin = twintrack.create_tracker("twin", device="cpu", seed=0, siamfc_follows=follows, mdnet=MDNET_SMALL)
    twin.init(frames[0], boxes[0])
    siamfc = twin.siamfc
    side_before, size_before = siamfc.search_side, siamfc.target_size.copy()
    stand_in = TrackResult(box=np.array([40.0, 30.0, 36.0, 18.0]), score=0.9, lost=False)
    monkeypatch.setattr(siamfc, "update", lambda frame: TrackResult(np.array([0.0, 0.0, 24.0, 24.0]), 0.1, True))
    monkeypatch.setattr(twin.mdnet, "update", lambda frame: stand_in)
    assert twin.update(frames[1]) is stand_in
    if follows:
        np.testing.assert_allclose(siamfc.center, [58.0, 39.0])  # the stand-in box's centre
        np.testing.assert_allclose(siamfc.target_size, [36.0, 18.0])
        # The search region scales with the size's geometric mean: sqrt(36 * 18 / 24 ** 2) = 1.0607.
        assert siamfc.search_side == pytest.approx(side_before * np.sqrt(36 * 18 / 24 ** 2))
    else:
        np.testing.assert_array_equal(siamfc.target_size, size_before)
        assert siamfc.search_side == side_before


def test_siamfc_continues_from_a_box_within_its_scale_limits(clip):
    frames, boxes = clip
    siamfc = twintrack.create_tracker("siamfc", device="cpu")  # max_scale 5: at most 5x the first size
    siamfc.init(frames[0], boxes[0])
    side = siamfc.search_side
    siamfc.continue_from([10.0, 20.0, 240.0, 240.0])  # 10x the first 24x24
    np.testing.assert_allclose(siamfc.center, [130.0, 140.0])
    np.testing.assert_allclose(siamfc.target_size, [120.0, 120.0])
    assert siamfc.search_side == pytest.approx(5 * side)
    siamfc.update(frames[1])  # it goes on from there: one scale step (1.0375 ** 0.59) at most
    assert siamfc.target_size[0] == pytest.approx(120.0, rel=0.025)


def test_the_twin_passes_its_keys_on_to_each_tracker():
    twin = twintrack.create_tracker("twin", device="cpu", seed=5, siamfc={"scale_num": 5}, mdnet={"n_samples": 64})
    assert twin.siamfc.config.scale_num == 5 and twin.mdnet.config.n_samples == 64
    assert twin.mdnet.seed == 5
    saved = config_to_dict(twin.config)  # what a result folder records
    assert saved["siamfc"] == {"scale_num": 5} and saved["rule"] == "siamfc_first"


def test_the_twin_is_registered_and_its_errors_are_one_line():
    assert "twin" in twintrack.list_trackers()
    with pytest.raises(UserError, match="tracker 'twin' takes no weights file"):
        twintrack.create_tracker("twin", weights="mine.safetensors")
    with pytest.raises(UserError, match="'rule' needs siamfc_first or max"):
        twintrack.create_tracker("twin", rule="min")
    with pytest.raises(UserError, match="twin's 'mdnet' keys: unknown config key.*nope"):
        twintrack.create_tracker("twin", mdnet={"nope": 1})
    with pytest.raises(UserError, match="'siamfc' needs a mapping"):
        twintrack.create_tracker("twin", siamfc=3)
    with pytest.raises(UserError, match="twin's 'siamfc' keys:.*"):
        twintrack.create_tracker("twin", siamfc_weights="no/such/file.safetensors")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_twin_tracks_on_cuda(clip):
    frames, boxes = clip
    twin = twintrack.create_tracker("twin", device="cuda", seed=0, mdnet=MDNET_SMALL)
    assert twin.siamfc.device.type == "cuda" and twin.mdnet.device.type == "cuda"
    twin.init(frames[0], boxes[0])
    for frame, truth in zip(frames[1:], boxes[1:]):
        got = twin.update(frame)
        assert np.abs(got.box[:2] - truth[:2]).max() < 8
