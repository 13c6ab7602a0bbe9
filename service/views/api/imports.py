"""Attendance imports: a CSV file is checked at once, then recorded by a worker, all or nothing.

The answer is 202 with the import's delivery id; `GET /api/v1/deliveries/<id>` shows when it
is processed and its counts (`summary`).
"""

from __future__ import annotations

from dataclasses import asdict
from zoneinfo import ZoneInfo

from flask import Response, jsonify, request

from service import imports
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import Organizer
from service.queue import PROCESS_DELIVERY, enqueue
from service.views.api.common import bp

CSV_TYPE = "text/csv"
MULTIPART_TYPE = "multipart/form-data"
# A file with thousands of bad rows gets the first ones, and how many there are in all.
MAX_ERRORS_SHOWN = 100


@bp.post("/imports")
def create_import() -> tuple[Response, int]:
    """Import a CSV file (raw `text/csv`, or the `file` field of a multipart form).

    `gathering`, `date` and `group` may be given as query parameters (or form fields) for files
    that have no such column, such as Meetup's one-event attendee export.
    """
    session = request_session()
    upload = _upload()
    organizer = session.get_one(Organizer, organizer_id())
    try:
        rows = imports.parse_rows(upload.body, ZoneInfo(organizer.timezone), upload.file_wide)
    except imports.InvalidRows as err:
        shown = [asdict(error) for error in err.errors[:MAX_ERRORS_SHOWN]]
        extra = {"errors": shown, "error_count": len(err.errors)}
        raise ApiError("invalid_rows", str(err), extra) from err
    stored = imports.store_upload(session, organizer.id, upload)
    session.commit()
    if not stored.new:
        return jsonify({"status": "duplicate", "import": stored.import_id}), 200
    enqueue(PROCESS_DELIVERY, stored.import_id)
    return jsonify({"status": "accepted", "import": stored.import_id, "rows": len(rows)}), 202


def _upload() -> imports.Upload:
    """The uploaded file's bytes and file-wide values, or 400 saying how to send them."""
    if request.mimetype == CSV_TYPE:
        body = request.get_data(cache=False)
    elif request.mimetype == MULTIPART_TYPE:
        file = request.files.get("file")
        body = file.read() if file else b""
    else:
        raise ApiError(
            "wrong_content_type",
            f"send the file as {CSV_TYPE}, or as the `file` field of {MULTIPART_TYPE}",
        )
    if not body:
        raise ApiError("empty_body", "the request carries no CSV file")
    file_wide = {
        name: value.strip()
        for name in imports.FILE_WIDE_FIELDS
        if (value := request.values.get(name, "")).strip()
    }
    return imports.Upload(body, request.mimetype, file_wide)
