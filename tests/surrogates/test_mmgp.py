"""MMGP (surrogates/mmgp): support, landmarks, POD layout, batched GPs, model.

Tiny data: 8 coarse plate2d samples (two load steps) and 8 coarse holeplate2d samples
(~250-500 nodes), generated once per session in the pytest base temp folder.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml
from pydantic import ValidationError

import surrogates
from surrogates import InputError, ModelFormatError, SurrogateError
from surrogates.common.calibration import interval_factors
from surrogates.mmgp import MMGP, MMGPConfig
from surrogates.mmgp.config import GPConfig
from surrogates.mmgp.gp import (
    Hyperparameters,
    Posterior,
    fit_hyperparameters,
    matern52,
    nll_and_grad,
)
from surrogates.mmgp.lbfgs import minimise
from surrogates.mmgp.support import CommonSupport, flatten, unflatten

TINY = {"n_modes_geometry": 4, "n_modes_fields": 4, "gp": {"restarts": 2, "max_iter": 40}}


def tiny(root, name: str):
    """8 coarse samples of a bundled recipe (6 train, 2 test), resumed if already made."""
    from physics.generate import generate
    from physics.recipes import RECIPES_DIR, load_recipe

    raw = yaml.safe_load((RECIPES_DIR / f"{name}.yaml").read_text())
    raw["geometry"]["mesh_size"] = 0.12
    if "load" in raw["physics"]:
        raw["physics"]["load"]["steps"] = 2
    return generate(load_recipe(raw), 8, root / f"{name}_tiny", seed=1, workers=0, test_fraction=0.25)


def rrmse(ref: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((ref - pred) ** 2)) / np.abs(ref).max())


def inside(sample, dataset):
    """The sample with its inputs clipped into the training range of ``dataset``."""
    x = dataset.inputs_array()
    return dataclasses.replace(sample, inputs={
        n: float(np.clip(sample.inputs[n], x[:, i].min(), x[:, i].max()))
        for i, n in enumerate(dataset.problem.scalar_names)})


@pytest.fixture(scope="module")
def plates(tmp_path_factory):
    return tiny(tmp_path_factory.getbasetemp(), "plate2d")


@pytest.fixture(scope="module")
def model(plates):
    return MMGP(TINY).fit(plates.split("train"))


# ------------------------------------------------------------------------ layout
def test_flatten_is_blocked_and_matches_the_two_component_mass_matrix(plates):
    """The known pitfall: the coordinate vector and the 2-component mass matrix must agree."""
    support = CommonSupport.build(plates[0].mesh, "tutte", "none")
    xy = support.mesh.points + np.array([2.0, -1.0])
    v = flatten(xy)
    np.testing.assert_array_equal(v[: support.n_nodes], xy[:, 0])
    np.testing.assert_array_equal(unflatten(v, 2), xy)
    m1, m2 = support.mass(1), support.mass(2)
    expected = xy[:, 0] @ m1 @ xy[:, 0] + xy[:, 1] @ m1 @ xy[:, 1]
    assert v @ m2 @ v == pytest.approx(expected, rel=1e-12)
    interleaved = xy.reshape(-1)
    assert interleaved @ m2 @ interleaved != pytest.approx(expected, rel=1e-3)


def test_support_is_the_morphed_median_mesh_with_corner_landmarks(plates, model):
    train = plates.split("train")
    sizes = sorted(e.n_points for e in train.entries)
    sup = model._trained.support
    assert sup.n_nodes == sizes[(len(sizes) - 1) // 2]
    assert np.allclose(np.linalg.norm(sup.mesh.points, axis=1).max(), 1.0)  # the unit disk
    assert model.metrics["landmarks"] == ["bottom+left", "bottom+right", "left+top", "right+top"]
    # every corner of every training mesh lands at the support's angle
    for s in train:
        res = sup.morph(s.mesh)
        for key, t in sup.landmarks.items():
            g1, g2 = key.split("+")
            node = np.intersect1d(s.mesh.group_nodes(g1), s.mesh.group_nodes(g2))
            assert np.allclose(res.points[node], [np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)])
        assert res.inversions.count == 0


# ------------------------------------------------------------------------ model
def test_reproduces_a_training_sample_and_predicts_an_unseen_one(plates, model):
    train = plates.split("train")
    s = train[0]
    p = model.predict(s.mesh, s.inputs)
    assert rrmse(s.fields["U2"], p.fields["U2"]) < 0.03
    assert p.scalars["max_U2_top"] == pytest.approx(s.scalars["max_U2_top"], rel=0.05)
    t = inside(plates.split("test")[0], train)
    q = model.predict(t.mesh, t.inputs)
    assert q.fields["U2"].shape == (t.n_points,)
    assert set(q.timings) == {"morph", "transfer", "geometry", "gp", "decode", "total"}
    for name in q.fields:
        assert (q.lower[name] <= q.upper[name]).all() and (q.std[name] >= 0).all()
    assert "in closed form" in q.uncertainty and "POD truncation error" in q.uncertainty
    # the closed form is the default: symmetric interval of 1.96 std
    np.testing.assert_allclose(q.upper["U2"] - q.fields["U2"], 1.959963984540054 * q.std["U2"], rtol=1e-12)


def with_config(model, **update):
    """The trained ``model`` reloaded with other prediction settings."""
    meta, arrays = model.state()
    m = MMGP.from_state(model.config.model_copy(update=update), meta, arrays)
    m.problem, m.input_ranges, m.metrics = model.problem, model.input_ranges, model.metrics
    return m


def test_loo_calibration_scales_the_std_and_leaves_the_mean(plates, model):
    t = inside(plates.split("test")[0], plates.split("train"))
    raw = with_config(model, calibration="none")
    assert all((c == 1).all() for c in raw._trained.calibration)
    a, b = model.predict(t.mesh, t.inputs), raw.predict(t.mesh, t.inputs)
    assert "leave-one-out" in a.uncertainty and "leave-one-out" not in b.uncertainty
    np.testing.assert_array_equal(a.fields["U2"], b.fields["U2"])
    assert a.scalars == b.scalars
    tr = model._trained
    factor = tr.calibration[tr.output_index("max_U2_top", "scalar")][0]
    assert factor != 1 and model.metrics["gp"]["max_U2_top"]["std_factor_first"] == factor
    assert a.scalars_std["max_U2_top"] == pytest.approx(factor * b.scalars_std["max_U2_top"], rel=1e-12)
    # each coefficient std scaled by its factor, the POD truncation part unchanged
    live = b.std["U2"] > 1e-6 * b.std["U2"].max()  # not the clamped nodes (std ~ 1e-17)
    ratio = a.std["U2"][live] / b.std["U2"][live]
    f = tr.calibration[tr.output_index("U2")]
    assert (ratio <= max(f.max(), 1) + 1e-9).all() and (ratio >= min(f.min(), 1) - 1e-9).all()
    assert not np.allclose(ratio, 1)


def test_sampled_and_closed_form_uncertainty_agree(plates, model):
    exact = with_config(model, uncertainty="gaussian")
    sampled = with_config(model, uncertainty="samples")
    t = inside(plates.split("test")[0], plates.split("train"))
    a, b = sampled.predict(t.mesh, t.inputs), exact.predict(t.mesh, t.inputs)
    assert "draws decoded through the POD" in a.uncertainty
    np.testing.assert_array_equal(a.fields["sig22"], b.fields["sig22"])
    rel = np.linalg.norm(a.std["sig22"] - b.std["sig22"]) / np.linalg.norm(b.std["sig22"])
    assert rel < 0.2  # 200 draws: ~5 % sampling error on a std
    width = np.median(b.upper["sig22"] - b.lower["sig22"])
    assert np.median(np.abs(a.upper["sig22"] - b.upper["sig22"])) < 0.25 * width


def test_other_topology_and_missing_landmark_groups_are_refused(tmp_path_factory, plates, model):
    holes = tiny(tmp_path_factory.getbasetemp(), "holeplate2d")
    s = plates[0]
    with pytest.raises(InputError, match=r"2 boundary loop\(s\) \(1 hole\(s\)\).*1 loop"):
        model.predict(holes[0].mesh, s.inputs)
    bare = s.mesh.without_data()
    bare = dataclasses.replace(bare, cell_sets={}, point_sets={})
    with pytest.raises(InputError, match="boundary groups.*bottom"):
        model.predict(bare, s.inputs)
    with pytest.raises(InputError, match="no input fields"):
        model.predict(s.mesh, s.inputs, input_fields={"T": np.zeros(s.n_points)})


def test_holes_use_loop_matched_morphing(tmp_path_factory):
    holes = tiny(tmp_path_factory.getbasetemp(), "holeplate2d")
    train = holes.split("train")
    m = MMGP(TINY).fit(train)
    assert m.metrics["morphing"] == "harmonic" and m.metrics["boundary_loops"] == 2
    assert m.metrics["landmarks"] == []
    assert m.metrics["inverted_morphs"] == 0  # Jacobian-stiffened extension (default exponent 1)
    s = train[1]
    assert rrmse(s.fields["von_mises"], m.predict(s.mesh, s.inputs).fields["von_mises"]) < 0.05
    t = inside(holes.split("test")[0], train)
    p = m.predict(t.mesh, t.inputs)
    assert p.fields["von_mises"].shape == (t.n_points,)


def test_state_of_another_version_is_refused(model, tmp_path):
    path = model.save(tmp_path / "m")
    doc = yaml.safe_load((path / "model.yaml").read_text())
    doc["state"]["version"] = 0
    (path / "model.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ModelFormatError, match="MMGP state version 0.*retrain"):
        surrogates.load(path)


def test_nan_from_the_gp_is_caught(plates, model, monkeypatch):
    s = plates.split("train")[0]
    post = model._trained.posterior
    real = post.predict

    def broken(x):
        means, lat, var = real(x)
        means[0][:] = np.nan
        return means, lat, var

    monkeypatch.setattr(post, "predict", broken)
    with pytest.raises(SurrogateError, match="NaN"):
        model.predict(s.mesh, s.inputs)


def test_config_from_yaml_rejects_unknown_keys(tmp_path):
    path = tmp_path / "mmgp.yaml"
    path.write_text("n_modes_fields: {U2: 6}\ngp: {restarts: 3}\n")
    cfg = MMGPConfig.from_yaml(path)
    assert cfg.modes_of("U2") == 6 and cfg.modes_of("U1") == 12 and cfg.gp.restarts == 3
    path.write_text("gp: {restart: 3}\n")
    with pytest.raises(ValueError, match="restart"):
        MMGPConfig.from_yaml(path)
    with pytest.raises(ValueError, match="n_modes"):
        surrogates.create("mmgp", n_modes=4)


def test_too_small_or_time_dependent_datasets_are_refused(plates):
    with pytest.raises(SurrogateError, match="at least 2"):
        MMGP(TINY).fit(plates.subset(plates.ids[:1]))


# ------------------------------------------------------------------------ GPs
def _toy(n: int, rng: np.random.Generator, noise: float = 0.05):
    x = rng.uniform(-2.0, 2.0, (n, 2))
    f = np.sin(1.5 * x[:, 0]) + 0.5 * np.cos(x[:, 1]) * x[:, 0]
    return x, np.column_stack([f, 0.5 * f]) + noise * rng.standard_normal((n, 2))


def test_gp_predictive_intervals_are_calibrated_on_a_synthetic_function():
    rng = np.random.default_rng(0)
    x, y = _toy(80, rng)
    xt, yt = _toy(500, rng)
    hyper, report = fit_hyperparameters(x, [y, y[:, :1]], GPConfig(restarts=3))
    assert report.restart_losses.shape == (3, 2)
    # the noise is found (0.05^2 = 2.5e-3), not driven to the lower bound
    assert 5e-4 < hyper.noise[1] < 1e-2
    means, latent, var = Posterior(x, [y, y[:, :1]], hyper).predict(xt)
    assert (latent <= var).all()
    z = np.abs(means[0] - yt) / np.sqrt(var[0])[:, None]
    coverage = float(np.mean(z < 1.959964))
    assert 0.9 < coverage < 0.99, coverage
    assert np.sqrt(np.mean((means[0][:, 0] - yt[:, 0]) ** 2)) < 0.1


def test_leave_one_out_residuals_equal_refits_without_each_point():
    rng = np.random.default_rng(2)
    x, y = _toy(25, rng)
    h = Hyperparameters(np.array([[0.8, 1.3], [1.5, 0.6]]), np.array([1.2, 0.7]), np.array([1e-2, 3e-3]))
    mask = np.array([[1.0, 1.0], [1.0, 0.0]])  # the second GP does not see input 1
    post = Posterior(x, [y, y[:, :1]], h, mask=mask)
    z, loo = post.loo_residuals(), post.loo_means()
    x_at = x + rng.normal(0.0, 0.3, x.shape)  # each point predicted elsewhere
    z_at = post.loo_residuals(x_at)
    assert [a.shape for a in z] == [(25, 2), (25, 1)] == [a.shape for a in z_at]
    for i in (0, 7, 24):
        keep = np.arange(25) != i
        refit = Posterior(x[keep], [y[keep], y[keep, :1]], h, mask=mask)
        means, _, var = refit.predict(x[i:i + 1])
        means_at, _, var_at = refit.predict(x_at[i:i + 1])
        for b in range(2):
            m = z[b].shape[1]
            np.testing.assert_allclose(z[b][i], (y[i, :m] - means[b][0]) / np.sqrt(var[b, 0]), rtol=1e-8)
            np.testing.assert_allclose(loo[b][i], means[b][0], rtol=1e-8)
            np.testing.assert_allclose(z_at[b][i], (y[i, :m] - means_at[b][0]) / np.sqrt(var_at[b, 0]), rtol=1e-7)
    np.testing.assert_allclose(post.loo_residuals(x)[0], z[0], rtol=1e-7)  # the general formula at x_at = x
    with pytest.raises(SurrogateError, match="x_at must have the training inputs' shape"):
        post.loo_residuals(x_at[:3])


def test_interval_factors_are_the_conformal_quantile_of_the_residuals():
    rng = np.random.default_rng(3)
    z = np.abs(rng.standard_normal((4000, 2)) * np.array([1.0, 3.0]))
    np.testing.assert_allclose(interval_factors(z), [1.0, 3.0], rtol=0.06)
    # 19 values: the 19th smallest (ceil(20 x 0.95)); with fewer, the largest
    ramp = np.arange(1.0, 20.0)[:, None]
    assert interval_factors(ramp)[0] == pytest.approx(19.0 / 1.959964, rel=1e-6)
    assert interval_factors(ramp[:6])[0] == pytest.approx(6.0 / 1.959964, rel=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        interval_factors(np.zeros((0, 1)))


def test_loo_calibration_repairs_a_misjudged_predictive_variance():
    rng = np.random.default_rng(4)
    x, y = _toy(120, rng)
    xt, yt = _toy(2000, rng)
    hyper, _ = fit_hyperparameters(x, [y], GPConfig(restarts=2))
    # a GP whose variances are 9x too small (outputscale and noise both /9: same mean)
    shrunk = Hyperparameters(hyper.lengthscale, hyper.outputscale / 9, hyper.noise / 9)
    post = Posterior(x, [y], shrunk)
    means, _, var = post.predict(xt)
    z = np.abs(means[0] - yt) / np.sqrt(var[0])[:, None]
    assert np.mean(z < 1.959964) < 0.7
    scale = interval_factors(np.abs(post.loo_residuals()[0]))
    assert (scale > 2.0).all()
    coverage = np.mean(z / scale < 1.959964, axis=0)
    assert ((0.9 < coverage) & (coverage < 0.99)).all(), coverage


def test_shared_kernel_gp_equals_independent_gps_with_the_same_hyperparameters():
    rng = np.random.default_rng(1)
    x, y = _toy(30, rng)
    h = Hyperparameters(np.array([[0.8, 1.3]]), np.array([1.2]), np.array([1e-2]))
    both = Posterior(x, [y], h).predict(x[:5])
    one = Posterior(x, [y[:, 1:]], h).predict(x[:5])
    np.testing.assert_allclose(both[0][0][:, 1], one[0][0][:, 0], rtol=1e-10)
    np.testing.assert_allclose(both[2], one[2], rtol=1e-12)


def test_masked_input_is_ignored_exactly_as_if_it_were_absent():
    """A GP whose mask drops input 2 predicts like a GP trained on inputs 0-1 only, with the
    same hyperparameters, whatever the values of input 2 (the other output sees it)."""
    rng = np.random.default_rng(2)
    x, y = _toy(40, rng)
    x3 = np.column_stack([x, rng.normal(size=40)])
    mask = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    h3 = Hyperparameters(np.array([[0.8, 1.3, 0.7], [0.8, 1.3, 0.7]]), np.array([1.2, 1.2]), np.array([1e-2, 1e-2]))
    h2 = Hyperparameters(np.array([[0.8, 1.3]]), np.array([1.2]), np.array([1e-2]))
    q = np.column_stack([x[:5], rng.normal(size=5)])
    masked = Posterior(x3, [y, y], h3, mask=mask).predict(q)
    plain = Posterior(x, [y], h2).predict(q[:, :2])
    np.testing.assert_allclose(masked[0][0], plain[0][0], rtol=1e-10)
    np.testing.assert_allclose(masked[2][0], plain[2][0], rtol=1e-10)
    assert not np.allclose(masked[0][1], plain[0][0])  # the unmasked output does use input 2
    hyper, _ = fit_hyperparameters(x3, [y, y], GPConfig(restarts=2, max_iter=30), mask=mask)
    assert hyper.lengthscale.shape == (2, 3)
    with pytest.raises(SurrogateError, match="input mask"):
        Posterior(x3, [y, y], h3, mask=np.ones((2, 2)))


def test_geometry_inputs_mask_and_unknown_names():
    from surrogates.mmgp.model import geometry_input_mask

    m = geometry_input_mask(["U2", "sig22", "max_p"], 4, 6, {"U2": 2})
    np.testing.assert_array_equal(m, [[1, 1, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    with pytest.raises(SurrogateError, match="geometry_inputs names U3, which are not GP outputs.*U2, sig22"):
        geometry_input_mask(["U2", "sig22"], 4, 6, {"U3": 2})


def test_singular_covariance_gives_a_clear_error():
    x = np.zeros((4, 2))  # four identical inputs, zero noise: rank-one covariance
    h = Hyperparameters(np.ones((1, 2)), np.ones(1), np.zeros(1))
    with pytest.raises(SurrogateError, match="not positive definite.*noise_lower_bound"):
        Posterior(x, [np.ones((4, 1))], h, jitter=1e-14, max_jitter=1e-15, names=["U2"])


# ------------------------------------------------------------------ amplitude, speed
def test_fast_matern_equals_gpytorch_kernel_and_has_exact_gradients():
    import gpytorch
    import torch

    from surrogates.mmgp.gp import _kernel, matern52

    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 7, 4, dtype=torch.float64, generator=g)
    b = torch.randn(3, 5, 4, dtype=torch.float64, generator=g)
    k = _kernel(4, 3)
    k.base_kernel.lengthscale = torch.rand(3, 1, 4, dtype=torch.float64, generator=g) * 2 + 0.2
    k.outputscale = torch.rand(3, dtype=torch.float64, generator=g) + 0.5
    with gpytorch.settings.lazily_evaluate_kernels(False):
        ref = k(a, b).to_dense()
    got = matern52(a, b, k.base_kernel.lengthscale, k.outputscale)
    np.testing.assert_allclose(got.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    ls = k.base_kernel.lengthscale.detach().clone().requires_grad_(True)
    sc = k.outputscale.detach().clone().requires_grad_(True)
    # includes coincident points (r = 0, the diagonal of k(a, a))
    assert torch.autograd.gradcheck(lambda l, s: matern52(a, a, l, s), (ls, sc))


def test_restarts_on_a_subset_then_refined_on_all_points():
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, (160, 2))
    y = np.column_stack([np.sin(x[:, 0]) * np.cos(x[:, 1]), x[:, 0] ** 2 / 4]) + 0.01 * rng.normal(size=(160, 2))
    xt = rng.uniform(-1.8, 1.8, (200, 2))
    yt = np.column_stack([np.sin(xt[:, 0]) * np.cos(xt[:, 1]), xt[:, 0] ** 2 / 4])
    errs = {}
    for subset in (None, 40):
        cfg = GPConfig(restarts=3, max_iter=60, restart_subset=subset, refine_iter=20)
        hyper, report = fit_hyperparameters(x, [y], cfg)
        assert report.restart_losses.shape == (3, 1)
        errs[subset] = np.sqrt(np.mean((Posterior(x, [y], hyper).predict(xt)[0][0] - yt) ** 2))
    assert errs[None] < 0.02
    assert errs[40] < 1.5 * errs[None]  # the refinement on all points recovers the full fit
    # refine_top=3: every subset restart is refined on all points, the best there is kept
    cfg = GPConfig(restarts=3, max_iter=60, restart_subset=40, refine_iter=20, refine_top=3, refine_cold=False)
    hyper, report = fit_hyperparameters(x, [y], cfg)
    assert 0 <= int(report.best_restart[0]) < 3 and np.isfinite(report.loss).all()
    err = np.sqrt(np.mean((Posterior(x, [y], hyper).predict(xt)[0][0] - yt) ** 2))
    assert err < 1.5 * errs[None]
    # the cold start is one more candidate: the likelihood on all points can only improve
    cold = fit_hyperparameters(x, [y], cfg.model_copy(update={"refine_cold": True}))[1]
    assert -1 <= int(cold.best_restart[0]) < 3 and cold.loss[0] <= report.loss[0] + 1e-12


def test_closed_form_likelihood_gradient_equals_autograd_through_the_kernel():
    """nll_and_grad (no autograd) against torch autograd through matern52 and a Cholesky."""
    gen = torch.Generator().manual_seed(0)
    b, n, d = 3, 50, 4
    x = torch.randn(b, n, d, generator=gen, dtype=torch.float64)
    x[2, :, 1] = 0.0  # a masked input
    y = torch.randn(b, n, 5, generator=gen, dtype=torch.float64)
    y[2, :, 2:] = 0.0  # zero-padded columns of an output with 2
    m = torch.tensor([5.0, 5.0, 2.0], dtype=torch.float64)
    raw = 0.5 * torch.randn(b, d + 2, generator=gen, dtype=torch.float64)
    raw[:, -1] = -3.0
    raw[0, 0] = 16.0  # beyond the clip: zero gradient there

    def oracle(r):
        r = r.clamp(-15.0, 15.0)
        k = matern52(x, x, r[:, None, :-2].exp(), r[:, -2].exp())
        k = k + (1e-6 + r[:, -1].exp())[:, None, None] * torch.eye(n, dtype=torch.float64)
        factor = torch.linalg.cholesky(k)
        quad = (y * torch.cholesky_solve(y, factor)).sum((-1, -2))
        logdet = 2.0 * torch.log(factor.diagonal(dim1=-2, dim2=-1)).sum(-1)
        return 0.5 * (quad + m * logdet) / (n * m) + 0.5 * np.log(2 * np.pi)

    r = raw.clone().requires_grad_(True)
    expected = oracle(r)
    (expected_grad,) = torch.autograd.grad(expected.sum(), r)
    nll, grad, ok = nll_and_grad(raw, x, y, m, 1e-6)
    assert ok.all()
    assert torch.allclose(nll, expected.detach(), atol=1e-12)
    assert torch.allclose(grad, expected_grad, atol=1e-12) and grad[0, 0] == 0.0
    bad = raw.clone()
    bad[1, -2] = float("nan")  # a covariance that cannot be factorised: inf and a zero gradient
    nll, grad, ok = nll_and_grad(bad, x, y, m, 1e-6)
    assert ok.tolist() == [True, False, True] and torch.isinf(nll[1]) and (grad[1] == 0).all()
    assert torch.allclose(nll[[0, 2]], expected.detach()[[0, 2]], atol=1e-12)


def test_adam_reaches_the_lbfgs_likelihood_on_a_smooth_problem():
    rng = np.random.default_rng(5)
    x = rng.uniform(-2, 2, (80, 2))
    y = np.column_stack([np.sin(x[:, 0]) + 0.5 * x[:, 1]]) + 0.01 * rng.normal(size=(80, 1))
    lbfgs = fit_hyperparameters(x, [y], GPConfig(restarts=2))[1]
    adam = fit_hyperparameters(x, [y], GPConfig(restarts=2, optimizer="adam", max_iter=400, lr=0.05))[1]
    assert np.isfinite(adam.loss).all() and adam.loss[0] < lbfgs.loss[0] + 0.05


def test_batched_lbfgs_converges_every_problem_despite_their_scales():
    """One summed loss (torch's L-BFGS) shares its step between problems; minimise() does not."""
    target = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.5, -1.0], [0.2, 0.1, 4.0]], dtype=torch.float64)
    scales = torch.tensor([1e-2, 1.0, 1e4], dtype=torch.float64)
    curvature = torch.tensor([1.0, 30.0, 1.0], dtype=torch.float64)  # ill-conditioned within a problem too

    def losses(x, idx):
        return (scales[idx, None] * curvature * (x - target[idx]) ** 2).sum(-1)

    def fun(x, idx):
        x = x.detach().requires_grad_(True)
        f = losses(x, idx)
        return f.detach(), torch.autograd.grad(f.sum(), x)[0]

    res = minimise(fun, torch.zeros(3, 3, dtype=torch.float64), max_iter=40)
    assert torch.allclose(res.x, target, atol=1e-5)
    assert res.evaluations < 80
    joint = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([joint], max_iter=40, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = losses(joint, torch.arange(3)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert (joint.detach() - target).abs().max() > 1e-3  # the small-scale problem is left behind


def test_batched_lbfgs_backs_off_from_non_finite_losses():
    """A trial point with an infinite loss (a failed Cholesky in a GP) shortens the step."""
    def fun(x, idx):
        x = x.detach().requires_grad_(True)
        f = ((x - 3.0) ** 2).sum(-1)
        g = torch.autograd.grad(f.sum(), x)[0]
        return torch.where(x[:, 0] > 3.5, torch.inf, f.detach()), g

    res = minimise(fun, torch.tensor([[-20.0]], dtype=torch.float64), max_iter=50)
    assert abs(float(res.x[0, 0]) - 3.0) < 1e-6 and torch.isfinite(res.loss).all()


def test_amplitude_fields_skip_vanishing_ones_and_unknown_names_are_refused():
    from surrogates.mmgp.model import amplitudes

    snaps = {"U": np.array([[1.0, -3.0], [0.5, 0.2]]), "p": np.array([[0.0, 0.0], [0.1, 0.0]])}
    amps = amplitudes(snaps, "max")
    assert set(amps) == {"U"} and np.allclose(amps["U"], [3.0, 0.5])
    assert amplitudes(snaps, "none") == {}
    assert amplitudes(snaps, "max", ["p"]) == {}
    with pytest.raises(SurrogateError, match="amplitude_fields names V.*output fields are U, p"):
        amplitudes(snaps, "max", ["V"])


def test_rms_amplitude_is_the_mass_weighted_root_mean_square(model):
    from surrogates.mmgp.model import amplitudes

    sup = model._trained.support
    n = sup.n_nodes
    xy = sup.mesh.points[:, :2]
    scalar = np.vstack([np.full(n, 3.0), np.full(n, -0.5), xy[:, 0]])  # (3, n): constants, then x
    vector = np.vstack([np.r_[np.full(n, 3.0), np.full(n, 4.0)]])      # blocked (3, 4)
    amps = amplitudes({"T": scalar, "U": vector}, "rms", None, sup.mass, {"T": 1, "U": 2})
    m = sup.mass(1)
    area = m.sum()
    x = scalar[2]
    np.testing.assert_allclose(amps["T"], [3.0, 0.5, np.sqrt(x @ (m @ x) / area)], rtol=1e-12)
    np.testing.assert_allclose(amps["U"], [5.0], rtol=1e-12)
    assert 0 < amps["T"][2] < np.abs(x).max()  # a mean, below the max


@pytest.mark.parametrize("kind", ["max", "rms"])
def test_amplitude_model_moments_match_its_draws_and_survive_save_load(plates, tmp_path, kind):
    train = plates.split("train")
    m = MMGP({**TINY, "amplitude": kind, "amplitude_fields": ["U1", "U2"]}).fit(train)
    assert m.metrics["amplitude_fields"] == ["U1", "U2"]
    s = train[0]
    p = m.predict(s.mesh, s.inputs)
    assert rrmse(s.fields["U2"], p.fields["U2"]) < 0.03
    t = inside(plates.split("test")[0], train)
    exact, drawn = m.predict(t.mesh, t.inputs), with_config(m, uncertainty="samples", n_samples=4000)
    d = drawn.predict(t.mesh, t.inputs)
    rel = np.linalg.norm(d.std["U2"] - exact.std["U2"]) / np.linalg.norm(exact.std["U2"])
    assert rel < 0.1  # 4,000 draws of amplitude x shape against the exact moments
    m.save(tmp_path / "run")
    back = surrogates.load(tmp_path / "run")
    np.testing.assert_allclose(back.predict(t.mesh, t.inputs).fields["U2"], exact.fields["U2"], rtol=1e-10)


def test_amplitude_inputs_feed_the_predicted_log_amplitude_to_the_other_gps(plates, tmp_path):
    train = plates.split("train")
    m = MMGP({**TINY, "amplitude": "rms", "amplitude_fields": ["U1", "U2"], "amplitude_inputs": ["U2"]}).fit(train)
    tr = m._trained
    d = tr.x_mean.size
    assert tr.x_train.shape == (len(train), d + 1) and m.metrics["amplitude_inputs"] == ["U2"]
    a = tr.output_index("U2", "amplitude")
    np.testing.assert_array_equal(tr.x_train[:, d], tr.y_train[a][:, 0])  # the training log-amplitudes
    seen = tr.posterior.mask.numpy()[:, d]
    assert seen[a] == 0 and seen[tr.output_index("U1", "amplitude")] == 0
    assert seen[tr.output_index("sig22")] == 1 and seen[tr.output_index("max_U2_top", "scalar")] == 1
    t = inside(plates.split("test")[0], train)
    p = m.predict(t.mesh, t.inputs)
    # the two passes by hand: the amplitude GP ignores the extra column, the others get its mean
    x = np.array([[*tr.geometry.project(flatten(tr.support.morph_and_transfer(t.mesh, back=False).to_support
                                                 @ t.mesh.points[:, :2]))[0],
                   *(t.inputs[n] for n in m.problem.scalar_names)]])
    xs = (x - tr.x_mean) / tr.x_std
    probe = [tr.posterior.predict(np.hstack([xs, [[v]]]))[0] for v in (-3.0, 3.0)]
    assert probe[0][a][0, 0] == pytest.approx(probe[1][a][0, 0], rel=1e-12)
    b = tr.output_index("max_U2_top", "scalar")
    assert probe[0][b][0, 0] != pytest.approx(probe[1][b][0, 0], rel=1e-6)  # the scalar's GP uses it
    means = tr.posterior.predict(np.hstack([xs, probe[0][a][:, :1]]))[0]
    assert p.scalars["max_U2_top"] == pytest.approx(means[b][0, 0] * tr.y_scale[b][0] + tr.y_mean[b][0], rel=1e-12)
    assert rrmse(train[0].fields["U2"], m.predict(train[0].mesh, train[0].inputs).fields["U2"]) < 0.03
    # calibrated on left-out points whose amplitude input is predicted, as a new sample's is
    from surrogates.mmgp.model import calibration

    loo_amp = tr.posterior.loo_means()[a][:, 0]
    assert not np.allclose(loo_amp, tr.x_train[:, d])
    x_at = np.hstack([tr.x_train[:, :d], loo_amp[:, None]])
    expected = [interval_factors(np.abs(z)) for z in tr.posterior.loo_residuals(x_at)]
    for got, want in zip(tr.calibration, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    own = [interval_factors(np.abs(z)) for z in tr.posterior.loo_residuals()]
    assert not np.allclose(tr.calibration[b], own[b])  # the scalar's factor sees the amplitude error
    m.save(tmp_path / "run")
    back = surrogates.load(tmp_path / "run")
    for got, want in zip(back._trained.calibration, tr.calibration):
        np.testing.assert_array_equal(got, want)
    meta, arrays = m.state()  # the factors are read from the model folder, not recomputed
    arrays["y.max_U2_top.std_factor"] = 2.0 * arrays["y.max_U2_top.std_factor"]
    assert MMGP.from_state(m.config, meta, arrays)._trained.calibration[b][0] == 2.0 * tr.calibration[b][0]
    q = back.predict(t.mesh, t.inputs)
    np.testing.assert_allclose(q.fields["sig22"], p.fields["sig22"], rtol=1e-10)
    np.testing.assert_allclose(q.std["sig22"], p.std["sig22"], rtol=1e-10)
    raw = with_config(m, calibration="none")
    assert all((c == 1).all() for c in raw._trained.calibration)
    assert calibration(tr.posterior, "none", tr.x_train, tr.outputs, ["U2"])[b].tolist() == [1.0]
    with pytest.raises(SurrogateError, match="amplitude_inputs names V, which are not output fields"):
        MMGP({**TINY, "amplitude": "rms", "amplitude_inputs": ["V"]}).fit(train)
    with pytest.raises(SurrogateError, match="amplitude_inputs names p, whose amplitude vanishes"):
        MMGP({**TINY, "amplitude": "rms", "amplitude_inputs": ["p"]}).fit(train)  # one sample is elastic
    with pytest.raises(ValidationError, match="needs amplitude 'max' or 'rms'"):
        MMGPConfig(amplitude_inputs=["U2"])
    with pytest.raises(ValidationError, match="not in amplitude_fields"):
        MMGPConfig(amplitude="rms", amplitude_fields=["U1"], amplitude_inputs=["U2"])


def test_jacobian_stiffening_removes_the_folds_of_the_plain_harmonic_morph(tmp_path_factory):
    from mesh.boundary import planar_points
    from surrogates.mmgp.support import incremental_harmonic_morph, stiffening_weights, volume_mesh

    holes = tiny(tmp_path_factory.getbasetemp(), "holeplate2d").split("train")
    ref = volume_mesh(holes[0].mesh, planar_points(holes[0].mesh))
    folds = {}
    for chi in (0.0, 1.0):
        folds[chi] = [incremental_harmonic_morph(volume_mesh(s.mesh, planar_points(s.mesh)), ref, 8,
                                                 chi).inversions.count for s in list(holes)[1:]]
    assert sum(folds[0.0]) > 0 and sum(folds[1.0]) == 0
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.1, 0.1]])
    w = stiffening_weights(pts, np.array([[0, 1, 2], [0, 1, 3]]), 1.0)
    np.testing.assert_allclose(w, [0.55 / 1.0, 0.55 / 0.1])  # (mean area / area), areas x2: 1 and 0.1
    assert stiffening_weights(pts, np.array([[0, 1, 2]]), 0.0) is None


@pytest.fixture
def counted_solves(tmp_path_factory, monkeypatch):
    """(holeplate2d training samples, their volume meshes, a list that grows by one per
    DirichletSolver built, i.e. per sparse factorisation of a harmonic morph)."""
    from mesh.boundary import planar_points
    from surrogates.mmgp import support

    holes = tiny(tmp_path_factory.getbasetemp(), "holeplate2d").split("train")
    vols = [support.volume_mesh(s.mesh, planar_points(s.mesh)) for s in holes]
    made: list[int] = []
    real = support.DirichletSolver
    monkeypatch.setattr(support, "DirichletSolver", lambda *a, **k: made.append(1) or real(*a, **k))
    return holes, vols, made


def test_harmonic_increments_are_halved_only_where_a_cell_folds(counted_solves):
    from surrogates.mmgp import support

    _, vols, made = counted_solves
    same = support.incremental_harmonic_morph(vols[0], vols[0], 8, 1.0)
    assert len(made) == 1 and same.inversions.ok  # onto itself: one solve, the identity
    np.testing.assert_allclose(same.mesh.points, vols[0].points, atol=1e-12)
    halved = 0
    for v in vols[1:]:
        made.clear()
        whole = support.incremental_harmonic_morph(v, vols[0], 1, 1.0)  # one increment only
        assert len(made) == 1
        made.clear()
        r = support.incremental_harmonic_morph(v, vols[0], 8, 1.0)
        assert r.inversions.ok
        if whole.inversions.ok:  # nothing folds: the single increment is kept
            assert len(made) == 1
            np.testing.assert_allclose(r.mesh.points, whole.mesh.points)
        else:
            halved += 1
            assert len(made) > 1
    assert halved > 0  # the set has meshes that fold in one increment


def test_closed_form_variance_adds_the_mapped_pod_residual(plates, model):
    t = inside(plates.split("test")[0], plates.split("train"))
    full = model.predict(t.mesh, t.inputs)
    reloaded = with_config(model)
    np.testing.assert_allclose(reloaded.predict(t.mesh, t.inputs).std["sig22"], full.std["sig22"], rtol=1e-10)
    res = model._trained.residual_sd["sig22"]
    assert res.shape == (model._trained.support.n_nodes,) and res.max() > 0
    reloaded._trained.residual_sd = {}
    gp_only = reloaded.predict(t.mesh, t.inputs)
    back = model._trained.support.morph_and_transfer(t.mesh).from_support
    added = full.std["sig22"] ** 2 - gp_only.std["sig22"] ** 2
    np.testing.assert_allclose(added, (back @ res) ** 2, rtol=1e-6, atol=1e-12 * np.max(added))


def test_equal_increments_when_not_adaptive(counted_solves):
    from surrogates.mmgp import support

    holes, vols, made = counted_solves
    r = support.incremental_harmonic_morph(vols[1], vols[0], 4, 1.0, adaptive=False)
    assert len(made) == 4 and r.inversions.ok
    s = support.CommonSupport.build(holes[0].mesh, "harmonic", harmonic_steps=4, stiffening=1.0, adaptive=False)
    meta, arrays = s.state()
    assert support.CommonSupport.from_state(meta, arrays).adaptive is False
    meta.pop("adaptive")  # a model saved before adaptive increments existed
    assert support.CommonSupport.from_state(meta, arrays).adaptive is False


def test_geometry_inputs_restrict_a_field_gp_and_survive_save_load(plates, tmp_path):
    train = plates.split("train")
    with pytest.raises(SurrogateError, match="geometry_inputs names U9"):
        MMGP({**TINY, "geometry_inputs": {"U9": 1}}).fit(train)
    m = MMGP({**TINY, "geometry_inputs": {"U2": 1}}).fit(train)
    tr = m._trained
    b = tr.output_index("U2")
    n_geo = tr.geometry.n_modes
    assert n_geo > 1
    np.testing.assert_array_equal(tr.posterior.mask[b, :n_geo].numpy(), [1] + [0] * (n_geo - 1))
    assert tr.posterior.mask[tr.output_index("sig22")].numpy().all()
    t = inside(plates.split("test")[0], train)
    p = m.predict(t.mesh, t.inputs)
    m.save(tmp_path / "run")
    back = surrogates.load(tmp_path / "run")
    np.testing.assert_allclose(back.predict(t.mesh, t.inputs).fields["U2"], p.fields["U2"], rtol=1e-10)


# ------------------------------------------------------------------ elastic prior
PRIOR = {**TINY, "amplitude": "rms", "prior": "elastic", "prior_fields": ["U1", "U2", "sig22"]}


@pytest.fixture(scope="module")
def prior_model(plates):
    return MMGP(PRIOR).fit(plates.split("train"))


def test_elastic_prior_targets_are_ratios_and_shape_differences(plates, prior_model):
    """An elastic training sample has a zero correction: log-ratio 0, shape difference 0."""
    train = plates.split("train")
    tr = prior_model._trained
    assert prior_model.metrics["prior_fields"] == ["U1", "U2", "sig22"] and tr.prior_fields == ["U1", "U2", "sig22"]
    assert prior_model.metrics["time_prior_s"] > 0
    elastic = [i for i, s in enumerate(train) if np.abs(s.fields["p"]).max() == 0]
    plastic = [i for i, s in enumerate(train) if np.abs(s.fields["p"]).max() > 1e-4]
    assert elastic and plastic
    for name in ("U2", "sig22"):
        a, b = tr.output_index(name, "amplitude"), tr.output_index(name)
        log_ratio = tr.y_train[a][:, 0] * tr.y_scale[a][0] + tr.y_mean[a][0]
        coef = tr.y_train[b] * tr.y_scale[b] + tr.y_mean[b]
        zero = tr.fields[name].project(np.zeros((1, tr.support.n_nodes)))[0]
        for i in elastic:
            assert abs(log_ratio[i]) < 1e-9
            np.testing.assert_allclose(coef[i], zero, atol=1e-8 * np.abs(coef).max())
        assert all(abs(log_ratio[i]) > 1e-3 for i in plastic)
    # a field that is not a prior field keeps its own log-amplitude
    a = tr.output_index("sig11", "amplitude")
    assert (tr.y_train[a][:, 0] * tr.y_scale[a][0] + tr.y_mean[a][0]).min() > 10  # log of ~MPa stresses


def test_elastic_prior_prediction_is_amplitude_times_elastic_shape_plus_correction(plates, prior_model, tmp_path):
    from physics.elastic_limit import ElasticLimit
    from surrogates.mmgp.model import field_coefficients, support_amplitude

    train = plates.split("train")
    tr = prior_model._trained
    t = inside(plates.split("test")[0], train)
    p = prior_model.predict(t.mesh, t.inputs)
    assert "prior" in p.timings
    mm = tr.support.morph_and_transfer(t.mesh, back=True)
    u_el = ElasticLimit(train.manifest.provenance["recipe"]).solve(t.mesh, t.inputs)["U2"]
    a_el = support_amplitude(tr, "rms", "U2", mm.to_support @ u_el)
    x = np.array([[*tr.geometry.project(flatten(mm.to_support @ t.mesh.points[:, :2]))[0],
                   *(t.inputs[n] for n in prior_model.problem.scalar_names)]])
    means, _, var = tr.gp_predict((x - tr.x_mean) / tr.x_std)
    coef, _, (m, v) = field_coefficients(tr, means, var)["U2"]
    red = tr.fields["U2"]
    expected = np.exp(m + v / 2) * a_el * (u_el / a_el + mm.from_support @ (red.mean + coef @ red.modes))
    np.testing.assert_allclose(p.fields["U2"], expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
    assert (p.std["U2"] >= 0).all() and p.std["U2"][t.mesh.group_nodes("top")].min() > 0  # 0 where clamped
    # the model folder carries the recipe: reloaded, it solves the prior without the dataset
    prior_model.save(tmp_path / "run")
    back = surrogates.load(tmp_path / "run")
    q = back.predict(t.mesh, t.inputs)
    np.testing.assert_allclose(q.fields["U2"], p.fields["U2"], rtol=1e-10)
    np.testing.assert_allclose(q.std["sig22"], p.std["sig22"], rtol=1e-10)


def test_elastic_prior_recovers_an_elastic_sample_better_than_the_plain_model(plates, prior_model):
    train = plates.split("train")
    plain = MMGP({**TINY, "amplitude": "rms"}).fit(train)
    s = next(s for s in train if np.abs(s.fields["p"]).max() == 0)
    e_prior = rrmse(s.fields["U1"], prior_model.predict(s.mesh, s.inputs).fields["U1"])
    e_plain = rrmse(s.fields["U1"], plain.predict(s.mesh, s.inputs).fields["U1"])
    assert e_prior < 0.5 * e_plain and e_prior < 0.01


def test_elastic_prior_errors_name_the_cause(plates, tmp_path_factory):
    from surrogates.mmgp.prior import build_prior, solve_on_mesh

    train = plates.split("train")
    with pytest.raises(SurrogateError, match="'p', which the elastic prior does not provide"):
        MMGP({**PRIOR, "prior_fields": ["p"]}).fit(train)
    with pytest.raises(SurrogateError, match="'V', which is not an output field"):
        MMGP({**PRIOR, "prior_fields": ["V"]}).fit(train)
    with pytest.raises(SurrogateError, match="prior field.* U1 have no amplitude"):
        MMGP({**PRIOR, "prior_fields": ["U1"], "amplitude_fields": ["U2"]}).fit(train)
    bare = train.subset(train.ids)
    bare.manifest.provenance = {}
    with pytest.raises(SurrogateError, match="needs the recipe that generated dataset.*dataset.yaml"):
        MMGP(PRIOR).fit(bare)
    holes = tiny(tmp_path_factory.getbasetemp(), "holeplate2d")
    with pytest.raises(SurrogateError, match="is linear elastic.*not a surrogate"):
        MMGP({**PRIOR, "prior_fields": None}).fit(holes.split("train"))
    with pytest.raises(ValidationError, match="prior 'elastic' needs amplitude"):
        MMGPConfig(prior="elastic")
    with pytest.raises(ValidationError, match="needs a prior"):
        MMGPConfig(prior_fields=["U1"])
    limit = build_prior(train.manifest.provenance["recipe"])
    mesh = train[0].mesh.without_data()
    mesh.cell_sets.pop("top")
    with pytest.raises(InputError, match="elastic prior on the mesh to predict.*lacks group.*top"):
        solve_on_mesh(limit, mesh, train[0].inputs, ["U2"])
    default = MMGP({**PRIOR, "prior_fields": None}).fit(train)  # every provided field with an amplitude
    assert default.metrics["prior_fields"] == ["U1", "U2", "sig11", "sig22", "sig12", "von_mises"]
    # through predict: the prior's error comes back from its worker thread as the InputError
    free = MMGP({**PRIOR, "landmarks": "none"}).fit(train)  # a morph that needs no group
    with pytest.raises(InputError, match="elastic prior on the mesh to predict.*lacks group.*top"):
        free.predict(mesh, train[0].inputs)
