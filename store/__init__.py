"""psflow's own persistence: audit log and cross-system record links (SQLite or PostgreSQL)."""
