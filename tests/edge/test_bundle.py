"""Signed edge bundles: write, sign, verify, and refuse every kind of tampering, naming the path."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from weir.edge import (
    BundleError,
    BundleSignatureError,
    KeyFileError,
    Manifest,
    create_keys,
    fingerprint,
    load_private_key,
    load_public_key,
    sign_bundle,
    verify_bundle,
    write_bundle,
)

# --- shared builders (also used by test_runtime and test_minimal_venv) -----------------------------


def breast_cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Standardised breast-cancer features (so logistic regression converges), labels, column names."""
    data = load_breast_cancer()
    X = StandardScaler().fit_transform(data.data)
    return X, data.target, [name.replace(" ", "_") for name in data.feature_names]


def diabetes() -> tuple[np.ndarray, np.ndarray, list[str]]:
    data = load_diabetes()
    return data.data, data.target, list(data.feature_names)


def classifier(
    *, zipmap: bool = False, string_labels: bool = False
) -> tuple[LogisticRegression, bytes, dict[str, Any]]:
    """A fitted classifier, its ONNX bytes (float32 input) and the ``outputs`` of its manifest."""
    X, y, _ = breast_cancer()
    if string_labels:
        y = np.array(["malignant", "benign"])[y]
    model = LogisticRegression(max_iter=1000, random_state=0).fit(X, y)
    onnx_model = to_onnx(model, X[:1].astype(np.float32), options={id(model): {"zipmap": zipmap}})
    label, probabilities = (output.name for output in onnx_model.graph.output)
    outputs = {"label": label, "probabilities": probabilities, "classes": model.classes_.tolist()}
    return model, onnx_model.SerializeToString(), outputs


def regressor() -> tuple[Ridge, bytes, dict[str, Any]]:
    """A fitted regressor, its ONNX bytes (float64 input) and the ``outputs`` of its manifest."""
    X, y, _ = diabetes()
    model = Ridge(alpha=0.5).fit(X, y)
    onnx_model = to_onnx(model, X[:1])
    return model, onnx_model.SerializeToString(), {"value": onnx_model.graph.output[0].name}


def bundle_kwargs(columns: list[str], outputs: dict[str, Any], dtype: str = "float32") -> dict[str, Any]:
    return {
        "inputs": {"name": "X", "dtype": dtype, "columns": columns},
        "outputs": outputs,
        "source": {"model": "cancer", "version": 3, "ref": "cancer@3", "artifact_sha256": "ab" * 32},
        "signature": {"inputs": [{"name": c, "type": "double"} for c in columns]},
        "equivalence": {"max_abs_diff": 1.2e-6, "rows": 569, "passed": True},
        "quantization": "none",
    }


@pytest.fixture(scope="module")
def classifier_model() -> tuple[LogisticRegression, bytes, dict[str, Any]]:
    return classifier()


@pytest.fixture(scope="module")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def bundle(tmp_path: Path, classifier_model: Any, signing_key: Ed25519PrivateKey) -> Path:
    _, onnx_bytes, outputs = classifier_model
    return write_bundle(
        tmp_path / "bundle",
        onnx_bytes,
        private_key=signing_key,
        extra_files={"assets/README.txt": b"what this model is for\n"},
        **bundle_kwargs(breast_cancer()[2], outputs),
    )


def resign(folder: Path, key: Ed25519PrivateKey, change: Callable[[dict[str, Any]], Any]) -> None:
    """Rewrite the manifest with ``change`` applied and sign it with the real key (a buggy or hostile signer)."""
    body = json.loads((folder / "manifest.json").read_bytes())
    result = change(body)
    data = result if isinstance(result, bytes) else json.dumps(body, sort_keys=True, indent=2).encode()
    (folder / "manifest.json").write_bytes(data)
    (folder / "manifest.sig").write_bytes(key.sign(data))


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# --- round trip ----------------------------------------------------------------------------------


def test_signed_bundle_round_trip(bundle: Path, classifier_model: Any, signing_key: Ed25519PrivateKey) -> None:
    _, onnx_bytes, outputs = classifier_model
    manifest = verify_bundle(bundle, signing_key.public_key())

    assert sorted(p.name for p in bundle.iterdir()) == ["assets", "manifest.json", "manifest.sig", "model.onnx"]
    raw = (bundle / "manifest.json").read_bytes()
    body = json.loads(raw.decode("utf-8"))
    assert raw == (json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    assert body["format"] == "weir-edge-bundle" and body["format_version"] == 1
    assert body["weir_version"] == "0.1.0"
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None
    assert datetime.fromisoformat(body["created_at"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert body["files"] == {
        "model.onnx": {"sha256": hashlib.sha256(onnx_bytes).hexdigest(), "size": len(onnx_bytes)},
        "assets/README.txt": {
            "sha256": hashlib.sha256(b"what this model is for\n").hexdigest(),
            "size": len(b"what this model is for\n"),
        },
    }
    assert body["outputs"] == {**outputs, "value": None}
    assert body["source"]["ref"] == "cancer@3" and body["equivalence"]["passed"] is True

    assert manifest.digest == hashlib.sha256(raw).hexdigest()
    assert manifest.inputs.columns == tuple(breast_cancer()[2])
    assert manifest.outputs.classes == (0, 1) and manifest.outputs.task == "classification"
    assert manifest.model_ref == "cancer@3" and manifest.quantization == "none"
    assert Manifest.from_json_bytes(manifest.to_json_bytes()) == manifest


def test_verify_accepts_a_public_key_file(bundle: Path, signing_key: Ed25519PrivateKey, tmp_path: Path) -> None:
    public = tmp_path / "key.pub"
    public.write_bytes(
        signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert verify_bundle(bundle, public).model_ref == "cancer@3"
    assert verify_bundle(str(bundle), str(public)).files["model.onnx"].size > 0


def test_wrong_public_key_is_refused(bundle: Path) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(BundleSignatureError, match="another key") as info:
        verify_bundle(bundle, other)
    assert str(bundle / "manifest.sig") in info.value.message
    assert fingerprint(other) in info.value.message
    assert (info.value.status, info.value.code) == (422, "bad_signature")


def test_a_private_key_is_refused_where_the_public_key_belongs(bundle: Path, signing_key: Ed25519PrivateKey) -> None:
    with pytest.raises(BundleError, match=r"public_key\(\)"):
        verify_bundle(bundle, signing_key)  # type: ignore[arg-type]


def test_unsigned_bundle_is_refused_until_signed(tmp_path: Path, classifier_model: Any) -> None:
    _, onnx_bytes, outputs = classifier_model
    folder = write_bundle(tmp_path / "unsigned", onnx_bytes, **bundle_kwargs(breast_cancer()[2], outputs))
    assert not (folder / "manifest.sig").exists()
    key = Ed25519PrivateKey.generate()

    with pytest.raises(BundleSignatureError, match="not signed") as info:
        verify_bundle(folder, key.public_key())
    assert str(folder / "manifest.sig") in info.value.message

    signed = sign_bundle(folder, key)
    assert verify_bundle(folder, key.public_key()) == signed


def test_resigning_switches_the_key_that_verifies(bundle: Path, signing_key: Ed25519PrivateKey) -> None:
    new_key = Ed25519PrivateKey.generate()
    sign_bundle(bundle, new_key)

    assert verify_bundle(bundle, new_key.public_key()).model_ref == "cancer@3"
    with pytest.raises(BundleSignatureError):
        verify_bundle(bundle, signing_key.public_key())
    assert sorted(p.name for p in bundle.iterdir()) == ["assets", "manifest.json", "manifest.sig", "model.onnx"]


def test_sign_bundle_refuses_a_tampered_bundle(bundle: Path, signing_key: Ed25519PrivateKey) -> None:
    flip_byte(bundle / "model.onnx", 40)
    signature_before = (bundle / "manifest.sig").read_bytes()

    with pytest.raises(BundleError, match="SHA-256") as info:
        sign_bundle(bundle, signing_key)
    assert str(bundle / "model.onnx") in info.value.message
    assert (bundle / "manifest.sig").read_bytes() == signature_before


def test_sign_bundle_accepts_a_private_key_file(tmp_path: Path, classifier_model: Any) -> None:
    _, onnx_bytes, outputs = classifier_model
    folder = write_bundle(tmp_path / "b", onnx_bytes, **bundle_kwargs(breast_cancer()[2], outputs))
    private, public = create_keys(tmp_path / "k.pem", tmp_path / "k.pub")
    sign_bundle(folder, private)
    assert verify_bundle(folder, public).inputs.dtype == "float32"


def test_regressor_bundle_round_trip(tmp_path: Path) -> None:
    _, onnx_bytes, outputs = regressor()
    key = Ed25519PrivateKey.generate()
    folder = write_bundle(
        tmp_path / "reg", onnx_bytes, private_key=key, **bundle_kwargs(diabetes()[2], outputs, dtype="float64")
    )
    manifest = verify_bundle(folder, key.public_key())
    assert manifest.outputs.task == "regression"
    assert (manifest.outputs.value, manifest.outputs.label, manifest.outputs.classes) == ("variable", None, None)
    assert manifest.inputs.dtype == "float64"


# --- writing -------------------------------------------------------------------------------------


def test_write_refuses_a_non_empty_folder_and_leaves_it_alone(tmp_path: Path, classifier_model: Any) -> None:
    _, onnx_bytes, outputs = classifier_model
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")

    with pytest.raises(BundleError, match="not empty") as info:
        write_bundle(folder, onnx_bytes, **bundle_kwargs(breast_cancer()[2], outputs))
    assert str(folder) in info.value.message
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no temporary folder left behind


def test_write_into_an_existing_empty_folder(tmp_path: Path, classifier_model: Any) -> None:
    _, onnx_bytes, outputs = classifier_model
    (tmp_path / "empty").mkdir()
    key = Ed25519PrivateKey.generate()
    folder = write_bundle(tmp_path / "empty", onnx_bytes, private_key=key, **bundle_kwargs(["x"], outputs))
    assert verify_bundle(folder, key.public_key()).inputs.columns == ("x",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_write_refuses_a_file_where_the_folder_goes(tmp_path: Path, classifier_model: Any) -> None:
    _, onnx_bytes, outputs = classifier_model
    (tmp_path / "file").write_text("x")
    with pytest.raises(BundleError, match="not a folder"):
        write_bundle(tmp_path / "file", onnx_bytes, **bundle_kwargs(["x"], outputs))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../outside.txt", "'..'"),
        ("/etc/passwd", "absolute"),
        ("assets\\x.txt", "backslash"),
        ("C:/x.txt", "drive letter"),
        ("C:x.txt", "drive letter"),
        ("assets//x.txt", "empty"),
        ("./x.txt", "'.'"),
        ("manifest.json", "reserved"),
        ("manifest.sig", "reserved"),
    ],
)
def test_write_refuses_extra_file_paths_that_leave_the_bundle(
    tmp_path: Path, classifier_model: Any, path: str, reason: str
) -> None:
    _, onnx_bytes, outputs = classifier_model
    with pytest.raises(BundleError, match=reason) as info:
        write_bundle(tmp_path / "b", onnx_bytes, extra_files={path: b"x"}, **bundle_kwargs(["x"], outputs))
    assert repr(path) in info.value.message
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_the_model_name_and_clashing_extra_files(tmp_path: Path, classifier_model: Any) -> None:
    _, onnx_bytes, outputs = classifier_model
    with pytest.raises(BundleError, match="model file"):
        write_bundle(tmp_path / "b", onnx_bytes, extra_files={"model.onnx": b"x"}, **bundle_kwargs(["x"], outputs))
    with pytest.raises(BundleError, match="case-insensitive"):
        write_bundle(
            tmp_path / "b", onnx_bytes, extra_files={"a.txt": b"1", "A.txt": b"2"}, **bundle_kwargs(["x"], outputs)
        )
    with pytest.raises(BundleError, match="both as a file and as a folder"):
        write_bundle(tmp_path / "b", onnx_bytes, extra_files={"a": b"1", "a/b": b"2"}, **bundle_kwargs(["x"], outputs))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inputs": {"name": "X", "dtype": "int64", "columns": ["x"]}}, "dtype is 'int64'"),
        ({"inputs": {"name": "X", "dtype": "float32", "columns": ["x", "x"]}}, "'x' more than once"),
        ({"inputs": {"name": "X", "dtype": "float32", "columns": []}}, "non-empty list"),
        ({"inputs": {"name": "X", "dtype": "float32"}}, "lacks the field"),
        ({"outputs": {}}, "names no output"),
        ({"outputs": {"value": "y", "label": "l"}}, "pick one"),
        ({"outputs": {"label": "l", "classes": [1, 1]}}, "more than once"),
        ({"outputs": {"label": "l", "colour": "red"}}, "unknown field"),
        ({"source": {"when": {1, 2}}}, "'source' cannot be written as JSON"),
        ({"equivalence": {"max_abs_diff": float("nan")}}, "'equivalence' cannot be written as JSON"),
        ({"quantization": 8}, "quantization must be a string"),
    ],
)
def test_write_validates_the_manifest_fields(
    tmp_path: Path, classifier_model: Any, change: dict[str, Any], message: str
) -> None:
    _, onnx_bytes, outputs = classifier_model
    kwargs = {**bundle_kwargs(["x"], outputs), **change}
    with pytest.raises(BundleError, match=message):
        write_bundle(tmp_path / "b", onnx_bytes, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_empty_model_bytes(tmp_path: Path, classifier_model: Any) -> None:
    with pytest.raises(BundleError, match="model_bytes"):
        write_bundle(tmp_path / "b", b"", **bundle_kwargs(["x"], classifier_model[2]))


def test_numpy_class_labels_are_written_as_plain_json(tmp_path: Path, classifier_model: Any) -> None:
    _, onnx_bytes, _ = classifier_model
    outputs = {"label": "label", "probabilities": "probabilities", "classes": list(np.array([0, 1]))}
    folder = write_bundle(tmp_path / "b", onnx_bytes, **bundle_kwargs(["x"], outputs))
    assert json.loads((folder / "manifest.json").read_text())["outputs"]["classes"] == [0, 1]


# --- tampering -----------------------------------------------------------------------------------

Tamper = Callable[[Path, Ed25519PrivateKey, Path], None]


def _replace_with_symlink(target: Path, outside: Path) -> None:
    """Move ``target`` out of the bundle (into ``outside``) and leave a symlink to it: identical bytes, via a link."""
    copy = outside / f"real-{target.name}"
    shutil.move(target, copy)
    target.symlink_to(copy, target_is_directory=copy.is_dir())


def _swap_in_other_manifest(folder: Path, key: Ed25519PrivateKey, tmp: Path) -> None:
    _, other_bytes, outputs = regressor()
    other = write_bundle(
        tmp / "other", other_bytes, private_key=key, **bundle_kwargs(diabetes()[2], outputs, "float64")
    )
    shutil.copy(other / "manifest.json", folder / "manifest.json")
    shutil.copy(other / "manifest.sig", folder / "manifest.sig")


def _add_escaping_entry(path: str) -> Tamper:
    def tamper(folder: Path, key: Ed25519PrivateKey, tmp: Path) -> None:
        outside = tmp / "outside.txt"
        outside.write_bytes(b"secret")
        entry = {"sha256": hashlib.sha256(b"secret").hexdigest(), "size": 6}
        resign(folder, key, lambda body: body["files"].__setitem__(path, entry))

    return tamper


# (case, tamper, expected error, path the message must name: relative to the bundle, or "=" + a manifest path)
TAMPERING: list[tuple[str, Tamper, type[BundleError], str]] = [
    ("model byte flipped", lambda f, k, t: flip_byte(f / "model.onnx", 100), BundleError, "model.onnx"),
    ("model byte appended", lambda f, k, t: _append(f / "model.onnx", b"\0"), BundleError, "model.onnx"),
    ("model truncated", lambda f, k, t: os.truncate(f / "model.onnx", 10), BundleError, "model.onnx"),
    (
        "extra file byte flipped",
        lambda f, k, t: flip_byte(f / "assets/README.txt", 0),
        BundleError,
        "assets/README.txt",
    ),
    ("model replaced", lambda f, k, t: (f / "model.onnx").write_bytes(regressor()[1]), BundleError, "model.onnx"),
    (
        "manifest byte changed",
        lambda f, k, t: flip_byte(f / "manifest.json", 30),
        BundleSignatureError,
        "manifest.json",
    ),
    (
        "manifest reformatted",
        lambda f, k, t: (f / "manifest.json").write_text(json.dumps(json.loads((f / "manifest.json").read_text()))),
        BundleSignatureError,
        "manifest.sig",
    ),
    ("signature byte flipped", lambda f, k, t: flip_byte(f / "manifest.sig", 5), BundleSignatureError, "manifest.sig"),
    ("signature truncated", lambda f, k, t: os.truncate(f / "manifest.sig", 63), BundleSignatureError, "manifest.sig"),
    ("signature emptied", lambda f, k, t: os.truncate(f / "manifest.sig", 0), BundleSignatureError, "manifest.sig"),
    ("signature missing", lambda f, k, t: (f / "manifest.sig").unlink(), BundleSignatureError, "manifest.sig"),
    ("manifest and signature of another bundle", _swap_in_other_manifest, BundleError, "assets"),
    ("model missing", lambda f, k, t: (f / "model.onnx").unlink(), BundleError, "model.onnx"),
    ("extra listed file missing", lambda f, k, t: (f / "assets/README.txt").unlink(), BundleError, "assets/README.txt"),
    ("manifest missing", lambda f, k, t: (f / "manifest.json").unlink(), BundleError, "manifest.json"),
    ("extra file", lambda f, k, t: (f / "payload.py").write_text("import os"), BundleError, "payload.py"),
    ("extra hidden file", lambda f, k, t: (f / ".hidden").write_text("x"), BundleError, ".hidden"),
    (
        "extra file in a listed folder",
        lambda f, k, t: (f / "assets/evil.so").write_bytes(b"x"),
        BundleError,
        "assets/evil.so",
    ),
    ("extra empty folder", lambda f, k, t: (f / "plugins").mkdir(), BundleError, "plugins"),
    (
        "extra folder with a file",
        lambda f, k, t: (f / "lib").mkdir() or (f / "lib/x.py").write_text(""),
        BundleError,
        "lib",
    ),
    (
        "model is a symlink to identical bytes",
        lambda f, k, t: _replace_with_symlink(f / "model.onnx", t),
        BundleError,
        "model.onnx",
    ),
    (
        "manifest is a symlink",
        lambda f, k, t: _replace_with_symlink(f / "manifest.json", t),
        BundleError,
        "manifest.json",
    ),
    (
        "signature is a symlink",
        lambda f, k, t: _replace_with_symlink(f / "manifest.sig", t),
        BundleError,
        "manifest.sig",
    ),
    (
        "listed file is a symlink",
        lambda f, k, t: _replace_with_symlink(f / "assets/README.txt", t),
        BundleError,
        "assets/README.txt",
    ),
    ("listed folder is a symlink", lambda f, k, t: _replace_with_symlink(f / "assets", t), BundleError, "assets"),
    ("dangling symlink", lambda f, k, t: (f / "link").symlink_to("/nonexistent"), BundleError, "link"),
    ("fifo in the bundle", lambda f, k, t: os.mkfifo(f / "pipe"), BundleError, "pipe"),
    (
        "folder where the model goes",
        lambda f, k, t: (f / "model.onnx").unlink() or (f / "model.onnx").mkdir(),
        BundleError,
        "model.onnx",
    ),
    (
        "folder where the manifest goes",
        lambda f, k, t: (f / "manifest.json").unlink() or (f / "manifest.json").mkdir(),
        BundleError,
        "manifest.json",
    ),
    (
        "folder where the signature goes",
        lambda f, k, t: (f / "manifest.sig").unlink() or (f / "manifest.sig").mkdir(),
        BundleSignatureError,
        "manifest.sig",
    ),
    ("signed path with ..", _add_escaping_entry("../outside.txt"), BundleError, "=../outside.txt"),
    ("signed absolute path", _add_escaping_entry("/etc/passwd"), BundleError, "=/etc/passwd"),
    ("signed path with a backslash", _add_escaping_entry("..\\outside.txt"), BundleError, "=..\\outside.txt"),
    ("signed path with a drive letter", _add_escaping_entry("C:/outside.txt"), BundleError, "=C:/outside.txt"),
    ("signed path to the manifest", _add_escaping_entry("manifest.sig"), BundleError, "=manifest.sig"),
    (
        "signed path with a nested ..",
        _add_escaping_entry("assets/../../outside.txt"),
        BundleError,
        "=assets/../../outside.txt",
    ),
    ("signed manifest not JSON", lambda f, k, t: resign(f, k, lambda b: b"{not json"), BundleError, "manifest.json"),
    (
        "signed manifest not UTF-8",
        lambda f, k, t: resign(f, k, lambda b: b'{"format": "\xff"}'),
        BundleError,
        "manifest.json",
    ),
    ("signed manifest a list", lambda f, k, t: resign(f, k, lambda b: b"[]"), BundleError, "manifest.json"),
    (
        "signed manifest of another format",
        lambda f, k, t: resign(f, k, lambda b: b.update(format="zip")),
        BundleError,
        "manifest.json",
    ),
    (
        "signed manifest of a future version",
        lambda f, k, t: resign(f, k, lambda b: b.update(format_version=2)),
        BundleError,
        "manifest.json",
    ),
    (
        "signed manifest without files",
        lambda f, k, t: resign(f, k, lambda b: b.pop("files")),
        BundleError,
        "manifest.json",
    ),
    (
        "signed manifest with a bad digest",
        lambda f, k, t: resign(f, k, lambda b: b["files"]["model.onnx"].update(sha256="XYZ")),
        BundleError,
        "manifest.json",
    ),
    (
        "signed manifest with a wrong digest",
        lambda f, k, t: resign(f, k, lambda b: b["files"]["model.onnx"].update(sha256="0" * 64)),
        BundleError,
        "model.onnx",
    ),
    (
        "signed manifest with a wrong size",
        lambda f, k, t: resign(f, k, lambda b: b["files"]["model.onnx"].update(size=1)),
        BundleError,
        "model.onnx",
    ),
    (
        "signed manifest without the model",
        lambda f, k, t: resign(f, k, lambda b: b["files"].pop("model.onnx")),
        BundleError,
        "manifest.json",
    ),
    (
        "signed manifest not listing a file",
        lambda f, k, t: resign(f, k, lambda b: b["files"].pop("assets/README.txt")),
        BundleError,
        "assets",
    ),
]


@pytest.mark.parametrize(("tamper", "expected", "named"), [c[1:] for c in TAMPERING], ids=[c[0] for c in TAMPERING])
def test_every_tampering_is_refused_naming_the_path(
    bundle: Path,
    signing_key: Ed25519PrivateKey,
    tmp_path: Path,
    tamper: Tamper,
    expected: type[BundleError],
    named: str,
) -> None:
    verify_bundle(bundle, signing_key.public_key())  # intact before
    tamper(bundle, signing_key, tmp_path)

    with pytest.raises(expected) as info:
        verify_bundle(bundle, signing_key.public_key())
    error = info.value
    if expected is BundleError:
        assert not isinstance(error, BundleSignatureError), error.message
    assert error.status == 422
    assert error.code == ("bad_signature" if expected is BundleSignatureError else "invalid_bundle")
    # "=path": the manifest's own (refused) path, quoted; otherwise a path inside the bundle
    want = repr(named[1:]) if named.startswith("=") else str(bundle / named)
    assert want in error.message, error.message


def test_a_symlinked_bundle_folder_is_refused(bundle: Path, signing_key: Ed25519PrivateKey, tmp_path: Path) -> None:
    link = tmp_path / "current"
    link.symlink_to(bundle, target_is_directory=True)
    with pytest.raises(BundleError, match="symlink") as info:
        verify_bundle(link, signing_key.public_key())
    assert str(link) in info.value.message


def test_a_missing_bundle_folder_is_named(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    with pytest.raises(BundleError, match="does not exist") as info:
        verify_bundle(tmp_path / "nowhere", signing_key.public_key())
    assert str(tmp_path / "nowhere") in info.value.message


# --- keys ----------------------------------------------------------------------------------------


def test_create_keys_writes_a_pair_that_signs_and_verifies(tmp_path: Path) -> None:
    private, public = create_keys(tmp_path / "keys" / "edge.pem", tmp_path / "keys" / "edge.pub")

    assert private.stat().st_mode & 0o777 == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    signature = load_private_key(private).sign(b"manifest")
    load_public_key(public).verify(signature, b"manifest")  # raises if the pair does not match
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["edge.pem", "edge.pub"]


def test_create_keys_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    private, public = create_keys(tmp_path / "k.pem", tmp_path / "k.pub")
    before = (private.read_bytes(), public.read_bytes())

    with pytest.raises(KeyFileError, match="overwrite=True") as info:
        create_keys(private, tmp_path / "other.pub")
    assert str(private) in info.value.message
    with pytest.raises(KeyFileError, match="already exists"):
        create_keys(tmp_path / "other.pem", public)
    assert (private.read_bytes(), public.read_bytes()) == before
    assert not (tmp_path / "other.pub").exists() and not (tmp_path / "other.pem").exists()

    create_keys(private, public, overwrite=True)
    assert private.read_bytes() != before[0] and private.stat().st_mode & 0o777 == 0o600
    assert fingerprint(load_private_key(private).public_key()) == fingerprint(load_public_key(public))


def test_create_keys_refuses_one_file_for_both(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="share one file"):
        create_keys(tmp_path / "k.pem", tmp_path / "k.pem")


def _pem(key: Any, public: bool) -> bytes:
    if public:
        return key.public_key().public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return key.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    ("content", "loader", "message"),
    [
        (None, load_private_key, "does not exist"),
        (None, load_public_key, "does not exist"),
        (b"hello, I am not a key\n", load_private_key, "not a PEM private key"),
        (b"hello, I am not a key\n", load_public_key, "not a PEM public key"),
        (b"", load_public_key, "not a PEM public key"),
        ("ed25519-public", load_private_key, "holds a public key"),
        ("ed25519-private", load_public_key, "holds a private key"),
        ("ec-private", load_private_key, "holds an EC private key; weir signs bundles with Ed25519"),
        ("ec-public", load_public_key, "holds an EC public key; weir verifies bundles with Ed25519"),
        ("encrypted", load_private_key, "encrypted with a password"),
        ("folder", load_public_key, "is not a file"),
    ],
)
def test_key_file_errors_name_the_file(
    tmp_path: Path, content: bytes | str | None, loader: Callable[[Path], Any], message: str
) -> None:
    path = tmp_path / "key.pem"
    ed, ec_key = Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    if content == "folder":
        path.mkdir()
    elif content == "encrypted":
        path.write_bytes(
            ed.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            )
        )
    elif isinstance(content, str):
        kind, visibility = content.split("-")
        path.write_bytes(_pem(ed if kind == "ed25519" else ec_key, public=visibility == "public"))
    elif content is not None:
        path.write_bytes(content)

    with pytest.raises(KeyFileError, match=message) as info:
        loader(path)
    assert str(path) in info.value.message
    assert (info.value.status, info.value.code) == (400, "invalid_key")
    assert isinstance(info.value, ValueError)


def test_a_private_key_readable_by_others_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    private, _ = create_keys(tmp_path / "k.pem", tmp_path / "k.pub")
    private.chmod(0o644)
    with caplog.at_level("WARNING", logger="weir.edge.keys"):
        load_private_key(private)
    assert any(str(private) in r.getMessage() and "chmod 600" in r.getMessage() for r in caplog.records)
