"""The linear elastic limit of a recipe's structural problem, solved on any mesh.

A surrogate of an elasto-(visco)plastic dataset can lean on this cheap solution: it
is exact wherever the material stays elastic, and it carries the effect of the
geometry on the fields (notch concentrations, bending) that a regressor would
otherwise have to learn from a few hundred samples. One P1 solve of a 5k-node
plate takes tens of milliseconds.

The limit of a ``viscoplastic`` recipe is the same material (E, nu), boundary
conditions and centrifugal load at the end of the load ramp, with an infinite yield
stress: the solution its own solver returns for a sample that stays elastic. Its
nodal stresses are recovered as that solver does on linear triangles (element
stresses, von Mises included, averaged at the nodes with the lumped mass: a
weighted mean of the cells around each node, in plane strain), so on such a sample
the two agree to round-off. An ``elasticity`` recipe is its own limit.

Examples
--------
>>> limit = ElasticLimit(recipe)                                       # doctest: +SKIP
>>> fields = limit.solve(mesh, {"P": 150.0, "sigma_y": 250.0})         # doctest: +SKIP
>>> sorted(fields)                                                      # doctest: +SKIP
['U1', 'U2', 'sig11', 'sig12', 'sig22', 'von_mises']
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_solve_banded, cholesky_banded
from scipy.sparse.csgraph import reverse_cuthill_mckee
from skfem.models.elasticity import lame_parameters

from mesh import Mesh

from .errors import CaseError
from .fast_p1 import tri_gradients, tri_p1_element_matrices
from .generate import solve_physics
from .recipes import ElasticityPhysics, ElasticMaterialSpec, Recipe, from_si, load_recipe, resolve
from .recovery import von_mises

__all__ = ["ElasticLimit"]

_STRUCTURAL = ("elasticity", "viscoplastic")


class ElasticLimit:
    """The linear elastic problem of a structural recipe, in the recipe's output units.

    Parameters
    ----------
    recipe : a :class:`~physics.recipes.Recipe`, its mapping (e.g. a dataset's
        ``provenance.recipe``), a recipe name or a YAML path.

    Attributes
    ----------
    recipe : the validated recipe.
    physics : the :class:`~physics.recipes.ElasticityPhysics` that is solved.
    fields : output field names of the recipe that the elastic solve provides (the
        displacement components, the stresses and von Mises; not ``p``).

    Raises
    ------
    CaseError
        The recipe is not a structural problem (e.g. heat), or has a temperature
        load (whose field is random per sample and not known on a new mesh).
    """

    def __init__(self, recipe: Recipe | dict[str, Any] | str) -> None:
        self.recipe = load_recipe(recipe)
        ph = self.recipe.physics
        if ph.solver not in _STRUCTURAL:
            raise CaseError(f"recipe '{self.recipe.name}' solves '{ph.solver}'; an elastic limit exists for "
                            f"{' and '.join(_STRUCTURAL)} recipes only")
        if ph.solver == "elasticity":
            if ph.temperature is not None:
                raise CaseError(f"recipe '{self.recipe.name}' has a temperature load, drawn at random per "
                                "sample: its elastic solution is not known on a new mesh")
            self.physics = ph
        else:
            m = ph.material
            self.physics = ElasticityPhysics(
                solver="elasticity", material=ElasticMaterialSpec(E=m.young, nu=m.poisson, density=m.density),
                boundary_conditions=ph.boundary_conditions, plane="strain",
                element_order=ph.element_order or 1, rotation=ph.rotation, linear_solver="direct")
        self._lumped = ph.solver == "viscoplastic"
        provided = {"U1", "U2", "U3", "sig11", "sig22", "sig33", "sig12", "sig23", "sig13", "von_mises"}
        self.fields = [n for n in self.recipe.outputs.fields if n in provided]

    def solve(self, mesh: Mesh, inputs: dict[str, float]) -> dict[str, np.ndarray]:
        """Solve the elastic limit on ``mesh`` for one set of input scalars.

        Parameters
        ----------
        mesh : a mesh of the recipe's geometry, with the groups its boundary
            conditions name; points (N, dim) in metres.
        inputs : input scalar name -> value in the recipe's declared units (those of
            the dataset, e.g. MPa).

        Returns
        -------
        field name -> (N,) nodal values in the recipe's declared output units, for
        each name of :attr:`fields`.

        Raises
        ------
        CaseError
            A missing input, or a group of the boundary conditions the mesh lacks.
        """
        missing = [n for n in self.recipe.inputs if n not in inputs]
        if missing:
            raise CaseError(f"the elastic limit of recipe '{self.recipe.name}' needs input(s) "
                            f"{', '.join(missing)}")
        known = {k: float(v) for k, v in inputs.items() if k in self.recipe.inputs}
        si = self.recipe.inputs_si(known)
        absent = sorted({bc.group for bc in self.physics.boundary_conditions} - set(mesh.groups))
        if absent:
            raise CaseError(f"the mesh lacks group(s) {', '.join(absent)} of recipe '{self.recipe.name}''s "
                            f"boundary conditions (it has: {', '.join(mesh.groups) or 'none'})")
        blocks = list(mesh.volume_blocks())
        ph = self.physics
        fast = (self._lumped and mesh.dim == 2 and ph.element_order == 1 and ph.rotation is None
                and [b.type for b in blocks] == ["triangle"]
                and all(bc.type in ("fixed", "traction") for bc in ph.boundary_conditions))
        if fast:  # the recipe's viscoplastic solver on P1 triangles: same discretisation, lumped recovery
            E, nu = (resolve(v, si) for v in (ph.material.E, ph.material.nu))
            u = plane_strain_p1(mesh, blocks[0].data, E, nu, ph.boundary_conditions, si)
            out = {"U1": u[:, 0], "U2": u[:, 1], **lumped_stresses(mesh.points[:, :2], blocks[0].data, u, E, nu)}
        else:
            out = dict(solve_physics(mesh, ph, si, np.random.default_rng(0)).fields)
        return {n: np.asarray(from_si(out[n], self.recipe.outputs.fields[n].unit), float) for n in self.fields}


def lumped_stresses(points: np.ndarray, triangles: np.ndarray, u: np.ndarray, E: float,
                    nu: float) -> dict[str, np.ndarray]:
    """Plane-strain nodal stresses of a P1 displacement, recovered by lumped L2 projection.

    Parameters
    ----------
    points : (N, 2) node coordinates [m]; triangles : (C, 3) node indices.
    u : (N, 2) nodal displacement [m]; E [Pa], nu [-]: isotropic material.

    Returns
    -------
    ``sig11``, ``sig22``, ``sig33``, ``sig12``, ``von_mises``: (N,) [Pa], each the
    area-weighted mean of the constant element values over the cells around a node
    (von Mises computed per element, then averaged).
    """
    tri = np.asarray(triangles, dtype=np.int64)
    g, area = tri_gradients(points, tri)              # (C, 3, 2), (C,)
    grad_u = np.einsum("cai,caj->cij", u[tri], g)     # (C, 2, 2): du_i / dx_j
    e11, e22 = grad_u[:, 0, 0], grad_u[:, 1, 1]
    e12 = 0.5 * (grad_u[:, 0, 1] + grad_u[:, 1, 0])
    lam, mu = lame_parameters(E, nu)
    tr = e11 + e22
    s = {"sig11": lam * tr + 2 * mu * e11, "sig22": lam * tr + 2 * mu * e22, "sig33": lam * tr,
         "sig12": 2 * mu * e12}
    s["von_mises"] = von_mises(s["sig11"], s["sig22"], s["sig33"], s["sig12"])
    w = np.repeat(area / 3.0, 3)                      # area / 3 per corner
    idx = tri.ravel()
    mass = np.bincount(idx, weights=w, minlength=len(points))
    mass = np.where(mass > 0, mass, 1.0)
    return {k: np.bincount(idx, weights=np.repeat(v, 3) * w, minlength=len(points)) / mass
            for k, v in s.items()}


def plane_strain_p1(mesh: Mesh, triangles: np.ndarray, E: float, nu: float, conditions: list,
                    inputs_si: dict[str, float]) -> np.ndarray:
    """Displacement of a P1 plane-strain problem with fixed and traction conditions.

    Parameters
    ----------
    mesh : the 2D mesh (points [m], the groups the conditions name).
    triangles : (C, 3) its cells.
    E [Pa], nu [-] : isotropic material.
    conditions : the recipe's ``fixed`` and ``traction`` boundary conditions (values
        as numbers or input names, resolved in ``inputs_si``).

    Returns
    -------
    (N, 2) nodal displacement [m]: the same solution as scikit-fem's P1 assembly
    (:func:`physics.elasticity.solve_elasticity`), from a vectorised assembly and one
    banded Cholesky solve (LAPACK, reverse Cuthill-McKee order of the nodes).

    Raises
    ------
    CaseError
        No fixed condition, fixed conditions that leave a rigid motion free, or a
        traction group without boundary edges.
    """
    pts = mesh.points[:, :2]
    n = len(pts)
    lam, mu = lame_parameters(E, nu)
    f = np.zeros(2 * n)
    fixed = np.zeros(2 * n, dtype=bool)
    u = np.zeros(2 * n)
    for bc in conditions:
        if bc.type == "fixed":
            nodes = mesh.group_nodes(bc.group)
            for c in (range(2) if bc.components is None else bc.components):
                fixed[2 * nodes + c] = True
                u[2 * nodes + c] = resolve(bc.value, inputs_si)
        else:
            edges = [b.data for b in mesh.group_cells(bc.group) if b.info.dim == 1]
            if not edges:
                raise CaseError(f"traction group '{bc.group}' has no boundary edges")
            e = np.concatenate(edges)[:, :2]
            half = 0.5 * np.linalg.norm(pts[e[:, 1]] - pts[e[:, 0]], axis=1)
            t = np.array([resolve(v, inputs_si) for v in bc.vector])
            for c in range(2):
                f[2 * e[:, 0] + c] += t[c] * half
                f[2 * e[:, 1] + c] += t[c] * half
    if not fixed.any():
        raise CaseError("the elastic limit has no fixed condition: its stiffness is singular")
    # the free-free block, numbered along a reverse Cuthill-McKee order of the nodes so that it is
    # banded: a banded Cholesky factorisation is 2-3x faster than SuperLU on these plates
    Ke, dofs = tri_p1_element_matrices(pts, triangles, lam, mu)
    rows, cols, vals = np.repeat(dofs, 6, axis=1).ravel(), np.tile(dofs, (1, 6)).ravel(), Ke.ravel()
    free = ~fixed
    m = int(free.sum())
    edges = np.asarray(triangles, dtype=np.int64)[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    graph = sp.csr_matrix((np.ones(2 * len(edges)), (edges.ravel(), edges[:, ::-1].ravel())), shape=(n, n))
    rank = np.empty(n, dtype=np.int64)
    rank[reverse_cuthill_mckee(graph, symmetric_mode=True)] = np.arange(n)
    by_rank = np.argsort(2 * rank[np.arange(2 * n) // 2] + np.arange(2 * n) % 2)  # DOFs in banded order
    new = np.full(2 * n, -1, dtype=np.int64)
    new[by_rank[free[by_rank]]] = np.arange(m)
    i, j = new[rows], new[cols]
    lift = (i >= 0) & fixed[cols]
    rhs = np.zeros(m)
    rhs[new[free]] = f[free]
    rhs -= np.bincount(i[lift], weights=vals[lift] * u[cols[lift]], minlength=m)
    upper = np.flatnonzero((i >= 0) & (j >= i))
    iu, ju = i[upper], j[upper]
    off = ju - iu
    bw = int(off.max())
    ab = np.bincount((bw - off) * m + ju, weights=vals[upper], minlength=(bw + 1) * m).reshape(bw + 1, m)
    try:
        factor = cholesky_banded(ab, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        raise CaseError("the elastic stiffness is not positive definite: the fixed conditions leave a rigid "
                        "motion free") from None
    u[free] = cho_solve_banded((factor, False), rhs, check_finite=False)[new[free]]
    return u.reshape(n, 2)
