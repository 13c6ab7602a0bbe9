"""Demo data: a demo organizer and a realistic season of two groups, sent as real webhooks.

`make run` seeds the organizer once (its API token and signing secret are kept in
`var/demo.json`, since only their hashes or ciphertexts are in the database) and then posts every
event through the public webhook endpoint, signed like any sender would. Delivery ids are
derived from the events, so running the demo again is answered with "duplicate".
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.standard import StandardAdapter
from service.accounts import create_organizer
from service.config import Settings
from service.crypto import SecretBox
from service.models import User
from service.platforms import create_integration

DEMO_EMAIL = "demo@roomwise.local"
DEMO_PASSWORD = "roomwise-demo"
DAY = timedelta(days=1)

PEOPLE = [
    ("Amara Okafor", "Okafor Legal"),
    ("Ben Hughes", "Hughes Plumbing"),
    ("Chloe Martin", "Martin & Co Accountants"),
    ("Dev Patel", "Brightside Web"),
    ("Elena Rossi", "Rossi Interiors"),
    ("Farid Haddad", "Cedar Insurance"),
    ("Grace Kim", "Kim Photography"),
    ("Hamish Grant", "Grant Property"),
    ("Isla Murphy", "Murphy Print"),
    ("Jonas Berg", "Berg Financial Planning"),
    ("Keiko Tanaka", "Tanaka Translation"),
    ("Liam O'Brien", "O'Brien Electrical"),
    ("Maya Singh", "Singh Physio"),
    ("Noah Fischer", "Fischer IT Support"),
    ("Olivia Brown", "Brown Recruitment"),
    ("Pablo Ortega", "Ortega Catering"),
    ("Quinn Taylor", "Taylor Coaching"),
    ("Rosa Lindqvist", "Lindqvist Design"),
    ("Samir Aziz", "Aziz Mortgages"),
    ("Tara Walsh", "Walsh Florists"),
    ("Umar Sheikh", "Sheikh Solicitors"),
    ("Vera Novak", "Novak Architects"),
    ("Will Chen", "Chen Logistics"),
    ("Xenia Petrova", "Petrova PR"),
    ("Yusuf Demir", "Demir Builders"),
    ("Zoe Adams", "Adams Wellness"),
    ("Arjun Rao", "Rao Ventures"),
    ("Bea Jensen", "Jensen Labs"),
    ("Caleb Wright", "Northwind Robotics"),
    ("Dana Levy", "Levy Analytics"),
    ("Eli Moreau", "Moreau Studio"),
    ("Fatima Noor", "Noor Health"),
    ("Gus Lindgren", "Lindgren Games"),
    ("Hana Sato", "Sato Foods"),
    ("Ivan Horvat", "Horvat Cloud"),
    ("Jade Turner", "Turner Audio"),
    ("Kofi Mensah", "Mensah Energy"),
    ("Lucia Ferreira", "Ferreira Travel"),
    ("Mads Olsen", "Olsen Bikes"),
    ("Nina Kowalski", "Kowalski Data"),
]


@dataclass(frozen=True)
class DemoCredentials:
    organizer_id: int
    login_email: str
    login_password: str
    api_token: str
    webhook_url: str
    signing_secret: str


@dataclass(frozen=True)
class DemoGroup:
    external_id: str
    name: str
    last_days_ago: int  # the latest gathering was this many days ago
    every_days: int
    gatherings: int
    start_hour: int
    hours: float
    regulars: range
    regular_show_rate: float
    visitors_per_gathering: int
    business: bool
    settings: dict[str, Any]  # sent to PATCH /api/v1/groups/<id>, as an organizer would


GROUPS = [
    DemoGroup(
        external_id="harbourside-breakfast",
        name="Harbourside Business Breakfast",
        last_days_ago=1,
        every_days=7,
        gatherings=6,
        start_hour=7,
        hours=2.0,
        regulars=range(0, 16),
        regular_show_rate=0.85,
        visitors_per_gathering=3,
        business=True,
        settings={
            "format": "business",
            "structure": "open",
            "venue": {"venue_type": "treated", "floor_area_m2": 90},
        },
    ),
    DemoGroup(
        external_id="founders-and-friends",
        name="Founders & Friends Social",
        last_days_ago=12,
        every_days=14,
        gatherings=5,
        start_hour=18,
        hours=2.5,
        regulars=range(22, 34),
        regular_show_rate=0.6,
        visitors_per_gathering=9,
        business=False,
        settings={
            "format": "social",
            "structure": "open",
            "venue": {"venue_type": "bar", "floor_area_m2": 110},
        },
    ),
]


def ensure_demo_organizer(session: Session, box: SecretBox, settings: Settings) -> DemoCredentials:
    """Create the demo organizer on first run; afterwards read its credentials back."""
    path = demo_file(settings)
    exists = session.scalar(select(User.id).where(User.email == DEMO_EMAIL)) is not None
    if exists and path.exists():
        return DemoCredentials(**json.loads(path.read_text()))
    if exists:
        raise RuntimeError(f"{DEMO_EMAIL} exists but {path} is gone: remove var/ to start over")
    organizer = create_organizer(session, "Demo Networking Co", DEMO_EMAIL, DEMO_PASSWORD)
    integration = create_integration(session, box, settings, organizer.organizer_id, "standard")
    credentials = DemoCredentials(
        organizer_id=organizer.organizer_id,
        login_email=DEMO_EMAIL,
        login_password=DEMO_PASSWORD,
        api_token=organizer.api_token,
        webhook_url=integration.webhook_url,
        signing_secret=integration.signing_secret or "",
    )
    session.commit()
    path.write_text(json.dumps(asdict(credentials), indent=2))
    path.chmod(0o600)
    return credentials


def demo_file(settings: Settings) -> Path:
    return settings.var_dir / "demo.json"


def demo_events(now: datetime, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """Payloads in the `standard` format for a season of both demo groups, oldest first."""
    rng = random.Random(seed)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for group in GROUPS:
        visitors = [i for i in range(len(PEOPLE)) if i not in group.regulars]
        for number in range(group.gatherings):
            days_ago = group.last_days_ago + group.every_days * (group.gatherings - 1 - number)
            starts = today - timedelta(days=days_ago) + timedelta(hours=group.start_hour)
            ends = starts + timedelta(hours=group.hours)
            gathering = {
                "id": f"{group.external_id}-{starts:%Y-%m-%d}",
                "name": f"{group.name}, {starts:%d %b}",
                "starts_at": starts.isoformat(),
                "ends_at": ends.isoformat(),
                "group": {"id": group.external_id, "name": group.name},
            }
            present = [i for i in group.regulars if rng.random() < group.regular_show_rate]
            present += rng.sample(visitors, group.visitors_per_gathering)
            for index in present:
                yield from _visit(rng, gathering, index, starts, ends)
            yield from _conversations(rng, gathering, present, starts)
            if group.business:
                yield from _referrals(rng, gathering, present, starts)


def _conversations(
    rng: random.Random, gathering: dict[str, Any], present: list[int], starts: datetime
) -> Iterator[dict[str, Any]]:
    """Each attendee taps phones with a few of the others (a mutual tap confirms both ways)."""
    for index in present:
        others = [other for other in present if other > index]
        for other in rng.sample(others, min(len(others), rng.randint(1, 3))):
            at = starts + timedelta(minutes=rng.randint(40, 100))
            payload = _event("connection.created", gathering, _attendee(index), at)
            payload["data"].update(counterpart=_attendee(other), source="mutual_tap")
            yield payload


def _referrals(
    rng: random.Random, gathering: dict[str, Any], present: list[int], starts: datetime
) -> Iterator[dict[str, Any]]:
    """Now and then a member passes another a referral, reported the next day."""
    for index in present:
        if rng.random() < 0.15:
            giver = rng.choice([other for other in present if other != index])
            payload = _event("outcome.reported", gathering, _attendee(index), starts + DAY)
            payload["data"].update(
                group=gathering["group"], counterpart=_attendee(giver), kind="referral"
            )
            yield payload


def _visit(
    rng: random.Random, gathering: dict[str, Any], index: int, starts: datetime, ends: datetime
) -> Iterator[dict[str, Any]]:
    attendee = _attendee(index)
    registered = starts - timedelta(days=rng.randint(1, 6), minutes=rng.randint(0, 600))
    arrived = starts + timedelta(minutes=rng.randint(-10, 35))
    yield _event("attendee.registered", gathering, attendee, registered)
    yield _event("attendee.checked_in", gathering, attendee, arrived)
    if rng.random() < 0.04:  # a mis-scan at the door, undone a minute later
        yield _event(
            "attendee.checkin_reverted", gathering, attendee, arrived + timedelta(minutes=1)
        )
        return
    if rng.random() < 0.6:
        stay = timedelta(minutes=rng.randint(35, int((ends - arrived).total_seconds() // 60)))
        yield _event("attendee.checked_out", gathering, attendee, arrived + stay)


def _attendee(index: int) -> dict[str, str]:
    name, company = PEOPLE[index]
    email = name.lower().replace(" ", ".").replace("'", "") + "@example.com"
    return {"id": f"person-{index}", "email": email, "name": name, "company": company}


def _event(
    event_type: str, gathering: dict[str, Any], attendee: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return {
        "type": event_type,
        "timestamp": at.isoformat(),
        "data": {"gathering": gathering, "attendee": attendee, "occurred_at": at.isoformat()},
    }


@dataclass(frozen=True)
class PlayResult:
    accepted: int
    duplicate: int
    rejected: int


def play(credentials: DemoCredentials, events: Iterator[dict[str, Any]]) -> PlayResult:
    """POST every event to the demo's webhook URL, signed as a platform would, then set each
    group's format and room through the API as its organizer would."""
    adapter = StandardAdapter()
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    base = credentials.webhook_url.split("/hooks/", 1)[0]
    with requests.Session() as http:
        for payload in events:
            body = json.dumps(payload).encode()
            msg_id = "demo_" + hashlib.sha256(body).hexdigest()[:32]
            headers = adapter.sign(body, credentials.signing_secret, msg_id)
            headers["content-type"] = "application/json"
            response = http.post(credentials.webhook_url, data=body, headers=headers, timeout=10)
            status = response.json().get("status") if response.ok else None
            counts[status if status in counts else "rejected"] += 1
        http.headers["Authorization"] = f"Bearer {credentials.api_token}"
        groups = http.get(f"{base}/api/v1/groups", timeout=10).json()["groups"]
        settings_by_name = {group.name: group.settings for group in GROUPS}
        for group in groups:
            if group["name"] in settings_by_name:
                http.patch(
                    f"{base}/api/v1/groups/{group['id']}",
                    json=settings_by_name[group["name"]],
                    timeout=10,
                ).raise_for_status()
        # Yesterday's breakfast gets its summary and recaps within a minute; the weekly digest
        # is set to today at midnight, so a newcomer finds one in the outbox too.
        today = datetime.now(UTC).strftime("%A").lower()
        http.patch(
            f"{base}/api/v1/settings/mail",
            json={"digest_weekday": today, "digest_time": "00:00"},
            timeout=10,
        ).raise_for_status()
    return PlayResult(**counts)
