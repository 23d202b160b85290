"""Peppasync: the host of the engine (config, store, runtime, HTTP, metrics, CLI, sandbox)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
