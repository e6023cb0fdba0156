"""The twin tracker (tracker/twin.py): SiamFC and MDNet side by side, the answer chosen per frame by their verdicts."""

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
def test_the_twin_reports_mdnet_only_where_siamfc_is_lost_and_mdnet_is_not(siamfc, mdnet, expected):
    assert choose(result(siamfc), result(mdnet)) == expected


@pytest.fixture(scope="module")
def clip():
    return moving_target_clip(8, (96, 96), 24, (20, 24), (2, 1), background="noise", seed=1)


def test_the_twins_boxes_are_its_trackers_own_boxes_frame_by_frame(clip):
    """Neither tracker is told what the other found: the twin's answer on each frame is, bit for bit, the answer of
    the tracker it chose, as that tracker gives it running alone (same seed)."""
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
        assert twin.chosen == choose(own["siamfc"], own["mdnet"])
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


def test_the_twin_passes_its_keys_on_to_each_tracker():
    twin = twintrack.create_tracker("twin", device="cpu", seed=5, siamfc={"scale_num": 5}, mdnet={"n_samples": 64})
    assert twin.siamfc.config.scale_num == 5 and twin.mdnet.config.n_samples == 64
    assert twin.mdnet.seed == 5
    saved = config_to_dict(twin.config)  # what a result folder records
    assert saved["siamfc"] == {"scale_num": 5} and saved["mdnet"] == {"n_samples": 64}


def test_the_twin_is_registered_and_its_errors_are_one_line():
    assert "twin" in twintrack.list_trackers()
    with pytest.raises(UserError, match="tracker 'twin' takes no weights file"):
        twintrack.create_tracker("twin", weights="mine.safetensors")
    with pytest.raises(UserError, match="unknown config key.*rule"):
        twintrack.create_tracker("twin", rule="max")
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
