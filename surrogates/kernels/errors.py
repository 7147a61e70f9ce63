"""Named failures of :mod:`surrogates.kernels`.

Every message says what came in and what was expected.
"""
from __future__ import annotations


class GraphError(ValueError):
    """A graph or a tensor laid on it is malformed (dtype, shape, index out of range)."""


class BackendUnavailableError(RuntimeError):
    """The requested kernel backend cannot run here (missing package or device).

    The message names the backend, the device that came in and how to make it run.
    """
