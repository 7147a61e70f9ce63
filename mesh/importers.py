"""Build datasets from meshio-readable files and XDMF time series.

PLAID datasets have their own importer in :mod:`mesh.plaid`.
"""
from __future__ import annotations

import glob as globmod
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .dataset import Dataset, DatasetWriter, Sample
from .errors import DatasetError, MeshReadError
from .io import read, read_series
from .problem import Feature, ProblemDefinition

MESH_SUFFIXES = (".vtu", ".vtk", ".msh", ".mesh", ".stl", ".ply", ".obj", ".off", ".xdmf", ".xmf",
                 ".cgns", ".med", ".inp", ".f3grid", ".su2", ".dat", ".h5m", ".bdf", ".nas")

Progress = Callable[[str], None]


def find_mesh_files(src: str | os.PathLike) -> list[Path]:
    """Mesh files named by ``src``: a folder (its mesh files, sorted) or a glob pattern.

    Raises
    ------
    DatasetError
        If nothing matches.
    """
    s = str(src)
    if Path(s).is_dir():
        files = sorted(p for p in Path(s).iterdir() if p.suffix.lower() in MESH_SUFFIXES)
    elif any(c in s for c in "*?["):
        files = sorted(Path(p) for p in globmod.glob(s))
    elif Path(s).is_file():
        files = [Path(s)]
    else:
        raise DatasetError(f"'{s}' is neither a folder, a file nor a glob pattern that matches files")
    if not files:
        raise DatasetError(f"no mesh files found in '{s}' (looked for {', '.join(MESH_SUFFIXES)})")
    return files


def split_ids(ids: Sequence[str], test_fraction: float, seed: int = 0) -> dict[str, list[str]]:
    """Random train/test split: ``{"train": [...], "test": [...]}`` (test has at least one id if > 0)."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1); got {test_fraction}")
    ids = list(ids)
    n_test = int(round(test_fraction * len(ids)))
    if test_fraction > 0 and len(ids) > 1:
        n_test = max(1, n_test)
    order = np.random.default_rng(seed).permutation(len(ids))
    test = sorted(ids[i] for i in order[:n_test])
    return {"train": [i for i in ids if i not in set(test)], "test": test}


def import_meshes(src: str | os.PathLike, out: str | os.PathLike, *, name: str | None = None,
                  outputs: Sequence[str] | None = None, inputs: Sequence[str] | None = None,
                  test_fraction: float = 0.2, seed: int = 0,
                  progress: Progress | None = None) -> Dataset:
    """Import a folder or glob of meshio-readable files (one steady sample per file).

    Parameters
    ----------
    src : folder, glob pattern or single file.
    out : dataset folder to create (or resume).
    outputs : point fields to use as outputs; default: the point fields every file has.
    inputs : field-data scalars to use as inputs; default: the scalar field data every file has.
    test_fraction, seed : random train/test split.
    progress : called with each sample id once it is written.

    Returns
    -------
    The new Dataset. Re-running after a crash skips the samples already written.

    Raises
    ------
    DatasetError
        Unreadable file (named), a requested field or input missing in a file (named).
    """
    files = find_mesh_files(src)
    first = _read_named(files[0])
    if outputs is None:
        common = set(first.point_data)
        for f in files[1:]:
            common &= set(_read_named(f).point_data) if len(files) <= 200 else common
        outputs = sorted(k for k in common if not k.startswith(("gmsh:", "medit:")))
    if inputs is None:
        inputs = sorted(k for k, v in first.field_data.items() if np.asarray(v).size == 1
                        and np.issubdtype(np.asarray(v).dtype, np.number))
    problem = ProblemDefinition(inputs={k: Feature() for k in inputs},
                                outputs={k: Feature() for k in outputs})
    ids = sample_ids(files)
    writer = DatasetWriter(out, name or Path(out).name, problem,
                           provenance={"source": str(src), "files": [str(f) for f in files]})
    done = writer.done()
    for sid, f in zip(ids, files):
        if sid in done:
            if progress:
                progress(sid)
            continue
        m = _read_named(f)
        for k in outputs:
            if k not in m.point_data:
                raise DatasetError(f"'{f}': point field '{k}' is missing; fields: {', '.join(m.point_data) or 'none'}")
        vals = {}
        for k in inputs:
            if k not in m.field_data:
                raise DatasetError(f"'{f}': input scalar '{k}' is missing from the field data")
            vals[k] = float(np.ravel(m.field_data[k])[0])
        fields = {k: m.point_data[k] for k in outputs}
        rest = {k: v for k, v in m.point_data.items() if k not in fields}
        base = m.without_data().with_point_data(**rest)
        writer.add(Sample(sid, base, inputs=vals, fields=fields))
        if progress:
            progress(sid)
    return writer.finish(split_ids(ids, test_fraction, seed))


def import_series(src: str | os.PathLike, out: str | os.PathLike, *, name: str | None = None,
                  outputs: Sequence[str] | None = None, progress: Progress | None = None) -> Dataset:
    """Import XDMF time series files (one sample each) as a time-dependent dataset.

    Parameters
    ----------
    src : an .xdmf file, a folder of them or a glob.
    out : dataset folder.
    outputs : point fields to keep; default: those of the first time step.
    """
    files = [f for f in find_mesh_files(src) if f.suffix.lower() in (".xdmf", ".xmf")]
    if not files:
        raise DatasetError(f"no XDMF time series in '{src}'")
    mesh0, _t0, steps0 = _read_series_named(files[0])
    outputs = list(outputs) if outputs is not None else sorted(steps0[0]) if steps0 else []
    problem = ProblemDefinition(outputs={k: Feature() for k in outputs})
    writer = DatasetWriter(out, name or Path(out).name, problem, time_dependent=True,
                           provenance={"source": str(src)})
    ids = sample_ids(files)
    for sid, f in zip(ids, files):
        if sid not in writer.done():
            m, times, steps = _read_series_named(f)
            for k in outputs:
                if any(k not in s for s in steps):
                    raise DatasetError(f"'{f}': field '{k}' is missing in some time steps")
            fields = {k: np.stack([s[k] for s in steps]) for k in outputs}
            writer.add(Sample(sid, m, fields=fields, times=times))
        if progress:
            progress(sid)
    return writer.finish({"all": ids})


def _read_named(f: Path):
    try:
        return read(f)
    except MeshReadError as exc:
        raise DatasetError(str(exc)) from None


def _read_series_named(f: Path):
    try:
        return read_series(f)
    except MeshReadError as exc:
        raise DatasetError(str(exc)) from None


def _clean(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def sample_ids(files: Sequence[Path]) -> list[str]:
    """Sample ids from file names: the stem, or stem_ext / a running index where stems clash."""
    ids = [_clean(f.stem) or f"sample_{i:06d}" for i, f in enumerate(files)]
    if len(set(ids)) < len(ids):
        ids = [_clean(f.name) for f in files]
    if len(set(ids)) < len(ids):
        ids = [f"sample_{i:06d}" for i in range(len(files))]
    return ids
