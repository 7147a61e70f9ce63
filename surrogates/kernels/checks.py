"""Input checks shared by the public kernel entry points.

Each check raises :class:`~surrogates.kernels.errors.GraphError` with what came in
and what was expected.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .csr import CSRGraph
from .errors import GraphError

REDUCTIONS = ("sum", "mean", "max")


def check_graph(graph: object) -> CSRGraph:
    """Return ``graph`` if it is a :class:`CSRGraph`, else raise."""
    if not isinstance(graph, CSRGraph):
        raise GraphError(
            f"graph must be a CSRGraph (build one with CSRGraph.from_edge_index), "
            f"got {type(graph).__name__}"
        )
    return graph


def check_reduce(reduce: str) -> str:
    """Return ``reduce`` if it is one of :data:`REDUCTIONS`, else raise."""
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}; got {reduce!r}")
    return reduce


def check_tensor(
    t: object,
    name: str,
    shape: Sequence[int | None],
    graph: CSRGraph,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Check a floating tensor's shape, device and dtype.

    Parameters
    ----------
    t : object
        The tensor to check.
    name : str
        Its name in error messages.
    shape : sequence of int or None
        Expected shape; ``None`` matches any size along that axis.
    graph : CSRGraph
        The tensor must sit on ``graph.device``.
    dtype : torch.dtype, optional
        Required dtype; by default any floating dtype.

    Returns
    -------
    torch.Tensor
        ``t`` unchanged.
    """
    if not isinstance(t, torch.Tensor):
        raise GraphError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    want = "(" + ", ".join("*" if s is None else str(s) for s in shape)
    want += ",)" if len(shape) == 1 else ")"
    if t.dim() != len(shape) or any(s is not None and s != g for s, g in zip(shape, t.shape)):
        raise GraphError(f"{name} must have shape {want}, got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise GraphError(f"{name} must be a floating tensor, got {t.dtype}")
    if dtype is not None and t.dtype != dtype:
        raise GraphError(f"{name} must have dtype {dtype} like the node features, got {t.dtype}")
    if t.device != graph.device:
        raise GraphError(f"{name} is on {t.device}, but the graph is on {graph.device}")
    return t
