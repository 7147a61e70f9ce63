"""Dataset generation: many random samples of a recipe, solved in parallel with Dask.

:func:`generate` makes ``n`` samples of a :class:`~physics.recipes.Recipe` into a
dataset folder (:class:`mesh.dataset.DatasetWriter`). Each sample is one task,
:func:`run_sample`, which meshes a random geometry, draws the random inputs, runs
the solver and returns a :class:`SampleOutcome`; the main process collects the
outcomes as they complete (``dask.distributed.as_completed``) and writes each
finished sample at once, atomically.

- Determinism: sample ``i`` draws everything from ``SeedSequence(seed, spawn_key=(i,))``
  (the ``i``-th child of ``SeedSequence(seed).spawn``), split into a geometry seed, an
  input stream and a field stream, so a sample does not depend on ``n``, on the number
  of workers or on the order in which tasks finish.
- Parallelism: a ``LocalCluster`` of ``workers`` single-threaded worker *processes*
  (gmsh is not thread-safe) by default, any Dask scheduler by address, or
  ``workers=0`` to run in this process (debugging, tests).
- Resuming: samples already complete on disk are skipped; temporary leftovers of an
  interrupted write are removed. A folder made with another recipe or seed is refused.
- Failures: an exception while meshing or solving one sample (e.g. ``ConvergenceError``)
  is logged and recorded (id, error type, message) and the other samples go on; the
  failures are listed in the manifest's provenance.
- Provenance: the manifest records the recipe, seed, n, counts, failures, package
  versions and wall time; ``generation.json`` next to it holds one record per sample
  (geometry seed and parameters, inputs, timings, solver statistics), assembled from
  ``generation/<id>.json`` files written as the samples arrive.

Examples
--------
>>> ds = generate("plate2d", 8, "runs/plate2d", seed=0, workers=2)   # doctest: +SKIP
>>> ds.split("train")[0].fields["von_mises"].shape                   # doctest: +SKIP
(1187,)
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mesh import Mesh
from mesh.dataset import Dataset, DatasetWriter, Sample
from mesh.errors import DatasetError, MeshWriteError
from mesh.importers import split_ids
from mesh.io import atomic_write

from .errors import CaseError, ConvergenceError, PhysicsError
from .recipes import (
    ElasticityPhysics,
    HeatPhysics,
    Recipe,
    RecipeError,
    ViscoplasticPhysics,
    from_si,
    load_recipe,
    resolve,
    solver_fields,
)

__all__ = [
    "GenerateError",
    "SampleFailure",
    "SampleOutcome",
    "SolverUnavailableError",
    "check_resumable",
    "check_solver_available",
    "dask_client",
    "generate",
    "moving_source",
    "output_scalars",
    "random_field",
    "run_sample",
    "run_samples",
    "sample_id",
    "sample_streams",
]

log = logging.getLogger(__name__)

PROVENANCE_DIR = "generation"
PROVENANCE_FILE = "generation.json"
_RUN_FILE = "run.json"


class GenerateError(PhysicsError):
    """Generation cannot go on: incompatible output folder, no sample written, bad arguments."""


class SolverUnavailableError(RecipeError):
    """The recipe's solver is not available in this installation (the message says which)."""


@dataclass(frozen=True)
class SampleFailure:
    """A sample that raised while meshing or solving.

    Attributes
    ----------
    id, index : the sample id and its index in ``range(n)``.
    error : the exception's class name (e.g. ``"ConvergenceError"``).
    message : the exception's message.
    traceback : the formatted traceback (for the log).
    """

    id: str
    index: int
    error: str
    message: str
    traceback: str = ""

    def summary(self) -> dict[str, Any]:
        """``{id, index, error, message}`` for the manifest."""
        return {"id": self.id, "index": self.index, "error": self.error, "message": self.message}


@dataclass
class SampleOutcome:
    """What one sample task produced.

    Attributes
    ----------
    index, id : the sample index and id.
    status : ``"done"`` (solved and written), ``"failed"`` or ``"skipped"`` (already on disk).
    sample : the solved sample (None unless solved); dropped once written.
    failure : the failure (status ``"failed"``).
    record : provenance of the sample: geometry seed and parameters, inputs,
        ``n_points``, timings, solver statistics, worker.
    mesh_s, solve_s, total_s : wall time of meshing, of the solve and of the whole task, s.
    """

    index: int
    id: str
    status: Literal["done", "failed", "skipped"]
    sample: Sample | None = None
    failure: SampleFailure | None = None
    record: dict[str, Any] = field(default_factory=dict)
    mesh_s: float = 0.0
    solve_s: float = 0.0
    total_s: float = 0.0

    @property
    def n_points(self) -> int:
        """Nodes of the sample's mesh (0 when unknown)."""
        return int(self.record.get("n_points", 0))


# ---------------------------------------------------------------------- seeding
def sample_id(index: int) -> str:
    """The id of sample ``index``: ``s00000``, ``s00001``, ... (sorts in index order)."""
    return f"s{index:05d}"


def sample_streams(seed: int, index: int) -> tuple[int, np.random.Generator, np.random.Generator]:
    """Independent random streams of sample ``index``, a function of ``(seed, index)`` only.

    Returns
    -------
    geometry_seed : integer seed of the geometry (``make_geometry(family, geometry_seed)``
        rebuilds the mesh).
    inputs_rng : generator of the input scalars.
    field_rng : generator of random input fields (e.g. a temperature perturbation).
    """
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0; got seed={seed}, index={index}")
    geo, inp, fld = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(3)
    return int(geo.generate_state(1, np.uint32)[0]), np.random.default_rng(inp), np.random.default_rng(fld)


# ---------------------------------------------------------------------- solvers
@dataclass
class _Solved:
    fields: dict[str, np.ndarray]  # SI, (N,), (N, c) or (T, N)
    times: np.ndarray | None = None
    stats: dict[str, Any] = field(default_factory=dict)


def check_solver_available(recipe: Recipe) -> None:
    """Raise :class:`SolverUnavailableError` if the recipe's solver cannot run here."""
    import importlib.util

    module = _SOLVER_MODULES[recipe.physics.solver]
    if importlib.util.find_spec(module) is None:
        raise SolverUnavailableError(
            f"recipe '{recipe.name}' needs solver '{recipe.physics.solver}' ({module}), which is "
            "not available in this installation")


_SOLVER_MODULES = {"elasticity": "physics.elasticity", "viscoplastic": "physics.viscoplastic",
                   "heat_transient": "physics.heat"}


def _rotation_force(rot: Any, density: float, omega: float, dim: int) -> Callable[[np.ndarray], np.ndarray]:
    center = np.asarray(rot.center, float)[:dim]
    axis = np.asarray(rot.axis, float)
    axis = axis / np.linalg.norm(axis)

    def force(x: np.ndarray) -> np.ndarray:  # x (dim, ...) m -> (dim, ...) N/m^3
        r = x - center.reshape((dim,) + (1,) * (x.ndim - 1))
        if dim == 3:
            a = axis.reshape((3,) + (1,) * (x.ndim - 1))
            r = r - a * np.sum(r * a, axis=0, keepdims=True)
        return density * omega**2 * r

    return force


def random_field(points: np.ndarray, wavelength: float, modes: int,
                 rng: np.random.Generator) -> np.ndarray:
    """A smooth random field ``g`` on ``points`` (N, dim) m with ``|g| <= 1``: (N,).

    A weighted sum of ``modes`` cosines with random unit directions, phases and
    wavelengths in ``wavelength * [0.7, 1.5]``, normalised by the sum of |weights|.
    """
    dim = points.shape[1]
    d = rng.standard_normal((modes, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    k = 2.0 * np.pi / (wavelength * rng.uniform(0.7, 1.5, modes))
    phase = rng.uniform(0.0, 2.0 * np.pi, modes)
    w = rng.standard_normal(modes)
    g = np.cos(points @ (d * k[:, None]).T + phase) @ w
    return g / np.abs(w).sum()


def _temperature(mesh: Mesh, spec: Any, si: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    x = mesh.points
    s = x[:, spec.axis]
    span = s.max() - s.min()
    T = resolve(spec.base, si) + resolve(spec.delta, si) * (s - s.min()) / (span if span > 0 else 1.0)
    if spec.random is not None:
        T = T + resolve(spec.random.amplitude, si) * random_field(
            x, spec.random.wavelength, spec.random.modes, rng)
    return T


def _split_vector(u: np.ndarray) -> dict[str, np.ndarray]:
    return {"U": u, **{f"U{i + 1}": u[:, i].copy() for i in range(u.shape[1])}}


def _solve_elasticity(mesh: Mesh, ph: ElasticityPhysics, si: dict[str, float],
                      rng: np.random.Generator) -> _Solved:
    from .elasticity import Displacement, ElasticCase, Pressure, Traction, solve_elasticity

    dim = mesh.dim
    disp, trac, pres = [], [], []
    for bc in ph.boundary_conditions:
        if bc.type == "fixed":
            comps = range(dim) if bc.components is None else bc.components
            val = resolve(bc.value, si)
            disp.append(Displacement(bc.group, tuple(val if c in comps else None for c in range(dim))))
        elif bc.type == "traction":
            trac.append(Traction(bc.group, tuple(resolve(v, si) for v in bc.vector)))
        else:
            pres.append(Pressure(bc.group, resolve(bc.value, si)))
    m = ph.material
    forces = []
    if ph.body_force is not None:
        const = np.array([resolve(v, si) for v in ph.body_force])
        forces.append(lambda x: const.reshape((dim,) + (1,) * (x.ndim - 1)) * np.ones_like(x))
    if ph.rotation is not None:
        forces.append(_rotation_force(ph.rotation, resolve(m.density, si),
                                      resolve(ph.rotation.omega, si), dim))
    body = (lambda x: sum(f(x) for f in forces)) if forces else None
    T = _temperature(mesh, ph.temperature, si, rng) if ph.temperature is not None else None
    case = ElasticCase(
        E=resolve(m.E, si), nu=resolve(m.nu, si), displacements=tuple(disp), tractions=tuple(trac),
        pressures=tuple(pres), body_force=body, plane=ph.plane, thickness=ph.thickness,
        order=ph.element_order, temperature=T, alpha=resolve(m.alpha, si),
        T_ref=resolve(ph.temperature.T_ref, si) if ph.temperature is not None else 0.0,
        solver=ph.linear_solver)
    r = solve_elasticity(mesh, case)
    fields = {**_split_vector(r.fields["displacement"]),
              **{k: v for k, v in r.fields.items() if k != "displacement"}}
    if T is not None:
        fields["temperature"] = T
    info = r.info
    stats = {"n_dofs": int(info.n_dofs), "method": str(info.method),
             "iterations": int(getattr(info, "iterations", 0) or 0)}
    return _Solved(fields, stats=stats)


def _solve_viscoplastic(mesh: Mesh, ph: ViscoplasticPhysics, si: dict[str, float],
                        rng: np.random.Generator) -> _Solved:
    from .constitutive import ViscoplasticMaterial
    from .viscoplastic import (
        BodyForce,
        Dirichlet,
        LoadCurve,
        Pressure,
        SolverOptions,
        Traction,
        ViscoplasticLoading,
        solve_viscoplastic,
    )

    m = ph.material
    mat = ViscoplasticMaterial(**{k: resolve(v, si) for k, v in m if k != "density"})
    ramp = LoadCurve((0.0, ph.load.t_end), (0.0, 1.0))
    dirichlet, surface = [], []
    for bc in ph.boundary_conditions:
        if bc.type == "fixed":
            comps = None if bc.components is None else tuple(bc.components)
            dirichlet.append(Dirichlet(bc.group, comps, resolve(bc.value, si)))
        elif bc.type == "traction":
            surface.append(Traction(bc.group, tuple(resolve(v, si) for v in bc.vector), ramp))
        else:
            surface.append(Pressure(bc.group, resolve(bc.value, si), ramp))
    body = None
    if ph.rotation is not None:
        body = BodyForce(resolve(m.density, si), omega=resolve(ph.rotation.omega, si),
                         center=tuple(ph.rotation.center), axis=tuple(ph.rotation.axis), load=ramp)
    loading = ViscoplasticLoading(tuple(dirichlet), tuple(surface), body_force=body)
    times = ph.load.t_end * np.arange(1, ph.load.steps + 1) / ph.load.steps
    opts = SolverOptions(**ph.solver_options.model_dump())
    r = solve_viscoplastic(mesh, mat, loading, times, options=opts, order=ph.element_order)
    last = r.at(-1)
    d = mesh.dim
    u = np.stack([last[f"U{i + 1}"] for i in range(d)], axis=1)
    fields = {**_split_vector(u), **{k: v for k, v in last.items() if not k.startswith("U")}}
    stats = {"time_steps": r.n_steps, "step_cuts": r.n_cuts, "newton_iterations": r.newton_iterations}
    return _Solved(fields, stats=stats)


def moving_source(points: np.ndarray, src: Any, si: dict[str, float], t: float) -> np.ndarray:
    """Heat source density (W/m^3) of a :class:`~physics.recipes.MovingSource` at time ``t``.

    Parameters
    ----------
    points : (2, ...) coordinates, m (scikit-fem's layout; pass ``mesh.points.T`` for nodes).

    Returns
    -------
    (...) source density, W/m^3.
    """
    x = np.asarray(points, float)
    r, R = src.radius, src.path_radius
    angle = resolve(src.start_angle, si) + resolve(src.speed, si) * t / R
    d2 = (x[0] - R * np.cos(angle)) ** 2 + (x[1] - R * np.sin(angle)) ** 2
    return resolve(src.power, si) / (2.0 * np.pi * r**2) * np.exp(-d2 / (2.0 * r**2))


def _solve_heat(mesh: Mesh, ph: HeatPhysics, si: dict[str, float],
                rng: np.random.Generator) -> _Solved:
    """Step by step with :func:`physics.heat.solve_heat_transient`, the source at mid-step.

    The solver takes a source fixed in time, so each step is one call of length ``dt``
    starting from the previous state: the source is piecewise constant in time, held at
    its mid-step position (a second-order quadrature of the moving load).
    """
    from .heat import Convection, HeatCase, solve_heat_transient

    if mesh.dim != 2:
        raise CaseError(f"the moving heat source is defined in 2D; the mesh is {mesh.dim}D")
    dt = ph.t_end / ph.steps
    conv = (Convection(ph.convection_group, resolve(ph.h, si), ph.T_ambient),)
    T = np.full(mesh.n_points, float(ph.T_initial))
    states, sources = [T], [moving_source(mesh.points.T, ph.source, si, 0.0)]
    for k in range(ph.steps):
        t_mid = (k + 0.5) * dt
        case = HeatCase(k=resolve(ph.conductivity, si), rho=resolve(ph.density, si),
                        c=resolve(ph.specific_heat, si), convections=conv,
                        source=lambda x, t=t_mid: moving_source(x, ph.source, si, t),
                        order=ph.element_order, solver="direct")
        r = solve_heat_transient(mesh, case, t_end=dt, dt=dt, theta=ph.theta, T0=T)
        T = r.fields["temperature"]
        states.append(T)
        sources.append(moving_source(mesh.points.T, ph.source, si, (k + 1) * dt))
    times = dt * np.arange(ph.steps + 1)
    fields = {"temperature": np.stack(states), "heat_source": np.stack(sources)}
    return _Solved(fields, times=times, stats={"time_steps": ph.steps, "dt_s": dt})


_SOLVERS: dict[str, Callable[..., _Solved]] = {
    "elasticity": _solve_elasticity,
    "viscoplastic": _solve_viscoplastic,
    "heat_transient": _solve_heat,
}


def solve_physics(mesh: Mesh, physics: Any, inputs_si: dict[str, float],
                  rng: np.random.Generator) -> _Solved:
    """Solve a recipe's ``physics`` section on ``mesh`` with the solver it names.

    Parameters
    ----------
    mesh : the sample's mesh (points in metres, the groups the physics names).
    physics : an ``ElasticityPhysics``, ``ViscoplasticPhysics`` or ``HeatPhysics``.
    inputs_si : input scalar name -> SI value (:meth:`Recipe.inputs_si`).
    rng : draws the random fields (temperature loads), if any.

    Returns
    -------
    the solver's SI fields (``.fields``: name -> (N,) or (N, dim) or (T, N)), ``.times``
    and ``.stats``.
    """
    return _SOLVERS[physics.solver](mesh, physics, inputs_si, rng)


# ----------------------------------------------------------------------- sample
def _reduce(values: np.ndarray, how: str) -> float:
    if how == "max":
        return float(values.max())
    if how == "min":
        return float(values.min())
    if how == "mean":
        return float(values.mean())
    return float(np.abs(values).max())


def output_scalars(recipe: Recipe, mesh: Mesh, fields_si: dict[str, np.ndarray]) -> dict[str, float]:
    """The recipe's output scalars (declared units) from the solver's SI fields.

    A vector field (N, c) is reduced on its magnitude; a time series (T, N) over
    every step; ``group`` restricts to the nodes of that group.
    """
    out = {}
    transient = recipe.time_dependent
    for name, s in recipe.outputs.scalars.items():
        v = np.asarray(fields_si[s.field], float)
        if v.ndim == (3 if transient else 2):
            v = np.linalg.norm(v, axis=-1)
        if s.group is not None:
            nodes = mesh.group_nodes(s.group)
            v = v[..., nodes]
        out[name] = float(from_si(_reduce(v, s.reduce), s.unit))
    return out


def _inject_failure(recipe: Recipe, index: int) -> None:
    if index not in recipe.debug.fail_samples:
        return
    msg = f"injected failure of sample {index} (recipe debug.fail_samples)"
    if recipe.debug.error == "ConvergenceError":
        raise ConvergenceError(msg)
    if recipe.debug.error == "MeshingError":
        from .geometry import MeshingError

        raise MeshingError(recipe.geometry.family, [{"attempt": 0, "reason": msg, "geometry": {}}])
    raise RuntimeError(msg)


def _import_solver(recipe: Recipe) -> None:
    with contextlib.suppress(ImportError):
        import gmsh  # noqa: F401

        from . import (  # noqa: F401
            elasticity,
            geometry,
            heat,
            viscoplastic,
        )


def run_sample(recipe: Recipe, index: int, seed: int) -> SampleOutcome:
    """Make sample ``index`` of a recipe: mesh, draw inputs, solve, extract outputs.

    Never raises for a failure of the sample itself: the exception is returned in
    ``outcome.failure`` (so that exceptions never need to travel between processes).

    Parameters
    ----------
    recipe : the validated recipe.
    index : sample index (>= 0); the sample id is :func:`sample_id` (index).
    seed : the dataset seed.

    Returns
    -------
    SampleOutcome with status ``"done"`` and a :class:`mesh.dataset.Sample` whose
    fields are (N,), (N, c) or (T, N) arrays in the recipe's units, or status
    ``"failed"``.
    """
    sid = sample_id(index)
    _import_solver(recipe)  # imports are not part of a sample's cost
    t0 = time.perf_counter()
    record: dict[str, Any] = {"index": index, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    t_mesh = t_solve = 0.0
    try:
        geo_seed, inputs_rng, field_rng = sample_streams(seed, index)
        record["geometry_seed"] = geo_seed
        inputs = recipe.draw_inputs(inputs_rng)
        record["inputs"] = inputs
        g = recipe.geometry
        from .geometry import make_geometry

        mesh, params = make_geometry(g.family, geo_seed, **g.maker_options())
        if g.length_scale != 1.0:
            mesh = mesh.with_points(mesh.points * g.length_scale)
        record.update(geometry=params, n_points=mesh.n_points)
        t_mesh = time.perf_counter() - t0
        _inject_failure(recipe, index)
        si = recipe.inputs_si(inputs)
        solved = solve_physics(mesh, recipe.physics, si, field_rng)
        t_solve = time.perf_counter() - t0 - t_mesh
        record["solver"] = solved.stats
        avail = solver_fields(recipe.physics, mesh.dim)
        missing = [k for k in [*recipe.outputs.fields, *recipe.input_fields] if k not in solved.fields]
        if missing:  # a solver that does not keep its documented catalogue
            raise CaseError(f"the solver did not return field(s) {', '.join(missing)}; "
                            f"returned: {', '.join(solved.fields)}; catalogue: {', '.join(avail)}")

        def conv(names: dict) -> dict[str, np.ndarray]:
            return {k: np.asarray(from_si(solved.fields[k], spec.unit), float) for k, spec in names.items()}

        sample = Sample(sid, mesh.without_data(), inputs, conv(recipe.outputs.fields),
                        output_scalars(recipe, mesh, solved.fields), conv(recipe.input_fields),
                        solved.times)
        record["scalars"] = sample.scalars
        total = time.perf_counter() - t0
        record["timings"] = {"mesh_s": t_mesh, "solve_s": t_solve, "total_s": total}
        return SampleOutcome(index, sid, "done", sample, None, record, t_mesh, t_solve, total)
    except Exception as exc:  # noqa: BLE001 -- any failure of this sample; the others go on
        total = time.perf_counter() - t0
        failure = SampleFailure(sid, index, type(exc).__name__, str(exc), traceback.format_exc())
        record["timings"] = {"mesh_s": t_mesh, "solve_s": t_solve, "total_s": total}
        record["failure"] = failure.summary()
        return SampleOutcome(index, sid, "failed", None, failure, record, t_mesh, t_solve, total)


# ------------------------------------------------------------------------ pipeline
@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client on ``scheduler`` if given, else on a local cluster of ``workers``
    single-threaded processes (gmsh is not thread-safe); closed on exit."""
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                           silence_logs=logging.ERROR)
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def run_samples(recipe: Recipe, todo: list[int], seed: int, workers: int | None,
                scheduler: str | None, label: str = "generate") -> Iterator[SampleOutcome]:
    """Mesh and solve samples ``todo`` of ``recipe``; yield each outcome as it completes.

    ``workers=0`` (and no scheduler) runs them in this process, one after the other;
    otherwise on Dask (see :func:`dask_client`). A task lost with its worker becomes a
    failed outcome, so one bad sample never stops the others. ``label`` prefixes the
    Dask task keys (``"generate"``, ``"validate"``).
    """
    if not todo:
        return
    if workers == 0 and scheduler is None:
        for i in todo:
            yield run_sample(recipe, i, seed)
        return
    from dask.distributed import as_completed

    with dask_client(workers, scheduler) as client:
        token = f"{os.getpid()}-{time.time_ns()}"
        futures = {client.submit(run_sample, recipe, i, seed, key=f"{label}-{sample_id(i)}-{token}",
                                 pure=False): i for i in todo}
        for fut in as_completed(futures):
            i = futures.pop(fut)
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 -- the task was lost (worker killed, ...)
                f = SampleFailure(sample_id(i), i, type(exc).__name__, str(exc))
                outcome = SampleOutcome(i, sample_id(i), "failed", failure=f,
                                        record={"index": i, "failure": f.summary()})
            fut.release()
            yield outcome


def _package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("mesh-surrogates", "numpy", "scipy", "scikit-fem", "gmsh", "meshio", "pydantic",
                 "dask", "distributed"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _write_json(path: Path, data: Any) -> None:
    def _w(tmp: Path) -> None:
        tmp.write_text(json.dumps(data, indent=1, default=_json_default))

    atomic_write(path, _w)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def check_resumable(out: str | os.PathLike, recipe: Recipe, seed: int) -> None:
    """Check that ``out`` is new, or was started by :func:`generate` with this recipe and seed.

    The recipe's ``debug`` section is ignored (re-running without injected failures
    completes a dataset).

    Raises
    ------
    GenerateError
        If ``out`` holds samples of another recipe or seed, or samples not made by
        :func:`generate`; the message says what differs.
    """
    out = Path(out)
    run = out / PROVENANCE_DIR / _RUN_FILE
    if run.exists():
        old = json.loads(run.read_text())
        diff = []
        if old.get("seed") != seed:
            diff.append(f"seed {old.get('seed')} (not {seed})")
        if old.get("recipe") != _recipe_content(recipe):
            diff.append(f"another recipe (its name: '{old.get('recipe', {}).get('name')}')")
        if diff:
            raise GenerateError(
                f"'{out}' holds samples generated with {' and '.join(diff)}; resuming would mix "
                f"them: choose a new --out folder or delete '{out}'")
    elif (out / "samples").is_dir() and any((out / "samples").iterdir()):
        raise GenerateError(f"'{out}' already holds samples that were not made by 'generate'; "
                            "choose a new --out folder")


def _recipe_content(recipe: Recipe) -> dict[str, Any]:
    return recipe.model_dump(mode="json", exclude={"debug"})


def _start_run(out: Path, recipe: Recipe, seed: int) -> None:
    """Check the folder (see :func:`check_resumable`) and record this run's recipe and seed."""
    check_resumable(out, recipe, seed)
    prov = out / PROVENANCE_DIR
    prov.mkdir(parents=True, exist_ok=True)
    for leftover in prov.glob(".tmp-*"):
        import shutil

        shutil.rmtree(leftover, ignore_errors=True)
    if not (prov / _RUN_FILE).exists():
        _write_json(prov / _RUN_FILE, {"seed": seed, "recipe": _recipe_content(recipe)})


def generate(
    recipe: str | os.PathLike | Recipe,
    n: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    test_fraction: float = 0.2,
    progress: Callable[[SampleOutcome], None] | None = None,
    name: str | None = None,
) -> Dataset:
    """Generate (or complete) a dataset of ``n`` random samples of a recipe.

    Parameters
    ----------
    recipe : a bundled recipe name (``"plate2d"``), a YAML path, or a :class:`Recipe`.
    n : number of samples, ids ``s00000`` ... (``n - 1``).
    out : dataset folder; re-running on it resumes (complete samples are kept).
    seed : dataset seed (>= 0): sample ``i`` depends on ``(seed, i)`` only.
    workers : number of local worker processes (None: one per core; 0: run here,
        sequentially, without Dask).
    scheduler : address of a running Dask scheduler (e.g. ``"tcp://host:8786"``) to use
        instead of a local cluster; excludes ``workers``.
    test_fraction : share of the written samples in the ``test`` split, in [0, 1).
    progress : called in this process once per sample, with its :class:`SampleOutcome`
        (status ``"skipped"`` for samples already on disk, then ``"done"`` or
        ``"failed"`` in completion order).
    name : dataset name (default: the recipe's name).

    Returns
    -------
    The :class:`mesh.dataset.Dataset` (splits ``train`` / ``test``). Failures are in
    ``dataset.manifest.provenance["failures"]``.

    Raises
    ------
    RecipeError
        Invalid recipe (naming the key), or :class:`SolverUnavailableError`.
    GenerateError
        Bad arguments, a folder made with another recipe or seed, or no sample at
        all could be made (the manifest is still written, with the failures).
    """
    recipe = load_recipe(recipe)
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise GenerateError(f"n must be an integer >= 1; got {n!r}")
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise GenerateError(f"seed must be an integer >= 0; got {seed!r}")
    if workers is not None and workers < 0:
        raise GenerateError(f"workers must be >= 0 (0: in this process); got {workers}")
    if workers is not None and scheduler is not None:
        raise GenerateError("give either workers (local cluster) or scheduler (address), not both")
    if not 0.0 <= test_fraction < 1.0:
        raise GenerateError(f"test_fraction must be in [0, 1); got {test_fraction}")
    check_solver_available(recipe)
    out = Path(out)
    t_start = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    _start_run(out, recipe, seed)
    writer = DatasetWriter(out, name or recipe.name, recipe.problem_definition(),
                           time_dependent=recipe.time_dependent, description=recipe.description.strip())
    done = writer.done()
    todo = [i for i in range(n) if sample_id(i) not in done]
    for i in range(n):
        if sample_id(i) in done and progress is not None:
            progress(SampleOutcome(i, sample_id(i), "skipped"))
    failures: list[SampleFailure] = []
    computed = 0
    for outcome in run_samples(recipe, todo, seed, workers, scheduler):
        if outcome.status == "done":
            try:
                _write_json(out / PROVENANCE_DIR / f"{outcome.id}.json", outcome.record)
                writer.add(outcome.sample)
                computed += 1
            except (DatasetError, MeshWriteError) as exc:
                outcome.status = "failed"
                outcome.failure = SampleFailure(outcome.id, outcome.index, type(exc).__name__, str(exc))
            outcome.sample = None  # written: free the memory
        if outcome.status == "failed":
            failures.append(outcome.failure)
            log.warning("sample %s failed: %s: %s", outcome.id, outcome.failure.error,
                        outcome.failure.message)
            log.debug("%s", outcome.failure.traceback)
        if progress is not None:
            progress(outcome)
    failures.sort(key=lambda f: f.index)
    written = sorted(writer.done())
    splits = split_ids(written, test_fraction, seed) if written else {"train": [], "test": []}
    wall = time.perf_counter() - t_start
    records = _collect_records(out, written)
    provenance = {
        "generator": "physics.generate",
        "recipe": recipe.model_dump(mode="json", exclude_defaults=False),
        "seed": int(seed),
        "n": int(n),
        "test_fraction": float(test_fraction),
        "seeding": "sample i: numpy SeedSequence(seed, spawn_key=(i,)).spawn(3) -> geometry seed, "
                   "inputs, random fields",
        "solver_settings": recipe.physics.model_dump(mode="json"),
        "packages": _package_versions(),
        "started": started,
        "wall_time_s": round(wall, 3),
        "parallel": {"workers": workers, "scheduler": scheduler},
        "counts": {"requested": int(n), "written": len(written), "computed_this_run": computed,
                   "resumed": len(done & {sample_id(i) for i in range(n)}),
                   "failed": len(failures)},
        "sample_cpu_time_s": round(sum(r.get("timings", {}).get("total_s", 0.0)
                                       for r in records.values()), 3),
        "failures": [f.summary() for f in failures],
        "samples_file": PROVENANCE_FILE,
    }
    _write_json(out / PROVENANCE_FILE, records)
    dataset = writer.finish(splits, provenance=provenance)
    if not written:
        first = failures[0] if failures else None
        raise GenerateError(f"no sample could be made ({len(failures)} failed"
                            + (f"; first: {first.id}: {first.error}: {first.message}" if first else "")
                            + f"); see '{out / 'dataset.yaml'}'")
    return dataset


def _collect_records(out: Path, ids: list[str]) -> dict[str, Any]:
    records = {}
    for sid in ids:
        p = out / PROVENANCE_DIR / f"{sid}.json"
        try:
            records[sid] = json.loads(p.read_text())
        except (OSError, ValueError):
            records[sid] = {"missing": f"no provenance record at {p.relative_to(out)}"}
    return records
