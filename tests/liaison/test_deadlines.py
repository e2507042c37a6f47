"""Due times, overdue escalation and per-organisation figures, on a controllable clock."""

from __future__ import annotations

import datetime as dt

import pytest

from hq.liaison.deadlines import add_business_days, deadline_hours
from hq.settings import SettingsError, load_settings
from hq.tasking.events import read_events
from tests.conftest import PEPPER
from tests.liaison.conftest import OVERDUE, START, STAFF_ONE

FIGURES = """query { liaisonFigures { organisation sent open overdueNow answered refused medianAnswerSeconds
  answeredOnTimeShare } }"""


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


async def test_overdue_escalates_once_to_sender_and_hq(liaison) -> None:
    t = liaison.tokens
    [req] = await liaison.create(t.officer_turkistan)
    assert _at(req["dueAt"]) == START + dt.timedelta(days=3)  # CPC art. 34(5): three days
    liaison.clock.advance(hours=71)
    assert (await liaison.ok(OVERDUE, t.analyst))["overdueRequests"] == []
    assert not await liaison.sweep()

    liaison.clock.advance(hours=2)
    # The view shows it as soon as it is late, before any sweep ran.
    [late] = (await liaison.ok(OVERDUE, t.analyst))["overdueRequests"]
    assert (late["id"], late["state"], late["overdue"], late["escalatedAt"]) == (req["id"], "sent", True, None)

    appended = await liaison.sweep()
    assert appended
    assert not await liaison.sweep()  # once
    [late] = (await liaison.ok(OVERDUE, t.officer_turkistan))["overdueRequests"]
    assert late["state"] == "overdue" and _at(late["escalatedAt"]) == liaison.clock.now
    async with liaison.services.sessions() as s:
        unit = [e for e in await read_events(s, after=0, unit="liaison:unit:kz-61-k") if e.kind == "request_escalated"]
        hq = [e for e in await read_events(s, after=0, unit="liaison:hq") if e.kind == "request_escalated"]
        bank = [e.payload["change"] for e in await read_events(s, after=0, unit="liaison:org:kaspi")]
    assert [e.task_id for e in unit] == [e.task_id for e in hq] == [req["id"]]
    assert hq[0].payload["reason"] == "overdue"
    assert bank == ["sent", "overdue"]
    history = (await liaison.ok(STAFF_ONE, t.analyst, {"id": req["id"]}))["liaisonRequest"]["history"]
    assert history[-1]["action"] == "escalated_overdue" and history[-1]["actor"] == "system"
    # Another region's officer does not see it in their overdue view.
    assert (await liaison.ok(OVERDUE, t.officer_atyrau))["overdueRequests"] == []

    # A late answer still closes it; the figures count it as late.
    body = await liaison.answer(t.liaison_kaspi, req["id"], {"holders": [{"name": "X"}]}, True)
    assert body["data"]["answerRequest"]["state"] == "answered"
    assert (await liaison.ok(OVERDUE, t.analyst))["overdueRequests"] == []


async def test_figures_median_on_time_share_open_now(liaison) -> None:
    t = liaison.tokens
    [a] = await liaison.create()
    [b] = await liaison.create()
    [c] = await liaison.create()
    liaison.clock.advance(hours=10)
    await liaison.answer(t.liaison_kaspi, a["id"], {"holders": [{"name": "X"}]}, True)
    liaison.clock.advance(hours=70)  # 80h: b and c are past due
    await liaison.answer(t.liaison_kaspi, b["id"], {"holders": [{"name": "Y"}]}, True)
    [kaspi] = [f for f in (await liaison.ok(FIGURES, t.analyst))["liaisonFigures"] if f["organisation"] == "kaspi"]
    assert kaspi == {"organisation": "kaspi", "sent": 3, "open": 1, "overdueNow": 1, "answered": 2, "refused": 0,
                     "medianAnswerSeconds": 45 * 3600.0, "answeredOnTimeShare": pytest.approx(1 / 3)}
    assert c["id"]


async def test_urgent_hold_due_in_hours_and_expiry_tracked(liaison) -> None:
    t = liaison.tokens
    [req] = await liaison.create(kind="hold_funds", details={"urgent": True})
    assert _at(req["dueAt"]) == START + dt.timedelta(hours=3)
    too_long = {"hold": {"account": {"kind": "card", "value": "5179012113311210"}, "heldFrom": START.isoformat(),
                         "heldUntil": (START + dt.timedelta(days=8)).isoformat(), "amountKzt": 5_827_000}}
    err = (await liaison.answer(t.liaison_kaspi, req["id"], too_long, True))["errors"][0]
    assert err["extensions"]["field"] == "answer.hold.held_until" and "5 business days" in err["message"]
    ok = {"hold": {"account": {"kind": "card", "value": "5179012113311210"}, "heldFrom": START.isoformat(),
                   "amountKzt": 5_827_000}}
    out = (await liaison.answer(t.liaison_kaspi, req["id"], ok, True))["data"]["answerRequest"]
    assert _at(out["holdExpiresAt"]) == START + dt.timedelta(days=7)  # Monday + 5 business days
    assert out["holdExpired"] is False
    liaison.clock.advance(days=7, minutes=1)
    again = (await liaison.ok(STAFF_ONE, t.analyst, {"id": req["id"]}))["liaisonRequest"]
    assert again["holdExpired"] is True


def test_deadlines_are_configurable_per_kind(monkeypatch) -> None:
    monkeypatch.setenv("HQ_LIAISON_DEADLINE_HOURS", '{"call_billing": 24, "hold_funds": 12}')
    s = load_settings(token_pepper=PEPPER)
    assert deadline_hours(s, "call_billing", False) == 24
    assert deadline_hours(s, "hold_funds", False) == 12
    assert deadline_hours(s, "hold_funds", True) == s.liaison_urgent_hold_hours
    assert deadline_hours(s, "account_holder", False) == 72
    monkeypatch.setenv("HQ_LIAISON_DEADLINE_HOURS", '{"bogus": 1}')
    with pytest.raises(SettingsError, match="HQ_LIAISON_DEADLINE_HOURS"):
        load_settings(token_pepper=PEPPER)


def test_business_days_skip_weekends() -> None:
    friday = dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.timezone.utc)
    assert add_business_days(friday, 1) == dt.datetime(2026, 3, 9, 15, 0, tzinfo=dt.timezone.utc)
    assert add_business_days(friday, 5) == dt.datetime(2026, 3, 13, 15, 0, tzinfo=dt.timezone.utc)
