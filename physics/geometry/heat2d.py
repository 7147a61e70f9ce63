"""``heat2d``: random star-shaped 2D domains for transient heat conduction.

The domain is bounded by the star-shaped curve

    x(theta) = r0 (1 + f(theta)) (cos theta, sin theta),
    f(theta) = sum_{k=2}^{7} a_k cos(k theta) + b_k sin(k theta),

centered at the origin, with coefficients of standard deviation
``0.2 (k/2)^-1.5`` scaled so that ``|f| <= 0.4`` (the curve is simple). The
boundary is split at two random angles into a 'cooled' arc (convection or fixed
temperature) spanning 25 % to 60 % of the turn, and an 'insulated' arc (the
rest); 'boundary' is both. The family is meant for a heat source moving inside
the domain, which the dataset generator chooses.

gmsh settings: OpenCASCADE kernel, each arc a C2 spline through samples of the
exact curve (128 over the whole turn); Frontal-Delaunay triangles
(``Mesh.Algorithm = 6``), ``Mesh.MeshSizeMax = mesh_size``, curvature refinement
with 16 elements per 2 pi, ``Mesh.MeshSizeMin = 0.2 mesh_size``, one thread,
``Mesh.Optimize = 1``; ``order=2`` gives triangle6.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mesh import Mesh

from ._meshing import MeshSettings, generate, scaled_range
from .checks import MeshCheckError
from .curves import random_star, star_curve

__all__ = ["make_heat2d", "heat2d_boundary", "HEAT2D_NODES"]

#: Default element size relative to the mean radius.
DEFAULT_MESH_SIZE = 0.07
#: Sanity range of the number of nodes at the default size, order 1. Measured on
#: seeds 0-199: 834 to 1,450, median 958, 1st-99th percentile 839-1,414.
HEAT2D_NODES = (500, 2000)
_N_SAMPLES = 128


def _draw(rng: np.random.Generator, radius: float) -> dict[str, Any]:
    star = random_star(rng, n_modes=6, amplitude=0.2, decay=1.5, max_relative=0.4, first_mode=2)
    start = float(rng.uniform(0.0, 2.0 * np.pi))
    span = float(rng.uniform(0.25, 0.6) * 2.0 * np.pi)
    return {"radius": radius, "center": [0.0, 0.0], "cos": star["cos"], "sin": star["sin"],
            "first_mode": star["first_mode"], "cooled_start": start, "cooled_span": span}


def heat2d_boundary(geometry: dict[str, Any], n: int = _N_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Sample the cooled and insulated arcs, counter-clockwise.

    Parameters
    ----------
    geometry : the ``params["geometry"]`` of :func:`make_heat2d`.
    n : number of samples over the whole turn (each arc gets at least 8).

    Returns
    -------
    (cooled, insulated) : (n_c, 2) and (n_i, 2) points in length units; the last
        point of each arc is the first point of the other.
    """
    start, span = geometry["cooled_start"], geometry["cooled_span"]
    n_c = max(8, int(round(n * span / (2.0 * np.pi))))
    n_i = max(8, n - n_c)
    th_c = np.linspace(start, start + span, n_c + 1)
    th_i = np.linspace(start + span, start + 2.0 * np.pi, n_i + 1)
    args = (geometry["center"], geometry["radius"], geometry["cos"], geometry["sin"],
            geometry["first_mode"])
    return star_curve(th_c, *args), star_curve(th_i, *args)


def _build(gmsh: Any, geometry: dict[str, Any], mesh_size: float) -> None:
    occ = gmsh.model.occ
    cooled, insulated = heat2d_boundary(geometry)
    a = occ.addPoint(*cooled[0], 0)
    b = occ.addPoint(*cooled[-1], 0)
    c_pts = [a] + [occ.addPoint(x, y, 0) for x, y in cooled[1:-1]] + [b]
    i_pts = [b] + [occ.addPoint(x, y, 0) for x, y in insulated[1:-1]] + [a]
    c_curve, i_curve = occ.addSpline(c_pts), occ.addSpline(i_pts)
    surf = occ.addPlaneSurface([occ.addCurveLoop([c_curve, i_curve])])
    occ.synchronize()
    gmsh.model.addPhysicalGroup(1, [c_curve], name="cooled")
    gmsh.model.addPhysicalGroup(1, [i_curve], name="insulated")
    gmsh.model.addPhysicalGroup(1, [c_curve, i_curve], name="boundary")
    gmsh.model.addPhysicalGroup(2, [surf], name="domain")


def _check(mesh: Mesh, geometry: dict[str, Any]) -> None:
    n_b = len(mesh.group_nodes("boundary"))
    n_ci = len(mesh.group_nodes("cooled")) + len(mesh.group_nodes("insulated"))
    if n_ci != n_b + 2:  # the two arcs share their two end nodes
        raise MeshCheckError(
            f"'cooled' and 'insulated' do not split 'boundary' ({n_ci} vs {n_b} + 2 nodes)"
        )


def make_heat2d(
    rng: np.random.Generator | int | None,
    mesh_size: float | None = None,
    order: int = 1,
    *,
    radius: float = 1.0,
    algorithm: int = 6,
    max_attempts: int = 5,
    verbosity: int = 0,
) -> tuple[Mesh, dict[str, Any]]:
    """Mesh a random star-shaped domain with a cooled and an insulated boundary arc.

    Parameters
    ----------
    rng : generator (advanced by the draws) or integer seed; the same seed gives
        identical node coordinates.
    mesh_size : target element size in length units; None means
        ``0.07 * radius``, which gives 840 to 1,410 nodes (1st-99th
        percentile, order 1).
    order : 1 for 3-node triangles, 2 for triangle6.
    radius : mean radius r0 of the domain, in length units (e.g. m).
    algorithm : gmsh 2D algorithm id (6 Frontal-Delaunay, 5 Delaunay, 1 MeshAdapt).
    max_attempts : random geometries tried before giving up.
    verbosity : gmsh verbosity (0 silent).

    Returns
    -------
    mesh : Mesh with points (N, 2), counter-clockwise triangles, line cells and
        cell sets 'cooled', 'insulated', 'boundary' (both arcs) and 'domain'.
    params : provenance dict: ``family``, ``seed``, ``geometry`` (``radius``,
        ``center``, Fourier ``cos``/``sin`` of the relative radius from mode
        ``first_mode``, ``cooled_start`` and ``cooled_span`` in radians),
        ``mesh``, ``attempts``, ``rejected``, ``n_points``, ``n_cells``.
        The arcs are recovered by :func:`heat2d_boundary`.

    Raises
    ------
    ValueError
        On a non-positive size or radius, or an unknown order/algorithm.
    MeshingError
        If ``max_attempts`` random shapes all failed to mesh or check.

    Examples
    --------
    >>> mesh, params = make_heat2d(0, mesh_size=0.2)
    >>> sorted(mesh.cell_sets)
    ['boundary', 'cooled', 'domain', 'insulated']
    """
    if not radius > 0:
        raise ValueError(f"radius must be positive; got {radius}")
    if mesh_size is None:
        mesh_size = DEFAULT_MESH_SIZE * radius
    settings = MeshSettings(mesh_size, order, algorithm, curvature_elements=16)
    nodes = scaled_range(HEAT2D_NODES, DEFAULT_MESH_SIZE, mesh_size / radius, dim=2)
    return generate(
        "heat2d", rng, lambda g: _draw(g, radius), _build, 2, settings,
        ["cooled", "insulated", "boundary", "domain"], nodes, n_loops=1, check=_check,
        max_attempts=max_attempts, verbosity=verbosity,
    )
