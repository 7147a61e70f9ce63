"""The metrics CSV of a training run: one row per member and epoch, in the workdir.

The file is rewritten atomically from the rows kept in the checkpoints, so after a
resume it holds exactly the epochs that the resumed training builds on (rows of an
epoch that was lost with a kill never remain).
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "read_metrics", "write_metrics"]

#: columns of ``metrics.csv``
COLUMNS = ("member", "epoch", "step", "lr", "loss", "field_loss", "scalar_loss", "seconds")


def write_metrics(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write ``rows`` (dicts keyed by :data:`COLUMNS`) to ``path`` atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(r.get(k, "")) for k in COLUMNS})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(buf.getvalue())
    os.replace(tmp, path)
    return path


def read_metrics(path: Path) -> list[dict[str, float]]:
    """Rows of a metrics CSV as dicts of floats."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def _fmt(v: Any) -> Any:
    return f"{v:.9g}" if isinstance(v, float) else v
