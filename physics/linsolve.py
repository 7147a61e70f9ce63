"""Linear solves with Dirichlet conditions: direct (SuperLU) or AMG-preconditioned CG.

The choice is automatic (direct below ``DIRECT_LIMITS[dim]`` free DOFs, where SuperLU
is fast and robust) and can be forced. The iterative path keeps every DOF (the
Dirichlet rows and columns are replaced by the identity, symmetrically), so the
nodal block structure survives and pyamg's smoothed aggregation can aggregate
whole nodes, with rigid body modes as its near-nullspace for elasticity.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .errors import ConvergenceError

#: Free-DOF count below which ``method="auto"`` factorises directly, by dimension.
#: Measured on 2 cores (benchmarks/bench_fem.py, tests/physics LE1 meshes): in 2D
#: SuperLU beats smoothed-aggregation CG up to at least 540k P2 DOFs (15 s vs 21 s);
#: in 3D its fill explodes (P1 tetra: 10k DOFs 1.8 s vs 1.2 s, 32k 22 s vs 2.0 s,
#: 98k 280 s vs 4.5 s).
DIRECT_LIMITS = {1: 10**9, 2: 400_000, 3: 10_000}
DIRECT_LIMIT = DIRECT_LIMITS[3]
METHODS = ("auto", "direct", "iterative")


def direct_limit(dim: int) -> int:
    """Free-DOF count below which ``method="auto"`` is direct for a ``dim``-D mesh."""
    return DIRECT_LIMITS.get(dim, DIRECT_LIMIT)


@dataclass
class SolveInfo:
    """How a linear system was solved.

    Attributes
    ----------
    n_dofs : number of unknowns, Dirichlet DOFs included.
    method : ``"direct"`` (SuperLU) or ``"iterative"`` (pyamg-SA preconditioned CG).
    iterations : CG iterations (summed over solves; 0 for direct).
    residual : last relative residual ||b - A x|| / ||b||.
    assembly_time, setup_time, solve_time : seconds (setup = factorisation or AMG hierarchy).
    """

    n_dofs: int
    method: str
    iterations: int = 0
    residual: float = 0.0
    assembly_time: float = 0.0
    setup_time: float = 0.0
    solve_time: float = 0.0

    @property
    def total_time(self) -> float:
        """Assembly + setup + solve, seconds."""
        return self.assembly_time + self.setup_time + self.solve_time


def blas_single_thread() -> contextlib.AbstractContextManager:
    """Context limiting BLAS to one thread (restored on exit).

    CG is a loop of level-1 BLAS calls on vectors of 1e4 to 1e6 entries; multi-threaded
    OpenBLAS makes each call wait on its threads, up to 100x slower on a busy machine.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def rigid_body_modes(doflocs: np.ndarray) -> np.ndarray:
    """Rigid body modes of a vector field with interleaved components.

    Parameters
    ----------
    doflocs : (dim, n) location of each DOF [m]; DOF ``j`` is component ``j % dim``.

    Returns
    -------
    (n, 3) in 2D (two translations, one rotation) or (n, 6) in 3D.
    """
    dim, n = doflocs.shape
    comp = np.arange(n) % dim
    x = doflocs - doflocs.mean(axis=1, keepdims=True)
    modes = [(comp == c).astype(float) for c in range(dim)]
    if dim == 2:
        modes.append(np.where(comp == 0, -x[1], x[0]))
    else:
        for a, b in ((0, 1), (1, 2), (2, 0)):  # rotation in the (a, b) plane
            modes.append(np.where(comp == a, -x[b], np.where(comp == b, x[a], 0.0)))
    return np.stack(modes, axis=1)


class DirichletSolver:
    """Solve ``A x = b`` with ``x[fixed] = g``, for one matrix and many right-hand sides.

    Parameters
    ----------
    A : (n, n) sparse symmetric positive (semi-)definite matrix.
    fixed : (m,) int indices of the Dirichlet DOFs.
    method : ``"auto"``, ``"direct"`` or ``"iterative"``.
    rtol : relative residual tolerance of CG.
    maxiter : CG iteration limit.
    near_nullspace : (n, k) candidate vectors for smoothed aggregation (rigid
        body modes for elasticity); None for scalar problems.
    blocksize : DOFs per node for aggregation (dim for interleaved vector fields).
    direct_limit : free-DOF count below which ``"auto"`` goes direct.

    Raises
    ------
    ConvergenceError
        From :meth:`solve`, when CG does not reach ``rtol`` in ``maxiter`` steps.
    """

    def __init__(self, A: sp.spmatrix, fixed: np.ndarray, *, method: str = "auto",
                 rtol: float = 1e-10, maxiter: int = 2000,
                 near_nullspace: np.ndarray | None = None, blocksize: int = 1,
                 direct_limit: int = DIRECT_LIMIT) -> None:
        if method not in METHODS:
            raise ValueError(f"solver method '{method}' is unknown; expected one of {METHODS}")
        n = A.shape[0]
        self.n = n
        self.fixed = np.unique(np.asarray(fixed, dtype=np.int64))
        mask = np.ones(n, bool)
        mask[self.fixed] = False
        self.free = np.nonzero(mask)[0]
        if method == "auto":
            method = "direct" if self.free.size < direct_limit else "iterative"
        self.info = SolveInfo(n_dofs=n, method=method)
        self.rtol, self.maxiter = rtol, maxiter
        self._x0: np.ndarray | None = None
        t0 = time.perf_counter()
        if method == "direct":
            self._setup_direct(sp.csr_matrix(A))
        else:
            self._setup_amg(A, mask, near_nullspace, blocksize)
        self.info.setup_time = time.perf_counter() - t0

    def _setup_direct(self, A: sp.csr_matrix) -> None:
        Af = A[self.free]
        self._A_fd = Af[:, self.fixed]
        A_ff = Af[:, self.free].tocsc()
        self._lu = spla.splu(A_ff, permc_spec="MMD_AT_PLUS_A",
                             options={"SymmetricMode": True})

    def _setup_amg(self, A: sp.spmatrix, mask: np.ndarray,
                   B: np.ndarray | None, blocksize: int) -> None:
        import pyamg

        d = mask.astype(float)
        self._d = d
        if blocksize > 1 and A.shape[0] % blocksize == 0:
            A = A if (sp.issparse(A) and A.format == "bsr"
                      and A.blocksize == (blocksize, blocksize)) else \
                sp.bsr_matrix(A, blocksize=(blocksize, blocksize))
            A0 = _eliminate_bsr(A, d)
        else:
            A = sp.csr_matrix(A)
            A0 = _eliminate_csr(A, d)
        self._A, self._A0 = A, A0
        if B is not None:
            B = B * d[:, None]
        # forward Gauss-Seidel before, backward after: a symmetric V-cycle (needed by CG)
        # at half the cost of symmetric sweeps; no candidate improvement (setup time)
        with blas_single_thread():  # its Lanczos/Arnoldi loops are level-1 BLAS too
            self._ml = pyamg.smoothed_aggregation_solver(
                A0, B=B, symmetry="hermitian", strength=("symmetric", {"theta": 0.0}),
                smooth=("jacobi", {"omega": 4.0 / 3.0, "degree": 1}), max_coarse=500,
                improve_candidates=None,
                presmoother=("gauss_seidel", {"sweep": "forward", "iterations": 1}),
                postsmoother=("gauss_seidel", {"sweep": "backward", "iterations": 1}),
            )
        self._M = self._ml.aspreconditioner(cycle="V")

    def solve(self, b: np.ndarray, g: np.ndarray | float = 0.0) -> np.ndarray:
        """Solution (n,) of ``A x = b`` on the free DOFs with ``x[fixed] = g``.

        Parameters
        ----------
        b : (n,) right-hand side (its entries on fixed DOFs are ignored).
        g : (m,) or scalar Dirichlet values, in the order of ``np.unique(fixed)``.
        """
        t0 = time.perf_counter()
        b = np.asarray(b, dtype=np.float64)
        x = np.zeros(self.n)
        x[self.fixed] = g
        if self.info.method == "direct":
            rhs = b[self.free] - self._A_fd @ x[self.fixed]
            x[self.free] = self._lu.solve(rhs)
        else:
            x = self._solve_cg(b, x)
        self.info.solve_time += time.perf_counter() - t0
        return x

    def _solve_cg(self, b: np.ndarray, xg: np.ndarray) -> np.ndarray:
        d = self._d
        rhs = d * (b - self._A @ xg) + (1.0 - d) * xg
        nb = np.linalg.norm(rhs)
        if nb == 0.0:
            return xg
        count = [0]

        def cb(_):
            count[0] += 1

        x0 = self._x0 if self._x0 is not None else xg
        x0 = d * x0 + (1.0 - d) * xg
        with blas_single_thread():
            x, flag = spla.cg(self._A0, rhs, x0=x0, rtol=self.rtol, atol=0.0,
                              maxiter=self.maxiter, M=self._M, callback=cb)
        res = float(np.linalg.norm(rhs - self._A0 @ x) / nb)
        self.info.iterations += count[0]
        self.info.residual = res
        if flag != 0 and res > 10 * self.rtol:
            raise ConvergenceError(
                f"CG did not converge: relative residual {res:.2e} after {count[0]} "
                f"iterations (rtol {self.rtol:.1e}, maxiter {self.maxiter}); try "
                "method='direct' or check the boundary conditions"
            )
        self._x0 = x
        return x


def _eliminate_csr(A: sp.csr_matrix, d: np.ndarray) -> sp.csr_matrix:
    """``A`` with the rows and columns where ``d == 0`` replaced by the identity."""
    A0 = A.copy()
    rows = np.repeat(np.arange(A0.shape[0]), np.diff(A0.indptr))
    A0.data *= d[rows] * d[A0.indices]
    A0 = (A0 + sp.diags(1.0 - d)).tocsr()
    A0.eliminate_zeros()
    return A0


def _eliminate_bsr(A: sp.bsr_matrix, d: np.ndarray) -> sp.bsr_matrix:
    """Block version of :func:`_eliminate_csr`, keeping the block structure."""
    bs = A.blocksize[0]
    nb = A.shape[0] // bs
    brow = np.repeat(np.arange(nb), np.diff(A.indptr))
    dn = d.reshape(nb, bs)
    data = A.data * dn[brow][:, :, None] * dn[A.indices][:, None, :]
    on_diag = np.nonzero(brow == A.indices)[0]
    if on_diag.size != nb:
        raise ValueError("matrix has missing diagonal blocks")
    ii = np.arange(bs)
    data[on_diag[:, None], ii, ii] += 1.0 - dn[brow[on_diag]]
    return sp.bsr_matrix((data, A.indices.copy(), A.indptr.copy()), shape=A.shape)


def solve_with_constraints(A: sp.spmatrix, b: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Solve ``A x = b`` subject to ``C.T x = 0`` by Lagrange multipliers (direct).

    Used for pure-traction elasticity: ``C`` (n, k) holds the rigid body modes,
    so the solution is the one orthogonal to them. The loads must be balanced.

    Returns
    -------
    (n,) solution.
    """
    n, k = C.shape
    Cs = sp.csr_matrix(C)
    K = sp.bmat([[A, Cs], [Cs.T, None]], format="csc")
    x = spla.spsolve(K, np.concatenate([b, np.zeros(k)]))
    return x[:n]
