"""The tracker registry: every tracker is registered here once, and everything that names trackers reads it.

An entry says how to build a tracker by name: its config class and YAML preset, the network builder, the tracker
class, the weights (architecture name and default file) and, for training, the trainer and its config. Then
``create_tracker``, ``MultiTracker``, ``list_trackers()``, every command (``--tracker`` choices and help, ``train``,
``lr-find``, ``eval``, ``export`` for entries with an ``export`` hook) and the TraX server know the tracker, with no
other edit::

    from twintrack.app.registry import TrackerEntry, register_tracker

    register_tracker(TrackerEntry(
        name="mytracker", config_class=MyConfig, preset="/path/to/mytracker.yaml",
        build_model=lambda config: MyNet(), tracker_class=MyTracker, weights_arch="my_arch",
        default_weights="/path/to/weights.safetensors"))

The registry maps names to entries, nothing else: an entry holds no config values and no network, so two trackers
of one name with different configs live side by side in one process. It sits in the application layer, above
tracker/, train/, eval/ and runtime/, so it names their classes directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twintrack.configs import MDNetConfig, MDNetTrainConfig, SiamFCConfig, SiamFCTrainConfig, TwinConfig, load_preset
from twintrack.errors import UserError
from twintrack.models import SiamFCNet
from twintrack.models.mdnet import MDNet
from twintrack.runtime.export import export_mdnet, export_siamfc
from twintrack.tracker.mdnet import MDNetTracker
from twintrack.tracker.siamfc import SiamFCTracker
from twintrack.tracker.twin import TwinTracker
from twintrack.train.mdnet_trainer import MDNetTrainer
from twintrack.train.siamfc_trainer import SiamFCTrainer
from twintrack.weights import calibration_of, default_weights, load_weights, registry

@dataclass(frozen=True)
class TrackerEntry:
    """How to build, load and train one tracker.

    ``tracker_class(net, config, device)`` (plus ``seed=`` when ``stochastic``) is the tracker; it must not modify
    ``net`` (training hands its network in training to a tracker for validation). ``build_model(config)`` returns the untrained network. ``weights_arch`` is the
    architecture name written in its safetensors files (None: the tracker loads no weights). ``default_weights`` is
    a key of the shipped weights registry (twintrack/weights/registry.json) or a file path.

    Training (optional): ``trainer(config, sequences, run_dir, device, validator=None, init_weights=None)`` with a
    ``train_config_class`` loaded from ``train_preset``; ``train_init_weights`` is the weights a CLI run starts
    from when none are given (MDNet: the shipped SiamFC, whose conv layers it reuses). ``distributed``: the
    trainer runs under torchrun (DistributedDataParallel).

    Export (optional): ``export(net, config, out_dir, int8_crops=None)`` writes the network's files into
    ``out_dir`` and returns the path of the contract it wrote (twintrack/runtime/export.py for the built-in
    trackers); ``twintrack export NAME`` offers every tracker that has one. ``int8_crops`` (calibration crops for
    an int8 backbone) is given only with ``--int8``.
    """

    name: str
    config_class: type
    preset: str  # a YAML file: a name in twintrack/configs or a path
    build_model: Any
    tracker_class: Any
    weights_arch: str | None = None
    default_weights: str | None = None
    stochastic: bool = False  # takes seed= (MDNet samples candidates at random); deterministic trackers do not
    description: str = ""
    trainer: Any = None
    train_config_class: type | None = None
    train_preset: str | None = None
    train_init_weights: str | None = None
    distributed: bool = False
    export: Any = None

    def load_config(self, overrides=None, path: str | Path | None = None):
        """The preset (or a YAML file of the same keys), then ``key=value`` overrides."""
        return _load(self.config_class, self.preset, overrides, path)

    def load_train_config(self, overrides=None, path: str | Path | None = None):
        if self.train_config_class is None or self.train_preset is None:
            raise UserError(f"tracker '{self.name}' cannot be trained (no trainer is registered for it)")
        return _load(self.train_config_class, self.train_preset, overrides, path)

    def weights_file(self, weights: str | Path | None = None) -> Path | None:
        """``weights`` when given, else the default: a shipped weights key (checked by sha256) or a file."""
        chosen = weights if weights is not None else self.default_weights
        if chosen is None:
            return None
        return _weights_path(chosen)

    def init_weights_file(self, weights: str | Path | None = None) -> Path | None:
        chosen = weights if weights is not None else self.train_init_weights
        return None if chosen is None else _weights_path(chosen)

    def resolve_model(self, config):
        """The untrained network for ``config``."""
        return self.build_model(config)

    def create(self, device, weights=None, seed=None, overrides=None):
        """The tracker with its preset plus ``overrides``, ``weights`` (default: the entry's) loaded, on ``device``
        (a torch.device, already resolved): ``twintrack.create_tracker``'s work, also used by trackers built from
        other trackers (the twin)."""
        if weights is not None and self.weights_arch is None:
            raise UserError(f"tracker '{self.name}' takes no weights file (got {weights}); its config keys name the "
                            "weights it uses")
        config = self.load_config(overrides)
        net = self.resolve_model(config)
        path = self.weights_file(weights)
        calibration = None
        if path is not None and self.weights_arch is not None:
            load_weights(net, path, arch=self.weights_arch)
            calibration = calibration_of(path)
        return self.build_tracker(net, config, device, seed=seed, calibration=calibration)

    def build_tracker(self, net, config, device, seed=None, calibration=None):
        """``calibration``: the lost-target score's map stored with the weights (None: the tracker's default, the
        shipped weights'); passed only to trackers that load weights."""
        kwargs = {"seed": seed} if self.stochastic else {}
        if self.weights_arch is not None:
            kwargs["calibration"] = calibration
        return self.tracker_class(net, config, device, **kwargs)

    def build_trainer(self, config, sequences, run_dir, device, validator=None, init_weights=None):
        if self.trainer is None:
            raise UserError(f"tracker '{self.name}' cannot be trained (no trainer is registered for it)")
        return self.trainer(config, sequences, run_dir, device, validator=validator,
                                     init_weights=init_weights)

    def run_export(self, net, config, out_dir, int8_crops=None):
        """Write the network's export files into ``out_dir``; returns the contract's path."""
        if self.export is None:
            raise _cannot_export(self.name, known=True)
        return self.export(net, config, out_dir, int8_crops=int8_crops)


def _load(config_class, preset, overrides, path):
    # The preset is the one source of defaults; a user's file (path) gives only the keys it changes.
    return load_preset(config_class, preset, overrides, path)


def _weights_path(weights: str | Path) -> Path:
    if isinstance(weights, str) and weights in registry():
        return default_weights(weights)
    return Path(weights)


# The registry: names -> entries, in registration order. Entries are frozen and hold no state of a tracker.
_ENTRIES: dict[str, TrackerEntry] = {}


def register_tracker(entry: TrackerEntry, replace: bool = False) -> TrackerEntry:
    """Add a tracker; its name must be new unless ``replace``. Returns the entry (usable as a decorator result)."""
    if not entry.name or not entry.name.replace("_", "").replace("-", "").isalnum():
        raise UserError(f"tracker name '{entry.name}' must be letters, digits, '-' or '_'")
    if entry.name in _ENTRIES and not replace:
        raise UserError(f"a tracker named '{entry.name}' is already registered; pass replace=True to replace it")
    _ENTRIES[entry.name] = entry
    return entry


def unregister_tracker(name: str) -> None:
    """Remove a tracker (tests register toy trackers and remove them again)."""
    _ENTRIES.pop(name, None)


def list_trackers(trainable: bool = False, exportable: bool = False) -> tuple[str, ...]:
    """Registered tracker names, in registration order (``trainable``: only those with a trainer; ``exportable``:
    only those with an export hook)."""
    return tuple(name for name, entry in _ENTRIES.items()
                 if (not trainable or entry.trainer is not None) and (not exportable or entry.export is not None))


def get_tracker(name: str) -> TrackerEntry:
    entry = _ENTRIES.get(name)
    if entry is None:
        raise UserError(f"unknown tracker '{name}'; choose one of {', '.join(_ENTRIES) or '(none registered)'}")
    return entry


def exportable_tracker(name: str) -> TrackerEntry:
    """The entry of a tracker that can be exported; otherwise one error line naming those that can."""
    entry = _ENTRIES.get(name)
    if entry is None or entry.export is None:
        raise _cannot_export(name, known=entry is not None)
    return entry


def _cannot_export(name: str, known: bool) -> UserError:
    return UserError(f"{'' if known else 'unknown '}tracker '{name}' cannot be exported; trackers that can: "
                     f"{', '.join(list_trackers(exportable=True)) or '(none registered)'}")


def _register_builtins() -> None:
    register_tracker(TrackerEntry(
        name="siamfc", config_class=SiamFCConfig, preset="siamfc.yaml",
        build_model=_siamfc_model, tracker_class=SiamFCTracker,
        weights_arch="siamfc_vggm", default_weights="siamfc",
        description="SiamFC: Siamese cross-correlation, no online update (fast)",
        trainer=SiamFCTrainer, train_config_class=SiamFCTrainConfig,
        train_preset="train_siamfc.yaml", distributed=True, export=export_siamfc,
    ))
    register_tracker(TrackerEntry(
        name="mdnet", config_class=MDNetConfig, preset="mdnet.yaml",
        build_model=_mdnet_model, tracker_class=MDNetTracker,
        weights_arch="mdnet_vggm", default_weights="mdnet", stochastic=True,
        description="MDNet: fc layers fine-tuned online on SiamFC's conv layers (accurate, slower)",
        trainer=MDNetTrainer, train_config_class=MDNetTrainConfig,
        train_preset="train_mdnet.yaml", train_init_weights="siamfc", export=export_mdnet,
    ))
    register_tracker(TrackerEntry(
        name="twin", config_class=TwinConfig, preset="twin.yaml",
        build_model=_no_model, tracker_class=_build_twin, stochastic=True,
        description="SiamFC, with MDNet's answer where SiamFC has lost the target (most accurate; 0.6x MDNet's "
                    "speed)",
    ))


def _no_model(config):
    return None  # the twin builds its two trackers, each with its own network, from their own entries


def _build_twin(net, config: TwinConfig, device, seed=None) -> TwinTracker:
    """The twin's two trackers, each from its own entry with the twin's keys for it over its preset."""
    siamfc = _twin_part("siamfc", device, config.siamfc_weights, None, config.siamfc)
    mdnet = _twin_part("mdnet", device, config.mdnet_weights, seed, config.mdnet)
    return TwinTracker(siamfc, mdnet, config)


def _twin_part(name: str, device, weights: str, seed: int | None, overrides: dict):
    """One of the twin's trackers; its config errors name the twin's key they came from."""
    try:
        return get_tracker(name).create(device, weights=weights or None, seed=seed, overrides=overrides)
    except UserError as err:
        raise UserError(f"twin's '{name}' keys: {err}") from None


def _siamfc_model(config):
    return SiamFCNet()


def _mdnet_model(config):
    return MDNet(num_branches=1, dropout=config.dropout)


_register_builtins()
