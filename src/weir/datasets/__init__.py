"""Seeded data generators for demos and tests (nothing is downloaded)."""

from __future__ import annotations

from weir.datasets.loans import LOAN_FEATURES, LoanData, simulate_loans

__all__ = ["LOAN_FEATURES", "LoanData", "simulate_loans"]
