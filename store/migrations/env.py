"""Alembic's entry point: psflow's revisions on the connection store.schema hands in.

store.schema holds the store's lock and its transaction around the run, so that processes
starting together take turns; there is no alembic.ini and no URL here.
"""

from alembic import context
from sqlmodel import SQLModel

import store.db  # noqa: F401  the models, the target of `alembic revision --autogenerate`

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("psflow's migrations run on a connection from store.schema")
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,  # SQLite alters a table by copying it
)
with context.begin_transaction():
    context.run_migrations()
