"""The MeshGraphNet surrogate: :class:`MeshGraphNet` (family ``"meshgraphnet"``).

Examples
--------
>>> import surrogates
>>> model = surrogates.create("meshgraphnet", epochs=100, ensemble=5)   # doctest: +SKIP
>>> model.fit(train, workdir="runs/mgn/work")                            # doctest: +SKIP
>>> pred = model.predict(mesh, {"P": 180.0, "sigma_y": 300.0})           # doctest: +SKIP
>>> pred.fields["von_mises"], pred.std["von_mises"]                      # doctest: +SKIP
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..common.config import NeuralConfig
from ..common.encoding import Encoder
from ..common.surrogate import NeuralSurrogate
from .network import MeshGraphNetwork

__all__ = ["MeshGraphNet", "MeshGraphNetConfig"]


class MeshGraphNetConfig(NeuralConfig):
    """MeshGraphNet options (training options: :class:`~surrogates.common.NeuralConfig`).

    Attributes
    ----------
    hidden : latent width (paper: 128).
    layers : message-passing steps (paper: 15).
    mlp_layers : hidden layers of every MLP (paper: 2).
    aggregation : reduction of incoming edge latents (paper: ``"sum"``).
    layer_norm : LayerNorm at the end of each MLP (paper: yes).
    residual : residual node and edge updates (paper: yes).
    """

    hidden: int = Field(128, ge=1)
    layers: int = Field(15, ge=1)
    mlp_layers: int = Field(2, ge=1)
    aggregation: Literal["sum", "mean", "max"] = "sum"
    layer_norm: bool = True
    residual: bool = True


class MeshGraphNet(NeuralSurrogate):
    """MeshGraphNet (Pfaff et al. 2021) as a surrogate.

    Steady fields or autoregressive rollouts, with an optional deep ensemble for
    uncertainty.
    """

    family = "meshgraphnet"
    config_class = MeshGraphNetConfig
    config: MeshGraphNetConfig

    def build_network(self, encoder: Encoder) -> MeshGraphNetwork:
        """The network for the encoder's widths and this config."""
        c = self.config
        return MeshGraphNetwork(
            encoder.input_layout.width, encoder.dim + 1, encoder.output_layout.width,
            len(encoder.scalar_names), hidden=c.hidden, layers=c.layers, mlp_layers=c.mlp_layers,
            aggregation=c.aggregation, layer_norm=c.layer_norm, residual=c.residual,
            checkpointing=c.activation_checkpointing)
