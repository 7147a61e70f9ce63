"""Validation of rollouts: a time-series case compared step by step with its reference.

A rollout starts from the reference's initial state, so step 0 is given, not predicted:
the metrics cover steps 1..T-1. A rollout case's RRMSE treats the whole predicted
history as one field (DESIGN.md section 5 with the sum over nodes and steps and the
reference's max norm over both); the error curve ``rmse[t]`` (RMSE over nodes at step
``t``) shows how it grows along the rollout.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .metrics import field_case_stats

__all__ = ["final_state_data", "rollout_field_stats", "series_steps"]


def _flatten_steps(a: np.ndarray | None) -> np.ndarray | None:
    """(T, N, ...) -> ((T - 1) * N, ...): the predicted steps only."""
    if a is None:
        return None
    a = np.asarray(a, float)
    return a[1:].reshape((a.shape[0] - 1) * a.shape[1], *a.shape[2:])


def rollout_field_stats(ref: np.ndarray, pred: np.ndarray, points: np.ndarray, times: np.ndarray, *,
                        lower: np.ndarray | None = None, upper: np.ndarray | None = None,
                        std: np.ndarray | None = None) -> tuple[dict[str, Any], list[float]]:
    """Statistics of one rollout case and one field.

    Parameters
    ----------
    ref, pred : (T, N) or (T, N, c) reference and predicted states, T >= 2.
    points : (N, dim) node coordinates.
    times : (T,) times of the states.
    lower, upper, std : predictive quantiles / std, same shape as ``pred`` (or None).

    Returns
    -------
    (the :func:`~.metrics.field_case_stats` of steps 1..T-1 pooled, with ``argmax`` the
    node and ``step``/``time`` the step of the largest error; the RMSE over nodes at
    every step, (T,) with 0 at step 0 when the rollout starts from the reference).
    """
    ref, pred = np.asarray(ref, float), np.asarray(pred, float)
    if ref.ndim < 2 or ref.shape[0] < 2:
        raise ValueError(f"a rollout needs states of shape (T >= 2, N, ...); got {ref.shape}")
    n = ref.shape[1]
    stats = field_case_stats(_flatten_steps(ref), _flatten_steps(pred), np.tile(points, (ref.shape[0] - 1, 1)),
                             lower=_flatten_steps(lower), upper=_flatten_steps(upper), std=_flatten_steps(std))
    k = stats["argmax"]
    if k >= 0:
        stats["argmax"], stats["step"] = k % n, k // n + 1
        stats["time"] = float(times[stats["step"]])
    err = (pred - ref).reshape(ref.shape[0], n, -1)
    rmse = np.sqrt(np.mean(np.sum(err**2, axis=2), axis=1))
    return stats, [float(x) for x in rmse]


def final_state_data(name: str, ref: np.ndarray, pred: np.ndarray,
                     std: np.ndarray | None) -> dict[str, np.ndarray]:
    """Point data of the last state: ``NAME``, ``NAME_ref``, ``NAME_err`` and ``NAME_std``."""
    out = {name: pred[-1], f"{name}_ref": ref[-1], f"{name}_err": pred[-1] - ref[-1]}
    if std is not None:
        out[f"{name}_std"] = np.asarray(std, float)[-1]
    return out


def series_steps(fields: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]]) -> list[dict[str, np.ndarray]]:
    """One dict of point data per step (``NAME``, ``NAME_ref``, ``NAME_err``, ``NAME_std``),
    from ``name -> (ref (T, N, ...), pred (T, N, ...), std or None)``."""
    n_steps = len(next(iter(fields.values()))[0])
    steps: list[dict[str, np.ndarray]] = []
    for t in range(n_steps):
        d: dict[str, np.ndarray] = {}
        for name, (ref, pred, std) in fields.items():
            d.update({name: pred[t], f"{name}_ref": ref[t], f"{name}_err": pred[t] - ref[t]})
            if std is not None:
                d[f"{name}_std"] = np.asarray(std, float)[t]
        steps.append(d)
    return steps
