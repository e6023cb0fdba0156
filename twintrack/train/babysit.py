"""`twintrack train ... --overfit-batch`: can the model drive the loss on ONE fixed batch to ~0?

Karpathy's first babysitting check. A network with enough capacity memorises a single batch; if it cannot, the
fault is in the plumbing (gradients not reaching the weights, a learning rate of 0 or far too high, frozen layers,
a loss that does not match the outputs), not in the data or the schedule, and a long run would be wasted.

Success: the mean of the last 10 losses is below 10% of the first loss, or below 0.05. Both losses (SiamFC's
balanced logistic loss, MDNet's cross-entropy) start near ln 2 = 0.69 and reach 0 only when every label of the batch
is separated, so 10% (~0.07) means the batch is nearly memorised, while a broken pipeline stays near ln 2. The
absolute 0.05 covers a first loss that is already small (e.g. weights that were trained before).
"""

from __future__ import annotations

import math

# 200 steps: enough at the presets' rates (SiamFC lr 1e-2 reaches ~7% by step 100 on a tiny batch; MDNet,
# with dropout noise, ~3% by step 200) and a few minutes at most on a CPU.
DEFAULT_STEPS = 200
RELATIVE_TARGET = 0.10
ABSOLUTE_TARGET = 0.05
TAIL = 10  # losses averaged for the final value (momentum makes single steps wobble)


def overfit_batch(trainer, steps: int = 200, report_every: int = 20, echo=print) -> tuple[bool, list[float]]:
    """Train ``steps`` times on one batch; returns (success, losses). Writes nothing to the run folder."""
    batch = trainer.next_batch()
    losses: list[float] = []
    for step in range(1, steps + 1):
        losses.append(trainer.train_step(*batch))
        if step == 1 or step % report_every == 0 or step == steps:
            echo(f"overfit step {step:4d}/{steps}: loss {losses[-1]:.4f}")
        if not math.isfinite(losses[-1]):
            break
    final = sum(losses[-TAIL:]) / len(losses[-TAIL:])
    success = math.isfinite(final) and (final < RELATIVE_TARGET * losses[0] or final < ABSOLUTE_TARGET)
    return success, losses


def verdict(success: bool, losses: list[float]) -> str:
    """One line for the CLI."""
    final = sum(losses[-TAIL:]) / len(losses[-TAIL:])
    if success:
        return f"twintrack: overfit-batch passed: loss {losses[0]:.4f} -> {final:.4f} in {len(losses)} steps"
    return (f"twintrack: overfit-batch FAILED: the model cannot fit one batch (loss {losses[0]:.4f} -> {final:.4f} "
            f"in {len(losses)} steps, needs < {RELATIVE_TARGET:.0%} of the first or < {ABSOLUTE_TARGET}); check lr "
            "(not 0, not diverging), the *_lr_mult keys (frozen layers), that gradients reach the weights, and "
            "that labels match the outputs")
