"""The rules: one module per area. HTTP handlers call exactly one function here."""
