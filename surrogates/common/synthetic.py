"""Tiny synthetic datasets on shape-varying meshes, for tests, examples and smoke runs.

Not physics: smooth analytic fields (steady) and graph-Laplacian diffusion with a
moving source (time series) on randomly sized and perturbed triangulated rectangles,
written in the project's dataset format so that they go through the real loaders.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mesh import CellBlock, Mesh
from mesh.dataset import Dataset, DatasetWriter, Sample
from mesh.problem import Feature, ProblemDefinition

__all__ = ["make_steady_dataset", "make_transient_dataset", "plate_mesh"]


def plate_mesh(nx: int, ny: int, rng: np.random.Generator, width: float = 1.0,
               height: float = 1.0, jitter: float = 0.25) -> Mesh:
    """A ``width x height`` rectangle of (nx - 1)(ny - 1) split quads, interior nodes jittered.

    Groups: ``bottom`` and ``top`` (line cells on those edges).
    """
    xs, ys = np.linspace(0, width, nx), np.linspace(0, height, ny)
    X, Y = np.meshgrid(xs, ys, indexing="xy")
    pts = np.stack([X.ravel(), Y.ravel()], 1)
    inner = (X.ravel() > 0) & (X.ravel() < width) & (Y.ravel() > 0) & (Y.ravel() < height)
    step = np.array([width / (nx - 1), height / (ny - 1)])
    pts[inner] += rng.uniform(-jitter, jitter, (int(inner.sum()), 2)) * step
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    tri = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    bottom = np.stack([idx[0, :-1], idx[0, 1:]], 1)
    top = np.stack([idx[-1, :-1], idx[-1, 1:]], 1)
    lines = np.concatenate([bottom, top])
    nb = len(bottom)
    return Mesh(pts, (CellBlock("triangle", tri), CellBlock("line", lines)),
                cell_sets={"bottom": [np.zeros(0, np.int64), np.arange(nb)],
                           "top": [np.zeros(0, np.int64), np.arange(nb, len(lines))]})


def make_steady_dataset(root: str | Path, n: int = 6, seed: int = 0, size: tuple[int, int] = (5, 8)
                        ) -> Dataset:
    """Steady samples: inputs ``P``, ``s``; fields ``U`` (N,) and ``S`` (N,); scalar ``max_U``.

    ``U = P * y * (1 + 0.5 x) + 0.1 s``, ``S = s * sin(pi x) + P * y**2`` on plates of
    width 1 and random height in [0.8, 1.2]; node counts vary from sample to sample.
    Split: the last sample is ``test``, the others ``train``.
    """
    rng = np.random.default_rng(seed)
    problem = ProblemDefinition(
        inputs={"P": Feature(unit="MPa"), "s": Feature()},
        outputs={"U": Feature(unit="mm"), "S": Feature(unit="MPa")},
        output_scalars={"max_U": Feature(unit="mm")})
    w = DatasetWriter(root, "synthetic-steady", problem)
    ids = []
    for i in range(n):
        nx, ny = (int(rng.integers(size[0], size[1] + 1)) for _ in range(2))
        mesh = plate_mesh(nx, ny, rng, height=float(rng.uniform(0.8, 1.2)))
        x, y = mesh.points.T
        P, s = float(rng.uniform(1, 2)), float(rng.uniform(0, 1))
        U = P * y * (1 + 0.5 * x) + 0.1 * s
        S = s * np.sin(np.pi * x) + P * y**2
        sid = f"s{i:03d}"
        w.add(Sample(sid, mesh, {"P": P, "s": s}, {"U": U, "S": S}, {"max_U": float(U.max())}))
        ids.append(sid)
    return w.finish(splits={"train": ids[:-1], "test": ids[-1:]})


def make_transient_dataset(root: str | Path, n: int = 4, steps: int = 6, seed: int = 0,
                           size: tuple[int, int] = (5, 7)) -> Dataset:
    """Time series: ``T(t+1) = T(t) + dt (a L T(t) + q(t))`` (L the graph Laplacian).

    Input scalar ``a`` (diffusivity), input field ``q`` (a Gaussian source moving along
    x), output field ``T`` (T, N) from ``T(0) = 0``, scalar ``max_T``; dt = 0.1.
    """
    rng = np.random.default_rng(seed)
    problem = ProblemDefinition(inputs={"a": Feature()}, input_fields={"q": Feature()},
                                outputs={"T": Feature(unit="K")}, output_scalars={"max_T": Feature(unit="K")})
    w = DatasetWriter(root, "synthetic-transient", problem, time_dependent=True)
    dt = 0.1
    times = dt * np.arange(steps + 1)
    ids = []
    for i in range(n):
        nx, ny = (int(rng.integers(size[0], size[1] + 1)) for _ in range(2))
        mesh = plate_mesh(nx, ny, rng)
        a = float(rng.uniform(0.05, 0.2))
        from mesh.graph import to_graph

        g = to_graph(mesh)
        src, dst = g.edge_index
        x = mesh.points
        q = np.stack([np.exp(-((x[:, 0] - t) ** 2 + (x[:, 1] - 0.5) ** 2) / 0.05) for t in times])
        T = [np.zeros(len(x))]
        for k in range(steps):
            lap = np.bincount(dst, weights=T[-1][src] - T[-1][dst], minlength=len(x))
            T.append(T[-1] + dt * (a * lap + q[k]))
        T = np.stack(T)
        sid = f"s{i:03d}"
        w.add(Sample(sid, mesh, {"a": a}, {"T": T}, {"max_T": float(T.max())}, {"q": q}, times))
        ids.append(sid)
    return w.finish(splits={"train": ids[:-1], "test": ids[-1:]})
