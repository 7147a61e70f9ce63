"""Who attends to whom: the sparse attention pattern of the graph transformer.

Attention is restricted to a sparse edge set built once per mesh (and, for the global
tokens, once per batch); it is never a dense N x N mask. Edges ``j -> i`` (``i`` attends
to ``j``) of six types, deduplicated with the first type winning:

``self``
    ``i -> i``: every node (and token) sees itself.
``mesh``
    the mesh edges (hop 1).
``khop``
    nodes at graph distance 2..K: the pattern of the sparse matrix power ``(A + I)^K``
    minus the closer hops (Garnier et al.'s K-hop augmentation). It grows the
    receptive field of one layer from 1 to K rings (about 3K(K+1) neighbours on a
    triangle mesh) at the price of K-fold fewer layers needed to cross a mesh.
``window``
    dilated sliding windows along a space-filling curve (our design of Garnier et al.'s
    "dilated sliding windows" for unstructured meshes). Nodes are sorted by the Morton
    (Z-order) code of their coordinates, quantised to 16 bits per axis; a node at curve
    position ``p`` attends to the nodes at positions ``p +- d k`` for ``k = 1..w`` and
    every dilation ``d`` of the config. Morton order keeps most curve neighbours close in
    space, so dilation ``d`` reaches nodes roughly ``sqrt(d)`` (2D) mesh spacings away
    in O(N w) edges, a cheap long-range pattern that needs no geometry beyond the
    coordinates. Curve jumps also link some distant regions, which helps mixing.
``to_token`` / ``from_token``
    G learned global tokens per mesh: each token attends to every node of its mesh
    (``node -> token``) and every node attends to every token (``token -> node``).
    That is 2 G N edges per mesh, linear in N.

Edge features (the input of the relative-position bias, see the network): the offset
``r = (x_i - x_j) / L`` in units of the mean mesh edge length L, squashed as
``r / (1 + |r|)``, then ``log(1 + |r|)``, then the one-hot type (zeros for token edges'
geometry).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from ..common.batching import EdgeSet, GraphBatch

__all__ = [
    "EDGE_TYPES",
    "add_global_tokens",
    "attention_edges",
    "edge_feature_width",
    "khop_pairs",
    "morton_order",
    "window_pairs",
]

#: edge types in priority order (a pair keeps the first type that produces it)
EDGE_TYPES = ("self", "mesh", "khop", "window", "to_token", "from_token")


def edge_feature_width(dim: int) -> int:
    """Width of the attention edge features for meshes of dimension ``dim``."""
    return dim + 1 + len(EDGE_TYPES)


def khop_pairs(edge_index: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Node pairs at graph distance 2..k.

    Parameters
    ----------
    edge_index : np.ndarray
        (2, E) int64 mesh edges (both directions).
    n : int
        Number of nodes N.
    k : int
        Largest hop (k < 2: no pairs).

    Returns
    -------
    pairs : np.ndarray
        (2, P) int64, row 0 the source j, row 1 the destination i, both directions.
    hops : np.ndarray
        (P,) int64 graph distance of each pair.

    Examples
    --------
    >>> import numpy as np
    >>> path = np.array([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # 0 - 1 - 2 - 3
    >>> pairs, hops = khop_pairs(path, 4, 3)
    >>> sorted(zip(pairs[1].tolist(), pairs[0].tolist(), hops.tolist()))[:3]
    [(0, 2, 2), (0, 3, 3), (1, 3, 2)]
    """
    if k < 2 or edge_index.shape[1] == 0:
        return np.zeros((2, 0), np.int64), np.zeros(0, np.int64)
    src, dst = np.asarray(edge_index)
    a = sp.csr_matrix((np.ones(len(src), np.float32), (dst, src)), shape=(n, n))
    a.data[:] = 1.0
    step = (a + sp.identity(n, dtype=np.float32, format="csr")).tocsr()
    reach = step.copy()  # distance <= 1
    out_pairs, out_hops = [], []
    for hop in range(2, k + 1):
        nxt = (reach @ step).tocsr()
        nxt.data[:] = 1.0
        new = (nxt - reach).tocoo()
        mask = new.data > 0
        out_pairs.append(np.stack([new.col[mask], new.row[mask]]).astype(np.int64))
        out_hops.append(np.full(int(mask.sum()), hop, np.int64))
        reach = nxt
    return np.concatenate(out_pairs, 1), np.concatenate(out_hops)


def morton_order(points: np.ndarray, bits: int = 16) -> np.ndarray:
    """Node indices sorted along the Morton (Z-order) curve of their coordinates.

    Parameters
    ----------
    points : np.ndarray
        (N, dim) coordinates, dim <= 3.
    bits : int
        Quantisation bits per axis (dim * bits <= 63).

    Returns
    -------
    np.ndarray
        (N,) int64: ``order[p]`` is the node at curve position ``p`` (ties by node id).
    """
    p = np.asarray(points, float)
    lo, hi = p.min(0), p.max(0)
    span = float((hi - lo).max()) or 1.0
    q = np.clip(((p - lo) / span * (2**bits - 1)).round(), 0, 2**bits - 1).astype(np.int64)
    code = np.zeros(len(p), np.int64)
    dim = p.shape[1]
    for b in range(bits):
        for a in range(dim):
            code |= ((q[:, a] >> b) & 1) << (b * dim + a)
    return np.argsort(code, kind="stable")


def window_pairs(order: np.ndarray, window: int, dilations: Sequence[int]) -> np.ndarray:
    """Dilated sliding-window pairs along a node ordering.

    Parameters
    ----------
    order : np.ndarray
        (N,) node at each curve position.
    window : int
        Offsets ``k = 1..window`` on each side.
    dilations : sequence of int
        Curve distance ``d`` between window members; offsets are ``d k``.

    Returns
    -------
    np.ndarray
        (2, P) int64 pairs, both directions (row 0 source, row 1 destination).
    """
    n = len(order)
    out = []
    for d in dilations:
        for k in range(1, window + 1):
            off = d * k
            if off >= n:
                continue
            a, b = order[:-off], order[off:]
            out.append(np.stack([np.concatenate([a, b]), np.concatenate([b, a])]))
    return np.concatenate(out, 1) if out else np.zeros((2, 0), np.int64)


def attention_edges(pos: torch.Tensor, mesh_edge_index: torch.Tensor, *, khop: int, window: int,
                    dilations: Sequence[int], length: float) -> EdgeSet:
    """The per-mesh attention edges (self, mesh, K-hop, window) with their features.

    Parameters
    ----------
    pos : torch.Tensor
        (N, dim) normalised coordinates.
    mesh_edge_index : torch.Tensor
        (2, E) mesh edges.
    khop : int
        Largest hop of the K-hop edges (1: none).
    window, dilations : int, sequence of int
        Sliding windows along the Morton curve (window 0: none).
    length : float
        Mean mesh edge length in the units of ``pos`` (the unit of relative positions).

    Returns
    -------
    EdgeSet
        (2, E_a) edges sorted by destination and (E_a, dim + 1 + 6) features.
    """
    n = pos.shape[0]
    p = pos.double().numpy()
    ar = np.arange(n, dtype=np.int64)
    sets = [(np.stack([ar, ar]), 0), (mesh_edge_index.numpy(), 1)]
    if khop >= 2:
        sets.append((khop_pairs(mesh_edge_index.numpy(), n, khop)[0], 2))
    if window > 0 and dilations:
        sets.append((window_pairs(morton_order(p), window, dilations), 3))
    pairs = np.concatenate([s for s, _ in sets], 1)
    types = np.concatenate([np.full(s.shape[1], t, np.int64) for s, t in sets])
    key = pairs[1] * n + pairs[0]
    _, first = np.unique(key, return_index=True)  # sorted by (destination, source)
    pairs, types = pairs[:, first], types[first]
    rel = (p[pairs[1]] - p[pairs[0]]) / length
    return EdgeSet(torch.as_tensor(pairs), _features(rel, types))


def _features(rel: np.ndarray, types: np.ndarray) -> torch.Tensor:
    """(P, dim + 1 + 6) float32 features from offsets (P, dim) and type ids (P,)."""
    r = np.linalg.norm(rel, axis=1, keepdims=True)
    onehot = np.zeros((len(types), len(EDGE_TYPES)))
    onehot[np.arange(len(types)), types] = 1.0
    return torch.as_tensor(np.concatenate([rel / (1.0 + r), np.log1p(r), onehot], 1), dtype=torch.float32)


def add_global_tokens(batch: GraphBatch, tokens: int) -> GraphBatch:
    """Attention graph of a batch with ``tokens`` global tokens per mesh.

    Token ``t`` of mesh ``b`` is node ``N + b * tokens + t`` (after all mesh nodes). Sets
    ``batch.extras``: ``attn_edges`` (EdgeSet over N + B * tokens nodes), ``attn_graph``
    (its CSRGraph), ``tokens``.
    """
    from ..kernels import CSRGraph

    att = batch.edges["attention"]
    n, b = batch.num_nodes, batch.num_graphs
    if tokens == 0:
        batch.extras.update(attn_edges=att, attn_graph=batch.graph("attention"), tokens=0)
        return batch
    dim = batch.pos.shape[1]
    node = torch.arange(n).repeat_interleave(tokens)                    # (N G,)
    tok = n + batch.batch.repeat_interleave(tokens) * tokens + torch.arange(tokens).repeat(n)
    tok_ids = torch.arange(n, n + b * tokens)
    src = torch.cat([node, tok, tok_ids])
    dst = torch.cat([tok, node, tok_ids])
    types = torch.cat([torch.full((n * tokens,), 4), torch.full((n * tokens,), 5),
                       torch.zeros(b * tokens, dtype=torch.int64)])
    feat = torch.zeros(len(src), edge_feature_width(dim))
    feat[torch.arange(len(src)), dim + 1 + types] = 1.0
    edges = EdgeSet(torch.cat([att.edge_index, torch.stack([src, dst])], 1),
                    torch.cat([att.edge_attr, feat]))
    graph = CSRGraph.from_edge_index(edges.edge_index, num_nodes=n + b * tokens)
    batch.extras.update(attn_edges=edges, attn_graph=graph, tokens=tokens)
    return batch
