"""Multivariate drift tests: they compare whole rows, so they see changes no per-column test can.

A shift in how features move together (a correlation that appears or flips while every column keeps
its distribution) passes every univariate test; these tests catch it. Both follow the detector
contract of :mod:`weir.monitoring.multivariate.base` (``fit(reference)``, ``test(current)``) and return
a :class:`MultivariateResult` with a permutation p-value.

========================= ================ ============================ ========================
class                     statistic        p-value                      says what moved
========================= ================ ============================ ========================
``DomainClassifierDrift`` held-out ROC AUC exact, fold-wise permutation permutation importances
``MMDDrift``              unbiased MMD²    permutation of the rows      no (one number)
========================= ================ ============================ ========================

>>> sorted(TESTS)
['domain_classifier', 'mmd']
>>> TESTS["mmd"]().test([[0.0]])
Traceback (most recent call last):
...
weir.errors.NotFittedError: MMDDrift is not fitted; call fit(reference) before test(current).
"""

from __future__ import annotations

from weir.monitoring.multivariate.base import MultivariateDriftTest, MultivariateResult
from weir.monitoring.multivariate.domain_classifier import DomainClassifierDrift
from weir.monitoring.multivariate.mmd import MMDDrift

TESTS: dict[str, type[MultivariateDriftTest]] = {cls.name: cls for cls in (DomainClassifierDrift, MMDDrift)}
"""Every multivariate test by its short name; the conformance suite runs over it."""

__all__ = ["TESTS", "DomainClassifierDrift", "MMDDrift", "MultivariateDriftTest", "MultivariateResult"]
