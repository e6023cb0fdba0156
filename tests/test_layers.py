"""The package's layers, bottom up: no module imports from a layer above its own (README, Layout).

    _version, errors, optional, geometry, device, fileio, models, runtime, configs, weights, data  ->  tracker  ->  train | eval  ->  cli

train/ and eval/ are siblings: neither imports the other. ``api.py`` (create_tracker) and the package
``__init__`` sit with the tracker layer; ``__main__.py`` modules are entry points (never imported) and may start
the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import twintrack

ROOT = Path(twintrack.__file__).parent
LEVEL = {
    "_version": 0, "errors": 0, "optional": 0, "geometry": 0, "device": 0, "fileio": 0, "models": 0, "runtime": 0, "configs": 0,
    "weights": 0,
    "data": 0, "tracker": 1, "api": 1, "__init__": 1, "train": 2, "eval": 2, "cli": 3,
}


def layer(module: str) -> str:
    """``twintrack.tracker.siamfc`` -> ``tracker``; ``twintrack`` (the package) -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "twintrack" or name.startswith("twintrack.")}


def test_no_import_runs_upward_and_train_eval_stay_apart():
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "__main__.py":
            continue
        relative = path.relative_to(ROOT.parent).with_suffix("")
        own = layer(".".join(relative.parts))
        assert own in LEVEL, f"{path}: layer '{own}' is not in the layer table"
        for name in imports_of(path):
            other = layer(name)
            if other == "__init__" and own != "__init__":
                bad.append(f"{relative}: imports the package root '{name}' (import from its module instead)")
            elif LEVEL[other] > LEVEL[own] or (LEVEL[other] == LEVEL[own] == 2 and other != own):
                bad.append(f"{relative} ({own}) imports {name} ({other})")
    assert not bad, "\n".join(bad)
