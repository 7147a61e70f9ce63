"""Normalisers keyed by feature name, with statistics accumulated in one streaming pass.

Every quantity a network sees or predicts (coordinates, edge vectors, input scalars,
fields, time increments) is standardised as ``(x - mean) / std`` with statistics
kept under the feature's NAME, never a column number. The statistics are "running":
:meth:`Normalizers.update` merges a new chunk of values into the count, mean and sum of
squared deviations (Chan et al.'s parallel update), so a dataset is scanned one sample
at a time without holding it in memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["Normalizers", "RunningStats"]

#: a standard deviation below this share of max(1, |mean|) counts as constant (std := 1)
_CONSTANT = 1e-10


@dataclass
class RunningStats:
    """Count, mean and sum of squared deviations of a feature with ``c`` components.

    Attributes
    ----------
    count : float
        Number of values seen (rows).
    mean : np.ndarray
        (c,) float64 mean per component.
    m2 : np.ndarray
        (c,) float64 sum of squared deviations from the mean per component.
    """

    count: float
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, width: int) -> RunningStats:
        """Statistics of nothing, for a feature with ``width`` components."""
        return cls(0.0, np.zeros(width), np.zeros(width))

    def update(self, values: np.ndarray) -> None:
        """Merge a chunk of values.

        Parameters
        ----------
        values : np.ndarray
            (n, c) or (n,) for c = 1; any float dtype.
        """
        v = np.asarray(values, dtype=np.float64).reshape(-1, self.mean.shape[0])
        n = float(v.shape[0])
        if n == 0:
            return
        mean_b = v.mean(axis=0)
        m2_b = ((v - mean_b) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2_b + delta**2 * (self.count * n / total)
        self.count = total

    @property
    def std(self) -> np.ndarray:
        """(c,) population standard deviation; 1 for a (near-)constant component."""
        var = self.m2 / max(self.count, 1.0)
        std = np.sqrt(np.maximum(var, 0.0))
        constant = std <= _CONSTANT * np.maximum(1.0, np.abs(self.mean))
        return np.where(constant, 1.0, std)


@dataclass
class Normalizers:
    """Standardisation statistics by feature name.

    Examples
    --------
    >>> import numpy as np, torch
    >>> norm = Normalizers()
    >>> norm.update("P", np.array([1.0, 3.0]))
    >>> norm.update("P", np.array([5.0]))
    >>> float(norm.mean("P")[0]), round(float(norm.std("P")[0]), 4)
    (3.0, 1.633)
    >>> norm.normalize("P", torch.tensor([[3.0]])).tolist()
    [[0.0]]
    """

    stats: dict[str, RunningStats] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.stats

    def update(self, name: str, values: np.ndarray) -> None:
        """Merge ``values`` ((n,) or (n, c)) into the statistics of ``name``."""
        v = np.asarray(values)
        width = 1 if v.ndim <= 1 else int(np.prod(v.shape[1:]))
        if name not in self.stats:
            self.stats[name] = RunningStats.empty(width)
        elif self.stats[name].mean.shape[0] != width:
            raise ValueError(f"feature '{name}' has {width} components here but "
                             f"{self.stats[name].mean.shape[0]} before")
        self.stats[name].update(v.reshape(-1, width))

    def mean(self, name: str) -> np.ndarray:
        """(c,) mean of ``name``."""
        return self._get(name).mean

    def std(self, name: str) -> np.ndarray:
        """(c,) standard deviation of ``name`` (1 where constant)."""
        return self._get(name).std

    def normalize(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` of ``name``; ``x`` (..., c), same dtype and device out."""
        mean, std = self._tensors(name, x)
        return (x - mean) / std

    def denormalize(self, name: str, z: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalize`: ``z * std + mean``."""
        mean, std = self._tensors(name, z)
        return z * std + mean

    def state(self) -> dict[str, dict[str, Any]]:
        """JSON-able statistics: name -> {count, mean, m2}."""
        return {k: {"count": s.count, "mean": s.mean.tolist(), "m2": s.m2.tolist()}
                for k, s in self.stats.items()}

    @classmethod
    def from_state(cls, state: dict[str, dict[str, Any]]) -> Normalizers:
        """Rebuild from :meth:`state`."""
        return cls({k: RunningStats(float(v["count"]), np.asarray(v["mean"], np.float64),
                                    np.asarray(v["m2"], np.float64)) for k, v in state.items()})

    def _get(self, name: str) -> RunningStats:
        if name not in self.stats:
            raise KeyError(f"no normaliser for '{name}'; known: {', '.join(self.stats) or 'none'}")
        return self.stats[name]

    def _tensors(self, name: str, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self._get(name)
        mean = torch.as_tensor(s.mean, dtype=like.dtype, device=like.device)
        std = torch.as_tensor(s.std, dtype=like.dtype, device=like.device)
        return mean, std
