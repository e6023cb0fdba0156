"""Optimizers, learning-rate schedules and the epoch-start hook, chosen by name in the training config.

Schedules here are a pure function of the epoch (``lr = initial group lr x factor(epoch)``): a resumed run, or a
trainer that counts iterations instead of epochs (MDNet), gets the exact rate of that epoch without replaying steps.
"""

from __future__ import annotations

import math
import warnings

import torch

from twintrack.errors import UserError
from twintrack.optional import require

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adabound", "swats", "adam_then_sgd")
SCHEDULES = ("exponential", "step", "cosine", "constant")
INITS = ("kaiming", "xavier")


def _check_choice(key: str, value: str, choices) -> None:
    if value not in choices:
        raise UserError(f"unknown {key} '{value}'; choose one of {', '.join(choices)}")


def check_train_config(config) -> None:
    """Refuse unknown names and impossible numbers in a training config (either tracker) with one clear line."""
    _check_choice("optimizer", config.optimizer, OPTIMIZERS)
    _check_choice("lr_schedule", config.lr_schedule, SCHEDULES)
    _check_choice("init", config.init, INITS)
    if config.lr < 0 or config.lr_final <= 0:
        raise UserError(f"lr must be >= 0 and lr_final > 0 (got lr={config.lr}, lr_final={config.lr_final})")
    if config.lr_schedule == "step" and (config.lr_step_epochs < 1 or config.lr_step_gamma <= 0):
        raise UserError("lr_schedule step needs lr_step_epochs >= 1 and lr_step_gamma > 0")
    if config.sgd_lr < 0:
        raise UserError(f"sgd_lr must be >= 0 (0: the SWATS estimate), got {config.sgd_lr}")
    if config.optimizer == "adam_then_sgd" and config.switch_epoch < 1:
        # Switching before any Adam step would leave no SWATS estimate and make the optimizer plain SGD.
        raise UserError(f"adam_then_sgd needs switch_epoch >= 1 (got {config.switch_epoch}); use optimizer=momentum "
                        "for SGD from the start")
    dropout = getattr(config, "dropout", 0.0)
    if not 0.0 <= dropout < 1.0:
        raise UserError(f"dropout must be in [0, 1), got {dropout}")


def lr_groups(lr: float, parts) -> list[dict]:
    """Param groups from ``[(parameters, lr_mult), ...]``: each group's lr is ``lr * lr_mult``; empty parts are
    dropped. A group keeps its ``lr_mult`` so that optimizers that derive a second rate (adam_then_sgd) scale it too."""
    groups = []
    for params, mult in parts:
        params = [p for p in params if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * mult, "lr_mult": float(mult)})
    return groups


def build_optimizer(name: str, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                    sgd_lr: float = 0.0):
    """``params`` is an iterable of tensors or of param-group dicts; a group's own "lr" is kept."""
    _check_choice("optimizer", name, OPTIMIZERS)
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
    if name == "adam_then_sgd":
        return AdamThenSGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, sgd_lr=sgd_lr)
    # adabound, swats: from pytorch-optimizer rather than re-written, these are the published algorithms.
    pytorch_optimizer = require("pytorch_optimizer", f"optimizer '{name}'", extra="train")
    cls = pytorch_optimizer.AdaBound if name == "adabound" else pytorch_optimizer.SWATS
    return cls(params, lr=lr, weight_decay=weight_decay)


class AdamThenSGD(torch.optim.Optimizer):
    """Adam until ``switch()``, then SGD with momentum (Keskar & Socher 2017, "SWATS", with a chosen switch point).

    While in Adam, each group keeps the SWATS projection estimate of an equivalent SGD rate: with ``p`` Adam's update
    and ``g`` the gradient, ``gamma = p.p / -p.g`` (when ``p.g < 0``), ``lambda = b2 lambda + (1 - b2) gamma`` and the
    estimate is ``lambda / (1 - b2^k)``. At the switch a group's SGD rate is ``sgd_lr x lr_mult`` when ``sgd_lr > 0``,
    else ``(1 - momentum) x estimate`` (the paper's momentum form: the momentum buffer sums ~1/(1 - momentum)
    gradients, so the steady-state step is ``estimate x g`` as measured).

    Schedules keep working after the switch: the group's "lr" stays the scheduled (Adam-scale) rate and SGD steps
    with ``lr x sgd_ratio``, the ratio fixed at the switch. So the SGD rate starts at the value above and then follows
    the schedule's relative decay. The switched flag, ratio and estimate are plain numbers in the param groups, so
    ``state_dict()`` / ``load_state_dict()`` round-trip them exactly.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.9, sgd_lr: float = 0.0):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, momentum=momentum,
                        sgd_lr=sgd_lr, lr_mult=1.0, switched=False, sgd_ratio=0.0, swats_lambda=0.0, swats_steps=0)
        super().__init__(params, defaults)

    @property
    def switched(self) -> bool:
        return all(group["switched"] for group in self.param_groups)

    @staticmethod
    def swats_estimate(group: dict) -> float:
        """The group's bias-corrected SGD-rate estimate (0.0 before any usable Adam step)."""
        if group["swats_steps"] == 0:
            return 0.0
        return group["swats_lambda"] / (1.0 - group["betas"][1] ** group["swats_steps"])

    def switch(self) -> None:
        """From the next step on, SGD with momentum; Adam's moments are dropped (they are no longer used)."""
        for group in self.param_groups:
            if group["switched"]:
                continue
            if group["sgd_lr"] > 0:
                target = group["sgd_lr"] * group["lr_mult"]
            else:
                estimate = self.swats_estimate(group)
                if not (estimate > 0 and math.isfinite(estimate)):
                    # No step ever had p.g < 0 (e.g. the group never got a gradient): Adam's own rate is the
                    # safe choice; it is small for SGD, never explosive.
                    warnings.warn("adam_then_sgd: no SWATS estimate for a param group; SGD uses its Adam lr",
                                  stacklevel=2)
                    estimate = group["lr"] / (1.0 - group["momentum"])
                target = (1.0 - group["momentum"]) * estimate
            group["sgd_ratio"] = target / group["lr"] if group["lr"] > 0 else 0.0
            group["switched"] = True
            for p in group["params"]:
                self.state[p].pop("exp_avg", None)
                self.state[p].pop("exp_avg_sq", None)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group["switched"]:
                self._sgd_step(group)
            else:
                self._adam_step(group)
        return loss

    def _gradients(self, group: dict):
        """(parameter, gradient with L2 weight decay added, state) for each parameter of ``group`` with a gradient."""
        for p in group["params"]:
            if p.grad is not None:
                grad = p.grad.add(p, alpha=group["weight_decay"]) if group["weight_decay"] else p.grad
                yield p, grad, self.state[p]

    def _sgd_step(self, group: dict) -> None:
        lr = group["lr"] * group["sgd_ratio"]
        for p, grad, state in self._gradients(group):
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.clone()
            else:
                state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
            p.add_(state["momentum_buffer"], alpha=-lr)

    def _adam_step(self, group: dict) -> None:
        beta1, beta2 = group["betas"]
        # Accumulated as tensors and read once per group: one device sync per step, only when the estimate is used.
        p_dot_p = p_dot_g = None
        for p, grad, state in self._gradients(group):
            if "exp_avg" not in state:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            # Per-parameter step count for bias correction (as torch.optim.Adam): an MDNet fc6 branch gets its
            # first gradient long after the shared layers.
            state["step"] += 1
            state["exp_avg"].lerp_(grad, 1 - beta1)
            state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (state["exp_avg_sq"] / (1 - beta2 ** state["step"])).sqrt_().add_(group["eps"])
            update = state["exp_avg"] / denom * (-group["lr"] / (1 - beta1 ** state["step"]))
            p.add_(update)
            if group["sgd_lr"] <= 0:
                pp, pg = (update * update).sum(), (update * grad).sum()
                p_dot_p = pp if p_dot_p is None else p_dot_p + pp
                p_dot_g = pg if p_dot_g is None else p_dot_g + pg
        if p_dot_p is None:
            return
        group["swats_steps"] += 1
        pp, pg = torch.stack([p_dot_p, p_dot_g]).double().tolist()
        if pg < 0:
            group["swats_lambda"] = beta2 * group["swats_lambda"] + (1 - beta2) * (pp / -pg)


class EpochSchedule:
    """Every group's lr = its lr at construction x ``factor(epoch)``; ``step()`` advances one epoch.

    Has the parts of torch's LR schedulers the trainers use (``step``, ``get_last_lr``, ``state_dict``,
    ``load_state_dict``) plus ``set_epoch`` for trainers that place the schedule directly (resume, MDNet).
    """

    def __init__(self, optimizer, factor) -> None:
        self.optimizer = optimizer
        self.factor = factor
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        scale = self.factor(self.epoch)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * scale

    def step(self) -> None:
        self.set_epoch(self.epoch + 1)

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict) -> None:
        self.base_lrs = list(state["base_lrs"])
        self.set_epoch(state["epoch"])


def build_optimization(config, groups, length: int):
    """The optimizer and its schedule from a training config (either tracker); ``length``: epochs or iterations."""
    optimizer = build_optimizer(config.optimizer, groups, config.lr, config.momentum, config.weight_decay,
                                sgd_lr=config.sgd_lr)
    scheduler = build_scheduler(optimizer, config.lr_schedule, length, config.lr, config.lr_final,
                                config.lr_step_epochs, config.lr_step_gamma)
    return optimizer, scheduler


def exponential_gamma(lr: float, lr_final: float, epochs: int) -> float:
    """Per-epoch decay factor that takes ``lr`` to ``lr_final`` over ``epochs`` epochs."""
    return (lr_final / lr) ** (1.0 / max(1, epochs)) if lr > 0 else 1.0


def schedule_factor(kind: str, epoch: int, epochs: int, lr: float, lr_final: float, step_epochs: int = 1,
                    step_gamma: float = 0.1) -> float:
    """The lr multiplier at the start of ``epoch`` (0-based). Ratios, not absolute rates, so per-layer
    multipliers (and frozen groups at 0) keep their proportions all through the run."""
    _check_choice("lr_schedule", kind, SCHEDULES)
    if kind == "constant":
        return 1.0
    if kind == "exponential":  # lr -> lr_final at the end of the last epoch
        return exponential_gamma(lr, lr_final, epochs) ** epoch
    if kind == "step":
        return step_gamma ** (epoch // max(1, step_epochs))
    # cosine: from lr down to lr_final at the end of the last epoch (SGDR without restarts).
    final = lr_final / lr if lr > 0 else 1.0
    progress = min(epoch, epochs) / max(1, epochs)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer, kind: str, epochs: int, lr: float, lr_final: float, step_epochs: int = 1,
                    step_gamma: float = 0.1) -> EpochSchedule:
    _check_choice("lr_schedule", kind, SCHEDULES)
    return EpochSchedule(optimizer, lambda e: schedule_factor(kind, e, epochs, lr, lr_final, step_epochs, step_gamma))


def on_epoch_start(optimizer, epoch: int, switch_epoch: int, scheduler: EpochSchedule | None = None) -> None:
    """Call at the start of each epoch (MDNet: each iteration) with the number of epochs completed.

    Places the schedule at ``epoch`` (when given; idempotent after ``scheduler.step()``) and then, for
    adam_then_sgd, switches to SGD once ``epoch >= switch_epoch`` (so the SGD rate is fixed against that epoch's lr).
    """
    if scheduler is not None:
        scheduler.set_epoch(epoch)
    if isinstance(optimizer, AdamThenSGD) and switch_epoch > 0 and epoch >= switch_epoch and not optimizer.switched:
        optimizer.switch()
