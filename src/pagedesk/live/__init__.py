"""The per-workspace live event log that agents' browsers follow over server-sent events.

Writers call :func:`pagedesk.live.emit.emit` inside the transaction that changes the
inbox; the row commits (or vanishes) with that change. The edge's SSE stream
(:mod:`pagedesk.edge.sse`) reads the log; wake-ups (:mod:`pagedesk.live.wakeup`)
only tell it when to look.
"""
