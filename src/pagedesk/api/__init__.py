"""The REST API (django-ninja): token-authenticated, one workspace per token."""
