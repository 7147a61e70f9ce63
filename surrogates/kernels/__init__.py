"""Sparse message-passing kernels over mesh graphs.

One entry point per operation, each with a ``backend`` argument: ``"auto"`` (Triton on
CUDA tensors, torch otherwise), ``"torch"`` or ``"triton"``. Triton is imported only
when a Triton kernel runs; with ``TRITON_INTERPRET=1`` set before that, the Triton
kernels also run on CPU tensors through Triton's interpreter (for tests).

- :class:`CSRGraph`: the adjacency, sorted by destination, with its transpose; build it
  once per mesh with :meth:`CSRGraph.from_edge_index` and reuse it.
- :func:`aggregate`: sum / mean / max of ``w_e * x[j]`` over incoming edges, fused
  gather + reduce (no (E, F) tensor).
- :func:`aggregate_messages`: sum / mean / max of per-edge messages (E, F).
- :func:`propagate`: a layer's ``message(x_i, x_j, edge_attr)`` reduced by the kernels.
- :func:`graph_attention`: multi-head softmax attention restricted to the edges,
  FlashAttention-style (only a per-row log-sum-exp is stored for backward).

All have explicit backward passes; with ``deterministic=True`` (default) no kernel
uses atomics and results are bitwise reproducible.

Examples
--------
>>> import torch
>>> from surrogates.kernels import CSRGraph, aggregate
>>> g = CSRGraph.from_edge_index(torch.tensor([[0, 1], [1, 2]]))
>>> aggregate(torch.ones(3, 2), g, "sum").tolist()
[[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
"""
from __future__ import annotations

from .aggregate import aggregate, aggregate_messages
from .attention import graph_attention
from .csr import CSRGraph
from .dispatch import BACKENDS, Backend, resolve_backend
from .errors import BackendUnavailableError, GraphError
from .propagate import Message, propagate

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailableError",
    "CSRGraph",
    "GraphError",
    "Message",
    "aggregate",
    "aggregate_messages",
    "graph_attention",
    "propagate",
    "resolve_backend",
]
