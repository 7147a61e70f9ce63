"""Post-hoc calibration of an ensemble's spread on held-out samples.

A deep ensemble's standard deviation measures how much its members disagree, not how
far they are from the truth: on plate2d, 3 members trained for 20 epochs put only
14-62 % of the test values inside mean -+ 1.96 std (`benchmarks/bench_models.py
--part ensemble`). The spread does rank the errors (a larger spread flags a worse
sample), so one scale factor per output, fitted on samples the networks never saw,
turns it into an interval of the wanted coverage (std scaling; Kuleshov et al. 2018,
Laves et al. 2020):

    factor = quantile_level(|reference - mean| / std) / z_level

over every node value (and time) of the held-out samples, so that a fraction ``level``
of them falls inside mean -+ z_level * factor * std. It is valid for data like the
held-out samples (exchangeable with them), and is labelled as such in predictions.
The quantile is the split-conformal one (:func:`interval_factors`). MMGP uses the same
factors on the closed-form leave-one-out residuals of its Gaussian processes.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

__all__ = ["coverage", "interval_factors", "std_scale_factors"]


def interval_factors(abs_ratio: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Per-column factor on a predicted std that makes mean -+ z_level std hold ``level``.

    Parameters
    ----------
    abs_ratio : (n, M) |reference - mean| / std of n held-out (or left-out) values of M
        outputs.
    level : wanted coverage of the central interval, in (0, 1).

    Returns
    -------
    (M,) factors: the split-conformal quantile of each column (its ceil((n + 1) level)-th
    smallest value, so that a new exchangeable value falls below it with probability
    >= level; the largest value when n < 1 / (1 - level) - 1 is too few for that
    guarantee) divided by the Gaussian z_level (1.96 at 95 %).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}")
    r = np.asarray(abs_ratio, dtype=np.float64)
    n = r.shape[0]
    if n == 0:
        raise ValueError("interval_factors needs at least one value per column")
    rank = min(int(np.ceil((n + 1) * level)), n)
    q = np.partition(r, rank - 1, axis=0)[rank - 1]
    return np.maximum(q, 1e-12) / float(norm.ppf(0.5 + level / 2))


def std_scale_factors(refs: Sequence[dict[str, np.ndarray]], means: Sequence[dict[str, np.ndarray]],
                      stds: Sequence[dict[str, np.ndarray]], level: float = 0.95) -> dict[str, float]:
    """One factor per output name that gives mean -+ z * factor * std a coverage of ``level``.

    Parameters
    ----------
    refs, means, stds : one dict per held-out sample, name -> array (any shape, equal
        per sample and name): reference values, predicted means and predicted stds.
    level : wanted coverage of the central interval, in (0, 1).

    Returns
    -------
    dict
        name -> factor (> 0). Names whose std is zero everywhere are left out.

    Examples
    --------
    >>> import numpy as np
    >>> err = np.random.default_rng(0).normal(0.0, 2.0, 100_000)   # errors twice the std
    >>> f = std_scale_factors([{"T": err}], [{"T": np.zeros_like(err)}], [{"T": np.ones_like(err)}])
    >>> round(f["T"], 1)
    2.0
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}")
    out = {}
    for name in stds[0] if stds else []:
        ratio = np.concatenate([np.ravel(np.abs(np.asarray(r[name], float) - np.asarray(m[name], float)))
                                / np.maximum(np.ravel(np.asarray(s[name], float)), 1e-300)
                                for r, m, s in zip(refs, means, stds)])
        if not np.any(np.concatenate([np.ravel(s[name]) for s in stds]) > 0):
            continue
        out[name] = float(interval_factors(ratio[:, None], level)[0])
    return out


def coverage(refs: Sequence[dict[str, np.ndarray]], means: Sequence[dict[str, np.ndarray]],
             stds: Sequence[dict[str, np.ndarray]], level: float = 0.95) -> dict[str, float]:
    """Share of reference values inside mean -+ z_level * std, per name (same inputs as
    :func:`std_scale_factors`)."""
    z = float(norm.ppf(0.5 + level / 2))
    out = {}
    for name in stds[0] if stds else []:
        inside = total = 0
        for r, m, s in zip(refs, means, stds):
            err = np.abs(np.asarray(r[name], float) - np.asarray(m[name], float))
            inside += int((err <= z * np.asarray(s[name], float)).sum())
            total += err.size
        out[name] = inside / total if total else float("nan")
    return out
