"""audit

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

The hash-chained audit log (audit_log, its object index audit_refs and the one-row chain
head audit_head) and retired_tokens for token rotation (see hq/audit, hq/hardening).

On PostgreSQL, triggers refuse UPDATE, DELETE and TRUNCATE of audit_log and audit_refs
for every role, including the owner. For defence in depth, also run the application with
its own role that was never granted those rights, e.g. (as the migration/owner role):

    CREATE ROLE hq_app LOGIN PASSWORD '…';
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO hq_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO hq_app;
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_refs FROM hq_app;

Only a superuser or the table owner can disable the triggers; `hq audit verify` still
detects what such a person changes.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
PG_GUARD = """
CREATE OR REPLACE FUNCTION hq_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""
TABLES = ('audit_log', 'audit_refs')


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', BigId, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('operation', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('principal_id', BigId, nullable=True),
    sa.Column('role', sa.String(length=24), nullable=True),
    sa.Column('unit_id', sa.String(length=64), nullable=True),
    sa.Column('org_id', sa.String(length=64), nullable=True),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('objects', sa.JSON(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('seq'),
    )
    op.create_index('ix_audit_log_principal_at', 'audit_log', ['principal_id', 'at'])
    op.create_index('ix_audit_log_at', 'audit_log', ['at'])
    op.create_table('audit_refs',
    sa.Column('id', BigId, nullable=False),
    sa.Column('entry_id', BigId, sa.ForeignKey('audit_log.id'), nullable=False),
    sa.Column('object_type', sa.String(length=48), nullable=False),
    sa.Column('object_id', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_refs_object', 'audit_refs', ['object_type', 'object_id', 'entry_id'])
    head = op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(head, [{'id': 1, 'seq': 0, 'hash': '0' * 64}])
    op.create_table('retired_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('principal_id', BigId, sa.ForeignKey('principals.id'), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_hash'),
    )
    op.create_index('ix_retired_tokens_principal_id', 'retired_tokens', ['principal_id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_GUARD)
        for table in TABLES:
            op.execute(f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} '
                       'FOR EACH ROW EXECUTE FUNCTION hq_audit_append_only()')
            op.execute(f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} '
                       'FOR EACH STATEMENT EXECUTE FUNCTION hq_audit_append_only()')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON {table}')
            op.execute(f'DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}')
        op.execute('DROP FUNCTION IF EXISTS hq_audit_append_only()')
    op.drop_index('ix_retired_tokens_principal_id', table_name='retired_tokens')
    op.drop_table('retired_tokens')
    op.drop_table('audit_head')
    op.drop_index('ix_audit_refs_object', table_name='audit_refs')
    op.drop_table('audit_refs')
    op.drop_index('ix_audit_log_principal_at', table_name='audit_log')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
