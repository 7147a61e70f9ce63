"""The contract every surrogate family honours (one suite, parametrised over families).

fit on a tiny dataset -> predict on a mesh it has never seen (own node count and
connectivity) -> save/load round trip gives identical predictions -> bad inputs give
clear errors. Add a family by appending to ``FAMILIES`` (name, tiny configuration).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

import surrogates
from surrogates import InputError, ModelFormatError, SurrogateError

#: (family name, tiny configuration that trains in seconds on 6 coarse samples)
FAMILIES = [
    pytest.param(("mmgp", {"n_modes_geometry": 4, "n_modes_fields": 4,
                           "gp": {"restarts": 2, "max_iter": 40}}), id="mmgp"),
]


def tiny_plate2d(root):
    """8 coarse plate2d samples (6 train, 2 test), made once per session (resumed after)."""
    from physics.generate import generate
    from physics.recipes import RECIPES_DIR, load_recipe

    raw = yaml.safe_load((RECIPES_DIR / "plate2d.yaml").read_text())
    raw["geometry"]["mesh_size"] = 0.12
    raw["physics"]["load"]["steps"] = 2
    return generate(load_recipe(raw), 8, root / "plate2d_tiny", seed=1, workers=0, test_fraction=0.25)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return tiny_plate2d(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module", params=FAMILIES)
def trained(request, dataset):
    name, config = request.param
    model = surrogates.create(name, config)
    model.fit(dataset.split("train"))
    return model


@pytest.fixture(scope="module")
def unseen(dataset):
    """A test sample: its mesh was never seen in training."""
    sample = dataset.split("test")[0]
    train = dataset.split("train")
    assert sample.n_points not in {e.n_points for e in train.entries}
    x = train.inputs_array()  # inputs moved inside the training range: no extrapolation warning
    inputs = {n: float(np.clip(sample.inputs[n], x[:, i].min(), x[:, i].max()))
              for i, n in enumerate(train.problem.scalar_names)}
    return dataclasses.replace(sample, inputs=inputs)


def test_predicts_every_output_on_an_unseen_mesh(trained, dataset, unseen):
    pred = trained.predict(unseen.mesh, unseen.inputs)
    assert pred.mesh is unseen.mesh
    assert set(pred.fields) == set(dataset.problem.outputs)
    for name, value in pred.fields.items():
        assert value.shape == unseen.fields[name].shape, name
        assert np.isfinite(value).all()
        if name in pred.std:
            assert pred.std[name].shape == value.shape and (pred.std[name] >= 0).all()
    assert set(pred.scalars) == set(dataset.problem.output_scalars)
    assert pred.uncertainty and pred.timings.get("total", 0) > 0
    # the prediction is informative: the largest von Mises stress within a factor 2 (the
    # inputs were moved into the training range, so only roughly)
    ratio = pred.fields["von_mises"].max() / unseen.fields["von_mises"].max()
    assert 0.5 < ratio < 2.0


def test_save_load_round_trip_is_identical(trained, unseen, tmp_path):
    before = trained.predict(unseen.mesh, unseen.inputs)
    path = trained.save(tmp_path / "model")
    loaded = surrogates.load(path)
    assert type(loaded) is type(trained) and loaded.config == trained.config
    after = loaded.predict(unseen.mesh, unseen.inputs)
    for kind in ("fields", "std", "lower", "upper"):
        a, b = getattr(before, kind), getattr(after, kind)
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{kind}[{name}]")
    assert before.scalars == after.scalars and before.scalars_std == after.scalars_std


def test_missing_unknown_and_nonfinite_inputs_are_refused(trained, unseen):
    inputs = dict(unseen.inputs)
    name = next(iter(inputs))
    with pytest.raises(InputError, match=f"missing input scalar.*{name}"):
        trained.predict(unseen.mesh, {k: v for k, v in inputs.items() if k != name})
    with pytest.raises(InputError, match="unknown input scalar.*bogus"):
        trained.predict(unseen.mesh, {**inputs, "bogus": 1.0})
    with pytest.raises(InputError, match="not a finite number"):
        trained.predict(unseen.mesh, {**inputs, name: float("nan")})


def test_input_outside_the_training_range_warns_with_the_range(trained, unseen):
    name = next(iter(unseen.inputs))
    lo, hi = trained.input_ranges[name]
    with pytest.warns(UserWarning, match=rf"outside the training range \[{lo:g}, {hi:g}\]"):
        trained.predict(unseen.mesh, {**unseen.inputs, name: hi + 10 * (hi - lo)})


def test_mesh_of_another_dimension_is_refused(trained, unseen, tet_box_mesh):
    with pytest.raises(InputError, match="3D"):
        trained.predict(tet_box_mesh, unseen.inputs)


def test_untrained_model_and_incompatible_folder_are_refused(trained, unseen, tmp_path):
    fresh = surrogates.create(trained.family, trained.config)
    with pytest.raises(SurrogateError, match="not trained"):
        fresh.predict(unseen.mesh, unseen.inputs)
    path = trained.save(tmp_path / "model")
    doc = yaml.safe_load((path / "model.yaml").read_text())
    doc["format_version"] = 999
    (path / "model.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ModelFormatError, match="version 999"):
        surrogates.load(path)


def test_prediction_never_returns_nan_silently(trained, unseen):
    from surrogates.prediction import Prediction

    bad = Prediction(unseen.mesh, fields={"U1": np.full(unseen.n_points, np.nan)})
    with pytest.raises(SurrogateError, match="NaN"):
        bad.check_finite()
    assert all(np.isfinite(v).all() for v in trained.predict(unseen.mesh, unseen.inputs).fields.values())


@pytest.mark.parametrize("path", sorted((__import__("pathlib").Path(__file__).resolve().parents[2]
                                        / "data" / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_model_configs_are_valid(path):
    """Every settings file shipped in data/configs names a family and passes its validation."""
    raw = yaml.safe_load(path.read_text())
    family = raw.pop("model")
    model = surrogates.create(family, raw)
    dumped = model.config.model_dump()
    assert {k: dumped[k] for k in raw} == raw  # every key taken as written, none dropped or coerced
