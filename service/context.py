"""Per-app singletons (settings, the secret box, the signing keyring) and their accessors."""

from __future__ import annotations

from flask import Flask, current_app

from service.config import Settings
from service.crypto import SecretBox
from service.keyring import Keyring

SETTINGS_KEY = "roomwise.settings"
SECRET_BOX_KEY = "roomwise.secret_box"
KEYRING_KEY = "roomwise.keyring"


def init_context(app: Flask, settings: Settings) -> None:
    app.extensions[SETTINGS_KEY] = settings
    box = SecretBox(settings.secret_key)
    app.extensions[SECRET_BOX_KEY] = box
    app.extensions[KEYRING_KEY] = Keyring(box)


def current_settings() -> Settings:
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    return settings


def secret_box() -> SecretBox:
    box: SecretBox = current_app.extensions[SECRET_BOX_KEY]
    return box


def keyring() -> Keyring:
    ring: Keyring = current_app.extensions[KEYRING_KEY]
    return ring
