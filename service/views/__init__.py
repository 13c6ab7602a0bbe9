"""HTTP views, one blueprint per surface: webhooks, health, the JSON API."""

from __future__ import annotations

from flask import Flask

from service.views import api, health, hooks


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(hooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
