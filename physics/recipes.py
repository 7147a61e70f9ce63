"""Dataset recipes: validated YAML descriptions of a family of simulations.

A recipe says how to make one random sample: which geometry family to mesh (and
how finely), which solver to run with which material and boundary conditions
(by group name), which input scalars are drawn at random (distribution, range,
unit), which output fields and scalars are kept (with units), and the solver
settings. It is a pydantic model with ``extra="forbid"`` at every level, so an
unknown or misspelt key is an error naming it; cross-checks name the key too
(unknown group, unknown input, a unit of the wrong kind, an input that nothing
uses, a field the solver does not produce).

A physics parameter is either a number in SI units or the name of an input
scalar; an input is stored in the dataset in its declared unit (e.g. ``MPa``) and
converted to SI before the solve. Output fields and scalars are converted from SI
to their declared unit.

Bundled recipes live in ``data/recipes/<name>.yaml`` next to the packages
(:data:`RECIPES_DIR`); :func:`load_recipe` takes such a name or a path.

Examples
--------
>>> r = load_recipe("plate2d")
>>> r.geometry.family, r.physics.solver, sorted(r.inputs)
('plate2d', 'viscoplastic', ['P', 'sigma_y'])
"""
from __future__ import annotations

import inspect
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from mesh.problem import Feature, ProblemDefinition
from mesh.yaml_input import describe_validation_error, read_yaml_mapping

from .errors import CaseError

__all__ = [
    "FAMILY_GROUPS",
    "RECIPES_DIR",
    "UNITS",
    "ElasticityPhysics",
    "GeometrySpec",
    "HeatPhysics",
    "InputSpec",
    "Recipe",
    "RecipeError",
    "ViscoplasticPhysics",
    "available_recipes",
    "from_si",
    "load_recipe",
    "recipe_path",
    "to_si",
]

#: Folder of the bundled recipes (``<repo>/data/recipes``).
RECIPES_DIR = Path(__file__).resolve().parents[1] / "data" / "recipes"

#: Unit -> (kind, factor to SI). Offsets (degrees Celsius) are deliberately absent.
UNITS: dict[str, tuple[str, float]] = {
    "-": ("dimensionless", 1.0), "1": ("dimensionless", 1.0),
    "Pa": ("pressure", 1.0), "kPa": ("pressure", 1e3), "MPa": ("pressure", 1e6),
    "GPa": ("pressure", 1e9),
    "m": ("length", 1.0), "mm": ("length", 1e-3), "um": ("length", 1e-6),
    "s": ("time", 1.0), "ms": ("time", 1e-3),
    "K": ("temperature", 1.0),
    "rad/s": ("angular velocity", 1.0), "rpm": ("angular velocity", 2.0 * math.pi / 60.0),
    "kg/m^3": ("density", 1.0),
    "1/K": ("thermal expansion", 1.0),
    "W": ("power", 1.0), "W/m": ("power per length", 1.0),
    "W/m^2": ("heat flux", 1.0), "W/m^3": ("power density", 1.0),
    "W/(m K)": ("conductivity", 1.0), "W/(m^2 K)": ("heat transfer coefficient", 1.0),
    "J/(kg K)": ("specific heat", 1.0),
    "m/s": ("velocity", 1.0), "mm/s": ("velocity", 1e-3),
    "N/m^3": ("force density", 1.0),
}

#: Named groups of each geometry family (see :mod:`physics.geometry`).
FAMILY_GROUPS: dict[str, tuple[str, ...]] = {
    "plate2d": ("bottom", "top", "left", "right", "plate"),
    "holeplate2d": ("bottom", "top", "left", "right", "hole", "plate"),
    "blade3d": ("root", "tip", "surface", "blade"),
    "heat2d": ("cooled", "insulated", "boundary", "domain"),
}
_FAMILY_DIM = {"plate2d": 2, "holeplate2d": 2, "blade3d": 3, "heat2d": 2}



def _number_or_name(v: Any) -> Any:
    """YAML reads ``250e6`` (no dot) as text: treat numeric text as a number."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


#: A physics parameter: a number in SI units, or the name of an input scalar.
Value = Annotated[float | str, BeforeValidator(_number_or_name)]


class RecipeError(CaseError):
    """A recipe is invalid: unknown key, unknown group/input/field/unit, bad value.

    The message names the recipe file and the key (dotted path) at fault.
    """


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unit(unit: str | None, where: str) -> tuple[str, float]:
    if unit is None:
        return ("", 1.0)
    if unit not in UNITS:
        raise ValueError(f"{where}: unknown unit '{unit}'; known units: {', '.join(UNITS)}")
    return UNITS[unit]


def to_si(value: Any, unit: str | None) -> Any:
    """Convert ``value`` (number or array) from ``unit`` to SI (None: already SI)."""
    return value * _unit(unit, "unit")[1]


def from_si(value: Any, unit: str | None) -> Any:
    """Convert ``value`` (number or array) from SI to ``unit`` (None: keep SI)."""
    f = _unit(unit, "unit")[1]
    return value if f == 1.0 else value / f


# ------------------------------------------------------------------------- inputs
class InputSpec(_Strict):
    """A random input scalar.

    Attributes
    ----------
    distribution : ``uniform`` (low, high), ``loguniform`` (0 < low < high),
        ``normal`` (mean, std; clipped to [low, high] when given) or ``constant`` (value).
    unit : unit of the stored value (a key of :data:`UNITS`), None for SI.
    description : free text.
    """

    distribution: Literal["uniform", "loguniform", "normal", "constant"] = "uniform"
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    std: float | None = None
    value: float | None = None
    unit: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _params(self) -> InputSpec:
        d = self.distribution
        need = {"uniform": ("low", "high"), "loguniform": ("low", "high"),
                "normal": ("mean", "std"), "constant": ("value",)}[d]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {d} distribution needs {', '.join(need)}; missing {', '.join(missing)}")
        allowed = set(need) | ({"low", "high"} if d == "normal" else set())
        extra = [k for k in ("low", "high", "mean", "std", "value")
                 if getattr(self, k) is not None and k not in allowed]
        if extra:
            raise ValueError(f"a {d} distribution does not take {', '.join(extra)}")
        if d in ("uniform", "loguniform") and not self.low < self.high:
            raise ValueError(f"low must be < high; got low={self.low}, high={self.high}")
        if d == "loguniform" and not self.low > 0:
            raise ValueError(f"a loguniform distribution needs low > 0; got {self.low}")
        if d == "normal" and not self.std > 0:
            raise ValueError(f"std must be > 0; got {self.std}")
        _unit(self.unit, "unit")
        return self

    def draw(self, rng: np.random.Generator) -> float:
        """One value, in the declared unit (exactly one draw from ``rng``)."""
        u = float(rng.random())
        if self.distribution == "constant":
            return float(self.value)
        if self.distribution == "uniform":
            return float(self.low + u * (self.high - self.low))
        if self.distribution == "loguniform":
            return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
        from scipy.special import ndtri

        x = self.mean + self.std * float(ndtri(min(max(u, 1e-16), 1 - 1e-16)))
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        return float(min(max(x, lo), hi))


# ----------------------------------------------------------------------- geometry
class GeometrySpec(_Strict):
    """Which geometry family to mesh, and how.

    Attributes
    ----------
    family : a key of :data:`physics.geometry.FAMILIES`.
    mesh_size : element size in the family's length unit (None: the family default).
    order : 1 (linear cells) or 2 (quadratic cells).
    length_scale : metres per geometry length unit (the mesh is scaled before the solve).
    options : further keyword arguments of the family's maker (e.g. ``width``).
    """

    family: str
    mesh_size: float | None = Field(default=None, gt=0)
    order: Literal[1, 2] = 1
    length_scale: float = Field(default=1.0, gt=0)
    options: dict[str, float | int | str] = {}

    @model_validator(mode="after")
    def _known(self) -> GeometrySpec:
        if self.family not in FAMILY_GROUPS:
            raise ValueError(f"unknown geometry family '{self.family}'; known: "
                             f"{', '.join(FAMILY_GROUPS)}")
        from .geometry import FAMILIES

        params = inspect.signature(FAMILIES[self.family]).parameters
        allowed = [p for p in params if p not in ("rng", "mesh_size", "order")]
        bad = [k for k in self.options if k not in allowed]
        if bad:
            raise ValueError(f"unknown option(s) {', '.join(bad)} of family '{self.family}'; "
                             f"options: {', '.join(allowed)}")
        return self

    @property
    def dim(self) -> int:
        """Spatial dimension of the family's meshes."""
        return _FAMILY_DIM[self.family]

    def maker_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`physics.geometry.make_geometry`."""
        opts: dict[str, Any] = {"order": self.order, **self.options}
        if self.mesh_size is not None:
            opts["mesh_size"] = self.mesh_size
        return opts


# ------------------------------------------------------------- boundary conditions
class FixedBC(_Strict):
    """Prescribed displacement ``value`` (m) on ``components`` (None: all) of a group."""

    type: Literal["fixed"]
    group: str
    components: list[Literal[0, 1, 2]] | None = None
    value: Value = 0.0


class TractionBC(_Strict):
    """Surface traction vector (Pa per component) on a boundary group, ramped with the load."""

    type: Literal["traction"]
    group: str
    vector: list[Value]


class PressureBC(_Strict):
    """Normal pressure (Pa; positive pushes inwards) on a boundary group."""

    type: Literal["pressure"]
    group: str
    value: Value


BoundaryCondition = Annotated[FixedBC | TractionBC | PressureBC, Field(discriminator="type")]


class Rotation(_Strict):
    """Centrifugal body force ``density omega^2 r_perp`` of a rotation about an axis.

    ``center`` (m) is a point of the axis and ``axis`` its direction (3 components,
    the third ignored in 2D where the axis is out of plane).
    """

    omega: Value
    center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axis: tuple[float, float, float] = (0.0, 0.0, 1.0)


class RandomFieldSpec(_Strict):
    """A smooth random perturbation: ``amplitude * g(x)``, ``|g| <= 1``.

    ``g`` is a normalised sum of ``modes`` cosines with random directions, phases,
    weights and wavelengths in ``wavelength * [0.7, 1.5]`` (m), drawn from the
    sample's random stream.
    """

    amplitude: Value
    wavelength: float = Field(gt=0)
    modes: int = Field(default=8, ge=1, le=64)


class TemperatureSpec(_Strict):
    """Nodal temperature (K) for the thermal strain of a thermo-elastic solve.

    ``T = base + delta * s(x) + random``, ``s`` the coordinate along ``axis`` scaled to
    [0, 1] over the mesh; ``T_ref`` is the stress-free temperature (a number or an input,
    e.g. the root temperature so that only the temperature differences load the part).
    """

    T_ref: Value = 293.15
    base: Value
    delta: Value = 0.0
    axis: Literal[0, 1, 2] = 2
    random: RandomFieldSpec | None = None


class ElasticMaterialSpec(_Strict):
    """Linear elastic material (SI): E (Pa), nu, density (kg/m^3), alpha (1/K)."""

    E: Value
    nu: Value
    density: Value = 0.0
    alpha: Value = 0.0


class ElasticityPhysics(_Strict):
    """Linear (thermo-)elasticity with :func:`physics.elasticity.solve_elasticity`.

    Attributes
    ----------
    plane : 2D hypothesis, ``stress`` or ``strain``; thickness in m.
    element_order : Lagrange order of the solve (P2 on linear cells is allowed).
    body_force : constant force density (N/m^3), one value per component.
    rotation : centrifugal load (needs ``material.density``).
    temperature : nodal temperature field (needs ``material.alpha``).
    linear_solver : ``auto``, ``direct`` or ``iterative``.
    """

    solver: Literal["elasticity"]
    material: ElasticMaterialSpec
    boundary_conditions: list[BoundaryCondition]
    plane: Literal["stress", "strain"] = "stress"
    thickness: float = Field(default=1.0, gt=0)
    element_order: Literal[1, 2] = 1
    body_force: list[Value] | None = None
    rotation: Rotation | None = None
    temperature: TemperatureSpec | None = None
    linear_solver: Literal["auto", "direct", "iterative"] = "auto"


class ViscoplasticMaterialSpec(_Strict):
    """Elasto-viscoplastic material, the fields of :class:`physics.constitutive.ViscoplasticMaterial`."""

    young: Value
    poisson: Value
    sigma_y: Value
    K: Value = 0.0
    n: Value = 1.0
    H: Value = 0.0
    R_inf: Value = 0.0
    b: Value = 0.0
    density: Value = 0.0


class LoadRamp(_Strict):
    """Loads ramp linearly from 0 at t = 0 to full at ``t_end`` (s), in ``steps`` increments."""

    t_end: float = Field(default=1.0, gt=0)
    steps: int = Field(default=4, ge=1, le=1000)


class ViscoplasticOptions(_Strict):
    """The settings of :class:`physics.viscoplastic.SolverOptions` a recipe may set."""

    rtol: float = 1e-8
    max_iter: int = 15
    dt_min: float | None = None
    dt_max: float | None = None
    cut: float = 0.5
    grow: float = 1.5
    dp_max: float | None = None
    linear_solver: Literal["direct", "amg"] = "direct"


class ViscoplasticPhysics(_Strict):
    """Elasto-viscoplasticity (plane strain in 2D) with :func:`physics.viscoplastic.solve_viscoplastic`.

    The fields kept are those at the end of the load ramp.
    """

    solver: Literal["viscoplastic"]
    material: ViscoplasticMaterialSpec
    boundary_conditions: list[BoundaryCondition]
    load: LoadRamp = LoadRamp()
    rotation: Rotation | None = None
    element_order: Literal[1, 2] | None = None
    solver_options: ViscoplasticOptions = ViscoplasticOptions()


class MovingSource(_Strict):
    """A Gaussian heat source moving on a circle about the domain centre (the origin).

    The source density is ``power / (2 pi radius^2) exp(-|x - c(t)|^2 / (2 radius^2))``
    (W/m^3; ``power`` in W per m of thickness), its centre ``c(t)`` on the circle of
    radius ``path_radius`` (m) at angle ``start_angle + speed t / path_radius`` (rad;
    ``speed`` in m/s).
    """

    power: Value
    radius: float = Field(gt=0)
    path_radius: float = Field(gt=0)
    speed: Value
    start_angle: Value = 0.0


class HeatPhysics(_Strict):
    """Transient heat conduction (:func:`physics.heat.solve_heat_transient`) with a moving source.

    Convection ``h (T - T_ambient)`` on ``convection_group``, the rest insulated; the
    source is held at its mid-step position over each of the ``steps`` time steps of
    ``t_end / steps`` (s); ``theta`` 1 is implicit Euler, 0.5 Crank-Nicolson. The
    samples hold the ``steps + 1`` states from t = 0.
    """

    solver: Literal["heat_transient"]
    conductivity: Value
    density: Value
    specific_heat: Value
    convection_group: str
    h: Value
    T_ambient: float = 293.15
    T_initial: float = 293.15
    source: MovingSource
    t_end: float = Field(gt=0)
    steps: int = Field(ge=1, le=10000)
    theta: float = Field(default=1.0, ge=0.5, le=1.0)
    element_order: Literal[1, 2] = 1


Physics = Annotated[ElasticityPhysics | ViscoplasticPhysics | HeatPhysics,
                    Field(discriminator="solver")]


# ------------------------------------------------------------------------ outputs
class FieldSpec(_Strict):
    """An output (or input) field: its unit (None: SI) and a description."""

    unit: str | None = None
    description: str | None = None


class ScalarSpec(_Strict):
    """An output scalar: a reduction of a field, optionally over the nodes of one group.

    Vector fields are reduced on their magnitude; time series over every step.
    """

    field: str
    reduce: Literal["max", "min", "mean", "max_abs"] = "max"
    group: str | None = None
    unit: str | None = None
    description: str | None = None


class OutputsSpec(_Strict):
    """Output fields and scalars, by name."""

    fields: dict[str, FieldSpec]
    scalars: dict[str, ScalarSpec] = {}


class DebugSpec(_Strict):
    """Testing aids: make the listed sample indices fail with ``error`` after meshing."""

    fail_samples: list[int] = []
    error: Literal["ConvergenceError", "MeshingError", "RuntimeError"] = "ConvergenceError"


# ------------------------------------------------------------------- field catalogue
_SI = {"U": "m", "p": "-", "von_mises": "Pa", "temperature": "K"}


def solver_fields(physics: Any, dim: int) -> dict[str, str]:
    """Fields a solver produces on a ``dim``-D mesh: name -> SI unit."""
    comps = ["11", "22", "12"] if dim == 2 else ["11", "22", "33", "12", "23", "13"]
    out = {"U": "m", **{f"U{i + 1}": "m" for i in range(dim)}}
    if physics.solver == "heat_transient":
        return {"temperature": "K", "heat_source": "W/m^3"}
    if physics.solver == "viscoplastic" and dim == 2:
        comps = ["11", "22", "33", "12"]
    if physics.solver == "elasticity" and dim == 2 and physics.plane == "strain":
        comps = ["11", "22", "33", "12"]
    out.update({f"sig{c}": "Pa" for c in comps})
    out["von_mises"] = "Pa"
    if physics.solver == "viscoplastic":
        out["p"] = "-"
    if physics.solver == "elasticity" and physics.temperature is not None:
        out["temperature"] = "K"
    return out


# ------------------------------------------------------------------------- recipe
class Recipe(_Strict):
    """A dataset recipe (see the module docstring).

    Attributes
    ----------
    name, description : dataset name and text.
    geometry : the geometry family and its meshing options.
    inputs : random input scalars, by name, in draw order.
    physics : the solver, material, boundary conditions and settings.
    outputs : output fields and scalars.
    input_fields : solver fields given to a surrogate as inputs (e.g. a temperature field).
    debug : testing aids (injected failures).
    """

    name: str
    description: str = ""
    geometry: GeometrySpec
    inputs: dict[str, InputSpec] = {}
    physics: Physics
    outputs: OutputsSpec
    input_fields: dict[str, FieldSpec] = {}
    debug: DebugSpec = DebugSpec()

    @model_validator(mode="after")
    def _cross_check(self) -> Recipe:
        groups = FAMILY_GROUPS[self.geometry.family]
        where_groups = list(_group_refs(self))
        for where, g in where_groups:
            if g not in groups:
                raise ValueError(f"{where}: group '{g}' is not a group of family "
                                 f"'{self.geometry.family}'; groups: {', '.join(groups)}")
        used: set[str] = set()
        for where, value, kind in _value_slots(self.physics):
            if isinstance(value, str):
                if value not in self.inputs:
                    raise ValueError(f"physics.{where}: '{value}' is neither a number nor an input; "
                                     f"inputs: {', '.join(self.inputs) or 'none'}")
                used.add(value)
                unit_kind = _unit(self.inputs[value].unit, f"inputs.{value}.unit")[0]
                if unit_kind and unit_kind != kind:
                    raise ValueError(f"physics.{where}: input '{value}' has unit "
                                     f"'{self.inputs[value].unit}' ({unit_kind}); this parameter "
                                     f"is a {kind}")
        unused = [k for k in self.inputs if k not in used]
        if unused:
            raise ValueError(f"inputs: {', '.join(unused)} not used by any physics parameter "
                             f"(reference an input by its name, e.g. 'value: {unused[0]}')")
        avail = solver_fields(self.physics, self.geometry.dim)
        for section, names in (("outputs.fields", self.outputs.fields), ("input_fields", self.input_fields)):
            for name, spec in names.items():
                if name not in avail:
                    raise ValueError(f"{section}.{name}: solver '{self.physics.solver}' does not "
                                     f"produce '{name}' here; fields: {', '.join(avail)}")
                _check_unit(spec.unit, avail[name], f"{section}.{name}.unit")
        both = set(self.outputs.fields) & set(self.input_fields)
        if both:
            raise ValueError(f"field(s) {', '.join(sorted(both))} are both outputs and input_fields")
        for name, s in self.outputs.scalars.items():
            if s.field not in avail:
                raise ValueError(f"outputs.scalars.{name}.field: unknown field '{s.field}'; "
                                 f"fields: {', '.join(avail)}")
            _check_unit(s.unit, avail[s.field], f"outputs.scalars.{name}.unit")
        ph = self.physics
        mat = getattr(ph, "material", None)
        if getattr(ph, "rotation", None) is not None and mat.density == 0.0:
            raise ValueError("physics.rotation: a centrifugal load needs physics.material.density > 0")
        if getattr(ph, "temperature", None) is not None and mat.alpha == 0.0:
            raise ValueError("physics.temperature: a thermal load needs physics.material.alpha != 0")
        for i in self.debug.fail_samples:
            if i < 0:
                raise ValueError(f"debug.fail_samples: sample indices are >= 0; got {i}")
        ProblemDefinition.model_validate(self._problem_dict())  # duplicated names
        return self

    # ----------------------------------------------------------------- helpers
    @property
    def time_dependent(self) -> bool:
        """True when samples are time series (transient solvers)."""
        return self.physics.solver == "heat_transient"

    def _problem_dict(self) -> dict[str, Any]:
        avail = solver_fields(self.physics, self.geometry.dim)

        def feat(unit: str | None, desc: str | None) -> dict[str, Any]:
            return {"unit": unit, "description": desc}

        return {
            "inputs": {k: feat(v.unit, v.description) for k, v in self.inputs.items()},
            "input_fields": {k: feat(v.unit or avail[k], v.description)
                             for k, v in self.input_fields.items()},
            "outputs": {k: feat(v.unit or avail[k], v.description) for k, v in self.outputs.fields.items()},
            "output_scalars": {k: feat(v.unit or avail[v.field], v.description)
                               for k, v in self.outputs.scalars.items()},
        }

    def problem_definition(self) -> ProblemDefinition:
        """The dataset's :class:`mesh.problem.ProblemDefinition` (units as declared, else SI)."""
        d = self._problem_dict()
        return ProblemDefinition(**{g: {k: Feature(**v) for k, v in d[g].items()} for g in d})

    def draw_inputs(self, rng: np.random.Generator) -> dict[str, float]:
        """One value of every input, in declared units, drawn in declaration order."""
        return {k: spec.draw(rng) for k, spec in self.inputs.items()}

    def inputs_si(self, inputs: dict[str, float]) -> dict[str, float]:
        """Input values converted to SI."""
        return {k: float(to_si(v, self.inputs[k].unit)) for k, v in inputs.items()}

    def field_unit(self, name: str) -> str | None:
        """Declared unit of an output or input field (None: SI)."""
        spec = self.outputs.fields.get(name) or self.input_fields.get(name)
        return spec.unit if spec is not None else None


def _check_unit(unit: str | None, si_unit: str, where: str) -> None:
    if unit is None:
        return
    kind = _unit(unit, where)[0]
    si_kind = UNITS[si_unit][0]
    if kind != si_kind:
        raise ValueError(f"{where}: unit '{unit}' is a {kind}; this quantity is a {si_kind} "
                         f"(SI unit '{si_unit}')")


def _group_refs(recipe: Recipe) -> Iterator[tuple[str, str]]:
    ph = recipe.physics
    for i, bc in enumerate(getattr(ph, "boundary_conditions", [])):
        yield f"physics.boundary_conditions.{i}.group", bc.group
    if isinstance(ph, HeatPhysics):
        yield "physics.convection_group", ph.convection_group
    for name, s in recipe.outputs.scalars.items():
        if s.group is not None:
            yield f"outputs.scalars.{name}.group", s.group


_MATERIAL_KINDS = {
    "E": "pressure", "nu": "dimensionless", "density": "density", "alpha": "thermal expansion",
    "young": "pressure", "poisson": "dimensionless", "sigma_y": "pressure", "K": "pressure",
    "n": "dimensionless", "H": "pressure", "R_inf": "pressure", "b": "dimensionless",
}


def _value_slots(ph: Any) -> Iterator[tuple[str, Value, str]]:
    """Every physics parameter that may name an input: (dotted path, value, kind)."""
    if hasattr(ph, "material"):
        for k, v in ph.material:
            yield f"material.{k}", v, _MATERIAL_KINDS[k]
    for i, bc in enumerate(getattr(ph, "boundary_conditions", [])):
        if isinstance(bc, FixedBC):
            yield f"boundary_conditions.{i}.value", bc.value, "length"
        elif isinstance(bc, TractionBC):
            for j, v in enumerate(bc.vector):
                yield f"boundary_conditions.{i}.vector.{j}", v, "pressure"
        else:
            yield f"boundary_conditions.{i}.value", bc.value, "pressure"
    rot = getattr(ph, "rotation", None)
    if rot is not None:
        yield "rotation.omega", rot.omega, "angular velocity"
    for j, v in enumerate(getattr(ph, "body_force", None) or []):
        yield f"body_force.{j}", v, "force density"
    temp = getattr(ph, "temperature", None)
    if temp is not None:
        yield "temperature.T_ref", temp.T_ref, "temperature"
        yield "temperature.base", temp.base, "temperature"
        yield "temperature.delta", temp.delta, "temperature"
        if temp.random is not None:
            yield "temperature.random.amplitude", temp.random.amplitude, "temperature"
    if isinstance(ph, HeatPhysics):
        yield "conductivity", ph.conductivity, "conductivity"
        yield "density", ph.density, "density"
        yield "specific_heat", ph.specific_heat, "specific heat"
        yield "h", ph.h, "heat transfer coefficient"
        yield "source.power", ph.source.power, "power per length"
        yield "source.speed", ph.source.speed, "velocity"
        yield "source.start_angle", ph.source.start_angle, "dimensionless"


def resolve(value: Value, inputs_si: dict[str, float]) -> float:
    """A physics parameter's SI value: the number, or the named input converted to SI."""
    return float(inputs_si[value]) if isinstance(value, str) else float(value)


# ------------------------------------------------------------------------ loading
def available_recipes() -> list[str]:
    """Names of the bundled recipes."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def recipe_path(recipe: str | os.PathLike) -> Path:
    """The YAML file of a recipe name (bundled) or path.

    Raises
    ------
    RecipeError
        If it is neither an existing file nor a bundled recipe; lists the bundled ones.
    """
    p = Path(recipe)
    if p.suffix in (".yaml", ".yml") or p.exists() or os.sep in str(recipe):
        if not p.is_file():
            raise RecipeError(f"recipe file '{p}' does not exist")
        return p
    bundled = RECIPES_DIR / f"{recipe}.yaml"
    if not bundled.is_file():
        raise RecipeError(f"unknown recipe '{recipe}': not a file and not a bundled recipe; "
                          f"bundled: {', '.join(available_recipes()) or 'none'}")
    return bundled


def load_recipe(recipe: str | os.PathLike | dict | Recipe) -> Recipe:
    """Load and validate a recipe from a bundled name, a YAML path or a dict.

    Parameters
    ----------
    recipe : ``"plate2d"`` (``data/recipes/plate2d.yaml``), a path to a YAML file, a
        mapping with the recipe's content, or a :class:`Recipe` (returned as is).

    Returns
    -------
    The validated :class:`Recipe`.

    Raises
    ------
    RecipeError
        Naming the file and every key at fault: unknown keys, missing keys, bad values,
        unknown family / group / input / field / unit.
    """
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, dict):
        raw, where = recipe, "recipe"
    else:
        path = recipe_path(recipe)
        where = f"recipe '{path}'"
        raw = read_yaml_mapping(path, RecipeError, where)
    if not isinstance(raw, dict):
        raise RecipeError(f"{where} must hold a mapping; got {type(raw).__name__}")
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(f"{where} is invalid:\n{describe_validation_error(exc)}") from None
