"""CSRGraph: layout on a hand-built graph, invariants on random graphs, input errors."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogates.kernels import CSRGraph, GraphError


def test_layout_of_four_node_graph(four_node_graph):
    _, g = four_node_graph
    # edges (id: j -> i): 0: 0->1, 1: 0->2, 2: 0->3, 3: 1->0, 4: 2->0, 5: 3->0
    assert g.num_nodes == 5 and g.num_edges == 6
    assert g.rowptr.tolist() == [0, 3, 4, 5, 6, 6]
    assert g.col.tolist() == [1, 2, 3, 0, 0, 0]
    assert g.row.tolist() == [0, 0, 0, 1, 2, 3]
    assert g.perm.tolist() == [3, 4, 5, 0, 1, 2]
    assert g.rowptr_t.tolist() == [0, 3, 4, 5, 6, 6]
    assert g.col_t.tolist() == [1, 2, 3, 0, 0, 0]
    assert g.perm_t.tolist() == [3, 4, 5, 0, 1, 2]
    assert g.in_degree.tolist() == [3, 1, 1, 1, 0]
    assert g.out_degree.tolist() == [3, 1, 1, 1, 0]


def test_edge_index_round_trip(four_node_graph):
    edge_index, g = four_node_graph
    assert torch.equal(g.edge_index(), edge_index)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_invariants_on_random_graphs(data, ref):
    edge_index, n = data.draw(ref.graphs(max_nodes=15, max_edges=60))
    g = CSRGraph.from_edge_index(edge_index, num_nodes=n)
    src, dst = edge_index
    e = src.numel()
    assert torch.equal(g.in_degree, torch.bincount(dst, minlength=n))
    assert torch.equal(g.out_degree, torch.bincount(src, minlength=n))
    # CSR position p is the original edge perm[p]; rows sorted, stable inside a row.
    assert torch.equal(g.col, src[g.perm]) and torch.equal(g.row, dst[g.perm])
    assert torch.equal(torch.sort(g.perm).values, torch.arange(e))
    for i in range(n):
        ids = g.perm[g.rowptr[i]:g.rowptr[i + 1]]
        assert torch.all(dst[ids] == i) and torch.all(ids[1:] > ids[:-1])
    # Transposed: grouped by source, each entry names its CSR position.
    assert torch.equal(torch.sort(g.perm_t).values, torch.arange(e))
    assert torch.equal(g.col_t, g.row[g.perm_t])
    for j in range(n):
        pos = g.perm_t[g.rowptr_t[j]:g.rowptr_t[j + 1]]
        assert torch.all(g.col[pos] == j) and torch.all(pos[1:] > pos[:-1])
    assert torch.equal(g.edge_index(), edge_index)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), max_edges=st.integers(1, 9))
def test_row_blocks_partition_rows_and_edges(data, ref, max_edges):
    edge_index, n = data.draw(ref.graphs(max_nodes=15, max_edges=60))
    g = CSRGraph.from_edge_index(edge_index, num_nodes=n)
    blocks = list(g.row_blocks(max_edges))
    assert blocks[0][0] == 0 and blocks[-1][1] == n and blocks[-1][3] == g.num_edges
    for (r0, r1, e0, e1), nxt in zip(blocks, blocks[1:] + [None]):
        assert r1 > r0 and e0 == g.rowptr[r0] and e1 == g.rowptr[r1]
        assert e1 - e0 <= max_edges or r1 == r0 + 1
        if nxt is not None:
            assert nxt[0] == r1 and nxt[2] == e1


def test_empty_graph_and_inferred_num_nodes():
    g = CSRGraph.from_edge_index(torch.empty((2, 0), dtype=torch.int64), num_nodes=3)
    assert g.rowptr.tolist() == [0, 0, 0, 0] and g.num_edges == 0
    assert CSRGraph.from_edge_index(torch.empty((2, 0), dtype=torch.int64)).num_nodes == 0
    assert CSRGraph.from_edge_index(torch.tensor([[0], [6]])).num_nodes == 7


def test_to_same_device_is_identity(four_node_graph):
    _, g = four_node_graph
    assert g.to("cpu") is g


@pytest.mark.parametrize(
    "edge_index, num_nodes, match",
    [
        (torch.tensor([[0, 1], [1, 0]], dtype=torch.int32), None, "must be int64, got torch.int32"),
        (torch.zeros((3, 4), dtype=torch.int64), None, r"shape \(2, E\), got \(3, 4\)"),
        (torch.zeros(4, dtype=torch.int64), None, r"shape \(2, E\), got \(4,\)"),
        (torch.tensor([[0, -1], [1, 0]]), None, r"ids in \[-1, 1\], expected ids in \[0, 1\]"),
        (torch.tensor([[0, 5], [1, 0]]), 3, r"ids in \[0, 5\], expected ids in \[0, 2\]"),
        (torch.tensor([[0], [1]]), -2, "non-negative int, got -2"),
        ([[0, 1], [1, 0]], None, "torch.Tensor of shape \\(2, E\\), got list"),
    ],
)
def test_bad_edge_index_says_what_came_in(edge_index, num_nodes, match):
    with pytest.raises(GraphError, match=match):
        CSRGraph.from_edge_index(edge_index, num_nodes=num_nodes)


def test_inconsistent_fields_are_rejected(four_node_graph):
    _, g = four_node_graph
    with pytest.raises(GraphError, match=r"CSRGraph.rowptr must have shape \(4,\)"):
        CSRGraph(3, g.rowptr, g.col, g.row, g.perm, g.rowptr_t, g.col_t, g.perm_t)
    with pytest.raises(GraphError, match="CSRGraph.col must be an int64 tensor, got torch.float32"):
        CSRGraph(5, g.rowptr, g.col.float(), g.row, g.perm, g.rowptr_t, g.col_t, g.perm_t)
