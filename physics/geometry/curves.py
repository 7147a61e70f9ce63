"""Random smooth curves shared by the geometry families.

Every function here is pure numpy: the random draws take an explicit
``numpy.random.Generator`` and return plain parameters (floats and lists) that
can be stored as provenance and replayed. The evaluators take those parameters
back and return coordinates, so a shape is fully described by its parameter
dictionary.

Three building blocks:

- :func:`gaussian_bumps` -- a sum of Gaussian bumps on an open parameter range,
  used for notches and bulges of a plate edge;
- :func:`fourier_series` -- a trigonometric series with decaying random
  coefficients, used for periodic radius functions and profile perturbations;
- :func:`star_curve` -- a closed star-shaped curve ``r(theta) = r0 (1 + f(theta))``,
  simple (never self-intersecting) as long as ``r > 0``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mesh.types import FloatArray

__all__ = [
    "as_generator",
    "gaussian_bumps",
    "random_bumps",
    "fourier_series",
    "random_fourier",
    "bounded_scale",
    "star_curve",
    "random_star",
    "smooth_taper",
]


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng``.

    Parameters
    ----------
    rng : a generator (used as is, and advanced by the caller's draws), an integer
        seed, or None for fresh OS entropy (not reproducible).

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        If ``rng`` is neither a generator, an integer nor None.

    Examples
    --------
    >>> bool(as_generator(3).integers(100) == as_generator(3).integers(100))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(None if rng is None else int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None; got {type(rng).__name__}"
    )


def smooth_taper(t: FloatArray) -> FloatArray:
    """The window ``sin(pi t)^2`` on ``t`` in [0, 1]: 0 with zero slope at both ends.

    Parameters
    ----------
    t : (M,) normalised abscissa in [0, 1].

    Returns
    -------
    (M,) values in [0, 1].
    """
    return np.sin(np.pi * np.asarray(t, dtype=float)) ** 2


def gaussian_bumps(
    t: FloatArray, centers: list[float], widths: list[float], amplitudes: list[float]
) -> FloatArray:
    """Evaluate ``sum_k a_k exp(-(t - c_k)^2 / (2 w_k^2))``.

    Parameters
    ----------
    t : (M,) abscissae (same unit as centers and widths).
    centers, widths, amplitudes : K values each; widths > 0.

    Returns
    -------
    (M,) values, in the unit of the amplitudes.

    Raises
    ------
    ValueError
        If the three lists differ in length or a width is not positive.

    Examples
    --------
    >>> float(gaussian_bumps(np.array([0.5]), [0.5], [0.1], [2.0])[0])
    2.0
    """
    t = np.asarray(t, dtype=float)
    c, w, a = (np.asarray(v, dtype=float).ravel() for v in (centers, widths, amplitudes))
    if not (len(c) == len(w) == len(a)):
        raise ValueError(
            f"centers, widths and amplitudes must have the same length; got "
            f"{len(c)}, {len(w)}, {len(a)}"
        )
    if np.any(w <= 0):
        raise ValueError(f"bump widths must be positive; got {w.tolist()}")
    if len(c) == 0:
        return np.zeros_like(t)
    return (a * np.exp(-0.5 * ((t[:, None] - c) / w) ** 2)).sum(axis=1)


def random_bumps(
    rng: np.random.Generator,
    n_range: tuple[int, int] = (1, 3),
    center_range: tuple[float, float] = (0.2, 0.8),
    width_range: tuple[float, float] = (0.04, 0.15),
    amplitude_range: tuple[float, float] = (-0.1, 0.25),
) -> dict[str, list[float]]:
    """Draw the parameters of a random sum of Gaussian bumps.

    Parameters
    ----------
    rng : random generator (advanced).
    n_range : inclusive range of the number of bumps K.
    center_range, width_range, amplitude_range : uniform ranges of each bump's
        center, width and signed amplitude (units of the evaluating abscissa and
        ordinate).

    Returns
    -------
    dict with lists ``centers``, ``widths``, ``amplitudes`` (K floats each), the
    keyword arguments of :func:`gaussian_bumps`.
    """
    k = int(rng.integers(n_range[0], n_range[1] + 1))
    return {
        "centers": rng.uniform(*center_range, size=k).tolist(),
        "widths": rng.uniform(*width_range, size=k).tolist(),
        "amplitudes": rng.uniform(*amplitude_range, size=k).tolist(),
    }


def fourier_series(
    theta: FloatArray, cos: list[float], sin: list[float], first_mode: int = 1
) -> FloatArray:
    """Evaluate ``sum_k cos_k cos(k theta) + sin_k sin(k theta)``, k = first_mode, ...

    Parameters
    ----------
    theta : (M,) angles in radians.
    cos, sin : K coefficients each, for modes ``first_mode .. first_mode + K - 1``.
    first_mode : order of the first mode (1 keeps a translation, 2 does not).

    Returns
    -------
    (M,) values.

    Raises
    ------
    ValueError
        If ``cos`` and ``sin`` differ in length.
    """
    theta = np.asarray(theta, dtype=float)
    a, b = np.asarray(cos, dtype=float).ravel(), np.asarray(sin, dtype=float).ravel()
    if len(a) != len(b):
        raise ValueError(f"cos and sin must have the same length; got {len(a)} and {len(b)}")
    k = first_mode + np.arange(len(a))
    kt = theta[:, None] * k
    return (np.cos(kt) * a + np.sin(kt) * b).sum(axis=1)


def random_fourier(
    rng: np.random.Generator, n_modes: int, amplitude: float, decay: float = 2.0,
    first_mode: int = 1,
) -> dict[str, Any]:
    """Draw Fourier coefficients with standard deviation ``amplitude * (k / first_mode)^-decay``.

    Parameters
    ----------
    rng : random generator (advanced).
    n_modes : number of modes K.
    amplitude : standard deviation of the first mode's coefficients.
    decay : power-law decay of the standard deviation with the mode order k; 2 or
        more gives a smooth (C1-looking) curve.
    first_mode : order of the first mode.

    Returns
    -------
    dict with ``cos``, ``sin`` (K floats each) and ``first_mode``, the keyword
    arguments of :func:`fourier_series`.
    """
    k = first_mode + np.arange(n_modes)
    std = amplitude * (k / first_mode) ** (-decay)
    return {
        "cos": (rng.standard_normal(n_modes) * std).tolist(),
        "sin": (rng.standard_normal(n_modes) * std).tolist(),
        "first_mode": int(first_mode),
    }


def bounded_scale(values: FloatArray, limit: float) -> float:
    """Factor in (0, 1] that brings ``max |values|`` down to ``limit`` (1 if already below).

    Parameters
    ----------
    values : (M,) samples of a perturbation on a fine grid.
    limit : largest allowed absolute value (> 0).

    Returns
    -------
    float scale factor to multiply the perturbation's amplitudes by.
    """
    peak = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return 1.0 if peak <= limit else limit / peak


def star_curve(
    theta: FloatArray, center: tuple[float, float], radius: float, cos: list[float],
    sin: list[float], first_mode: int = 2,
) -> FloatArray:
    """Points of the star-shaped curve ``c + r0 (1 + f(theta)) (cos theta, sin theta)``.

    Parameters
    ----------
    theta : (M,) angles in radians.
    center : (2,) center c, in length units.
    radius : mean radius r0 > 0, in length units.
    cos, sin, first_mode : Fourier coefficients of the relative perturbation f
        (see :func:`fourier_series`); the curve is simple when ``1 + f > 0``.

    Returns
    -------
    (M, 2) points, in length units.
    """
    theta = np.asarray(theta, dtype=float)
    r = radius * (1.0 + fourier_series(theta, cos, sin, first_mode))
    return np.column_stack([center[0] + r * np.cos(theta), center[1] + r * np.sin(theta)])


def random_star(
    rng: np.random.Generator, n_modes: int = 5, amplitude: float = 0.15, decay: float = 1.5,
    max_relative: float = 0.4, first_mode: int = 2,
) -> dict[str, Any]:
    """Draw a bounded relative radius perturbation for :func:`star_curve`.

    The coefficients are scaled so that ``|f(theta)| <= max_relative`` everywhere,
    which keeps the radius within ``r0 (1 +- max_relative)`` and the curve simple.

    Parameters
    ----------
    rng : random generator (advanced).
    n_modes, amplitude, decay, first_mode : see :func:`random_fourier`.
    max_relative : bound on the relative radius perturbation, in (0, 1).

    Returns
    -------
    dict with ``cos``, ``sin``, ``first_mode`` (for :func:`star_curve`) and
    ``scale``, the factor applied to the raw draw (1.0 when it was within bounds).

    Raises
    ------
    ValueError
        If ``max_relative`` is not in (0, 1).
    """
    if not 0.0 < max_relative < 1.0:
        raise ValueError(f"max_relative must be in (0, 1); got {max_relative}")
    coef = random_fourier(rng, n_modes, amplitude, decay, first_mode)
    theta = np.linspace(0.0, 2.0 * np.pi, 721)
    s = bounded_scale(fourier_series(theta, coef["cos"], coef["sin"], first_mode), max_relative)
    coef["cos"] = [s * c for c in coef["cos"]]
    coef["sin"] = [s * c for c in coef["sin"]]
    coef["scale"] = s
    return coef
