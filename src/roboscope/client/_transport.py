"""The clients' default transport: httpx's own, with its TLS half made on the first https://
request.

httpx makes a TLS context for every client it creates, which loads the whole CA bundle: some
20-50 ms of CPU, as much as the rest of a CLI command's work, and wasted on a server at
http://, where no request can use it. Here an http:// request goes through a transport made
without a CA bundle (`verify=False` is moot there: a plain connection negotiates no TLS), and
an https:// one through httpx's default transport, made when the first one is sent: it
verifies exactly as an httpx client does by default.

Written by hand in both flavours, each beside its twin (like `_concurrency.py`): the
blocking one may be shared by threads (the behaviours' background loops), so it makes its
TLS half under a lock.
"""

from __future__ import annotations

import threading

import httpx


class AsyncDefaultTransport(httpx.AsyncBaseTransport):
    """`httpx.AsyncHTTPTransport(limits=limits)`, its TLS half made when first needed."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._plain = httpx.AsyncHTTPTransport(verify=False, limits=limits)
        self._tls: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return await self._plain.handle_async_request(request)
        if self._tls is None:  # no await before it is set: one task makes it
            self._tls = httpx.AsyncHTTPTransport(limits=self._limits)
        return await self._tls.handle_async_request(request)

    async def aclose(self) -> None:
        await self._plain.aclose()
        if self._tls is not None:
            await self._tls.aclose()


class DefaultTransport(httpx.BaseTransport):
    """`httpx.HTTPTransport(limits=limits)`, its TLS half made when first needed."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._plain = httpx.HTTPTransport(verify=False, limits=limits)
        self._tls: httpx.HTTPTransport | None = None
        self._making = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return self._plain.handle_request(request)
        with self._making:
            if self._tls is None:
                self._tls = httpx.HTTPTransport(limits=self._limits)
            tls = self._tls
        return tls.handle_request(request)

    def close(self) -> None:
        self._plain.close()
        with self._making:
            tls = self._tls
        if tls is not None:
            tls.close()
