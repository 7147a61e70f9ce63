"""Graph batching: several meshes as one block-diagonal graph, and per-graph pooling.

A batch of B meshes is one graph of ``N = sum N_b`` nodes whose edge sets are the
meshes' edge sets with node ids offset by ``ptr[b]``: no edge crosses two meshes, so
message passing and attention on the batch equal B separate runs (tested). Each edge
set (``"mesh"``, and whatever a family adds, e.g. the transformer's ``"attention"``
edges) gets its :class:`~surrogates.kernels.CSRGraph`, built once per batch.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch

from ..kernels import CSRGraph

__all__ = ["EdgeSet", "GraphBatch", "GraphItem", "collate", "pool_max", "pool_mean"]


@dataclass(frozen=True, eq=False)
class EdgeSet:
    """Directed edges ``j -> i`` with features.

    Attributes
    ----------
    edge_index : torch.Tensor
        (2, E) int64; row 0 the source ``j``, row 1 the destination ``i``.
    edge_attr : torch.Tensor
        (E, F_e) float edge features.
    """

    edge_index: torch.Tensor
    edge_attr: torch.Tensor

    def to(self, device: torch.device | str) -> EdgeSet:
        """The same edges on ``device``."""
        return EdgeSet(self.edge_index.to(device), self.edge_attr.to(device))


@dataclass(frozen=True, eq=False)
class GraphItem:
    """One mesh ready for a network.

    Attributes
    ----------
    x : torch.Tensor
        (N, F) node input features (packed, normalised).
    pos : torch.Tensor
        (N, dim) normalised node coordinates.
    edges : dict of str to EdgeSet
        Named edge sets over the N nodes; ``"mesh"`` always present.
    """

    x: torch.Tensor
    pos: torch.Tensor
    edges: dict[str, EdgeSet]

    @property
    def num_nodes(self) -> int:
        """Number of nodes N."""
        return int(self.x.shape[0])


@dataclass(eq=False)
class GraphBatch:
    """B meshes as one block-diagonal graph.

    Attributes
    ----------
    x : torch.Tensor
        (N, F) node features of all meshes, mesh after mesh.
    pos : torch.Tensor
        (N, dim) normalised coordinates.
    edges : dict of str to EdgeSet
        Each edge set of the items, node ids offset per mesh.
    graphs : dict of str to CSRGraph
        Cache of the CSR adjacencies built by :meth:`graph`.
    batch : torch.Tensor
        (N,) int64 mesh index of each node.
    ptr : torch.Tensor
        (B + 1,) int64; mesh ``b`` owns nodes ``ptr[b]:ptr[b + 1]``.
    extras : dict
        Family-specific structure added by a network's ``prepare`` (e.g. token graphs).
    """

    x: torch.Tensor
    pos: torch.Tensor
    edges: dict[str, EdgeSet]
    graphs: dict[str, CSRGraph]
    batch: torch.Tensor
    ptr: torch.Tensor
    extras: dict = field(default_factory=dict)

    def graph(self, name: str) -> CSRGraph:
        """The CSR adjacency (over the N nodes) of edge set ``name``, built once."""
        if name not in self.graphs:
            self.graphs[name] = CSRGraph.from_edge_index(self.edges[name].edge_index,
                                                         num_nodes=self.num_nodes)
        return self.graphs[name]

    @property
    def num_graphs(self) -> int:
        """Number of meshes B."""
        return int(self.ptr.shape[0]) - 1

    @property
    def num_nodes(self) -> int:
        """Number of nodes N over all meshes."""
        return int(self.x.shape[0])

    def with_x(self, x: torch.Tensor) -> GraphBatch:
        """The same graphs with other node features (N, F')."""
        return replace(self, x=x)

    def to(self, device: torch.device | str) -> GraphBatch:
        """The batch on ``device`` (a no-op when already there)."""
        device = torch.device(device)
        if self.x.device == device:
            return self
        return GraphBatch(
            self.x.to(device), self.pos.to(device),
            {k: e.to(device) for k, e in self.edges.items()},
            {k: g.to(device) for k, g in self.graphs.items()},
            self.batch.to(device), self.ptr.to(device),
            {k: (v.to(device) if hasattr(v, "to") else v) for k, v in self.extras.items()},
        )


def collate(items: Sequence[GraphItem]) -> GraphBatch:
    """Join meshes into one block-diagonal graph.

    Parameters
    ----------
    items : sequence of GraphItem
        B >= 1 meshes with the same feature widths and edge-set names.

    Returns
    -------
    GraphBatch
        Its CSR graphs are built on first use (:meth:`GraphBatch.graph`).

    Shapes:
        - **input:** item b: x (N_b, F), pos (N_b, dim), edges[k] (2, E_b^k)
        - **output:** x (sum N_b, F), edges[k] (2, sum E_b^k), batch (sum N_b,), ptr (B + 1,)
    """
    if not items:
        raise ValueError("cannot collate an empty list of graphs")
    names = list(items[0].edges)
    sizes = torch.tensor([it.num_nodes for it in items], dtype=torch.int64)
    ptr = torch.zeros(len(items) + 1, dtype=torch.int64)
    torch.cumsum(sizes, 0, out=ptr[1:])
    edges = {}
    for name in names:
        idx = [it.edges[name].edge_index + ptr[b] for b, it in enumerate(items)]
        attr = [it.edges[name].edge_attr for it in items]
        edges[name] = EdgeSet(torch.cat(idx, 1), torch.cat(attr, 0))
    batch = torch.repeat_interleave(torch.arange(len(items)), sizes)
    return GraphBatch(torch.cat([it.x for it in items]), torch.cat([it.pos for it in items]),
                      edges, {}, batch, ptr)


def pool_mean(h: torch.Tensor, batch: torch.Tensor, num_graphs: int) -> torch.Tensor:
    """Mean of node features per mesh: (N, F) -> (B, F)."""
    out = h.new_zeros((num_graphs, h.shape[1])).index_add_(0, batch, h)
    count = torch.bincount(batch, minlength=num_graphs).clamp(min=1).to(h.dtype)
    return out / count[:, None]


def pool_max(h: torch.Tensor, batch: torch.Tensor, num_graphs: int) -> torch.Tensor:
    """Max of node features per mesh: (N, F) -> (B, F) (0 for an empty mesh)."""
    out = h.new_full((num_graphs, h.shape[1]), float("-inf"))
    out = out.scatter_reduce(0, batch[:, None].expand_as(h), h, "amax", include_self=True)
    return torch.where(torch.isfinite(out), out, torch.zeros_like(out))
