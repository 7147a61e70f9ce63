"""graph_attention on the torch backend against dense, PyG and TransformerConv references."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogates.kernels import CSRGraph, GraphError, attention_torch, graph_attention


def _qkv(ref, n, h, d, seed=0, dtype=torch.float64):
    return tuple(ref.randn(seed + i, n, h, d, dtype=dtype).requires_grad_() for i in range(3))


def test_hand_values_on_four_node_graph(four_node_graph):
    _, g = four_node_graph
    # one head, d = 1: node 0 attends to nodes 1, 2, 3 with scores q0 * k_j
    q = torch.tensor([1.0, 0, 0, 0, 0], dtype=torch.float64).reshape(5, 1, 1)
    k = torch.tensor([0.0, 0.0, math.log(2.0), math.log(5.0), 0], dtype=torch.float64)
    v = torch.tensor([7.0, 1.0, 2.0, 3.0, 9.0], dtype=torch.float64).reshape(5, 1, 1)
    out = graph_attention(q, k.reshape(5, 1, 1), v, g, scale=1.0)
    # weights 1 : 2 : 5 over values 1, 2, 3; nodes 1-3 see only node 0; node 4 isolated
    expected = torch.tensor([(1 + 4 + 15) / 8, 7, 7, 7, 0], dtype=torch.float64)
    torch.testing.assert_close(out.flatten(), expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("with_bias", [False, True])
@settings(max_examples=12, deadline=None)
@given(data=st.data(), h=st.integers(1, 3), d=st.integers(1, 6))
def test_matches_dense_masked_softmax(data, ref, with_bias, h, d):
    edge_index, n = data.draw(ref.graphs(unique=True))
    g = CSRGraph.from_edge_index(edge_index, num_nodes=n)
    q, k, v = _qkv(ref, n, h, d)
    bias = ref.randn(9, edge_index.shape[1], h).requires_grad_() if with_bias else None
    inputs = (q, k, v) + ((bias,) if with_bias else ())
    out = graph_attention(q, k, v, g, bias, backend="torch")
    expected = ref.attention_dense(q, k, v, edge_index, bias)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    go = ref.randn(7, n, h, d)
    got = torch.autograd.grad(out, inputs, go)
    want = torch.autograd.grad(expected, inputs, go, allow_unused=True)
    for a, b in zip(got, want):
        b = torch.zeros_like(a) if b is None else b
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_matches_pyg_softmax_with_duplicate_edges(data, ref):
    edge_index, n = data.draw(ref.graphs(max_edges=60))
    g = CSRGraph.from_edge_index(edge_index, num_nodes=n)
    q, k, v = _qkv(ref, n, 2, 4)
    bias = ref.randn(4, edge_index.shape[1], 2).requires_grad_()
    out = graph_attention(q, k, v, g, bias, backend="torch")
    expected = ref.attention_pyg(q, k, v, edge_index, bias)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    go = ref.randn(5, n, 2, 4)
    got = torch.autograd.grad(out, (q, k, v, bias), go)
    want = torch.autograd.grad(expected, (q, k, v, bias), go, allow_unused=True)
    for a, b in zip(got, want):
        b = torch.zeros_like(a) if b is None else b
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_matches_transformer_conv_core(ref):
    """TransformerConv with identity projections is exactly graph attention."""
    from torch_geometric.nn import TransformerConv

    n, h, d = 30, 4, 8
    gen = torch.Generator().manual_seed(2)
    edge_index = torch.randint(0, n, (2, 200), generator=gen)
    conv = TransformerConv(h * d, d, heads=h, concat=True, root_weight=False)
    with torch.no_grad():
        for lin in (conv.lin_query, conv.lin_key, conv.lin_value):
            lin.weight.copy_(torch.eye(h * d))
            lin.bias.zero_()
    x = torch.randn(n, h * d, generator=gen)
    expected = conv(x, edge_index)
    xh = x.reshape(n, h, d)
    out = graph_attention(xh, xh, xh, CSRGraph.from_edge_index(edge_index, num_nodes=n))
    torch.testing.assert_close(out.reshape(n, h * d), expected, rtol=1e-5, atol=1e-6)


def test_gradcheck(four_node_graph, ref):
    _, g = four_node_graph

    def f(q, k, v, bias):
        return graph_attention(q, k, v, g, bias, backend="torch")

    q, k, v = _qkv(ref, 5, 1, 2)
    bias = ref.randn(11, 6, 1).requires_grad_()
    assert torch.autograd.gradcheck(f, (q, k, v, bias))
    q, k, v = _qkv(ref, 5, 3, 4, seed=20)  # multi-head: random projections of the Jacobian
    bias = ref.randn(12, 6, 3).requires_grad_()
    assert torch.autograd.gradcheck(f, (q, k, v, bias), fast_mode=True)
    assert torch.autograd.gradcheck(lambda q, k, v: f(q, k, v, None), (q, k, v), fast_mode=True)


def test_zero_in_degree_gives_zero_and_no_gradient(ref):
    g = CSRGraph.from_edge_index(torch.tensor([[2, 2, 0], [0, 1, 1]]), num_nodes=4)
    q, k, v = _qkv(ref, 4, 2, 3)
    out = graph_attention(q, k, v, g)
    assert torch.all(out[2:] == 0)
    out[2:].sum().backward()
    assert all(torch.all(t.grad == 0) for t in (q, k, v))


def test_minus_inf_bias_masks_edges(ref):
    # node 0 <- 1, 2, 3; node 1 <- 0, 2
    edge_index = torch.tensor([[1, 2, 3, 0, 2], [0, 0, 0, 1, 1]])
    g = CSRGraph.from_edge_index(edge_index, num_nodes=4)
    q, k, v = _qkv(ref, 4, 1, 2)
    bias = torch.zeros(5, 1, dtype=torch.float64)
    bias[1] = float("-inf")  # mask 2 -> 0
    bias[3:] = float("-inf")  # mask every edge into node 1
    out = graph_attention(q, k, v, g, bias)
    kept = torch.tensor([[1, 3], [0, 0]])
    torch.testing.assert_close(out[0], ref.attention_pyg(q, k, v, kept)[0])
    assert torch.all(out[1] == 0)
    grads = torch.autograd.grad(out.sum(), (q, k, v))
    assert all(torch.isfinite(t).all() for t in grads)
    assert torch.all(grads[0][1] == 0) and torch.all(grads[2][2] == 0)


def test_row_blocks_give_the_same_result(monkeypatch, ref):
    gen = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 30, (2, 200), generator=gen)
    g = CSRGraph.from_edge_index(edge_index, num_nodes=32)
    q, k, v = _qkv(ref, 32, 2, 4)
    bias = ref.randn(3, 200, 2).requires_grad_()

    def run():
        out = graph_attention(q, k, v, g, bias)
        return (out, *torch.autograd.grad(out.square().sum(), (q, k, v, bias)))

    full = run()
    monkeypatch.setattr(attention_torch, "CHUNK_EDGES", 5)
    for a, b in zip(full, run()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_deterministic_bitwise(ref):
    gen = torch.Generator().manual_seed(1)
    edge_index = torch.randint(0, 400, (2, 4000), generator=gen)
    g = CSRGraph.from_edge_index(edge_index, num_nodes=400)
    q, k, v = _qkv(ref, 400, 4, 8, dtype=torch.float32)
    runs = []
    for _ in range(2):
        out = graph_attention(q, k, v, g)
        runs.append((out, *torch.autograd.grad(out.square().sum(), (q, k, v))))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_errors_say_what_came_in(four_node_graph):
    _, g = four_node_graph
    q = torch.randn(5, 2, 4)
    with pytest.raises(GraphError, match=r"q must have shape \(5, \*, \*\), got \(4, 2, 4\)"):
        graph_attention(torch.randn(4, 2, 4), q, q, g)
    with pytest.raises(GraphError, match=r"k must have shape \(5, 2, 4\), got \(5, 2, 3\)"):
        graph_attention(q, torch.randn(5, 2, 3), q, g)
    with pytest.raises(GraphError, match="v must have dtype torch.float32 like the node features"):
        graph_attention(q, q, q.double(), g)
    with pytest.raises(GraphError, match=r"bias must have shape \(6, 2\), got \(6,\)"):
        graph_attention(q, q, q, g, torch.zeros(6))


def test_bfloat16_is_computed_in_float32(four_node_graph, ref):
    edge_index, g = four_node_graph
    q, k, v = _qkv(ref, 5, 2, 4, dtype=torch.float32)
    qb, kb, vb = (t.detach().to(torch.bfloat16).requires_grad_() for t in (q, k, v))
    out = graph_attention(qb, kb, vb, g)
    assert out.dtype == torch.bfloat16
    expected = ref.attention_pyg(q, k, v, edge_index)
    torch.testing.assert_close(out.float(), expected, rtol=2e-2, atol=2e-2)
    got = torch.autograd.grad(out.float().sum(), (qb, kb, vb))
    want = torch.autograd.grad(expected.sum(), (q, k, v))
    for a, b in zip(got, want):
        assert a.dtype == torch.bfloat16
        torch.testing.assert_close(a.float(), b, rtol=3e-2, atol=3e-2)
