"""Configuration shared by the neural families (training, features, ensembles).

A family's config subclasses :class:`NeuralConfig` and adds its architecture keys;
unknown keys are rejected and the config is saved in the model folder, so
``surrogates.load`` rebuilds the same network.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..interface import SurrogateConfig

__all__ = ["NeuralConfig"]


class NeuralConfig(SurrogateConfig):
    """Training, feature and ensemble options of a neural surrogate.

    Attributes
    ----------
    hidden : latent width of nodes (and edges).
    layers : number of processor blocks (message-passing steps or transformer blocks).
    epochs : passes over the training examples (a time-dependent dataset has one example
        per sample and time step).
    samples_per_epoch : examples drawn (without replacement) per epoch; None = all.
    batch_size : meshes per optimiser step and process (DDP: the global batch is
        ``batch_size * world_size``).
    lr, lr_min : peak and final learning rate.
    schedule : ``"cosine"`` (to ``lr_min``), ``"exponential"`` (to ``lr_min``) or
        ``"constant"``, over optimiser steps, after ``warmup_steps`` of linear warm-up.
    weight_decay : AdamW weight decay.
    grad_clip : max global gradient norm (None: no clipping).
    noise : time-dependent data: std of the Gaussian noise added to the normalised state
        inputs in training (the target increment is taken from the noisy state, as in
        MeshGraphNet), for stable rollouts.
    scalar_weight : weight of the output-scalar loss against the field loss.
    ensemble : number of independently initialised and shuffled members (deep ensemble);
        the prediction is their mean and the reported std their spread. 1 = no uncertainty.
    calibration_samples : with an ensemble, the last k training samples are held out
        of training and the spread is scaled per output to 95 % coverage on them
        (:mod:`.calibration`); 0: the raw spread, labelled as not calibrated.
    seed : seed of initialisation, data order and noise (member m uses seed + m).
    groups : node groups given as 0/1 node features; None = the groups every training mesh
        has, except those covering every node.
    device : ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    amp : bfloat16 autocast of the forward pass (CUDA and CPU; on CPU the sparse
        attention runs in float32 inside it).
    activation_checkpointing : recompute each block's activations in backward (less memory).
    ddp_backend : process-group backend when launched by torchrun (``"auto"``: nccl on
        CUDA, gloo on CPU).
    tensorboard : also log the per-epoch metrics as TensorBoard events in
        ``<workdir>/tensorboard/member-<m>`` (needs the optional ``tensorboard`` package;
        see :mod:`.tensorboard`). ``metrics.csv`` is written either way.
    """

    hidden: int = Field(128, ge=1)
    layers: int = Field(15, ge=1)
    epochs: int = Field(50, ge=0)
    samples_per_epoch: int | None = Field(None, ge=1)
    batch_size: int = Field(2, ge=1)
    lr: float = Field(1e-3, gt=0)
    lr_min: float = Field(1e-5, ge=0)
    schedule: Literal["cosine", "exponential", "constant"] = "cosine"
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float | None = Field(1.0, gt=0)
    noise: float = Field(0.02, ge=0)
    scalar_weight: float = Field(1.0, ge=0)
    ensemble: int = Field(1, ge=1)
    calibration_samples: int = Field(0, ge=0)
    seed: int = 0
    groups: list[str] | None = None
    device: str = "auto"
    amp: bool = False
    activation_checkpointing: bool = False
    ddp_backend: Literal["auto", "gloo", "nccl"] = "auto"
    tensorboard: bool = False

    @field_validator("device")
    @classmethod
    def _device_known(cls, v: str) -> str:
        if v != "auto" and not (v == "cpu" or v.startswith("cuda")):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:k]'; got '{v}'")
        return v
