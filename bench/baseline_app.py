"""The benchmark's baseline: the bare framework plus one Redis call, as a separate app.

FastAPI with one route and nothing else of ours (no middleware, no error handlers, no
dependencies, no body), doing the cheapest useful Redis write, one `SET key value NX PX`,
through redis-py with a blocking pool like the API's (else a load of more concurrent
requests than connections would fail here), or through redis-py's cluster client for a
`redis+cluster://` URL (with room for every request in flight: it does not wait for a
connection). uvicorn serves it exactly as `roboscope serve` serves the API, so the ratio of
the API's throughput to this one's is what our app, its middleware and its rules cost on top
of "the framework plus one Redis round trip".

    BENCH_REDIS_URL=redis://… uvicorn bench.baseline_app:create_app --factory
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from redis.asyncio.cluster import ClusterNode, RedisCluster
from starlette.responses import Response

from roboscope.redis_endpoints import parse

PATH = "/set-nx"
STORED = "/stored/{key}"
"""`GET`: the bytes stored at `key`, one Redis `GET` (the marker list's baseline)."""
_OK = b'{"ok":true}'


def create_app() -> FastAPI:
    """The app, for `uvicorn --factory` (each worker builds its own Redis client)."""
    url = os.environ["BENCH_REDIS_URL"]
    pool_size = int(os.environ.get("BENCH_REDIS_MAX_CONNECTIONS", "100"))
    clients: list[aioredis.Redis | RedisCluster] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        endpoint = parse(url)
        if endpoint.kind == "cluster":
            nodes = [ClusterNode(host, port) for host, port in endpoint.nodes]
            cluster = RedisCluster(
                startup_nodes=nodes, password=endpoint.password, max_connections=5000
            )
            await cluster.initialize()  # its slot map, before any request
            clients.append(cluster)
        else:
            pool = aioredis.BlockingConnectionPool.from_url(
                url, max_connections=pool_size, timeout=5
            )
            clients.append(aioredis.Redis.from_pool(pool))
        yield
        await clients[0].aclose()

    # FastAPI's native OpenTelemetry is on by default; the API turns it off unless asked for
    # (ROBOSCOPE_OPENTELEMETRY), so the baseline does too: the same framework, configured alike.
    app = FastAPI(
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )

    @app.post(PATH)
    async def set_nx() -> Response:
        """One `SET NX PX 30000` on a fresh key (the keys expire by themselves)."""
        await clients[0].set(f"roboscope:bench:{secrets.token_hex(12)}", "1", nx=True, px=30_000)
        return Response(_OK, media_type="application/json")

    @app.get(STORED)
    async def stored(key: str) -> Response:
        """The JSON stored at `key`, as it is: the framework sending the list's bytes."""
        body = await clients[0].get(key)
        if body is None:
            return Response(status_code=404)
        return Response(body, media_type="application/json")

    return app
