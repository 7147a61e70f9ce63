"""Error metrics of a surrogate against reference solutions (DESIGN.md section 5).

Two layers:

- functions on arrays, for direct use: :func:`field_rrmse`, :func:`scalar_rrmse`,
  :func:`q2`, :func:`coverage`, :func:`max_abs_error`, :func:`speedup`;
- per-case statistics (:func:`field_case_stats`, :func:`scalar_case_stats`), small
  JSON-able dicts written next to each validated case, and their combination over
  the set (:func:`combine_field`, :func:`combine_scalar`). The set metrics are a
  function of the per-case statistics alone, so a validation that was interrupted
  and resumed gives the same numbers as one that ran straight through.

Definitions (``S`` cases, case ``i`` with ``N_i`` nodes):

- RRMSE of a field = sqrt(mean_i (1/N_i) ||u_ref - u_pred||^2 / ||u_ref||_inf^2); for a
  vector field (N, c), ``||.||^2`` sums over nodes and components and
  ``||u_ref||_inf`` is the largest Euclidean norm of a node's vector.
- RRMSE of a scalar = sqrt(mean_i (w_ref - w_pred)^2 / w_ref^2).
- Q2 over the set = 1 - SSE / SST, every node of every case pooled (each component
  about its own mean for a vector field).
- coverage = share of reference values inside the predicted 95 % interval (the
  2.5/97.5 % quantiles when the model gives them, else mean +- 1.96 std).
- speed-up = FEM solve time / surrogate prediction time.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mesh.types import FloatArray

#: half-width of the Gaussian 95 % interval in standard deviations
Z95 = 1.959963984540054


def _as2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1)


def _check_pair(ref: np.ndarray, pred: np.ndarray, what: str = "field") -> None:
    if np.shape(ref) != np.shape(pred):
        raise ValueError(f"{what}: the prediction has shape {np.shape(pred)}, the reference "
                         f"{np.shape(ref)}")


# ------------------------------------------------------------------ array metrics
def field_rrmse(refs: Sequence[FloatArray], preds: Sequence[FloatArray]) -> float:
    """RRMSE of a field over a set of cases (DESIGN.md section 5).

    Parameters
    ----------
    refs, preds : one (N_i,) or (N_i, c) array per case (node counts may differ).

    Returns
    -------
    sqrt(mean_i (1/N_i) ||ref_i - pred_i||^2 / ||ref_i||_inf^2), dimensionless.

    Examples
    --------
    >>> round(field_rrmse([np.array([1.0, 2.0])], [np.array([1.0, 1.0])]), 6)
    0.353553
    """
    stats = [field_case_stats(r, p) for r, p in zip(refs, preds, strict=True)]
    return combine_field(stats)["rrmse"]


def scalar_rrmse(ref: FloatArray, pred: FloatArray) -> float:
    """RRMSE of an output scalar over ``S`` cases: sqrt(mean_i ((ref_i - pred_i) / ref_i)^2).

    Parameters
    ----------
    ref, pred : (S,) values.
    """
    ref, pred = np.asarray(ref, float), np.asarray(pred, float)
    _check_pair(ref, pred, "scalar")
    return float(np.sqrt(np.mean(((ref - pred) / ref) ** 2)))


def q2(ref: FloatArray | Sequence[FloatArray], pred: FloatArray | Sequence[FloatArray]) -> float:
    """Coefficient of determination Q2 = 1 - SSE / SST over pooled values.

    Parameters
    ----------
    ref, pred : (S,) scalars, one (N,) or (N, c) field, or a list of per-case fields
        (pooled; each component about its own mean).

    Returns
    -------
    Q2 (1 is perfect, 0 is as good as the mean of the references); NaN when the
    references do not vary.
    """
    if isinstance(ref, (list, tuple)):
        ref = np.concatenate([_as2d(r) for r in ref])
        pred = np.concatenate([_as2d(p) for p in pred])
    ref, pred = _as2d(ref), _as2d(pred)
    _check_pair(ref, pred)
    sse = float(np.sum((ref - pred) ** 2))
    sst = float(np.sum((ref - ref.mean(axis=0)) ** 2))
    return 1.0 - sse / sst if sst > 0 else math.nan


def coverage(ref: FloatArray, lower: FloatArray, upper: FloatArray) -> float:
    """Share of reference values inside [lower, upper] (arrays of one shape, any shape)."""
    ref, lower, upper = (np.asarray(a, float) for a in (ref, lower, upper))
    _check_pair(ref, lower, "lower bound")
    _check_pair(ref, upper, "upper bound")
    return float(np.mean((ref >= lower) & (ref <= upper))) if ref.size else math.nan


def max_abs_error(ref: FloatArray, pred: FloatArray) -> tuple[float, int]:
    """Largest error at a node and the node's index.

    Parameters
    ----------
    ref, pred : (N,) or (N, c) arrays; for c > 1 the error at a node is the Euclidean
        norm of its error vector.
    """
    err = _node_error(ref, pred)
    k = int(np.argmax(err))
    return float(err[k]), k


def speedup(fem_seconds: float | None, surrogate_seconds: float | None) -> float | None:
    """FEM solve time / surrogate prediction time (None when either is unknown or zero)."""
    if not fem_seconds or not surrogate_seconds:
        return None
    return float(fem_seconds) / float(surrogate_seconds)


def _node_error(ref: np.ndarray, pred: np.ndarray) -> np.ndarray:
    ref, pred = np.asarray(ref, float), np.asarray(pred, float)
    _check_pair(ref, pred)
    e = pred - ref
    return np.abs(e) if e.ndim == 1 else np.linalg.norm(e.reshape(len(e), -1), axis=1)


# --------------------------------------------------------------- per-case statistics
def field_case_stats(ref: FloatArray, pred: FloatArray, points: FloatArray | None = None, *,
                     lower: FloatArray | None = None, upper: FloatArray | None = None,
                     std: FloatArray | None = None) -> dict[str, Any]:
    """Statistics of one case and one field, enough to combine the set metrics exactly.

    Parameters
    ----------
    ref, pred : (N,) or (N, c) reference and prediction.
    points : (N, dim) coordinates of the values (nodes or cell centres), to locate the
        largest error.
    lower, upper : 2.5 / 97.5 % predictive quantiles, same shape as ``pred``.
    std : predictive standard deviation (used for the interval when no quantiles).

    Returns
    -------
    JSON-able dict: ``n``, ``mse`` = (1/N)||ref - pred||^2, ``ref_inf``, ``rrmse`` (of
    this case), ``sum_count``/``mean``/``m2``/``sse`` per component (for Q2),
    ``max_abs_error``, ``argmax``, ``coords``, ``covered``/``n_interval`` (None when
    the model gives no uncertainty).
    """
    r, p = _as2d(ref), _as2d(pred)
    _check_pair(ref, pred)
    n = len(r)
    node_err = np.linalg.norm(p - r, axis=1)
    ref_inf = float(np.max(np.linalg.norm(r, axis=1))) if n else 0.0
    mse = float(np.sum(node_err**2) / n) if n else math.nan
    k = int(np.argmax(node_err)) if n else -1
    if lower is None and std is not None:
        s = _as2d(std)
        lower_, upper_ = p - Z95 * s, p + Z95 * s
    elif lower is not None and upper is not None:
        lower_, upper_ = _as2d(lower), _as2d(upper)
    else:
        lower_ = upper_ = None
    covered = None if lower_ is None else int(np.sum((r >= lower_) & (r <= upper_)))
    return {
        "n": n, "components": int(r.shape[1]),
        "mse": mse, "ref_inf": ref_inf,
        "rrmse": math.sqrt(mse) / ref_inf if ref_inf > 0 else math.nan,
        "mean": r.mean(axis=0).tolist(), "m2": np.sum((r - r.mean(axis=0)) ** 2, axis=0).tolist(),
        "sse": np.sum((p - r) ** 2, axis=0).tolist(),
        "max_abs_error": float(node_err[k]) if n else math.nan, "argmax": k,
        "coords": [] if points is None or k < 0 else [float(x) for x in np.asarray(points)[k]],
        "covered": covered, "n_interval": None if covered is None else int(r.size),
    }


def scalar_case_stats(ref: float, pred: float, std: float | None = None) -> dict[str, Any]:
    """Statistics of one case and one output scalar: reference, prediction, std, error."""
    ref, pred = float(ref), float(pred)
    return {"ref": ref, "pred": pred, "std": None if std is None else float(std),
            "abs_error": abs(pred - ref),
            "rel_error": abs(pred - ref) / abs(ref) if ref != 0 else math.nan}


# -------------------------------------------------------------------- set metrics
def combine_field(stats: Sequence[dict[str, Any]], ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Set metrics of one field from its per-case statistics (:func:`field_case_stats`).

    Parameters
    ----------
    stats : one dict per case, in a fixed order (sort by case id for reproducible sums).
    ids : the case ids, to say where the largest error is.

    Returns
    -------
    ``rrmse``, ``q2``, ``max_abs_error`` and where (``case``, ``node``, ``coords``),
    ``coverage`` (None without uncertainty), ``n_cases`` (cases with a non-zero reference
    enter the RRMSE; ``n_zero_ref`` counts the others).
    """
    ids = list(ids) if ids is not None else [str(i) for i in range(len(stats))]
    terms = [s["mse"] / s["ref_inf"] ** 2 for s in stats if s["ref_inf"] > 0]
    rrmse = math.sqrt(sum(terms) / len(terms)) if terms else math.nan
    # Q2: merge per-component counts, means and M2 (Chan et al.), then 1 - SSE/SST
    count, mean, m2, sse = 0, None, None, None
    for s in stats:
        n_b, mean_b, m2_b = s["n"], np.asarray(s["mean"]), np.asarray(s["m2"])
        if n_b == 0:
            continue
        if mean is None:
            count, mean, m2, sse = n_b, mean_b.copy(), m2_b.copy(), np.asarray(s["sse"], float).copy()
            continue
        delta = mean_b - mean
        total = count + n_b
        m2 = m2 + m2_b + delta**2 * count * n_b / total
        mean = mean + delta * n_b / total
        sse = sse + np.asarray(s["sse"], float)
        count = total
    sst = float(np.sum(m2)) if m2 is not None else 0.0
    q2_ = 1.0 - float(np.sum(sse)) / sst if sst > 0 else math.nan
    worst = max(range(len(stats)), key=lambda i: stats[i]["max_abs_error"], default=None)
    with_cov = [s for s in stats if s["covered"] is not None]
    cov = (sum(s["covered"] for s in with_cov) / sum(s["n_interval"] for s in with_cov)
           if with_cov and len(with_cov) == len(stats) else None)
    return {
        "rrmse": rrmse, "q2": q2_,
        "max_abs_error": stats[worst]["max_abs_error"] if worst is not None else math.nan,
        "max_abs_error_case": ids[worst] if worst is not None else None,
        "max_abs_error_node": stats[worst]["argmax"] if worst is not None else None,
        "max_abs_error_coords": stats[worst]["coords"] if worst is not None else None,
        "coverage95": cov, "n_cases": len(terms), "n_zero_ref": len(stats) - len(terms),
    }


def combine_scalar(stats: Sequence[dict[str, Any]], ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Set metrics of one output scalar from its per-case statistics (:func:`scalar_case_stats`).

    Returns
    -------
    Same keys as :func:`combine_field`; the coverage is that of mean +- 1.96 std.
    """
    ids = list(ids) if ids is not None else [str(i) for i in range(len(stats))]
    ref = np.array([s["ref"] for s in stats], float)
    pred = np.array([s["pred"] for s in stats], float)
    nz = ref != 0
    rrmse = float(np.sqrt(np.mean(((ref[nz] - pred[nz]) / ref[nz]) ** 2))) if nz.any() else math.nan
    err = np.abs(pred - ref)
    worst = int(np.argmax(err)) if len(err) else None
    stds = [s["std"] for s in stats]
    cov = None
    if stds and all(s is not None for s in stds):
        cov = float(np.mean(err <= Z95 * np.array(stds, float)))
    return {
        "rrmse": rrmse, "q2": q2(ref, pred) if len(ref) > 1 else math.nan,
        "max_abs_error": float(err[worst]) if worst is not None else math.nan,
        "max_abs_error_case": ids[worst] if worst is not None else None,
        "max_abs_error_node": None, "max_abs_error_coords": None,
        "coverage95": cov, "n_cases": int(nz.sum()), "n_zero_ref": int((~nz).sum()),
    }
