"""Random parametric geometries meshed with gmsh, one family per module.

Every sample of a family has its own shape (random smooth boundary
perturbations, not a few inference-time parameters) and its own mesh (node
count and connectivity differ), as in the MMGP benchmarks. Each family is a
function ``make_<family>(rng, mesh_size=..., order=1, ...) -> (Mesh, params)``:
deterministic for an integer seed, returning the mesh with named groups and a
provenance dict of the random parameters and gmsh settings. A random shape that
fails to mesh or to pass the checks (:func:`checks.check_mesh`) is replaced by a
new draw from the same generator and recorded in ``params["rejected"]``.

=============  ===========================================  =====================
family         groups                                       nodes at default size
=============  ===========================================  =====================
plate2d        bottom, top, left, right, plate              1,400 - 2,200
holeplate2d    bottom, top, left, right, hole, plate        1,700 - 2,800
blade3d        root, tip, surface, blade (tetrahedra)       2,700 - 4,700
heat2d         cooled, insulated, boundary, domain          840 - 1,410
=============  ===========================================  =====================

(1st-99th percentile over 100-200 seeds, linear cells; the checks accept a
wider sanity range, ``<FAMILY>_NODES`` in each module.)

gmsh is imported only when a mesh is made; the session is always finalised
(or, if the caller already holds one, left as it was found).

Examples
--------
>>> from physics.geometry import make_geometry
>>> mesh, params = make_geometry("plate2d", 7, mesh_size=0.1)
>>> mesh.dim, params["family"], params["seed"]
(2, 'plate2d', 7)
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from mesh import Mesh

from ._meshing import MeshingError
from .blade3d import make_blade3d
from .checks import MeshCheckError
from .heat2d import make_heat2d
from .holeplate2d import make_holeplate2d
from .plate2d import make_plate2d

#: Family name -> maker function.
FAMILIES: dict[str, Callable[..., tuple[Mesh, dict[str, Any]]]] = {
    "plate2d": make_plate2d,
    "holeplate2d": make_holeplate2d,
    "blade3d": make_blade3d,
    "heat2d": make_heat2d,
}


def make_geometry(
    family: str, rng: np.random.Generator | int | None, **options: Any
) -> tuple[Mesh, dict[str, Any]]:
    """Mesh one random sample of the geometry family named ``family``.

    Parameters
    ----------
    family : one of :data:`FAMILIES` ('plate2d', 'holeplate2d', 'blade3d', 'heat2d').
    rng : generator or integer seed.
    **options : keyword arguments of the family's maker (``mesh_size``, ``order``, ...).

    Returns
    -------
    (mesh, params), as returned by the maker.

    Raises
    ------
    ValueError
        If the family is unknown; the message lists the known ones.
    """
    try:
        maker = FAMILIES[family]
    except KeyError:
        raise ValueError(
            f"unknown geometry family '{family}'; known: {', '.join(FAMILIES)}"
        ) from None
    return maker(rng, **options)


__all__ = [
    "FAMILIES",
    "make_geometry",
    "make_plate2d",
    "make_holeplate2d",
    "make_blade3d",
    "make_heat2d",
    "MeshingError",
    "MeshCheckError",
]
