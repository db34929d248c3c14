"""Issue 15's aims for live streams, each judged against the bare fan-out of the same run.

Kept apart from bench/live.py, which measures: this only compares what it measured, so that
`./dev bench live` says "met" or "not met" beside each figure as `./dev bench` and
`./dev bench list` do. Judged, never asserted (a busy machine moves every figure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

OPEN_AIM = 3.0
"""Opening N streams ("subscribed in") ÷ the bare fan-out's: a reconnect storm is paced by it."""
MEMORY_AIM_KB = 20.0
"""Server memory per open, idle stream."""
P99_AIM = 1.2
"""Delivery p99 of a change ÷ the bare fan-out's."""


class Measured(Protocol):
    """What the aims read of one bench/live.py result."""

    @property
    def subscribers(self) -> int: ...
    @property
    def connect_s(self) -> float: ...
    @property
    def kb_per_stream(self) -> float | None: ...
    @property
    def p99_ms(self) -> float: ...


@dataclass(frozen=True)
class AimCheck:
    aim: str
    streams: int
    figure: str
    target: str
    met: bool
    note: str


def aim_checks(api: Measured, bare: Measured | None) -> list[AimCheck]:
    """The aims one size of the run can judge (the two ratios need the bare fan-out)."""
    n = api.subscribers
    checks = []
    if bare is not None and bare.connect_s > 0:
        ratio = api.connect_s / bare.connect_s
        checks.append(
            AimCheck(
                "opening streams", n, f"{ratio:.1f}x", f"≤ {OPEN_AIM:g}x", ratio <= OPEN_AIM,
                f"{api.connect_s:.1f} s vs bare {bare.connect_s:.1f} s",
            )
        )  # fmt: skip
    if api.kb_per_stream is not None:
        kb = api.kb_per_stream
        checks.append(
            AimCheck(
                "memory per stream", n, f"{kb:.1f} KB", f"≤ {MEMORY_AIM_KB:g} KB",
                kb <= MEMORY_AIM_KB, "server RSS with the streams open, minus before, ÷ streams",
            )
        )  # fmt: skip
    if bare is not None and bare.p99_ms > 0:
        ratio = api.p99_ms / bare.p99_ms
        checks.append(
            AimCheck(
                "delivery p99", n, f"{ratio:.2f}x", f"≤ {P99_AIM:g}x", ratio <= P99_AIM,
                f"{api.p99_ms:.1f} ms vs bare {bare.p99_ms:.1f} ms",
            )
        )  # fmt: skip
    return checks


def print_aims(checks: list[AimCheck]) -> None:
    print("\nAims (issue 15), each against the bare fan-out of its own run\n")
    if not checks:
        print("(none measured)")
    width = max((len(c.aim) for c in checks), default=0)
    for c in checks:
        verdict = "met" if c.met else "not met"
        aim = f"(aim {c.target})"
        print(
            f"{c.aim:<{width}}  {c.streams:>6} streams  {c.figure:>8} {aim:<14}"
            f"  {verdict:<7}  {c.note}"
        )
