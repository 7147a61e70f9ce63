"""The Surrogate subclass shared by the neural families (MeshGraphNet, graph transformer).

A family supplies the network (:meth:`NeuralSurrogate.build_network`) and, if it needs
them, extra edge sets per mesh (:meth:`~NeuralSurrogate.extra_edges`) and per batch
(:meth:`~NeuralSurrogate.prepare_batch`). Everything else is here: encoding the data,
training an ensemble with checkpoints, steady prediction, autoregressive rollouts, and
the model folder (weights in safetensors, architecture and normalisers in the metadata).
"""
from __future__ import annotations

import abc
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mesh import Mesh
from mesh.dataset import Dataset, Sample
from mesh.problem import ProblemDefinition

from ..errors import InputError, ModelFormatError, SurrogateError
from ..interface import Progress, Surrogate
from ..prediction import Prediction
from .batching import EdgeSet, GraphBatch, GraphItem, collate
from .calibration import coverage, std_scale_factors
from .config import NeuralConfig
from .distributed import setup
from .encoding import Encoder, MeshTensors
from .ensemble import combine, describe
from .metrics import write_metrics
from .tensorboard import EpochLogger, require_tensorboard
from .training import Task, checkpoint_path, fit_member

__all__ = ["NeuralSurrogate", "resolve_device"]

log = logging.getLogger(__name__)


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else cpu."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SurrogateError(f"device '{name}' asked for, but CUDA is not available")
    return torch.device(name)


class NeuralSurrogate(Surrogate):
    """Base of the neural families.

    Subclasses set ``family`` and ``config_class`` and implement :meth:`build_network`.

    The network contract: ``network(batch: GraphBatch) -> (fields, scalars)`` with
    ``fields`` (N, F_out) and ``scalars`` (B, S) or None when S = 0.
    """

    config: NeuralConfig
    config_class = NeuralConfig

    def __init__(self, config: NeuralConfig | dict[str, Any] | None = None, **options: Any) -> None:
        super().__init__(config, **options)
        self.encoder: Encoder | None = None
        self.networks: list[torch.nn.Module] = []
        self._device = torch.device("cpu")
        #: post-hoc std factors ({"fields": {name: f}, "scalars": {...}, "samples": k, "level": q}),
        #: set by :meth:`calibrate`; empty: the raw ensemble spread
        self.std_scale: dict[str, Any] = {}

    # ------------------------------------------------------------- family hooks
    @abc.abstractmethod
    def build_network(self, encoder: Encoder) -> torch.nn.Module:
        """A new network for the encoder's input, edge and output widths."""

    def extra_edges(self, mesh: MeshTensors) -> dict[str, EdgeSet]:
        """Edge sets beyond ``"mesh"`` built once per mesh (default: none)."""
        return {}

    def prepare_batch(self, batch: GraphBatch) -> GraphBatch:
        """Structure added to each collated batch (default: none)."""
        return batch

    # ------------------------------------------------------------------ training
    def fit(self, dataset: Dataset, *, progress: Progress | None = None,
            workdir: Path | None = None, resume: bool = False) -> NeuralSurrogate:
        """Train ``config.ensemble`` networks on every sample of ``dataset``.

        Parameters
        ----------
        dataset : steady samples (fields (N,) / (N, c)) or time series ((T, N) ...).
        progress : called as ``progress(stage, done, total)`` while scanning, encoding and
            after every epoch (main process only).
        workdir : folder for ``member-<m>.ckpt`` (written atomically every epoch) and
            ``metrics.csv``; None: no checkpoints.
        resume : continue each member from its checkpoint in ``workdir``.

        With ``config.calibration_samples = k``, the last k samples of ``dataset`` are not
        trained on: the ensemble's spread is calibrated on them after training
        (:meth:`calibrate`).

        Raises
        ------
        SurrogateError
            Empty dataset, ``resume`` without ``workdir``, a checkpoint of another run, or
            ``calibration_samples`` with one member or too few samples.
        """
        if resume and workdir is None:
            raise SurrogateError("resume=True needs the workdir of the interrupted training")
        cfg = self.config
        held_out = None
        if cfg.calibration_samples:
            k = cfg.calibration_samples
            if cfg.ensemble < 2:
                raise SurrogateError(f"calibration_samples = {k} needs an ensemble (ensemble >= 2): "
                                     "one network has no spread to calibrate")
            if k > len(dataset) - 2:
                raise SurrogateError(f"calibration_samples = {k} leaves fewer than 2 of the {len(dataset)} "
                                     "samples to train on")
            held_out = dataset.subset(dataset.ids[-k:])
            dataset = dataset.subset(dataset.ids[:-k])
        if cfg.tensorboard:
            if workdir is None:
                raise SurrogateError("tensorboard: true needs a workdir for the event files "
                                     "(surrogate train uses RUN/work)")
            require_tensorboard()
        info = setup(cfg.ddp_backend)
        self._device = resolve_device(cfg.device, info.local_rank)
        self._remember_training_set(dataset)
        t_start = time.perf_counter()
        enc = Encoder.fit(dataset, cfg.groups, progress if info.main else None)
        if enc.transient and enc.n_steps < 1:
            raise SurrogateError("time series need at least two states to learn a step")
        self.encoder = enc
        examples = []
        for i, s in enumerate(dataset, start=1):
            examples.append(enc.example(s, self.extra_edges))
            if progress and info.main:
                progress("encoding meshes", i, len(dataset))
        task = Task(enc, examples, cfg.noise if enc.transient else 0.0, self.prepare_batch)
        workdir = Path(workdir) if workdir is not None else None
        if workdir is not None and info.main:
            for old in workdir.glob(".tmp-member-*"):  # a write cut by a kill -9
                old.unlink()
            if not resume:
                for old in workdir.glob("member-*.ckpt"):
                    old.unlink()
        fingerprint = {"samples": dataset.ids, "examples": len(task)}
        rows: list[dict[str, Any]] = []
        total = cfg.epochs * cfg.ensemble
        self.networks = []
        for m in range(cfg.ensemble):
            net = self._new_network(m).to(self._device)
            board = EpochLogger(workdir / "tensorboard", m) if cfg.tensorboard and info.main else None

            def on_epoch(history: list[dict[str, Any]], m: int = m,
                         before: tuple[dict[str, Any], ...] = tuple(rows),
                         board: EpochLogger | None = board) -> None:
                if workdir is not None:
                    write_metrics(workdir / "metrics.csv", [*before, *history])
                if board is not None:
                    board.log(history[-1])
                if progress is not None:
                    last = history[-1]
                    progress(f"training member {m + 1}/{cfg.ensemble} (loss {last['loss']:.4g})",
                             m * cfg.epochs + int(last["epoch"]), total)

            history = fit_member(net, task, cfg, member=m, device=self._device, info=info,
                                 workdir=workdir, resume=resume, fingerprint=fingerprint, on_epoch=on_epoch)
            if board is not None:
                board.close()
            rows += history
            self.networks.append(net)
        if workdir is not None and info.main:
            write_metrics(workdir / "metrics.csv", rows)
        self.metrics.update({
            "mesh_dim": enc.dim, "members": cfg.ensemble, "epochs": cfg.epochs,
            "examples": len(task), "parameters": self.parameter_count(),
            "train_seconds": time.perf_counter() - t_start,
            "final_loss": [float(r["loss"]) for r in rows if r["epoch"] == cfg.epochs],
        })
        if workdir is not None:
            self.metrics["checkpoints"] = [str(checkpoint_path(workdir, m)) for m in range(cfg.ensemble)]
        if held_out is not None:
            if progress and info.main:
                progress("calibrating the ensemble spread", 0, 1)
            self.calibrate(held_out)
            self.metrics["calibration"] = self.std_scale
            if progress and info.main:
                progress("calibrating the ensemble spread", 1, 1)
        return self

    def calibrate(self, dataset: Dataset, level: float = 0.95) -> dict[str, Any]:
        """Fit one std factor per output field and scalar on samples the networks never saw.

        Parameters
        ----------
        dataset : held-out samples with references (steady, or time series rolled out
            from their first state).
        level : coverage wanted for the central interval mean -+ z_level * std.

        Returns
        -------
        dict
            ``{"fields": {name: factor}, "scalars": {...}, "samples": k, "level": level,
            "coverage_before": {name: share}}``, also kept in ``self.std_scale`` and applied
            to the ``std`` of every later prediction (and saved with the model).

        Raises
        ------
        SurrogateError
            One member (no spread), or an empty dataset.
        """
        if len(self.networks) < 2:
            raise SurrogateError("calibrate needs an ensemble of at least 2 members")
        if len(dataset) == 0:
            raise SurrogateError("calibrate needs at least one held-out sample")
        self.std_scale = {}
        preds = [self.predict_sample(s) for s in dataset]
        refs = [{n: np.asarray(s.fields[n]) for n in p.fields} for s, p in zip(dataset, preds)]
        srefs = [{n: np.asarray(s.scalars[n]) for n in p.scalars_std} for s, p in zip(dataset, preds)]
        smeans = [{n: np.asarray(p.scalars[n]) for n in p.scalars_std} for p in preds]
        sstds = [{n: np.asarray(v) for n, v in p.scalars_std.items()} for p in preds]
        fmeans, fstds = [p.fields for p in preds], [p.std for p in preds]
        scale = {"fields": std_scale_factors(refs, fmeans, fstds, level),
                 "scalars": std_scale_factors(srefs, smeans, sstds, level) if sstds and sstds[0] else {},
                 "samples": len(dataset), "level": level,
                 "coverage_before": {**coverage(refs, fmeans, fstds, level),
                                     **(coverage(srefs, smeans, sstds, level) if sstds and sstds[0] else {})}}
        self.std_scale = scale
        return scale

    def _new_network(self, member: int) -> torch.nn.Module:
        """A network initialised from seed ``config.seed + member`` (global RNG untouched)."""
        assert self.encoder is not None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed + member)
            return self.build_network(self.encoder)

    def parameter_count(self) -> int:
        """Trainable parameters of one member."""
        return sum(p.numel() for p in self.networks[0].parameters()) if self.networks else 0

    # ---------------------------------------------------------------- prediction
    def predict(self, mesh: Mesh, inputs: dict[str, float] | None = None, *,
                input_fields: dict[str, np.ndarray] | None = None,
                steps: int | None = None) -> Prediction:
        """Predict the output fields and scalars on ``mesh``.

        Parameters
        ----------
        mesh : any mesh of the training dimension (unseen node count and connectivity).
        inputs : input scalars by name.
        input_fields : steady problems: the input fields, (N,) / (N, c). Time series: the
            input fields with one state per time ((T, N), T >= steps + 1; an (N,) field is
            held constant), and optionally the initial state of an output field under its
            own name ((N,) or (T, N): the first state is used); without it the rollout
            starts from the training mean of the initial states.
        steps : time series: number of steps to roll out (default: as in training).

        Returns
        -------
        Prediction
            Steady: fields (N,) / (N, c). Time series: ``times`` (steps + 1,) and fields
            (steps + 1, N) starting with the initial state. ``std`` and ``uncertainty`` from
            the ensemble ("none" for one member).
        """
        if self.encoder is None or not self.networks:
            raise SurrogateError("the model is not trained: call fit() or load a trained model")
        inputs = self.check_inputs(mesh, inputs)
        enc = self.encoder
        t0 = time.perf_counter()
        mt = enc.mesh_tensors(mesh)
        static = enc.static_features(mt, inputs, input_fields)
        graph = collate([GraphItem(static, mt.pos, {"mesh": EdgeSet(mt.edge_index, mt.edge_attr),
                                                    **self.extra_edges(mt)})])
        graph = self.prepare_batch(graph).to(self._device)
        t1 = time.perf_counter()
        with torch.no_grad():
            if enc.transient:
                members, scal, times = self._rollouts(graph, static, mesh.n_points, input_fields or {}, steps)
            else:
                outs = [net(graph) for net in self.networks]
                members = [enc.unpack_fields(f.cpu()) for f, _ in outs]
                scal = [enc.unpack_scalars(s[0].cpu()) if s is not None else {} for _, s in outs]
                times = None
        t2 = time.perf_counter()
        fields, std = combine(members)
        smean, sstd = combine([{k: np.array(v) for k, v in s.items()} for s in scal])
        label = describe(len(self.networks))
        if self.std_scale:
            std = {k: v * self.std_scale["fields"].get(k, 1.0) for k, v in std.items()}
            sstd = {k: v * self.std_scale["scalars"].get(k, 1.0) for k, v in sstd.items()}
            label = (f"deep ensemble of {len(self.networks)} members: std across members scaled per output "
                     f"to {self.std_scale['level']:.0%} coverage on {self.std_scale['samples']} held-out "
                     "samples (valid for cases like them)")
        return Prediction(mesh, fields=fields, std=std, scalars={k: float(v) for k, v in smean.items()},
                          scalars_std={k: float(v) for k, v in sstd.items()},
                          uncertainty=label, times=times,
                          timings={"encode": t1 - t0, "network": t2 - t1, "total": t2 - t0}).check_finite()

    def _rollouts(self, graph: GraphBatch, static: torch.Tensor, n: int,
                  input_fields: dict[str, np.ndarray], steps: int | None
                  ) -> tuple[list[dict[str, np.ndarray]], list[dict[str, float]], np.ndarray]:
        """Autoregressive rollouts of every member: states (T, N, ...) and scalars."""
        enc = self.encoder
        assert enc is not None and enc.dt is not None
        steps = enc.n_steps if steps is None else int(steps)
        if steps < 1:
            raise InputError(f"steps must be >= 1 for a rollout; got {steps}")
        given = {k: np.asarray(v) for k, v in input_fields.items() if k in enc.field_widths}
        if given:
            if set(given) != set(enc.field_widths):
                raise InputError(f"give the initial state of every output field or none; got "
                                 f"{', '.join(given)}, fields {', '.join(enc.field_widths)}")
            first = {k: (v[0] if v.ndim == 1 + (enc.field_widths[k] > 1) + 1 else v) for k, v in given.items()}
            z0 = enc.pack_fields(first, time_axis=False)
        else:
            z0 = enc.initial_state(n)
        forcing = enc.pack_forcing({k: v for k, v in input_fields.items() if k in enc.forcing_widths},
                                   steps + 1, n).to(self._device)
        static, z0 = static.to(self._device), z0.to(self._device)
        _, field_std = enc.column_stats("field")
        d_mean, d_std = enc.column_stats("delta")
        field_std, d_mean, d_std = field_std.to(self._device), d_mean.to(self._device), d_std.to(self._device)
        members, scalars = [], []
        for net in self.networks:
            z, states, svals = z0, [z0], []
            for t in range(steps):
                x = torch.cat([static, z, forcing[t], forcing[t + 1]], dim=1)
                d, s = net(graph.with_x(x))
                z = z + (d * d_std + d_mean) / field_std
                states.append(z)
                if s is not None:
                    svals.append(s[0])
            members.append(enc.unpack_fields(torch.stack(states).cpu()))
            scalars.append(enc.unpack_scalars(torch.stack(svals).mean(0).cpu()) if svals else {})
        times = enc.t0 + enc.dt * np.arange(steps + 1)
        return members, scalars, times

    def predict_sample(self, sample: Sample, **kw: Any) -> Prediction:
        """Predict for a dataset sample.

        A time series starts from the sample's first state and runs as many steps as the
        sample has (unless ``steps`` is given).
        """
        if self.encoder is None or not self.encoder.transient or sample.times is None:
            return super().predict_sample(sample, **kw)
        fields = {**sample.input_fields, **{n: np.asarray(sample.fields[n])[0] for n in self.encoder.field_widths}}
        kw.setdefault("steps", len(sample.times) - 1)
        return self.predict(sample.mesh, sample.inputs, input_fields=fields, **kw)

    # --------------------------------------------------------------- persistence
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Metadata (encoder: layouts, normalisers, problem; members) and weights by name."""
        if self.encoder is None or not self.networks:
            raise ModelFormatError("cannot save an untrained model")
        meta = {"encoder": {**self.encoder.meta(), "problem": self.encoder.problem.model_dump(mode="json")},
                "members": len(self.networks), "std_scale": self.std_scale,
                "input_layout": self.encoder.input_layout.to_meta(),
                "output_layout": self.encoder.output_layout.to_meta()}
        arrays = {f"member{m}.{k}": v.detach().cpu().numpy()
                  for m, net in enumerate(self.networks) for k, v in net.state_dict().items()}
        return meta, arrays

    @classmethod
    def from_state(cls, config: NeuralConfig, meta: dict[str, Any],
                   arrays: dict[str, np.ndarray]) -> NeuralSurrogate:
        """Rebuild the trained networks from :meth:`state` (no training code runs)."""
        model = cls(config)
        try:
            problem = ProblemDefinition.model_validate(meta["encoder"]["problem"])
            model.encoder = Encoder.from_meta(problem, meta["encoder"])
            n = int(meta["members"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"the model metadata is incomplete: {exc}") from None
        model._device = resolve_device(config.device)
        for m in range(n):
            net = model.build_network(model.encoder)
            prefix = f"member{m}."
            sd = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
            try:
                net.load_state_dict(sd, strict=True)
            except RuntimeError as exc:
                raise ModelFormatError(f"weights of member {m} do not fit the architecture: {exc}") from None
            model.networks.append(net.to(model._device).eval())
        model.std_scale = dict(meta.get("std_scale") or {})  # absent in models saved before calibration
        model.metrics = {"mesh_dim": model.encoder.dim}
        return model
