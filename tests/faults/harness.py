"""Run the real CLI in a subprocess, kill it with SIGKILL, and check the one-line error contract."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli_env() -> dict:
    """One thread per process (the machine is shared) and the working tree's twintrack first on the path."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "twintrack.cli", *map(str, args)]


def run_cli(*args: str, timeout: float = 300, preexec=None, cwd=None) -> subprocess.CompletedProcess:
    # errors="replace": a progress bar cut mid-character (a killed or limited child) must not fail the test.
    return subprocess.run(cli_command(*args), capture_output=True, text=True, errors="replace", env=cli_env(),
                          timeout=timeout, preexec_fn=preexec, cwd=cwd)


def assert_one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Status 2, no traceback, exactly one ``twintrack: error:`` line holding every fragment; returns that line."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("twintrack: error:")]
    assert len(lines) == 1, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def kill_when(args, ready, timeout: float = 300, sig: int = signal.SIGKILL, then: int | None = None
              ) -> subprocess.CompletedProcess:
    """Start the CLI, wait until ``ready()`` is true (polling the files it writes), then send ``sig`` (SIGKILL), and
    ``then`` right after it when given.

    Returns the finished process (returncode -9 when the kill landed, 0 when the run ended first).
    """
    # A suite started in the background (`cmd &` in a script) inherits SIGINT ignored, and under nohup SIGHUP:
    # give the child the default dispositions, as a terminal's Ctrl-C or a closed terminal would find them.
    process = subprocess.Popen(cli_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               errors="replace", env=cli_env(), preexec_fn=default_stop_signals)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and not ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{args}: never reached the kill point")
            time.sleep(0.02)  # polling the run's files, not a timing assertion
        if process.poll() is None:
            os.kill(process.pid, sig)
            if then is not None:
                os.kill(process.pid, then)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def default_stop_signals() -> None:
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, signal.SIG_DFL)


def file_limit(blocks_of_512: int):
    """A preexec_fn giving the child a ``ulimit -f`` (bytes = 512 * blocks), SIGXFSZ ignored so writes fail with
    EFBIG (disk full, as Python sees it) instead of killing the process."""
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = 512 * blocks_of_512
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def run_main(capsys, *args) -> subprocess.CompletedProcess:
    """The CLI's main() in this process (fast; an exception that is not a UserError fails the test with its
    traceback, as it would reach the user). argparse's errors exit through SystemExit with their status."""
    from twintrack.cli.main import main

    capsys.readouterr()
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), status, captured.out, captured.err)


def files_under(folder: Path) -> set:
    return {p.relative_to(folder) for p in Path(folder).rglob("*")} if Path(folder).exists() else set()
