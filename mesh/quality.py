"""Mesh quality checks that report problems by node and cell index.

``check_quality(mesh)`` finds non-finite coordinates, duplicate nodes, unused
nodes, degenerate and inverted cells and non-manifold facets, vectorised.
Cell indices are global: cells numbered across blocks in block order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .core import Mesh
from .graph import facet_counts
from .types import FloatArray, IntArray

# corner tetrahedra whose signed volumes must all be positive (VTK node order)
_CORNER_TETS = {
    "tetra": [(0, 1, 2, 3)],
    "hexahedron": [(0, 1, 3, 4), (1, 2, 0, 5), (2, 3, 1, 6), (3, 0, 2, 7),
                   (4, 7, 5, 0), (5, 4, 6, 1), (6, 5, 7, 2), (7, 6, 4, 3)],
    "wedge": [(0, 1, 2, 3), (1, 2, 0, 4), (2, 0, 1, 5), (3, 5, 4, 0), (4, 3, 5, 1), (5, 4, 3, 2)],
    "pyramid": [(0, 1, 3, 4), (1, 2, 0, 4), (2, 3, 1, 4), (3, 0, 2, 4)],
}
_LINEAR = {"tetra10": "tetra", "hexahedron20": "hexahedron", "hexahedron27": "hexahedron",
           "wedge15": "wedge", "pyramid13": "pyramid", "triangle6": "triangle",
           "quad8": "quad", "quad9": "quad", "line3": "line"}


@dataclass
class QualityReport:
    """What :func:`check_quality` found. Empty arrays mean no problem of that kind.

    Attributes
    ----------
    nonfinite_nodes : (M,) nodes with a NaN or infinite coordinate.
    duplicate_nodes : (M, 2) pairs (i, j), i < j, of nodes at the same position.
    unused_nodes : (M,) nodes referenced by no cell.
    degenerate_cells : (M,) global indices of cells with (near) zero size or repeated nodes.
    inverted_cells : (M,) global indices of cells with negative orientation (2D: against
        the majority; 3D: negative Jacobian at a corner).
    nonmanifold_facets : (M, k) corner nodes of facets shared by more than two cells.
    """

    nonfinite_nodes: IntArray
    duplicate_nodes: IntArray
    unused_nodes: IntArray
    degenerate_cells: IntArray
    inverted_cells: IntArray
    nonmanifold_facets: IntArray
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not any(self.counts.values())

    def summary(self, limit: int = 5) -> str:
        """One line per problem kind, with up to ``limit`` example indices."""
        lines = []
        for name, arr in self.problems().items():
            ex = np.asarray(arr)[:limit].tolist()
            more = " ..." if len(arr) > limit else ""
            lines.append(f"{name.replace('_', ' ')}: {len(arr)} (e.g. {ex}{more})")
        return "\n".join(lines) if lines else "no problems found"

    def problems(self) -> dict[str, np.ndarray]:
        """The non-empty problem arrays, by kind."""
        kinds = ("nonfinite_nodes", "duplicate_nodes", "unused_nodes", "degenerate_cells",
                 "inverted_cells", "nonmanifold_facets")
        return {k: getattr(self, k) for k in kinds if len(getattr(self, k))}


def cell_measures(mesh: Mesh) -> list[FloatArray]:
    """Signed size of each cell, per block: length, area or volume in the mesh's units.

    For 3D cells the value is the smallest corner-tetrahedron volume times the
    number of corner tetrahedra (negative if any corner is inverted); for 2D cells
    in a 2D mesh the signed area (counter-clockwise positive); for 2D cells in 3D
    space the (unsigned) area; quadratic cells use their corners.
    """
    out = []
    p = mesh.points
    for b in mesh.cells:
        base = _LINEAR.get(b.type, b.type)
        c = b.data
        if base == "vertex":
            out.append(np.ones(len(c)))
        elif base == "line":
            out.append(np.linalg.norm(p[c[:, 1]] - p[c[:, 0]], axis=1))
        elif base in ("triangle", "quad"):
            k = 3 if base == "triangle" else 4
            poly = p[c[:, :k]]
            if mesh.dim == 2:
                x, y = poly[..., 0], poly[..., 1]
                out.append(0.5 * np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
            else:
                v = np.zeros((len(c), 3))
                for i in range(1, k - 1):
                    v += np.cross(poly[:, i] - poly[:, 0], poly[:, i + 1] - poly[:, 0])
                out.append(0.5 * np.linalg.norm(v, axis=1))
        else:
            tets = np.asarray(_CORNER_TETS[base])
            a, b1, b2, b3 = (p[c[:, tets[:, i]]] for i in range(4))
            vol = np.einsum("ctj,ctj->ct", np.cross(b1 - a, b2 - a), b3 - a) / 6.0
            out.append(vol.min(axis=1) * len(tets) if len(tets) > 1 else vol[:, 0])
    return out


def check_quality(mesh: Mesh, *, rtol: float = 1e-10) -> QualityReport:
    """Check a mesh and report problems by node and cell index.

    Parameters
    ----------
    mesh : the mesh to check.
    rtol : relative tolerance: nodes closer than ``rtol * bbox diagonal`` are duplicates;
        cells smaller than ``rtol * (longest edge)^dim`` are degenerate.

    Returns
    -------
    QualityReport; ``report.ok`` is True when nothing was found.
    """
    from scipy.spatial import cKDTree

    p = mesh.points
    finite = np.isfinite(p).all(axis=1)
    nonfinite = np.flatnonzero(~finite)
    used = np.zeros(mesh.n_points, bool)
    for b in mesh.cells:
        used[b.data.ravel()] = True
    unused = np.flatnonzero(~used)
    dup = np.zeros((0, 2), np.int64)
    if finite.any():
        fp = p[finite]
        diag = float(np.linalg.norm(fp.max(0) - fp.min(0))) or 1.0
        idx = np.flatnonzero(finite)
        pairs = cKDTree(fp).query_pairs(rtol * diag, output_type="ndarray")
        if len(pairs):
            dup = np.sort(idx[pairs], axis=1)
            dup = dup[np.lexsort(dup.T[::-1])]
    degenerate, inverted = _bad_cells(mesh, rtol)
    nonmanifold = []
    for ncorner, (rows, counts) in facet_counts(mesh).items():
        if mesh.topological_dim >= 2:
            nonmanifold.append(rows[counts > 2])
    width = max((a.shape[1] for a in nonmanifold), default=2)
    nm = (np.concatenate([np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=-1)
                          for a in nonmanifold]) if nonmanifold else np.zeros((0, width), np.int64))
    report = QualityReport(nonfinite, dup, unused, degenerate, inverted, nm)
    report.counts = {k: len(v) for k, v in report.problems().items()}
    return report


def _bad_cells(mesh: Mesh, rtol: float) -> tuple[IntArray, IntArray]:
    """Global indices of degenerate and inverted cells."""
    measures = cell_measures(mesh)
    degenerate, inverted = [], []
    offset = 0
    signs = []
    p = mesh.points
    for b, m in zip(mesh.cells, measures):
        c = b.data[:, : b.info.n_corners]
        if b.info.dim == 0:
            offset += len(b)
            continue
        s = np.sort(c, axis=1)
        repeated = (s[:, 1:] == s[:, :-1]).any(axis=1)
        local = np.asarray(b.info.edges)
        ends = b.data[:, local]
        hmax = np.linalg.norm(p[ends[..., 1]] - p[ends[..., 0]], axis=2).max(axis=1)
        tiny = np.abs(m) <= rtol * hmax ** b.info.dim
        bad = repeated | tiny | ~np.isfinite(m)
        degenerate.append(offset + np.flatnonzero(bad))
        if b.info.dim == 3 or (b.info.dim == 2 and mesh.dim == 2):
            signs.append((offset, b.info.dim, m, bad))
        offset += len(b)
    if signs:
        top = max(d for _, d, _, _ in signs)
        if top == 2:  # 2D: orientation relative to the majority of cells
            total = sum(np.sum(np.sign(m[~bad])) for _, d, m, bad in signs if d == 2)
            ref = 1.0 if total >= 0 else -1.0
        else:
            ref = 1.0
        for off, d, m, bad in signs:
            if d == top:
                inverted.append(off + np.flatnonzero((np.sign(m) == -ref) & ~bad))
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64)  # noqa: E731
    return cat(degenerate), cat(inverted)
