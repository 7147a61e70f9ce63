"""Turn the current gmsh model into a project :class:`mesh.Mesh`.

gmsh is imported lazily: importing :mod:`physics` does not load it. Physical
groups of dimension ``dim - 1`` become boundary cell sets (facet cells: lines in
2D, triangles/quads in 3D), physical groups of dimension ``dim`` become region
cell sets, physical groups of dimension 0 become point sets; all keep their
gmsh names. Node orderings are converted from gmsh's to meshio's (VTK's).

Use :func:`gmsh_session` to initialise and always finalise gmsh::

    with gmsh_session():
        gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
        ...
        gmsh.model.mesh.generate(2)
        mesh = mesh_from_gmsh_model(2)
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np

from mesh import CellBlock, Mesh
from mesh.celltypes import CELL_TYPES

from .errors import GmshError

#: gmsh element type id -> meshio cell type name (types the project supports).
GMSH_TYPES: dict[int, str] = {
    1: "line", 2: "triangle", 3: "quad", 4: "tetra", 5: "hexahedron", 6: "wedge",
    7: "pyramid", 8: "line3", 9: "triangle6", 10: "quad9", 11: "tetra10", 15: "vertex",
    16: "quad8", 17: "hexahedron20", 18: "wedge15", 19: "pyramid13",
}

# gmsh -> VTK node order, for the types where they differ (same as meshio).
_REORDER: dict[str, list[int]] = {
    "tetra10": [0, 1, 2, 3, 4, 5, 6, 7, 9, 8],
    "hexahedron20": [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 9, 16, 18, 19, 17, 10, 12, 14, 15],
    "wedge15": [0, 1, 2, 3, 4, 5, 6, 9, 7, 12, 14, 13, 8, 10, 11],
    "pyramid13": [0, 1, 2, 3, 4, 5, 8, 10, 6, 7, 9, 11, 12],
}


@contextlib.contextmanager
def gmsh_session(verbose: bool = False) -> Iterator[object]:
    """Initialise gmsh for the duration of a ``with`` block and always finalise it.

    Works outside the main thread (``interruptible=False``, no signal handler) and
    silences the terminal output unless ``verbose``. If gmsh is already initialised
    by the caller, the block reuses that session and leaves it open.

    Yields
    ------
    The ``gmsh`` module.
    """
    import gmsh

    if gmsh.isInitialized():
        yield gmsh
        return
    main = threading.current_thread() is threading.main_thread()
    gmsh.initialize(interruptible=main)
    try:
        gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
        yield gmsh
    finally:
        gmsh.finalize()


def mesh_from_gmsh_model(dim: int) -> Mesh:
    """Convert the mesh of the current gmsh model into a :class:`mesh.Mesh`.

    Parameters
    ----------
    dim : spatial dimension of the model, 2 or 3. Points get ``dim`` columns
        (the z coordinate of a 2D model is dropped).

    Returns
    -------
    Mesh with points (N, dim) in the model's length unit (SI: m), one cell block
    per element type of dimension ``dim`` (all of them), then one per element
    type of dimension ``dim - 1`` (only the elements of physical groups), and
    ``cell_sets`` {physical name: per-block cell indices}; physical points give
    ``point_sets``. Nodes that no kept cell uses are dropped. Unnamed physical
    groups are called ``"physical_<dim>_<tag>"``.

    Raises
    ------
    GmshError
        If the model has no elements of dimension ``dim`` or an element type
        the project does not support.

    Examples
    --------
    >>> with gmsh_session() as gmsh:
    ...     _ = gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
    ...     gmsh.model.occ.synchronize()
    ...     _ = gmsh.model.addPhysicalGroup(1, [1], name="bottom")
    ...     _ = gmsh.model.addPhysicalGroup(2, [1], name="plate")
    ...     gmsh.model.mesh.generate(2)
    ...     m = mesh_from_gmsh_model(2)
    >>> m.dim, sorted(m.cell_sets)
    (2, ['bottom', 'plate'])
    """
    import gmsh

    if dim not in (1, 2, 3):
        raise GmshError(f"dim must be 1, 2 or 3; got {dim}")
    tags, coords, _ = gmsh.model.mesh.getNodes()
    tags = np.asarray(tags, dtype=np.int64)
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    lookup = np.full(int(tags.max()) + 1 if tags.size else 1, -1, np.int64)
    lookup[tags] = np.arange(tags.size)

    groups = _physical_groups()
    facet_entities = {e for (d, _), (_, ents) in groups.items() if d == dim - 1 for e in ents}
    blocks: dict[tuple[int, str], list[np.ndarray]] = {}
    # (dim, entity) -> list of (block key, first index, count)
    where: dict[tuple[int, int], list[tuple[tuple[int, str], int, int]]] = {}
    for d in (dim, dim - 1):
        for _, ent in gmsh.model.getEntities(d):
            if d == dim - 1 and ent not in facet_entities:
                continue
            etypes, _, enodes = gmsh.model.mesh.getElements(d, ent)
            for et, nodes in zip(etypes, enodes):
                name = GMSH_TYPES.get(int(et))
                if name is None:
                    ename = gmsh.model.mesh.getElementProperties(int(et))[0]
                    raise GmshError(
                        f"gmsh element type {int(et)} ('{ename}') on entity ({d}, {ent}) is not "
                        f"supported; supported: {', '.join(sorted(set(GMSH_TYPES.values())))}"
                    )
                conn = lookup[np.asarray(nodes, np.int64)].reshape(-1, CELL_TYPES[name].n_nodes)
                if name in _REORDER:
                    conn = conn[:, _REORDER[name]]
                key = (d, name)
                start = sum(len(a) for a in blocks.get(key, []))
                blocks.setdefault(key, []).append(conn)
                where.setdefault((d, ent), []).append((key, start, len(conn)))
    if not any(k[0] == dim for k in blocks):
        raise GmshError(f"the gmsh model has no elements of dimension {dim}; was it meshed?")

    keys = sorted(blocks, key=lambda k: (-k[0], k[1]))
    data = [np.concatenate(blocks[k]) for k in keys]
    used = np.unique(np.concatenate([c.ravel() for c in data]))
    renum = np.full(len(tags), -1, np.int64)
    renum[used] = np.arange(len(used))
    cells = tuple(CellBlock(k[1], renum[c]) for k, c in zip(keys, data))

    cell_sets: dict[str, list[np.ndarray]] = {}
    point_sets: dict[str, np.ndarray] = {}
    for (d, ptag), (name, ents) in groups.items():
        if d == 0 and dim > 1:
            nodes = [gmsh.model.mesh.getNodes(0, e)[0] for e in ents]
            idx = renum[lookup[np.concatenate(nodes).astype(np.int64)]] if nodes else []
            point_sets[name] = np.unique(np.asarray(idx, np.int64)[np.asarray(idx) >= 0])
            continue
        if d not in (dim, dim - 1):
            continue
        per_block = [[] for _ in keys]
        for e in ents:
            for key, start, count in where.get((d, e), []):
                per_block[keys.index(key)].append(np.arange(start, start + count))
        cell_sets[name] = [
            np.unique(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in per_block
        ]
    return Mesh(coords[used, :dim], cells, point_sets=point_sets, cell_sets=cell_sets)


def _physical_groups() -> dict[tuple[int, int], tuple[str, list[int]]]:
    """{(dim, tag): (name, entity tags)} of the current model's physical groups."""
    import gmsh

    out = {}
    names: dict[str, tuple[int, int]] = {}
    for d, tag in gmsh.model.getPhysicalGroups():
        name = gmsh.model.getPhysicalName(d, tag) or f"physical_{d}_{tag}"
        if name in names and names[name][0] != d:
            name = f"{name}_{d}d"
        names[name] = (d, tag)
        ents = [int(e) for e in gmsh.model.getEntitiesForPhysicalGroup(d, tag)]
        out[(d, tag)] = (name, ents)
    return out
