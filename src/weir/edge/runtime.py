"""The minimal edge runtime: verify a signed bundle, then predict with onnxruntime on the CPU.

It needs only numpy, onnxruntime and cryptography. :meth:`EdgeModel.load` verifies the bundle before
anything is loaded and builds the session from the very bytes it hashed. :meth:`EdgeModel.predict` takes a
2-D array, a dict of columns, a single row dict or a list of row dicts, checks them against the manifest's
columns (naming a missing or unknown column, a wrong width, a non-numeric value; NaN and None pass as
missing values) and casts them to the model's dtype. With ``log=EncryptedLog(...)`` every predicted row is
appended to an encrypted local log; a failure to log never fails a prediction, it is counted in
``log_failures_``.

>>> import pathlib, tempfile
>>> import numpy as np
>>> from onnx import TensorProto, helper, numpy_helper
>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> from weir.edge.bundle import write_bundle
>>> weights = numpy_helper.from_array(np.array([[1.0], [2.0]], dtype=np.float32), "w")
>>> graph = helper.make_graph(
...     [helper.make_node("MatMul", ["X", "w"], ["y"])], "double_the_second",
...     [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])], [weights])
>>> onnx_bytes = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
>>> key = Ed25519PrivateKey.generate()
>>> folder = write_bundle(pathlib.Path(tempfile.mkdtemp()) / "b", onnx_bytes,
...     inputs={"name": "X", "dtype": "float32", "columns": ["a", "b"]}, outputs={"value": "y"},
...     source={"ref": "demo@1"}, signature={}, equivalence={}, quantization="none", private_key=key)
>>> model = EdgeModel.load(folder, public_key=key.public_key())
>>> model.predict([{"a": 1, "b": 10}, {"a": 2, "b": 20}]).values.tolist()
[21.0, 42.0]
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from weir.edge.bundle import BundleError, Manifest, PublicKeyLike, read_verified_model
from weir.edge.encrypted_log import EncryptedLog
from weir.errors import ModelLoadError, NotFittedError, ValidationError, WeirError
from weir.errors import SignatureError as InputSignatureError

logger = logging.getLogger(__name__)

_ORT_TYPES = {"float32": "tensor(float)", "float64": "tensor(double)"}
_NAMES_SHOWN = 8

__all__ = ["EdgeModel", "EdgePrediction", "InputMismatchError"]


class InputMismatchError(InputSignatureError):
    """Input that does not fit the bundle's columns; the message names the column (and row)."""


@dataclass(frozen=True)
class EdgePrediction:
    """What :meth:`EdgeModel.predict` returns: labels (or values for a regressor), probabilities, classes.

    >>> p = EdgePrediction(labels=np.array([1, 0]), probabilities=np.array([[0.2, 0.8], [0.9, 0.1]]), classes=(0, 1))
    >>> len(p), p.labels.tolist()
    (2, [1, 0])
    """

    labels: np.ndarray[Any, Any]
    probabilities: np.ndarray[Any, Any] | None = None
    classes: tuple[Any, ...] | None = None

    @property
    def values(self) -> np.ndarray[Any, Any]:
        """The predictions themselves: the values of a regressor, the labels of a classifier."""
        return self.labels

    def __len__(self) -> int:
        return len(self.labels)


class EdgeModel:
    """A verified bundle with an onnxruntime CPU session; build it with :meth:`EdgeModel.load`.

    >>> EdgeModel().predict([[1.0, 2.0]])
    Traceback (most recent call last):
    ...
    weir.errors.NotFittedError: This EdgeModel holds no bundle; create it with EdgeModel.load(folder, public_key=...).
    """

    def __init__(self, *, intra_op_num_threads: int = 1, log: EncryptedLog | None = None) -> None:
        self.intra_op_num_threads = intra_op_num_threads
        self.log = log

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike[str],
        *,
        public_key: PublicKeyLike,
        intra_op_num_threads: int = 1,
        log: EncryptedLog | None = None,
    ) -> EdgeModel:
        """Verify the bundle in ``folder`` against ``public_key``, then load its model."""
        model = cls(intra_op_num_threads=intra_op_num_threads, log=log)
        model._load(Path(folder), public_key)
        return model

    def __repr__(self) -> str:
        manifest: Manifest | None = getattr(self, "manifest_", None)
        where = f"{str(self.folder_)!r}, model={manifest.model_ref!r}" if manifest else "not loaded"
        return f"EdgeModel({where})"

    @property
    def columns(self) -> tuple[str, ...]:
        """The input columns, in the order the model takes them."""
        return self._manifest().inputs.columns

    # --- loading -------------------------------------------------------------------------------

    def _load(self, folder: Path, public_key: PublicKeyLike) -> None:
        if not isinstance(self.intra_op_num_threads, int) or self.intra_op_num_threads < 1:
            threads = self.intra_op_num_threads
            raise ValidationError(f"intra_op_num_threads must be a positive integer; got {threads!r}.")
        manifest, model_bytes = read_verified_model(folder, public_key)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_num_threads
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelLoadError(f"onnxruntime cannot load {folder / 'model.onnx'}: {exc}") from exc
        _check_session(folder, manifest, session)
        self.folder_ = folder
        self.manifest_ = manifest
        self.session_ = session
        self.log_failures_ = 0
        self._lock = threading.Lock()
        logger.info("Loaded edge bundle %s (%s, manifest %s)", folder, manifest.model_ref, manifest.digest[:12])

    def _manifest(self) -> Manifest:
        manifest: Manifest | None = getattr(self, "manifest_", None)
        if manifest is None:
            raise NotFittedError(
                "This EdgeModel holds no bundle; create it with EdgeModel.load(folder, public_key=...)."
            )
        return manifest

    # --- predicting ----------------------------------------------------------------------------

    def predict(self, X: Any) -> EdgePrediction:
        """Predict rows given as a 2-D array, a dict of columns, one row dict or a list of row dicts."""
        manifest = self._manifest()
        matrix = _to_matrix(X, manifest.inputs.columns)
        outputs = manifest.outputs
        names = [name for name in (outputs.label, outputs.probabilities, outputs.value) if name is not None]
        feed = {manifest.inputs.name: matrix.astype(manifest.inputs.dtype, copy=False)}
        try:
            results = dict(zip(names, self.session_.run(names, feed), strict=True))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise WeirError(f"The model of {self.folder_} failed to predict {len(matrix)} row(s): {exc}") from exc
        classes = outputs.classes
        probabilities = None
        if outputs.probabilities is not None:
            probabilities, classes = _probabilities(results[outputs.probabilities], classes, len(matrix), manifest)
        if outputs.value is not None:
            labels = np.asarray(results[outputs.value])
            if labels.ndim == 2 and labels.shape[1] == 1:
                labels = labels[:, 0]
        elif outputs.label is not None:
            labels = np.asarray(results[outputs.label]).reshape(len(matrix))
        else:
            assert probabilities is not None
            picked = probabilities.argmax(axis=1)
            labels = np.asarray(classes, dtype=object)[picked] if classes is not None else picked
        prediction = EdgePrediction(labels=labels, probabilities=probabilities, classes=classes)
        if self.log is not None and len(matrix):
            self._log(matrix, prediction)
        return prediction

    def _log(self, matrix: np.ndarray[Any, Any], prediction: EdgePrediction) -> None:
        assert self.log is not None
        manifest = self.manifest_
        try:
            now = datetime.now(UTC).isoformat(timespec="microseconds")
            records = []
            for i, row in enumerate(matrix.tolist()):
                outputs: dict[str, Any]
                if manifest.outputs.value is not None:
                    outputs = {"value": _json_number(prediction.labels[i])}
                else:
                    outputs = {"label": _json_number(prediction.labels[i])}
                    if prediction.probabilities is not None:
                        outputs["probabilities"] = [_json_number(p) for p in prediction.probabilities[i]]
                records.append(
                    {
                        "id": uuid.uuid4().hex,  # the device's request id: stable across imports
                        "time": now,
                        "model": manifest.model_ref,
                        "source_model": manifest.source.get("model"),
                        "source_version": manifest.source.get("version"),
                        "bundle": manifest.digest,
                        "inputs": {c: _json_number(v) for c, v in zip(manifest.inputs.columns, row, strict=True)},
                        "outputs": outputs,
                    }
                )
            self.log.append(records)
        except Exception as exc:  # a log that fails must never fail the prediction
            with self._lock:
                self.log_failures_ += 1
                failures = self.log_failures_
            logger.warning("Prediction log %s failed (%d failures so far): %s", self.log.folder, failures, exc)


# --- input conversion ------------------------------------------------------------------------------


def _to_matrix(X: Any, columns: tuple[str, ...]) -> np.ndarray[Any, Any]:
    """``X`` as a float64 matrix of shape (n, len(columns)), columns in the model's order."""
    if isinstance(X, np.ndarray):
        return _from_array(X, columns)
    if isinstance(X, Mapping):
        return _from_columns(X, columns)
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a data frame, without importing pandas
        return _from_columns({str(c): np.asarray(X[c]) for c in X.columns}, columns)
    if isinstance(X, Sequence) and not isinstance(X, str | bytes):
        if not X:
            return np.empty((0, len(columns)))
        if all(isinstance(row, Mapping) for row in X):
            return _from_rows(X, columns)
        if any(isinstance(row, Mapping) for row in X):
            raise InputMismatchError("The rows mix dicts and lists; give every row as a dict (or pass a 2-D array).")
        try:
            array = np.asarray(X)
        except ValueError as exc:
            raise InputMismatchError(
                f"The rows have different lengths; give every row {len(columns)} values: {_names(columns)}."
            ) from exc
        return _from_array(array if array.dtype.kind in "biuf" else np.asarray(X, dtype=object), columns)
    raise InputMismatchError(
        f"predict() takes a 2-D numpy array, a dict of columns, a row dict or a list of row dicts; got "
        f"{type(X).__name__}."
    )


def _from_array(X: np.ndarray[Any, Any], columns: tuple[str, ...]) -> np.ndarray[Any, Any]:
    width = len(columns)
    if X.ndim == 1:
        raise InputMismatchError(
            f"Got a 1-D array of shape {X.shape}; pass a 2-D array of shape (n, {width}) "
            "(for one row: X.reshape(1, -1))."
        )
    if X.ndim != 2:
        raise InputMismatchError(f"Got an array of shape {X.shape}; pass a 2-D array of shape (n, {width}).")
    if X.shape[1] != width:
        raise InputMismatchError(
            f"The input has {X.shape[1]} columns; the model takes {width}: {_names(columns)} (in this order)."
        )
    if X.dtype.kind in "biuf":
        return X.astype(np.float64)
    return np.column_stack([_numeric(X[:, j], name) for j, name in enumerate(columns)]).reshape(len(X), width)


def _from_columns(data: Mapping[Any, Any], columns: tuple[str, ...]) -> np.ndarray[Any, Any]:
    _check_names(data.keys(), columns, "")
    single = [name for name in columns if np.ndim(data[name]) == 0]
    if single and len(single) != len(columns):
        many = next(name for name in columns if name not in single)
        raise InputMismatchError(
            f"Column {single[0]!r} holds one value while column {many!r} holds a list; give every column a list "
            "(or every column one value, for one row)."
        )
    values = {name: [data[name]] if single else data[name] for name in columns}
    lengths = {name: len(np.asarray(value, dtype=object).reshape(-1)) for name, value in values.items()}
    if len(set(lengths.values())) > 1:
        first, other = columns[0], next(n for n in columns if lengths[n] != lengths[columns[0]])
        raise InputMismatchError(
            f"Column {other!r} has {lengths[other]} values but column {first!r} has {lengths[first]}; "
            "give every column the same number of values."
        )
    n = lengths[columns[0]]
    if n == 0:
        return np.empty((0, len(columns)))
    return np.column_stack([_numeric(values[name], name) for name in columns])


def _from_rows(rows: Sequence[Mapping[Any, Any]], columns: tuple[str, ...]) -> np.ndarray[Any, Any]:
    expected = set(columns)
    for i, row in enumerate(rows):
        if row.keys() != expected:
            _check_names(row.keys(), columns, f"Row {i}: ")
    return _from_columns({name: [row[name] for row in rows] for name in columns}, columns)


def _check_names(given: Any, columns: tuple[str, ...], where: str) -> None:
    given = list(given)
    missing = [name for name in columns if name not in given]
    unknown = [name for name in given if name not in columns]
    if not missing and not unknown:
        return
    parts = []
    if missing:
        parts.append(f"missing column(s) {_names(missing)}")
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(str(name), missing or list(columns), n=1)
            hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
        parts.append(f"unknown column(s) {', '.join(hints[:_NAMES_SHOWN])}")
    message = f"{where}{'; '.join(parts)}. The model's columns are {_names(columns)}."
    raise InputMismatchError(message[0].upper() + message[1:])


def _numeric(values: Any, name: str) -> np.ndarray[Any, Any]:
    """One column as float64; NaN and None are missing values; strings and other objects are refused."""
    array = np.asarray(values)
    if array.dtype.kind not in "biufO" and not isinstance(values, np.ndarray):
        array = np.asarray(values, dtype=object)  # keep each value as given, to name the first bad one
    if array.ndim != 1:
        array = array.reshape(-1) if array.ndim == 0 else array
        if array.ndim != 1:
            raise InputMismatchError(f"Column {name!r} must be a flat list of numbers; got shape {array.shape}.")
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    if array.dtype.kind == "O":
        for i, value in enumerate(array):
            if value is not None and not isinstance(value, bool | int | float | np.bool_ | np.integer | np.floating):
                raise _not_numeric(name, i, value)
        return np.array([np.nan if v is None else v for v in array], dtype=np.float64)
    for i, value in enumerate(array):
        raise _not_numeric(name, i, value.item() if hasattr(value, "item") else value)
    return array.astype(np.float64)


def _not_numeric(name: str, row: int, value: Any) -> InputMismatchError:
    return InputMismatchError(
        f"Column {name!r} row {row} holds {value!r} ({type(value).__name__}); the model takes numbers "
        "(NaN or None for a missing value)."
    )


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_NAMES_SHOWN])
    return shown + (f" … ({len(names)} in all)" if len(names) > _NAMES_SHOWN else "")


# --- outputs -------------------------------------------------------------------------------------


def _probabilities(
    raw: Any, classes: tuple[Any, ...] | None, n: int, manifest: Manifest
) -> tuple[np.ndarray[Any, Any], tuple[Any, ...] | None]:
    """Class probabilities as an (n, k) array, from a tensor or from a ZipMap (a list of dicts)."""
    if isinstance(raw, np.ndarray):
        probabilities = raw.reshape(n, -1) if raw.ndim != 2 else raw
        if classes is not None and probabilities.shape[1] != len(classes):
            raise BundleError(
                f"Output {manifest.outputs.probabilities!r} has {probabilities.shape[1]} columns but the manifest "
                f"lists {len(classes)} classes; rebuild the bundle."
            )
        return probabilities, classes
    rows = list(raw)
    if not rows:
        return np.empty((0, len(classes or ())), dtype=np.float32), classes
    keys = tuple(rows[0].keys()) if classes is None else classes
    try:
        table = [[row[k] for k in keys] for row in rows]
    except KeyError as exc:
        raise BundleError(
            f"Output {manifest.outputs.probabilities!r} has classes {list(rows[0])} but the manifest lists "
            f"{list(keys)}; rebuild the bundle."
        ) from exc
    return np.asarray(table, dtype=np.float32), tuple(keys)


def _check_session(folder: Path, manifest: Manifest, session: ort.InferenceSession) -> None:
    """The model's input and outputs must be those the manifest names."""
    inputs = {i.name: i for i in session.get_inputs()}
    spec = manifest.inputs
    if len(inputs) != 1 or spec.name not in inputs:
        raise BundleError(
            f"{folder / 'model.onnx'} takes the input(s) {sorted(inputs)}; the manifest names one input {spec.name!r}."
        )
    tensor = inputs[spec.name]
    if tensor.type != _ORT_TYPES[spec.dtype]:
        raise BundleError(f"{folder / 'model.onnx'} takes {tensor.type} but the manifest says {spec.dtype}.")
    shape = tensor.shape
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != len(spec.columns)):
        raise BundleError(
            f"{folder / 'model.onnx'} takes input of shape {shape}; the manifest lists {len(spec.columns)} columns."
        )
    available = {o.name for o in session.get_outputs()}
    out = manifest.outputs
    for role, name in (("label", out.label), ("probabilities", out.probabilities), ("value", out.value)):
        if name is not None and name not in available:
            raise BundleError(
                f"The manifest's {role} output {name!r} is not an output of {folder / 'model.onnx'} "
                f"(its outputs: {sorted(available)})."
            )


def _json_number(value: Any) -> Any:
    """A numpy scalar as plain JSON: numbers stay numbers, NaN and infinity become None."""
    item = value.item() if hasattr(value, "item") else value
    if isinstance(item, float) and not math.isfinite(item):
        return None
    return item
