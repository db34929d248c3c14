"""Wire models: every request and response body, shared by the server and the SDK.

Each name is imported on first use (`roboscope/lazy.py`): the SDK's `health` builds one
model, not all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .anchors import Anchor, AnchorUpdate, AnchorUpsert
    from .common import ErrorBody, Timestamp, format_timestamp
    from .health import Health, Liveness, Readiness, VersionInfo
    from .laser_guides import GridLine, LaserGuide, LaserGuidePut
    from .marker_details import MarkerDetails, MarkerDetailsPut
    from .markers import CalibratedData, Marker, MarkerBulkCreate, MarkerCreate, MarkerUpdate
    from .reference_sets import (
        ReferenceMarker,
        ReferenceMarkerInput,
        ReferenceSet,
        ReferenceSetCreate,
        ReferenceSetUpdate,
    )
    from .spaces import Space, SpaceCreate, SpaceUpdate
    from .work_sessions import (
        SessionType,
        WorkSession,
        WorkSessionCreate,
        WorkSessionStatus,
        WorkSessionUpdate,
    )

__all__ = [
    "Anchor",
    "AnchorUpdate",
    "AnchorUpsert",
    "CalibratedData",
    "ErrorBody",
    "GridLine",
    "Health",
    "LaserGuide",
    "LaserGuidePut",
    "Liveness",
    "Marker",
    "MarkerBulkCreate",
    "MarkerCreate",
    "MarkerDetails",
    "MarkerDetailsPut",
    "MarkerUpdate",
    "Readiness",
    "ReferenceMarker",
    "ReferenceMarkerInput",
    "ReferenceSet",
    "ReferenceSetCreate",
    "ReferenceSetUpdate",
    "SessionType",
    "Space",
    "SpaceCreate",
    "SpaceUpdate",
    "Timestamp",
    "VersionInfo",
    "WorkSession",
    "WorkSessionCreate",
    "WorkSessionStatus",
    "WorkSessionUpdate",
    "format_timestamp",
]

_HOME: dict[str, tuple[str, ...]] = {
    ".anchors": ("Anchor", "AnchorUpdate", "AnchorUpsert"),
    ".common": ("ErrorBody", "Timestamp", "format_timestamp"),
    ".health": ("Health", "Liveness", "Readiness", "VersionInfo"),
    ".laser_guides": ("GridLine", "LaserGuide", "LaserGuidePut"),
    ".marker_details": ("MarkerDetails", "MarkerDetailsPut"),
    ".markers": ("CalibratedData", "Marker", "MarkerBulkCreate", "MarkerCreate", "MarkerUpdate"),
    ".reference_sets": (
        "ReferenceMarker",
        "ReferenceMarkerInput",
        "ReferenceSet",
        "ReferenceSetCreate",
        "ReferenceSetUpdate",
    ),
    ".spaces": ("Space", "SpaceCreate", "SpaceUpdate"),
    ".work_sessions": (
        "SessionType",
        "WorkSession",
        "WorkSessionCreate",
        "WorkSessionStatus",
        "WorkSessionUpdate",
    ),
}
"""Where each public name is defined (module → names)."""

if not TYPE_CHECKING:  # (a type checker reads the imports above, and flags unknown names)
    __getattr__ = exports(__name__, _HOME, globals())
