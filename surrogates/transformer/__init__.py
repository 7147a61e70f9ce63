"""Graph transformer for mesh-based simulation (Garnier et al. 2025)."""
from .model import GraphTransformer, GraphTransformerConfig
from .network import GraphTransformerNetwork

__all__ = ["GraphTransformer", "GraphTransformerConfig", "GraphTransformerNetwork"]
