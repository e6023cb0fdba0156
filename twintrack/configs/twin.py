"""The twin tracker's config (values in twin.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from twintrack.errors import UserError


@dataclass(frozen=True)
class TwinConfig:
    """SiamFC and MDNet side by side on every frame; SiamFC's answer unless it is lost and MDNet's is not."""

    siamfc_weights: str
    mdnet_weights: str
    siamfc: dict
    mdnet: dict

    def __post_init__(self) -> None:
        for key in ("siamfc", "mdnet"):
            if not isinstance(getattr(self, key), dict):
                raise UserError(f"config key '{key}' needs a mapping of {key} config keys, e.g. {key}={{key: value}} "
                                f"(got {getattr(self, key)!r})")
