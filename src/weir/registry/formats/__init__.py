"""Model formats: how each kind of model becomes bytes and comes back ready to predict.

Formats are looked up by name (:func:`get`) or chosen from the object (:func:`detect`), trying
LightGBM, XGBoost, ONNX and scikit-learn (skops) in that order. Pickle is never chosen
automatically: it must be named, and loading it needs explicit trust.

>>> names()
['lightgbm', 'xgboost', 'onnx', 'sklearn', 'pickle']
>>> get("sklearn").name
'sklearn'
"""

from __future__ import annotations

from weir.errors import UnsupportedModelError, ValidationError
from weir.registry.formats.base import LoadedModel, ModelFormat, SavedModel
from weir.registry.formats.lightgbm import LightGBMFormat
from weir.registry.formats.onnx import OnnxFormat
from weir.registry.formats.pickle import PickleFormat
from weir.registry.formats.sklearn import SklearnFormat
from weir.registry.formats.xgboost import XGBoostFormat

_FORMATS: dict[str, ModelFormat] = {
    fmt.name: fmt for fmt in (LightGBMFormat(), XGBoostFormat(), OnnxFormat(), SklearnFormat(), PickleFormat())
}
_DETECT_ORDER: tuple[str, ...] = ("lightgbm", "xgboost", "onnx", "sklearn")


def names() -> list[str]:
    """Every format name, in detection order, with ``pickle`` last."""
    return list(_FORMATS)


def get(name: str) -> ModelFormat:
    """The format called ``name``; a :class:`ValidationError` listing the known names otherwise."""
    try:
        return _FORMATS[name]
    except (KeyError, TypeError):
        raise ValidationError(
            f"Unknown model format {name!r}; known formats: {', '.join(_FORMATS)}.",
            format=str(name),
        ) from None


def detect(obj: object) -> ModelFormat:
    """The first format able to save ``obj`` without pickle.

    Raises :class:`UnsupportedModelError` when none can; pickle is never detected.
    """
    for name in _DETECT_ORDER:
        fmt = _FORMATS[name]
        if fmt.handles(obj):
            return fmt
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
    raise UnsupportedModelError(
        f"No model format can store an object of type {kind} without pickle; weir stores "
        "scikit-learn estimators (via skops), LightGBM and XGBoost models and ONNX graphs. "
        'If you really trust this object, pass format="pickle" with trust_pickle=True.',
        type=kind,
    )


__all__ = ["LoadedModel", "ModelFormat", "SavedModel", "detect", "get", "names"]
