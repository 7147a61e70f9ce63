"""Loads of a :class:`~.loading.ViscoplasticLoading` evaluated on a :class:`~.model.ViscoplasticModel`."""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
import skfem

from mesh.types import FloatArray, IntArray

from ..errors import CaseError, GroupError, IllPosedError
from .loading import Pressure, Traction, ViscoplasticLoading
from .model import ViscoplasticModel

__all__ = ["DiscreteLoading"]

class DiscreteLoading:
    """Loads of a :class:`ViscoplasticLoading` evaluated on a :class:`ViscoplasticModel`.

    Surface and body loads are assembled once for a unit multiplier and scaled by their
    load functions; Dirichlet values and nodal temperatures are evaluated on demand.
    """

    def __init__(self, model: ViscoplasticModel, loading: ViscoplasticLoading) -> None:
        if not isinstance(loading, ViscoplasticLoading):
            raise CaseError(f"loading must be a ViscoplasticLoading; got {type(loading).__name__}")
        if not loading.dirichlet:
            raise IllPosedError("the viscoplastic problem needs at least one Dirichlet condition")
        self.model, self.loading = model, loading
        dofs, owner, base = [], [], []
        for i, bc in enumerate(loading.dirichlet):
            comps, vals = bc.values_for(model.dim)
            for c, v in zip(comps, vals):
                gd = model.group_dofs(bc.group, [c])
                dofs.append(gd)
                owner.append(np.full(len(gd), i))
                base.append(np.full(len(gd), v))
        all_dofs, own, val = np.concatenate(dofs), np.concatenate(owner), np.concatenate(base)
        # a dof named by several conditions takes the last one
        self.dirichlet_dofs, first = np.unique(all_dofs[::-1], return_index=True)
        self._dir_owner, self._dir_value = own[::-1][first], val[::-1][first]
        if len(self.dirichlet_dofs) == 0:
            raise IllPosedError("the Dirichlet groups contain no node of the volume mesh")
        self.free_dofs = np.setdiff1d(np.arange(model.n_dofs), self.dirichlet_dofs)
        self._surface = [(s.load, self._surface_vector(s)) for s in loading.surface]
        self._body = None
        if loading.body_force is not None:
            self._body = loading.body_force
        if loading.temperature is not None and loading.temperature.n_points != model.mesh.n_points:
            raise CaseError(
                f"NodalTemperature has {loading.temperature.n_points} values per time; the mesh "
                f"has {model.mesh.n_points} nodes"
            )

    def _surface_vector(self, s: Union[Traction, Pressure]) -> FloatArray:
        m = self.model
        if s.group not in m.mesh.groups:
            raise GroupError(s.group, m.mesh.groups)
        if s.group not in (m.skmesh.boundaries or {}):
            raise CaseError(
                f"{type(s).__name__} on '{s.group}': the group is not made of boundary facets "
                f"(lines in 2D, faces in 3D) of the volume mesh"
            )
        fb = skfem.FacetBasis(m.skmesh, m.element, facets=m.skmesh.boundaries[s.group],
                              intorder=2 * m.order)
        out = np.zeros(m.n_dofs)
        for i in range(m.dim):
            if isinstance(s, Pressure):
                form = skfem.LinearForm(lambda v, w, i=i: -s.value * w.n[i] * v)
            else:
                if len(s.vector) < m.dim:
                    raise CaseError(f"Traction on '{s.group}' has {len(s.vector)} components; "
                                    f"the mesh is {m.dim}D")
                ti = s.vector[i]
                form = skfem.LinearForm(lambda v, w, ti=ti: ti * v)
            out[i::m.dim] = form.assemble(fb)
        return out

    def external_force(self, t: float) -> FloatArray:
        """Surface and body forces at time ``t``: (n_dofs,), N."""
        f = np.zeros(self.model.n_dofs)
        for load, vec in self._surface:
            f += load(t) * vec
        if self._body is not None:
            m = self.model
            b = self._body.density_at(m.point_coordinates(), t)  # (e, q, d)
            fe = np.einsum("eqa,eq,eqd->ead", m.phi, m.weights, b).reshape(m.n_elements, -1)
            f += np.bincount(m.element_dofs.ravel(), weights=fe.ravel(), minlength=m.n_dofs)
        return f

    def dirichlet_values(self, t: float) -> FloatArray:
        """Prescribed displacement of each of ``dirichlet_dofs`` at time ``t``: (M,), m."""
        mult = np.array([bc.load(t) for bc in self.loading.dirichlet], dtype=float)
        return self._dir_value * mult[self._dir_owner]

    def temperature(self, t: float) -> Optional[FloatArray]:
        """Nodal temperature (N,) K at time ``t``, or None without a thermal load."""
        T = self.loading.temperature
        return None if T is None else T.at(t)

    def temperature_at_points(
        self, t: float, elements: Optional[IntArray] = None
    ) -> Optional[FloatArray]:
        """Temperature at the quadrature points of ``elements`` (n_e, n_qp), K, or None."""
        T = self.temperature(t)
        return None if T is None else self.model.at_points(T, elements)


