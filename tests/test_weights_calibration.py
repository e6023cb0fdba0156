"""The lost-target score's calibration lives with the weights it was fitted for (safetensors metadata)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from safetensors.torch import load_file

import twintrack
from twintrack.errors import UserError
from twintrack.weights import calibration_of, default_weights, shipped_calibration, weights_metadata, write_calibration


def test_the_shipped_weights_carry_their_calibration():
    assert shipped_calibration("siamfc") == {"bias": -4.263, "peak": 0.5607, "ratio": 7.331, "psr": 0.06629}
    assert shipped_calibration("mdnet") == {"scale": 0.9824, "shift": -0.9906}


def test_writing_a_calibration_keeps_the_tensors_and_the_other_metadata(tmp_path):
    source = default_weights("siamfc")
    mine = tmp_path / "mine.safetensors"
    shutil.copy(source, mine)
    write_calibration(mine, {"bias": -1.0, "peak": 0.5, "ratio": 2.0, "psr": 0.0})
    assert calibration_of(mine) == {"bias": -1.0, "peak": 0.5, "ratio": 2.0, "psr": 0.0}
    assert weights_metadata(mine)["arch"] == "siamfc_vggm"
    before, after = load_file(str(source)), load_file(str(mine))
    assert before.keys() == after.keys() and all(bool((before[k] == after[k]).all()) for k in before)


def test_a_tracker_scores_with_its_own_weights_calibration(tmp_path):
    mine = tmp_path / "mine.safetensors"
    shutil.copy(default_weights("siamfc"), mine)
    # A calibration that reads nothing but the bias: every frame scores sigmoid(3) whatever it shows.
    write_calibration(mine, {"bias": 3.0, "peak": 0.0, "ratio": 0.0, "psr": 0.0})
    tracker = twintrack.create_tracker("siamfc", weights=str(mine), device="cpu")
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    tracker.init(frame, [60.0, 40.0, 30.0, 30.0])
    assert tracker.update(frame).score == pytest.approx(1 / (1 + np.exp(-3.0)))


def test_weights_without_a_calibration_use_the_shipped_one(tmp_path):
    from safetensors.torch import save_file

    mine = tmp_path / "uncalibrated.safetensors"
    save_file(load_file(str(default_weights("mdnet"))), str(mine), metadata={"arch": "mdnet_vggm"})
    assert calibration_of(mine) is None
    tracker = twintrack.create_tracker("mdnet", weights=str(mine), device="cpu", seed=0)
    assert (tracker.score_scale, tracker.score_shift) == (0.9824, -0.9906)


def test_a_damaged_calibration_is_one_line(tmp_path):
    from safetensors.torch import save_file

    mine = tmp_path / "damaged.safetensors"
    save_file(load_file(str(default_weights("siamfc"))), str(mine),
              metadata={"arch": "siamfc_vggm", "calibration": "{not json"})
    with pytest.raises(UserError, match="damaged 'calibration'"):
        twintrack.create_tracker("siamfc", weights=str(mine), device="cpu")
    write_calibration(mine, {"bias": 1.0})
    with pytest.raises(UserError, match="lacks 'peak'"):
        twintrack.create_tracker("siamfc", weights=str(mine), device="cpu")


def test_the_calibration_is_no_config_key():
    with pytest.raises(UserError, match="unknown config key"):
        twintrack.create_tracker("siamfc", device="cpu", score_bias=1.0)
    with pytest.raises(UserError, match="unknown config key"):
        twintrack.create_tracker("mdnet", device="cpu", score_scale=1.0)
