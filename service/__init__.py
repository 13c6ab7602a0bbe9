"""Roomwise: the Flask application factory.

`create_app` reads as the steps it takes; nothing runs at import time. Gunicorn serves
`service:create_app()`, the CLI is `flask --app service …`, and the Celery worker builds its app
through the same factory (`tasks/worker.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from service import db, delivery_writer, sessions
from service.cli import register_commands
from service.config import load_settings
from service.context import init_context
from service.errors import register_error_handlers
from service.queue import celery_init_app
from service.views import register_blueprints
from service.views.hooks import install_webhook_receiver


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from environment settings; `overrides` replace individual settings."""
    settings = load_settings(**dict(overrides or {}))
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.webhook_max_bytes,
        # The admin login's cookie: never read by scripts, never sent by another site's
        # forms, and only over HTTPS where Roomwise is served over it.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
    )
    init_context(app, settings)
    db.init_app(app, settings.database_url)
    sessions.init_app(app)
    celery_init_app(app, settings)
    delivery_writer.init_app(app)
    register_blueprints(app)
    install_webhook_receiver(app)
    register_error_handlers(app)
    register_commands(app)
    return app
