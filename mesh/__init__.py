"""Mesh data model, I/O, graphs, quality checks and the on-disk dataset format.

Public API::

    from mesh import Mesh, CellBlock, read, write, to_graph, check_quality
    from mesh import Dataset, Sample, ProblemDefinition
"""
from .core import CellBlock, Mesh
from .errors import DatasetError, MeshError, MeshReadError, MeshWriteError, MorphingError

__all__ = [
    "CellBlock",
    "Mesh",
    "MeshError",
    "MeshReadError",
    "MeshWriteError",
    "DatasetError",
    "MorphingError",
]
