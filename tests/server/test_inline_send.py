"""The one private detail the live stream keeps for speed (server/inline_send.py): how an
asyncio coroutine that must wait tells its driver, and `InlineSend` built on it.

The first test checks the detail itself against this Python's asyncio; it fails when asyncio
changes it, and then `InlineSend` must change (on Python 3.12 and later: eager tasks)."""

from __future__ import annotations

import asyncio

import pytest

from roboscope.server.inline_send import InlineSend


async def test_a_waiting_asyncio_coroutine_yields_its_future_or_none() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    async def wait() -> int:
        return await future

    coro = wait()
    waiting = coro.send(None)
    assert waiting is future and asyncio.isfuture(waiting)
    future.set_result(7)
    with pytest.raises(StopIteration) as ended:
        coro.send(None)
    assert ended.value.value == 7

    # What a server's flow control waits on (uvicorn: `FlowControl.drain`): an Event.
    event = asyncio.Event()
    waits = event.wait()
    assert asyncio.isfuture(waits.send(None))
    event.set()
    with pytest.raises(StopIteration):
        waits.send(None)

    # Letting the loop run once: a bare yield.
    sleeps = asyncio.sleep(0)
    assert sleeps.send(None) is None
    with pytest.raises(StopIteration):
        sleeps.send(None)


class Sends:
    """Coroutines like a server's `send`, and what `then` heard of the parked ones."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.ended: list[BaseException | None] = []
        self.heard = asyncio.Event()

    def then(self, error: BaseException | None) -> None:
        self.ended.append(error)
        self.heard.set()

    async def send(
        self, frame: str, *, after: asyncio.Event | None = None, yields: int = 0
    ) -> None:
        for _ in range(yields):
            await asyncio.sleep(0)
        if after is not None:
            await after.wait()
        if frame == "bad":
            raise ValueError(frame)
        self.sent.append(frame)


async def test_a_send_that_need_not_wait_ends_in_the_caller() -> None:
    sends = Sends()
    assert InlineSend.run(sends.send("a"), sends.then) is None
    assert sends.sent == ["a"]  # at once, without a turn of the loop
    with pytest.raises(ValueError):
        InlineSend.run(sends.send("bad"), sends.then)
    assert sends.ended == []


async def test_a_send_that_waits_is_resumed_when_it_may_go_on() -> None:
    sends = Sends()
    drained = asyncio.Event()
    parked = InlineSend.run(sends.send("a", after=drained), sends.then)
    assert parked is not None
    await asyncio.sleep(0)
    assert sends.sent == [] and sends.ended == []
    drained.set()
    async with asyncio.timeout(5):
        await sends.heard.wait()
    assert sends.sent == ["a"] and sends.ended == [None]

    sends = Sends()
    assert InlineSend.run(sends.send("b", yields=3), sends.then) is not None
    async with asyncio.timeout(5):
        await sends.heard.wait()
    assert sends.sent == ["b"] and sends.ended == [None]


async def test_a_parked_send_that_fails_or_is_given_up() -> None:
    sends = Sends()
    drained = asyncio.Event()
    assert InlineSend.run(sends.send("bad", after=drained), sends.then) is not None
    drained.set()
    async with asyncio.timeout(5):
        await sends.heard.wait()
    assert isinstance(sends.ended[0], ValueError)

    sends = Sends()
    drained = asyncio.Event()
    parked = InlineSend.run(sends.send("c", after=drained), sends.then)
    assert parked is not None
    parked.close()  # its wait is cleaned up (Event.wait's own `finally`) ...
    drained.set()
    for _ in range(3):
        await asyncio.sleep(0)
    assert sends.sent == [] and sends.ended == []  # ... and nothing runs or is heard after


async def test_a_send_that_waits_for_something_else_is_refused() -> None:
    class Odd:
        def __await__(self):  # type: ignore[no-untyped-def]
            yield "not a future"

    async def odd() -> None:
        await Odd()

    sends = Sends()
    with pytest.raises(RuntimeError, match="not an asyncio future"):
        InlineSend.run(odd(), sends.then)
