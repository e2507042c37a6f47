"""The analyst console's GraphQL roots, merged into Query, Mutation and Subscription by
`hq.api.schema.build_schema`. Resolvers live in console_queries / console_mutations /
console_live; types in console_types; the rules in hq.console.
"""

from __future__ import annotations

from typing import Optional

import strawberry

from hq.api import console_live, console_mutations as M, console_queries as Q
from hq.api.console_types import (
    Explanation,
    IdentifierDecisionResult,
    IdentifierHit,
    MultiEpisodeCaseConnection,
    MultiEpisodeCaseType,
    ReviewQueue,
    SplitResult,
    Statistics,
)


@strawberry.type
class ConsoleQuery:
    identifier: IdentifierHit = strawberry.field(
        resolver=Q.resolve_identifier,
        description="Hit/no-hit: is this value known? The value is normalised first (`8 701 123 45 67` finds "
                    "+77011234567). What you see depends on your role (`visibility`).")
    multi_episode_case: Optional[MultiEpisodeCaseType] = strawberry.field(
        resolver=Q.resolve_mec, description="One multi-episode case.")
    multi_episode_cases: MultiEpisodeCaseConnection = strawberry.field(
        resolver=Q.resolve_mecs, description="Multi-episode cases, filtered and sorted (default: largest first).")
    explain: Explanation = strawberry.field(
        resolver=Q.resolve_explain,
        description="Why two cases (registration numbers) are in one multi-episode case: the chain of shared evidence.")
    review_queue: ReviewQueue = strawberry.field(resolver=Q.resolve_review_queue,
                                                 description="What waits for a human decision.")
    statistics: Statistics = strawberry.field(
        resolver=Q.resolve_statistics,
        description="Registered, solved, suspended, damage and recovered for a period, grouped.")


@strawberry.type
class ConsoleMutation:
    confirm_multi_episode_case: MultiEpisodeCaseType = strawberry.mutation(
        resolver=M.confirm_mec, description="Agree that these episodes belong together (hq_analyst, admin).")
    reject_multi_episode_case: MultiEpisodeCaseType = strawberry.mutation(
        resolver=M.reject_mec, description="Disagree with the engine; kept for the record (hq_analyst, admin).")
    split_multi_episode_case: SplitResult = strawberry.mutation(
        resolver=M.split_mec,
        description="Split off the named cases (registration numbers of one side); the same evidence never "
                    "rejoins them (hq_analyst, admin).")
    exclude_identifier: IdentifierDecisionResult = strawberry.mutation(
        resolver=M.exclude_identifier,
        description="Mark an identifier 'not evidence' everywhere; merges it alone caused come undone.")
    restore_identifier: IdentifierDecisionResult = strawberry.mutation(
        resolver=M.restore_identifier, description="Undo excludeIdentifier.")
    set_lead_region: MultiEpisodeCaseType = strawberry.mutation(
        resolver=M.set_lead_region,
        description="Name the unit that leads the joined investigation; a unit outside the regions involved "
                    "needs a reason.")
    add_note: MultiEpisodeCaseType = strawberry.mutation(resolver=M.add_note,
                                                         description="Add a note to the decision history.")
    request_split: MultiEpisodeCaseType = strawberry.mutation(
        resolver=M.request_split,
        description="A regional officer asks HQ to split their region's episodes off (goes to the review queue).")


@strawberry.type
class ConsoleSubscription:
    multi_episode_case_updated: console_live.MultiEpisodeCaseUpdate = strawberry.subscription(
        resolver=console_live.multi_episode_case_updated,
        description="A watched case gains an episode, or a new case above the size/damage threshold appears.")
