"""``surrogate view TARGET [--port P] [--field F] [--export png|html --out FILE]``.

Without ``--export``: start the web viewer on ``http://HOST:PORT/`` and serve until
Ctrl+C. With ``--export``: write one static PNG or self-contained HTML file and return.
Bad input fails before anything starts, with a one-line message:
:class:`~apps.viewer.errors.NothingToViewError` (a ``FileNotFoundError``),
:class:`~apps.viewer.errors.FieldNotFoundError` / ``ExportError`` (``ValueError``),
:class:`~apps.viewer.errors.PortInUseError` (an ``OSError``).
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

DEFAULT_PORT = 8080


def run_view(target: str | os.PathLike, port: int = DEFAULT_PORT, host: str = "localhost",
             field: str | None = None, export: str | None = None,
             out: str | os.PathLike | None = None, open_browser: bool = False,
             *, sample: str | None = None, step: int | None = None) -> Path | None:
    """Open the viewer on ``target``, or export one static file of it.

    Parameters
    ----------
    target : a dataset folder, a validation report folder, a folder of mesh files (e.g.
        predictions), a run folder holding one of those, a mesh file or a glob pattern.
    port : TCP port of the web server (0: any free port).
    host : interface to listen on (``localhost``; ``0.0.0.0`` to serve the network).
    field : field to show first: a base name (``von_mises``) or an array name
        (``von_mises_std``, ``U2_ref``).
    export : ``"png"`` or ``"html"`` to write a static file instead of serving.
    out : the file to write with ``export``; without it, the folder where the screenshot
        button also saves its PNGs.
    open_browser : open the system's web browser on the URL.
    sample : sample id to export (default: the first, i.e. the worst case of a report).
    step : time step of a series to export (default: the last; negative counts from the end).

    Returns
    -------
    The exported file with ``export``, else None once the server stops.

    Raises
    ------
    NothingToViewError, FieldNotFoundError, ExportError, PortInUseError, mesh.MeshReadError
        One-line messages, raised before any server starts.
    """
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    from .viewer.errors import ExportError

    if export is not None:
        from .viewer.export import export as write_export

        if out is None:
            raise ExportError(f"--export {export} needs --out FILE (e.g. --out view.{export})")
        path = write_export(target, export.lower(), out, field=field, sample=sample, step=step)
        print(f"wrote {path}")
        return path
    from .viewer.targets import open_target

    tgt = open_target(target)
    port = free_port(host) if port == 0 else port
    check_port(host, port)
    os.environ.setdefault("TRAME_ARGS", "")  # trame must not parse the surrogate command line
    from .viewer.app import ViewerApp

    app = ViewerApp(tgt, field=field, screenshot_dir=Path(out) if out else None)
    if sample:
        app.state.sample_id = tgt.sample(sample).id
        app.refresh()
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(f"surrogate view: {tgt.title}\n  open http://{shown}:{port}/  (Ctrl+C to stop)", flush=True)
    app.start(port, host, open_browser)
    return None


def free_port(host: str = "localhost") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def check_port(host: str, port: int) -> None:
    """Raise :class:`PortInUseError` when another program listens on ``host:port``."""
    from .viewer.errors import PortInUseError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise PortInUseError(f"port {port} on {host} is in use ({exc.strerror}); "
                                 f"choose another with --port, e.g. --port {free_port(host)}") from None
