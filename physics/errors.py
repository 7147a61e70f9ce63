"""Named failures of the ``physics`` package.

Every error says what came in and what was expected, and names the group, the
parameter or the value involved.
"""
from __future__ import annotations


class PhysicsError(ValueError):
    """Base class of the errors raised by the FEM solvers."""


class CaseError(PhysicsError):
    """A case (dict or YAML file) is invalid: unknown key, missing parameter, bad value."""


class GroupError(CaseError, KeyError):
    """A boundary condition or load names a group that the mesh does not have.

    The message lists the groups there are.
    """

    def __init__(self, name: str, available: list[str], what: str = "group") -> None:
        self.name = name
        self.available = list(available)
        msg = (
            f"{what} '{name}' is not in the mesh; groups: "
            f"{', '.join(self.available) or '(none)'}"
        )
        self.message = msg
        ValueError.__init__(self, msg)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class IllPosedError(PhysicsError):
    """The problem has no unique solution (e.g. elasticity with no Dirichlet condition)."""


class InvertedCellsError(PhysicsError):
    """The mesh has cells with non-positive signed volume (the message counts them)."""


class ConvergenceError(PhysicsError):
    """An iterative solver did not reach its tolerance (the message gives the residual)."""


class GmshError(PhysicsError):
    """The gmsh model cannot be converted (unsupported element type, no elements, ...)."""
