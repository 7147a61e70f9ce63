"""MeshGraphNet (Pfaff et al., ICLR 2021): encode, process by message passing, decode.

Each processor block updates every edge from its two end nodes, then every node from
the sum of its incoming edges, with residual connections::

    e_ij' = e_ij + MLP_e([e_ij, h_i, h_j])
    h_i'  = h_i  + MLP_n([h_i, sum_j e_ij'])

The MLPs have two hidden layers of ``hidden`` units (ReLU) and a LayerNorm on their
output, as in the paper. The first layer of ``MLP_e`` on the concatenation is
computed as ``W_e e_ij + (W_i h)_i + (W_j h)_j``: the node projections are done once per
node and gathered, which is the same function with E x H instead of E x 3H x H
multiply-adds for the node parts. The reduction over incoming edges is
:func:`surrogates.kernels.aggregate_messages` (deterministic, Triton on CUDA).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..common.batching import GraphBatch
from ..common.layers import ScalarHead, mlp
from ..kernels import CSRGraph, aggregate_messages

__all__ = ["GraphNetBlock", "MeshGraphNetwork"]


class GraphNetBlock(nn.Module):
    """One message-passing step on edge and node latents.

    Args:
        hidden (int): latent width H of nodes and edges.
        mlp_layers (int): hidden layers of each MLP (default 2).
        aggregation (str): ``"sum"`` (paper), ``"mean"`` or ``"max"``.
        layer_norm (bool): LayerNorm at the end of each MLP.
        residual (bool): add the MLP outputs to the latents.

    Shapes:
        - **input:** h (N, H), e (E, H), edge_index (2, E), graph with N nodes, E edges
        - **output:** h (N, H), e (E, H)
    """

    def __init__(self, hidden: int, mlp_layers: int = 2, aggregation: str = "sum",
                 layer_norm: bool = True, residual: bool = True) -> None:
        super().__init__()
        self.aggregation, self.residual = aggregation, residual
        self.edge_in = nn.Linear(hidden, hidden)               # W_e e_ij + b
        self.node_in = nn.Linear(hidden, 2 * hidden, bias=False)  # [W_i h | W_j h]
        rest: list[nn.Module] = [nn.ReLU()]
        for _ in range(mlp_layers - 1):
            rest += [nn.Linear(hidden, hidden), nn.ReLU()]
        rest.append(nn.Linear(hidden, hidden))
        if layer_norm:
            rest.append(nn.LayerNorm(hidden))
        self.edge_rest = nn.Sequential(*rest)
        self.node_mlp = mlp(2 * hidden, hidden, hidden, mlp_layers, layer_norm=layer_norm)

    def forward(self, h: torch.Tensor, e: torch.Tensor, edge_index: torch.Tensor,
                graph: CSRGraph) -> tuple[torch.Tensor, torch.Tensor]:
        """Update edges from their end nodes, then nodes from their summed incoming edges."""
        src, dst = edge_index
        hi, hj = self.node_in(h).chunk(2, dim=1)
        de = self.edge_rest(self.edge_in(e) + hi[dst] + hj[src])
        e_new = e + de if self.residual else de
        agg = aggregate_messages(e_new, graph, self.aggregation)
        dh = self.node_mlp(torch.cat([h, agg], dim=1))
        return (h + dh if self.residual else dh), e_new


class MeshGraphNetwork(nn.Module):
    """Encode-process-decode graph network on the ``"mesh"`` edges of a batch.

    Args:
        node_in (int): node input width F.
        edge_in (int): edge input width F_e.
        out_fields (int): output width F_out (fields or increments, normalised).
        out_scalars (int): number of output scalars S (0: no scalar head).
        hidden (int): latent width (paper: 128).
        layers (int): message-passing steps (paper: 15).
        mlp_layers (int): hidden layers per MLP (paper: 2).
        aggregation (str): ``"sum"`` (paper), ``"mean"`` or ``"max"``.
        layer_norm (bool): LayerNorm after every MLP except the decoder.
        residual (bool): residual latent updates.
        checkpointing (bool): recompute each block in backward (activation checkpointing).

    Shapes:
        - **input:** batch.x (N, F), batch.edges["mesh"]: (2, E) and (E, F_e)
        - **output:** fields (N, F_out), scalars (B, S) or None
    """

    def __init__(self, node_in: int, edge_in: int, out_fields: int, out_scalars: int = 0, *,
                 hidden: int = 128, layers: int = 15, mlp_layers: int = 2, aggregation: str = "sum",
                 layer_norm: bool = True, residual: bool = True, checkpointing: bool = False) -> None:
        super().__init__()
        self.checkpointing = checkpointing
        self.node_encoder = mlp(node_in, hidden, hidden, mlp_layers, layer_norm=layer_norm)
        self.edge_encoder = mlp(edge_in, hidden, hidden, mlp_layers, layer_norm=layer_norm)
        self.blocks = nn.ModuleList(GraphNetBlock(hidden, mlp_layers, aggregation, layer_norm, residual)
                                    for _ in range(layers))
        self.decoder = mlp(hidden, hidden, out_fields, mlp_layers)
        self.scalar_head = ScalarHead(hidden, out_scalars) if out_scalars > 0 else None

    def forward(self, batch: GraphBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predict normalised output fields per node and scalars per mesh."""
        mesh = batch.edges["mesh"]
        graph = batch.graph("mesh")
        h = self.node_encoder(batch.x)
        e = self.edge_encoder(mesh.edge_attr)
        for block in self.blocks:
            if self.checkpointing and self.training and torch.is_grad_enabled():
                h, e = checkpoint(block, h, e, mesh.edge_index, graph, use_reentrant=False)
            else:
                h, e = block(h, e, mesh.edge_index, graph)
        scalars = None if self.scalar_head is None else self.scalar_head(h, batch.batch, batch.num_graphs)
        return self.decoder(h), scalars
