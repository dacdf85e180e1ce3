"""The store's schema as Alembic revisions (versions/), run by store.schema, never at import."""
