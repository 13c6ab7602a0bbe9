"""When the weekly digest is due: the organizer's weekday and time, in their own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from service.mail.planning import latest_digest_time
from service.mail.preferences import MailPreferences


def preferences(zone: str = "UTC", weekday: str = "monday", at: time = time(8)) -> MailPreferences:
    return MailPreferences(("org@example.com",), weekday, at, 120, ZoneInfo(zone))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Monday 2026-11-30 08:00 UTC is the digest moment itself.
        (datetime(2026, 11, 30, 8, 0, tzinfo=UTC), datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        # A minute earlier, the latest one is a week before.
        (datetime(2026, 11, 30, 7, 59, tzinfo=UTC), datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),
        # Any day of the week looks back to the last Monday.
        (datetime(2026, 12, 3, 18, 0, tzinfo=UTC), datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
    ],
)
def test_the_latest_digest_moment_in_utc(now: datetime, expected: datetime) -> None:
    assert latest_digest_time(preferences(), now) == expected


def test_the_organizers_own_time_zone_decides() -> None:
    # 08:00 in Berlin is 07:00 UTC in winter; in Sydney it is 21:00 UTC the day before.
    now = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
    assert latest_digest_time(preferences("Europe/Berlin"), now) == datetime(
        2026, 11, 30, 7, 0, tzinfo=UTC
    )
    assert latest_digest_time(preferences("Australia/Sydney"), now) == datetime(
        2026, 11, 29, 21, 0, tzinfo=UTC
    )


def test_a_summer_time_change_keeps_the_local_hour() -> None:
    # Berlin moves to summer time on Sunday 2027-03-28: Monday 08:00 is then 06:00 UTC.
    now = datetime(2027, 3, 29, 12, 0, tzinfo=UTC)
    assert latest_digest_time(preferences("Europe/Berlin"), now) == datetime(
        2027, 3, 29, 6, 0, tzinfo=UTC
    )


def test_another_weekday_and_time() -> None:
    now = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # a Friday
    moment = latest_digest_time(preferences(weekday="friday", at=time(16, 30)), now)
    assert moment == datetime(2026, 12, 4, 16, 30, tzinfo=UTC)
