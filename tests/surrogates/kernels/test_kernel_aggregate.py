"""aggregate / aggregate_messages on the torch backend against PyG gather-scatter."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogates.kernels import CSRGraph, GraphError, aggregate, aggregate_messages, aggregate_torch

REDUCES = ("sum", "mean", "max")


def test_hand_values_on_four_node_graph(four_node_graph):
    _, g = four_node_graph
    f64 = torch.float64
    x = torch.tensor([[1.0, -1.0], [2.0, 5.0], [4.0, 0.0], [8.0, 3.0], [16.0, 7.0]], dtype=f64)
    # edges 0->1, 0->2, 0->3, 1->0, 2->0, 3->0
    w = torch.tensor([1.0, 2.0, 3.0, 0.5, 0.25, 2.0], dtype=f64)
    # node 0 <- 1, 2, 3; nodes 1, 2, 3 <- 0; node 4 isolated
    assert aggregate(x, g, "sum").tolist() == [[14.0, 8.0], [1, -1], [1, -1], [1, -1], [0, 0]]
    assert aggregate(x, g, "mean")[0].tolist() == [14 / 3, 8 / 3]
    assert aggregate(x, g, "max").tolist() == [[8.0, 5.0], [1, -1], [1, -1], [1, -1], [0, 0]]
    # weighted: node 0 gets 0.5 x1 + 0.25 x2 + 2 x3; node 3 gets 3 x0
    out = aggregate(x, g, "sum", edge_weight=w)
    assert out.tolist() == [[18.0, 8.5], [1, -1], [2, -2], [3, -3], [0, 0]]
    assert aggregate(x, g, "max", edge_weight=w)[0].tolist() == [16.0, 6.0]


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("weighted", [False, True])
@settings(max_examples=10, deadline=None)
@given(data=st.data(), f=st.integers(1, 5))
def test_gather_matches_pyg_scatter(data, ref, reduce, weighted, f):
    edge_index, n = data.draw(ref.graphs())
    g = CSRGraph.from_edge_index(edge_index, num_nodes=n)
    x = ref.randn(0, n, f).requires_grad_()
    w = ref.randn(1, edge_index.shape[1]).requires_grad_() if weighted else None
    inputs = (x, w) if weighted else (x,)
    out = aggregate(x, g, reduce, edge_weight=w, backend="torch")
    expected = ref.aggregate(x, edge_index, reduce, edge_weight=w)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    go = ref.randn(2, n, f)
    grads = torch.autograd.grad(out, inputs, go, allow_unused=True)
    expected_grads = torch.autograd.grad(expected, inputs, go, allow_unused=True)
    for got, want in zip(grads, expected_grads):
        want = torch.zeros_like(got) if want is None else want
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduce", REDUCES)
@settings(max_examples=10, deadline=None)
@given(data=st.data(), f=st.integers(1, 5))
def test_messages_match_pyg_scatter(data, ref, reduce, f):
    edge_index, n = data.draw(ref.graphs())
    g = CSRGraph.from_edge_index(edge_index, num_nodes=n)
    m = ref.randn(3, edge_index.shape[1], f).requires_grad_()
    out = aggregate_messages(m, g, reduce, backend="torch")
    expected = ref.aggregate_messages(m, edge_index, reduce, n)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    go = ref.randn(4, n, f)
    (got,) = torch.autograd.grad(out, m, go)
    want = torch.autograd.grad(expected, m, go, allow_unused=True)[0]
    torch.testing.assert_close(got, torch.zeros_like(m) if want is None else want)


@pytest.mark.parametrize("reduce", REDUCES)
def test_gradcheck(four_node_graph, reduce, ref):
    _, g = four_node_graph
    x = ref.randn(5, 5, 3).requires_grad_()
    w = ref.randn(6, 6).requires_grad_()
    m = ref.randn(7, 6, 3).requires_grad_()
    def agg(x, w=None):
        return aggregate(x, g, reduce, w, backend="torch")

    assert torch.autograd.gradcheck(agg, (x, w))
    assert torch.autograd.gradcheck(agg, (x,))
    assert torch.autograd.gradcheck(
        lambda m: aggregate_messages(m, g, reduce, backend="torch"), (m,)
    )


@pytest.mark.parametrize("reduce", REDUCES)
def test_zero_in_degree_gives_zero_and_no_gradient(reduce):
    # node 2 has no incoming edge, node 3 is isolated
    g = CSRGraph.from_edge_index(torch.tensor([[2, 2, 0], [0, 1, 1]]), num_nodes=4)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    out = aggregate(x, g, reduce)
    assert torch.all(out[2:] == 0)
    out[2:].sum().backward()
    assert torch.all(x.grad == 0)


@pytest.mark.parametrize("reduce", REDUCES)
def test_row_blocks_give_the_same_result(monkeypatch, reduce, ref):
    """Force many small blocks (rows split across the chunk loop) and compare."""
    torch.manual_seed(0)
    edge_index = torch.randint(0, 30, (2, 200))
    g = CSRGraph.from_edge_index(edge_index, num_nodes=32)
    x, w, m = ref.randn(0, 32, 4), ref.randn(1, 200), ref.randn(2, 200, 4)
    full = (aggregate(x, g, reduce, w), aggregate_messages(m, g, reduce))
    monkeypatch.setattr(aggregate_torch, "CHUNK_EDGES", 5)
    small = (aggregate(x, g, reduce, w), aggregate_messages(m, g, reduce))
    for a, b in zip(full, small):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("reduce", REDUCES)
def test_deterministic_bitwise(reduce):
    gen = torch.Generator().manual_seed(3)
    edge_index = torch.randint(0, 500, (2, 5000), generator=gen)
    g = CSRGraph.from_edge_index(edge_index, num_nodes=500)
    x = torch.randn(500, 16, generator=gen, requires_grad=True)
    w = torch.rand(5000, generator=gen, requires_grad=True)
    runs = []
    for _ in range(2):
        out = aggregate(x, g, reduce, w)
        runs.append((out, *torch.autograd.grad(out.square().sum(), (x, w))))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_float32_and_bfloat16(four_node_graph, ref):
    edge_index, g = four_node_graph
    x = ref.randn(8, 5, 4, dtype=torch.float32)
    torch.testing.assert_close(aggregate(x, g, "mean"), ref.aggregate(x, edge_index, "mean"))
    x.requires_grad_()
    w = ref.randn(9, 6, dtype=torch.float32).requires_grad_()
    xb, wb = (t.detach().to(torch.bfloat16).requires_grad_() for t in (x, w))
    out = aggregate(xb, g, "sum", wb)
    assert out.dtype == torch.bfloat16
    expected = ref.aggregate(x, edge_index, "sum", w)
    torch.testing.assert_close(out.float(), expected, rtol=2e-2, atol=5e-2)
    go = ref.randn(10, 5, 4, dtype=torch.float32)
    got = torch.autograd.grad(out, (xb, wb), go.to(torch.bfloat16))
    want = torch.autograd.grad(expected, (x, w), go)
    for a, b in zip(got, want):
        assert a.dtype == torch.bfloat16
        torch.testing.assert_close(a.float(), b, rtol=2e-2, atol=5e-2)


def test_matches_pyg_message_passing_add(ref):
    from torch_geometric.nn import MessagePassing

    class SumConv(MessagePassing):
        def __init__(self) -> None:
            super().__init__(aggr="add")

        def forward(self, x, edge_index, w):
            return self.propagate(edge_index, x=x, w=w)

        def message(self, x_j, w):
            return x_j * w[:, None]

    gen = torch.Generator().manual_seed(5)
    edge_index = torch.randint(0, 40, (2, 300), generator=gen)
    x, w = torch.randn(42, 8, generator=gen), torch.rand(300, generator=gen)
    g = CSRGraph.from_edge_index(edge_index, num_nodes=42)
    torch.testing.assert_close(aggregate(x, g, "sum", w), SumConv()(x, edge_index, w))


def test_errors_say_what_came_in(four_node_graph):
    edge_index, g = four_node_graph
    x = torch.randn(5, 3)
    with pytest.raises(GraphError, match=r"x must have shape \(5, \*\), got \(4, 3\)"):
        aggregate(torch.randn(4, 3), g)
    with pytest.raises(GraphError, match=r"edge_weight must have shape \(6,\), got \(5,\)"):
        aggregate(x, g, edge_weight=torch.ones(5))
    with pytest.raises(GraphError, match="edge_weight must have dtype torch.float32"):
        aggregate(x, g, edge_weight=torch.ones(6, dtype=torch.float64))
    with pytest.raises(GraphError, match="x must be a floating tensor, got torch.int64"):
        aggregate(torch.ones(5, 3, dtype=torch.int64), g)
    with pytest.raises(GraphError, match=r"messages must have shape \(6, \*\), got \(5, 3\)"):
        aggregate_messages(torch.randn(5, 3), g)
    with pytest.raises(ValueError, match="reduce must be one of sum, mean, max; got 'min'"):
        aggregate(x, g, "min")
    with pytest.raises(ValueError, match="backend must be one of auto, torch, triton; got 'cuda'"):
        aggregate(x, g, backend="cuda")
    with pytest.raises(GraphError, match="graph must be a CSRGraph .*got Tensor"):
        aggregate(x, edge_index)
