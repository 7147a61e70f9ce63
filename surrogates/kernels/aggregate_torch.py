"""Torch kernels for message aggregation over a :class:`CSRGraph` (CPU path).

Deterministic by construction on CPU:

- ``sum``/``mean`` of gathered features ``x[src] * w`` is one sparse CSR x dense
  product (:func:`~surrogates.kernels.sparse_ops.spmm`): each output row is reduced by
  one thread in CSR order, and no (E, F) message tensor is built. The backward for ``x`` is the same
  product over the transposed CSR (sorted by source).
- ``max`` and the per-edge reductions walk the CSR in blocks of whole rows
  (:meth:`CSRGraph.row_blocks`), so at most ``CHUNK_EDGES`` x F message entries exist at
  once; ``index_add_``/``scatter_reduce_`` on CPU add in index order.
- ``max`` keeps, for each (node, feature), the CSR position of the first maximal edge
  (-1 for nodes without incoming edges, whose output is 0); the gradient flows to it.

All functions take per-edge tensors in the ORIGINAL edge order (columns of
``edge_index``); they are read through ``graph.perm``.
"""
from __future__ import annotations

from typing import Callable

import torch

from .csr import CSRGraph
from .sparse_ops import sddmm, spmm

CHUNK_EDGES = 1 << 16


def gather_forward(
    x: torch.Tensor, graph: CSRGraph, reduce: str, edge_weight: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Reduce ``edge_weight[e] * x[src[e]]`` over the incoming edges of each node.

    Shapes: ``x`` (N, F); ``edge_weight`` (E,) original order or None.
    Returns ``out`` (N, F) and, for ``max``, ``arg`` (N, F) int64 CSR positions.
    """
    w_csr = None if edge_weight is None else edge_weight[graph.perm]
    if reduce in ("sum", "mean"):
        out = spmm(graph.rowptr, graph.col, w_csr, x)
        if reduce == "mean":
            out = out / _degree(graph, x)
        return out, None

    def values(e0: int, e1: int) -> torch.Tensor:
        v = x[graph.col[e0:e1]]
        return v if w_csr is None else v * w_csr[e0:e1, None]

    return _segment_max(values, graph, x.shape[1], x)


def gather_backward(
    grad: torch.Tensor,
    x: torch.Tensor,
    edge_weight: torch.Tensor | None,
    arg: torch.Tensor | None,
    graph: CSRGraph,
    reduce: str,
    need_x: bool,
    need_w: bool,
    deterministic: bool = True,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of :func:`gather_forward` for ``x`` (N, F) and ``edge_weight`` (E,).

    ``deterministic`` is accepted for symmetry with the Triton kernels; this path is
    always deterministic on CPU.
    """
    w_csr = None if edge_weight is None else edge_weight[graph.perm]
    dx = dw = None
    if reduce == "max":
        return _max_gather_backward(grad, x, w_csr, arg, graph, need_x, need_w)
    g = grad / _degree(graph, grad) if reduce == "mean" else grad
    if need_x:
        w_t = None if w_csr is None else w_csr[graph.perm_t]
        dx = spmm(graph.rowptr_t, graph.col_t, w_t, g)
    if need_w:
        if x.dtype in (torch.float32, torch.float64):  # dw_e = g[i] . x[j]: an SDDMM
            dw_csr = sddmm(graph.rowptr, graph.col, g, x, bool(graph.duplicate_edges))
        else:
            dw_csr = torch.empty(graph.num_edges, dtype=x.dtype, device=x.device)
            for _, _, e0, e1 in graph.row_blocks(CHUNK_EDGES):
                dw_csr[e0:e1] = (g[graph.row[e0:e1]] * x[graph.col[e0:e1]]).sum(-1)
        dw = _to_original_order(dw_csr, graph)
    return dx, dw


def messages_forward(
    messages: torch.Tensor, graph: CSRGraph, reduce: str
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Reduce per-edge ``messages`` (E, F, original order) onto destinations (N, F)."""
    f = messages.shape[1]

    def values(e0: int, e1: int) -> torch.Tensor:
        return messages[graph.perm[e0:e1]]

    if reduce == "max":
        return _segment_max(values, graph, f, messages)
    out = messages.new_zeros((graph.num_nodes, f))
    for r0, r1, e0, e1 in graph.row_blocks(CHUNK_EDGES):
        out[r0:r1].index_add_(0, graph.row[e0:e1] - r0, values(e0, e1))
    if reduce == "mean":
        out = out / _degree(graph, out)
    return out, None


def messages_backward(
    grad: torch.Tensor, arg: torch.Tensor | None, graph: CSRGraph, reduce: str
) -> torch.Tensor:
    """Gradient of :func:`messages_forward`: (E, F) in the original edge order."""
    n_e, f = graph.num_edges, grad.shape[1]
    if reduce == "max":
        dmsg = grad.new_zeros((n_e, f))
        i, k, p = _argmax_entries(arg)
        dmsg.view(-1)[graph.perm[p] * f + k] = grad[i, k]
        return dmsg
    g = grad / _degree(graph, grad) if reduce == "mean" else grad
    dmsg = grad.new_empty((n_e, f))
    for _, _, e0, e1 in graph.row_blocks(CHUNK_EDGES):
        dmsg[graph.perm[e0:e1]] = g[graph.row[e0:e1]]
    return dmsg


def _max_gather_backward(
    grad: torch.Tensor,
    x: torch.Tensor,
    w_csr: torch.Tensor | None,
    arg: torch.Tensor,
    graph: CSRGraph,
    need_x: bool,
    need_w: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    f = x.shape[1]
    i, k, p = _argmax_entries(arg)
    g = grad[i, k]
    src = graph.col[p]
    dx = dw = None
    if need_x:
        dx = torch.zeros_like(x)
        contrib = g if w_csr is None else g * w_csr[p]
        dx.view(-1).index_add_(0, src * f + k, contrib)
    if need_w:
        dw_csr = x.new_zeros(graph.num_edges)
        dw_csr.index_add_(0, p, g * x[src, k])
        dw = _to_original_order(dw_csr, graph)
    return dx, dw


def _segment_max(
    values: Callable[[int, int], torch.Tensor],
    graph: CSRGraph,
    num_features: int,
    like: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Max over each row's CSR segment and the CSR position of its first maximum."""
    n, n_e = graph.num_nodes, graph.num_edges
    out = like.new_zeros((n, num_features))
    arg = torch.full((n, num_features), -1, dtype=torch.int64, device=like.device)
    for r0, r1, e0, e1 in graph.row_blocks(CHUNK_EDGES):
        v = values(e0, e1)
        loc = (graph.row[e0:e1] - r0)[:, None].expand_as(v)
        m = torch.full((r1 - r0, num_features), float("-inf"), dtype=v.dtype, device=v.device)
        m.scatter_reduce_(0, loc, v, "amax")
        pos = torch.arange(e0, e1, device=v.device)[:, None].expand_as(v)
        cand = torch.where(v == m.gather(0, loc), pos, n_e)
        first = torch.full_like(m, n_e, dtype=torch.int64).scatter_reduce_(0, loc, cand, "amin")
        found = first < n_e
        out[r0:r1] = torch.where(found, m, torch.zeros_like(m))
        arg[r0:r1] = torch.where(found, first, -1)
    return out, arg


def _argmax_entries(arg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(node, feature, CSR position) of every (node, feature) that has a maximum."""
    i, k = (arg >= 0).nonzero(as_tuple=True)
    return i, k, arg[i, k]


def _to_original_order(values_csr: torch.Tensor, graph: CSRGraph) -> torch.Tensor:
    out = torch.empty_like(values_csr)
    out[graph.perm] = values_csr
    return out


def _degree(graph: CSRGraph, like: torch.Tensor) -> torch.Tensor:
    """(N, 1) in-degree clamped to >= 1, in the dtype of ``like``."""
    return graph.in_degree.clamp(min=1).to(like.dtype)[:, None]
