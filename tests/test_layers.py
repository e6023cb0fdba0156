"""The package's layers, bottom up: no module imports from a layer above its own (README, Layout).

    _version, errors, optional, geometry, device, fileio, models, runtime, configs, weights, data
      ->  tracker  ->  train | eval  ->  app  ->  cli

train/ and eval/ are siblings: neither imports the other. The package ``__init__`` imports only the bottom layer
at import time (its public names are looked up lazily), and ``__main__`` modules sit on the level of their package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import twintrack

ROOT = Path(twintrack.__file__).parent
LEVEL = {
    "_version": 0, "errors": 0, "optional": 0, "geometry": 0, "device": 0, "fileio": 0, "models": 0,
    "runtime": 0, "configs": 0, "weights": 0, "data": 0,
    "tracker": 1, "train": 2, "eval": 2, "app": 3, "cli": 4, "__init__": 0, "__main__": 4,
}


def layer(module: str) -> str:
    """``twintrack.tracker.siamfc`` -> ``tracker``; ``twintrack`` (the package) -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> set[str]:
    """Every twintrack module named by an import statement, at any depth (imports inside functions count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "twintrack" or name.startswith("twintrack.")}


def import_strings_of(path: Path) -> set[str]:
    """Modules named in ``"twintrack.x.y:attribute"`` strings (a lazy import that hides a layer's reach)."""
    return {node.value.split(":")[0] for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and re.fullmatch(r"twintrack(\.\w+)+:\w+", node.value)}


def test_no_import_runs_upward_and_train_eval_stay_apart():
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        own = layer(".".join(relative.parts))
        assert own in LEVEL, f"{path}: layer '{own}' is not in the layer table"
        names = imports_of(path)
        if path.name != "__init__.py" or path.parent != ROOT:
            names |= import_strings_of(path)
        for name in names:
            other = layer(name)
            assert other in LEVEL, f"{relative}: imports {name}, whose layer is not in the table"
            if other == "__init__" and own != "__init__":
                bad.append(f"{relative}: imports the package root '{name}' (import from its module instead)")
            elif LEVEL[other] > LEVEL[own] or (LEVEL[other] == LEVEL[own] == 2 and other != own):
                bad.append(f"{relative} ({own}) imports {name} ({other})")
    assert not bad, "\n".join(bad)


def test_the_package_root_loads_its_public_names_lazily():
    # Its import statements reach only the bottom layer; the rest is named in _PUBLIC and imported on first use.
    names = imports_of(ROOT / "__init__.py")
    assert {layer(name) for name in names} <= {"_version", "errors"}
    for public, module in twintrack._PUBLIC.items():
        assert public in twintrack.__all__
        assert LEVEL[layer(module)] <= LEVEL["app"]
    assert twintrack.create_tracker.__module__ == "twintrack.app.api"
