"""The one interface every surrogate family implements.

A family is one subpackage of ``surrogates`` with a subclass of :class:`Surrogate`,
registered under a name with :func:`surrogates.registry.register`. Training,
prediction and persistence go through these methods only, so the CLI, the
validation and the viewer work with every family.
"""
from __future__ import annotations

import abc
import warnings
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from mesh import Mesh
from mesh.dataset import Dataset, Sample
from mesh.problem import ProblemDefinition

from .errors import InputError, SurrogateError
from .prediction import Prediction

#: progress callback: (stage description, done, total)
Progress = Callable[[str, int, int], None]


class SurrogateConfig(BaseModel):
    """Base of every family's configuration: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class Surrogate(abc.ABC):
    """A model that predicts the output fields and scalars of a problem on any mesh.

    Subclasses set ``family`` and ``config_class`` and implement :meth:`fit`,
    :meth:`predict`, :meth:`state` and :meth:`from_state`.

    Attributes
    ----------
    config : the validated configuration.
    problem : the problem definition it was trained on (None before ``fit``).
    input_ranges : input scalar name -> (min, max) seen in training.
    metrics : training metrics (name -> number), saved with the model.
    """

    family: ClassVar[str] = ""
    config_class: ClassVar[type[SurrogateConfig]] = SurrogateConfig

    def __init__(self, config: SurrogateConfig | dict[str, Any] | None = None, **options: Any) -> None:
        if isinstance(config, SurrogateConfig):
            self.config = config.model_copy(update=options) if options else config
        else:
            self.config = self.config_class.model_validate({**(config or {}), **options})
        self.problem: ProblemDefinition | None = None
        self.input_ranges: dict[str, tuple[float, float]] = {}
        self.metrics: dict[str, Any] = {}

    # ---------------------------------------------------------------- contract
    @abc.abstractmethod
    def fit(self, dataset: Dataset, *, progress: Progress | None = None,
            workdir: Path | None = None, resume: bool = False) -> "Surrogate":
        """Train on every sample of ``dataset``; return self.

        ``workdir`` holds checkpoints of long trainings; with ``resume`` a killed
        training continues from the last checkpoint there.
        """

    @abc.abstractmethod
    def predict(self, mesh: Mesh, inputs: dict[str, float] | None = None, *,
                input_fields: dict[str, np.ndarray] | None = None,
                steps: int | None = None) -> Prediction:
        """Predict on ``mesh`` (any node count and connectivity) for the given input scalars."""

    @abc.abstractmethod
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What to save: (JSON-able metadata, named arrays/tensors for safetensors)."""

    @classmethod
    @abc.abstractmethod
    def from_state(cls, config: SurrogateConfig, meta: dict[str, Any],
                   arrays: dict[str, np.ndarray]) -> "Surrogate":
        """Rebuild a trained model from what :meth:`state` returned (no training code path)."""

    # ------------------------------------------------------------ shared parts
    def predict_sample(self, sample: Sample, **kw: Any) -> Prediction:
        """Predict for a dataset sample, with its own mesh, inputs and input fields."""
        return self.predict(sample.mesh, sample.inputs, input_fields=sample.input_fields or None, **kw)

    def save(self, path: str | Path) -> Path:
        """Write the model folder atomically (see :mod:`surrogates.storage`)."""
        from .storage import write_model_dir

        return write_model_dir(self, Path(path))

    def _remember_training_set(self, dataset: Dataset) -> None:
        """Store the problem definition and the input ranges of the training set."""
        self.problem = dataset.problem
        x = dataset.inputs_array()
        self.input_ranges = {n: (float(x[:, i].min()), float(x[:, i].max()))
                             for i, n in enumerate(dataset.problem.scalar_names)} if len(x) else {}

    def check_inputs(self, mesh: Mesh, inputs: dict[str, float] | None) -> dict[str, float]:
        """Validate the inputs of a prediction against the training set.

        Raises
        ------
        InputError
            Missing or unknown input scalar, non-finite value, or a mesh of another
            spatial dimension than the training meshes.

        Warns
        -----
        UserWarning
            For an input outside the training range (the range is given).
        """
        if self.problem is None:
            raise SurrogateError("the model is not trained: call fit() or load a trained model")
        inputs = dict(inputs or {})
        expected = self.problem.scalar_names
        missing = [n for n in expected if n not in inputs]
        if missing:
            raise InputError(f"missing input scalar(s) {', '.join(missing)}; the model needs "
                             f"{', '.join(expected) or 'none'}")
        unknown = [n for n in inputs if n not in expected]
        if unknown:
            raise InputError(f"unknown input scalar(s) {', '.join(unknown)}; the model takes "
                             f"{', '.join(expected) or 'none'}")
        for n, v in inputs.items():
            if not np.isfinite(v):
                raise InputError(f"input '{n}' = {v} is not a finite number")
            lo, hi = self.input_ranges.get(n, (-np.inf, np.inf))
            span = hi - lo
            if v < lo - 1e-9 * abs(span) or v > hi + 1e-9 * abs(span):
                warnings.warn(f"input '{n}' = {v:g} is outside the training range [{lo:g}, {hi:g}]: "
                              "the prediction is an extrapolation", stacklevel=3)
        dim = self.metrics.get("mesh_dim")
        if dim is not None and mesh.dim != dim:
            raise InputError(f"the mesh is {mesh.dim}D but the model was trained on {dim}D meshes")
        return {n: float(inputs[n]) for n in expected}
