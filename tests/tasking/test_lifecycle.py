"""States, validation, results that flow back into linking, escalation on a controllable clock."""

from __future__ import annotations

import datetime as dt

from tests.tasking.conftest import seed

T = "id state deliveredAt acceptedAt escalated refusalReason result { linkedCase mentionsAdded identifiers { kind role } }"


def code_and_field(body: dict) -> tuple[str, str | None]:
    ext = body["errors"][0]["extensions"]
    return ext["code"], ext.get("field")


async def act(srv, token: str, name: str, task_id: int, **args: object) -> dict:
    extra = "".join(f", {k}: $v{k}" for k in args)
    decl = "".join(f", $v{k}: {'TaskResultInput!' if k == 'result' else 'String!'}" for k in args)
    variables = {"id": task_id, **{f"v{k}": v for k, v in args.items()}}
    return await srv.gql(f"mutation($id: Int!{decl}) {{ {name}(id: $id{extra}) {{ {T} }} }}", token, variables)


async def test_states_and_result_identifiers_go_back_into_linking(db_url, servers) -> None:
    tokens = await seed(db_url)
    srv = await servers(db_url)
    task = (await srv.issue(tokens.officer_turkistan, ["kz-23-k"], text="find the holder of the card",
                            attachments=["A" * 64]))[0]
    tid = task["id"]
    # invalid transitions name the field
    assert code_and_field(await act(srv, tokens.officer_atyrau, "startTask", tid)) == ("CONFLICT", "id")
    assert code_and_field(await act(srv, tokens.officer_atyrau, "refuseTask", tid, reason="  ")) == ("BAD_USER_INPUT", "reason")
    ok = await act(srv, tokens.officer_atyrau, "acknowledgeTask", tid)
    assert ok["data"]["acknowledgeTask"]["state"] == "delivered"
    again = await act(srv, tokens.officer_atyrau, "acknowledgeTask", tid)  # idempotent
    assert again["data"]["acknowledgeTask"]["deliveredAt"] == ok["data"]["acknowledgeTask"]["deliveredAt"]
    assert (await act(srv, tokens.officer_atyrau, "acceptTask", tid))["data"]["acceptTask"]["state"] == "accepted"
    assert (await act(srv, tokens.officer_atyrau, "startTask", tid))["data"]["startTask"]["state"] == "in_progress"

    bad = {"text": "found", "identifiers": [{"kind": "card", "value": "4042 4386 0987 8025", "role": "suspect"}]}
    assert code_and_field(await act(srv, tokens.officer_atyrau, "completeTask", tid, result=bad)) == \
        ("BAD_USER_INPUT", "result.identifiers[0].value")
    bad_role = {"text": "x", "identifiers": [{"kind": "phone", "value": "+77011234567", "role": "victim"}]}
    assert code_and_field(await act(srv, tokens.officer_atyrau, "completeTask", tid, result=bad_role)) == \
        ("BAD_USER_INPUT", "result.identifiers[0].role")
    bad_sha = {"text": "x", "attachments": ["not-a-digest"]}
    assert code_and_field(await act(srv, tokens.officer_atyrau, "completeTask", tid, result=bad_sha)) == \
        ("BAD_USER_INPUT", "result.attachments[0]")

    result = {"text": "holder questioned; sold the card via Telegram",
              "identifiers": [{"kind": "telegram", "value": "@card_buyer_kz", "role": "suspect"},
                              {"kind": "phone", "value": "8 701 555 44 33", "role": "witness"}],
              "attachments": ["b" * 64]}
    done = (await act(srv, tokens.officer_atyrau, "completeTask", tid, result=result))["data"]["completeTask"]
    assert done["state"] == "done"
    assert done["result"]["linkedCase"] == "221561030000457" and done["result"]["mentionsAdded"] == 2
    case = await srv.ok('{ case(registrationNumber: "221561030000457") { identifiers { kind role note } } }',
                        tokens.analyst)
    kinds = {(i["kind"], i["role"]) for i in case["case"]["identifiers"]}
    assert {("card", "suspect"), ("telegram", "suspect"), ("phone", "witness")} <= kinds
    assert code_and_field(await act(srv, tokens.officer_turkistan, "cancelTask", tid)) == ("CONFLICT", "id")


async def test_issue_validation_names_the_field(sqlite_url, servers) -> None:
    tokens = await seed(sqlite_url)
    srv = await servers(sqlite_url)
    q = "mutation($i: IssueTaskInput!) { issueTask(input: $i) { id } }"
    base = {"kind": "interview", "targetUnits": ["kz-23-k"], "text": "x", "caseRegistrationNumber": "221561030000457"}
    cases = [
        ({"kind": "torture"}, "kind"),
        ({"targetUnits": ["kz-99-k"]}, "targetUnits[0]"),
        ({"targetUnits": []}, "targetUnits"),
        ({"attachments": ["abc"]}, "attachments[0]"),
        ({"priority": "asap"}, "priority"),
        ({"deadline": "2001-01-01T00:00:00+00:00"}, "deadline"),
        ({"caseRegistrationNumber": "000"}, "caseRegistrationNumber"),
        ({"caseRegistrationNumber": None}, "caseRegistrationNumber"),
        ({"caseRegistrationNumber": None, "multiEpisodeCaseId": 999}, "multiEpisodeCaseId"),
        ({"text": "  "}, "text"),
    ]
    for change, field in cases:
        body = await srv.gql(q, tokens.analyst, {"i": {**base, **change}})
        assert code_and_field(body) == ("BAD_USER_INPUT", field), (change, body)
    # an officer of Atyrau cannot send a task to itself, nor about a case of another region
    body = await srv.gql(q, tokens.officer_atyrau, {"i": {**base, "targetUnits": ["kz-23-k"], "caseRegistrationNumber": "221561030000458"}})
    assert code_and_field(body) == ("BAD_USER_INPUT", "targetUnits[0]")
    body = await srv.gql(q, tokens.officer_atyrau, {"i": {**base, "targetUnits": ["kz-61-k"]}})
    assert code_and_field(body) == ("BAD_USER_INPUT", "caseRegistrationNumber")
    fan = await srv.issue(tokens.analyst, ["kz-23-k", "kz-61-k", "kz-23-k", "kz-15-k"])
    assert len(fan) == 3 and len({t["batchId"] for t in fan}) == 1


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


async def test_escalation_on_a_controllable_clock(db_url, servers, clients) -> None:
    tokens = await seed(db_url)
    srv = await servers(db_url, task_delivery_timeout=600, escalation_interval=0)
    clock = Clock(dt.datetime(2030, 3, 1, 9, 0, tzinfo=dt.timezone.utc))
    srv.services.extras["clock"] = clock
    escalator = srv.services.extras["escalator"]
    head = await clients(srv.ws, tokens.analyst)
    await head.subscribe("kz-23-dp", 0)  # the Atyrau region's head unit
    hq_feed = await clients(srv.ws, tokens.analyst)
    await hq_feed.subscribe("hq", 0)

    deadline = (clock.now + dt.timedelta(hours=2)).isoformat()
    slow = (await srv.issue(tokens.analyst, ["kz-23-k"], text="never acknowledged"))[0]
    late = (await srv.issue(tokens.analyst, ["kz-23-k"], text="acknowledged, then late", deadline=deadline))[0]
    prompt = (await srv.issue(tokens.analyst, ["kz-61-k"], text="done in time", deadline=deadline))[0]
    await act(srv, tokens.officer_atyrau, "acknowledgeTask", late["id"])

    clock.now += dt.timedelta(minutes=5)
    await act(srv, tokens.officer_turkistan, "acceptTask", prompt["id"])
    await act(srv, tokens.officer_turkistan, "startTask", prompt["id"])
    await act(srv, tokens.officer_turkistan, "completeTask", prompt["id"], result={"text": "checked"})
    assert not await escalator.sweep()  # nothing due yet
    assert (await srv.ok("{ overdueTasks { id } }", tokens.analyst))["overdueTasks"] == []

    clock.now += dt.timedelta(minutes=10)  # 15 min after issue: the 10-minute delivery window has passed
    await escalator.sweep()
    await head.wait_events(1)
    assert head.events[0]["kind"] == "task_escalated" and head.events[0]["reason"] == "not_delivered"
    assert head.events[0]["task"]["id"] == slow["id"]
    overdue = (await srv.ok("{ overdueTasks { id escalated } }", tokens.analyst))["overdueTasks"]
    assert [(t["id"], t["escalated"]) for t in overdue] == [(slow["id"], ["not_delivered"])]
    assert not await escalator.sweep()  # escalates once per reason

    clock.now += dt.timedelta(hours=2)  # past the deadline
    await escalator.sweep()
    await head.wait_events(2)
    assert head.events[1]["task"]["id"] == late["id"] and head.events[1]["reason"] == "overdue"
    escalations = lambda: [e for e in hq_feed.events if e["kind"] == "task_escalated"]  # noqa: E731
    from tests.tasking.conftest import wait_until

    await wait_until(lambda: len(escalations()) == 2, 10, "the sender's escalation events")
    ids = {t["id"] for t in (await srv.ok("{ overdueTasks { id } }", tokens.analyst))["overdueTasks"]}
    assert ids == {slow["id"], late["id"]}
    # the head unit's officer sees the escalated tasks read-only (none here: analysts follow it)

    figures = (await srv.ok("{ unitDiscipline { unit count accepted overdue medianSecondsToAccept doneOnTimeShare } }",
                            tokens.analyst))["unitDiscipline"]
    by_unit = {f["unit"]: f for f in figures}
    assert by_unit["kz-61-k"] == {"unit": "kz-61-k", "count": 1, "accepted": 1, "overdue": 0,
                                  "medianSecondsToAccept": 300.0, "doneOnTimeShare": 1.0}
    assert by_unit["kz-23-k"]["count"] == 2 and by_unit["kz-23-k"]["overdue"] == 1
    assert by_unit["kz-23-k"]["doneOnTimeShare"] == 0.0 and by_unit["kz-23-k"]["medianSecondsToAccept"] is None
    own = (await srv.ok("{ unitDiscipline { unit } }", tokens.officer_atyrau))["unitDiscipline"]
    assert [f["unit"] for f in own] == ["kz-23-k"]
