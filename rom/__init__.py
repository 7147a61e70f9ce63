"""Reduced-order modelling: POD/SVD, Galerkin projection, hyper-reduction, local bases.

Public API::

    from rom import pod, PODBasis
"""
from .pod import PODBasis, pod

__all__ = ["PODBasis", "pod"]
