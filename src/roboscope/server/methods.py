"""HTTP methods by what they do."""

from __future__ import annotations

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""The methods that change something: checked at the edge, rate-limited, write scope."""
