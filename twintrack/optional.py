"""Optional dependencies: a module from one of twintrack's extras, or one line that names the extra to install.

The core install (``pip install twintrack``) tracks; evaluation, some training options and vot-toolkit need an
extra (``pip install 'twintrack[eval]'``). Import those modules through ``require`` where they are used, so a
missing one is a ``UserError`` the CLI prints in one line, not a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from twintrack.errors import UserError

# Which extra brings which importable module (pip names differ from module names: vot-trax -> trax).
EXTRA_OF_MODULE = {
    "got10k": "eval",
    "six": "eval",
    "matplotlib": "eval",
    "pytorch_optimizer": "train",
    "tensorboard": "train",
    "trax": "vot",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "av": "video",
}


class MissingExtra(UserError, ImportError):
    """A module of an extra that is not installed. Also an ImportError, so ``except ImportError`` still works."""


def require(module: str, purpose: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` (dotted names allowed) or raise one line: what needs it and which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        # Only a missing module of the extra itself is "not installed"; a broken install keeps its own message.
        if err.name is not None and err.name.split(".")[0] != top:
            raise
        extra = extra or EXTRA_OF_MODULE.get(top, "all")
        raise MissingExtra(f"{purpose} needs the '{top}' package, which is not installed; "
                           f"install it with: pip install 'twintrack[{extra}]'") from None


def available(module: str) -> bool:
    """Whether ``module`` imports (without raising for a missing one)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
