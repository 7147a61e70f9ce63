"""Case files: a YAML (or dict) description of one FEM solve, validated, then solved.

Schema (every key is checked; unknown keys are errors)::

    mesh: plate.msh              # any mesh file mesh.io.read reads, or a gmsh .geo
                                 # script meshed on the fly; relative to the case file
    mesh_options:                # only for .geo: largest element size [m], a factor on
      size: 0.1                  # all sizes (Mesh.MeshSizeFactor), geometric order
      size_factor: 0.5
      order: 2
    physics: elasticity          # elasticity | heat | heat_transient
    order: 2                     # Lagrange element order, 1 or 2
    material:
      E: 210 GPa                 # numbers are SI; a string "value unit" is converted
      nu: 0.3
      thickness: 0.1 m           # 2D only
      plane: stress              # stress | strain (2D elasticity)
      alpha: 1.2e-5              # thermal expansion [1/K], with T_ref [K]
      k: 35                      # heat: conductivity [W/(m K)]; rho [kg/m^3], c [J/(kg K)]
    boundary_conditions:
      - {type: displacement, group: left, value: [0, null]}   # null = free component
      - {type: temperature, group: hot, value: "100*sin(pi*t/40)"}  # expression of x, y, z, t
      - {type: convection, group: skin, h: 25, T_inf: 20}
      - {type: flux, group: heated, q: 1e4}
    loads:
      - {type: pressure, group: outer, value: -10 MPa}       # > 0 pushes into the body
      - {type: traction, group: right, vector: [1e6, 0]}
      - {type: body_force, vector: [0, -7.7e4]}              # [N/m^3]
      - {type: temperature_field, field: T}                  # mesh point data, or value: 100
      - {type: source, value: 1e5}                           # heat source [W/m^3]
    time: {t_end: 32, dt: 0.1, theta: 0.5, T0: 0}           # heat_transient only
    solver: {method: auto, rtol: 1e-10, maxiter: 2000}
    rigid_body_constraint: false # elasticity without Dirichlet conditions (balanced loads)
    output: result.vtu           # written atomically; .xdmf for a transient series

:func:`solve` validates the case (schema, mesh file, group names, required material
parameters, inverted cells, ill-posedness) before solving, and raises
:class:`~physics.errors.CaseError` subclasses that name the offending item.
"""
from __future__ import annotations

import ast
import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mesh import Mesh
from mesh.yaml_input import describe_validation_error, read_yaml_mapping

from .errors import CaseError, GroupError, IllPosedError
from .result import FEMResult, write_result

# ------------------------------------------------------------------ units
# unit -> (quantity, factor to SI)
_UNITS: dict[str, tuple[str, float]] = {
    "Pa": ("pressure", 1.0), "kPa": ("pressure", 1e3), "MPa": ("pressure", 1e6),
    "GPa": ("pressure", 1e9), "N/m^2": ("pressure", 1.0), "N/mm^2": ("pressure", 1e6),
    "m": ("length", 1.0), "cm": ("length", 1e-2), "mm": ("length", 1e-3),
    "s": ("time", 1.0), "min": ("time", 60.0), "h": ("time", 3600.0),
    "1/K": ("expansion", 1.0), "1/C": ("expansion", 1.0),
    "W/(m K)": ("conductivity", 1.0), "W/m/K": ("conductivity", 1.0),
    "kg/m^3": ("density", 1.0), "g/cm^3": ("density", 1e3),
    "J/(kg K)": ("specific heat", 1.0), "J/kg/K": ("specific heat", 1.0),
    "W/(m^2 K)": ("film coefficient", 1.0), "W/m^2/K": ("film coefficient", 1.0),
    "W/m^2": ("heat flux", 1.0), "W/m^3": ("heat source", 1.0),
    "N/m^3": ("force density", 1.0),
}


def quantity(value: Any, expected: str, where: str) -> float:
    """A number, or a ``"value unit"`` string converted to SI after checking its kind.

    Examples
    --------
    >>> quantity("210 GPa", "pressure", "material.E")
    210000000000.0
    >>> quantity("5 mm", "pressure", "material.E")
    Traceback (most recent call last):
    ...
    physics.errors.CaseError: material.E: unit 'mm' is a length; expected a pressure (Pa, kPa, MPa, GPa, N/m^2, N/mm^2)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise CaseError(f"{where}: expected a number or 'value unit'; got {value!r}")
    parts = value.strip().split(None, 1)
    try:
        number = float(parts[0])
    except (ValueError, IndexError):
        raise CaseError(f"{where}: cannot read a number from {value!r}") from None
    if len(parts) == 1:
        return number
    unit = parts[1].strip()
    if unit not in _UNITS:
        raise CaseError(f"{where}: unknown unit '{unit}'; known: {', '.join(_UNITS)}")
    kind, factor = _UNITS[unit]
    if kind != expected:
        ok = ", ".join(u for u, (k, _) in _UNITS.items() if k == expected)
        raise CaseError(f"{where}: unit '{unit}' is a {kind}; expected a {expected} ({ok})")
    return number * factor


# ------------------------------------------------------------ expressions
_FUNCS = {n: getattr(np, n) for n in ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh",
                                      "sinh", "cosh", "arctan", "abs", "minimum", "maximum")}
_CONSTS = {"pi": math.pi, "e": math.e}
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load,
            ast.Constant, ast.operator, ast.unaryop, ast.IfExp, ast.Compare, ast.cmpop)


def expression(text: str, where: str):
    """Compile an expression of ``x, y, z, t`` (numpy functions, pi) to ``f(x, t)``.

    ``x`` is (M, dim) [m], t [s]. Only arithmetic, comparisons and the functions
    sin, cos, tan, exp, log, sqrt, tanh, sinh, cosh, arctan, abs, minimum, maximum.
    """
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CaseError(f"{where}: cannot parse expression {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise CaseError(f"{where}: '{type(node).__name__}' not allowed in expression {text!r}")
        if isinstance(node, ast.Name) and node.id not in {*_FUNCS, *_CONSTS, "x", "y", "z", "t"}:
            raise CaseError(f"{where}: unknown name '{node.id}' in expression {text!r}; "
                            "use x, y, z, t, pi, e and numpy functions")
    code = compile(tree, f"<{where}>", "eval")

    def f(x, t):
        x = np.asarray(x, dtype=float)
        env = {**_FUNCS, **_CONSTS, "t": t, "x": x[:, 0],
               "y": x[:, 1] if x.shape[1] > 1 else 0.0, "z": x[:, 2] if x.shape[1] > 2 else 0.0}
        return eval(code, {"__builtins__": {}}, env)

    return f


# ----------------------------------------------------------------- schema
Number = float | str


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Material(_Model):
    """Material parameters; which ones are required depends on the physics."""

    E: Number | None = None
    nu: float | None = None
    thickness: Number = 1.0
    plane: Literal["stress", "strain"] = "stress"
    alpha: Number = 0.0
    T_ref: float = 0.0
    k: Number | None = None
    rho: Number | None = None
    c: Number | None = None


class DisplacementBC(_Model):
    type: Literal["displacement"]
    group: str
    value: list[Number | None]


class TemperatureBC(_Model):
    type: Literal["temperature"]
    group: str
    value: float | str


class ConvectionBC(_Model):
    type: Literal["convection"]
    group: str
    h: Number
    T_inf: float | str


class FluxBC(_Model):
    type: Literal["flux"]
    group: str
    q: float | str


BoundaryCondition = Annotated[DisplacementBC | TemperatureBC | ConvectionBC | FluxBC,
                              Field(discriminator="type")]


class PressureLoad(_Model):
    type: Literal["pressure"]
    group: str
    value: Number


class TractionLoad(_Model):
    type: Literal["traction"]
    group: str
    vector: list[Number]


class BodyForceLoad(_Model):
    type: Literal["body_force"]
    vector: list[Number]


class TemperatureFieldLoad(_Model):
    type: Literal["temperature_field"]
    field: str | None = None
    value: float | None = None


class SourceLoad(_Model):
    type: Literal["source"]
    value: float | str


Load = Annotated[PressureLoad | TractionLoad | BodyForceLoad | TemperatureFieldLoad | SourceLoad, Field(discriminator="type")]


class TimeStepping(_Model):
    t_end: Number
    dt: Number
    theta: float = 0.5
    T0: float | str = 0.0
    save_every: int = 1


class SolverOptions(_Model):
    method: Literal["auto", "direct", "iterative"] = "auto"
    rtol: float = 1e-10
    maxiter: int = 2000


class MeshOptions(_Model):
    size: float | None = None
    size_factor: float = 1.0
    order: Literal[1, 2] | None = None


class Case(_Model):
    """A validated case file (see the module docstring for the schema)."""

    mesh: str
    mesh_options: MeshOptions = MeshOptions()
    physics: Literal["elasticity", "heat", "heat_transient"]
    order: Literal[1, 2] = 2
    material: Material
    boundary_conditions: list[BoundaryCondition] = []
    loads: list[Load] = []
    time: TimeStepping | None = None
    solver: SolverOptions = SolverOptions()
    rigid_body_constraint: bool = False
    output: str | None = None

    @field_validator("mesh")
    @classmethod
    def _nonempty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("mesh path is empty")
        return v


_ELASTIC_BC = {"displacement"}
_HEAT_BC = {"temperature", "convection", "flux"}
_ELASTIC_LOADS = {"pressure", "traction", "body_force", "temperature_field"}
_HEAT_LOADS = {"source"}


def load_case(case: dict | str | os.PathLike) -> tuple[Case, Path]:
    """Parse and validate a case (dict or YAML path) against the schema.

    Returns
    -------
    (the validated case, the folder relative paths are resolved against).

    Raises
    ------
    CaseError
        Naming every invalid or unknown key with its location, e.g.
        ``material.E: Field required`` or ``loads.0.valeu: unknown key``.
    """
    base = Path.cwd()
    if not isinstance(case, dict):
        path = Path(case)
        base, case = path.resolve().parent, read_yaml_mapping(path, CaseError, f"case file '{path}'")
    try:
        parsed = Case.model_validate(case)
    except ValidationError as exc:
        raise CaseError("invalid case:\n" + describe_validation_error(exc)) from None
    _check_consistency(parsed)
    return parsed, base


def _check_consistency(c: Case) -> None:
    """Checks that need more than one key: physics vs conditions, required parameters."""
    elastic = c.physics == "elasticity"
    ok_bc, ok_load = (_ELASTIC_BC, _ELASTIC_LOADS) if elastic else (_HEAT_BC, _HEAT_LOADS)
    for i, bc in enumerate(c.boundary_conditions):
        if bc.type not in ok_bc:
            raise CaseError(f"boundary_conditions.{i}: type '{bc.type}' does not apply to "
                            f"physics '{c.physics}'; expected one of {sorted(ok_bc)}")
    for i, ld in enumerate(c.loads):
        if ld.type not in ok_load:
            raise CaseError(f"loads.{i}: type '{ld.type}' does not apply to physics "
                            f"'{c.physics}'; expected one of {sorted(ok_load)}")
    required = {"elasticity": ("E", "nu"), "heat": ("k",),
                "heat_transient": ("k", "rho", "c")}[c.physics]
    missing = [p for p in required if getattr(c.material, p) is None]
    if missing:
        raise CaseError(f"material: missing parameter(s) {', '.join(missing)} required by "
                        f"physics '{c.physics}'")
    if c.physics == "heat_transient" and c.time is None:
        raise CaseError("physics 'heat_transient' needs a 'time' section (t_end, dt)")
    if c.physics != "heat_transient" and c.time is not None:
        raise CaseError(f"'time' applies to physics 'heat_transient' only, not '{c.physics}'")
    if elastic and not c.rigid_body_constraint and not any(
            bc.type == "displacement" for bc in c.boundary_conditions):
        raise IllPosedError(
            "elasticity case has no displacement boundary condition: rigid body motions "
            "are free and the problem is ill-posed; add one, or set "
            "rigid_body_constraint: true for self-balanced loads"
        )


# ------------------------------------------------------------------ solve
def read_case_mesh(c: Case, base: Path) -> Mesh:
    """Read (or, for a ``.geo`` script, generate) the case's mesh.

    Raises
    ------
    CaseError
        If the file is missing or unreadable.
    """
    from mesh.errors import MeshReadError

    path = Path(c.mesh)
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise CaseError(f"mesh file '{path}' does not exist")
    if path.suffix.lower() == ".geo":
        return _mesh_geo(path, c.mesh_options)
    from mesh.io import read

    try:
        return read(path)
    except MeshReadError as exc:
        raise CaseError(str(exc)) from None


def _mesh_geo(path: Path, opts: MeshOptions) -> Mesh:
    from .gmsh_mesh import gmsh_session, mesh_from_gmsh_model

    with gmsh_session() as gmsh:
        try:
            gmsh.open(str(path))
            if opts.size is not None:
                gmsh.option.setNumber("Mesh.MeshSizeMax", opts.size)
            gmsh.option.setNumber("Mesh.MeshSizeFactor", opts.size_factor)
            dim = gmsh.model.getDimension()
            gmsh.model.mesh.generate(dim)
            if opts.order is not None:
                gmsh.model.mesh.setOrder(opts.order)
        except Exception as exc:  # noqa: BLE001 - gmsh raises bare Exceptions
            raise CaseError(f"gmsh could not mesh '{path}': {exc}") from None
        return mesh_from_gmsh_model(dim)


def check_groups(c: Case, mesh: Mesh) -> None:
    """Every group named by a condition or load must exist in the mesh.

    Raises
    ------
    GroupError
        Naming the item and listing the mesh's groups.
    """
    groups = set(mesh.groups)
    for kind, items in (("boundary_conditions", c.boundary_conditions), ("loads", c.loads)):
        for i, item in enumerate(items):
            g = getattr(item, "group", None)
            if g is not None and g not in groups:
                raise GroupError(g, sorted(groups), f"{kind}.{i} ({item.type}): group")


def solve(case: dict | str | os.PathLike, *, output: str | os.PathLike | None = None
          ) -> FEMResult:
    """Validate and solve a case; write its output file if it names one.

    Parameters
    ----------
    case : a dict following the schema, or the path of a YAML case file.
    output : overrides the case's ``output`` path (relative to the current folder).

    Returns
    -------
    FEMResult with nodal fields, solve info, ``mesh`` (the input mesh) and
    ``output`` (the written path, or None).

    Raises
    ------
    CaseError
        Invalid schema, missing file or material parameter; ``GroupError`` for an
        unknown group; ``IllPosedError``; ``InvertedCellsError`` for a mesh with
        inverted or degenerate cells.
    """
    from .skfem_mesh import check_cells

    c, base = load_case(case)
    mesh = read_case_mesh(c, base)
    check_groups(c, mesh)
    check_cells(mesh)
    if c.physics == "elasticity":
        result = _solve_elastic(c, mesh)
    else:
        result = _solve_heat(c, mesh)
    result.mesh = mesh
    out = Path(output) if output is not None else (
        (base / c.output if not Path(c.output).is_absolute() else Path(c.output))
        if c.output else None)
    if out is not None:
        result.output = write_result(mesh, result, out)
    return result


def _q(v, kind, where):
    return quantity(v, kind, where)


def _solve_elastic(c: Case, mesh: Mesh) -> FEMResult:
    from .elasticity import Displacement, ElasticCase, Pressure, Traction, solve_elasticity

    m = c.material
    disp, trac, pres = [], [], []
    body, temp = None, None
    for i, bc in enumerate(c.boundary_conditions):
        disp.append(Displacement(bc.group, tuple(
            None if v is None else _q(v, "length", f"boundary_conditions.{i}.value")
            for v in bc.value)))
    for i, ld in enumerate(c.loads):
        w = f"loads.{i}"
        if ld.type == "pressure":
            pres.append(Pressure(ld.group, _q(ld.value, "pressure", w + ".value")))
        elif ld.type == "traction":
            trac.append(Traction(ld.group, tuple(_q(v, "pressure", w + ".vector")
                                                 for v in ld.vector)))
        elif ld.type == "body_force":
            body = tuple(_q(v, "force density", w + ".vector") for v in ld.vector)
        else:
            temp = _temperature_field(ld, mesh, w)
    if temp is not None and _q(m.alpha, "expansion", "material.alpha") == 0.0:
        raise CaseError("loads: a temperature_field has no effect with material.alpha = 0; "
                        "give the thermal expansion coefficient alpha [1/K]")
    ec = ElasticCase(
        E=_q(m.E, "pressure", "material.E"), nu=float(m.nu), plane=m.plane,
        thickness=_q(m.thickness, "length", "material.thickness"), order=c.order,
        displacements=tuple(disp), tractions=tuple(trac), pressures=tuple(pres),
        body_force=body, temperature=temp, alpha=_q(m.alpha, "expansion", "material.alpha"),
        T_ref=m.T_ref, rigid_body_constraint=c.rigid_body_constraint,
        solver=c.solver.method, rtol=c.solver.rtol, maxiter=c.solver.maxiter)
    return solve_elasticity(mesh, ec)


def _temperature_field(ld: TemperatureFieldLoad, mesh: Mesh, where: str) -> np.ndarray:
    if (ld.field is None) == (ld.value is None):
        raise CaseError(f"{where}: give exactly one of 'field' (mesh point data) or 'value'")
    if ld.value is not None:
        return np.full(mesh.n_points, float(ld.value))
    if ld.field not in mesh.point_data:
        raise CaseError(f"{where}: point field '{ld.field}' is not in the mesh; point fields: "
                        f"{', '.join(mesh.point_data) or '(none)'}")
    return np.asarray(mesh.point_data[ld.field], float).reshape(mesh.n_points)


def _time_value(v, where):
    """Number, or an expression of t (and x, y, z) -> callable."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return expression(v, where)
    return float(v)


def _solve_heat(c: Case, mesh: Mesh) -> FEMResult:
    from .heat import Convection, HeatCase, HeatFlux, Temperature, solve_heat, solve_heat_transient

    m = c.material
    temps, convs, fluxes = [], [], []
    for i, bc in enumerate(c.boundary_conditions):
        w = f"boundary_conditions.{i}"
        if bc.type == "temperature":
            temps.append(Temperature(bc.group, _time_value(bc.value, w + ".value")))
        elif bc.type == "convection":
            tinf = _time_value(bc.T_inf, w + ".T_inf")
            convs.append(Convection(bc.group, _q(bc.h, "film coefficient", w + ".h"),
                                    _of_t(tinf)))
        else:
            fluxes.append(HeatFlux(bc.group, _of_t(_time_value(bc.q, w + ".q"))))
    src = None
    for i, ld in enumerate(c.loads):
        v = _time_value(ld.value, f"loads.{i}.value")
        src = _field_of_x(v) if callable(v) else v
    hc = HeatCase(
        k=_q(m.k, "conductivity", "material.k"),
        rho=_q(m.rho, "density", "material.rho") if m.rho is not None else 0.0,
        c=_q(m.c, "specific heat", "material.c") if m.c is not None else 0.0,
        temperatures=tuple(temps), convections=tuple(convs), fluxes=tuple(fluxes),
        source=src, order=c.order, solver=c.solver.method, rtol=c.solver.rtol,
        maxiter=c.solver.maxiter)
    if c.physics == "heat":
        return solve_heat(mesh, hc)
    ts = c.time
    T0 = _time_value(ts.T0, "time.T0")
    if callable(T0):
        T0 = np.asarray(T0(mesh.points, 0.0), float) * np.ones(mesh.n_points)
    return solve_heat_transient(mesh, hc, t_end=_q(ts.t_end, "time", "time.t_end"),
                                dt=_q(ts.dt, "time", "time.dt"), theta=ts.theta, T0=T0,
                                save_every=ts.save_every)


def _field_of_x(f):
    """An f(x, t) expression as a source callable on skfem's (dim, ...) coordinates."""
    def source(x: np.ndarray) -> np.ndarray:
        pts = np.moveaxis(x, 0, -1).reshape(-1, x.shape[0])
        return np.broadcast_to(np.asarray(f(pts, 0.0), float), (len(pts),)).reshape(x.shape[1:])

    return source


def _of_t(v):
    """Make an f(x, t) expression a function of t alone (for spatially uniform values)."""
    if callable(v):
        return lambda t, f=v: float(np.mean(f(np.zeros((1, 3)), t)))
    return v
