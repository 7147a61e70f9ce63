"""Configuration of the MMGP family (a validated pydantic model, unknown keys rejected).

Examples
--------
>>> cfg = MMGPConfig(n_modes_fields=8, gp=GPConfig(restarts=3))
>>> cfg.n_modes_fields, cfg.gp.restarts, cfg.morphing
(8, 3, 'auto')
>>> MMGPConfig.model_validate({"n_modes": 8})          # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for MMGPConfig
...
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..interface import SurrogateConfig


class GPConfig(BaseModel):
    """Gaussian-process settings (shared by every output field and scalar).

    Attributes
    ----------
    restarts : random initialisations of the hyperparameters per GP; the one with
        the best marginal likelihood is kept (all restarts are optimised at once, as
        a batch).
    optimizer : ``"lbfgs"`` (one history and one backtracking line search per GP and
        restart, :mod:`.lbfgs`) or ``"adam"``.
    max_iter : optimiser iterations (L-BFGS: accepted steps per GP and restart).
    restart_subset : with more training points than this, the restarts are optimised
        on a random subset of this many points (the cost grows as n^3), and the best
        restart of each output is then refined on all points; None: always all points.
    refine_iter : iterations of that refinement on all points.
    refine_top : how many of the best subset restarts of each output are refined on all
        points (the best likelihood on all points is kept): the subset ranking is noisy
        when the subset is small against the number of GP inputs.
    refine_cold : also optimise restart 0's initial values directly on all points (one
        more candidate per output): a subset optimum can be a poor start on all points
        (the interpolating, near-zero-noise ones). On a plate2d validation split (400/100)
        the negative log likelihood of the plastic strain's GP fell from -0.88 to -1.53
        per value (its coefficient error from 1.3-1.6 to 0.48 std), and the cold start was kept
        for 10 of 12 outputs (6 of 10 on holeplate2d). With it and the default iteration
        counts (60 on the subset, 25 on all points) the GP fits take 0.95-1.25x the time of
        the subset candidate alone with 100 and 40 (``benchmarks/bench_gp_fit.py``).
    lr : Adam learning rate (ignored by L-BFGS, which starts with step 1).
    noise_lower_bound : lower bound of the likelihood noise variance, relative to the
        (unit) variance of the standardised targets; keeps the optimiser out of the
        near-zero-noise trap (an interpolating optimum with short lengthscales).
    noise_init : (low, high) range of the log-uniform random initial noise variance.
    lengthscale_init : (low, high) range of the log-uniform random initial ARD
        lengthscales, in units of the standardised GP inputs.
    jitter : first diagonal jitter tried (relative to the mean diagonal) when a
        Cholesky factorisation fails; it grows x10 up to ``max_jitter``.
    max_jitter : largest relative jitter before a clear error is raised.
    """

    model_config = ConfigDict(extra="forbid")
    restarts: int = Field(4, ge=1)
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    max_iter: int = Field(60, ge=1)
    restart_subset: int | None = Field(128, ge=2)
    refine_iter: int = Field(25, ge=1)
    refine_top: int = Field(1, ge=1)
    refine_cold: bool = True
    lr: float = Field(0.05, gt=0)
    noise_lower_bound: float = Field(1e-6, gt=0)
    noise_init: tuple[float, float] = (1e-4, 1e-1)
    lengthscale_init: tuple[float, float] = (0.3, 10.0)
    jitter: float = Field(1e-9, gt=0)
    max_jitter: float = Field(1e-4, gt=0)


class MMGPConfig(SurrogateConfig):
    """Settings of an MMGP model (mesh morphing + POD + Gaussian processes).

    Attributes
    ----------
    morphing : ``"auto"`` (Tutte disk mapping for meshes bounded by one loop,
        loop matching + harmonic extension onto the median training sample for
        meshes with holes), ``"tutte"``, ``"floater"`` (mean-value weights) or
        ``"harmonic"`` (loop matching, any number of loops).
    harmonic_steps : 1 / the smallest boundary increment of the ``"harmonic"`` morph, one
        sparse solve each (smaller increments fold fewer cells when holes move between
        samples); the number of equal increments without ``harmonic_adaptive``.
    harmonic_adaptive : increments of the ``"harmonic"`` morph halved only where a cell
        folds (2x faster on holeplate2d) instead of ``harmonic_steps`` equal ones (a
        smoother morph: displacement RRMSE 1.3e-2 instead of 1.6e-2 on holeplate2d).
    harmonic_stiffening : exponent of the Jacobian stiffening of the ``"harmonic"`` morph
        (each cell's diffusivity is (mean area / area)^exponent, so small cells near the
        holes move rigidly; 0: the plain Laplacian). 1 removed every inverted cell of
        40 holeplate2d training meshes (26 of 40 folded with 0).
    landmarks : ``"auto"`` (with disk mappings, keep the nodes shared by two named
        boundary groups, e.g. the corners of a plate, at fixed angles on the circle
        when the support mesh has at least 2 of them; see :mod:`.landmarks`),
        ``"corners"`` (require them) or ``"none"`` (plain arc length from the node of
        smallest x, as the MMGP paper). With landmarks, predictions need meshes that
        carry the same named boundary groups.
    support : index of the training sample (in dataset order) whose morphed mesh is
        the common support; None: the sample of median node count.
    n_modes_geometry : maximum number of POD modes of the geometry (the physical
        coordinates transferred to the common support).
    rtol_geometry : optional POD energy tolerance of the geometry (see
        :func:`rom.pod.pod`); the fewest modes within ``n_modes_geometry`` that meet it.
    geometry_inputs : GP output -> number of leading geometry coefficients its GP sees
        (outputs: field names, ``"amplitude:<field>"``, output scalar names); others see
        all ``n_modes_geometry``. Lets stresses use many geometry modes (their
        concentrations depend on shape details) while displacements keep fewer. On a
        holeplate2d validation split (400/100): 16 modes for all: U2 1.07e-2, sig22
        3.4e-2, von Mises 3.6e-2; 64 modes with 32 for the displacement outputs: U2
        8.8e-3, sig22 2.8e-2, von Mises 2.9e-2.
    n_modes_fields : maximum number of POD modes per output field (one number, or
        field name -> number; fields not named get 12).
    rtol_fields : optional POD energy tolerance of the fields.
    target_scaling : ``"field"`` (centre each POD coefficient, divide all by one scale
        per field, the largest mode's std: the dominant modes drive the shared kernel)
        or ``"mode"`` (standardise each coefficient, as the MMGP reference code; on
        plate2d it doubled the displacement error).
    amplitude : ``"none"``, ``"max"`` or ``"rms"``: each training field is divided by its
        own amplitude (``"max"``: max |value| over the support nodes, all components;
        ``"rms"``: mass-weighted root mean square over the support) before its POD, and
        the log-amplitude gets its own GP; a prediction is the predicted amplitude times
        the decoded shape. It puts the small-amplitude samples on the same footing as
        the large ones (the field RRMSE is relative to each sample's max), which matters
        when amplitudes span decades (plate2d near its limit load: 45x). The rms is a
        smoother function of the inputs than the max (whose node can jump from sample to
        sample): on validation splits of plate2d and holeplate2d, rms on every field
        against max on the displacements lowered every stress field's RRMSE by 2-14 %
        (the max on every field raised plate2d's sig22 by 25 %); the displacements moved
        by -17 % to +11 %. Fields with a zero amplitude in some training sample (e.g. the
        plastic strain of an elastic sample) are left unnormalised.
    amplitude_fields : with ``amplitude`` other than ``"none"``, the fields to normalise
        (None: all).
    amplitude_inputs : amplitude fields whose standardised log-amplitude is one more GP
        input of every other GP (the field shapes and the output scalars; not the
        log-amplitude GPs): the training samples' own values in training, the
        log-amplitude GP's predicted mean in prediction (its uncertainty is not
        propagated into the others). A learned one-dimensional summary of how far a
        sample is into a nonlinear regime, which a stationary kernel on the raw inputs
        resolves poorly. On a plate2d validation split (400/100, rms amplitudes) the
        log-amplitude of U2 lowered the field RRMSE of U2 by 2 % (4.57e-2 -> 4.46e-2), of
        the stresses by 2-5 % (sig22 3.27e-2 -> 3.13e-2, von Mises 3.95e-2 -> 3.76e-2)
        and the max_von_mises GP's error by 9 %; on linear holeplate2d (whose field shapes
        do not depend on the load) it changed no field.
    prior : ``"none"`` or ``"elastic"``: the linear elastic limit of the dataset's
        generating recipe (:class:`physics.elastic_limit.ElasticLimit`, read from the
        dataset's ``provenance.recipe``) is solved on every training mesh and on every
        mesh to predict; each field of ``prior_fields`` is then learnt as a correction of
        it: its amplitude as the ratio to the elastic amplitude (the log-ratio GP), its
        shape as the difference of the two normalised shapes, and the prediction is
        ``a (u_el / a_el + shape correction)`` with the elastic solution evaluated on
        the mesh's own nodes (no transfer error on that part). Exact wherever the
        material stays elastic; it gives the regressor the effect of the geometry on
        the fields. Needs ``amplitude`` ``"max"`` or ``"rms"``, meshes that carry the
        groups of the recipe's boundary conditions, and one linear solve per mesh
        (about 30 ms on 1,000 nodes).
    prior_fields : with ``prior``, the output fields corrected from the prior (None:
        every output field that it provides, i.e. displacement components, stresses and
        von Mises).
    uncertainty : ``"gaussian"`` (default; the GP posterior of the POD coefficients is
        Gaussian and the decoder -- POD then transfer to the mesh -- is linear, so the
        field posterior is exactly Gaussian: per-node std from the coefficient
        variances, interval mean -+ 1.96 std, no sampling error; for amplitude fields,
        amplitude x shape, the mean and std are the exact moments of the product and the
        interval is their Gaussian approximation), ``"samples"`` (seeded draws of the
        same posterior decoded to the mesh: std and empirical 2.5/97.5 % quantiles;
        slower) or ``"none"``.
    calibration : ``"loo"`` (default: each POD coefficient's and scalar's predictive
        std is multiplied by the factor that makes its 95 % interval hold 95 % of the
        closed-form leave-one-out residuals of the training set, a split-conformal
        quantile; see :func:`~surrogates.mmgp.model.calibration`; the means are
        unchanged) or ``"none"`` (the GP's own variances).
    n_samples : number of posterior draws for ``uncertainty="samples"``.
    seed : seed of the hyperparameter restarts and of the posterior draws (draws are
        seeded per prediction, so a saved and reloaded model predicts identically).
    threads : torch and BLAS threads inside ``fit`` and ``predict`` (restored after);
        None: 1 per 1,000 training samples, at least 1 (see :mod:`.threads`).
    gp : Gaussian-process settings.
    """

    morphing: Literal["auto", "tutte", "floater", "harmonic"] = "auto"
    harmonic_steps: int = Field(8, ge=1)
    harmonic_stiffening: float = Field(1.0, ge=0)
    harmonic_adaptive: bool = True
    landmarks: Literal["auto", "corners", "none"] = "auto"
    support: int | None = Field(None, ge=0)
    n_modes_geometry: int = Field(8, ge=1)
    geometry_inputs: dict[str, int] = Field(default_factory=dict)
    rtol_geometry: float | None = Field(None, gt=0)
    n_modes_fields: int | dict[str, int] = 12
    rtol_fields: float | None = Field(None, gt=0)
    target_scaling: Literal["mode", "field"] = "field"
    amplitude: Literal["none", "max", "rms"] = "none"
    amplitude_fields: list[str] | None = None
    amplitude_inputs: list[str] = Field(default_factory=list)
    prior: Literal["none", "elastic"] = "none"
    prior_fields: list[str] | None = None
    uncertainty: Literal["samples", "gaussian", "none"] = "gaussian"
    calibration: Literal["loo", "none"] = "loo"
    n_samples: int = Field(200, ge=2)
    seed: int = Field(0, ge=0)
    threads: int | None = Field(None, ge=1)
    gp: GPConfig = GPConfig()

    @model_validator(mode="after")
    def _positive_modes(self) -> MMGPConfig:
        modes = self.n_modes_fields
        bad = {k: v for k, v in modes.items() if v < 1} if isinstance(modes, dict) else (
            {"n_modes_fields": modes} if modes < 1 else {})
        bad.update({f"geometry_inputs.{k}": v for k, v in self.geometry_inputs.items() if v < 1})
        if bad:
            raise ValueError(f"numbers of modes must be >= 1; got {bad}")
        if self.amplitude_inputs and self.amplitude == "none":
            raise ValueError(f"amplitude_inputs {self.amplitude_inputs} needs amplitude 'max' or 'rms' "
                             "(no field has a log-amplitude with amplitude 'none')")
        if self.prior != "none" and self.amplitude == "none":
            raise ValueError(f"prior '{self.prior}' needs amplitude 'max' or 'rms' (each field is learnt as "
                             "a ratio to, and a shape correction of, the prior's)")
        if self.prior_fields is not None and self.prior == "none":
            raise ValueError(f"prior_fields {self.prior_fields} needs a prior ('elastic')")
        outside = [n for n in self.amplitude_inputs
                   if self.amplitude_fields is not None and n not in self.amplitude_fields]
        if outside:
            raise ValueError(f"amplitude_inputs names {', '.join(outside)}, which are not in amplitude_fields "
                             f"{self.amplitude_fields}")
        return self

    def modes_of(self, field: str) -> int:
        """Maximum number of POD modes of output field ``field``."""
        if isinstance(self.n_modes_fields, dict):
            return int(self.n_modes_fields.get(field, 12))
        return int(self.n_modes_fields)

    @classmethod
    def from_yaml(cls, path: str | Path) -> MMGPConfig:
        """Read a configuration from a YAML file (a mapping of the attributes above)."""
        raw = yaml.safe_load(Path(path).read_text()) or {}
        return cls.model_validate(raw)


__all__ = ["GPConfig", "MMGPConfig"]
