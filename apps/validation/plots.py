"""Charts of a validation report as PNG bytes (matplotlib, Agg backend, no window).

matplotlib comes with pyvista; it is imported only when a report is drawn.
Every chart is a function of arrays and returns the PNG bytes, to be embedded in the
self-contained HTML report.
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np

from .metrics import Z95

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout(pad=0.4)
    fig.savefig(buf, format="png", dpi=100)
    _plt().close(fig)
    return buf.getvalue()


def _label(name: str, unit: str | None) -> str:
    return f"{name} [{unit}]" if unit else name


def _fmt(v: float | None, spec: str = ".3g") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def parity_field(name: str, unit: str | None, ref: np.ndarray, pred: np.ndarray,
                 rrmse: float | None, q2: float | None) -> bytes:
    """Reference vs predicted values of a field, pooled over nodes and cases.

    Parameters
    ----------
    ref, pred : (M,) values (a sample of the nodes when the set is large).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    ax.scatter(ref, pred, s=3, alpha=0.25, color=COLORS[0], linewidths=0)
    _diagonal(ax, ref, pred)
    ax.set_xlabel(_label(f"{name} reference", unit))
    ax.set_ylabel(_label(f"{name} predicted", unit))
    ax.set_title(f"{name}: RRMSE {_fmt(rrmse)}, Q2 {_fmt(q2, '.4f')}", fontsize=9)
    return _png(fig)


def parity_scalar(name: str, unit: str | None, ref: np.ndarray, pred: np.ndarray,
                  std: np.ndarray | None, rrmse: float | None, q2: float | None) -> bytes:
    """Reference vs predicted values of an output scalar, one point per case, with the
    predicted 95 % interval (mean +- 1.96 std) as error bars.

    Parameters
    ----------
    ref, pred : (S,) values; std : (S,) predictive standard deviations or None.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    yerr = None if std is None else Z95 * np.asarray(std, float)
    ax.errorbar(ref, pred, yerr=yerr, fmt="o", ms=3.5, color=COLORS[1], ecolor="#d6272880",
                elinewidth=1.0, capsize=2, label="prediction, 95 % interval" if yerr is not None
                else "prediction")
    band = np.asarray(pred, float) if yerr is None else np.concatenate([pred - yerr, pred + yerr])
    _diagonal(ax, ref, band)
    ax.set_xlabel(_label(f"{name} reference", unit))
    ax.set_ylabel(_label(f"{name} predicted", unit))
    ax.set_title(f"{name}: RRMSE {_fmt(rrmse)}, Q2 {_fmt(q2, '.4f')}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return _png(fig)


def _diagonal(ax, ref: np.ndarray, pred: np.ndarray) -> None:
    both = np.concatenate([np.ravel(ref), np.ravel(pred)])
    lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    pad = 0.03 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=0.8, ls="--", label="y = x")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.ticklabel_format(style="sci", scilimits=(-3, 4), axis="both")
    ax.grid(alpha=0.3)


def error_histogram(name: str, rel_errors: np.ndarray, what: str) -> bytes:
    """Histogram (log counts) of relative errors; a dot per value when there are few.

    Parameters
    ----------
    rel_errors : (M,) errors divided by the case's reference scale.
    what : the x-axis label (how the errors are normalised).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.6, 2.8))
    e = np.asarray(rel_errors, float)
    e = e[np.isfinite(e)]
    if e.size < 30:
        ax.plot(np.sort(e), np.arange(1, e.size + 1), "o", ms=4, color=COLORS[2])
        ax.set_ylabel("case (sorted)")
        ax.set_ylim(0, e.size + 1)
    else:
        n_bins = 60 if e.size > 200 else 30
        lo, hi = float(e.min()), float(e.max())
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(lo), 1e-12)
        ax.hist(e, bins=np.linspace(lo - pad, hi + pad, n_bins + 1), color=COLORS[2], alpha=0.85)
        if e.size > 200:
            ax.set_yscale("log")
        ax.set_ylabel("count")
    ax.axvline(0.0, color="black", lw=0.6)
    ax.set_xlabel(what, fontsize=8)
    q = np.quantile(np.abs(e), [0.5, 0.99]) if e.size else (math.nan, math.nan)
    ax.set_title(f"{name}: |err| median {_fmt(q[0])}, 99 % {_fmt(q[1])}", fontsize=9)
    ax.grid(alpha=0.3)
    return _png(fig)


def learning_curve(x_name: str, x: Sequence[float], series: dict[str, Sequence[float]]) -> bytes:
    """Metrics of the training (losses, errors) against ``x`` (epochs, training size, ...);
    log y when every value is positive."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    positive = True
    for i, (name, y) in enumerate(series.items()):
        y = np.asarray(y, float)
        positive &= bool(np.all(y[np.isfinite(y)] > 0))
        ax.plot(x[: len(y)], y, marker="o" if len(y) < 30 else None, ms=3, lw=1.2,
                color=COLORS[i % len(COLORS)], label=name)
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel(x_name)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _png(fig)


def grouped_bars(outputs: list[str], runs: list[str], values: dict[str, list[float | None]],
                 ylabel: str = "RRMSE") -> bytes:
    """A grouped bar chart: one group per output, one bar per run (log y).

    Parameters
    ----------
    values : run label -> one value per output (None where the run lacks the output).
    """
    plt = _plt()
    w = min(12.0, max(5.0, 0.6 * len(outputs) * len(runs) ** 0.5 + 2))
    fig, ax = plt.subplots(figsize=(w, 3.4))
    width = 0.8 / max(1, len(runs))
    x = np.arange(len(outputs))
    for i, run in enumerate(runs):
        v = np.array([np.nan if a is None else a for a in values[run]], float)
        ax.bar(x + (i - (len(runs) - 1) / 2) * width, v, width, label=run, color=COLORS[i % len(COLORS)])
    ax.set_xticks(x, outputs, rotation=30, ha="right", fontsize=8)
    finite = [a for r in runs for a in values[r] if a is not None and np.isfinite(a) and a > 0]
    if finite:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return _png(fig)


def error_over_time(times: Sequence[float], curves: dict[str, tuple[np.ndarray, np.ndarray]],
                    time_unit: str | None = None) -> bytes:
    """Relative rollout error against time: for each field, the mean over cases (line) and the
    worst case (dashed) of RMSE over nodes at each step / ||ref||_inf of the case."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    t = np.asarray(times, float)
    for i, (name, (mean, worst)) in enumerate(curves.items()):
        c = COLORS[i % len(COLORS)]
        ax.plot(t[1:len(mean)], mean[1:], color=c, lw=1.4, label=f"{name} (mean over cases)")
        ax.plot(t[1:len(worst)], worst[1:], color=c, lw=1.0, ls="--", label=f"{name} (worst case)")
    values = np.concatenate([np.asarray(w[1:], float) for _, w in curves.values()] or [np.zeros(0)])
    if values.size and np.all(values[np.isfinite(values)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel(_label("time", time_unit))
    ax.set_ylabel("RMSE / ||ref||_inf")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _png(fig)
