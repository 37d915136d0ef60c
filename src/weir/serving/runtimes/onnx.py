"""The onnxruntime runtime: a converted (or stored) ONNX graph in an ``InferenceSession`` on the CPU.

The fast path is a numpy array fed straight to ``session.run``: a graph with one input takes the
array as it comes, after at most one cast to the input's dtype. DataFrames (and graphs with one
input per column) go through a slower path that builds the feed column by column.

>>> import numpy as np
>>> from skl2onnx import to_onnx
>>> from sklearn.linear_model import LinearRegression
>>> X = np.array([[0.0], [1.0], [2.0]])
>>> graph = to_onnx(LinearRegression().fit(X, [1.0, 3.0, 5.0]), X)
>>> runtime = OnnxRuntime(create_session(graph.SerializeToString()), reason="example")
>>> runtime.predict(np.array([[3.0]])).predictions.round(6).tolist()
[7.0]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weir.errors import SignatureError, ValidationError
from weir.registry.formats.onnx import LABEL_OUTPUTS, ONNX_DTYPES, PROBA_OUTPUTS
from weir.serving.runtimes.base import ModelRuntime, Prediction

if TYPE_CHECKING:
    from weir.serving.runtimes.equivalence import Equivalence


def create_session(model: bytes, threads: int = 1) -> Any:
    """An ``InferenceSession`` on the CPU: ``threads`` intra-op threads, one inter-op, sequential."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


class OnnxRuntime(ModelRuntime):
    """``session.run`` with the model verbs: labels and probabilities, or values.

    ``columns`` are the signature's column names (``None`` for a tensor signature); ``classes``
    the class labels in probability order; ``has_proba`` whether the probabilities are answered.
    """

    name = "onnxruntime"

    def __init__(
        self,
        session: Any,
        *,
        reason: str,
        columns: list[str] | None = None,
        classes: tuple[Any, ...] | None = None,
        has_proba: bool = True,
        threads: int = 1,
        strategy: str | None = None,
        check: Equivalence | None = None,
    ) -> None:
        super().__init__(reason=reason, check=check)
        self.session = session
        self.columns = columns
        self.classes = classes
        self.threads = threads
        self.strategy = strategy
        self._inputs = list(session.get_inputs())
        outputs = [o.name for o in session.get_outputs()]
        label = next((o for o in outputs if o in LABEL_OUTPUTS), None)
        proba = next((o for o in outputs if o in PROBA_OUTPUTS), None)
        self._fetch = [label or outputs[0]]
        self._with_proba = bool(has_proba and label is not None and proba is not None)
        if self._with_proba:
            self._fetch.append(str(proba))
        self._run = session.run
        # skl2onnx answers float and bool class labels as int64: give them back in the classes' own type
        kinds = np.asarray(classes).dtype if classes else None
        self._label_dtype = kinds if kinds is not None and kinds.kind in "fb" else None
        first = self._inputs[0]
        self._single = len(self._inputs) == 1
        self._name = first.name
        self._dtype = np.dtype(ONNX_DTYPES.get(first.type, np.float32))
        self._rank = len(first.shape)
        self._fixed = tuple((axis, size) for axis, size in enumerate(first.shape) if isinstance(size, int))
        if self._single and self._rank == 2 and not self._fixed and columns is not None:
            self._fixed = ((1, len(columns)),)
        # the common case, checked without a loop: a (-1, width) table
        self._width = self._fixed[0][1] if self._rank == 2 and len(self._fixed) == 1 and self._fixed[0][0] == 1 else -1

    def predict(self, X: pd.DataFrame | np.ndarray[Any, Any]) -> Prediction:
        if self._single and type(X) is np.ndarray:  # the hot path: no pandas, at most one cast
            if self._width >= 0:
                if X.ndim != 2 or X.shape[1] != self._width:
                    raise self._shape_error(X)
            elif not self._fits(X):
                raise self._shape_error(X)
            if X.dtype != self._dtype:
                X = self._cast(X)
            feed = {self._name: X}
        else:
            feed = self._feed(X)
        try:
            outputs = self._run(self._fetch, feed)
        except Exception as exc:
            raise ValidationError(f"onnxruntime rejected the input: {exc}") from exc
        values = outputs[0]
        if values.ndim == 2 and values.shape[1] == 1:
            values = values.ravel()
        if values.dtype == np.float32:
            values = values.astype(np.float64)
        elif self._label_dtype is not None and values.dtype != self._label_dtype:
            values = values.astype(self._label_dtype)
        if not self._with_proba:
            return Prediction(values, None, self.classes)
        probabilities = outputs[1]
        if isinstance(probabilities, list):  # ZipMap: one {class: probability} dict per row
            probabilities = self._unzip(probabilities)
        return Prediction(values, probabilities.astype(np.float64), self.classes)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "onnx": {
                "inputs": [{"name": i.name, "type": i.type, "shape": _dims(i.shape)} for i in self._inputs],
                "outputs": list(self._fetch),
                "strategy": self.strategy,
                "threads": self.threads,
            },
        }

    def _fits(self, X: np.ndarray[Any, Any]) -> bool:
        return X.ndim == self._rank and all(X.shape[axis] == size for axis, size in self._fixed)

    def _cast(self, X: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        try:
            return X.astype(self._dtype)
        except (ValueError, TypeError) as exc:
            raise SignatureError(
                f"Input of dtype {X.dtype} cannot be read as {self._dtype}: {exc}; send numbers.",
                expected=str(self._dtype),
                got=str(X.dtype),
            ) from exc

    def _shape_error(self, X: np.ndarray[Any, Any]) -> SignatureError:
        expected = [-1] * self._rank
        for axis, size in self._fixed:
            expected[axis] = size
        names = f" ({', '.join(self.columns)})" if self.columns else ""
        return SignatureError(
            f"Input has shape {list(X.shape)}, but the model expects {expected}{names} (-1 is any size).",
            expected=expected,
            got=list(X.shape),
        )

    def _feed(self, X: Any) -> dict[str, Any]:
        """The feed for a DataFrame, or for a graph with one input per column."""
        if isinstance(X, pd.DataFrame):
            if self.columns is not None and list(X.columns) != self.columns:
                missing = [c for c in self.columns if c not in X.columns]
                raise SignatureError(
                    f"Input columns {list(X.columns)} are not the model's columns in order ({', '.join(self.columns)})"
                    + (f"; missing {', '.join(map(repr, missing))}." if missing else "."),
                    missing=missing,
                )
            if self._single:
                try:
                    array = X.to_numpy(dtype=self._dtype)
                except (ValueError, TypeError) as exc:
                    raise SignatureError(f"Input cannot be read as {self._dtype}: {exc}; send numbers.") from exc
                if not self._fits(array):
                    raise self._shape_error(array)
                return {self._name: array}
            columns: dict[str, np.ndarray[Any, Any]] = {name: X[name].to_numpy() for name in X.columns}
        else:
            array = np.asarray(X)
            if self._single:
                if not self._fits(array):
                    raise self._shape_error(array)
                return {self._name: array if array.dtype == self._dtype else self._cast(array)}
            names = self.columns or [i.name for i in self._inputs]
            if array.ndim != 2 or array.shape[1] != len(names):
                raise SignatureError(
                    f"Input has shape {list(array.shape)}, but the model takes {len(names)} columns "
                    f"({', '.join(names)}).",
                    expected=len(names),
                    got=list(array.shape),
                )
            columns = {name: array[:, j] for j, name in enumerate(names)}
        feed: dict[str, Any] = {}
        for position, inp in enumerate(self._inputs):
            column: np.ndarray[Any, Any] | None = columns.get(inp.name)
            if column is None:
                if len(columns) != len(self._inputs):
                    raise SignatureError(
                        f"The onnx graph takes inputs {', '.join(i.name for i in self._inputs)}; "
                        f"the input has {', '.join(columns)}.",
                    )
                column = list(columns.values())[position]
            if len(inp.shape) == 2:
                column = column.reshape(-1, 1)
            dtype = ONNX_DTYPES.get(inp.type, column.dtype)
            try:
                feed[inp.name] = column.astype(dtype, copy=False)
            except (ValueError, TypeError) as exc:
                raise SignatureError(f"Column {inp.name!r} cannot be read as {np.dtype(dtype)}: {exc}.") from exc
        return feed

    def _unzip(self, rows: list[dict[Any, float]]) -> np.ndarray[Any, Any]:
        classes = list(self.classes or (rows[0] if rows else ()))
        return np.array([[row[c] for c in classes] for row in rows], dtype=np.float64).reshape(len(rows), len(classes))


def _dims(shape: Any) -> list[Any]:
    return [d if isinstance(d, int | str) or d is None else str(d) for d in shape]
