"""The retry loop and gmsh plumbing shared by the geometry families.

A family supplies two functions: ``draw(rng) -> geometry params`` (pure numpy)
and ``build(gmsh, geometry, mesh_size)`` (creates the CAD model and its physical
groups in the current gmsh model). :func:`generate` runs draw, build, mesh,
convert, orient and check, and on any failure of the random shape draws a new
one from the same generator, recording why the previous one was rejected.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from mesh import Mesh

from .checks import MeshCheckError, check_mesh, oriented
from .curves import as_generator

logger = logging.getLogger(__name__)

# gmsh keeps global state: one model is built at a time in a process.
_GMSH_LOCK = threading.RLock()
_MODEL_IDS = itertools.count()

ALGORITHMS_2D = {1: "MeshAdapt", 2: "Automatic", 5: "Delaunay", 6: "Frontal-Delaunay",
                 8: "Frontal-Delaunay for Quads", 9: "Packing of Parallelograms"}
ALGORITHMS_3D = {1: "Delaunay", 4: "Frontal", 7: "MMG3D", 10: "HXT"}


class MeshingError(RuntimeError):
    """No valid mesh was obtained within the allowed number of random draws.

    Attributes
    ----------
    rejected : one dict per failed attempt: ``attempt``, ``reason``, ``geometry``.
    """

    def __init__(self, family: str, rejected: list[dict[str, Any]]) -> None:
        self.family = family
        self.rejected = rejected
        reasons = "; ".join(f"#{r['attempt']}: {r['reason']}" for r in rejected[-3:])
        super().__init__(
            f"{family}: no valid mesh after {len(rejected)} random geometries; last "
            f"failures: {reasons}"
        )


@dataclass(frozen=True)
class MeshSettings:
    """gmsh settings of one family call (recorded in the provenance).

    Attributes
    ----------
    mesh_size : target element size (length unit of the geometry).
    order : 1 (linear cells) or 2 (quadratic: triangle6, tetra10).
    algorithm : gmsh ``Mesh.Algorithm`` (2D) or ``Mesh.Algorithm3D`` (3D) id.
    curvature_elements : ``Mesh.MeshSizeFromCurvature``, elements per 2 pi of
        boundary curvature (0 disables curvature refinement).
    min_size_factor : ``Mesh.MeshSizeMin = min_size_factor * mesh_size``.
    """

    mesh_size: float
    order: int = 1
    algorithm: int = 6
    curvature_elements: int = 0
    min_size_factor: float = 0.2

    def validate(self, dim: int) -> None:
        """Raise ``ValueError`` on settings gmsh cannot honour."""
        if not (np.isfinite(self.mesh_size) and self.mesh_size > 0):
            raise ValueError(f"mesh_size must be a positive length; got {self.mesh_size}")
        if self.order not in (1, 2):
            raise ValueError(f"order must be 1 (linear) or 2 (quadratic); got {self.order}")
        table = ALGORITHMS_2D if dim == 2 else ALGORITHMS_3D
        if self.algorithm not in table:
            raise ValueError(
                f"unknown {dim}D gmsh algorithm {self.algorithm}; choose from "
                + ", ".join(f"{k} ({v})" for k, v in table.items())
            )

    def as_dict(self, dim: int) -> dict[str, Any]:
        """Plain dict for the provenance record."""
        import gmsh

        table = ALGORITHMS_2D if dim == 2 else ALGORITHMS_3D
        return {
            "mesh_size": float(self.mesh_size), "order": int(self.order),
            "algorithm": int(self.algorithm), "algorithm_name": table[self.algorithm],
            "curvature_elements": int(self.curvature_elements),
            "min_size": float(self.min_size_factor * self.mesh_size),
            "gmsh_version": gmsh.__version__,
        }


class GmshOptions:
    """Sets numeric gmsh options and remembers their previous values.

    Examples
    --------
    >>> opts = GmshOptions()   # doctest: +SKIP
    >>> opts.set("Mesh.MeshSizeMax", 0.1); opts.restore()   # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.saved: dict[str, float] = {}

    def set(self, name: str, value: float) -> None:
        """Set option ``name`` to ``value``, remembering the first previous value."""
        import gmsh

        if name not in self.saved:
            self.saved[name] = gmsh.option.getNumber(name)
        gmsh.option.setNumber(name, float(value))

    def restore(self) -> None:
        """Give every option set through this object its previous value back."""
        import gmsh

        for name, value in self.saved.items():
            with contextlib.suppress(Exception):
                gmsh.option.setNumber(name, value)
        self.saved.clear()


@contextlib.contextmanager
def isolated_model(verbosity: int = 0) -> Iterator[GmshOptions]:
    """A fresh, silenced gmsh model in a session that is always cleaned up.

    If gmsh is not initialised, it is initialised here and finalised on exit
    (through :func:`physics.gmsh_mesh.gmsh_session`). If the caller already holds
    a gmsh session, a new model is added to it, and on exit that model is
    removed, the caller's current model is restored and every option set through
    the yielded :class:`GmshOptions` gets its previous value back. Only one
    thread at a time builds a model (gmsh keeps global state).

    Parameters
    ----------
    verbosity : gmsh ``General.Verbosity`` (0 silent, 2 errors and warnings,
        5 everything); terminal output is on only when it is positive.

    Yields
    ------
    GmshOptions, to set further options for this model only.
    """
    from physics.gmsh_mesh import gmsh_session

    with _GMSH_LOCK, gmsh_session(verbose=verbosity > 0) as gmsh:
        previous_model = gmsh.model.getCurrent()
        opts = GmshOptions()
        name = f"physics.geometry.{next(_MODEL_IDS)}"
        try:
            opts.set("General.Terminal", 1 if verbosity > 0 else 0)
            opts.set("General.Verbosity", verbosity)
            opts.set("General.NumThreads", 1)  # deterministic meshes
            gmsh.model.add(name)
            yield opts
        finally:
            with contextlib.suppress(Exception):
                gmsh.model.setCurrent(name)
                gmsh.model.remove()
            with contextlib.suppress(Exception):
                gmsh.model.setCurrent(previous_model)
            opts.restore()


def _mesh_current_model(dim: int, settings: MeshSettings, opts: GmshOptions) -> Mesh:
    import gmsh

    from physics.gmsh_mesh import mesh_from_gmsh_model

    h = settings.mesh_size
    opts.set("Mesh.MeshSizeMax", h)
    opts.set("Mesh.MeshSizeMin", settings.min_size_factor * h)
    opts.set("Mesh.MeshSizeFromPoints", 0)
    opts.set("Mesh.MeshSizeFromCurvature", settings.curvature_elements)
    opts.set("Mesh.MeshSizeExtendFromBoundary", 1)
    opts.set("Mesh.Algorithm", settings.algorithm if dim == 2 else 6)
    if dim == 3:
        opts.set("Mesh.Algorithm3D", settings.algorithm)
    opts.set("Mesh.Optimize", 1)
    opts.set("Mesh.RandomSeed", 1)
    opts.set("Mesh.ElementOrder", 1)
    opts.set("Mesh.SecondOrderLinear", 0)  # mid-side nodes on the curved geometry
    gmsh.model.mesh.generate(dim)
    if settings.order == 2:
        gmsh.model.mesh.setOrder(2)
    return oriented(mesh_from_gmsh_model(dim))


def generate(
    family: str,
    rng: np.random.Generator | int | None,
    draw: Callable[[np.random.Generator], dict[str, Any]],
    build: Callable[[Any, dict[str, Any], float], None],
    dim: int,
    settings: MeshSettings,
    groups: list[str],
    n_points_range: tuple[int, int],
    n_loops: int | None = None,
    check: Callable[[Mesh, dict[str, Any]], None] | None = None,
    max_attempts: int = 5,
    verbosity: int = 0,
) -> tuple[Mesh, dict[str, Any]]:
    """Draw, build, mesh and check a random geometry, retrying on failure.

    Parameters
    ----------
    family : family name, for messages and the provenance record.
    rng : generator (advanced) or integer seed.
    draw : draws the random geometric parameters (plain floats and lists).
    build : builds the CAD model and physical groups in the current gmsh model.
    dim : 2 or 3.
    settings : mesh size, order and algorithm.
    groups : names that must be present and non-empty.
    n_points_range : allowed number of vertex nodes.
    n_loops : expected number of boundary curves (2D), or None.
    check : extra family check raising :class:`MeshCheckError`, or None.
    max_attempts : number of random geometries tried before giving up.
    verbosity : gmsh verbosity (0 silent).

    Returns
    -------
    (mesh, params) where params holds ``family``, ``seed`` (the integer seed, or
    None when a generator was passed), ``rng_state`` (when a generator was
    passed: its ``bit_generator.state`` on entry, to replay the call; else None),
    ``geometry`` (the accepted parameters),
    ``mesh`` (the settings and gmsh version), ``attempts`` and ``rejected``
    (one ``{attempt, reason, geometry}`` dict per discarded draw). Everything
    is plain Python (dicts, lists, floats, ints, strings, None), ready for YAML/JSON.

    Raises
    ------
    MeshingError
        If no draw gave a valid mesh within ``max_attempts``.
    ValueError
        On invalid settings.
    """
    settings.validate(dim)
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1; got {max_attempts}")
    seed = int(rng) if isinstance(rng, (int, np.integer)) else None
    gen = as_generator(rng)
    rng_state = gen.bit_generator.state if seed is None else None
    rejected: list[dict[str, Any]] = []
    for attempt in range(max_attempts):
        geometry = draw(gen)
        try:
            with isolated_model(verbosity) as opts:
                import gmsh

                build(gmsh, geometry, settings.mesh_size)
                gmsh.model.occ.synchronize()
                mesh = _mesh_current_model(dim, settings, opts)
            check_mesh(mesh, groups, n_points_range, n_loops)
            if check is not None:
                check(mesh, geometry)
        except (TypeError, NameError, AttributeError, ImportError):
            raise  # programming errors, not bad luck with the random shape
        except Exception as exc:  # gmsh raises plain Exception
            logger.info("%s: attempt %d rejected: %s", family, attempt, exc)
            rejected.append({"attempt": attempt, "reason": str(exc), "geometry": geometry})
            continue
        params = {
            "family": family,
            "seed": seed,
            "rng_state": rng_state,
            "geometry": geometry,
            "mesh": settings.as_dict(dim),
            "attempts": attempt + 1,
            "rejected": rejected,
            "n_points": mesh.n_points,
            "n_cells": sum(len(b) for b in mesh.volume_blocks()),
        }
        return mesh, _plain(params)
    raise MeshingError(family, _plain(rejected))


def _plain(obj: Any) -> Any:
    """Recursively turn numpy scalars and arrays into Python floats, ints and lists."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    return obj


def scaled_range(default_range: tuple[int, int], default_size: float, mesh_size: float,
                 dim: int) -> tuple[int, int]:
    """Expected vertex-count range at ``mesh_size`` from the one measured at the default size.

    With ``f = default_size / mesh_size``, counts scale between ``f ** (dim - 1)``
    (boundary-dominated, coarse or thin meshes) and ``f ** dim`` (volume-dominated);
    the bounds take the extreme of both laws and a further factor 2 each way.
    This is a sanity check against degenerate meshes, not a statistical filter.

    Returns
    -------
    (low, high) inclusive bounds.
    """
    if np.isclose(mesh_size, default_size):
        return default_range
    f = default_size / mesh_size
    lo = default_range[0] * min(f ** (dim - 1), f**dim) / 2
    hi = default_range[1] * max(f ** (dim - 1), f**dim) * 2
    return max(3, int(lo)), int(np.ceil(hi)) + 50


__all__ = ["MeshingError", "MeshCheckError", "MeshSettings", "GmshOptions", "generate",
           "isolated_model", "scaled_range"]
