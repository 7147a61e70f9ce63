"""FEM reference solvers (scikit-fem), gmsh meshing helpers and case files.

Public API::

    from physics import solve, load_case, write_result            # case files
    from physics import solve_elasticity, ElasticCase, Displacement, Traction, Pressure
    from physics import solve_heat, solve_heat_transient, HeatCase, Temperature, Convection, HeatFlux
    from physics import FEMResult, with_fields, mesh_from_gmsh_model, gmsh_session
    from physics import forms                                      # named weak forms

Names are loaded on first use (PEP 562), so ``import physics.geometry`` or
``physics.gmsh_mesh`` does not import scikit-fem, pydantic or gmsh.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "solve": "case", "load_case": "case", "Case": "case",
    "solve_elasticity": "elasticity", "ElasticCase": "elasticity",
    "Displacement": "elasticity", "Traction": "elasticity", "Pressure": "elasticity",
    "solve_heat": "heat", "solve_heat_transient": "heat", "HeatCase": "heat",
    "Temperature": "heat", "Convection": "heat", "HeatFlux": "heat",
    "FEMResult": "result", "with_fields": "result", "write_result": "result",
    "SolveInfo": "linsolve", "DirichletSolver": "linsolve",
    "project_to_nodes": "recovery", "von_mises": "recovery",
    "FEMesh": "skfem_mesh", "to_skfem": "skfem_mesh", "check_cells": "skfem_mesh",
    "mesh_from_gmsh_model": "gmsh_mesh", "gmsh_session": "gmsh_mesh",
    "PhysicsError": "errors", "CaseError": "errors", "GroupError": "errors",
    "IllPosedError": "errors", "InvertedCellsError": "errors", "ConvergenceError": "errors",
    "GmshError": "errors",
}

__all__ = [
    "Case",
    "CaseError",
    "Convection",
    "ConvergenceError",
    "DirichletSolver",
    "Displacement",
    "ElasticCase",
    "FEMResult",
    "FEMesh",
    "GmshError",
    "GroupError",
    "HeatCase",
    "HeatFlux",
    "IllPosedError",
    "InvertedCellsError",
    "PhysicsError",
    "Pressure",
    "SolveInfo",
    "Temperature",
    "Traction",
    "check_cells",
    "forms",
    "gmsh_session",
    "load_case",
    "mesh_from_gmsh_model",
    "project_to_nodes",
    "solve",
    "solve_elasticity",
    "solve_heat",
    "solve_heat_transient",
    "to_skfem",
    "von_mises",
    "with_fields",
    "write_result",
]


def __getattr__(name: str) -> Any:
    if name == "forms":
        return importlib.import_module(".forms", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'physics' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
