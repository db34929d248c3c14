"""Persistence: tables, migrations and every SQL statement (nowhere else)."""
