"""The graph transformer for mesh-based simulation (Garnier et al. 2025).

Encode, process with sparse-attention blocks, decode:

- encoder: node MLP to width ``hidden``; G learned global tokens per mesh are appended;
- processor: ``layers`` pre-RMSNorm blocks (sparse attention + SwiGLU, residuals) on
  the attention graph of :mod:`~surrogates.transformer.structure`;
- positional encoding (``pos_encoding``): ``"bias"`` adds to every score a learned
  per-head, per-layer bias, an MLP of the edge features (relative position and edge
  type); ``"rope"`` rotates queries and keys by the node coordinates; ``"both"``;
  ``"none"``. Without ``"bias"`` the score bias depends on the edge type only (so
  tokens and hops stay distinguishable). The bias MLP runs once per forward for all
  layers: (E, L H) values, no per-layer (E, hidden) tensors;
- decoder: RMSNorm then a small MLP per node; a pooled head for output scalars.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..common.batching import GraphBatch
from ..common.layers import ScalarHead, mlp
from .layers import TransformerBlock, rotary_angles
from .structure import EDGE_TYPES

__all__ = ["GraphTransformerNetwork"]


class GraphTransformerNetwork(nn.Module):
    """Encode-process-decode transformer restricted to a sparse attention graph.

    Args:
        node_in (int): node input width F.
        dim (int): mesh dimension (2 or 3).
        out_fields (int): output width F_out.
        out_scalars (int): number of output scalars S (0: no scalar head).
        hidden (int): node width.
        layers (int): transformer blocks L.
        heads (int): attention heads H.
        tokens (int): global tokens G per mesh.
        pos_encoding (str): ``"bias"``, ``"rope"``, ``"both"`` or ``"none"``.
        rope_wavelengths (tuple of float): RoPE wavelength range in mesh edge lengths.
        length (float): mean mesh edge length in normalised coordinate units.
        mlp_ratio (float): SwiGLU gate width / hidden.
        bias_hidden (int): width of the edge-bias MLP.
        checkpointing (bool): activation checkpointing of each block.

    Shapes:
        - **input:** batch.x (N, F); batch.extras["attn_edges"] (2, E) / (E, F_e) and
          ["attn_graph"] over N + B G nodes (set by
          :func:`~surrogates.transformer.structure.add_global_tokens`)
        - **output:** fields (N, F_out), scalars (B, S) or None
    """

    def __init__(self, node_in: int, dim: int, out_fields: int, out_scalars: int = 0, *,
                 hidden: int = 128, layers: int = 4, heads: int = 4, tokens: int = 4,
                 pos_encoding: str = "bias", rope_wavelengths: tuple[float, float] = (4.0, 256.0),
                 length: float = 1.0, mlp_ratio: float = 2.0, bias_hidden: int = 32,
                 checkpointing: bool = False) -> None:
        super().__init__()
        self.dim, self.heads, self.n_layers, self.n_tokens = dim, heads, layers, tokens
        self.pos_encoding, self.rope_wavelengths, self.length = pos_encoding, rope_wavelengths, length
        self.checkpointing = checkpointing
        self.encoder = mlp(node_in, hidden, hidden, 1, activation=nn.SiLU)
        self.tokens = nn.Parameter(torch.randn(tokens, hidden) * 0.02) if tokens else None
        n_geo = dim + 1
        if pos_encoding in ("bias", "both"):
            self.edge_bias = mlp(n_geo + len(EDGE_TYPES), bias_hidden, layers * heads, 1, activation=nn.SiLU)
        else:
            self.edge_bias = nn.Linear(len(EDGE_TYPES), layers * heads)
        self.geometric_bias = pos_encoding in ("bias", "both")
        mlp_hidden = max(8, round(mlp_ratio * hidden / 8) * 8)
        self.blocks = nn.ModuleList(TransformerBlock(hidden, heads, mlp_hidden) for _ in range(layers))
        self.norm = nn.RMSNorm(hidden)
        self.decoder = mlp(hidden, hidden, out_fields, 1, activation=nn.SiLU)
        self.scalar_head = ScalarHead(hidden, out_scalars) if out_scalars > 0 else None

    def forward(self, batch: GraphBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predict normalised output fields per node and scalars per mesh."""
        n, b = batch.num_nodes, batch.num_graphs
        edges, graph = batch.extras["attn_edges"], batch.extras["attn_graph"]
        h = self.encoder(batch.x)
        if self.tokens is not None:
            h = torch.cat([h, self.tokens.to(h.dtype).repeat(b, 1)])
        attr = edges.edge_attr if self.geometric_bias else edges.edge_attr[:, self.dim + 1:]
        bias = self.edge_bias(attr).view(-1, self.n_layers, self.heads).permute(1, 0, 2).contiguous()
        angles = None
        if self.pos_encoding in ("rope", "both"):
            pos = torch.cat([batch.pos, batch.pos.new_zeros((h.shape[0] - n, self.dim))]) / self.length
            angles = rotary_angles(pos.float(), h.shape[1] // self.heads, self.rope_wavelengths)
        for layer, block in enumerate(self.blocks):
            if self.checkpointing and self.training and torch.is_grad_enabled():
                h = checkpoint(block, h, graph, bias[layer], angles, use_reentrant=False)
            else:
                h = block(h, graph, bias[layer], angles)
        h = self.norm(h[:n])
        scalars = None if self.scalar_head is None else self.scalar_head(h, batch.batch, b)
        return self.decoder(h), scalars
