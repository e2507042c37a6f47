"""Writes of `identifier_stats`, each phone's count of unrelated core groups and its hub flag.

Three paths write them (the fast path, the general path's `refresh_hubs`, and `assign_mecs`
for a new case whose phones flip), so the statements live here, apart from any one of them.
"""

from __future__ import annotations

NO_STAT = (0, False)  # what a phone without an identifier_stats row counts as: no group, no hub

_ON_PHONE = "ON CONFLICT (identifier_id) DO UPDATE SET group_count = excluded.group_count, hub = excluded.hub"
UPSERT_PHONE_STAT = f"INSERT INTO identifier_stats (identifier_id, group_count, hub) VALUES (?, ?, ?) {_ON_PHONE}"
# PostgreSQL: the same for any number of phones as column arrays, as a part of a bigger
# statement. The WHERE keeps ON CONFLICT from being read as a join's ON.
UPSERT_PHONE_STATS_PG = ("INSERT INTO identifier_stats (identifier_id, group_count, hub) "
                         f"SELECT * FROM unnest(?::bigint[], ?::integer[], ?::boolean[]) WHERE TRUE {_ON_PHONE}")
