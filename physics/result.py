"""The result of a FEM solve: nodal fields, solve information, and writing them out."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mesh import Mesh

from .linsolve import SolveInfo


@dataclass
class FEMResult:
    """Nodal fields of one solve, on the input mesh's nodes.

    Attributes
    ----------
    fields : name -> (N,) or (N, c) array, e.g. ``"displacement"`` (N, dim) [m],
        ``"sig11"`` ... [Pa], ``"von_mises"`` [Pa], ``"temperature"`` [K or C].
        For a transient solve, the state at the last time.
    info : how the linear system(s) were solved (sizes, method, iterations, times).
    physics : ``"elasticity"``, ``"heat"`` or ``"heat_transient"``.
    dofs : (n_dofs,) the raw finite-element solution (final state), for ROM code.
    times : (T,) output times [s] of a transient solve; empty otherwise.
    history : name -> (T, N) nodal states at ``times`` (transient solves).
    mesh : the input mesh, when the solve came from a case file.
    output : the file written by :func:`physics.solve`, if any.
    """

    fields: dict[str, np.ndarray]
    info: SolveInfo
    physics: str
    dofs: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    history: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    mesh: Mesh | None = field(default=None, repr=False)
    output: Path | None = None

    def summary(self) -> str:
        """A few human-readable lines: physics, sizes, solver, times, field ranges."""
        i = self.info
        lines = [f"{self.physics}: {i.n_dofs} dofs, {i.method} solver"
                 + (f" ({i.iterations} CG iterations)" if i.iterations else "")
                 + f"; assembly {i.assembly_time:.2f} s, setup {i.setup_time:.2f} s, "
                 f"solve {i.solve_time:.2f} s"]
        if len(self.times):
            lines.append(f"time steps: {len(self.times) - 1} saved states up to t = {self.times[-1]:g} s")
        for name, v in self.fields.items():
            v = np.asarray(v)
            mag = np.linalg.norm(v, axis=1) if v.ndim == 2 else v
            lines.append(f"  {name:<14} min {mag.min(): .4e}  max {mag.max(): .4e}")
        if self.output is not None:
            lines.append(f"written to {self.output}")
        return "\n".join(lines)

    def to_mesh(self, mesh: Mesh | None = None) -> Mesh:
        """``mesh`` (default: ``self.mesh``) with the result's fields as point data (a new mesh)."""
        if mesh is None:
            if self.mesh is None:
                raise ValueError("this result holds no mesh; pass the mesh it was computed on")
            mesh = self.mesh
        return with_fields(mesh, self)


def with_fields(mesh: Mesh, result: FEMResult) -> Mesh:
    """A new mesh: ``mesh`` with ``result.fields`` as point data.

    Raises
    ------
    ValueError
        If a field does not have one row per node of ``mesh``.
    """
    for name, v in result.fields.items():
        if np.shape(v)[0] != mesh.n_points:
            raise ValueError(
                f"field '{name}' has {np.shape(v)[0]} rows; the mesh has {mesh.n_points} nodes"
            )
    return mesh.with_point_data(**result.fields)


def write_result(mesh: Mesh, result: FEMResult, path: str | os.PathLike) -> Path:
    """Write the mesh with the result's fields, atomically (temp file, then rename).

    Parameters
    ----------
    mesh : the mesh the result was computed on.
    result : the solve's result.
    path : ``.vtu`` (or any meshio format): final fields as point data; for a
        transient result, ``.xdmf`` writes the whole time series (XDMF + HDF5).

    Returns
    -------
    The written path.
    """
    from mesh.io import write, write_series

    path = Path(path)
    if result.history and path.suffix.lower() in (".xdmf", ".xmf"):
        names = list(result.history)
        steps = [{n: result.history[n][k] for n in names} for k in range(len(result.times))]
        return write_series(mesh.without_data(), result.times, steps, path)
    return write(with_fields(mesh, result), path)
