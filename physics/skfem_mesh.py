"""Conversion between :class:`mesh.Mesh` and scikit-fem meshes and bases.

scikit-fem stores points as (dim, N) and cells as (k, C); the project stores
(N, dim) and (C, k). The transposes happen here and nowhere else. Named groups
of the project mesh become scikit-fem boundaries (facet indices) when they are
made of facets of the volume cells, and subdomains when they are volume cells.

:class:`FEMesh` keeps the maps between the project's nodes and scikit-fem's
degrees of freedom, so that solvers read nodal input fields and write nodal
output fields on the input mesh's nodes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import skfem

from mesh import Mesh
from mesh.errors import MeshError

from .errors import InvertedCellsError

# linear base type -> (linear skfem mesh, P1 element, P2 element, n corners)
_LINEAR = {
    "line": (skfem.MeshLine, skfem.ElementLineP1, skfem.ElementLineP2, 2),
    "triangle": (skfem.MeshTri, skfem.ElementTriP1, skfem.ElementTriP2, 3),
    "quad": (skfem.MeshQuad, skfem.ElementQuad1, skfem.ElementQuad2, 4),
    "tetra": (skfem.MeshTet, skfem.ElementTetP1, skfem.ElementTetP2, 4),
    "hexahedron": (skfem.MeshHex, skfem.ElementHex1, skfem.ElementHex2, 8),
}
# quadratic cell type -> (base type, isoparametric skfem mesh)
_QUADRATIC = {
    "line3": ("line", None),
    "triangle6": ("triangle", skfem.MeshTri2),
    "quad8": ("quad", None),
    "quad9": ("quad", skfem.MeshQuad2),
    "tetra10": ("tetra", skfem.MeshTet2),
    "hexahedron20": ("hexahedron", None),
}
# VTK hexahedron corner order -> scikit-fem's (as skfem.io.meshio does)
_HEX_VTK_TO_SKFEM = [0, 4, 3, 1, 7, 5, 2, 6]
# neighbours of each corner, right-handed, for corner Jacobians (VTK order)
_QUAD_NB = [(1, 3), (2, 0), (3, 1), (0, 2)]
_HEX_NB = [(1, 3, 4), (2, 0, 5), (3, 1, 6), (0, 2, 7), (7, 5, 0), (4, 6, 1), (5, 7, 2),
           (6, 4, 3)]


def base_type(cell_type: str) -> str:
    """Linear base type of a cell type (``"tetra10"`` -> ``"tetra"``)."""
    if cell_type in _LINEAR:
        return cell_type
    if cell_type in _QUADRATIC:
        return _QUADRATIC[cell_type][0]
    raise MeshError(
        f"cell type '{cell_type}' has no scikit-fem element here; supported: "
        f"{', '.join([*_LINEAR, *_QUADRATIC])}"
    )


def _volume_cells(mesh: Mesh) -> tuple[str, np.ndarray]:
    """(type, (C, k) connectivity) of the volume cells; one type only."""
    vol = list(mesh.volume_blocks())
    types = sorted({b.type for b in vol})
    if len(types) != 1:
        raise MeshError(
            f"scikit-fem needs exactly one volume cell type; the mesh has {types or 'none'}"
        )
    return types[0], np.concatenate([b.data for b in vol])


@dataclass(eq=False)
class FEMesh:
    """A project mesh converted for scikit-fem, with the node <-> DOF maps.

    Attributes
    ----------
    mesh : the project mesh it was made from.
    skmesh : the scikit-fem mesh, with ``boundaries`` and ``subdomains`` named
        after the project mesh's cell sets.
    cell_type : the project mesh's volume cell type, e.g. ``"triangle6"``.
    curved : True if ``skmesh`` is isoparametric (quadratic geometry).
    vertex_nodes : (Nv,) int64, the project node of each scikit-fem vertex.
    """

    mesh: Mesh
    skmesh: skfem.Mesh
    cell_type: str
    curved: bool
    vertex_nodes: np.ndarray
    _cells: np.ndarray = field(repr=False, default=None)

    @classmethod
    def from_mesh(cls, mesh: Mesh, *, curved: bool | None = None) -> FEMesh:
        """Convert ``mesh``; quadratic cells give an isoparametric mesh unless ``curved=False``.

        Raises
        ------
        MeshError
            For mixed volume cell types, unsupported types, or a group whose cells
            are not facets of the volume mesh.
        """
        ctype, cells = _volume_cells(mesh)
        base = base_type(ctype)
        lin_cls, _, _, ncorner = _LINEAR[base]
        iso_cls = _QUADRATIC.get(ctype, (None, None))[1]
        if curved is None:
            curved = iso_cls is not None
        if curved and iso_cls is None:
            raise MeshError(f"cell type '{ctype}' has no isoparametric scikit-fem mesh")
        tdim = mesh.topological_dim
        corners = cells[:, :ncorner]
        vertex_nodes = np.unique(corners)
        vremap = np.full(mesh.n_points, -1, np.int64)
        vremap[vertex_nodes] = np.arange(len(vertex_nodes))
        extra = mesh.points[:, tdim:]
        if extra.size and np.ptp(extra, axis=0).max() > 1e-12 * max(np.ptp(mesh.points), 1.0):
            raise MeshError(
                f"a {tdim}D solve needs the mesh in the first {tdim} coordinates; the other "
                f"coordinates vary (the mesh is not flat in the {'xy'[:tdim]} {'plane' if tdim == 2 else 'axis'})"
            )
        pts = mesh.points[:, :tdim]
        if curved:
            used = np.unique(cells)
            remap = np.full(mesh.n_points, -1, np.int64)
            remap[used] = np.arange(len(used))
            sk = iso_cls(np.ascontiguousarray(pts[used].T), np.ascontiguousarray(remap[cells].T))
        else:
            t = vremap[corners]
            if base == "hexahedron":
                t = t[:, _HEX_VTK_TO_SKFEM]
            sk = lin_cls(np.ascontiguousarray(pts[vertex_nodes].T), np.ascontiguousarray(t.T))
        sk = _with_groups(sk, mesh, vremap)
        return cls(mesh, sk, ctype, bool(curved), vertex_nodes, cells)

    # ------------------------------------------------------------- elements
    @property
    def base(self) -> str:
        """Linear base type of the volume cells."""
        return base_type(self.cell_type)

    @property
    def dim(self) -> int:
        """Topological (= spatial for solids) dimension."""
        return int(self.skmesh.dim())

    def element(self, order: int) -> skfem.Element:
        """Scalar Lagrange element of ``order`` 1 or 2 for these cells."""
        if order not in (1, 2):
            raise ValueError(f"element order must be 1 or 2; got {order}")
        return _LINEAR[self.base][order]()

    def nodal_element(self) -> skfem.Element:
        """Scalar element whose DOFs are the project mesh's nodes (P1, or the mesh's P2)."""
        if self.curved:
            e = self.skmesh.elem
            return e() if isinstance(e, type) else e
        return self.element(1)

    def basis(self, order: int, *, vector: bool = False, intorder: int | None = None
              ) -> skfem.CellBasis:
        """Cell basis of Lagrange ``order``, vector-valued (dim components) if ``vector``."""
        e = self.element(order)
        if vector:
            e = skfem.ElementVector(e, self.dim)
        return skfem.Basis(self.skmesh, e, intorder=intorder or self.intorder(order))

    def intorder(self, order: int) -> int:
        """Quadrature order for Lagrange ``order``: exact mass matrices on straight cells.

        At least the nodal basis's (2 on quadratic meshes), so that quadrature values
        can be L2-projected onto it (see :mod:`physics.recovery`).
        """
        return 2 * max(order, 2 if self.curved else 1)

    def facet_basis(self, basis: skfem.CellBasis, group: str) -> skfem.FacetBasis:
        """Facet basis on boundary ``group`` with the element of ``basis``."""
        return skfem.FacetBasis(self.skmesh, basis.elem, facets=self.facets(group),
                                intorder=self.intorder(basis.elem.maxdeg))

    def facets(self, group: str) -> np.ndarray:
        """scikit-fem facet indices of boundary group ``group``: (F,) int.

        Raises
        ------
        GroupError
            If the group is not a boundary group; the message lists those there are.
        """
        from .errors import GroupError

        bnd = self.skmesh.boundaries or {}
        if group not in bnd:
            raise GroupError(group, sorted(bnd), "boundary group")
        return np.asarray(bnd[group])

    def group_dofs(self, basis: skfem.CellBasis, group: str) -> np.ndarray:
        """Scalar DOFs of ``basis`` on a boundary group (its facets) or point group: (M,) int.

        Raises
        ------
        GroupError
            If ``group`` is neither; the message lists the groups there are.
        """
        from .errors import GroupError

        if group in self.mesh.point_sets:
            n2d = self.node_to_dof(basis)[self.mesh.point_sets[group]]
            return np.unique(n2d[n2d >= 0])
        if group in self.boundary_groups:
            return np.unique(basis.get_dofs(facets=self.facets(group)).all())
        raise GroupError(group, sorted({*self.boundary_groups, *self.mesh.point_sets}),
                         "boundary or point group")

    @property
    def boundary_groups(self) -> list[str]:
        """Names of the groups made of facets."""
        return sorted(self.skmesh.boundaries or {})

    # -------------------------------------------------------- node <-> DOFs
    def node_to_dof(self, basis: skfem.CellBasis) -> np.ndarray:
        """Scalar DOF of ``basis`` at each project node, -1 where none: (N,) int64.

        ``basis`` is scalar; vertices map to nodal DOFs; with an isoparametric mesh
        and its own element, mid-side nodes map to their edge/facet DOFs too.
        """
        out = np.full(self.mesh.n_points, -1, np.int64)
        out[self.vertex_nodes] = basis.nodal_dofs[0]
        if self.curved and type(basis.elem) is type(self.nodal_element()):
            edofs = basis.element_dofs  # (k, C), local order = the cell's node order
            out[self._cells.T.ravel()] = edofs.ravel()
        return out

    def to_nodes(self, basis: skfem.CellBasis, x: np.ndarray) -> np.ndarray:
        """Values at the project nodes of a field given by DOFs ``x`` of ``basis``.

        Parameters
        ----------
        basis : scalar or vector Lagrange basis on ``skmesh``.
        x : (basis.N,) DOF values.

        Returns
        -------
        (N,) for a scalar basis, (N, dim) for a vector basis. Nodes that carry no
        DOF (mid-side nodes of a straight-sided mesh) get the mean of their cell
        edge's end values (exact for P1).
        """
        vector = isinstance(basis.elem, skfem.ElementVector)
        ncomp = basis.nodal_dofs.shape[0] if vector else 1
        scalar = basis.with_element(basis.elem.elem) if vector else basis
        n2d = self.node_to_dof(scalar)
        x = np.asarray(x)
        vals = np.zeros((self.mesh.n_points, ncomp))
        have = n2d >= 0
        for c in range(ncomp):
            vals[have, c] = x[ncomp * n2d[have] + c]
        if not have.all():
            self._fill_midside(vals, have)
        return vals[:, 0] if ncomp == 1 else vals

    def from_nodes(self, basis: skfem.CellBasis, values: np.ndarray) -> np.ndarray:
        """DOFs of scalar ``basis`` interpolating nodal ``values`` (N,).

        Works when ``basis`` is the nodal basis (:meth:`nodal_element`); for a P2
        basis on a straight-sided mesh, edge DOFs get the mean of the edge's ends.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.mesh.n_points,):
            raise ValueError(
                f"nodal field must have shape ({self.mesh.n_points},); got {values.shape}"
            )
        n2d = self.node_to_dof(basis)
        if (n2d >= 0).sum() == basis.N:  # the nodal basis: every DOF is a node
            x = np.zeros(basis.N)
            x[n2d[n2d >= 0]] = values[n2d >= 0]
            return x
        # higher order on straight cells: the P1/Q1 interpolant's values at the
        # edge, facet and cell centres are the means of their corner values
        v = values[self.vertex_nodes]
        sk = self.skmesh
        x = np.zeros(basis.N)
        x[basis.nodal_dofs[0]] = v
        if basis.edge_dofs.size:
            x[basis.edge_dofs[0]] = v[sk.edges].mean(axis=0)
        if basis.facet_dofs.size:
            x[basis.facet_dofs[0]] = v[sk.facets].mean(axis=0)
        if basis.interior_dofs.size:
            x[basis.interior_dofs[0]] = v[sk.t].mean(axis=0)
        return x

    def _fill_midside(self, vals: np.ndarray, have: np.ndarray) -> None:
        """Give each node without a DOF the mean of its edge's end values (in place)."""
        from mesh.celltypes import cell_type

        info = cell_type(self.cell_type)
        # sub-edges (a, m), (m, b) of a quadratic cell: m is the mid node of edge (a, b);
        # a cell-centre node (quad9) takes the mean of its mid nodes, filled just before
        have = have.copy()
        for k in range(info.n_corners, info.n_nodes):
            ends = sorted({a if b == k else b for a, b in info.edges if k in (a, b)})
            nodes = self._cells[:, k]
            need = ~have[nodes]
            mean = np.mean([vals[self._cells[need, e]] for e in ends], axis=0)
            vals[nodes[need]] = mean
            have[nodes] = True


def to_skfem(mesh: Mesh, *, curved: bool = False) -> skfem.Mesh:
    """Convert the volume cells of ``mesh`` to a scikit-fem mesh with named boundaries.

    Parameters
    ----------
    mesh : a mesh whose highest-dimensional cells are all of one type (line,
        triangle, quad, tetra, hexahedron, or their quadratic variants).
    curved : if True, quadratic cells (triangle6, quad9, tetra10) give an
        isoparametric mesh (``MeshTri2``...). By default every cell is reduced to
        its corners (a linear mesh whose vertex i is project node ``node_map(mesh)[i]``).

    Returns
    -------
    skfem.Mesh with ``boundaries`` = {group name: facet indices} for every cell
    set made of facets, and ``subdomains`` = {group name: element indices} for
    every cell set made of volume cells.

    Raises
    ------
    MeshError
        For mixed volume cell types or a type scikit-fem does not support here.
    """
    return FEMesh.from_mesh(mesh, curved=curved).skmesh


def node_map(mesh: Mesh) -> np.ndarray:
    """Project node of each scikit-fem vertex, in skfem order: (N_v,) int64."""
    ctype, cells = _volume_cells(mesh)
    return np.unique(cells[:, : _LINEAR[base_type(ctype)][3]])


def _with_groups(sk: skfem.Mesh, mesh: Mesh, vremap: np.ndarray) -> skfem.Mesh:
    """Attach the cell sets of ``mesh`` as skfem boundaries (facets) and subdomains."""
    tdim = mesh.topological_dim
    lookup = _FacetLookup(sk.facets)
    offsets, n = {}, 0
    for i, b in enumerate(mesh.cells):
        if b.info.dim == tdim:
            offsets[i] = n
            n += len(b)
    boundaries, subdomains = {}, {}
    for name, per_block in mesh.cell_sets.items():
        facets, elems = [], []
        for i, (b, idx) in enumerate(zip(mesh.cells, per_block)):
            if not len(idx):
                continue
            if b.info.dim == tdim:
                elems.append(offsets[i] + idx)
            elif b.info.dim == tdim - 1:
                corners = vremap[b.data[idx][:, : b.info.n_corners]]
                if (corners < 0).any():
                    raise MeshError(
                        f"group '{name}': some of its cells use nodes that no volume cell uses"
                    )
                facets.append(lookup.find(corners, name))
        if facets:
            boundaries[name] = np.unique(np.concatenate(facets)).astype(np.int32)
        elif elems:
            subdomains[name] = np.concatenate(elems).astype(np.int32)
    if boundaries:
        sk = sk.with_boundaries(boundaries)
    if subdomains:
        sk = sk.with_subdomains(subdomains)
    return sk


class _FacetLookup:
    """Find skfem facet indices from facet corner lists (any order)."""

    def __init__(self, facets: np.ndarray) -> None:
        keys = np.ascontiguousarray(np.sort(facets, axis=0).T.astype(np.int64))
        self._void = np.dtype((np.void, keys.dtype.itemsize * keys.shape[1]))
        kv = keys.view(self._void).ravel()
        self._order = np.argsort(kv)
        self._sorted = kv[self._order]

    def find(self, corners: np.ndarray, name: str) -> np.ndarray:
        q = np.ascontiguousarray(np.sort(corners, axis=1).astype(np.int64)).view(self._void).ravel()
        pos = np.clip(np.searchsorted(self._sorted, q), 0, len(self._sorted) - 1)
        found = self._sorted[pos] == q
        if not found.all():
            raise MeshError(
                f"group '{name}': {int((~found).sum())} of its {len(q)} cells are not facets "
                "of the volume mesh"
            )
        return self._order[pos]


# ------------------------------------------------------------------ checks
def signed_measures(mesh: Mesh) -> list[np.ndarray]:
    """Corner Jacobian determinants of each volume cell, one array per volume block.

    Returns
    -------
    list of (C_b, m) arrays, m = 1 for simplices, 4 for quads, 8 for hexahedra
    (units: length^dim). Only corner nodes are used.
    """
    out = []
    pts = mesh.points
    for b in mesh.volume_blocks():
        base = base_type(b.type)
        c = b.data
        if base == "line":
            out.append((pts[c[:, 1], 0] - pts[c[:, 0], 0])[:, None])
        elif base == "triangle":
            out.append(_det2(pts[c[:, 1]] - pts[c[:, 0]], pts[c[:, 2]] - pts[c[:, 0]])[:, None])
        elif base == "quad":
            out.append(np.stack([_det2(pts[c[:, j]] - pts[c[:, i]], pts[c[:, k]] - pts[c[:, i]])
                                 for i, (j, k) in enumerate(_QUAD_NB)], axis=1))
        elif base == "tetra":
            out.append(_det3(*(pts[c[:, j]] - pts[c[:, 0]] for j in (1, 2, 3)))[:, None])
        else:
            out.append(np.stack([_det3(*(pts[c[:, j]] - pts[c[:, i]] for j in nb))
                                 for i, nb in enumerate(_HEX_NB)], axis=1))
    return out


def _det2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def _det3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", np.cross(a, b), c)


def check_cells(mesh: Mesh) -> None:
    """Raise if some volume cells are inverted or degenerate.

    All cells must have corner Jacobians of one sign (either orientation is
    accepted, as long as it is the same everywhere) and non-zero.

    Raises
    ------
    InvertedCellsError
        Naming the block, the number of bad cells and the first few indices.
    """
    dets = signed_measures(mesh)
    if not dets:
        return
    allv = np.concatenate([d.ravel() for d in dets])
    sign = 1.0 if (allv > 0).sum() >= (allv < 0).sum() else -1.0
    scale = np.abs(allv).max() if allv.size else 1.0
    vblocks = list(mesh.volume_blocks())
    for b, d in zip(vblocks, dets):
        bad = np.nonzero((sign * d <= 1e-12 * scale).any(axis=1))[0]
        if bad.size:
            raise InvertedCellsError(
                f"{bad.size} of the {len(b)} '{b.type}' cells are inverted or degenerate "
                f"(signed volume <= 0 relative to the mesh's orientation); first: "
                f"{bad[:10].tolist()}"
            )
