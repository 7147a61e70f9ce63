"""``blade3d``: a twisted, tapered, airfoil-section blade meshed with tetrahedra.

Each cross-section is a NACA 4-digit-like profile (chord along x from the
leading edge at x = 0 to the sharp trailing edge at x = chord) with random
maximum camber ``m``, camber position ``p`` and thickness ``t``, plus smooth random
perturbations of the thickness and camber distributions

    y_t(x) = 5 t (0.2969 sqrt(x) - 0.1260 x - 0.3516 x^2 + 0.2843 x^3 - 0.1036 x^4)
             * (1 + g(x)),     g(x) = sum_{k=1}^{4} c_k sin(k pi x),   |g| <= 0.25,
    y_c(x) = NACA camber(m, p) + h(x),  h(x) = sum_{k=1}^{4} d_k sin(k pi x), |h| <= 0.02,

(x in chords) which vanish at both edges. The root (z = 0) and tip (z = span)
sections carry independent perturbations, blended linearly along the span. Each
section at height ``z = s span`` is scaled by the chord ``1 - (1 - taper) s`` and
rotated by ``twist s`` about the root quarter-chord axis (x = 0.25, y = 0). The
solid is lofted through 6 sections.

gmsh settings: OpenCASCADE kernel, each section a wire of two C2 splines
(suction side trailing edge -> leading edge, pressure side leading edge ->
trailing edge, 24 cosine-spaced samples each), solid by ``addThruSections``
(``makeRuled=False``); surfaces by Frontal-Delaunay (``Mesh.Algorithm = 6``),
volume by Delaunay (``Mesh.Algorithm3D = 1``), ``Mesh.MeshSizeMax = mesh_size``,
curvature refinement with 12 elements per 2 pi, ``Mesh.MeshSizeMin =
0.2 mesh_size``, one thread, ``Mesh.Optimize = 1``; ``order=2`` gives tetra10.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mesh import Mesh

from ._meshing import MeshSettings, generate, scaled_range
from .checks import MeshCheckError, cell_measures
from .curves import bounded_scale

__all__ = ["make_blade3d", "blade_section", "BLADE3D_NODES"]

#: Default element size, in chords (root chord = 1).
DEFAULT_MESH_SIZE = 0.1
#: Sanity range of the number of nodes at the default size, order 1. Measured on
#: seeds 0-99: 2,724 to 4,679, median 3,575.
BLADE3D_NODES = (2000, 7000)
_N_SURFACE = 24
_N_SECTIONS = 6
_N_MODES = 4


def _draw_perturbation(rng: np.random.Generator) -> dict[str, list[float]]:
    """Thickness and camber perturbation coefficients of one section, bounded."""
    k = np.arange(1, _N_MODES + 1)
    x = np.linspace(0.0, 1.0, 401)
    basis = np.sin(np.pi * np.outer(x, k))
    thick = rng.standard_normal(_N_MODES) * 0.08 * k ** -1.5
    camber = rng.standard_normal(_N_MODES) * 0.01 * k ** -1.5
    thick *= bounded_scale(basis @ thick, 0.25)
    camber *= bounded_scale(basis @ camber, 0.02)
    return {"thickness": thick.tolist(), "camber": camber.tolist()}


def _draw(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "max_camber": float(rng.uniform(0.0, 0.06)),
        "camber_position": float(rng.uniform(0.3, 0.5)),
        "thickness": float(rng.uniform(0.09, 0.15)),
        "span": float(rng.uniform(2.5, 3.5)),
        "twist": float(np.deg2rad(rng.uniform(10.0, 40.0)) * rng.choice([-1.0, 1.0])),
        "taper": float(rng.uniform(0.6, 1.0)),
        "root": _draw_perturbation(rng),
        "tip": _draw_perturbation(rng),
    }


def _profile(geometry: dict[str, Any], s: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-chord profile at span fraction s: (upper, lower), each (n, 2), LE first."""
    m, p, t = geometry["max_camber"], geometry["camber_position"], geometry["thickness"]
    beta = np.linspace(0.0, np.pi, n)
    x = 0.5 * (1.0 - np.cos(beta))  # cosine spacing, dense at both edges
    k = np.arange(1, _N_MODES + 1)
    basis = np.sin(np.pi * np.outer(x, k))
    root, tip = geometry["root"], geometry["tip"]
    c_t = (1 - s) * np.asarray(root["thickness"]) + s * np.asarray(tip["thickness"])
    c_c = (1 - s) * np.asarray(root["camber"]) + s * np.asarray(tip["camber"])
    dbasis = np.pi * k * np.cos(np.pi * np.outer(x, k))
    yt = 5 * t * (0.2969 * np.sqrt(x) - 0.1260 * x - 0.3516 * x**2 + 0.2843 * x**3
                  - 0.1036 * x**4) * (1.0 + basis @ c_t)
    if m > 0:
        fore = x < p
        yc = np.where(fore, m / p**2 * (2 * p * x - x**2),
                      m / (1 - p) ** 2 * (1 - 2 * p + 2 * p * x - x**2))
        dyc = np.where(fore, 2 * m / p**2 * (p - x), 2 * m / (1 - p) ** 2 * (p - x))
    else:
        yc, dyc = np.zeros_like(x), np.zeros_like(x)
    yc, dyc = yc + basis @ c_c, dyc + dbasis @ c_c
    th = np.arctan(dyc)
    upper = np.column_stack([x - yt * np.sin(th), yc + yt * np.cos(th)])
    lower = np.column_stack([x + yt * np.sin(th), yc - yt * np.cos(th)])
    upper[-1] = lower[-1] = (1.0, yc[-1])  # one sharp trailing-edge point
    return upper, lower


def blade_section(
    geometry: dict[str, Any], s: float, n: int = _N_SURFACE
) -> tuple[np.ndarray, np.ndarray]:
    """The blade cross-section at span fraction ``s``, in global coordinates.

    Parameters
    ----------
    geometry : the ``params["geometry"]`` of :func:`make_blade3d`.
    s : span fraction in [0, 1] (0 root, 1 tip).
    n : samples per side.

    Returns
    -------
    (upper, lower), each (n, 3) points from the leading to the trailing edge,
    at z = s span, in chords (root chord = 1).
    """
    upper, lower = _profile(geometry, s, n)
    chord = 1.0 - (1.0 - geometry["taper"]) * s
    angle = geometry["twist"] * s
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    axis = np.array([0.25, 0.0])
    out = []
    for side in (upper, lower):
        xy = (side * chord - axis * chord) @ rot.T + axis
        out.append(np.column_stack([xy, np.full(len(xy), s * geometry["span"])]))
    return out[0], out[1]


def _build(gmsh: Any, geometry: dict[str, Any], mesh_size: float) -> None:
    occ = gmsh.model.occ
    wires = []
    for s in np.linspace(0.0, 1.0, _N_SECTIONS):
        upper, lower = blade_section(geometry, float(s), _N_SURFACE)
        le = occ.addPoint(*upper[0])
        te = occ.addPoint(*upper[-1])
        up = [te] + [occ.addPoint(*q) for q in upper[-2:0:-1]] + [le]
        lo = [le] + [occ.addPoint(*q) for q in lower[1:-1]] + [te]
        wires.append(occ.addWire([occ.addSpline(up), occ.addSpline(lo)]))
    vol = occ.addThruSections(wires, makeSolid=True, makeRuled=False)
    occ.synchronize()
    vols = [t for d, t in vol if d == 3]
    if len(vols) != 1:
        raise MeshCheckError(f"the loft gave {len(vols)} volumes; expected 1")
    span = geometry["span"]
    faces = {"root": [], "tip": [], "surface": []}
    for _, f in gmsh.model.getBoundary([(3, vols[0])], oriented=False):
        zmin, zmax = gmsh.model.getBoundingBox(2, f)[2::3]
        if zmax < 1e-6 * span:
            faces["root"].append(f)
        elif zmin > (1 - 1e-6) * span:
            faces["tip"].append(f)
        else:
            faces["surface"].append(f)
    for name, tags in faces.items():
        gmsh.model.addPhysicalGroup(2, tags, name=name)
    gmsh.model.addPhysicalGroup(3, vols, name="blade")


def _check(mesh: Mesh, geometry: dict[str, Any]) -> None:
    span = geometry["span"]
    for name, z in (("root", 0.0), ("tip", span)):
        dev = np.abs(mesh.points[mesh.group_nodes(name), 2] - z).max()
        if dev > 1e-9 * span:
            raise MeshCheckError(f"'{name}' nodes are {dev:.2e} away from z = {z}")
    # the meshed volume matches the analytic loft (trapezoid rule over sections)
    s = np.linspace(0.0, 1.0, 21)
    areas = []
    for si in s:
        up, lo = blade_section(geometry, float(si), 200)
        loop = np.vstack([lo[:, :2], up[::-1, :2]])
        x, y = loop[:, 0], loop[:, 1]
        areas.append(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    areas = np.asarray(areas)
    expected = float(np.sum(0.5 * (areas[1:] + areas[:-1]) * np.diff(s * span)))
    got = float(cell_measures(mesh).sum())
    if abs(got - expected) > 0.05 * expected:
        raise MeshCheckError(f"meshed volume {got:.4g} differs from the loft's {expected:.4g}")


def make_blade3d(
    rng: np.random.Generator | int | None,
    mesh_size: float = DEFAULT_MESH_SIZE,
    order: int = 1,
    *,
    algorithm: int = 1,
    max_attempts: int = 5,
    verbosity: int = 0,
) -> tuple[Mesh, dict[str, Any]]:
    """Mesh a random twisted, tapered blade with tetrahedra.

    Parameters
    ----------
    rng : generator (advanced by the draws) or integer seed; the same seed gives
        identical node coordinates.
    mesh_size : target element size, in chords (root chord = 1); the default
        gives 2,700 to 4,700 nodes (order 1), about 3 elements through the
        thickness.
    order : 1 for 4-node tetrahedra, 2 for tetra10.
    algorithm : gmsh 3D algorithm id (1 Delaunay, 4 Frontal, 10 HXT).
    max_attempts : random geometries tried before giving up.
    verbosity : gmsh verbosity (0 silent).

    Returns
    -------
    mesh : Mesh with points (N, 3), right-handed tetrahedra (positive volume),
        triangle cells of the boundary and cell sets 'root' (z = 0, clamped),
        'tip' (z = span), 'surface' (suction and pressure sides) and 'blade'
        (all tetrahedra).
    params : provenance dict: ``family``, ``seed``, ``geometry`` (``max_camber``,
        ``camber_position``, ``thickness`` in chords, ``span`` in chords,
        ``twist`` in radians, ``taper`` = tip/root chord, and the sine
        coefficients of the ``root`` and ``tip`` perturbations), ``mesh``,
        ``attempts``, ``rejected``, ``n_points``, ``n_cells``. Sections are
        recovered by :func:`blade_section`.

    Raises
    ------
    ValueError
        On a non-positive size or an unknown order/algorithm.
    MeshingError
        If ``max_attempts`` random shapes all failed to mesh or check.

    Examples
    --------
    >>> mesh, params = make_blade3d(0, mesh_size=0.15)
    >>> sorted(mesh.cell_sets)
    ['blade', 'root', 'surface', 'tip']
    """
    settings = MeshSettings(mesh_size, order, algorithm, curvature_elements=12)
    nodes = scaled_range(BLADE3D_NODES, DEFAULT_MESH_SIZE, mesh_size, dim=3)
    return generate(
        "blade3d", rng, _draw, _build, 3, settings, ["root", "tip", "surface", "blade"],
        nodes, check=_check, max_attempts=max_attempts, verbosity=verbosity,
    )
