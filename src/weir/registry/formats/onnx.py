"""ONNX graphs, run with onnxruntime on the CPU.

Classifier graphs made by skl2onnx (a label output plus a probability output, possibly a ZipMap
sequence of dicts) answer ``predict`` with labels and ``predict_proba`` with a 2-D array in class
order; any other graph answers ``predict`` with its first output.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from weir.errors import ModelLoadError, UnsupportedModelError, ValidationError
from weir.registry.formats.base import LoadedModel, ModelFormat, SavedModel
from weir.types import ModelInput

LABEL_OUTPUTS = ("label", "output_label")
PROBA_OUTPUTS = ("probabilities", "output_probability")
_CLASSIFIER_OPS = ("ZipMap", "LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier")
ONNX_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint64)": np.uint64,
    "tensor(uint32)": np.uint32,
    "tensor(uint16)": np.uint16,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


def _classes(proto: Any) -> list[Any] | None:
    """Class labels in output order, from the graph's ZipMap or classifier node."""
    import onnx.helper

    nodes = sorted(proto.graph.node, key=lambda n: n.op_type != "ZipMap")
    for node in nodes:
        if node.op_type not in _CLASSIFIER_OPS:
            continue
        for attr in node.attribute:
            if attr.name in ("classlabels_int64s", "classlabels_ints", "classlabels_strings"):
                values = onnx.helper.get_attribute_value(attr)
                return [v.decode() if isinstance(v, bytes) else int(v) for v in values]
    return None


class OnnxModel(LoadedModel):
    """An ``onnxruntime.InferenceSession`` with the model verbs."""

    format = "onnx"

    def __init__(self, native: Any, metadata: Mapping[str, Any]) -> None:
        super().__init__(native, metadata)
        self._inputs = list(native.get_inputs())
        outputs = [o.name for o in native.get_outputs()]
        self._label = next((o for o in outputs if o in LABEL_OUTPUTS), None)
        self._proba = next((o for o in outputs if o in PROBA_OUTPUTS), None)
        self._first = outputs[0]

    @property
    def has_proba(self) -> bool:
        return self._label is not None and self._proba is not None

    def _feed(self, X: ModelInput) -> dict[str, Any]:
        pd = sys.modules.get("pandas")
        names = [i.name for i in self._inputs]
        if pd is not None and isinstance(X, pd.DataFrame):
            if len(names) == 1:
                columns = [X.to_numpy()]
            else:
                missing = [n for n in names if n not in X.columns]
                if missing:
                    raise ValidationError(
                        f"The onnx model takes one input per column; the DataFrame lacks "
                        f"{', '.join(missing)} (the model's inputs: {', '.join(names)})."
                    )
                columns = [X[n].to_numpy() for n in names]
        else:
            arr = np.asarray(X)
            if len(names) == 1:
                columns = [arr]
            elif arr.ndim == 2 and arr.shape[1] == len(names):
                columns = [arr[:, i] for i in range(len(names))]
            else:
                raise ValidationError(
                    f"The onnx model has {len(names)} inputs ({', '.join(names)}); pass a "
                    f"DataFrame with those columns or an array with {len(names)} columns."
                )
        feed: dict[str, Any] = {}
        for inp, col in zip(self._inputs, columns, strict=True):
            if len(names) > 1 and col.ndim == 1 and len(inp.shape) == 2:
                col = col.reshape(-1, 1)
            feed[inp.name] = col.astype(ONNX_DTYPES.get(inp.type, col.dtype), copy=False)
        return feed

    def _run(self, output: str, X: ModelInput) -> Any:
        try:
            return self.native.run([output], self._feed(X))[0]  # type: ignore[attr-defined]
        except ValidationError:
            raise
        except Exception as exc:
            raise ValidationError(f"The onnx model rejected the input: {exc}") from exc

    def _predict(self, X: ModelInput) -> Any:
        out = np.asarray(self._run(self._label or self._first, X))
        return out.ravel() if out.ndim == 2 and out.shape[1] == 1 else out

    def _predict_proba(self, X: ModelInput) -> Any:
        out = self._run(str(self._proba), X)
        if isinstance(out, list):  # ZipMap: one {class: probability} dict per row
            if not out:
                return np.empty((0, len(self.metadata.get("classes") or [])))
            classes = self.metadata.get("classes") or []
            if not classes or not set(classes) <= set(out[0]):
                classes = list(out[0])
            return np.array([[row[c] for c in classes] for row in out], dtype=np.float64)
        return np.asarray(out, dtype=np.float64)


class OnnxFormat(ModelFormat):
    """``onnx.ModelProto`` (or its serialised bytes, when the format is named explicitly)."""

    name = "onnx"

    def handles(self, obj: object) -> bool:
        onnx = sys.modules.get("onnx")
        return onnx is not None and isinstance(obj, onnx.ModelProto)

    def save(self, obj: object) -> SavedModel:
        try:
            import onnx
        except ImportError as exc:
            raise ValidationError("Saving ONNX models needs the onnx library; run `pip install weir[onnx]`.") from exc
        if isinstance(obj, bytes | bytearray):
            try:
                obj = onnx.load_model_from_string(bytes(obj))
            except Exception as exc:
                raise ValidationError(f"The bytes are not an ONNX model: {exc}") from exc
        if not isinstance(obj, onnx.ModelProto):
            raise UnsupportedModelError(
                f"The onnx format stores onnx.ModelProto graphs, not "
                f"{type(obj).__module__}.{type(obj).__qualname__}; convert the model first "
                "(for example with skl2onnx.to_onnx) or use detect() to pick a format."
            )
        return SavedModel(
            data=obj.SerializeToString(),
            filename="model.onnx",
            metadata={
                "inputs": [i.name for i in obj.graph.input],
                "outputs": [o.name for o in obj.graph.output],
                "classes": _classes(obj),
                "producer": f"{obj.producer_name} {obj.producer_version}".strip(),
                "opsets": {o.domain or "ai.onnx": o.version for o in obj.opset_import},
            },
        )

    def load(self, data: bytes, metadata: Mapping[str, Any], *, trusted: bool = False) -> LoadedModel:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ValidationError("Loading ONNX models needs onnxruntime; run `pip install onnxruntime`.") from exc
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(bytes(data), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelLoadError(
                f"Could not load the onnx artifact: {type(exc).__name__}: {exc}. The bytes are "
                "corrupt, not an ONNX model, or use operators this onnxruntime lacks."
            ) from exc
        return OnnxModel(session, metadata)
