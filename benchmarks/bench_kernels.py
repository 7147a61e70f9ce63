"""Benchmark the sparse kernels against PyG on a mesh-like graph, in one run.

Cases (each forward, and forward + backward):

- ``aggregate``: our fused gather + sum (:func:`surrogates.kernels.aggregate`) vs a
  minimal PyG ``MessagePassing(aggr="add")`` (gathers ``x_j`` (E, F), then scatters);
- ``attention``: our graph attention (:func:`surrogates.kernels.graph_attention`) vs the
  attention core of PyG's ``TransformerConv`` (its ``message`` verbatim: per-edge
  scores, ``torch_geometric.utils.softmax``, weighted scatter-add), same H and d.

The graph is the edge set of a structured Kuhn tetrahedral grid (14 neighbours per
interior node), nodes in grid order, randomly thinned to ``--edges`` directed edges and
sorted by destination (as ``mesh.to_graph`` produces). Every case runs in its own
subprocess: time is the median wall time (and process CPU time, in the JSON) of
``--repeat`` runs after a warm-up; memory is the
peak resident set size above the level after setup (CPU: the kernel's high-water mark
is reset through ``/proc/self/clear_refs`` and read from ``VmHWM``, after returning
freed heap memory with ``malloc_trim``), or the CUDA allocator's peak above its level
after setup (GPU). On CUDA, aggregation also reports its effective memory bandwidth:
the bytes a gather-reduce must move at least (E gathered rows of F values, the CSR
indices, the (N, F) output) over the forward time, and its fraction of the GPU's peak
DRAM bandwidth when the GPU is in ``PEAK_BANDWIDTH``. ``--threads`` fixes torch's
intra-op threads (1 gives steadier CPU figures on a shared machine).

Usage::

    python benchmarks/bench_kernels.py                       # CPU, 100k nodes, 1M edges
    python benchmarks/bench_kernels.py --device cuda --nodes 300000 --edges 3000000
    python benchmarks/bench_kernels.py --threads 1 --json bench.json
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from surrogates.kernels import CSRGraph, aggregate, graph_attention  # noqa: E402

# Peak DRAM bandwidth (bytes/s) by substring of torch.cuda.get_device_name().
PEAK_BANDWIDTH = {
    "H200": 4.8e12, "H100 PCIe": 2.0e12, "H100": 3.35e12, "A100-SXM4-80GB": 2.04e12,
    "A100 80GB PCIe": 1.94e12, "A100": 1.555e12, "L40S": 0.864e12, "L4": 0.3e12,
    "A10": 0.6e12, "RTX 4090": 1.008e12, "V100": 0.9e12, "T4": 0.32e12,
}
OPS = ("aggregate", "attention")
IMPLS = ("ours", "pyg")
MODES = ("fwd", "fwd+bwd")


# ----------------------------------------------------------------------------- graph
def tetra_grid_edges(num_nodes: int) -> tuple[torch.Tensor, int]:
    """Directed edges of a Kuhn tetrahedral grid with about ``num_nodes`` nodes.

    Returns
    -------
    edge_index : torch.Tensor
        (2, E) int64, both directions of every grid edge (axis, face and body
        diagonals of the Kuhn split), unsorted.
    n : int
        Number of nodes, ``m**3`` with ``m = round(num_nodes ** (1/3))``.
    """
    m = max(2, round(num_nodes ** (1.0 / 3.0)))
    idx = torch.arange(m**3).reshape(m, m, m)
    offsets = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1)]
    parts = []
    for a, b, c in offsets:
        src = idx[: m - a, : m - b, : m - c].reshape(-1)
        dst = idx[a:, b:, c:].reshape(-1)
        parts += [torch.stack([src, dst]), torch.stack([dst, src])]
    return torch.cat(parts, 1), m**3


def bench_graph(num_nodes: int, num_edges: int, seed: int = 0) -> tuple[torch.Tensor, int]:
    """Tetra-grid edges thinned to ``num_edges`` at random, sorted by destination."""
    edge_index, n = tetra_grid_edges(num_nodes)
    gen = torch.Generator().manual_seed(seed)
    if num_edges < edge_index.shape[1]:
        keep = torch.randperm(edge_index.shape[1], generator=gen)[:num_edges]
        edge_index = edge_index[:, keep]
    order = torch.argsort(edge_index[1] * n + edge_index[0])
    return edge_index[:, order].contiguous(), n


# ----------------------------------------------------------------------------- PyG
def pyg_modules():
    """Build the two PyG baselines (on first use: PyG imports slowly)."""
    from torch_geometric.nn import MessagePassing
    from torch_geometric.utils import softmax

    class SumConv(MessagePassing):
        """Minimal gather-scatter layer: ``out_i = sum_j x_j``."""

        def __init__(self) -> None:
            super().__init__(aggr="add")

        def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
            return self.propagate(edge_index, x=x)

        def message(self, x_j: torch.Tensor) -> torch.Tensor:
            return x_j

    class TransformerCore(MessagePassing):
        """``TransformerConv`` between its projections: message() copied from PyG 2.x."""

        def __init__(self) -> None:
            super().__init__(aggr="add", node_dim=0)

        def forward(self, q, k, v, edge_index):
            return self.propagate(edge_index, query=q, key=k, value=v)

        def message(self, query_i, key_j, value_j, index, ptr, size_i):
            alpha = (query_i * key_j).sum(dim=-1) / math.sqrt(query_i.shape[-1])
            alpha = softmax(alpha, index, ptr, size_i)
            return value_j * alpha.view(-1, query_i.shape[1], 1)

    return SumConv(), TransformerCore()


# ----------------------------------------------------------------------------- memory
class PeakMemory:
    """Peak memory above the current level: CUDA allocator, or process RSS on CPU."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._peak = 0

    def __enter__(self) -> "PeakMemory":
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return self
        _malloc_trim()
        self.base = _rss()
        self._hwm = _reset_hwm()
        if not self._hwm:  # no clear_refs: sample RSS instead
            self._peak = self.base
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.base
            return
        if self._hwm:
            self.peak = _hwm() - self.base
        else:
            self._stop.set()
            self._sampler.join()
            self.peak = max(self._peak, _rss()) - self.base

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss())
            time.sleep(0.0005)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _rss() -> int:
    try:
        return _status_kb("VmRSS")
    except (OSError, RuntimeError):
        import psutil

        return psutil.Process().memory_info().rss


def _hwm() -> int:
    return _status_kb("VmHWM")


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _hwm() <= _rss() + (1 << 20)
    except OSError:
        return False


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


# ----------------------------------------------------------------------------- one case
def make_case(op: str, impl: str, args: argparse.Namespace):
    """Build inputs and return ``(run_fwd, run_fwd_bwd, bytes_moved_fwd, n, e)``."""
    device = torch.device(args.device)
    edge_index, n = bench_graph(args.nodes, args.edges, args.seed)
    e = edge_index.shape[1]
    gen = torch.Generator().manual_seed(1)
    edge_index = edge_index.to(device)
    graph = CSRGraph.from_edge_index(edge_index, num_nodes=n) if impl == "ours" else None
    if impl == "pyg":
        sum_conv, core = pyg_modules()
    if op == "aggregate":
        f = args.features
        x = torch.randn(n, f, generator=gen).to(device).requires_grad_()
        go = torch.randn(n, f, generator=gen).to(device)
        if impl == "ours":
            fn = lambda: aggregate(x, graph, "sum")  # noqa: E731
        else:
            fn = lambda: sum_conv(x, edge_index)  # noqa: E731
        inputs = (x,)
        elem = x.element_size()
        bytes_fwd = (n + 1) * 8 + e * 8 + e * f * elem + n * f * elem
    else:
        h, d = args.heads, args.head_dim
        q, k, v = (torch.randn(n, h, d, generator=gen).to(device).requires_grad_()
                   for _ in range(3))
        go = torch.randn(n, h, d, generator=gen).to(device)
        if impl == "ours":
            fn = lambda: graph_attention(q, k, v, graph)  # noqa: E731
        else:
            fn = lambda: core(q, k, v, edge_index)  # noqa: E731
        inputs = (q, k, v)
        bytes_fwd = None

    def fwd() -> torch.Tensor:
        with torch.no_grad():
            return fn()

    def fwd_bwd() -> torch.Tensor:
        out = fn()
        grads = torch.autograd.grad(out, inputs, go)
        return out.detach() + 0 * grads[0].sum()

    return fwd, fwd_bwd, bytes_fwd, n, e


def run_case(op: str, impl: str, args: argparse.Namespace) -> dict:
    """Time and measure one (op, impl) in this process, both modes."""
    device = torch.device(args.device)
    fwd, fwd_bwd, bytes_fwd, n, e = make_case(op, impl, args)
    result = {"op": op, "impl": impl, "nodes": n, "edges": e, "modes": {}}
    for mode, fn in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
        checksum = float(fn().double().sum())  # warm-up (Triton compiles here)
        _sync(device)
        with PeakMemory(device) as mem:
            fn()
            _sync(device)
        times, cpu_times = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            _sync(device)
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
        entry = {"time_ms": 1e3 * statistics.median(times),
                 "cpu_ms": 1e3 * statistics.median(cpu_times),  # all threads of the process
                 "peak_mb": mem.peak / 2**20, "checksum": checksum}
        if mode == "fwd" and bytes_fwd is not None:
            entry["bytes_moved"] = bytes_fwd
            entry["bandwidth_gbs"] = bytes_fwd / statistics.median(times) / 1e9
        result["modes"][mode] = entry
    return result


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------- driver
def run_all(args: argparse.Namespace) -> dict:
    """Run every case in its own subprocess and collect the figures."""
    t0 = time.perf_counter()
    edge_index, n = bench_graph(args.nodes, args.edges, args.seed)
    t_graph = time.perf_counter() - t0
    t0 = time.perf_counter()
    CSRGraph.from_edge_index(edge_index.to(args.device), num_nodes=n)
    _sync(torch.device(args.device))
    t_csr = time.perf_counter() - t0
    cases = []
    for op in OPS:
        for impl in IMPLS:
            cmd = [sys.executable, __file__, "--case", f"{op}:{impl}"] + _forward_args(args)
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"case {op}:{impl} failed:\n{res.stderr[-4000:]}")
            cases.append(json.loads(res.stdout.strip().splitlines()[-1]))
    report = {
        "config": {k: v for k, v in vars(args).items() if k not in ("case", "json")},
        "device_name": _device_name(args.device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "graph": {"nodes": n, "edges": int(edge_index.shape[1]),
                  "build_s": t_graph, "csr_build_s": t_csr},
        "cases": cases,
    }
    report["ratios"] = _ratios(cases)
    report["bandwidth"] = _bandwidth(cases, args.device)
    return report


def _forward_args(args: argparse.Namespace) -> list[str]:
    return ["--device", args.device, "--nodes", str(args.nodes), "--edges", str(args.edges),
            "--features", str(args.features), "--heads", str(args.heads),
            "--head-dim", str(args.head_dim), "--repeat", str(args.repeat),
            "--seed", str(args.seed)] + (["--threads", str(args.threads)] if args.threads else [])


def _ratios(cases: list[dict]) -> dict:
    by = {(c["op"], c["impl"]): c for c in cases}
    out = {}
    for op in OPS:
        for mode in MODES:
            ours, pyg = by[(op, "ours")]["modes"][mode], by[(op, "pyg")]["modes"][mode]
            out[f"{op} {mode}"] = {
                "speedup": pyg["time_ms"] / ours["time_ms"],
                "memory_ratio": pyg["peak_mb"] / max(ours["peak_mb"], 1e-3),
                "checksum_rel_diff": abs(ours["checksum"] - pyg["checksum"])
                / max(abs(pyg["checksum"]), 1e-30),
            }
    return out


def _bandwidth(cases: list[dict], device: str) -> dict | None:
    if not device.startswith("cuda"):
        return None
    name = _device_name(device)
    peak = next((bw for key, bw in PEAK_BANDWIDTH.items() if key in name), None)
    out = {}
    for c in cases:
        if c["op"] == "aggregate":
            gbs = c["modes"]["fwd"]["bandwidth_gbs"]
            out[c["impl"]] = {"gbs": gbs, "fraction_of_peak": gbs * 1e9 / peak if peak else None}
    out["peak_gbs"] = peak / 1e9 if peak else None
    return out


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({os.cpu_count()} logical cores)"


def print_report(report: dict) -> None:
    """Print the table of times, peak memory and ratios (and bandwidth on CUDA)."""
    g = report["graph"]
    cfg = report["config"]
    print(f"device: {report['device_name']}, torch {report['torch']}, threads {report['threads']}")
    print(f"graph: tetra grid, {g['nodes']} nodes, {g['edges']} edges "
          f"(built {g['build_s']:.2f} s, CSRGraph {g['csr_build_s']:.2f} s); "
          f"aggregate F={cfg['features']}, attention H={cfg['heads']} d={cfg['head_dim']}")
    print(f"{'case':<22}{'ours ms':>10}{'PyG ms':>10}{'speedup':>9}"
          f"{'ours MB':>10}{'PyG MB':>10}{'mem ratio':>10}")
    by = {(c["op"], c["impl"]): c for c in report["cases"]}
    for op in OPS:
        for mode in MODES:
            ours, pyg = by[(op, "ours")]["modes"][mode], by[(op, "pyg")]["modes"][mode]
            r = report["ratios"][f"{op} {mode}"]
            print(f"{op + ' ' + mode:<22}{ours['time_ms']:>10.1f}{pyg['time_ms']:>10.1f}"
                  f"{r['speedup']:>8.2f}x{ours['peak_mb']:>10.1f}{pyg['peak_mb']:>10.1f}"
                  f"{r['memory_ratio']:>9.1f}x")
    bw = report.get("bandwidth")
    if bw:
        for impl in IMPLS:
            frac = bw[impl]["fraction_of_peak"]
            frac_s = f"{100 * frac:.0f} % of {bw['peak_gbs']:.0f} GB/s" if frac else "peak unknown"
            print(f"aggregate fwd bandwidth ({impl}): {bw[impl]['gbs']:.0f} GB/s ({frac_s})")
    worst = max(r["checksum_rel_diff"] for r in report["ratios"].values())
    print(f"ours vs PyG output checksum, worst relative difference: {worst:.1e}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--edges", type=int, default=1_000_000)
    p.add_argument("--features", type=int, default=64, help="F for aggregation")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--head-dim", type=int, default=32)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch.set_num_threads in every case")
    p.add_argument("--json", type=Path, help="write the figures to this file")
    p.add_argument("--case", help=argparse.SUPPRESS)  # internal: "op:impl" in a subprocess
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run every case (or, internally, one case) and report."""
    args = parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch.cuda.is_available() is False")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.case:
        op, impl = args.case.split(":")
        print(json.dumps(run_case(op, impl, args)))
        return
    report = run_all(args)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
