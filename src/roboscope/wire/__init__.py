"""Wire models: every request and response body, shared by the server and the SDK."""

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
