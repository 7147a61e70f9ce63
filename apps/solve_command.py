"""`surrogate solve CASE.yaml`: one FEM case file, solved and written."""
from __future__ import annotations

from pathlib import Path

from .console import console


def run_solve(case: Path) -> None:
    """Solve the case file with :func:`physics.solve` and report where the result is."""
    import physics

    result = physics.solve(case)
    console.print(result.summary() if hasattr(result, "summary") else repr(result))
