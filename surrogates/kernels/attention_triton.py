"""Triton kernels for sparse multi-head attention on a :class:`CSRGraph` (CUDA path).

Forward (FlashAttention-style): one program per (destination node ``i``, head ``h``)
walks the CSR segment of ``i`` in tiles of ``BLOCK_E`` edges, computes the tile's
scores ``scale * q_i . k_j (+ bias)``, and keeps an online softmax (running max,
running sum, rescaled accumulator of ``p v_j``). Only ``out`` (N, H, d) and the per-row
log-sum-exp ``lse`` (N, H) are written; no per-edge tensor exists outside registers.

Backward recomputes the scores tile by tile from ``lse``:

- ``dq`` (and ``dbias``): one program per (destination, head) over its CSR segment;
  each edge's ``dbias`` has exactly one writer.
- ``dk``, ``dv``, deterministic (default): one program per (SOURCE node, head) walks
  the transposed CSR (outgoing edges, sorted by source) and gathers from the
  destinations, so there are no atomics and the summation order is fixed.
- ``dk``, ``dv``, ``deterministic=False``: the ``dq`` program also scatters its edge
  contributions to ``dk``/``dv`` with ``tl.atomic_add`` (fp32/fp64 buffers): one pass
  instead of two, but the summation order varies from run to run.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .csr import CSRGraph

BLOCK_E = 32


@triton.jit
def _attn_fwd_kernel(
    q_ptr, k_ptr, v_ptr, bias_ptr, rowptr_ptr, col_ptr, perm_ptr, out_ptr, lse_ptr,
    H, D, scale,
    HAS_BIAS: tl.constexpr, ACC: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_D: tl.constexpr,
):
    i = tl.program_id(0).to(tl.int64)
    h = tl.program_id(1).to(tl.int64)
    offs_d = tl.arange(0, BLOCK_D)
    dmask = offs_d < D
    q = tl.load(q_ptr + (i * H + h) * D + offs_d, mask=dmask, other=0.0).to(ACC)
    start = tl.load(rowptr_ptr + i)
    end = tl.load(rowptr_ptr + i + 1)
    m_i = tl.full((), float("-inf"), dtype=ACC)
    l_i = tl.full((), 0.0, dtype=ACC)
    acc = tl.zeros((BLOCK_D,), dtype=ACC)
    for e0 in range(start, end, BLOCK_E):
        offs_e = e0 + tl.arange(0, BLOCK_E)
        emask = offs_e < end
        j = tl.load(col_ptr + offs_e, mask=emask, other=0)
        m2 = emask[:, None] & dmask[None, :]
        kv_off = (j[:, None] * H + h) * D + offs_d[None, :]
        kt = tl.load(k_ptr + kv_off, mask=m2, other=0.0).to(ACC)
        s = tl.sum(kt * q[None, :], axis=1) * scale
        if HAS_BIAS:
            eid = tl.load(perm_ptr + offs_e, mask=emask, other=0)
            s += tl.load(bias_ptr + eid * H + h, mask=emask, other=0.0).to(ACC)
        s = tl.where(emask, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=0))
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        alpha = tl.exp(m_i - m_safe)
        p = tl.exp(s - m_safe)
        vt = tl.load(v_ptr + kv_off, mask=m2, other=0.0).to(ACC)
        l_i = l_i * alpha + tl.sum(p, axis=0)
        acc = acc * alpha + tl.sum(p[:, None] * vt, axis=0)
        m_i = m_new
    has_mass = l_i > 0
    out = acc / tl.where(has_mass, l_i, 1.0)
    lse = tl.where(has_mass, m_i + tl.log(tl.where(has_mass, l_i, 1.0)), float("-inf"))
    tl.store(out_ptr + (i * H + h) * D + offs_d, out.to(out_ptr.dtype.element_ty), mask=dmask)
    tl.store(lse_ptr + i * H + h, lse)


@triton.jit
def _attn_bwd_dq_kernel(
    q_ptr, k_ptr, v_ptr, bias_ptr, grad_ptr, lse_ptr, delta_ptr,
    rowptr_ptr, col_ptr, perm_ptr, dq_ptr, dbias_ptr, dk_ptr, dv_ptr,
    H, D, scale,
    HAS_BIAS: tl.constexpr, NEED_DBIAS: tl.constexpr, ATOMIC_KV: tl.constexpr,
    ACC: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_D: tl.constexpr,
):
    i = tl.program_id(0).to(tl.int64)
    h = tl.program_id(1).to(tl.int64)
    offs_d = tl.arange(0, BLOCK_D)
    dmask = offs_d < D
    row_off = (i * H + h) * D + offs_d
    q = tl.load(q_ptr + row_off, mask=dmask, other=0.0).to(ACC)
    do = tl.load(grad_ptr + row_off, mask=dmask, other=0.0).to(ACC)
    lse = tl.load(lse_ptr + i * H + h).to(ACC)
    lse = tl.where(lse == float("-inf"), float("inf"), lse)
    delta = tl.load(delta_ptr + i * H + h).to(ACC)
    start = tl.load(rowptr_ptr + i)
    end = tl.load(rowptr_ptr + i + 1)
    dq = tl.zeros((BLOCK_D,), dtype=ACC)
    for e0 in range(start, end, BLOCK_E):
        offs_e = e0 + tl.arange(0, BLOCK_E)
        emask = offs_e < end
        j = tl.load(col_ptr + offs_e, mask=emask, other=0)
        m2 = emask[:, None] & dmask[None, :]
        kv_off = (j[:, None] * H + h) * D + offs_d[None, :]
        kt = tl.load(k_ptr + kv_off, mask=m2, other=0.0).to(ACC)
        vt = tl.load(v_ptr + kv_off, mask=m2, other=0.0).to(ACC)
        s = tl.sum(kt * q[None, :], axis=1) * scale
        if HAS_BIAS:
            eid = tl.load(perm_ptr + offs_e, mask=emask, other=0)
            s += tl.load(bias_ptr + eid * H + h, mask=emask, other=0.0).to(ACC)
        p = tl.where(emask, tl.exp(s - lse), 0.0)
        ds = p * (tl.sum(vt * do[None, :], axis=1) - delta)
        dq += tl.sum(ds[:, None] * kt, axis=0)
        if NEED_DBIAS:
            tl.store(dbias_ptr + eid * H + h, ds.to(dbias_ptr.dtype.element_ty), mask=emask)
        if ATOMIC_KV:
            tl.atomic_add(dk_ptr + kv_off, (scale * ds)[:, None] * q[None, :], mask=m2)
            tl.atomic_add(dv_ptr + kv_off, p[:, None] * do[None, :], mask=m2)
    dq = dq * scale
    tl.store(dq_ptr + row_off, dq.to(dq_ptr.dtype.element_ty), mask=dmask)


@triton.jit
def _attn_bwd_dkdv_kernel(
    q_ptr, k_ptr, v_ptr, bias_ptr, grad_ptr, lse_ptr, delta_ptr,
    rowptr_t_ptr, col_t_ptr, perm_t_ptr, perm_ptr, dk_ptr, dv_ptr,
    H, D, scale,
    HAS_BIAS: tl.constexpr, ACC: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_D: tl.constexpr,
):
    j = tl.program_id(0).to(tl.int64)
    h = tl.program_id(1).to(tl.int64)
    offs_d = tl.arange(0, BLOCK_D)
    dmask = offs_d < D
    row_off = (j * H + h) * D + offs_d
    kj = tl.load(k_ptr + row_off, mask=dmask, other=0.0).to(ACC)
    vj = tl.load(v_ptr + row_off, mask=dmask, other=0.0).to(ACC)
    start = tl.load(rowptr_t_ptr + j)
    end = tl.load(rowptr_t_ptr + j + 1)
    dk = tl.zeros((BLOCK_D,), dtype=ACC)
    dv = tl.zeros((BLOCK_D,), dtype=ACC)
    for t0 in range(start, end, BLOCK_E):
        offs_t = t0 + tl.arange(0, BLOCK_E)
        tmask = offs_t < end
        i = tl.load(col_t_ptr + offs_t, mask=tmask, other=0)
        m2 = tmask[:, None] & dmask[None, :]
        qo_off = (i[:, None] * H + h) * D + offs_d[None, :]
        qt = tl.load(q_ptr + qo_off, mask=m2, other=0.0).to(ACC)
        dot = tl.load(grad_ptr + qo_off, mask=m2, other=0.0).to(ACC)
        lse = tl.load(lse_ptr + i * H + h, mask=tmask, other=0.0).to(ACC)
        lse = tl.where(lse == float("-inf"), float("inf"), lse)
        delta = tl.load(delta_ptr + i * H + h, mask=tmask, other=0.0).to(ACC)
        s = tl.sum(qt * kj[None, :], axis=1) * scale
        if HAS_BIAS:
            pos = tl.load(perm_t_ptr + offs_t, mask=tmask, other=0)
            eid = tl.load(perm_ptr + pos, mask=tmask, other=0)
            s += tl.load(bias_ptr + eid * H + h, mask=tmask, other=0.0).to(ACC)
        p = tl.where(tmask, tl.exp(s - lse), 0.0)
        dv += tl.sum(p[:, None] * dot, axis=0)
        ds = p * (tl.sum(dot * vj[None, :], axis=1) - delta)
        dk += tl.sum(ds[:, None] * qt, axis=0)
    dk = dk * scale
    tl.store(dk_ptr + row_off, dk.to(dk_ptr.dtype.element_ty), mask=dmask)
    tl.store(dv_ptr + row_off, dv.to(dv_ptr.dtype.element_ty), mask=dmask)


def attention_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor | None,
    graph: CSRGraph,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Triton twin of :func:`surrogates.kernels.attention_torch.attention_forward`.

    ``lse`` is fp64 for fp64 inputs and fp32 otherwise.
    """
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    bias = bias.contiguous() if bias is not None else None
    n, h, d = q.shape
    out = torch.empty_like(v)
    lse = torch.empty((n, h), dtype=_acc_torch(q.dtype), device=q.device)
    if n > 0 and h > 0:
        _attn_fwd_kernel[(n, h)](
            q, k, v, _or(bias, q), graph.rowptr, graph.col, graph.perm, out, lse,
            h, d, float(scale),
            HAS_BIAS=bias is not None, ACC=_acc(q.dtype), BLOCK_E=BLOCK_E,
            BLOCK_D=_block_d(d),
        )
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
    """Gradients ``dq``, ``dk``, ``dv`` (N, H, d) and ``dbias`` (E, H) or None."""
    q, k, v, grad = q.contiguous(), k.contiguous(), v.contiguous(), grad.contiguous()
    bias = bias.contiguous() if bias is not None else None
    n, h, d = q.shape
    acc_dtype = _acc_torch(q.dtype)
    delta = (grad.to(acc_dtype) * out.to(acc_dtype)).sum(-1).contiguous()
    dq = torch.empty_like(q)
    dbias = q.new_empty((graph.num_edges, h)) if need_bias else None
    if deterministic:
        dk, dv = torch.empty_like(k), torch.empty_like(v)
    else:
        dk = torch.zeros(k.shape, dtype=acc_dtype, device=k.device)
        dv = torch.zeros(v.shape, dtype=acc_dtype, device=v.device)
    if n == 0 or h == 0:
        return dq, dk.to(k.dtype), dv.to(v.dtype), dbias
    common = dict(ACC=_acc(q.dtype), BLOCK_E=BLOCK_E, BLOCK_D=_block_d(d))
    _attn_bwd_dq_kernel[(n, h)](
        q, k, v, _or(bias, q), grad, lse, delta, graph.rowptr, graph.col, graph.perm,
        dq, _or(dbias, q), dk, dv, h, d, float(scale),
        HAS_BIAS=bias is not None, NEED_DBIAS=need_bias and bias is not None,
        ATOMIC_KV=not deterministic, **common,
    )
    if deterministic:
        _attn_bwd_dkdv_kernel[(n, h)](
            q, k, v, _or(bias, q), grad, lse, delta, graph.rowptr_t, graph.col_t,
            graph.perm_t, graph.perm, dk, dv, h, d, float(scale),
            HAS_BIAS=bias is not None, **common,
        )
    return dq, dk.to(k.dtype), dv.to(v.dtype), dbias


def _acc(dtype: torch.dtype) -> tl.dtype:
    return tl.float64 if dtype == torch.float64 else tl.float32


def _acc_torch(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _block_d(d: int) -> int:
    return max(16, triton.next_power_of_2(d))


def _or(t: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """Return ``t``, or ``like`` as a pointer argument for an input the kernel skips."""
    return t if t is not None else like
