"""`weir keys` and `weir edge` as a user types them (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner, Result

import weir
from weir.cli.context import CliState
from weir.cli.main import app
from weir.edge import BundleError, EdgeModel, EncryptedLog, generate_log_key


def cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args], obj=CliState(connect=weir.connect))


def test_keys_export_sign_verify_tamper_and_import(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    X, y = load_breast_cancer(return_X_y=True)
    with weir.connect(home=home) as ws:
        ws.models.register("cancer", LogisticRegression(max_iter=5000).fit(X, y), input_example=X[:20])
    made = cli(home, "keys", "create", "--private", str(tmp_path / "k.pem"), "--public", str(tmp_path / "k.pub"))
    assert made.exit_code == 0 and "fingerprint" in made.output
    out = tmp_path / "bundle"
    exported = cli(home, "edge", "export", "cancer/1", "--out", str(out), "--optimize", "--json")
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["figures"]["label_agreement"] == 1.0
    unsigned = cli(home, "edge", "verify", str(out), "--public-key", str(tmp_path / "k.pub"))
    assert isinstance(unsigned.exception, BundleError) and "not signed" in unsigned.exception.message
    assert cli(home, "edge", "sign", str(out), "--private-key", str(tmp_path / "k.pem")).exit_code == 0
    verified = cli(home, "edge", "verify", str(out), "--public-key", str(tmp_path / "k.pub"))
    assert verified.exit_code == 0 and "verified" in verified.output
    key = generate_log_key()
    (tmp_path / "log.key").write_bytes(key)
    device = EdgeModel.load(out, public_key=tmp_path / "k.pub", log=EncryptedLog(tmp_path / "log", key))
    device.predict(X[:7])
    imported = cli(
        home,
        "edge",
        "import-log",
        str(tmp_path / "log"),
        "--key",
        str(tmp_path / "log.key"),
        "--endpoint",
        "cancer-edge",
        "--device",
        "lab",
    )
    assert imported.exit_code == 0 and "imported 7 new predictions" in imported.output
    again = cli(
        home,
        "edge",
        "import-log",
        str(tmp_path / "log"),
        "--key",
        str(tmp_path / "log.key"),
        "--endpoint",
        "cancer-edge",
        "--device",
        "lab",
    )
    assert "imported 0 new predictions" in again.output  # a second import adds nothing
    with weir.connect(home=home) as ws:
        from weir.store import PredictionLog

        rows = PredictionLog(ws.settings.prediction_log).read("cancer-edge")
        assert len(rows) == 7 and {"output.proba_0", "output.proba_1"} <= set(rows.columns)
    (out / "extra.txt").write_text("not listed")
    tampered = cli(home, "edge", "verify", str(out), "--public-key", str(tmp_path / "k.pub"))
    assert isinstance(tampered.exception, BundleError) and "extra.txt" in tampered.exception.message
    assert np.isfinite(device.predict(X[:1]).probabilities).all()  # type: ignore[arg-type]
