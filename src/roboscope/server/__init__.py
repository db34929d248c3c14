"""The HTTP edge: parse, call one service, answer. No rules live here."""
