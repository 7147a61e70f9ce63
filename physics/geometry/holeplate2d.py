"""``holeplate2d``: a rectangular plate with one randomly shaped hole.

The hole is the star-shaped closed curve

    x(theta) = c + r0 (1 + f(theta)) (cos theta, sin theta),
    f(theta) = sum_{k=2}^{6} a_k cos(k theta) + b_k sin(k theta),

with random center ``c``, mean radius ``r0`` and coefficients of standard
deviation ``0.15 (k/2)^-1.5``, scaled so that ``|f| <= 0.35`` (the radius stays
positive, so the curve is simple). ``r0`` is reduced when needed so that the
hole keeps a ligament of at least ``0.08 width`` to every edge. The mesh has two
boundary loops (outer rectangle and hole).

gmsh settings: OpenCASCADE kernel, straight outer edges, the hole as one
periodic C2 spline through 96 samples; Frontal-Delaunay triangles
(``Mesh.Algorithm = 6``), ``Mesh.MeshSizeMax = mesh_size``, curvature refinement
with 24 elements per 2 pi, ``Mesh.MeshSizeMin = 0.2 mesh_size``, one thread,
``Mesh.Optimize = 1``; ``order=2`` gives triangle6 with mid-side nodes on the hole.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mesh import Mesh

from ._meshing import MeshSettings, generate, scaled_range
from .checks import MeshCheckError, boundary_loops
from .curves import random_star, star_curve

__all__ = ["make_holeplate2d", "hole_curve", "HOLEPLATE2D_NODES"]

#: Default element size (length unit of the plate, width = 1).
DEFAULT_MESH_SIZE = 0.04
#: Sanity range of the number of nodes at the default size, order 1. Measured on
#: seeds 0-199: 1,652 to 2,841, median 2,135, 1st-99th percentile 1,708-2,800.
HOLEPLATE2D_NODES = (1200, 3500)
_N_SAMPLES = 96
_LIGAMENT = 0.08  # minimum distance hole-edge / width
_MAX_RELATIVE = 0.35


def _draw(rng: np.random.Generator, width: float, height: float) -> dict[str, Any]:
    center = [float(rng.uniform(0.3, 0.7) * width), float(rng.uniform(0.3, 0.7) * height)]
    radius = float(rng.uniform(0.08, 0.2) * width)
    star = random_star(rng, n_modes=5, amplitude=0.15, decay=1.5, max_relative=_MAX_RELATIVE,
                       first_mode=2)
    theta = np.linspace(0.0, 2.0 * np.pi, 721)
    pts = star_curve(theta, center, radius, star["cos"], star["sin"], star["first_mode"])
    # distance of the hole to each edge, and of the center to each edge
    room = np.array([pts[:, 0].min(), width - pts[:, 0].max(), pts[:, 1].min(),
                     height - pts[:, 1].max()])
    reach = np.array([center[0], width - center[0], center[1], height - center[1]])
    # scaling r0 by s moves the hole's extreme points linearly toward the center:
    # room_e(s) = reach_e - s (reach_e - room_e) >= ligament
    need = _LIGAMENT * width
    shrink = float(min(1.0, *((reach - need) / (reach - room))))
    radius *= shrink
    return {"width": width, "height": height, "center": center, "radius": radius,
            "shrink": float(shrink), "cos": star["cos"], "sin": star["sin"],
            "first_mode": star["first_mode"]}


def hole_curve(geometry: dict[str, Any], n: int = _N_SAMPLES) -> np.ndarray:
    """Sample the hole boundary counter-clockwise.

    Parameters
    ----------
    geometry : the ``params["geometry"]`` of :func:`make_holeplate2d`.
    n : number of samples.

    Returns
    -------
    (n, 2) points at theta = 2 pi i / n, in length units.
    """
    theta = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return star_curve(theta, geometry["center"], geometry["radius"], geometry["cos"],
                      geometry["sin"], geometry["first_mode"])


def _build(gmsh: Any, geometry: dict[str, Any], mesh_size: float) -> None:
    occ = gmsh.model.occ
    w, h = geometry["width"], geometry["height"]
    p = [occ.addPoint(0, 0, 0), occ.addPoint(w, 0, 0), occ.addPoint(w, h, 0),
         occ.addPoint(0, h, 0)]
    edges = {"bottom": occ.addLine(p[0], p[1]), "right": occ.addLine(p[1], p[2]),
             "top": occ.addLine(p[2], p[3]), "left": occ.addLine(p[3], p[0])}
    outer = occ.addCurveLoop([edges["bottom"], edges["right"], edges["top"], edges["left"]])
    hole_pts = [occ.addPoint(x, y, 0) for x, y in hole_curve(geometry)]
    hole = occ.addSpline(hole_pts + [hole_pts[0]])  # first == last: periodic spline
    inner = occ.addCurveLoop([hole])
    surf = occ.addPlaneSurface([outer, inner])
    occ.synchronize()
    for name, tag in edges.items():
        gmsh.model.addPhysicalGroup(1, [tag], name=name)
    gmsh.model.addPhysicalGroup(1, [hole], name="hole")
    gmsh.model.addPhysicalGroup(2, [surf], name="plate")


def _check(mesh: Mesh, geometry: dict[str, Any]) -> None:
    w, h = geometry["width"], geometry["height"]
    for name, axis, value in (("bottom", 1, 0.0), ("top", 1, h), ("left", 0, 0.0),
                              ("right", 0, w)):
        dev = np.abs(mesh.points[mesh.group_nodes(name), axis] - value).max()
        if dev > 1e-9 * max(w, h):
            raise MeshCheckError(f"'{name}' nodes are {dev:.2e} away from the plate edge")
    if boundary_loops(mesh, "hole") != 1:
        raise MeshCheckError("the 'hole' group is not one closed curve")


def make_holeplate2d(
    rng: np.random.Generator | int | None,
    mesh_size: float = DEFAULT_MESH_SIZE,
    order: int = 1,
    *,
    width: float = 1.0,
    height: float = 2.0,
    algorithm: int = 6,
    max_attempts: int = 5,
    verbosity: int = 0,
) -> tuple[Mesh, dict[str, Any]]:
    """Mesh a rectangular plate with one random star-shaped hole.

    Parameters
    ----------
    rng : generator (advanced by the draws) or integer seed; the same seed gives
        identical node coordinates.
    mesh_size : target element size, in the plate's length unit (width = 1 by
        default); the default gives 1,700 to 2,800 nodes (1st-99th percentile,
        order 1; small holes are refined most).
    order : 1 for 3-node triangles, 2 for triangle6.
    width, height : the plate is [0, width] x [0, height].
    algorithm : gmsh 2D algorithm id (6 Frontal-Delaunay, 5 Delaunay, 1 MeshAdapt).
    max_attempts : random geometries tried before giving up.
    verbosity : gmsh verbosity (0 silent).

    Returns
    -------
    mesh : Mesh with points (N, 2), counter-clockwise triangles, line cells and
        cell sets 'bottom' (y = 0), 'top' (y = height), 'left' (x = 0),
        'right' (x = width), 'hole' and 'plate' (all triangles).
    params : provenance dict: ``family``, ``seed``, ``geometry`` (``center`` (2,),
        ``radius`` r0 and Fourier ``cos``/``sin`` of modes ``first_mode``...,
        in length units / relative; ``shrink`` applied to r0 to keep the
        ligament), ``mesh``, ``attempts``, ``rejected``, ``n_points``, ``n_cells``.
        The hole is recovered by :func:`hole_curve`.

    Raises
    ------
    ValueError
        On a non-positive size or an unknown order/algorithm.
    MeshingError
        If ``max_attempts`` random shapes all failed to mesh or check.

    Examples
    --------
    >>> mesh, params = make_holeplate2d(0, mesh_size=0.1)
    >>> sorted(mesh.cell_sets)
    ['bottom', 'hole', 'left', 'plate', 'right', 'top']
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"width and height must be positive; got {width}, {height}")
    settings = MeshSettings(mesh_size, order, algorithm, curvature_elements=24)
    nodes = scaled_range(HOLEPLATE2D_NODES, DEFAULT_MESH_SIZE,
                         mesh_size / np.sqrt(width * height / 2), dim=2)
    return generate(
        "holeplate2d", rng, lambda g: _draw(g, width, height), _build, 2, settings,
        ["bottom", "top", "left", "right", "hole", "plate"], nodes, n_loops=2, check=_check,
        max_attempts=max_attempts, verbosity=verbosity,
    )
