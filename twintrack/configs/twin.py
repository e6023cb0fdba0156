"""The twin tracker's config (values in twin.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from twintrack.errors import UserError


@dataclass(frozen=True)
class TwinConfig:
    """SiamFC and MDNet side by side on every frame; the reported box is chosen by their lost-target scores."""

    rule: str  # siamfc_first: SiamFC's answer unless it is lost and MDNet's is not; max: the higher score's
    siamfc_weights: str  # SiamFC's weights file; "" = the shipped ones
    mdnet_weights: str  # MDNet's weights file; "" = the shipped ones
    siamfc_follows: bool  # on frames that report MDNet's answer, SiamFC continues from that box (centre and size)
    siamfc: dict  # SiamFC's config keys that differ from its preset, e.g. {scale_num: 5}; {} = the preset
    mdnet: dict  # MDNet's, likewise

    def __post_init__(self) -> None:
        if self.rule not in ("siamfc_first", "max"):
            raise UserError(f"config key 'rule' needs siamfc_first or max (got {self.rule!r})")
        for key in ("siamfc", "mdnet"):
            if not isinstance(getattr(self, key), dict):
                raise UserError(f"config key '{key}' needs a mapping of {key} config keys, e.g. {key}={{key: value}} "
                                f"(got {getattr(self, key)!r})")
