"""Tasking: separate assignments between units, their event feed, deadlines and escalation."""
