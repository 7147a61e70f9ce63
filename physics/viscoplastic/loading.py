"""Loads of the viscoplastic problem: load curves, Dirichlet, traction, pressure, body force and
nodal temperature, bundled in :class:`ViscoplasticLoading`. Units are SI (m, Pa, N, s, K)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

from mesh.types import FloatArray

from ..errors import CaseError

__all__ = [
    "BodyForce",
    "Dirichlet",
    "LoadCurve",
    "LoadFunction",
    "NodalTemperature",
    "Pressure",
    "Traction",
    "ViscoplasticLoading",
]

LoadFunction = Callable[[float], float]


@dataclass(frozen=True)
class LoadCurve:
    """Piecewise-linear function of time, held constant outside its table.

    Parameters
    ----------
    times : (m,) strictly increasing times, s.
    values : (m,) dimensionless multipliers.

    Examples
    --------
    >>> ramp = LoadCurve((0.0, 1.0), (0.0, 2.0))
    >>> ramp(0.25), ramp(5.0)
    (0.5, 2.0)
    """

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        t = np.asarray(self.times, float).ravel()
        v = np.asarray(self.values, float).ravel()
        if t.size == 0 or t.size != v.size:
            raise CaseError(f"LoadCurve needs as many times as values; got {t.size} and {v.size}")
        if np.any(np.diff(t) <= 0) or not np.all(np.isfinite(t)) or not np.all(np.isfinite(v)):
            raise CaseError(
                f"LoadCurve times must be finite and strictly increasing; got {t.tolist()}")
        object.__setattr__(self, "times", tuple(t.tolist()))
        object.__setattr__(self, "values", tuple(v.tolist()))

    def __call__(self, t: float) -> float:
        """Multiplier at time ``t`` (s)."""
        return float(np.interp(t, self.times, self.values))


def _constant_one(t: float) -> float:
    return 1.0


def _check_load(owner: str, load: object) -> None:
    if not callable(load):
        raise CaseError(
            f"{owner}: 'load' must be a callable of time (e.g. a LoadCurve); got {load!r}")


@dataclass(frozen=True)
class Dirichlet:
    """Prescribed displacement ``value * load(t)`` on components of the nodes of a group.

    Parameters
    ----------
    group : name of a point set or cell set of the mesh.
    components : displacement components fixed, 0-based (0 = x, 1 = y, 2 = z);
        None fixes every component of the mesh's dimension.
    value : prescribed displacement, m: a scalar for every component, or one per component.
    load : multiplier as a function of time (default: 1 at all times).
    """

    group: str
    components: Optional[tuple[int, ...]] = None
    value: Union[float, tuple[float, ...]] = 0.0
    load: LoadFunction = _constant_one

    def __post_init__(self) -> None:
        if self.components is not None:
            comps = tuple(int(c) for c in np.atleast_1d(self.components))
            if not comps or any(c not in (0, 1, 2) for c in comps) or len(set(comps)) != len(comps):
                raise CaseError(
                    f"Dirichlet on '{self.group}': components must be distinct values in "
                    f"(0, 1, 2); got {self.components!r}"
                )
            object.__setattr__(self, "components", comps)
        vals = np.atleast_1d(np.asarray(self.value, float)).ravel()
        n = None if self.components is None else len(self.components)
        if not np.all(np.isfinite(vals)) or (vals.size != 1 and n is not None and vals.size != n):
            raise CaseError(
                f"Dirichlet on '{self.group}': value must be finite, one scalar or one per "
                f"component; got {self.value!r}"
            )
        _check_load(f"Dirichlet on '{self.group}'", self.load)
        object.__setattr__(self, "value", tuple(vals.tolist()))

    def values_for(self, dim: int) -> tuple[tuple[int, ...], FloatArray]:
        """Components fixed in a ``dim``-dimensional mesh and their values (unit load)."""
        comps = self.components if self.components is not None else tuple(range(dim))
        vals = np.broadcast_to(np.asarray(self.value, float), (len(comps),)) \
            if len(self.value) in (1, len(comps)) else None
        if vals is None:
            raise CaseError(f"Dirichlet on '{self.group}': {len(self.value)} values for "
                            f"{len(comps)} components")
        return comps, vals


@dataclass(frozen=True)
class Traction:
    """Surface traction ``vector * load(t)`` (Pa) on a facet group (reference configuration)."""

    group: str
    vector: tuple[float, ...]
    load: LoadFunction = _constant_one

    def __post_init__(self) -> None:
        v = np.asarray(self.vector, float).ravel()
        if v.size not in (2, 3) or not np.all(np.isfinite(v)):
            raise CaseError(
                f"Traction on '{self.group}': vector must have 2 or 3 finite components; "
                f"got {self.vector!r}"
            )
        _check_load(f"Traction on '{self.group}'", self.load)
        object.__setattr__(self, "vector", tuple(v.tolist()))


@dataclass(frozen=True)
class Pressure:
    """Pressure ``value * load(t)`` (Pa) on a facet group: traction ``-p n``, n the outward normal.

    A positive pressure pushes on the surface; a negative one pulls it.
    """

    group: str
    value: float
    load: LoadFunction = _constant_one

    def __post_init__(self) -> None:
        if not np.isfinite(float(self.value)):
            raise CaseError(f"Pressure on '{self.group}': value must be finite; got {self.value!r}")
        _check_load(f"Pressure on '{self.group}'", self.load)
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True)
class BodyForce:
    """Volume force density ``rho (g + omega^2 r_perp) * load(t)`` (N/m^3).

    ``r_perp`` is the position relative to the rotation axis (the out-of-plane axis
    through ``center`` in 2D; the line through ``center`` along ``axis`` in 3D), so the
    second term is the centrifugal force of a rotation at ``omega`` rad/s.

    Parameters
    ----------
    density : mass density, kg/m^3 (>= 0).
    gravity : acceleration vector, m/s^2 (length dim), or None.
    omega : rotation speed, rad/s.
    center : a point of the rotation axis, m.
    axis : direction of the rotation axis (3D only).
    load : multiplier as a function of time.
    """

    density: float
    gravity: Optional[tuple[float, ...]] = None
    omega: float = 0.0
    center: tuple[float, ...] = (0.0, 0.0, 0.0)
    axis: tuple[float, ...] = (0.0, 0.0, 1.0)
    load: LoadFunction = _constant_one

    def __post_init__(self) -> None:
        if not (np.isfinite(self.density) and self.density >= 0):
            raise CaseError(f"BodyForce: density must be finite and >= 0; got {self.density!r}")
        if not np.isfinite(self.omega):
            raise CaseError(f"BodyForce: omega must be finite; got {self.omega!r}")
        a = np.asarray(self.axis, float)
        if a.shape != (3,) or np.linalg.norm(a) == 0:
            raise CaseError(f"BodyForce: axis must be a non-zero 3-vector; got {self.axis!r}")
        _check_load("BodyForce", self.load)

    def density_at(self, x: FloatArray, t: float) -> FloatArray:
        """Force density at points ``x`` (..., dim), m, at time ``t``: (..., dim), N/m^3."""
        dim = x.shape[-1]
        f = np.zeros_like(x)
        if self.gravity is not None:
            f += np.asarray(self.gravity, float)[:dim]
        if self.omega:
            r = x - np.asarray(self.center, float)[:dim]
            if dim == 3:
                a = np.asarray(self.axis, float) / np.linalg.norm(self.axis)
                r = r - (r @ a)[..., None] * a
            f += self.omega**2 * r
        return self.density * self.load(t) * f


@dataclass(frozen=True, eq=False)
class NodalTemperature:
    """Temperature at the mesh nodes, piecewise linear in time (held outside the table).

    Parameters
    ----------
    values : (N,) constant field, or (n_t, N) fields at ``times``, K.
    times : (n_t,) strictly increasing times, s (None for a constant field).
    """

    values: FloatArray
    times: Optional[FloatArray] = None

    def __post_init__(self) -> None:
        v = np.asarray(self.values, float)
        if self.times is None:
            if v.ndim != 1:
                raise CaseError(f"NodalTemperature: a constant field must be (N,); got {v.shape}")
            v, t = v[None, :], np.zeros(1)
        else:
            t = np.asarray(self.times, float).ravel()
            if v.ndim != 2 or v.shape[0] != t.size:
                raise CaseError(
                    f"NodalTemperature: values must be (n_t, N) with n_t = {t.size} times; "
                    f"got {v.shape}"
                )
            if np.any(np.diff(t) <= 0):
                raise CaseError(
                    f"NodalTemperature: times must be strictly increasing; got {t.tolist()}")
        if not np.all(np.isfinite(v)):
            raise CaseError("NodalTemperature: values must be finite")
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "times", t)

    @property
    def n_points(self) -> int:
        """Number of nodes N the field is given at."""
        return int(self.values.shape[1])

    def at(self, t: float) -> FloatArray:
        """Temperature at every node at time ``t``: (N,), K."""
        ts, v = self.times, self.values
        if len(ts) == 1 or t <= ts[0]:
            return v[0]
        if t >= ts[-1]:
            return v[-1]
        i = int(np.searchsorted(ts, t)) - 1
        a = (t - ts[i]) / (ts[i + 1] - ts[i])
        return (1 - a) * v[i] + a * v[i + 1]


@dataclass(frozen=True, eq=False)
class ViscoplasticLoading:
    """Every load of a viscoplastic case.

    Parameters
    ----------
    dirichlet : prescribed displacements (at least one, or the problem is ill posed).
    surface : tractions and pressures on facet groups.
    temperature : nodal temperature (None: ``T_ref`` everywhere, no thermal strain).
    body_force : volume force (None: none).
    """

    dirichlet: tuple[Dirichlet, ...]
    surface: tuple[Union[Traction, Pressure], ...] = ()
    temperature: Optional[NodalTemperature] = None
    body_force: Optional[BodyForce] = None

    def __post_init__(self) -> None:
        d, s = tuple(self.dirichlet), tuple(self.surface)
        for x in d:
            if not isinstance(x, Dirichlet):
                raise CaseError(f"ViscoplasticLoading.dirichlet takes Dirichlet items; got {x!r}")
        for x in s:
            if not isinstance(x, (Traction, Pressure)):
                raise CaseError(
                    f"ViscoplasticLoading.surface takes Traction/Pressure items; got {x!r}")
        if self.temperature is not None and not isinstance(self.temperature, NodalTemperature):
            raise CaseError(f"ViscoplasticLoading.temperature must be a NodalTemperature; got "
                            f"{type(self.temperature).__name__}")
        object.__setattr__(self, "dirichlet", d)
        object.__setattr__(self, "surface", s)


