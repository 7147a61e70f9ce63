"""Training snapshots on the common support: morph every sample, transfer its data.

For each training sample the mesh is morphed onto the support frame, and its
*physical* coordinates (the geometry) and its output fields are interpolated at the
support nodes; vector values are flattened in the blocked layout of the support's
mass matrix (:func:`surrogates.mmgp.support.flatten`).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from mesh.dataset import Dataset, Sample

from ..errors import SurrogateError
from ..interface import Progress
from .prior import timed
from .support import CommonSupport, flatten


@dataclass(eq=False)
class TrainingSnapshots:
    """Every training sample carried to the common support.

    Attributes
    ----------
    ids : (S,) sample ids, dataset order.
    coords : (S, 2 n_s) float64 physical coordinates at the support nodes, blocked
        (all x, then all y); length unit of the dataset.
    fields : field name -> (S, c n_s) float64 values at the support nodes, blocked.
    components : field name -> number of components c (1 for a scalar field).
    inputs : (S, p) float64 input scalars, problem order.
    scalars : (S, q) float64 output scalars, problem order.
    inversions : number of samples whose morph inverted some cell.
    seconds : wall time of morphing and transfer (s), the prior's solves included.
    prior : field name -> (S, n_s) the prior's solution of each sample at the support
        nodes (empty without a prior).
    prior_seconds : time the prior's solves took in their worker thread (s; they
        overlap the morphing, so they are not added to ``seconds``).
    """

    ids: list[str]
    coords: np.ndarray
    fields: dict[str, np.ndarray]
    components: dict[str, int]
    inputs: np.ndarray
    scalars: np.ndarray
    inversions: int
    seconds: float
    prior: dict[str, np.ndarray] = field(default_factory=dict)
    prior_seconds: float = 0.0


def median_sample(dataset: Dataset) -> int:
    """Index of the sample of median node count (the first one among equals)."""
    sizes = np.array([e.n_points for e in dataset.entries])
    order = np.argsort(sizes, kind="stable")
    return int(order[(len(order) - 1) // 2])


def check_problem(dataset: Dataset) -> None:
    """Raise SurrogateError for datasets that MMGP cannot learn (naming why)."""
    p = dataset.problem
    if dataset.time_dependent:
        raise SurrogateError(f"dataset '{dataset.name}' holds time series; MMGP predicts steady fields")
    cell = [n for n, f in p.outputs.items() if f.location == "cell"]
    if cell:
        raise SurrogateError(f"MMGP predicts nodal fields; output field(s) {', '.join(cell)} are cell "
                             "data: convert them to point data first")
    if p.input_fields:
        raise SurrogateError(f"MMGP takes input scalars only; the problem has input field(s) "
                             f"{', '.join(p.input_fields)}")
    if not p.outputs and not p.output_scalars:
        raise SurrogateError("the problem has no output field or scalar to learn")
    if len(dataset) < 2:
        raise SurrogateError(f"MMGP needs at least 2 training samples; the dataset has {len(dataset)}")


def transfer_training_set(dataset: Dataset, support: CommonSupport,
                          progress: Progress | None = None,
                          prior: Callable[[Sample], dict[str, np.ndarray]] | None = None) -> TrainingSnapshots:
    """Morph every sample of ``dataset`` and transfer its geometry and fields to ``support``.

    Parameters
    ----------
    dataset : training samples (2D meshes of the support's topology).
    support : the common support.
    progress : called with ("morph and transfer", done, total).
    prior : optional ``sample -> {field: (N,) values}`` solved on each sample's own
        mesh (:mod:`.prior`), in a worker thread while the sample is morphed (the
        sparse factorisations release the GIL); its fields are transferred like the
        outputs.

    Returns
    -------
    TrainingSnapshots

    Raises
    ------
    SurrogateError
        A sample of another topology, a sample that cannot be morphed, or a missing
        output scalar (naming the sample).
    """
    t0 = time.perf_counter()
    problem = dataset.problem
    names, scalar_names = problem.field_names, list(problem.output_scalars)
    coords, fields = [], {n: [] for n in names}
    components: dict[str, int] = {}
    inputs, scalars, ids = [], [], []
    inversions = 0
    total = len(dataset)
    prior_fields: dict[str, list[np.ndarray]] = {}
    t_prior = 0.0
    pool = ThreadPoolExecutor(max_workers=1) if prior is not None else None

    try:
        for i, sample in enumerate(dataset):
            pending = pool.submit(timed, prior, sample) if pool is not None else None
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    mm = support.morph_and_transfer(sample.mesh, back=False)
            except SurrogateError as exc:
                raise SurrogateError(f"training sample '{sample.id}': {exc}") from None
            inversions += int(mm.inversions > 0)
            for w in caught:
                if not issubclass(w.category, UserWarning) or "inverted" not in str(w.message):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            coords.append(flatten(mm.to_support @ mm.points))
            for n in names:
                u = np.asarray(sample.fields[n], dtype=np.float64)
                c = 1 if u.ndim == 1 else int(u.shape[1])
                if components.setdefault(n, c) != c:
                    raise SurrogateError(f"field '{n}' has {c} components in sample '{sample.id}' but "
                                         f"{components[n]} in the first sample")
                fields[n].append(flatten(mm.to_support @ u))
            if pending is not None:
                solved, seconds = pending.result()
                t_prior += seconds
                for n, u in solved.items():
                    prior_fields.setdefault(n, []).append(mm.to_support @ np.asarray(u, dtype=np.float64))
            missing = [n for n in scalar_names if n not in sample.scalars]
            if missing:
                raise SurrogateError(f"training sample '{sample.id}' lacks output scalar(s) {', '.join(missing)}")
            inputs.append([sample.inputs[n] for n in problem.scalar_names])
            scalars.append([sample.scalars[n] for n in scalar_names])
            ids.append(sample.id)
            if progress is not None:
                progress("morph and transfer", i + 1, total)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    n_in, n_sc = len(problem.scalar_names), len(scalar_names)
    return TrainingSnapshots(
        ids, np.array(coords), {n: np.array(v) for n, v in fields.items()}, components,
        np.array(inputs, dtype=np.float64).reshape(total, n_in),
        np.array(scalars, dtype=np.float64).reshape(total, n_sc), inversions,
        time.perf_counter() - t0, {n: np.array(v) for n, v in prior_fields.items()}, t_prior)


__all__ = ["TrainingSnapshots", "check_problem", "median_sample", "transfer_training_set"]
