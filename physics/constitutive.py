"""Point-wise small-strain elasto-viscoplastic law (von Mises, isotropic hardening, Norton flow).

The law, at one integration point, with temperature ``T`` (K):

- strain split ``eps = eps_e + eps_p + eps_th``, ``eps_th = alpha(T) (T - T_ref) 1``;
- isotropic linear elasticity ``sigma = C(T) : eps_e`` (``E(T)``, ``nu(T)``);
- von Mises yield with isotropic hardening
  ``R(p) = H p + R_inf (1 - exp(-b p))`` (linear, Voce, or both);
- Norton flow ``dp/dt = <(sigma_vm - R(p) - sigma_y) / K>^n``,
  ``d eps_p / dt = dp/dt * 3/2 s / sigma_vm``. ``K = 0`` gives rate-independent
  plasticity (the consistency condition ``sigma_vm = sigma_y + R(p)``).

Every parameter may be a constant or a :class:`TemperatureTable` (piecewise linear in
``T``, held constant outside the table). Units are SI: Pa, K, s, 1/K.

Tensors are stored in **Mandel notation**, 6-vectors in the order
``(11, 22, 33, 12, 23, 13)`` with the shear components multiplied by ``sqrt(2)``, so
that double contractions are plain dot products and the tangent is a symmetric
6 x 6 matrix. :func:`integrate` is a backward-Euler radial return with a scalar,
bracket-safeguarded Newton on ``Delta p`` and returns the consistent (algorithmic)
tangent. It is vectorised over any number of points.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Union

import numpy as np
from numpy.typing import NDArray

from mesh.types import FloatArray

from .errors import CaseError

SQRT2 = float(np.sqrt(2.0))
#: Mandel identity (6,): the second-order identity tensor.
ONE = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
#: Deviatoric projector (6, 6) in Mandel notation.
P_DEV = np.eye(6) - np.outer(ONE, ONE) / 3.0
#: Names of the Mandel components, in storage order.
COMPONENTS = ("11", "22", "33", "12", "23", "13")
#: Mandel -> tensor scaling of each component (1 on the diagonal, 1/sqrt(2) on shears).
MANDEL_TO_TENSOR = np.array([1.0, 1.0, 1.0, 1 / SQRT2, 1 / SQRT2, 1 / SQRT2])


@dataclass(frozen=True)
class TemperatureTable:
    """A parameter tabulated against temperature, interpolated piecewise linearly.

    Outside ``[temperatures[0], temperatures[-1]]`` the end values are held
    (no extrapolation).

    Parameters
    ----------
    temperatures : (m,) strictly increasing temperatures, K.
    values : (m,) parameter values at those temperatures, in the parameter's unit.

    Examples
    --------
    >>> E = TemperatureTable((293.0, 893.0), (200e9, 150e9))
    >>> float(E(593.0))
    175000000000.0
    """

    temperatures: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        t = np.asarray(self.temperatures, dtype=float).ravel()
        v = np.asarray(self.values, dtype=float).ravel()
        if t.size == 0 or t.size != v.size:
            raise CaseError(
                f"TemperatureTable needs as many temperatures as values (at least one); got "
                f"{t.size} temperatures and {v.size} values"
            )
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
            raise CaseError("TemperatureTable temperatures and values must be finite")
        if np.any(np.diff(t) <= 0):
            raise CaseError(
                f"TemperatureTable temperatures must be strictly increasing; got {t.tolist()}"
            )
        object.__setattr__(self, "temperatures", tuple(t.tolist()))
        object.__setattr__(self, "values", tuple(v.tolist()))

    def __call__(self, T: FloatArray | float) -> FloatArray:
        """Values at temperatures ``T`` (any shape, K); same shape as ``T``."""
        return np.interp(np.asarray(T, dtype=float), self.temperatures, self.values)

    @property
    def min(self) -> float:
        """Smallest tabulated value (the table's range is the range of its values)."""
        return min(self.values)

    @property
    def max(self) -> float:
        """Largest tabulated value."""
        return max(self.values)


Param = Union[float, TemperatureTable]


def evaluate(param: Param, T: FloatArray) -> FloatArray:
    """Value of a parameter at temperatures ``T``: an array of the shape of ``T``."""
    if isinstance(param, TemperatureTable):
        return param(T)
    return np.full(np.shape(T), float(param))


def _range(param: Param) -> tuple[float, float]:
    if isinstance(param, TemperatureTable):
        return param.min, param.max
    return float(param), float(param)


@dataclass(frozen=True)
class ViscoplasticMaterial:
    """Parameters of the elasto-viscoplastic law (SI units); each may depend on temperature.

    Parameters
    ----------
    young : Young's modulus E, Pa (> 0).
    poisson : Poisson's ratio nu (-1 < nu < 0.5).
    sigma_y : initial yield stress, Pa (>= 0).
    K : Norton drag stress, Pa s^(1/n) (>= 0; 0 means rate-independent plasticity).
    n : Norton exponent (>= 1).
    H : linear isotropic hardening modulus, Pa (>= 0).
    R_inf : Voce saturation stress, Pa (>= 0).
    b : Voce rate (dimensionless, > 0 when ``R_inf > 0``).
    alpha : secant thermal expansion coefficient, 1/K.
    T_ref : temperature of zero thermal strain, K.

    Raises
    ------
    CaseError
        Naming the parameter and the value out of range.

    Examples
    --------
    >>> steel = ViscoplasticMaterial(young=200e9, poisson=0.3, sigma_y=250e6, K=50e6, n=5.0,
    ...                              H=1e9)
    >>> steel.is_rate_independent
    False
    """

    young: Param
    poisson: Param
    sigma_y: Param
    K: Param = 0.0
    n: Param = 1.0
    H: Param = 0.0
    R_inf: Param = 0.0
    b: Param = 0.0
    alpha: Param = 0.0
    T_ref: float = 293.15

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "T_ref":
                if not np.isfinite(float(v)):
                    raise CaseError(f"material parameter 'T_ref' must be finite; got {v!r}")
                continue
            if not isinstance(v, TemperatureTable):
                try:
                    fv = float(v)
                except (TypeError, ValueError):
                    raise CaseError(
                        f"material parameter '{f.name}' must be a number or a "
                        f"TemperatureTable; got {v!r}"
                    ) from None
                if not np.isfinite(fv):
                    raise CaseError(f"material parameter '{f.name}' must be finite; got {v!r}")
                object.__setattr__(self, f.name, fv)
        checks = {
            "young": (lambda lo, hi: lo > 0, "> 0"),
            "poisson": (lambda lo, hi: lo > -1 and hi < 0.5, "in (-1, 0.5)"),
            "sigma_y": (lambda lo, hi: lo >= 0, ">= 0"),
            "K": (lambda lo, hi: lo >= 0, ">= 0"),
            "n": (lambda lo, hi: lo >= 1, ">= 1"),
            "H": (lambda lo, hi: lo >= 0, ">= 0"),
            "R_inf": (lambda lo, hi: lo >= 0, ">= 0"),
            "b": (lambda lo, hi: lo >= 0, ">= 0"),
        }
        for name, (ok, expected) in checks.items():
            lo, hi = _range(getattr(self, name))
            if not ok(lo, hi):
                bad = lo if not ok(lo, lo) else hi
                raise CaseError(f"material parameter '{name}' must be {expected}; got {bad!r}")
        if _range(self.R_inf)[1] > 0 and _range(self.b)[0] <= 0:
            raise CaseError(
                f"material parameter 'b' must be > 0 when R_inf > 0 (Voce hardening); "
                f"got b={self.b!r}"
            )

    @property
    def is_rate_independent(self) -> bool:
        """True when ``K`` is identically zero (classical plasticity)."""
        return _range(self.K) == (0.0, 0.0)

    def at(self, T: FloatArray) -> "PointParameters":
        """Every parameter evaluated at temperatures ``T`` (any shape, K)."""
        T = np.asarray(T, dtype=float)
        E, nu = evaluate(self.young, T), evaluate(self.poisson, T)
        return PointParameters(
            G=E / (2 * (1 + nu)),
            bulk=E / (3 * (1 - 2 * nu)),
            sigma_y=evaluate(self.sigma_y, T),
            K=evaluate(self.K, T),
            n=evaluate(self.n, T),
            H=evaluate(self.H, T),
            R_inf=evaluate(self.R_inf, T),
            b=evaluate(self.b, T),
            eps_th=evaluate(self.alpha, T) * (T - self.T_ref),
        )

    def hardening(self, p: FloatArray, T: FloatArray | float | None = None) -> FloatArray:
        """Isotropic hardening stress R(p) at temperature ``T`` (default ``T_ref``), Pa."""
        T = self.T_ref if T is None else T
        par = self.at(np.broadcast_to(np.asarray(T, float), np.shape(p)))
        return _hardening(np.asarray(p, float), par)[0]


@dataclass(frozen=True, eq=False)
class PointParameters:
    """Material parameters evaluated at a set of points; every field has the points' shape.

    ``G`` shear modulus (Pa), ``bulk`` bulk modulus (Pa), ``eps_th`` isotropic thermal
    strain (dimensionless); the others as in :class:`ViscoplasticMaterial`.
    """

    G: FloatArray
    bulk: FloatArray
    sigma_y: FloatArray
    K: FloatArray
    n: FloatArray
    H: FloatArray
    R_inf: FloatArray
    b: FloatArray
    eps_th: FloatArray


@dataclass(frozen=True, eq=False)
class LocalUpdate:
    """Result of :func:`integrate` at P points.

    Attributes
    ----------
    stress : (P, 6) Cauchy stress, Mandel notation, Pa.
    eps_p : (P, 6) plastic strain at the end of the step, Mandel notation.
    p : (P,) cumulated plastic strain at the end of the step.
    dp : (P,) its increment over the step.
    tangent : (P, 6, 6) consistent tangent d stress / d eps, Mandel notation, Pa.
    converged : (P,) bool, False where the scalar Newton did not converge.
    iterations : largest number of scalar Newton iterations used.
    """

    stress: FloatArray
    eps_p: FloatArray
    p: FloatArray
    dp: FloatArray
    tangent: FloatArray
    converged: NDArray[np.bool_]
    iterations: int


def von_mises(stress: FloatArray) -> FloatArray:
    """Von Mises equivalent stress of Mandel stresses ``(..., 6)``: ``(...)``, Pa."""
    s = stress @ P_DEV
    return np.sqrt(1.5 * np.einsum("...i,...i->...", s, s))


def to_tensor_components(v: FloatArray) -> FloatArray:
    """Mandel ``(..., 6)`` to plain tensor components ``(11, 22, 33, 12, 23, 13)``."""
    return v * MANDEL_TO_TENSOR


def elastic_tangent(G: FloatArray, bulk: FloatArray) -> FloatArray:
    """Isotropic elasticity tensor in Mandel notation: ``(..., 6, 6)`` for moduli ``(...)``, Pa."""
    G, bulk = np.asarray(G, float), np.asarray(bulk, float)
    vol = np.outer(ONE, ONE)
    return bulk[..., None, None] * vol + 2 * G[..., None, None] * P_DEV


def _hardening(p: FloatArray, par: PointParameters) -> tuple[FloatArray, FloatArray]:
    """R(p) and dR/dp, Pa."""
    e = np.exp(-par.b * p)
    return par.H * p + par.R_inf * (1 - e), par.H + par.R_inf * par.b * e


def _dp_of(z: FloatArray, par: PointParameters, dt: float) -> tuple[FloatArray, FloatArray]:
    """``dp`` and ``d dp / dz`` for the local unknown ``z``.

    With ``K > 0`` the unknown is the normalised overstress ``z = (dp/dt)^(1/n)``
    (``dp = dt z^n``), which keeps the scalar equation smooth however small ``dp`` is;
    with ``K = 0`` it is ``dp`` itself.
    """
    visc = par.K > 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        x = np.where(visc, dt * z**par.n, z)
        dx = np.where(visc, dt * par.n * z ** (par.n - 1), 1.0)
    return x, dx


def integrate(
    eps: FloatArray,
    eps_p_old: FloatArray,
    p_old: FloatArray,
    T: FloatArray,
    dt: float,
    material: ViscoplasticMaterial,
    *,
    rtol: float = 1e-12,
    max_iter: int = 60,
    tangent: bool = True,
) -> LocalUpdate:
    """Backward-Euler update of the viscoplastic law at P points, with its consistent tangent.

    Radial return: the elastic trial state is ``C(T) : (eps - eps_p_old - eps_th(T))``;
    where its von Mises stress exceeds ``sigma_y + R(p_old)`` the scalar equation

    ``g(dp) = q_trial - 3 G dp - R(p_old + dp) - sigma_y - K (dp/dt)^(1/n) = 0``

    is solved by Newton's method safeguarded by bisection on ``[0, f_trial / 3G]``
    (``g`` is convex and decreasing there, so the bracket always holds the root).

    Parameters
    ----------
    eps : (P, 6) total strain at the end of the step, Mandel notation.
    eps_p_old : (P, 6) plastic strain at the start of the step, Mandel notation.
    p_old : (P,) cumulated plastic strain at the start of the step.
    T : (P,) temperature at the end of the step, K.
    dt : time step, s (> 0).
    material : the law's parameters.
    rtol : tolerance of ``|g|`` relative to the trial von Mises stress.
    max_iter : cap on the scalar Newton iterations.
    tangent : compute the consistent tangent (otherwise ``tangent`` is the elastic one).

    Returns
    -------
    LocalUpdate
        Stresses, internal variables, consistent tangent and convergence flags.

    Examples
    --------
    >>> mat = ViscoplasticMaterial(young=200e9, poisson=0.3, sigma_y=200e6, H=2e9)
    >>> eps = np.array([[0.01, -0.005, -0.005, 0, 0, 0]])
    >>> up = integrate(eps, np.zeros((1, 6)), np.zeros(1), np.full(1, 293.15), 1.0, mat)
    >>> bool(up.p[0] > 0)
    True
    """
    if not dt > 0:
        raise ValueError(f"time step dt must be > 0; got {dt!r}")
    eps = np.asarray(eps, float).reshape(-1, 6)
    npt = eps.shape[0]
    eps_p_old = np.asarray(eps_p_old, float).reshape(npt, 6)
    p_old = np.asarray(p_old, float).reshape(npt)
    par = material.at(np.asarray(T, float).reshape(npt))
    G, bulk = par.G, par.bulk

    ee = eps - eps_p_old - par.eps_th[:, None] * ONE
    s_tr = 2 * G[:, None] * (ee @ P_DEV)
    vol = bulk * (ee @ ONE)
    norm_s = np.sqrt(np.einsum("pi,pi->p", s_tr, s_tr))
    q_tr = np.sqrt(1.5) * norm_s
    R0, _ = _hardening(p_old, par)
    f_tr = q_tr - R0 - par.sigma_y
    plastic = f_tr > rtol * np.maximum(q_tr, par.sigma_y + R0)

    dp = np.zeros(npt)
    converged = np.ones(npt, dtype=bool)
    iterations = 0
    if plastic.any():
        sub = _subset(par, plastic)
        dp_sub, conv_sub, iterations = _solve_dp(
            q_tr[plastic], f_tr[plastic], p_old[plastic], sub, dt, rtol, max_iter
        )
        dp[plastic] = dp_sub
        converged[plastic] = conv_sub

    with np.errstate(invalid="ignore", divide="ignore"):
        N = np.where(plastic[:, None], s_tr / np.where(norm_s > 0, norm_s, 1.0)[:, None], 0.0)
    # sigma = sigma_tr - 2 G dp (3/2) s_tr / q_tr = sigma_tr - sqrt(6) G dp N
    s = s_tr - (np.sqrt(6.0) * G * dp)[:, None] * N
    stress = s + vol[:, None] * ONE
    eps_p = eps_p_old + (np.sqrt(1.5) * dp)[:, None] * N

    C = elastic_tangent(G, bulk)
    if tangent and plastic.any():
        C = C - _plastic_correction(N, dp, q_tr, p_old, par, dt, plastic)
    return LocalUpdate(stress, eps_p, p_old + dp, dp, C, converged, iterations)


def _subset(par: PointParameters, mask: NDArray[np.bool_]) -> PointParameters:
    return PointParameters(**{f.name: getattr(par, f.name)[mask] for f in fields(par)})


def _solve_dp(
    q_tr: FloatArray,
    f_tr: FloatArray,
    p_old: FloatArray,
    par: PointParameters,
    dt: float,
    rtol: float,
    max_iter: int,
) -> tuple[FloatArray, NDArray[np.bool_], int]:
    """Safeguarded Newton on ``g = 0`` at the plastic points; returns (dp, converged, iters).

    ``g(z) = q_tr - 3 G dp - R(p_old + dp) - sigma_y - K z`` with ``dp = dp(z)``
    (see :func:`_dp_of`). ``g(0) = f_tr > 0`` and ``g(z_hi) <= 0`` for
    ``z_hi = min(f_tr / K, (f_tr / (3 G dt))^(1/n))`` (``f_tr / 3G`` when ``K = 0``), so
    the root stays bracketed; Newton starts at ``z_hi`` and falls back on bisection.
    """
    visc = par.K > 0
    with np.errstate(divide="ignore"):
        z_visc = np.minimum(f_tr / np.where(visc, par.K, 1.0),
                            (f_tr / (3 * par.G * dt)) ** (1 / par.n))
    hi = np.where(visc, z_visc, f_tr / (3 * par.G))
    lo = np.zeros_like(q_tr)
    z = hi.copy()
    active = np.ones(q_tr.shape, dtype=bool)
    tol = rtol * q_tr
    three_g = 3 * par.G
    it = 0
    for it in range(1, max_iter + 1):
        # every plastic point is evaluated (cheaper than subsetting for a few iterations);
        # only the active ones move
        x, dx = _dp_of(z, par, dt)
        R, dR = _hardening(p_old + x, par)
        g = q_tr - three_g * x - R - par.sigma_y - par.K * z
        dg = -((three_g + dR) * dx + par.K)
        done = np.abs(g) <= tol
        pos = g > 0
        lo = np.where(pos, z, lo)
        hi = np.where(pos, hi, z)
        with np.errstate(invalid="ignore", divide="ignore"):
            zn = z - g / dg
        bad = ~np.isfinite(zn) | (zn <= lo) | (zn >= hi)
        zn = np.where(bad, 0.5 * (lo + hi), zn)
        tiny = (hi - lo) <= 4 * np.finfo(float).eps * np.maximum(hi, 1e-300)
        move = active & ~done
        z = np.where(move, zn, z)
        active &= ~(done | tiny)
        if not active.any():
            break
    return _dp_of(z, par, dt)[0], ~active, it


def _plastic_correction(
    N: FloatArray,
    dp: FloatArray,
    q_tr: FloatArray,
    p_old: FloatArray,
    par: PointParameters,
    dt: float,
    plastic: NDArray[np.bool_],
) -> FloatArray:
    """``C - C_alg`` (P, 6, 6): ``6 G^2 h N N + 6 G^2 dp / q_tr (P_dev - N N)``."""
    _, dR = _hardening(p_old + dp, par)
    visc = par.K > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.where(visc, (dp / dt) ** (1 / par.n), dp)
    _, dx = _dp_of(z, par, dt)
    # h = d dp / d q_trial = dx / ((3G + R') dx + K); 0 when dx = 0 (dp -> 0 with n > 1)
    den = (3 * par.G + dR) * dx + par.K
    h = np.where(den > 0, dx / np.where(den > 0, den, 1.0), 0.0)
    G2 = 6 * par.G**2
    a = np.where(plastic, G2 * h, 0.0)
    c = np.where(plastic, G2 * dp / np.where(q_tr > 0, q_tr, 1.0), 0.0)
    NN = N[:, :, None] * N[:, None, :]
    return (a - c)[:, None, None] * NN + c[:, None, None] * P_DEV
