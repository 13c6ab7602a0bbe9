"""Per-app singletons (settings, the secret box) and their accessors for views and tasks."""

from __future__ import annotations

from flask import Flask, current_app

from service.config import Settings
from service.crypto import SecretBox

SETTINGS_KEY = "roomwise.settings"
SECRET_BOX_KEY = "roomwise.secret_box"


def init_context(app: Flask, settings: Settings) -> None:
    app.extensions[SETTINGS_KEY] = settings
    app.extensions[SECRET_BOX_KEY] = SecretBox(settings.secret_key)


def current_settings() -> Settings:
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    return settings


def secret_box() -> SecretBox:
    box: SecretBox = current_app.extensions[SECRET_BOX_KEY]
    return box
