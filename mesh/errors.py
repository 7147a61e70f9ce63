"""Named failures of the ``mesh`` package.

Every error says what came in and what was expected, and names the file, the
sample and the field involved when there is one.
"""
from __future__ import annotations


class MeshError(ValueError):
    """A mesh is malformed (bad shapes, indices out of range, unknown cell type)."""


class MeshReadError(MeshError):
    """A mesh file could not be read; the message names the file and the reason."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read mesh file '{self.path}': {reason}")


class MeshWriteError(MeshError):
    """A mesh could not be written; the message names the file and the reason."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot write mesh file '{self.path}': {reason}")


class DatasetError(ValueError):
    """A dataset folder or one of its samples is invalid.

    The message names the dataset, the sample and the field when they are known.
    """


class MorphingError(ValueError):
    """A mesh cannot be morphed onto the common support (the message says why)."""
