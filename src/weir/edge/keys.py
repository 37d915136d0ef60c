"""Ed25519 key pairs that sign edge bundles (private key, kept off the device) and verify them (public key).

Keys live in PEM files: the private key as unencrypted PKCS#8 in a file only its owner may read (mode
``0o600``), the public key as SubjectPublicKeyInfo. Files are written atomically and never overwritten
unless asked.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> private_path, public_path = create_keys(folder / "signing.pem", folder / "signing.pub.pem")
>>> oct(private_path.stat().st_mode & 0o777)
'0o600'
>>> private_key = load_private_key(private_path)
>>> fingerprint(load_public_key(public_path)) == fingerprint(private_key.public_key())
True
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from weir.errors import ValidationError

logger = logging.getLogger(__name__)

_MAX_KEY_FILE_BYTES = 64 * 1024

__all__ = ["KeyFileError", "create_keys", "fingerprint", "load_private_key", "load_public_key"]


class KeyFileError(ValidationError):
    """A key file that is missing, unreadable, not a key, of the wrong kind, or that would be overwritten."""

    code = "invalid_key"


def create_keys(
    private_path: str | os.PathLike[str],
    public_path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> tuple[Path, Path]:
    """Create an Ed25519 key pair; write it as PEM files; return ``(private_path, public_path)``.

    The private file gets mode ``0o600``. Existing files are refused unless ``overwrite=True``.
    """
    private_file, public_file = Path(private_path), Path(public_path)
    if private_file.resolve() == public_file.resolve():
        raise KeyFileError(f"The private and the public key cannot share one file ({private_file}); give two paths.")
    if not overwrite:
        for path in (private_file, public_file):
            if os.path.lexists(path):
                raise KeyFileError(
                    f"Key file {path} already exists; pass overwrite=True to replace it "
                    "(bundles signed with the old key will no longer verify with the new public key)."
                )
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    _write_atomically(private_file, private_pem, mode=0o600)
    _write_atomically(public_file, public_pem, mode=0o644)
    logger.info("Created Ed25519 key pair %s (fingerprint %s)", private_file, fingerprint(key.public_key()))
    return private_file, public_file


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from a PEM file written by :func:`create_keys`."""
    file = Path(path)
    data = _read_key_file(file, "private")
    mode = file.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("Private key %s is readable by other users (mode %s); run chmod 600 on it.", file, oct(mode))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise KeyFileError(
            f"Private key {file} is encrypted with a password; weir reads unencrypted PKCS#8 keys. "
            "Create one with create_keys()."
        ) from exc
    except ValueError as exc:
        if _is_public_pem(data):
            raise KeyFileError(
                f"{file} holds a public key, not a private key; give the private key file to sign."
            ) from exc
        raise KeyFileError(f"{file} is not a PEM private key; create a key pair with create_keys().") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(
            f"{file} holds {_kind(key)} private key; weir signs bundles with Ed25519 keys. "
            "Create one with create_keys()."
        )
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Read an Ed25519 public key from a PEM file written by :func:`create_keys`."""
    file = Path(path)
    data = _read_key_file(file, "public")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        if b"PRIVATE KEY-----" in data:
            raise KeyFileError(
                f"{file} holds a private key; give the public key file instead "
                "(the private key must never be shipped to a device)."
            ) from exc
        raise KeyFileError(f"{file} is not a PEM public key; create a key pair with create_keys().") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(
            f"{file} holds {_kind(key)} public key; weir verifies bundles with Ed25519 keys. "
            "Create one with create_keys()."
        )
    return key


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """A short, stable identifier of a public key: the first 16 hex digits of the SHA-256 of its raw bytes.

    >>> len(fingerprint(Ed25519PrivateKey.generate().public_key()))
    16
    """
    raw = public_key.public_bytes(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --- helpers -----------------------------------------------------------------------------------


def _read_key_file(file: Path, kind: str) -> bytes:
    try:
        info = file.stat()
    except FileNotFoundError as exc:
        raise KeyFileError(
            f"The {kind} key file {file} does not exist; check the path or create a key pair with create_keys()."
        ) from exc
    except OSError as exc:
        raise KeyFileError(f"Cannot read the {kind} key file {file}: {exc.strerror}.") from exc
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"The {kind} key path {file} is not a file; give the path of a PEM key file.")
    if info.st_size > _MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{file} is {info.st_size} bytes, far too large for a PEM {kind} key; check the path.")
    try:
        return file.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"Cannot read the {kind} key file {file}: {exc.strerror}.") from exc


def _is_public_pem(data: bytes) -> bool:
    try:
        serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        return False
    return True


def _kind(key: object) -> str:
    """A readable name of a key's algorithm ("an RSA", "an EC", …), for messages."""
    kinds = [
        ("an RSA", (rsa.RSAPrivateKey, rsa.RSAPublicKey)),
        ("an EC", (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)),
        ("a DSA", (dsa.DSAPrivateKey, dsa.DSAPublicKey)),
        ("an Ed448", (ed448.Ed448PrivateKey, ed448.Ed448PublicKey)),
    ]
    for name, types in kinds:
        if isinstance(key, types):
            return name
    return f"a {type(key).__name__}"


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, created with ``mode``."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise KeyFileError(f"Cannot write the key file {path}: {exc.strerror}; choose a writable folder.") from exc
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise KeyFileError(f"Cannot write the key file {path}: {exc.strerror}; choose a writable folder.") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
