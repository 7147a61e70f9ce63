"""Multi-head attention restricted to a graph: the public entry point and its autograd.

For every head ``h`` and edge ``e = j -> i``:
``score_e = scale * q_i . k_j (+ bias_e)``; ``a_e = softmax`` over the incoming edges of
``i``; ``out_i = sum_e a_e v_j``. This is the sparse attention of graph transformers for
meshes (Garnier et al. 2025): scores exist only on the edges (SDDMM), the softmax runs per
destination row, and the weighted sum is an SpMM. No dense N x N matrix is formed, and
the backward pass recomputes scores from the per-row log-sum-exp instead of storing
per-edge probabilities.
"""
from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from .checks import check_graph, check_tensor
from .csr import CSRGraph
from .dispatch import load_ops, resolve_backend
from .errors import GraphError

__all__ = ["graph_attention"]


def graph_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    graph: CSRGraph,
    bias: torch.Tensor | None = None,
    *,
    scale: float | None = None,
    backend: str = "auto",
    deterministic: bool = True,
) -> torch.Tensor:
    """Softmax attention of each node over its incoming edges, per head.

    ``out[i, h] = sum_{e = j -> i} softmax_e(scale * q[i, h] . k[j, h] + bias[e, h]) v[j, h]``.
    Nodes without incoming edges (and rows whose scores are all -inf) output 0.

    Parameters
    ----------
    q : torch.Tensor
        (N, H, d) queries of the destination nodes.
    k : torch.Tensor
        (N, H, d) keys of the source nodes.
    v : torch.Tensor
        (N, H, d) values of the source nodes.
    graph : CSRGraph
        Adjacency with ``N`` nodes, on the device of ``q``.
    bias : torch.Tensor, optional
        (E, H) additive score bias per edge and head (e.g. from edge features or a
        relative position encoding), in the order of the ``edge_index`` the graph was
        built from; -inf masks an edge.
    scale : float, optional
        Score scale; default ``1 / sqrt(d)``.
    backend : {"auto", "torch", "triton"}
        Kernel backend; ``auto`` is Triton on CUDA, torch otherwise.
    deterministic : bool
        Triton only: True (default) computes ``dk``/``dv`` by a gather over the
        transposed CSR (bitwise reproducible); False scatters them with atomic adds
        from the ``dq`` pass (one pass fewer, summation order varies). The torch
        backend is always deterministic on CPU.

    Returns
    -------
    torch.Tensor
        (N, H, d), dtype of ``q``.

    Raises
    ------
    GraphError
        If a tensor has the wrong shape, dtype or device for ``graph``.

    Examples
    --------
    >>> import torch
    >>> g = CSRGraph.from_edge_index(torch.tensor([[1, 2], [0, 0]]), num_nodes=3)
    >>> q = torch.zeros(3, 1, 2)  # equal scores: plain mean of the values
    >>> v = torch.tensor([[[0.0, 0.0]], [[1.0, 2.0]], [[3.0, 4.0]]])
    >>> graph_attention(q, q, v, g)[:, 0].tolist()
    [[2.0, 3.0], [0.0, 0.0], [0.0, 0.0]]
    """
    graph = check_graph(graph)
    check_tensor(q, "q", (graph.num_nodes, None, None), graph)
    n, h, d = q.shape
    check_tensor(k, "k", (n, h, d), graph, dtype=q.dtype)
    check_tensor(v, "v", (n, h, d), graph, dtype=q.dtype)
    if bias is not None:
        check_tensor(bias, "bias", (graph.num_edges, h), graph, dtype=q.dtype)
    if scale is None:
        scale = 1.0 / math.sqrt(d) if d > 0 else 1.0
    elif not math.isfinite(scale):
        raise GraphError(f"scale must be a finite float, got {scale!r}")
    ops = load_ops("attention", resolve_backend(backend, q.device))
    return _GraphAttention.apply(q, k, v, bias, graph, float(scale), ops, deterministic)


class _GraphAttention(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        bias: torch.Tensor | None,
        graph: CSRGraph,
        scale: float,
        ops: ModuleType,
        deterministic: bool,
    ) -> torch.Tensor:
        out, lse = ops.attention_forward(q, k, v, bias, graph, scale)
        ctx.save_for_backward(q, k, v, bias, out, lse)
        ctx.graph, ctx.scale, ctx.ops, ctx.deterministic = graph, scale, ops, deterministic
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        q, k, v, bias, out, lse = ctx.saved_tensors
        need_bias = bias is not None and ctx.needs_input_grad[3]
        dq, dk, dv, dbias = ctx.ops.attention_backward(
            grad.contiguous(), q, k, v, bias, out, lse, ctx.graph, ctx.scale, need_bias,
            deterministic=ctx.deterministic,
        )
        return dq, dk, dv, dbias, None, None, None, None
