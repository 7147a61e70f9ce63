"""The web viewer of ``surrogate view``: a trame + pyvista app and static exports.

Modules, one concept each:

- :mod:`.targets` -- what a TARGET path holds (dataset, report, folder of meshes, files)
  and how one sample is loaded for display;
- :mod:`.fields` -- field discovery: prediction / reference / error / std by name suffix,
  point and cell data, vector magnitude and components;
- :mod:`.scene` -- the pyvista scene: colour map and range, side-by-side panes with one
  shared range, scalar bars with units, clipping and slicing, edges;
- :mod:`.export` -- ``--export png|html`` without a server;
- :mod:`.ui` -- the page layout (left drawer of controls, the view filling the rest);
- :mod:`.app` -- the trame application (server-side rendering, no WebGL needed).

Nothing here is imported by ``apps.cli`` until ``surrogate view`` runs, and trame is
imported only by :mod:`.app`.
"""
from .errors import ExportError, FieldNotFoundError, NothingToViewError, PortInUseError

__all__ = ["ExportError", "FieldNotFoundError", "NothingToViewError", "PortInUseError"]
