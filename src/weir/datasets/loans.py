"""A seeded simulator of a year of loan applications, with a downturn and then a change in who defaults.

:func:`simulate_loans` generates ``per_day`` applications a day for ``days`` days and, for each, whether the
applicant defaulted. Everything comes from one :func:`numpy.random.default_rng` seeded with ``seed``, so the
same arguments give the same frames; nothing is downloaded. It exists so that ``weir demo`` can show the whole
loop on data whose story is known in advance: drift detection, model decay, retraining and rollout.

Features (:data:`LOAN_FEATURES`, all ``float64``), before ``shift_day``:

- ``income``: yearly income, lognormal with median 50,000 (log-sd 0.4), rounded to whole units.
- ``loan_amount``: ``income`` × a lognormal factor with median 0.35 (log-sd 0.4), clipped to 1,000..500,000,
  rounded to whole units. Larger incomes borrow more.
- ``credit_score``: normal(680, 60), clipped to 300..850, rounded to an integer value.
- ``debt_ratio``: share of income already spent on debt, Beta(2, 5) (mean 0.29), in [0, 1].
- ``age``: normal(40, 11) clipped to 21..75, whole years.
- ``employment_years``: exponential with mean 6, at most ``age − 18``, rounded to 0.1 years.

Label: ``defaulted`` is 1 with probability ``sigmoid(logit)``, drawn independently per application. With
``cs = (credit_score − 680) / 60``, ``dr = (debt_ratio − 0.3) / 0.15``, ``lti = (loan_amount / income − 0.35)
/ 0.15``, ``emp = (min(employment_years, 10) − 5) / 3`` and ``young = 1 if age < 30 else 0``::

    before concept_day:  logit = -2.05 - 1.30·cs + 0.45·dr + 0.40·lti - 0.30·emp + 0.20·young
    from concept_day:    logit = -1.70          + 1.60·dr + 0.20·lti - 0.10·emp + 1.50·max(dr, 0)·max(lti, 0)

so credit history drives default at first, and about 20 % of applicants default before ``shift_day``.

What changes when (an application's day is the number of whole days from ``start`` to its
``event_timestamp``; it is affected from ``day >= shift_day`` and ``day >= concept_day`` respectively):

- ``shift_day``, covariate shift (an economic downturn): ``income`` × 0.8, ``credit_score`` − 40 (then
  clipped), and ``debt_ratio`` drawn from Beta(3, 5) (mean 0.375) instead. ``loan_amount`` follows the lower
  income, so the loan-to-income ratio keeps its distribution; ``age`` and ``employment_years`` do not change.
  The label rule does not change: the default rate rises to about 37 % only because applicants look riskier,
  and a model trained before the shift still ranks them well. A two-sample KS test on ``income`` or
  ``credit_score`` with 500 rows a side flags the shift (p < 0.001).
- ``concept_day``, concept change: the label rule switches to the second line above (default rate about
  40 %). In the downturn affordability matters and history does not: ``debt_ratio`` dominates, large loans on
  top of large debts are much riskier (the interaction), and ``credit_score`` no longer matters at all. The
  feature distributions stay as they were after the shift, so only labels reveal the change.

Models: the demo's v1 and v2 are ``HistGradientBoostingClassifier(max_iter=100, random_state=0)`` on
:data:`LOAN_FEATURES` (a scaled ``LogisticRegression`` behaves the same way). With the defaults and seed 0
(asserted in ``tests/datasets/test_loans.py``): v1, trained on days [0, 150), has ROC AUC 0.81 on days
[150, 180), 0.78 on the shifted days [180, 240), and 0.62 on days [270, 360). v2, trained on days [240, 300),
has AUC 0.86 and accuracy 0.79 on days [300, 360), where v1 has 0.62 and 0.61.

Labels arrive ``label_delay_days`` after the application (``label_timestamp``), as they would in production.

>>> data = simulate_loans(days=90, per_day=10, shift_day=30, concept_day=60, seed=1)
>>> len(data.applications), list(data.labels.columns)
(900, ['application_id', 'event_timestamp', 'label_timestamp', 'defaulted'])
>>> data.applications["application_id"].iloc[0]
'a000001'
>>> apps, labels = data.between(*data.month(1))
>>> len(apps) == len(labels) == 300
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

__all__ = ["LOAN_FEATURES", "LoanData", "simulate_loans"]

LOAN_FEATURES: tuple[str, ...] = ("income", "loan_amount", "credit_score", "debt_ratio", "employment_years", "age")
"""The feature columns of :attr:`LoanData.applications`, in order."""

_SECONDS_PER_DAY = 86_400
_MONTH_DAYS = 30

# Feature distributions before the shift.
_INCOME_MEDIAN = 50_000.0
_INCOME_LOG_SD = 0.4
_LOAN_FACTOR_MEDIAN = 0.35
_LOAN_FACTOR_LOG_SD = 0.4
_LOAN_MIN, _LOAN_MAX = 1_000.0, 500_000.0
_CREDIT_MEAN, _CREDIT_SD = 680.0, 60.0
_CREDIT_MIN, _CREDIT_MAX = 300.0, 850.0
_DEBT_BETA = (2.0, 5.0)
_AGE_MEAN, _AGE_SD = 40.0, 11.0
_AGE_MIN, _AGE_MAX = 21.0, 75.0
_EMPLOYMENT_MEAN = 6.0

# The downturn (covariate shift) from shift_day.
_SHIFT_INCOME_FACTOR = 0.8
_SHIFT_CREDIT_DELTA = -40.0
_SHIFT_DEBT_BETA = (3.0, 5.0)

# The label rule: intercept and weights on the standardised terms (see the module docstring).
_BEFORE = {"intercept": -2.05, "cs": -1.30, "dr": 0.45, "lti": 0.40, "emp": -0.30, "young": 0.20, "dr_lti": 0.0}
_AFTER = {"intercept": -1.70, "cs": 0.0, "dr": 1.60, "lti": 0.20, "emp": -0.10, "young": 0.0, "dr_lti": 1.50}


@dataclass(frozen=True, eq=False)
class LoanData:
    """What :func:`simulate_loans` returns: applications, their labels, and when things change.

    ``applications`` has ``application_id`` (str, unique), ``event_timestamp`` (``datetime64[ns, UTC]``, sorted)
    and then :data:`LOAN_FEATURES` (``float64``). ``labels`` has one row per application, in the same order:
    ``application_id``, ``event_timestamp``, ``label_timestamp`` (event + label delay) and ``defaulted``
    (``int64``, 0 or 1). ``start``, ``shift_at`` and ``concept_at`` are aware UTC datetimes.
    """

    applications: pd.DataFrame
    labels: pd.DataFrame
    start: datetime
    shift_at: datetime
    concept_at: datetime

    def month(self, i: int) -> tuple[datetime, datetime]:
        """``[start, end)`` of the ``i``-th 30-day period from :attr:`start` (0-based), aware UTC."""
        if i < 0:
            raise ValueError(f"month index must be >= 0, got {i}")
        begin = self.start + timedelta(days=_MONTH_DAYS * i)
        return begin, begin + timedelta(days=_MONTH_DAYS)

    def between(self, start: datetime, end: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Applications and labels with ``start <= event_timestamp < end`` (copies, index reset)."""
        lo, hi = _utc(start, "start"), _utc(end, "end")
        times = self.applications["event_timestamp"]
        mask = ((times >= lo) & (times < hi)).to_numpy()
        apps = self.applications.loc[mask].reset_index(drop=True)
        labels = self.labels.loc[mask].reset_index(drop=True)
        return apps, labels


def simulate_loans(
    *,
    days: int = 360,
    per_day: int = 40,
    start: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    shift_day: int = 180,
    concept_day: int = 240,
    label_delay_days: int = 30,
    seed: int = 0,
) -> LoanData:
    """Simulate ``days`` days of ``per_day`` loan applications a day and whether each defaulted.

    The features, the label rule and what changes at ``shift_day`` and ``concept_day`` are described in the
    module docstring (:mod:`weir.datasets.loans`). Event times are uniformly random seconds within each day,
    sorted; labels arrive ``label_delay_days`` after their application. The same arguments give identical frames.
    """
    if days < 60:
        raise ValueError(f"days must be >= 60 (two 30-day months at least), got {days}; pass days=60 or more")
    if per_day < 1:
        raise ValueError(f"per_day must be >= 1, got {per_day}; pass per_day=1 or more")
    if not 0 < shift_day < days:
        raise ValueError(f"shift_day must satisfy 0 < shift_day < days ({days}), got {shift_day}; pick a day inside")
    if not 0 < concept_day < days:
        raise ValueError(
            f"concept_day must satisfy 0 < concept_day < days ({days}), got {concept_day}; pick a day inside"
        )
    if label_delay_days < 0:
        raise ValueError(f"label_delay_days must be >= 0, got {label_delay_days}; pass 0 for immediate labels")
    begin = _utc(start, "start")

    rng = np.random.default_rng(seed)
    n = days * per_day
    day = np.repeat(np.arange(days, dtype=np.int64), per_day)
    seconds = day * _SECONDS_PER_DAY + rng.integers(0, _SECONDS_PER_DAY, size=n)
    seconds.sort()
    day = seconds // _SECONDS_PER_DAY
    shifted = day >= shift_day
    changed = day >= concept_day

    income = np.round(
        _INCOME_MEDIAN * np.exp(_INCOME_LOG_SD * rng.standard_normal(n)) * np.where(shifted, _SHIFT_INCOME_FACTOR, 1.0)
    )
    loan_factor = _LOAN_FACTOR_MEDIAN * np.exp(_LOAN_FACTOR_LOG_SD * rng.standard_normal(n))
    loan_amount = np.round(np.clip(income * loan_factor, _LOAN_MIN, _LOAN_MAX))
    credit_score = np.round(
        np.clip(
            _CREDIT_MEAN + _CREDIT_SD * rng.standard_normal(n) + np.where(shifted, _SHIFT_CREDIT_DELTA, 0.0),
            _CREDIT_MIN,
            _CREDIT_MAX,
        )
    )
    debt_ratio = np.where(shifted, rng.beta(*_SHIFT_DEBT_BETA, size=n), rng.beta(*_DEBT_BETA, size=n))
    age = np.round(np.clip(rng.normal(_AGE_MEAN, _AGE_SD, size=n), _AGE_MIN, _AGE_MAX))
    employment_years = np.round(np.minimum(rng.exponential(_EMPLOYMENT_MEAN, size=n), age - 18.0), 1)

    terms = {
        "cs": (credit_score - _CREDIT_MEAN) / _CREDIT_SD,
        "dr": (debt_ratio - 0.3) / 0.15,
        "lti": (loan_amount / income - _LOAN_FACTOR_MEDIAN) / 0.15,
        "emp": (np.minimum(employment_years, 10.0) - 5.0) / 3.0,
        "young": (age < 30).astype(np.float64),
    }
    terms["dr_lti"] = np.maximum(terms["dr"], 0.0) * np.maximum(terms["lti"], 0.0)
    before = _BEFORE["intercept"] + sum((_BEFORE[k] * v for k, v in terms.items()), np.zeros(n))
    after = _AFTER["intercept"] + sum((_AFTER[k] * v for k, v in terms.items()), np.zeros(n))
    probability = 1.0 / (1.0 + np.exp(-np.where(changed, after, before)))
    defaulted = (rng.random(n) < probability).astype(np.int64)

    width = max(6, len(str(n)))
    ids = [f"a{i:0{width}d}" for i in range(1, n + 1)]
    event_ns = pd.Timestamp(begin).as_unit("ns").value + seconds * 1_000_000_000
    event = pd.to_datetime(event_ns, unit="ns", utc=True)
    label_at = pd.to_datetime(event_ns + label_delay_days * _SECONDS_PER_DAY * 1_000_000_000, unit="ns", utc=True)
    applications = pd.DataFrame(
        {
            "application_id": ids,
            "event_timestamp": event,
            "income": income,
            "loan_amount": loan_amount,
            "credit_score": credit_score,
            "debt_ratio": debt_ratio,
            "employment_years": employment_years,
            "age": age,
        }
    )
    labels = pd.DataFrame(
        {
            "application_id": ids,
            "event_timestamp": event,
            "label_timestamp": label_at,
            "defaulted": defaulted,
        }
    )
    return LoanData(
        applications=applications,
        labels=labels,
        start=begin,
        shift_at=begin + timedelta(days=shift_day),
        concept_at=begin + timedelta(days=concept_day),
    )


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}; pass e.g. tzinfo=datetime.UTC")
    return value.astimezone(UTC)
