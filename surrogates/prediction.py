"""What every surrogate's ``predict`` returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mesh import Mesh


@dataclass
class Prediction:
    """Predicted fields and scalars on one mesh, with their uncertainty.

    Attributes
    ----------
    mesh : the mesh the prediction is on (the caller's mesh, its own nodes).
    fields : output field name -> (N,) or (N, c) array; (T, N, ...) for rollouts.
    std : field name -> predictive standard deviation, same shape as the field
        (absent when the model gives none).
    lower, upper : field name -> 2.5 % and 97.5 % predictive quantiles (absent when none).
    scalars : output scalar name -> value.
    scalars_std : output scalar name -> predictive standard deviation.
    uncertainty : how the uncertainty was obtained, in words (e.g. "exact GP posterior,
        500 samples decoded through the POD"; "deep ensemble of 5 members"; "none").
    times : (T,) times of a rollout, None for a steady prediction.
    timings : stage name -> seconds (e.g. "morph", "transfer", "gp", "total").
    """

    mesh: Mesh
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    std: dict[str, np.ndarray] = field(default_factory=dict)
    lower: dict[str, np.ndarray] = field(default_factory=dict)
    upper: dict[str, np.ndarray] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    scalars_std: dict[str, float] = field(default_factory=dict)
    uncertainty: str = "none"
    times: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def check_finite(self) -> "Prediction":
        """Raise if any predicted value is NaN or infinite; return self otherwise."""
        from .errors import SurrogateError

        for kind, values in (("field", self.fields), ("std of field", self.std)):
            for name, v in values.items():
                bad = ~np.isfinite(np.asarray(v))
                if bad.any():
                    raise SurrogateError(f"the prediction of {kind} '{name}' has {int(bad.sum())} "
                                         "NaN/inf values; the model or its inputs are broken")
        for name, v in self.scalars.items():
            if not np.isfinite(v):
                raise SurrogateError(f"the prediction of scalar '{name}' is {v}")
        return self

    def to_mesh(self) -> Mesh:
        """The mesh with the prediction as point data (``NAME``, ``NAME_std``, ``NAME_q025``,
        ``NAME_q975``) and the scalars as field data (``NAME``, ``NAME_std``); steady only."""
        if self.times is not None:
            raise ValueError("a rollout has one state per time: write it with mesh.io.write_series")
        data = dict(self.fields)
        data.update({f"{k}_std": v for k, v in self.std.items()})
        data.update({f"{k}_q025": v for k, v in self.lower.items()})
        data.update({f"{k}_q975": v for k, v in self.upper.items()})
        scal = {k: np.array([v]) for k, v in self.scalars.items()}
        scal.update({f"{k}_std": np.array([v]) for k, v in self.scalars_std.items()})
        return self.mesh.with_point_data(**data).with_field_data(**scal)
