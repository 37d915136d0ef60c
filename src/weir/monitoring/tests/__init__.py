"""Univariate two-sample statistics, vectorised over columns, looked up by name.

Every test follows :class:`StatTest` (see :mod:`weir.monitoring.tests.base`) and returns a
:class:`StatResult` with one entry per column.

==================== ======== ========= ==================== ============================================
name                 kind     threshold column types         what it compares
==================== ======== ========= ==================== ============================================
``ks``               p-value  0.05      numeric              largest ECDF gap (= scipy ``ks_2samp``)
``chi2``             p-value  0.05      categorical          2 × K contingency table (= scipy)
``ztest``            p-value  0.05      categorical (binary) share of the top reference category
``anderson``         p-value  0.05      numeric              Anderson–Darling (= scipy, p in [.001, .25])
``cramer_von_mises`` p-value  0.05      numeric              Cramér–von Mises (= scipy)
``psi``              distance 0.1       numeric, categorical Population Stability Index
``wasserstein``      distance 0.1       numeric              W1 / reference std (Evidently's)
``jensen_shannon``   distance 0.1       numeric, categorical Jensen–Shannon distance, natural log
``hellinger``        distance 0.1       numeric, categorical Hellinger distance
``kl``               distance 0.1       numeric, categorical KL(reference || current), smoothed
``energy``           distance 0.1       numeric              energy distance (= scipy), data units
==================== ======== ========= ==================== ============================================

>>> names()[:3]
['ks', 'chi2', 'ztest']
>>> get("psi").kind, get("psi").default_threshold
('distance', 0.1)
"""

from __future__ import annotations

from weir.errors import ValidationError
from weir.monitoring.tests.anderson import AndersonDarlingTest
from weir.monitoring.tests.base import StatResult, StatTest
from weir.monitoring.tests.chi2 import Chi2Test
from weir.monitoring.tests.cramer_von_mises import CramerVonMisesTest
from weir.monitoring.tests.energy import EnergyDistance
from weir.monitoring.tests.hellinger import HellingerDistance
from weir.monitoring.tests.jensen_shannon import JensenShannonDistance
from weir.monitoring.tests.kl import KLDivergence
from weir.monitoring.tests.ks import KSTest
from weir.monitoring.tests.psi import PSI
from weir.monitoring.tests.wasserstein import WassersteinDistance
from weir.monitoring.tests.ztest import ZTest

_TESTS: dict[str, type[StatTest]] = {
    cls.name: cls
    for cls in (
        KSTest,
        Chi2Test,
        ZTest,
        AndersonDarlingTest,
        CramerVonMisesTest,
        PSI,
        WassersteinDistance,
        JensenShannonDistance,
        HellingerDistance,
        KLDivergence,
        EnergyDistance,
    )
}


def names() -> list[str]:
    """Every statistic's name: p-value tests first, then distances."""
    return list(_TESTS)


def get(name: str) -> StatTest:
    """A new instance, with default parameters, of the statistic called ``name``."""
    try:
        return _TESTS[name]()
    except (KeyError, TypeError):
        raise ValidationError(
            f"Unknown statistical test {name!r}; known tests: {', '.join(_TESTS)}.", test=str(name)
        ) from None


__all__ = [
    "PSI",
    "AndersonDarlingTest",
    "Chi2Test",
    "CramerVonMisesTest",
    "EnergyDistance",
    "HellingerDistance",
    "JensenShannonDistance",
    "KLDivergence",
    "KSTest",
    "StatResult",
    "StatTest",
    "WassersteinDistance",
    "ZTest",
    "get",
    "names",
]
