"""Content-addressed artifact store: blobs named by their SHA-256, written atomically.

A blob is written to a temporary file in the same file system, flushed and fsynced, then renamed
into place and its folder fsynced: a reader sees either the whole blob or none of it, even after
a crash or a power cut. Every read re-hashes the bytes; a blob that changed raises
:class:`~weir.errors.IntegrityError` naming it.

>>> import tempfile
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> digest = store.put_bytes(b"hello")
>>> digest[:12], store.get_bytes(digest)
('2cf24dba5fb0', b'hello')
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from weir.errors import ArtifactNotFoundError, IntegrityError, StoreUnavailableError, ValidationError
from weir.store.durable import STALE_TEMP_SECONDS, fsync_dir, remove_stale

logger = logging.getLogger(__name__)

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class ArtifactStore:
    """Blobs under ``root/sha256/ab/abcdef…``; temporary files under ``root/tmp``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._blobs = self.root / "sha256"
        self._tmp = self.root / "tmp"
        try:
            self._blobs.mkdir(parents=True, exist_ok=True)
            self._tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot create the artifact store at {self.root}: {exc.strerror}. "
                "Set WEIR_ARTIFACT_ROOT to a writable folder."
            ) from exc

    # --- writing -----------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        if self._intact(digest):
            return digest
        fd, tmp = tempfile.mkstemp(dir=self._tmp, prefix="blob-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return self._commit(Path(tmp), digest)

    def put_stream(self, stream: BinaryIO) -> str:
        """Store everything read from ``stream``; return its digest."""
        hasher = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self._tmp, prefix="blob-")
        try:
            with os.fdopen(fd, "wb") as handle:
                while chunk := stream.read(_CHUNK):
                    hasher.update(chunk)
                    handle.write(chunk)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        digest = hasher.hexdigest()
        if self._intact(digest):
            Path(tmp).unlink(missing_ok=True)
            return digest
        return self._commit(Path(tmp), digest)

    def put_file(self, path: str | os.PathLike[str]) -> str:
        with open(path, "rb") as handle:
            return self.put_stream(handle)

    def _commit(self, tmp: Path, digest: str) -> str:
        try:
            with tmp.open("rb+") as handle:
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o444)
            final = self.path(digest)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            fsync_dir(final.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest

    # --- reading -----------------------------------------------------------------------------

    def path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise ValidationError(f"{digest!r} is not a SHA-256 hex digest (64 lowercase hex characters).")
        return self._blobs / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def get_bytes(self, digest: str) -> bytes:
        """The blob's bytes, verified against its digest."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(
                f"Artifact {digest} is missing from {self.root}: the store was moved or pruned. "
                "Point WEIR_ARTIFACT_ROOT at the folder that holds it."
            ) from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise IntegrityError(
                f"Artifact {digest} is corrupt: its bytes now hash to {actual}. "
                "Restore it from a backup or register the model again.",
                artifact=digest,
            )
        return data

    def verify(self, digest: str) -> None:
        """Raise unless the blob exists and its bytes match its digest."""
        path = self.path(digest)
        if not path.is_file():
            raise ArtifactNotFoundError(f"Artifact {digest} is missing from {self.root}.")
        actual = _hash_file(path)
        if actual != digest:
            raise IntegrityError(f"Artifact {digest} is corrupt: its bytes now hash to {actual}.", artifact=digest)

    def digests(self) -> Iterator[str]:
        for shard in sorted(self._blobs.iterdir()):
            for blob in sorted(shard.iterdir()):
                if _DIGEST.match(blob.name):
                    yield blob.name

    def remove_unreferenced(
        self, referenced: set[str], *, older_than: float = STALE_TEMP_SECONDS, dry_run: bool = False
    ) -> list[str]:
        """Delete blobs not in ``referenced`` and untouched for ``older_than`` seconds; return their digests.

        The grace period keeps blobs that a registration has written but not yet committed. With
        ``dry_run`` nothing is deleted.
        """
        cutoff = time.time() - older_than
        removed = []
        for digest in list(self.digests()):
            path = self.path(digest)
            try:
                if digest in referenced or path.stat().st_mtime >= cutoff:
                    continue
                if not dry_run:
                    path.unlink()
            except FileNotFoundError:
                continue
            removed.append(digest)
        for shard in {self.path(d).parent for d in removed} if not dry_run else ():
            fsync_dir(shard)
        return removed

    def _intact(self, digest: str) -> bool:
        """True when the blob is already stored intact (a corrupt copy is replaced)."""
        path = self.path(digest)
        if not path.is_file():
            return False
        if _hash_file(path) == digest:
            return True
        logger.warning("replacing corrupt artifact %s with a fresh copy", digest)
        return False

    def remove_stale_temporaries(self, older_than: float = STALE_TEMP_SECONDS) -> int:
        """Delete temporary files left by writers that died; return how many."""
        return remove_stale(self._tmp, "*", older_than)


def _hash_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
