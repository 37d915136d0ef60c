"""An append-only, encrypted, tamper-evident local log of records (for example a device's predictions).

Each :meth:`EncryptedLog.append` writes one frame holding a JSON list of records, encrypted with
AES-256-GCM under a fresh random 96-bit nonce, then fsyncs the file. Nothing is ever written in clear:
records are serialised and encrypted in memory.

Files (``log-000001.wlog``, ``log-000002.wlog``, …) rotate when the next frame would take the current
file past ``max_bytes``. A file is::

    header   b"WEIRLOG1" | key id (8 bytes) | link (16 bytes: the GCM tag of the previous file's last frame)
    frames   [4-byte big-endian length n][12-byte nonce][n - 12 bytes: ciphertext and 16-byte tag] …

Each frame's associated data binds it to its file name, its index in the file and the tag of the frame
before it (across files through the header's link), so a frame that is changed, moved to another file,
reordered, or dropped from anywhere but the very end fails to decrypt, and the reader names the file and
frame. The key id (an HMAC of a fixed label under the key) tells a wrong key apart from tampering.

What it cannot detect, by design of any log without an outside counter: frames or whole files removed
from the end, and whole files removed from the start (as a retention job would; the first file left then
starts with a non-zero link, which is accepted).

A crash during an append leaves a torn last frame. :func:`read_encrypted_log` returns the records before
it and logs a warning (``strict=True`` raises instead); the next writer truncates the torn frame before it
appends. One writer per folder at a time.

>>> import tempfile
>>> key = generate_log_key()
>>> log = EncryptedLog(tempfile.mkdtemp(), key)
>>> log.append([{"age": 41, "label": 1}])
>>> log.append([{"age": 7, "label": 0}])
>>> [r["age"] for r in read_encrypted_log(log.folder, key)]
[41, 7]
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import stat
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from weir.edge.files import fsync_dir
from weir.errors import IntegrityError, NotFoundError, StoreUnavailableError, ValidationError

logger = logging.getLogger(__name__)

KEY_BYTES = 32
_MAGIC = b"WEIRLOG1"
_KEY_ID_BYTES = 8
_TAG_BYTES = 16
_NONCE_BYTES = 12
_HEADER_BYTES = len(_MAGIC) + _KEY_ID_BYTES + _TAG_BYTES
_LENGTH = struct.Struct(">I")
_MIN_FRAME = _NONCE_BYTES + _TAG_BYTES
_MAX_FRAME = 64 << 20
_NO_LINK = bytes(_TAG_BYTES)
_NAME = re.compile(r"^log-(\d{6,})\.wlog$")
_MIN_MAX_BYTES = 1024

__all__ = [
    "EncryptedLog",
    "EncryptedLogError",
    "LogKeyError",
    "WrongLogKeyError",
    "generate_log_key",
    "load_log_key",
    "read_encrypted_log",
]


class LogKeyError(ValidationError):
    """A log key (or key file) that is missing, unreadable or not 32 bytes."""

    code = "invalid_log_key"


class EncryptedLogError(IntegrityError):
    """A log file or frame that was changed, moved, reordered, dropped or truncated; the message names it."""

    code = "log_tampered"


class WrongLogKeyError(EncryptedLogError):
    """The log was written under another key."""

    code = "wrong_log_key"


def generate_log_key() -> bytes:
    """32 random bytes: a fresh AES-256 key for an :class:`EncryptedLog`.

    >>> len(generate_log_key())
    32
    """
    return AESGCM.generate_key(bit_length=256)


def load_log_key(source: str | os.PathLike[str]) -> bytes:
    """Read a log key from a file holding 32 raw bytes, or their base64 (or hex) text."""
    path = Path(source)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise LogKeyError(f"The log key path {path} is not a file; give the path of the key file.")
        data = path.read_bytes()[:4096]
    except FileNotFoundError as exc:
        raise LogKeyError(
            f"The log key file {path} does not exist; write one with generate_log_key() (mode 600) and retry."
        ) from exc
    except OSError as exc:
        raise LogKeyError(f"Cannot read the log key file {path}: {exc.strerror}.") from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("Log key %s is readable by other users (mode %s); run chmod 600 on it.", path, oct(info.st_mode))
    text = data.strip()
    if text and all(32 <= byte < 127 or byte in b"\t\r\n" for byte in text):
        key = _decode_text_key(text.decode("ascii"), path)
    elif len(data) == KEY_BYTES:
        key = data
    else:
        raise LogKeyError(
            f"The log key file {path} holds {len(data)} bytes that are neither {KEY_BYTES} raw bytes nor base64 "
            f"text of {KEY_BYTES} bytes; write the key from generate_log_key()."
        )
    return key


def log_key_from_env(name: str = "WEIR_EDGE_LOG_KEY", environ: Mapping[str, str] | None = None) -> bytes:
    """The log key from an environment variable holding its base64 (or hex) text: on a device, where weir's
    settings are not installed, this is the one place the edge runtime reads the environment."""
    value = (os.environ if environ is None else environ).get(name)
    if not value:
        raise LogKeyError(f"The environment variable {name} is not set; export the base64 text of the log key in it.")
    return _decode_text_key(value.strip(), Path(f"${name}"))


class _FolderLock:
    """An exclusive ``flock`` on ``folder/.lock`` for one append (no-op where flock does not exist)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fd: int | None = None

    def __enter__(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: one writer per folder, as documented
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None


class EncryptedLog:
    """Append JSON records, encrypted, to the files of ``folder`` (created on the first append).

    >>> import tempfile
    >>> log = EncryptedLog(tempfile.mkdtemp(), generate_log_key(), max_bytes=4096)
    >>> for i in range(100):
    ...     log.append([{"row": i, "note": "x" * 50}])
    >>> len(log.files) > 1, [r["row"] for r in log.read()][-3:]
    (True, [97, 98, 99])
    """

    def __init__(
        self, folder: str | os.PathLike[str], key: bytes, *, max_bytes: int = 1_000_000, max_files: int | None = None
    ) -> None:
        _check_key(key)
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < _MIN_MAX_BYTES:
            raise ValidationError(f"max_bytes must be an integer of at least {_MIN_MAX_BYTES}; got {max_bytes!r}.")
        if max_files is not None and (not isinstance(max_files, int) or isinstance(max_files, bool) or max_files < 2):
            raise ValidationError(f"max_files must be an integer of at least 2, or None; got {max_files!r}.")
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.max_files = max_files
        self._key = bytes(key)
        self._aead = AESGCM(self._key)
        self._key_id = _key_id(self._key)
        self._lock = threading.Lock()
        self._tail: _Tail | None = None

    def __repr__(self) -> str:
        return f"EncryptedLog({str(self.folder)!r}, max_bytes={self.max_bytes})"

    @property
    def files(self) -> list[Path]:
        """The log's files, oldest first."""
        return [path for _, path in _log_files(self.folder)] if self.folder.is_dir() else []

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Encrypt ``records`` into one frame, append it and fsync; an empty sequence writes nothing."""
        if isinstance(records, Mapping) or not isinstance(records, Sequence):
            raise ValidationError(f"append() takes a list of records (dicts); got {type(records).__name__}.")
        rows: list[dict[str, Any]] = []
        for i, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise ValidationError(f"Record {i} is a {type(record).__name__}; every record must be a dict.")
            rows.append(dict(record))
        if not rows:
            return
        try:
            payload = json.dumps(rows, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"The records cannot be written as JSON ({exc}); use str, int, float, bool, None, list and dict "
                "values, with None for a missing number (no NaN or infinity)."
            ) from exc
        frame_size = _LENGTH.size + _MIN_FRAME + len(payload)
        if frame_size - _LENGTH.size > _MAX_FRAME:
            raise ValidationError(
                f"One append of {len(payload)} bytes is too large; append at most {_MAX_FRAME} bytes."
            )
        with self._lock, _FolderLock(self.folder):  # writers in other threads or processes take turns
            try:
                self._append_frame(payload, frame_size)
            except BaseException:
                self._tail = None  # re-read the folder (and drop a torn frame) before the next append
                raise

    def read(self, *, strict: bool = False) -> list[dict[str, Any]]:
        """Every record in order; see :func:`read_encrypted_log`."""
        return read_encrypted_log(self.folder, self._key, strict=strict)

    # --- writing -------------------------------------------------------------------------------

    def _append_frame(self, payload: bytes, frame_size: int) -> None:
        tail = self._tail
        if (
            tail is None
            or _size(self.folder / _file_name(tail.number)) != tail.size
            or os.path.lexists(self.folder / _file_name(tail.number + 1))
        ):
            tail = self._recover()  # first append, or another writer appended since this one did
        if tail is None or (tail.frames > 0 and tail.size + frame_size > self.max_bytes):
            number = 1 if tail is None else tail.number + 1
            link = _NO_LINK if tail is None else tail.last_tag
            tail = _Tail(number=number, size=0, frames=0, last_tag=link, header_missing=True, exists=False)
        name = _file_name(tail.number)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, payload, _aad(name, tail.frames, tail.last_tag))
        frame = _LENGTH.pack(len(nonce) + len(sealed)) + nonce + sealed
        path = self.folder / name
        try:
            if tail.header_missing:
                self.folder.mkdir(parents=True, exist_ok=True)
                header = _MAGIC + self._key_id + tail.last_tag
                mode = os.O_TRUNC if tail.exists else os.O_CREAT | os.O_EXCL
                fd = os.open(path, os.O_WRONLY | mode | getattr(os, "O_BINARY", 0), 0o600)
                _write_all(fd, header + frame)
                fsync_dir(self.folder)
                written = len(header) + len(frame)
            else:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
                _write_all(fd, frame)
                written = len(frame)
        except FileExistsError as exc:
            raise StoreUnavailableError(
                f"Log file {path} appeared while this writer was appending; only one writer may use {self.folder}."
            ) from exc
        except OSError as exc:
            raise StoreUnavailableError(f"Cannot append to the log file {path}: {exc.strerror}.") from exc
        self._tail = _Tail(
            number=tail.number, size=tail.size + written, frames=tail.frames + 1, last_tag=sealed[-_TAG_BYTES:]
        )
        if self.max_files is not None and tail.frames == 0:  # a file was started: drop the oldest beyond the cap
            for _, old in _log_files(self.folder)[: -self.max_files]:
                old.unlink(missing_ok=True)
                logger.info("log %s: removed %s (more than %d files)", self.folder, old.name, self.max_files)

    def _recover(self) -> _Tail | None:
        """Find the last file's end (its size, frame count and last tag); truncate a torn last frame."""
        files = _log_files(self.folder) if self.folder.is_dir() else []
        if not files:
            return None
        number, path = files[-1]
        data = path.read_bytes()
        if len(data) < _HEADER_BYTES:
            if not _MAGIC.startswith(data[: len(_MAGIC)]):
                raise EncryptedLogError(f"{path} is not a weir encrypted log file; move it out of {self.folder}.")
            logger.warning("Log file %s has a torn header (a crash while it was created); rewriting it.", path)
            link = _files_link(files, self._key)
            return _Tail(number=number, size=0, frames=0, last_tag=link, header_missing=True, exists=True)
        _check_header(path, data, self._key_id)
        frames = _split_frames(path, data, last_file=True)
        if frames.torn_at is not None:
            logger.warning(
                "Log file %s ends with a torn frame %d (a crash during an append); truncating it before appending.",
                path,
                frames.count,
            )
            _truncate(path, frames.torn_at)
        size = frames.torn_at if frames.torn_at is not None else len(data)
        last_tag = frames.last_tag if frames.count else data[len(_MAGIC) + _KEY_ID_BYTES : _HEADER_BYTES]
        return _Tail(number=number, size=size, frames=frames.count, last_tag=last_tag)


def read_encrypted_log(folder: str | os.PathLike[str], key: bytes, *, strict: bool = False) -> list[dict[str, Any]]:
    """Decrypt and return every record of the log in ``folder``, oldest first.

    Raises :class:`WrongLogKeyError` for a wrong key and :class:`EncryptedLogError` for any tampering
    detected (naming the file and frame). A torn last frame (a crash during an append) is logged as a
    warning and the records before it are returned; with ``strict=True`` it raises instead.
    """
    _check_key(key)
    root = Path(folder)
    if not root.is_dir():
        raise NotFoundError(f"Log folder {root} does not exist; check the path.")
    aead, key_id = AESGCM(bytes(key)), _key_id(bytes(key))
    files = _log_files(root)
    records: list[dict[str, Any]] = []
    previous_tag: bytes | None = None
    for position, (number, path) in enumerate(files):
        last_file = position == len(files) - 1
        if position and number != files[position - 1][0] + 1:
            raise EncryptedLogError(
                f"{root / _file_name(files[position - 1][0] + 1)} is missing between "
                f"{files[position - 1][1].name} and {path.name}: a log file was removed."
            )
        data = path.read_bytes()
        if len(data) < _HEADER_BYTES and last_file and _MAGIC.startswith(data[: len(_MAGIC)]):
            _torn(path, "header", strict, len(records))
            break
        _check_header(path, data, key_id)
        link = data[len(_MAGIC) + _KEY_ID_BYTES : _HEADER_BYTES]
        if previous_tag is not None and not hmac.compare_digest(link, previous_tag):
            raise EncryptedLogError(
                f"{path} does not follow {files[position - 1][1].name}: frames were dropped from the end of "
                f"{files[position - 1][1].name} or the files were swapped."
            )
        if previous_tag is None and number == 1 and link != _NO_LINK:
            raise EncryptedLogError(f"{path} claims to follow an earlier file, but it is the first file of the log.")
        # each frame is authenticated as soon as it is cut, so the first bad frame is the one named
        opener = _FrameOpener(aead, path, link, records)
        frames = _split_frames(path, data, last_file=last_file, visit=opener)
        previous_tag = opener.tag
        if frames.torn_at is not None:
            _torn(path, f"frame {frames.count}", strict, len(records))
    return records


# --- format helpers ------------------------------------------------------------------------------


@dataclass
class _Tail:
    """Where the next frame goes: file number, its size, frames in it, the tag to chain from."""

    number: int
    size: int
    frames: int
    last_tag: bytes
    header_missing: bool = False
    exists: bool = True


class _FrameOpener:
    """Decrypt the frames of one file in order, each chained to the tag of the one before."""

    def __init__(self, aead: AESGCM, path: Path, link: bytes, records: list[dict[str, Any]]) -> None:
        self.aead, self.path, self.tag, self.records = aead, path, link, records

    def __call__(self, index: int, nonce: bytes, sealed: bytes) -> None:
        try:
            payload = self.aead.decrypt(nonce, sealed, _aad(self.path.name, index, self.tag))
        except InvalidTag as exc:
            raise EncryptedLogError(
                f"{self.path} frame {index} failed authentication: it was changed, moved from another place, "
                "reordered, or a frame before it was dropped."
            ) from exc
        self.tag = sealed[-_TAG_BYTES:]
        self.records.extend(_records(payload, self.path, index))


@dataclass
class _Frames:
    count: int
    last_tag: bytes
    torn_at: int | None


def _split_frames(
    path: Path, data: bytes, *, last_file: bool, visit: Callable[[int, bytes, bytes], None] | None = None
) -> _Frames:
    """Cut ``data`` (after the header) into frames, passing each ``(index, nonce, ciphertext+tag)`` to
    ``visit`` as soon as it is cut; a frame cut short at the end of the last file is a torn tail."""
    count, last_tag, pos = 0, b"", _HEADER_BYTES
    while pos < len(data):
        end = pos + _LENGTH.size
        if end <= len(data):
            (length,) = _LENGTH.unpack_from(data, pos)
            if length < _MIN_FRAME or length > _MAX_FRAME:
                raise EncryptedLogError(f"{path} frame {count} has an impossible length {length}: it was changed.")
            end += length
        if end > len(data):
            if last_file:
                return _Frames(count, last_tag, torn_at=pos)
            raise EncryptedLogError(f"{path} frame {count} is cut short inside a file that is not the last.")
        body = pos + _LENGTH.size
        nonce, sealed = data[body : body + _NONCE_BYTES], data[body + _NONCE_BYTES : end]
        if visit is not None:
            visit(count, nonce, sealed)
        count, last_tag, pos = count + 1, sealed[-_TAG_BYTES:], end
    return _Frames(count, last_tag, torn_at=None)


def _check_header(path: Path, data: bytes, key_id: bytes) -> None:
    if len(data) < _HEADER_BYTES or not data.startswith(_MAGIC):
        raise EncryptedLogError(f"{path} is not a weir encrypted log file (bad header): it was changed or replaced.")
    if not hmac.compare_digest(data[len(_MAGIC) : len(_MAGIC) + _KEY_ID_BYTES], key_id):
        raise WrongLogKeyError(
            f"{path} was written under a different key (or its header was changed); read it with the key it was "
            "written with."
        )


def _records(payload: bytes, path: Path, index: int) -> list[dict[str, Any]]:
    try:
        rows = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EncryptedLogError(f"{path} frame {index} decrypted but does not hold JSON records.") from exc
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise EncryptedLogError(f"{path} frame {index} decrypted but does not hold a list of records.")
    return rows


def _torn(path: Path, what: str, strict: bool, kept: int) -> None:
    message = f"{path} {what} is truncated (a crash during an append?)"
    if strict:
        raise EncryptedLogError(message + "; read with strict=False to get the records before it.")
    logger.warning("%s; returning the %d records before it.", message, kept)


def _aad(name: str, index: int, previous_tag: bytes) -> bytes:
    return b"weir-log-v1\x00" + name.encode("ascii") + b"\x00" + index.to_bytes(8, "big") + previous_tag


def _key_id(key: bytes) -> bytes:
    return hmac.new(key, b"weir encrypted log key id v1", hashlib.sha256).digest()[:_KEY_ID_BYTES]


def _file_name(number: int) -> str:
    return f"log-{number:06d}.wlog"


def _log_files(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def _files_link(files: list[tuple[int, Path]], key: bytes) -> bytes:
    """The link a new last file must carry: the last tag of the file before it (zeros for the first)."""
    if len(files) < 2:
        return _NO_LINK
    _, previous = files[-2]
    data = previous.read_bytes()
    _check_header(previous, data, _key_id(key))
    frames = _split_frames(previous, data, last_file=False)
    return frames.last_tag if frames.count else data[len(_MAGIC) + _KEY_ID_BYTES : _HEADER_BYTES]


def _check_key(key: Any) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        size = len(key) if isinstance(key, bytes | bytearray) else type(key).__name__
        raise LogKeyError(
            f"A log key is {KEY_BYTES} bytes; got {size}. Create one with generate_log_key() or read one with "
            "load_log_key(path)."
        )


def _decode_text_key(text: str, path: Path) -> bytes:
    try:
        if len(text) == 2 * KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in text):
            key = bytes.fromhex(text)
        elif "-" in text or "_" in text:
            key = base64.b64decode(text, altchars=b"-_", validate=True)
        else:
            key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LogKeyError(f"The log key file {path} holds text that is not base64 ({exc}).") from exc
    if len(key) != KEY_BYTES:
        raise LogKeyError(
            f"The log key file {path} decodes to {len(key)} bytes; an AES-256 log key is {KEY_BYTES} bytes. "
            "Write the key from generate_log_key()."
        )
    return key


def _write_all(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
