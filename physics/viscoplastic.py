"""Small-strain elasto-viscoplastic solid: the high-fidelity model of the adaptive ROM work.

The point-wise law (von Mises, isotropic hardening, Norton flow, temperature-dependent
parameters, thermal strain) lives in :mod:`physics.constitutive`. This module holds

- :class:`ViscoplasticModel`, the discretised operator (scikit-fem bases and quadrature,
  own vectorised assembly). Its element-level functions work on any subset of elements
  (``elements=``) with optional quadrature weights (``weights=``): this is what
  hyper-reduction (ECM) evaluates on a few integration points;
- the loading description (:class:`ViscoplasticLoading` with :class:`Dirichlet`,
  :class:`Traction`, :class:`Pressure`, :class:`BodyForce`, :class:`NodalTemperature`);
- :func:`solve_viscoplastic`: global Newton with the consistent tangent, adaptive
  time stepping, nodal outputs at the requested times.

Kinematics: plane strain in 2D (``eps_33 = 0``), full 3D otherwise. Plane stress is not
implemented. Displacement dofs are numbered node-major, ``dim * scalar_dof + component``
(the ordering of scikit-fem's ``ElementVector``). Quadrature arrays are
``(n_elements, n_qp, ...)``; tensors are Mandel 6-vectors (see :mod:`physics.constitutive`).
Units are SI: m, Pa, N, s, K.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem
from numpy.typing import NDArray

from mesh import Mesh
from mesh.types import FloatArray, IntArray

from .constitutive import (
    COMPONENTS,
    MANDEL_TO_TENSOR,
    SQRT2,
    ViscoplasticMaterial,
    integrate,
    von_mises,
)
from .errors import CaseError, ConvergenceError, GroupError, IllPosedError
from .skfem_mesh import node_map, to_skfem

__all__ = [
    "BodyForce",
    "Dirichlet",
    "DiscreteLoading",
    "LoadCurve",
    "NodalTemperature",
    "PointResponse",
    "Pressure",
    "QPState",
    "SolverOptions",
    "StepRecord",
    "Traction",
    "ViscoplasticLoading",
    "ViscoplasticModel",
    "ViscoplasticResult",
    "solve_viscoplastic",
]

log = logging.getLogger(__name__)

LoadFunction = Callable[[float], float]

# quadratic cells: local mid node -> its two corner nodes (meshio/VTK order)
_MID_EDGES = {
    "triangle6": {3: (0, 1), 4: (1, 2), 5: (2, 0)},
    "tetra10": {4: (0, 1), 5: (1, 2), 6: (2, 0), 7: (0, 3), 8: (1, 3), 9: (2, 3)},
}
_ELEMENTS = {
    ("triangle", 1): skfem.ElementTriP1, ("triangle", 2): skfem.ElementTriP2,
    ("tetra", 1): skfem.ElementTetP1, ("tetra", 2): skfem.ElementTetP2,
    ("quad", 1): skfem.ElementQuad1, ("hexahedron", 1): skfem.ElementHex1,
}


# =============================================================================== loading
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


@dataclass(frozen=True)
class SolverOptions:
    """Newton and time-step control of :func:`solve_viscoplastic`.

    Parameters
    ----------
    rtol : convergence when ``||R_free|| <= rtol * max(F_scale, ||F_ext||)``, with
        ``F_scale = ||sum_e sum_q w_q |sigma_q| |grad phi_a|||`` the nodal forces of the
        stress magnitude (finite for self-equilibrated thermal stresses, unlike ``||F_int||``).
    max_iter : Newton iterations allowed per step before the step is cut.
    divergence_ratio : a step is abandoned when the residual grows by this factor.
    dt_min, dt_max : bounds of the time step, s (None: ``1e-8 t_end`` and ``t_end``).
    cut : factor applied to a failed step (0 < cut < 1).
    grow : factor applied after an easy step (>= 1).
    easy_iterations : a converged step with at most this many iterations is easy.
    dp_max : largest increment of p allowed in a step (None: no limit); larger is cut.
    local_rtol, local_max_iter : tolerance and cap of the point-wise Newton.
    linear_solver : ``"direct"`` (SuperLU) or ``"amg"`` (CG preconditioned by pyamg
        smoothed aggregation with rigid-body modes, reused across iterations; for large
        3D meshes).
    """

    rtol: float = 1e-8
    max_iter: int = 15
    divergence_ratio: float = 1e4
    dt_min: Optional[float] = None
    dt_max: Optional[float] = None
    cut: float = 0.5
    grow: float = 1.5
    easy_iterations: int = 4
    dp_max: Optional[float] = None
    local_rtol: float = 1e-12
    local_max_iter: int = 60
    linear_solver: str = "direct"

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> CaseError:
            value = getattr(self, name)
            return CaseError(f"SolverOptions.{name} must be {expected}; got {value!r}")

        if not 0 < self.rtol < 1:
            raise bad("rtol", "in (0, 1)")
        if self.max_iter < 1:
            raise bad("max_iter", ">= 1")
        if not 0 < self.cut < 1:
            raise bad("cut", "in (0, 1)")
        if self.grow < 1:
            raise bad("grow", ">= 1")
        if self.divergence_ratio <= 1:
            raise bad("divergence_ratio", "> 1")
        if self.linear_solver not in ("direct", "amg"):
            raise bad("linear_solver", "'direct' or 'amg'")
        for name in ("dt_min", "dt_max", "dp_max"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise bad(name, "> 0 or None")


# ======================================================================== discretisation
@dataclass(frozen=True, eq=False)
class QPState:
    """Internal variables at quadrature points.

    Attributes
    ----------
    eps_p : (n_e, n_qp, 6) plastic strain, Mandel notation.
    p : (n_e, n_qp) cumulated plastic strain.
    """

    eps_p: FloatArray
    p: FloatArray

    @classmethod
    def zeros(cls, n_elements: int, n_qp: int) -> "QPState":
        """Virgin state (no plastic strain) at ``n_elements`` x ``n_qp`` points."""
        return cls(np.zeros((n_elements, n_qp, 6)), np.zeros((n_elements, n_qp)))

    def take(self, elements: IntArray) -> "QPState":
        """The state of the given elements only."""
        return QPState(self.eps_p[elements], self.p[elements])


@dataclass(frozen=True, eq=False)
class PointResponse:
    """Constitutive response at the quadrature points of a set of n_e elements.

    Attributes
    ----------
    strain : (n_e, n_qp, 6) total strain, Mandel.
    stress : (n_e, n_qp, 6) stress, Mandel, Pa.
    tangent : (n_e, n_qp, 6, 6) consistent tangent, Mandel, Pa.
    state : internal variables at the end of the step.
    dp : (n_e, n_qp) increment of p over the step.
    converged : (n_e, n_qp) bool, point-wise Newton converged.
    """

    strain: FloatArray
    stress: FloatArray
    tangent: FloatArray
    state: QPState
    dp: FloatArray
    converged: NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class InternalForces:
    """Assembled internal forces of a set of elements (scattered into global dofs).

    Attributes
    ----------
    force : (n_dofs,) internal force vector, N (per metre of thickness in 2D).
    scale : force scale of the stress level, N (see ``ViscoplasticModel._force_scale``);
        it does not vanish for self-equilibrated stresses (residual reference).
    stiffness : (n_dofs, n_dofs) CSR consistent tangent, N/m, or None if not requested.
    response : the point-wise response it was computed from.
    """

    force: FloatArray
    scale: float
    stiffness: Optional[sp.csr_matrix]
    response: PointResponse


class ViscoplasticModel:
    """Discretised viscoplastic operator on a mesh: point response, element forces, assembly.

    Parameters
    ----------
    mesh : project mesh whose volume cells are triangles/quads (2D, plane strain) or
        tetrahedra/hexahedra (3D); quadratic triangles/tetrahedra give P2 elements.
    material : the constitutive law.
    order : polynomial order (1 or 2; 2 only on simplices). Default: the cells' order.
    intorder : quadrature order (default 1 for P1, 2 for P2 and Q1).
    hypothesis : ``"plane_strain"`` (2D) or ``"3d"``; default from the mesh.

    Examples
    --------
    >>> import skfem
    >>> from mesh import CellBlock
    >>> sk = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 3))
    >>> m = Mesh(sk.p.T, [CellBlock("triangle", sk.t.T)])
    >>> fom = ViscoplasticModel(m, ViscoplasticMaterial(young=1e9, poisson=0.3, sigma_y=1e6))
    >>> fom.n_dofs, fom.n_elements, fom.n_qp
    (18, 8, 1)
    """

    def __init__(
        self,
        mesh: Mesh,
        material: ViscoplasticMaterial,
        *,
        order: Optional[int] = None,
        intorder: Optional[int] = None,
        hypothesis: Optional[str] = None,
    ) -> None:
        if not isinstance(material, ViscoplasticMaterial):
            raise CaseError(
                f"material must be a ViscoplasticMaterial; got {type(material).__name__}")
        self.mesh = mesh
        self.material = material
        tdim = mesh.topological_dim
        if hypothesis is None:
            hypothesis = "plane_strain" if tdim == 2 else "3d"
        if hypothesis == "plane_stress":
            raise NotImplementedError("plane stress is not implemented; use plane_strain or 3D")
        expected = {2: "plane_strain", 3: "3d"}.get(tdim)
        if hypothesis != expected:
            raise CaseError(
                f"hypothesis '{hypothesis}' does not fit a mesh of topological dimension {tdim}; "
                f"expected '{expected}'"
            )
        self.hypothesis = hypothesis
        self.dim = tdim
        vol = list(mesh.volume_blocks())
        types = {b.type for b in vol}
        base = {t.rstrip("0123456789") for t in types}
        quadratic = any(b.info.is_quadratic for b in vol)
        order = order if order is not None else (2 if quadratic else 1)
        key = (base.pop() if len(base) == 1 else "", order)
        if key not in _ELEMENTS:
            raise CaseError(
                f"no element for cells {sorted(types)} at order {order}; supported: "
                f"{sorted(f'{t} order {o}' for t, o in _ELEMENTS)}"
            )
        self.order = order
        self.skmesh = to_skfem(mesh)
        self.element = _ELEMENTS[key]()
        quadrature = None
        if intorder is None and order == 1 and key[0] in ("triangle", "tetra"):
            # one point at the centroid: exact for constant-strain simplices
            ref_volume = {2: 1.0 / 2.0, 3: 1.0 / 6.0}[self.dim]
            quadrature = (np.full((self.dim, 1), 1.0 / (self.dim + 1)), np.array([ref_volume]))
        self.intorder = intorder if intorder is not None else (1 if quadrature is not None else 2)
        self.basis = skfem.CellBasis(self.skmesh, self.element, intorder=self.intorder,
                                     quadrature=quadrature)
        b = self.basis
        #: (n_el, n_qp, n_loc, dim) shape function gradients, 1/m.
        self.grads = np.stack([np.stack(bf[0].grad) for bf in b.basis]).transpose(2, 3, 0, 1).copy()
        #: (n_el, n_qp, n_loc) shape function values.
        self.phi = np.stack([np.asarray(bf[0]) for bf in b.basis]).transpose(1, 2, 0).copy()
        #: (n_el, n_qp) quadrature weights times Jacobians, m^dim (per metre of thickness in 2D).
        self.weights = np.asarray(b.dx, float).copy()
        #: (n_el, n_loc) scalar dofs of each element.
        self.scalar_dofs = b.element_dofs.T.copy()
        self.n_scalar = int(b.N)
        d = self.dim
        #: (n_el, n_loc * dim) displacement dofs of each element, node-major.
        self.element_dofs = (self.scalar_dofs[:, :, None] * d + np.arange(d)).reshape(
            len(self.scalar_dofs), -1)
        self._components = np.array([0, 1, 3]) if d == 2 else np.arange(6)
        self._map_points(mesh)
        self._pattern: Optional[tuple] = None
        self._mass_lu = None

    # ------------------------------------------------------------------------ sizes
    @property
    def n_dofs(self) -> int:
        """Number of displacement dofs."""
        return self.n_scalar * self.dim

    @property
    def n_elements(self) -> int:
        """Number of volume elements."""
        return int(self.weights.shape[0])

    @property
    def n_qp(self) -> int:
        """Quadrature points per element."""
        return int(self.weights.shape[1])

    def _sel(self, elements: Optional[IntArray]) -> slice | IntArray:
        return slice(None) if elements is None else np.asarray(elements, dtype=np.int64)

    # ------------------------------------------------------------------ node <-> dof
    def _map_points(self, mesh: Mesh) -> None:
        """Build project node <-> scalar dof maps (corners, and mid-edge nodes for P2)."""
        sk, b = self.skmesh, self.basis
        used = node_map(mesh)
        remap = np.full(mesh.n_points, -1, np.int64)
        remap[used] = np.arange(len(used))
        point_dof = np.full(mesh.n_points, -1, np.int64)
        point_dof[used] = b.nodal_dofs[0]
        dof_point = np.full(self.n_scalar, -1, np.int64)
        dof_point[b.nodal_dofs[0]] = used
        mids, ends = _project_mid_nodes(mesh)
        self.mid_points, self.mid_ends = mids, ends  # project mid nodes and their corners
        self.mid_dofs = np.zeros(0, np.int64)
        self.mid_dof_ends = np.zeros((0, 2), np.int64)
        if self.order == 2:
            edges = sk.facets if self.dim == 2 else sk.edges
            edof = (b.facet_dofs if self.dim == 2 else b.edge_dofs)[0]
            self.mid_dofs = edof.copy()
            self.mid_dof_ends = b.nodal_dofs[0][edges.T]
            if len(mids):
                pos = _edge_index(edges, remap[ends], sk.p.shape[1])
                point_dof[mids] = edof[pos]
                dof_point[edof[pos]] = mids
        self.point_dof, self.dof_point = point_dof, dof_point

    def nodal_to_dofs(self, values: FloatArray) -> FloatArray:
        """Scalar field at the mesh nodes (N, ...) -> at the scalar dofs (n_scalar, ...)."""
        values = np.asarray(values, float)
        out = np.zeros((self.n_scalar,) + values.shape[1:])
        has = self.dof_point >= 0
        out[has] = values[self.dof_point[has]]
        if len(self.mid_dofs):
            miss = self.dof_point[self.mid_dofs] < 0
            e = self.mid_dof_ends[miss]
            out[self.mid_dofs[miss]] = 0.5 * (out[e[:, 0]] + out[e[:, 1]])
        return out

    def dofs_to_nodal(self, values: FloatArray) -> FloatArray:
        """Scalar field at the scalar dofs (n_scalar, ...) -> at the mesh nodes (N, ...).

        Mid-edge nodes without a dof (P1 on quadratic cells) get the mean of their edge's
        corners; nodes used by no volume cell get 0.
        """
        values = np.asarray(values, float)
        out = np.zeros((self.mesh.n_points,) + values.shape[1:])
        has = self.point_dof >= 0
        out[has] = values[self.point_dof[has]]
        if len(self.mid_points):
            miss = self.point_dof[self.mid_points] < 0
            e = self.mid_ends[miss]
            out[self.mid_points[miss]] = 0.5 * (out[e[:, 0]] + out[e[:, 1]])
        return out

    def group_dofs(self, name: str, components: Sequence[int]) -> IntArray:
        """Displacement dofs of ``components`` at the nodes of group ``name``: sorted (M,) int64."""
        if name not in self.mesh.groups:
            raise GroupError(name, self.mesh.groups)
        bad = [c for c in components if c >= self.dim]
        if bad:
            raise CaseError(f"group '{name}': component {bad[0]} does not exist in {self.dim}D")
        nodes = self.mesh.group_nodes(name)
        inset = np.zeros(self.n_scalar, dtype=bool)
        sd = self.point_dof[nodes]
        inset[sd[sd >= 0]] = True
        if len(self.mid_dofs):
            free_mid = self.dof_point[self.mid_dofs] < 0
            inset[self.mid_dofs[free_mid]] |= inset[self.mid_dof_ends[free_mid]].all(axis=1)
        s = np.flatnonzero(inset)
        return np.sort((s[:, None] * self.dim + np.asarray(components)).ravel())

    # ------------------------------------------------------------- point quantities
    def _bmatrix(self, sel: slice | IntArray) -> FloatArray:
        """Strain-displacement operator (n_e, n_qp, n_c, n_loc * dim), Mandel rows."""
        g = self.grads[sel]
        ne, nq, nl, d = g.shape
        B = np.zeros((ne, nq, len(self._components), nl, d))
        r = 1.0 / SQRT2
        for i in range(d):
            B[:, :, i, :, i] = g[..., i]
        if d == 2:
            B[:, :, 2, :, 0], B[:, :, 2, :, 1] = r * g[..., 1], r * g[..., 0]
        else:
            for row, (i, j) in zip((3, 4, 5), ((0, 1), (1, 2), (0, 2))):
                B[:, :, row, :, i], B[:, :, row, :, j] = r * g[..., j], r * g[..., i]
        return B.reshape(ne, nq, len(self._components), nl * d)

    def strain(self, u: FloatArray, elements: Optional[IntArray] = None) -> FloatArray:
        """Total strain (n_e, n_qp, 6), Mandel, of displacement ``u`` (n_dofs,) m."""
        sel = self._sel(elements)
        ue = np.asarray(u, float)[self.element_dofs[sel]]
        e = np.einsum("eqcj,ej->eqc", self._bmatrix(sel), ue)
        out = np.zeros(e.shape[:2] + (6,))
        out[..., self._components] = e
        return out

    def at_points(self, nodal: FloatArray, elements: Optional[IntArray] = None) -> FloatArray:
        """Interpolate a nodal scalar field (N,) to the quadrature points: (n_e, n_qp)."""
        sel = self._sel(elements)
        vd = self.nodal_to_dofs(nodal)
        return np.einsum("eqa,ea->eq", self.phi[sel], vd[self.scalar_dofs[sel]])

    def point_coordinates(self, elements: Optional[IntArray] = None) -> FloatArray:
        """Coordinates of the quadrature points (n_e, n_qp, dim), m."""
        sel = self._sel(elements)
        x = self.basis.doflocs.T[self.scalar_dofs[sel]]  # (n_e, n_loc, dim)
        return np.einsum("eqa,ead->eqd", self.phi[sel], x)

    def point_response(
        self,
        u: FloatArray,
        state_old: QPState,
        temperature: Optional[FloatArray],
        dt: float,
        elements: Optional[IntArray] = None,
        *,
        tangent: bool = True,
        local_rtol: float = 1e-12,
        local_max_iter: int = 60,
    ) -> PointResponse:
        """Integrate the law over one step at the quadrature points of ``elements``.

        Parameters
        ----------
        u : (n_dofs,) displacement at the end of the step, m.
        state_old : internal variables of the selected elements at the start of the step.
        temperature : (n_e, n_qp) temperature at the end of the step, K (None: ``T_ref``).
        dt : step, s.
        elements : element indices (None: all).
        """
        eps = self.strain(u, elements)
        ne, nq = eps.shape[:2]
        if state_old.p.shape != (ne, nq):
            raise ValueError(f"state_old has shape {state_old.p.shape}; expected ({ne}, {nq})")
        if temperature is None:
            T = np.full((ne, nq), self.material.T_ref)
        else:
            T = np.asarray(temperature, float)
        if T.shape != (ne, nq):
            raise ValueError(f"temperature has shape {T.shape}; expected ({ne}, {nq})")
        up = integrate(eps.reshape(-1, 6), state_old.eps_p.reshape(-1, 6), state_old.p.ravel(),
                       T.ravel(), dt, self.material, rtol=local_rtol, max_iter=local_max_iter,
                       tangent=tangent)
        return PointResponse(
            eps, up.stress.reshape(ne, nq, 6), up.tangent.reshape(ne, nq, 6, 6),
            QPState(up.eps_p.reshape(ne, nq, 6), up.p.reshape(ne, nq)),
            up.dp.reshape(ne, nq), up.converged.reshape(ne, nq),
        )

    # --------------------------------------------------------- element contributions
    def qp_contributions(
        self, response: PointResponse, elements: Optional[IntArray] = None, *, tangent: bool = True
    ) -> tuple[FloatArray, Optional[FloatArray]]:
        """Unweighted per-point integrands: ``B^T sigma`` and ``B^T C_alg B``.

        Multiply by quadrature weights (``self.weights`` or reduced ECM weights) and sum
        over points to get element forces and stiffnesses.

        Returns
        -------
        forces : (n_e, n_qp, n_ed) Pa/m, ``n_ed = n_loc * dim``.
        tangents : (n_e, n_qp, n_ed, n_ed) Pa/m^2, or None.
        """
        sel = self._sel(elements)
        B = self._bmatrix(sel)
        c = self._components
        fq = np.einsum("eqcj,eqc->eqj", B, response.stress[..., c])
        if not tangent:
            return fq, None
        CB = response.tangent[..., c[:, None], c[None, :]] @ B
        return fq, np.swapaxes(B, -1, -2) @ CB

    def element_contributions(
        self,
        response: PointResponse,
        elements: Optional[IntArray] = None,
        weights: Optional[FloatArray] = None,
        *,
        tangent: bool = True,
    ) -> tuple[FloatArray, Optional[FloatArray]]:
        """Element internal forces (n_e, n_ed) and tangents (n_e, n_ed, n_ed).

        ``weights`` (n_e, n_qp) replaces the quadrature weights (e.g. ECM weights; zero
        for points that are not selected).
        """
        sel = self._sel(elements)
        w = self.weights[sel] if weights is None else np.asarray(weights, float)
        if w.shape != response.dp.shape:
            raise ValueError(f"weights have shape {w.shape}; expected {response.dp.shape}")
        B = self._bmatrix(sel)
        c = self._components
        Bw = B * w[..., None, None]
        fe = np.einsum("eqcj,eqc->ej", Bw, response.stress[..., c])
        if not tangent:
            return fe, None
        CB = response.tangent[..., c[:, None], c[None, :]] @ B
        Ke = (np.swapaxes(Bw, -1, -2) @ CB).sum(axis=1)
        return fe, Ke

    def internal_forces(
        self,
        u: FloatArray,
        state_old: QPState,
        temperature: Optional[FloatArray],
        dt: float,
        elements: Optional[IntArray] = None,
        weights: Optional[FloatArray] = None,
        *,
        tangent: bool = True,
        local_rtol: float = 1e-12,
        local_max_iter: int = 60,
    ) -> InternalForces:
        """Point response, then element forces/tangents scattered to global dofs.

        With ``elements`` (and ``weights``), this is the restricted (hyper-reduced)
        residual: only those elements contribute. Arguments as in :meth:`point_response`.
        """
        resp = self.point_response(u, state_old, temperature, dt, elements, tangent=tangent,
                                   local_rtol=local_rtol, local_max_iter=local_max_iter)
        fe, Ke = self.element_contributions(resp, elements, weights, tangent=tangent)
        dofs = self.element_dofs[self._sel(elements)]
        f = np.bincount(dofs.ravel(), weights=fe.ravel(), minlength=self.n_dofs)
        scale = self._force_scale(resp.stress, elements, weights)
        K = None
        if Ke is not None:
            K = self._assemble_matrix(Ke, dofs, full=elements is None)
        return InternalForces(f, float(scale), K, resp)

    def _force_scale(self, stress: FloatArray, elements: Optional[IntArray],
                     weights: Optional[FloatArray]) -> float:
        """Norm of the nodal forces that the stress magnitudes would produce, N.

        ``|| sum_e sum_q w |sigma_q| |grad phi_a| ||`` over nodes and components: a scale
        of the internal forces that stays finite when they cancel (self-equilibrated or
        purely out-of-plane thermal stresses), used as the residual reference.
        """
        sel = self._sel(elements)
        w = self.weights[sel] if weights is None else np.asarray(weights, float)
        sn = np.sqrt(np.einsum("eqi,eqi->eq", stress, stress)) * w
        ga = np.sqrt(np.einsum("eqad,eqad->eqa", self.grads[sel], self.grads[sel]))
        node = np.einsum("eq,eqa->ea", sn, ga)
        nodal = np.bincount(self.scalar_dofs[sel].ravel(), weights=node.ravel(),
                            minlength=self.n_scalar)
        return float(np.linalg.norm(nodal) * np.sqrt(self.dim))

    def _assemble_matrix(self, Ke: FloatArray, dofs: IntArray, full: bool) -> sp.csr_matrix:
        n = self.n_dofs
        if full and dofs.size * dofs.shape[1] <= 50_000_000:
            if self._pattern is None:
                rows = np.repeat(dofs, dofs.shape[1], axis=1).ravel()
                cols = np.tile(dofs, (1, dofs.shape[1])).ravel()
                keys, inv = np.unique(rows * n + cols, return_inverse=True)
                r, c = keys // n, keys % n
                indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=n))])
                self._pattern = (inv.ravel(), c, indptr, len(keys))
            inv, c, indptr, nnz = self._pattern
            data = np.bincount(inv, weights=Ke.ravel(), minlength=nnz)
            return sp.csr_matrix((data, c, indptr), shape=(n, n))
        rows = np.repeat(dofs, dofs.shape[1], axis=1).ravel()
        cols = np.tile(dofs, (1, dofs.shape[1])).ravel()
        return sp.coo_matrix((Ke.ravel(), (rows, cols)), shape=(n, n)).tocsr()

    # ---------------------------------------------------------------------- outputs
    def project(self, values: FloatArray) -> FloatArray:
        """Quadrature values (n_el, n_qp, ...) -> nodal values (N, ...) of the project mesh.

        Lumped-mass L2 projection for P1/Q1 (a weighted nodal average, positive and
        bounded), consistent-mass L2 projection for P2.
        """
        values = np.asarray(values, float)
        extra = values.shape[2:]
        v = values.reshape(values.shape[0], values.shape[1], -1)
        wphi = self.phi * self.weights[..., None]  # (e, q, a)
        rhs_e = np.einsum("eqa,eqk->eak", wphi, v)
        idx = self.scalar_dofs.ravel()
        rhs = np.stack([np.bincount(idx, weights=rhs_e[..., k].ravel(), minlength=self.n_scalar)
                        for k in range(v.shape[2])], axis=1)
        if self.order == 1:
            m = np.bincount(idx, weights=wphi.sum(axis=1).ravel(), minlength=self.n_scalar)
            dof_vals = rhs / np.where(m > 0, m, 1.0)[:, None]
        else:
            if self._mass_lu is None:
                exact = skfem.CellBasis(self.skmesh, self.element, intorder=2 * self.order)
                M = skfem.BilinearForm(lambda u, v, _: u * v).assemble(exact)
                self._mass_lu = spla.splu(M.tocsc())
            dof_vals = self._mass_lu.solve(rhs)
        return self.dofs_to_nodal(dof_vals).reshape((self.mesh.n_points,) + extra)

    def assemble_loading(self, loading: ViscoplasticLoading) -> "DiscreteLoading":
        """Precompute the loads of ``loading`` on this discretisation."""
        return DiscreteLoading(self, loading)


def _project_mid_nodes(mesh: Mesh) -> tuple[IntArray, IntArray]:
    """Mid-edge nodes of quadratic volume cells (M,) and their two corner nodes (M, 2)."""
    mids, ends = [], []
    for b in mesh.volume_blocks():
        table = _MID_EDGES.get(b.type)
        if table is None:
            continue
        for m, (a, c) in table.items():
            mids.append(b.data[:, m])
            ends.append(b.data[:, [a, c]])
    if not mids:
        return np.zeros(0, np.int64), np.zeros((0, 2), np.int64)
    m, e = np.concatenate(mids), np.concatenate(ends)
    m, first = np.unique(m, return_index=True)
    return m, e[first]


def _edge_index(edges: IntArray, pairs: IntArray, n_vertices: int) -> IntArray:
    """Index in ``edges`` (2, n_edges) of each vertex pair (M, 2)."""
    keys = np.sort(edges.T, axis=1) @ np.array([n_vertices, 1])
    q = np.sort(pairs, axis=1) @ np.array([n_vertices, 1])
    order = np.argsort(keys)
    pos = np.clip(np.searchsorted(keys[order], q), 0, len(keys) - 1)
    if not np.array_equal(keys[order][pos], q):
        raise CaseError("mid-edge nodes of the quadratic cells do not lie on mesh edges")
    return order[pos]


# =============================================================================== loads
class DiscreteLoading:
    """Loads of a :class:`ViscoplasticLoading` evaluated on a :class:`ViscoplasticModel`.

    Surface and body loads are assembled once for a unit multiplier and scaled by their
    load functions; Dirichlet values and nodal temperatures are evaluated on demand.
    """

    def __init__(self, model: ViscoplasticModel, loading: ViscoplasticLoading) -> None:
        if not isinstance(loading, ViscoplasticLoading):
            raise CaseError(f"loading must be a ViscoplasticLoading; got {type(loading).__name__}")
        if not loading.dirichlet:
            raise IllPosedError("the viscoplastic problem needs at least one Dirichlet condition")
        self.model, self.loading = model, loading
        dofs, owner, base = [], [], []
        for i, bc in enumerate(loading.dirichlet):
            comps, vals = bc.values_for(model.dim)
            for c, v in zip(comps, vals):
                gd = model.group_dofs(bc.group, [c])
                dofs.append(gd)
                owner.append(np.full(len(gd), i))
                base.append(np.full(len(gd), v))
        all_dofs, own, val = np.concatenate(dofs), np.concatenate(owner), np.concatenate(base)
        # a dof named by several conditions takes the last one
        self.dirichlet_dofs, first = np.unique(all_dofs[::-1], return_index=True)
        self._dir_owner, self._dir_value = own[::-1][first], val[::-1][first]
        if len(self.dirichlet_dofs) == 0:
            raise IllPosedError("the Dirichlet groups contain no node of the volume mesh")
        self.free_dofs = np.setdiff1d(np.arange(model.n_dofs), self.dirichlet_dofs)
        self._surface = [(s.load, self._surface_vector(s)) for s in loading.surface]
        self._body = None
        if loading.body_force is not None:
            self._body = loading.body_force
        if loading.temperature is not None and loading.temperature.n_points != model.mesh.n_points:
            raise CaseError(
                f"NodalTemperature has {loading.temperature.n_points} values per time; the mesh "
                f"has {model.mesh.n_points} nodes"
            )

    def _surface_vector(self, s: Union[Traction, Pressure]) -> FloatArray:
        m = self.model
        if s.group not in m.mesh.groups:
            raise GroupError(s.group, m.mesh.groups)
        if s.group not in (m.skmesh.boundaries or {}):
            raise CaseError(
                f"{type(s).__name__} on '{s.group}': the group is not made of boundary facets "
                f"(lines in 2D, faces in 3D) of the volume mesh"
            )
        fb = skfem.FacetBasis(m.skmesh, m.element, facets=m.skmesh.boundaries[s.group],
                              intorder=2 * m.order)
        out = np.zeros(m.n_dofs)
        for i in range(m.dim):
            if isinstance(s, Pressure):
                form = skfem.LinearForm(lambda v, w, i=i: -s.value * w.n[i] * v)
            else:
                if len(s.vector) < m.dim:
                    raise CaseError(f"Traction on '{s.group}' has {len(s.vector)} components; "
                                    f"the mesh is {m.dim}D")
                ti = s.vector[i]
                form = skfem.LinearForm(lambda v, w, ti=ti: ti * v)
            out[i::m.dim] = form.assemble(fb)
        return out

    def external_force(self, t: float) -> FloatArray:
        """Surface and body forces at time ``t``: (n_dofs,), N."""
        f = np.zeros(self.model.n_dofs)
        for load, vec in self._surface:
            f += load(t) * vec
        if self._body is not None:
            m = self.model
            b = self._body.density_at(m.point_coordinates(), t)  # (e, q, d)
            fe = np.einsum("eqa,eq,eqd->ead", m.phi, m.weights, b).reshape(m.n_elements, -1)
            f += np.bincount(m.element_dofs.ravel(), weights=fe.ravel(), minlength=m.n_dofs)
        return f

    def dirichlet_values(self, t: float) -> FloatArray:
        """Prescribed displacement of each of ``dirichlet_dofs`` at time ``t``: (M,), m."""
        mult = np.array([bc.load(t) for bc in self.loading.dirichlet], dtype=float)
        return self._dir_value * mult[self._dir_owner]

    def temperature(self, t: float) -> Optional[FloatArray]:
        """Nodal temperature (N,) K at time ``t``, or None without a thermal load."""
        T = self.loading.temperature
        return None if T is None else T.at(t)

    def temperature_at_points(
        self, t: float, elements: Optional[IntArray] = None
    ) -> Optional[FloatArray]:
        """Temperature at the quadrature points of ``elements`` (n_e, n_qp), K, or None."""
        T = self.temperature(t)
        return None if T is None else self.model.at_points(T, elements)


# ============================================================================== solver
@dataclass(frozen=True)
class StepRecord:
    """One attempted time step.

    Attributes
    ----------
    step : index of the accepted step this attempt tried to make (0-based).
    t : time at the start of the step, s.
    dt : step size tried, s.
    converged : True if the step was accepted.
    iterations : Newton iterations (linear solves) made.
    residuals : relative residual norm ``||R_free|| / max(F_scale, ||F_ext||)`` at each
        evaluation; the first is at the start-of-step displacement (with the old Dirichlet
        values when they change over the step).
    reason : why the attempt failed ('' when it converged).
    """

    step: int
    t: float
    dt: float
    converged: bool
    iterations: int
    residuals: tuple[float, ...]
    reason: str = ""


@dataclass(frozen=True, eq=False)
class ViscoplasticResult:
    """Output of :func:`solve_viscoplastic`.

    Attributes
    ----------
    times : (n_out,) output times, s.
    fields : name -> (n_out, N) nodal values: ``U1, U2(, U3)`` (m), stresses ``sig11,
        sig22, sig33, sig12`` (+ ``sig23, sig13`` in 3D) (Pa), ``p`` (cumulated plastic
        strain), ``von_mises`` (Pa), and ``T`` (K) with a thermal load. Stresses, ``p``
        and von Mises are projected from the quadrature points.
    displacement : (n_out, n_dofs) displacement dofs (node-major, scikit-fem order), m.
    qp : name -> (n_out, n_el, n_qp, ...) quadrature values ``p``, ``eps_p``, ``stress``
        (Mandel) when requested with ``keep_qp=True``; else empty.
    records : every attempted step, in order (accepted and cut).
    """

    times: FloatArray
    fields: dict[str, FloatArray]
    displacement: FloatArray
    qp: dict[str, FloatArray] = field(default_factory=dict)
    records: tuple[StepRecord, ...] = ()

    @property
    def n_steps(self) -> int:
        """Accepted time steps."""
        return sum(r.converged for r in self.records)

    @property
    def n_cuts(self) -> int:
        """Attempts that failed and were retried with a smaller step."""
        return sum(not r.converged for r in self.records)

    @property
    def newton_iterations(self) -> int:
        """Newton iterations over all attempts."""
        return sum(r.iterations for r in self.records)

    def at(self, i: int) -> dict[str, FloatArray]:
        """Nodal fields at output ``i``: name -> (N,)."""
        return {k: v[i] for k, v in self.fields.items()}

    def to_mesh(self, mesh: Mesh, i: int = -1) -> Mesh:
        """``mesh`` with the fields of output ``i`` as point data."""
        return mesh.with_point_data(**self.at(i))


@dataclass
class _Attempt:
    converged: bool
    u: FloatArray
    response: Optional[PointResponse]
    residuals: list[float]
    iterations: int
    reason: str = ""


def _newton_step(
    model: ViscoplasticModel,
    loads: DiscreteLoading,
    u_old: FloatArray,
    state_old: QPState,
    t_new: float,
    dt: float,
    opts: SolverOptions,
    solver: "_LinearSolver",
) -> _Attempt:
    """Backward-Euler step ``t_new - dt -> t_new`` by Newton with the consistent tangent."""
    D, F = loads.dirichlet_dofs, loads.free_dofs
    f_ext = loads.external_force(t_new)
    T_qp = loads.temperature_at_points(t_new)
    u = u_old.copy()
    du_D = loads.dirichlet_values(t_new) - u_old[D]
    lifted = bool(np.any(du_D != 0))
    history: list[float] = []
    it = 0
    while True:
        res = model.internal_forces(u, state_old, T_qp, dt, local_rtol=opts.local_rtol,
                                    local_max_iter=opts.local_max_iter)
        resp = res.response
        if not resp.converged.all():
            n_bad = int((~resp.converged).sum())
            return _Attempt(False, u, None, history, it,
                            f"point-wise integration did not converge at {n_bad} points")
        r = res.force - f_ext
        ref = max(res.scale, np.linalg.norm(f_ext))
        rn = np.linalg.norm(r[F])
        rel = rn / ref if ref > 0 else (0.0 if rn == 0 else np.inf)
        history.append(float(rel))
        if not np.isfinite(rel):
            return _Attempt(False, u, None, history, it, "residual is not finite")
        first_true = 1 if lifted else 0
        if it > first_true and rel > opts.divergence_ratio * history[first_true]:
            return _Attempt(False, u, None, history, it,
                            f"residual grew by more than {opts.divergence_ratio:g}")
        if rel <= opts.rtol and not (lifted and it == 0):
            dp_max = float(resp.dp.max()) if resp.dp.size else 0.0
            if opts.dp_max is not None and dp_max > opts.dp_max:
                return _Attempt(False, u, None, history, it,
                                f"increment of p {dp_max:.3g} exceeds dp_max {opts.dp_max:.3g}")
            return _Attempt(True, u, resp, history, it)
        if it >= opts.max_iter:
            return _Attempt(False, u, None, history, it,
                            f"no convergence in {opts.max_iter} iterations")
        K = res.stiffness
        rhs = -r[F]
        if lifted and it == 0:
            rhs -= K[F][:, D] @ du_D
        try:
            dx = solver(K[F][:, F], rhs)
        except RuntimeError as exc:  # singular factor
            return _Attempt(False, u, None, history, it, f"linear solve failed: {exc}")
        if not np.all(np.isfinite(dx)):
            return _Attempt(False, u, None, history, it, "linear solve gave non-finite values")
        u[F] += dx
        if lifted and it == 0:
            u[D] += du_D
        it += 1


class _LinearSolver:
    """Solver of the tangent systems ``K_FF x = b`` of one solve.

    ``"direct"``: SuperLU with a symmetric ordering. ``"amg"``: conjugate gradients
    preconditioned by a smoothed-aggregation hierarchy (rigid-body modes as near null
    space) built on the first tangent and reused (the tangents stay spectrally close);
    it is rebuilt when CG needs too many iterations.
    """

    def __init__(self, method: str, model: ViscoplasticModel, free: IntArray) -> None:
        self.method, self.model, self.free = method, model, free
        self._precond = None

    def __call__(self, A: sp.csr_matrix, b: FloatArray) -> FloatArray:
        with np.errstate(all="ignore"):
            if self.method == "direct":
                return spla.spsolve(A.tocsc(), b, permc_spec="MMD_AT_PLUS_A")
            for attempt in range(2):
                if self._precond is None:
                    self._precond = self._build(A)
                n_it = [0]

                def count(_):
                    n_it[0] += 1

                x, info = spla.cg(A, b, rtol=1e-10, atol=0.0, maxiter=300,
                                  M=self._precond, callback=count)
                if info == 0 and n_it[0] < 100:
                    return x
                self._precond = None  # stale hierarchy: rebuild on the current tangent
            if info != 0:
                raise RuntimeError(f"CG did not converge (info={info})")
            return x

    def _build(self, A: sp.csr_matrix):
        import pyamg

        x = self.model.basis.doflocs.T  # (n_scalar, dim)
        d = self.model.dim
        modes = _rigid_body_modes(x, d)[self.free]
        ml = pyamg.smoothed_aggregation_solver(A.tocsr(), B=modes, symmetry="symmetric")
        return ml.aspreconditioner(cycle="V")


def _rigid_body_modes(x: FloatArray, dim: int) -> FloatArray:
    """Rigid-body displacements at nodes ``x`` (n, dim): (n * dim, 3 or 6), node-major."""
    n = len(x)
    if dim == 2:
        B = np.zeros((n, 2, 3))
        B[:, 0, 0] = B[:, 1, 1] = 1.0
        B[:, 0, 2], B[:, 1, 2] = -x[:, 1], x[:, 0]
    else:
        B = np.zeros((n, 3, 6))
        B[:, [0, 1, 2], [0, 1, 2]] = 1.0
        for k, (i, j) in enumerate(((0, 1), (1, 2), (2, 0))):
            B[:, i, 3 + k], B[:, j, 3 + k] = -x[:, j], x[:, i]
    return B.reshape(n * dim, -1)


def _output_fields(
    model: ViscoplasticModel, u: FloatArray, resp: PointResponse, T: Optional[FloatArray]
) -> dict[str, FloatArray]:
    d = model.dim
    out = {f"U{i + 1}": model.dofs_to_nodal(u[i::d]) for i in range(d)}
    comps = (0, 1, 2, 3) if d == 2 else tuple(range(6))
    stress = resp.stress[..., list(comps)] * MANDEL_TO_TENSOR[list(comps)]
    qp = np.concatenate([stress, resp.state.p[..., None], von_mises(resp.stress)[..., None]], -1)
    nodal = model.project(qp)
    for k, c in enumerate(comps):
        out[f"sig{COMPONENTS[c]}"] = nodal[:, k]
    out["p"] = nodal[:, len(comps)]
    out["von_mises"] = nodal[:, len(comps) + 1]
    if T is not None:
        out["T"] = np.asarray(T, float).copy()
    return out


def _output_times(times: Union[float, Sequence[float]]) -> FloatArray:
    ts = np.atleast_1d(np.asarray(times, float)).ravel()
    if ts.size == 0 or not np.all(np.isfinite(ts)) or ts[0] <= 0 or np.any(np.diff(ts) <= 0):
        raise CaseError(
            f"output times must be finite, > 0 and strictly increasing; got {ts.tolist()}")
    return ts


def solve_viscoplastic(
    mesh: Mesh,
    material: ViscoplasticMaterial,
    loading: ViscoplasticLoading,
    times: Union[float, Sequence[float]],
    *,
    dt0: Optional[float] = None,
    options: Optional[SolverOptions] = None,
    order: Optional[int] = None,
    keep_qp: bool = False,
    model: Optional[ViscoplasticModel] = None,
) -> ViscoplasticResult:
    """Quasi-static elasto-viscoplastic evolution from a virgin state at ``t = 0``.

    Backward Euler in time; each step is solved by Newton's method with the consistent
    tangent until the relative residual is below ``options.rtol``. A step that fails
    (divergence, too many iterations, point-wise failure, ``dp_max`` exceeded) is retried
    with ``dt * cut``; a step that converged in at most ``easy_iterations`` lets the next
    one grow by ``grow``. Steps land exactly on the output times.

    Parameters
    ----------
    mesh : the mesh (2D: plane strain; 3D).
    material : constitutive parameters.
    loading : Dirichlet conditions, surface loads, temperature, body force.
    times : output times (s), increasing and > 0; a single value is ``t_end``.
    dt0 : first time step, s (default ``min(times[0], t_end / 10)``).
    options : Newton and step control.
    order : element order (default: that of the cells).
    keep_qp : also return ``p``, ``eps_p`` and ``stress`` at the quadrature points.
    model : a prebuilt :class:`ViscoplasticModel` of ``mesh`` and ``material`` (reuse).

    Returns
    -------
    ViscoplasticResult
        Nodal fields at every output time and the record of every attempted step.

    Raises
    ------
    ConvergenceError
        When a step fails with ``dt`` already at ``dt_min``; the message gives the step,
        the time and the residual history, and the error carries ``step``, ``time``,
        ``dt`` and ``records``. Nothing is written anywhere.
    CaseError, GroupError, IllPosedError
        For invalid parameters, unknown groups or no Dirichlet condition.

    Examples
    --------
    >>> import skfem
    >>> from mesh import CellBlock
    >>> sk = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 3))
    >>> m = Mesh(sk.p.T, [CellBlock("triangle", sk.t.T)],
    ...          point_sets={"left": np.flatnonzero(sk.p[0] == 0),
    ...                      "right": np.flatnonzero(sk.p[0] == 1)})
    >>> mat = ViscoplasticMaterial(young=200e9, poisson=0.3, sigma_y=200e6, K=100e6, n=5)
    >>> ramp = LoadCurve((0.0, 1.0), (0.0, 1.0))
    >>> case = ViscoplasticLoading((Dirichlet("left", (0, 1)),
    ...                             Dirichlet("right", (0,), 0.01, ramp)))
    >>> res = solve_viscoplastic(m, mat, case, [0.5, 1.0])
    >>> res.fields["p"].shape, bool(res.fields["p"][-1].max() > 0)
    ((2, 9), True)
    """
    opts = options or SolverOptions()
    out_times = _output_times(times)
    t_end = float(out_times[-1])
    dt_min = opts.dt_min if opts.dt_min is not None else 1e-8 * t_end
    dt_max = opts.dt_max if opts.dt_max is not None else t_end
    dt = float(dt0) if dt0 is not None else min(float(out_times[0]), t_end / 10)
    if not dt > 0:
        raise CaseError(f"dt0 must be > 0; got {dt0!r}")
    if model is None:
        model = ViscoplasticModel(mesh, material, order=order)
    loads = DiscreteLoading(model, loading)
    solver = _LinearSolver(opts.linear_solver, model, loads.free_dofs)

    u = np.zeros(model.n_dofs)
    state = QPState.zeros(model.n_elements, model.n_qp)
    t, step, k_out = 0.0, 0, 0
    after_cut = False
    records: list[StepRecord] = []
    snaps: list[dict[str, FloatArray]] = []
    disp, qps = [], []
    while k_out < len(out_times):
        target = out_times[k_out]
        dt_try = min(dt, dt_max, target - t)
        if target - (t + dt_try) < 1e-9 * t_end:  # land exactly on the output time
            dt_try = target - t
        att = _newton_step(model, loads, u, state, t + dt_try, dt_try, opts, solver)
        records.append(StepRecord(step, float(t), float(dt_try), att.converged, att.iterations,
                                  tuple(att.residuals), att.reason))
        if not att.converged:
            log.debug("step %d t=%g dt=%g failed: %s", step, t, dt_try, att.reason)
            dt, after_cut = dt_try * opts.cut, True
            if dt < dt_min:
                raise _convergence_error(step, t, dt_try, dt_min, att, records)
            continue
        log.debug("step %d t=%g dt=%g: %d iterations", step, t, dt_try, att.iterations)
        u, state = att.u, att.response.state
        t = target if dt_try == target - t else t + dt_try
        step += 1
        if att.iterations <= opts.easy_iterations and not after_cut:
            dt = min(max(dt, dt_try) * opts.grow, dt_max)
        after_cut = False
        if t >= target:
            snaps.append(_output_fields(model, u, att.response, loads.temperature(t)))
            disp.append(u.copy())
            if keep_qp:
                qps.append((state.p, state.eps_p, att.response.stress))
            k_out += 1
    fields = {k: np.stack([s[k] for s in snaps]) for k in snaps[0]}
    qp = {}
    if keep_qp:
        names = ("p", "eps_p", "stress")
        qp = {name: np.stack([q[i] for q in qps]) for i, name in enumerate(names)}
    return ViscoplasticResult(out_times, fields, np.stack(disp), qp, tuple(records))


def _convergence_error(
    step: int, t: float, dt: float, dt_min: float, att: _Attempt, records: list[StepRecord]
) -> ConvergenceError:
    hist = ", ".join(f"{r:.3e}" for r in att.residuals)
    err = ConvergenceError(
        f"viscoplastic solve failed at step {step} (t = {t:.6g} s, dt = {dt:.3g} s; the next cut "
        f"would go below dt_min = {dt_min:.3g} s): {att.reason}; relative residual history "
        f"of the last attempt: [{hist}]"
    )
    err.step, err.time, err.dt = step, float(t), float(dt)
    err.residuals = tuple(att.residuals)
    err.records = tuple(records)
    return err
