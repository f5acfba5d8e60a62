"""The package version (one place: the top level and run-folder provenance read it)."""

__version__ = "0.1.0"
