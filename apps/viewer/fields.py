"""Which fields a sample holds, and the scalar values to colour by.

Arrays are grouped by base name from their suffix, generically, whatever wrote them:

=============  ==================  ==========================================
array name     role                written by
=============  ==================  ==========================================
``NAME``       prediction / value  a prediction (``Prediction.to_mesh``) or a dataset
``NAME_ref``   reference           validation reports (the FEM solution)
``NAME_err``   abs error           validation reports (shown as absolute values)
``NAME_std``   predictive std      predictions with uncertainty
``NAME_q025``  2.5 % quantile      predictions with uncertainty
``NAME_q975``  97.5 % quantile     predictions with uncertainty
=============  ==================  ==========================================

``NAME`` is called *prediction* when another role of it sits beside it (``NAME_ref``,
``NAME_std``, ...) and *value* otherwise (a dataset's field). When a prediction and its
reference exist but no ``NAME_err`` does, the absolute error is computed.
Point and cell data are both offered (a cell field is keyed ``"NAME (cell)"``); a
vector or tensor field offers its magnitude and each component.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import FieldNotFoundError

ROLE_SUFFIXES = (("_ref", "reference"), ("_err", "error"), ("_std", "std"),
                 ("_q025", "q025"), ("_q975", "q975"))
ROLE_LABELS = {"prediction": "prediction", "value": "value", "reference": "reference",
               "error": "abs error", "std": "predictive std", "q025": "2.5 % quantile",
               "q975": "97.5 % quantile"}
ROLE_ORDER = tuple(ROLE_LABELS)
COMPUTED = ""  # array name of a role computed from others (the error of NAME vs NAME_ref)
MAGNITUDE = "magnitude"
_HIDDEN_PREFIXES = ("_", "vtk", "cellset:", "pointset:", "group:", "pointgroup:")


@dataclass(frozen=True)
class FieldGroup:
    """One physical field and the arrays that show it in its different roles.

    Attributes
    ----------
    name : base name, e.g. ``"von_mises"``.
    location : ``"point"`` or ``"cell"``.
    arrays : role -> array name in the grid (:data:`COMPUTED` for a computed error).
    n_components : 1 for a scalar field, c for an (N, c) field.
    """

    name: str
    location: str
    arrays: dict[str, str] = field(default_factory=dict)
    n_components: int = 1

    @property
    def key(self) -> str:
        """Name shown in the field selector (cell fields carry a ``(cell)`` tag)."""
        return self.name if self.location == "point" else f"{self.name} (cell)"

    @property
    def roles(self) -> list[str]:
        """Roles present, in display order (prediction first)."""
        return [r for r in ROLE_ORDER if r in self.arrays]

    @property
    def components(self) -> list[str]:
        """``["magnitude", "X", "Y", ...]`` for vectors, ``[]`` for scalars."""
        return component_names(self.n_components)

    @property
    def comparable(self) -> bool:
        """True when a prediction and its reference can be shown side by side."""
        return "prediction" in self.arrays and "reference" in self.arrays


def component_names(n: int) -> list[str]:
    """Component choices of an n-component field (empty for a scalar)."""
    if n <= 1:
        return []
    names = ["X", "Y", "Z"] if n <= 3 else [str(i) for i in range(n)]
    return [MAGNITUDE, *names[:n]]


def _split_role(name: str) -> tuple[str, str]:
    for suffix, role in ROLE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], role
    return name, "value"


def _visible(name: str, arr: np.ndarray) -> bool:
    return (not name.startswith(_HIDDEN_PREFIXES) and np.issubdtype(arr.dtype, np.number)
            and arr.ndim in (1, 2))


def discover(grid) -> dict[str, FieldGroup]:
    """Group the point and cell arrays of a pyvista dataset by field.

    Parameters
    ----------
    grid : a ``pyvista.DataSet``.

    Returns
    -------
    key -> FieldGroup, point fields first, each location in the grid's array order.
    """
    out: dict[str, FieldGroup] = {}
    for location, data in (("point", grid.point_data), ("cell", grid.cell_data)):
        found: dict[str, dict[str, str]] = {}
        ncomp: dict[str, int] = {}
        for name in list(data):
            arr = np.asarray(data[name])
            if not _visible(name, arr):
                continue
            base, role = _split_role(name)
            found.setdefault(base, {})[role] = name
            ncomp.setdefault(base, 1 if arr.ndim == 1 else arr.shape[1])
        for base, arrays in found.items():
            if "value" in arrays and len(arrays) > 1:  # NAME beside NAME_ref / _std / ...
                arrays["prediction"] = arrays.pop("value")
            if "prediction" in arrays and "reference" in arrays:
                arrays.setdefault("error", COMPUTED)
            group = FieldGroup(base, location, arrays, ncomp[base])
            out[group.key] = group
    return out


def _data(grid, group: FieldGroup, role: str) -> np.ndarray:
    data = grid.point_data if group.location == "point" else grid.cell_data
    if role == "error" and group.arrays["error"] == COMPUTED:
        pred = np.asarray(data[group.arrays["prediction"]], dtype=np.float64)
        return pred - np.asarray(data[group.arrays["reference"]], dtype=np.float64)
    return np.asarray(data[group.arrays[role]], dtype=np.float64)


def values(grid, group: FieldGroup, role: str, component: str = MAGNITUDE) -> np.ndarray:
    """The scalar values to colour by: (N,) for point fields, (C,) for cell fields.

    Vectors give their Euclidean norm for ``"magnitude"`` and one column otherwise; an
    error is shown as an absolute value (the norm of the error vector for a magnitude).

    Raises
    ------
    FieldNotFoundError
        When ``role`` is not one of the group's roles.
    """
    if role not in group.arrays:
        raise FieldNotFoundError(f"field '{group.key}' has no {ROLE_LABELS.get(role, role)}; "
                                 f"it has: {', '.join(ROLE_LABELS[r] for r in group.roles)}")
    arr = _data(grid, group, role)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        names = component_names(arr.shape[1])
        if component in names[1:]:
            arr = arr[:, names.index(component) - 1]
        else:
            arr = np.linalg.norm(arr, axis=1)
    return np.abs(arr) if role == "error" else arr


def resolve(groups: dict[str, FieldGroup], request: str, where: str = "the sample") -> tuple[str, str]:
    """Turn a user's field name into (group key, role).

    ``request`` may be a base name (``"von_mises"``), a group key (``"p (cell)"``) or a
    full array name (``"von_mises_std"``, ``"U_ref"``).

    Raises
    ------
    FieldNotFoundError
        Naming the request and listing the fields there are.
    """
    if request in groups:
        return request, groups[request].roles[0]
    for key, group in groups.items():
        for role, array in group.arrays.items():
            if array and array == request:
                return key, role
    base, role = _split_role(request)
    for key, group in groups.items():
        if group.name == base and role in group.arrays:
            return key, role
    names = sorted({a for g in groups.values() for a in g.arrays.values() if a} | set(groups))
    raise FieldNotFoundError(f"field '{request}' is not in {where}; available: "
                             f"{', '.join(names) or 'none'}")
