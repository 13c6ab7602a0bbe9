"""Attendance from a CSV file, for platforms that send no webhooks (Meetup and the like).

Three steps. `parse_rows` is pure: bytes and the organizer's time zone in, typed rows out, or
`InvalidRows` listing every problem in the file at once, so an organizer fixes a file in one
pass; the web request runs it to answer at once. `store_upload` keeps a valid upload in the
inbox as a delivery of the organizer's `csv` integration. In the worker, `apply_stored` records
the rows through `service.attendance`, in one transaction: all of the file or none of it.

Re-importing is safe: an identical upload is recognised by its hash and changes nothing; an
edited one lands on the same gatherings (their ids come from name and date) and the same people
(see `identity_id`), and the attendance events it repeats are already stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.base import AttendeeRef, GatheringRef, GroupRef
from service.attendance import (
    named_group,
    normalize_email,
    record_attendance_event,
    resolve_person,
    upsert_gathering,
)
from service.models import (
    AttendanceKind,
    Delivery,
    DeliveryStatus,
    Gathering,
    Integration,
    Organizer,
    Person,
    utcnow,
)
from service.platforms import import_integration
from service.upsert import insert_ignoring_conflict

PLATFORM = "csv"
MAX_ROWS = 20_000
MAX_FIELD_LENGTH = 300
# Fields an upload may give once for every row (as request parameters), e.g. for Meetup's
# attendee export, which is one file per event and names neither the event nor its date.
FILE_WIDE_FIELDS = ("gathering", "date", "group")
REQUIRED_FIELDS = ("gathering", "date")

# The header names each field accepts, compared after `header_key` (case, surrounding spaces,
# `_` and `-` do not matter). Meetup's attendee export has the columns Name, Attendance, User ID,
# Title, Event Host, RSVP, Guests, RSVPed on, Joined Group on, URL of Member Profile, Notes; its
# "Title" is the member's title in the group, not the event's, so "title" is not an alias.
ALIASES: dict[str, tuple[str, ...]] = {
    "gathering": ("gathering", "gathering name", "event", "event name", "event title", "meetup"),
    "date": ("date", "event date", "gathering date", "start", "starts at", "start date"),
    "name": ("name", "full name", "attendee", "attendee name", "member", "member name"),
    "email": ("email", "e mail", "email address", "e mail address"),
    "checked_in": ("checked in", "check in", "checkin", "attended", "attendance", "present"),
    "attendee_id": ("attendee id", "user id", "member id"),
    "group": ("group", "group name", "series"),
    "company": ("company", "company name", "organization", "organisation"),
    "checked_in_at": ("checked in at", "check in time", "checkin time", "arrived at"),
    "checked_out_at": ("checked out at", "check out time", "checkout time", "left at"),
}
FIELD_BY_HEADER = {alias: name for name, aliases in ALIASES.items() for alias in aliases}

# Values of the `checked_in` column, compared after `header_key`; an empty cell means no.
YES = frozenset({"yes", "y", "true", "t", "1", "x", "attended", "present", "checked in", "✓"})
NO = frozenset({"", "no", "n", "false", "f", "0", "absent", "no show", "noshow", "not attended"})

DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
FIRST_YEAR, LAST_YEAR = 1970, 2100
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class RowError:
    """One problem: `row` is the 1-based data row, or 0 for the header and the file as a whole."""

    row: int
    field: str
    message: str


class InvalidRows(Exception):
    """The file cannot be imported; `errors` lists every problem found, in row order."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = sorted(errors, key=lambda error: error.row)
        count = len(self.errors)
        super().__init__(f"nothing was imported: {count} problem{'s' if count > 1 else ''} found")


@dataclass(frozen=True)
class ImportRow:
    """One attendee at one gathering. `checked_in_at` is None when they did not come."""

    number: int
    gathering: str
    day: date
    starts_at: datetime
    group: str | None
    name: str
    email: str | None
    company: str
    attendee_id: str | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None


# --- parsing ---------------------------------------------------------------------------------


def parse_rows(
    body: bytes, zone: ZoneInfo, file_wide: Mapping[str, str] | None = None
) -> list[ImportRow]:
    """The rows of a CSV upload, or `InvalidRows` with every problem in it.

    Naive times are in `zone`, the organizer's time zone. `file_wide` gives `gathering`, `date`
    or `group` for rows whose file has no such column or leaves the cell empty.
    """
    text = _decode(body)
    records = enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    header = _header(records)
    defaults = dict(file_wide or {})
    _check_file_wide(defaults, header, zone)
    data, errors = _data_rows(records, header)
    drafts: list[_Draft] = []
    for number, cells in data:
        row = _Cells(number, {**defaults, **{k: v for k, v in cells.items() if v.strip()}})
        draft = _draft(row, zone)
        errors += row.errors
        if draft is not None:
            drafts.append(draft)
    if not data and not errors:
        raise InvalidRows([RowError(0, "", "the file has a header but no rows")])
    rows, check_errors = _complete(drafts)
    if errors or check_errors:
        raise InvalidRows(errors + check_errors)
    return rows


def header_key(text: str) -> str:
    """`" Checked_In "` → `"checked in"`: how headers and yes/no values are compared."""
    return " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = body[: err.start].count(b"\n") + 1
        raise InvalidRows(
            [
                RowError(
                    0,
                    "",
                    f"the file is not UTF-8 text (byte {err.start}, line {line}); "
                    "save it as CSV with UTF-8 encoding",
                )
            ]
        ) from err


def _delimiter(text: str) -> str:
    """Comma, or the semicolon or tab that spreadsheets in some locales write instead."""
    first_line = text.split("\n", 1)[0]
    return max(DELIMITERS, key=first_line.count)


@dataclass(frozen=True)
class _Header:
    """Which field each column holds; `names` keeps every column's header for messages."""

    index: int
    names: list[str]
    fields: dict[int, str]


def _header(records: Iterator[tuple[int, list[str]]]) -> _Header:
    """Read the first non-blank record as the header; raise for problems only it can have."""
    index, names = next(
        ((i, cells) for i, cells in records if any(c.strip() for c in cells)), (0, None)
    )
    if names is None:
        raise InvalidRows([RowError(0, "", "the file is empty: the first line must name columns")])
    errors = [
        RowError(0, name, "the header contains a NUL character") for name in names if "\0" in name
    ]
    fields: dict[int, str] = {}
    for column, name in enumerate(names):
        field_name = FIELD_BY_HEADER.get(header_key(name))
        if field_name is None:
            continue
        earlier = next((names[i] for i, known in fields.items() if known == field_name), None)
        if earlier is not None:
            message = f"columns {earlier!r} and {name!r} both give the {field_name}"
            errors.append(RowError(0, field_name, message))
        fields[column] = field_name
    if errors:
        raise InvalidRows(errors)
    return _Header(index, names, fields)


def _check_file_wide(defaults: dict[str, str], header: _Header, zone: ZoneInfo) -> None:
    """Check the file-wide values once, and that every required field has a source."""
    values = _Cells(0, defaults)
    values.text("gathering")
    values.text("group", MAX_FIELD_LENGTH)
    values.parsed("date", lambda raw: _moment(raw, zone))
    for name in REQUIRED_FIELDS:
        if name not in header.fields.values() and name not in defaults:
            accepted = ", ".join(repr(alias) for alias in ALIASES[name])
            message = f"no {name} column (accepted headers: {accepted}); or pass {name}= once"
            values.errors.append(RowError(0, name, message))
    if values.errors:
        raise InvalidRows(values.errors)


def _data_rows(
    records: Iterator[tuple[int, list[str]]], header: _Header
) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """The non-blank data rows as (row number, cells by field), and the problems of their shape.

    Rows are numbered from the header, blank ones included, so the numbers match a
    spreadsheet's rows; too many rows is the one problem that stops the reading.
    """
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    last = header.index
    try:
        for last, cells in records:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == MAX_ROWS:
                message = f"the file has more than {MAX_ROWS:,} rows; split it"
                raise InvalidRows([RowError(0, "", message)])
            number = last - header.index
            errors += _shape_errors(number, cells, header)
            mapped = {header.fields[i]: c for i, c in enumerate(cells) if i in header.fields}
            rows.append((number, mapped))
    except csv.Error as err:
        errors.append(RowError(last + 1 - header.index, "", f"the CSV cannot be read: {err}"))
    return rows, errors


def _shape_errors(number: int, cells: list[str], header: _Header) -> list[RowError]:
    """NUL characters in columns Roomwise ignores, and cells beyond the header's last column.

    (NUL characters in the columns it reads are reported by `_Cells.text`.)
    """
    errors = [
        RowError(number, header.names[i], "contains a NUL character")
        for i, cell in enumerate(cells[: len(header.names)])
        if i not in header.fields and "\0" in cell
    ]
    if any(cell.strip() for cell in cells[len(header.names) :]):
        message = f"has {len(cells)} cells but the header names {len(header.names)} columns"
        errors.append(RowError(number, "", message))
    return errors


ParsedT = TypeVar("ParsedT")


@dataclass
class _Cells:
    """One row's cells by field, collecting every problem instead of stopping at the first."""

    number: int
    values: Mapping[str, str]
    errors: list[RowError] = field(default_factory=list)

    def text(self, name: str, limit: int = MAX_FIELD_LENGTH) -> str:
        value = self.values.get(name, "").strip()
        if len(value) > limit:
            self.errors.append(RowError(self.number, name, f"is longer than {limit} characters"))
            return ""
        if "\0" in value:
            self.errors.append(RowError(self.number, name, "contains a NUL character"))
            return ""
        return value

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value and not self.has_error(name):
            self.errors.append(RowError(self.number, name, "is empty"))
        return value

    def parsed(self, name: str, parse: Callable[[str], ParsedT]) -> ParsedT | None:
        value = self.text(name)
        if not value:
            return None
        try:
            return parse(value)
        except ValueError as err:
            self.errors.append(RowError(self.number, name, str(err)))
            return None

    def has_error(self, name: str) -> bool:
        return any(error.field == name for error in self.errors)


@dataclass(frozen=True)
class _Draft:
    """A row whose cells are valid, before its gathering's start is known.

    Until `_complete`, `row.starts_at` is the row's own date and time (midnight when it gives
    only a date) and `row.checked_in_at` is the check-in time the row gives, if any.
    """

    row: ImportRow
    timed: bool
    attended: bool

    @property
    def gathering_key(self) -> tuple[str, date]:
        return gathering_key(self.row.gathering, self.row.day)


def _draft(row: _Cells, zone: ZoneInfo) -> _Draft | None:
    """Read one row's cells; None (with the problems in `row.errors`) when any is invalid."""
    gathering = row.required("gathering")
    moment = row.parsed("date", lambda raw: _moment(raw, zone))
    if moment is None and not row.has_error("date"):
        row.errors.append(RowError(row.number, "date", "is empty"))
    name = row.text("name")
    email = row.parsed("email", _email)
    if not name and not email and not row.has_error("email") and not row.has_error("name"):
        row.errors.append(RowError(row.number, "name", "a row needs an email or a name"))
    checked_in = row.parsed("checked_in", _yes_no)
    checked_in_at = row.parsed("checked_in_at", lambda raw: _instant(raw, zone))
    checked_out_at = row.parsed("checked_out_at", lambda raw: _instant(raw, zone))
    if checked_in is False and (checked_in_at or checked_out_at):
        message = "says not checked in, but a check-in or check-out time is given"
        row.errors.append(RowError(row.number, "checked_in", message))
    group = row.text("group", MAX_FIELD_LENGTH) or None
    company, attendee_id = row.text("company"), row.text("attendee_id") or None
    if row.errors or moment is None:
        return None
    day, start = moment
    parsed = ImportRow(
        number=row.number,
        gathering=gathering,
        day=day,
        starts_at=start or datetime.combine(day, time(), zone),
        group=group,
        name=name,
        email=email,
        company=company,
        attendee_id=attendee_id,
        checked_in_at=checked_in_at,
        checked_out_at=checked_out_at,
    )
    attended = bool(checked_in) or checked_in_at is not None or checked_out_at is not None
    return _Draft(parsed, timed=start is not None, attended=attended)


def _complete(drafts: list[_Draft]) -> tuple[list[ImportRow], list[RowError]]:
    """Give each row its gathering's start and default check-in time; check the times agree.

    A gathering starts at the earliest time any of its rows gives, else at midnight of its date
    in the organizer's zone; a check-in without a time is at the gathering's start.
    """
    starts: dict[tuple[str, date], datetime] = {}
    for draft in drafts:
        if draft.timed:
            current = starts.get(draft.gathering_key, draft.row.starts_at)
            starts[draft.gathering_key] = min(draft.row.starts_at, current)
    rows, errors = [], []
    for draft in drafts:
        starts_at = starts.get(draft.gathering_key, draft.row.starts_at)
        checked_in_at = (draft.row.checked_in_at or starts_at) if draft.attended else None
        checked_out_at = draft.row.checked_out_at
        if checked_out_at and checked_in_at and checked_out_at < checked_in_at:
            message = "is before the check-in (or the gathering's start when no check-in time)"
            errors.append(RowError(draft.row.number, "checked_out_at", message))
        rows.append(replace(draft.row, starts_at=starts_at, checked_in_at=checked_in_at))
    return rows, errors


def _moment(raw: str, zone: ZoneInfo) -> tuple[date, datetime | None]:
    """A date (`2026-11-26`) or a date and time; the day is the gathering's day in `zone`."""
    if DATE_ONLY.fullmatch(raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError as err:
            raise ValueError(f"{raw!r} is not a valid date") from err
        _check_year(day)
        return day, None
    at = _instant(raw, zone)
    return at.astimezone(zone).date(), at


def _instant(raw: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 date and time; without an offset it is a time in `zone`."""
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as err:
        raise ValueError(
            f"{raw!r} is not an ISO 8601 date and time (e.g. 2026-11-26T07:30 or "
            "2026-11-26T07:30:00+01:00)"
        ) from err
    if DATE_ONLY.fullmatch(raw):
        raise ValueError(f"{raw!r} has no time of day")
    _check_year(parsed.date())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _check_year(day: date) -> None:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"{day.isoformat()} is not between {FIRST_YEAR} and {LAST_YEAR}")


def _email(raw: str) -> str:
    if not EMAIL.fullmatch(raw):
        raise ValueError(f"{raw!r} is not an email address")
    return raw


def _yes_no(raw: str) -> bool:
    value = header_key(raw)
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(f"{raw!r} is not yes or no (yes/no, true/false, 1/0, x, attended/absent)")


# --- applying --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """What was uploaded: the file's bytes and the file-wide values sent with it."""

    body: bytes
    content_type: str
    file_wide: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The delivery's external id: the body's SHA-256, and the file-wide values if any.

        The same file sent for another event (another `gathering=`) is another upload.
        """
        digest = hashlib.sha256(self.body)
        for name, value in sorted(self.file_wide.items()):
            digest.update(f"\0{name}={value}".encode())
        return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class ImportCounts:
    """Distinct gatherings and people in the file; check-ins newly recorded; rows that were
    already fully known."""

    rows: int
    gatherings: int
    people: int
    check_ins: int
    unchanged: int


@dataclass(frozen=True)
class StoredUpload:
    """The import's delivery id, and whether this upload is new (False: imported before)."""

    import_id: int
    new: bool


def store_upload(session: Session, organizer_id: int, upload: Upload) -> StoredUpload:
    """Keep a validated upload in the inbox for a worker to apply; commit to keep it.

    It is a delivery of the organizer's `csv` integration, unique on the upload's `key`: when
    that row exists already, the same upload came before and nothing else happens. Applying
    in the worker keeps large files off the web request, and makes an import replayable like
    any delivery.
    """
    integration = import_integration(session, organizer_id, PLATFORM)
    delivery_id = insert_ignoring_conflict(
        session,
        Delivery,
        {
            "integration_id": integration.id,
            "external_id": upload.key,
            "event_type": "import",
            "headers": {"content-type": upload.content_type, "file-wide": dict(upload.file_wide)},
            "body": upload.body,
            "status": DeliveryStatus.RECEIVED,
            "received_at": utcnow(),
        },
        ["integration_id", "external_id"],
    )
    if delivery_id is not None:
        return StoredUpload(delivery_id, True)
    first = session.scalars(
        select(Delivery.id).where(
            Delivery.integration_id == integration.id, Delivery.external_id == upload.key
        )
    ).one()
    return StoredUpload(first, False)


def apply_stored(session: Session, integration: Integration, delivery: Delivery) -> dict[str, int]:
    """Record a stored upload's rows in the caller's transaction; return its counts.

    The rows are parsed again from the stored bytes (they were validated on upload), in the
    organizer's time zone, so a replay applies exactly what was uploaded.
    """
    organizer = session.get_one(Organizer, integration.organizer_id)
    rows = parse_rows(
        delivery.body, ZoneInfo(organizer.timezone), delivery.headers.get("file-wide", {})
    )
    return asdict(_record(session, integration, delivery, rows))


def _record(
    session: Session, integration: Integration, delivery: Delivery, rows: Sequence[ImportRow]
) -> ImportCounts:
    gatherings: dict[tuple[str, date], Gathering] = {}
    people: dict[str, Person] = {}
    check_ins = unchanged = 0
    for row in rows:
        key = gathering_key(row.gathering, row.day)
        if key not in gatherings:
            gatherings[key] = upsert_gathering(session, integration, gathering_ref(row))
        identity = identity_id(row)
        if identity not in people:
            attendee = AttendeeRef(identity, row.email, row.name, row.company)
            people[identity] = resolve_person(session, integration, attendee)
        changed = False
        for kind, at in row_events(row):
            recorded = record_attendance_event(
                session, gatherings[key], people[identity], kind, at, delivery, PLATFORM
            )
            changed = changed or recorded
            if recorded and kind is AttendanceKind.CHECKED_IN:
                check_ins += 1
        unchanged += not changed
    return ImportCounts(
        rows=len(rows),
        gatherings=len(gatherings),
        people=len({person.id for person in people.values()}),
        check_ins=check_ins,
        unchanged=unchanged,
    )


def gathering_key(name: str, day: date) -> tuple[str, date]:
    """Rows name the same gathering when name (any case and spacing) and day agree."""
    return " ".join(name.split()).casefold(), day


def gathering_ref(row: ImportRow) -> GatheringRef:
    """The row's gathering: its external id is its day and a hash of its name, so every
    import of that gathering finds it again; its group is the `group` cell when given."""
    name_key, day = gathering_key(row.gathering, row.day)
    external_id = f"{day.isoformat()}:{hashlib.sha256(name_key.encode()).hexdigest()}"
    return GatheringRef(external_id, row.gathering, row.starts_at, None, row_group(row.group))


def row_group(name: str | None) -> GroupRef | None:
    """The group a file names: the same group a name-prefix rule naming it gives."""
    return named_group(name) if name else None


def identity_id(row: ImportRow) -> str:
    """The stable id that finds this row's person again in later imports.

    By preference the file's attendee id (Meetup's "User ID"), else the normalized email, else
    the name (any case and spacing): two people with the same name and no email or attendee id
    become one person, and a person first imported by name alone and later with an email
    becomes a second person. The value is hashed, so any length fits.
    """
    if row.attendee_id:
        kind, value = "id", row.attendee_id
    elif row.email:
        kind, value = "email", normalize_email(row.email) or ""
    else:
        kind, value = "name", " ".join(row.name.split()).casefold()
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def row_events(row: ImportRow) -> list[tuple[AttendanceKind, datetime]]:
    """Registered (at the gathering's start, or the earlier check-in), and the visit if any."""
    events = [(AttendanceKind.REGISTERED, min(row.starts_at, row.checked_in_at or row.starts_at))]
    if row.checked_in_at is not None:
        events.append((AttendanceKind.CHECKED_IN, row.checked_in_at))
    if row.checked_out_at is not None:
        events.append((AttendanceKind.CHECKED_OUT, row.checked_out_at))
    return events
