"""MeshGraphNet: the message-passing block against a plain reference, and the surrogate
on tiny steady and time-dependent datasets (fit, predict on unseen meshes, rollouts,
ensembles, save/load)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import surrogates
from surrogates import InputError
from surrogates.common import EdgeSet, GraphItem, collate
from surrogates.common.synthetic import make_steady_dataset, make_transient_dataset, plate_mesh
from surrogates.meshgraphnet import GraphNetBlock, MeshGraphNet, MeshGraphNetwork

TINY = {"hidden": 16, "layers": 2, "mlp_layers": 1, "batch_size": 2}


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    return make_steady_dataset(tmp_path_factory.mktemp("mgn") / "steady", n=6, size=(4, 7))


@pytest.fixture(scope="module")
def transient(tmp_path_factory):
    return make_transient_dataset(tmp_path_factory.mktemp("mgn") / "transient", n=3, steps=5)


def _four_node_graph():
    # 0 - 1, 1 - 2, 2 - 0, 2 - 3, both directions
    pairs = torch.tensor([[0, 1], [1, 2], [2, 0], [2, 3]])
    return torch.cat([pairs.T, pairs.T.flip(0)], 1)


def test_block_equals_reference_message_passing():
    """The split first layer equals the MLP on [e_ij, h_i, h_j]; messages are summed per target."""
    torch.manual_seed(0)
    h_dim = 6
    block = GraphNetBlock(h_dim, mlp_layers=1, aggregation="sum").double()
    ei = _four_node_graph()
    h, e = torch.randn(4, h_dim, dtype=torch.float64), torch.randn(ei.shape[1], h_dim, dtype=torch.float64)
    g = collate([GraphItem(h, torch.zeros(4, 2), {"mesh": EdgeSet(ei, e)})])
    h_out, e_out = block(h, e, ei, g.graph("mesh"))
    w_i, w_j = block.node_in.weight.chunk(2, dim=0)
    for k in range(ei.shape[1]):  # edge by edge, with the full concatenated weight
        j, i = ei[:, k]
        w = torch.cat([block.edge_in.weight, w_i, w_j], dim=1)
        first = w @ torch.cat([e[k], h[i], h[j]]) + block.edge_in.bias
        torch.testing.assert_close(e_out[k], e[k] + block.edge_rest(first))
    for i in range(4):
        agg = e_out[ei[1] == i].sum(0)
        torch.testing.assert_close(h_out[i], h[i] + block.node_mlp(torch.cat([h[i], agg])))


@pytest.mark.parametrize("aggregation", ["mean", "max"])
def test_other_aggregations_run(aggregation):
    ei = _four_node_graph()
    g = collate([GraphItem(torch.randn(4, 3), torch.zeros(4, 2), {"mesh": EdgeSet(ei, torch.randn(8, 3))})])
    net = MeshGraphNetwork(3, 3, 2, hidden=8, layers=2, aggregation=aggregation)
    fields, scalars = net(g)
    assert fields.shape == (4, 2) and scalars is None


def test_activation_checkpointing_gives_the_same_gradients():
    ei = _four_node_graph()
    g = collate([GraphItem(torch.randn(4, 3), torch.zeros(4, 2), {"mesh": EdgeSet(ei, torch.randn(8, 3))})])
    torch.manual_seed(1)
    a = MeshGraphNetwork(3, 3, 2, 1, hidden=8, layers=3)
    b = MeshGraphNetwork(3, 3, 2, 1, hidden=8, layers=3, checkpointing=True)
    b.load_state_dict(a.state_dict())
    for net in (a, b):
        f, s = net(g)
        (f.square().sum() + s.sum()).backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, msg=name)


def test_steady_fit_predict_unseen_mesh_and_round_trip(steady, tmp_path):
    train = steady.split("train")
    model = surrogates.create("meshgraphnet", TINY, epochs=40, lr=3e-3)
    model.fit(train)
    losses = model.metrics["final_loss"]
    assert losses[0] < 0.5, losses  # learned something from a normalised loss of ~2
    mesh = plate_mesh(9, 5, np.random.default_rng(7), height=1.1)  # unseen size and connectivity
    pred = model.predict(mesh, {"P": 1.5, "s": 0.5})
    assert pred.fields["U"].shape == (45,) and pred.fields["S"].shape == (45,)
    assert set(pred.scalars) == {"max_U"} and pred.uncertainty == "none" and pred.std == {}
    x, y = mesh.points.T
    exact = 1.5 * y * (1 + 0.5 * x) + 0.05
    rel = np.sqrt(np.mean((pred.fields["U"] - exact) ** 2)) / np.abs(exact).max()
    assert rel < 0.25, rel
    model.save(tmp_path / "mgn")
    loaded = surrogates.load(tmp_path / "mgn")
    again = loaded.predict(mesh, {"P": 1.5, "s": 0.5})
    np.testing.assert_array_equal(again.fields["U"], pred.fields["U"])
    assert again.scalars == pred.scalars
    with pytest.raises(InputError, match="missing input scalar"):
        loaded.predict(mesh, {"P": 1.0})


def test_ensemble_reports_its_spread(steady):
    model = MeshGraphNet(TINY, epochs=2, ensemble=2).fit(steady.split("train"))
    pred = model.predict_sample(steady.split("test")[0])
    assert "deep ensemble of 2 members" in pred.uncertainty
    assert pred.std["U"].shape == pred.fields["U"].shape and pred.std["U"].max() > 0
    assert set(pred.scalars_std) == {"max_U"}


def test_rollout_from_a_given_state(transient):
    model = MeshGraphNet(TINY, epochs=3, noise=0.01).fit(transient.split("train"))
    s = transient.split("test")[0]
    pred = model.predict_sample(s)
    T = s.fields["T"]
    assert pred.fields["T"].shape == T.shape
    np.testing.assert_allclose(pred.times, s.times)
    np.testing.assert_allclose(pred.fields["T"][0], T[0], atol=1e-6)  # starts from the given state
    short = model.predict(s.mesh, s.inputs, input_fields={"q": s.input_fields["q"]}, steps=2)
    assert short.fields["T"].shape == (3, s.n_points)  # default start: training mean initial state
    with pytest.raises(InputError, match="input field 'q'"):
        model.predict(s.mesh, s.inputs, steps=2)
    with pytest.raises(InputError, match="at least"):
        model.predict(s.mesh, s.inputs, input_fields={"q": s.input_fields["q"][:2]}, steps=4)
