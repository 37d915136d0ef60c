"""The native runtime: the model's own library (scikit-learn, LightGBM, XGBoost, …) runs it.

It serves every version onnxruntime cannot (or may not): formats weir does not convert, models
skl2onnx cannot convert, conversions that failed the equivalence check.

>>> import numpy as np
>>> from sklearn.linear_model import LinearRegression
>>> from weir.registry.formats.sklearn import SklearnModel
>>> loaded = SklearnModel(LinearRegression().fit([[0.0], [1.0]], [1.0, 3.0]), {})
>>> runtime = NativeRuntime(loaded, reason="native: example")
>>> runtime.predict(np.array([[2.0]])).predictions.round(6).tolist()
[5.0]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weir.errors import SignatureError, ValidationError, WeirError
from weir.serving.runtimes.base import ModelRuntime, Prediction, model_classes

if TYPE_CHECKING:
    from weir.registry.formats.base import LoadedModel
    from weir.serving.runtimes.equivalence import Equivalence


class NativeRuntime(ModelRuntime):
    """``loaded.predict`` and ``loaded.predict_proba``, answered as a :class:`Prediction`.

    A 2-D numpy array given to a model with a column signature becomes a DataFrame with the
    signature's column names first (models fitted on frames warn on bare arrays). With ``threads``,
    each call limits the BLAS and OpenMP pools to that many threads (threadpoolctl, about 50 µs a
    call): OpenMP models such as ``HistGradientBoostingClassifier`` otherwise use every core.
    """

    name = "native"

    def __init__(
        self, loaded: LoadedModel, *, reason: str, check: Equivalence | None = None, threads: int | None = None
    ) -> None:
        super().__init__(reason=reason, check=check)
        self.loaded = loaded
        self.threads = threads
        self._controller: Any = None
        if threads is not None:
            from threadpoolctl import ThreadpoolController

            self._controller = ThreadpoolController()  # made once: it scans the loaded libraries
        signature = loaded.signature
        schema = None if signature is None else signature.inputs.columns
        self._columns = None if schema is None else [name for name, _ in schema]
        self._types = None if schema is None else [_numpy_type(kind) for _, kind in schema]
        self._has_proba = loaded.has_proba
        self._classes = model_classes(loaded)

    def predict(self, X: pd.DataFrame | np.ndarray[Any, Any]) -> Prediction:
        if self._columns is not None and isinstance(X, np.ndarray):
            X = self.frame(X)
        try:
            if self._controller is None:
                return self._predict(X)
            with self._controller.limit(limits=self.threads):
                return self._predict(X)
        except WeirError:
            raise
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"The {self.loaded.format} model rejected the input: {exc}") from exc

    def _predict(self, X: Any) -> Prediction:
        predictions = np.asarray(self.loaded.predict(X))
        probabilities = np.asarray(self.loaded.predict_proba(X), dtype=np.float64) if self._has_proba else None
        return Prediction(predictions, probabilities, self._classes)

    def frame(self, X: np.ndarray[Any, Any]) -> pd.DataFrame:
        """A 2-D array's columns under the signature's names, in the signature's numeric types."""
        if self._columns is None or X.ndim != 2 or X.shape[1] != len(self._columns):
            raise SignatureError(
                f"Input has shape {list(X.shape)}, but the model takes {len(self._columns or ())} columns "
                f"({', '.join(self._columns or ())}): send rows of that many values, in that order.",
                expected=len(self._columns or ()),
                got=list(X.shape),
            )
        columns: dict[str, Any] = {}
        for j, (name, kind) in enumerate(zip(self._columns or [], self._types or [], strict=True)):
            column = X[:, j]
            if kind is not None and column.dtype != kind:
                try:
                    cast = column.astype(kind)
                except (ValueError, TypeError) as exc:
                    raise SignatureError(f"Column {name!r} cannot be read as {kind}: {exc}.", column=name) from exc
                if kind.kind in "biu" and not np.array_equal(cast, column):
                    raise SignatureError(
                        f"Column {name!r} takes {kind} values; got {column[cast != column][0]!r}.", column=name
                    )
                column = cast
            columns[name] = column
        return pd.DataFrame(columns)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "format": self.loaded.format, "threads": self.threads}


def _numpy_type(kind: str) -> np.dtype[Any] | None:
    """The numpy dtype of a numeric signature type (``None`` for strings, categories, datetimes)."""
    try:
        dtype = np.dtype(kind)
    except TypeError:
        return None
    return dtype if dtype.kind in "biuf" else None
