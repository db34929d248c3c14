"""Roboscope API: the backend for collaborative AR work on iOS."""

__version__ = "0.1.0"

API_VERSION = "v1"
"""The API's version: its path prefix is `/api/<API_VERSION>`."""

API_PREFIX = f"/api/{API_VERSION}"
"""Where the server mounts the API and where the SDK sends its requests."""

DEFAULT_URL = "http://127.0.0.1:8080"
"""Where `roboscope serve` listens by default, and where the SDK and CLI look for a server."""
