"""Audit trail: an append-only, hash-chained log of every mutation and every read of
personal or bank-secret data, so HQ can prove who saw and did what."""
