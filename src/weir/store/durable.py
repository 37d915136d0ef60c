"""Durable file-system steps shared by the artifact store and the prediction log.

A file becomes visible only whole: written to a temporary file, fsynced, renamed into place, and
its folder fsynced. Temporary files of writers that died are swept after an hour.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

STALE_TEMP_SECONDS = 3600


def fsync_dir(path: Path) -> None:
    """Persist the entries of folder ``path`` (a rename or a new file in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs(folder: Path) -> None:
    """Create ``folder`` and fsync the parent of every folder created, so the new entries survive a crash."""
    missing = []
    probe = folder
    while not probe.is_dir():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        fsync_dir(path.parent)


def remove_stale(folder: Path, pattern: str = "*", older_than: float = STALE_TEMP_SECONDS) -> int:
    """Delete files in ``folder`` matching ``pattern`` not touched for ``older_than`` seconds; return how many."""
    cutoff = time.time() - older_than
    removed = 0
    for tmp in folder.glob(pattern):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
