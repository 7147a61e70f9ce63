"""Feature packing: named per-node arrays into one tensor, with the layout that names its columns.

A network takes one (N, F) tensor; the model never addresses its columns by number.
:func:`pack` concatenates named parts and returns a :class:`Layout` (name -> width,
in order) that travels with the model; prediction packs with the saved layout, and
:meth:`Layout.split` turns a network output back into fields by name.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from ..errors import InputError

__all__ = ["Layout", "pack"]


@dataclass(frozen=True)
class Layout:
    """Ordered names and widths of the column groups of a packed tensor.

    Attributes
    ----------
    entries : tuple of (str, int)
        ``(name, width)`` of each part, in column order.

    Examples
    --------
    >>> import torch
    >>> x, layout = pack({"coords": torch.zeros(3, 2), "boundary": torch.ones(3)})
    >>> layout.width, layout.names, layout.slice("boundary")
    (3, ['coords', 'boundary'], slice(2, 3, None))
    >>> layout.split(x)["boundary"].shape
    torch.Size([3, 1])
    """

    entries: tuple[tuple[str, int], ...]

    @property
    def names(self) -> list[str]:
        """Part names in column order."""
        return [n for n, _ in self.entries]

    @property
    def width(self) -> int:
        """Total number of columns ``F``."""
        return sum(w for _, w in self.entries)

    def slice(self, name: str) -> slice:
        """Columns of part ``name``."""
        start = 0
        for n, w in self.entries:
            if n == name:
                return slice(start, start + w)
            start += w
        raise KeyError(f"no part '{name}' in the layout; parts: {', '.join(self.names)}")

    def split(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split the last axis of ``x`` (..., F) into named parts (..., width)."""
        if x.shape[-1] != self.width:
            raise ValueError(f"tensor has {x.shape[-1]} columns, the layout {self.width}")
        return {n: x[..., self.slice(n)] for n in self.names}

    def __add__(self, other: Layout) -> Layout:
        clash = set(self.names) & set(other.names)
        if clash:
            raise ValueError(f"layouts share part(s) {', '.join(sorted(clash))}")
        return Layout(self.entries + other.entries)

    def to_meta(self) -> list[list]:
        """JSON-able form: ``[[name, width], ...]``."""
        return [[n, w] for n, w in self.entries]

    @classmethod
    def from_meta(cls, meta: Sequence[Sequence]) -> Layout:
        """Inverse of :meth:`to_meta`."""
        return cls(tuple((str(n), int(w)) for n, w in meta))


def pack(parts: Mapping[str, torch.Tensor], layout: Layout | None = None
         ) -> tuple[torch.Tensor, Layout]:
    """Concatenate named per-node parts into one tensor.

    Parameters
    ----------
    parts : mapping of str to torch.Tensor
        name -> (N,) or (N, c) tensor, all with the same N, dtype and device.
    layout : Layout, optional
        Expected layout (e.g. the one saved with a model): the parts are packed in its
        order and must match its names and widths. Default: the order of ``parts``.

    Returns
    -------
    x : torch.Tensor
        (N, F) packed features.
    layout : Layout
        The names and widths of ``x``'s column groups.

    Raises
    ------
    InputError
        If ``parts`` lacks a part of ``layout``, has an extra one, or a width differs.
    """
    cols = {n: (t[:, None] if t.dim() == 1 else t.reshape(t.shape[0], -1)) for n, t in parts.items()}
    if layout is None:
        layout = Layout(tuple((n, int(t.shape[1])) for n, t in cols.items()))
    else:
        missing = [n for n in layout.names if n not in cols]
        extra = [n for n in cols if n not in layout.names]
        if missing or extra:
            raise InputError(f"features do not match the model's layout: missing "
                             f"{', '.join(missing) or 'none'}; unexpected {', '.join(extra) or 'none'}")
        for n, w in layout.entries:
            if cols[n].shape[1] != w:
                raise InputError(f"feature '{n}' has {cols[n].shape[1]} components, the model expects {w}")
    sizes = {int(t.shape[0]) for t in cols.values()}
    if len(sizes) > 1:
        raise InputError(f"features have different node counts: {sorted(sizes)}")
    if not cols:
        raise ValueError("nothing to pack")
    return torch.cat([cols[n] for n in layout.names], dim=1), layout
