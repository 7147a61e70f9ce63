"""One message hook, two paths: the gather-scatter step of a message-passing layer.

A layer supplies only its per-edge ``message``; :func:`propagate` reduces it with the
kernels of the chosen backend. Without a ``message``, the fused gather + reduce of
:func:`~surrogates.kernels.aggregate.aggregate` runs and no (E, F) tensor is built.
"""
from __future__ import annotations

from typing import Callable

import torch

from .aggregate import aggregate, aggregate_messages
from .checks import check_graph, check_tensor
from .csr import CSRGraph

__all__ = ["propagate", "Message"]

Message = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
"""``message(x_i, x_j, edge_attr) -> (E, F_out)``: destination rows (E, F), source rows
(E, F), edge features (E, F_e) or None, all in the original edge order."""


def propagate(
    x: torch.Tensor,
    graph: CSRGraph,
    message: Message | None = None,
    reduce: str = "sum",
    *,
    edge_attr: torch.Tensor | None = None,
    edge_weight: torch.Tensor | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """Compute per-edge messages and reduce them over each node's incoming edges.

    Parameters
    ----------
    x : torch.Tensor
        (N, F) node features.
    graph : CSRGraph
        Adjacency with ``N`` nodes and ``E`` edges ``j -> i``.
    message : callable, optional
        ``message(x_i, x_j, edge_attr) -> (E, F_out)`` (see :data:`Message`). None means
        ``x_j`` scaled by ``edge_weight``, computed by the fused kernel.
    reduce : {"sum", "mean", "max"}
        Reduction over each node's incoming edges.
    edge_attr : torch.Tensor, optional
        (E, F_e) edge features passed to ``message``.
    edge_weight : torch.Tensor, optional
        (E,) edge weights; only without ``message``.
    backend : {"auto", "torch", "triton"}
        Kernel backend.

    Returns
    -------
    torch.Tensor
        (N, F) without ``message``, else (N, F_out). Nodes without incoming edges get 0.

    Examples
    --------
    >>> import torch
    >>> g = CSRGraph.from_edge_index(torch.tensor([[0, 1], [1, 1]]))
    >>> x = torch.tensor([[1.0], [3.0]])
    >>> propagate(x, g, lambda x_i, x_j, _: x_j - x_i).squeeze(1).tolist()
    [0.0, -2.0]
    """
    graph = check_graph(graph)
    if message is None:
        if edge_attr is not None:
            raise ValueError("edge_attr is only used by a message function; got message=None")
        return aggregate(x, graph, reduce, edge_weight, backend=backend)
    if edge_weight is not None:
        raise ValueError(
            "edge_weight is only used without a message function; scale inside message"
        )
    check_tensor(x, "x", (graph.num_nodes, None), graph)
    if edge_attr is not None:
        check_tensor(edge_attr, "edge_attr", (graph.num_edges, None), graph)
    src, dst = graph.edge_index()
    messages = message(x[dst], x[src], edge_attr)
    return aggregate_messages(messages, graph, reduce, backend=backend)
