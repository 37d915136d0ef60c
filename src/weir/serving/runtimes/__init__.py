"""Model runtimes for the inference server: onnxruntime when a version converts faithfully, else native.

:func:`build_runtime` picks the runtime for a loaded version and says why (``runtime.reason``);
every runtime answers ``predict`` with a :class:`Prediction`.
"""

from __future__ import annotations

from weir.serving.runtimes.base import ModelRuntime, Prediction, build_runtime
from weir.serving.runtimes.equivalence import Equivalence
from weir.serving.runtimes.native import NativeRuntime
from weir.serving.runtimes.onnx import OnnxRuntime

__all__ = ["Equivalence", "ModelRuntime", "NativeRuntime", "OnnxRuntime", "Prediction", "build_runtime"]
