"""Optimizers and learning-rate schedules chosen by name in the training config."""

from __future__ import annotations

import torch

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adabound", "swats")


def build_optimizer(name: str, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name in ("adabound", "swats"):
        # From pytorch-optimizer rather than re-written: these are the published algorithms.
        import pytorch_optimizer

        cls = pytorch_optimizer.AdaBound if name == "adabound" else pytorch_optimizer.SWATS
        return cls(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer '{name}'; choose one of {', '.join(OPTIMIZERS)}")


def exponential_gamma(lr: float, lr_final: float, epochs: int) -> float:
    """Per-epoch decay factor that takes ``lr`` to ``lr_final`` over ``epochs`` epochs."""
    return (lr_final / lr) ** (1.0 / max(1, epochs))
