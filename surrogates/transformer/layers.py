"""Blocks of the graph transformer: sparse multi-head attention, SwiGLU, rotary encoding.

A block is pre-norm (Garnier et al. 2025; graph-physics)::

    h = h + W_o SparseAttention(RMSNorm(h))
    h = h + SwiGLU(RMSNorm(h))

The attention runs only on the edges of the attention graph, through the fused kernel
:func:`surrogates.kernels.graph_attention` (scores per edge, per-row softmax and the
weighted sum in one pass, FlashAttention-style backward; Triton on CUDA).
"""
from __future__ import annotations

import math
from contextlib import nullcontext

import torch
from torch import nn
from torch.nn import functional as F

from ..kernels import CSRGraph, graph_attention

__all__ = ["SparseAttention", "SwiGLU", "TransformerBlock", "apply_rotary", "rotary_angles"]


class SwiGLU(nn.Module):
    """Gated MLP ``W_2 (silu(W_1 x) * W_3 x)`` (Shazeer 2020).

    Args:
        dim (int): input and output width.
        hidden (int): gate width.

    Shapes:
        - **input:** (*, dim)
        - **output:** (*, dim)
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w13 = nn.Linear(dim, 2 * hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the gated MLP."""
        a, b = self.w13(x).chunk(2, dim=-1)
        return self.w2(F.silu(a) * b)


def rotary_angles(pos: torch.Tensor, head_dim: int, wavelengths: tuple[float, float]) -> torch.Tensor:
    """Rotation angles of rotary encoding on coordinates (RoPE extended to dim axes).

    The ``head_dim / 2`` rotation planes are shared among the axes: axis ``a`` gets
    ``n = head_dim // (2 dim)`` planes with angular frequencies ``2 pi / lambda_k``,
    wavelengths ``lambda_k`` geometric between ``wavelengths``; leftover planes do not
    rotate. Then ``q_i . k_j`` after rotation depends on positions only through
    ``x_i - x_j``: a translation-invariant relative encoding.

    Args:
        pos (torch.Tensor): positions in the units of ``wavelengths``.
        head_dim (int): width d of one head (even).
        wavelengths (tuple of float): shortest and longest wavelength.

    Shapes:
        - **input:** pos (N, dim)
        - **output:** (N, head_dim // 2)
    """
    n_nodes, dim = pos.shape
    n = head_dim // (2 * dim)
    lo, hi = wavelengths
    if n == 0:
        return pos.new_zeros((n_nodes, head_dim // 2))
    lam = lo * (hi / lo) ** (torch.arange(n, dtype=pos.dtype, device=pos.device) / max(n - 1, 1))
    ang = (pos[:, :, None] * (2 * math.pi / lam)).reshape(n_nodes, dim * n)
    pad = head_dim // 2 - dim * n
    return F.pad(ang, (0, pad)) if pad else ang


def apply_rotary(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate pairs ``(x[..., k], x[..., k + d/2])`` of every head by ``angles[:, k]``.

    Shapes:
        - **input:** x (N, H, d), angles (N, d // 2) (keep them float32 or wider: large
          angles lose their meaning in half precision; cos/sin are cast to x's dtype)
        - **output:** (N, H, d)
    """
    half = x.shape[-1] // 2
    angles = angles.float() if angles.dtype in (torch.float16, torch.bfloat16) else angles
    cos, sin = angles.cos()[:, None, :].to(x.dtype), angles.sin()[:, None, :].to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:2 * half]
    out = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return torch.cat([out, x[..., 2 * half:]], dim=-1) if x.shape[-1] % 2 else out


class SparseAttention(nn.Module):
    """Multi-head softmax attention over the incoming edges of each node.

    Args:
        dim (int): node width.
        heads (int): number of heads H (``dim`` divisible by H).

    Shapes:
        - **input:** h (N, dim), graph over N nodes with E edges, bias (E, H) or None,
          angles (N, d // 2) or None
        - **output:** (N, dim)
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(self, h: torch.Tensor, graph: CSRGraph, bias: torch.Tensor | None = None,
                angles: torch.Tensor | None = None) -> torch.Tensor:
        """Attend over each node's incoming edges with the fused sparse kernel."""
        n, dim = h.shape
        q, k, v = self.qkv(h).view(n, 3, self.heads, dim // self.heads).unbind(1)
        if angles is not None:
            q, k = apply_rotary(q, angles), apply_rotary(k, angles)
        if h.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16):
            # CPU autocast (amp=True): torch's sparse CSR products have no bf16 kernel, so the
            # attention itself runs in float32; the projections around it stay in bf16.
            q, k, v = q.float(), k.float(), v.float()
        if bias is not None:
            bias = bias.to(q.dtype)
        with torch.autocast(h.device.type, enabled=False) if h.device.type == "cpu" else nullcontext():
            o = graph_attention(q.contiguous(), k.contiguous(), v.contiguous(), graph, bias)
        return self.out(o.reshape(n, dim))


class TransformerBlock(nn.Module):
    """Pre-RMSNorm block: sparse attention then SwiGLU, each with a residual.

    Args:
        dim (int): node width.
        heads (int): attention heads.
        mlp_hidden (int): SwiGLU gate width.

    Shapes:
        - **input:** h (N, dim) (+ graph, bias (E, H), angles as in :class:`SparseAttention`)
        - **output:** (N, dim)
    """

    def __init__(self, dim: int, heads: int, mlp_hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.RMSNorm(dim)
        self.attn = SparseAttention(dim, heads)
        self.norm2 = nn.RMSNorm(dim)
        self.mlp = SwiGLU(dim, mlp_hidden)

    def forward(self, h: torch.Tensor, graph: CSRGraph, bias: torch.Tensor | None = None,
                angles: torch.Tensor | None = None) -> torch.Tensor:
        """Pre-norm attention, then pre-norm SwiGLU, each added to ``h``."""
        h = h + self.attn(self.norm1(h), graph, bias, angles)
        return h + self.mlp(self.norm2(h))
