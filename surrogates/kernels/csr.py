"""Compressed sparse row adjacency of a directed graph, sorted by destination.

A :class:`CSRGraph` is built once per mesh from an ``edge_index`` and reused by every
kernel call (it holds only index tensors, so it can be cached next to the mesh). It
stores two orientations of the same edge set:

- the CSR by destination (``rowptr``, ``col``, ``row``): the incoming edges of node ``i``
  are the CSR positions ``rowptr[i]:rowptr[i + 1]``; this drives every forward pass;
- the transposed CSR by source (``rowptr_t``, ``col_t``, ``perm_t``): the outgoing edges
  of node ``j``; it lets backward passes gather into source nodes without atomics.

Both sorts are stable, so edges keep their input order within a row and every
reduction runs in an order fixed by the input alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from .errors import GraphError

__all__ = ["CSRGraph"]


@dataclass(frozen=True, eq=False)
class CSRGraph:
    """Adjacency of a directed graph with ``N`` nodes and ``E`` edges ``j -> i``.

    Build it with :meth:`from_edge_index`; the constructor only checks consistency.

    Attributes
    ----------
    num_nodes : int
        Number of nodes ``N``.
    rowptr : torch.Tensor
        (N + 1,) int64. Incoming edges of destination ``i`` sit at CSR positions
        ``rowptr[i]:rowptr[i + 1]``.
    col : torch.Tensor
        (E,) int64. Source node ``j`` of each CSR position.
    row : torch.Tensor
        (E,) int64. Destination node ``i`` of each CSR position (non-decreasing).
    perm : torch.Tensor
        (E,) int64. Original edge id (column of ``edge_index``) of each CSR position.
    rowptr_t : torch.Tensor
        (N + 1,) int64. Outgoing edges of source ``j`` sit at transposed positions
        ``rowptr_t[j]:rowptr_t[j + 1]``.
    col_t : torch.Tensor
        (E,) int64. Destination node ``i`` of each transposed position.
    perm_t : torch.Tensor
        (E,) int64. CSR position of each transposed position.
    duplicate_edges : bool
        Whether some edge ``j -> i`` appears more than once (computed when omitted).
        Torch kernels then use a slower gather-based score computation.

    Examples
    --------
    >>> import torch
    >>> edge_index = torch.tensor([[0, 1, 2, 0], [1, 2, 1, 2]])
    >>> g = CSRGraph.from_edge_index(edge_index, num_nodes=4)
    >>> g.rowptr.tolist(), g.col.tolist(), g.perm.tolist()
    ([0, 0, 2, 4, 4], [0, 2, 1, 0], [0, 2, 1, 3])
    >>> g.in_degree.tolist()
    [0, 2, 2, 0]
    """

    num_nodes: int
    rowptr: torch.Tensor
    col: torch.Tensor
    row: torch.Tensor
    perm: torch.Tensor
    rowptr_t: torch.Tensor
    col_t: torch.Tensor
    perm_t: torch.Tensor
    duplicate_edges: bool | None = None

    def __post_init__(self) -> None:
        """Check shapes, dtypes and devices; find duplicate edges if not given."""
        n, e = self.num_nodes, int(self.col.shape[0])
        expected = {
            "rowptr": (n + 1,), "col": (e,), "row": (e,), "perm": (e,),
            "rowptr_t": (n + 1,), "col_t": (e,), "perm_t": (e,),
        }
        device = self.rowptr.device
        for name, shape in expected.items():
            t = getattr(self, name)
            if not isinstance(t, torch.Tensor) or t.dtype != torch.int64:
                got = t.dtype if isinstance(t, torch.Tensor) else type(t).__name__
                raise GraphError(f"CSRGraph.{name} must be an int64 tensor, got {got}")
            if tuple(t.shape) != shape:
                raise GraphError(
                    f"CSRGraph.{name} must have shape {shape} for N={n}, E={e}, "
                    f"got {tuple(t.shape)}"
                )
            if t.device != device:
                raise GraphError(
                    f"CSRGraph.{name} is on {t.device}, expected {device} like rowptr"
                )
        if self.duplicate_edges is None:
            keys = self.row * max(n, 1) + self.col
            object.__setattr__(self, "duplicate_edges", bool(torch.unique(keys).numel() < e))

    @classmethod
    def from_edge_index(
        cls, edge_index: torch.Tensor, num_nodes: int | None = None
    ) -> "CSRGraph":
        """Build the CSR (by destination) and transposed CSR (by source) of a graph.

        Parameters
        ----------
        edge_index : torch.Tensor
            (2, E) int64. Row 0 the source node ``j``, row 1 the destination ``i`` of
            each edge ``j -> i`` (PyG convention). Any order; duplicates allowed.
        num_nodes : int, optional
            Number of nodes ``N``; default ``edge_index.max() + 1`` (0 if ``E == 0``).
            Nodes without edges are allowed (isolated nodes).

        Returns
        -------
        CSRGraph
            On the device of ``edge_index``.

        Raises
        ------
        GraphError
            If ``edge_index`` is not a (2, E) int64 tensor, or an index is negative
            or ``>= num_nodes``.
        """
        _check_edge_index(edge_index)
        e = int(edge_index.shape[1])
        if num_nodes is None:
            num_nodes = int(edge_index.max()) + 1 if e > 0 else 0
        elif not isinstance(num_nodes, int) or isinstance(num_nodes, bool) or num_nodes < 0:
            raise GraphError(f"num_nodes must be a non-negative int, got {num_nodes!r}")
        if e > 0:
            lo, hi = int(edge_index.min()), int(edge_index.max())
            if lo < 0 or hi >= num_nodes:
                raise GraphError(
                    f"edge_index holds node ids in [{lo}, {hi}], expected ids in "
                    f"[0, {num_nodes - 1}] for num_nodes={num_nodes}"
                )
        src, dst = edge_index[0].contiguous(), edge_index[1].contiguous()
        row, perm = torch.sort(dst, stable=True)
        col = src[perm]
        rowptr = _offsets(row, num_nodes)
        # Transposed: sort CSR positions by source; stable keeps destination order.
        col_sorted, perm_t = torch.sort(col, stable=True)
        rowptr_t = _offsets(col_sorted, num_nodes)
        return cls(
            num_nodes=num_nodes, rowptr=rowptr, col=col, row=row, perm=perm,
            rowptr_t=rowptr_t, col_t=row[perm_t], perm_t=perm_t,
        )

    @property
    def num_edges(self) -> int:
        """Number of directed edges ``E``."""
        return int(self.col.shape[0])

    @property
    def device(self) -> torch.device:
        """Device holding the index tensors."""
        return self.rowptr.device

    @property
    def in_degree(self) -> torch.Tensor:
        """(N,) int64 number of incoming edges of each node."""
        return self.rowptr[1:] - self.rowptr[:-1]

    @property
    def out_degree(self) -> torch.Tensor:
        """(N,) int64 number of outgoing edges of each node."""
        return self.rowptr_t[1:] - self.rowptr_t[:-1]

    def to(self, device: torch.device | str) -> "CSRGraph":
        """Return the same graph with its index tensors on ``device``."""
        device = torch.device(device)
        if device == self.device:
            return self
        names = ("rowptr", "col", "row", "perm", "rowptr_t", "col_t", "perm_t")
        moved = {name: getattr(self, name).to(device) for name in names}
        return CSRGraph(num_nodes=self.num_nodes, duplicate_edges=self.duplicate_edges, **moved)

    def edge_index(self) -> torch.Tensor:
        """Return the (2, E) int64 ``edge_index`` in the original edge order."""
        out = torch.empty((2, self.num_edges), dtype=torch.int64, device=self.device)
        out[0, self.perm] = self.col
        out[1, self.perm] = self.row
        return out

    def row_blocks(self, max_edges: int) -> Iterator[tuple[int, int, int, int]]:
        """Split the destination rows into consecutive blocks of bounded edge count.

        Parameters
        ----------
        max_edges : int
            Upper bound on the edges of a block; a single row with more incoming
            edges forms a block of its own.

        Yields
        ------
        tuple of int
            ``(r0, r1, e0, e1)``: rows ``r0:r1`` own exactly CSR positions ``e0:e1``.
        """
        if max_edges < 1:
            raise ValueError(f"max_edges must be >= 1, got {max_edges}")
        rowptr = self.rowptr.cpu()
        n = self.num_nodes
        r0 = 0
        while r0 < n:
            e0 = int(rowptr[r0])
            r1 = int(torch.searchsorted(rowptr, e0 + max_edges, right=True)) - 1
            r1 = min(max(r1, r0 + 1), n)
            yield r0, r1, e0, int(rowptr[r1])
            r0 = r1


def _check_edge_index(edge_index: torch.Tensor) -> None:
    if not isinstance(edge_index, torch.Tensor):
        raise GraphError(
            f"edge_index must be a torch.Tensor of shape (2, E), got {type(edge_index).__name__}"
        )
    if edge_index.dtype != torch.int64:
        raise GraphError(f"edge_index must be int64, got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise GraphError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")


def _offsets(sorted_ids: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """(N + 1,) offsets of each id's run in a sorted (E,) id tensor."""
    counts = torch.bincount(sorted_ids, minlength=num_nodes)
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.int64, device=sorted_ids.device)
    torch.cumsum(counts, dim=0, out=rowptr[1:])
    return rowptr
