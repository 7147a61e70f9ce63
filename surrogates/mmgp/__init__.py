"""MMGP: mesh morphing + POD + Gaussian processes, with predictive uncertainty.

Modules: :mod:`.config` (settings), :mod:`.support` (common support, morphing and
transfer operators), :mod:`.snapshots` (training data on the support),
:mod:`.reduction` (mass-weighted POD), :mod:`.gp` (batched exact GPs, gpytorch),
:mod:`.model` (the :class:`MMGP` surrogate).
"""
from .config import GPConfig, MMGPConfig
from .model import MMGP

__all__ = ["MMGP", "GPConfig", "MMGPConfig"]
