"""Linear elasticity with scikit-fem: plane stress, plane strain and 3D; P1 or P2.

Loads: Dirichlet displacements per component on named groups, traction vectors
and normal pressures on boundary groups, a body force, and a thermal strain
``alpha (T - T_ref) I`` from a nodal temperature field. Outputs are nodal fields
on the input mesh: displacement, stress components recovered by L2 projection
onto the mesh's nodal basis, and von Mises stress. SI units (m, Pa, N, K).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import skfem

from mesh import Mesh

from .errors import CaseError, IllPosedError
from .forms import body_force, elasticity, pressure, thermal_load, traction
from .linsolve import (
    DirichletSolver,
    SolveInfo,
    direct_limit,
    rigid_body_modes,
    solve_with_constraints,
)
from .recovery import project_to_nodes, von_mises
from .result import FEMResult
from .skfem_mesh import FEMesh

Vector = Sequence[float]


@dataclass(frozen=True)
class Displacement:
    """Prescribed displacement on group ``group`` (boundary or point group).

    ``value`` has one entry per component [m]; ``None`` leaves that component free,
    e.g. ``Displacement("left", (0.0, None))`` is a roller on a vertical edge.
    """

    group: str
    value: tuple[float | None, ...]


@dataclass(frozen=True)
class Traction:
    """Surface traction vector ``vector`` (dim,) [Pa] on boundary group ``group``."""

    group: str
    vector: tuple[float, ...]


@dataclass(frozen=True)
class Pressure:
    """Normal pressure ``value`` [Pa] on boundary group ``group``: traction ``-value * n``.

    ``n`` is the outward normal, so a positive pressure pushes into the body and a
    negative one pulls outwards (NAFEMS LE1's "outward pressure" is negative here).
    """

    group: str
    value: float


@dataclass(frozen=True)
class ElasticCase:
    """A linear elastic problem on a mesh.

    Attributes
    ----------
    E, nu : Young's modulus [Pa] and Poisson's ratio [-].
    displacements, tractions, pressures : boundary conditions by group name.
    body_force : (dim,) [N/m^3], or a callable ``x (dim, ...) -> (dim, ...)``.
    plane : ``"stress"`` or ``"strain"`` for 2D meshes (ignored in 3D).
    thickness : out-of-plane thickness [m] of a 2D model (scales stiffness and loads).
    order : Lagrange element order, 1 or 2.
    temperature : (N,) nodal temperature [K] for the thermal strain, or None.
    alpha, T_ref : thermal expansion coefficient [1/K] and stress-free temperature [K].
    rigid_body_constraint : allow a problem without Dirichlet conditions by making
        the solution orthogonal to the rigid body modes (loads must be balanced).
    solver : ``"auto"``, ``"direct"`` or ``"iterative"``; rtol, maxiter for CG.
    """

    E: float
    nu: float
    displacements: tuple[Displacement, ...] = ()
    tractions: tuple[Traction, ...] = ()
    pressures: tuple[Pressure, ...] = ()
    body_force: Vector | Callable[[np.ndarray], np.ndarray] | None = None
    plane: Literal["stress", "strain"] = "stress"
    thickness: float = 1.0
    order: int = 2
    temperature: np.ndarray | None = None
    alpha: float = 0.0
    T_ref: float = 0.0
    rigid_body_constraint: bool = False
    solver: Literal["auto", "direct", "iterative"] = "auto"
    rtol: float = 1e-10
    maxiter: int = 2000

    def __post_init__(self) -> None:
        if not self.E > 0:
            raise CaseError(f"Young's modulus E must be > 0 Pa; got {self.E}")
        if not -1.0 < self.nu < 0.5:
            raise CaseError(f"Poisson's ratio nu must be in (-1, 0.5); got {self.nu}")
        if self.plane not in ("stress", "strain"):
            raise CaseError(f"plane must be 'stress' or 'strain'; got '{self.plane}'")
        if not self.thickness > 0:
            raise CaseError(f"thickness must be > 0 m; got {self.thickness}")
        if self.order not in (1, 2):
            raise CaseError(f"element order must be 1 or 2; got {self.order}")

    def lame(self, dim: int) -> tuple[float, float, float]:
        """(lam, mu, beta) [Pa, Pa, Pa/K] of the model in ``dim`` dimensions.

        ``lam`` is the in-plane (reduced) value in plane stress; ``beta`` multiplies
        ``(T - T_ref)`` to give the thermal stress ``-beta dT I`` of the in-plane part.
        """
        lam = self.E * self.nu / ((1 + self.nu) * (1 - 2 * self.nu))
        mu = self.E / (2 * (1 + self.nu))
        if dim == 2 and self.plane == "stress":
            lam2 = 2 * lam * mu / (lam + 2 * mu)
            return lam2, mu, (2 * lam2 + 2 * mu) * self.alpha
        return lam, mu, (3 * lam + 2 * mu) * self.alpha


def solve_elasticity(mesh: Mesh, case: ElasticCase) -> FEMResult:
    """Solve a linear elastic problem and return nodal fields on ``mesh``.

    Parameters
    ----------
    mesh : 2D (triangles or quads) or 3D (tetrahedra or hexahedra) mesh, linear or
        quadratic cells, with named boundary groups; points (N, dim) [m].
    case : material, loads, boundary conditions and solver options.

    Returns
    -------
    FEMResult with fields ``displacement`` (N, dim) [m]; ``sig11``, ``sig22``,
    ``sig12`` [Pa] (2D), plus ``sig33`` in plane strain; ``sig11``, ``sig22``,
    ``sig33``, ``sig12``, ``sig23``, ``sig13`` in 3D; ``von_mises`` (N,) [Pa].

    Raises
    ------
    GroupError
        A condition names a group the mesh does not have (the message lists them).
    IllPosedError
        No Dirichlet condition (and no ``rigid_body_constraint``), or a
        displacement component that is never fixed.

    Examples
    --------
    >>> import skfem
    >>> from mesh import CellBlock
    >>> sq = skfem.MeshQuad().refined(2)
    >>> m = Mesh(sq.p.T, [CellBlock("quad", sq.t.T)])
    >>> left = np.nonzero(m.points[:, 0] == 0)[0]
    >>> m.point_sets["left"] = left
    >>> right_edges = sq.facets[:, sq.facets_satisfying(lambda x: x[0] == 1)].T
    >>> m = Mesh(m.points, [*m.cells, CellBlock("line", right_edges)],
    ...          point_sets={"left": left}, cell_sets={"right": [np.zeros(0), np.arange(4)]})
    >>> case = ElasticCase(E=1.0, nu=0.0, order=1, plane="stress",
    ...                    displacements=(Displacement("left", (0.0, 0.0)),),
    ...                    tractions=(Traction("right", (1.0, 0.0)),))
    >>> r = solve_elasticity(m, case)
    >>> round(float(r.fields["displacement"][:, 0].max()), 6)
    1.0
    """
    t0 = time.perf_counter()
    fe = FEMesh.from_mesh(mesh)
    dim = fe.dim
    if dim not in (2, 3):
        raise CaseError(f"elasticity needs a 2D or 3D mesh; got a {dim}D mesh")
    # constant strain on straight P1 simplices: one quadrature point integrates the
    # stiffness, constant body forces and linear temperature loads exactly
    one_point = case.order == 1 and fe.base in ("triangle", "tetra") and not fe.curved
    vb = fe.basis(case.order, vector=True, intorder=1 if one_point else None)
    lam, mu, beta = case.lame(dim)
    th = case.thickness if dim == 2 else 1.0
    K = _stiffness(fe, vb, lam, mu) * th
    f = _loads(fe, vb, case, beta) * th
    fixed, values = _dirichlet(fe, vb, case)
    t_asm = time.perf_counter() - t0

    if fixed.size == 0:
        if not case.rigid_body_constraint:
            raise IllPosedError(
                "elasticity problem has no Dirichlet condition, so rigid body motions are "
                "free and the problem is ill-posed; add a displacement condition on a group, "
                "or set rigid_body_constraint=True for balanced loads"
            )
        t1 = time.perf_counter()
        u = solve_with_constraints(K, f, rigid_body_modes(vb.doflocs))
        info = SolveInfo(n_dofs=vb.N, method="direct", solve_time=time.perf_counter() - t1)
    else:
        u, info = _solve(K, f, fixed, values, rigid_body_modes(vb.doflocs), case, dim)
    info.assembly_time = t_asm
    fields = {"displacement": fe.to_nodes(vb, u)}
    fields.update(stresses(fe, vb, u, case))
    return FEMResult(fields=fields, info=info, physics="elasticity", dofs=u)


def _solve(K, f: np.ndarray, fixed: np.ndarray, values: np.ndarray, rbm: np.ndarray,
           case: ElasticCase, dim: int) -> tuple[np.ndarray, SolveInfo]:
    """Displacement DOFs and solve info; a singular factorisation is reported as ill-posed."""
    try:
        solver = DirichletSolver(K, fixed, method=case.solver, rtol=case.rtol,
                                 maxiter=case.maxiter, near_nullspace=rbm, blocksize=dim,
                                 direct_limit=direct_limit(dim))
        return solver.solve(f, values), solver.info
    except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
        raise IllPosedError(
            f"the stiffness matrix is singular ({exc}); the Dirichlet conditions do not "
            "prevent every rigid body motion (e.g. a rotation)"
        ) from None


def _stiffness(fe: FEMesh, vb: skfem.CellBasis, lam: float, mu: float):
    """Stiffness matrix; the vectorised P1-tetra path for large straight tet meshes."""
    if fe.base == "tetra" and not fe.curved and vb.elem.elem.maxdeg == 1:
        from .fast_p1 import tet_p1_stiffness

        return tet_p1_stiffness(fe.skmesh.p.T, fe.skmesh.t.T, lam, mu)
    return elasticity.assemble(vb, lam=lam, mu=mu)


def _loads(fe: FEMesh, vb: skfem.CellBasis, case: ElasticCase, beta: float) -> np.ndarray:
    """Load vector (n_dofs,) [N per unit thickness in 2D]."""
    dim = fe.dim
    f = np.zeros(vb.N)
    if case.body_force is not None:
        x = np.asarray(vb.global_coordinates())
        if callable(case.body_force):
            b = np.asarray(case.body_force(x), dtype=float)
        else:
            b = _const(case.body_force, dim, "body_force") [:, None, None] * np.ones(x.shape[1:])
        if b.shape != x.shape:
            raise CaseError(f"body_force must give shape {x.shape}; got {b.shape}")
        f += body_force.assemble(vb, b=b)
    for tr in case.tractions:
        fb = fe.facet_basis(vb, tr.group)
        t = _const(tr.vector, dim, f"traction on '{tr.group}'")
        f += traction.assemble(fb, t=t[:, None, None] * np.ones((dim, fb.nelems, fb.X.shape[1])))
    for pr in case.pressures:
        f += pressure.assemble(fe.facet_basis(vb, pr.group), p=float(pr.value))
    if case.temperature is not None and beta != 0.0:
        f += thermal_load.assemble(vb, beta=beta, dT=_delta_T(fe, vb, case))
    return f


def _delta_T(fe: FEMesh, vb: skfem.CellBasis, case: ElasticCase) -> np.ndarray:
    """Temperature change T - T_ref [K] at the quadrature points of ``vb``: (nel, nqp)."""
    T = np.asarray(case.temperature, dtype=float)
    if T.shape != (fe.mesh.n_points,):
        raise CaseError(
            f"temperature must have one value per node, shape ({fe.mesh.n_points},); got {T.shape}"
        )
    nb = vb.with_element(fe.nodal_element())
    return np.asarray(nb.interpolate(fe.from_nodes(nb, T))) - case.T_ref


def _const(v: Vector, dim: int, what: str) -> np.ndarray:
    a = np.asarray(v, dtype=float).ravel()
    if a.shape != (dim,):
        raise CaseError(f"{what} must have {dim} components; got {a.size}: {list(a)}")
    return a


def _dirichlet(fe: FEMesh, vb: skfem.CellBasis, case: ElasticCase
               ) -> tuple[np.ndarray, np.ndarray]:
    """Fixed DOFs (sorted, unique) and their values [m]."""
    dim = fe.dim
    sb = vb.with_element(vb.elem.elem)
    val = np.full(vb.N, np.nan)
    fixed_comp = np.zeros(dim, bool)
    for d in case.displacements:
        if len(d.value) != dim:
            raise CaseError(
                f"displacement on '{d.group}' must have {dim} components (None = free); "
                f"got {len(d.value)}: {list(d.value)}"
            )
        sdofs = fe.group_dofs(sb, d.group)
        for c, v in enumerate(d.value):
            if v is not None:
                val[dim * sdofs + c] = float(v)
                fixed_comp[c] = sdofs.size > 0
    fixed = np.nonzero(~np.isnan(val))[0]
    if fixed.size and not case.rigid_body_constraint and not fixed_comp.all():
        free = [("x", "y", "z")[c] for c in range(dim) if not fixed_comp[c]]
        raise IllPosedError(
            f"no displacement condition fixes the {'/'.join(free)} component anywhere, so "
            "the structure can translate freely: the problem is ill-posed"
        )
    return fixed, val[fixed]


def stresses(fe: FEMesh, vb: skfem.CellBasis, u: np.ndarray, case: ElasticCase
             ) -> dict[str, np.ndarray]:
    """Nodal stress components [Pa] and von Mises stress from the displacement DOFs ``u``."""
    dim = fe.dim
    lam, mu, beta = case.lame(dim)
    G = vb.interpolate(u).grad  # (dim, dim, nel, nqp)
    eps = 0.5 * (G + np.swapaxes(G, 0, 1))
    tr = np.einsum("ii...->...", eps)
    dT = _delta_T(fe, vb, case) if case.temperature is not None and beta != 0.0 else 0.0
    sig = {f"sig{i + 1}{i + 1}": lam * tr + 2 * mu * eps[i, i] - beta * dT for i in range(dim)}
    sig["sig12"] = 2 * mu * eps[0, 1]
    if dim == 3:
        sig["sig23"] = 2 * mu * eps[1, 2]
        sig["sig13"] = 2 * mu * eps[0, 2]
    elif case.plane == "strain":
        lam3 = case.E * case.nu / ((1 + case.nu) * (1 - 2 * case.nu))
        sig["sig33"] = lam3 * tr - beta * dT
    sig = {k: np.broadcast_to(v, G.shape[2:]) for k, v in sig.items()}
    out = project_to_nodes(fe, vb, sig)
    out["von_mises"] = von_mises(out["sig11"], out["sig22"], out.get("sig33", 0.0),
                                 out["sig12"], out.get("sig23", 0.0), out.get("sig13", 0.0))
    return out
