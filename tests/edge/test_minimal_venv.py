"""``weir.edge`` runs on a device holding only numpy, onnxruntime and cryptography (and weir, without deps).

The test builds a fresh virtual environment (no system site packages), installs exactly those three from
wheels downloaded once per session (with their own dependencies), installs weir with ``--no-deps`` from a
copy of this checkout, and runs a script in it that checks pandas and scikit-learn are absent, verifies a
signed bundle made here, predicts, and writes and reads an encrypted log. It needs PyPI (or the
configured index) the first time; without it the test fails and says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from tests.edge.test_bundle import breast_cancer, bundle_kwargs, classifier
from weir.edge import create_keys, generate_log_key, write_bundle

ROOT = Path(__file__).resolve().parents[2]
EDGE_PACKAGES = ("numpy", "onnxruntime", "cryptography")
FORBIDDEN = ("pandas", "sklearn", "scipy", "sqlalchemy", "skl2onnx", "onnx", "pyarrow", "duckdb", "fastapi")

CHILD = textwrap.dedent(
    """
    import importlib.util, json, shutil, sys
    from pathlib import Path

    forbidden = {forbidden!r}
    for name in forbidden:
        assert importlib.util.find_spec(name) is None, f"{{name}} is installed in the edge venv"
    try:
        import pandas  # noqa: F401
    except ModuleNotFoundError:
        pass
    else:
        raise AssertionError("pandas imported in the edge venv")

    import numpy as np
    import weir.edge as edge

    loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
    assert not loaded, loaded
    weir_modules = sorted(m for m in sys.modules if m == "weir" or m.startswith("weir."))
    assert all(m in ("weir", "weir.errors") or m.startswith("weir.edge") for m in weir_modules), weir_modules

    args = json.loads(sys.argv[1])
    log = edge.EncryptedLog(args["log"], edge.load_log_key(args["log_key"]), max_bytes=1024)
    model = edge.EdgeModel.load(args["bundle"], public_key=args["public_key"], log=log)
    X = np.array(args["X"])
    by_array = model.predict(X)
    by_rows = model.predict([dict(zip(model.columns, row)) for row in args["X"]])
    assert by_rows.labels.tolist() == by_array.labels.tolist()
    records = edge.read_encrypted_log(args["log"], edge.load_log_key(args["log_key"]))

    tampered = Path(args["tmp"]) / "tampered"
    shutil.copytree(args["bundle"], tampered)
    data = bytearray((tampered / "model.onnx").read_bytes())
    data[-1] ^= 1
    (tampered / "model.onnx").write_bytes(bytes(data))
    try:
        edge.verify_bundle(tampered, args["public_key"])
    except edge.BundleError as exc:
        refused = exc.message
    else:
        refused = None

    print(json.dumps({{
        "weir": edge.__file__,
        "labels": by_array.labels.tolist(),
        "probabilities": by_array.probabilities.tolist(),
        "records": len(records),
        "logged_labels": [r["outputs"]["label"] for r in records],
        "log_files": len(log.files),
        "refused": refused,
        "weir_modules": weir_modules,
    }}))
    """
)


def _run(command: list[str], what: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {result.returncode}): {' '.join(command)}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
        )
    return result


@pytest.fixture(scope="session")
def edge_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only numpy, onnxruntime, cryptography (and their dependencies) plus weir without deps."""
    base = tmp_path_factory.mktemp("edge-venv")
    wheels = base / "wheels"
    pins = [f"{name}=={metadata.version(name)}" for name in EDGE_PACKAGES]
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(wheels), *pins],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if download.returncode != 0:
        pytest.fail(
            "Cannot download the edge wheels (" + ", ".join(pins) + ") from PyPI or the configured index: "
            "this test needs network access to PyPI the first time it runs in a session.\n" + download.stderr[-3000:]
        )

    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], "Creating the edge venv")
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    _run([*pip, "--no-index", "--find-links", str(wheels), *pins], "Installing the edge wheels")

    # weir itself, without its dependencies, from a copy of the checkout (so no build/ lands in the repo)
    source = base / "weir-src"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    _run([*pip, "--no-deps", str(source)], "Installing weir with --no-deps")
    return python


@pytest.mark.slow
def test_weir_edge_runs_in_a_venv_without_the_rest_of_weirs_dependencies(edge_venv: Path, tmp_path: Path) -> None:
    sk_model, onnx_bytes, outputs = classifier()
    X, _, columns = breast_cancer()
    X = X[:25]
    private, public = create_keys(tmp_path / "edge.pem", tmp_path / "edge.pub")
    folder = write_bundle(tmp_path / "bundle", onnx_bytes, private_key=private, **bundle_kwargs(columns, outputs))
    log_key = tmp_path / "log.key"
    log_key.write_bytes(generate_log_key())
    log_key.chmod(0o600)
    args = {
        "bundle": str(folder),
        "public_key": str(public),
        "log": str(tmp_path / "log"),
        "log_key": str(log_key),
        "X": X.tolist(),
        "tmp": str(tmp_path),
    }
    script = tmp_path / "device.py"
    script.write_text(CHILD.format(forbidden=FORBIDDEN))

    result = _run([str(edge_venv), "-I", str(script), json.dumps(args)], "The edge script in the minimal venv", 120)
    got = json.loads(result.stdout.strip().splitlines()[-1])

    assert got["weir"].startswith(str(edge_venv.parents[1]))  # weir came from the venv, not this checkout
    assert got["labels"] == sk_model.predict(X).tolist()
    np.testing.assert_allclose(got["probabilities"], sk_model.predict_proba(X), atol=1e-5)
    assert got["records"] == 2 * len(X) and got["logged_labels"] == got["labels"] * 2
    assert got["log_files"] >= 2  # the log rotated
    assert got["refused"] is not None and "model.onnx" in got["refused"]
    assert "weir.edge.runtime" in got["weir_modules"]
