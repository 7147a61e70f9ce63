"""MMGP: mesh morphing onto a common support + POD + Gaussian processes.

Training (:meth:`MMGP.fit`):

1. the common support is the morphed median training mesh (:mod:`.support`);
2. every training mesh is morphed the same way; its physical coordinates and output
   fields are interpolated at the support nodes (:mod:`.snapshots`);
3. mass-weighted, centred POD of the coordinates (geometry) and of each field
   (:mod:`.reduction`);
4. GP inputs: the geometry POD coefficients and the input scalars, standardised
   (with ``amplitude_inputs``, also log-amplitudes: :func:`with_amplitude_inputs`);
   one exact GP per output field (its standardised POD coefficients share the
   kernel), one per log-amplitude and one per output scalar, ARD Matern-5/2, random
   restarts (:mod:`.gp`);
5. one factor per POD coefficient and scalar on the predictive std, from the closed-form
   leave-one-out residuals of the training set (:func:`calibration`).

With ``prior: elastic`` the fields of ``prior_fields`` are learnt as corrections of the
linear elastic solution of each mesh (:mod:`.prior`): log-amplitude ratios and shape
differences.

Prediction (:meth:`MMGP.predict`) on any mesh of the training topology: morph it,
transfer its coordinates to the support and project them, evaluate the GPs, decode
the fields through the POD and map them back onto the mesh's own nodes; the
uncertainty comes from the calibrated GP posterior of the coefficients, decoded the
same way.

Examples
--------
>>> import surrogates
>>> model = surrogates.create("mmgp", n_modes_fields=8)          # doctest: +SKIP
>>> model.fit(dataset.split("train"))                             # doctest: +SKIP
>>> pred = model.predict(mesh, {"P": 150.0, "sigma_y": 250.0})    # doctest: +SKIP
>>> pred.fields["U2"].shape, pred.std["U2"].shape                 # doctest: +SKIP
((1187,), (1187,))
"""
from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from mesh import Mesh
from mesh.boundary import planar_points
from mesh.dataset import Dataset

from ..common.calibration import interval_factors
from ..errors import InputError, ModelFormatError, SurrogateError
from ..interface import Progress, Surrogate
from ..prediction import Prediction
from .config import MMGPConfig
from .gp import Hyperparameters, Posterior, fit_hyperparameters
from .prior import (
    build_prior,
    dataset_recipe,
    prior_field_names,
    solve_on_mesh,
    timed,
    training_prior,
)
from .reduction import Reduction, fit_reduction
from .snapshots import check_problem, median_sample, transfer_training_set
from .support import CommonSupport, flatten
from .threads import auto_threads, limited_threads

log = logging.getLogger(__name__)

#: version of the arrays and metadata written by :meth:`MMGP.state`
STATE_VERSION = 1
_Z975 = 1.959963984540054  # standard normal 97.5 % quantile
_MIN_CALIBRATION = 19  # training samples for a split-conformal 95 % quantile: ceil((n + 1) 0.95) <= n


@dataclass(eq=False)
class _Trained:
    """Everything a prediction needs (built by ``fit`` or from a model folder)."""

    support: CommonSupport
    geometry: Reduction
    fields: dict[str, Reduction]       # output field -> POD (of the shapes for amplitude fields)
    components: dict[str, int]         # output field -> number of components
    scalars: list[str]                 # output scalar names
    amplitude: list[str]               # fields divided by their amplitude (log-amplitude GPs)
    x_mean: np.ndarray                 # (d,) GP input standardisation
    x_std: np.ndarray                  # (d,)
    y_mean: list[np.ndarray]           # per GP output: (M_b,)
    y_scale: list[np.ndarray]          # per GP output: (M_b,)
    x_train: np.ndarray                # (n, d + k) standardised GP inputs (k: len(amplitude_inputs))
    y_train: list[np.ndarray]          # per GP output: (n, M_b) standardised targets
    hyper: Hyperparameters
    posterior: Posterior
    residual_sd: dict[str, np.ndarray]  # field -> (c n_s,) rms POD truncation residual (shape units)
    calibration: list[np.ndarray]      # per GP output: (M_b,) factor on the predictive std
    amplitude_inputs: list[str] = field(default_factory=list)  # log-amplitudes that are GP inputs
    prior_fields: list[str] = field(default_factory=list)  # fields learnt as corrections of the prior
    prior_recipe: dict[str, Any] | None = None  # the recipe whose elastic limit is the prior
    prior: Any = None                          # its physics.elastic_limit.ElasticLimit

    @property
    def outputs(self) -> list[str]:
        """GP outputs in order: the fields, the log-amplitudes, then the scalars."""
        return [*self.fields, *(f"amplitude:{n}" for n in self.amplitude), *self.scalars]

    def output_index(self, name: str, kind: str = "field") -> int:
        """Batch index of the GP of a field, of a field's log-amplitude or of a scalar."""
        if kind == "field":
            return list(self.fields).index(name)
        if kind == "amplitude":
            return len(self.fields) + self.amplitude.index(name)
        return len(self.fields) + len(self.amplitude) + self.scalars.index(name)

    def gp_predict(self, xs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """The GP predictions at q standardised input points.

        Parameters
        ----------
        xs : (q, d) standardised geometry coefficients and input scalars.

        Returns
        -------
        :meth:`.gp.Posterior.predict` of every output. With ``amplitude_inputs``, in two
        passes: the log-amplitude GPs first (they do not see the extra columns), then
        every GP with their predicted standardised means as the extra inputs.
        """
        if not self.amplitude_inputs:
            return self.posterior.predict(xs)
        rows = [self.output_index(n, "amplitude") for n in self.amplitude_inputs]
        first = self.posterior.predict_mean(np.hstack([xs, np.zeros((xs.shape[0], len(rows)))]))
        return self.posterior.predict(np.hstack([xs, *(first[a][:, :1] for a in rows)]))


def amplitudes(snapshots: dict[str, np.ndarray], mode: str, only: list[str] | None = None,
               mass: Callable[[int], sp.spmatrix] | None = None,
               components: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Per-sample amplitudes of the fields to normalise.

    Parameters
    ----------
    snapshots : field name -> (S, c n_s) values on the support (blocked layout).
    mode : ``"none"`` (no field is normalised), ``"max"`` (max |value| over the nodes and
        components) or ``"rms"`` (root mean square over the support, mass-weighted:
        sqrt(u^T M u / area), all components).
    only : the fields that may be normalised (None: all).
    mass, components : with ``"rms"``, the support's mass matrix for c components
        (``CommonSupport.mass``) and each field's c.

    Raises
    ------
    SurrogateError
        ``only`` names a field that is not an output field.

    Returns
    -------
    field name -> (S,) amplitude per sample (field unit), for every field whose
    amplitudes are all positive (a field that vanishes in some sample is skipped).
    """
    if mode == "none":
        return {}
    unknown = sorted(set(only or []) - set(snapshots))
    if unknown:
        raise SurrogateError(f"amplitude_fields names {', '.join(unknown)}, which are not output fields "
                             f"(the output fields are {', '.join(snapshots)})")
    amps = {}
    for n, s in snapshots.items():
        if only is not None and n not in only:
            continue
        if mode == "max":
            amps[n] = np.abs(s).max(axis=1)
        else:
            if mass is None or components is None:
                raise ValueError("amplitude 'rms' needs the support mass matrix and the field components")
            m = mass(components[n])
            area = m.sum() / components[n]
            amps[n] = np.sqrt(np.maximum(np.einsum("ij,ij->i", s @ m, s), 0.0) / area)
    return {n: a for n, a in amps.items() if np.all(a > 0) and np.all(np.isfinite(a))}


def support_amplitude(tr: _Trained, mode: str, name: str, values: np.ndarray) -> float:
    """Amplitude (``mode`` "max" or "rms", see :func:`amplitudes`) of one field on the support.

    Parameters
    ----------
    tr : the trained model (its support mass matrix and the field's components).
    values : (c n_s,) the field at the support nodes, blocked layout (field unit).

    Returns
    -------
    the amplitude, field unit (how training normalised the field's snapshots).
    """
    return float(amplitudes({name: values[None]}, mode, None, tr.support.mass, tr.components)[name][0])


def geometry_input_mask(outputs: list[str], n_geometry: int, n_inputs: int,
                        geometry_inputs: dict[str, int]) -> np.ndarray:
    """(B, d) 0/1 mask of the GP inputs each output sees.

    The GP inputs are the ``n_geometry`` geometry coefficients, then the input scalars
    (``n_inputs`` = d columns in all). An output named in ``geometry_inputs`` sees only its
    first k geometry coefficients (and every input scalar); the others see all.

    Raises
    ------
    SurrogateError
        A name that is not a GP output (the message lists them).
    """
    unknown = sorted(set(geometry_inputs) - set(outputs))
    if unknown:
        raise SurrogateError(f"geometry_inputs names {', '.join(unknown)}, which are not GP outputs of this "
                             f"dataset; outputs: {', '.join(outputs)}")
    mask = np.ones((len(outputs), n_inputs))
    for b, name in enumerate(outputs):
        k = geometry_inputs.get(name)
        if k is not None and k < n_geometry:
            mask[b, k:n_geometry] = 0.0
    return mask


def with_amplitude_inputs(xs: np.ndarray, mask: np.ndarray, targets: list[np.ndarray], outputs: list[str],
                          fields: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """GP inputs and mask with the training log-amplitudes of ``fields`` as extra columns.

    Parameters
    ----------
    xs : (n, d) standardised GP inputs; mask : (B, d) their 0/1 mask per output.
    targets : per output, (n, M_b) standardised targets; outputs : the B output names.
    fields : amplitude fields whose log-amplitude GP target (``"amplitude:<field>"``) is
        appended as an input.

    Returns
    -------
    (n, d + k) inputs and (B, d + k) mask: the k new columns are seen by every output but
    the log-amplitude GPs.
    """
    if not fields:
        return xs, mask
    rows = [outputs.index(f"amplitude:{n}") for n in fields]
    extra_mask = np.array([[0.0 if name.startswith("amplitude:") else 1.0] * len(rows) for name in outputs])
    return np.hstack([xs, *(targets[b][:, :1] for b in rows)]), np.hstack([mask, extra_mask])


def residual_sd(red: Reduction, snapshots: np.ndarray) -> np.ndarray:
    """Per-dof rms of the POD truncation residual of the training snapshots, (n_dof,).

    ``sqrt(mean_i (u_i - P u_i)^2 * S / (S - k))`` over the S snapshots (k modes): the
    in-sample residual, scaled by the degrees of freedom the k modes (and the mean)
    took from it; same unit as the snapshots.
    """
    res = snapshots - red.reconstruct(red.project(snapshots))
    s, k = snapshots.shape[0], red.n_modes
    return np.sqrt((res ** 2).mean(axis=0) * s / max(s - k - 1, 1))


def _standardise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and scales (std, 1 for constant columns) of (n, k) values."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 1e-12 * np.maximum(np.abs(mean), 1e-300), std, 1.0)


class MMGP(Surrogate):
    """Mesh-morphing Gaussian-process surrogate (Casenave, Staber, Roynard, NeurIPS 2023).

    Parameters
    ----------
    config : an :class:`~surrogates.mmgp.config.MMGPConfig`, a mapping of its keys, or
        None; keyword options override it.

    Attributes
    ----------
    config : the validated configuration.
    problem, input_ranges, metrics : see :class:`~surrogates.interface.Surrogate`.
    """

    family = "mmgp"
    config_class = MMGPConfig
    config: MMGPConfig

    def __init__(self, config: MMGPConfig | dict[str, Any] | None = None, **options: Any) -> None:
        super().__init__(config, **options)
        self._trained: _Trained | None = None

    # ------------------------------------------------------------------ training
    def fit(self, dataset: Dataset, *, progress: Progress | None = None,
            workdir: Path | None = None, resume: bool = False) -> MMGP:
        """Train on every sample of ``dataset`` (a few seconds to minutes; no checkpoints).

        Parameters
        ----------
        dataset : steady samples on 2D meshes of one topology, nodal output fields.
        progress : called with (stage, done, total).
        workdir, resume : unused (MMGP training has no checkpoints).

        Returns
        -------
        self

        Raises
        ------
        SurrogateError
            An unsupported problem (time series, cell fields, input fields, < 2 samples),
            a sample of another topology or that cannot be morphed, or a GP that
            cannot be fitted.
        """
        with limited_threads(auto_threads(len(dataset), self.config.threads)):
            return self._fit(dataset, progress)

    def _fit(self, dataset: Dataset, progress: Progress | None) -> MMGP:
        """:meth:`fit` inside the thread limits."""
        cfg = self.config
        t_start = time.perf_counter()
        check_problem(dataset)
        self._remember_training_set(dataset)
        fields = list(self.problem.field_names)
        possible = [*fields, *(f"amplitude:{n}" for n in fields), *self.problem.output_scalars]
        geometry_input_mask(possible, 0, 0, cfg.geometry_inputs)  # unknown names fail before any work
        unknown = [n for n in cfg.amplitude_inputs if n not in fields]
        if unknown:
            raise SurrogateError(f"amplitude_inputs names {', '.join(unknown)}, which are not output fields "
                                 f"(the output fields are {', '.join(fields)})")
        idx = median_sample(dataset) if cfg.support is None else cfg.support
        if idx >= len(dataset):
            raise SurrogateError(f"support={idx} but the dataset has {len(dataset)} samples")
        template = dataset[idx]
        support = CommonSupport.build(template.mesh, cfg.morphing, cfg.landmarks, cfg.harmonic_steps,
                                        cfg.harmonic_stiffening, cfg.harmonic_adaptive)
        prior, prior_names, recipe = None, [], None
        if cfg.prior == "elastic":
            recipe = dataset_recipe(dataset)
            prior = build_prior(recipe)
            prior_names = prior_field_names(cfg.prior_fields, prior.fields, fields)
        snaps = transfer_training_set(dataset, support, progress,
                                      training_prior(prior, prior_names) if prior is not None else None)
        if snaps.inversions:
            warnings.warn(f"{snaps.inversions} of {len(dataset)} training meshes had inverted cells "
                          f"after morphing ({support.method}); their transfer is approximate",
                          stacklevel=2)

        t = time.perf_counter()
        amps = amplitudes(snaps.fields, cfg.amplitude, cfg.amplitude_fields, support.mass, snaps.components)
        skipped = [n for n in cfg.amplitude_inputs if n not in amps]
        if skipped:
            raise SurrogateError(f"amplitude_inputs names {', '.join(skipped)}, whose amplitude vanishes in some "
                                 "training sample (such a field is not normalised and has no log-amplitude GP)")
        shapes = {n: s / amps[n][:, None] if n in amps else s for n, s in snaps.fields.items()}
        if cfg.prior_fields is None:  # by default, the provided fields that have an amplitude
            prior_names = [n for n in prior_names if n in amps]
        prior_amps = self._prior_amplitudes(snaps, prior_names, list(amps), support)
        for n in prior_names:
            shapes[n] = shapes[n] - snaps.prior[n] / prior_amps[n][:, None]
        geometry = fit_reduction(snaps.coords, support.mass(2), cfg.n_modes_geometry,
                                 cfg.rtol_geometry, "the geometry")
        reductions = {n: fit_reduction(s, support.mass(snaps.components[n]), cfg.modes_of(n),
                                       cfg.rtol_fields, f"field '{n}'") for n, s in shapes.items()}
        t_pod = time.perf_counter() - t
        if progress is not None:
            progress("POD", 1, 1)

        x = np.hstack([geometry.project(snaps.coords), snaps.inputs])
        x_mean, x_std = _standardise(x)
        xs = (x - x_mean) / x_std
        raw = [reductions[n].project(s) for n, s in shapes.items()]
        raw += [(np.log(a) - (np.log(prior_amps[n]) if n in prior_amps else 0.0))[:, None]
                for n, a in amps.items()]
        raw += [snaps.scalars[:, [j]] for j in range(snaps.scalars.shape[1])]
        y_mean, y_scale, targets = [], [], []
        for y in raw:
            mean, scale = _standardise(y)
            if cfg.target_scaling == "field":
                scale = np.full_like(scale, scale.max())
            y_mean.append(mean)
            y_scale.append(scale)
            targets.append((y - mean) / scale)
        if progress is not None:
            progress("GP", 0, 1)
        names = [*snaps.fields, *(f"amplitude:{n}" for n in amps), *self.problem.output_scalars]
        mask = geometry_input_mask(names, geometry.n_modes, xs.shape[1], cfg.geometry_inputs)
        xs, mask = with_amplitude_inputs(xs, mask, targets, names, cfg.amplitude_inputs)
        hyper, report = fit_hyperparameters(xs, targets, cfg.gp, cfg.seed, threads=1, mask=mask)
        if progress is not None:
            progress("GP", 1, 1)
        posterior = Posterior(xs, targets, hyper, jitter=cfg.gp.jitter, max_jitter=cfg.gp.max_jitter,
                              names=names, threads=1, mask=mask)
        if cfg.calibration == "loo" and len(dataset) < _MIN_CALIBRATION:
            log.warning("%d training samples are too few for a 95 %% leave-one-out quantile (it needs %d): "
                        "the predictive std is scaled by the largest leave-one-out residual instead",
                        len(dataset), _MIN_CALIBRATION)
        self._trained = _Trained(support, geometry, reductions, snaps.components,
                                 list(self.problem.output_scalars), list(amps), x_mean, x_std, y_mean, y_scale, xs,
                                 targets, hyper, posterior,
                                 {n: residual_sd(reductions[n], s) for n, s in shapes.items()},
                                 calibration(posterior, cfg.calibration, xs, names, cfg.amplitude_inputs),
                                 list(cfg.amplitude_inputs), prior_names, recipe, prior)
        self.metrics = {
            "mesh_dim": int(template.mesh.dim),
            "n_train": len(dataset),
            "support_sample": template.id,
            "support_nodes": support.n_nodes,
            "morphing": support.method,
            "landmarks": sorted(support.landmarks or {}),
            "boundary_loops": support.n_loops,
            "inverted_morphs": snaps.inversions,
            "modes_geometry": geometry.n_modes,
            "modes_fields": {n: r.n_modes for n, r in reductions.items()},
            "amplitude_fields": list(amps),
            "amplitude_inputs": list(cfg.amplitude_inputs),
            "prior": cfg.prior,
            "prior_fields": prior_names,
            "pod_energy_geometry": float(geometry.energy[-1]),
            "pod_energy_fields": {n: float(r.energy[-1]) for n, r in reductions.items()},
            "gp": {n: {"nll_per_value": float(report.loss[b]), "noise": float(hyper.noise[b]),
                       "outputscale": float(hyper.outputscale[b]), "best_restart": int(report.best_restart[b]),
                       "std_factor_first": float(self._trained.calibration[b][0]),
                       "std_factor_median": float(np.median(self._trained.calibration[b]))}
                   for b, n in enumerate(names)},
            "time_morph_transfer_s": snaps.seconds,
            "time_prior_s": snaps.prior_seconds,
            "time_pod_s": t_pod,
            "time_gp_s": report.seconds,
            "time_fit_s": time.perf_counter() - t_start,
        }
        log.info("MMGP trained on %d samples in %.2f s", len(dataset), self.metrics["time_fit_s"])
        return self

    def _prior_amplitudes(self, snaps, names: list[str], amplitude_fields: list[str],
                          support: CommonSupport) -> dict[str, np.ndarray]:
        """field -> (S,) amplitude of the prior's solution of each training sample on the support.

        Raises SurrogateError for a prior field without an amplitude, of several
        components, or whose prior solution vanishes in some sample.
        """
        if not names:
            return {}
        without = [n for n in names if n not in amplitude_fields]
        if without:
            raise SurrogateError(f"prior field(s) {', '.join(without)} have no amplitude (it vanishes in some "
                                 "training sample, or amplitude_fields leaves it out); remove them from "
                                 "prior_fields")
        several = [n for n in names if snaps.components[n] != 1]
        if several:
            raise SurrogateError(f"prior field(s) {', '.join(several)} have several components; the elastic "
                                 "prior gives scalar fields (name the components, e.g. U1 and U2)")
        amps = amplitudes(snaps.prior, self.config.amplitude, None, support.mass, {n: 1 for n in names})
        for n in names:
            if n not in amps:
                bad = int(np.argmin(np.abs(snaps.prior[n]).max(axis=1)))
                raise SurrogateError(f"the elastic prior of field '{n}' vanishes in training sample "
                                     f"'{snaps.ids[bad]}': it cannot normalise that field; remove '{n}' from "
                                     "prior_fields")
        return amps

    # ---------------------------------------------------------------- prediction
    def predict(self, mesh: Mesh, inputs: dict[str, float] | None = None, *,
                input_fields: dict[str, np.ndarray] | None = None,
                steps: int | None = None) -> Prediction:
        """Predict the output fields and scalars on ``mesh`` (any node count and connectivity).

        Parameters
        ----------
        mesh : a 2D mesh with the topology (number of boundary loops) of the training meshes.
        inputs : input scalar name -> value, in the dataset's units.
        input_fields, steps : not used by MMGP (must be None).

        Returns
        -------
        Prediction on ``mesh``: fields (N,) or (N, c), their std and 2.5/97.5 % quantiles
        (per ``config.uncertainty``), scalars and their std, and timings per stage (s):
        ``morph``, ``transfer``, ``geometry``, ``gp``, ``decode``, ``total``; with a
        prior also ``prior`` (its solve, in a worker thread alongside morph to gp) and
        ``prior_wait`` (the time spent waiting for it, and using it, after the GPs).

        Raises
        ------
        InputError
            Missing/unknown/non-finite input, a mesh of another dimension or topology,
            a mesh that cannot be morphed, or input fields / steps given.
        SurrogateError
            The model is not trained, or the prediction is not finite.

        Warns
        -----
        UserWarning
            An input outside the training range (the range is given).
        """
        tr = self._require_trained()
        with limited_threads(auto_threads(tr.x_train.shape[0], self.config.threads)):
            return self._predict(tr, mesh, inputs, input_fields, steps)

    def _predict(self, tr: _Trained, mesh: Mesh, inputs: dict[str, float] | None,
                 input_fields: dict[str, np.ndarray] | None, steps: int | None) -> Prediction:
        """:meth:`predict` inside the thread limits."""
        t_start = time.perf_counter()
        if input_fields:
            raise InputError(f"MMGP takes no input fields; got {', '.join(input_fields)}")
        if steps is not None:
            raise InputError("MMGP predicts steady fields: steps must be None")
        values = self.check_inputs(mesh, inputs)
        timings: dict[str, float] = {}

        t = time.perf_counter()
        res = tr.support.morph(mesh)
        timings["morph"] = time.perf_counter() - t
        # the prior's linear solve runs in a worker thread while the transfers and the GPs are evaluated
        pending = _prior_pool().submit(timed, solve_on_mesh, tr.prior, mesh, values,
                                       tr.prior_fields) if tr.prior_fields else None
        t = time.perf_counter()
        to, back = tr.support.operators(res, back=True)
        timings["transfer"] = time.perf_counter() - t

        t = time.perf_counter()
        geo = tr.geometry.project(flatten(to @ planar_points(mesh)))
        x = np.hstack([geo[0], [values[n] for n in self.problem.scalar_names]])
        xs = ((x - tr.x_mean) / tr.x_std)[None, :]
        timings["geometry"] = time.perf_counter() - t

        t = time.perf_counter()
        means, _, var = tr.gp_predict(xs)
        timings["gp"] = time.perf_counter() - t

        prior_terms: dict[str, tuple[np.ndarray, float]] = {}
        if pending is not None:  # field -> (u_el / a_el on the mesh (N,), log a_el)
            t = time.perf_counter()
            solved, timings["prior"] = pending.result()
            for n, u in solved.items():
                a = support_amplitude(tr, self.config.amplitude, n, to @ u)
                if not a > 0:
                    raise SurrogateError(f"the elastic prior of field '{n}' vanishes on this mesh: it cannot "
                                         "give the field's amplitude")
                prior_terms[n] = (u / a, float(np.log(a)))
            timings["prior_wait"] = time.perf_counter() - t

        t = time.perf_counter()
        pred = Prediction(mesh, uncertainty=self._uncertainty_label())
        rng = np.random.default_rng(self.config.seed)
        for name, (coef, coef_sd, log_amp) in field_coefficients(tr, means, var).items():
            prior_shape = None
            if name in prior_terms:
                prior_shape, log_a_el = prior_terms[name]
                log_amp = (log_amp[0] + log_a_el, log_amp[1])
            self._decode_field(pred, name, tr.fields[name], tr.components[name], back, coef, coef_sd,
                               log_amp, tr.residual_sd.get(name), rng, prior_shape)
        for name in tr.scalars:
            b = tr.output_index(name, "scalar")
            pred.scalars[name] = float(means[b][0, 0] * tr.y_scale[b][0] + tr.y_mean[b][0])
            if self.config.uncertainty != "none":
                pred.scalars_std[name] = float(np.sqrt(var[b, 0]) * tr.y_scale[b][0] * tr.calibration[b][0])
        timings["decode"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_start
        pred.timings = timings
        return pred.check_finite()

    def _decode_field(self, pred: Prediction, name: str, red: Reduction, n_comp: int,
                      back: sp.csr_matrix, coef: np.ndarray, coef_sd: np.ndarray,
                      log_amp: tuple[float, float] | None, res_sd: np.ndarray | None,
                      rng: np.random.Generator, prior_shape: np.ndarray | None = None) -> None:
        """Decode one field's coefficients (k,) and their std (k,) onto the mesh nodes.

        ``res_sd`` (c n_s,): rms POD truncation residual at the support nodes, mapped to
        the mesh as ``W_back @ res_sd`` (neighbouring residuals are strongly correlated)
        and added to the variance as an independent zero-mean error (None: not added).

        ``log_amp`` = (mean, variance) of the Gaussian log-amplitude of an amplitude
        field (None otherwise); the field is then amplitude x shape, amplitude and shape
        independent: its mean and std are the exact moments of that product, and its
        interval is mean -+ 1.96 std in closed form or the draws' quantiles.

        ``prior_shape`` (N,): the prior's normalised solution on the mesh, added to the
        decoded shape (a known offset: it moves the mean, not the spread).
        """
        n_s = back.shape[1]
        basis, offset = [], []
        for c in range(n_comp):  # per component: (N, k) decoded modes and (N,) mean on the mesh
            sl = slice(c * n_s, (c + 1) * n_s)
            basis.append(np.asarray(back @ red.modes[:, sl].T))
            offset.append(back @ red.mean[sl])
        basis_all, offset_all = np.stack(basis, 1), np.stack(offset, 1)  # (N, c, k), (N, c)
        if prior_shape is not None:
            offset_all = offset_all + np.asarray(prior_shape, dtype=np.float64).reshape(-1, n_comp)
        res_var = 0.0
        if res_sd is not None:
            res_var = np.stack([back @ res_sd[c * n_s:(c + 1) * n_s] for c in range(n_comp)], 1) ** 2  # (N, c)
        mean = offset_all + basis_all @ coef
        shape = (lambda a: a[..., 0]) if n_comp == 1 else (lambda a: a)
        mode = self.config.uncertainty
        if log_amp is not None:
            m, v = log_amp
            e1, e2 = np.exp(m + v / 2), np.exp(2 * m + 2 * v)  # E[a], E[a^2] of the log-normal amplitude
            pred.fields[name] = shape(e1 * mean)
        else:
            pred.fields[name] = shape(mean)
        if mode == "none":
            return
        if mode == "gaussian":
            var_s = np.einsum("nck,k->nc", basis_all ** 2, coef_sd ** 2) + res_var
            if log_amp is None:
                std = np.sqrt(var_s)
            else:
                std = np.sqrt(np.maximum(e2 * (mean ** 2 + var_s) - (e1 * mean) ** 2, 0.0))
                mean = e1 * mean
            lower, upper = mean - _Z975 * std, mean + _Z975 * std
        else:
            s = self.config.n_samples
            draws = coef + rng.standard_normal((s, coef.size)) * coef_sd  # (S, k)
            flat = basis_all.reshape(-1, coef.size)  # (N c, k)
            values = flat @ draws.T + offset_all.reshape(-1, 1)  # (N c, S): one draw per column
            if np.any(res_var):
                values = values + np.sqrt(res_var).reshape(-1, 1) * rng.standard_normal(values.shape)
            if log_amp is not None:
                values = values * np.exp(log_amp[0] + np.sqrt(log_amp[1]) * rng.standard_normal(s))
            if log_amp is None and not np.any(res_var):
                centred = draws - draws.mean(axis=0)
                cov = centred.T @ centred / (s - 1)  # (k, k); the decoder is linear, so the sample
                std = np.sqrt(np.maximum(np.sum((flat @ cov) * flat, axis=1), 0.0))  # std of the values
            else:
                std = values.std(axis=1, ddof=1)
            std = std.reshape(mean.shape)
            lower, upper = (q.reshape(mean.shape) for q in _quantiles(values, 0.025, 0.975))
        pred.std[name], pred.lower[name], pred.upper[name] = shape(std), shape(lower), shape(upper)

    def _uncertainty_label(self) -> str:
        mode = self.config.uncertainty
        if mode == "none":
            return "none"
        scaled = (", each std scaled so that 95 % of the leave-one-out training residuals fall in its "
                  "interval" if self.config.calibration == "loo" else "")
        what = ("GP posterior predictive (exact Cholesky, fitted noise included) of the POD coefficients "
                f"of each field{scaled}, ")
        how = (f"{self.config.n_samples} seeded draws decoded through the POD and mapped to the mesh "
               "(std, empirical 2.5/97.5 % quantiles)" if mode == "samples" else
               "decoded in closed form through the linear POD decoder and the transfer to the mesh "
               "(std, mean -+ 1.96 std)")
        return (what + how + ", plus the POD truncation error (per-node rms of the training residuals, "
                "as independent noise); scalars: GP predictive std" + (", scaled likewise" if scaled else "")
                + ". Excludes the morph/transfer error")

    def _require_trained(self) -> _Trained:
        if self._trained is None or self.problem is None:
            raise SurrogateError("the MMGP model is not trained: call fit() or load a trained model")
        return self._trained

    # --------------------------------------------------------------- persistence
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able metadata, named float64/int64 arrays) of the trained model."""
        tr = self._require_trained()
        support_meta, arrays = tr.support.state()
        arrays.update(tr.geometry.arrays("geometry"))
        for n, r in tr.fields.items():
            arrays.update(r.arrays(f"field.{n}"))
        arrays.update(tr.hyper.arrays("gp"))
        arrays["gp.mask"] = tr.posterior.mask.numpy()
        arrays.update({"x.mean": tr.x_mean, "x.std": tr.x_std, "x.train": tr.x_train})
        for b, n in enumerate(tr.outputs):
            arrays.update({f"y.{n}.mean": tr.y_mean[b], f"y.{n}.scale": tr.y_scale[b],
                           f"y.{n}.train": tr.y_train[b], f"y.{n}.std_factor": tr.calibration[b]})
        arrays.update({f"residual.{n}": v for n, v in tr.residual_sd.items()})
        meta = {"version": STATE_VERSION, "support": support_meta, "fields": list(tr.fields),
                "components": dict(tr.components), "scalars": list(tr.scalars),
                "amplitude": list(tr.amplitude), "amplitude_inputs": list(tr.amplitude_inputs)}
        if tr.prior_fields:
            meta["prior"] = {"kind": "elastic", "fields": list(tr.prior_fields), "recipe": tr.prior_recipe}
        return meta, {k: np.ascontiguousarray(v) for k, v in arrays.items()}

    @classmethod
    def from_state(cls, config: MMGPConfig, meta: dict[str, Any],
                   arrays: dict[str, np.ndarray]) -> MMGP:
        """Rebuild a trained model from :meth:`state` (only a Cholesky factorisation is redone).

        Raises
        ------
        ModelFormatError
            A model written by another MMGP state version, or incomplete arrays.
        """
        version = meta.get("version") if isinstance(meta, dict) else None
        if version != STATE_VERSION:
            raise ModelFormatError(f"this MMGP model was written in MMGP state version {version}; this "
                                   f"version reads version {STATE_VERSION}: retrain the model or use a "
                                   "matching release")
        try:
            support = CommonSupport.from_state(meta["support"], arrays)
            fields = {n: Reduction.from_arrays(f"field.{n}", arrays) for n in meta["fields"]}
            scalars = list(meta["scalars"])
            amplitude = [str(n) for n in meta.get("amplitude", [])]
            amplitude_inputs = [str(n) for n in meta.get("amplitude_inputs", [])]
            outputs = [*fields, *(f"amplitude:{n}" for n in amplitude), *scalars]
            y_mean = [np.asarray(arrays[f"y.{n}.mean"]) for n in outputs]
            y_scale = [np.asarray(arrays[f"y.{n}.scale"]) for n in outputs]
            y_train = [np.asarray(arrays[f"y.{n}.train"]) for n in outputs]
            x_mean, x_std, x_train = (np.asarray(arrays[k]) for k in ("x.mean", "x.std", "x.train"))
            components = {n: int(c) for n, c in meta["components"].items()}
            residual = {n: np.asarray(arrays[f"residual.{n}"]) for n in fields if f"residual.{n}" in arrays}
            prior_meta = meta.get("prior") or {}
            prior_names = [str(n) for n in prior_meta.get("fields", [])]
            recipe = prior_meta.get("recipe") if prior_names else None
        except KeyError as exc:
            raise ModelFormatError(f"the MMGP model folder is incomplete: missing {exc}") from None
        hyper = Hyperparameters.from_arrays("gp", arrays)
        mask = np.asarray(arrays["gp.mask"]) if "gp.mask" in arrays else None  # older models: all inputs
        posterior = Posterior(x_train, y_train, hyper, jitter=config.gp.jitter,
                              max_jitter=config.gp.max_jitter, names=outputs, threads=1, mask=mask)
        stored = config.calibration == "loo" and all(f"y.{n}.std_factor" in arrays for n in outputs)
        if stored:  # the leave-one-out factors, saved with the model (no O(n^3) work at load)
            factors = [np.asarray(arrays[f"y.{n}.std_factor"]) for n in outputs]
        else:  # calibration "none", or a model saved before the factors were
            factors = calibration(posterior, config.calibration, x_train, outputs, amplitude_inputs)
        model = cls(config)
        model._trained = _Trained(support, Reduction.from_arrays("geometry", arrays), fields, components,
                                  scalars, amplitude, x_mean, x_std, y_mean, y_scale, x_train, y_train, hyper,
                                  posterior, residual, factors, amplitude_inputs, prior_names, recipe,
                                  build_prior(recipe) if prior_names else None)
        return model


_POOL: ThreadPoolExecutor | None = None


def _prior_pool() -> ThreadPoolExecutor:
    """The worker thread that solves the priors of predictions (created on first use)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmgp-prior")
    return _POOL


def calibration(posterior: Posterior, mode: str, x_train: np.ndarray, outputs: list[str],
                amplitude_inputs: list[str]) -> list[np.ndarray]:
    """Per GP output, (M_b,) factors on the predictive std of its columns.

    ``posterior`` is built on the standardised inputs ``x_train`` (n, d + k), the last k
    columns the log-amplitudes of ``amplitude_inputs``.

    ``mode="loo"``: :func:`~surrogates.common.calibration.interval_factors` of the
    closed-form leave-one-out residuals (:meth:`.gp.Posterior.loo_residuals`), so that
    the 95 % interval of each POD coefficient and scalar holds 95 % of the left-out
    training targets. The columns of a field's GP share one kernel and one scale, which
    fits the dominant mode's variance badly: on plate2d (500 samples) the leave-one-out
    95 % quantile of |z| of U2's first mode is 4.3 std, that of all its modes together
    0.78 std. With ``amplitude_inputs`` (the GP outputs are named ``outputs``), each
    left-out point is predicted as a new sample would be: its log-amplitude inputs are
    the leave-one-out means of their GPs, not its own values, so that the factors
    include the error of those predicted inputs (which the GP variances do not; without
    it the 95 % intervals of plate2d's max_U2_top held 77 % of the test values).
    ``"none"``: ones.
    """
    if mode == "none":
        return [np.ones(m) for m in posterior.n_columns]
    x_at = None
    if amplitude_inputs:
        loo = posterior.loo_means()
        x_at = np.array(x_train, dtype=np.float64)
        x_at[:, -len(amplitude_inputs):] = np.hstack([loo[outputs.index(f"amplitude:{n}")][:, :1]
                                                      for n in amplitude_inputs])
    return [interval_factors(np.abs(z)) for z in posterior.loo_residuals(x_at)]


def field_coefficients(tr: _Trained, means: list[np.ndarray], var: np.ndarray
                       ) -> dict[str, tuple[np.ndarray, np.ndarray, tuple[float, float] | None]]:
    """Unstandardised GP predictions of every field at one input point.

    Parameters
    ----------
    tr : the trained model.
    means, var : :meth:`Posterior.predict` outputs at one point (q = 1).

    Returns
    -------
    field name -> (POD coefficients (k,), their predictive std (k,), (mean, variance)
    of the log-amplitude or None). The coefficients are independent Gaussians (the
    columns of one GP share its kernel but not their values).
    """
    out = {}
    for name in tr.fields:
        b = tr.output_index(name)
        coef = means[b][0] * tr.y_scale[b] + tr.y_mean[b]
        coef_sd = np.sqrt(var[b, 0]) * tr.y_scale[b] * tr.calibration[b]
        log_amp = None
        if name in tr.amplitude:
            a = tr.output_index(name, "amplitude")
            log_amp = (float(means[a][0, 0] * tr.y_scale[a][0] + tr.y_mean[a][0]),
                       float(var[a, 0] * (tr.y_scale[a][0] * tr.calibration[a][0]) ** 2))
        out[name] = (coef, coef_sd, log_amp)
    return out


def _quantiles(values: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Empirical quantiles along the last axis (linear interpolation, numpy's default), by partition."""
    s = values.shape[-1]
    pos = [q * (s - 1) for q in (low, high)]
    kth = sorted({int(np.floor(p)) for p in pos} | {min(int(np.floor(p)) + 1, s - 1) for p in pos})
    part = np.partition(values, kth, axis=-1)
    out = []
    for p in pos:
        i = int(np.floor(p))
        j = min(i + 1, s - 1)
        out.append(part[..., i] + (p - i) * (part[..., j] - part[..., i]))
    return out[0], out[1]


__all__ = ["MMGP", "STATE_VERSION"]
