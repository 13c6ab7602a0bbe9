"""Charts for organizer emails, drawn as small PNG images with Pillow.

Mail clients drop SVG and scripts, so a chart travels as an inline PNG part (`cid:`) beside a
one-sentence text alternative for screen readers and for clients that block images. Drawing is
pure: plain data in, a `Chart` out, no database, no clock, no fonts outside Pillow's built-in
one, so the same input gives the same bytes and the email builder can cache or compare them.

Each chart is drawn at twice its display size so it stays sharp on high-density screens, and
reduced to a small palette, which keeps a PNG to a few kilobytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

_Colour = tuple[int, int, int]
_Swatch = Literal["line", "bar", "band", "dashed"]

WIDTH = 560
HEIGHT = 200
SCALE = 2
MAX_BARS = 48

# Okabe–Ito blue for the main series, grey for the secondary one and green for the recommended
# band: they stay apart for colour-blind readers and in greyscale (https://jfly.uni-koeln.de/color/).
_INK = (51, 51, 51)
_MUTED = (110, 110, 110)
_GRID = (229, 229, 229)
_AXIS = (160, 160, 160)
_LINE = (0, 114, 178)
_BAR = (189, 189, 189)
_BAND_FILL = (222, 241, 216)
_BAND_EDGE = (27, 120, 55)
_CAPACITY = (85, 85, 85)
_WHITE = (255, 255, 255)

_FONT_SIZE = 11
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Bucket widths tried in turn when a long gathering would need more than MAX_BARS bars.
_BUCKET_STEPS = tuple(timedelta(minutes=m) for m in (5, 10, 15, 20, 30, 60, 120, 180, 360, 720))
# Spacing between time labels, chosen so they fall on round clock times.
_LABEL_STEPS = tuple(timedelta(minutes=m) for m in (15, 30, 60, 120, 180, 360, 720, 1440))


@dataclass(frozen=True)
class Chart:
    """A rendered chart: PNG bytes, its text alternative, and its display size in CSS pixels
    (the image itself is SCALE times larger), for `<img width height alt>`."""

    png: bytes
    alt: str
    width: int = WIDTH
    height: int = HEIGHT


@dataclass(frozen=True)
class Stay:
    """One attendee's time in the room, straight from an attendance row: `checked_in_at` and
    `checked_out_at` (None when the platform never reports leaving). Times are timezone-aware."""

    arrived: datetime
    left: datetime | None = None


@dataclass(frozen=True)
class HealthPoint:
    """A group's health score (0–100) as of one week or gathering, labelled with its date."""

    on: date
    value: float


# --- arrivals ---


def arrivals_chart(
    stays: Sequence[Stay],
    tz: tzinfo,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    band: tuple[int, int] | None = None,
    capacity: int | None = None,
    bucket: timedelta = timedelta(minutes=15),
) -> Chart | None:
    """Head count in the room over time (line) over check-ins per time bucket (bars), so the
    organizer sees when people came and whether the room went past the recommended size.

    `stays` are the attendees who checked in (rows without `checked_in_at` left out); `tz` is
    the organizer's time zone, for the clock times shown. The time axis runs from the earlier
    of `start` (the gathering's start) and the first check-in to the later of `end` and the
    last check-in, on round clock times. Departures after that are ignored: those people count
    as present to the end. `band` is the recommended head count range (low, high), shaded;
    `capacity` the room's, a dashed line. `bucket` is the bar width; it widens when more than
    MAX_BARS bars would be needed.

    Returns None when no one checked in: there is nothing to draw, and the email says so in
    words instead.
    """
    if not stays:
        return None
    arrivals = sorted(stay.arrived for stay in stays)
    first = min(arrivals[0], start) if start else arrivals[0]
    last = max(arrivals[-1], end) if end else arrivals[-1]
    bucket = _bucket_for(last - first, bucket)
    axis_start = _floor_local(first, bucket, tz)
    n_buckets = max(1, -(-(last - axis_start) // bucket))
    if axis_start + n_buckets * bucket == last and arrivals[-1] == last:
        n_buckets += 1  # a check-in right on the last boundary opens a bucket of its own
    axis_end = axis_start + n_buckets * bucket

    counts = [0] * n_buckets
    for arrived in arrivals:
        counts[(arrived - axis_start) // bucket] += 1
    steps = _head_count_steps(stays, axis_end)
    peak_at, peak = max(steps, key=lambda step: (step[1], -step[0].timestamp()))

    y_max = _nice_max(max(peak, *counts, *(band or ()), capacity or 0))
    canvas = _Canvas()
    plot = canvas.plot_area(left=34, right=WIDTH - 14, top=30, bottom=HEIGHT - 22)
    canvas.y_grid(plot, y_max)

    def x_of(moment: datetime) -> float:
        return plot.left + (moment - axis_start) / (axis_end - axis_start) * plot.width

    if band:
        canvas.band(plot, y_max, band)
    if capacity:
        canvas.reference_line(plot, y_max, capacity)
    for index, count in enumerate(counts):
        left = x_of(axis_start + index * bucket)
        right = x_of(axis_start + (index + 1) * bucket)
        canvas.bar(plot, y_max, left, right, count)
    line = [(plot.left, plot.y(0, y_max))]
    for x, levels in _by_column(steps, x_of).items():
        # Rise or fall to the column's extremes and settle on its last count: at most four
        # corners per image column, however many people came or left within it.
        line += [(x, line[-1][1])] + [(x, plot.y(level, y_max)) for level in levels]
    line.append((plot.right, line[-1][1]))
    canvas.step_line(line, _LINE)
    canvas.x_axis(plot)
    for moment in _time_labels(axis_start, axis_end, tz, plot.width):
        canvas.text_centered(x_of(moment), plot.bottom + 5, _clock(moment, tz), _MUTED)

    # A key instead of a title: labels inside the plot would sit on the line sooner or later.
    key: list[tuple[_Swatch, _Colour, str]] = [
        ("line", _LINE, "in the room"),
        ("bar", _BAR, f"check-ins / {_minutes_text(bucket)}"),
    ]
    if band:
        key.append(("band", _BAND_EDGE, f"best {band[0]}-{band[1]}"))
    if capacity:
        key.append(("dashed", _CAPACITY, f"capacity {capacity}"))
    canvas.legend(plot.left - 30, 8, key)

    busiest = max(range(n_buckets), key=lambda index: (counts[index], -index))
    busiest_from = axis_start + busiest * bucket
    alt = (
        f"{_people(len(arrivals))} checked in, {counts[busiest]} of them between "
        f"{_clock(busiest_from, tz)} and {_clock(busiest_from + bucket, tz)}; "
        f"head count peaked at {peak} at {_clock(peak_at, tz)}"
        f"{_band_clause(peak, band)}{f', room capacity {capacity}' if capacity else ''}."
    )
    return Chart(png=canvas.png(), alt=alt)


def _head_count_steps(stays: Sequence[Stay], until: datetime) -> list[tuple[datetime, int]]:
    """(moment, people present just after it) at each moment someone came or left; people
    leaving and arriving at the same moment are counted out first, so a peak is not overstated."""
    changes: dict[datetime, list[int]] = {}
    for stay in stays:
        changes.setdefault(stay.arrived, [0, 0])[1] += 1
        if stay.left is not None and stay.arrived < stay.left < until:
            changes.setdefault(stay.left, [0, 0])[0] += 1
    steps, present = [], 0
    for moment in sorted(changes):
        left, arrived = changes[moment]
        present += arrived - left
        steps.append((moment, present))
    return steps


def _by_column(
    steps: list[tuple[datetime, int]], x_of: Callable[[datetime], float]
) -> dict[float, tuple[int, ...]]:
    """Steps grouped by the image column they fall in (left to right): per column the highest,
    lowest and last head count, so a big gathering draws as fast as a small one."""
    columns: dict[float, list[int]] = {}
    for moment, count in steps:
        columns.setdefault(round(x_of(moment) * SCALE) / SCALE, []).append(count)
    return {x: (max(counts), min(counts), counts[-1]) for x, counts in columns.items()}


def _band_clause(peak: int, band: tuple[int, int] | None) -> str:
    if band is None:
        return ""
    low, high = band
    where = "above" if peak > high else "below" if peak < low else "within"
    return f", {where} the recommended {low}–{high}"


def _bucket_for(span: timedelta, wanted: timedelta) -> timedelta:
    """`wanted`, or the first of _BUCKET_STEPS at least as wide that keeps to MAX_BARS bars."""
    for step in (wanted, *(step for step in _BUCKET_STEPS if step > wanted)):
        if span / step <= MAX_BARS:
            return step
    return timedelta(days=span.days // MAX_BARS + 1)


def _floor_local(moment: datetime, step: timedelta, tz: tzinfo) -> datetime:
    """The latest moment not after `moment` whose local clock time is a multiple of `step`
    since midnight, so 19:07 floors to 19:00 for 15-minute buckets in any time zone."""
    local = moment.astimezone(tz)
    since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment - since_midnight % step


def _time_labels(start: datetime, end: datetime, tz: tzinfo, width: float) -> list[datetime]:
    """Round clock times between `start` and `end`, at least ~56 px apart."""
    span = end - start
    step = next((s for s in _LABEL_STEPS if width * (s / span) >= 56), span)
    moment = _floor_local(start, step, tz)
    if moment < start:
        moment += step
    labels = []
    while moment <= end:
        labels.append(moment)
        moment += step
    return labels


def _clock(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def _minutes_text(step: timedelta) -> str:
    minutes = int(step.total_seconds() // 60)
    return f"{minutes} min" if minutes < 60 or minutes % 60 else f"{minutes // 60} h"


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


# --- health trend ---


def health_trend_chart(points: Sequence[HealthPoint]) -> Chart | None:
    """A group's health score over recent weeks or gatherings, oldest first, as a line with a
    point per reading on a fixed 0–100 axis, so a slow slide is as visible as a drop. The first
    and last readings are labelled with their values and dates.

    Points are spaced evenly, one per reading, whatever the time between them. One point is
    drawn alone (no trend yet). Returns None for no points: the email says "no data yet" in
    words instead of sending an empty picture.
    """
    if not points:
        return None
    values = [max(0.0, min(100.0, point.value)) for point in points]
    canvas = _Canvas()
    plot = canvas.plot_area(left=34, right=WIDTH - 24, top=30, bottom=HEIGHT - 22)
    canvas.y_grid(plot, 100)

    def x_of(index: int) -> float:
        if len(points) == 1:
            return plot.left + plot.width / 2
        return plot.left + 10 + index / (len(points) - 1) * (plot.width - 20)

    xy = [(x_of(index), plot.y(value, 100)) for index, value in enumerate(values)]
    if len(xy) > 1:
        canvas.polyline(xy, _LINE)
    for x, y in xy:
        canvas.dot(x, y, 3.5 if len(xy) <= 26 else 2, _LINE)
    canvas.x_axis(plot)
    ends = {0, len(points) - 1}
    for index in ends:
        x, y = xy[index]
        # Above the point, unless that would reach the title: then below it.
        canvas.text_centered(
            x, y - 19 if values[index] < 85 else y + 6, str(round(values[index])), _INK
        )
    gap = max(1, -(-len(points) * 60 // int(plot.width)))
    for index in sorted(ends | set(range(0, len(points) - gap, gap))):
        canvas.text_centered(x_of(index), plot.bottom + 5, _day(points[index].on), _MUTED)
    canvas.text(plot.left - 30, 8, "Group health (0-100)", _INK)
    return Chart(png=canvas.png(), alt=_health_alt(points, values))


def _health_alt(points: Sequence[HealthPoint], values: list[float]) -> str:
    first, last = round(values[0]), round(values[-1])
    since, until = _day(points[0].on), _day(points[-1].on)
    if len(points) == 1:
        return f"Group health is {last} as of {until}; no trend yet."
    if first == last:
        trend = f"held at {first} from {since} to {until}"
    else:
        trend = f"{'rose' if last > first else 'fell'} from {first} on {since} to {last} on {until}"
    low, high = round(min(values)), round(max(values))
    return f"Group health {trend} over {len(points)} readings, ranging {low}–{high}."


def _day(on: date) -> str:
    """Like "12 May", with the month names fixed in English so no locale changes the bytes."""
    return f"{on.day} {_MONTHS[on.month - 1]}"


# --- drawing ---


def _nice_max(value: int) -> int:
    """`value` rounded up to a whole number of grid steps, so the top grid line closes the axis."""
    step = _grid_step(value)
    return max(1, -(-value // step) * step)


@dataclass(frozen=True)
class _Plot:
    left: float
    right: float
    top: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    def y(self, value: float, y_max: float) -> float:
        return self.bottom - value / y_max * (self.bottom - self.top)


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=_FONT_SIZE * SCALE)


class _Canvas:
    """An RGB image drawn in display (CSS) pixels and stored at SCALE times that size."""

    def __init__(self) -> None:
        self.image = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), _WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.font = _font()

    def plot_area(self, *, left: float, right: float, top: float, bottom: float) -> _Plot:
        return _Plot(left, right, top, bottom)

    def _box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        return (round(x0 * SCALE), round(y0 * SCALE), round(x1 * SCALE), round(y1 * SCALE))

    def y_grid(self, plot: _Plot, y_max: int) -> None:
        step = _grid_step(y_max)
        for value in range(0, y_max + 1, step):
            y = plot.y(value, y_max)
            self.draw.line(self._box(plot.left, y, plot.right, y), _GRID, SCALE)
            text = str(value)
            width = self.draw.textlength(text, self.font) / SCALE
            self.text(plot.left - 5 - width, y - 7, text, _MUTED)

    def x_axis(self, plot: _Plot) -> None:
        self.draw.line(self._box(plot.left, plot.bottom, plot.right, plot.bottom), _AXIS, SCALE)

    def band(self, plot: _Plot, y_max: int, band: tuple[int, int]) -> None:
        low, high = (plot.y(value, y_max) for value in band)
        self.draw.rectangle(self._box(plot.left, high, plot.right, low), _BAND_FILL)
        for y in (low, high):
            self.dashed(plot.left, plot.right, y, _BAND_EDGE)

    def reference_line(self, plot: _Plot, y_max: int, value: int) -> None:
        self.dashed(plot.left, plot.right, plot.y(value, y_max), _CAPACITY)

    def dashed(self, x0: float, x1: float, y: float, colour: _Colour) -> None:
        x = x0
        while x < x1:
            self.draw.line(self._box(x, y, min(x + 5, x1), y), colour, SCALE)
            x += 9

    def bar(self, plot: _Plot, y_max: int, left: float, right: float, value: int) -> None:
        if value:
            gap = min(2.0, (right - left) / 6)
            top = plot.y(value, y_max)
            self.draw.rectangle(self._box(left + gap, top, right - gap, plot.bottom), _BAR)

    def polyline(self, xy: list[tuple[float, float]], colour: _Colour) -> None:
        scaled = [(x * SCALE, y * SCALE) for x, y in xy]
        self.draw.line(scaled, colour, round(2.5 * SCALE), joint="curve")

    def step_line(self, xy: list[tuple[float, float]], colour: _Colour) -> None:
        """Horizontal and vertical runs as rectangles: square corners, none of the spurs that
        round joints leave on very short segments."""
        half = 1.25
        for (x0, y0), (x1, y1) in pairwise(xy):
            box = (min(x0, x1) - half, min(y0, y1) - half, max(x0, x1) + half, max(y0, y1) + half)
            self.draw.rectangle(self._box(*box), colour)

    def dot(self, x: float, y: float, radius: float, colour: _Colour) -> None:
        self.draw.ellipse(self._box(x - radius, y - radius, x + radius, y + radius), colour)

    def text(self, x: float, y: float, text: str, colour: _Colour) -> None:
        self.draw.text((x * SCALE, y * SCALE), text, colour, self.font)

    def text_centered(self, x: float, y: float, text: str, colour: _Colour) -> None:
        width = self.draw.textlength(text, self.font) / SCALE
        self.text(min(max(x - width / 2, 1), WIDTH - width - 1), y, text, colour)

    def legend(self, x: float, y: float, items: list[tuple[_Swatch, _Colour, str]]) -> None:
        """A key from `x` rightwards: per entry a swatch drawn like its series, then its label."""
        for swatch, colour, label in items:
            if swatch == "line":
                self.draw.line(self._box(x, y + 7, x + 14, y + 7), colour, round(2.5 * SCALE))
            elif swatch == "bar":
                self.draw.rectangle(self._box(x + 3, y + 1, x + 11, y + 13), colour)
            elif swatch == "band":
                self.draw.rectangle(self._box(x, y + 2, x + 14, y + 12), _BAND_FILL)
                self.dashed(x, x + 14, y + 2, colour)
                self.dashed(x, x + 14, y + 12, colour)
            else:
                self.dashed(x, x + 14, y + 7, colour)
            x += 18
            self.text(x, y, label, _MUTED)
            x += self.draw.textlength(label, self.font) / SCALE + 16

    def png(self) -> bytes:
        """PNG bytes of a palette image: antialiased edges keep a few shades, and PNG compresses
        the result to a few KB. Pillow writes no timestamp, so equal drawings give equal bytes."""
        reduced = self.image.quantize(
            colors=48, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
        buffer = io.BytesIO()
        reduced.save(buffer, "PNG")
        return buffer.getvalue()


def _grid_step(y_max: int) -> int:
    """A round step that puts 2–5 grid lines above zero."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000):
        if y_max / step <= 5:
            return step
    return -(-y_max // 5)
