"""The on-disk dataset format and the lazy ``Dataset`` / ``Sample`` classes.

A dataset is one folder, openable in ParaView::

    DIR/dataset.yaml            manifest: name, problem definition, sample index, splits, provenance
    DIR/samples/<id>.vtu        one mesh per steady sample, with inputs and output scalars as field data
    DIR/samples/<id>.xdmf+.h5   time series (with <id>.json holding inputs and scalars)

The sample files are the source of truth; the manifest's sample index is a
cache of their sizes, inputs and scalars (rebuilt by :meth:`DatasetWriter.finish`).
Every file is written under a temporary name and renamed into place.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .core import Mesh
from .errors import DatasetError, MeshReadError
from .io import atomic_write, read, read_series, write, write_series
from .problem import ProblemDefinition
from .yaml_input import describe_validation_error, read_yaml_mapping

MANIFEST = "dataset.yaml"
SAMPLES = "samples"
FORMAT = "mesh-surrogates-dataset"
INPUT_PREFIX = "input:"
SCALAR_PREFIX = "scalar:"


class SampleEntry(BaseModel):
    """One row of the manifest's sample index."""

    model_config = ConfigDict(extra="forbid")
    id: str
    file: str
    n_points: int
    n_cells: int
    inputs: dict[str, float] = {}
    scalars: dict[str, float] = {}
    n_steps: int | None = None


class Manifest(BaseModel):
    """The content of ``dataset.yaml``."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["mesh-surrogates-dataset"] = FORMAT
    version: int = 1
    name: str
    description: str = ""
    time_dependent: bool = False
    problem: ProblemDefinition
    samples: list[SampleEntry] = []
    splits: dict[str, list[str]] = {}
    provenance: dict[str, Any] = {}


@dataclass(eq=False)
class Sample:
    """One simulation case.

    Attributes
    ----------
    id : sample identifier (file stem).
    mesh : the mesh with its named groups (and every field of the file as point/cell data).
    inputs : input scalars by name.
    fields : output fields by name: (N,) or (N, c) for steady samples, (T, N, ...) for
        time series.
    scalars : output scalars by name.
    input_fields : input fields by name, same shapes as ``fields``.
    times : (T,) times of a time series, None for a steady sample.
    """

    id: str
    mesh: Mesh
    inputs: dict[str, float] = field(default_factory=dict)
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    input_fields: dict[str, np.ndarray] = field(default_factory=dict)
    times: np.ndarray | None = None

    @property
    def n_points(self) -> int:
        """Number of nodes of the sample's mesh."""
        return self.mesh.n_points


def _load_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    if not root.exists():
        raise DatasetError(f"dataset folder '{root}' does not exist")
    if not path.exists():
        raise DatasetError(f"'{root}' is not a dataset: it has no {MANIFEST}")
    raw = read_yaml_mapping(path, DatasetError, f"'{path}'")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise DatasetError(f"'{path}' is invalid:\n{describe_validation_error(exc)}") from None
    _check_manifest(manifest, path)
    return manifest


def _check_manifest(m: Manifest, path: Path) -> None:
    ids = [s.id for s in m.samples]
    dup = {i for i in ids if ids.count(i) > 1} if len(set(ids)) != len(ids) else set()
    if dup:
        raise DatasetError(f"'{path}': duplicated sample ids: {', '.join(sorted(dup))}")
    known = set(ids)
    for split, members in m.splits.items():
        unknown = [i for i in members if i not in known]
        if unknown:
            raise DatasetError(f"'{path}': split '{split}' names unknown samples: {', '.join(unknown[:5])}")
    for s in m.samples:
        extra = set(s.inputs) - set(m.problem.inputs)
        if extra:
            raise DatasetError(
                f"'{path}': sample '{s.id}' has input(s) {', '.join(sorted(extra))} that the problem "
                f"definition does not declare (inputs: {', '.join(m.problem.inputs) or 'none'})")
        missing = set(m.problem.inputs) - set(s.inputs)
        if missing:
            raise DatasetError(f"'{path}': sample '{s.id}' lacks input(s) {', '.join(sorted(missing))}")
        extra = set(s.scalars) - set(m.problem.output_scalars)
        if extra:
            raise DatasetError(
                f"'{path}': sample '{s.id}' has output scalar(s) {', '.join(sorted(extra))} that the "
                f"problem definition does not declare")


class Dataset:
    """A dataset folder, loaded lazily: samples are read from disk when indexed.

    Parameters
    ----------
    root : the dataset folder (holding ``dataset.yaml``).
    ids : restrict to these sample ids (used by :meth:`split`).

    Raises
    ------
    DatasetError
        Missing folder or manifest, invalid manifest (unknown keys, unknown sample
        ids in splits, undeclared features).

    Examples
    --------
    >>> ds = Dataset("runs/plate2d")                     # doctest: +SKIP
    >>> train = ds.split("train"); s = train[0]          # doctest: +SKIP
    >>> s.fields["U1"].shape, s.inputs                   # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike, ids: Sequence[str] | None = None) -> None:
        self.root = Path(root)
        self.manifest = _load_manifest(self.root)
        entries = {s.id: s for s in self.manifest.samples}
        self._entries = [entries[i] for i in ids] if ids is not None else list(self.manifest.samples)

    # ----------------------------------------------------------- metadata
    @property
    def name(self) -> str:
        """Dataset name."""
        return self.manifest.name

    @property
    def problem(self) -> ProblemDefinition:
        """The problem definition."""
        return self.manifest.problem

    @property
    def splits(self) -> dict[str, list[str]]:
        """Split name -> sample ids."""
        return self.manifest.splits

    @property
    def ids(self) -> list[str]:
        """Sample ids of this view, in order."""
        return [e.id for e in self._entries]

    @property
    def entries(self) -> list[SampleEntry]:
        """Manifest rows of this view (sizes, inputs, scalars), without reading any mesh."""
        return list(self._entries)

    @property
    def time_dependent(self) -> bool:
        """True for a dataset of time series."""
        return self.manifest.time_dependent

    def split(self, name: str) -> "Dataset":
        """The samples of split ``name`` as a new (lazy) Dataset."""
        if name not in self.splits:
            raise DatasetError(
                f"dataset '{self.name}' has no split '{name}'; splits: {', '.join(self.splits) or 'none'}")
        return Dataset(self.root, self.splits[name])

    def subset(self, ids: Sequence[str]) -> "Dataset":
        """A view on the given sample ids."""
        known = {e.id for e in self.manifest.samples}
        bad = [i for i in ids if i not in known]
        if bad:
            raise DatasetError(f"dataset '{self.name}' has no sample(s) {', '.join(bad[:5])}")
        return Dataset(self.root, list(ids))

    def inputs_array(self) -> np.ndarray:
        """(S, n_inputs) input scalars of every sample of this view, in problem order."""
        names = self.problem.scalar_names
        return np.array([[e.inputs[n] for n in names] for e in self._entries], dtype=np.float64).reshape(len(self), len(names))

    def scalars_array(self) -> np.ndarray:
        """(S, n_scalars) output scalars of every sample of this view, in problem order."""
        names = list(self.problem.output_scalars)
        return np.array([[e.scalars.get(n, np.nan) for n in names] for e in self._entries],
                        dtype=np.float64).reshape(len(self), len(names))

    # ------------------------------------------------------------ samples
    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, key: int | str) -> Sample:
        if isinstance(key, str):
            matches = [e for e in self._entries if e.id == key]
            if not matches:
                raise DatasetError(f"dataset '{self.name}' has no sample '{key}'")
            entry = matches[0]
        else:
            entry = self._entries[key]
        return load_sample(self.root, entry, self.manifest)

    def __repr__(self) -> str:
        return f"Dataset('{self.root}', name='{self.name}', samples={len(self)})"


def load_sample(root: Path, entry: SampleEntry, manifest: Manifest) -> Sample:
    """Read one sample file and check it against the problem definition.

    Raises
    ------
    DatasetError
        Naming the sample, the file and the field: missing file, unreadable file,
        missing field, wrong length, NaN or infinite values.
    """
    path = root / entry.file
    where = f"dataset '{manifest.name}', sample '{entry.id}' ({entry.file})"
    if not path.exists():
        raise DatasetError(f"{where}: the file is missing (deleted or moved?)")
    problem = manifest.problem
    try:
        if manifest.time_dependent:
            mesh, times, steps = read_series(path)
        else:
            mesh, times, steps = read(path), None, None
    except MeshReadError as exc:
        raise DatasetError(f"{where}: {exc.reason}") from None
    if mesh.n_points != entry.n_points:
        raise DatasetError(f"{where}: the file has {mesh.n_points} nodes, the manifest says {entry.n_points}")

    def get(name: str, location: str) -> np.ndarray:
        if steps is not None:
            if any(name not in s for s in steps):
                avail = ", ".join(sorted(steps[0])) if steps else "none"
                raise DatasetError(f"{where}: field '{name}' is missing; fields in the file: {avail}")
            arr = np.stack([s[name] for s in steps])
            n_actual = arr.shape[1]
        elif location == "cell":
            if name not in mesh.cell_data:
                raise DatasetError(f"{where}: cell field '{name}' is missing; cell fields in the file: "
                                   f"{', '.join(mesh.cell_data) or 'none'}")
            arr = np.concatenate(mesh.cell_data[name])
            n_actual = len(arr)
        else:
            if name not in mesh.point_data:
                raise DatasetError(f"{where}: field '{name}' is missing; fields in the file: "
                                   f"{', '.join(mesh.point_data) or 'none'}")
            arr = mesh.point_data[name]
            n_actual = len(arr)
        expected = mesh.n_cells if location == "cell" else mesh.n_points
        if n_actual != expected:
            raise DatasetError(f"{where}: field '{name}' has {n_actual} values for {expected} "
                               f"{'cells' if location == 'cell' else 'nodes'}")
        bad = ~np.isfinite(arr)
        if bad.any():
            first = np.argwhere(bad)[0].tolist()
            raise DatasetError(f"{where}: field '{name}' has {int(bad.sum())} NaN/inf values "
                               f"(first at index {first})")
        return arr

    fields = {n: get(n, f.location) for n, f in problem.outputs.items()}
    input_fields = {n: get(n, f.location) for n, f in problem.input_fields.items()}
    for kind, values in (("input", entry.inputs), ("output scalar", entry.scalars)):
        for n, v in values.items():
            if not np.isfinite(v):
                raise DatasetError(f"{where}: {kind} '{n}' is {v}")
    return Sample(entry.id, mesh, dict(entry.inputs), fields, dict(entry.scalars), input_fields,
                  None if times is None else np.asarray(times))


def write_manifest(root: Path, manifest: Manifest) -> Path:
    """Write ``dataset.yaml`` atomically."""
    data = manifest.model_dump(mode="json")
    for group in data["problem"].values():  # keep feature entries short: drop defaults
        for name, feat in group.items():
            group[name] = {k: v for k, v in feat.items()
                           if v is not None and not (k == "location" and v == "point")}

    def _w(tmp: Path) -> None:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False, width=100))

    return atomic_write(root / MANIFEST, _w)


class DatasetWriter:
    """Create or resume a dataset folder, one atomically written sample at a time.

    Parameters
    ----------
    root : dataset folder (created if needed).
    name : dataset name.
    problem : the problem definition.
    time_dependent : samples are time series (XDMF + HDF5) rather than VTU.
    description, provenance : stored in the manifest.

    Re-opening a folder with an unfinished write resumes it: samples whose file is
    complete are kept (see :meth:`done`), temporary leftovers are removed.

    Examples
    --------
    >>> with DatasetWriter("out", "demo", problem) as w:            # doctest: +SKIP
    ...     w.add(Sample("s0", mesh, inputs={"P": 1.0}, fields={"U": u}))
    ...     w.finish(splits={"train": ["s0"]})
    """

    def __init__(self, root: str | os.PathLike, name: str, problem: ProblemDefinition, *,
                 time_dependent: bool = False, description: str = "",
                 provenance: dict[str, Any] | None = None) -> None:
        self.root = Path(root)
        (self.root / SAMPLES).mkdir(parents=True, exist_ok=True)
        for leftover in (self.root / SAMPLES).glob(".tmp-*"):
            _rmtree(leftover)
        self.manifest = Manifest(name=name, description=description, time_dependent=time_dependent,
                                 problem=problem, provenance=provenance or {})
        self._entries: dict[str, SampleEntry] = {}
        self._scan_existing()

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _scan_existing(self) -> None:
        """Index the samples already complete on disk (for resuming)."""
        suffix = ".xdmf" if self.manifest.time_dependent else ".vtu"
        for path in sorted((self.root / SAMPLES).glob(f"*{suffix}")):
            try:
                self._entries[path.stem] = self._entry_from_file(path)
            except (MeshReadError, DatasetError, OSError, ValueError):
                path.unlink(missing_ok=True)  # unreadable: redo it

    def _entry_from_file(self, path: Path) -> SampleEntry:
        rel = str(path.relative_to(self.root))
        if self.manifest.time_dependent:
            mesh, times, _ = read_series(path)
            meta = json.loads(path.with_suffix(".json").read_text())
            return SampleEntry(id=path.stem, file=rel, n_points=mesh.n_points, n_cells=mesh.n_cells,
                               inputs=meta["inputs"], scalars=meta["scalars"], n_steps=len(times))
        mesh = read(path)
        inputs = {k[len(INPUT_PREFIX):]: float(np.ravel(v)[0]) for k, v in mesh.field_data.items()
                  if k.startswith(INPUT_PREFIX)}
        scalars = {k[len(SCALAR_PREFIX):]: float(np.ravel(v)[0]) for k, v in mesh.field_data.items()
                   if k.startswith(SCALAR_PREFIX)}
        return SampleEntry(id=path.stem, file=rel, n_points=mesh.n_points, n_cells=mesh.n_cells,
                           inputs=inputs, scalars=scalars)

    def done(self) -> set[str]:
        """Ids of the samples whose file is complete on disk."""
        return set(self._entries)

    def add(self, sample: Sample) -> SampleEntry:
        """Validate and write one sample atomically; return its manifest row.

        Raises
        ------
        DatasetError
            If the sample lacks a declared input, field or scalar, declares an unknown
            one, or has a field of the wrong length or with NaN values.
        """
        self._validate(sample)
        rel = f"{SAMPLES}/{sample.id}{'.xdmf' if self.manifest.time_dependent else '.vtu'}"
        path = self.root / rel
        if self.manifest.time_dependent:
            meta = {"inputs": sample.inputs, "scalars": sample.scalars}

            def _meta(tmp: Path) -> None:
                tmp.write_text(json.dumps(meta))

            atomic_write(path.with_suffix(".json"), _meta)
            times = np.asarray(sample.times)
            steps = [{**{n: v[t] for n, v in sample.fields.items()},
                      **{n: v[t] for n, v in sample.input_fields.items()}} for t in range(len(times))]
            write_series(sample.mesh.without_data(), times, steps, path)
            n_steps = len(times)
        else:
            m = sample.mesh.with_point_data(**{**sample.fields, **sample.input_fields})
            m = m.with_field_data(
                **{INPUT_PREFIX + k: np.array([v]) for k, v in sample.inputs.items()},
                **{SCALAR_PREFIX + k: np.array([v]) for k, v in sample.scalars.items()})
            write(m, path)
            n_steps = None
        entry = SampleEntry(id=sample.id, file=rel, n_points=sample.mesh.n_points,
                            n_cells=sample.mesh.n_cells, inputs={k: float(v) for k, v in sample.inputs.items()},
                            scalars={k: float(v) for k, v in sample.scalars.items()}, n_steps=n_steps)
        self._entries[sample.id] = entry
        return entry

    def _validate(self, s: Sample) -> None:
        p = self.manifest.problem
        where = f"sample '{s.id}'"
        for kind, given, declared in (("input", s.inputs, p.inputs), ("output scalar", s.scalars, p.output_scalars),
                                      ("output field", s.fields, p.outputs),
                                      ("input field", s.input_fields, p.input_fields)):
            unknown = set(given) - set(declared)
            if unknown:
                raise DatasetError(f"{where}: {kind}(s) {', '.join(sorted(unknown))} not declared in the "
                                   f"problem definition ({', '.join(declared) or 'none'})")
            missing = set(declared) - set(given)
            if missing and kind != "output scalar":
                raise DatasetError(f"{where}: missing {kind}(s) {', '.join(sorted(missing))}")
        n = s.mesh.n_points
        for name, arr in {**s.fields, **s.input_fields}.items():
            arr = np.asarray(arr)
            length = arr.shape[1] if self.manifest.time_dependent else arr.shape[0]
            if length != n:
                raise DatasetError(f"{where}: field '{name}' has {length} values for {n} nodes")
            if not np.isfinite(arr).all():
                raise DatasetError(f"{where}: field '{name}' has {int((~np.isfinite(arr)).sum())} NaN/inf values")
        for name, v in {**s.inputs, **s.scalars}.items():
            if not np.isfinite(v):
                raise DatasetError(f"{where}: '{name}' = {v}")

    def finish(self, splits: dict[str, list[str]] | None = None, *,
               provenance: dict[str, Any] | None = None) -> "Dataset":
        """Write the manifest (sample index sorted by id, splits) and return the Dataset."""
        entries = [self._entries[k] for k in sorted(self._entries)]
        splits = splits if splits is not None else {"all": [e.id for e in entries]}
        missing = {i for ids in splits.values() for i in ids} - set(self._entries)
        if missing:
            raise DatasetError(f"splits name samples that were not written: {', '.join(sorted(missing)[:5])}")
        self.manifest.samples = entries
        self.manifest.splits = {k: list(v) for k, v in splits.items()}
        if provenance:
            self.manifest.provenance = {**self.manifest.provenance, **provenance}
        write_manifest(self.root, self.manifest)
        return Dataset(self.root)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
