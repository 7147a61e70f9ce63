"""Small network pieces shared by the neural families."""
from __future__ import annotations

import itertools

import torch
from torch import nn

from .batching import pool_max, pool_mean

__all__ = ["ScalarHead", "mlp"]


def mlp(in_dim: int, hidden: int, out_dim: int, hidden_layers: int = 2, *,
        layer_norm: bool = False, activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Build an MLP: hidden layers, a linear output, optionally a LayerNorm (MeshGraphNet's).

    ``hidden_layers`` hidden layers of width ``hidden`` with ``activation``.

    Shapes:
        - **input:** (*, in_dim)
        - **output:** (*, out_dim)
    """
    dims = [in_dim] + [hidden] * hidden_layers
    mods: list[nn.Module] = []
    for a, b in itertools.pairwise(dims):
        mods += [nn.Linear(a, b), activation()]
    mods.append(nn.Linear(dims[-1], out_dim))
    if layer_norm:
        mods.append(nn.LayerNorm(out_dim))
    return nn.Sequential(*mods)


class ScalarHead(nn.Module):
    """Pooled readout of per-mesh scalars: [mean, max] of node latents -> MLP.

    Args:
        hidden (int): node latent width.
        out_dim (int): number of scalars S.

    Shapes:
        - **input:** h (N, hidden), batch (N,) mesh index, num_graphs B
        - **output:** (B, S)
    """

    def __init__(self, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.mlp = mlp(2 * hidden, hidden, out_dim, 1, activation=nn.SiLU)

    def forward(self, h: torch.Tensor, batch: torch.Tensor, num_graphs: int) -> torch.Tensor:
        """Pool each mesh's node latents and map them to its scalars."""
        pooled = torch.cat([pool_mean(h, batch, num_graphs), pool_max(h, batch, num_graphs)], dim=1)
        return self.mlp(pooled)
