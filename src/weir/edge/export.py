"""Export a registered version into an edge bundle: ONNX, optionally optimised and quantised, proven
equivalent to the registered model before anything is written, signed, and recorded in the registry.

- **Conversion.** scikit-learn models through skl2onnx, with :mod:`weir.edge.convert`'s strategies tried
  in turn until one is equivalent; LightGBM and XGBoost through onnxmltools (float32 input: their ONNX
  tree operators take float32; the equivalence check catches features float32 cannot hold); ONNX
  versions as they are.
- **Optimisation** (``optimize``): onnxruntime's extended graph optimisations, saved as a portable graph.
- **Quantisation**: ``dynamic-int8`` (weights of ``MatMul``/``Gemm`` to int8) or ``static-int8``
  (activations too, calibrated on ``calibration`` rows). A graph without such operators is refused with
  the reason: a tree ensemble compares features against thresholds and adds leaf values, so there is no
  weight matrix to quantise, and rounding thresholds would move splits.
- **Equivalence.** On a check sample (the version's input example, rows synthesised from it and the
  calibration rows), the bundle's outputs are compared with the registered model's: the largest absolute
  difference of probabilities (or values) and the share of equal labels. Beyond ``atol`` or below
  ``min_agreement`` the export is refused with the figures; when float32 input is the cause (the float32
  trap: features so large that casting them changes the prediction), the features are named.
- **Record.** The ONNX model is stored in the artifact store (SHA-256) and a validation record
  ``edge-export`` on the version holds the figures and digests.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from weir.edge.bundle import Manifest, PrivateKeyLike, write_bundle
from weir.edge.convert import INPUT, NotConvertibleError, check_sample, conversions, numeric_width
from weir.edge.keys import load_private_key
from weir.errors import UnsupportedOperationError, ValidationError
from weir.registry import ModelRegistry
from weir.types import JSONDict

logger = logging.getLogger(__name__)

QUANTIZE = ("none", "dynamic-int8", "static-int8")
QUANTIZABLE_OPS = frozenset({"MatMul", "Gemm", "Conv"})
INT8_OPS = frozenset({"MatMulInteger", "DynamicQuantizeLinear", "QLinearMatMul", "QuantizeLinear", "QGemm"})
TREE_OPS = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble"})
EXACT = (1e-4, 1.0)  # atol and label agreement without quantisation
QUANTIZED = (0.05, 0.98)


class NotEquivalentError(ValidationError):
    """The bundle would not predict what the registered model predicts."""

    code = "not_equivalent"


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    manifest: Manifest
    figures: JSONDict


def export_version(
    registry: ModelRegistry,
    ref: str,
    out: str | Path,
    *,
    optimize: bool = False,
    quantize: str = "none",
    calibration: pd.DataFrame | np.ndarray[Any, Any] | None = None,
    private_key: PrivateKeyLike | None = None,
    atol: float | None = None,
    min_agreement: float | None = None,
) -> ExportResult:
    """Write the bundle of version ``ref`` into ``out`` (a new folder); see the module docstring."""
    if quantize not in QUANTIZE:
        raise ValidationError(f"quantize {quantize!r} is not one of {', '.join(QUANTIZE)}.", field="quantize")
    if quantize == "static-int8" and calibration is None:
        raise ValidationError("static-int8 quantisation needs calibration rows (--calibration DATA).", field="quantize")
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValidationError(f"{target} already exists and is not an empty folder; choose another --out.", field="out")
    if private_key is not None and not isinstance(private_key, Ed25519PrivateKey):
        private_key = load_private_key(private_key)  # a bad key fails now, not after the conversion
    version = registry.get_version(ref)
    if version.signature is None:
        raise ValidationError(
            f"{version.ref} has no signature; register it with an input_example so that the bundle knows its inputs."
        )
    try:
        width = numeric_width(version.signature)
    except NotConvertibleError as exc:
        raise UnsupportedOperationError(f"{version.ref} cannot be exported: {exc}.") from exc
    named = version.signature.inputs.columns
    columns = [name for name, _ in named] if named is not None else [f"x{i}" for i in range(width)]
    loaded = registry.load(version.ref)
    sample = _sample(registry.input_example(version), calibration, columns)
    expected = _native(loaded, sample, columns)
    if loaded.format == "onnx":  # already a graph: the registered bytes, verified by their digest
        graph = registry.artifacts.get_bytes(version.model_artifact["digest"])
        dtype, strategy = _input_dtype(graph), "registered ONNX"
    else:
        graph, dtype, strategy = _convert(loaded, width, sample, expected, float32=quantize != "none")
    default_atol, default_agreement = EXACT if quantize == "none" else QUANTIZED
    atol = default_atol if atol is None else atol
    min_agreement = default_agreement if min_agreement is None else min_agreement
    if quantize != "none":  # before optimising: the quantiser needs the plain operators
        graph = _quantize(graph, quantize, _matrix(calibration, columns) if calibration is not None else None, dtype)
    if optimize:
        graph = _optimize(graph)
    figures = _compare(expected, _run(graph, sample, dtype))
    figures.update(
        strategy=strategy,
        rows=len(sample),
        atol=atol,
        min_agreement=min_agreement,
        dtype=dtype,
        optimized=optimize,
        quantization=quantize,
    )
    if figures["max_abs_diff"] > atol or figures["label_agreement"] < min_agreement:
        raise NotEquivalentError(_refusal(version.ref, figures, loaded, sample, columns, dtype))
    outputs = _outputs(graph, expected)
    model_size = int(version.model_artifact.get("size", 0))
    figures.update(size_registered_bytes=model_size, size_bundle_bytes=len(graph))
    source = {
        "model": version.model,
        "version": version.version,
        "ref": version.ref,
        "format": loaded.format,
        "artifact_sha256": version.model_artifact["digest"],
    }
    folder = write_bundle(
        out,
        graph,
        inputs={"name": INPUT, "dtype": dtype, "columns": columns},
        outputs=outputs,
        source=source,
        signature=version.signature.to_dict(),
        equivalence=figures,
        quantization=quantize,
        private_key=private_key,
    )
    stored = registry.artifacts.put_bytes(graph)
    evidence = {
        "artifact": stored,
        "bundle": str(folder),
        "signed": private_key is not None,
        "outputs": outputs,
        "manifest_sha256": hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest(),
    }
    registry.add_validation(version.ref, "edge-export", passed=True, metrics=figures, evidence=evidence)
    manifest = Manifest.from_json_bytes((folder / "manifest.json").read_bytes())
    logger.info("exported %s to %s (%s, %d bytes)", version.ref, folder, strategy, len(graph))
    return ExportResult(folder, manifest, figures)


@dataclass(frozen=True)
class _Outputs:
    labels: np.ndarray[Any, Any]
    probabilities: np.ndarray[Any, Any] | None  # (n, k) for classifiers that have them
    classes: tuple[Any, ...] | None
    regression: bool


def _matrix(data: Any, columns: list[str]) -> np.ndarray[Any, Any]:
    if isinstance(data, pd.DataFrame):
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise ValidationError(f"The calibration or example rows lack the column(s) {', '.join(missing)}.")
        data = data[columns]
    array = np.asarray(data, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != len(columns):
        raise ValidationError(f"Rows of shape {array.shape} do not fit the {len(columns)} input columns.")
    return array


def _sample(example: Any, calibration: Any, columns: list[str]) -> np.ndarray[Any, Any]:
    if example is None and calibration is None:
        raise ValidationError("The version has no input example; give calibration rows to check the export on.")
    parts = [check_sample(_matrix(example, columns))] if example is not None else []
    if calibration is not None:
        parts.append(_matrix(calibration, columns))
    return np.concatenate(parts)


def _native(loaded: Any, sample: np.ndarray[Any, Any], columns: list[str]) -> _Outputs:
    frame = pd.DataFrame(sample, columns=columns)
    labels = np.asarray(loaded.predict(frame))
    regression = labels.dtype.kind == "f" and not loaded.has_proba
    probabilities = np.asarray(loaded.predict_proba(frame), dtype=np.float64) if loaded.has_proba else None
    native = getattr(loaded, "native", None)
    classes = getattr(native, "classes_", None)
    return _Outputs(labels, probabilities, None if classes is None else tuple(np.asarray(classes).tolist()), regression)


def _convert(
    loaded: Any, width: int, sample: np.ndarray[Any, Any], expected: _Outputs, *, float32: bool = False
) -> tuple[bytes, str, str]:
    """(graph bytes, input dtype, strategy) of the first conversion equivalent at ``EXACT`` tolerance, or
    the first one made (the caller's check then refuses it with the figures). ``float32``: only the
    whole-float32 conversion (what onnxruntime can quantise)."""
    if loaded.format in ("lightgbm", "xgboost"):
        return _onnxmltools(loaded, width), "float32", f"onnxmltools ({loaded.format}, float32 input)"
    if loaded.format != "sklearn":
        raise UnsupportedOperationError(
            f"weir exports scikit-learn, LightGBM, XGBoost and ONNX versions; this one is {loaded.format}."
        )
    best: tuple[bytes, str, str] | None = None
    errors = []
    for conversion in conversions(loaded.native, width):
        if float32 and conversion.strategy != "float":
            continue
        if conversion.model is None:
            errors.append(f"{conversion.strategy}: {conversion.error}")
            continue
        graph = conversion.model.SerializeToString()
        dtype = _input_dtype(graph)
        figures = _compare(expected, _run(graph, sample, dtype))
        best = best or (graph, dtype, conversion.strategy)
        if figures["max_abs_diff"] <= EXACT[0] and figures["label_agreement"] >= EXACT[1]:
            return graph, dtype, conversion.strategy
    if best is None:
        raise UnsupportedOperationError(f"skl2onnx cannot convert {type(loaded.native).__name__}: {'; '.join(errors)}")
    return best


def _onnxmltools(loaded: Any, width: int) -> bytes:
    try:
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType
    except ImportError as exc:
        raise UnsupportedOperationError(
            f"Exporting {loaded.format} models needs onnxmltools: pip install 'weir[{loaded.format}]'."
        ) from exc
    types = [(INPUT, FloatTensorType([None, width]))]
    native = loaded.native
    if loaded.format == "lightgbm":
        graph = onnxmltools.convert_lightgbm(native, initial_types=types, zipmap=False)
    else:
        booster = native.get_booster() if hasattr(native, "get_booster") else native
        booster.feature_names = None  # onnxmltools reads features as f0, f1, …
        graph = onnxmltools.convert_xgboost(native, initial_types=types)
    return bytes(graph.SerializeToString())


def _input_dtype(graph: bytes) -> str:
    import onnx

    model = onnx.load_from_string(graph)
    kind = model.graph.input[0].type.tensor_type.elem_type
    return "float64" if kind == onnx.TensorProto.DOUBLE else "float32"


def _session(graph: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def _run(graph: bytes, sample: np.ndarray[Any, Any], dtype: str) -> list[np.ndarray[Any, Any]]:
    session = _session(graph)
    outputs = session.run(None, {session.get_inputs()[0].name: sample.astype(dtype)})
    return [_dense(o) for o in outputs]


def _dense(output: Any) -> np.ndarray[Any, Any]:
    if isinstance(output, list) and output and isinstance(output[0], dict):  # a ZipMap: one dict per row
        keys = list(output[0])
        return np.array([[row[k] for k in keys] for row in output], dtype=np.float64)
    return np.asarray(output)


def _compare(expected: _Outputs, got: list[np.ndarray[Any, Any]]) -> JSONDict:
    """Largest absolute difference and label agreement of the graph's outputs against the model's."""
    if expected.regression:
        values = got[0].reshape(len(expected.labels), -1)[:, 0].astype(np.float64)
        diff = float(np.max(np.abs(values - expected.labels.astype(np.float64)))) if len(values) else 0.0
        return {"max_abs_diff": diff, "label_agreement": 1.0, "task": "regression"}
    labels = got[0].reshape(-1)
    same = _same_labels(labels, expected.labels)
    diff, ties = 0.0, 0
    if expected.probabilities is not None:
        if len(got) < 2 or got[1].size != expected.probabilities.size:
            shape = "none" if len(got) < 2 else str(tuple(got[1].shape))
            raise UnsupportedOperationError(
                f"The converted graph's probabilities ({shape}) do not match the model's "
                f"{tuple(expected.probabilities.shape)}; this model cannot be exported faithfully."
            )
        probabilities = got[1].astype(np.float64).reshape(expected.probabilities.shape)
        diff = float(np.max(np.abs(probabilities - expected.probabilities))) if len(labels) else 0.0
        if expected.classes is not None and not same.all():  # a tie (equal top probabilities) may break either way
            classes = np.asarray(expected.classes)
            for row in np.flatnonzero(~same):
                mine = np.flatnonzero(_same_labels(classes, np.repeat(labels[row : row + 1], len(classes))))
                theirs = np.flatnonzero(_same_labels(classes, np.repeat(expected.labels[row : row + 1], len(classes))))
                p = expected.probabilities[row]
                if len(mine) and len(theirs) and abs(p[mine[0]] - p[theirs[0]]) <= 1e-9:
                    same[row], ties = True, ties + 1
    agreement = float(np.mean(same)) if len(labels) else 1.0
    return {"max_abs_diff": diff, "label_agreement": agreement, "ties": ties, "task": "classification"}


def _same_labels(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Equal labels: as numbers when both are numeric or boolean (ONNX answers 1 for 1.0 or True), else as text."""
    if a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        return np.asarray(a.astype(np.float64) == b.astype(np.float64))
    return np.asarray(a.astype(str) == b.astype(str))


def _outputs(graph: bytes, expected: _Outputs) -> JSONDict:
    names = [o.name for o in _session(graph).get_outputs()]
    if expected.regression:
        return {"value": names[0]}
    classes = None if expected.classes is None else list(expected.classes)
    # a second output is probabilities only when the model has them (otherwise: decision scores, not shipped)
    probabilities = names[1] if expected.probabilities is not None and len(names) > 1 else None
    return {"label": names[0], "probabilities": probabilities, "classes": classes}


def _optimize(graph: bytes) -> bytes:
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "optimized.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(target)
        ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        return target.read_bytes()


def _quantize(graph: bytes, how: str, calibration: np.ndarray[Any, Any] | None, dtype: str) -> bytes:
    import onnx

    ops = {node.op_type for node in onnx.load_from_string(graph).graph.node}
    if ops & TREE_OPS:
        raise UnsupportedOperationError(
            "A tree ensemble cannot be quantised: it compares each feature with split thresholds and adds leaf "
            "values, so it has no weight matrix for int8 arithmetic to speed up, and rounding the thresholds would "
            "move samples to other leaves. Export it without --quantize (--optimize still applies)."
        )
    if not ops & QUANTIZABLE_OPS:
        raise UnsupportedOperationError(
            f"This graph has no MatMul, Gemm or Conv to quantise (its operators: {', '.join(sorted(ops))}); "
            "onnxruntime quantises those only. Export it without --quantize."
        )
    from onnxruntime.quantization import QuantType, quantize_dynamic, quantize_static

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "model.onnx", Path(tmp) / "quantized.onnx"
        source.write_bytes(graph)
        if how == "dynamic-int8":
            quantize_dynamic(source, target, weight_type=QuantType.QInt8)
        else:
            assert calibration is not None
            quantize_static(
                source,
                target,
                _Calibration(calibration, dtype, graph),
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
            )
        quantized = target.read_bytes()
    ops = {node.op_type for node in onnx.load_from_string(quantized).graph.node}
    if not ops & INT8_OPS:
        raise UnsupportedOperationError(
            f"onnxruntime quantised nothing in this graph (its operators: {', '.join(sorted(ops))}); export it "
            "without --quantize."
        )
    return quantized


class _Calibration:
    """onnxruntime's CalibrationDataReader over the calibration rows, one row at a time."""

    def __init__(self, rows: np.ndarray[Any, Any], dtype: str, graph: bytes) -> None:
        self.name = _session(graph).get_inputs()[0].name
        self.rows = iter(rows.astype(dtype))

    def get_next(self) -> dict[str, np.ndarray[Any, Any]] | None:
        row = next(self.rows, None)
        return None if row is None else {self.name: row.reshape(1, -1)}


def _refusal(
    ref: str, figures: JSONDict, loaded: Any, sample: np.ndarray[Any, Any], columns: list[str], dtype: str
) -> str:
    message = (
        f"The export of {ref} is not equivalent to the registered model on {figures['rows']} check rows: largest "
        f"absolute difference {figures['max_abs_diff']:.3g} (tolerance {figures['atol']:g}), labels agree on "
        f"{figures['label_agreement']:.2%} (at least {figures['min_agreement']:.0%} needed)."
    )
    if dtype == "float32":
        trapped = _float32_trap(loaded, sample, columns)
        if trapped:
            message += (
                f" The float32 trap: casting {', '.join(repr(c) for c in trapped)} to float32 alone changes the "
                "model's predictions (values too large or too finely resolved for float32); rescale those features "
                "before training (for example thousands instead of units, or a log)."
            )
    if figures.get("quantization", "none") != "none":
        message += " Quantisation costs precision: try without --quantize, or loosen --atol / --min-agreement."
    return message


def _float32_trap(loaded: Any, sample: np.ndarray[Any, Any], columns: list[str]) -> list[str]:
    """Features whose float32 rounding alone changes the native model's predictions."""
    reference = _native(loaded, sample, columns)
    trapped = []
    for j, name in enumerate(columns):
        cast = sample.copy()
        cast[:, j] = cast[:, j].astype(np.float32).astype(np.float64)
        if np.array_equal(cast[:, j], sample[:, j]):
            continue
        got = _native(loaded, cast, columns)
        figures = _compare(
            reference, [got.labels, got.probabilities] if got.probabilities is not None else [got.labels]
        )
        if figures["max_abs_diff"] > EXACT[0] or figures["label_agreement"] < 1.0:
            trapped.append(name)
    return trapped
