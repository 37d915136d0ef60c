"""Concept drift detectors on streams of errors or scores: Page–Hinkley, ADWIN and DDM.

Each detector is fed one value at a time with ``update(x)`` and raises its ``drift_detected`` flag
when the stream changes, with the verbs and defaults of river's ``river.drift`` detectors (see
:mod:`weir.monitoring.concept.base` for the shared contract). :data:`DETECTORS` maps each detector's
short name to its class; the conformance suite in ``tests/monitoring/test_concept.py`` runs over it.

=================  ================================  ==============  ========
name               watches                           input           warning
=================  ================================  ==============  ========
``page_hinkley``   the mean going up and/or down     real numbers    no
``adwin``          the mean, with an adaptive window real numbers    no
``ddm``            the error rate going up           0 / 1           yes
=================  ================================  ==============  ========

>>> sorted(DETECTORS)
['adwin', 'ddm', 'page_hinkley']
>>> detector = DETECTORS["ddm"]()
>>> detector.update(1), detector.drift_detected, detector.n_
(False, False, 1)
"""

from __future__ import annotations

from weir.monitoring.concept.adwin import ADWIN
from weir.monitoring.concept.base import StreamDetector
from weir.monitoring.concept.ddm import DDM
from weir.monitoring.concept.page_hinkley import PageHinkley

DETECTORS: dict[str, type[StreamDetector]] = {cls.name: cls for cls in (PageHinkley, ADWIN, DDM)}
"""Every stream detector by its short name."""

__all__ = ["ADWIN", "DDM", "DETECTORS", "PageHinkley", "StreamDetector"]
