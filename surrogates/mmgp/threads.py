"""Thread limits for MMGP's small dense linear algebra (torch and BLAS), restored on exit.

MMGP factorises matrices of a few hundred to a few thousand rows (GP covariances,
POD snapshot sets). One thread is as fast as several for these sizes and is immune to
oversubscription: on a busy machine, OpenMP/OpenBLAS threads that spin-wait made a
130 x 1,000 QR take 2.9 s instead of 0.05 s, and a GP fit 30x slower. The limits are
set only inside :meth:`MMGP.fit` and :meth:`MMGP.predict` and restored afterwards, so
no global state leaks. BLAS limits need ``threadpoolctl`` (skipped without it).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import lru_cache

import torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (None: unchanged)."""
    old = torch.get_num_threads()
    if n is None or n == old:
        yield
        return
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


@lru_cache(maxsize=1)
def _controller():
    """A threadpoolctl controller (built once: scanning the loaded libraries costs ~1 ms), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@contextmanager
def limited_threads(n: int | None) -> Iterator[None]:
    """Run the block with at most ``n`` torch and BLAS threads (None: unchanged)."""
    if n is None:
        yield
        return
    with ExitStack() as stack:
        ctl = _controller()
        if ctl is not None:
            stack.enter_context(ctl.limit(limits=int(n)))
        stack.enter_context(torch_threads(n))
        yield


def auto_threads(n_train: int, threads: int | None) -> int:
    """Threads for a model trained on ``n_train`` samples: ``threads``, or 1 per 1,000 samples."""
    if threads is not None:
        return threads
    return max(1, min(torch.get_num_threads(), n_train // 1000))


__all__ = ["auto_threads", "limited_threads", "torch_threads"]
