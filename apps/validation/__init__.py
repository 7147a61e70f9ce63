"""Batch validation of a trained surrogate against reference solutions, with a report.

    from apps.validation import validate
    result = validate("runs/plate-mmgp", "runs/plate2d", "reports/plate", solve=True, n_solve=8)
    result.summary["outputs"]["U2"]["rrmse"], result.report

Modules: :mod:`.metrics` (RRMSE, Q2, coverage, ...), :mod:`.cases` (which cases, one
case's evaluation and files, FEM re-solves through Dask), :mod:`.report` (metrics.csv,
summary.json, report.html), :mod:`.compare` (several runs side by side),
:mod:`.pipeline` (:func:`validate`).
"""
from .cases import ValidateError
from .pipeline import ValidationResult, validate

__all__ = ["ValidateError", "ValidationResult", "validate"]
