"""Message aggregation over a CSR adjacency: the public entry points and their autograd.

``aggregate`` reduces gathered source features ``w_e * x[j]`` over the incoming edges
``j -> i`` of every node without building the (E, F) message tensor (fused gather +
reduce); ``aggregate_messages`` reduces per-edge messages that already exist. Both are
``torch.autograd.Function`` s with explicit backward passes, and run on the backend
chosen by :func:`~surrogates.kernels.dispatch.resolve_backend`.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from .checks import check_graph, check_reduce, check_tensor
from .csr import CSRGraph
from .dispatch import load_ops, resolve_backend

__all__ = ["aggregate", "aggregate_messages"]


def aggregate(
    x: torch.Tensor,
    graph: CSRGraph,
    reduce: str = "sum",
    edge_weight: torch.Tensor | None = None,
    *,
    backend: str = "auto",
    deterministic: bool = True,
) -> torch.Tensor:
    """Reduce ``edge_weight[e] * x[j]`` over the incoming edges ``e = j -> i`` of each node.

    ``out[i] = reduce_{e = j -> i} w_e x[j]``; nodes without incoming edges get 0.
    ``mean`` divides by the in-degree (not by the sum of weights). ``max`` sends the
    gradient to the first maximal edge of each (node, feature) in CSR order.

    Parameters
    ----------
    x : torch.Tensor
        (N, F) node features, floating.
    graph : CSRGraph
        Adjacency with ``N`` nodes, on the device of ``x``.
    reduce : {"sum", "mean", "max"}
        Reduction over each node's incoming edges.
    edge_weight : torch.Tensor, optional
        (E,) scalar weight of each edge, in the order of the ``edge_index`` the graph
        was built from; same dtype as ``x``.
    backend : {"auto", "torch", "triton"}
        Kernel backend; ``auto`` is Triton on CUDA, torch otherwise.
    deterministic : bool
        Triton only: True (default) computes the gradient of ``x`` by a segment
        reduction over the transposed CSR (bitwise reproducible); False scatters it
        with atomic adds (summation order varies run to run). The torch backend is
        always deterministic on CPU.

    Returns
    -------
    torch.Tensor
        (N, F), dtype of ``x``.

    Raises
    ------
    GraphError
        If a tensor has the wrong shape, dtype or device for ``graph``.
    ValueError
        If ``reduce`` or ``backend`` is unknown.

    Examples
    --------
    >>> import torch
    >>> g = CSRGraph.from_edge_index(torch.tensor([[0, 1, 2], [2, 2, 0]]), num_nodes=4)
    >>> x = torch.tensor([[1.0], [2.0], [4.0], [8.0]])
    >>> aggregate(x, g, "sum").squeeze(1).tolist()
    [4.0, 0.0, 3.0, 0.0]
    >>> aggregate(x, g, "max", edge_weight=torch.tensor([3.0, 1.0, 1.0])).squeeze(1).tolist()
    [4.0, 0.0, 3.0, 0.0]
    """
    graph = check_graph(graph)
    check_reduce(reduce)
    check_tensor(x, "x", (graph.num_nodes, None), graph)
    if edge_weight is not None:
        check_tensor(edge_weight, "edge_weight", (graph.num_edges,), graph, dtype=x.dtype)
    ops = load_ops("aggregate", resolve_backend(backend, x.device))
    return _GatherAggregate.apply(x, edge_weight, graph, reduce, ops, deterministic)


def aggregate_messages(
    messages: torch.Tensor,
    graph: CSRGraph,
    reduce: str = "sum",
    *,
    backend: str = "auto",
) -> torch.Tensor:
    """Reduce per-edge ``messages`` over the incoming edges of each node.

    ``out[i] = reduce_{e = j -> i} messages[e]``; nodes without incoming edges get 0.

    Parameters
    ----------
    messages : torch.Tensor
        (E, F) one message per edge, in the order of the ``edge_index`` the graph was
        built from (no sorting needed).
    graph : CSRGraph
        Adjacency with ``E`` edges, on the device of ``messages``.
    reduce : {"sum", "mean", "max"}
        Reduction over each node's incoming edges.
    backend : {"auto", "torch", "triton"}
        Kernel backend; ``auto`` is Triton on CUDA, torch otherwise.

    Returns
    -------
    torch.Tensor
        (N, F), dtype of ``messages``. Forward and backward are deterministic on
        every backend (each output row and each message gradient has one writer).

    Examples
    --------
    >>> import torch
    >>> g = CSRGraph.from_edge_index(torch.tensor([[0, 1, 2], [2, 2, 0]]))
    >>> aggregate_messages(torch.tensor([[1.0], [3.0], [5.0]]), g, "mean").squeeze(1).tolist()
    [5.0, 0.0, 2.0]
    """
    graph = check_graph(graph)
    check_reduce(reduce)
    check_tensor(messages, "messages", (graph.num_edges, None), graph)
    ops = load_ops("aggregate", resolve_backend(backend, messages.device))
    return _MessageAggregate.apply(messages, graph, reduce, ops)


class _GatherAggregate(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        edge_weight: torch.Tensor | None,
        graph: CSRGraph,
        reduce: str,
        ops: ModuleType,
        deterministic: bool,
    ) -> torch.Tensor:
        out, arg = ops.gather_forward(x, graph, reduce, edge_weight)
        ctx.save_for_backward(x, edge_weight, arg)
        ctx.graph, ctx.reduce, ctx.ops, ctx.deterministic = graph, reduce, ops, deterministic
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, edge_weight, arg = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        dx, dw = ctx.ops.gather_backward(
            grad.contiguous(), x, edge_weight, arg, ctx.graph, ctx.reduce,
            need_x, need_w, deterministic=ctx.deterministic,
        )
        return dx, dw, None, None, None, None


class _MessageAggregate(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, messages: torch.Tensor, graph: CSRGraph, reduce: str, ops: ModuleType
    ) -> torch.Tensor:
        out, arg = ops.messages_forward(messages, graph, reduce)
        ctx.save_for_backward(arg)
        ctx.graph, ctx.reduce, ctx.ops = graph, reduce, ops
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (arg,) = ctx.saved_tensors
        dmsg = ctx.ops.messages_backward(grad.contiguous(), arg, ctx.graph, ctx.reduce)
        return dmsg, None, None, None
