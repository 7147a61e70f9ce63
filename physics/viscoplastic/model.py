"""The discretised elasto-viscoplastic operator (:class:`ViscoplasticModel`).

scikit-fem bases and quadrature, own vectorised assembly. Element-level functions work on
any subset of elements (``elements=``) with optional quadrature weights (``weights=``):
this is what hyper-reduction (ECM) evaluates on a few integration points. Quadrature
arrays are ``(n_elements, n_qp, ...)``; tensors are Mandel 6-vectors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem
from numpy.typing import NDArray

from mesh import Mesh
from mesh.types import FloatArray, IntArray

from ..constitutive import SQRT2, ViscoplasticMaterial, integrate
from ..errors import CaseError, GroupError
from ..skfem_mesh import node_map, to_skfem
from .loading import ViscoplasticLoading

if TYPE_CHECKING:
    from .discrete import DiscreteLoading


def _gather_with_midpoints(values: FloatArray, source: IntArray, mids: IntArray, ends: IntArray) -> FloatArray:
    """out[i] = values[source[i]] where source[i] >= 0, else 0; then each mid-edge entry
    ``mids[k]`` that had no source gets the mean of its edge's ends ``ends[k]`` (2 entries
    of out). values (M, ...), source (K,) int64 -> (K, ...)."""
    values = np.asarray(values, float)
    out = np.zeros((len(source),) + values.shape[1:])
    has = source >= 0
    out[has] = values[source[has]]
    if len(mids):
        miss = source[mids] < 0
        e = ends[miss]
        out[mids[miss]] = 0.5 * (out[e[:, 0]] + out[e[:, 1]])
    return out


__all__ = ["InternalForces", "PointResponse", "QPState", "ViscoplasticModel"]

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
            raise CaseError("viscoplastic solver: hypothesis 'plane_stress' is not implemented; "
                            "use 'plane_strain' or a 3D mesh")
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
        return _gather_with_midpoints(values, self.dof_point, self.mid_dofs, self.mid_dof_ends)

    def dofs_to_nodal(self, values: FloatArray) -> FloatArray:
        """Scalar field at the scalar dofs (n_scalar, ...) -> at the mesh nodes (N, ...).

        Mid-edge nodes without a dof (P1 on quadratic cells) get the mean of their edge's
        corners; nodes used by no volume cell get 0.
        """
        return _gather_with_midpoints(values, self.point_dof, self.mid_points, self.mid_ends)

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
        from .discrete import DiscreteLoading  # the discrete loading needs the model: import here

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


