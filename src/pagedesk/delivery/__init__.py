"""Outbound delivery: the outbox, the sender worker, personas and composer policy."""
