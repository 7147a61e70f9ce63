"""`surrogate solve CASE.yaml`: one FEM case file, solved and written."""
from __future__ import annotations

from pathlib import Path

from .console import console


def run_solve(case: Path, out: Path | None = None) -> None:
    """Solve the case file with :func:`physics.solve` and print a summary of the result."""
    import physics

    result = physics.solve(case, output=out)
    console.print(result.summary())
