"""SpMM and SDDMM on a CSR pattern with torch's sparse CSR kernels (torch backend).

Both are fused: no (E, F) tensor of gathered rows is built. On CPU each output row
(SpMM) or each output value (SDDMM) is computed by one thread in CSR order, so the
results are bitwise reproducible. Half-precision inputs go through the chunked
``index_add_`` fallback of :func:`spmm` (torch has no CPU half sparse kernels);
callers of :func:`sddmm` compute in float32 or float64.
"""
from __future__ import annotations

import warnings

import torch

FALLBACK_CHUNK = 1 << 16


def csr_matrix(
    rowptr: torch.Tensor, col: torch.Tensor, values: torch.Tensor, num_cols: int
) -> torch.Tensor:
    """Build a sparse CSR tensor (R, num_cols) without invariant checks (trusted input).

    Shapes: ``rowptr`` (R + 1,) starting at 0; ``col``, ``values`` (C,).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
            rowptr, col, values, (rowptr.shape[0] - 1, num_cols), check_invariants=False
        )


def spmm(
    rowptr: torch.Tensor, col: torch.Tensor, values: torch.Tensor | None, x: torch.Tensor
) -> torch.Tensor:
    """Compute ``A @ x`` for the CSR matrix ``A`` with ``values`` (ones if None).

    Shapes: ``rowptr`` (R + 1,) starting at 0; ``col``, ``values`` (C,); ``x`` (N, F).
    Returns (R, F).
    """
    if values is None:
        values = torch.ones(col.shape[0], dtype=x.dtype, device=x.device)
    if x.dtype not in (torch.float32, torch.float64) or col.numel() == 0:
        return _spmm_index_add(rowptr, col, values, x)
    return torch.sparse.mm(csr_matrix(rowptr, col, values, x.shape[0]), x)


def sddmm(
    rowptr: torch.Tensor,
    col: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    duplicates: bool = False,
) -> torch.Tensor:
    """Compute ``a[r] . b[col[c]]`` for every entry ``c`` of row ``r`` of a CSR pattern.

    Shapes: ``rowptr`` (R + 1,) starting at 0; ``col`` (C,); ``a`` (R, d); ``b`` (N, d).
    Returns (C,) in CSR order. ``duplicates=True`` (a column repeated within a row,
    which torch's sampled kernel rejects) gathers the (C, d) rows instead.
    """
    if col.numel() == 0:
        return a.new_zeros(0)
    if duplicates:
        rows = torch.repeat_interleave(
            torch.arange(rowptr.shape[0] - 1, device=a.device), rowptr[1:] - rowptr[:-1]
        )
        return (a[rows] * b[col]).sum(-1)
    pattern = csr_matrix(rowptr, col, a.new_zeros(col.shape[0]), b.shape[0])
    return torch.sparse.sampled_addmm(pattern, a, b.T, beta=0.0).values()


def _spmm_index_add(
    rowptr: torch.Tensor, col: torch.Tensor, values: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    num_rows = rowptr.shape[0] - 1
    out = x.new_zeros((num_rows, x.shape[1]))
    rows = torch.repeat_interleave(
        torch.arange(num_rows, device=x.device), rowptr[1:] - rowptr[:-1]
    )
    for c0 in range(0, col.shape[0], FALLBACK_CHUNK):
        c1 = min(c0 + FALLBACK_CHUNK, col.shape[0])
        out.index_add_(0, rows[c0:c1], x[col[c0:c1]] * values[c0:c1, None])
    return out
