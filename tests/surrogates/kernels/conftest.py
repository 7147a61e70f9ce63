"""Reference implementations and small graphs for the kernel tests.

The references are deliberately plain: PyG's ``scatter`` and ``softmax`` over the
edge list, and a dense N x N masked softmax (small graphs only).
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from hypothesis import strategies as st

from surrogates.kernels import CSRGraph


def ref_aggregate(x, edge_index, reduce, edge_weight=None, num_nodes=None):
    """PyG gather-scatter: ``scatter(w_e * x[src], dst, reduce)`` (empty rows -> 0)."""
    src, dst = edge_index
    msg = x[src] if edge_weight is None else x[src] * edge_weight[:, None]
    return ref_aggregate_messages(msg, edge_index, reduce, num_nodes or x.shape[0])


def ref_aggregate_messages(messages, edge_index, reduce, num_nodes):
    """PyG ``scatter`` of per-edge messages onto destinations."""
    from torch_geometric.utils import scatter

    return scatter(messages, edge_index[1], dim=0, dim_size=num_nodes, reduce=reduce)


def ref_attention_pyg(q, k, v, edge_index, bias=None, scale=None):
    """TransformerConv's attention core: ``torch_geometric.utils.softmax`` + scatter-add."""
    from torch_geometric.utils import softmax

    src, dst = edge_index
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q[dst] * k[src]).sum(-1) * scale
    if bias is not None:
        s = s + bias
    a = softmax(s, dst, num_nodes=q.shape[0])
    return torch.zeros_like(v).index_add(0, dst, a[..., None] * v[src])


def ref_attention_dense(q, k, v, edge_index, bias=None, scale=None):
    """Dense (H, N, N) masked softmax; needs an edge list without duplicates."""
    n, h, d = q.shape
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    src, dst = edge_index
    s = torch.einsum("ihd,jhd->hij", q, k) * scale
    add = torch.full((h, n, n), float("-inf"), dtype=q.dtype)
    add[:, dst, src] = 0.0 if bias is None else bias.T
    empty = torch.zeros((h, n, 1), dtype=torch.bool)
    empty[:, :, 0] = torch.bincount(dst, minlength=n) == 0  # rows without edges -> 0
    a = torch.softmax((s + add).masked_fill(empty, 0.0), dim=-1).masked_fill(empty, 0.0)
    return torch.einsum("hij,jhd->ihd", a, v)


@pytest.fixture
def four_node_graph() -> tuple[torch.Tensor, CSRGraph]:
    """PyG's 4-node test graph (node 0 linked both ways to 1, 2, 3) plus isolated node 4."""
    edge_index = torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]])
    return edge_index, CSRGraph.from_edge_index(edge_index, num_nodes=5)


@st.composite
def random_graphs(draw, max_nodes: int = 12, max_edges: int = 40, unique: bool = False):
    """(edge_index, num_nodes) with duplicates, self loops and isolated nodes allowed."""
    n = draw(st.integers(1, max_nodes))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
    edges = draw(st.lists(pairs, max_size=max_edges, unique=unique))
    edge_index = torch.tensor(edges, dtype=torch.int64).reshape(-1, 2).T.contiguous()
    return edge_index, n


def random_tensor(seed: int, *shape: int, dtype=torch.float64) -> torch.Tensor:
    """A reproducible standard normal tensor."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.fixture(scope="session")
def ref() -> SimpleNamespace:
    """References, graph strategy and seeded tensors, as one namespace.

    Session-scoped so that hypothesis tests may use it (draw graphs with
    ``data.draw(ref.graphs())``).
    """
    return SimpleNamespace(
        aggregate=ref_aggregate,
        aggregate_messages=ref_aggregate_messages,
        attention_pyg=ref_attention_pyg,
        attention_dense=ref_attention_dense,
        graphs=random_graphs,
        randn=random_tensor,
    )
