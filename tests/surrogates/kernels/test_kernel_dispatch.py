"""Backend selection, the public API surface and the docstring examples."""
from __future__ import annotations

import doctest
import importlib
import importlib.util

import pytest
import torch

import surrogates.kernels as kernels
from surrogates.kernels import BackendUnavailableError, dispatch, resolve_backend


def test_auto_is_torch_on_cpu():
    assert resolve_backend("auto", "cpu") == "torch"
    assert resolve_backend("torch", torch.device("cpu")) == "torch"


def test_auto_is_triton_on_cuda_when_installed(monkeypatch):
    monkeypatch.setattr(dispatch, "triton_installed", lambda: True)
    assert resolve_backend("auto", "cuda") == "triton"
    monkeypatch.setattr(dispatch, "triton_installed", lambda: False)
    assert resolve_backend("auto", "cuda") == "torch"


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.setattr(dispatch, "triton_installed", lambda: True)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(BackendUnavailableError, match="needs CUDA tensors, got tensors on cpu"):
        resolve_backend("triton", "cpu")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert resolve_backend("triton", "cpu") == "triton"
    assert resolve_backend("auto", "cpu") == "torch"  # auto never picks the interpreter


def test_missing_triton_names_the_package(monkeypatch):
    monkeypatch.setattr(dispatch, "triton_installed", lambda: False)
    with pytest.raises(BackendUnavailableError, match="pip install triton"):
        resolve_backend("triton", "cuda")


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(ValueError, match="one of auto, torch, triton; got 'cpu'"):
        resolve_backend("cpu", "cpu")
    with pytest.raises(ValueError, match="kinds: aggregate, attention"):
        dispatch.load_ops("conv", "torch")


def test_both_backends_expose_the_same_functions():
    """Compare function names by parsing the Triton modules' source (no triton import)."""
    import ast
    from pathlib import Path

    for kind, names in {
        "aggregate": {"gather_forward", "gather_backward", "messages_forward", "messages_backward"},
        "attention": {"attention_forward", "attention_backward"},
    }.items():
        torch_ops = dispatch.load_ops(kind, "torch")
        assert names <= set(dir(torch_ops))
        spec = importlib.util.find_spec(f"surrogates.kernels.{kind}_triton")
        tree = ast.parse(Path(spec.origin).read_text())
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert names <= defined


def test_only_the_triton_modules_import_triton():
    """Importing the package must not import triton (it loads on first Triton use)."""
    import ast
    from pathlib import Path

    for path in Path(kernels.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                    for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
                     if isinstance(n, ast.ImportFrom)}
        assert ("triton" in imported) == path.stem.endswith("_triton"), path.name


@pytest.mark.parametrize(
    "module", ["", ".csr", ".aggregate", ".attention", ".propagate"], ids=lambda m: m or "init"
)
def test_docstring_examples(module):
    mod = importlib.import_module("surrogates.kernels" + module)
    result = doctest.testmod(mod, extraglobs={"CSRGraph": kernels.CSRGraph})
    assert result.attempted > 0 and result.failed == 0
