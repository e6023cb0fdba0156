"""The fault suite, two evals into one --out: the later run with other settings is refused in one line naming
the folder and the running process; with the same settings it waits and reuses the results; a lock left by a
killed run is taken over. Real `twintrack eval` processes, stopped with SIGSTOP to hold them mid-run (the issue:
two runs each silently used the other's per-sequence results and reported mixed figures)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import moving_target_clip, write_sequence_folder
from faults.harness import assert_one_error_line, cli_command, cli_env, run_cli

pytestmark = [pytest.mark.faults]
pytest.importorskip("got10k")

SEQUENCES = ("seq_a", "seq_b", "seq_c")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("lock") / "data"
    for seed, name in enumerate(SEQUENCES):
        clip, boxes = moving_target_clip(16, (96, 96), 24, (20, 30), (2, 1), seed=seed)
        write_sequence_folder(root / name, clip, boxes)
    return root


def eval_args(data: Path, out: Path, *overrides: str) -> list[str]:
    return ["eval", "--tracker", "siamfc", "--device", "cpu", "--dataset", f"folder:{data}", "--out", str(out),
            *overrides]


def start(args, log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen(cli_command(*args), stdout=handle, stderr=subprocess.STDOUT, env=cli_env())


def wait_for(condition, process: subprocess.Popen, timeout: float = 300) -> None:
    """Poll ``condition`` (the files a run writes) until it holds or ``process`` ends."""
    deadline = time.monotonic() + timeout
    while not condition() and process.poll() is None:
        assert time.monotonic() < deadline, "the run never reached the point the test waits for"
        time.sleep(0.02)


def first_result(out: Path):
    return lambda: any((out / "results" / "siamfc").glob("seq_*.txt"))


def stopped_after_first_result(args, out: Path, log: Path) -> subprocess.Popen:
    """A running eval, held (SIGSTOP) after its first result, with its other sequences still to run."""
    process = start(args, log)
    wait_for(first_result(out), process)
    os.kill(process.pid, signal.SIGSTOP)
    assert process.poll() is None, "the first run ended before it could be held: " + log.read_text()[-2000:]
    return process


def finish(process: subprocess.Popen) -> int:
    os.kill(process.pid, signal.SIGCONT)
    return process.wait(timeout=300)


def config_hashes(out: Path) -> set:
    return {json.loads(p.read_text())["config_sha256"]
            for p in (out / "results" / "siamfc" / ".provenance").glob("*.json")}


def test_an_eval_with_other_settings_into_a_busy_out_is_refused(dataset, tmp_path):
    out = tmp_path / "E"
    first = stopped_after_first_result(eval_args(dataset, out), out, tmp_path / "first.log")
    try:
        second = run_cli(*eval_args(dataset, out, "window_influence=0.6"))
    finally:
        status = finish(first)
    line = assert_one_error_line(second, str(out), f"pid {first.pid}")
    assert "settings" in line
    assert status == 0, (tmp_path / "first.log").read_text()[-3000:]
    # The first run's figures only: every result from its own config, its config in the report.
    assert len(config_hashes(out)) == 1
    solo = tmp_path / "solo"
    assert run_cli(*eval_args(dataset, solo)).returncode == 0
    assert config_hashes(out) == config_hashes(solo)
    report = (out / "report.md").read_text()
    assert "window_influence: 0.6" not in report
    assert summary_row(report) == summary_row((solo / "report.md").read_text())


def summary_row(report: str) -> list[str]:
    """The tracker's scores in the report's summary table, fps (the last column, a timing) left out."""
    line = next(line for line in report.splitlines() if line.startswith("| siamfc"))
    return line.strip("| ").split(" | ")[:-1]


def test_an_eval_with_the_same_settings_waits_and_reuses_the_results(dataset, tmp_path):
    out = tmp_path / "E"
    first = stopped_after_first_result(eval_args(dataset, out), out, tmp_path / "first.log")
    try:
        second = start(eval_args(dataset, out), tmp_path / "second.log")
        wait_for(lambda: "waiting" in (tmp_path / "second.log").read_text(), second)
    finally:
        first_status = finish(first)
    second_status = second.wait(timeout=300)
    printed = (tmp_path / "second.log").read_text()
    assert first_status == 0 and second_status == 0, printed[-3000:]
    assert f"pid {first.pid}" in printed and "0 to run" in printed
    assert len(list((out / "results" / "siamfc" / ".provenance").glob("*.json"))) == len(SEQUENCES)


def test_the_lock_of_a_killed_eval_is_taken_over(dataset, tmp_path):
    out = tmp_path / "E"
    first = start(eval_args(dataset, out), tmp_path / "first.log")
    wait_for(first_result(out), first)
    first.kill()  # SIGKILL: no exit handler runs
    first.wait()
    done = run_cli(*eval_args(dataset, out, "window_influence=0.6"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"pid {first.pid}" in done.stdout and "taken over" in done.stdout
    assert len(config_hashes(out)) == 1 and "window_influence: 0.6" in (out / "report.md").read_text()
    again = run_cli(*eval_args(dataset, out, "window_influence=0.6"))  # a run that ended normally left no holder
    assert again.returncode == 0 and "taken over" not in again.stdout and "0 to run" in again.stdout
