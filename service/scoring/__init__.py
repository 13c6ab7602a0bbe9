"""Roomwise's scoring model (SCORING.md, version 1) as pure functions on plain data.

Nothing here imports Flask, Celery or the database: every function takes dataclasses and
numbers and returns a result that carries its value, its factors and the sentences that
explain them, so the same code serves the API, the digests and the tests.
"""

from service.scoring.explain import MODEL_VERSION, Factor

__all__ = ["MODEL_VERSION", "Factor"]
