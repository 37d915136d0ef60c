from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from weir.errors import ArtifactNotFoundError, IntegrityError, ValidationError
from weir.store import ArtifactStore


def test_put_and_get_round_trip_names_blob_by_sha256(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    data = os.urandom(100_000)
    digest = store.put_bytes(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.get_bytes(digest) == data
    assert store.path(digest).parent.name == digest[:2]
    assert list(store.digests()) == [digest]


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    first = store.put_bytes(b"same")
    with (tmp_path / "f").open("wb") as handle:
        handle.write(b"same")
    assert store.put_file(tmp_path / "f") == first
    assert list(store.digests()) == [first]


def test_changed_bytes_raise_integrity_error_naming_the_blob(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    digest = store.put_bytes(b"original model bytes")
    path = store.path(digest)
    path.chmod(0o644)
    path.write_bytes(b"original model byteZ")
    with pytest.raises(IntegrityError, match=digest):
        store.get_bytes(digest)
    with pytest.raises(IntegrityError, match=digest):
        store.verify(digest)
    # storing the true content again heals the blob
    assert store.put_bytes(b"original model bytes") == digest
    assert store.get_bytes(digest) == b"original model bytes"


def test_missing_blob_and_bad_digest_are_clear_errors(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(ArtifactNotFoundError, match="missing"):
        store.get_bytes("a" * 64)
    with pytest.raises(ValidationError, match="not a SHA-256"):
        store.get_bytes("../../etc/passwd")


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    stale = tmp_path / "tmp" / "blob-dead"
    stale.write_bytes(b"partial")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = tmp_path / "tmp" / "blob-live"
    fresh.write_bytes(b"in progress")
    assert store.remove_stale_temporaries() == 1
    assert not stale.exists() and fresh.exists()


WRITER = """
import sys
from weir.store import ArtifactStore

class Slow:
    def __init__(self): self.sent = 0
    def read(self, n):
        if self.sent == 0:
            print("writing", flush=True)
        if self.sent >= 64:  # 64 MiB announced, never finished: killed before
            import time; time.sleep(60)
        self.sent += 1
        return b"x" * (1 << 20)

ArtifactStore(sys.argv[1]).put_stream(Slow())
"""


def test_writer_killed_mid_artifact_leaves_no_partial_blob(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    kept = store.put_bytes(b"committed before the crash")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    deadline = time.time() + 30
    while time.time() < deadline:  # wait until the temporary file holds data
        temps = list((tmp_path / "tmp").iterdir())
        if temps and temps[0].stat().st_size > 0:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert list(store.digests()) == [kept], "only the committed blob is in the store"
    store.verify(kept)
    assert store.get_bytes(kept) == b"committed before the crash"
    leftovers = list((tmp_path / "tmp").iterdir())
    assert leftovers, "the killed writer's temporary file stays outside the blob namespace"
    assert store.remove_stale_temporaries(older_than=0) == len(leftovers)
