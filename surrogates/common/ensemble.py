"""Deep ensembles: the mean prediction and the spread of independently trained members.

Lakshminarayanan et al. (2017): M networks, each with its own initialisation, data
order and noise, trained on the same data. Their standard deviation is an estimate of
the model (epistemic) uncertainty only; it is labelled as such in ``Prediction.uncertainty``
and is not a calibrated interval unless it was scaled on held-out samples
(:mod:`.calibration`, ``calibration_samples`` in the config).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["combine", "describe"]


def combine(members: Sequence[dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Mean and standard deviation over members, name by name.

    Parameters
    ----------
    members : sequence of dict
        One dict per member: name -> array (any shape, equal across members).

    Returns
    -------
    mean : dict
        name -> mean over members.
    std : dict
        name -> population std over members (empty dict for one member).

    Examples
    --------
    >>> import numpy as np
    >>> m, s = combine([{"T": np.array([1.0])}, {"T": np.array([3.0])}])
    >>> m["T"].tolist(), s["T"].tolist()
    ([2.0], [1.0])
    """
    if not members:
        raise ValueError("an ensemble needs at least one member")
    names = list(members[0])
    stacked = {n: np.stack([np.asarray(m[n], float) for m in members]) for n in names}
    mean = {n: v.mean(axis=0) for n, v in stacked.items()}
    std = {n: v.std(axis=0) for n, v in stacked.items()} if len(members) > 1 else {}
    return mean, std


def describe(n_members: int) -> str:
    """The ``Prediction.uncertainty`` label of an ensemble of ``n_members``."""
    if n_members <= 1:
        return "none"
    return (f"deep ensemble of {n_members} members: std across members (independent "
            "initialisation, data order and noise); model uncertainty only, not calibrated")
