"""Roboscope API: the backend for collaborative AR work on iOS."""

__version__ = "0.1.0"
