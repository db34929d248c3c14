"""The Prometheus metrics of an API process, defined once for the server, services and stores.

Several worker processes (`roboscope serve --workers N`) answer `/metrics` with one view:
`serve` points `PROMETHEUS_MULTIPROC_DIR` at a private folder before any worker imports
prometheus_client, each process writes its values to files there, and whichever process
answers a scrape sums them (`exposition()`). Without that variable (tests, an app embedded
elsewhere) the values live in this process's default registry.

What Redis knows (presence members, locks held) is not kept here: it is the same for every
process, so it is read from Redis when a scrape comes (`Census`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# No `*_created` series: they double the series count, and the summed view of several
# processes has none, so one server would answer differently with one worker or two.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format: what every Prometheus version (and other scrapers) reads; our
# names need nothing newer.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

UNMATCHED_ROUTE = "unmatched"
"""The `route` label of requests no route matched (404s of arbitrary paths): one value, so
scanners cannot grow the number of series."""

# From a cached heartbeat (about a millisecond) to the database budget (5 s) and beyond.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "roboscope_http_requests",
    "HTTP requests answered, by method, route template and status (a live stream counts when "
    "it ends).",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "roboscope_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template "
    "(live streams are not observed: they last for minutes).",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
LIVE_STREAMS = Gauge(
    "roboscope_live_streams",
    "Live event streams (GET /work-sessions/{id}/events) open now.",
    multiprocess_mode="livesum",
)
LIVE_EVENTS = Counter(
    "roboscope_live_events_delivered",
    "Live events handed to streams: one per stream per event (data changes, presence and "
    "lock events; not the snapshots and catch-up a stream starts with).",
)
REDIS_ERRORS = Counter(
    "roboscope_redis_errors",
    "Redis operations that failed because Redis could not serve them (unreachable, timed "
    "out, out of memory, read-only, ...): the failures behind 503s and skipped background "
    "rounds.",
)
DATABASE_ERRORS = Counter(
    "roboscope_database_errors",
    "Database operations that failed because the database could not serve them (down, "
    "timed out, refusing connections, ...): the failures behind 503s.",
)
RATE_LIMITED = Counter(
    "roboscope_rate_limited_requests",
    "Requests refused with 429 (rate limits, connection caps).",
)


def multiprocess_dir() -> str | None:
    """The folder the processes of one server share their values through, if this process
    writes its values there. prometheus_client decides that once, when it is first imported;
    a process that imported it before the variable was set keeps its values in memory, and
    a scrape of the folder would show none of them (one-process servers once did)."""
    if values.ValueClass is values.MutexValue:
        return None
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


@dataclass(frozen=True, slots=True)
class Census:
    """What Redis holds now (realtime/census.py), reported by the scrape that read it."""

    presence_sessions: int
    presence_members: int
    locks_held: int
    redis_kind: str = "single"
    """`single`, `sentinel` or `cluster`: what ROBOSCOPE_REDIS_URL names."""
    redis_nodes: tuple[tuple[str, str], ...] = ()
    """(address, role) of each Redis server: the one, the primary the sentinels name and
    its replicas, or the cluster's primaries and replicas."""


class _CensusCollector(Collector):
    def __init__(self, census: Census) -> None:
        self._census = census

    def collect(self) -> Iterable[GaugeMetricFamily]:
        census = self._census
        yield GaugeMetricFamily(
            "roboscope_presence_sessions",
            "Work sessions with someone present.",
            value=census.presence_sessions,
        )
        yield GaugeMetricFamily(
            "roboscope_presence_members",
            "Users present, summed over work sessions (one user in two sessions counts twice).",
            value=census.presence_members,
        )
        yield GaugeMetricFamily(
            "roboscope_locks_held", "Work session locks held now.", value=census.locks_held
        )
        nodes = GaugeMetricFamily(
            "roboscope_redis_node",
            "The Redis servers in use (1 each), by kind (single, sentinel, cluster), address "
            "and role (primary, replica), as the cluster or the sentinels announce them now.",
            labels=["kind", "address", "role"],
        )
        for address, role in census.redis_nodes:
            nodes.add_metric([census.redis_kind, address, role], 1)
        yield nodes


def exposition(census: Census | None) -> bytes:
    """The text exposition of every metric: this process's, or the sum over the server's
    processes; then the census (absent when Redis could not be read)."""
    path = multiprocess_dir()
    if path is None:
        output = generate_latest(REGISTRY)
    else:
        _forget_dead_processes(path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
        output = generate_latest(registry)
    if census is not None:
        registry = CollectorRegistry()
        registry.register(_CensusCollector(census))
        output += generate_latest(registry)
    return output


_PID = re.compile(r"_(\d+)\.db$")


def _forget_dead_processes(path: str) -> None:
    """Drop the live gauges of worker processes that died without saying so (killed, or
    restarted by the supervisor): their streams are gone. Counters stay: totals never go back."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        match = _PID.search(name)
        if match is None:
            continue
        pid = int(match.group(1))
        if not _alive(pid):
            with contextlib.suppress(OSError):
                multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process by now; ours would be signalable
        return False
    return True


def process_stopped() -> None:
    """A worker that stops cleanly withdraws its live gauges at once."""
    path = multiprocess_dir()
    if path is not None:
        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]
