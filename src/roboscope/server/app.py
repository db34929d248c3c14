"""The ASGI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from .. import API_PREFIX, __version__, metrics
from ..settings import Settings
from . import raw_send
from .auth import IDENTIFIED, install_log_redaction
from .console import install_console
from .docs import install_docs
from .errors import install_error_handlers
from .limits import RATE_LIMIT, refund_drawn
from .methods import WRITE_METHODS
from .middleware import Edge
from .openapi import install_openapi, operation_id
from .params import JSON_LIMIT
from .routes import ROUTERS, health
from .routes import metrics as metrics_routes
from .state import app_state

GC_YOUNG_OBJECTS = 50_000
"""Allocations (net of frees) between two runs of the garbage collector's youngest
generation; Python's default is 700."""


class RoboscopeAPI(FastAPI):
    """FastAPI, handing the live stream the server's own `send` (server/raw_send.py) before
    Starlette's outermost layer, its error middleware, wraps it in a coroutine of its own."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_send.provide(scope, send)
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, hot_routes: bool = True) -> FastAPI:
    """`hot_routes`: the edge answers heartbeats and lock acquires and releases itself
    (server/hot_routes.py); off, FastAPI serves them like every other route."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with app_state(settings) as state:
                app.state.roboscope = state
                # What is made by now (modules, routes, models, the stores) lives as long as
                # the process: the collector need not walk it again at each full collection,
                # which took ~0.1 s of a busy server every few seconds. And it runs after
                # every 50,000 allocations rather than 700: a list of 10,000 markers (some
                # 400,000 objects alive until it is sent) spent more time in hundreds of
                # collections than in its query (docs/performance.md).
                gc.freeze()
                gc.set_threshold(GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])
                yield
        finally:
            metrics.process_stopped()

    app = RoboscopeAPI(
        title="Roboscope API",
        version=__version__,
        summary="Spaces, work sessions and AR markers, with real-time collaboration.",
        lifespan=lifespan,
        redirect_slashes=False,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # install_docs: served from the package, not a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        generate_unique_id_function=operation_id,
        # FastAPI's native OpenTelemetry looks up the global providers on every request;
        # off unless asked for (ROBOSCOPE_OPENTELEMETRY=true).
        telemetry={
            "tracing": settings.opentelemetry,
            "metrics": settings.opentelemetry,
            "logs": settings.opentelemetry,
        },
    )
    install_error_handlers(app, on_unavailable=refund_drawn)
    install_log_redaction()
    # The one middleware of ours: request ids, logs and metrics, CORS, the checks of writes,
    # the hot routes (server/middleware.py).
    app.add_middleware(
        Edge,
        max_body_bytes=settings.max_body_bytes,
        body_limits={("POST", f"{API_PREFIX}/markers/bulk"): settings.max_bulk_body_bytes},
        allowed_origins=settings.cors_origins,
        # FastAPI's native OpenTelemetry traces what it serves: then it serves everything.
        hot_routes=hot_routes and not settings.opentelemetry,
    )
    for router in ROUTERS:
        # Health stays open: orchestrators and load balancers probe it without a token.
        dependencies = [] if router is health.router else [IDENTIFIED]
        # Rate budgets only on routers with writes (reads are never limited); the cap on
        # `meta`-like objects on every router whose bodies could carry one (wire/limits.py),
        # so no router has to remember it.
        if any(WRITE_METHODS & getattr(route, "methods", set()) for route in router.routes):
            dependencies += [RATE_LIMIT, JSON_LIMIT]
        app.include_router(router, prefix=API_PREFIX, dependencies=dependencies)
    app.include_router(metrics_routes.router)  # /metrics, open like health (docs/observability.md)
    install_openapi(app, auth_required=settings.auth == "required")
    install_docs(app, API_PREFIX)
    install_console(app)  # `/` leads there
    return app


def create_app_from_environment() -> FastAPI:
    """Entry for `uvicorn --factory` (each worker process reads `ROBOSCOPE_*` itself)."""
    return create_app(Settings())
