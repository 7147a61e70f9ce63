"""propagate: a layer's message hook reduced by the kernels, vs PyG MessagePassing."""
from __future__ import annotations

import pytest
import torch

from surrogates.kernels import CSRGraph, aggregate, propagate


def test_message_hook_matches_pyg_message_passing(ref):
    from torch_geometric.nn import MessagePassing

    class EdgeConv(MessagePassing):
        def __init__(self) -> None:
            super().__init__(aggr="max")

        def forward(self, x, edge_index, edge_attr):
            return self.propagate(edge_index, x=x, edge_attr=edge_attr)

        def message(self, x_i, x_j, edge_attr):
            return (x_j - x_i) * edge_attr

    gen = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 20, (2, 90), generator=gen)
    x = torch.randn(22, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    attr = torch.randn(90, 3, generator=gen, dtype=torch.float64)
    g = CSRGraph.from_edge_index(edge_index, num_nodes=22)
    out = propagate(x, g, lambda x_i, x_j, a: (x_j - x_i) * a, "max", edge_attr=attr)
    expected = EdgeConv()(x, edge_index, attr)
    torch.testing.assert_close(out, expected)
    go = torch.randn(22, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        torch.autograd.grad(out, x, go)[0], torch.autograd.grad(expected, x, go)[0]
    )


def test_without_message_is_the_fused_aggregate(four_node_graph):
    _, g = four_node_graph
    x, w = torch.randn(5, 4), torch.rand(6)
    assert torch.equal(propagate(x, g, reduce="mean", edge_weight=w), aggregate(x, g, "mean", w))


def test_misplaced_arguments_are_rejected(four_node_graph):
    _, g = four_node_graph
    x = torch.randn(5, 4)
    with pytest.raises(ValueError, match="edge_attr is only used by a message function"):
        propagate(x, g, edge_attr=torch.randn(6, 2))
    with pytest.raises(ValueError, match="edge_weight is only used without a message"):
        propagate(x, g, lambda x_i, x_j, a: x_j, edge_weight=torch.rand(6))
