"""Background jobs of the core app (none yet: ingestion lives in inbox.tasks)."""
