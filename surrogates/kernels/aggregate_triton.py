"""Triton kernels for message aggregation over a :class:`CSRGraph` (CUDA path).

Forward: one program per (destination row, feature block) walks the row's CSR segment
in tiles of ``BLOCK_E`` edges, gathers the source rows (or the edge messages) and
reduces them in registers; nothing of size (E, F) is written. ``max`` also stores the
CSR position of the first maximal edge per (node, feature).

Backward, deterministic (default): the gradient of ``x`` is the same segment reduction
over the transposed CSR (one program per SOURCE row walks its outgoing edges), so each
output element has exactly one writer and the summation order is fixed. Per-edge
gradients (``edge_weight``, ``messages``) have one writer per edge. Non-deterministic
mode (``deterministic=False``): the gradient of ``x`` is scattered from the destination
rows with ``tl.atomic_add`` into an fp32/fp64 buffer.

Per-edge inputs are read in the ORIGINAL edge order through ``graph.perm``.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .csr import CSRGraph

_REDUCE = {"sum": 0, "mean": 1, "max": 2}
BLOCK_E = 32


@triton.jit
def _segment_reduce_kernel(
    src_ptr, w_ptr, rowptr_ptr, col_ptr, eid_ptr, out_ptr, arg_ptr, F,
    GATHER: tl.constexpr, HAS_W: tl.constexpr, REDUCE: tl.constexpr,
    ACC: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,
):
    """out[i, f] = reduce over p in row i of w[eid[p]] * src[col[p] or eid[p], f]."""
    i = tl.program_id(0).to(tl.int64)
    offs_f = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)
    fmask = offs_f < F
    start = tl.load(rowptr_ptr + i)
    end = tl.load(rowptr_ptr + i + 1)
    acc = tl.zeros((BLOCK_F,), dtype=ACC)
    best = tl.full((BLOCK_F,), float("-inf"), dtype=ACC)
    arg = tl.full((BLOCK_F,), -1, dtype=tl.int64)
    for e0 in range(start, end, BLOCK_E):
        offs_e = e0 + tl.arange(0, BLOCK_E)
        emask = offs_e < end
        if HAS_W or not GATHER:
            eid = tl.load(eid_ptr + offs_e, mask=emask, other=0)
        if GATHER:
            srow = tl.load(col_ptr + offs_e, mask=emask, other=0)
        else:
            srow = eid
        m2 = emask[:, None] & fmask[None, :]
        v = tl.load(src_ptr + srow[:, None] * F + offs_f[None, :], mask=m2, other=0.0).to(ACC)
        if HAS_W:
            w = tl.load(w_ptr + eid, mask=emask, other=0.0).to(ACC)
            v = v * w[:, None]
        if REDUCE == 2:
            vm = tl.where(m2, v, float("-inf"))
            tmax, targ = tl.max(vm, axis=0, return_indices=True)
            take = (tmax > best) | (arg < 0)
            best = tl.where(take, tmax, best)
            arg = tl.where(take, e0 + targ.to(tl.int64), arg)
        else:
            acc += tl.sum(v, axis=0)
    if REDUCE == 2:
        acc = tl.where(arg >= 0, best, 0.0)
        tl.store(arg_ptr + i * F + offs_f, arg, mask=fmask)
    if REDUCE == 1:
        acc = acc / tl.maximum(end - start, 1).to(ACC)
    tl.store(out_ptr + i * F + offs_f, acc.to(out_ptr.dtype.element_ty), mask=fmask)


@triton.jit
def _max_grad_x_kernel(
    grad_ptr, w_ptr, arg_ptr, rowptr_t_ptr, col_t_ptr, perm_t_ptr, perm_ptr, dx_ptr, F,
    HAS_W: tl.constexpr, ACC: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,
):
    """dx[j, f] = sum over out-edges p = j -> i with arg[i, f] == p of w[p] * grad[i, f]."""
    j = tl.program_id(0).to(tl.int64)
    offs_f = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)
    fmask = offs_f < F
    start = tl.load(rowptr_t_ptr + j)
    end = tl.load(rowptr_t_ptr + j + 1)
    acc = tl.zeros((BLOCK_F,), dtype=ACC)
    for t0 in range(start, end, BLOCK_E):
        offs_t = t0 + tl.arange(0, BLOCK_E)
        tmask = offs_t < end
        dst = tl.load(col_t_ptr + offs_t, mask=tmask, other=0)
        p = tl.load(perm_t_ptr + offs_t, mask=tmask, other=-2)
        m2 = tmask[:, None] & fmask[None, :]
        am = tl.load(arg_ptr + dst[:, None] * F + offs_f[None, :], mask=m2, other=-3)
        hit = m2 & (am == p[:, None])
        g = tl.load(grad_ptr + dst[:, None] * F + offs_f[None, :], mask=hit, other=0.0).to(ACC)
        if HAS_W:
            eid = tl.load(perm_ptr + p, mask=tmask, other=0)
            w = tl.load(w_ptr + eid, mask=tmask, other=0.0).to(ACC)
            g = g * w[:, None]
        acc += tl.sum(g, axis=0)
    tl.store(dx_ptr + j * F + offs_f, acc.to(dx_ptr.dtype.element_ty), mask=fmask)


@triton.jit
def _edge_grad_kernel(
    grad_ptr, x_ptr, arg_ptr, rowptr_ptr, row_ptr, col_ptr, perm_ptr, out_ptr, E, F,
    WRITE_MSG: tl.constexpr, REDUCE: tl.constexpr, ACC: tl.constexpr,
    BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,
):
    """Write per-edge gradients; for CSR position p = j -> i, g = d out[i] / d message[p].

    WRITE_MSG: out[perm[p], :] = g (gradient of the messages, (E, F));
    else:      out[perm[p]] = sum_f g[f] * x[j, f] (gradient of the edge weight, (E,)).
    """
    offs_e = tl.program_id(0).to(tl.int64) * BLOCK_E + tl.arange(0, BLOCK_E)
    emask = offs_e < E
    i = tl.load(row_ptr + offs_e, mask=emask, other=0)
    eid = tl.load(perm_ptr + offs_e, mask=emask, other=0)
    if REDUCE == 1:
        deg = tl.load(rowptr_ptr + i + 1, mask=emask, other=1) - tl.load(
            rowptr_ptr + i, mask=emask, other=0
        )
        inv = 1.0 / tl.maximum(deg, 1).to(ACC)
    if not WRITE_MSG:
        j = tl.load(col_ptr + offs_e, mask=emask, other=0)
        dw = tl.zeros((BLOCK_E,), dtype=ACC)
    for f0 in range(0, F, BLOCK_F):
        offs_f = f0 + tl.arange(0, BLOCK_F)
        m2 = emask[:, None] & (offs_f < F)[None, :]
        g = tl.load(grad_ptr + i[:, None] * F + offs_f[None, :], mask=m2, other=0.0).to(ACC)
        if REDUCE == 1:
            g = g * inv[:, None]
        if REDUCE == 2:
            am = tl.load(arg_ptr + i[:, None] * F + offs_f[None, :], mask=m2, other=-1)
            g = tl.where(am == offs_e[:, None], g, 0.0)
        if WRITE_MSG:
            dst = out_ptr + eid[:, None] * F + offs_f[None, :]
            tl.store(dst, g.to(out_ptr.dtype.element_ty), mask=m2)
        else:
            xv = tl.load(x_ptr + j[:, None] * F + offs_f[None, :], mask=m2, other=0.0)
            dw += tl.sum(g * xv.to(ACC), axis=1)
    if not WRITE_MSG:
        tl.store(out_ptr + eid, dw.to(out_ptr.dtype.element_ty), mask=emask)


@triton.jit
def _atomic_grad_x_kernel(
    grad_ptr, w_ptr, arg_ptr, rowptr_ptr, col_ptr, perm_ptr, dx_ptr, F,
    HAS_W: tl.constexpr, REDUCE: tl.constexpr, ACC: tl.constexpr,
    BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,
):
    """Non-deterministic: dx[col[p], f] += w[p] * d out[i, f] / d message[p, f] by atomics."""
    i = tl.program_id(0).to(tl.int64)
    offs_f = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)
    fmask = offs_f < F
    start = tl.load(rowptr_ptr + i)
    end = tl.load(rowptr_ptr + i + 1)
    g = tl.load(grad_ptr + i * F + offs_f, mask=fmask, other=0.0).to(ACC)
    if REDUCE == 1:
        g = g / tl.maximum(end - start, 1).to(ACC)
    if REDUCE == 2:
        am = tl.load(arg_ptr + i * F + offs_f, mask=fmask, other=-1)
    for e0 in range(start, end, BLOCK_E):
        offs_e = e0 + tl.arange(0, BLOCK_E)
        emask = offs_e < end
        j = tl.load(col_ptr + offs_e, mask=emask, other=0)
        m2 = emask[:, None] & fmask[None, :]
        contrib = tl.zeros((BLOCK_E, BLOCK_F), dtype=ACC) + g[None, :]
        if HAS_W:
            eid = tl.load(perm_ptr + offs_e, mask=emask, other=0)
            w = tl.load(w_ptr + eid, mask=emask, other=0.0).to(ACC)
            contrib = contrib * w[:, None]
        if REDUCE == 2:
            m2 = m2 & (am[None, :] == offs_e[:, None])
        tl.atomic_add(dx_ptr + j[:, None] * F + offs_f[None, :], contrib, mask=m2)


def gather_forward(
    x: torch.Tensor, graph: CSRGraph, reduce: str, edge_weight: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Triton twin of :func:`surrogates.kernels.aggregate_torch.gather_forward`."""
    return _segment_reduce(x.contiguous(), graph, reduce, edge_weight, gather=True)


def messages_forward(
    messages: torch.Tensor, graph: CSRGraph, reduce: str
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Triton twin of :func:`surrogates.kernels.aggregate_torch.messages_forward`."""
    return _segment_reduce(messages.contiguous(), graph, reduce, None, gather=False)


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
    """Gradients for ``x`` (N, F) and ``edge_weight`` (E,); see module docstring."""
    n, f = x.shape
    dx = dw = None
    x = x.contiguous()
    w = edge_weight.contiguous() if edge_weight is not None else None
    if need_x and not deterministic:
        dx = _atomic_grad_x(grad, w, arg, graph, reduce, x)
    elif need_x and reduce == "max":
        dx = torch.empty_like(x)
        if n > 0 and f > 0:
            block_f = _block_f(f)
            _max_grad_x_kernel[(n, triton.cdiv(f, block_f))](
                grad, _or_dummy(w, x), arg, graph.rowptr_t, graph.col_t, graph.perm_t,
                graph.perm, dx, f, HAS_W=w is not None, ACC=_acc(x.dtype),
                BLOCK_E=BLOCK_E, BLOCK_F=block_f,
            )
    elif need_x:
        g = grad
        if reduce == "mean":
            g = grad / graph.in_degree.clamp(min=1).to(grad.dtype)[:, None]
        dx, _ = _segment_reduce(g.contiguous(), graph, "sum", w, gather=True, transposed=True)
    if need_w:
        dw = torch.empty(graph.num_edges, dtype=x.dtype, device=x.device)
        _edge_grad(grad, x, arg, graph, reduce, dw, write_msg=False)
    return dx, dw


def messages_backward(
    grad: torch.Tensor, arg: torch.Tensor | None, graph: CSRGraph, reduce: str
) -> torch.Tensor:
    """Gradient of the messages, (E, F) in the original edge order."""
    f = grad.shape[1]
    dmsg = grad.new_empty((graph.num_edges, f))
    _edge_grad(grad, grad, arg, graph, reduce, dmsg, write_msg=True)
    return dmsg


def _segment_reduce(
    src: torch.Tensor,
    graph: CSRGraph,
    reduce: str,
    edge_weight: torch.Tensor | None,
    gather: bool,
    transposed: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    n, f = graph.num_nodes, src.shape[1]
    out = src.new_empty((n, f))
    arg = torch.empty((n, f) if reduce == "max" else (1,), dtype=torch.int64, device=src.device)
    if transposed:
        rowptr, col, eid = graph.rowptr_t, graph.col_t, graph.perm[graph.perm_t]
    else:
        rowptr, col, eid = graph.rowptr, graph.col, graph.perm
    if n > 0 and f > 0:
        block_f = _block_f(f)
        _segment_reduce_kernel[(n, triton.cdiv(f, block_f))](
            src, _or_dummy(edge_weight, src), rowptr, col, eid, out, arg, f,
            GATHER=gather, HAS_W=edge_weight is not None, REDUCE=_REDUCE[reduce],
            ACC=_acc(src.dtype), BLOCK_E=BLOCK_E, BLOCK_F=block_f,
        )
    return out, (arg if reduce == "max" else None)


def _edge_grad(
    grad: torch.Tensor,
    x: torch.Tensor,
    arg: torch.Tensor | None,
    graph: CSRGraph,
    reduce: str,
    out: torch.Tensor,
    write_msg: bool,
) -> None:
    e, f = graph.num_edges, grad.shape[1]
    if e == 0:
        return
    if f == 0:
        out.zero_()
        return
    block_f = _block_f(f)
    _edge_grad_kernel[(triton.cdiv(e, BLOCK_E),)](
        grad, x, _or_dummy(arg, graph.rowptr), graph.rowptr, graph.row, graph.col,
        graph.perm, out, e, f, WRITE_MSG=write_msg, REDUCE=_REDUCE[reduce],
        ACC=_acc(grad.dtype), BLOCK_E=BLOCK_E, BLOCK_F=block_f,
    )


def _atomic_grad_x(
    grad: torch.Tensor,
    w: torch.Tensor | None,
    arg: torch.Tensor | None,
    graph: CSRGraph,
    reduce: str,
    x: torch.Tensor,
) -> torch.Tensor:
    n, f = x.shape
    buf_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    dx = torch.zeros((n, f), dtype=buf_dtype, device=x.device)
    if n > 0 and f > 0:
        block_f = _block_f(f)
        _atomic_grad_x_kernel[(n, triton.cdiv(f, block_f))](
            grad, _or_dummy(w, x), _or_dummy(arg, graph.rowptr), graph.rowptr, graph.col,
            graph.perm, dx, f, HAS_W=w is not None, REDUCE=_REDUCE[reduce],
            ACC=_acc(x.dtype), BLOCK_E=BLOCK_E, BLOCK_F=block_f,
        )
    return dx.to(x.dtype)


def _acc(dtype: torch.dtype) -> tl.dtype:
    """Accumulation dtype: fp64 for fp64 inputs, fp32 otherwise."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def _block_f(f: int) -> int:
    return min(64, triton.next_power_of_2(f))


def _or_dummy(t: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """Return ``t``, or ``like`` as a pointer argument for an input the kernel skips."""
    return t if t is not None else like
