"""Activities: one system action each, idempotent, grouped by system; connectors injected."""
