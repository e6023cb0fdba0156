"""``create_tracker``: the one public way to build a tracker, by its name in the registry (app/registry.py); and
``backbone_engine``: which backbone engine a built tracker runs, and why."""

from __future__ import annotations

from dataclasses import dataclass

from twintrack.device import resolve_device
from twintrack.app.registry import get_tracker, list_trackers

__all__ = ["create_tracker", "list_trackers", "backbone_engine", "BackboneEngine"]


def create_tracker(name: str, weights=None, device="auto", seed=None, **overrides):
    """Build a registered tracker by name (``twintrack.list_trackers()`` lists them).

    ``weights``: a .safetensors path (default: the tracker's default, for the built-ins the shipped weights).
    ``device``: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``. ``seed``: makes stochastic trackers
    repeatable (SiamFC is deterministic and ignores it). ``overrides``: config keys of the tracker's preset,
    e.g. ``window_influence=0.2``.
    """
    return get_tracker(name).create(resolve_device(device), weights=weights, seed=seed, overrides=overrides)


@dataclass(frozen=True)
class BackboneEngine:
    """Which backbone engine a tracker runs and why (``backbone_engine(tracker)``).

    ``name``: ``int8`` (ONNX Runtime), ``bf16`` or ``fp32`` (torch); for the twin, each part's, e.g.
    ``siamfc int8, mdnet fp32``. ``reason``: why that one. ``needs_calibration``: int8 would run on this machine
    given an int8 calibration for these weights (``twintrack export TRACKER --weights W --int8 --calib-data TRAIN``).
    """

    name: str
    reason: str
    needs_calibration: bool


def backbone_engine(tracker) -> BackboneEngine | None:
    """The backbone engine of a built tracker (MultiTracker and the twin included); None for trackers without one
    (the OpenCV baselines)."""
    parts = _engines(tracker)
    if not parts:
        return None
    described = [(name, engine.precision, _engine_reason(engine, config)) for name, engine, config in parts]
    if len({(precision, reason) for _, precision, reason in described}) == 1:
        name, reason = described[0][1], described[0][2]
    else:
        name = ", ".join(f"{part} {precision}" for part, precision, _ in described)
        reason = "; ".join(f"{part}: {reason}" for part, _, reason in described)
    needs = any(_needs_calibration(engine) for _, engine, _ in parts)
    return BackboneEngine(name=name, reason=reason, needs_calibration=needs)


def _engines(tracker) -> list[tuple]:
    """``(tracker name, engine, config)`` for each backbone engine inside ``tracker``."""
    engine = getattr(tracker, "backbone_engine", None)  # SiamFC
    if engine is None:
        engine = getattr(getattr(tracker, "extractor", None), "engine", None)  # MDNet
    if engine is not None:
        return [(getattr(tracker, "name", "tracker"), engine, getattr(tracker, "config", None))]
    # The twin's two trackers; a MultiTracker's prototype (every object shares or copies its engine).
    inner = [getattr(tracker, attribute, None) for attribute in ("siamfc", "mdnet", "_prototype")]
    return [part for one in inner if one is not None for part in _engines(one)]


def _engine_reason(engine, config) -> str:
    asked = getattr(config, "precision", "auto")
    if engine.precision == "int8":
        source = f"int8_model={config.int8_model}" if getattr(config, "int8_model", "") else "the shipped calibration"
        return f"ONNX Runtime with an int8 calibration for these weights ({source})"
    if engine.note:  # auto or int8 fell back: the engine's own one-clause reason
        return engine.note.split(" (")[0].split(";")[0]
    if engine.device.type != "cpu":
        return f"on {engine.device}" + ("" if asked == "auto" else f"; precision={asked} was asked for") + \
            " (int8 runs on the CPU only)"
    if asked != "auto":
        return f"precision={asked} was asked for"
    return "this CPU has no fast int8 (VNNI or AMX)"


def _needs_calibration(engine) -> bool:
    return engine.precision != "int8" and "calibration" in (engine.note or "")
