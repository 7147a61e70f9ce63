"""Disk mapping with boundary landmarks: corners of named boundary groups kept in place.

The plain MMGP disk mapping places boundary nodes on the unit circle by normalised
arc length from the node of smallest x. When the boundary length varies between
samples (notches, bulges), the same physical corner lands at different angles, and
the fields on the common support are misaligned (more POD modes for the same error).

Here the *landmarks* are the boundary nodes shared by two or more named boundary
groups (e.g. the corner ``bottom+left`` of a plate whose edges are the groups
``bottom``, ``right``, ``top``, ``left``). Every mesh sends each landmark to the angle
it has on the support mesh, and the arc length is interpolated linearly (periodic)
between landmarks; the interior is one sparse solve with Tutte or Floater weights.
On the plate2d data this halves the POD projection error at 16 modes.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mesh import Mesh
from mesh.boundary import boundary_loops, loop_arc_length, planar_points
from mesh.errors import MorphingError
from mesh.morphing import (
    MorphResult,
    dirichlet_solve,
    inverted_cells,
    mean_value_weights,
    uniform_weights,
)
from mesh.transfer import simplex_split


def boundary_group_nodes(mesh: Mesh, loop: np.ndarray,
                        names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Nodes of the named groups of ``mesh`` that lie on the boundary ``loop``.

    Parameters
    ----------
    mesh : a mesh with named groups (cell or point sets).
    loop : (L,) node indices of the boundary loop.
    names : groups to look for (default: every group of the mesh); absent ones are skipped.

    Returns
    -------
    Group name -> (M,) int64 sorted node indices, for groups whose nodes are all on ``loop``.
    """
    on = np.zeros(mesh.n_points, bool)
    on[loop] = True
    out = {}
    for name in sorted(mesh.groups if names is None else names):
        if name not in mesh.groups:
            continue
        nodes = mesh.group_nodes(name)
        if len(nodes) and on[nodes].all():
            out[name] = nodes
    return out


def corner_landmarks(groups: dict[str, np.ndarray], loop: np.ndarray) -> dict[str, int]:
    """Landmarks of a boundary loop: ``"g1+g2"`` -> position of the node in ``loop``.

    Parameters
    ----------
    groups : boundary group name -> node indices (see :func:`boundary_group_nodes`).
    loop : (L,) node indices of the outer boundary loop.

    Returns
    -------
    Key -> index into ``loop`` for every node shared by two or more of the groups;
    keys shared by several nodes (groups overlapping along an edge) are left out.
    """
    names = sorted(groups)
    if not names:
        return {}
    member = {g: np.isin(loop, groups[g]) for g in names}
    counts = np.sum([member[g] for g in names], axis=0)
    found: dict[str, list[int]] = {}
    for pos in np.flatnonzero(counts >= 2):
        key = "+".join(g for g in names if member[g][pos])
        found.setdefault(key, []).append(int(pos))
    return {k: v[0] for k, v in found.items() if len(v) == 1}


def landmark_angles(mesh: Mesh, loop: np.ndarray, positions: dict[str, int],
                    targets: dict[str, float]) -> np.ndarray:
    """Angles (L,) in radians of the loop nodes, landmarks sent to their target arc lengths.

    Parameters
    ----------
    mesh : the mesh.
    loop : (L,) outer boundary loop (counter-clockwise).
    positions : landmark key -> index into ``loop``.
    targets : landmark key -> normalised arc length in [0, 1) on the support.

    Raises
    ------
    MorphingError
        A landmark of ``targets`` missing from the mesh, or landmarks in another
        cyclic order than on the support.
    """
    missing = sorted(set(targets) - set(positions))
    if missing:
        raise MorphingError(f"the mesh lacks the boundary landmark(s) {', '.join(missing)} (nodes "
                            f"shared by these boundary groups); found: {', '.join(sorted(positions)) or 'none'}")
    t = loop_arc_length(planar_points(mesh), loop)
    keys = sorted(targets, key=lambda k: t[positions[k]])
    src = np.array([t[positions[k]] for k in keys])
    dst = np.array([targets[k] for k in keys])
    dst = dst[0] + np.mod(dst - dst[0], 1.0)  # unwrapped, increasing if the cyclic order matches
    if np.any(np.diff(dst) <= 0):
        raise MorphingError(f"the boundary landmarks come in another order along the boundary "
                            f"({', '.join(keys)}) than on the common support")
    src_e = np.concatenate([[src[-1] - 1.0], src, [src[0] + 1.0]])
    dst_e = np.concatenate([[dst[-1] - 1.0], dst, [dst[0] + 1.0]])
    return 2.0 * np.pi * np.interp(t, src_e, dst_e)


def landmark_disk_mapping(mesh: Mesh, groups: dict[str, np.ndarray], targets: dict[str, float] | None,
                          *, weights: str = "uniform",
                          loops: list[np.ndarray] | None = None) -> tuple[MorphResult, dict[str, float]]:
    """Map a 2D mesh bounded by one loop onto the unit disk, landmarks at given angles.

    Parameters
    ----------
    mesh : 2D mesh with one boundary loop (volume cells only).
    groups : boundary group name -> node indices of ``mesh`` (the landmarks are the nodes
        shared by two or more groups).
    targets : landmark key -> normalised arc length on the circle; None: the mesh's own
        (this mesh defines the support).
    weights : ``"uniform"`` (Tutte) or ``"mean_value"`` (Floater).
    loops : the boundary loops of ``mesh`` if already walked (None: walked here).

    Returns
    -------
    (MorphResult with the (N, 2) disk coordinates, the landmark targets used)

    Raises
    ------
    MorphingError
        Not one loop, fewer than 2 landmarks for a new support, a missing landmark,
        another landmark order, or a singular solve.
    """
    loops = boundary_loops(mesh) if loops is None else loops
    if len(loops) != 1:
        raise MorphingError(f"a disk mapping needs one boundary loop; the mesh has {len(loops)}")
    loop = loops[0]
    positions = corner_landmarks(groups, loop)
    if targets is None:
        if len(positions) < 2:
            raise MorphingError(f"landmarks need at least 2 nodes shared by boundary groups; found "
                                f"{len(positions)} ({', '.join(positions) or 'none'})")
        t = loop_arc_length(planar_points(mesh), loop)
        targets = {k: float(t[p]) for k, p in positions.items()}
    theta = landmark_angles(mesh, loop, positions, targets)
    pts = planar_points(mesh)
    w = uniform_weights(mesh) if weights == "uniform" else mean_value_weights(pts, simplex_split(mesh)[0])
    lap = (sp.diags(np.asarray(w.sum(axis=1)).ravel()) - w).tocsr()
    new = dirichlet_solve(lap, loop, np.column_stack([np.cos(theta), np.sin(theta)]))
    method = "tutte" if weights == "uniform" else "floater"
    return MorphResult(mesh.with_points(new), method, inverted_cells(mesh, new)), targets


__all__ = ["boundary_group_nodes", "corner_landmarks", "landmark_angles", "landmark_disk_mapping"]
