"""Running pagedesk in production: health and readiness probes, Prometheus metrics,
the worker command (threads or processes, one scheduler) and the database backup.

See ``docs/deploy.md`` for how an operator uses them.
"""
