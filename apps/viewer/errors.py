"""Named failures of the viewer; each message is one line that the CLI prints as is."""
from __future__ import annotations


class NothingToViewError(FileNotFoundError):
    """A target path is missing or holds no dataset, report or mesh file."""


class FieldNotFoundError(ValueError):
    """A requested field is not in the sample; the message lists the fields there are."""


class PortInUseError(OSError):
    """The port asked for is already taken by another program."""


class ExportError(ValueError):
    """A static export was asked for with a bad format or output path."""
