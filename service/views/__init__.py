"""HTTP views, one blueprint per surface: webhooks, health, the JSON API, the pages people
open from their email, and the organizer's admin pages."""

from __future__ import annotations

from flask import Flask

from service.views import admin, api, health, hooks, pages


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(hooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
