"""Issue → live push → acknowledge → delivered, on SQLite and PostgreSQL, in-process broker."""

from __future__ import annotations

from tests.tasking.conftest import seed


async def test_issue_push_ack(db_url, servers, clients) -> None:
    tokens = await seed(db_url)
    srv = await servers(db_url)
    c = await clients(srv.ws, tokens.officer_atyrau)
    await c.subscribe("kz-23-k", 0)
    tasks = await srv.issue(tokens.analyst, ["kz-23-k"])
    events = await c.wait_events(1)
    assert events[0]["kind"] == "task_issued" and events[0]["task"]["id"] == tasks[0]["id"]
    await c.mutate("ack", "mutation($id:Int!){acknowledgeTask(id:$id){id state}}", {"id": tasks[0]["id"]})
    events = await c.wait_events(2)
    assert events[1]["change"] == "delivered"
    data = await srv.ok("query($id:Int!){task(id:$id){state deliveredAt}}", tokens.analyst, {"id": tasks[0]["id"]})
    assert data["task"]["state"] == "delivered"
