"""Benchmarks of what users feel, each printed beside a baseline measured in the same run.

Run them with `./dev bench` (see docs/performance.md). They report; they never assert timings.
"""
