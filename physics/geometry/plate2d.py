"""``plate2d``: a 2D plate whose free edges carry random smooth notches and bulges.

The Tensile2d-like family of MMGP: a ``width x height`` plate, clamped at the
bottom and loaded at the top, whose left and right edges are the graphs
``x = d_L(y)`` and ``x = width - d_R(y)`` of random smooth inward depths

    d(y) = sin^2(pi y / height) * sum_k a_k exp(-(y/height - c_k)^2 / (2 w_k^2)),

a sum of one to three Gaussian bumps (``a_k > 0`` a notch, ``a_k < 0`` a bulge)
tapered to zero with zero slope at the corners, so the corners stay right angles
and the bottom and top edges stay straight. Both depths are scaled down together
when needed so that ``|d| <= 0.35 width`` and ``d_L + d_R <= 0.6 width``: each edge
is a graph over y and the plate keeps at least 40 % of its width, so it can
never self-intersect. Every sample differs in shape and in mesh.

gmsh settings: OpenCASCADE kernel, straight bottom/top lines, the perturbed
edges as C2 splines through 121 samples; Frontal-Delaunay triangles
(``Mesh.Algorithm = 6``), ``Mesh.MeshSizeMax = mesh_size``, curvature refinement
with 16 elements per 2 pi (``Mesh.MeshSizeFromCurvature``) and
``Mesh.MeshSizeMin = 0.2 mesh_size``, one thread, ``Mesh.Optimize = 1``; with
``order=2`` the mesh is elevated to triangle6 with mid-side nodes on the curves.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mesh import Mesh

from ._meshing import MeshSettings, generate, scaled_range
from .checks import MeshCheckError
from .curves import gaussian_bumps, random_bumps, smooth_taper

__all__ = ["make_plate2d", "plate2d_edges", "PLATE2D_NODES"]

#: Default element size (length unit of the plate, width = 1).
DEFAULT_MESH_SIZE = 0.04
#: Sanity range of the number of nodes at the default size, order 1. Measured on
#: seeds 0-199: 1,361 to 2,802, median 1,560, 1st-99th percentile 1,390-2,172.
PLATE2D_NODES = (1000, 3500)
_N_SAMPLES = 121
_MAX_DEPTH = 0.35  # |d| / width
_MAX_SUM = 0.6  # (d_L + d_R) / width


def _draw(rng: np.random.Generator, width: float, height: float) -> dict[str, Any]:
    """Random bumps on both edges, scaled into the non-self-intersecting range."""
    sides = {}
    for side in ("left", "right"):
        b = random_bumps(rng, n_range=(1, 3), center_range=(0.15, 0.85),
                         width_range=(0.03, 0.12), amplitude_range=(-0.15, 0.3))
        b["amplitudes"] = [a * width for a in b["amplitudes"]]
        sides[side] = b
    t = np.linspace(0.0, 1.0, 2001)
    d_l = smooth_taper(t) * gaussian_bumps(t, **sides["left"])
    d_r = smooth_taper(t) * gaussian_bumps(t, **sides["right"])
    peak = max(np.abs(d_l).max(), np.abs(d_r).max()) / (_MAX_DEPTH * width)
    total = max((d_l + d_r).max() / (_MAX_SUM * width), 0.0)
    scale = 1.0 / max(1.0, peak, total)
    for side in sides.values():
        side["amplitudes"] = [a * scale for a in side["amplitudes"]]
    return {"width": width, "height": height, "left": sides["left"], "right": sides["right"],
            "scale": scale}


def plate2d_edges(geometry: dict[str, Any], n: int = _N_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Sample the perturbed left and right edges of a plate.

    Parameters
    ----------
    geometry : the ``params["geometry"]`` of :func:`make_plate2d`.
    n : number of samples per edge.

    Returns
    -------
    (left, right), each (n, 2) points from y = 0 to y = height, in length units.
    """
    w, h = geometry["width"], geometry["height"]
    t = np.linspace(0.0, 1.0, n)
    taper = smooth_taper(t)
    x_l = taper * gaussian_bumps(t, **geometry["left"])
    x_r = w - taper * gaussian_bumps(t, **geometry["right"])
    y = t * h
    return np.column_stack([x_l, y]), np.column_stack([x_r, y])


def _build(gmsh: Any, geometry: dict[str, Any], mesh_size: float) -> None:
    occ = gmsh.model.occ
    left, right = plate2d_edges(geometry)
    w, h = geometry["width"], geometry["height"]
    p00, p10 = occ.addPoint(0, 0, 0), occ.addPoint(w, 0, 0)
    p11, p01 = occ.addPoint(w, h, 0), occ.addPoint(0, h, 0)
    right_pts = [p10] + [occ.addPoint(x, y, 0) for x, y in right[1:-1]] + [p11]
    left_pts = [p01] + [occ.addPoint(x, y, 0) for x, y in left[::-1][1:-1]] + [p00]
    bottom = occ.addLine(p00, p10)
    right_c = occ.addSpline(right_pts)
    top = occ.addLine(p11, p01)
    left_c = occ.addSpline(left_pts)
    loop = occ.addCurveLoop([bottom, right_c, top, left_c])
    surf = occ.addPlaneSurface([loop])
    occ.synchronize()
    for name, tag in (("bottom", bottom), ("top", top), ("left", left_c), ("right", right_c)):
        gmsh.model.addPhysicalGroup(1, [tag], name=name)
    gmsh.model.addPhysicalGroup(2, [surf], name="plate")


def _check(mesh: Mesh, geometry: dict[str, Any]) -> None:
    """The straight edges lie where the loads and supports expect them."""
    h = geometry["height"]
    for name, y in (("bottom", 0.0), ("top", h)):
        dev = np.abs(mesh.points[mesh.group_nodes(name), 1] - y).max()
        if dev > 1e-9 * h:
            raise MeshCheckError(f"'{name}' nodes are {dev:.2e} away from y = {y}")


def make_plate2d(
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
    """Mesh a random notched plate (Tensile2d-like).

    Parameters
    ----------
    rng : generator (advanced by the draws) or integer seed; the same seed gives
        the same geometry and identical node coordinates.
    mesh_size : target element size, in the plate's length unit (width = 1 by
        default); the default gives 1,400 to 2,200 nodes (1st-99th percentile),
        depending on the notches (order 1).
    order : 1 for 3-node triangles, 2 for 6-node triangles (triangle6).
    width, height : plate size before perturbation; the plate spans
        [0, width] x [0, height] at the bottom and top edges.
    algorithm : gmsh 2D algorithm id (6 Frontal-Delaunay, 5 Delaunay, 1 MeshAdapt).
    max_attempts : random geometries tried before giving up.
    verbosity : gmsh verbosity (0 silent).

    Returns
    -------
    mesh : Mesh with points (N, 2), counter-clockwise triangles (or triangle6),
        line cells of the boundary, and cell sets 'bottom' (y = 0, clamped),
        'top' (y = height, loaded), 'left', 'right' (perturbed, free) and
        'plate' (all triangles).
    params : provenance dict: ``family``, ``seed``, ``geometry`` (width, height,
        the bumps of each side with amplitudes in length units, the global
        ``scale`` applied), ``mesh`` (gmsh settings), ``attempts``, ``rejected``,
        ``n_points``, ``n_cells``. The edges are recovered by :func:`plate2d_edges`.

    Raises
    ------
    ValueError
        On a non-positive size or an unknown order/algorithm.
    MeshingError
        If ``max_attempts`` random shapes all failed to mesh or check.

    Examples
    --------
    >>> mesh, params = make_plate2d(0, mesh_size=0.1)
    >>> sorted(mesh.cell_sets)
    ['bottom', 'left', 'plate', 'right', 'top']
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"width and height must be positive; got {width}, {height}")
    settings = MeshSettings(mesh_size, order, algorithm, curvature_elements=16)
    nodes = scaled_range(PLATE2D_NODES, DEFAULT_MESH_SIZE, mesh_size / np.sqrt(width * height / 2),
                         dim=2)
    return generate(
        "plate2d", rng, lambda g: _draw(g, width, height), _build, 2, settings,
        ["bottom", "top", "left", "right", "plate"], nodes, n_loops=1, check=_check,
        max_attempts=max_attempts, verbosity=verbosity,
    )
