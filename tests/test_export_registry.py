"""`twintrack export` reads its trackers from the registry: an entry with an ``export`` hook is exported with no
edit to the CLI, and an entry without one (or an unknown name) is one error line naming those that can be."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from twintrack.cli import main
from twintrack.errors import UserError
from twintrack.app.registry import (
    TrackerEntry,
    exportable_tracker,
    get_tracker,
    list_trackers,
    register_tracker,
    unregister_tracker,
)


@dataclass(frozen=True)
class ToyConfig:
    gain: float = 1.0


class ToyNet(torch.nn.Module):  # no VGG-M backbone: --int8 has nothing to quantize
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(1))


def toy_export(net, config, out_dir, int8_crops=None) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "contract.json").write_text(json.dumps({"tracker": "toyexp", "gain": config.gain,
                                                   "scale": float(net.scale), "int8": int8_crops is not None}))
    return out / "contract.json"


def toy_entry(name: str, tmp_path: Path, export=None) -> TrackerEntry:
    preset = tmp_path / f"{name}.yaml"
    preset.write_text("gain: 1.0\n")
    return TrackerEntry(name=name, config_class=ToyConfig, preset=str(preset), build_model=lambda config: ToyNet(),
                        tracker_class=object, export=export)


@pytest.fixture
def toys(tmp_path):
    register_tracker(toy_entry("toyexp", tmp_path, export=toy_export))
    register_tracker(toy_entry("toyplain", tmp_path))
    yield
    unregister_tracker("toyexp")
    unregister_tracker("toyplain")


def test_builtin_trackers_are_exportable():
    assert list_trackers(exportable=True)[:2] == ("siamfc", "mdnet")
    assert get_tracker("siamfc").export and get_tracker("mdnet").export


def test_a_registered_tracker_with_an_export_hook_is_exported_by_the_cli(toys, tmp_path, capsys):
    assert "toyexp" in list_trackers(exportable=True) and "toyplain" not in list_trackers(exportable=True)
    out = tmp_path / "out"
    assert main(["export", "toyexp", "--out", str(out), "gain=2.5"]) == 0
    assert json.loads((out / "contract.json").read_text()) == {"tracker": "toyexp", "gain": 2.5, "scale": 1.0,
                                                                "int8": False}
    assert "contract.json" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["toyplain", "nosuchtracker"])
def test_a_tracker_without_an_export_hook_is_one_error_line_naming_those_that_can(toys, tmp_path, capsys, name):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", name, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert f"'{name}' cannot be exported" in err and "siamfc, mdnet" in err and "toyexp" in err
    assert "toyplain," not in err and not (tmp_path / "out").exists()
    with pytest.raises(UserError, match="trackers that can: siamfc, mdnet"):
        exportable_tracker(name)


def test_run_export_without_a_hook_is_a_user_error(tmp_path):
    entry = toy_entry("toyunregistered", tmp_path)
    with pytest.raises(UserError, match="'toyunregistered' cannot be exported"):
        entry.run_export(ToyNet(), ToyConfig(), tmp_path / "out")


def test_int8_for_a_tracker_without_a_backbone_is_one_error_line(toys, tmp_path, capsys):
    assert main(["export", "toyexp", "--out", str(tmp_path / "out"), "--int8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not have" in err
