"""Alembic environment: runs migrations on the connection mismartera hands it."""

from alembic import context

from mismartera.data.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand with a URL in the ini
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic.ini names no sqlalchemy.url (mismartera runs migrations itself: db upgrade)")
    connection = create_engine(url).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
