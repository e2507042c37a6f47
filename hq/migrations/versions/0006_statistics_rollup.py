"""statistics rollup

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

`case_stats`: per month and region (in total, by status and by scheme) the number of
cases, how many are solved and suspended, and their damage and recovered sums, so that
`statistics(period, groupBy)` reads at most a few thousand rollup rows for the whole
months of a period instead of aggregating every case in it (see `hq.case_stats`).
Filled here from the existing cases with one GROUP BY; every case write keeps it after.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# The statement of hq.case_stats.rebuild, written out so that this revision never changes.
MONTH = {'postgresql': "to_char(registered_at, 'YYYY-MM')", 'sqlite': "strftime('%Y-%m', registered_at)"}
BACKFILL = (
    "WITH grain AS (SELECT {month} AS month, region_code, COALESCE(scheme, 'unknown') AS scheme, status, "
    "COUNT(*) AS n, COALESCE(SUM(damage_kzt), 0) AS d, COALESCE(SUM(recovered_kzt), 0) AS r "
    "FROM cases GROUP BY 1, 2, 3, 4) "
    "INSERT INTO case_stats (dimension, month, region_code, value, cases, solved, suspended, damage_kzt, "
    "recovered_kzt) "
    "SELECT 'status', month, region_code, status, SUM(n), "
    "SUM(CASE WHEN status IN ('solved', 'sent_to_court') THEN n ELSE 0 END), "
    "SUM(CASE WHEN status = 'suspended' THEN n ELSE 0 END), SUM(d), SUM(r) FROM grain GROUP BY 2, 3, 4 "
    "UNION ALL "
    "SELECT 'scheme', month, region_code, scheme, SUM(n), "
    "SUM(CASE WHEN status IN ('solved', 'sent_to_court') THEN n ELSE 0 END), "
    "SUM(CASE WHEN status = 'suspended' THEN n ELSE 0 END), SUM(d), SUM(r) FROM grain GROUP BY 2, 3, 4 "
    "UNION ALL "
    "SELECT 'total', month, region_code, '', SUM(n), "
    "SUM(CASE WHEN status IN ('solved', 'sent_to_court') THEN n ELSE 0 END), "
    "SUM(CASE WHEN status = 'suspended' THEN n ELSE 0 END), SUM(d), SUM(r) FROM grain GROUP BY 2, 3"
)


def upgrade() -> None:
    op.create_table('case_stats',
    sa.Column('dimension', sa.String(length=8), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('region_code', sa.String(length=8), nullable=False),
    sa.Column('value', sa.String(length=32), nullable=False),
    sa.Column('cases', sa.BigInteger(), nullable=False),
    sa.Column('solved', sa.BigInteger(), nullable=False),
    sa.Column('suspended', sa.BigInteger(), nullable=False),
    sa.Column('damage_kzt', sa.BigInteger(), nullable=False),
    sa.Column('recovered_kzt', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('dimension', 'month', 'region_code', 'value'),
    )
    op.execute(BACKFILL.format(month=MONTH[op.get_bind().dialect.name]))


def downgrade() -> None:
    op.drop_table('case_stats')
