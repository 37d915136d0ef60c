"""Monitoring (layer 3): drift statistics, detectors, monitors.

- :mod:`weir.monitoring.tests`: univariate two-sample statistics by name (``ks``, ``chi2``, ``psi``, …).
- :class:`DataDriftDetector`: every column of a frame, test chosen automatically, corrected, one verdict.
- :class:`DomainClassifierDrift`, :class:`MMDDrift`: multivariate drift (what moves jointly, not per column).
- :func:`performance`, :func:`performance_by_window`: metrics once labels arrive; :class:`CBPE` estimates
  them before labels arrive.
- :func:`drift_report_html`, :func:`drift_report_json`: the self-contained report.
- :class:`AlertPolicy`: alerts damped against flapping (event, log line, optional webhook).
- :mod:`weir.monitoring.concept`: Page–Hinkley, ADWIN and DDM on streams of errors or scores.
- :class:`PredictiveDriftDetector`: the blueprint's KS detector, interface unchanged.
"""

from __future__ import annotations

from weir.monitoring.alerts import Alert, AlertPolicy
from weir.monitoring.cbpe import CBPE
from weir.monitoring.concept import ADWIN, DDM, PageHinkley
from weir.monitoring.data_drift import DataDriftDetector, DataDriftResult
from weir.monitoring.multivariate import DomainClassifierDrift, MMDDrift
from weir.monitoring.performance import performance, performance_by_window
from weir.monitoring.predictive import PredictiveDriftDetector
from weir.monitoring.report import drift_report_html, drift_report_json, write_report

__all__ = [
    "ADWIN",
    "CBPE",
    "DDM",
    "Alert",
    "AlertPolicy",
    "DataDriftDetector",
    "DataDriftResult",
    "DomainClassifierDrift",
    "MMDDrift",
    "PageHinkley",
    "PredictiveDriftDetector",
    "drift_report_html",
    "drift_report_json",
    "performance",
    "performance_by_window",
    "write_report",
]
