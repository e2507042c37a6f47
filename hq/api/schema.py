"""The schema: Query and Mutation roots assembled from the feature modules."""

from __future__ import annotations

from typing import Optional

import strawberry
from sqlalchemy import select
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ValidationCache
from strawberry.tools import merge_types

from hq.api import cases
from hq.api.console import ConsoleMutation, ConsoleQuery, ConsoleSubscription
from hq.api.console_limits import RequestLimits
from hq.api.tasks import TasksMutation, TasksQuery, TasksSubscription
from hq.api.liaison import LiaisonMutation, LiaisonQuery, LiaisonSubscription
from hq.api.context import Context
from hq.audit.api import AuditQuery
from hq.audit.extension import AuditMutations
from hq.hardening.errors import ServiceErrors
from hq.hardening.introspection import ConsoleSwitch
from hq.api.types import Case, CaseConnection, ImportResult, Me, Organisation, Region, Unit
from hq.models import Organisation as OrganisationRow
from hq.models import Region as RegionRow
from hq.models import Unit as UnitRow


@strawberry.type
class Query:
    @strawberry.field(description="Who the token belongs to.")
    async def me(self, info: strawberry.Info[Context, None]) -> Me:
        c = info.context.caller
        d = info.context.services.directory
        unit = Unit.from_directory(d.unit(c.unit_id)) if c.unit_id else None
        org = Organisation.from_row(d.organisation(c.org_id)) if c.org_id else None  # type: ignore[arg-type]
        return Me(principal_id=c.principal_id, name=c.name, role=c.role.value, unit=unit,
                  region_code=c.region_code, organisation=org)

    @strawberry.field(description="The 20 regions (ISO 3166-2:KZ).")
    async def regions(self, info: strawberry.Info[Context, None]) -> list[Region]:
        info.context.caller
        async with info.context.sessions() as s:
            rows = (await s.execute(select(RegionRow).order_by(RegionRow.code))).scalars().all()
        return [Region.from_row(r) for r in rows]

    @strawberry.field(description="Police units, optionally of one region.")
    async def units(self, info: strawberry.Info[Context, None], region: Optional[str] = None) -> list[Unit]:
        info.context.caller
        q = select(UnitRow).order_by(UnitRow.id)
        if region:
            q = q.where(UnitRow.region_code == cases_region(info, region))
        async with info.context.sessions() as s:
            rows = (await s.execute(q)).scalars().all()
        return [Unit.from_row(r) for r in rows]

    @strawberry.field(description="Banks, operators and other liaison organisations.")
    async def organisations(self, info: strawberry.Info[Context, None], kind: Optional[str] = None) -> list[Organisation]:
        info.context.caller
        q = select(OrganisationRow).order_by(OrganisationRow.id)
        if kind:
            q = q.where(OrganisationRow.kind == kind)
        async with info.context.sessions() as s:
            rows = (await s.execute(q)).scalars().all()
        return [Organisation.from_row(r) for r in rows]

    case: Optional[Case] = strawberry.field(resolver=cases.resolve_case, description="One case, in full.")
    cases: CaseConnection = strawberry.field(resolver=cases.resolve_cases, description="Cases in your scope.")


def cases_region(info: strawberry.Info[Context, None], code: str) -> str:
    from hq.api.errors import BadUserInput

    try:
        return info.context.services.directory.region(code).code
    except ValueError:
        raise BadUserInput(f"unknown region {code!r}", field="region") from None


@strawberry.type
class Mutation:
    register_case: Case = strawberry.mutation(resolver=cases.register_case,
                                              description="Register a new case (export-format rules).")
    update_case: Case = strawberry.mutation(resolver=cases.update_case,
                                            description="Replace a case's content; identifiers no longer listed are unlinked.")
    import_cases: ImportResult = strawberry.mutation(resolver=cases.import_cases,
                                                     description="Import export-format JSON Lines.")


def _mask(error: GraphQLError) -> bool:
    """Hide unexpected exceptions; keep our own coded errors and GraphQL validation errors."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def build_schema() -> strawberry.Schema:
    """Depth, alias, token and cost limits come from the serving app's settings
    (HQ_MAX_QUERY_DEPTH, HQ_MAX_ALIASES, HQ_MAX_QUERY_TOKENS, HQ_MAX_QUERY_COST; see console_limits)."""
    return strawberry.Schema(
        query=merge_types("Query", (Query, ConsoleQuery, TasksQuery, LiaisonQuery, AuditQuery)),
        mutation=merge_types("Mutation", (Mutation, ConsoleMutation, TasksMutation, LiaisonMutation)),
        subscription=merge_types("Subscription", (ConsoleSubscription, TasksSubscription, LiaisonSubscription)),
        extensions=[
            RequestLimits,
            lambda: ValidationCache(maxsize=512),  # saved console queries repeat: validate once
            ConsoleSwitch,  # HQ_CONSOLE_ENABLED=false: no introspection
            AuditMutations,  # one audit entry per mutation request, with its outcome
            lambda: MaskErrors(should_mask_error=_mask, error_message="internal server error"),
            ServiceErrors,  # after MaskErrors: database outages become SERVICE_UNAVAILABLE, not masked
        ],
    )
