"""Small-strain elasto-viscoplastic solid: the high-fidelity model of the adaptive ROM work.

The point-wise law (von Mises, isotropic hardening, Norton flow, temperature-dependent
parameters, thermal strain) lives in :mod:`physics.constitutive`. This package holds

- :class:`ViscoplasticModel`, the discretised operator (scikit-fem bases and quadrature,
  own vectorised assembly). Its element-level functions work on any subset of elements
  (``elements=``) with optional quadrature weights (``weights=``): this is what
  hyper-reduction (ECM) evaluates on a few integration points;
- the loading description (:class:`ViscoplasticLoading` with :class:`Dirichlet`,
  :class:`Traction`, :class:`Pressure`, :class:`BodyForce`, :class:`NodalTemperature`);
- :func:`solve_viscoplastic`: global Newton with the consistent tangent, adaptive
  time stepping, nodal outputs at the requested times.

Kinematics: plane strain in 2D (``eps_33 = 0``), full 3D otherwise. Plane stress is not
implemented. Displacement dofs are numbered node-major, ``dim * scalar_dof + component``
(the ordering of scikit-fem's ``ElementVector``). Quadrature arrays are
``(n_elements, n_qp, ...)``; tensors are Mandel 6-vectors (see :mod:`physics.constitutive`).
Units are SI: m, Pa, N, s, K.

Modules: :mod:`.loading` (load descriptions), :mod:`.model` (the discretised operator),
:mod:`.discrete` (loads on the discretisation), :mod:`.solver` (Newton, time stepping).
"""
from __future__ import annotations

from .discrete import DiscreteLoading
from .loading import (
    BodyForce,
    Dirichlet,
    LoadCurve,
    LoadFunction,
    NodalTemperature,
    Pressure,
    Traction,
    ViscoplasticLoading,
)
from .model import InternalForces, PointResponse, QPState, ViscoplasticModel
from .solver import SolverOptions, StepRecord, ViscoplasticResult, solve_viscoplastic

__all__ = [
    "BodyForce",
    "Dirichlet",
    "DiscreteLoading",
    "InternalForces",
    "LoadCurve",
    "LoadFunction",
    "NodalTemperature",
    "PointResponse",
    "Pressure",
    "QPState",
    "SolverOptions",
    "StepRecord",
    "Traction",
    "ViscoplasticLoading",
    "ViscoplasticModel",
    "ViscoplasticResult",
    "solve_viscoplastic",
]
