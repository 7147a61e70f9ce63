"""Training checkpoints: one safetensors file, written atomically, no pickle.

A checkpoint holds everything a killed training needs to continue exactly as if it
had not stopped: the network weights, the AdamW state, the epoch and step counters,
the metrics so far, and every random number generator the training reads (torch's
global generator, CUDA's, numpy's global one, Python's ``random``, and the generator
of the data order). Tensors go in the safetensors body; the rest is JSON in its
metadata. The file is written under a temporary name in the same folder, flushed and
``fsync``-ed, then renamed over the old one with :func:`os.replace`: a kill at any
moment leaves either the previous or the new checkpoint, never half of one.
"""
from __future__ import annotations

import json
import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["TrainState", "capture_rng", "load_checkpoint", "restore_rng", "save_checkpoint"]

_META_KEY = "train_state"


@dataclass
class TrainState:
    """What a checkpoint restores.

    Attributes
    ----------
    epoch : number of completed epochs.
    step : number of completed optimiser steps.
    done : True when the member finished all its epochs.
    model : parameter and buffer name -> tensor.
    optimizer : the optimiser's ``state_dict()`` (tensors inside are restored as tensors).
    rng : generator states from :func:`capture_rng`.
    order_rng : (bytes as uint8 tensor) state of the data-order generator.
    history : one dict per completed epoch (the metrics rows).
    config : the training configuration (checked on resume).
    """

    epoch: int
    step: int
    done: bool
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rng: dict[str, Any]
    order_rng: torch.Tensor
    history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def capture_rng() -> dict[str, Any]:
    """States of torch's (CPU and CUDA), numpy's and Python's global generators."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "name": np_state[0],
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                  "cached_gaussian": float(np_state[4])},
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Set the global generators to a state from :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["key"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached_gaussian"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: TrainState) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file + ``os.replace``)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in state.model.items()}
    opt_meta = _split_tensors(state.optimizer, "optim", tensors)
    rng = dict(state.rng)
    tensors["rng.torch"] = rng.pop("torch")
    tensors["rng.numpy"] = rng["numpy"]["key"]
    rng["numpy"] = {k: v for k, v in rng["numpy"].items() if k != "key"}
    for i, s in enumerate(rng.pop("cuda", [])):
        tensors[f"rng.cuda.{i}"] = s
    tensors["rng.order"] = state.order_rng
    meta = {"epoch": state.epoch, "step": state.step, "done": state.done, "optimizer": opt_meta,
            "rng": {**rng, "python": [rng["python"][0], list(rng["python"][1]), rng["python"][2]]},
            "history": state.history, "config": state.config}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={_META_KEY: json.dumps(meta)})
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: Path) -> TrainState:
    """Read a checkpoint written by :func:`save_checkpoint`."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()[_META_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    model = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    optimizer = _join_tensors(meta["optimizer"], "optim", tensors)
    rng = dict(meta["rng"])
    rng["torch"] = tensors["rng.torch"]
    rng["numpy"] = {**rng["numpy"], "key": tensors["rng.numpy"]}
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.split(".")[-1]))
    if cuda:
        rng["cuda"] = [tensors[k] for k in cuda]
    return TrainState(meta["epoch"], meta["step"], meta["done"], model, optimizer, rng,
                      tensors["rng.order"], meta["history"], meta["config"])


def _split_tensors(obj: Any, prefix: str, out: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested dict/list by a reference ``{"__tensor__": key}``."""
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[_key(k), _split_tensors(v, f"{prefix}.{k}", out)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_split_tensors(v, f"{prefix}.{i}", out) for i, v in enumerate(obj)]
    return obj


def _join_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {_unkey(k): _join_tensors(v, prefix, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_join_tensors(v, prefix, tensors) for v in obj]
    return obj


def _key(k: Any) -> Any:
    """Dict keys of an optimizer state are ints (parameter ids) or strings."""
    return {"int": k} if isinstance(k, int) else k


def _unkey(k: Any) -> Any:
    return k["int"] if isinstance(k, dict) else k
