"""The servers that ``bench/serving.py`` compares: how each is prepared, started and spoken to.

Each ``prepare_*`` gets the work folder (holding ``model.joblib``, the fitted Pipeline, and
``example.csv``, its first five rows), a port and the worker count, and returns a :class:`Launch`, or
raises :class:`Unavailable` with a one-line reason. MLflow and MLServer run from their own venvs under
``.bench/`` (``bash bench/serving_setup.sh``); the floor and weir from weir's venv.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
SETUP = "bash bench/serving_setup.sh"
THREAD_PINS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}
"""Set in every server's environment: one model thread per worker, as the workers share the cores."""


class Unavailable(Exception):
    """A server that cannot be benched here; the message is the one-line reason."""


@dataclass(frozen=True)
class Route:
    """One row family of the table: a URL path and its bodies (``single`` and ``batch``)."""

    name: str
    path: str
    body: Callable[[pd.DataFrame], bytes]


@dataclass
class Launch:
    command: list[str]
    ready_path: str
    routes: list[Route]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    version: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def v2_body(datatype: str) -> Callable[[pd.DataFrame], bytes]:
    def body(rows: pd.DataFrame) -> bytes:
        tensor = {"name": "input-0", "datatype": datatype, "shape": list(rows.shape)}
        tensor["data"] = rows.to_numpy(dtype=np.float64).ravel().tolist()
        return json.dumps({"inputs": [tensor]}).encode()

    return body


def mlflow_body(rows: pd.DataFrame) -> bytes:
    split = {"columns": list(rows.columns), "data": rows.to_numpy(dtype=np.float64).tolist()}
    return json.dumps({"dataframe_split": split}).encode()


def labels_from(response: Any, rows: int) -> list[Any]:
    """The predicted labels in an MLflow (``predictions``) or V2 (``outputs``) response."""
    if isinstance(response, dict) and "predictions" in response:
        predictions = response["predictions"]
        if isinstance(predictions, dict):  # {"predictions": {"label": [...], ...}}
            predictions = next(iter(predictions.values()))
        return [p if not isinstance(p, dict) else next(iter(p.values())) for p in predictions]
    if isinstance(response, dict) and "outputs" in response:
        for output in response["outputs"]:
            if len(output["data"]) == rows and output.get("shape", [rows])[0] == rows:
                return list(output["data"])
    raise ValueError(f"no labels for {rows} rows in the response {str(response)[:200]}")


def _venv(name: str, module: str) -> Path:
    python = BENCH / name / "bin" / "python"
    if not python.exists():
        raise Unavailable(f"no venv at .bench/{name}: run `{SETUP}`")
    probe = subprocess.run([str(python), "-c", f"import {module}; print({module}.__version__)"], capture_output=True)
    if probe.returncode:
        raise Unavailable(f".bench/{name} cannot import {module}: run `{SETUP}`")
    return python


def _in_venv(python: Path, code: str, *args: str) -> str:
    done = subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True)
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise Unavailable(f"preparing in {python.parent.parent.name}'s venv failed: {tail}")
    return done.stdout.strip()


MLFLOW_SAVE = """
import sys, joblib, pandas as pd, mlflow, mlflow.sklearn
model = joblib.load(sys.argv[1])
example = pd.read_csv(sys.argv[2]).astype("float64")  # as fitted; CSV would make whole numbers int64
# MLflow 3 saves scikit-learn models with skops by default, which refuses HistGradientBoosting's tree
# predictor unless it is named as trusted (we made the file ourselves).
trusted = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
mlflow.sklearn.save_model(model, sys.argv[3], input_example=example, skops_trusted_types=trusted)
print(mlflow.__version__)
"""


def prepare_mlflow(work: Path, port: int, workers: int) -> Launch:
    python = _venv("mlflow", "mlflow")
    model = work / "mlflow-model"
    if model.exists():
        shutil.rmtree(model)
    version = _in_venv(python, MLFLOW_SAVE, str(work / "model.joblib"), str(work / "example.csv"), str(model))
    command = [str(python.parent / "mlflow"), "models", "serve", "-m", str(model), "--env-manager", "local"]
    command += ["-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]
    env = {"PATH": f"{python.parent}:{_path()}"}
    return Launch(command, "/ping", [Route("mlflow", "/invocations", mlflow_body)], work, env, f"mlflow {version}")


MLSERVER_CHECK = """
import sys, joblib, mlserver, sklearn
joblib.load(sys.argv[1])
print(f"mlserver {mlserver.__version__}")
"""


def prepare_mlserver(work: Path, port: int, workers: int, parallel_workers: int | None = None) -> Launch:
    python = _venv("mlserver", "mlserver")
    version = _in_venv(python, MLSERVER_CHECK, str(work / "model.joblib"))
    repo = work / "mlserver"
    (repo / "bc").mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "model.joblib", repo / "bc" / "model.joblib")
    model_settings = {
        "name": "bc",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (repo / "bc" / "model-settings.json").write_text(json.dumps(model_settings))
    pool = workers if parallel_workers is None else parallel_workers
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": pool,
        "debug": False,  # no per-request access log
    }
    (repo / "settings.json").write_text(json.dumps(settings))
    command = [str(python.parent / "mlserver"), "start", str(repo)]
    route = Route("mlserver", "/v2/models/bc/infer", v2_body("FP64"))
    env = {"PATH": f"{python.parent}:{_path()}"}
    return Launch(command, "/v2/models/bc/ready", [route], repo, env, f"{version}, parallel_workers={pool}")


def convert_onnx(model: Any, features: int, out: Path) -> str:
    """The Pipeline as ONNX (float32 input, labels first, no ZipMap); returns onnxruntime's version."""
    import onnxruntime
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(model.steps[-1][1]): {"zipmap": False}}
    onx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, features]))], options=options)
    out.write_bytes(onx.SerializeToString())
    return str(onnxruntime.__version__)


def prepare_floor(work: Path, port: int, workers: int, model: Any, features: int) -> Launch:
    version = convert_onnx(model, features, work / "model.onnx")
    script = Path(__file__).resolve().parent / "serving_floor.py"
    command = [sys.executable, str(script), str(work / "model.onnx"), "--port", str(port), "--workers", str(workers)]
    route = Route("floor", "/v2/models/bc/infer", v2_body("FP32"))
    return Launch(command, "/v2/health/ready", [route], work, {}, f"uvicorn+starlette+onnxruntime {version}")


def prepare_weir(work: Path, port: int, workers: int, model: Any, example: pd.DataFrame) -> Launch:
    cli = ROOT / ".venv" / "bin" / "weir"
    probe = subprocess.run([str(cli), "serve", "--help"], capture_output=True, text=True)
    if probe.returncode:
        raise Unavailable("weir has no `serve` command yet (`.venv/bin/weir serve --help` fails)")
    import weir

    home = work / "weir-home"
    ws = weir.connect(home=home)
    try:
        ws.models.register("breast_cancer", model, input_example=example, aliases=["champion"])
    finally:
        ws.close()
    deploy = subprocess.run(
        [str(cli), "--home", str(home), "deploy", "bc", "breast_cancer@champion"], capture_output=True, text=True
    )
    if deploy.returncode:
        tail = (deploy.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise Unavailable(f"`weir deploy bc breast_cancer@champion` failed: {tail}")
    command = [str(cli), "--home", str(home), "serve", "--port", str(port), "--workers", str(workers)]
    routes = [
        Route("weir-v2", "/v2/models/bc/infer", v2_body("FP64")),
        Route("weir-mlflow", "/endpoints/bc/invocations", mlflow_body),
    ]
    return Launch(command, "/v2/health/ready", routes, work, {}, f"weir {weir.__version__}")


def _path() -> str:
    return os.environ.get("PATH", "")
