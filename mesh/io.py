"""Read and write meshes in any format meshio supports, plus CGNS through h5py.

Every reader error becomes a :class:`MeshReadError` that names the file and the
reason; every write goes to a temporary name in the target folder first and is
renamed into place, so a crash never leaves a half-written file that looks complete.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .celltypes import CELL_TYPES
from .convert import from_meshio, to_meshio, with_gmsh_groups
from .core import Mesh
from .errors import MeshError, MeshReadError, MeshWriteError

CGNS_SUFFIXES = (".cgns",)


def _meshio_formats() -> dict[str, list[str]]:
    import meshio

    return meshio.extension_to_filetypes


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in sorted(_meshio_formats(), key=len, reverse=True):
        if name.endswith(ext):
            return ext
    return path.suffix.lower()


def read(path: str | os.PathLike, *, dim: int | None = None, file_format: str | None = None) -> Mesh:
    """Read a mesh file.

    Parameters
    ----------
    path : any file meshio reads (VTU, VTK, XDMF, Gmsh .msh, Medit .mesh, STL, ...) or CGNS.
    dim : spatial dimension of the result (2 or 3). Default: 2 when every z coordinate
        is zero and the cells are at most 2D, else 3.
    file_format : meshio format name, to override the one guessed from the extension.

    Returns
    -------
    Mesh with points (N, dim) and the file's cells, data and named groups
    (Gmsh physical groups become ``cell_sets``).

    Raises
    ------
    MeshReadError
        Missing or empty file, unknown format, truncated or corrupted content; the
        message names the file and the reason.
    """
    path = Path(path)
    if not path.exists():
        raise MeshReadError(path, "no such file")
    if path.is_dir():
        raise MeshReadError(path, "is a folder, not a mesh file")
    if path.stat().st_size == 0:
        raise MeshReadError(path, "the file is empty")
    ext = _suffix(path)
    if file_format is None and ext in CGNS_SUFFIXES:
        from .cgns import read_cgns

        mesh = read_cgns(path)
    else:
        mesh = _read_meshio(path, ext, file_format)
    if not mesh.cells:
        raise MeshReadError(path, "the file holds no cells")
    return _with_dim(mesh, dim, path)


def _read_meshio(path: Path, ext: str, file_format: str | None) -> Mesh:
    import meshio

    if file_format is None and ext not in _meshio_formats():
        known = ", ".join(sorted(set(_meshio_formats()) | set(CGNS_SUFFIXES)))
        raise MeshReadError(path, f"unknown mesh format '{ext or path.name}'; known extensions: {known}")
    said = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            warnings.simplefilter("ignore")
            m = meshio.read(path, file_format=file_format)
    except MeshReadError:
        raise
    except SystemExit:  # meshio exits when no reader accepts the file
        text = " ".join(said.getvalue().split()) or "no reader accepted the file"
        raise MeshReadError(path, text.replace(str(path), "it")) from None
    except Exception as exc:  # meshio and its backends raise anything on corrupt input
        if ext in (".xdmf", ".xmf") and _xdmf_topology(path) == "Mixed":
            raise MeshReadError(
                path, "XDMF 'Mixed' topology with heavy data is not supported by the meshio "
                f"XDMF reader ({type(exc).__name__}: {exc}); convert it to VTU, e.g. in ParaView"
            ) from None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MeshReadError(path, f"{type(exc).__name__}: {reason}") from None
    if ext in (".xdmf", ".xmf") and np.asarray(m.points).ndim == 1:
        m.points = np.asarray(m.points).reshape(-1, _xdmf_geometry_dim(path))
    for b in m.cells:  # meshio keeps flat HDF5 connectivity flat
        if np.asarray(b.data).ndim == 1 and b.type in CELL_TYPES:
            b.data = np.asarray(b.data).reshape(-1, CELL_TYPES[b.type].n_nodes)
    try:
        mesh = from_meshio(m)
        if ext == ".msh" and "gmsh:physical" in m.cell_data:
            mesh = with_gmsh_groups(mesh, m)
        return decode_groups(mesh)
    except MeshError as exc:
        raise MeshReadError(path, str(exc)) from None


def _xdmf_attr(path: Path, tag: str, attrs: tuple[str, ...]) -> str | None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return None
    for el in root.iter(tag):
        for a in attrs:
            if a in el.attrib:
                return el.attrib[a]
    return None


def _xdmf_topology(path: Path) -> str | None:
    return _xdmf_attr(path, "Topology", ("TopologyType", "Type"))


def _xdmf_geometry_dim(path: Path) -> int:
    kind = _xdmf_attr(path, "Geometry", ("GeometryType", "Type")) or "XYZ"
    return 2 if kind.upper() == "XY" else 3


def _with_dim(mesh: Mesh, dim: int | None, path: Path) -> Mesh:
    if dim is None:
        flat = mesh.dim == 3 and mesh.topological_dim <= 2 and not np.any(mesh.points[:, 2])
        dim = 2 if flat else mesh.dim
    if dim == mesh.dim:
        return mesh
    if dim not in (2, 3):
        raise MeshReadError(path, f"dim must be 2 or 3; got {dim}")
    if dim < mesh.dim:
        if np.any(mesh.points[:, dim:]):
            raise MeshReadError(path, f"cannot read as {dim}D: coordinates beyond axis {dim} are not zero")
        pts = mesh.points[:, :dim]
    else:
        pts = np.hstack([mesh.points, np.zeros((mesh.n_points, dim - mesh.dim))])
    return mesh.with_points(pts) if pts.shape[1] == mesh.dim else Mesh(
        pts, mesh.cells, mesh.point_data, mesh.cell_data, mesh.field_data,
        mesh.point_sets, mesh.cell_sets)


def write(mesh: Mesh, path: str | os.PathLike, *, file_format: str | None = None,
          compression: str | None = "zlib") -> Path:
    """Write ``mesh`` atomically to ``path`` (format from the extension or ``file_format``).

    The file (and any companion file, e.g. the .h5 of an XDMF) is written in a
    temporary folder next to the target and renamed into place.

    Returns
    -------
    The written path.

    Raises
    ------
    MeshWriteError
        Unknown format or a writer failure; nothing is left at ``path``.
    """
    path = Path(path)
    ext = _suffix(path)
    if file_format is None and ext not in _meshio_formats():
        raise MeshWriteError(path, f"unknown mesh format '{ext}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format is None and ext == ".msh":
        file_format = "gmsh22"  # meshio would pick ANSYS for .msh
    fmt = (file_format or ext).lstrip(".")
    if fmt.startswith("gmsh"):
        mesh = _gmsh_tags(mesh)
    elif fmt not in _SET_FORMATS:
        mesh = encode_groups(mesh)
    if mesh.dim == 2 and fmt in _NEEDS_3D:
        mesh = _padded(mesh)
    m = to_meshio(mesh)
    kwargs = {}
    if (file_format or ext) in ("vtu", ".vtu") and compression is not None:
        kwargs["compression"] = compression

    def _write(tmp_path: Path) -> None:
        import meshio

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meshio.write(tmp_path, m, file_format=file_format, **kwargs)
        if fmt == "vtu" and mesh.field_data:
            _add_vtu_field_data(tmp_path, mesh.field_data)

    return atomic_write(path, _write)


def _add_vtu_field_data(path: Path, field_data: dict) -> None:
    """Insert a ``<FieldData>`` block (numeric arrays, ASCII) that meshio's VTU writer omits."""
    from xml.sax.saxutils import quoteattr

    arrays = []
    for name, value in field_data.items():
        v = np.atleast_1d(np.asarray(value))
        if not np.issubdtype(v.dtype, np.number) or v.ndim != 1:
            continue
        kind = "Float64" if np.issubdtype(v.dtype, np.floating) else "Int64"
        text = " ".join(repr(float(x)) if kind == "Float64" else str(int(x)) for x in v)
        arrays.append(f'<DataArray type="{kind}" Name={quoteattr(name)} NumberOfTuples="{len(v)}" '
                      f'format="ascii">{text}</DataArray>')
    if not arrays:
        return
    raw = path.read_bytes()
    tag = b"<UnstructuredGrid>"
    pos = raw.find(tag)
    if pos < 0:
        raise MeshWriteError(path, "unexpected VTU layout: no <UnstructuredGrid> element")
    block = ("\n<FieldData>\n" + "\n".join(arrays) + "\n</FieldData>").encode()
    path.write_bytes(raw[: pos + len(tag)] + block + raw[pos + len(tag):])


_SET_FORMATS = {"med"}
_NEEDS_3D = {"vtu", "vtk", "xdmf", "xmf", "stl", "ply", "obj"}
GROUP_PREFIX = "group:"
POINT_GROUP_PREFIX = "pointgroup:"


def _padded(mesh: Mesh) -> Mesh:
    """The mesh with 3D points (z = 0), for formats that store 3D points only."""
    pts = np.hstack([mesh.points, np.zeros((mesh.n_points, 3 - mesh.dim))])
    return Mesh(pts, mesh.cells, mesh.point_data, mesh.cell_data, mesh.field_data,
                mesh.point_sets, mesh.cell_sets)


def _gmsh_tags(mesh: Mesh) -> Mesh:
    """Named cell groups as Gmsh physical tags (``gmsh:physical`` cell data + names in field data).

    Gmsh gives a cell one physical tag: a cell in several groups keeps the first one.
    Point groups cannot be written to Gmsh files and are dropped.
    """
    cell_data = {k: v for k, v in mesh.cell_data.items() if not k.startswith("gmsh:")}
    tags = [np.zeros(len(b), np.int32) for b in mesh.cells]
    field_data = {k: v for k, v in mesh.field_data.items()
                  if not (np.asarray(v).size == 2 and np.issubdtype(np.asarray(v).dtype, np.integer))}
    for tag, (name, per_block) in enumerate(mesh.cell_sets.items(), start=1):
        dims = {b.info.dim for b, idx in zip(mesh.cells, per_block) if len(idx)}
        for t, idx in zip(tags, per_block):
            free = idx[t[idx] == 0]
            t[free] = tag
        if dims:
            field_data[name] = np.array([tag, max(dims)])
    cell_data["gmsh:physical"] = tags
    cell_data["gmsh:geometrical"] = [t.copy() for t in tags]
    return Mesh(mesh.points, mesh.cells, mesh.point_data, cell_data, field_data, {}, {})


def encode_groups(mesh: Mesh) -> Mesh:
    """Named groups as 0/1 data arrays (``group:NAME`` cell data, ``pointgroup:NAME`` point data).

    For formats (VTU, VTK, XDMF) that cannot store named sets; :func:`decode_groups` inverts it.
    """
    cell_data = dict(mesh.cell_data)
    for name, per_block in mesh.cell_sets.items():
        masks = []
        for b, idx in zip(mesh.cells, per_block):
            mk = np.zeros(len(b), np.uint8)
            mk[idx] = 1
            masks.append(mk)
        cell_data[GROUP_PREFIX + name] = masks
    point_data = dict(mesh.point_data)
    for name, idx in mesh.point_sets.items():
        mk = np.zeros(mesh.n_points, np.uint8)
        mk[idx] = 1
        point_data[POINT_GROUP_PREFIX + name] = mk
    return Mesh(mesh.points, mesh.cells, point_data, cell_data, mesh.field_data, {}, {})


def decode_groups(mesh: Mesh) -> Mesh:
    """Turn ``group:NAME`` / ``pointgroup:NAME`` data arrays back into named groups."""
    if not any(k.startswith(GROUP_PREFIX) for k in mesh.cell_data) and not any(
            k.startswith(POINT_GROUP_PREFIX) for k in mesh.point_data):
        return mesh
    cell_data, cell_sets = {}, dict(mesh.cell_sets)
    for k, v in mesh.cell_data.items():
        if k.startswith(GROUP_PREFIX):
            cell_sets[k[len(GROUP_PREFIX):]] = [np.flatnonzero(np.asarray(a).ravel()) for a in v]
        else:
            cell_data[k] = v
    point_data, point_sets = {}, dict(mesh.point_sets)
    for k, v in mesh.point_data.items():
        if k.startswith(POINT_GROUP_PREFIX):
            point_sets[k[len(POINT_GROUP_PREFIX):]] = np.flatnonzero(v)
        else:
            point_data[k] = v
    return Mesh(mesh.points, mesh.cells, point_data, cell_data, mesh.field_data, point_sets, cell_sets)


def atomic_write(path: Path, writer) -> Path:
    """Call ``writer(tmp_path)`` in a temporary folder beside ``path``, then move into place.

    Companion files the writer creates next to ``tmp_path`` are moved first and the
    main file last, so the main file's presence means the write completed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        tmp_main = tmpdir / path.name
        try:
            writer(tmp_main)
        except MeshWriteError:
            raise
        except Exception as exc:
            raise MeshWriteError(path, f"{type(exc).__name__}: {exc}") from None
        if not tmp_main.exists():
            raise MeshWriteError(path, "the writer produced no file")
        for f in sorted(tmpdir.iterdir()):
            if f.name != path.name:
                os.replace(f, path.parent / f.name)
        os.replace(tmp_main, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path


def read_series(path: str | os.PathLike, *, dim: int | None = None) -> tuple[Mesh, np.ndarray, list[dict]]:
    """Read an XDMF time series (meshio's TimeSeriesWriter layout).

    Returns
    -------
    (mesh, times (T,) in the file's time unit, a list of T dicts {field: (N, ...) array}).
    """
    import meshio

    path = Path(path)
    if not path.exists():
        raise MeshReadError(path, "no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with meshio.xdmf.TimeSeriesReader(path) as reader:
                points, cells = reader.read_points_cells()
                times, steps = [], []
                for k in range(reader.num_steps):
                    t, pd, _cd = reader.read_data(k)
                    times.append(float(t))
                    steps.append({n: np.asarray(v) for n, v in pd.items()})
    except Exception as exc:
        raise MeshReadError(path, f"not a readable XDMF time series ({type(exc).__name__}: {exc})") from None
    mesh = _with_dim(from_meshio(meshio.Mesh(points, cells)), dim, path)
    groups = {k[len(POINT_GROUP_PREFIX):]: np.flatnonzero(v) for k, v in (steps[0] if steps else {}).items()
              if k.startswith(POINT_GROUP_PREFIX)}
    for s in steps:
        for k in [k for k in s if k.startswith(POINT_GROUP_PREFIX)]:
            del s[k]
    if groups:
        mesh = Mesh(mesh.points, mesh.cells, point_sets=groups)
    return mesh, np.asarray(times), steps


def write_series(mesh: Mesh, times: Sequence[float], steps: Iterable[dict], path: str | os.PathLike) -> Path:
    """Write an XDMF + HDF5 time series atomically.

    Parameters
    ----------
    mesh : the (fixed) mesh.
    times : (T,) time values.
    steps : T dicts {field name: (N,) or (N, c) point array}.
    """
    import meshio

    path = Path(path)
    steps = [dict(s) for s in steps]
    if len(steps) != len(times):
        raise MeshWriteError(path, f"{len(times)} times but {len(steps)} field states")
    # meshio's XDMF series writer handles one cell block: keep the volume cells and
    # store every named group as a node group (0/1 arrays in the first step)
    vol = tuple(mesh.volume_blocks())
    groups = {name: mesh.group_nodes(name) for name in mesh.groups}
    base = Mesh(mesh.points, vol[:1])
    if len(vol) > 1:
        raise MeshWriteError(path, f"time series support one volume cell type; got {[b.type for b in vol]}")
    if steps:
        for name, idx in groups.items():
            mk = np.zeros(mesh.n_points, np.uint8)
            mk[idx] = 1
            steps[0][POINT_GROUP_PREFIX + name] = mk
    m = to_meshio(base)
    pts = m.points if mesh.dim == 3 else np.hstack([m.points, np.zeros((mesh.n_points, 1))])

    def _write(tmp: Path) -> None:
        # meshio writes the .h5 into the current folder: run it inside the temporary one
        # (changes the process's working folder briefly; not for concurrent threads)
        with warnings.catch_warnings(), contextlib.chdir(tmp.parent):
            warnings.simplefilter("ignore")
            with meshio.xdmf.TimeSeriesWriter(tmp.name) as w:
                w.write_points_cells(pts, m.cells)
                for t, fields in zip(times, steps):
                    w.write_data(float(t), point_data=fields)

    return atomic_write(path, _write)
