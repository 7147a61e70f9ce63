"""The graph-transformer surrogate: :class:`GraphTransformer` (family ``"graph-transformer"``).

Examples
--------
>>> import surrogates
>>> model = surrogates.create("graph-transformer", khop=2, tokens=4)     # doctest: +SKIP
>>> model.fit(train, workdir="runs/gt/work")                              # doctest: +SKIP
>>> pred = model.predict(mesh, {"P": 180.0, "sigma_y": 300.0})            # doctest: +SKIP
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..common.batching import EdgeSet, GraphBatch
from ..common.config import NeuralConfig
from ..common.encoding import Encoder, MeshTensors
from ..common.surrogate import NeuralSurrogate
from .network import GraphTransformerNetwork
from .structure import add_global_tokens, attention_edges

__all__ = ["GraphTransformer", "GraphTransformerConfig"]


class GraphTransformerConfig(NeuralConfig):
    """Graph-transformer options (training options: :class:`~surrogates.common.NeuralConfig`).

    Attributes
    ----------
    hidden : node width (divisible by ``heads``).
    layers : transformer blocks.
    heads : attention heads.
    mlp_ratio : SwiGLU gate width / hidden.
    khop : attention reaches nodes up to this graph distance (1: mesh neighbours only).
    window : sliding-window half width along the Morton curve (0: no windows).
    dilations : curve distances between window members (one window per dilation).
    tokens : global attention tokens per mesh (0: none).
    pos_encoding : ``"bias"`` (relative-position edge bias), ``"rope"`` (rotary on
        coordinates), ``"both"`` or ``"none"``; see ``benchmarks/bench_models.py``.
    rope_wavelengths : RoPE wavelength range, in mean mesh edge lengths.
    bias_hidden : width of the edge-bias MLP.
    """

    hidden: int = Field(128, ge=1)
    layers: int = Field(4, ge=1)
    heads: int = Field(4, ge=1)
    mlp_ratio: float = Field(2.0, gt=0)
    khop: int = Field(2, ge=1)
    window: int = Field(2, ge=0)
    dilations: list[int] = Field(default_factory=lambda: [4, 32])
    tokens: int = Field(4, ge=0)
    pos_encoding: Literal["bias", "rope", "both", "none"] = "bias"
    rope_wavelengths: tuple[float, float] = (4.0, 256.0)
    bias_hidden: int = Field(32, ge=1)

    @model_validator(mode="after")
    def _heads_divide(self) -> GraphTransformerConfig:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if any(d < 1 for d in self.dilations):
            raise ValueError(f"dilations must be >= 1; got {self.dilations}")
        return self


class GraphTransformer(NeuralSurrogate):
    """Graph transformer (Garnier et al. 2025) as a surrogate.

    Sparse attention on the mesh, K-hop and dilated-window edges and global tokens;
    steady fields or autoregressive rollouts, with an optional deep ensemble for
    uncertainty.
    """

    family = "graph-transformer"
    config_class = GraphTransformerConfig
    config: GraphTransformerConfig

    def build_network(self, encoder: Encoder) -> GraphTransformerNetwork:
        """The network for the encoder's widths and this config."""
        c = self.config
        return GraphTransformerNetwork(
            encoder.input_layout.width, encoder.dim, encoder.output_layout.width,
            len(encoder.scalar_names), hidden=c.hidden, layers=c.layers, heads=c.heads,
            tokens=c.tokens, pos_encoding=c.pos_encoding, rope_wavelengths=c.rope_wavelengths,
            length=encoder.edge_length, mlp_ratio=c.mlp_ratio, bias_hidden=c.bias_hidden,
            checkpointing=c.activation_checkpointing)

    def extra_edges(self, mesh: MeshTensors) -> dict[str, EdgeSet]:
        """The per-mesh attention edges (self, mesh, K-hop, windows)."""
        assert self.encoder is not None
        c = self.config
        return {"attention": attention_edges(mesh.pos, mesh.edge_index, khop=c.khop, window=c.window,
                                             dilations=c.dilations, length=self.encoder.edge_length)}

    def prepare_batch(self, batch: GraphBatch) -> GraphBatch:
        """Add the global tokens' edges and build the batch's attention graph."""
        return add_global_tokens(batch, self.config.tokens)
