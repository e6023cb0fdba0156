"""One `twintrack eval` at a time in an output folder.

Two runs writing one ``--out`` would each reuse the other's per-sequence results and overwrite each other's
report. A run holds ``<out>/.twintrack-eval.lock`` (``flock``) from before it looks at stored results until its
report is written; the file holds the holder's pid and a hash of its settings (benchmark and trackers' provenance
records). A later run with the same settings waits for the holder, then finds its results done and reuses them; a
later run with other settings is refused in one line naming the folder and the holder's pid.

The kernel releases a ``flock`` when its process ends, however it ends (kill -9 included), so a lock file left by
a dead run is simply taken over. The file itself stays: removing it on exit would let a waiting run and a new one
each lock a different file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
from pathlib import Path

from twintrack.errors import UserError

LOCK_FILE = ".twintrack-eval.lock"


def settings_hash(settings) -> str:
    """sha256 of what decides a run's results and report (JSON-able), in a canonical form."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


@contextlib.contextmanager
def eval_lock(out: Path, settings: str, on_wait=None, on_takeover=None):
    """Hold ``out``'s eval lock for the body.

    ``settings``: ``settings_hash`` of this run. When another live run holds the lock: with the same settings,
    ``on_wait(pid)`` is called and this run waits for it; with other settings, a ``UserError``. ``on_takeover(pid)``:
    called when the file names a run that is gone (killed), whose lock this run now holds.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    held = False
    try:
        if _try_lock(fd):
            previous = _read_holder(fd)  # a run that ended normally left the file empty
            if "pid" in previous and on_takeover is not None:
                on_takeover(previous["pid"])
        else:
            holder = _holder_of_a_held_lock(fd)
            pid = holder.get("pid", "unknown")
            if holder.get("settings") != settings:
                raise UserError(f"output folder '{out}' is in use by another twintrack eval (pid {pid}) with other "
                                "settings; wait for it to finish, or choose another --out")
            if on_wait is not None:
                on_wait(pid)
            fcntl.flock(fd, fcntl.LOCK_EX)
        held = True
        _write_holder(fd, settings)
        yield
    finally:
        if held:
            os.ftruncate(fd, 0)  # ended normally: nothing to take over
        os.close(fd)  # releases the lock


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EACCES):
            return False
        raise
    return True


def _read_holder(fd: int) -> dict:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _holder_of_a_held_lock(fd: int, patience_s: float = 2.0) -> dict:
    """The holder's record; it writes it right after taking the lock, so an empty file is read again briefly."""
    deadline = time.monotonic() + patience_s
    holder = _read_holder(fd)
    while "settings" not in holder and time.monotonic() < deadline:
        time.sleep(0.02)
        holder = _read_holder(fd)
    return holder


def _write_holder(fd: int, settings: str) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "settings": settings}).encode(), 0)
