"""What a TARGET path holds, and how one of its samples is loaded for display.

A target is one of:

- a **dataset** folder (``dataset.yaml``): its samples, split names and units;
- a **report** folder of ``surrogate validate`` (``summary.json`` / ``metrics.csv``): its case
  files ``cases/<id>.vtu`` (prediction, reference, error, std), worst case first;
- a **folder** of mesh files (e.g. what ``surrogate predict`` writes), units taken from a
  dataset manifest or problem definition found beside them;
- one **mesh file**, or a glob pattern of mesh files;
- a run folder whose subfolder is one of the above (the first viewable one is used).

XDMF time series (rollouts) are detected and loaded with all their time steps.
"""
from __future__ import annotations

import csv
import glob
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import NothingToViewError

log = logging.getLogger(__name__)

MESH_SUFFIXES = (".vtu", ".vtk", ".xdmf", ".xmf", ".cgns", ".msh", ".mesh", ".meshb", ".stl",
                 ".obj", ".ply", ".off", ".inp", ".med", ".bdf", ".nas", ".fem", ".exo", ".e",
                 ".su2", ".ugrid", ".vol", ".mdpa", ".f3grid", ".tec", ".avs", ".h5m")
MANIFEST, METRICS, SUMMARY, CASES = "dataset.yaml", "metrics.csv", "summary.json", "cases"
_ID_COLUMNS = ("sample", "sample_id", "case", "case_id", "id", "name")
_MAX_DEPTH = 3


@dataclass(frozen=True)
class SampleRef:
    """One viewable sample of a target.

    Attributes
    ----------
    id : sample identifier (the file stem unless a manifest says otherwise).
    path : its mesh file.
    label : text of the sample selector (id, split, error).
    error : the error used to sort a report (larger is worse), None when unknown.
    series : True for an XDMF time series (a rollout).
    """

    id: str
    path: Path
    label: str
    error: float | None = None
    series: bool = False


@dataclass
class Target:
    """What a TARGET path holds.

    Attributes
    ----------
    path : the path given (or the subfolder used).
    kind : ``"dataset"``, ``"report"``, ``"folder"`` or ``"files"``.
    title : a one-line description for the app bar.
    samples : the samples, in display order (worst first in a report with metrics).
    units : feature name -> unit, from the problem definition when one was found.
    metric : the metrics column the samples are sorted by (reports), else None.
    """

    path: Path
    kind: str
    title: str
    samples: list[SampleRef]
    units: dict[str, str] = field(default_factory=dict)
    metric: str | None = None

    def sample(self, sample_id: str) -> SampleRef:
        """The sample with this id (``NothingToViewError`` listing the ids when absent)."""
        for s in self.samples:
            if s.id == sample_id:
                return s
        ids = ", ".join(s.id for s in self.samples[:10])
        raise NothingToViewError(f"no sample '{sample_id}' in '{self.path}'; samples: {ids}"
                                 + (", ..." if len(self.samples) > 10 else ""))


def is_mesh_file(path: Path) -> bool:
    """True when the file name has a mesh extension the project can read."""
    name = path.name.lower()
    return path.is_file() and name.endswith(MESH_SUFFIXES) and not name.startswith(".")


def is_time_series(path: Path) -> bool:
    """True for an XDMF file holding a temporal collection (meshio's TimeSeriesWriter)."""
    if path.suffix.lower() not in (".xdmf", ".xmf"):
        return False
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    return re.search(rb'CollectionType\s*=\s*"Temporal"', head) is not None


def open_target(path: str | os.PathLike) -> Target:
    """Work out what ``path`` holds.

    Raises
    ------
    NothingToViewError
        The path does not exist, is not a mesh file, or is a folder with nothing viewable.
    """
    text = str(path)
    if any(c in text for c in "*?[") and not Path(text).exists():
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if is_mesh_file(Path(p)))
        if not files:
            raise NothingToViewError(f"no mesh file matches '{text}' (extensions: {_exts()})")
        return _files_target(Path(text), files, f"{len(files)} files matching {text}")
    p = Path(path).expanduser()
    if not p.exists():
        raise NothingToViewError(f"'{p}' does not exist")
    if p.is_file():
        if p.name in (MANIFEST, METRICS, SUMMARY):
            return open_target(p.parent)
        if not is_mesh_file(p):
            raise NothingToViewError(f"'{p}' is not a mesh file the viewer reads "
                                     f"(extensions: {_exts()})")
        return _files_target(p, [p], p.name)
    target = _folder_target(p)
    if target is not None:
        return target
    for sub in sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith(".")):
        target = _folder_target(sub)
        if target is not None:
            return target
    raise NothingToViewError(
        f"'{p}' holds nothing to view: no {MANIFEST}, no report ({SUMMARY}, {METRICS}) and no mesh files "
        f"({_exts()}) in it or its subfolders")


def _exts() -> str:
    return ", ".join(MESH_SUFFIXES[:8]) + ", ..."


def _folder_target(root: Path) -> Target | None:
    if (root / MANIFEST).exists():
        return _dataset_target(root)
    if (root / METRICS).exists() or (root / SUMMARY).exists():
        return _report_target(root)
    files = sorted(f for f in root.iterdir() if is_mesh_file(f))
    if files:
        return _files_target(root, files, f"{root.name}/ ({len(files)} files)", kind="folder")
    return None


def _files_target(path: Path, files: list[Path], title: str, kind: str = "files") -> Target:
    samples = [SampleRef(f.stem, f, f.name, series=is_time_series(f)) for f in files]
    folder = path if path.is_dir() else files[0].parent
    return Target(path, kind, title, _unique_ids(samples), _units_near(folder))


def _unique_ids(samples: list[SampleRef]) -> list[SampleRef]:
    """Samples whose file stems collide (``a.vtu``, ``a.vtk``) are named by their file name."""
    stems = [s.id for s in samples]
    out = [s if stems.count(s.id) == 1 else SampleRef(s.path.name, s.path, s.label, s.error, s.series)
           for s in samples]
    names = [s.id for s in out]
    return [s if names.count(s.id) == 1 else
            SampleRef(str(s.path), s.path, str(s.path), s.error, s.series) for s in out]


def _dataset_target(root: Path) -> Target:
    from mesh.dataset import Dataset

    ds = Dataset(root)
    split_of = {i: name for name, ids in ds.splits.items() for i in ids}
    samples = []
    for e in ds.entries:
        split = f" ({split_of[e.id]})" if e.id in split_of else ""
        steps = f", {e.n_steps} steps" if e.n_steps else ""
        samples.append(SampleRef(e.id, root / e.file, f"{e.id}{split} - {e.n_points} nodes{steps}",
                                 series=ds.time_dependent))
    title = f"dataset {ds.name} ({len(samples)} samples)"
    return Target(root, "dataset", title, samples, _problem_units(ds.problem))


def _problem_units(problem) -> dict[str, str]:
    units = {}
    for group in (problem.inputs, problem.input_fields, problem.outputs, problem.output_scalars):
        units.update({k: f.unit for k, f in group.items() if f.unit})
    return units


def _units_near(folder: Path) -> dict[str, str]:
    """Units from a manifest or a problem definition in or above the folder, or {}."""
    candidates = [folder / MANIFEST, folder.parent / MANIFEST]
    candidates += sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.json"))
    for path in candidates:
        problem = _problem_in(path) if path.is_file() else None
        units = _problem_units(problem) if problem is not None else {}
        if units:
            return units
    return {}


def _problem_in(path: Path):
    """The problem definition a YAML/JSON file holds (alone or under ``problem``), else None."""
    import yaml
    from pydantic import ValidationError

    from mesh.problem import ProblemDefinition

    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        if isinstance(data, dict):
            data = data.get("problem", data.get("problem_definition", data))
            return ProblemDefinition.model_validate(data)
    except (OSError, ValueError, ValidationError, yaml.YAMLError):
        log.debug("no problem definition in %s", path)
    return None


# ----------------------------------------------------------------- reports
def _report_target(root: Path) -> Target:
    cases = root / CASES
    pool = sorted(cases.iterdir()) if cases.is_dir() else list(_walk(root))
    files = [f for f in pool if is_mesh_file(f)]
    if not files:
        raise NothingToViewError(f"report '{root}' has no case files to view (looked for mesh files "
                                 f"in {'cases/' if cases.is_dir() else 'the folder'})")
    errors, metric = case_errors(root)
    samples = []
    for f in files:
        sid = _match_id(f.stem, errors)
        err = errors.get(sid) if sid is not None else None
        label = f.stem if err is None else f"{f.stem} - {metric} {err:.3g}"
        samples.append(SampleRef(f.stem, f, label, err, is_time_series(f)))
    samples.sort(key=lambda s: (s.error is None, -(s.error or 0.0), s.id))
    title = f"report {root.name} ({len(samples)} cases" + (f", worst {metric} first)" if metric else ")")
    units = _report_units(root) or _units_near(root)
    return Target(root, "report", title, _unique_ids(samples), units, metric)


def _walk(root: Path, depth: int = 0):
    for p in sorted(root.iterdir()):
        if p.is_dir() and depth < _MAX_DEPTH and not p.name.startswith("."):
            yield from _walk(p, depth + 1)
        elif p.is_file():
            yield p


def _match_id(stem: str, errors: dict[str, float]) -> str | None:
    if stem in errors:
        return stem
    hits = [i for i in errors if i and (stem.startswith(i) or stem.endswith(i))]
    return max(hits, key=len) if hits else None


def case_errors(root: Path) -> tuple[dict[str, float], str | None]:
    """Per-case error of a report folder, larger is worse: (case id -> error, metric name).

    Read from, in order: ``summary.json`` (``cases[].score``, the mean field RRMSE of
    ``surrogate validate``), the case records ``cases/<id>.json`` (``score``), or a
    ``metrics.csv`` with one row per case (see :func:`read_metrics`).
    """
    summary = root / SUMMARY
    if summary.is_file():
        try:
            cases = json.loads(summary.read_text()).get("cases", [])
            out = {str(c["id"]): v for c in cases if (v := _float(c.get("score"))) is not None}
        except (ValueError, AttributeError, KeyError, TypeError):
            out = {}
        if out:
            return out, "mean RRMSE"
    out = {}
    for rec in sorted((root / CASES).glob("*.json")) if (root / CASES).is_dir() else []:
        try:
            data = json.loads(rec.read_text())
        except ValueError:
            continue
        if isinstance(data, dict) and (v := _float(data.get("score"))) is not None:
            out[str(data.get("id", rec.stem))] = v
    if out:
        return out, "mean RRMSE"
    if (root / METRICS).is_file():
        return read_metrics(root / METRICS)
    return {}, None


def _report_units(root: Path) -> dict[str, str]:
    """Units of the outputs from ``summary.json`` or the ``output, unit`` columns of metrics.csv."""
    try:
        outputs = json.loads((root / SUMMARY).read_text()).get("outputs", {})
        units = {k: o["unit"] for k, o in outputs.items() if isinstance(o, dict) and o.get("unit")}
    except (OSError, ValueError, AttributeError):
        units = {}
    if not units and (root / METRICS).is_file():
        with open(root / METRICS, newline="") as fh:
            units = {r["output"]: r["unit"] for r in csv.DictReader(fh)
                     if r.get("output") and r.get("unit")}
    return units


def read_metrics(path: Path) -> tuple[dict[str, float], str | None]:
    """Per-case error from a ``metrics.csv`` with one row per case (or per case and field).

    The case column is the first of ``sample, sample_id, case, case_id, id, name``; a
    table without one (e.g. one row per output) gives no per-case error. The error columns
    are those whose name holds ``rrmse`` (else ``err``, else ``rmse``/``mae``); a case's
    error is the largest of its values over those columns and over its rows.

    Returns
    -------
    (case id -> error, the metric's name), or ({}, None) when the file has no usable column.
    """
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}, None
    columns = list(rows[0])
    id_col = next((c for c in columns if c.strip().lower() in _ID_COLUMNS), None)
    if id_col is None:
        return {}, None
    err_cols: list[str] = []
    for pattern in ("rrmse", "err", "rmse", "mae"):
        err_cols = [c for c in columns if c != id_col and pattern in c.lower() and _numeric(rows, c)]
        if err_cols:
            break
    if not err_cols:
        return {}, None
    out: dict[str, float] = {}
    for row in rows:
        vals = [v for c in err_cols if (v := _float(row.get(c))) is not None]
        if vals:
            sid = str(row[id_col]).strip()
            out[sid] = max(out.get(sid, -math.inf), max(vals))
    return out, (err_cols[0] if len(err_cols) == 1 else f"max {pattern}")


def _float(text: object) -> float | None:
    try:
        v = float(str(text))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _numeric(rows: list[dict], column: str) -> bool:
    return any(_float(r.get(column)) is not None for r in rows)


# ----------------------------------------------------------------- loading
@dataclass
class ViewSample:
    """A loaded sample, ready to draw.

    Attributes
    ----------
    ref : where it came from.
    grid : ``pyvista.UnstructuredGrid`` of the highest-dimension cells, with all fields (the
        first time step of a series).
    dim : spatial dimension of the mesh (2 or 3).
    times : (T,) times of a series, None when steady.
    steps : T dicts {point field: (N, ...) array} of a series, None when steady.
    info : feature name -> formatted value (inputs and output scalars of the file).
    """

    ref: SampleRef
    grid: object
    dim: int
    times: np.ndarray | None = None
    steps: list[dict] | None = None
    info: dict[str, str] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        """Number of time steps (1 when steady)."""
        return 1 if self.steps is None else len(self.steps)

    def at(self, step: int = 0):
        """The grid with the fields of time step ``step`` (clamped to the valid range)."""
        if self.steps is None:
            return self.grid
        g = self.grid.copy(deep=False)
        for name, arr in self.steps[min(max(step, 0), len(self.steps) - 1)].items():
            g.point_data[name] = arr
        return g


def load(ref: SampleRef, units: dict[str, str] | None = None) -> ViewSample:
    """Read a sample's file for display (only the highest-dimension cells are kept).

    Raises
    ------
    mesh.MeshReadError
        Naming the file and the reason when it cannot be read.
    """
    from mesh import Mesh
    from mesh.io import read, read_series

    times = steps = None
    if ref.series:
        m, times, steps = read_series(ref.path)
        if steps:
            m = m.with_point_data(**{k: v for k, v in steps[0].items() if len(v) == m.n_points})
    else:
        m = read(ref.path)
    blocks = [i for i, b in enumerate(m.cells) if b.info.dim == m.topological_dim]
    if len(blocks) < len(m.cells):
        m = Mesh(m.points, tuple(m.cells[i] for i in blocks), dict(m.point_data),
                 {k: [v[i] for i in blocks] for k, v in m.cell_data.items()}, dict(m.field_data))
    grid = m.to_pyvista()
    return ViewSample(ref, grid, m.dim, times, steps, _info(m.field_data, units or {}))


def _base_name(name: str) -> str:
    from .fields import ROLE_SUFFIXES

    for suffix, _role in ROLE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _info(field_data: dict, units: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, value in field_data.items():
        name = key.split(":", 1)[1] if key.startswith(("input:", "scalar:")) else key
        arr = np.ravel(np.asarray(value))
        if key.startswith("_") or arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
            continue
        unit = units.get(_base_name(name))
        out[name] = f"{float(arr[0]):.4g}" + (f" {unit}" if unit and unit not in ("-", "1") else "")
    return out
