"""Create and load surrogates by family name."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .errors import ModelFormatError, SurrogateError
from .interface import Surrogate

#: family name -> "module:Class"; modules are imported only when the family is used
FAMILIES: dict[str, str] = {
    "mmgp": "surrogates.mmgp.model:MMGP",
    "meshgraphnet": "surrogates.meshgraphnet.model:MeshGraphNet",
    "graph-transformer": "surrogates.transformer.model:GraphTransformer",
}


def family_class(name: str) -> type[Surrogate]:
    """The Surrogate subclass of family ``name``.

    Raises
    ------
    SurrogateError
        Unknown family (the message lists the known ones) or a family not installed.
    """
    if name not in FAMILIES:
        raise SurrogateError(f"unknown model family '{name}'; families: {', '.join(FAMILIES)}")
    module, cls = FAMILIES[name].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(module.rsplit(".", 1)[0]):
            raise SurrogateError(f"model family '{name}' is not built yet") from None
        raise
    return getattr(mod, cls)


def create(name: str, config: dict[str, Any] | None = None, **options: Any) -> Surrogate:
    """A new, untrained surrogate of family ``name`` with the given configuration."""
    return family_class(name)(config, **options)


def load(path: str | Path) -> Surrogate:
    """Load a trained surrogate from its model folder (any family)."""
    from .storage import problem_of, read_model_dir

    doc, arrays = read_model_dir(Path(path))
    cls = family_class(doc.get("family", ""))
    try:
        config = cls.config_class.model_validate(doc.get("config", {}))
    except Exception as exc:
        raise ModelFormatError(f"'{path}': its configuration does not fit this version: {exc}") from None
    model = cls.from_state(config, doc.get("state", {}), arrays)
    model.problem = problem_of(doc)
    model.input_ranges = {k: tuple(v) for k, v in doc.get("input_ranges", {}).items()}
    model.metrics = doc.get("metrics", {})
    return model
