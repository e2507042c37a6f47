"""Liaison requests: electronic demands to banks and operators, answered within the legal deadline.

CPC art. 34(5) gives an organisation three days to meet a prosecuting body's demand, yet
paper requests take weeks while the money moves on. Here a request goes to one
organisation's liaison (or to every bank), is delivered live through the tasking event
feed, and its answer's identifiers are fed back into linking through `hq.ingest`.

Modules: `kinds` (what each kind needs, incl. the sanction table), `models` (tables),
`access` (who sees what), `requests` (create, send, amend), `answers` (validate and record
answers, feed linking), `deadlines` (due times, holds, overdue sweep, figures), `feed`
(events on the shared feed), `record` (views and the JSON export).
"""
