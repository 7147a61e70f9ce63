"""Graph transformer: attention pattern (K-hop, Morton windows, global tokens), sparse
attention against dense masked attention, rotary encoding, and the surrogate end to end."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import surrogates
from mesh.graph import to_graph
from surrogates.common import EdgeSet, GraphItem, collate
from surrogates.common.synthetic import make_steady_dataset, make_transient_dataset, plate_mesh
from surrogates.transformer import GraphTransformer
from surrogates.transformer.layers import SparseAttention, apply_rotary, rotary_angles
from surrogates.transformer.structure import (
    EDGE_TYPES,
    add_global_tokens,
    attention_edges,
    edge_feature_width,
    khop_pairs,
    morton_order,
    window_pairs,
)

TINY = {"hidden": 16, "layers": 2, "heads": 2, "batch_size": 2, "khop": 2, "window": 1,
        "dilations": [3], "tokens": 2}


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    return make_steady_dataset(tmp_path_factory.mktemp("gt") / "steady", n=6, size=(4, 7))


@pytest.fixture(scope="module")
def transient(tmp_path_factory):
    return make_transient_dataset(tmp_path_factory.mktemp("gt") / "transient", n=3, steps=5)


@pytest.fixture
def mesh():
    return plate_mesh(6, 5, np.random.default_rng(0))


# -------------------------------------------------------------------- structure
def test_khop_pairs_match_dense_matrix_powers(mesh):
    g = to_graph(mesh)
    n = mesh.n_points
    a = np.zeros((n, n), int)
    a[g.edge_index[1], g.edge_index[0]] = 1
    dist = np.where(a > 0, 1, np.where(np.eye(n) > 0, 0, 99))
    reach = np.eye(n, dtype=int) + a
    for hop in (2, 3):
        nxt = np.minimum(reach @ (np.eye(n, dtype=int) + a), 1)
        dist[(nxt > 0) & (reach == 0)] = hop
        reach = nxt
    pairs, hops = khop_pairs(g.edge_index, n, 3)
    got = {(int(i), int(j)): int(h) for j, i, h in zip(pairs[0], pairs[1], hops)}
    want = {(i, j): int(dist[i, j]) for i in range(n) for j in range(n) if dist[i, j] in (2, 3)}
    assert got == want


def test_morton_windows_are_local_and_symmetric():
    rng = np.random.default_rng(1)
    pts = rng.uniform(size=(400, 2))
    order = morton_order(pts)
    assert sorted(order.tolist()) == list(range(400))
    step = np.linalg.norm(pts[order[1:]] - pts[order[:-1]], axis=1).mean()
    assert step < 0.25 * np.linalg.norm(pts[1:] - pts[:-1], axis=1).mean()  # far closer than random order
    pairs = window_pairs(order, window=2, dilations=[1, 8])
    assert pairs.shape[1] == 2 * (399 + 398 + 392 + 384)
    fwd = set(map(tuple, pairs.T.tolist()))
    assert all((b, a) in fwd for a, b in fwd)


def test_attention_edges_are_unique_typed_and_contain_the_mesh(mesh):
    g = to_graph(mesh)
    pos = torch.as_tensor(mesh.points, dtype=torch.float32)
    att = attention_edges(pos, torch.as_tensor(g.edge_index), khop=2, window=2, dilations=[4], length=0.2)
    ei, attr = att.edge_index, att.edge_attr
    keys = (ei[1] * mesh.n_points + ei[0]).tolist()
    assert len(set(keys)) == len(keys) and keys == sorted(keys)
    assert attr.shape == (ei.shape[1], edge_feature_width(2))
    types = attr[:, 3:].argmax(1)
    mesh_keys = set((g.edge_index[1] * mesh.n_points + g.edge_index[0]).tolist())
    assert {k for k, t in zip(keys, types.tolist()) if t == EDGE_TYPES.index("mesh")} == mesh_keys
    assert int((types == EDGE_TYPES.index("self")).sum()) == mesh.n_points
    assert (types == EDGE_TYPES.index("window")).any() and (types == EDGE_TYPES.index("khop")).any()


def test_global_tokens_see_and_are_seen_by_their_own_mesh_only(mesh):
    items = []
    for m in (mesh, plate_mesh(4, 4, np.random.default_rng(2))):
        g = to_graph(m)
        pos = torch.as_tensor(m.points, dtype=torch.float32)
        att = attention_edges(pos, torch.as_tensor(g.edge_index), khop=1, window=0, dilations=[], length=1.0)
        items.append(GraphItem(torch.zeros(m.n_points, 1), pos, {"mesh": EdgeSet(torch.as_tensor(g.edge_index),
                                                                               torch.zeros(g.num_edges, 3)),
                                                                  "attention": att}))
    batch = add_global_tokens(collate(items), tokens=3)
    graph, n = batch.extras["attn_graph"], batch.num_nodes
    assert graph.num_nodes == n + 2 * 3
    deg = graph.in_degree
    assert deg[n:].tolist() == [31] * 3 + [17] * 3  # N_b nodes + itself
    ei = batch.extras["attn_edges"].edge_index
    owner = torch.cat([batch.batch, torch.arange(2).repeat_interleave(3)])
    assert torch.equal(owner[ei[0]], owner[ei[1]])  # nothing crosses meshes


# ------------------------------------------------------------------- attention
def test_sparse_attention_equals_dense_masked_attention(mesh):
    torch.manual_seed(0)
    g = to_graph(mesh)
    n, dim, heads = mesh.n_points, 8, 2
    ei = torch.as_tensor(g.edge_index)
    graph = collate([GraphItem(torch.zeros(n, 1), torch.zeros(n, 2), {"mesh": EdgeSet(ei, torch.zeros(ei.shape[1], 1))})]).graph("mesh")
    attn = SparseAttention(dim, heads).double()
    h = torch.randn(n, dim, dtype=torch.float64)
    bias = torch.randn(ei.shape[1], heads, dtype=torch.float64)
    angles = rotary_angles(torch.randn(n, 2, dtype=torch.float64), dim // heads, (1.0, 10.0))
    out = attn(h, graph, bias, angles)
    q, k, v = attn.qkv(h).view(n, 3, heads, dim // heads).unbind(1)
    q, k = apply_rotary(q, angles), apply_rotary(k, angles)
    scores = torch.einsum("ihd,jhd->hij", q, k) / (dim // heads) ** 0.5
    full_bias = torch.full((heads, n, n), float("-inf"), dtype=torch.float64)
    full_bias[:, ei[1], ei[0]] = bias.T
    ref = torch.einsum("hij,jhd->ihd", torch.softmax(scores + full_bias, -1), v).reshape(n, dim)
    torch.testing.assert_close(out, attn.out(ref))


def test_rotary_scores_depend_on_relative_positions_only():
    torch.manual_seed(0)
    pos = torch.randn(5, 2, dtype=torch.float64)
    q, k = torch.randn(5, 1, 8, dtype=torch.float64), torch.randn(5, 1, 8, dtype=torch.float64)

    def scores(p):
        a = rotary_angles(p, 8, (1.0, 16.0))
        return torch.einsum("ihd,jhd->ij", apply_rotary(q, a), apply_rotary(k, a))

    torch.testing.assert_close(scores(pos), scores(pos + torch.tensor([3.7, -1.2], dtype=torch.float64)))


@pytest.mark.parametrize("pos_encoding", ["bias", "rope", "both", "none"])
def test_network_batches_equal_separate_meshes(steady, pos_encoding):
    model = GraphTransformer(TINY, epochs=0, pos_encoding=pos_encoding).fit(steady.split("train"))
    net = model.networks[0]
    items = [model.encoder.example(s, model.extra_edges).item for s in list(steady)[:2]]
    fields, scalars = net(model.prepare_batch(collate(items)))
    start = 0
    for b, it in enumerate(items):
        f, s = net(model.prepare_batch(collate([it])))
        torch.testing.assert_close(fields[start:start + it.num_nodes], f, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(scalars[b], s[0], atol=1e-5, rtol=1e-4)
        start += it.num_nodes


def test_activation_checkpointing_gives_the_same_gradients(steady):
    model = GraphTransformer(TINY, epochs=0).fit(steady.split("train"))
    batch = model.prepare_batch(collate([model.encoder.example(steady[0], model.extra_edges).item]))
    a = model.networks[0].train()
    b = model.build_network(model.encoder).train()
    b.checkpointing = True
    b.load_state_dict(a.state_dict())
    for net in (a, b):
        f, s = net(batch)
        (f.square().sum() + s.sum()).backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, msg=name)


# ------------------------------------------------------------------- surrogate
def test_steady_fit_predict_unseen_mesh_and_round_trip(steady, tmp_path):
    model = surrogates.create("graph-transformer", TINY, epochs=40, lr=3e-3)
    model.fit(steady.split("train"), workdir=tmp_path / "work")
    assert model.metrics["final_loss"][0] < 0.5, model.metrics["final_loss"]
    mesh = plate_mesh(9, 5, np.random.default_rng(7), height=1.1)
    pred = model.predict(mesh, {"P": 1.5, "s": 0.5})
    x, y = mesh.points.T
    exact = 1.5 * y * (1 + 0.5 * x) + 0.05
    rel = np.sqrt(np.mean((pred.fields["U"] - exact) ** 2)) / np.abs(exact).max()
    assert rel < 0.25, rel
    model.save(tmp_path / "gt")
    again = surrogates.load(tmp_path / "gt").predict(mesh, {"P": 1.5, "s": 0.5})
    np.testing.assert_array_equal(again.fields["U"], pred.fields["U"])
    assert (tmp_path / "work" / "metrics.csv").exists() and (tmp_path / "work" / "member-0.ckpt").exists()


def test_rollout_and_ensemble(transient):
    model = GraphTransformer(TINY, epochs=2, ensemble=2).fit(transient.split("train"))
    s = transient.split("test")[0]
    pred = model.predict_sample(s, steps=3)
    assert pred.fields["T"].shape == (4, s.n_points) and pred.std["T"].shape == (4, s.n_points)
    np.testing.assert_allclose(pred.times, s.times[:4])
    assert pred.std["T"][0].max() < 1e-6 < pred.std["T"][-1].max()  # exact start, spread grows
    assert "deep ensemble of 2 members" in pred.uncertainty
