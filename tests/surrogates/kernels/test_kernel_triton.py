"""Triton kernels against PyG references and the torch kernels, values and gradients.

Without CUDA the kernels run through Triton's interpreter, which must be switched on
(``TRITON_INTERPRET=1``) before any kernel is defined. So, in a normal CPU run, this
module's only active test re-runs the module in a subprocess with that variable set,
leaving the parent process (and every other test in it) untouched; the other tests
are skipped in the parent and run in the child. With ``TRITON_INTERPRET=1`` already
set, or on a CUDA machine, they run in-process.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogates.kernels import CSRGraph, aggregate, aggregate_messages, graph_attention

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
RUN_HERE = INTERPRET or torch.cuda.is_available()
DEVICE = "cpu" if INTERPRET or not torch.cuda.is_available() else "cuda"
REDUCES = ("sum", "mean", "max")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("triton") is None, reason="triton is not installed"
)
in_child = pytest.mark.skipif(
    not RUN_HERE, reason="runs in a TRITON_INTERPRET=1 subprocess (test_suite_under_interpreter)"
)


@pytest.mark.skipif(RUN_HERE, reason="the Triton tests run in this process")
def test_suite_under_interpreter():
    repo = Path(__file__).resolve().parents[3]
    env = dict(os.environ, TRITON_INTERPRET="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__]
    res = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    report = res.stdout[-6000:] + res.stderr[-3000:]
    assert res.returncode == 0, report
    summary = res.stdout.strip().splitlines()[-1]
    # everything ran except this runner and the compile-only checks
    assert re.search(r"\d+ passed", summary) and f"{1 + len(_AOT)} skipped" in summary, report


def _hub_graph(seed: int = 0) -> tuple[torch.Tensor, int]:
    """34 edges into node 0 (two tiles of 32), duplicates, self loops, isolated node 7."""
    gen = torch.Generator().manual_seed(seed)
    hub = torch.stack([torch.randint(0, 7, (34,), generator=gen), torch.zeros(34).long()])
    rand = torch.randint(1, 7, (2, 10), generator=gen)
    return torch.cat([hub, rand, torch.tensor([[5, 5], [6, 6]])], 1), 8


def _graph(edge_index: torch.Tensor, n: int) -> CSRGraph:
    return CSRGraph.from_edge_index(edge_index, num_nodes=n).to(DEVICE)


def _grads(out, inputs, go):
    return torch.autograd.grad(out, inputs, go, allow_unused=True)


def _assert_all_close(got, want, **tol):
    for a, b in zip(got, want):
        b = torch.zeros_like(a) if b is None else b
        torch.testing.assert_close(a.cpu(), b.cpu(), **tol)


@in_child
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize(
    "weighted, deterministic", [(False, True), (True, True), (True, False)],
    ids=["plain", "weighted", "weighted-atomic"],
)
def test_aggregate_matches_pyg(ref, reduce, weighted, deterministic):
    edge_index, n = _hub_graph()
    e, f = edge_index.shape[1], 70  # two feature blocks of 64
    g = _graph(edge_index, n)
    x = ref.randn(0, n, f).requires_grad_()
    w = ref.randn(1, e).requires_grad_() if weighted else None
    inputs = (x, w) if weighted else (x,)
    xd = x.to(DEVICE)
    wd = w.to(DEVICE) if weighted else None
    out = aggregate(xd, g, reduce, wd, backend="triton", deterministic=deterministic)
    expected = ref.aggregate(x, edge_index, reduce, w)
    _assert_all_close([out], [expected], rtol=1e-12, atol=1e-12)
    go = ref.randn(2, n, f)
    _assert_all_close(_grads(out, inputs, go.to(DEVICE)), _grads(expected, inputs, go),
                      rtol=1e-11, atol=1e-11)


@in_child
@pytest.mark.parametrize("reduce", REDUCES)
def test_messages_match_pyg(ref, reduce):
    edge_index, n = _hub_graph(1)
    m = ref.randn(3, edge_index.shape[1], 5).requires_grad_()
    out = aggregate_messages(m.to(DEVICE), _graph(edge_index, n), reduce, backend="triton")
    expected = ref.aggregate_messages(m, edge_index, reduce, n)
    _assert_all_close([out], [expected], rtol=1e-12, atol=1e-12)
    go = ref.randn(4, n, 5)
    _assert_all_close(_grads(out, (m,), go.to(DEVICE)), _grads(expected, (m,), go))


@in_child
@pytest.mark.parametrize(
    "deterministic, with_bias", [(True, False), (True, True), (False, True)],
    ids=["plain", "bias", "bias-atomic"],
)
def test_attention_matches_pyg(ref, deterministic, with_bias):
    edge_index, n = _hub_graph(2)
    h, d = 2, 20  # BLOCK_D = 32 > d: masked feature lanes
    q, k, v = (ref.randn(i, n, h, d).requires_grad_() for i in range(3))
    bias = ref.randn(3, edge_index.shape[1], h).requires_grad_() if with_bias else None
    inputs = (q, k, v) + ((bias,) if with_bias else ())
    dev = [t.to(DEVICE) for t in inputs] + ([] if with_bias else [None])
    out = graph_attention(*dev[:3], _graph(edge_index, n), dev[3], backend="triton",
                          deterministic=deterministic)
    expected = ref.attention_pyg(q, k, v, edge_index, bias)
    _assert_all_close([out], [expected], rtol=1e-11, atol=1e-12)
    go = ref.randn(5, n, h, d)
    _assert_all_close(_grads(out, inputs, go.to(DEVICE)), _grads(expected, inputs, go),
                      rtol=1e-10, atol=1e-11)


@in_child
@settings(max_examples=5, deadline=None)
@given(data=st.data(), reduce=st.sampled_from(REDUCES), f=st.integers(1, 4))
def test_aggregate_random_graphs_match_torch_backend(data, ref, reduce, f):
    edge_index, n = data.draw(ref.graphs(max_nodes=8, max_edges=24))
    g = CSRGraph.from_edge_index(edge_index, num_nodes=n)
    x = ref.randn(6, n, f).requires_grad_()
    w = ref.randn(7, edge_index.shape[1]).requires_grad_()
    go = ref.randn(8, n, f)
    results = []
    for backend, graph in (("torch", g), ("triton", g.to(DEVICE))):
        out = aggregate(x.to(DEVICE) if backend == "triton" else x, graph, reduce,
                        w.to(DEVICE) if backend == "triton" else w, backend=backend)
        dev_go = go.to(out.device)
        results.append((out, *_grads(out, (x, w), dev_go)))
    _assert_all_close(results[1], results[0], rtol=1e-12, atol=1e-12)


@in_child
@settings(max_examples=5, deadline=None)
@given(data=st.data(), h=st.integers(1, 2), d=st.integers(1, 5))
def test_attention_random_graphs_match_torch_backend(data, ref, h, d):
    edge_index, n = data.draw(ref.graphs(max_nodes=8, max_edges=24))
    g = CSRGraph.from_edge_index(edge_index, num_nodes=n)
    inputs = [ref.randn(i, n, h, d).requires_grad_() for i in range(3)]
    inputs.append(ref.randn(3, edge_index.shape[1], h).requires_grad_())
    go = ref.randn(4, n, h, d)
    results = []
    for backend, graph in (("torch", g), ("triton", g.to(DEVICE))):
        args = [t.to(DEVICE) if backend == "triton" else t for t in inputs]
        out = graph_attention(*args[:3], graph, args[3], backend=backend)
        results.append((out, *_grads(out, inputs, go.to(out.device))))
    _assert_all_close(results[1], results[0], rtol=1e-11, atol=1e-12)


@in_child
@pytest.mark.parametrize("reduce", REDUCES)
def test_aggregate_gradcheck(four_node_graph, ref, reduce):
    _, g = four_node_graph
    g = g.to(DEVICE)
    x = ref.randn(0, 5, 3).to(DEVICE).requires_grad_()
    w = ref.randn(1, 6).to(DEVICE).requires_grad_()
    m = ref.randn(2, 6, 3).to(DEVICE).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, w: aggregate(x, g, reduce, w, backend="triton"), (x, w), fast_mode=True
    )
    assert torch.autograd.gradcheck(
        lambda m: aggregate_messages(m, g, reduce, backend="triton"), (m,), fast_mode=True
    )


@in_child
def test_attention_gradcheck(four_node_graph, ref):
    _, g = four_node_graph
    g = g.to(DEVICE)
    q, k, v = (ref.randn(i, 5, 1, 3).to(DEVICE).requires_grad_() for i in range(3))
    bias = ref.randn(3, 6, 1).to(DEVICE).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda q, k, v, b: graph_attention(q, k, v, g, b, backend="triton"),
        (q, k, v, bias), fast_mode=True,
    )


@in_child
def test_attention_masked_rows_and_zero_in_degree(ref):
    # node 0 <- 1, 2; node 1 <- 0 (masked by -inf); nodes 2, 3 have no incoming edge
    edge_index = torch.tensor([[1, 2, 0], [0, 0, 1]])
    g = _graph(edge_index, 4)
    q, k, v = (ref.randn(i, 4, 1, 2).to(DEVICE).requires_grad_() for i in range(3))
    bias = torch.tensor([[0.0], [0.0], [float("-inf")]], dtype=torch.float64, device=DEVICE)
    out = graph_attention(q, k, v, g, bias, backend="triton")
    assert torch.all(out[1:] == 0)
    ref_out = graph_attention(q, k, v, g, bias, backend="torch")
    torch.testing.assert_close(out, ref_out)
    grads = torch.autograd.grad(out.sum(), (q, k, v))
    assert all(torch.isfinite(t).all() for t in grads)
    assert torch.all(grads[0][1:] == 0) and torch.all(grads[2][0] == 0)


@in_child
def test_deterministic_mode_is_bitwise_reproducible(ref):
    edge_index, n = _hub_graph(3)
    g = _graph(edge_index, n)
    x = ref.randn(0, n, 8, dtype=torch.float32).to(DEVICE).requires_grad_()
    q, k, v = (ref.randn(i, n, 2, 8, dtype=torch.float32).to(DEVICE).requires_grad_()
               for i in range(1, 4))
    runs = {True: [], False: []}
    for det in (True, True, False):
        a = aggregate(x, g, "sum", backend="triton", deterministic=det)
        o = graph_attention(q, k, v, g, backend="triton", deterministic=det)
        loss = a.square().sum() + o.square().sum()
        runs[det].append((a, o, *torch.autograd.grad(loss, (x, q, k, v))))
    for a, b in zip(*runs[True]):
        assert torch.equal(a, b)
    _assert_all_close(runs[False][0], runs[True][0], rtol=1e-5, atol=1e-5)


@in_child
def test_float32_matches_torch_backend(ref):
    edge_index, n = _hub_graph(4)
    g = CSRGraph.from_edge_index(edge_index, num_nodes=n)
    q, k, v = (ref.randn(i, n, 4, 16, dtype=torch.float32) for i in range(3))
    x = ref.randn(3, n, 32, dtype=torch.float32)
    for reduce in REDUCES:
        got = aggregate(x.to(DEVICE), g.to(DEVICE), reduce, backend="triton")
        torch.testing.assert_close(got.cpu(), aggregate(x, g, reduce, backend="torch"))
    got = graph_attention(q.to(DEVICE), k.to(DEVICE), v.to(DEVICE), g.to(DEVICE), backend="triton")
    torch.testing.assert_close(got.cpu(), graph_attention(q, k, v, g, backend="torch"))


_P, _I = "*fp32", "*i64"
_AOT = {
    "aggregate_triton._segment_reduce_kernel": (
        dict(src_ptr=_P, w_ptr=_P, rowptr_ptr=_I, col_ptr=_I, eid_ptr=_I, out_ptr=_P,
             arg_ptr=_I, F="i32"),
        dict(GATHER=True, HAS_W=True, REDUCE=2, BLOCK_E=32, BLOCK_F=64)),
    "aggregate_triton._max_grad_x_kernel": (
        dict(grad_ptr=_P, w_ptr=_P, arg_ptr=_I, rowptr_t_ptr=_I, col_t_ptr=_I, perm_t_ptr=_I,
             perm_ptr=_I, dx_ptr=_P, F="i32"),
        dict(HAS_W=True, BLOCK_E=32, BLOCK_F=64)),
    "aggregate_triton._edge_grad_kernel": (
        dict(grad_ptr=_P, x_ptr=_P, arg_ptr=_I, rowptr_ptr=_I, row_ptr=_I, col_ptr=_I,
             perm_ptr=_I, out_ptr=_P, E="i32", F="i32"),
        dict(WRITE_MSG=False, REDUCE=1, BLOCK_E=32, BLOCK_F=64)),
    "aggregate_triton._atomic_grad_x_kernel": (
        dict(grad_ptr=_P, w_ptr=_P, arg_ptr=_I, rowptr_ptr=_I, col_ptr=_I, perm_ptr=_I,
             dx_ptr=_P, F="i32"),
        dict(HAS_W=True, REDUCE=2, BLOCK_E=32, BLOCK_F=64)),
    "attention_triton._attn_fwd_kernel": (
        dict(q_ptr=_P, k_ptr=_P, v_ptr=_P, bias_ptr=_P, rowptr_ptr=_I, col_ptr=_I, perm_ptr=_I,
             out_ptr=_P, lse_ptr=_P, H="i32", D="i32", scale="fp32"),
        dict(HAS_BIAS=True, BLOCK_E=32, BLOCK_D=32)),
    "attention_triton._attn_bwd_dq_kernel": (
        dict(q_ptr=_P, k_ptr=_P, v_ptr=_P, bias_ptr=_P, grad_ptr=_P, lse_ptr=_P, delta_ptr=_P,
             rowptr_ptr=_I, col_ptr=_I, perm_ptr=_I, dq_ptr=_P, dbias_ptr=_P, dk_ptr=_P,
             dv_ptr=_P, H="i32", D="i32", scale="fp32"),
        dict(HAS_BIAS=True, NEED_DBIAS=True, ATOMIC_KV=True, BLOCK_E=32, BLOCK_D=32)),
    "attention_triton._attn_bwd_dkdv_kernel": (
        dict(q_ptr=_P, k_ptr=_P, v_ptr=_P, bias_ptr=_P, grad_ptr=_P, lse_ptr=_P, delta_ptr=_P,
             rowptr_t_ptr=_I, col_t_ptr=_I, perm_t_ptr=_I, perm_ptr=_I, dk_ptr=_P, dv_ptr=_P,
             H="i32", D="i32", scale="fp32"),
        dict(HAS_BIAS=True, BLOCK_E=32, BLOCK_D=32)),
}


@pytest.mark.skipif(RUN_HERE, reason="the kernels are compiled or interpreted for real here")
@pytest.mark.parametrize("name", sorted(_AOT), ids=lambda n: n.split(".")[1])
def test_kernel_compiles_for_a_gpu_without_one(name):
    """The interpreter is lenient; compile each kernel to PTX for sm_80 as CUDA would."""
    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    module, kernel = name.split(".")
    fn = getattr(importlib.import_module(f"surrogates.kernels.{module}"), kernel)
    signature, constants = _AOT[name]
    src = ASTSource(fn, signature, {**constants, "ACC": tl.float32})
    try:
        compiled = triton.compile(src, target=GPUTarget("cuda", 80, 32))
    except RuntimeError as err:  # the PTX assembler is not shipped everywhere
        if "ptxas" in str(err).lower():
            pytest.skip(f"no ptxas: {err}")
        raise
    assert f".entry {kernel}" in compiled.asm["ptx"]
