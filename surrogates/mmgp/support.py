"""The common support of MMGP: morphing of any mesh onto it, and the transfer operators.

Two ways to bring meshes of different shapes and connectivities onto one support:

- ``"tutte"`` / ``"floater"`` (meshes bounded by one loop): every mesh is mapped onto
  the unit disk (boundary by arc length from the node of smallest x then y, interior
  by one sparse solve); the common support is the disk mapping of the median
  training mesh;
- ``"harmonic"`` (any number of loops, e.g. plates with holes): every mesh is morphed
  onto the *physical* domain of the median training mesh by loop matching plus a
  harmonic extension; that mesh itself is the common support.

In both cases a field ``u`` (N,) of a mesh is carried to the support by the linear FE
interpolation of the morphed mesh at the support nodes, ``W_to @ u`` (W_to: (n_s, N)),
and a field on the support is mapped back onto the mesh's own nodes by
``W_back @ u_s`` (W_back: (N, n_s)); points outside are clamped to the boundary.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from mesh import CellBlock, Mesh
from mesh.boundary import boundary_loops, planar_points
from mesh.errors import MeshError, MorphingError
from mesh.mass import mass_matrix
from mesh.morphing import (
    DirichletSolver,
    MorphResult,
    inverted_cells,
    loop_targets,
    morph,
    stiffness_matrix,
)
from mesh.transfer import Locator, interpolation_matrix, simplex_split

from ..errors import InputError, ModelFormatError, SurrogateError
from .landmarks import boundary_group_nodes, corner_landmarks, landmark_disk_mapping

_WEIGHTS = {"tutte": "uniform", "floater": "mean_value"}


def volume_mesh(mesh: Mesh, points: np.ndarray | None = None) -> Mesh:
    """The volume cells of ``mesh`` only (no data, no groups), optionally on new points (N, d)."""
    pts = mesh.points if points is None else points
    return Mesh(np.asarray(pts, dtype=np.float64),
                tuple(CellBlock(b.type, b.data) for b in mesh.volume_blocks()))


def boundary_loop_list(mesh: Mesh) -> list[np.ndarray]:
    """Boundary loops (node indices) of a planar 2D mesh: one for a simply connected domain.

    Raises
    ------
    InputError
        For a mesh that is not a planar 2D mesh with a manifold boundary.
    """
    if mesh.topological_dim != 2:
        raise InputError(f"MMGP works on 2D meshes (triangles/quads); this mesh has "
                         f"{mesh.topological_dim}D cells ({', '.join(mesh.cell_types) or 'no cells'})")
    try:
        return boundary_loops(mesh)
    except (MeshError, MorphingError) as exc:
        raise InputError(f"the mesh boundary cannot be walked: {exc}") from None


def count_loops(mesh: Mesh) -> int:
    """Number of boundary loops of a planar 2D mesh (see :func:`boundary_loop_list`)."""
    return len(boundary_loop_list(mesh))


def stiffening_weights(points: np.ndarray, simplices: np.ndarray, exponent: float) -> np.ndarray | None:
    """Jacobian stiffening of a mesh-motion Laplacian: w_K = (mean area / |K|)^exponent, (S,).

    Small cells (near holes and notches, where the motion concentrates) get a larger
    diffusivity, so they move more rigidly and do not fold. None for exponent 0.
    """
    if exponent == 0:
        return None
    e = points[simplices[:, 1:]] - points[simplices[:, :1]]
    area = np.abs(e[:, 0, 0] * e[:, 1, 1] - e[:, 0, 1] * e[:, 1, 0])
    return (area.mean() / np.maximum(area, 1e-300 * area.mean())) ** exponent


def incremental_harmonic_morph(mesh: Mesh, reference: Mesh, steps: int,
                               stiffening: float = 0.0, adaptive: bool = True) -> MorphResult:
    """Loop-matched morph of ``mesh`` onto ``reference``, the boundary moved in increments.

    The boundary targets are those of :func:`mesh.morphing.loop_targets` (every loop onto
    its counterpart by normalised arc length); each increment is one FE Laplace solve on
    the current configuration, which folds far fewer cells than one solve when the holes
    move. With ``stiffening`` > 0 the Laplacian is Jacobian-stiffened
    (:func:`stiffening_weights`, recomputed at every increment): on 40 holeplate2d training
    meshes, 8 increments fold cells in 26 meshes without it and in none with 1.

    With ``adaptive`` (the default) increments are adaptive: the whole way is tried first; an increment that folds a cell
    is halved and retried from the last good configuration, down to ``1 / steps`` of the
    way, and the increment doubles again after a success. A mesh that moves little costs
    one solve, one that needs small increments only where it folds pays for those. The
    path depends on the mesh only, so training and prediction morph a mesh identically.
    Without ``adaptive``, ``steps`` equal increments are always made: about 2x slower on
    holeplate2d and a smoother morph (displacement RRMSE 1.3e-2 instead of 1.6e-2 there).

    Parameters
    ----------
    mesh : 2D mesh (volume cells only), same number of holes as ``reference``.
    reference : the target domain.
    steps : 1 / smallest increment (1: the plain harmonic extension).
    stiffening : exponent of the Jacobian stiffening (0: the plain Laplacian).
    adaptive : adaptive increments (see above) or ``steps`` equal ones.

    Returns
    -------
    MorphResult (method ``"harmonic"``) with the inversion report against ``mesh``.
    """
    bnd, goal = loop_targets(mesh, reference)
    tri = simplex_split(mesh)[0]
    start, pts = mesh.points[bnd], mesh.points.copy()
    h_min = 1.0 / steps
    done, h = 0.0, (1.0 if adaptive else h_min)
    solver = None  # factorised at the current configuration; a retry from it reuses it
    while done < 1.0 - 1e-12:
        h = min(h, 1.0 - done)
        if solver is None:
            stiff = stiffness_matrix(pts, tri, stiffening_weights(pts, tri, stiffening))
            solver = DirichletSolver(stiff, bnd, symmetric=True)
        target = start + (done + h) * (goal - start)
        trial = pts + solver.solve(target - pts[bnd])
        if h <= h_min * (1 + 1e-9) or inverted_cells(mesh, trial).ok:
            pts, done, h, solver = trial, done + h, (2 * h if adaptive else h), None
        else:
            h = max(h / 2, h_min)
    return MorphResult(mesh.with_points(pts), "harmonic", inverted_cells(mesh, pts))


def mesh_arrays(prefix: str, mesh: Mesh) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(meta, arrays) holding the points and volume cells of a mesh, for safetensors."""
    blocks = list(mesh.volume_blocks())
    arrays = {f"{prefix}.points": np.ascontiguousarray(mesh.points)}
    arrays.update({f"{prefix}.cells{i}": np.ascontiguousarray(b.data) for i, b in enumerate(blocks)})
    return {"cell_types": [b.type for b in blocks]}, arrays


def mesh_from_arrays(prefix: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Mesh:
    """Inverse of :func:`mesh_arrays`."""
    try:
        cells = tuple(CellBlock(t, np.asarray(arrays[f"{prefix}.cells{i}"], dtype=np.int64))
                      for i, t in enumerate(meta["cell_types"]))
        return Mesh(np.asarray(arrays[f"{prefix}.points"], dtype=np.float64), cells)
    except (KeyError, MeshError) as exc:
        raise ModelFormatError(f"the stored mesh '{prefix}' is incomplete or invalid: {exc}") from None


@dataclass(eq=False)
class MorphedMesh:
    """A mesh morphed onto the common support, with both transfer operators.

    Attributes
    ----------
    points : (N, 2) float64 physical coordinates of the mesh (planar).
    morphed : (N, 2) float64 coordinates after morphing (support frame).
    to_support : (n_s, N) CSR interpolation of the mesh's nodal fields at the support nodes.
    from_support : (N, n_s) CSR interpolation of support fields at the mesh nodes, or
        None when not asked for.
    inversions : number of cells inverted by the morph (0 for disk mappings).
    """

    points: np.ndarray
    morphed: np.ndarray
    to_support: sp.csr_matrix
    from_support: sp.csr_matrix | None
    inversions: int


@dataclass(eq=False)
class CommonSupport:
    """The common support and the way meshes are morphed onto it.

    Attributes
    ----------
    mesh : the support mesh (volume cells only), in the morphed frame: the unit disk
        for disk mappings, the physical domain of the reference for ``"harmonic"``.
        Its n_s nodes carry every snapshot.
    method : ``"tutte"``, ``"floater"`` or ``"harmonic"``.
    n_loops : number of boundary loops of every training mesh.
    reference : the reference mesh (physical frame) of ``"harmonic"``; None otherwise.
    landmarks : for disk mappings with landmarks (:mod:`.landmarks`): landmark key
        (``"bottom+left"``) -> normalised arc length on the circle; None without.
    harmonic_steps : boundary increments of the ``"harmonic"`` morph
        (:func:`incremental_harmonic_morph`).
    stiffening : Jacobian-stiffening exponent of the ``"harmonic"`` morph.
    adaptive : adaptive increments of the ``"harmonic"`` morph.
    """

    mesh: Mesh
    method: str
    n_loops: int
    reference: Mesh | None = None
    landmarks: dict[str, float] | None = None
    harmonic_steps: int = 8
    stiffening: float = 0.0
    adaptive: bool = True
    _mass: dict[int, sp.csr_matrix] = field(default_factory=dict, repr=False)
    _locator: Locator | None = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of support nodes n_s."""
        return self.mesh.n_points

    @property
    def landmark_groups(self) -> list[str]:
        """Boundary groups whose shared nodes are the landmarks (empty without landmarks)."""
        return sorted({g for k in (self.landmarks or {}) for g in k.split("+")})

    @classmethod
    def build(cls, template: Mesh, method: str, landmarks: str = "none",
              harmonic_steps: int = 8, stiffening: float = 0.0, adaptive: bool = True) -> CommonSupport:
        """The support made from one training mesh.

        Parameters
        ----------
        template : the (median) training mesh, 2D.
        method : ``"auto"``, ``"tutte"``, ``"floater"`` or ``"harmonic"``; ``"auto"`` is
            Tutte for one boundary loop and harmonic otherwise.
        landmarks : ``"none"``, ``"corners"`` (disk mapping with the nodes shared by named
            boundary groups kept at the template's angles; an error without them) or
            ``"auto"`` (corners when the template has at least 2 of them and the mapping
            is a disk mapping).
        harmonic_steps : boundary increments of the ``"harmonic"`` morph.
        stiffening : Jacobian-stiffening exponent of the ``"harmonic"`` morph.
        adaptive : adaptive increments of the ``"harmonic"`` morph.

        Raises
        ------
        SurrogateError
            A disk mapping asked for meshes with holes, or corners asked for without
            named boundary groups.
        """
        n_loops = count_loops(template)
        if method == "auto":
            method = "tutte" if n_loops == 1 else "harmonic"
        if method in ("tutte", "floater") and n_loops != 1:
            raise SurrogateError(f"morphing '{method}' maps meshes bounded by one loop onto the disk; "
                                 f"the training meshes have {n_loops} boundary loops: use "
                                 "morphing='harmonic' (or 'auto')")
        base = volume_mesh(template, planar_points(template))
        if method == "harmonic":
            if landmarks == "corners":
                raise SurrogateError("landmarks='corners' works with disk mappings (tutte, floater), "
                                     "not with morphing='harmonic'")
            return cls(base, method, n_loops, reference=base, harmonic_steps=harmonic_steps,
                       stiffening=stiffening, adaptive=adaptive)
        if landmarks != "none":
            loop = boundary_loops(base)[0]
            groups = boundary_group_nodes(template, loop)
            if len(corner_landmarks(groups, loop)) >= 2:
                res, targets = landmark_disk_mapping(base, groups, None, weights=_WEIGHTS[method])
                return cls(volume_mesh(base, res.points), method, n_loops, landmarks=targets)
            if landmarks == "corners":
                raise SurrogateError(
                    f"landmarks='corners' needs at least 2 nodes shared by named boundary groups; the "
                    f"support mesh has boundary groups {', '.join(groups) or 'none'}")
        res = morph(base, method=method)
        return cls(volume_mesh(base, res.points), method, n_loops)

    # -------------------------------------------------------------- morphing
    def check_topology(self, mesh: Mesh) -> list[np.ndarray]:
        """The boundary loops of ``mesh`` (node indices); InputError unless it has the
        topology of the training meshes."""
        loops = boundary_loop_list(mesh)
        n = len(loops)
        if n != self.n_loops:
            raise InputError(
                f"the mesh has {n} boundary loop(s) ({n - 1} hole(s)) but the model was trained on "
                f"meshes with {self.n_loops} loop(s) ({self.n_loops - 1} hole(s)): MMGP only predicts "
                "on meshes of the training topology")
        return loops

    def morph(self, mesh: Mesh) -> MorphResult:
        """Morph ``mesh`` onto the support frame (same method as in training).

        Raises
        ------
        InputError
            For another topology than the training meshes, a mesh without the landmark
            groups of the support, or a morph that fails.
        """
        loops = self.check_topology(mesh)
        vol = volume_mesh(mesh, planar_points(mesh))
        try:
            if self.method == "harmonic":
                return incremental_harmonic_morph(vol, self.reference, self.harmonic_steps, self.stiffening,
                                                  self.adaptive)
            if self.landmarks:
                groups = boundary_group_nodes(mesh, loops[0], self.landmark_groups)
                return landmark_disk_mapping(vol, groups, self.landmarks, weights=_WEIGHTS[self.method],
                                             loops=loops)[0]
            return morph(vol, method=self.method)
        except MorphingError as exc:
            hint = (f" (the model keeps the corners of the boundary groups {', '.join(self.landmark_groups)} "
                    "in place: the mesh needs these named groups)" if self.landmarks else "")
            raise InputError(f"the mesh cannot be morphed onto the common support: {exc}{hint}") from None

    def morph_and_transfer(self, mesh: Mesh, *, back: bool = True) -> MorphedMesh:
        """Morph ``mesh`` and build its transfer operators to (and from) the support.

        Parameters
        ----------
        mesh : a 2D mesh with the training topology.
        back : also build the operator from the support back to the mesh nodes.

        Returns
        -------
        MorphedMesh
        """
        res = self.morph(mesh)
        to, bk = self.operators(res, back=back)
        return MorphedMesh(planar_points(mesh), res.points, to, bk, int(res.inversions.count))

    def operators(self, res: MorphResult, *, back: bool = True) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
        """Transfer operators of a morphed mesh: (to support (n_s, N), back (N, n_s) or None).

        Warns
        -----
        UserWarning
            When the morph inverted cells (the transfer is approximate there).
        """
        if res.inversions.count:
            warnings.warn(f"morphing onto the common support inverted {res.inversions.count} cell(s) "
                          f"of a mesh of {res.mesh.n_points} nodes; its transfer is approximate there",
                          stacklevel=3)
        to = interpolation_matrix(res.mesh, self.mesh.points, outside="clamp")
        if back and self._locator is None:  # the support's search trees, built once
            self._locator = Locator(self.mesh)
        bk = self._locator.interpolation_matrix(res.points, outside="clamp") if back else None
        return to, bk

    def mass(self, n_components: int = 1) -> sp.csr_matrix:
        """Consistent P1 mass matrix of the support for ``n_components``-vector fields.

        Returns
        -------
        (c n_s, c n_s) CSR in the ``"blocked"`` layout (all component 0, then all
        component 1, ...): the layout of :func:`flatten`. Unit: support length^2.
        """
        if n_components not in self._mass:
            self._mass[n_components] = mass_matrix(self.mesh, n_components=n_components, layout="blocked")
        return self._mass[n_components]

    # ----------------------------------------------------------- persistence
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(meta, arrays) of the support for the model folder."""
        meta, arrays = mesh_arrays("support", self.mesh)
        meta = {"method": self.method, "n_loops": self.n_loops, "support": meta,
                "landmarks": self.landmarks, "harmonic_steps": self.harmonic_steps,
                "stiffening": self.stiffening, "adaptive": self.adaptive}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> CommonSupport:
        """Inverse of :meth:`state`."""
        try:
            method, n_loops = str(meta["method"]), int(meta["n_loops"])
            mesh = mesh_from_arrays("support", meta["support"], arrays)
        except (KeyError, TypeError) as exc:
            raise ModelFormatError(f"the common support of the model is incomplete: missing {exc}") from None
        landmarks = meta.get("landmarks")
        return cls(mesh, method, n_loops, reference=mesh if method == "harmonic" else None,
                   landmarks={str(k): float(v) for k, v in landmarks.items()} if landmarks else None,
                   harmonic_steps=int(meta.get("harmonic_steps", 1)),
                   stiffening=float(meta.get("stiffening", 0.0)),
                   adaptive=bool(meta.get("adaptive", False)))  # older models: equal increments


def flatten(values: np.ndarray) -> np.ndarray:
    """Nodal values (N,) or (N, c) as one vector in the blocked layout: (c N,).

    The blocked layout (all component 0, then component 1, ...) is the one of
    :meth:`CommonSupport.mass`; mixing it with the interleaved one is the known
    pitfall of the MMGP reference code.
    """
    v = np.asarray(values, dtype=np.float64)
    return v.reshape(-1) if v.ndim == 1 else v.T.reshape(-1)


def unflatten(vector: np.ndarray, n_components: int) -> np.ndarray:
    """Inverse of :func:`flatten` on the last axis: (..., c N) -> (..., N) or (..., N, c)."""
    v = np.asarray(vector)
    if n_components == 1:
        return v
    n = v.shape[-1] // n_components
    return np.moveaxis(v.reshape(*v.shape[:-1], n_components, n), -2, -1)


__all__ = ["CommonSupport", "MorphedMesh", "count_loops", "flatten", "incremental_harmonic_morph",
           "stiffening_weights", "unflatten", "volume_mesh"]
