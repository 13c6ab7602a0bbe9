"""The baseline for `bench.ingest`: a Flask endpoint that reads a webhook body and answers 202.

It takes the same path and runs under the same gunicorn settings as the real webhook view, so
the gap between the two is what verifying, storing and enqueueing a delivery costs, not what
Flask and gunicorn cost. Served as `gunicorn -c gunicorn.conf.py bench.bare_app:app`.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/hooks/<platform>/<key>")
def receive_webhook(platform: str, key: str) -> tuple[Response, int]:
    request.get_data(cache=False)
    return jsonify(status="accepted"), 202


@app.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")
