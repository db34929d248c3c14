# Generated from client/_async/__init__.py by scripts/unasync_client.py: do not edit.
# Edit the async source, then run `python scripts/unasync_client.py`.
"""The client and its behaviours, the one source of both flavours.

Written async here; `scripts/unasync_client.py` generates the blocking twin in `../_sync/` (checked
by `./dev lint`), so everything here must read right in both: docstrings and comments do
not say `await` or `async with`.
"""
