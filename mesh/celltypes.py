"""The cell types the project understands, with their local edges and facets.

Names and node orderings are meshio's (which are VTK's). Each entry gives the
number of nodes, the topological dimension, the VTK type id, the local edges used
to build graphs (for quadratic cells, the sub-edges through the mid-side nodes)
and the facets (boundary entities of dimension ``dim - 1``) as local node lists,
corners first.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CellType:
    """Static description of one cell type.

    Attributes
    ----------
    name : meshio's name, e.g. ``"tetra10"``.
    n_nodes : nodes per cell.
    dim : topological dimension (0 to 3).
    vtk_id : VTK cell type id.
    n_corners : number of corner (vertex) nodes; the first ``n_corners`` nodes.
    edges : local node pairs that become graph edges.
    facets : local node tuples of each facet, corners first then mid-side nodes.
    facet_corners : number of corners of each facet (same order as ``facets``).
    """

    name: str
    n_nodes: int
    dim: int
    vtk_id: int
    n_corners: int
    edges: tuple[tuple[int, int], ...]
    facets: tuple[tuple[int, ...], ...]
    facet_corners: tuple[int, ...]

    @property
    def is_quadratic(self) -> bool:
        """True for cells with mid-side nodes."""
        return self.n_nodes > self.n_corners


def _chain(*pairs: tuple[int, int, int]) -> tuple[tuple[int, int], ...]:
    """Split each (a, mid, b) edge of a quadratic cell into (a, mid), (mid, b)."""
    out: list[tuple[int, int]] = []
    for a, m, b in pairs:
        out += [(a, m), (m, b)]
    return tuple(out)


_TRI = ((0, 1), (1, 2), (2, 0))
_QUAD = ((0, 1), (1, 2), (2, 3), (3, 0))
_TET = ((0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3))
_HEX = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
        (0, 4), (1, 5), (2, 6), (3, 7))
_WEDGE = ((0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5))
_PYR = ((0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (1, 4), (2, 4), (3, 4))


def _mid_edges(corner_edges: tuple[tuple[int, int], ...], first_mid: int):
    """Sub-edges of a quadratic cell whose mid nodes are numbered edge by edge."""
    return _chain(*[(a, first_mid + i, b) for i, (a, b) in enumerate(corner_edges)])


_TYPES = [
    CellType("vertex", 1, 0, 1, 1, (), (), ()),
    CellType("line", 2, 1, 3, 2, ((0, 1),), ((0,), (1,)), (1, 1)),
    CellType("line3", 3, 1, 21, 2, ((0, 2), (2, 1)), ((0,), (1,)), (1, 1)),
    CellType("triangle", 3, 2, 5, 3, _TRI, _TRI, (2, 2, 2)),
    CellType("triangle6", 6, 2, 22, 3, _mid_edges(_TRI, 3),
             ((0, 1, 3), (1, 2, 4), (2, 0, 5)), (2, 2, 2)),
    CellType("quad", 4, 2, 9, 4, _QUAD, _QUAD, (2, 2, 2, 2)),
    CellType("quad8", 8, 2, 23, 4, _mid_edges(_QUAD, 4),
             ((0, 1, 4), (1, 2, 5), (2, 3, 6), (3, 0, 7)), (2, 2, 2, 2)),
    CellType("quad9", 9, 2, 28, 4,
             _mid_edges(_QUAD, 4) + ((4, 8), (5, 8), (6, 8), (7, 8)),
             ((0, 1, 4), (1, 2, 5), (2, 3, 6), (3, 0, 7)), (2, 2, 2, 2)),
    CellType("tetra", 4, 3, 10, 4, _TET,
             ((0, 2, 1), (0, 1, 3), (1, 2, 3), (0, 3, 2)), (3, 3, 3, 3)),
    CellType("tetra10", 10, 3, 24, 4, _mid_edges(_TET, 4),
             ((0, 2, 1, 6, 5, 4), (0, 1, 3, 4, 8, 7), (1, 2, 3, 5, 9, 8),
              (0, 3, 2, 7, 9, 6)), (3, 3, 3, 3)),
    CellType("hexahedron", 8, 3, 12, 8, _HEX,
             ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6),
              (3, 0, 4, 7)), (4,) * 6),
    CellType("hexahedron20", 20, 3, 25, 8, _mid_edges(_HEX, 8),
             ((0, 3, 2, 1, 11, 10, 9, 8), (4, 5, 6, 7, 12, 13, 14, 15),
              (0, 1, 5, 4, 8, 17, 12, 16), (1, 2, 6, 5, 9, 18, 13, 17),
              (2, 3, 7, 6, 10, 19, 14, 18), (3, 0, 4, 7, 11, 16, 15, 19)), (4,) * 6),
    CellType("wedge", 6, 3, 13, 6, _WEDGE,
             ((0, 2, 1), (3, 4, 5), (0, 1, 4, 3), (1, 2, 5, 4), (2, 0, 3, 5)),
             (3, 3, 4, 4, 4)),
    CellType("wedge15", 15, 3, 26, 6, _mid_edges(_WEDGE, 6),
             ((0, 2, 1, 8, 7, 6), (3, 4, 5, 9, 10, 11), (0, 1, 4, 3, 6, 13, 9, 12),
              (1, 2, 5, 4, 7, 14, 10, 13), (2, 0, 3, 5, 8, 12, 11, 14)),
             (3, 3, 4, 4, 4)),
    CellType("pyramid", 5, 3, 14, 5, _PYR,
             ((0, 3, 2, 1), (0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 0, 4)), (4, 3, 3, 3, 3)),
    CellType("pyramid13", 13, 3, 27, 5, _mid_edges(_PYR, 5),
             ((0, 3, 2, 1, 8, 7, 6, 5), (0, 1, 4, 5, 10, 9), (1, 2, 4, 6, 11, 10),
              (2, 3, 4, 7, 12, 11), (3, 0, 4, 8, 9, 12)), (4, 3, 3, 3, 3)),
]


def _hex27() -> CellType:
    """Tri-quadratic hexahedron: hex20 nodes, 6 face centres (VTK order), body centre 26."""
    edge_mid = {frozenset(e): 8 + i for i, e in enumerate(_HEX)}
    faces = ((0, 3, 7, 4), (1, 2, 6, 5), (0, 1, 5, 4), (3, 2, 6, 7), (0, 1, 2, 3), (4, 5, 6, 7))
    edges = list(_mid_edges(_HEX, 8))
    facets = []
    for fc, corners in zip(range(20, 26), faces):
        mids = [edge_mid[frozenset((corners[i], corners[(i + 1) % 4]))] for i in range(4)]
        edges += [(m, fc) for m in mids] + [(fc, 26)]
        facets.append(tuple(corners) + tuple(mids) + (fc,))
    return CellType("hexahedron27", 27, 3, 29, 8, tuple(edges), tuple(facets), (4,) * 6)


_TYPES.append(_hex27())

CELL_TYPES: dict[str, CellType] = {t.name: t for t in _TYPES}
VTK_TO_NAME: dict[int, str] = {t.vtk_id: t.name for t in _TYPES}


def cell_type(name: str) -> CellType:
    """Return the description of cell type ``name``.

    Raises
    ------
    MeshError
        If the type is not supported; the message lists the supported names.
    """
    from .errors import MeshError

    try:
        return CELL_TYPES[name]
    except KeyError:
        raise MeshError(
            f"unsupported cell type '{name}'; supported: {', '.join(CELL_TYPES)}"
        ) from None
