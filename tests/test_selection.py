"""twintrack/eval/selection.py: the splits, the run cache's keys and layout, and the counts a verdict is made of,
each against figures worked out by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from twintrack.errors import UserError
from twintrack.eval import selection
from twintrack.eval.sequences import EvalSequence


def toy_sequences(names):
    return [EvalSequence(name, ("frame.png",), np.zeros((1, 4))) for name in names]


def write_sequence_folder(folder, frames: int = 2) -> None:
    (folder / "img").mkdir(parents=True)
    for index in range(frames):
        cv2.imwrite(str(folder / "img" / f"{index + 1:04d}.png"), np.zeros((8, 8, 3), np.uint8))
    (folder / "groundtruth_rect.txt").write_text("1,1,4,4\n" * frames)


# ------------------------------------------------------------------------------------------------ splits
def test_the_fold_is_every_eighth_training_sequence_by_name_and_the_rest_the_others():
    names = [f"seq{i:02d}" for i in range(17)]
    shuffled = [names[i] for i in (5, 16, 0, 9, 3, 8, 1, 12, 2, 15, 4, 7, 6, 11, 10, 14, 13)]
    fold, rest = selection.fold_and_rest(toy_sequences(shuffled))
    # sorted: seq00 .. seq16; every 8th from the first: indices 0, 8, 16.
    assert [s.name for s in fold] == ["seq00", "seq08", "seq16"]
    assert [s.name for s in rest] == [n for n in names if n not in ("seq00", "seq08", "seq16")]


def test_split_sequences_reads_val_fold_and_rest_under_the_data_root(tmp_path):
    for name in ("Bolt", "Car", "Deer"):
        write_sequence_folder(tmp_path / "sot" / "val" / name)
    train = [f"t{i}" for i in range(9)]  # t0 .. t8: the fold is t0 and t8
    for name in train:
        write_sequence_folder(tmp_path / "sot" / "train" / name)

    assert [s.name for s in selection.split_sequences("val", data=tmp_path)] == ["Bolt", "Car", "Deer"]
    assert [s.name for s in selection.split_sequences("fold", data=tmp_path)] == ["t0", "t8"]
    assert [s.name for s in selection.split_sequences("rest", data=tmp_path)] == train[1:8]
    assert [s.name for s in selection.split_sequences("val", only=["Car"], data=tmp_path)] == ["Car"]
    with pytest.raises(UserError, match="bench/occlusion.py"):
        selection.split_sequences("occlusion", data=tmp_path, occlusion=tmp_path / "missing")
    with pytest.raises(UserError, match="unknown split 'test'"):
        selection.split_sequences("test", data=tmp_path)


def test_the_data_root_comes_from_the_environment_when_set(tmp_path, monkeypatch):
    write_sequence_folder(tmp_path / "sot" / "val" / "Bolt")
    monkeypatch.setenv("TWINTRACK_DATA", str(tmp_path))
    assert [s.name for s in selection.split_sequences("val")] == ["Bolt"]


# ------------------------------------------------------------------------------------------- the run cache
@dataclass(frozen=True)
class ToyConfig:
    gain: float = 1.0


class ToyTracker:
    def __init__(self, config: ToyConfig) -> None:
        self.config = config


def toy_factory(name, weights=None, device="cpu", seed=None, **overrides):
    return ToyTracker(ToyConfig(**overrides))


def test_the_run_key_changes_with_what_moves_boxes():
    key = selection.run_key(toy_factory, "toy", {}, 0, None)
    assert key == selection.run_key(toy_factory, "toy", {}, 0, None)
    assert key != selection.run_key(toy_factory, "toy", {"gain": 2.0}, 0, None)
    assert key != selection.run_key(toy_factory, "toy", {}, 1, None)
    assert key != selection.run_key(toy_factory, "other", {}, 0, None)


def test_the_weights_files_bytes_are_in_the_key(tmp_path):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"one")
    first = selection.run_key(toy_factory, "toy", {}, 0, str(weights))
    weights.write_bytes(b"two")  # the same path after more training
    assert selection.run_key(toy_factory, "toy", {}, 0, str(weights)) != first


def test_run_setting_without_running_returns_the_cached_records_by_split_seed_and_sequence(tmp_path):
    key = selection.run_key(toy_factory, "toy", {}, 0, None)
    path = selection.record_path(tmp_path, key, "val", "Bolt")
    assert path == tmp_path / key / "val_Bolt.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"sequence": "Bolt", "auc": 0.5}))
    results = selection.run_setting(toy_factory, "toy", {}, [0], None, {"val": toy_sequences(["Bolt", "Car"])},
                                    tmp_path, workers=1, run=False)
    assert results == {"val": {0: {"Bolt": {"sequence": "Bolt", "auc": 0.5}}}}  # Car: not run, not there


# ------------------------------------------------------------------------------------------------ the counts
def test_won_lost_counts_sequences_beyond_the_tie_tolerance():
    assert selection.won_lost([0.1, -0.2, 0.0, 5e-10, -5e-10, 0.3]) == (2, 1)


def test_finished_keeps_the_sequences_every_setting_has_for_every_seed():
    base = {0: {"a": {}, "b": {}, "c": {}}, 1: {"a": {}, "b": {}}}
    cand = {0: {"a": {}, "c": {}}, 1: {"a": {}, "c": {}}}
    assert selection.finished(toy_sequences(["a", "b", "c"]), [base, cand], [0, 1]) == ["a"]
    assert selection.finished(toy_sequences(["a", "b", "c"]), [base, cand], [0]) == ["a", "c"]


def test_fps_is_update_frames_over_update_seconds():
    records = [{"boxes": [[0] * 4] * 11, "update_seconds": 1.0}, {"boxes": [[0] * 4] * 21, "update_seconds": 2.0}]
    assert selection.fps(records) == pytest.approx(30 / 3.0)  # 10 + 20 update() frames (the first is init's)


def test_lost_reports_are_counted_apart_on_hidden_and_visible_update_frames():
    nan = [np.nan] * 4
    sequence = EvalSequence("toy", ("a",) * 6, np.array([[0, 0, 5, 5]] * 3 + [nan, nan] + [[0, 0, 5, 5]], float))
    # Frame 0 is init's (never counted); hidden frames 3, 4: one lost; visible update frames 1, 2, 5: one lost.
    record = {"sequence": "toy", "lost": [True, False, True, True, False, False]}
    assert selection.lost_rates([record], [sequence]) == (0.5, 1 / 3)
    unhidden = EvalSequence("toy", ("a",) * 6, np.zeros((6, 4)))
    assert selection.lost_rates([record], [unhidden]) is None


def test_a_win_narrower_than_a_tenth_of_the_seed_spread_is_narrow_until_six_seeds():
    # A default whose per-seed means have std 0.025 and a candidate ahead by 0.0003 on the mean.
    base, cand = np.array([0.499, 0.536, 0.489]), np.array([0.505, 0.521, 0.499])
    assert selection.split_verdict(base, cand, wins=7, losses=4) == "narrow"
    assert selection.split_verdict(base, cand + 0.01, wins=7, losses=4) == "wins"  # +0.010 > 0.1 x 0.025
    assert selection.split_verdict(base, cand + 0.01, wins=4, losses=4) == "does not win"  # no more won than lost
    assert selection.split_verdict(base, cand - 0.01, wins=7, losses=4) == "does not win"
    six = np.array([0.499, 0.536, 0.489, 0.480, 0.524, 0.512])
    assert selection.split_verdict(six, six + 0.001, wins=6, losses=5) == "wins"  # at six seeds the mean decides
    # A deterministic tracker (one run): no spread, any win counts.
    assert selection.split_verdict(np.array([0.458]), np.array([0.459]), wins=5, losses=4) == "wins"
