"""Atomic file writes: the one helper every writer of results, checkpoints and weights uses.

A file is written to a temporary name beside its destination, flushed to disk (fsync) and renamed over it, so a
reader (a resumed run, a second eval, a crash) sees the old file or the new one, never half of one. The temporary
name carries the process id: worker processes writing beside each other never share one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def _default_mode() -> int:
    """0o666 less the process's umask: the mode open() gives a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """``write(tmp_path)`` writes the content; then fsync, rename over ``path``, and fsync the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        # Writers that make private temporary files (mode 0600) would leave the result unreadable to others: give it
        # the mode of the file it replaces, or what a plain open() would create.
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else _default_mode())
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_folder(path.parent)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder's entry is on disk (POSIX; Windows cannot open folders).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
