"""Named weak forms, shared by the solvers and by Galerkin reduced-order models.

Each form is one line, in the style of ``skfem.models.poisson``; coefficients
come in through ``w`` as keyword arguments of ``assemble`` (numbers, (nel, nqp)
arrays or DiscreteFields). SI units throughout.

Elasticity (vector bases):
    ``elasticity``      2 mu eps(u):eps(v) + lam div(u) div(v)       (kw: lam, mu [Pa])
    ``body_force``      b . v                                         (kw: b (dim, nel, nqp) [N/m^3])
    ``traction``        t . v on facets                               (kw: t (dim, nel, nqp) [Pa])
    ``pressure``        -p n . v on facets (positive p pushes inwards) (kw: p [Pa])
    ``thermal_load``    beta dT div(v), beta = (3 lam + 2 mu) alpha  (kw: beta [Pa/K], dT [K])
    ``vector_mass``     rho u . v                                     (kw: rho [kg/m^3])

Heat and projections (scalar bases):
    ``conduction``      k grad(u) . grad(v)                           (kw: k [W/(m K)])
    ``mass``            u v
    ``capacity``        rho_c u v                                     (kw: rho_c [J/(m^3 K)])
    ``convection``      h u v on facets                               (kw: h [W/(m^2 K)])
    ``source``          f v                                           (kw: f [W/m^3], or [W/m^2] on facets)
    ``projection_rhs``  s v, right-hand side of an L2 projection      (kw: s)
"""
from __future__ import annotations

from skfem import BilinearForm, LinearForm
from skfem.helpers import ddot, div, dot, grad, transpose

__all__ = [
    "body_force",
    "capacity",
    "conduction",
    "convection",
    "elasticity",
    "mass",
    "pressure",
    "projection_rhs",
    "source",
    "thermal_load",
    "traction",
    "vector_mass",
]


@BilinearForm
def elasticity(u, v, w):
    """Isotropic linear elasticity, Lame parameters ``w.lam``, ``w.mu`` [Pa].

    ``2 mu eps(u):eps(v) = mu (grad u : grad v + grad u : grad v^T)``, written without
    forming ``eps`` (twice as fast to assemble).
    """
    return w.mu * (ddot(grad(u), grad(v)) + ddot(grad(u), transpose(grad(v)))) \
        + w.lam * div(u) * div(v)


@LinearForm
def body_force(v, w):
    """Body force density ``w.b`` (dim, nel, nqp) [N/m^3]."""
    return dot(w.b, v)


@LinearForm
def traction(v, w):
    """Surface traction ``w.t`` (dim, nel, nqp) [Pa] on a facet basis."""
    return dot(w.t, v)


@LinearForm
def pressure(v, w):
    """Normal pressure ``w.p`` [Pa]: traction -p n, n the outward normal (p > 0 compresses)."""
    return -w.p * dot(w.n, v)


@LinearForm
def thermal_load(v, w):
    """Load of a thermal strain alpha dT I: ``w.beta`` [Pa/K] times ``w.dT`` [K] times div(v)."""
    return w.beta * w.dT * div(v)


@BilinearForm
def vector_mass(u, v, w):
    """Vector mass matrix with density ``w.rho`` [kg/m^3]."""
    return w.rho * dot(u, v)


@BilinearForm
def conduction(u, v, w):
    """Heat conduction with conductivity ``w.k`` [W/(m K)]."""
    return w.k * dot(grad(u), grad(v))


@BilinearForm
def mass(u, v, _):
    """Scalar mass matrix (L2 inner product)."""
    return u * v


@BilinearForm
def capacity(u, v, w):
    """Heat capacity matrix, ``w.rho_c`` = density * specific heat [J/(m^3 K)]."""
    return w.rho_c * u * v


@BilinearForm
def convection(u, v, w):
    """Robin (convection) term with film coefficient ``w.h`` [W/(m^2 K)] on a facet basis."""
    return w.h * u * v


@LinearForm
def source(v, w):
    """Source ``w.f``: volumetric [W/m^3] on a cell basis, surface flux [W/m^2] on facets."""
    return w.f * v


@LinearForm
def projection_rhs(v, w):
    """Right-hand side of the L2 projection of quadrature values ``w.s`` (nel, nqp)."""
    return w.s * v
