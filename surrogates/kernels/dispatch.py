"""Backend selection: Triton kernels on CUDA, torch kernels otherwise.

Triton is imported only when a Triton backend is actually used. Setting the
environment variable ``TRITON_INTERPRET=1`` *before* the first Triton kernel module is
imported makes the Triton kernels run on CPU tensors through Triton's interpreter
(slow; meant for tests). ``backend="auto"`` never picks the interpreter.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType
from typing import Literal

import torch

from .errors import BackendUnavailableError

Backend = Literal["auto", "torch", "triton"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "triton")

_MODULES = {
    ("aggregate", "torch"): "surrogates.kernels.aggregate_torch",
    ("aggregate", "triton"): "surrogates.kernels.aggregate_triton",
    ("attention", "torch"): "surrogates.kernels.attention_torch",
    ("attention", "triton"): "surrogates.kernels.attention_triton",
}


def triton_installed() -> bool:
    """Return whether the ``triton`` package can be imported (without importing it)."""
    return importlib.util.find_spec("triton") is not None


def triton_interpreter_enabled() -> bool:
    """Return whether ``TRITON_INTERPRET=1`` is set in the environment."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def resolve_backend(backend: str, device: torch.device | str) -> str:
    """Pick the concrete backend for tensors on ``device``.

    Parameters
    ----------
    backend : {"auto", "torch", "triton"}
        ``"auto"``: Triton on CUDA when installed, torch otherwise.
        ``"torch"``: always the torch kernels. ``"triton"``: the Triton kernels; needs
        CUDA tensors, or CPU tensors with ``TRITON_INTERPRET=1``.
    device : torch.device or str
        Device of the input tensors.

    Returns
    -------
    str
        ``"torch"`` or ``"triton"``.

    Raises
    ------
    ValueError
        If ``backend`` is not one of :data:`BACKENDS`.
    BackendUnavailableError
        If ``"triton"`` was asked for and cannot run on ``device``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    device = torch.device(device)
    if backend == "torch":
        return "torch"
    if backend == "auto":
        return "triton" if device.type == "cuda" and triton_installed() else "torch"
    if not triton_installed():
        raise BackendUnavailableError(
            "backend='triton' needs the triton package (pip install triton); "
            "use backend='torch' or 'auto'"
        )
    if device.type != "cuda" and not triton_interpreter_enabled():
        raise BackendUnavailableError(
            f"backend='triton' needs CUDA tensors, got tensors on {device}; set "
            "TRITON_INTERPRET=1 before importing triton to run it on CPU (slow), or use "
            "backend='torch'"
        )
    return "triton"


def load_ops(kind: Literal["aggregate", "attention"], backend: str) -> ModuleType:
    """Import and return the kernel module for ``kind`` on a resolved ``backend``.

    Parameters
    ----------
    kind : {"aggregate", "attention"}
        Which family of kernels.
    backend : {"torch", "triton"}
        A backend returned by :func:`resolve_backend`.

    Returns
    -------
    module
        Exposes the forward/backward functions of that family.
    """
    try:
        name = _MODULES[(kind, backend)]
    except KeyError:
        raise ValueError(
            f"no kernels for kind={kind!r}, backend={backend!r}; kinds: aggregate, "
            "attention; backends: torch, triton"
        ) from None
    return importlib.import_module(name)
