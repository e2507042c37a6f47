"""identifiers: (kind, key) unique as an index, not a table constraint

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

The same rule (one identifier per kind and key), held by a unique index of the same name
instead of a UNIQUE table constraint. The difference is what a load can do with it: on
SQLite a table constraint's index can never be dropped, so every identifier a million-case
load writes was a random insert into it (about a third of that table's insert time,
measured). An index can be dropped by the bulk path for a load into an empty database and
built once, sorted, after the rows (`hq.bulk_import`). `ON CONFLICT DO NOTHING` works the
same with either.

SQLite cannot drop a table constraint, so there the table is rebuilt in SQLite's documented
way (new table, copy, drop, rename), which needs foreign keys off: `hq/migrations/env.py`
turns them off for the migration run and checks every foreign key afterwards.
"""
from __future__ import annotations

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = "id, kind, key, display, strength, excluded, excluded_reason"
TABLE = (
    "CREATE TABLE {name} (\n"
    "\tid INTEGER NOT NULL, \n"
    "\tkind VARCHAR(32) NOT NULL, \n"
    "\t\"key\" VARCHAR(200) NOT NULL, \n"
    "\tdisplay VARCHAR(200) NOT NULL, \n"
    "\tstrength VARCHAR(8) NOT NULL, \n"
    "\texcluded BOOLEAN NOT NULL, \n"
    "\texcluded_reason TEXT, \n"
    "\tPRIMARY KEY (id){constraint}\n"
    ")"
)
CONSTRAINT = ", \n\tCONSTRAINT uq_identifiers_kind_key UNIQUE (kind, \"key\")"


def _sqlite_rebuild(constraint: str) -> None:
    """SQLite's table rebuild: the new definition, the rows, then the old table's name."""
    bind = op.get_bind()
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("migration 0007 rebuilds the identifiers table and needs SQLite's foreign keys "
                           "off for the run (hq/migrations/env.py turns them off)")
    op.execute(TABLE.format(name="_identifiers_new", constraint=constraint))
    op.execute(f"INSERT INTO _identifiers_new ({COLUMNS}) SELECT {COLUMNS} FROM identifiers")
    op.execute("DROP TABLE identifiers")
    op.execute("ALTER TABLE _identifiers_new RENAME TO identifiers")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild("")
    else:
        op.execute("ALTER TABLE identifiers DROP CONSTRAINT uq_identifiers_kind_key")
    op.execute('CREATE UNIQUE INDEX uq_identifiers_kind_key ON identifiers (kind, "key")')


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(CONSTRAINT)  # the rebuild drops the index with the old table
    else:
        op.execute("DROP INDEX uq_identifiers_kind_key")
        op.execute('ALTER TABLE identifiers ADD CONSTRAINT uq_identifiers_kind_key UNIQUE (kind, "key")')
