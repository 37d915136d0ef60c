"""What a model runtime is, and which one serves a registered version.

A runtime answers ``predict`` with a :class:`Prediction` (labels or values, probabilities and
class order). :func:`build_runtime` serves a version through onnxruntime whenever it is an ONNX
graph, or a scikit-learn model that converts and gives the same predictions on a check sample;
every other version is served by its own library (the ``native`` runtime). The runtime's
``reason`` says which and why.

>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> from weir.registry.formats.sklearn import SklearnModel
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
>>> loaded = SklearnModel(LogisticRegression().fit(X, [0, 1, 0, 1]), {})
>>> runtime = build_runtime(loaded, X)
>>> runtime.name, runtime.predict(X).predictions.tolist()
('onnxruntime', [0, 1, 0, 1])
>>> runtime.reason.split(";")[0]
'converted by skl2onnx (double: float64 input)'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from weir.errors import SignatureError, ValidationError, WeirError
from weir.registry.signature import Signature, infer_signature
from weir.types import JSONDict, ModelInput

if TYPE_CHECKING:
    from weir.registry.formats.base import LoadedModel
    from weir.serving.runtimes.equivalence import Equivalence
    from weir.serving.runtimes.native import NativeRuntime

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a runtime answers for N rows.

    >>> p = Prediction(np.array([1, 0]), np.array([[0.2, 0.8], [0.9, 0.1]]), (0, 1))
    >>> p.classes[int(p.probabilities[0].argmax())]
    1
    """

    predictions: np.ndarray[Any, Any]
    """(N,) class labels for classifiers, values for regressors ((N, k) for multi-output)."""
    probabilities: np.ndarray[Any, Any] | None = None
    """(N, n_classes) float64 for classifiers with ``predict_proba``, else ``None``."""
    classes: tuple[Any, ...] | None = None
    """Class labels in the probabilities' column order, as plain Python scalars."""


class ModelRuntime:
    """One way of running a loaded model version. Subclasses set ``name`` and implement ``predict``.

    >>> ModelRuntime(reason="example").describe()
    {'runtime': '', 'reason': 'example', 'check': None}
    """

    name: ClassVar[str] = ""

    def __init__(self, *, reason: str, check: Equivalence | None = None) -> None:
        self.reason = reason
        """Why this runtime serves the version."""
        self.check = check
        """The equivalence check made at load (``None`` when none ran)."""

    def predict(self, X: pd.DataFrame | np.ndarray[Any, Any]) -> Prediction:
        """Predict on ``X``, already conformed to the version's signature."""
        raise NotImplementedError

    def describe(self) -> JSONDict:
        """JSON-safe facts about the runtime: its name, the reason, the check's figures."""
        return {
            "runtime": self.name,
            "reason": self.reason,
            "check": None if self.check is None else self.check.to_dict(),
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.reason!r}>"


def plain(value: Any) -> Any:
    """A numpy scalar as the equivalent Python scalar (other values unchanged)."""
    return value.item() if isinstance(value, np.generic) else value


def model_classes(loaded: LoadedModel) -> tuple[Any, ...] | None:
    """A classifier's labels in probability column order (``classes_``, else the format's metadata)."""
    classes = getattr(loaded.native, "classes_", None)
    if classes is None:
        classes = loaded.metadata.get("classes")
    if classes is None:
        return None
    values = classes.tolist() if isinstance(classes, np.ndarray) else list(classes)
    return tuple(plain(value) for value in values)


def build_runtime(
    loaded: LoadedModel,
    sample: pd.DataFrame | np.ndarray[Any, Any] | None,
    *,
    prefer_onnx: bool = True,
    threads: int = 1,
    atol: float = 1e-5,
) -> ModelRuntime:
    """The runtime that serves ``loaded``: onnxruntime when it gives the same predictions, else native.

    ``sample`` (the version's input example) plus 256 rows resampled from it are predicted by both
    runtimes; onnxruntime serves only when labels agree on every row and no probability or value
    differs by more than ``atol`` (plus ``1e-6 * |y|`` for regression values).
    """
    from weir.serving.runtimes.native import NativeRuntime

    if threads < 1:
        raise ValidationError(f"threads must be at least 1, got {threads}.")
    if not atol >= 0:
        raise ValidationError(f"atol must be a non-negative number, got {atol}.")
    chosen = _choose(loaded, sample, prefer_onnx=prefer_onnx, threads=threads, atol=atol)
    runtime = (
        chosen
        if isinstance(chosen, ModelRuntime)
        else NativeRuntime(loaded, reason=chosen[0], check=chosen[1], threads=threads)
    )
    logger.info("%s served by %s: %s", loaded.ref or "model", runtime.name, runtime.reason)
    return runtime


def _choose(
    loaded: LoadedModel,
    sample: ModelInput | None,
    *,
    prefer_onnx: bool,
    threads: int,
    atol: float,
) -> ModelRuntime | tuple[str, Equivalence | None]:
    """An onnxruntime runtime, or why native serves (with the failed check, when one ran)."""
    from weir.edge import convert
    from weir.serving.runtimes import equivalence
    from weir.serving.runtimes.native import NativeRuntime
    from weir.serving.runtimes.onnx import OnnxRuntime, create_session

    if not prefer_onnx:
        return "native: onnxruntime is not preferred for this version (prefer_onnx=False)", None
    if loaded.format not in ("onnx", "sklearn"):
        return (
            f"native: weir converts only scikit-learn models to ONNX; {loaded.format} models would need "
            "onnxmltools, which weir does not use"
        ), None
    if sample is not None and len(sample) == 0:
        sample = None  # nothing to check with
    classes = model_classes(loaded)
    signature = loaded.signature
    if sample is not None and signature is None:
        try:
            signature = infer_signature(sample)
        except ValidationError as exc:
            return f"native: no signature, and none can be inferred from the input example: {exc.message}", None
    columns = (
        None if signature is None or signature.inputs.columns is None else [n for n, _ in signature.inputs.columns]
    )
    native = NativeRuntime(loaded, reason="reference", threads=threads)
    data = expected = None
    if sample is not None and signature is not None:
        try:
            data = convert.check_sample(_conform(sample, signature, columns, native))
        except SignatureError as exc:
            return f"native: the input example does not fit the signature: {exc.message}", None
        try:
            expected = native.predict(data)
        except (WeirError, ValueError, TypeError) as exc:
            return f"native: the model fails on its own input example, so no conversion can be checked: {exc}", None

    def onnx_runtime(session: Any, reason: str, strategy: str) -> OnnxRuntime:
        return OnnxRuntime(
            session,
            reason=reason,
            columns=columns,
            classes=classes,
            has_proba=loaded.has_proba,
            threads=threads,
            strategy=strategy,
        )

    if loaded.format == "onnx":
        session = _session_with_threads(loaded.native, threads)
        runtime = onnx_runtime(session, "stored ONNX graph", "stored graph")
        if data is None or expected is None:
            runtime.reason = "stored ONNX graph, run by onnxruntime (no input example to check it against)"
            return runtime
        check = equivalence.check(expected, runtime, data, atol=atol)
        if check.passed:
            runtime.reason, runtime.check = f"stored ONNX graph; {check.summary()}", check
            return runtime
        return f"native: onnxruntime disagrees with the stored graph's own loader: {check.summary()}", check

    if data is None or expected is None or signature is None:
        return "native: no input example to check the conversion", None
    try:
        width = convert.numeric_width(signature)
    except convert.NotConvertibleError as exc:
        return f"native: {exc}", None
    failures: list[tuple[str, str]] = []  # (strategy, what went wrong)
    last: Equivalence | None = None
    name = type(loaded.native).__name__
    for conversion in convert.conversions(loaded.native, width):
        if conversion.model is None:
            failures.append((conversion.strategy, f"skl2onnx cannot convert {name}: {conversion.error}"))
            continue
        try:
            session = create_session(conversion.model.SerializeToString(), threads)
        except Exception as exc:
            failures.append((conversion.strategy, f"onnxruntime cannot load the converted graph: {_first_line(exc)}"))
            continue
        runtime = onnx_runtime(session, "", conversion.strategy)
        last = equivalence.check(expected, runtime, data, atol=atol)
        if last.passed:
            runtime.reason = f"converted by skl2onnx ({conversion.description}); {last.summary()}"
            runtime.check = last
            return runtime
        failures.append((conversion.strategy, last.summary()))
    problems = {problem for _, problem in failures}
    listed = "; ".join(f"{strategy}: {problem}" for strategy, problem in failures)
    if last is None:
        return f"native: {problems.pop() if len(problems) == 1 else listed}", None
    return f"native: the ONNX conversion disagrees with the model ({listed})", last


def _conform(sample: ModelInput, signature: Signature, columns: list[str] | None, native: NativeRuntime) -> Any:
    if columns is not None and isinstance(sample, np.ndarray):
        sample = native.frame(sample)
    return signature.conform(sample)


def _session_with_threads(session: Any, threads: int) -> Any:
    """The loaded graph in a session of our own (threads, sequential), or the loader's when that fails."""
    from weir.serving.runtimes.onnx import create_session

    model_bytes = getattr(session, "_model_bytes", None)  # kept by onnxruntime for sessions made from bytes
    if not isinstance(model_bytes, bytes):
        return session
    try:
        return create_session(model_bytes, threads)
    except Exception:
        logger.warning("could not re-create the onnx session with %d thread(s); using the loader's", threads)
        return session


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    return message if len(message) <= 300 else message[:297] + "..."
