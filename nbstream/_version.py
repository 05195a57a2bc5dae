"""The package version (the one in pyproject.toml), a leaf every layer may read: the run
rows and ``nbstream --version`` report it."""

__version__ = "0.1.0"

__all__ = ["__version__"]
