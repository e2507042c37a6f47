"""A Strawberry extension that writes one audit entry per mutation request, after it ran.

The entry names the mutation fields, the object ids found in their arguments (variables
resolved; never the other argument values, which may hold personal data), the caller, the
client address, the request id and the outcome with its error codes.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, OperationType, value_from_ast_untyped
from strawberry.extensions import SchemaExtension

from hq.audit.recorder import append

log = logging.getLogger(__name__)
CASE_KEYS = {"registrationNumber", "caseRegistrationNumber", "registration_number"}
UNIT_KEYS = {"unit", "units", "targetUnit", "targetUnits", "unitId"}
_NOUN = re.compile(r"^[a-z]+([A-Z]\w*)$")


def _noun(field_name: str) -> str:
    m = _NOUN.match(field_name)
    noun = m.group(1) if m else field_name
    return noun[0].lower() + noun[1:]


def _jsonl_cases(text: str) -> Iterator[tuple[str, str]]:
    for line in text.splitlines():
        if '"registration_number"' not in line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("registration_number"), (str, int)):
            yield "case", str(obj["registration_number"]).strip()


def object_refs(field_name: str, value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(type, id) pairs named by one argument value of a mutation field."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from object_refs(field_name, v, k)
    elif isinstance(value, list):
        for v in value:
            yield from object_refs(field_name, v, key)
    elif value is None or isinstance(value, bool):
        return
    elif key == "jsonl" and isinstance(value, str):
        yield from _jsonl_cases(value)
    elif key in CASE_KEYS:
        yield "case", str(value).strip()
    elif key in UNIT_KEYS:
        yield "unit", str(value)
    elif key in ("id", "ids"):
        yield _noun(field_name), str(value)
    elif key.endswith("Ids"):
        yield key[:-3], str(value)
    elif key.endswith("Id"):
        yield key[:-2], str(value)


def _operation(doc: Any, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    for op in ops:
        if name is None or (op.name is not None and op.name.value == name):
            return op
    return None


def _codes(errors: list[Any]) -> list[str]:
    return sorted({str((e.extensions or {}).get("code", "INTERNAL_SERVER_ERROR")) for e in errors})


class AuditMutations(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        ec = self.execution_context
        doc = ec.graphql_document
        if doc is None:
            return
        op = _operation(doc, ec.operation_name)
        if op is None or op.operation is not OperationType.MUTATION:
            return
        variables = ec.variables or {}
        fields, refs = [], []
        for sel in op.selection_set.selections:
            if not isinstance(sel, FieldNode):
                continue
            fields.append(sel.name.value)
            for arg in sel.arguments or ():
                try:
                    value = value_from_ast_untyped(arg.value, variables)
                except Exception:  # noqa: BLE001 - malformed input is audited without its ids
                    continue
                refs.extend(object_refs(sel.name.value, value, arg.name.value))
        errors = list(ec.pre_execution_errors or []) or list(getattr(ec.result, "errors", None) or [])
        outcome = "rejected" if ec.result is None else ("error" if errors else "ok")  # rejected: never ran
        detail: dict[str, Any] = {}
        if ec.operation_name:
            detail["operation_name"] = ec.operation_name[:100]
        if errors:
            detail["codes"] = _codes(errors)
        ctx = ec.context
        try:
            await append(
                ctx.sessions, kind="mutation", operation=",".join(fields) or "mutation", outcome=outcome,
                caller=getattr(ctx, "caller_or_none", None), client=getattr(ctx, "client", None),
                request_id=getattr(ctx, "request_id", None), objects=refs, detail=detail,
            )
        except Exception:  # noqa: BLE001 - the mutation has run; losing its record is logged loudly
            log.exception("audit: could not record mutation %s (request %s)", ",".join(fields),
                          getattr(ctx, "request_id", "?"))
