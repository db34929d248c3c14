"""Wire models: every request and response body, shared by the server and the SDK."""

from .common import ErrorBody, Timestamp, format_timestamp
from .health import Health
from .markers import Marker, MarkerBulkCreate, MarkerCreate, MarkerUpdate
from .spaces import Space, SpaceCreate, SpaceUpdate
from .work_sessions import (
    SessionType,
    WorkSession,
    WorkSessionCreate,
    WorkSessionStatus,
    WorkSessionUpdate,
)

__all__ = [
    "ErrorBody",
    "Health",
    "Marker",
    "MarkerBulkCreate",
    "MarkerCreate",
    "MarkerUpdate",
    "SessionType",
    "Space",
    "SpaceCreate",
    "SpaceUpdate",
    "Timestamp",
    "WorkSession",
    "WorkSessionCreate",
    "WorkSessionStatus",
    "WorkSessionUpdate",
    "format_timestamp",
]
