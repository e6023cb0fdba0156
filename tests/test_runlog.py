"""train/runlog.py: one row per epoch in metrics.csv and the same numbers as TensorBoard scalars, read back with
TensorBoard's own reader."""

from __future__ import annotations

import csv

import pytest

from twintrack.train.runlog import COLUMNS, RunLog


def read_scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    accumulator = event_accumulator.EventAccumulator(str(log_dir))
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def test_rows_go_to_metrics_csv_and_tensorboard(tmp_path):
    with RunLog(tmp_path) as log:
        log.write({"epoch": 1, "step": 150, "loss": 0.6931, "lr": 0.01, "samples_per_s": 120.0, "data_wait": 0.0})
        log.write({"epoch": 2, "step": 300, "loss": 0.25, "lr": 0.005, "val_auc": 0.4, "val_prec": 0.5})
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert list(rows[0]) == list(COLUMNS)
    assert [(r["epoch"], r["step"], r["loss"], r["val_auc"]) for r in rows] == [
        ("1", "150", "0.6931", ""), ("2", "300", "0.25", "0.4")]
    scalars = read_scalars(tmp_path / "tb")
    assert scalars["train/loss"] == [(150, pytest.approx(0.6931)), (300, pytest.approx(0.25))]
    assert scalars["val/auc"] == [(300, pytest.approx(0.4))]
    assert scalars["train/lr"][1] == (300, pytest.approx(0.005))
    assert "train/epoch" not in scalars and "train/step" not in scalars


def test_a_resumed_run_appends_to_metrics_csv(tmp_path):
    with RunLog(tmp_path) as log:
        log.write({"epoch": 1, "step": 2, "loss": 0.5})
    with RunLog(tmp_path) as log:
        log.write({"epoch": 2, "step": 4, "loss": 0.4})
    lines = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 3


def test_disabled_log_writes_nothing(tmp_path):
    with RunLog(tmp_path, enabled=False) as log:
        log.write({"epoch": 1, "step": 2, "loss": 0.5})
    assert list(tmp_path.iterdir()) == []
