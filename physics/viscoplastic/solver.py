"""Global Newton with the consistent tangent and adaptive time stepping: :func:`solve_viscoplastic`."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from mesh import Mesh
from mesh.types import FloatArray, IntArray

from ..constitutive import COMPONENTS, MANDEL_TO_TENSOR, ViscoplasticMaterial, von_mises
from ..errors import CaseError, ConvergenceError
from .discrete import DiscreteLoading
from .loading import ViscoplasticLoading
from .model import PointResponse, QPState, ViscoplasticModel

__all__ = ["SolverOptions", "StepRecord", "ViscoplasticResult", "solve_viscoplastic"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class SolverOptions:
    """Newton and time-step control of :func:`solve_viscoplastic`.

    Parameters
    ----------
    rtol : convergence when ``||R_free|| <= rtol * max(F_scale, ||F_ext||)``, with
        ``F_scale = ||sum_e sum_q w_q |sigma_q| |grad phi_a|||`` the nodal forces of the
        stress magnitude (finite for self-equilibrated thermal stresses, unlike ``||F_int||``).
    max_iter : Newton iterations allowed per step before the step is cut.
    divergence_ratio : a step is abandoned when the residual grows by this factor.
    dt_min, dt_max : bounds of the time step, s (None: ``1e-8 t_end`` and ``t_end``).
    cut : factor applied to a failed step (0 < cut < 1).
    grow : factor applied after an easy step (>= 1).
    easy_iterations : a converged step with at most this many iterations is easy.
    dp_max : largest increment of p allowed in a step (None: no limit); larger is cut.
    local_rtol, local_max_iter : tolerance and cap of the point-wise Newton.
    linear_solver : ``"direct"`` (SuperLU) or ``"amg"`` (CG preconditioned by pyamg
        smoothed aggregation with rigid-body modes, reused across iterations; for large
        3D meshes).
    """

    rtol: float = 1e-8
    max_iter: int = 15
    divergence_ratio: float = 1e4
    dt_min: Optional[float] = None
    dt_max: Optional[float] = None
    cut: float = 0.5
    grow: float = 1.5
    easy_iterations: int = 4
    dp_max: Optional[float] = None
    local_rtol: float = 1e-12
    local_max_iter: int = 60
    linear_solver: str = "direct"

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> CaseError:
            value = getattr(self, name)
            return CaseError(f"SolverOptions.{name} must be {expected}; got {value!r}")

        if not 0 < self.rtol < 1:
            raise bad("rtol", "in (0, 1)")
        if self.max_iter < 1:
            raise bad("max_iter", ">= 1")
        if not 0 < self.cut < 1:
            raise bad("cut", "in (0, 1)")
        if self.grow < 1:
            raise bad("grow", ">= 1")
        if self.divergence_ratio <= 1:
            raise bad("divergence_ratio", "> 1")
        if self.linear_solver not in ("direct", "amg"):
            raise bad("linear_solver", "'direct' or 'amg'")
        for name in ("dt_min", "dt_max", "dp_max"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise bad(name, "> 0 or None")




@dataclass(frozen=True)
class StepRecord:
    """One attempted time step.

    Attributes
    ----------
    step : index of the accepted step this attempt tried to make (0-based).
    t : time at the start of the step, s.
    dt : step size tried, s.
    converged : True if the step was accepted.
    iterations : Newton iterations (linear solves) made.
    residuals : relative residual norm ``||R_free|| / max(F_scale, ||F_ext||)`` at each
        evaluation; the first is at the start-of-step displacement (with the old Dirichlet
        values when they change over the step).
    reason : why the attempt failed ('' when it converged).
    """

    step: int
    t: float
    dt: float
    converged: bool
    iterations: int
    residuals: tuple[float, ...]
    reason: str = ""


@dataclass(frozen=True, eq=False)
class ViscoplasticResult:
    """Output of :func:`solve_viscoplastic`.

    Attributes
    ----------
    times : (n_out,) output times, s.
    fields : name -> (n_out, N) nodal values: ``U1, U2(, U3)`` (m), stresses ``sig11,
        sig22, sig33, sig12`` (+ ``sig23, sig13`` in 3D) (Pa), ``p`` (cumulated plastic
        strain), ``von_mises`` (Pa), and ``T`` (K) with a thermal load. Stresses, ``p``
        and von Mises are projected from the quadrature points.
    displacement : (n_out, n_dofs) displacement dofs (node-major, scikit-fem order), m.
    qp : name -> (n_out, n_el, n_qp, ...) quadrature values ``p``, ``eps_p``, ``stress``
        (Mandel) when requested with ``keep_qp=True``; else empty.
    records : every attempted step, in order (accepted and cut).
    """

    times: FloatArray
    fields: dict[str, FloatArray]
    displacement: FloatArray
    qp: dict[str, FloatArray] = field(default_factory=dict)
    records: tuple[StepRecord, ...] = ()

    @property
    def n_steps(self) -> int:
        """Accepted time steps."""
        return sum(r.converged for r in self.records)

    @property
    def n_cuts(self) -> int:
        """Attempts that failed and were retried with a smaller step."""
        return sum(not r.converged for r in self.records)

    @property
    def newton_iterations(self) -> int:
        """Newton iterations over all attempts."""
        return sum(r.iterations for r in self.records)

    def at(self, i: int) -> dict[str, FloatArray]:
        """Nodal fields at output ``i``: name -> (N,)."""
        return {k: v[i] for k, v in self.fields.items()}

    def to_mesh(self, mesh: Mesh, i: int = -1) -> Mesh:
        """``mesh`` with the fields of output ``i`` as point data."""
        return mesh.with_point_data(**self.at(i))


@dataclass
class _Attempt:
    converged: bool
    u: FloatArray
    response: Optional[PointResponse]
    residuals: list[float]
    iterations: int
    reason: str = ""


def _newton_step(
    model: ViscoplasticModel,
    loads: DiscreteLoading,
    u_old: FloatArray,
    state_old: QPState,
    t_new: float,
    dt: float,
    opts: SolverOptions,
    solver: "_LinearSolver",
) -> _Attempt:
    """Backward-Euler step ``t_new - dt -> t_new`` by Newton with the consistent tangent."""
    D, F = loads.dirichlet_dofs, loads.free_dofs
    f_ext = loads.external_force(t_new)
    T_qp = loads.temperature_at_points(t_new)
    u = u_old.copy()
    du_D = loads.dirichlet_values(t_new) - u_old[D]
    lifted = bool(np.any(du_D != 0))
    history: list[float] = []
    it = 0
    while True:
        res = model.internal_forces(u, state_old, T_qp, dt, local_rtol=opts.local_rtol,
                                    local_max_iter=opts.local_max_iter)
        resp = res.response
        if not resp.converged.all():
            n_bad = int((~resp.converged).sum())
            return _Attempt(False, u, None, history, it,
                            f"point-wise integration did not converge at {n_bad} points")
        r = res.force - f_ext
        ref = max(res.scale, np.linalg.norm(f_ext))
        rn = np.linalg.norm(r[F])
        rel = rn / ref if ref > 0 else (0.0 if rn == 0 else np.inf)
        history.append(float(rel))
        if not np.isfinite(rel):
            return _Attempt(False, u, None, history, it, "residual is not finite")
        first_true = 1 if lifted else 0
        if it > first_true and rel > opts.divergence_ratio * history[first_true]:
            return _Attempt(False, u, None, history, it,
                            f"residual grew by more than {opts.divergence_ratio:g}")
        if rel <= opts.rtol and not (lifted and it == 0):
            dp_max = float(resp.dp.max()) if resp.dp.size else 0.0
            if opts.dp_max is not None and dp_max > opts.dp_max:
                return _Attempt(False, u, None, history, it,
                                f"increment of p {dp_max:.3g} exceeds dp_max {opts.dp_max:.3g}")
            return _Attempt(True, u, resp, history, it)
        if it >= opts.max_iter:
            return _Attempt(False, u, None, history, it,
                            f"no convergence in {opts.max_iter} iterations")
        K = res.stiffness
        rhs = -r[F]
        if lifted and it == 0:
            rhs -= K[F][:, D] @ du_D
        try:
            dx = solver(K[F][:, F], rhs)
        except RuntimeError as exc:  # singular factor
            return _Attempt(False, u, None, history, it, f"linear solve failed: {exc}")
        if not np.all(np.isfinite(dx)):
            return _Attempt(False, u, None, history, it, "linear solve gave non-finite values")
        u[F] += dx
        if lifted and it == 0:
            u[D] += du_D
        it += 1


class _LinearSolver:
    """Solver of the tangent systems ``K_FF x = b`` of one solve.

    ``"direct"``: SuperLU with a symmetric ordering. ``"amg"``: conjugate gradients
    preconditioned by a smoothed-aggregation hierarchy (rigid-body modes as near null
    space) built on the first tangent and reused (the tangents stay spectrally close);
    it is rebuilt when CG needs too many iterations.
    """

    def __init__(self, method: str, model: ViscoplasticModel, free: IntArray) -> None:
        self.method, self.model, self.free = method, model, free
        self._precond = None

    def __call__(self, A: sp.csr_matrix, b: FloatArray) -> FloatArray:
        with np.errstate(all="ignore"):
            if self.method == "direct":
                return spla.spsolve(A.tocsc(), b, permc_spec="MMD_AT_PLUS_A")
            for attempt in range(2):
                if self._precond is None:
                    self._precond = self._build(A)
                n_it = [0]

                def count(_):
                    n_it[0] += 1

                x, info = spla.cg(A, b, rtol=1e-10, atol=0.0, maxiter=300,
                                  M=self._precond, callback=count)
                if info == 0 and n_it[0] < 100:
                    return x
                self._precond = None  # stale hierarchy: rebuild on the current tangent
            if info != 0:
                raise RuntimeError(f"CG did not converge (info={info})")
            return x

    def _build(self, A: sp.csr_matrix):
        import pyamg

        x = self.model.basis.doflocs.T  # (n_scalar, dim)
        d = self.model.dim
        modes = _rigid_body_modes(x, d)[self.free]
        ml = pyamg.smoothed_aggregation_solver(A.tocsr(), B=modes, symmetry="symmetric")
        return ml.aspreconditioner(cycle="V")


def _rigid_body_modes(x: FloatArray, dim: int) -> FloatArray:
    """Rigid-body displacements at nodes ``x`` (n, dim): (n * dim, 3 or 6), node-major."""
    n = len(x)
    if dim == 2:
        B = np.zeros((n, 2, 3))
        B[:, 0, 0] = B[:, 1, 1] = 1.0
        B[:, 0, 2], B[:, 1, 2] = -x[:, 1], x[:, 0]
    else:
        B = np.zeros((n, 3, 6))
        B[:, [0, 1, 2], [0, 1, 2]] = 1.0
        for k, (i, j) in enumerate(((0, 1), (1, 2), (2, 0))):
            B[:, i, 3 + k], B[:, j, 3 + k] = -x[:, j], x[:, i]
    return B.reshape(n * dim, -1)


def _output_fields(
    model: ViscoplasticModel, u: FloatArray, resp: PointResponse, T: Optional[FloatArray]
) -> dict[str, FloatArray]:
    d = model.dim
    out = {f"U{i + 1}": model.dofs_to_nodal(u[i::d]) for i in range(d)}
    comps = (0, 1, 2, 3) if d == 2 else tuple(range(6))
    stress = resp.stress[..., list(comps)] * MANDEL_TO_TENSOR[list(comps)]
    qp = np.concatenate([stress, resp.state.p[..., None], von_mises(resp.stress)[..., None]], -1)
    nodal = model.project(qp)
    for k, c in enumerate(comps):
        out[f"sig{COMPONENTS[c]}"] = nodal[:, k]
    out["p"] = nodal[:, len(comps)]
    out["von_mises"] = nodal[:, len(comps) + 1]
    if T is not None:
        out["T"] = np.asarray(T, float).copy()
    return out


def _output_times(times: Union[float, Sequence[float]]) -> FloatArray:
    ts = np.atleast_1d(np.asarray(times, float)).ravel()
    if ts.size == 0 or not np.all(np.isfinite(ts)) or ts[0] <= 0 or np.any(np.diff(ts) <= 0):
        raise CaseError(
            f"output times must be finite, > 0 and strictly increasing; got {ts.tolist()}")
    return ts


def solve_viscoplastic(
    mesh: Mesh,
    material: ViscoplasticMaterial,
    loading: ViscoplasticLoading,
    times: Union[float, Sequence[float]],
    *,
    dt0: Optional[float] = None,
    options: Optional[SolverOptions] = None,
    order: Optional[int] = None,
    keep_qp: bool = False,
    model: Optional[ViscoplasticModel] = None,
) -> ViscoplasticResult:
    """Quasi-static elasto-viscoplastic evolution from a virgin state at ``t = 0``.

    Backward Euler in time; each step is solved by Newton's method with the consistent
    tangent until the relative residual is below ``options.rtol``. A step that fails
    (divergence, too many iterations, point-wise failure, ``dp_max`` exceeded) is retried
    with ``dt * cut``; a step that converged in at most ``easy_iterations`` lets the next
    one grow by ``grow``. Steps land exactly on the output times.

    Parameters
    ----------
    mesh : the mesh (2D: plane strain; 3D).
    material : constitutive parameters.
    loading : Dirichlet conditions, surface loads, temperature, body force.
    times : output times (s), increasing and > 0; a single value is ``t_end``.
    dt0 : first time step, s (default ``min(times[0], t_end / 10)``).
    options : Newton and step control.
    order : element order (default: that of the cells).
    keep_qp : also return ``p``, ``eps_p`` and ``stress`` at the quadrature points.
    model : a prebuilt :class:`ViscoplasticModel` of ``mesh`` and ``material`` (reuse).

    Returns
    -------
    ViscoplasticResult
        Nodal fields at every output time and the record of every attempted step.

    Raises
    ------
    ConvergenceError
        When a step fails with ``dt`` already at ``dt_min``; the message gives the step,
        the time and the residual history, and the error carries ``step``, ``time``,
        ``dt`` and ``records``. Nothing is written anywhere.
    CaseError, GroupError, IllPosedError
        For invalid parameters, unknown groups or no Dirichlet condition.

    Examples
    --------
    >>> import skfem
    >>> from mesh import CellBlock
    >>> sk = skfem.MeshTri.init_tensor(np.linspace(0, 1, 3), np.linspace(0, 1, 3))
    >>> m = Mesh(sk.p.T, [CellBlock("triangle", sk.t.T)],
    ...          point_sets={"left": np.flatnonzero(sk.p[0] == 0),
    ...                      "right": np.flatnonzero(sk.p[0] == 1)})
    >>> mat = ViscoplasticMaterial(young=200e9, poisson=0.3, sigma_y=200e6, K=100e6, n=5)
    >>> ramp = LoadCurve((0.0, 1.0), (0.0, 1.0))
    >>> case = ViscoplasticLoading((Dirichlet("left", (0, 1)),
    ...                             Dirichlet("right", (0,), 0.01, ramp)))
    >>> res = solve_viscoplastic(m, mat, case, [0.5, 1.0])
    >>> res.fields["p"].shape, bool(res.fields["p"][-1].max() > 0)
    ((2, 9), True)
    """
    opts = options or SolverOptions()
    out_times = _output_times(times)
    t_end = float(out_times[-1])
    dt_min = opts.dt_min if opts.dt_min is not None else 1e-8 * t_end
    dt_max = opts.dt_max if opts.dt_max is not None else t_end
    dt = float(dt0) if dt0 is not None else min(float(out_times[0]), t_end / 10)
    if not dt > 0:
        raise CaseError(f"dt0 must be > 0; got {dt0!r}")
    if model is None:
        model = ViscoplasticModel(mesh, material, order=order)
    loads = DiscreteLoading(model, loading)
    solver = _LinearSolver(opts.linear_solver, model, loads.free_dofs)

    u = np.zeros(model.n_dofs)
    state = QPState.zeros(model.n_elements, model.n_qp)
    t, step, k_out = 0.0, 0, 0
    after_cut = False
    records: list[StepRecord] = []
    snaps: list[dict[str, FloatArray]] = []
    disp, qps = [], []
    while k_out < len(out_times):
        target = out_times[k_out]
        dt_try = min(dt, dt_max, target - t)
        if target - (t + dt_try) < 1e-9 * t_end:  # land exactly on the output time
            dt_try = target - t
        att = _newton_step(model, loads, u, state, t + dt_try, dt_try, opts, solver)
        records.append(StepRecord(step, float(t), float(dt_try), att.converged, att.iterations,
                                  tuple(att.residuals), att.reason))
        if not att.converged:
            log.debug("step %d t=%g dt=%g failed: %s", step, t, dt_try, att.reason)
            dt, after_cut = dt_try * opts.cut, True
            if dt < dt_min:
                raise _convergence_error(step, t, dt_try, dt_min, att, records)
            continue
        log.debug("step %d t=%g dt=%g: %d iterations", step, t, dt_try, att.iterations)
        u, state = att.u, att.response.state
        t = target if dt_try == target - t else t + dt_try
        step += 1
        if att.iterations <= opts.easy_iterations and not after_cut:
            dt = min(max(dt, dt_try) * opts.grow, dt_max)
        after_cut = False
        if t >= target:
            snaps.append(_output_fields(model, u, att.response, loads.temperature(t)))
            disp.append(u.copy())
            if keep_qp:
                qps.append((state.p, state.eps_p, att.response.stress))
            k_out += 1
    fields = {k: np.stack([s[k] for s in snaps]) for k in snaps[0]}
    qp = {}
    if keep_qp:
        names = ("p", "eps_p", "stress")
        qp = {name: np.stack([q[i] for q in qps]) for i, name in enumerate(names)}
    return ViscoplasticResult(out_times, fields, np.stack(disp), qp, tuple(records))


def _convergence_error(
    step: int, t: float, dt: float, dt_min: float, att: _Attempt, records: list[StepRecord]
) -> ConvergenceError:
    hist = ", ".join(f"{r:.3e}" for r in att.residuals)
    err = ConvergenceError(
        f"viscoplastic solve failed at step {step} (t = {t:.6g} s, dt = {dt:.3g} s; the next cut "
        f"would go below dt_min = {dt_min:.3g} s): {att.reason}; relative residual history "
        f"of the last attempt: [{hist}]"
    )
    err.step, err.time, err.dt = step, float(t), float(dt)
    err.residuals = tuple(att.residuals)
    err.records = tuple(records)
    return err
