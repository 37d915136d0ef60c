"""One model version ready to serve: loaded, converted where it pays, and checked before any traffic."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from weir.errors import ModelLoadError, WeirError
from weir.registry import ModelRegistry, ModelVersion
from weir.serving.inputs import InputBuilder, Table
from weir.serving.protocols.v2_metadata import datatype_of
from weir.serving.runtimes import ModelRuntime, Prediction, build_runtime

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ServedVersion:
    version: ModelVersion
    runtime: ModelRuntime
    inputs: InputBuilder
    load_seconds: float
    outputs: tuple[dict[str, Any], ...] = ()
    """V2 metadata of the outputs, learnt from the check prediction (``predictions``, ``probabilities``)."""

    @property
    def model(self) -> str:
        return self.version.model

    @property
    def number(self) -> int:
        return self.version.version

    @property
    def key(self) -> tuple[str, int]:
        return (self.version.model, self.version.version)

    def predict(self, data: Table | np.ndarray[Any, Any]) -> Prediction:
        return self.runtime.predict(self.inputs.build(data))

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.number,
            "runtime": self.runtime.name,
            "reason": self.runtime.reason,
            "load_seconds": round(self.load_seconds, 3),
        }


def load_version(registry: ModelRegistry, version: ModelVersion, *, threads: int = 1) -> ServedVersion:
    """Load, pick the runtime (onnxruntime when it converts and agrees) and check it on the input example.

    Any failure raises :class:`ModelLoadError` naming the version: such a version never gets traffic.
    """
    start = time.perf_counter()
    try:
        loaded = registry.load(version.ref)
        example = registry.input_example(version)
        runtime = build_runtime(loaded, example, threads=threads)
        inputs = InputBuilder(version.signature)
        outputs: tuple[dict[str, Any], ...] = ()
        if example is not None:  # the check before traffic: the served path must answer the example
            data = example if isinstance(example, np.ndarray) else {c: example[c].to_numpy() for c in example}
            got = runtime.predict(inputs.build(data))
            if len(got.predictions) != len(example):
                raise ModelLoadError(f"{version.ref} answered {len(got.predictions)} rows for {len(example)}.")
            outputs = _outputs(got)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{version.ref} cannot be served: {exc}") from exc
    seconds = time.perf_counter() - start
    logger.info("loaded %s in %.2f s: %s (%s)", version.ref, seconds, runtime.name, runtime.reason)
    return ServedVersion(version, runtime, inputs, seconds, outputs)


def _outputs(prediction: Prediction) -> tuple[dict[str, Any], ...]:
    try:
        kind = datatype_of(prediction.predictions)
    except WeirError:
        kind = "BYTES"
    out = [{"name": "predictions", "datatype": kind, "shape": [-1, *prediction.predictions.shape[1:]]}]
    if prediction.probabilities is not None:
        out.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, prediction.probabilities.shape[1]]})
    return tuple(out)
