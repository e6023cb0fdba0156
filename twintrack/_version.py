"""The package version, written once: twintrack.__version__, `twintrack --version` and pyproject.toml read it."""

__version__ = "0.1.0"
