"""HQ_CONSOLE_ENABLED=false: no GraphiQL page (see hq/app.py) and no introspection.

The rule is added per request from the serving app's settings, like the other limits,
and refuses `__schema` / `__type` with a coded error; `__typename` stays allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension


class NoIntrospection(ValidationRule):
    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in ("__schema", "__type"):
            self.report_error(GraphQLError(
                "introspection is disabled on this server (HQ_CONSOLE_ENABLED=false)", node,
                extensions={"code": "FORBIDDEN", "field": node.name.value}))


class ConsoleSwitch(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        settings = getattr(getattr(ec.context, "services", None), "settings", None)
        if settings is not None and not getattr(settings, "console_enabled", True):
            ec.validation_rules = ec.validation_rules + (NoIntrospection,)
        yield
