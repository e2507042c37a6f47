"""Hardening: request guards, rate limits, token rotation, log redaction, outage errors.

Each concern is a small module wired in from hq/app.py, hq/api/schema.py and hq/api/ws.py,
so the rules sit in one place and every door (HTTP, websocket) applies the same ones.
"""
