"""Import and export PLAID datasets (pyplaid 1.0, CGNS storage backend).

A PLAID dataset on disk (as written by ``plaid.storage.save_to_disk(..., backend="cgns")``)::

    SRC/infos.yaml                              owner, license, num_samples, storage_backend
    SRC/problem_definitions/<name>.yaml         input_features / output_features (CGNS paths),
                                                train_split / test_split
                                                ({split: "all" | [sample numbers]})
    SRC/data/<split>/sample_<9 digits>/meshes/mesh_<9 digits>.cgns
                                                one CGNS tree per time step

Feature paths name CGNS nodes: ``Base_2_3/Zone/VertexFields/pressure`` is a nodal field,
``Base_2_3/Zone/GridCoordinates/CoordinateX`` and ``.../Elements_TRI_3/ElementConnectivity``
are the mesh, ``Global/<name>`` is a scalar (pyplaid 1.0 keeps scalars inside each CGNS
tree, in a base named ``Global``; there is no separate scalars file).

Mapping to :class:`mesh.problem.ProblemDefinition` (names are the last path component):

=============================  ==============================  ===========================
PLAID feature                  as an input feature             as an output feature
=============================  ==============================  ===========================
``Global/<name>``              ``inputs`` (input scalar)        ``output_scalars``
``<Base>/<Zone>/<Sol>/<name>`` ``input_fields`` (nodal)         ``outputs`` (nodal field)
coordinates, connectivity      the mesh itself                  not supported (listed in
                                                                provenance as unmapped)
=============================  ==============================  ===========================

Sample ids are ``<split>_<9 digits>`` (``train_000000003`` is ``data/train/sample_000000003``),
so that splits reusing numbers do not clash; the mapping is kept in the manifest's
provenance (``plaid_samples``).
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from .cgns import CGNS_TYPES, read_cgns
from .core import Mesh
from .dataset import MANIFEST, SAMPLES, Dataset, DatasetWriter, Sample
from .errors import DatasetError, MeshReadError
from .problem import Feature, ProblemDefinition

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

INFOS = "infos.yaml"
PROBLEMS = "problem_definitions"
DATA = "data"
GLOBAL_BASE = "Global"
ID_RULE = "<split>_<number> = data/<split>/sample_<number>"
CGNS_NAME_MAX = 32
_SAMPLE_DIR = re.compile(r"^sample_(\d+)$")
_MESH_FILE = re.compile(r"^mesh_(\d+)\.cgns$")
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MESH_NODES = ("GridCoordinates",)
_CELL_SOLUTIONS = ("CellCenterFields", "CellData")
_OTHER_LOCATION = ("FaceCenterFields", "IFaceCenterFields", "JFaceCenterFields",
                   "KFaceCenterFields", "EdgeCenterFields", "IntegrationPointFields", "SurfaceData")
_ZONE_NON_FIELDS = ("ZoneBC", "ZoneGridConnectivity", "ZoneType", "FamilyName", "ZoneIterativeData")


# =========================================================================== import
@dataclass
class _FeatureMap:
    """PLAID feature paths sorted into our problem groups (name -> CGNS path)."""

    inputs: dict[str, str] = field(default_factory=dict)
    input_fields: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    output_scalars: dict[str, str] = field(default_factory=dict)
    mesh: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    base: str | None = None
    zone: str | None = None

    def problem(self, where: str) -> ProblemDefinition:
        def feats(group: dict[str, str]) -> dict[str, Feature]:
            return {n: Feature(description=f"PLAID feature {p}") for n, p in group.items()}

        try:
            return ProblemDefinition(inputs=feats(self.inputs),
                                     input_fields=feats(self.input_fields),
                                     outputs=feats(self.outputs),
                                     output_scalars=feats(self.output_scalars))
        except ValueError as exc:  # pydantic: a name used by two features
            raise DatasetError(f"{where}: {exc}") from None

    def as_provenance(self) -> dict[str, Any]:
        return {"inputs": dict(self.inputs), "input_fields": dict(self.input_fields),
                "outputs": dict(self.outputs), "output_scalars": dict(self.output_scalars),
                "mesh": list(self.mesh), "unmapped": list(self.unmapped),
                "base": self.base, "zone": self.zone}


def import_plaid(src: str | os.PathLike, out: str | os.PathLike, *, problem: str | None = None,
                 name: str | None = None, progress: Progress | None = None) -> Dataset:
    """Import a PLAID dataset (CGNS backend) into a dataset folder.

    Every sample of every ``data/<split>`` folder is imported, read with
    :func:`mesh.cgns.read_cgns`. Re-running after a crash resumes: samples already
    complete in ``out`` are kept, half-written ones are redone.

    Parameters
    ----------
    src : the PLAID dataset folder (holding ``infos.yaml``, ``problem_definitions/``, ``data/``).
    out : the dataset folder to create or resume.
    problem : name of the PLAID problem definition (file stem in ``problem_definitions/``);
        default: the only one there is.
    name : dataset name; default: the name of ``src``.
    progress : called with each sample id once it is written (or found already written).

    Returns
    -------
    Dataset whose samples hold the mesh (points (N, dim) in the PLAID file's unit, the
    CGNS element sections as cell blocks), the output fields (N,) (or (T, N) for time
    series), the input scalars and the output scalars. Splits ``train`` and ``test`` come
    from the problem definition's ``train_split`` / ``test_split``; a ``data/<split>``
    folder that neither names becomes a split of its own.

    Raises
    ------
    DatasetError
        Missing or invalid ``infos.yaml`` or problem definition, a backend other than CGNS,
        a feature that cannot be mapped (cell-centred fields, several zones), or a sample
        whose CGNS file is unreadable or lacks a feature; the message names the file, the
        sample and the feature.

    Examples
    --------
    >>> ds = import_plaid("plaid_car_surface", "runs/car")            # doctest: +SKIP
    >>> ds.split("train")[0].fields["pressure"].shape                  # doctest: +SKIP
    (3586,)
    """
    src, out = Path(src), Path(out)
    infos = _read_infos(src)
    pb_name, pb = _read_problem(src, problem)
    pb_path = src / PROBLEMS / f"{pb_name}.yaml"
    fmap = _map_features(pb, pb_path)
    samples = _find_samples(src, infos)
    splits = _splits(pb, samples, pb_path)
    ids = {_sample_id(s, n): d for s, numbers in samples.items() for n, d in numbers.items()}
    time_dependent = any(len(_mesh_files(d)) > 1 for d in ids.values())
    _check_out(out)
    provenance = {
        "source": str(src.resolve()), "format": "PLAID (pyplaid 1.0, CGNS backend)",
        "owner": infos.get("owner"), "license": infos.get("license"), "plaid_infos": infos,
        "plaid_problem_definition": pb_name, "plaid_features": fmap.as_provenance(),
        "id_rule": ID_RULE,
        "plaid_samples": {i: str(d.relative_to(src)) for i, d in ids.items()},
    }
    writer = DatasetWriter(out, name or src.resolve().name, fmap.problem(str(pb_path)),
                           time_dependent=time_dependent,
                           description=str(infos.get("data_description") or ""),
                           provenance=provenance)
    done = writer.done()
    foreign = sorted(done - set(ids))
    if foreign:
        raise DatasetError(f"'{out}' already holds samples that are not in the PLAID dataset "
                           f"'{src}' ({', '.join(foreign[:5])}); import into an empty folder")
    for sid, sample_dir in ids.items():
        if sid not in done:
            writer.add(_read_sample(sid, sample_dir, fmap, time_dependent))
        if progress:
            progress(sid)
    return writer.finish(splits)


def _load_yaml(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise DatasetError(f"'{path.parent}' is not a PLAID dataset: {what} '{path}' is missing")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{what} '{path}' is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{what} '{path}' must hold a mapping; got {type(data).__name__}")
    return data


def _read_infos(src: Path) -> dict[str, Any]:
    if not src.is_dir():
        raise DatasetError(f"PLAID dataset folder '{src}' does not exist")
    infos = _load_yaml(src / INFOS, "PLAID infos file")
    backend = infos.get("storage_backend")
    if backend != "cgns":
        raise DatasetError(f"'{src / INFOS}': storage_backend is {backend!r}; only the 'cgns' "
                           "backend is supported (convert with pyplaid: init_from_disk, then "
                           "save_to_disk(..., backend='cgns'))")
    for key in ("owner", "license"):
        if key not in infos:
            raise DatasetError(f"'{src / INFOS}': the required key '{key}' is missing")
    return infos


def _read_problem(src: Path, name: str | None) -> tuple[str, dict[str, Any]]:
    folder = src / PROBLEMS
    names = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
    if not names:
        raise DatasetError(f"'{src}' has no PLAID problem definition ('{folder}/<name>.yaml'); "
                           "one is needed to tell inputs from outputs")
    if name is None:
        if len(names) > 1:
            raise DatasetError(f"'{folder}' holds several problem definitions "
                               f"({', '.join(names)}); choose one with problem=...")
        name = names[0]
    elif name not in names:
        raise DatasetError(f"no problem definition '{name}' in '{folder}'; there are: "
                           f"{', '.join(names)}")
    path = folder / f"{name}.yaml"
    pb = _load_yaml(path, "PLAID problem definition")
    unknown = set(pb) - {"input_features", "output_features", "train_split", "test_split"}
    if unknown:
        raise DatasetError(f"'{path}': unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("input_features", "output_features"):
        feats = pb.get(key) or []
        if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
            raise DatasetError(f"'{path}': {key} must be a list of CGNS paths (pyplaid 1.0 "
                               f"format); got {feats!r:.200}")
    return name, pb


def _map_features(pb: dict[str, Any], where: Path) -> _FeatureMap:
    fmap = _FeatureMap()
    zones: set[tuple[str, str]] = set()
    for role in ("input", "output"):
        for path in pb.get(f"{role}_features") or []:
            parts = path.strip("/").split("/")
            if parts[0] == GLOBAL_BASE and len(parts) == 2:
                group = fmap.inputs if role == "input" else fmap.output_scalars
            elif len(parts) >= 3 and (parts[2] in _MESH_NODES or parts[2].startswith("Elements_")):
                zones.add((parts[0], parts[1]))
                (fmap.mesh if role == "input" else fmap.unmapped).append(path)
                continue
            elif (len(parts) == 4 and parts[2] not in _ZONE_NON_FIELDS
                  and parts[3] != "GridLocation"):
                if parts[2] in _CELL_SOLUTIONS or parts[2] in _OTHER_LOCATION:
                    raise DatasetError(
                        f"'{where}': feature '{path}' is not a nodal field; only nodal (Vertex) "
                        "fields can be imported for now")
                zones.add((parts[0], parts[1]))
                group = fmap.input_fields if role == "input" else fmap.outputs
            else:
                fmap.unmapped.append(path)
                continue
            name = parts[-1]
            if name in group:
                raise DatasetError(f"'{where}': features '{group[name]}' and '{path}' both map "
                                   f"to the name '{name}'")
            group[name] = path
    if len(zones) > 1:
        raise DatasetError(f"'{where}': the features span several zones "
                           f"({', '.join('/'.join(z) for z in sorted(zones))}); only one zone per "
                           "sample is supported")
    if zones:
        fmap.base, fmap.zone = zones.pop()
    if fmap.unmapped:
        logger.warning("PLAID features not imported (no equivalent): %s", ", ".join(fmap.unmapped))
    return fmap


def _find_samples(src: Path, infos: dict[str, Any]) -> dict[str, dict[int, Path]]:
    """PLAID split name -> {sample number: sample folder}, both sorted."""
    data = src / DATA
    if not data.is_dir():
        raise DatasetError(f"'{src}' is not a PLAID dataset: the folder '{data}' is missing")
    out: dict[str, dict[int, Path]] = {}
    for split_dir in sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not _SPLIT_NAME.match(split_dir.name):
            raise DatasetError(f"PLAID split folder '{split_dir}': the name must be letters, "
                               "digits, '_', '.' or '-'")
        found = {int(m.group(1)): p for p in split_dir.iterdir()
                 if p.is_dir() and (m := _SAMPLE_DIR.match(p.name))}
        out[split_dir.name] = dict(sorted(found.items()))
        expected = (infos.get("num_samples") or {}).get(split_dir.name)
        if expected is not None and expected != len(found):
            logger.warning("'%s' lists %s samples in split '%s' but '%s' holds %d "
                           "(partial download?)", src / INFOS, expected, split_dir.name,
                           split_dir, len(found))
    if not any(out.values()):
        raise DatasetError(f"'{data}' holds no sample folders (data/<split>/sample_<number>)")
    return out


def _sample_id(split: str, number: int) -> str:
    return f"{split}_{number:09d}"


def _splits(pb: dict[str, Any], samples: dict[str, dict[int, Path]],
            where: Path) -> dict[str, list[str]]:
    splits: dict[str, list[str]] = {}
    used: set[str] = set()
    for ours, key in (("train", "train_split"), ("test", "test_split")):
        spec = pb.get(key) or {}
        if not isinstance(spec, dict):
            raise DatasetError(f"'{where}': {key} must map split names to 'all' or sample numbers")
        ids: list[str] = []
        for plaid_split, which in spec.items():
            if plaid_split not in samples:
                raise DatasetError(f"'{where}': {key} names the split '{plaid_split}', but data/ "
                                   f"holds only: {', '.join(samples) or 'none'}")
            used.add(plaid_split)
            numbers = list(samples[plaid_split]) if which == "all" else list(which)
            missing = [n for n in numbers if n not in samples[plaid_split]]
            if missing:
                raise DatasetError(f"'{where}': {key} names sample(s) {missing[:5]} that "
                                   f"data/{plaid_split} does not hold")
            ids += [_sample_id(plaid_split, int(n)) for n in numbers]
        if ids:
            splits[ours] = ids
    for plaid_split, numbers in samples.items():
        if plaid_split not in used and numbers:
            key = plaid_split if plaid_split not in splits else f"plaid_{plaid_split}"
            splits[key] = [_sample_id(plaid_split, n) for n in numbers]
    return splits


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetError(f"'{out}' exists and is not a folder")
    is_dataset = (out / SAMPLES).is_dir() or (out / MANIFEST).exists()
    if out.is_dir() and any(out.iterdir()) and not is_dataset:
        raise DatasetError(f"'{out}' is a non-empty folder that is not a dataset; import into a "
                           "new folder")


def _mesh_files(sample_dir: Path) -> list[Path]:
    folder = sample_dir / "meshes"
    found = {int(m.group(1)): p for p in folder.glob("mesh_*.cgns")
             if (m := _MESH_FILE.match(p.name))} if folder.is_dir() else {}
    if not found:
        raise DatasetError(f"PLAID sample '{sample_dir}' has no mesh file "
                           "(meshes/mesh_<number>.cgns)")
    if sorted(found) != list(range(len(found))):
        raise DatasetError(f"PLAID sample '{sample_dir}': mesh files must be numbered "
                           f"0..{len(found) - 1}; found numbers {sorted(found)[:10]}")
    return [found[i] for i in range(len(found))]


@dataclass
class _Step:
    """One CGNS tree of a PLAID sample: the zone's mesh, its time and the globals."""

    mesh: Mesh
    time: float | None
    globals: dict[str, np.ndarray]


def _read_sample(sid: str, sample_dir: Path, fmap: _FeatureMap, time_dependent: bool) -> Sample:
    files = _mesh_files(sample_dir)
    steps = []
    for f in files:
        try:
            steps.append(_read_step(f, fmap.base, fmap.zone))
        except MeshReadError as exc:
            raise DatasetError(f"PLAID sample '{sid}': {exc}") from None
    mesh0 = steps[0].mesh
    for f, st in zip(files[1:], steps[1:]):
        if not _same_mesh(mesh0, st.mesh):
            raise DatasetError(f"PLAID sample '{sid}': the mesh of '{f}' differs from that of "
                               f"'{files[0]}'; time series on changing meshes are not supported")

    def field_of(st: _Step, f: Path, name: str) -> np.ndarray:
        if name not in st.mesh.point_data:
            where = "a cell field" if name in st.mesh.cell_data else "missing"
            raise DatasetError(f"PLAID sample '{sid}' ('{f}'): nodal field '{name}' is {where}; "
                               "nodal fields in the file: "
                               f"{', '.join(st.mesh.point_data) or 'none'}")
        return st.mesh.point_data[name]

    def fields(group: dict[str, str]) -> dict[str, np.ndarray]:
        out = {}
        for n in group:
            per_step = [field_of(st, f, n) for st, f in zip(steps, files)]
            out[n] = np.stack(per_step) if time_dependent else per_step[0]
        return out

    inputs = {n: _scalar(sid, files, steps, n, p, required=True) for n, p in fmap.inputs.items()}
    scalars = {n: v for n, p in fmap.output_scalars.items()  # may be absent (hidden test outputs)
               if (v := _scalar(sid, files, steps, n, p, required=False)) is not None}
    outputs, input_fields = fields(fmap.outputs), fields(fmap.input_fields)
    rest = {k: v for k, v in mesh0.point_data.items() if k not in outputs and k not in input_fields}
    times = None
    if time_dependent:
        times = np.array([float(i) if st.time is None else st.time for i, st in enumerate(steps)])
    return Sample(sid, mesh0.without_data().with_point_data(**rest), inputs, outputs, scalars,
                  input_fields, times)


def _scalar(sid: str, files: list[Path], steps: list[_Step], name: str, path: str,
            required: bool) -> float | None:
    values = []
    for f, st in zip(files, steps):
        if name not in st.globals:
            if not required:
                return None
            raise DatasetError(f"PLAID sample '{sid}' ('{f}'): scalar feature '{path}' is missing; "
                               f"scalars in the file: {', '.join(st.globals) or 'none'}")
        v = st.globals[name]
        if v.size != 1 or not np.issubdtype(v.dtype, np.number):
            raise DatasetError(f"PLAID sample '{sid}' ('{f}'): feature '{path}' is not a number "
                               f"(shape {v.shape}, dtype {v.dtype}); only scalar globals are "
                               "supported")
        values.append(float(v.ravel()[0]))
    if any(v != values[0] for v in values[1:]):
        raise DatasetError(f"PLAID sample '{sid}': scalar '{path}' changes over time "
                           f"({values[:5]}); time-dependent scalars are not supported")
    return values[0]


def _same_mesh(a: Mesh, b: Mesh) -> bool:
    return (a.points.shape == b.points.shape and np.array_equal(a.points, b.points)
            and [x.type for x in a.cells] == [x.type for x in b.cells]
            and all(np.array_equal(x.data, y.data) for x, y in zip(a.cells, b.cells)))


# ------------------------------------------------------------- reading one CGNS tree
def _label(node: Any) -> str:
    lab = node.attrs.get("label", b"")
    return lab.decode() if isinstance(lab, bytes) else str(lab)


def _bases(f: Any) -> list[str]:
    return [k for k in f if not k.startswith(" ") and _label(f[k]) == "CGNSBase_t"]


def _has_zone(base: Any) -> bool:
    return any(_label(base[k]) == "Zone_t" for k in base if not k.startswith(" "))


def _read_step(path: Path, base: str | None, zone: str | None) -> _Step:
    """Read the mesh of one base/zone, the time and the ``Global`` scalars of a PLAID CGNS file.

    pyplaid writes the ``Global`` base first when scalars were added before the mesh, so
    the mesh base is chosen here and passed to :func:`mesh.cgns.read_cgns`.

    Raises
    ------
    MeshReadError
        Unreadable HDF5, no mesh base or zone, malformed CGNS; names the file.
    """
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise MeshReadError(path, f"not a readable HDF5/CGNS file ({exc})") from None
    try:
        with f:
            bases = _bases(f)
            mesh_bases = [b for b in bases if b != GLOBAL_BASE and _has_zone(f[b])]
            if base is None:
                if not mesh_bases:
                    raise MeshReadError(path, "no CGNS base with a zone (bases: "
                                              f"{', '.join(bases) or 'none'})")
                base = mesh_bases[0]
            elif base not in bases:
                raise MeshReadError(path, f"no CGNS base '{base}' (bases: "
                                          f"{', '.join(bases) or 'none'})")
            glob = {}
            if GLOBAL_BASE in bases:
                g = f[GLOBAL_BASE]
                glob = {k: _global_value(g[k]) for k in g if not k.startswith(" ")
                        and _label(g[k]) == "DataArray_t" and " data" in g[k]}
            tv = f[base].get("Time/TimeValues/ data")
            time = float(np.ravel(tv[()])[0]) if tv is not None and tv.size else None
    except MeshReadError:
        raise
    except (KeyError, ValueError, IndexError, TypeError, OSError) as exc:
        raise MeshReadError(path, f"malformed CGNS structure: {exc}") from None
    return _Step(read_cgns(path, zone, base), time, glob)


def _global_value(node: Any) -> np.ndarray:
    """The value of a ``Global`` DataArray_t; CGNS character data (type C1) as bytes."""
    value = np.asarray(node[" data"][()])
    kind = node.attrs.get("type", b"")
    if (kind.decode() if isinstance(kind, bytes) else str(kind)) == "C1":
        return np.frombuffer(value.astype(np.uint8).tobytes(), dtype="S1")
    return value


# =========================================================================== export
_NAME_TO_CGNS = {name: (code, None if perm is None else np.argsort(perm))
                 for code, (name, perm) in CGNS_TYPES.items()}
# CGNS ElementType_t names (the SIDS standard; pyplaid names sections Elements_<NAME>)
_ELEMENT_NAME = {2: "NODE", 3: "BAR_2", 4: "BAR_3", 5: "TRI_3", 6: "TRI_6", 7: "QUAD_4",
                 8: "QUAD_8", 9: "QUAD_9", 10: "TETRA_4", 11: "TETRA_10", 12: "PYRA_5",
                 21: "PYRA_13", 14: "PENTA_6", 15: "PENTA_15", 17: "HEXA_8", 18: "HEXA_20"}


def export_plaid(dataset: Dataset, out: str | os.PathLike, *, problem_name: str | None = None,
                 owner: str | None = None, license: str | None = None,
                 overwrite: bool = False) -> Path:
    """Write a dataset as a PLAID dataset (CGNS backend) with pyplaid's own writer.

    Each sample becomes a ``plaid.Sample`` (one CGNS tree per time step: base
    ``Base_<tdim>_<dim>``, zone ``Zone``, the coordinates, one ``Elements_<TYPE>`` section
    per cell block, nodal fields in ``VertexFields``, point groups as ``ZoneBC`` point lists,
    input and output scalars in the ``Global`` base) and the folder is written by
    ``plaid.storage.save_to_disk(..., backend="cgns")``, into a temporary folder beside
    ``out`` that is renamed into place at the end.

    Each split of the dataset becomes a PLAID split folder ``data/<split>`` (a sample in
    several splits is written in each; samples in no split go to ``data/unsplit``), with
    PLAID sample numbers 0, 1, ... in split order. The problem definition lists the
    coordinates, the connectivities, ``Global/<input>`` and the input fields as inputs, the
    output fields and ``Global/<scalar>`` as outputs; ``train_split`` / ``test_split``
    point at the ``train`` / ``test`` splits when they exist.

    Parameters
    ----------
    dataset : the dataset to export (steady or time series).
    out : the PLAID folder to create.
    problem_name : file stem of the problem definition; default: the PLAID problem the
        dataset was imported from, else ``"problem"``.
    owner, license : written to ``infos.yaml``; default: those recorded in the dataset's
        provenance, else ``"unknown"``.
    overwrite : replace an existing ``out``.

    Returns
    -------
    The written folder ``out``.

    Raises
    ------
    DatasetError
        ``out`` exists (without ``overwrite``), the dataset has no samples or no outputs,
        a feature name is longer than 32 characters (the CGNS limit) or holds ``/``.

    Notes
    -----
    Fields of shape (N, c) are written as components ``<name>_0`` ... ``<name>_{c-1}``.
    Units and cell groups have no place in PLAID's CGNS layout and are not written.

    Examples
    --------
    >>> export_plaid(Dataset("runs/car"), "exports/car_plaid")          # doctest: +SKIP
    >>> from plaid.storage import init_from_disk                         # doctest: +SKIP
    >>> datasets, converters = init_from_disk("exports/car_plaid")       # doctest: +SKIP
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise DatasetError(f"'{out}' already exists; choose another folder or pass overwrite=True")
    if len(dataset) == 0:
        raise DatasetError(f"dataset '{dataset.name}' has no samples to export")
    pb = dataset.problem
    if not pb.outputs and not pb.output_scalars:
        raise DatasetError(f"dataset '{dataset.name}' declares no outputs; a PLAID problem "
                           "definition needs at least one output feature")
    for kind, names in (("input", pb.inputs), ("input field", pb.input_fields),
                        ("output field", pb.outputs), ("output scalar", pb.output_scalars)):
        for n in names:
            _check_cgns_name(n, f"dataset '{dataset.name}': {kind} '{n}'")
    plaid = _import_pyplaid()
    first = dataset[0]
    base = f"Base_{first.mesh.topological_dim}_{first.mesh.dim}"
    groups = _plaid_split_groups(dataset)
    infos = _plaid_infos(plaid, dataset, owner, license)
    pb_def = plaid.ProblemDefinition(
        **_plaid_features(pb, first, base),
        train_split={"train": "all"} if "train" in groups else {},
        test_split={"test": "all"} if "test" in groups else {})
    pb_name = problem_name or str(dataset.manifest.provenance.get("plaid_problem_definition")
                                  or "problem")
    if not _SPLIT_NAME.match(pb_name):
        raise DatasetError(f"problem name '{pb_name}' cannot name a file (letters, digits, '_', "
                           "'.', '-')")
    position = {sid: k for k, sid in enumerate(dataset.ids)}

    def construct(sid: str) -> Any:
        return _to_plaid_sample(plaid, dataset[position[sid]], base)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
    try:
        plaid.save_to_disk(tmp, construct, ids=groups, infos=infos, backend="cgns",
                           pb_defs={pb_name: pb_def})
        _replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


class _PyPlaid:
    """The few pyplaid names the exporter uses, imported on demand."""

    def __init__(self) -> None:
        import CGNS.PAT.cgnskeywords as CGK
        import CGNS.PAT.cgnslib as CGL
        from plaid import Infos, ProblemDefinition, Sample
        from plaid.storage import save_to_disk

        self.CGK, self.CGL = CGK, CGL
        self.Infos, self.ProblemDefinition, self.Sample = Infos, ProblemDefinition, Sample
        self.save_to_disk = save_to_disk


def _import_pyplaid() -> _PyPlaid:
    """Import pyplaid without keeping the root-logger setup its ``__init__`` does."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return _PyPlaid()
    except ImportError as exc:
        raise DatasetError("exporting to PLAID needs pyplaid >= 1.0 (pip install pyplaid): "
                           f"{exc}") from None
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _plaid_infos(plaid: _PyPlaid, dataset: Dataset, owner: str | None,
                 license: str | None) -> Any:
    """``plaid.Infos`` from the arguments, else the provenance of an imported PLAID dataset."""
    prov = dataset.manifest.provenance
    pinfos = prov.get("plaid_infos") if isinstance(prov.get("plaid_infos"), dict) else {}
    try:
        return plaid.Infos(owner=str(owner or prov.get("owner") or "unknown"),
                           license=str(license or prov.get("license") or "unknown"),
                           data_description=(dataset.manifest.description
                                             or pinfos.get("data_description")),
                           data_production=pinfos.get("data_production"))
    except ValueError as exc:
        raise DatasetError(f"dataset '{dataset.name}': pyplaid rejects the infos: {exc}") from None


def _check_cgns_name(name: str, where: str) -> None:
    if "/" in name or not name or len(name) > CGNS_NAME_MAX:
        raise DatasetError(f"{where}: CGNS node names must be 1 to {CGNS_NAME_MAX} characters "
                           f"without '/'; got {len(name)} characters")


def _plaid_split_groups(dataset: Dataset) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    present = set(dataset.ids)
    for split, ids in dataset.splits.items():
        if not _SPLIT_NAME.match(split):
            raise DatasetError(f"dataset '{dataset.name}': split '{split}' cannot name a PLAID "
                               "split folder (letters, digits, '_', '.', '-')")
        members = [i for i in ids if i in present]
        if members:
            groups[split] = members
    placed = {i for ids in groups.values() for i in ids}
    rest = [i for i in dataset.ids if i not in placed]
    if rest:
        groups["unsplit" if "unsplit" not in groups else "unsplit_"] = rest
    return groups


def _components(name: str, arr: np.ndarray) -> dict[str, np.ndarray]:
    """A field (N,) as itself, (N, c) as ``name_0`` ... ``name_{c-1}`` (the last axis)."""
    if arr.ndim == 1:
        return {name: arr}
    flat = arr.reshape(arr.shape[0], -1)
    return {f"{name}_{k}": flat[:, k] for k in range(flat.shape[1])}


def _plaid_features(pb: ProblemDefinition, first: Sample, base: str) -> dict[str, list[str]]:
    zone = f"{base}/Zone"
    coords = [f"{zone}/GridCoordinates/Coordinate{c}" for c in "XYZ"[:first.mesh.dim]]
    sections = [f"{zone}/{s}/ElementConnectivity" for s in _section_names(first.mesh)]

    def field_paths(names: dict[str, Feature], fields: dict[str, np.ndarray]) -> list[str]:
        paths = []
        for n in names:
            arr = np.asarray(fields[n])
            arr = arr[0] if first.times is not None else arr
            paths += [f"{zone}/VertexFields/{c}" for c in _components(n, arr)]
        return paths

    inputs = coords + sections + [f"{GLOBAL_BASE}/{n}" for n in pb.inputs]
    inputs += field_paths(pb.input_fields, first.input_fields)
    outputs = field_paths(pb.outputs, first.fields)
    outputs += [f"{GLOBAL_BASE}/{n}" for n in pb.output_scalars]
    return {"input_features": inputs, "output_features": outputs}


def _section_names(mesh: Mesh) -> list[str]:
    names, seen = [], {}
    for b in mesh.cells:
        code = _cgns_code(b.type)
        seen[code] = seen.get(code, -1) + 1
        names.append(f"Elements_{_ELEMENT_NAME[code]}" + (f"_{seen[code]}" if seen[code] else ""))
    return names


def _cgns_code(cell_type: str) -> int:
    if cell_type not in _NAME_TO_CGNS:
        raise DatasetError(f"cell type '{cell_type}' has no CGNS equivalent known to mesh.cgns; "
                           f"supported: {', '.join(_NAME_TO_CGNS)}")
    return _NAME_TO_CGNS[cell_type][0]



def _to_plaid_sample(plaid: _PyPlaid, s: Sample, base: str) -> Any:
    """One of our samples as a ``plaid.Sample`` (one CGNS tree per time step)."""
    mesh = s.mesh
    times = [0.0] if s.times is None else [float(t) for t in s.times]
    extra = {} if s.times is not None else {
        k: v for k, v in mesh.point_data.items() if k not in s.fields and k not in s.input_fields}
    ps = plaid.Sample()
    for k, t in enumerate(times):
        ps.init_base(mesh.topological_dim, mesh.dim, base, time=t)
        n_vol = sum(len(b) for b in mesh.volume_blocks())
        zone = ps.init_zone(np.array([[mesh.n_points, n_vol, 0]]), zone="Zone", base=base, time=t)
        ps.set_nodes(mesh.points, zone="Zone", base=base, time=t)
        _add_sections(plaid, zone, mesh)
        _add_point_sets(plaid, zone, mesh)
        fields = {**s.fields, **s.input_fields}
        for name, arr in fields.items():
            arr = np.asarray(arr)[k] if s.times is not None else np.asarray(arr)
            for c, v in _components(name, arr).items():
                ps.add_field(c, np.ascontiguousarray(v, dtype=np.float64), location="Vertex",
                             zone="Zone", base=base, time=t, warning_overwrite=False)
        for name, arr in extra.items():
            arr = np.asarray(arr)
            comps = _components(name, arr) if np.issubdtype(arr.dtype, np.number) else {}
            for c, v in comps.items():
                if "/" in c or len(c) > CGNS_NAME_MAX or c in fields:
                    logger.warning("sample '%s': point field '%s' not exported (not a CGNS "
                                   "name)", s.id, c)
                    continue
                ps.add_field(c, np.ascontiguousarray(v, dtype=np.float64), location="Vertex",
                             zone="Zone", base=base, time=t, warning_overwrite=False)
        for name, v in {**s.inputs, **s.scalars}.items():
            ps.add_global(name, np.array([float(v)]), time=t)
    return ps


def _add_sections(plaid: _PyPlaid, zone: Any, mesh: Mesh) -> None:
    start = 1
    for name, b in zip(_section_names(mesh), mesh.cells):
        code = _cgns_code(b.type)
        inv = _NAME_TO_CGNS[b.type][1]
        data = b.data if inv is None else b.data[:, inv]
        conn = np.ascontiguousarray(data, dtype=np.int64).ravel() + 1
        erange = np.array([start, start + len(b) - 1], dtype=np.int64)
        plaid.CGL.newElements(zone, name, code, erange, conn)
        start += len(b)


def _add_point_sets(plaid: _PyPlaid, zone: Any, mesh: Mesh) -> None:
    if not mesh.point_sets:
        return
    zbc = plaid.CGL.newZoneBC(zone)
    for name, idx in mesh.point_sets.items():
        if "/" in name or len(name) > CGNS_NAME_MAX or not len(idx):
            logger.warning("point group '%s' not exported (empty or not a CGNS name)", name)
            continue
        bc = plaid.CGL.newBC(zbc, name, np.asarray(idx, dtype=np.int64).reshape(1, -1) + 1,
                             pttype=plaid.CGK.PointList_s)
        plaid.CGL.newGridLocation(bc, "Vertex")


def _replace_dir(new: Path, out: Path) -> None:
    """Move the complete folder ``new`` to ``out``, replacing an existing ``out``."""
    if not out.exists():
        os.replace(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".old-{out.name}-", dir=out.parent))
    os.replace(out, old / out.name)
    try:
        os.replace(new, out)
    except OSError:
        os.replace(old / out.name, out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
