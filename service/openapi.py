"""The OpenAPI 3.1 description served at `/api/v1/openapi.json`.

It is written out rather than generated so that it can say what the code cannot: which error
reasons each operation answers with, and what a sender should do about them. To keep it honest,
`tests/service/test_api.py` checks that every route of the app is described here (with its
endpoint name as `operationId`) and that real responses match the component schemas, which
mirror `service/serializers.py` field for field.

Repeated shapes (error responses, pages, nullable timestamps) come from the small builders
below, so each fact is stated once.
"""

from __future__ import annotations

from typing import Any

from integrations import signatures
from integrations.base import MAX_AMOUNT, ConnectionSource, OutcomeKind
from integrations.fields import MAX_ID_LENGTH, MAX_TEXT_LENGTH
from integrations.standard import KIND_BY_TYPE
from service.connections import TRUSTED_SOURCES
from service.mail.preferences import MAX_RECIPIENTS, MAX_SUMMARY_GRACE_MINUTES, WEEKDAYS
from service.models import (
    DeliveryStatus,
    MailKind,
    MailStatus,
    OutboundEventType,
    OutboundStatus,
    OutcomeSource,
)
from service.outbound import MAX_URL_LENGTH

Schema = dict[str, Any]

JSON = "application/json"
# The API's paging bounds; tests/service/test_api.py checks them against what is served.
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
BEARER = "bearerAuth"
TOKEN_REASONS = ("missing_token", "bad_token")
ATTENDANCE_STATUSES = ["registered", "checked_in", "checked_out", "reverted"]


# --- schema builders -----------------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = (), **extra: Any) -> Schema:
    """A closed object; every property is required unless named in `optional`.

    The serializers always emit every key (null when unknown), so "required" is the default.
    """
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
        **extra,
    }


def nullable(schema: Schema) -> Schema:
    """`schema` or JSON null, in 3.1 style (there is no `nullable` keyword any more)."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def integer(description: str, **extra: Any) -> Schema:
    return {"type": "integer", "description": description, **extra}


def text(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def timestamp(description: str) -> Schema:
    return {"type": "string", "format": "date-time", "description": description}


def optional_timestamp(description: str) -> Schema:
    return nullable(timestamp(description + " Null until it happens."))


def const(value: str, description: str = "") -> Schema:
    return {
        "type": "string",
        "const": value,
        **({"description": description} if description else {}),
    }


def page(items_key: str, item: str) -> Schema:
    """A page of a list endpoint: the items and where the next page starts."""
    return obj(
        {
            items_key: {"type": "array", "items": ref(item)},
            "next_offset": nullable(
                integer("The `offset` of the next page; null on the last page.", minimum=0)
            ),
        }
    )


# --- parameter and response builders -------------------------------------------------------


def parameter(location: str, name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": location, "schema": schema, "description": description, **extra}


def path_id(name: str, what: str) -> Schema:
    return parameter("path", name, {"type": "integer"}, f"The {what}'s id.", required=True)


def header(name: str, description: str, **schema: Any) -> Schema:
    return parameter("header", name, {"type": "string", **schema}, description, required=True)


PAGE_PARAMETERS = [
    parameter(
        "query",
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
        "How many items to return.",
    ),
    parameter(
        "query",
        "offset",
        {"type": "integer", "minimum": 0, "default": 0},
        "How many items to skip; use the previous page's `next_offset`.",
    ),
]


def json_response(description: str, schema: Schema, **extra: Any) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def error_response(description: str, *reasons: str, **extra: Any) -> Schema:
    """An `Error` body whose `reason` is one of `reasons` (each in `service.errors`)."""
    schema = {"allOf": [ref("Error"), {"properties": {"reason": {"enum": list(reasons)}}}]}
    return json_response(description, schema, **extra)


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Schema],
    *,
    parameters: list[Schema] | None = None,
    authenticated: bool = True,
    **extra: Any,
) -> Schema:
    """One operation; `operation_id` is the Flask endpoint's function name.

    Authenticated operations (the API under /api/v1) get the bearer scheme and the 401 that each
    of them can answer; the others say explicitly that they need no token.
    """
    if authenticated:
        token_error = error_response("No bearer token, or one that is not valid.", *TOKEN_REASONS)
        responses = {**responses, "401": token_error}
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "security": [{BEARER: []}] if authenticated else [],
        "parameters": parameters or [],
        "responses": responses,
        **extra,
    }


INVALID_PARAMETER = error_response(
    "A query parameter is not a whole number or is out of range.", "invalid_parameter"
)


def not_found(what: str) -> Schema:
    return error_response(
        f"No {what} with this id belongs to the token's organizer (another organizer's {what} "
        "answers exactly the same, so ids reveal nothing across organizers).",
        "not_found",
    )


# --- component schemas: the API's objects (service/serializers.py) --------------------------

GROUP_SUMMARY = obj({"id": integer("Roomwise's group id."), "name": text("The group's name.")})

GATHERING_FIELDS: dict[str, Schema] = {
    "id": integer("Roomwise's gathering id."),
    "name": text("The gathering's name, as the platform last sent it."),
    "group": nullable(ref("GroupSummary")),
    "starts_at": optional_timestamp("When the gathering starts (UTC)."),
    "ends_at": optional_timestamp("When the gathering ends (UTC)."),
    "checked_in": integer("How many people checked in (and were not reverted).", minimum=0),
    "settings": {
        "type": "object",
        "description": "This gathering's own overrides of its group's room and timing.",
    },
}

PERSON = obj(
    {
        "id": integer("Roomwise's person id; one per organizer and normalized email."),
        "name": text("The person's name (empty when no platform sent one)."),
        "email": nullable(text("The email as first received.")),
        "company": text("The person's company (empty when no platform sent one)."),
    }
)

ATTENDANCE = obj(
    {
        "person": ref("Person"),
        "status": {
            "type": "string",
            "enum": ATTENDANCE_STATUSES,
            "description": "Where the person stands, derived from the timestamps.",
        },
        "registered_at": optional_timestamp("The earliest registration."),
        "checked_in_at": optional_timestamp("The first check-in (arrival)."),
        "checked_out_at": optional_timestamp("The last check-out; null again after a re-entry."),
        "source": text("The platform the attendance first came from."),
        "figures": nullable(ref("AttendeeFigures")),
    }
)

NUMBER_OR_NULL = {"type": ["number", "null"]}

FACTOR = obj(
    {
        "name": text("Which part of the score."),
        "value": {**NUMBER_OR_NULL, "description": "In [0, 1]; null when its inputs are missing."},
        "sentence": text("What it means, in one sentence."),
        "inputs": {"type": "object", "description": "The numbers it was computed from."},
    }
)

ACTION = obj(
    {
        "code": text("A stable slug, e.g. cap_or_split or above_acoustic_capacity."),
        "text": text("What to do."),
        "reason": text("Why, with the numbers that fired the rule."),
        "numbers": {"type": "object", "additionalProperties": {"type": "number"}},
    }
)

SIZE_BAND = {
    "type": "object",
    "description": "The head counts scoring at least 90% of the best, and the best one.",
    "properties": {
        "low": {"type": ["integer", "null"]},
        "high": {"type": ["integer", "null"]},
        "best": {"type": ["integer", "null"]},
        "best_value": {"type": "integer"},
        "sentence": {"type": "string"},
    },
}

SCORE = obj(
    {
        "value": integer("The size score, 0–100.", minimum=0, maximum=100),
        "head_count": integer("N: people checked in when it was computed.", minimum=0),
        "peak": integer("N_peak: the most inside at once.", minimum=0),
        "hours": {"type": "number", "description": "H: open-networking hours."},
        "explanation": text("The score in one sentence."),
        "factors": {"type": "array", "items": ref("Factor")},
        "recommended_band": SIZE_BAND,
        "acoustic_capacity": {
            **NUMBER_OR_NULL,
            "description": "N_ac: how many can talk at once in this room; null without venue data.",
        },
        "actions": {"type": "array", "items": ref("Action")},
        "model_version": integer("The scoring model that computed it."),
        "computed_at": timestamp("When it was computed."),
    }
)

LIVE = obj(
    {
        "head_count_now": integer("Checked in and not checked out.", minimum=0),
        "checked_in": integer("Checked in at any time.", minimum=0),
        "peak": integer("The most inside at once so far.", minimum=0),
        "recommended_band": SIZE_BAND,
        "acoustic_capacity": NUMBER_OR_NULL,
        "alerts": {"type": "array", "items": ref("Action")},
    }
)

ATTENDEE_FIGURES = obj(
    {
        "capacity": {"type": "number", "description": "C_i: conversations realistically possible."},
        "connections": {"type": ["integer", "null"], "description": "M_i; null if none logged."},
        "new_connections": {"type": ["integer", "null"]},
        "re_meetings": {"type": ["integer", "null"]},
        "utilization": {**NUMBER_OR_NULL, "description": "U_i = M_i / C_i."},
        "novelty": {**NUMBER_OR_NULL, "description": "ν_i: the share with new people."},
        "coverage": {**NUMBER_OR_NULL, "description": "K_i: the share of the room (not judged)."},
        "sentence": text("The figures, as the attendee reads them."),
    }
)

GROUP_HEALTH = obj(
    {
        "value": {**NUMBER_OR_NULL, "description": "0–100; null when nothing is measurable."},
        "explanation": text("The health in a sentence, naming any part without data."),
        "factors": {"type": "array", "items": ref("Factor")},
        "weights": {"type": "object", "additionalProperties": {"type": "number"}},
        "model_version": integer("The scoring model that computed it."),
        "computed_at": timestamp("When it was computed."),
    }
)

STANDING_FIELDS: dict[str, Schema] = {
    "standing": {"type": "string", "enum": ["stay", "give_it_time", "time_to_move_on"]},
    "label": text("As members read it, e.g. GIVE IT TIME (estimated)."),
    "estimated": {"type": "boolean", "description": "Co-presence stood in for conversations."},
    "rule": text("The rule of SCORING.md §4 that decided it."),
    "reasons": {"type": "array", "items": {"type": "string"}},
    "numbers": {"type": "object", "description": "E, B, p, μ, q … behind the standing."},
    "attended": integer("Gatherings of the group attended.", minimum=1),
    "attendance_rate": {"type": "number", "minimum": 0, "maximum": 1},
    "changed_at": timestamp("When the standing last changed."),
    "model_version": integer("The scoring model that computed it."),
}

DELIVERY = obj(
    {
        "id": integer("Roomwise's delivery id."),
        "integration_id": integer("The integration whose webhook URL received it."),
        "platform": text("The integration's platform, e.g. `standard`."),
        "external_id": text("The platform's delivery id (`webhook-id` for `standard`)."),
        "event_type": text("The platform's event type(s), comma-separated."),
        "status": {
            "type": "string",
            "enum": [status.value for status in DeliveryStatus],
            "description": "received: waiting for a worker; processed: applied; ignored: an "
            "event type Roomwise does not handle; failed: see `reason`, then replay.",
        },
        "reason": nullable(text("Why the delivery was ignored or failed.")),
        "summary": nullable(
            {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "What processing recorded: events and applied for webhooks; "
                "rows, gatherings, people, check_ins and unchanged for imports.",
            }
        ),
        "attempts": integer("How many times a worker processed it.", minimum=0),
        "received_at": timestamp("When the webhook request was stored (UTC)."),
        "processed_at": optional_timestamp("When a worker finished with it (UTC)."),
    }
)

GROUP_RULE = obj(
    {
        "prefix": text("A gathering whose name starts with this (any case)…", minLength=1),
        "group": text("…belongs to the group with this name.", minLength=1),
    }
)

INTEGRATION_SETTINGS = obj(
    {
        "group_rules": {
            "type": "array",
            "items": ref("GroupRule"),
            "maxItems": 100,
            "description": "Name-prefix rules for gatherings the platform gives no series; "
            "the first match wins.",
        },
        "api_url": text("The platform's API base URL, for thin payloads and registration."),
        "organizer": text("pretix: the organizer slug."),
        "event": text("pretix or Eventbrite: the one event the webhook is limited to."),
        "organization": text("Eventbrite: the organization the webhook is registered under."),
        "webhook_registration": {
            "type": "object",
            "description": "What the platform answered when Roomwise registered the webhook.",
        },
    },
    optional=(
        "group_rules",
        "api_url",
        "organizer",
        "event",
        "organization",
        "webhook_registration",
    ),
)

INTEGRATION = obj(
    {
        "id": integer("Roomwise's integration id."),
        "platform": text("standard, pretix, eventbrite, tito, zoom, luma or csv."),
        "webhook_url": nullable(
            text("The URL to give the platform (it contains the secret key); null for imports.")
        ),
        "settings": ref("IntegrationSettings"),
        "has_credentials": {"type": "boolean", "description": "Platform API credentials set."},
        "credentials_invalid": {
            "type": "boolean",
            "description": "The platform's API refused the credentials (401/403); set new ones.",
        },
        "credentials_invalid_at": optional_timestamp("When the credentials were refused."),
        "last_error": nullable(text("The latest platform error, with its reason slug.")),
        "last_error_at": optional_timestamp("When that error happened."),
        "last_delivery_at": optional_timestamp("When the latest webhook arrived."),
        "deliveries": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 1},
            "description": "How many deliveries are in each status.",
        },
        "created_at": timestamp("When the platform was connected."),
    }
)

INTEGRATION_UPDATE = obj(
    {
        "group_rules": {"type": "array", "items": ref("GroupRule"), "maxItems": 100},
        "api_url": text("New API base URL.", minLength=1, maxLength=500),
        "organizer": text("New pretix organizer slug.", minLength=1, maxLength=500),
        "event": text("New event limit.", minLength=1, maxLength=500),
        "organization": text("New Eventbrite organization id.", minLength=1, maxLength=500),
        "api_token": text(
            "New API token; stored encrypted, never shown again; clears `credentials_invalid`.",
            minLength=1,
            maxLength=500,
        ),
    },
    optional=("group_rules", "api_url", "organizer", "event", "organization", "api_token"),
    additionalProperties=False,
)

IMPORT_ACCEPTED = obj(
    {
        "status": const("accepted"),
        "import": integer(
            "The import's delivery id: `GET /api/v1/deliveries/{id}` shows when it is "
            "processed, and its counts in `summary`."
        ),
        "rows": integer("How many rows the file has.", minimum=1),
    }
)

IMPORT_DUPLICATE = obj(
    {
        "status": const("duplicate"),
        "import": integer("The delivery id of the identical upload received before."),
    }
)

VENUE = obj(
    {
        "floor_area_m2": {"type": "number", "minimum": 1, "maximum": 100000},
        "ceiling_height_m": {"type": "number", "minimum": 1.5, "maximum": 50},
        "reverberation_s": {"type": "number", "minimum": 0.1, "maximum": 10},
        "venue_type": {"type": "string", "enum": ["treated", "bar", "hard", "hall"]},
    },
    optional=("floor_area_m2", "ceiling_height_m", "reverberation_s", "venue_type"),
    additionalProperties=False,
)

GROUP = obj(
    {
        "health": nullable(ref("GroupHealth")),
        "id": integer("Roomwise's group id."),
        "name": text("The group's name, from its platform or a rule."),
        "format": {"type": "string", "enum": ["business", "social"]},
        "structure": {
            "type": "string",
            "enum": ["open", "rotating_tables", "speed_1to1", "plenary"],
        },
        "gatherings": integer("How many gatherings the group has.", minimum=0),
        "settings": {"type": "object", "description": "The settings the organizer changed."},
        "effective_settings": {
            "type": "object",
            "description": "Every scoring setting in force: SCORING.md's defaults for this kind "
            "of group, with the organizer's changes.",
        },
        "attendee_recaps": {
            "type": "boolean",
            "description": "Whether every attendee gets a recap by email after each gathering.",
        },
    }
)

GROUP_UPDATE = {
    "type": "object",
    "description": "Any scoring setting of SCORING.md by name (format, structure, recurring, "
    "open_minutes, plenary_minutes, venue, pool_probability, target_rate, ramp_gatherings, …); "
    "and `attendee_recaps` (true or false: the recap every attendee gets after each gathering); "
    "`null` resets one to its default. An unknown name or a value out of range answers 400 "
    "naming the field. Changing only `attendee_recaps` rescores nothing.",
    "properties": {
        "format": {"type": ["string", "null"], "enum": ["business", "social", None]},
        "structure": {
            "type": ["string", "null"],
            "enum": ["open", "rotating_tables", "speed_1to1", "plenary", None],
        },
        "recurring": {"type": ["boolean", "null"]},
        "open_minutes": {"type": ["number", "null"], "minimum": 1, "maximum": 720},
        "plenary_minutes": {"type": ["number", "null"], "minimum": 10, "maximum": 600},
        "venue": {"oneOf": [ref("Venue"), {"type": "null"}]},
        "attendee_recaps": {"type": ["boolean", "null"]},
    },
}

GATHERING_UPDATE = obj(
    {
        "open_minutes": {"type": ["number", "null"], "minimum": 1, "maximum": 720},
        "plenary_minutes": {"type": ["number", "null"], "minimum": 10, "maximum": 600},
        "venue": {"oneOf": [ref("Venue"), {"type": "null"}]},
    },
    optional=("open_minutes", "plenary_minutes", "venue"),
    additionalProperties=False,
)

ROW_ERROR = obj(
    {
        "row": integer("The 1-based data row; 0 for the header or the file as a whole.", minimum=0),
        "field": text("The column the problem is in (empty for the whole row or file)."),
        "message": text("What is wrong, for people."),
    }
)

INVALID_ROWS = obj(
    {
        "status": const("error"),
        "reason": const("invalid_rows"),
        "detail": text("How many problems were found; nothing was imported."),
        "errors": {"type": "array", "items": ref("RowError"), "maxItems": 100},
        "error_count": integer(
            "How many problems in all (only the first 100 are listed).", minimum=1
        ),
    }
)

ERROR = obj(
    {
        "status": const("error"),
        "reason": text("A machine-readable slug, stable across releases."),
        "detail": text("A sentence for people; may change between releases."),
        "field": text("The request body's field at fault, when the error is about one."),
    },
    optional=("detail", "field"),
)

# --- component schemas: outbound webhooks (service/outbound.py) -----------------------------

EVENT_TYPES = [event.value for event in OutboundEventType]

ENDPOINT_FIELDS: dict[str, Schema] = {
    "id": integer("Roomwise's endpoint id."),
    "url": text("Where the webhooks are POSTed."),
    "events": {"type": "array", "items": {"type": "string", "enum": EVENT_TYPES}},
    "enabled": {"type": "boolean", "description": "False once the endpoint answered 410."},
    "disabled_reason": nullable(text("Why it was disabled.")),
    "created_at": timestamp("When it was registered."),
}

ENDPOINT_CREATE = obj(
    {
        "url": text(
            "An https URL whose host is a public address (http and private addresses only "
            "when the server sets OUTBOUND_ALLOW_PRIVATE).",
            minLength=1,
            maxLength=MAX_URL_LENGTH,
        ),
        "events": {
            "type": "array",
            "items": {"type": "string", "enum": EVENT_TYPES},
            "minItems": 1,
        },
    },
    additionalProperties=False,
)

OUTBOUND_ATTEMPT = obj(
    {
        "attempted_at": timestamp("When the request was sent."),
        "status_code": nullable(integer("The endpoint's HTTP status.")),
        "error": nullable(
            text(
                "Why it failed: `http_<status>`, `timeout`, `connection_failed` or an address "
                "refusal."
            )
        ),
        "duration_ms": integer("How long the attempt took.", minimum=0),
    }
)

OUTBOUND_MESSAGE = obj(
    {
        "id": integer("Roomwise's message id."),
        "endpoint_id": integer("The endpoint it is for."),
        "event_type": {"type": "string", "enum": EVENT_TYPES},
        "event_key": text("The event's identity: emitting it again creates nothing."),
        "webhook_id": text("The `webhook-id` header, the same on every attempt and replay."),
        "payload": ref("OutboundEnvelope"),
        "status": {
            "type": "string",
            "enum": [status.value for status in OutboundStatus],
            "description": "pending: waiting for `next_attempt_at`; delivered: a 2xx came "
            "back; failed: every retry failed (replay it); disabled: its endpoint was disabled.",
        },
        "attempts": integer("Attempts since it was created or last replayed.", minimum=0),
        "next_attempt_at": optional_timestamp("When it is due next (UTC)."),
        "last_status_code": nullable(integer("The latest attempt's HTTP status.")),
        "last_error": nullable(text("Why the latest attempt failed.")),
        "created_at": timestamp("When the event was emitted."),
        "delivered_at": optional_timestamp("When a 2xx came back."),
        "history": {"type": "array", "items": ref("OutboundAttempt")},
    }
)

OUTBOUND_ENVELOPE = obj(
    {
        "type": {"type": "string", "enum": EVENT_TYPES},
        "timestamp": timestamp("When the event happened."),
        "data": {"type": "object", "description": "The event's data (README: Outbound webhooks)."},
    }
)


def outbound_webhook(event_type: str, summary: str) -> Schema:
    """What Roomwise POSTs to an endpoint subscribed to `event_type` (OpenAPI 3.1 `webhooks`)."""
    return {
        "post": {
            "operationId": event_type,
            "summary": summary,
            "tags": ["endpoints"],
            "description": "Signed with Standard Webhooks headers (`webhook-id`, "
            "`webhook-timestamp`, `webhook-signature`) using the endpoint's secret.",
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": ref("OutboundEnvelope")}},
            },
            "responses": {
                "200": {"description": "Any 2xx: delivered."},
                "410": {"description": "Gone: Roomwise disables the endpoint."},
                "429": {"description": "Slow down: retried after `Retry-After` (also on 503)."},
            },
        }
    }


# --- component schemas: mail (service/mail/preferences.py, the mail ledger) -----------------

# `Suppression.reason`: the recipient's one-click unsubscribe, a permanent refusal by their mail
# server, or the organizer's own `POST /api/v1/suppressions`.
SUPPRESSION_REASONS = ["unsubscribed", "bounced", "manual"]
DIGEST_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"

MAIL_SETTINGS = obj(
    {
        "summary_recipients": {
            "type": "array",
            "items": text("An email address."),
            "description": f"Who gets gathering summaries and weekly digests (1 to "
            f"{MAX_RECIPIENTS}); by default the organizer's own address.",
        },
        "digest_weekday": {
            "type": "string",
            "enum": list(WEEKDAYS),
            "description": "The day the weekly digest goes out; monday by default.",
        },
        "digest_time": text(
            "When on that day, in `timezone` (24-hour HH:MM); 08:00 by default.",
            pattern=DIGEST_TIME_PATTERN,
        ),
        "summary_grace_minutes": integer(
            "How long after a gathering ends its summary goes out; 120 by default.",
            minimum=0,
            maximum=MAX_SUMMARY_GRACE_MINUTES,
        ),
        "timezone": text("The organizer's IANA time zone, e.g. Europe/Berlin; UTC by default."),
    }
)

MAIL_SETTINGS_UPDATE = obj(
    {
        "summary_recipients": {
            "type": ["array", "null"],
            "items": {"type": "string", "format": "email"},
            "minItems": 1,
            "maxItems": MAX_RECIPIENTS,
        },
        "digest_weekday": {"type": ["string", "null"], "enum": [*WEEKDAYS, None]},
        "digest_time": {"type": ["string", "null"], "pattern": DIGEST_TIME_PATTERN},
        "summary_grace_minutes": {
            "type": ["integer", "null"],
            "minimum": 0,
            "maximum": MAX_SUMMARY_GRACE_MINUTES,
        },
        "timezone": {"type": ["string", "null"], "description": "An IANA time zone name."},
    },
    optional=(
        "summary_recipients",
        "digest_weekday",
        "digest_time",
        "summary_grace_minutes",
        "timezone",
    ),
    description="Only the settings to change; `null` resets one to its default. A value that is "
    "not valid answers 400 with `field` naming it, and nothing is changed.",
)

SUPPRESSION = obj(
    {
        "email": text("The address, trimmed and lower-cased."),
        "reason": {
            "type": "string",
            "enum": SUPPRESSION_REASONS,
            "description": "unsubscribed: the recipient clicked unsubscribe; bounced: their mail "
            "server refused the address for good; manual: added through the API.",
        },
        "detail": nullable(text("The mail server's answer, or the organizer's note.")),
        "created_at": timestamp("Since when no mail goes to it."),
    }
)

SUPPRESSION_CREATE = obj(
    {
        "email": text("The address; matched trimmed and in any case.", minLength=3, maxLength=320),
        "detail": text("A note for later, e.g. why.", maxLength=1000),
    },
    optional=("detail",),
)

MAIL_MESSAGE = obj(
    {
        "id": integer("Roomwise's message id."),
        "kind": {"type": "string", "enum": [kind.value for kind in MailKind]},
        "recipient": text("The address it goes to."),
        "subject_key": text("What it is about: `gathering:<id>` or `week:<YYYY-MM-DD>`."),
        "status": {
            "type": "string",
            "enum": [status.value for status in MailStatus],
            "description": "pending: waiting for `due_at`; claimed, sending: being sent; sent; "
            "suppressed: the server refused the address for good; skipped: nothing to send any "
            "more (opted out, recaps switched off, subject gone); failed: temporary refusals "
            "until the retries ran out; uncertain: its worker stopped while sending it, so it "
            "may or may not have arrived. Failed and uncertain ones can be resent.",
        },
        "attempts": integer("Attempts since it was planned or last resent.", minimum=0),
        "last_error": nullable(text("The mail server's latest refusal, or why it was skipped.")),
        "due_at": timestamp("When it is, or was, due (UTC)."),
        "sent_at": optional_timestamp("When the mail server accepted it."),
        "created_at": timestamp("When it was planned."),
    }
)

# --- component schemas: connections and outcomes (service/connections.py) -------------------

CONNECTION_SOURCES = [source.value for source in ConnectionSource]
OUTCOME_KINDS = [kind.value for kind in OutcomeKind]
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"
CONFIRMATION = (
    "Confirmed when both people reported it, or when a trusted source did: "
    + ", ".join(f"`{source}`" for source in sorted(TRUSTED_SOURCES))
    + ". A `mutual_tap` is a report by both sides; `recap_answer` and `platform` are one "
    "person's word and wait for the other side's."
)

PERSON_REF = {
    "oneOf": [
        {"type": "integer", "description": "A person id."},
        {
            "type": "string",
            "format": "email",
            "pattern": "@",
            "description": "An email address, matched trimmed and in any case.",
        },
    ],
    "description": "One of the organizer's people, by id or by email address.",
}

CONNECTION = obj(
    {
        "id": integer("Roomwise's connection id."),
        "gathering": integer("The gathering where they met."),
        "people": {
            "type": "array",
            "items": ref("Person"),
            "description": "The two people, lower id first (a pair is stored once).",
        },
        "source": {
            "type": "string",
            "enum": CONNECTION_SOURCES,
            "description": "The most trusted source that reported it.",
        },
        "reported_by": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "The ids of the people who reported it themselves.",
        },
        "confirmed": {"type": "boolean", "description": CONFIRMATION},
        "both_checked_in": {
            "type": "boolean",
            "description": "Whether both people are checked in to the gathering. A connection "
            "counts when it is confirmed and both are: one sent by webhook before the check-ins "
            "it names is kept and starts counting when they arrive.",
        },
        "created_at": timestamp("When it was first reported (UTC)."),
        "followed_up_at": optional_timestamp("When the two followed up after the gathering."),
    }
)

CONNECTION_CREATE = obj(
    {
        "gathering": integer("The gathering; both people must have checked in to it."),
        "people": {
            "type": "array",
            "items": ref("PersonRef"),
            "minItems": 2,
            "maxItems": 2,
            "description": "The two people, in any order.",
        },
        "source": {
            "type": "string",
            "enum": CONNECTION_SOURCES,
            "default": ConnectionSource.API.value,
            "description": "How the connection became known. " + CONFIRMATION,
        },
        "reported_by": ref("PersonRef"),
    },
    optional=("source", "reported_by"),
    description="`reported_by`, one of the two, is the side that reported it; the same report "
    "from the other side confirms it.",
)

OUTCOME = obj(
    {
        "id": integer("Roomwise's outcome id."),
        "person": ref("Person"),
        "group": integer("The group it came through."),
        "gathering": nullable(integer("The gathering it came from, if known.")),
        "counterpart": nullable(ref("Person")),
        "kind": {"type": "string", "enum": OUTCOME_KINDS},
        "value": nullable(
            text("The value as a decimal string with two decimals.", pattern=AMOUNT_PATTERN)
        ),
        "source": {"type": "string", "enum": [source.value for source in OutcomeSource]},
        "key": nullable(text("The reporter's idempotency key.")),
        "reported_at": timestamp("When it was reported (UTC)."),
    }
)


def amount(description: str) -> Schema:
    return {
        "oneOf": [
            {"type": "number", "minimum": 0, "exclusiveMaximum": int(MAX_AMOUNT)},
            {"type": "string", "pattern": AMOUNT_PATTERN},
        ],
        "description": description + " A number or a decimal string, to the cent.",
    }


OUTCOME_CREATE = obj(
    {
        "person": ref("PersonRef"),
        "group": integer("The group it came through."),
        "gathering": integer("The gathering it came from; must be one of the group's."),
        "counterpart": ref("PersonRef"),
        "kind": {"type": "string", "enum": OUTCOME_KINDS},
        "value": amount("What it is worth, in the organizer's currency."),
        "key": text(
            "Your idempotency key: a report with a key used before answers 200 with the "
            "outcome first stored, so a retry is never counted twice.",
            minLength=1,
            maxLength=MAX_ID_LENGTH,
        ),
    },
    optional=("gathering", "counterpart", "value", "key"),
)

# --- component schemas: webhook bodies and answers -----------------------------------------


def bounded_text(description: str, required: bool = False) -> Schema:
    return text(description, maxLength=MAX_TEXT_LENGTH, minLength=1 if required else 0)


def platform_id(description: str) -> Schema:
    return {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
            {"type": "integer"},
        ],
        "description": description + " Integers are read as their decimal string.",
    }


STANDARD_GROUP = obj(
    {
        "id": platform_id("Your id for the recurring group."),
        "name": bounded_text("The group's name.", required=True),
    }
)

STANDARD_GATHERING = obj(
    {
        "id": platform_id("Your id for this occurrence; the same on every event about it."),
        "name": bounded_text("The gathering's name.", required=True),
        "starts_at": timestamp("ISO-8601; without an offset it is taken as UTC."),
        "ends_at": timestamp("ISO-8601; without an offset it is taken as UTC."),
        "group": ref("StandardGroup"),
    },
    optional=("starts_at", "ends_at", "group"),
)

STANDARD_ATTENDEE = obj(
    {
        "id": platform_id("Your id for the person."),
        "email": {
            "type": "string",
            "format": "email",
            "maxLength": 320,
            "description": "Matched case-insensitively to merge the person across platforms.",
        },
        "name": bounded_text("The person's name."),
        "company": bounded_text("The person's company."),
    },
    optional=("email", "name", "company"),
)

STANDARD_DATA = obj(
    {
        "gathering": ref("StandardGathering"),
        "attendee": ref("StandardAttendee"),
        "occurred_at": timestamp("When it happened; defaults to the top-level `timestamp`."),
    },
    optional=("occurred_at",),
)

STANDARD_CONNECTION_DATA = obj(
    {
        "gathering": ref("StandardGathering"),
        "attendee": ref("StandardAttendee"),
        "counterpart": ref("StandardAttendee"),
        "source": {
            "type": "string",
            "enum": CONNECTION_SOURCES,
            "default": ConnectionSource.PLATFORM.value,
            "description": "How they met. " + CONFIRMATION,
        },
        "occurred_at": timestamp("When it happened; defaults to the top-level `timestamp`."),
    },
    optional=("source", "occurred_at"),
    description="`connection.created`: the attendee reports having connected with the "
    "counterpart. It is kept even when their check-ins have not arrived yet, and counts once "
    "both are checked in.",
)

STANDARD_OUTCOME_DATA = obj(
    {
        "group": ref("StandardGroup"),
        "gathering": ref("StandardGathering"),
        "attendee": ref("StandardAttendee"),
        "counterpart": ref("StandardAttendee"),
        "kind": {"type": "string", "enum": OUTCOME_KINDS},
        "value": amount("What it is worth."),
        "occurred_at": timestamp("When it happened; defaults to the top-level `timestamp`."),
    },
    optional=("gathering", "counterpart", "value", "occurred_at"),
    description="`outcome.reported`: the attendee received a lead, referral or closed "
    "business through the group, from the counterpart if given. A gathering's own group, if "
    "it names one, must be this group.",
)

STANDARD_PAYLOAD = obj(
    {
        "type": text(
            "The event type. Handled: "
            + ", ".join(f"`{name}`" for name in KIND_BY_TYPE)
            + ". Any other type is stored and answered with 200 `ignored`.",
            minLength=1,
            examples=list(KIND_BY_TYPE),
        ),
        "timestamp": timestamp("When the event happened or was sent (ISO-8601)."),
        "data": {
            "oneOf": [
                ref("StandardData"),
                ref("StandardConnectionData"),
                ref("StandardOutcomeData"),
            ],
            "description": "Check-ins and registrations (`attendee.*`), connections or "
            "outcomes, by `type`.",
        },
    },
    description="Roomwise's `standard` webhook format. Every text field is at most "
    f"{MAX_TEXT_LENGTH} characters, ids at most {MAX_ID_LENGTH}; neither may contain NUL or "
    "an unpaired surrogate escape such as `\\ud800`.",
)

WEBHOOK_ACCEPTED = obj(
    {
        "status": const("accepted"),
        "delivery": integer("The stored delivery's id; see `GET /api/v1/deliveries/{id}`."),
    }
)
WEBHOOK_DUPLICATE = obj(
    {"status": const("duplicate", "This webhook-id was already received; nothing changed.")}
)
WEBHOOK_IGNORED = obj(
    {
        "status": const("ignored"),
        "delivery": integer("The stored delivery's id."),
        "reason": const("ignored"),
        "detail": text("Which event type is not handled."),
    }
)

HEALTH = obj({"status": const("ok")})
READINESS = obj(
    {
        "status": {"type": "string", "enum": ["ready", "not_ready"]},
        "checks": obj(
            {
                "database": text("`ok`, or `error: <ExceptionName>`."),
                "broker": text("`ok`, or `error: <ExceptionName>`."),
            }
        ),
        "reason": const("not_ready", "Present only when not ready."),
    },
    optional=("reason",),
)

# --- paths ---------------------------------------------------------------------------------

RECEIVE_WEBHOOK = operation(
    "receive_webhook",
    "Receive a platform webhook",
    "webhooks",
    {
        "202": json_response("Stored and queued for processing.", ref("WebhookAccepted")),
        "200": json_response(
            "Already received (`duplicate`), or stored but of a type Roomwise does not handle "
            "(`ignored`). Either way, do not retry.",
            {"oneOf": [ref("WebhookDuplicate"), ref("WebhookIgnored")]},
        ),
        "400": error_response(
            "Authentic, but the body is not valid JSON or not in the platform's format; "
            "`detail` names the field. Retrying the same body will not help.",
            "malformed_json",
            "malformed_payload",
        ),
        "401": error_response(
            "Not provably from the platform: missing headers, no matching signature, or a "
            "timestamp outside the tolerance.",
            "missing_signature",
            "bad_signature",
            "bad_timestamp",
            "stale_timestamp",
            "future_timestamp",
        ),
        "404": error_response("No integration has this platform and key.", "unknown_integration"),
        "413": error_response("The body is over WEBHOOK_MAX_BYTES.", "payload_too_large"),
        "503": error_response(
            "The delivery could not be stored right now; retry after `Retry-After` seconds.",
            "storage_unavailable",
            headers={
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
            },
        ),
    },
    authenticated=False,
    parameters=[
        parameter(
            "path", "platform", {"type": "string"}, "The platform, e.g. `standard`.", required=True
        ),
        parameter(
            "path", "key", {"type": "string"}, "The integration's secret URL key.", required=True
        ),
        header(
            signatures.ID_HEADER,
            "The delivery id: the same on every retry of one event, so retries are duplicates.",
            pattern=r"^[^.]+$",
        ),
        header(
            signatures.TIMESTAMP_HEADER,
            "Unix seconds when signed; must be within WEBHOOK_TOLERANCE_SECONDS (300) of now.",
            pattern=r"^[0-9]+$",
        ),
        header(
            signatures.SIGNATURE_HEADER,
            "Space-separated `v1,<base64 HMAC-SHA256>` signatures of "
            "`{webhook-id}.{webhook-timestamp}.{body}`; one valid signature is enough.",
        ),
    ],
    description="Verifies the Standard Webhooks signature, stores the request, queues it for "
    "processing and answers. A 2xx means the delivery is stored: retrying it is safe and "
    "answers `duplicate`. The body may be at most WEBHOOK_MAX_BYTES (1 MiB by default). The URL "
    "(with its secret `key`) and the `whsec_` signing secret come from "
    "`flask --app service add-integration`.",
    requestBody={"required": True, "content": {JSON: {"schema": ref("StandardPayload")}}},
)

REPORT_400 = error_response(
    "Not a JSON object, an unknown field, or a value that is not valid; `field` names it.",
    "malformed_json",
    "invalid_parameter",
)
TOO_LARGE = error_response("The body is over WEBHOOK_MAX_BYTES.", "payload_too_large")
REPORT_404 = error_response(
    "An id or email in the body names nothing of the token's organizer (another "
    "organizer's answers exactly the same); `field` names it.",
    "not_found",
)

PATHS: dict[str, Schema] = {
    "/hooks/{platform}/{key}": {"post": RECEIVE_WEBHOOK},
    "/healthz": {
        "get": operation(
            "healthz",
            "Liveness: the process serves requests",
            "health",
            {"200": json_response("The process is up.", ref("Health"))},
            authenticated=False,
        )
    },
    "/readyz": {
        "get": operation(
            "readyz",
            "Readiness: the database and the broker answer",
            "health",
            {
                "200": json_response("Deliveries can be stored and queued.", ref("Readiness")),
                "503": json_response(
                    "The database or the broker does not answer.", ref("Readiness")
                ),
            },
            authenticated=False,
        )
    },
    "/api/v1/openapi.json": {
        "get": operation(
            "openapi",
            "This description",
            "meta",
            {"200": json_response("The OpenAPI 3.1 document.", {"type": "object"})},
            authenticated=False,
        )
    },
    "/api/v1/gatherings": {
        "get": operation(
            "list_gatherings",
            "List gatherings, newest first",
            "gatherings",
            {
                "200": json_response("A page of gatherings.", ref("GatheringPage")),
                "400": INVALID_PARAMETER,
            },
            parameters=[
                *PAGE_PARAMETERS,
                parameter(
                    "query", "group_id", {"type": "integer"}, "Only this group's gatherings."
                ),
            ],
        )
    },
    "/api/v1/gatherings/{gathering_id}": {
        "patch": operation(
            "update_gathering",
            "Override the room or timing for one gathering",
            "gatherings",
            {
                "200": json_response("The gathering as saved.", ref("GatheringDetail")),
                "400": error_response(
                    "Not a JSON object, or a setting that is unknown or out of range (the "
                    "detail names it).",
                    "malformed_json",
                    "invalid_parameter",
                ),
                "404": not_found("gathering"),
            },
            parameters=[path_id("gathering_id", "gathering")],
            requestBody={
                "required": True,
                "content": {JSON: {"schema": ref("GatheringUpdate")}},
            },
        ),
        "get": operation(
            "show_gathering",
            "One gathering with its attendance",
            "gatherings",
            {
                "200": json_response("The gathering.", ref("GatheringDetail")),
                "404": not_found("gathering"),
            },
            parameters=[path_id("gathering_id", "gathering")],
        ),
    },
    "/api/v1/deliveries": {
        "get": operation(
            "list_deliveries",
            "List webhook deliveries, newest first",
            "deliveries",
            {
                "200": json_response("A page of deliveries.", ref("DeliveryPage")),
                "400": INVALID_PARAMETER,
            },
            parameters=[
                *PAGE_PARAMETERS,
                parameter(
                    "query",
                    "status",
                    {"type": "string", "enum": [status.value for status in DeliveryStatus]},
                    "Only deliveries in this status.",
                ),
                parameter(
                    "query",
                    "integration_id",
                    {"type": "integer"},
                    "Only deliveries to this integration's webhook URL.",
                ),
            ],
        )
    },
    "/api/v1/deliveries/{delivery_id}": {
        "get": operation(
            "show_delivery",
            "One webhook delivery",
            "deliveries",
            {"200": json_response("The delivery.", ref("Delivery")), "404": not_found("delivery")},
            parameters=[path_id("delivery_id", "delivery")],
        )
    },
    "/api/v1/deliveries/{delivery_id}/replay": {
        "post": operation(
            "replay_delivery",
            "Process a stored delivery again",
            "deliveries",
            {
                "202": json_response(
                    "Put back in the inbox (status `received`) and queued.", ref("Delivery")
                ),
                "404": not_found("delivery"),
            },
            parameters=[path_id("delivery_id", "delivery")],
            description="For a failed delivery after a fix, or any delivery: applying events "
            "is idempotent, so a replay never counts anything twice.",
        )
    },
    "/api/v1/imports": {
        "post": operation(
            "create_import",
            "Import attendance from a CSV file",
            "imports",
            {
                "202": json_response("Checked, stored and queued.", ref("ImportAccepted")),
                "200": json_response("This exact upload came before.", ref("ImportDuplicate")),
                "400": {
                    "description": "Rows that cannot be imported (every problem listed; nothing "
                    "imported), or no CSV file in the request.",
                    "content": {
                        JSON: {
                            "schema": {
                                "oneOf": [
                                    ref("InvalidRows"),
                                    {
                                        "allOf": [
                                            ref("Error"),
                                            {
                                                "properties": {
                                                    "reason": {
                                                        "enum": ["empty_body", "wrong_content_type"]
                                                    }
                                                }
                                            },
                                        ]
                                    },
                                ]
                            }
                        }
                    },
                },
                "413": error_response("The file is over 1 MiB.", "payload_too_large"),
            },
            parameters=[
                parameter(
                    "query",
                    name,
                    {"type": "string"},
                    f"A `{name}` for every row whose file has no such column or leaves it empty.",
                )
                for name in ("gathering", "date", "group")
            ],
            requestBody={
                "required": True,
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "multipart/form-data": {
                        "schema": obj(
                            {
                                "file": {"type": "string", "format": "binary"},
                                "gathering": text("As the query parameter."),
                                "date": text("As the query parameter."),
                                "group": text("As the query parameter."),
                            },
                            optional=("gathering", "date", "group"),
                        )
                    },
                },
            },
            description="Columns (any case): gathering, date (required), name, email, "
            "checked_in, attendee_id, group, company, checked_in_at, checked_out_at; common "
            "aliases such as Meetup's attendee export headers are understood. The whole file is "
            "checked before anything is stored; a worker then records it in one transaction.",
        )
    },
    "/api/v1/groups": {
        "get": operation(
            "list_groups",
            "Groups and their scoring settings",
            "groups",
            {
                "200": json_response(
                    "Every group of the organizer.",
                    obj({"groups": {"type": "array", "items": ref("Group")}}),
                )
            },
        )
    },
    "/api/v1/groups/{group_id}": {
        "get": operation(
            "show_group",
            "One group and its scoring settings",
            "groups",
            {"200": json_response("The group.", ref("Group")), "404": not_found("group")},
            parameters=[path_id("group_id", "group")],
        ),
        "patch": operation(
            "update_group",
            "Change a group's scoring settings, or switch its attendee recaps",
            "groups",
            {
                "200": json_response("The group as saved.", ref("Group")),
                "400": error_response(
                    "Not a JSON object, or a setting that is unknown or out of range (`field` "
                    "names it).",
                    "malformed_json",
                    "invalid_parameter",
                ),
                "404": not_found("group"),
            },
            parameters=[path_id("group_id", "group")],
            requestBody={"required": True, "content": {JSON: {"schema": ref("GroupUpdate")}}},
        ),
    },
    "/api/v1/connections": {
        "get": operation(
            "list_connections",
            "List connections, newest first",
            "connections",
            {
                "200": json_response("A page of connections.", ref("ConnectionPage")),
                "400": INVALID_PARAMETER,
                "404": not_found("gathering"),
            },
            parameters=[
                *PAGE_PARAMETERS,
                parameter(
                    "query", "gathering", {"type": "integer"}, "Only this gathering's connections."
                ),
            ],
        ),
        "post": operation(
            "create_connection",
            "Record that two people connected at a gathering",
            "connections",
            {
                "201": json_response("Recorded.", ref("Connection")),
                "200": json_response(
                    "Already recorded: this report was added to it, and may have confirmed it.",
                    ref("Connection"),
                ),
                "400": REPORT_400,
                "404": REPORT_404,
            },
            requestBody={"required": True, "content": {JSON: {"schema": ref("ConnectionCreate")}}},
            description="Idempotent, and the order of the two people is irrelevant. Both must "
            "have checked in to the gathering, and they must be two different people.",
        ),
    },
    "/api/v1/outcomes": {
        "get": operation(
            "list_outcomes",
            "List outcomes, most recently reported first",
            "outcomes",
            {
                "200": json_response("A page of outcomes.", ref("OutcomePage")),
                "400": INVALID_PARAMETER,
                "404": not_found("group or person"),
            },
            parameters=[
                *PAGE_PARAMETERS,
                parameter("query", "group", {"type": "integer"}, "Only this group's outcomes."),
                parameter(
                    "query", "person", {"type": "integer"}, "Only outcomes this person received."
                ),
            ],
        ),
        "post": operation(
            "create_outcome",
            "Record a lead, referral or closed business",
            "outcomes",
            {
                "201": json_response("Recorded.", ref("Outcome")),
                "200": json_response(
                    "This `key` was used before: the outcome first stored, unchanged.",
                    ref("Outcome"),
                ),
                "400": REPORT_400,
                "404": REPORT_404,
            },
            requestBody={"required": True, "content": {JSON: {"schema": ref("OutcomeCreate")}}},
        ),
    },
    "/api/v1/groups/{group_id}/members": {
        "get": operation(
            "list_members",
            "A group's members and whether the group is paying off for each",
            "groups",
            {
                "200": json_response(
                    "Every member with a standing (computed after their first gathering).",
                    obj(
                        {
                            "group": ref("GroupSummary"),
                            "members": {"type": "array", "items": ref("Member")},
                        }
                    ),
                ),
                "404": not_found("group"),
            },
            parameters=[path_id("group_id", "group")],
        )
    },
    "/api/v1/people/{person_id}": {
        "get": operation(
            "show_person",
            "A person and their standing in every group",
            "people",
            {
                "200": json_response("The person.", ref("PersonDetail")),
                "404": not_found("person"),
            },
            parameters=[path_id("person_id", "person")],
        )
    },
    "/api/v1/integrations": {
        "get": operation(
            "list_integrations",
            "Connected platforms and their status",
            "integrations",
            {
                "200": json_response(
                    "Every integration of the organizer.",
                    obj({"integrations": {"type": "array", "items": ref("Integration")}}),
                )
            },
        )
    },
    "/api/v1/endpoints": {
        "post": operation(
            "create_endpoint",
            "Register a URL to receive signed webhooks",
            "endpoints",
            {
                "201": json_response(
                    "Registered; `secret` (`whsec_…`) verifies its webhooks and is never shown "
                    "again.",
                    ref("EndpointCreated"),
                ),
                "400": error_response(
                    "Not a JSON object, an unknown field, a URL that is not http(s) (https unless "
                    "private addresses are allowed) or does not resolve, an unknown event type "
                    "(`field` names it), or a host that is not a public address.",
                    "malformed_json",
                    "invalid_parameter",
                    "forbidden_address",
                ),
            },
            requestBody={"required": True, "content": {JSON: {"schema": ref("EndpointCreate")}}},
        ),
        "get": operation(
            "list_endpoints",
            "The organizer's webhook endpoints",
            "endpoints",
            {
                "200": json_response(
                    "Every endpoint, oldest first.",
                    obj({"endpoints": {"type": "array", "items": ref("Endpoint")}}),
                )
            },
        ),
    },
    "/api/v1/endpoints/{endpoint_id}": {
        "get": operation(
            "show_endpoint",
            "One webhook endpoint",
            "endpoints",
            {"200": json_response("The endpoint.", ref("Endpoint")), "404": not_found("endpoint")},
            parameters=[path_id("endpoint_id", "endpoint")],
        ),
        "delete": operation(
            "delete_endpoint",
            "Remove a webhook endpoint and its message log",
            "endpoints",
            {
                "200": json_response(
                    "Removed; nothing more is sent to it.",
                    obj({"status": const("deleted"), "id": integer("The endpoint's id.")}),
                ),
                "404": not_found("endpoint"),
            },
            parameters=[path_id("endpoint_id", "endpoint")],
        ),
    },
    "/api/v1/endpoints/{endpoint_id}/enable": {
        "post": operation(
            "enable_endpoint",
            "Send to a disabled endpoint again",
            "endpoints",
            {
                "200": json_response(
                    "Enabled (already enabled: unchanged). Messages disabled meanwhile stay so; "
                    "replay any of them.",
                    ref("Endpoint"),
                ),
                "400": error_response(
                    "Its host no longer resolves, or now resolves to an address that is not "
                    "public.",
                    "invalid_parameter",
                    "forbidden_address",
                ),
                "404": not_found("endpoint"),
            },
            parameters=[path_id("endpoint_id", "endpoint")],
        ),
    },
    "/api/v1/endpoints/{endpoint_id}/messages": {
        "get": operation(
            "list_endpoint_messages",
            "The webhooks sent to an endpoint, newest first, with every attempt",
            "endpoints",
            {
                "200": json_response("A page of messages.", ref("OutboundMessagePage")),
                "400": INVALID_PARAMETER,
                "404": not_found("endpoint"),
            },
            parameters=[path_id("endpoint_id", "endpoint"), *PAGE_PARAMETERS],
        )
    },
    "/api/v1/messages/{message_id}/replay": {
        "post": operation(
            "replay_message",
            "Send a webhook again",
            "endpoints",
            {
                "202": json_response(
                    "Queued now, with the same `webhook-id` and a fresh retry schedule.",
                    ref("OutboundMessage"),
                ),
                "404": not_found("message"),
                "409": error_response(
                    "The message's endpoint is disabled; register the URL again.", "conflict"
                ),
            },
            parameters=[path_id("message_id", "message")],
        )
    },
    "/api/v1/settings/mail": {
        "get": operation(
            "show_mail_settings",
            "The organizer's mail settings",
            "mail",
            {
                "200": json_response(
                    "Every setting in force, defaults included.", ref("MailSettings")
                )
            },
        ),
        "patch": operation(
            "update_mail_settings",
            "Change who gets summaries and digests, and when",
            "mail",
            {
                "200": json_response(
                    "Every setting in force after the change.", ref("MailSettings")
                ),
                "400": error_response(
                    "Not a JSON object, or an unknown setting or a value that is not valid "
                    "(`field` names it).",
                    "malformed_json",
                    "invalid_parameter",
                ),
                "413": TOO_LARGE,
            },
            requestBody={
                "required": True,
                "content": {JSON: {"schema": ref("MailSettingsUpdate")}},
            },
        ),
    },
    "/api/v1/suppressions": {
        "get": operation(
            "list_suppressions",
            "Addresses the organizer's mail no longer goes to, most recent first",
            "mail",
            {
                "200": json_response("A page of suppressions.", ref("SuppressionPage")),
                "400": INVALID_PARAMETER,
            },
            parameters=PAGE_PARAMETERS,
        ),
        "post": operation(
            "create_suppression",
            "Stop all of the organizer's mail to an address",
            "mail",
            {
                "201": json_response("Suppressed, with reason `manual`.", ref("Suppression")),
                "200": json_response(
                    "Already suppressed: the suppression as it was (its reason kept).",
                    ref("Suppression"),
                ),
                "400": REPORT_400,
                "413": TOO_LARGE,
            },
            requestBody={
                "required": True,
                "content": {JSON: {"schema": ref("SuppressionCreate")}},
            },
        ),
    },
    "/api/v1/suppressions/{email}": {
        "delete": operation(
            "delete_suppression",
            "Let the organizer's mail reach an address again",
            "mail",
            {
                "204": {"description": "Removed; mail planned from now on reaches the address."},
                "404": error_response(
                    "The address is not suppressed for the token's organizer.", "not_found"
                ),
            },
            parameters=[
                parameter(
                    "path",
                    "email",
                    {"type": "string"},
                    "The address, in any case.",
                    required=True,
                )
            ],
        )
    },
    "/api/v1/mail": {
        "get": operation(
            "list_mail",
            "The mail ledger: every message planned, sent or given up, newest first",
            "mail",
            {
                "200": json_response("A page of messages.", ref("MailMessagePage")),
                "400": error_response(
                    "A paging parameter, `status` or `kind` is not valid.", "invalid_parameter"
                ),
            },
            parameters=[
                *PAGE_PARAMETERS,
                parameter(
                    "query",
                    "status",
                    {"type": "string", "enum": [status.value for status in MailStatus]},
                    "Only messages in this status.",
                ),
                parameter(
                    "query",
                    "kind",
                    {"type": "string", "enum": [kind.value for kind in MailKind]},
                    "Only messages of this kind.",
                ),
            ],
        )
    },
    "/api/v1/mail/{message_id}/resend": {
        "post": operation(
            "resend_mail",
            "Send a failed or uncertain message again",
            "mail",
            {
                "202": json_response(
                    "Pending again, due now, with a fresh retry schedule and the same "
                    "`Message-ID`.",
                    ref("MailMessage"),
                ),
                "404": not_found("message"),
                "409": error_response(
                    "The message is not `failed` or `uncertain`: one that was sent, or may still "
                    "be sent, is never sent twice by accident.",
                    "conflict",
                ),
            },
            parameters=[path_id("message_id", "message")],
            description="An `uncertain` message may have arrived before its worker stopped: "
            "resend it only when the recipient did not get it. Suppressions and opt-outs are "
            "read again before it goes out.",
        )
    },
    "/api/v1/integrations/{integration_id}": {
        "get": operation(
            "show_integration",
            "One connected platform and its status",
            "integrations",
            {
                "200": json_response("The integration.", ref("Integration")),
                "404": not_found("integration"),
            },
            parameters=[path_id("integration_id", "integration")],
        ),
        "patch": operation(
            "update_integration",
            "Change group rules, API settings or credentials",
            "integrations",
            {
                "200": json_response("The integration as saved.", ref("Integration")),
                "400": error_response(
                    "Not a JSON object, an unknown field, or a value that is not valid "
                    "(the detail names the field).",
                    "malformed_json",
                    "invalid_parameter",
                ),
                "404": not_found("integration"),
            },
            parameters=[path_id("integration_id", "integration")],
            requestBody={
                "required": True,
                "content": {JSON: {"schema": ref("IntegrationUpdate")}},
            },
        ),
    },
}

OPENAPI_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Roomwise API",
        "version": "1",
        "description": "Webhook ingest from check-in platforms, and a read API over the "
        "gatherings and deliveries of the organizer that owns the bearer token. Every error "
        "is a JSON `Error` whose `reason` is a stable slug.",
    },
    "tags": [
        {"name": "webhooks", "description": "Signed platform webhooks."},
        {"name": "gatherings", "description": "Gatherings and who attended."},
        {"name": "deliveries", "description": "The webhook inbox, for debugging and replay."},
        {"name": "integrations", "description": "Connected platforms, their status and rules."},
        {"name": "imports", "description": "Attendance from CSV files."},
        {"name": "groups", "description": "Recurring groups, their health and settings."},
        {"name": "people", "description": "People and their standing in each group."},
        {"name": "connections", "description": "Who connected with whom at a gathering."},
        {"name": "outcomes", "description": "Leads, referrals and closed business."},
        {"name": "endpoints", "description": "Signed webhooks to the organizer's own tools."},
        {"name": "mail", "description": "Mail settings, suppressions and the mail ledger."},
        {"name": "health", "description": "Probes for load balancers and orchestrators."},
        {"name": "meta", "description": "This document."},
    ],
    "paths": PATHS,
    "webhooks": {
        event: outbound_webhook(event, summary)
        for event, summary in [
            ("gathering.summary", "A gathering's summary, after it ends"),
            ("group.digest", "A group's periodic digest"),
            ("member.standing_changed", "A member's standing in a group changed"),
        ]
    },
    "components": {
        "securitySchemes": {
            BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "An organizer's API token (`rw_…`), printed once by "
                "`flask --app service create-organizer`.",
            }
        },
        "schemas": {
            "Error": ERROR,
            "GroupSummary": GROUP_SUMMARY,
            "Gathering": obj(GATHERING_FIELDS),
            "GatheringDetail": obj(
                {
                    **GATHERING_FIELDS,
                    "score": nullable(ref("Score")),
                    "live": ref("Live"),
                    "attendance": {"type": "array", "items": ref("Attendance")},
                }
            ),
            "Factor": FACTOR,
            "Action": ACTION,
            "Score": SCORE,
            "Live": LIVE,
            "AttendeeFigures": ATTENDEE_FIGURES,
            "GroupHealth": GROUP_HEALTH,
            "Member": obj({"person": ref("Person"), **STANDING_FIELDS}),
            "GroupStanding": obj({"group": ref("GroupSummary"), **STANDING_FIELDS}),
            "PersonDetail": obj(
                {
                    **PERSON["properties"],
                    "groups": {"type": "array", "items": ref("GroupStanding")},
                }
            ),
            "GatheringPage": page("gatherings", "Gathering"),
            "Person": PERSON,
            "Attendance": ATTENDANCE,
            "Delivery": DELIVERY,
            "GroupRule": GROUP_RULE,
            "Venue": VENUE,
            "Group": GROUP,
            "GroupUpdate": GROUP_UPDATE,
            "GatheringUpdate": GATHERING_UPDATE,
            "ImportAccepted": IMPORT_ACCEPTED,
            "ImportDuplicate": IMPORT_DUPLICATE,
            "RowError": ROW_ERROR,
            "InvalidRows": INVALID_ROWS,
            "IntegrationSettings": INTEGRATION_SETTINGS,
            "Integration": INTEGRATION,
            "IntegrationUpdate": INTEGRATION_UPDATE,
            "DeliveryPage": page("deliveries", "Delivery"),
            "PersonRef": PERSON_REF,
            "Connection": CONNECTION,
            "ConnectionCreate": CONNECTION_CREATE,
            "ConnectionPage": page("connections", "Connection"),
            "Outcome": OUTCOME,
            "OutcomeCreate": OUTCOME_CREATE,
            "OutcomePage": page("outcomes", "Outcome"),
            "Endpoint": obj(ENDPOINT_FIELDS),
            "EndpointCreated": obj(
                {**ENDPOINT_FIELDS, "secret": text("The signing secret.", pattern="^whsec_")}
            ),
            "EndpointCreate": ENDPOINT_CREATE,
            "OutboundAttempt": OUTBOUND_ATTEMPT,
            "OutboundMessage": OUTBOUND_MESSAGE,
            "OutboundMessagePage": page("messages", "OutboundMessage"),
            "OutboundEnvelope": OUTBOUND_ENVELOPE,
            "MailSettings": MAIL_SETTINGS,
            "MailSettingsUpdate": MAIL_SETTINGS_UPDATE,
            "Suppression": SUPPRESSION,
            "SuppressionCreate": SUPPRESSION_CREATE,
            "SuppressionPage": page("suppressions", "Suppression"),
            "MailMessage": MAIL_MESSAGE,
            "MailMessagePage": page("messages", "MailMessage"),
            "StandardPayload": STANDARD_PAYLOAD,
            "StandardData": STANDARD_DATA,
            "StandardConnectionData": STANDARD_CONNECTION_DATA,
            "StandardOutcomeData": STANDARD_OUTCOME_DATA,
            "StandardGathering": STANDARD_GATHERING,
            "StandardGroup": STANDARD_GROUP,
            "StandardAttendee": STANDARD_ATTENDEE,
            "WebhookAccepted": WEBHOOK_ACCEPTED,
            "WebhookDuplicate": WEBHOOK_DUPLICATE,
            "WebhookIgnored": WEBHOOK_IGNORED,
            "Health": HEALTH,
            "Readiness": READINESS,
        },
    },
}
