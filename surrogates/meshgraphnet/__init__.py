"""MeshGraphNet (Pfaff et al. 2021): the message-passing baseline of the graph transformer."""
from .model import MeshGraphNet, MeshGraphNetConfig
from .network import GraphNetBlock, MeshGraphNetwork

__all__ = ["GraphNetBlock", "MeshGraphNet", "MeshGraphNetConfig", "MeshGraphNetwork"]
