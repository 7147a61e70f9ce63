"""Optional TensorBoard logging of a training run (``tensorboard: true`` in the config).

One event folder per ensemble member, ``<workdir>/tensorboard/member-<m>``, with the
scalars of ``metrics.csv`` (loss, field_loss, scalar_loss, lr, seconds) at step = epoch.
After ``--resume`` the first epoch logged by the new process purges any event of that
epoch or later left by the killed one, so the curves show exactly the epochs that the
resumed training builds on (as ``metrics.csv`` does). View with
``tensorboard --logdir RUN/work/tensorboard``.

TensorBoard is an optional dependency (``pip install mesh-surrogates[tensorboard]``);
asking for it without the package installed is a clear error before training starts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SurrogateError

__all__ = ["EpochLogger", "require_tensorboard"]

#: the metrics.csv columns written as TensorBoard scalars
SCALARS = ("loss", "field_loss", "scalar_loss", "lr", "seconds")


def require_tensorboard() -> type:
    """The ``SummaryWriter`` class of ``torch.utils.tensorboard``.

    Raises
    ------
    SurrogateError
        When the ``tensorboard`` package is not installed (says how to install it).
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise SurrogateError("tensorboard: true needs the 'tensorboard' package: "
                             "pip install 'mesh-surrogates[tensorboard]' (or set tensorboard: false)") from err
    return SummaryWriter


class EpochLogger:
    """Writes one member's per-epoch metrics to ``<root>/member-<m>``.

    Parameters
    ----------
    root : the ``tensorboard`` folder of the run's workdir.
    member : ensemble member index.
    """

    def __init__(self, root: Path, member: int) -> None:
        self._cls = require_tensorboard()
        self.log_dir = Path(root) / f"member-{member}"
        self._writer: Any = None

    def log(self, row: dict[str, Any]) -> None:
        """Write the scalars of one ``metrics.csv`` row (its ``epoch`` is the step)."""
        epoch = int(row["epoch"])
        if self._writer is None:  # purge what a killed run logged from this epoch on
            self._writer = self._cls(log_dir=str(self.log_dir), purge_step=epoch)
        for name in SCALARS:
            if row.get(name) is not None:
                self._writer.add_scalar(name, float(row[name]), epoch)
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file (a no-op when nothing was logged)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
