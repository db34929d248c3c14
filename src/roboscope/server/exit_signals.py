"""Hearing that the server was told to stop, before it stops.

uvicorn runs the app's shutdown (the lifespan's end) only once every connection has ended, so
a live stream, which never ends by itself, cannot wait for it: it must end as soon as the
server is told to stop. The server is told by a signal, SIGTERM or SIGINT (what uvicorn, and
gunicorn's workers, stop on); so the app adds itself in front of the handler the server set,
which is still called, and the server stops as it would have.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def on_exit_signal(callback: Callable[[], None]) -> Iterator[None]:
    """While open, SIGTERM and SIGINT also call `callback` in the running event loop (soon
    after, not inside the signal handler).

    Only a signal that has a Python handler already, the server's, is followed: one that
    has none stops the process at once anyway, and only the main thread may set handlers
    (uvicorn sets none either when it runs in another thread). On leaving, the handler in
    place before is put back, unless another was set over this one meanwhile: then this one
    stays in the chain, passing the signal on and nothing else."""
    loop = asyncio.get_running_loop()
    active = True

    def chain(previous: Callable[[int, FrameType | None], Any]) -> Callable[..., Any]:
        def handler(signum: int, frame: FrameType | None) -> Any:
            if active:
                with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                    loop.call_soon_threadsafe(callback)
            return previous(signum, frame)

        return handler

    installed: dict[int, tuple[Callable[..., Any], Any]] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in EXIT_SIGNALS:
            previous = signal.getsignal(signum)
            if callable(previous):
                handler = chain(previous)
                signal.signal(signum, handler)
                installed[signum] = (handler, previous)
    if not installed:
        log.debug("no exit signal handler to follow: live streams end at the app's shutdown")
    try:
        yield
    finally:
        active = False
        for number, (handler, previous) in installed.items():
            if signal.getsignal(number) is handler:
                signal.signal(number, previous)
