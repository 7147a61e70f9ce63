"""Torch kernels for sparse multi-head attention on a :class:`CSRGraph` (CPU path).

The destination rows are processed in blocks of whole rows (:meth:`CSRGraph.row_blocks`)
holding at most ``CHUNK_EDGES`` edges, so per-edge tensors exist only for one block:
scores and probabilities (C, H), and the gathered q/k/v rows (C, H, d). Within a block
each row's softmax is exact (max, then sum of exponentials); only the per-row
log-sum-exp (N, H) is kept for the backward pass, which recomputes the probabilities
block by block (as FlashAttention does). All reductions run in index order
(``index_add_``/``scatter_reduce_`` on CPU), so results are bitwise reproducible.

Rows whose incoming edges all have score -inf (or that have no incoming edge) output 0
and store ``lse = -inf``.
"""
from __future__ import annotations

import torch

from .csr import CSRGraph

CHUNK_EDGES = 1 << 15


def attention_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | None,
    graph: CSRGraph,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``out`` (N, H, d) and the per-row log-sum-exp ``lse`` (N, H).

    Shapes: ``q``, ``k``, ``v`` (N, H, d); ``bias`` (E, H) in the original edge order.
    """
    n, h, d = q.shape
    out = torch.zeros_like(v)
    lse = torch.full((n, h), float("-inf"), dtype=q.dtype, device=q.device)
    for r0, r1, e0, e1 in graph.row_blocks(CHUNK_EDGES):
        if e1 == e0:
            continue
        loc, src = graph.row[e0:e1] - r0, graph.col[e0:e1]
        s = _scores(q, k, bias, graph, e0, e1, scale)
        m = torch.full((r1 - r0, h), float("-inf"), dtype=s.dtype, device=s.device)
        m.scatter_reduce_(0, loc[:, None].expand_as(s), s, "amax")
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        p = torch.exp(s - m[loc])
        denom = torch.zeros_like(m).index_add_(0, loc, p)
        acc = torch.zeros((r1 - r0, h, d), dtype=v.dtype, device=v.device)
        acc.index_add_(0, loc, p[:, :, None] * v[src])
        out[r0:r1] = acc / torch.where(denom > 0, denom, torch.ones_like(denom))[:, :, None]
        lse[r0:r1] = m + torch.log(denom)
    return out, lse


def attention_backward(
    grad: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | None,
    out: torch.Tensor,
    lse: torch.Tensor,
    graph: CSRGraph,
    scale: float,
    need_bias: bool,
    deterministic: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Gradients ``dq``, ``dk``, ``dv`` (N, H, d) and ``dbias`` (E, H) or None.

    With ``p`` the attention probabilities, ``dp_e = grad_i . v_j`` and
    ``D_i = grad_i . out_i``: ``ds_e = p_e (dp_e - D_i)``, ``dq_i = scale sum ds_e k_j``,
    ``dk_j = scale sum ds_e q_i``, ``dv_j = sum p_e grad_i``, ``dbias_e = ds_e``.
    ``deterministic`` is accepted for symmetry with Triton; this path always is.
    """
    dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
    dbias_csr = q.new_empty((graph.num_edges, q.shape[1])) if need_bias else None
    delta = (grad * out).sum(-1)  # (N, H)
    # Rows without any finite score have no probability mass: exp(s - inf) = 0.
    lse_safe = torch.where(torch.isfinite(lse), lse, torch.full_like(lse, float("inf")))
    for r0, r1, e0, e1 in graph.row_blocks(CHUNK_EDGES):
        if e1 == e0:
            continue
        dst, src = graph.row[e0:e1], graph.col[e0:e1]
        s = _scores(q, k, bias, graph, e0, e1, scale)
        p = torch.exp(s - lse_safe[dst])
        g = grad[dst]  # (C, H, d)
        ds = p * ((g * v[src]).sum(-1) - delta[dst])
        dq[r0:r1].index_add_(0, dst - r0, ds[:, :, None] * k[src])
        dk.index_add_(0, src, ds[:, :, None] * q[dst])
        dv.index_add_(0, src, p[:, :, None] * g)
        if dbias_csr is not None:
            dbias_csr[e0:e1] = ds
    dq.mul_(scale)
    dk.mul_(scale)
    dbias = None
    if dbias_csr is not None:
        dbias = torch.empty_like(dbias_csr)
        dbias[graph.perm] = dbias_csr
    return dq, dk, dv, dbias


def _scores(
    q: torch.Tensor,
    k: torch.Tensor,
    bias: torch.Tensor | None,
    graph: CSRGraph,
    e0: int,
    e1: int,
    scale: float,
) -> torch.Tensor:
    """(C, H) scores ``scale * q_i . k_j (+ bias_e)`` of CSR positions ``e0:e1``."""
    s = (q[graph.row[e0:e1]] * k[graph.col[e0:e1]]).sum(-1) * scale
    if bias is not None:
        s = s + bias[graph.perm[e0:e1]]
    return s
