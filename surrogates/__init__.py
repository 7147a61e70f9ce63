"""Surrogate models behind one interface.

    import surrogates
    model = surrogates.create("mmgp", n_modes_fields=12)
    model.fit(train_dataset)
    pred = model.predict(mesh, {"P": 3.0e6})
    pred.fields["von_mises"], pred.std["von_mises"], pred.scalars["max_von_mises"]
    model.save("runs/plate-mmgp"); model = surrogates.load("runs/plate-mmgp")
"""
from .errors import InputError, ModelFormatError, SurrogateError
from .interface import Surrogate, SurrogateConfig
from .prediction import Prediction
from .registry import FAMILIES, create, family_class, load

__all__ = ["Surrogate", "SurrogateConfig", "Prediction", "create", "load", "family_class", "FAMILIES",
           "SurrogateError", "ModelFormatError", "InputError"]
