"""scikit-learn → ONNX conversion with skl2onnx, in the order most likely to match the model exactly.

skl2onnx converts with float32 or float64 inputs. Trees compare float32 features in scikit-learn
too, so a bare tree ensemble converts exactly with float32 inputs; a scaler or a linear model run
in float32 does not (a ``StandardScaler`` + ``HistGradientBoostingClassifier`` pipeline converted
whole in float32 differs by up to 0.08 in probability). So each model gets a list of strategies,
tried in turn until one passes the equivalence check:

- ``split`` (pipelines ending in a tree model): the preprocessing steps in float64, the final
  estimator in float32, joined by a ``Cast``;
- ``double``: the whole model in float64 (linear models and anything that is not a tree model);
- ``float``: the whole model in float32.

skl2onnx is imported only when a conversion runs (it is slow to import).

>>> from weir.registry.signature import infer_signature
>>> numeric_width(infer_signature(np.zeros((2, 3))))
3
>>> [s for s, _ in _strategies(object())]
['double', 'float']
>>> check_sample(np.arange(6.0).reshape(3, 2), rows=2).shape
(5, 2)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weir.registry.signature import Signature

if TYPE_CHECKING:
    import onnx

logger = logging.getLogger(__name__)

SYNTHETIC_ROWS = 256
"""Rows synthesised (column by column, seed 0) beside the input example to check a conversion on."""
INPUT = "input"
"""The name of the converted graph's one input: a 2-D tensor, columns in signature order."""
_CAST = "weir_cast_to_float"
_PREFIX = "weir_pre_"
_DESCRIPTIONS = {
    "split": "split: preprocessing in float64, final estimator in float32, joined by a Cast",
    "double": "double: float64 input",
    "float": "float: float32 input",
}


class NotConvertibleError(Exception):
    """The version's inputs rule out a conversion (internal: the caller falls back to native)."""


@dataclass(frozen=True)
class Conversion:
    """One strategy's outcome: the graph, or why skl2onnx could not make it."""

    strategy: str
    model: onnx.ModelProto | None
    error: str | None = None

    @property
    def description(self) -> str:
        return _DESCRIPTIONS.get(self.strategy, self.strategy)


def numeric_width(signature: Signature) -> int:
    """The number of input columns when every input is numeric (int, float or bool) and 2-D."""
    schema = signature.inputs
    if schema.columns is not None:
        others = [f"{name} ({kind})" for name, kind in schema.columns if not _numeric(kind)]
        if others:
            raise NotConvertibleError(
                f"only all-numeric inputs are converted to ONNX; non-numeric column(s): {', '.join(others)}"
            )
        if not schema.columns:
            raise NotConvertibleError("the signature has no input columns")
        return len(schema.columns)
    shape = schema.shape or ()
    if not _numeric(schema.dtype or "") or len(shape) != 2 or shape[1] < 1:
        raise NotConvertibleError(
            f"only 2-D numeric tensors are converted to ONNX; the input is {schema.dtype} of shape {list(shape)}"
        )
    return shape[1]


def _numeric(type_name: str) -> bool:
    try:
        return np.dtype(type_name).kind in "biuf"
    except TypeError:
        return False


def conversions(model: Any, width: int) -> Iterator[Conversion]:
    """Each strategy's conversion of ``model`` (taking ``width`` columns), best first, made lazily."""
    for strategy, convert in _strategies(model):
        try:
            graph = convert(width)
        except Exception as exc:
            logger.debug("skl2onnx %s conversion of %s failed", strategy, type(model).__name__, exc_info=True)
            yield Conversion(strategy, None, _first_line(exc))
            continue
        yield Conversion(strategy, graph)


def _strategies(model: Any) -> list[tuple[str, Any]]:
    steps = _pipeline_steps(model)
    if steps is None:
        if _is_tree_model(model):
            return [("float", lambda w: _convert(model, w, double=False))]
        return [
            ("double", lambda w: _convert(model, w, double=True)),
            ("float", lambda w: _convert(model, w, double=False)),
        ]
    final = steps[-1]
    whole = [
        ("double", lambda w: _convert(model, w, double=True, final=final)),
        ("float", lambda w: _convert(model, w, double=False, final=final)),
    ]
    if len(steps) == 1:
        return whole
    split = ("split", lambda w: _split(steps, w))
    return [split, whole[1]] if _is_tree_model(final) else [whole[0], split, whole[1]]


def _pipeline_steps(model: Any) -> list[Any] | None:
    """A pipeline's steps (``passthrough`` dropped, nested pipelines flattened); ``None`` for others."""
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return None
    steps: list[Any] = []
    for _, step in model.steps:
        if step is None or step == "passthrough":
            continue
        nested = _pipeline_steps(step)
        steps.extend(nested if nested is not None else [step])
    return steps or None


def _is_tree_model(model: Any) -> bool:
    return type(model).__module__.startswith(("sklearn.ensemble", "sklearn.tree"))


def _convert(model: Any, width: int | None, *, double: bool, final: Any = None, name: str = INPUT) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from sklearn.base import is_classifier

    tensor = DoubleTensorType if double else FloatTensorType
    final = model if final is None else final
    types = [(name, tensor([None, width]))]
    if is_classifier(final):
        try:  # probabilities as one (N, n_classes) tensor, not a ZipMap sequence of dicts
            zipped: onnx.ModelProto = convert_sklearn(
                model, initial_types=types, options={id(final): {"zipmap": False}}
            )
            return zipped
        except NameError as exc:  # this converter has no zipmap option (e.g. LinearSVC: no probabilities)
            if "zipmap" not in str(exc):
                raise
    graph: onnx.ModelProto = convert_sklearn(model, initial_types=types)
    return graph


def _split(steps: list[Any], width: int) -> onnx.ModelProto:
    """Preprocessing in float64 and the final estimator in float32, as one graph."""
    from sklearn.pipeline import make_pipeline

    preprocessing = _convert(make_pipeline(*steps[:-1]), width, double=True)
    final = steps[-1]
    estimator = _convert(final, getattr(final, "n_features_in_", None), double=False, name=_CAST)
    return merge_with_cast(preprocessing, estimator)


def merge_with_cast(first: onnx.ModelProto, second: onnx.ModelProto) -> onnx.ModelProto:
    """One graph: ``first`` (one output), a ``Cast`` to float32, then ``second`` (one input).

    Every name inside ``first`` except its inputs gets a prefix so the two graphs cannot clash;
    the result has ``first``'s inputs and ``second``'s outputs, and the higher opset of each domain
    (both graphs come from the same skl2onnx target opset, so each operator keeps its meaning).
    """
    import onnx
    from onnx import helper

    if len(first.graph.output) != 1 or len(second.graph.input) != 1:
        raise ValueError(
            f"cannot join a graph with {len(first.graph.output)} outputs to one with {len(second.graph.input)} inputs"
        )
    keep = {i.name for i in first.graph.input}

    def rename(name: str) -> str:
        return name if not name or name in keep else _PREFIX + name

    nodes = []
    for node in first.graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = _PREFIX + node.name if node.name else ""
        copy.input[:] = [rename(n) for n in node.input]
        copy.output[:] = [rename(n) for n in node.output]
        nodes.append(copy)
    initializers = []
    for tensor in first.graph.initializer:
        copy_t = onnx.TensorProto()
        copy_t.CopyFrom(tensor)
        copy_t.name = rename(tensor.name)
        initializers.append(copy_t)
    cast = helper.make_node(
        "Cast",
        [rename(first.graph.output[0].name)],
        [second.graph.input[0].name],
        to=onnx.TensorProto.FLOAT,
        name=_CAST,
    )
    graph = helper.make_graph(
        [*nodes, cast, *second.graph.node],
        "weir_pipeline",
        list(first.graph.input),
        list(second.graph.output),
        [*initializers, *second.graph.initializer],
    )
    opsets: dict[str, int] = {}
    for part in (first, second):
        for opset in part.opset_import:
            opsets[opset.domain] = max(opsets.get(opset.domain, 0), opset.version)
    merged = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(domain, version) for domain, version in opsets.items()],
        producer_name="weir",
    )
    merged.ir_version = max(first.ir_version, second.ir_version)
    onnx.checker.check_model(merged)
    return merged


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    message = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return message if len(message) <= 300 else message[:297] + "..."


def check_sample(
    sample: pd.DataFrame | np.ndarray[Any, Any], *, rows: int = SYNTHETIC_ROWS, seed: int = 0
) -> pd.DataFrame | np.ndarray[Any, Any]:
    """``sample`` followed by ``rows`` rows whose columns are each resampled from it independently."""
    rng = np.random.default_rng(seed)
    n = len(sample)
    if n == 0 or rows <= 0:
        return sample
    if isinstance(sample, pd.DataFrame):
        synthetic = {c: sample[c].iloc[rng.integers(0, n, rows)].reset_index(drop=True) for c in sample.columns}
        return pd.concat([sample.reset_index(drop=True), pd.DataFrame(synthetic)], ignore_index=True)
    array = np.asarray(sample)
    if array.ndim == 2:
        columns = [array[rng.integers(0, n, rows), j] for j in range(array.shape[1])]
        extra = np.stack(columns, axis=1) if columns else np.empty((rows, 0), dtype=array.dtype)
    else:  # 1-D values or higher-rank tensors: resample whole rows
        extra = array[rng.integers(0, n, rows)]
    return np.concatenate([array, extra.astype(array.dtype, copy=False)])
