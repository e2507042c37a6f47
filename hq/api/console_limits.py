"""Request limits, read from the settings of the app serving the request, with coded errors.

Four limits guard the console against expensive documents, each a setting:
- tokens (HQ_MAX_QUERY_TOKENS): enforced by the parser itself, before anything else;
- depth (HQ_MAX_QUERY_DEPTH) and aliases (HQ_MAX_ALIASES): validation rules;
- cost (HQ_MAX_QUERY_COST): every selected field costs 1 times the product of the `first`
  arguments of the lists above it (variables resolved), checked before execution;
- page size (HQ_MAX_PAGE_SIZE) is checked by each connection (`cases.check_page_size`).
Each violation is a BAD_USER_INPUT error with `extensions.limit`, `max` and `actual`.
Introspection fields (`__schema`, `__type`) are not counted, so GraphiQL keeps working.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    parse,
)
from graphql.language import Lexer, Source, TokenKind
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from hq.settings import Settings, get_settings

DEFAULT_FIRST = 20  # what a list without `first` is assumed to return


def limit_error(limit: str, actual: int, maximum: int, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "field": "query", "limit": limit,
                                             "max": maximum, "actual": actual})


Fragments = dict[str, FragmentDefinitionNode]


@functools.lru_cache(maxsize=1024)
def tokens_over(query: str, limit: int) -> bool:
    """True if the document has more than `limit` tokens (stops lexing at limit + 1)."""
    lexer = Lexer(Source(query))
    try:
        for _ in range(limit + 1):
            if lexer.advance().kind is TokenKind.EOF:
                return False
    except GraphQLError:
        return False  # a syntax error: the parser reports it
    return True


def _fields(sel: SelectionSetNode | None, frags: Fragments, seen: frozenset[str] = frozenset()) -> Iterator[FieldNode]:
    if sel is None:
        return
    for node in sel.selections:
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(node.selection_set, frags, seen)
        elif isinstance(node, FragmentSpreadNode) and node.name.value in frags and node.name.value not in seen:
            yield from _fields(frags[node.name.value].selection_set, frags, seen | {node.name.value})


def depth(sel: SelectionSetNode | None, frags: Fragments) -> int:
    best = 0
    for f in _fields(sel, frags):
        if f.name.value.startswith("__"):
            continue
        best = max(best, 1 + depth(f.selection_set, frags))
    return best


def aliases(sel: SelectionSetNode | None, frags: Fragments) -> int:
    return sum((1 if f.alias else 0) + aliases(f.selection_set, frags) for f in _fields(sel, frags))


def _first(f: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in f.arguments or ():
        if arg.name.value != "first":
            continue
        if isinstance(arg.value, IntValueNode):
            return int(arg.value.value)
        if isinstance(arg.value, VariableNode):
            v = variables.get(arg.value.name.value)
            return int(v) if isinstance(v, int) else DEFAULT_FIRST
    return None


def cost(sel: SelectionSetNode | None, frags: Fragments, variables: dict[str, Any], multiplier: int = 1) -> int:
    total = 0
    for f in _fields(sel, frags):
        if f.name.value.startswith("__"):
            continue
        total += multiplier
        if f.selection_set is not None:
            n = _first(f, variables)
            total += cost(f.selection_set, frags, variables, multiplier * max(n if n is not None else 1, 1))
    return total


@functools.lru_cache(maxsize=32)
def _rules(max_depth: int, max_aliases: int) -> tuple[type[ValidationRule], ...]:
    """One rule class per limit pair, so strawberry's ValidationCache can key on it."""

    class Limits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            doc = context.document
            frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
            ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
            d = max((depth(op.selection_set, frags) for op in ops), default=0)
            if d > max_depth:
                context.report_error(limit_error("depth", d, max_depth,
                                                 f"query depth {d} exceeds the limit of {max_depth}"))
            a = sum(aliases(op.selection_set, frags) for op in ops)
            if a > max_aliases:
                context.report_error(limit_error("aliases", a, max_aliases,
                                                 f"{a} aliases exceed the limit of {max_aliases}"))

    return (Limits,)


@functools.lru_cache(maxsize=512)
def parsed(query: str, max_tokens: int) -> DocumentNode | None:
    """The parsed document, or None for a syntax error (strawberry then parses it again and
    reports the error the usual way). Saved console queries repeat: each is parsed once.
    Documents are shared between requests and must not be changed (nothing here does)."""
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None


class RequestLimits(SchemaExtension):
    """Depth, aliases, tokens and cost from the serving app's settings (HQ_MAX_QUERY_*)."""

    def _settings(self) -> Settings:
        ctx = self.execution_context.context
        settings = getattr(getattr(ctx, "services", None), "settings", None)
        return settings if isinstance(settings, Settings) else get_settings()

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        settings = self._settings()
        ec.parse_options["max_tokens"] = settings.max_query_tokens
        ec.validation_rules = ec.validation_rules + _rules(settings.max_query_depth, settings.max_aliases)
        yield

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.query is not None:
            limit = self._settings().max_query_tokens
            if tokens_over(ec.query, limit):
                raise limit_error("tokens", limit + 1, limit, f"the document has more than {limit} tokens")
            if ec.graphql_document is None:
                ec.graphql_document = parsed(ec.query, limit)
        yield

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        doc = ec.graphql_document
        if doc is not None and ec.result is None:
            settings = self._settings()
            frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
            ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)
                   and (ec.operation_name is None or (d.name and d.name.value == ec.operation_name))]
            c = sum(cost(op.selection_set, frags, ec.variables or {}) for op in ops)
            if c > settings.max_query_cost:
                ec.result = GraphQLExecutionResult(data=None, errors=[limit_error(
                    "cost", c, settings.max_query_cost,
                    f"estimated cost {c} exceeds the limit of {settings.max_query_cost}; ask for smaller pages")])
        yield
