"""Heat conduction with scikit-fem: steady state and transient (theta scheme).

``rho c dT/dt - div(k grad T) = s`` in the domain, with prescribed temperature
(constant, a function of t, or of (x, t)), convection ``-k dT/dn = h (T - T_inf)``
and an imposed heat flux ``-k dT/dn = -q`` (q > 0 heats the body) on named
boundary groups. Outputs are nodal temperatures on the input mesh. SI units
(m, s, W, J, K; temperatures may be in C as long as they are consistent).
"""
from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mesh import Mesh

from .errors import CaseError, IllPosedError
from .forms import capacity, conduction, convection, source
from .linsolve import DirichletSolver, direct_limit
from .result import FEMResult
from .skfem_mesh import FEMesh

#: a value constant in time, or a function of t [s]
TimeFunction = float | Callable[[float], float]
#: a constant, f(t), or f(x, t) with x (M, dim) [m] returning (M,)
BoundaryValue = float | Callable[..., object]


@dataclass(frozen=True)
class Temperature:
    """Prescribed temperature on a boundary or point group [K]: number, f(t) or f(x, t)."""

    group: str
    value: BoundaryValue


@dataclass(frozen=True)
class Convection:
    """Convection on a boundary group: film coefficient ``h`` [W/(m^2 K)], ambient ``T_inf`` [K]."""

    group: str
    h: float
    T_inf: TimeFunction


@dataclass(frozen=True)
class HeatFlux:
    """Heat flux ``q`` [W/m^2] entering the body through a boundary group (number or f(t))."""

    group: str
    q: TimeFunction


@dataclass(frozen=True)
class HeatCase:
    """A heat conduction problem.

    Attributes
    ----------
    k : conductivity [W/(m K)].
    rho, c : density [kg/m^3] and specific heat [J/(kg K)] (transient solves).
    temperatures, convections, fluxes : boundary conditions by group name.
    source : volumetric heat source [W/m^3]: a number or a callable ``x (dim, ...) -> (...)``.
    order : Lagrange element order, 1 or 2.
    solver : ``"auto"``, ``"direct"`` or ``"iterative"``; rtol, maxiter for CG.
    """

    k: float
    rho: float = 0.0
    c: float = 0.0
    temperatures: tuple[Temperature, ...] = ()
    convections: tuple[Convection, ...] = ()
    fluxes: tuple[HeatFlux, ...] = ()
    source: float | Callable[[np.ndarray], np.ndarray] | None = None
    order: int = 2
    solver: str = "auto"
    rtol: float = 1e-10
    maxiter: int = 2000

    def __post_init__(self) -> None:
        if not self.k > 0:
            raise CaseError(f"conductivity k must be > 0 W/(m K); got {self.k}")
        if self.order not in (1, 2):
            raise CaseError(f"element order must be 1 or 2; got {self.order}")
        for cv in self.convections:
            if not cv.h >= 0:
                raise CaseError(f"convection coefficient h on '{cv.group}' must be >= 0; got {cv.h}")


class _Heat:
    """Assembled operators of one heat problem, shared by steady and transient solves."""

    def __init__(self, mesh: Mesh, case: HeatCase, *, steady: bool) -> None:
        t0 = time.perf_counter()
        self.case = case
        self.fe = fe = FEMesh.from_mesh(mesh)
        self.basis = b = fe.basis(case.order)
        self.K = conduction.assemble(b, k=float(case.k))
        self.f_const = np.zeros(b.N)
        if case.source is not None:
            s = case.source
            val = np.asarray(s(np.asarray(b.global_coordinates())), float) if callable(s) else float(s)
            self.f_const += source.assemble(b, f=val if np.ndim(val) else float(val))
        # time-dependent loads: (unit load vector, time function)
        self.f_time: list[tuple[np.ndarray, TimeFunction]] = []
        for cv in case.convections:
            fb = fe.facet_basis(b, cv.group)
            self.K = self.K + convection.assemble(fb, h=float(cv.h))
            self.f_time.append((source.assemble(fb, f=float(cv.h)), cv.T_inf))
        for fl in case.fluxes:
            self.f_time.append((source.assemble(fe.facet_basis(b, fl.group), f=1.0), fl.q))
        fixed, self._bc = [], []
        for tc in case.temperatures:
            dofs = fe.group_dofs(b, tc.group)
            fixed.append(dofs)
            self._bc.append((dofs, b.doflocs[:, dofs].T, tc.value))
        self.fixed = np.unique(np.concatenate(fixed)) if fixed else np.zeros(0, np.int64)
        if steady and self.fixed.size == 0 and not case.convections:
            raise IllPosedError(
                "heat problem has neither a prescribed temperature nor a convection condition; "
                "the temperature is defined only up to a constant"
            )
        self.assembly_time = time.perf_counter() - t0

    def load(self, t: float) -> np.ndarray:
        """Load vector (n_dofs,) [W] at time ``t``."""
        f = self.f_const.copy()
        for vec, fn in self.f_time:
            f += vec * (fn(t) if callable(fn) else float(fn))
        return f

    def dirichlet(self, t: float) -> np.ndarray:
        """Prescribed values at ``self.fixed`` (sorted) at time ``t``."""
        val = np.zeros(self.basis.N)
        for dofs, x, v in self._bc:
            val[dofs] = _evaluate(v, x, t)
        return val[self.fixed]

    def solver(self, A) -> DirichletSolver:
        c = self.case
        return DirichletSolver(A, self.fixed, method=c.solver, rtol=c.rtol, maxiter=c.maxiter,
                               direct_limit=direct_limit(self.fe.dim))


def _evaluate(v: BoundaryValue, x: np.ndarray, t: float) -> np.ndarray:
    """Value of a boundary condition at points ``x`` (M, dim) and time ``t``: (M,)."""
    if not callable(v):
        return np.full(len(x), float(v))
    n = len([p for p in inspect.signature(v).parameters.values()
             if p.default is inspect.Parameter.empty
             and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    out = v(t) if n <= 1 else v(x, t)
    return np.broadcast_to(np.asarray(out, dtype=float), (len(x),))


def solve_heat(mesh: Mesh, case: HeatCase, *, t: float = 0.0) -> FEMResult:
    """Steady-state temperature.

    Parameters
    ----------
    mesh : 1D, 2D or 3D mesh with named boundary groups, points (N, dim) [m].
    case : conductivity, source and boundary conditions.
    t : time [s] at which time-dependent conditions are evaluated.

    Returns
    -------
    FEMResult with field ``temperature`` (N,) [K].

    Raises
    ------
    GroupError, IllPosedError, CaseError

    Examples
    --------
    >>> import skfem
    >>> from mesh import CellBlock
    >>> ln = skfem.MeshLine(np.linspace(0, 1, 11))
    >>> m = Mesh(ln.p.T, [CellBlock("line", ln.t.T)], point_sets={"a": [0], "b": [10]})
    >>> case = HeatCase(k=2.0, source=4.0, temperatures=(Temperature("a", 0.0), Temperature("b", 0.0)))
    >>> r = solve_heat(m, case)   # T = x (1 - x), max 0.25 at x = 0.5
    >>> round(float(r.fields["temperature"][5]), 10)
    0.25
    """
    h = _Heat(mesh, case, steady=True)
    s = h.solver(h.K)
    T = s.solve(h.load(t), h.dirichlet(t))
    s.info.assembly_time = h.assembly_time
    return FEMResult(fields={"temperature": h.fe.to_nodes(h.basis, T)}, info=s.info,
                     physics="heat", dofs=T)


def solve_heat_transient(mesh: Mesh, case: HeatCase, *, t_end: float, dt: float,
                         theta: float = 0.5, T0: float | np.ndarray = 0.0,
                         save_every: int = 1) -> FEMResult:
    """Transient temperature by the theta scheme (0.5 Crank-Nicolson, 1 implicit Euler).

    Parameters
    ----------
    mesh : mesh with named boundary groups, points (N, dim) [m].
    case : material (k, rho, c > 0), source and boundary conditions.
    t_end, dt : final time and time step [s]; ``round(t_end / dt)`` steps.
    theta : 0.5 (second order) to 1 (L-stable); must be in [0.5, 1].
    T0 : initial temperature [K], a number or (N,) nodal values.
    save_every : keep every ``save_every``-th state (the last is always kept).

    Returns
    -------
    FEMResult with ``times`` (T,) [s], ``history["temperature"]`` (T, N) [K] and
    ``fields["temperature"]`` (N,) the final state.

    Raises
    ------
    CaseError
        For rho * c <= 0, dt <= 0 or theta outside [0.5, 1].
    """
    if not case.rho * case.c > 0:
        raise CaseError(f"transient heat needs rho > 0 and c > 0; got rho={case.rho}, c={case.c}")
    if not dt > 0 or not t_end > 0:
        raise CaseError(f"dt and t_end must be > 0 s; got dt={dt}, t_end={t_end}")
    if not 0.5 <= theta <= 1.0:
        raise CaseError(f"theta must be in [0.5, 1]; got {theta}")
    h = _Heat(mesh, case, steady=False)
    fe, b = h.fe, h.basis
    M = capacity.assemble(b, rho_c=float(case.rho * case.c))
    A = M / dt + theta * h.K
    B = M / dt - (1 - theta) * h.K
    s = h.solver(A)
    T = fe.from_nodes(b, np.asarray(T0, float)) if np.ndim(T0) else np.full(b.N, float(T0))
    n = max(1, round(t_end / dt))
    times, states = [0.0], [fe.to_nodes(b, T)]
    f_old = h.load(0.0)
    for k in range(1, n + 1):
        t = k * dt
        f_new = h.load(t)
        T = s.solve(B @ T + theta * f_new + (1 - theta) * f_old, h.dirichlet(t))
        f_old = f_new
        if k % save_every == 0 or k == n:
            times.append(t)
            states.append(fe.to_nodes(b, T))
    s.info.assembly_time = h.assembly_time
    hist = np.stack(states)
    return FEMResult(fields={"temperature": hist[-1]}, info=s.info, physics="heat_transient",
                     dofs=T, times=np.asarray(times), history={"temperature": hist})
