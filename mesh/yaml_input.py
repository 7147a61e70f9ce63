"""Reading YAML input files (manifests, case files, recipes) with errors that name the file and key."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

__all__ = ["describe_validation_error", "read_yaml_mapping"]


def read_yaml_mapping(path: Path, error: type[Exception], what: str) -> dict[str, Any]:
    """The mapping stored in the YAML file ``path``.

    ``what`` names the file in messages (e.g. ``"case file 'le1.yaml'"``); a missing file,
    invalid YAML or a document that is not a mapping raises ``error`` saying so.
    """
    if not path.exists():
        raise error(f"{what} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise error(f"{what} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{what} must hold a mapping; got {type(data).__name__}")
    return data


def describe_validation_error(exc: ValidationError) -> str:
    """One indented line per pydantic error: ``  dotted.key: reason`` (``unknown key`` for extras)."""
    lines = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"])
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "value_error":
            msg = str(e.get("ctx", {}).get("error", e["msg"]))
        else:
            msg = e["msg"]
        lines.append(f"  {loc + ': ' if loc else ''}{msg}")
    return "\n".join(lines)
