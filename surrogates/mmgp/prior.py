"""A physics prior for MMGP: the linear elastic limit of the dataset's recipe.

With ``prior: elastic`` each field ``u`` of ``prior_fields`` is learnt relative to
the elastic solution ``u_el`` of the same mesh and inputs
(:class:`physics.elastic_limit.ElasticLimit`): with ``a`` and ``a_el`` their
amplitudes on the common support,

- the log-amplitude GP learns ``log(a / a_el)`` (zero for an elastic sample);
- the POD and its GP learn the shape correction ``u / a - u_el / a_el`` on the support;
- a prediction is ``a (u_el / a_el + W_back (shape correction))``, ``u_el`` solved on
  the mesh's own nodes.

This module builds the prior from a dataset and checks the field names; the model
(:mod:`.model`) does the arithmetic.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mesh import Mesh
from mesh.dataset import Dataset, Sample

from ..errors import InputError, SurrogateError


def dataset_recipe(dataset: Dataset) -> dict[str, Any]:
    """The generating recipe stored in ``dataset``'s manifest (``provenance.recipe``).

    Raises
    ------
    SurrogateError
        The dataset has none (imported or hand-made datasets), naming its manifest.
    """
    recipe = (dataset.manifest.provenance or {}).get("recipe")
    if not isinstance(recipe, dict):
        raise SurrogateError(f"prior 'elastic' needs the recipe that generated dataset '{dataset.name}' "
                             f"(provenance.recipe in {dataset.root / 'dataset.yaml'}); this dataset has "
                             "none: train without a prior")
    return recipe


def build_prior(recipe: dict[str, Any]):
    """The :class:`~physics.elastic_limit.ElasticLimit` of ``recipe``.

    Raises
    ------
    SurrogateError
        The recipe is invalid, has no elastic limit (the reason is given), or is
        itself linear elastic (its limit would be the solution).
    """
    from physics.elastic_limit import ElasticLimit
    from physics.errors import PhysicsError

    try:
        limit = ElasticLimit(recipe)
    except (PhysicsError, ValueError) as exc:
        raise SurrogateError(f"prior 'elastic': {exc}") from None
    if limit.recipe.physics.solver == "elasticity":
        raise SurrogateError(f"prior 'elastic': recipe '{limit.recipe.name}' is linear elastic, so its elastic "
                             "limit is its own solution: the model would be the FEM solver, not a surrogate; "
                             "train without a prior")
    return limit


def prior_field_names(requested: list[str] | None, provided: list[str], fields: list[str]) -> list[str]:
    """The output fields learnt as corrections of the prior, in output order.

    Parameters
    ----------
    requested : ``config.prior_fields`` (None: every output field the prior provides).
    provided : fields the prior solves for; fields : the output fields.

    Raises
    ------
    SurrogateError
        A requested name that is not an output field, or that the prior does not provide.
    """
    names = [n for n in fields if n in provided] if requested is None else list(requested)
    for n in names:
        if n not in fields:
            raise SurrogateError(f"prior_fields names '{n}', which is not an output field "
                                 f"(the output fields are {', '.join(fields)})")
        if n not in provided:
            raise SurrogateError(f"prior_fields names '{n}', which the elastic prior does not provide "
                                 f"(it provides {', '.join(provided)})")
    return [n for n in fields if n in names]


def training_prior(prior, names: list[str]):
    """Callable ``sample -> {field: (N,) elastic solution}`` for the training samples.

    Raises SurrogateError naming the sample when its solve fails (e.g. a missing group).
    """
    from physics.errors import PhysicsError

    def solve(sample: Sample) -> dict[str, np.ndarray]:
        try:
            out = prior.solve(sample.mesh, sample.inputs)
        except (PhysicsError, ValueError) as exc:
            raise SurrogateError(f"training sample '{sample.id}': elastic prior: {exc}") from None
        return {n: out[n] for n in names}

    return solve


def solve_on_mesh(prior, mesh: Mesh, inputs: dict[str, float], names: list[str]) -> dict[str, np.ndarray]:
    """The prior's fields ``names`` on a mesh to predict: name -> (N,) values.

    Raises
    ------
    InputError
        The solve fails (a group of the recipe's boundary conditions missing from the
        mesh, a missing input), with the reason.
    SurrogateError
        The elastic solution is not finite.
    """
    from physics.errors import PhysicsError

    try:
        out = prior.solve(mesh, inputs)
    except (PhysicsError, ValueError) as exc:
        raise InputError(f"elastic prior on the mesh to predict: {exc}") from None
    bad = [n for n in names if not np.all(np.isfinite(out[n]))]
    if bad:
        raise SurrogateError(f"the elastic prior's {', '.join(bad)} is not finite on this mesh")
    return {n: out[n] for n in names}


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """(fn(*args), its wall time in s): for a prior solved in a worker thread."""
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


__all__ = ["build_prior", "dataset_recipe", "prior_field_names", "solve_on_mesh", "timed", "training_prior"]
