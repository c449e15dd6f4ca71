"""What this service knows about its PostgreSQL database, whatever the engine: the schema its
tables live in, whether that schema is at the revision the code expects, and which errors mean
"the database cannot be reached" rather than "this work failed".

- Every table, and Alembic's version table, lives in the schema SCHEMA (the service's package
  name), set as the connection's search_path: two services given the same database (or the same
  table names) cannot collide, and the code and migrations name tables without a schema.
- The schema is *current* when the database is at the migrations' head, or ahead of it (a newer
  release migrated first: migrations are additive, so this code still works on it); *behind*
  (or never migrated) otherwise, and the service is then not ready.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path

import psycopg
import sqlalchemy.exc
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

SCHEMA = "fulfilment"
# <project>/migrations, the same in a checkout and in the image (src/<package>/database.py).
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

# SQLSTATEs that say the server will not serve this connection: its connection-exception class,
# shutting down (57P01, 57P02), starting up (57P03), too many connections (53300).
_UNAVAILABLE_CLASS = "08"
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def connect_args(connect_timeout: int) -> dict[str, object]:
    """psycopg's connection arguments: the timeout, and SCHEMA as the only search_path."""
    return {"connect_timeout": connect_timeout, "options": f"-c search_path={SCHEMA}"}


def database_unavailable(error: BaseException) -> bool:
    """True when no connection could be had (refused, timed out, lost, the pool exhausted);
    False for an error of the work itself (a deadlock, a cancelled statement, a lock timeout, a
    constraint), which a retry of that work may or may not fix."""
    if isinstance(error, sqlalchemy.exc.TimeoutError):  # no pooled connection in pool_timeout
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated:  # the connection died under the statement
            return True
        error = error.orig if error.orig is not None else error
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        # No SQLSTATE: the client failed to connect or lost the connection, no server answered.
        state = error.sqlstate
        return state is None or state.startswith(_UNAVAILABLE_CLASS) or state in _UNAVAILABLE_STATES
    return False


class SchemaState(StrEnum):
    CURRENT = "current"
    BEHIND = "behind"


@cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(heads, every revision) of the migrations this code was released with."""
    script = ScriptDirectory(str(MIGRATIONS))
    return frozenset(script.get_heads()), frozenset(s.revision for s in script.walk_revisions())


def schema_state(connection: Connection) -> SchemaState:
    """Where the database's schema stands against this code's migrations (one query)."""
    context = MigrationContext.configure(connection, opts={"version_table_schema": SCHEMA})
    applied = frozenset(context.get_current_heads())
    heads, known = _revisions()
    if applied and (applied == heads or not applied <= known):
        return SchemaState.CURRENT
    return SchemaState.BEHIND


def create_schema(connection: Connection) -> None:
    """Create SCHEMA when it is missing and commit; the migrations then run inside it. A schema
    made beforehand (by a DBA, owned by this service's role) needs no CREATE on the database."""
    exists = connection.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": SCHEMA}
    ).first()
    if exists is None:
        connection.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    connection.execute(text(f'SET search_path TO "{SCHEMA}"'))
    connection.commit()
