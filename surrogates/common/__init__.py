"""Pieces shared by the neural surrogate families (MeshGraphNet, graph transformer).

- :mod:`.normalize`: normalisers keyed by feature name (streaming statistics);
- :mod:`.features`: packing named features into one tensor with its :class:`Layout`;
- :mod:`.encoding`: samples and meshes -> normalised inputs and targets (:class:`Encoder`);
- :mod:`.batching`: several meshes as one block-diagonal graph, pooling per mesh;
- :mod:`.training`: batches, schedule, loss, :func:`train_epoch`, :func:`fit_member`;
- :mod:`.checkpoint`: atomic checkpoints with every RNG state, for ``resume``;
- :mod:`.metrics`: the metrics CSV; :mod:`.distributed`: DDP helpers;
- :mod:`.ensemble`: deep-ensemble mean and spread;
- :mod:`.surrogate`: :class:`NeuralSurrogate`, the Surrogate subclass both families extend.
"""
from .batching import EdgeSet, GraphBatch, GraphItem, collate, pool_max, pool_mean
from .config import NeuralConfig
from .encoding import Encoder, Example, MeshTensors
from .features import Layout, pack
from .normalize import Normalizers, RunningStats
from .surrogate import NeuralSurrogate, resolve_device
from .training import fit_member, train_epoch

__all__ = [
    "EdgeSet", "Encoder", "Example", "GraphBatch", "GraphItem", "Layout", "MeshTensors",
    "NeuralConfig", "NeuralSurrogate", "Normalizers", "RunningStats", "collate", "fit_member",
    "pack", "pool_max", "pool_mean", "resolve_device", "train_epoch",
]
