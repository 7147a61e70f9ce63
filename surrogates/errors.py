"""Named failures of the surrogate models."""
from __future__ import annotations


class SurrogateError(ValueError):
    """A model cannot be built, trained, loaded or evaluated as asked (the message says why)."""


class ModelFormatError(SurrogateError):
    """A model folder is missing, incomplete or written by an incompatible version."""


class InputError(SurrogateError):
    """The inputs given to ``predict`` do not match what the model was trained on."""
