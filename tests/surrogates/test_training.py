"""Shared pieces of the neural families: normalisers, packing, batching, training loop,
checkpoints and resume, metrics, DDP."""
from __future__ import annotations

import math
import os
import socket

import numpy as np
import pytest
import torch

from surrogates import InputError, SurrogateError
from surrogates.common import (
    EdgeSet,
    GraphItem,
    Layout,
    Normalizers,
    collate,
    pack,
    pool_max,
    pool_mean,
)
from surrogates.common.checkpoint import TrainState, capture_rng, load_checkpoint, save_checkpoint
from surrogates.common.distributed import DistInfo
from surrogates.common.metrics import COLUMNS, read_metrics
from surrogates.common.synthetic import make_steady_dataset, make_transient_dataset
from surrogates.common.training import epoch_batches, lr_at
from surrogates.meshgraphnet import MeshGraphNet, MeshGraphNetConfig, MeshGraphNetwork

TINY = {"hidden": 8, "layers": 2, "mlp_layers": 1}


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    return make_steady_dataset(tmp_path_factory.mktemp("steady") / "ds", n=5, size=(4, 6))


@pytest.fixture(scope="module")
def transient(tmp_path_factory):
    return make_transient_dataset(tmp_path_factory.mktemp("transient") / "ds", n=3, steps=4)


# ------------------------------------------------------------------ normalisers
def test_streaming_statistics_equal_numpy():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(3.0, 2.0, (n, 2)) for n in (5, 1, 17)]
    norm = Normalizers()
    for c in chunks:
        norm.update("U", c)
    allv = np.concatenate(chunks)
    np.testing.assert_allclose(norm.mean("U"), allv.mean(0), rtol=1e-12)
    np.testing.assert_allclose(norm.std("U"), allv.std(0), rtol=1e-12)
    z = norm.normalize("U", torch.as_tensor(allv))
    np.testing.assert_allclose(norm.denormalize("U", z).numpy(), allv, rtol=1e-12)
    back = Normalizers.from_state(norm.state())
    np.testing.assert_allclose(back.std("U"), norm.std("U"))


def test_constant_feature_has_unit_std_and_width_is_checked():
    norm = Normalizers()
    norm.update("P", np.full(4, 7.0))
    assert norm.std("P").tolist() == [1.0]
    with pytest.raises(ValueError, match="components"):
        norm.update("P", np.ones((3, 2)))
    with pytest.raises(KeyError, match="known: P"):
        norm.mean("Q")


# ---------------------------------------------------------------------- packing
def test_pack_by_name_and_layout_errors():
    parts = {"coords": torch.zeros(3, 2), "input:P": torch.ones(3)}
    x, layout = pack(parts)
    assert x.shape == (3, 3) and layout.names == ["coords", "input:P"]
    x2, _ = pack({"input:P": torch.ones(3), "coords": torch.zeros(3, 2)}, layout)
    assert torch.equal(x, x2)  # order comes from the layout, not the dict
    assert Layout.from_meta(layout.to_meta()) == layout
    with pytest.raises(InputError, match="missing input:P"):
        pack({"coords": torch.zeros(3, 2)}, layout)
    with pytest.raises(InputError, match="2 components"):
        pack({"coords": torch.zeros(3, 2), "input:P": torch.ones(3, 2)}, layout)


# --------------------------------------------------------------------- batching
def _item(n: int, seed: int) -> GraphItem:
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(n)
    dst = (src + 1) % n
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
    return GraphItem(torch.randn(n, 3, generator=g), torch.randn(n, 2, generator=g),
                     {"mesh": EdgeSet(ei, torch.randn(ei.shape[1], 3, generator=g))})


def test_batch_is_block_diagonal_and_equals_separate_runs():
    items = [_item(5, 0), _item(7, 1)]
    batch = collate(items)
    assert batch.ptr.tolist() == [0, 5, 12] and batch.num_graphs == 2
    ei = batch.edges["mesh"].edge_index
    assert torch.equal(batch.batch[ei[0]], batch.batch[ei[1]])  # no edge crosses meshes
    net = MeshGraphNetwork(3, 3, 2, 1, hidden=8, layers=3, mlp_layers=1).eval()
    fields, scalars = net(batch)
    for b, it in enumerate(items):
        f, s = net(collate([it]))
        torch.testing.assert_close(fields[batch.ptr[b]:batch.ptr[b + 1]], f, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(scalars[b], s[0], atol=1e-5, rtol=1e-5)


def test_pooling():
    h = torch.tensor([[1.0], [3.0], [-2.0]])
    b = torch.tensor([0, 0, 1])
    assert pool_mean(h, b, 2).squeeze(1).tolist() == [2.0, -2.0]
    assert pool_max(h, b, 2).squeeze(1).tolist() == [3.0, -2.0]


# ------------------------------------------------------------- loop pieces
def test_schedule_endpoints():
    cfg = MeshGraphNetConfig(lr=1e-3, lr_min=1e-5, schedule="cosine", warmup_steps=2)
    assert lr_at(0, 10, cfg) == pytest.approx(5e-4)
    assert lr_at(2, 10, cfg) == pytest.approx(1e-3)
    assert lr_at(9, 10, cfg) == pytest.approx(1e-5)
    exp = cfg.model_copy(update={"schedule": "exponential", "warmup_steps": 0})
    assert lr_at(9, 10, exp) == pytest.approx(1e-5) and lr_at(0, 10, exp) == pytest.approx(1e-3)


def test_ranks_split_the_global_batches_of_one_process():
    cfg = MeshGraphNetConfig(batch_size=2)
    one = epoch_batches(8, cfg.model_copy(update={"batch_size": 4}), torch.Generator().manual_seed(3), DistInfo())
    ranks = [epoch_batches(8, cfg, torch.Generator().manual_seed(3), DistInfo(r, 2)) for r in range(2)]
    for k, (pairs, pos) in enumerate(one):
        assert pairs == ranks[0][k][0] + ranks[1][k][0]
        assert pos == ranks[0][k][1] + ranks[1][k][1]


def test_config_rejects_unknown_keys_and_round_trips():
    with pytest.raises(ValueError, match="epoch"):
        MeshGraphNetConfig(epoch=3)
    cfg = MeshGraphNetConfig(epochs=3, noise=0.01)
    assert MeshGraphNetConfig.model_validate(cfg.model_dump(mode="json")) == cfg


# ------------------------------------------------------------ checkpoints
def test_checkpoint_round_trip_and_atomic_write(tmp_path, monkeypatch):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    net(torch.ones(4, 3)).sum().backward()
    opt.step()
    order = torch.Generator().manual_seed(5)
    state = TrainState(2, 7, False, net.state_dict(), opt.state_dict(), capture_rng(), order.get_state(),
                       [{"epoch": 1, "loss": 0.5}], {"lr": 1e-2})
    path = save_checkpoint(tmp_path / "m.ckpt", state)
    back = load_checkpoint(path)
    assert (back.epoch, back.step, back.history, back.config) == (2, 7, state.history, state.config)
    for k, v in net.state_dict().items():
        assert torch.equal(back.model[k], v)
    opt2 = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters())
    opt2.load_state_dict(back.optimizer)
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(back.order_rng, order.get_state())

    import safetensors.torch as st

    def crash(*args, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(st, "save_file", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, TrainState(3, 9, False, {}, {}, capture_rng(), order.get_state()))
    assert load_checkpoint(path).epoch == 2  # the old checkpoint survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["m.ckpt"]  # no temporary file left


class _Killed(Exception):
    pass


def test_resume_after_a_kill_gives_the_same_weights(transient, tmp_path):
    """A training killed after epoch 1 and resumed ends bit-for-bit where an uninterrupted one does."""
    cfg = dict(TINY, epochs=3, batch_size=2, noise=0.05, seed=4)
    full = MeshGraphNet(cfg).fit(transient, workdir=tmp_path / "full")

    def kill_after_first_epoch(stage, done, total):
        if stage.startswith("training") and done == 1:
            raise _Killed

    with pytest.raises(_Killed):
        MeshGraphNet(cfg).fit(transient, workdir=tmp_path / "cut", progress=kill_after_first_epoch)
    assert load_checkpoint(tmp_path / "cut" / "member-0.ckpt").epoch == 1
    resumed = MeshGraphNet(cfg).fit(transient, workdir=tmp_path / "cut", resume=True)
    for (k, a), b in zip(full.networks[0].state_dict().items(), resumed.networks[0].state_dict().values()):
        assert torch.equal(a, b), k
    rows_full, rows_cut = (read_metrics(tmp_path / d / "metrics.csv") for d in ("full", "cut"))
    assert list(rows_full[0]) == list(COLUMNS)
    assert [r["loss"] for r in rows_full] == [r["loss"] for r in rows_cut]
    with pytest.raises(SurrogateError, match="another configuration"):
        MeshGraphNet({**cfg, "lr": 0.5}).fit(transient, workdir=tmp_path / "cut", resume=True)


def test_progress_reports_every_stage_through_to_its_total(steady):
    """Each stage's last call is (total, total): a bar must not stop at n-1 of n."""
    calls: dict[str, list[tuple[int, int]]] = {}
    MeshGraphNet(dict(TINY, epochs=2)).fit(steady, progress=lambda st, d, t: calls.setdefault(
        st.split(" (")[0], []).append((d, t)))
    n = len(steady)
    assert calls["scanning the training set"] == [(i, n) for i in range(1, n + 1)]
    assert calls["encoding meshes"] == [(i, n) for i in range(1, n + 1)]
    assert calls["training member 1/1"] == [(1, 2), (2, 2)]


@pytest.mark.parametrize("family, options", [
    ("meshgraphnet", TINY), ("graph-transformer", {"hidden": 8, "layers": 2, "heads": 2})])
def test_amp_runs_on_cpu_in_bfloat16_and_tracks_float32(steady, family, options):
    """amp=True on CPU trains under bf16 autocast (the sparse attention itself in float32):
    the losses differ from float32 (bf16 did run) but stay within a few per cent."""
    import surrogates

    losses = {}
    for amp in (False, True):
        m = surrogates.create(family, dict(options, epochs=3, amp=amp, seed=0))
        losses[amp] = m.fit(steady).metrics["final_loss"][0]
    assert math.isfinite(losses[True]) and losses[True] != losses[False]
    assert losses[True] == pytest.approx(losses[False], rel=0.05)


# ------------------------------------------------------------------- DDP
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DDP_CFG = dict(TINY, epochs=3, seed=1, schedule="constant")


def _ddp_worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    import torch.distributed as dist
    from safetensors.torch import save_file

    from mesh.dataset import Dataset

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = MeshGraphNet(DDP_CFG, batch_size=2).fit(Dataset(root), workdir=out if rank == 0 else None)
        if rank == 0:
            save_file({k: v.contiguous() for k, v in model.networks[0].state_dict().items()}, f"{out}/w.st")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_processes_follow_one_process_with_double_batch(tmp_path):
    """torch.distributed (gloo, 2 CPU processes, batch 2 each) = 1 process with batch 4."""
    import torch.multiprocessing as mp
    from safetensors.torch import load_file

    four = make_steady_dataset(tmp_path / "four", n=4, size=(4, 6))
    single = MeshGraphNet(DDP_CFG, batch_size=4).fit(four, workdir=tmp_path / "one")
    out = tmp_path / "two"
    out.mkdir()
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(four.root), str(out)), nprocs=2, join=True)
    one_rows, two_rows = read_metrics(tmp_path / "one" / "metrics.csv"), read_metrics(out / "metrics.csv")
    assert len(one_rows) == len(two_rows) == 3
    for a, b in zip(one_rows, two_rows):
        assert a["step"] == b["step"]
        assert math.isclose(a["loss"], b["loss"], rel_tol=1e-4), (a["loss"], b["loss"])
    weights = load_file(str(out / "w.st"))
    for k, v in single.networks[0].state_dict().items():
        torch.testing.assert_close(weights[k], v, atol=1e-5, rtol=1e-4)


def test_vector_fields_keep_their_components(tmp_path):
    from mesh.dataset import DatasetWriter, Sample
    from mesh.problem import Feature, ProblemDefinition
    from surrogates.common.synthetic import plate_mesh

    problem = ProblemDefinition(inputs={"P": Feature()}, outputs={"u": Feature(unit="m")})
    w = DatasetWriter(tmp_path / "vec", "vec", problem)
    rng = np.random.default_rng(0)
    for i in range(3):
        m = plate_mesh(4 + i, 5, rng)
        w.add(Sample(f"s{i}", m, {"P": 1.0 + i}, {"u": np.stack([m.points[:, 0], -m.points[:, 1]], 1)}))
    ds = w.finish()
    model = MeshGraphNet(TINY, epochs=1).fit(ds)
    assert model.encoder.output_layout.entries == (("u", 2),)
    pred = model.predict(ds[0].mesh, {"P": 1.5})
    assert pred.fields["u"].shape == (ds[0].n_points, 2) and pred.scalars == {}


# ------------------------------------------------------------------- TensorBoard
def _board_scalars(folder, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_tensorboard_events_match_the_metrics_csv(steady, tmp_path):
    pytest.importorskip("tensorboard")
    MeshGraphNet(dict(TINY, epochs=3, ensemble=2, tensorboard=True)).fit(steady, workdir=tmp_path)
    rows = read_metrics(tmp_path / "metrics.csv")
    for m in (0, 1):
        logged = _board_scalars(tmp_path / "tensorboard" / f"member-{m}", "loss")
        want = [(int(r["epoch"]), r["loss"]) for r in rows if r["member"] == m]
        assert [s for s, _ in logged] == [1, 2, 3]
        np.testing.assert_allclose([v for _, v in logged], [v for _, v in want], rtol=1e-6)


def test_tensorboard_resume_replaces_the_epochs_of_the_killed_run(tmp_path):
    """A new logger starting at epoch 2 purges what an earlier process logged from epoch 2 on."""
    pytest.importorskip("tensorboard")
    from surrogates.common.tensorboard import EpochLogger

    first = EpochLogger(tmp_path, 0)
    for epoch in (1, 2, 3):
        first.log({"epoch": epoch, "loss": 10.0 + epoch})
    first.close()
    second = EpochLogger(tmp_path, 0)
    for epoch in (2, 3, 4):
        second.log({"epoch": epoch, "loss": 20.0 + epoch})
    second.close()
    assert _board_scalars(tmp_path / "member-0", "loss") == [(1, 11.0), (2, 22.0), (3, 23.0), (4, 24.0)]


def test_tensorboard_needs_a_workdir(steady):
    with pytest.raises(SurrogateError, match="needs a workdir"):
        MeshGraphNet(dict(TINY, epochs=1, tensorboard=True)).fit(steady)


def test_tensorboard_without_the_package_is_a_clear_error(steady, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.raises(SurrogateError, match=r"pip install 'mesh-surrogates\[tensorboard\]'"):
        MeshGraphNet(dict(TINY, epochs=1, tensorboard=True)).fit(steady, workdir=tmp_path)
    assert not (tmp_path / "tensorboard").exists()


# ------------------------------------------------------------------- ensemble calibration
def test_calibrated_ensemble_covers_its_held_out_samples_and_survives_save(steady, tmp_path):
    """calibration_samples=k trains on all but the last k samples, fits one std factor per
    output on those k, applies it to every prediction and saves it with the model."""
    import surrogates
    from surrogates.common.calibration import coverage

    cfg = dict(TINY, epochs=2, ensemble=2, calibration_samples=2, seed=3)
    model = MeshGraphNet(cfg).fit(steady)
    held = steady.subset(steady.ids[-2:])
    assert model.metrics["examples"] == len(steady) - 2 and model.std_scale["samples"] == 2
    factors = model.std_scale["fields"]
    assert set(factors) == set(steady.problem.field_names) and all(f > 0 for f in factors.values())
    preds = [model.predict_sample(s) for s in held]
    assert "scaled per output to 95% coverage on 2 held-out samples" in preds[0].uncertainty
    refs = [{n: np.asarray(s.fields[n]) for n in p.fields} for s, p in zip(held, preds)]
    cov = coverage(refs, [p.fields for p in preds], [p.std for p in preds])
    assert all(c >= 0.95 for c in cov.values()), cov
    raw = dict(model.std_scale)
    model.std_scale = {}
    unscaled = model.predict_sample(held[0])
    model.std_scale = raw
    for n, f in factors.items():
        np.testing.assert_allclose(preds[0].std[n], f * unscaled.std[n], rtol=1e-12)
    model.save(tmp_path / "run")
    back = surrogates.load(tmp_path / "run")
    np.testing.assert_allclose(back.predict_sample(held[0]).std[n], preds[0].std[n], rtol=1e-6)


def test_std_scale_factor_restores_the_wanted_coverage():
    from surrogates.common.calibration import coverage, std_scale_factors

    rng = np.random.default_rng(0)
    err = rng.normal(0.0, 2.0, (50, 400))            # errors twice the predicted std
    refs = [{"T": e} for e in err]
    means = [{"T": np.zeros(400)} for _ in err]
    stds = [{"T": np.ones(400)} for _ in err]
    assert coverage(refs, means, stds)["T"] == pytest.approx(0.673, abs=0.01)
    f = std_scale_factors(refs, means, stds)["T"]
    assert f == pytest.approx(2.0, rel=0.02)
    scaled = [{"T": f * s["T"]} for s in stds]
    assert coverage(refs, means, scaled)["T"] == pytest.approx(0.95, abs=0.002)
    with pytest.raises(ValueError, match="level"):
        std_scale_factors(refs, means, stds, level=1.5)


def test_calibration_needs_an_ensemble_and_enough_samples(steady):
    with pytest.raises(SurrogateError, match="needs an ensemble"):
        MeshGraphNet(dict(TINY, epochs=1, calibration_samples=2)).fit(steady)
    with pytest.raises(SurrogateError, match="leaves fewer than 2"):
        MeshGraphNet(dict(TINY, epochs=1, ensemble=2, calibration_samples=len(steady) - 1)).fit(steady)
