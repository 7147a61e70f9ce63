"""Torch kernels for sparse multi-head attention on a :class:`CSRGraph` (CPU path).

Head by head, and block by block of whole rows (:meth:`CSRGraph.row_blocks`, at most
``CHUNK_EDGES`` edges), the scores are an SDDMM on the block's CSR pattern and the
weighted sum an SpMM (:mod:`~surrogates.kernels.sparse_ops`): no gathered (E, d) rows
exist, only per-edge vectors of one head's scores for one block. Within a block each
row's softmax is exact (max, then sum of exponentials); only the per-row log-sum-exp
(N, H) is kept for backward, which recomputes the scores as FlashAttention does,
head by head:

- ``dq`` (and the probabilities ``p`` and score gradients ``ds``) block by block of
  destination rows over the CSR;
- ``dk = A_ds^T q`` and ``dv = A_p^T grad`` as SpMMs over the transposed CSR,

so every gradient row is written once, by a reduction in CSR order: bitwise
reproducible, no scatter. Half-precision inputs are computed in float32.

Rows whose incoming edges all have score -inf (or that have no incoming edge) output 0
and store ``lse = -inf``.

Memory: besides inputs and outputs, one head's (N, d) slices, per-block vectors of
scores, and in backward two (E,) vectors (one head's probabilities and score
gradients, 8 bytes per edge in float32, less than the graph's own indices).
"""
from __future__ import annotations

import torch

from .csr import CSRGraph
from .sparse_ops import sddmm, spmm

CHUNK_EDGES = 1 << 20  # per-block vectors: a few (C,) floats, ~4 MB each


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
    ``lse`` is float32 for half-precision inputs.
    """
    n, h, d = q.shape
    work = _work_dtype(q.dtype)
    out = torch.zeros((n, h, d), dtype=work, device=q.device)
    lse = torch.full((n, h), float("-inf"), dtype=work, device=q.device)
    blocks = [b for b in graph.row_blocks(CHUNK_EDGES) if b[3] > b[2]]
    for hh in range(h):
        qh, kh, vh = (_head(t, hh, work) for t in (q, k, v))
        for r0, r1, e0, e1 in blocks:
            rowptr, col = graph.rowptr[r0:r1 + 1] - e0, graph.col[e0:e1]
            s = sddmm(rowptr, col, qh[r0:r1], kh, graph.duplicate_edges) * scale
            if bias is not None:
                s = s + bias[graph.perm[e0:e1], hh].to(work)
            loc = graph.row[e0:e1] - r0
            m = torch.full((r1 - r0,), float("-inf"), dtype=work, device=q.device)
            m.scatter_reduce_(0, loc, s, "amax")
            m = torch.nan_to_num(m, neginf=0.0)  # rows without a finite score
            p = torch.exp(s - m[loc])
            denom = torch.zeros_like(m).index_add_(0, loc, p)
            acc = spmm(rowptr, col, p, vh)
            out[r0:r1, hh] = acc / denom.clamp_min(torch.finfo(work).tiny)[:, None]  # 0 / tiny
            lse[r0:r1, hh] = m + torch.log(denom)
    return out.to(q.dtype), lse


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
    n, h, d = q.shape
    work = _work_dtype(q.dtype)
    dq, dk, dv = (torch.zeros((n, h, d), dtype=work, device=q.device) for _ in range(3))
    dbias = torch.zeros((graph.num_edges, h), dtype=work, device=q.device) if need_bias else None
    delta = (grad.to(work) * out.to(work)).sum(-1)  # (N, H)
    # Rows without any finite score have no probability mass: exp(s - inf) = 0.
    lse = torch.where(torch.isfinite(lse), lse, torch.full_like(lse, float("inf"))).to(work)
    rows = [b for b in graph.row_blocks(CHUNK_EDGES) if b[3] > b[2]]
    dup = bool(graph.duplicate_edges)
    p_all = torch.empty(graph.num_edges, dtype=work, device=q.device)
    ds_all = torch.empty_like(p_all)
    for hh in range(h):
        qh, kh, vh, gh = (_head(t, hh, work) for t in (q, k, v, grad))
        for r0, r1, e0, e1 in rows:  # dq, dbias: destinations over the CSR
            rowptr, col = graph.rowptr[r0:r1 + 1] - e0, graph.col[e0:e1]
            dst, ids = graph.row[e0:e1], graph.perm[e0:e1]
            s = sddmm(rowptr, col, qh[r0:r1], kh, dup) * scale
            if bias is not None:
                s = s + bias[ids, hh].to(work)
            p = torch.exp(s - lse[dst, hh])
            ds = p * (sddmm(rowptr, col, gh[r0:r1], vh, dup) - delta[dst, hh])
            dq[r0:r1, hh] = spmm(rowptr, col, ds, kh) * scale
            p_all[e0:e1], ds_all[e0:e1] = p, ds
        # dk, dv: sources over the transposed CSR, with this head's p and ds (E,)
        dv[:, hh] = spmm(graph.rowptr_t, graph.col_t, p_all[graph.perm_t], gh)
        dk[:, hh] = spmm(graph.rowptr_t, graph.col_t, ds_all[graph.perm_t], qh) * scale
        if dbias is not None:
            dbias[graph.perm, hh] = ds_all
    cast = (lambda t: t.to(q.dtype)) if work != q.dtype else (lambda t: t)
    return cast(dq), cast(dk), cast(dv), None if dbias is None else cast(dbias)


def _head(t: torch.Tensor, hh: int, work: torch.dtype) -> torch.Tensor:
    """(N, d) contiguous slice of head ``hh`` of an (N, H, d) tensor."""
    return t[:, hh].to(work).contiguous()


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32
