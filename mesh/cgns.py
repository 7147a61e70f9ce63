"""Read unstructured CGNS/HDF5 files with h5py (meshio's CGNS reader handles only one case).

Supported: the first base; one unstructured zone (or the zone named by the caller);
``Elements_t`` sections of fixed-type elements and MIXED sections; vertex and
cell-centred ``FlowSolution_t``/``DiscreteData_t`` arrays; ``ZoneBC`` point lists.
Lower-dimensional element sections (boundary faces/edges) become named cell sets,
``BC_t`` point lists named point sets.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .core import CellBlock, Mesh
from .errors import MeshReadError

# CGNS ElementType_t code -> (meshio name, permutation from CGNS to VTK order or None)
_HEX20 = list(range(12)) + [16, 17, 18, 19, 12, 13, 14, 15]
_WEDGE15 = list(range(9)) + [12, 13, 14, 9, 10, 11]
CGNS_TYPES: dict[int, tuple[str, list[int] | None]] = {
    2: ("vertex", None), 3: ("line", None), 4: ("line3", None),
    5: ("triangle", None), 6: ("triangle6", None),
    7: ("quad", None), 8: ("quad8", None), 9: ("quad9", None),
    10: ("tetra", None), 11: ("tetra10", None),
    12: ("pyramid", None), 21: ("pyramid13", None),
    14: ("wedge", None), 15: ("wedge15", _WEDGE15),
    17: ("hexahedron", None), 18: ("hexahedron20", _HEX20),
}
_NODES = {2: 1, 3: 2, 4: 3, 5: 3, 6: 6, 7: 4, 8: 8, 9: 9, 10: 4, 11: 10, 12: 5, 21: 13,
          14: 6, 15: 15, 17: 8, 18: 20}
_MIXED = 20


def _label(node) -> str:
    lab = node.attrs.get("label", b"")
    return lab.decode() if isinstance(lab, bytes) else str(lab)


def _data(node) -> np.ndarray:
    return node[" data"][()]


def _text(node) -> str:
    return bytes(np.asarray(_data(node), dtype=np.uint8)).decode(errors="replace").strip("\x00 ")


def _children(node, label: str):
    return [(k, node[k]) for k in node if not k.startswith(" ") and _label(node[k]) == label]


def read_cgns(path: str | Path, zone: str | None = None, base: str | None = None) -> Mesh:
    """Read one unstructured zone of a CGNS (HDF5) file.

    Parameters
    ----------
    path : the .cgns file.
    zone : name of the zone to read; default: the only (or first) unstructured zone.
    base : name of the CGNS base; default: the first base that has a zone (PLAID files
        may start with a zone-less ``Global`` base of scalars).

    Returns
    -------
    Mesh whose point dimension is the base's physical dimension.

    Raises
    ------
    MeshReadError
        Not HDF5, not CGNS, no unstructured zone, unsupported element type, bad indices.
    """
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise MeshReadError(path, f"not a readable HDF5/CGNS file ({exc})") from None
    try:
        with f:
            return _read_zone(f, path, zone, base)
    except MeshReadError:
        raise
    except (KeyError, ValueError, IndexError, TypeError, OSError) as exc:
        raise MeshReadError(path, f"malformed CGNS structure: {exc}") from None


def _read_zone(f, path: Path, zone_name: str | None, base_name: str | None = None) -> Mesh:
    bases = _children(f, "CGNSBase_t")
    if not bases:
        raise MeshReadError(path, "no CGNSBase_t node: not a CGNS file")
    if base_name is not None:
        chosen = [b for k, b in bases if k == base_name]
        if not chosen:
            raise MeshReadError(path, f"no CGNS base '{base_name}'; bases: {', '.join(k for k, _ in bases)}")
    else:
        chosen = [b for _, b in bases if _children(b, "Zone_t")] or [bases[0][1]]
    base = chosen[0]
    cell_dim, phys_dim = (int(v) for v in _data(base)[:2])
    zones = [(k, z) for k, z in _children(base, "Zone_t")
             if "ZoneType" not in z or _text(z["ZoneType"]) == "Unstructured"]
    if zone_name is not None:
        zones = [(k, z) for k, z in zones if k == zone_name]
    if not zones:
        raise MeshReadError(path, f"no unstructured zone{' named ' + zone_name if zone_name else ''}")
    name, z = zones[0]
    gc = z["GridCoordinates"]
    coords = [np.asarray(_data(gc[c]), dtype=np.float64)
              for c in ("CoordinateX", "CoordinateY", "CoordinateZ")[:phys_dim] if c in gc]
    pts = np.stack(coords, axis=1)
    n = len(pts)
    sections = sorted(_children(z, "Elements_t"), key=lambda kv: int(_data(kv[1]["ElementRange"])[0]))
    blocks: list[CellBlock] = []
    block_names: list[str] = []
    ranges: list[tuple[int, int]] = []
    for sname, sec in sections:
        etype = int(_data(sec)[0])
        conn = np.asarray(_data(sec["ElementConnectivity"]), dtype=np.int64)
        erange = tuple(int(v) for v in _data(sec["ElementRange"]))
        if etype == _MIXED:
            offsets = (np.asarray(_data(sec["ElementStartOffset"]), np.int64)
                       if "ElementStartOffset" in sec else None)
            new = _split_mixed(conn, offsets, path, sname)
        else:
            new = [(etype, conn)]
        for et, c in new:
            if et not in CGNS_TYPES:
                raise MeshReadError(path, f"section '{sname}': CGNS element type {et} is not supported")
            mname, perm = CGNS_TYPES[et]
            data = c.reshape(-1, _NODES[et]) - 1
            if perm is not None:
                data = data[:, perm]
            if data.size and (data.min() < 0 or data.max() >= n):
                raise MeshReadError(path, f"section '{sname}' refers to nodes outside 1..{n}")
            blocks.append(CellBlock(mname, data))
            block_names.append(sname)
            ranges.append(erange)
    mesh_blocks = tuple(blocks)
    vol = [i for i, b in enumerate(blocks) if b.info.dim == cell_dim]
    cell_sets = {}
    for i, (b, sname) in enumerate(zip(blocks, block_names)):
        if b.info.dim < cell_dim or len(vol) > 1:
            per = [np.zeros(0, np.int64) for _ in blocks]
            per[i] = np.arange(len(b))
            cell_sets[sname] = per
    point_data, cell_data = {}, {}
    for label in ("FlowSolution_t", "DiscreteData_t"):
        for sol_name, sol in _children(z, label):
            loc = _text(sol["GridLocation"]) if "GridLocation" in sol else "Vertex"
            for fname, arr in _children(sol, "DataArray_t"):
                v = np.asarray(_data(arr))
                if loc == "Vertex":
                    if len(v) != n:
                        raise MeshReadError(path, f"field '{fname}' has {len(v)} values for {n} nodes")
                    point_data[fname] = v
                elif loc == "CellCenter":
                    cell_data[fname] = _cell_field(v, blocks, cell_dim, path, fname)
    point_sets = {}
    if "ZoneBC" in z:
        for bc_name, bc in _children(z["ZoneBC"], "BC_t"):
            loc = _text(bc["GridLocation"]) if "GridLocation" in bc else "Vertex"
            if "PointList" in bc and loc == "Vertex":
                point_sets[bc_name] = np.asarray(_data(bc["PointList"]), np.int64).ravel() - 1
    return Mesh(pts, mesh_blocks, point_data, cell_data, {}, point_sets, cell_sets)


def _split_mixed(conn, offsets, path, sname):
    """Split a MIXED connectivity into (type, flat connectivity) runs."""
    out: dict[int, list[np.ndarray]] = {}
    pos = 0
    if offsets is not None:
        starts = offsets[:-1]
        for s, e in zip(starts, offsets[1:]):
            out.setdefault(int(conn[s]), []).append(conn[s + 1: e])
        return [(k, np.concatenate(v)) for k, v in out.items()]
    while pos < len(conn):
        et = int(conn[pos])
        if et not in _NODES:
            raise MeshReadError(path, f"section '{sname}': unknown element type {et} in MIXED data")
        k = _NODES[et]
        out.setdefault(et, []).append(conn[pos + 1: pos + 1 + k])
        pos += 1 + k
    return [(k, np.concatenate(v)) for k, v in out.items()]


def _cell_field(v, blocks, cell_dim, path, fname):
    """Spread a cell-centred field over the volume blocks (NaN on lower-dimensional blocks)."""
    n_vol = sum(len(b) for b in blocks if b.info.dim == cell_dim)
    if len(v) != n_vol:
        raise MeshReadError(path, f"cell field '{fname}' has {len(v)} values for {n_vol} cells")
    out, pos = [], 0
    for b in blocks:
        if b.info.dim == cell_dim:
            out.append(v[pos: pos + len(b)])
            pos += len(b)
        else:
            out.append(np.full(len(b), np.nan))
    return out
