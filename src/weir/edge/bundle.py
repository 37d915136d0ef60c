"""The signed edge bundle: a folder a device can check, byte for byte, before it loads anything.

Layout::

    bundle/
        model.onnx        the model
        manifest.json     what the bundle holds (sorted keys, UTF-8), with the SHA-256 and size of every file
        manifest.sig      the Ed25519 signature of the exact bytes of manifest.json
        ...               other files, each listed in the manifest

:func:`verify_bundle` refuses a bundle unless the signature matches the manifest's bytes, the manifest is
a ``weir-edge-bundle`` of a version this code reads, every listed file is a regular file whose size and
SHA-256 match, and nothing else is in the folder (no extra file, no symlink anywhere, no path that
leaves the folder). The runtime loads the model from the very bytes it hashed, never re-opening the file.

>>> import pathlib, tempfile
>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> key = Ed25519PrivateKey.generate()
>>> folder = write_bundle(
...     pathlib.Path(tempfile.mkdtemp()) / "churn", b"<onnx bytes>",
...     inputs={"name": "X", "dtype": "float32", "columns": ["age", "income"]},
...     outputs={"label": "label", "probabilities": "probabilities", "classes": [0, 1]},
...     source={"model": "churn", "version": 3}, signature={}, equivalence={}, quantization="none",
...     private_key=key)
>>> manifest = verify_bundle(folder, key.public_key())
>>> manifest.inputs.columns, manifest.files["model.onnx"].size
(('age', 'income'), 12)
>>> _ = (folder / "model.onnx").write_bytes(b"<other bytes>")
>>> verify_bundle(folder, key.public_key())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
weir.edge.bundle.BundleError: .../churn/model.onnx ...
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from weir import __version__ as weir_version
from weir.edge.files import fsync_dir
from weir.edge.keys import fingerprint, load_private_key, load_public_key
from weir.errors import WeirError

logger = logging.getLogger(__name__)

FORMAT = "weir-edge-bundle"
FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
DTYPES = ("float32", "float64")

_RESERVED = frozenset({MANIFEST_FILE, SIGNATURE_FILE})
_FIELDS = frozenset(
    {"format", "format_version", "weir_version", "created_at", "source", "files", "inputs", "outputs"}
    | {"signature", "equivalence", "quantization"}
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
_MAX_MANIFEST_BYTES = 16 << 20
_SIGNATURE_BYTES = 64
_INF = float("inf")

__all__ = [
    "DTYPES",
    "FORMAT",
    "FORMAT_VERSION",
    "BundleError",
    "BundleSignatureError",
    "FileEntry",
    "InputSpec",
    "Manifest",
    "OutputSpec",
    "PrivateKeyLike",
    "PublicKeyLike",
    "read_verified_model",
    "sign_bundle",
    "verify_bundle",
    "write_bundle",
]

PrivateKeyLike = Ed25519PrivateKey | str | os.PathLike[str]
PublicKeyLike = Ed25519PublicKey | str | os.PathLike[str]


class BundleError(WeirError):
    """A bundle that was tampered with or is not a bundle this code reads; the message names the path."""

    status = 422
    code = "invalid_bundle"


class BundleSignatureError(BundleError):
    """A bundle whose ``manifest.sig`` is missing, malformed or does not match the manifest and key."""

    code = "bad_signature"


# --- the manifest --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSpec:
    """The model's one input tensor: its name, dtype and the feature columns in order.

    >>> InputSpec.from_dict({"name": "X", "dtype": "float64", "columns": ["age", "bmi"]}).columns
    ('age', 'bmi')
    """

    name: str
    dtype: str
    columns: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Any, origin: str = "inputs") -> InputSpec:
        _expect_keys(data, {"name", "dtype", "columns"}, origin)
        name, dtype, columns = data["name"], data["dtype"], data["columns"]
        if not isinstance(name, str) or not name:
            raise BundleError(f"{origin}.name must be the non-empty name of the model's input tensor; got {name!r}.")
        if dtype not in DTYPES:
            raise BundleError(f"{origin}.dtype is {dtype!r}; it must be one of {', '.join(DTYPES)}.")
        if not isinstance(columns, list | tuple) or not columns:
            raise BundleError(f"{origin}.columns must be a non-empty list of feature names; got {columns!r}.")
        for column in columns:
            if not isinstance(column, str) or not column:
                raise BundleError(f"{origin}.columns holds {column!r}; every column must be a non-empty string.")
        if len(set(columns)) != len(columns):
            twice = sorted({c for c in columns if columns.count(c) > 1})
            raise BundleError(f"{origin}.columns names {', '.join(map(repr, twice))} more than once.")
        return cls(name=name, dtype=dtype, columns=tuple(columns))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "columns": list(self.columns)}


@dataclass(frozen=True)
class OutputSpec:
    """Which model outputs hold the label, the class probabilities or (regression) the value.

    >>> OutputSpec.from_dict({"value": "variable"}).task
    'regression'
    """

    label: str | None = None
    probabilities: str | None = None
    value: str | None = None
    classes: tuple[Any, ...] | None = None

    @property
    def task(self) -> str:
        return "regression" if self.value is not None else "classification"

    @classmethod
    def from_dict(cls, data: Any, origin: str = "outputs") -> OutputSpec:
        _expect_keys(data, set(), origin, optional={"label", "probabilities", "value", "classes"})
        names: dict[str, str | None] = {}
        for key in ("label", "probabilities", "value"):
            name = data.get(key)
            if name is not None and (not isinstance(name, str) or not name):
                raise BundleError(f"{origin}.{key} must be an output name or null; got {name!r}.")
            names[key] = name
        given = [n for n in names.values() if n is not None]
        if not given:
            raise BundleError(f"{origin} names no output; set 'label' and/or 'probabilities', or 'value' (regression).")
        if len(set(given)) != len(given):
            raise BundleError(f"{origin} uses one output name for two roles: {names}.")
        if names["value"] is not None and (names["label"] or names["probabilities"]):
            raise BundleError(f"{origin} sets 'value' (regression) together with 'label'/'probabilities'; pick one.")
        classes = data.get("classes")
        if classes is not None:
            if not isinstance(classes, list | tuple) or not classes:
                raise BundleError(f"{origin}.classes must be a non-empty list or null; got {classes!r}.")
            classes = tuple(_plain(c) for c in classes)
            for label in classes:
                if not isinstance(label, str | int | float | bool) or label != label or label in (_INF, -_INF):
                    raise BundleError(f"{origin}.classes holds {label!r}; class labels are strings or numbers.")
            if len(set(classes)) != len(classes):
                raise BundleError(f"{origin}.classes lists a class more than once: {list(classes)}.")
        return cls(label=names["label"], probabilities=names["probabilities"], value=names["value"], classes=classes)

    def to_dict(self) -> dict[str, Any]:
        classes = None if self.classes is None else list(self.classes)
        return {"label": self.label, "probabilities": self.probabilities, "value": self.value, "classes": classes}


@dataclass(frozen=True)
class FileEntry:
    """The SHA-256 (lowercase hex) and size in bytes of one file of a bundle."""

    sha256: str
    size: int

    @classmethod
    def of(cls, data: bytes) -> FileEntry:
        """
        >>> FileEntry.of(b"abc").size
        3
        """
        return cls(sha256=hashlib.sha256(data).hexdigest(), size=len(data))


@dataclass(frozen=True)
class Manifest:
    """The parsed ``manifest.json`` of a bundle; ``digest`` is the SHA-256 of its exact bytes.

    >>> m = Manifest(weir_version="0.1.0", created_at="2025-01-01T00:00:00+00:00", source={"ref": "churn@3"},
    ...     files={"model.onnx": FileEntry.of(b"m")}, inputs=InputSpec("X", "float32", ("a",)),
    ...     outputs=OutputSpec(value="y"), signature={}, equivalence={}, quantization="none")
    >>> Manifest.from_json_bytes(m.to_json_bytes()).model_ref
    'churn@3'
    """

    weir_version: str
    created_at: str
    source: dict[str, Any]
    files: dict[str, FileEntry]
    inputs: InputSpec
    outputs: OutputSpec
    signature: dict[str, Any]
    equivalence: dict[str, Any]
    quantization: str
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    digest: str = field(default="", compare=False)

    @property
    def model_ref(self) -> str | None:
        """``source["ref"]``, else ``"model:version"`` from the source, else ``None``."""
        if isinstance(self.source.get("ref"), str):
            return str(self.source["ref"])
        model, version = self.source.get("model"), self.source.get("version")
        if model is None:
            return None
        return str(model) if version is None else f"{model}:{version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "format_version": self.format_version,
            "weir_version": self.weir_version,
            "created_at": self.created_at,
            "source": self.source,
            "files": {path: {"sha256": e.sha256, "size": e.size} for path, e in self.files.items()},
            "inputs": self.inputs.to_dict(),
            "outputs": self.outputs.to_dict(),
            "signature": self.signature,
            "equivalence": self.equivalence,
            "quantization": self.quantization,
        }

    def to_json_bytes(self) -> bytes:
        """The manifest as written: JSON with sorted keys, two-space indent, UTF-8, a final newline."""
        body = self.to_dict()
        for key in ("source", "signature", "equivalence"):
            try:
                json.dumps(body[key], allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise BundleError(
                    f"Manifest field {key!r} cannot be written as JSON ({exc}); pass plain str, int, float, "
                    "bool, None, list and dict values, with no NaN or infinity."
                ) from exc
        text = json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8") + b"\n"

    @classmethod
    def from_json_bytes(cls, data: bytes, origin: str = MANIFEST_FILE) -> Manifest:
        """Parse and validate manifest bytes; ``origin`` (a path) is named in every error."""
        try:
            body = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise BundleError(f"{origin} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
        except json.JSONDecodeError as exc:
            raise BundleError(
                f"{origin} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
            ) from exc
        if not isinstance(body, dict):
            raise BundleError(f"{origin} holds a JSON {type(body).__name__}; a bundle manifest is a JSON object.")
        if body.get("format") != FORMAT:
            raise BundleError(f"{origin} is not a {FORMAT} manifest (format is {body.get('format')!r}).")
        version = body.get("format_version")
        if version != FORMAT_VERSION or isinstance(version, bool):
            hint = "upgrade weir on the device" if isinstance(version, int) and version > FORMAT_VERSION else ""
            raise BundleError(
                f"{origin} has format_version {version!r}; weir {weir_version} reads version {FORMAT_VERSION}"
                + (f": {hint}." if hint else ".")
            )
        _expect_keys(body, set(_FIELDS), origin)
        for key in ("weir_version", "created_at", "quantization"):
            if not isinstance(body[key], str):
                raise BundleError(f"{origin}: field {key!r} must be a string; got {body[key]!r}.")
        try:
            datetime.fromisoformat(body["created_at"])
        except ValueError as exc:
            raise BundleError(f"{origin}: created_at {body['created_at']!r} is not an ISO 8601 time.") from exc
        for key in ("source", "signature", "equivalence"):
            if not isinstance(body[key], dict):
                raise BundleError(f"{origin}: field {key!r} must be a JSON object; got {body[key]!r}.")
        return cls(
            weir_version=body["weir_version"],
            created_at=body["created_at"],
            source=body["source"],
            files=_parse_files(body["files"], origin),
            inputs=InputSpec.from_dict(body["inputs"], f"{origin}: inputs"),
            outputs=OutputSpec.from_dict(body["outputs"], f"{origin}: outputs"),
            signature=body["signature"],
            equivalence=body["equivalence"],
            quantization=body["quantization"],
            digest=hashlib.sha256(data).hexdigest(),
        )


# --- writing and signing ------------------------------------------------------------------------


def write_bundle(
    folder: str | os.PathLike[str],
    model_bytes: bytes,
    *,
    inputs: InputSpec | Mapping[str, Any],
    outputs: OutputSpec | Mapping[str, Any],
    source: Mapping[str, Any],
    signature: Mapping[str, Any],
    equivalence: Mapping[str, Any],
    quantization: str,
    private_key: PrivateKeyLike | None = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a bundle into ``folder`` (new, or an empty folder) atomically; sign it when a key is given.

    The files are written into a temporary sibling folder, fsynced, then renamed into place: a crash
    leaves either the whole bundle or none of it. Returns the bundle's path.
    """
    root = Path(folder)
    _refuse_occupied(root)
    if not isinstance(model_bytes, bytes | bytearray) or not model_bytes:
        raise BundleError(f"write_bundle({root}): model_bytes must be the non-empty bytes of an ONNX model.")
    contents: dict[str, bytes] = {MODEL_FILE: bytes(model_bytes)}
    for path, data in (extra_files or {}).items():
        _check_path(path, "extra_files")
        if path in contents:
            raise BundleError(f"extra_files lists {path!r}, which is the bundle's model file; give another name.")
        if not isinstance(data, bytes | bytearray):
            raise BundleError(f"extra_files[{path!r}] must be bytes; got {type(data).__name__}.")
        contents[path] = bytes(data)
    _check_paths_distinct(list(contents), "extra_files")
    if not isinstance(quantization, str):
        raise BundleError(f"quantization must be a string such as 'none' or 'dynamic-int8'; got {quantization!r}.")
    manifest = Manifest(
        weir_version=weir_version,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source=dict(source),
        files={path: FileEntry.of(data) for path, data in sorted(contents.items())},
        inputs=inputs if isinstance(inputs, InputSpec) else InputSpec.from_dict(dict(inputs)),
        outputs=outputs if isinstance(outputs, OutputSpec) else OutputSpec.from_dict(dict(outputs)),
        signature=dict(signature),
        equivalence=dict(equivalence),
        quantization=quantization,
    )
    manifest_bytes = manifest.to_json_bytes()
    contents[MANIFEST_FILE] = manifest_bytes
    if private_key is not None:
        contents[SIGNATURE_FILE] = _private_key(private_key).sign(manifest_bytes)
    _write_folder_atomically(root, contents)
    logger.info(
        "Wrote %s bundle %s (%s)", "signed" if private_key is not None else "unsigned", root, manifest.model_ref
    )
    return root


def sign_bundle(folder: str | os.PathLike[str], private_key: PrivateKeyLike) -> Manifest:
    """Write (or replace) ``manifest.sig`` of an intact bundle; return its manifest.

    The bundle is checked first, exactly as :func:`verify_bundle` does apart from the signature: a
    bundle whose files no longer match its manifest is refused rather than signed.
    """
    root = Path(folder)
    manifest, manifest_bytes, _ = _verify(root, None, keep=None)
    signature = _private_key(private_key).sign(manifest_bytes)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{SIGNATURE_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(signature)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, root / SIGNATURE_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(root)
    logger.info("Signed bundle %s", root)
    return manifest


# --- verifying ----------------------------------------------------------------------------------


def verify_bundle(folder: str | os.PathLike[str], public_key: PublicKeyLike) -> Manifest:
    """Check a bundle's signature, manifest and every byte of every file; return the manifest.

    Raises :class:`BundleSignatureError` when the signature is missing or does not match, and
    :class:`BundleError` for any other tampering or format problem; the message names the path.
    """
    manifest, _, _ = _verify(Path(folder), _public_key(public_key), keep=None)
    return manifest


def read_verified_model(folder: str | os.PathLike[str], public_key: PublicKeyLike) -> tuple[Manifest, bytes]:
    """Verify a bundle as :func:`verify_bundle` does and return the model's bytes, read exactly once.

    The bytes returned are the bytes that were hashed, so a file swapped after the check is never loaded.
    """
    root = Path(folder)
    manifest, _, model_bytes = _verify(root, _public_key(public_key), keep=MODEL_FILE)
    if model_bytes is None:  # unreachable: every manifest lists the model file
        raise BundleError(f"{root / MODEL_FILE} was not read; the bundle lists no model.")
    return manifest, model_bytes


def _verify(
    root: Path, public_key: Ed25519PublicKey | None, *, keep: str | None
) -> tuple[Manifest, bytes, bytes | None]:
    """Verify ``root``; with ``public_key=None`` (signing) skip the signature but check everything else."""
    try:
        info = os.lstat(root)
    except FileNotFoundError as exc:
        raise BundleError(f"Bundle folder {root} does not exist; check the path.") from exc
    if stat.S_ISLNK(info.st_mode):
        raise BundleError(f"Bundle folder {root} is a symlink; give the real folder (bundles may hold no symlink).")
    if not stat.S_ISDIR(info.st_mode):
        raise BundleError(f"Bundle path {root} is not a folder; a bundle is a folder holding {MANIFEST_FILE}.")
    entries = _scan(root)
    manifest_bytes = _read_whole(root, MANIFEST_FILE, entries, limit=_MAX_MANIFEST_BYTES)
    if public_key is not None:
        _check_signature(root, manifest_bytes, entries, public_key)
    elif entries.get(SIGNATURE_FILE, "file") != "file":
        raise BundleError(f"{root / SIGNATURE_FILE} is not a regular file; remove it, then sign again.")
    manifest = Manifest.from_json_bytes(manifest_bytes, origin=str(root / MANIFEST_FILE))
    expected_dirs = {"/".join(p.split("/")[:i]) for p in manifest.files for i in range(1, p.count("/") + 1)}
    for path in manifest.files:
        kind = entries.get(path)
        if kind is None:
            raise BundleError(f"{root / path} is listed in the manifest but missing from the bundle.")
        if kind != "file":
            raise BundleError(f"{root / path} is a {kind} where the manifest expects a file.")
    for path, kind in sorted(entries.items()):
        if path in _RESERVED or path in manifest.files or (kind == "directory" and path in expected_dirs):
            continue
        raise BundleError(f"{root / path} is not listed in the manifest; remove it or rebuild the bundle.")
    kept: bytes | None = None
    for path, entry in sorted(manifest.files.items()):
        data = _hash_file(root, path, entry, keep=path == keep)
        if path == keep:
            kept = data
    logger.debug("Verified bundle %s (manifest %s)", root, manifest.digest[:12])
    return manifest, manifest_bytes, kept


def _check_signature(root: Path, manifest_bytes: bytes, entries: dict[str, str], key: Ed25519PublicKey) -> None:
    path = root / SIGNATURE_FILE
    if SIGNATURE_FILE not in entries:
        raise BundleSignatureError(f"{path} is missing: the bundle is not signed. Sign it with sign_bundle() first.")
    try:
        signature = _read_whole(root, SIGNATURE_FILE, entries, limit=4096)
    except BundleSignatureError:
        raise
    except BundleError as exc:
        raise BundleSignatureError(exc.message) from exc
    if len(signature) != _SIGNATURE_BYTES:
        raise BundleSignatureError(
            f"{path} holds {len(signature)} bytes, not a {_SIGNATURE_BYTES}-byte Ed25519 signature; "
            "sign the bundle again."
        )
    try:
        key.verify(signature, manifest_bytes)
    except InvalidSignature as exc:
        raise BundleSignatureError(
            f"{path} does not match {root / MANIFEST_FILE} under the public key {fingerprint(key)}: the manifest "
            "or its signature changed after signing, or the bundle was signed with another key."
        ) from exc


def _scan(root: Path) -> dict[str, str]:
    """Every entry below ``root`` by POSIX relative path: ``file``, ``dir``; symlinks and others are refused."""
    found: dict[str, str] = {}
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                children = list(it)
        except OSError as exc:
            raise BundleError(f"Cannot list the bundle folder {folder}: {exc.strerror}.") from exc
        for child in children:
            rel = prefix + child.name
            if child.is_symlink():
                raise BundleError(f"{root / rel} is a symlink; bundles may hold no symlink. Rebuild the bundle.")
            if child.is_dir(follow_symlinks=False):
                found[rel] = "directory"
                pending.append((rel + "/", Path(child.path)))
            elif child.is_file(follow_symlinks=False):
                found[rel] = "file"
            else:
                raise BundleError(f"{root / rel} is not a regular file or folder; remove it from the bundle.")
    return found


def _open_regular(root: Path, path: str) -> tuple[int, os.stat_result]:
    """Open ``root/path`` for reading without following a final symlink; it must be a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    full = root / path
    try:
        fd = os.open(full, flags)
    except FileNotFoundError as exc:
        raise BundleError(f"{full} is missing from the bundle.") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BundleError(f"{full} is a symlink; bundles may hold no symlink. Rebuild the bundle.") from exc
        if exc.errno == errno.EISDIR:
            raise BundleError(f"{full} is a directory where the manifest expects a file.") from exc
        raise BundleError(f"Cannot read {full}: {exc.strerror}.") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise BundleError(f"{full} is {what} where the manifest expects a file.")
    return fd, info


def _read_whole(root: Path, path: str, entries: dict[str, str], *, limit: int) -> bytes:
    kind = entries.get(path)
    if kind is None:
        raise BundleError(f"{root / path} is missing: this is not a complete bundle.")
    if kind != "file":
        raise BundleError(f"{root / path} is a {kind} where a file is expected.")
    fd, info = _open_regular(root, path)
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > limit:
            raise BundleError(f"{root / path} is {info.st_size} bytes, more than the {limit} allowed.")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise BundleError(f"{root / path} is more than the {limit} bytes allowed.")
    return data


def _hash_file(root: Path, path: str, entry: FileEntry, *, keep: bool) -> bytes | None:
    """Hash ``root/path`` in chunks against ``entry``; return its bytes when ``keep``."""
    full = root / path
    fd, info = _open_regular(root, path)
    hasher = hashlib.sha256()
    chunks: list[bytes] = []
    total = 0
    with os.fdopen(fd, "rb") as handle:
        if info.st_size != entry.size:
            raise BundleError(
                f"{full} has {info.st_size} bytes; the manifest says {entry.size}: the file changed after the bundle "
                "was built. Rebuild or re-download the bundle."
            )
        while chunk := handle.read(min(_CHUNK, entry.size + 1 - total)):
            total += len(chunk)
            if total > entry.size:
                break
            hasher.update(chunk)
            if keep:
                chunks.append(chunk)
    if total != entry.size:
        raise BundleError(f"{full} changed while it was read ({total} bytes read, {entry.size} expected).")
    if not hmac.compare_digest(hasher.hexdigest(), entry.sha256):
        raise BundleError(
            f"{full} does not match its SHA-256 in the manifest: the file changed after the bundle was built. "
            "Rebuild or re-download the bundle."
        )
    return b"".join(chunks) if keep else None


# --- helpers ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A numpy scalar (``np.int64(1)``) as its Python value; anything else unchanged."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str | bytes) else value


def _expect_keys(
    data: Any, required: set[str], origin: str, *, optional: set[str] | frozenset[str] = frozenset()
) -> None:
    if not isinstance(data, dict):
        raise BundleError(f"{origin} must be a JSON object; got {data!r}.")
    missing = sorted(required - data.keys())
    if missing:
        raise BundleError(f"{origin} lacks the field(s) {', '.join(map(repr, missing))}.")
    unknown = sorted(data.keys() - required - optional)
    if unknown:
        raise BundleError(f"{origin} has unknown field(s) {', '.join(map(repr, unknown))}.")


def _check_path(path: Any, origin: str) -> None:
    """Refuse a bundle path that could leave the bundle or clash with its own files."""
    if not isinstance(path, str) or not path:
        raise BundleError(f"{origin} lists the path {path!r}; file paths must be non-empty strings.")
    reason = None
    if "\\" in path:
        reason = "it holds a backslash"
    elif path.startswith("/"):
        reason = "it is absolute"
    elif ":" in path:
        reason = "it holds a ':' (a drive letter or stream)"
    elif "\x00" in path:
        reason = "it holds a NUL byte"
    elif any(part in ("", ".", "..") for part in path.split("/")):
        reason = "it holds an empty, '.' or '..' component"
    elif path in _RESERVED:
        reason = "the name is reserved for the manifest and its signature"
    if reason:
        raise BundleError(
            f"{origin} lists the path {path!r}, which is not allowed: {reason}. Bundle paths are relative, "
            "use '/' and stay inside the bundle."
        )


def _check_paths_distinct(paths: list[str], origin: str) -> None:
    """Refuse paths that collide on a case-insensitive file system or where a file is also a folder."""
    lowered: dict[str, str] = {}
    for path in paths:
        other = lowered.setdefault(path.lower(), path)
        if other != path:
            raise BundleError(f"{origin} lists both {other!r} and {path!r}, which clash on case-insensitive systems.")
    folders = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
    for path in paths:
        if path in folders:
            raise BundleError(f"{origin} lists {path!r} both as a file and as a folder of other files.")


def _parse_files(data: Any, origin: str) -> dict[str, FileEntry]:
    if not isinstance(data, dict) or MODEL_FILE not in data:
        raise BundleError(f"{origin}: field 'files' must be a JSON object listing at least {MODEL_FILE!r}.")
    files: dict[str, FileEntry] = {}
    for path, entry in data.items():
        _check_path(path, origin)
        _expect_keys(entry, {"sha256", "size"}, f"{origin}: files[{path!r}]")
        digest, size = entry["sha256"], entry["size"]
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise BundleError(f"{origin}: files[{path!r}].sha256 must be 64 lowercase hex digits; got {digest!r}.")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BundleError(f"{origin}: files[{path!r}].size must be a byte count; got {size!r}.")
        files[path] = FileEntry(sha256=digest, size=size)
    _check_paths_distinct(list(files), origin)
    return files


def _private_key(key: PrivateKeyLike) -> Ed25519PrivateKey:
    return key if isinstance(key, Ed25519PrivateKey) else load_private_key(key)


def _public_key(key: PublicKeyLike) -> Ed25519PublicKey:
    if isinstance(key, Ed25519PrivateKey):
        raise BundleError("verify_bundle() takes the public key; pass private_key.public_key() or the public key file.")
    return key if isinstance(key, Ed25519PublicKey) else load_public_key(key)


def _refuse_occupied(root: Path) -> None:
    if not os.path.lexists(root):
        return
    if root.is_symlink() or not root.is_dir():
        raise BundleError(f"{root} exists and is not a folder; choose another path for the bundle.")
    if any(root.iterdir()):
        raise BundleError(f"{root} exists and is not empty; choose a new folder or remove it first.")


def _write_folder_atomically(root: Path, contents: dict[str, bytes]) -> None:
    parent = root.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{root.name}.tmp-"))
    except OSError as exc:
        raise BundleError(f"Cannot create the bundle {root}: {exc.strerror}; choose a writable folder.") from exc
    try:
        os.chmod(tmp, 0o755)
        for path, data in contents.items():
            target = tmp / path
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for folder in sorted({(tmp / p).parent for p in contents}, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(folder)
        _refuse_occupied(root)
        if root.is_dir():
            root.rmdir()
        os.rename(tmp, root)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"Cannot write the bundle {root}: {exc.strerror}.") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)
