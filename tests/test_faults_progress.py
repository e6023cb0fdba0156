"""The fault suite, what training and eval say while they run: the progress bar shows the running loss, an MDNet
run is one bar (not one per three-iteration epoch), ``data_wait`` is the share of step time spent loading data
(also with workers=0, where it read 1.0), a run folder's weights have the mode of its other files, and eval says
"1 tracker" / "1 sequence" and names each tracker's backbone engine once on stderr."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import torch
from conftest import moving_target_clip, write_sequence_folder, write_training_set

from faults.harness import run_main

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("one_torch_thread")]

# 4 steps of 2 pairs per epoch on 64x64 frames, small crops: a second or two per run. log_every stays the
# preset's (10 steps, longer than an epoch here).
SIAMFC_TINY = ["pairs_per_epoch=8", "batch_size=2", "exemplar_size=63", "search_size=95", "autocast_bf16=false",
               "workers=0"]
# 30 iterations of two frames on three domains: ten 3-iteration epochs.
MDNET_TINY = ["iterations=30", "frames_per_iter=2", "batch_pos=4", "batch_neg=8", "region_size=127",
              "autocast_bf16=false"]
BAR = re.compile(r"\d+/\d+ \[")  # tqdm's "n/total [elapsed<remaining, rate]"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_training_set(tmp_path_factory.mktemp("progress") / "data", count=3, frames=6, frame_size=(96, 96),
                              target=24, start=(20, 24))


def bar_lines(stderr: str) -> list[str]:
    """One entry per progress bar left on the terminal (each bar's updates are joined by carriage returns)."""
    return [line for line in stderr.split("\n") if BAR.search(line)]


def metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


# ------------------------------------------------------------------------------------------------- progress bar


def test_the_progress_bar_shows_the_running_loss(capsys, tmp_path, data):
    run = tmp_path / "run"
    result = run_main(capsys, "train", "siamfc", "--data", data, "--out", run, "--device", "cpu", "epochs=2",
                      *SIAMFC_TINY)
    assert result.returncode == 0, result.stderr
    bars = bar_lines(result.stderr)
    assert len(bars) == 2, result.stderr  # one per epoch of 4 steps
    for bar in bars:
        final = bar.split("\r")[-1]
        shown = re.search(r"loss=([0-9.]+)", final)
        assert shown and 0 < float(shown.group(1)) < 10, final  # the issue: no loss in a bar shorter than log_every
    # The bar's last loss is the epoch's mean, as metrics.csv has it (4 decimals on the bar).
    last = float(re.search(r"loss=([0-9.]+)", bars[-1].split("\r")[-1]).group(1))
    assert last == pytest.approx(float(metrics(run)[-1]["loss"]), abs=1e-4)


def test_an_mdnet_run_is_one_progress_bar(capsys, tmp_path, data):
    result = run_main(capsys, "train", "mdnet", "--data", data, "--out", tmp_path / "run", "--device", "cpu",
                      *MDNET_TINY)
    assert result.returncode == 0, result.stderr
    bars = bar_lines(result.stderr)
    assert len(bars) == 1, result.stderr  # the issue: ten bars of three iterations
    final = bars[0].split("\r")[-1]
    assert "30/30" in final and re.search(r"loss=[0-9.]+", final), final
    assert len(metrics(tmp_path / "run")) == 10  # still one metrics row per epoch


# ---------------------------------------------------------------------------------------------------- data_wait


def test_data_wait_with_no_workers_is_the_share_of_time_spent_loading(capsys, tmp_path, data):
    run = tmp_path / "run"
    result = run_main(capsys, "train", "siamfc", "--data", data, "--out", run, "--device", "cpu", "epochs=2",
                      *SIAMFC_TINY)
    assert result.returncode == 0, result.stderr
    waits = [float(row["data_wait"]) for row in metrics(run)]
    assert all(0 < wait < 1 for wait in waits), waits  # the issue: 1.0 with workers=0, whatever the load took


def test_data_wait_measures_loading_against_the_whole_step(data, tmp_path, monkeypatch):
    """Loading and stepping made to take the same time on the trainer's clock: data_wait is one half."""
    import types

    from twintrack.configs import load_config, parse_overrides
    from twintrack.data import discover
    from twintrack.train import trainer as trainer_module
    from twintrack.train.siamfc_trainer import SiamFCTrainer

    clock = {"now": 0.0}  # the trainer's clock moves only where this test moves it: no timing on a busy machine
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(perf_counter=lambda: clock["now"]))

    class EvenTrainer(SiamFCTrainer):
        def epoch_batches(self, epoch, skip):
            for batch in super().epoch_batches(epoch, skip):
                clock["now"] += 1.0  # one second loading each batch
                yield batch

        def step_loss(self, *batch):
            clock["now"] += 1.0  # and one second stepping on it
            return super().step_loss(*batch)

    config = load_config("train_siamfc", {**parse_overrides(SIAMFC_TINY), "epochs": 1})
    trainer = EvenTrainer(config, discover(data), tmp_path / "run", torch.device("cpu"))
    trainer.fit(progress=False)
    [row] = trainer.metrics_rows
    assert row["data_wait"] == pytest.approx(0.5), row  # the old rule said 1.0


# ------------------------------------------------------------------------------------------- run folder modes


def test_the_weights_file_has_the_mode_of_the_run_folders_other_files(capsys, tmp_path, data):
    run = tmp_path / "run"
    result = run_main(capsys, "train", "siamfc", "--data", data, "--out", run, "--device", "cpu", "epochs=1",
                      *SIAMFC_TINY)
    assert result.returncode == 0, result.stderr
    mode = (run / "metrics.csv").stat().st_mode & 0o777
    for name in ("siamfc_vggm.safetensors", "checkpoint.pt", "config.yaml"):
        assert (run / name).stat().st_mode & 0o777 == mode, name  # safetensors wrote 0600


# ---------------------------------------------------------------------------------------------------------- eval


@pytest.fixture(scope="module")
def one_sequence(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_one")
    clip, boxes = moving_target_clip(4, (96, 96), 24, (20, 30), (3, 2), seed=0)
    write_sequence_folder(root / "seq_a", clip, boxes)
    return root


@pytest.fixture
def int8_cpu(monkeypatch):
    """A CPU where precision=auto picks int8 (VNNI/AMX), whatever this machine has."""
    pytest.importorskip("onnxruntime")
    from twintrack.runtime import cpu

    monkeypatch.setattr(cpu, "native_int8", lambda: True)


def evaluate(capsys, data: Path, out: Path, *extra: str):
    pytest.importorskip("got10k")
    return run_main(capsys, "eval", "--device", "cpu", "--dataset", f"folder:{data}", "--out", out, *extra)


def engine_lines(stderr: str) -> list[str]:
    return [line for line in stderr.split("\n") if "backbone engine" in line]


def test_eval_counts_one_tracker_and_one_sequence_in_the_singular(capsys, tmp_path, one_sequence):
    out = tmp_path / "eval"
    result = evaluate(capsys, one_sequence, out, "--tracker", "siamfc")
    assert result.returncode == 0, result.stderr
    assert "1 sequence x 1 tracker, 1 to run" in result.stdout, result.stdout  # the issue: "1 trackers"
    report = (out / "report.md").read_text()
    for text in (result.stdout, report):
        assert not re.search(r"\b1 (sequences|trackers|frames|sequence runs)\b", text), text
    assert "1 sequence, one-pass evaluation" in report and "1 sequence run this time" in report


def test_eval_names_each_trackers_backbone_engine_once_on_stderr(capsys, tmp_path, one_sequence, int8_cpu,
                                                               random_weights):
    result = evaluate(capsys, one_sequence, tmp_path / "shipped", "--tracker", "siamfc", "--tracker", "mdnet")
    assert result.returncode == 0, result.stderr
    lines = engine_lines(result.stderr)
    assert len(lines) == 2 and not engine_lines(result.stdout), result.stderr
    assert lines[0].startswith("twintrack: siamfc backbone engine int8") and "shipped calibration" in lines[0]
    assert lines[1].startswith("twintrack: mdnet backbone engine")
    # Own weights lose int8: the line says so and gives the command that calibrates it.
    result = evaluate(capsys, one_sequence, tmp_path / "own", "--tracker", "siamfc", "--weights", random_weights)
    assert result.returncode == 0, result.stderr
    [line] = engine_lines(result.stderr)
    assert "no int8 calibration for these weights" in line
    assert f"twintrack export siamfc --weights {random_weights} --int8" in line and "int8_model=" in line
