"""From samples and meshes to normalised network inputs and targets, by feature name.

The :class:`Encoder` is fitted once on a training set (one streaming pass for the
normalisers) and saved with the model. It defines:

- static node features (:attr:`Encoder.static_layout`): ``coords`` (normalised
  coordinates), ``boundary`` (0/1), ``group:<name>`` (0/1 per node group),
  ``input:<name>`` (each input scalar, normalised and broadcast to every node) and, for
  steady problems, ``input_field:<name>``;
- time-dependent problems add, per step ``t -> t + 1`` (:attr:`Encoder.dynamic_layout`):
  ``state:<field>`` (the normalised state at ``t``), ``forcing:<name>`` and
  ``forcing_next:<name>`` (input fields at ``t`` and ``t + 1``);
- outputs (:attr:`Encoder.output_layout`): one part per output field; steady problems
  predict the normalised field, time-dependent ones the normalised increment
  ``u(t + 1) - u(t)``; output scalars are predicted normalised by a pooled head.

Coordinates are centred and divided by ONE length (isotropic), so relative positions
keep their geometry; mesh edge features ``[x_i - x_j, |x_i - x_j|]`` are standardised
per component, as in MeshGraphNet.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mesh import Mesh
from mesh.dataset import Dataset, Sample
from mesh.graph import to_graph
from mesh.problem import ProblemDefinition

from ..errors import InputError, SurrogateError
from .batching import EdgeSet, GraphItem
from .features import Layout, pack
from .normalize import Normalizers

__all__ = ["Encoder", "Example", "MeshTensors"]

DTYPE = torch.float32


@dataclass(frozen=True, eq=False)
class MeshTensors:
    """Geometry of one mesh as tensors.

    Attributes
    ----------
    pos : (N, dim) normalised coordinates.
    edge_index : (2, E) int64 mesh edges, both directions, sorted by destination.
    edge_attr : (E, dim + 1) standardised ``[x_i - x_j, |x_i - x_j|]``.
    boundary : (N,) 0/1 boundary flag.
    groups : group name -> (N,) 0/1 membership.
    """

    pos: torch.Tensor
    edge_index: torch.Tensor
    edge_attr: torch.Tensor
    boundary: torch.Tensor
    groups: dict[str, torch.Tensor]


@dataclass(frozen=True, eq=False)
class Example:
    """One training sample, encoded.

    Attributes
    ----------
    item : the mesh with its static node features ``x`` (N, F_static) and edge sets.
    targets : steady: (N, F_out) normalised fields; None for time series.
    scalars : (S,) normalised output scalars (S may be 0).
    states : time series: (T, N, F_out) normalised states; None when steady.
    forcing : time series: (T, N, F_in) normalised input fields (F_in may be 0).
    """

    item: GraphItem
    targets: torch.Tensor | None
    scalars: torch.Tensor
    states: torch.Tensor | None = None
    forcing: torch.Tensor | None = None

    @property
    def n_steps(self) -> int:
        """Number of training steps ``t -> t + 1`` (1 for a steady sample)."""
        return 1 if self.states is None else int(self.states.shape[0]) - 1


class Encoder:
    """Feature definition and normalisers of a trained model (see the module docstring).

    Build it with :meth:`fit` on a training set or :meth:`from_meta` from a model folder.
    """

    def __init__(self, problem: ProblemDefinition, *, transient: bool, dim: int,
                 groups: list[str], norm: Normalizers, field_widths: dict[str, int],
                 forcing_widths: dict[str, int], dt: float | None = None, t0: float = 0.0,
                 n_steps: int = 1) -> None:
        self.problem = problem
        self.transient = transient
        self.dim = dim
        self.groups = list(groups)
        self.norm = norm
        self.field_widths = dict(field_widths)
        self.forcing_widths = dict(forcing_widths)
        self.dt, self.t0, self.n_steps = dt, t0, n_steps
        static = [("coords", dim), ("boundary", 1), *[(f"group:{g}", 1) for g in self.groups],
                  *[(f"input:{n}", 1) for n in problem.scalar_names]]
        if not transient:
            static += [(f"input_field:{n}", w) for n, w in self.forcing_widths.items()]
        self.static_layout = Layout(tuple(static))
        dyn = [(f"state:{n}", w) for n, w in self.field_widths.items()]
        if transient:
            dyn += [(f"forcing:{n}", w) for n, w in self.forcing_widths.items()]
            dyn += [(f"forcing_next:{n}", w) for n, w in self.forcing_widths.items()]
        self.dynamic_layout = Layout(tuple(dyn)) if transient else Layout(())
        self.output_layout = Layout(tuple(self.field_widths.items()))
        self.scalar_names = list(problem.output_scalars)

    # ------------------------------------------------------------------ building
    @classmethod
    def fit(cls, dataset: Dataset, groups: list[str] | None = None,
            progress: Callable[[str, int, int], None] | None = None) -> Encoder:
        """Scan ``dataset`` once (sample by sample) and build the encoder.

        Raises
        ------
        SurrogateError
            Empty dataset, meshes of several dimensions, or time series of unequal
            time steps.
        """
        if len(dataset) == 0:
            raise SurrogateError("cannot train on an empty dataset")
        problem, transient = dataset.problem, dataset.time_dependent
        norm = Normalizers()
        dims, group_sets, dts, t0s, steps = set(), [], set(), set(), set()
        widths: dict[str, int] = {}
        fwidths: dict[str, int] = {}
        for i, s in enumerate(dataset, start=1):
            dims.add(s.mesh.dim)
            group_sets.append({g for g in s.mesh.groups if 0 < len(s.mesh.group_nodes(g)) < s.n_points})
            _scan_sample(s, norm, transient)
            for n, v in s.fields.items():
                widths[n] = _width(v, transient)
            for n, v in s.input_fields.items():
                fwidths[n] = _width(v, transient)
            if transient:
                times = np.asarray(s.times, float)
                d = np.diff(times)
                dts.add(round(float(d.mean()), 12))
                t0s.add(float(times[0]))
                steps.add(len(times) - 1)
                if np.abs(d - d.mean()).max() > 1e-6 * abs(d.mean()):
                    raise SurrogateError(f"sample '{s.id}' has non-uniform time steps; "
                                         "rollout models need a constant step")
            if progress:
                progress("scanning the training set", i, len(dataset))
        if len(dims) != 1:
            raise SurrogateError(f"training meshes have several dimensions: {sorted(dims)}")
        if len(dts) > 1:
            raise SurrogateError(f"time series have different time steps {sorted(dts)}: "
                                 "a rollout model needs one step")
        if groups is None:
            groups = sorted(set.intersection(*group_sets)) if group_sets else []
        widths = {n: widths[n] for n in problem.field_names}
        fwidths = {n: fwidths[n] for n in problem.input_fields}
        return cls(problem, transient=transient, dim=dims.pop(), groups=groups, norm=norm,
                   field_widths=widths, forcing_widths=fwidths,
                   dt=dts.pop() if transient else None, t0=min(t0s) if t0s else 0.0,
                   n_steps=max(steps) if steps else 1)

    def meta(self) -> dict[str, Any]:
        """JSON-able description (saved with the model)."""
        return {"transient": self.transient, "dim": self.dim, "groups": self.groups,
                "normalizers": self.norm.state(), "field_widths": self.field_widths,
                "forcing_widths": self.forcing_widths, "dt": self.dt, "t0": self.t0,
                "n_steps": self.n_steps}

    @classmethod
    def from_meta(cls, problem: ProblemDefinition, meta: dict[str, Any]) -> Encoder:
        """Inverse of :meth:`meta`."""
        return cls(problem, transient=meta["transient"], dim=meta["dim"], groups=meta["groups"],
                   norm=Normalizers.from_state(meta["normalizers"]),
                   field_widths=meta["field_widths"], forcing_widths=meta["forcing_widths"],
                   dt=meta["dt"], t0=meta["t0"], n_steps=meta["n_steps"])

    # ------------------------------------------------------------------ geometry
    @property
    def input_layout(self) -> Layout:
        """Layout of the full node input: static then dynamic parts."""
        return self.static_layout + self.dynamic_layout

    @property
    def coord_scale(self) -> float:
        """The one length (dataset unit) that divides centred coordinates."""
        return float(np.sqrt(np.mean(self.norm.std("coords") ** 2)))

    @property
    def edge_length(self) -> float:
        """Mean mesh edge length in normalised coordinate units."""
        return float(self.norm.mean("edge")[-1]) / self.coord_scale

    def normalized_points(self, points: np.ndarray) -> torch.Tensor:
        """(N, dim) coordinates -> (N, dim) centred, divided by :attr:`coord_scale`."""
        p = (np.asarray(points, float) - self.norm.mean("coords")) / self.coord_scale
        return torch.as_tensor(p, dtype=DTYPE)

    def mesh_tensors(self, mesh: Mesh) -> MeshTensors:
        """Graph, coordinates, boundary and group flags of ``mesh``."""
        if mesh.dim != self.dim:
            raise InputError(f"the mesh is {mesh.dim}D but the model was trained on {self.dim}D meshes")
        g = to_graph(mesh)
        attr = self.norm.normalize("edge", torch.as_tensor(g.edge_attr, dtype=torch.float64)).to(DTYPE)
        groups = {}
        for name in self.groups:
            flag = torch.zeros(mesh.n_points, dtype=DTYPE)
            if name in mesh.groups:
                flag[torch.as_tensor(mesh.group_nodes(name), dtype=torch.int64)] = 1.0
            groups[name] = flag
        return MeshTensors(self.normalized_points(mesh.points), torch.as_tensor(g.edge_index),
                           attr, torch.as_tensor(g.boundary, dtype=DTYPE), groups)

    def static_features(self, mt: MeshTensors, inputs: dict[str, float],
                        input_fields: dict[str, np.ndarray] | None = None) -> torch.Tensor:
        """(N, F_static) static node features, packed with :attr:`static_layout`."""
        n = mt.pos.shape[0]
        parts: dict[str, torch.Tensor] = {"coords": mt.pos, "boundary": mt.boundary}
        parts.update({f"group:{k}": v for k, v in mt.groups.items()})
        for name in self.problem.scalar_names:
            z = self.norm.normalize(f"input:{name}", torch.tensor([[float(inputs[name])]], dtype=torch.float64))
            parts[f"input:{name}"] = z.to(DTYPE).expand(n, 1)
        if not self.transient:
            for name in self.forcing_widths:
                if input_fields is None or name not in input_fields:
                    raise InputError(f"input field '{name}' is required; the model takes "
                                     f"{', '.join(self.forcing_widths)}")
                v = _as_nodes(input_fields[name], n, name)
                parts[f"input_field:{name}"] = self.norm.normalize(f"input_field:{name}", v).to(DTYPE)
        x, _ = pack(parts, self.static_layout)
        return x

    # ------------------------------------------------------------------ samples
    def example(self, sample: Sample, extra_edges: Callable[[MeshTensors], dict[str, EdgeSet]] | None = None
                ) -> Example:
        """Encode one training sample; ``extra_edges`` adds a family's edge sets."""
        mt = self.mesh_tensors(sample.mesh)
        x = self.static_features(mt, sample.inputs, sample.input_fields)
        edges = {"mesh": EdgeSet(mt.edge_index, mt.edge_attr)}
        if extra_edges is not None:
            edges.update(extra_edges(mt))
        item = GraphItem(x, mt.pos, edges)
        scalars = torch.tensor([self.norm.normalize(f"scalar:{k}", torch.tensor([[sample.scalars[k]]],
                                dtype=torch.float64)).item() for k in self.scalar_names
                                if k in sample.scalars], dtype=DTYPE)
        if len(scalars) != len(self.scalar_names):
            missing = [k for k in self.scalar_names if k not in sample.scalars]
            raise SurrogateError(f"sample '{sample.id}' lacks output scalar(s) {', '.join(missing)}")
        if not self.transient:
            targets = self.pack_fields({n: sample.fields[n] for n in self.field_widths}, prefix="field")
            return Example(item, targets, scalars)
        states = self.pack_fields({n: sample.fields[n] for n in self.field_widths}, prefix="field")
        forcing = self.pack_forcing(sample.input_fields, states.shape[0], mt.pos.shape[0])
        return Example(item, None, scalars, states, forcing)

    def pack_fields(self, fields: dict[str, np.ndarray], prefix: str = "field",
                    time_axis: bool | None = None) -> torch.Tensor:
        """Normalise fields and pack them by the output layout.

        Parameters
        ----------
        fields : dict of str to np.ndarray
            name -> (N,) / (N, c), or with ``time_axis`` (T, N) / (T, N, c).
        prefix : str
            Normaliser prefix (``"field"`` for states).
        time_axis : bool, optional
            Whether the arrays have a leading time axis; default: the problem is transient.

        Returns
        -------
        torch.Tensor
            (N, F_out) or (T, N, F_out).
        """
        lead = 2 if (self.transient if time_axis is None else time_axis) else 1
        parts = []
        for name, w in self.field_widths.items():
            v = torch.as_tensor(np.asarray(fields[name], float))
            parts.append(self.norm.normalize(f"{prefix}:{name}", v.reshape(*v.shape[:lead], w)).to(DTYPE))
        return torch.cat(parts, dim=-1)

    def pack_forcing(self, input_fields: dict[str, np.ndarray], n_times: int, n_nodes: int) -> torch.Tensor:
        """(T, N, F_in) normalised input fields over ``n_times`` states (steady ones repeated).

        Raises
        ------
        InputError
            A missing input field, or one with fewer than ``n_times`` states.
        """
        parts = []
        for name, w in self.forcing_widths.items():
            if name not in input_fields:
                raise InputError(f"input field '{name}' is required (one state per time, "
                                 f"{n_times} states); got {', '.join(input_fields) or 'none'}")
            v = torch.as_tensor(np.asarray(input_fields[name], float))
            if v.dim() == 1 + (w > 1):  # one state for all times
                v = v.unsqueeze(0).expand(n_times, *v.shape)
            if v.shape[0] < n_times or v.shape[1] != n_nodes:
                raise InputError(f"input field '{name}' has shape {tuple(v.shape)}; expected at least "
                                 f"({n_times}, {n_nodes}) for {n_times - 1} steps on {n_nodes} nodes")
            v = v[:n_times].reshape(n_times, n_nodes, w)
            parts.append(self.norm.normalize(f"input_field:{name}", v).to(DTYPE))
        if not parts:
            return torch.zeros(n_times, n_nodes, 0, dtype=DTYPE)
        return torch.cat(parts, dim=-1)

    def column_stats(self, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(F_out,) mean and std of ``prefix:<field>`` in output-layout column order."""
        mean = np.concatenate([self.norm.mean(f"{prefix}:{n}") for n in self.output_layout.names])
        std = np.concatenate([self.norm.std(f"{prefix}:{n}") for n in self.output_layout.names])
        return torch.as_tensor(mean, dtype=DTYPE), torch.as_tensor(std, dtype=DTYPE)

    def initial_state(self, n_nodes: int) -> torch.Tensor:
        """(N, F_out) normalised default initial state: the training mean of the first states."""
        cols = [self.norm.normalize(f"field:{n}", torch.as_tensor(self.norm.mean(f"initial:{n}")))
                .to(DTYPE).expand(n_nodes, -1) for n in self.output_layout.names]
        return torch.cat(cols, dim=-1)

    def unpack_fields(self, z: torch.Tensor, prefix: str = "field") -> dict[str, np.ndarray]:
        """(..., F_out) normalised -> physical fields by name ((...,) for one component)."""
        mean, std = self.column_stats(prefix)
        phys = z.double() * std.double() + mean.double()
        out = {}
        for name, part in self.output_layout.split(phys).items():
            out[name] = part.squeeze(-1).numpy() if part.shape[-1] == 1 else part.numpy()
        return out

    def unpack_scalars(self, z: torch.Tensor) -> dict[str, float]:
        """(S,) normalised -> physical output scalars by name."""
        return {n: float(self.norm.denormalize(f"scalar:{n}", z[i:i + 1].double()).item())
                for i, n in enumerate(self.scalar_names)}


def _width(v: np.ndarray, transient: bool) -> int:
    v = np.asarray(v)
    lead = 2 if transient else 1
    return 1 if v.ndim <= lead else int(np.prod(v.shape[lead:]))


def _as_nodes(v: np.ndarray, n: int, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(v, float))
    if t.shape[0] != n:
        raise InputError(f"input field '{name}' has {t.shape[0]} values for a mesh of {n} nodes")
    return t.reshape(n, -1)


def _scan_sample(s: Sample, norm: Normalizers, transient: bool) -> None:
    """Merge one sample into the running statistics."""
    g = to_graph(s.mesh, boundary=False)
    norm.update("coords", s.mesh.points)
    norm.update("edge", g.edge_attr)
    for n, v in s.inputs.items():
        norm.update(f"input:{n}", np.array([v]))
    for n, v in s.scalars.items():
        norm.update(f"scalar:{n}", np.array([v]))
    for n, v in s.input_fields.items():
        v = np.asarray(v, float)
        norm.update(f"input_field:{n}", v.reshape(-1, _width(v, transient)))
    for n, v in s.fields.items():
        v = np.asarray(v, float)
        w = _width(v, transient)
        norm.update(f"field:{n}", v.reshape(-1, w))
        if transient:
            norm.update(f"delta:{n}", np.diff(v, axis=0).reshape(-1, w))
            norm.update(f"initial:{n}", v[0].reshape(-1, w))
