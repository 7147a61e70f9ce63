"""The problem definition of a dataset: which features are inputs and outputs.

A validated pydantic model (unknown keys are rejected) that round-trips
through ``dataset.yaml`` and travels with every trained model, as PLAID's
``ProblemDefinition`` does.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator


class Feature(BaseModel):
    """Metadata of one feature.

    Attributes
    ----------
    unit : physical unit as text (e.g. ``"Pa"``, ``"m"``), or None when unknown.
    description : free text.
    location : ``"point"`` (nodal) or ``"cell"`` data; fields only.
    """

    model_config = ConfigDict(extra="forbid")
    unit: str | None = None
    description: str | None = None
    location: Literal["point", "cell"] = "point"


class ProblemDefinition(BaseModel):
    """Inputs and outputs of a learning problem on a dataset.

    Attributes
    ----------
    inputs : input scalars (loads, material parameters, ...), by name.
    input_fields : fields given on the mesh as inputs (e.g. a temperature field), by name.
    outputs : output fields to predict, by name.
    output_scalars : output scalars to predict, by name.
    """

    model_config = ConfigDict(extra="forbid")
    inputs: dict[str, Feature] = {}
    input_fields: dict[str, Feature] = {}
    outputs: dict[str, Feature] = {}
    output_scalars: dict[str, Feature] = {}

    @model_validator(mode="after")
    def _names_unique(self) -> "ProblemDefinition":
        seen: dict[str, str] = {}
        for group in ("inputs", "input_fields", "outputs", "output_scalars"):
            for name in getattr(self, group):
                if name in seen:
                    raise ValueError(f"feature '{name}' is listed in both '{seen[name]}' and '{group}'")
                seen[name] = group
        return self

    @property
    def scalar_names(self) -> list[str]:
        """Names of the input scalars, in order."""
        return list(self.inputs)

    @property
    def field_names(self) -> list[str]:
        """Names of the output fields, in order."""
        return list(self.outputs)

    def differences(self, other: "ProblemDefinition") -> list[str]:
        """Human-readable differences with another definition (empty when compatible)."""
        out = []
        for group in ("inputs", "input_fields", "outputs", "output_scalars"):
            a, b = set(getattr(self, group)), set(getattr(other, group))
            if a - b:
                out.append(f"{group}: only in the first: {', '.join(sorted(a - b))}")
            if b - a:
                out.append(f"{group}: only in the second: {', '.join(sorted(b - a))}")
        return out
