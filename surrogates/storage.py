"""The model folder: ``model.yaml`` (family, config, problem, metrics) + ``weights.safetensors``.

Loading needs no training code path and unpickles nothing: metadata is YAML, arrays
are safetensors. The folder is written under a temporary name and renamed into place.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from mesh.problem import ProblemDefinition

from .errors import ModelFormatError

if TYPE_CHECKING:
    from .interface import Surrogate

FORMAT = "mesh-surrogates-model"
FORMAT_VERSION = 1
META = "model.yaml"
WEIGHTS = "weights.safetensors"


def write_model_dir(model: "Surrogate", path: Path) -> Path:
    """Write ``model`` into the run folder ``path`` (other files there, e.g. checkpoints, are kept)."""
    from safetensors.numpy import save_file

    if model.problem is None:
        raise ModelFormatError("cannot save an untrained model")
    meta, arrays = model.state()
    doc = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "family": model.family,
        "config": model.config.model_dump(mode="json"),
        "problem": model.problem.model_dump(mode="json", exclude_defaults=True),
        "input_ranges": {k: list(v) for k, v in model.input_ranges.items()},
        "metrics": _plain(model.metrics), "state": _plain(meta),
    }
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-model-", dir=path))
    try:
        save_file({k: np.ascontiguousarray(np.asarray(v)) for k, v in arrays.items()}, str(tmp / WEIGHTS))
        (tmp / META).write_text(yaml.safe_dump(doc, sort_keys=False, width=100))
        # model.yaml last: its presence with a matching weights file marks a complete model
        (path / META).unlink(missing_ok=True)
        os.replace(tmp / WEIGHTS, path / WEIGHTS)
        os.replace(tmp / META, path / META)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def read_model_dir(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a model folder: (the model.yaml document, the named arrays).

    Raises
    ------
    ModelFormatError
        Missing folder or file, not a model folder, or another format version.
    """
    from safetensors.numpy import load_file

    path = Path(path)
    if not (path / META).exists():
        raise ModelFormatError(f"'{path}' is not a model folder: it has no {META}")
    try:
        doc = yaml.safe_load((path / META).read_text())
    except yaml.YAMLError as exc:
        raise ModelFormatError(f"'{path / META}' is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFormatError(f"'{path / META}' is not a model description of this project")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(
            f"'{path}' was written in model format version {doc.get('format_version')}; this "
            f"version reads version {FORMAT_VERSION}: retrain the model or use a matching release")
    if not (path / WEIGHTS).exists():
        raise ModelFormatError(f"'{path}' has no {WEIGHTS}: the folder is incomplete")
    try:
        arrays = load_file(str(path / WEIGHTS))
    except Exception as exc:  # safetensors raises its own error types on corrupt files
        raise ModelFormatError(f"'{path / WEIGHTS}' cannot be read: {exc}") from None
    return doc, arrays


def problem_of(doc: dict) -> ProblemDefinition:
    """The problem definition stored in a model.yaml document."""
    return ProblemDefinition.model_validate(doc["problem"])


def _plain(obj):
    """Numbers, strings, lists and dicts only (numpy scalars/arrays converted)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
