"""Celery tasks: thin wrappers that load by id, call `service/`, and return a status string."""
