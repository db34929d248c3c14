"""Live streams of a work session: its data changes, presence and lock events, as they happen.

Three pieces, joined by composition (docs/live.md says what a client sees):

- `events`: `LiveEvent`, one event encoded to JSON once for every subscriber, and the
  snapshots a stream starts with;
- `subscriber`: `Subscriber`, one stream's place in the hub and the rules of its order
  (catch-up, then live events, each change once, the end), and `Sink`, the two calls
  (`write`, `finish`) through which its events leave; the HTTP edge implements the sink
  (server/event_stream.py) and does the wire format there (Server-Sent Events);
- `hub`: `LiveHub`, one per process: topics, the fan-out, wake-ups, reads of the change log.

What a subscriber may fall behind is bounded: one that does not keep up is dropped with a last
event saying why, instead of growing the server's memory; it resumes with `Last-Event-ID`.
"""

from .events import DELETED, DROPPED, LiveEvent, closing, snapshots
from .hub import LiveHub
from .subscriber import Sink, Subscriber

__all__ = [
    "DELETED",
    "DROPPED",
    "LiveEvent",
    "LiveHub",
    "Sink",
    "Subscriber",
    "closing",
    "snapshots",
]
