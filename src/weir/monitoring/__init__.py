"""Monitoring (layer 3): drift statistics, detectors, monitors.

- :mod:`weir.monitoring.tests`: univariate two-sample statistics by name (``ks``, ``chi2``, ``psi``, …).
- :class:`DataDriftDetector`: every column of a frame, test chosen automatically, corrected, one verdict.
- :class:`DomainClassifierDrift`, :class:`MMDDrift`: multivariate drift (what moves jointly, not per column).
- :mod:`weir.monitoring.concept`: Page–Hinkley, ADWIN and DDM on streams of errors or scores.
- :class:`PredictiveDriftDetector`: the blueprint's KS detector, interface unchanged.
"""

from __future__ import annotations

from weir.monitoring.concept import ADWIN, DDM, PageHinkley
from weir.monitoring.data_drift import DataDriftDetector, DataDriftResult
from weir.monitoring.multivariate import DomainClassifierDrift, MMDDrift
from weir.monitoring.predictive import PredictiveDriftDetector

__all__ = [
    "ADWIN",
    "DDM",
    "DataDriftDetector",
    "DataDriftResult",
    "DomainClassifierDrift",
    "MMDDrift",
    "PageHinkley",
    "PredictiveDriftDetector",
]
