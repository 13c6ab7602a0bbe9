"""Email charts, decoded with Pillow: size and mode, bars and lines where the data puts them,
the same bytes for the same input, empty and one-point inputs, and the alt sentences."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image

from service.mail.charts import (
    _BAND_FILL,
    _BAR,
    _LINE,
    HEIGHT,
    MAX_BARS,
    SCALE,
    WIDTH,
    Chart,
    HealthPoint,
    Stay,
    arrivals_chart,
    health_trend_chart,
)

START = datetime(2025, 5, 12, 18, 0, tzinfo=UTC)
END = START + timedelta(hours=2)  # eight 15-minute buckets


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def decode(chart: Chart) -> Image.Image:
    image = Image.open(io.BytesIO(chart.png))
    image.load()
    return image


def pixels(chart: Chart, colour: tuple[int, int, int]) -> dict[int, list[int]]:
    """Column → rows of the pixels within a small distance of `colour` (the palette reduction
    may shift a colour by a few steps)."""
    image = decode(chart).convert("RGB")
    data, width = image.tobytes(), image.width
    red, green, blue = colour
    found: dict[int, list[int]] = {}
    for index in range(0, len(data), 3):
        if (
            abs(data[index] - red) + abs(data[index + 1] - green) + abs(data[index + 2] - blue)
            <= 24
        ):
            found.setdefault(index // 3 % width, []).append(index // 3 // width)
    return found


def runs(columns: dict[int, list[int]]) -> list[tuple[int, int, int]]:
    """Adjacent columns holding the colour, as (first column, last column, pixel count)."""
    found: list[tuple[int, int, int]] = []
    for x in sorted(columns):
        if found and found[-1][1] == x - 1:
            first, _, count = found[-1]
            found[-1] = (first, x, count + len(columns[x]))
        else:
            found.append((x, x, len(columns[x])))
    return found


def bars(chart: Chart) -> list[tuple[int, int, int]]:
    """The bars: grey runs right of the count labels, below the key and above the time labels."""
    plot_rows = range(24 * SCALE, (HEIGHT - 22) * SCALE)
    grey = pixels(chart, _BAR)
    in_plot = {x: [y for y in ys if y in plot_rows] for x, ys in grey.items() if x > 32 * SCALE}
    return runs({x: ys for x, ys in in_plot.items() if ys})


# --- arrivals ---


def test_an_arrivals_chart_is_a_small_palette_png_at_twice_its_display_size() -> None:
    chart = arrivals_chart(
        [Stay(at(5)), Stay(at(20), at(70))], UTC, start=START, end=END, band=(18, 30)
    )

    assert chart is not None
    image = decode(chart)
    assert image.format == "PNG"
    assert image.mode == "P"
    assert image.size == (WIDTH * SCALE, HEIGHT * SCALE)
    assert (chart.width, chart.height) == (560, 200)


def test_bars_stand_in_the_buckets_of_the_check_ins_and_grow_with_them() -> None:
    # Check-ins in buckets 1, 3 and 5 (of 0–7): one, ten and three. Each at its bucket's start,
    # so the head count line's rise passes beside the bar, not through it.
    stays = [Stay(at(15))] + [Stay(at(45)) for _ in range(10)] + [Stay(at(75)) for _ in range(3)]

    chart = arrivals_chart(stays, UTC, start=START, end=END)

    assert chart is not None
    (_, _, one), (_, _, ten), (_, _, three) = found = bars(chart)
    assert ten > three > one
    centres = [(first + last) / 2 for first, last, _ in found]
    # Every other bucket is empty: the bars stand two bucket widths apart, with nothing between.
    assert abs((centres[1] - centres[0]) - (centres[2] - centres[1])) <= 2


def test_the_head_count_line_rises_with_arrivals_and_falls_with_departures() -> None:
    # Twelve arrive at 18:30; ten of them leave at 19:20. Bars mark buckets 2 and 5 (19:15).
    stays = [Stay(at(30), at(80)) for _ in range(10)] + [Stay(at(30)), Stay(at(30)), Stay(at(75))]

    chart = arrivals_chart(stays, UTC, start=START, end=END)

    assert chart is not None
    (first, last, _), (second, _, _) = bars(chart)
    bucket = (second - first) / 3
    blue = pixels(chart, _LINE)

    def line_height(bucket_index: float) -> int:
        """Image rows are counted downwards: a smaller row is a higher head count."""
        x = round((first + last) / 2 + (bucket_index - 2) * bucket)
        return -min(blue[x])

    before, crowd, after = line_height(0.5), line_height(4), line_height(7)
    assert crowd > after > before


def test_the_recommended_band_is_shaded_only_when_given() -> None:
    stays = [Stay(at(10)) for _ in range(25)]

    with_band = arrivals_chart(stays, UTC, start=START, end=END, band=(18, 30))
    without = arrivals_chart(stays, UTC, start=START, end=END)

    assert with_band is not None
    assert without is not None
    assert sum(len(rows) for rows in pixels(with_band, _BAND_FILL).values()) > 10_000
    assert not pixels(without, _BAND_FILL)


def test_the_same_input_gives_the_same_bytes_with_no_timestamp() -> None:
    stays = [Stay(at(minute), at(minute + 60)) for minute in range(0, 90, 7)]

    first = arrivals_chart(stays, UTC, start=START, end=END, band=(5, 9), capacity=20)
    again = arrivals_chart(list(stays), UTC, start=START, end=END, band=(5, 9), capacity=20)

    assert first is not None
    assert first == again
    assert b"tIME" not in first.png
    assert b"tEXt" not in first.png


def test_a_busy_evening_stays_under_twenty_kilobytes() -> None:
    stays = [
        Stay(at(minute % 150 + minute / 997), at(minute % 150 + 30 + minute % 61))
        for minute in range(600)
    ]

    chart = arrivals_chart(stays, UTC, start=START, end=END, band=(18, 30), capacity=120)

    assert chart is not None
    assert len(chart.png) < 20_000


def test_no_check_ins_draw_no_chart() -> None:
    assert arrivals_chart([], UTC, start=START, end=END) is None


def test_a_single_check_in_without_start_or_end_still_draws() -> None:
    chart = arrivals_chart([Stay(at(7))], UTC)

    assert chart is not None
    assert bars(chart)
    assert chart.alt == (
        "1 person checked in, 1 of them between 18:00 and 18:15; head count peaked at 1 at 18:07."
    )


def test_a_check_in_right_at_the_end_gets_a_bucket_of_its_own() -> None:
    chart = arrivals_chart([Stay(START), Stay(END)], UTC, start=START, end=END)

    assert chart is not None
    assert len(bars(chart)) == 2


def test_a_long_gathering_gets_wider_buckets() -> None:
    stays = [Stay(at(minute)) for minute in range(0, 24 * 60, 45)] + [Stay(at(600))] * 3

    chart = arrivals_chart(stays, UTC, start=START, end=START + timedelta(hours=24))

    assert chart is not None
    # 24 h in 15-minute buckets would be 96 bars, past MAX_BARS; 30-minute ones fit.
    assert 24 * 4 > MAX_BARS >= 24 * 2
    assert "3 of them between 04:00 and 04:30" in chart.alt


def test_the_alt_text_says_the_peak_its_time_and_the_band_in_local_time() -> None:
    arrivals = [at(5)] * 4 + [at(20)] * 30 + [at(40)] * 8
    stays = [Stay(arrived, at(70) if index < 6 else None) for index, arrived in enumerate(arrivals)]

    chart = arrivals_chart(
        stays, ZoneInfo("Europe/Berlin"), start=START, end=END, band=(18, 30), capacity=60
    )

    assert chart is not None
    assert chart.alt == (
        "42 people checked in, 30 of them between 20:15 and 20:30; "
        "head count peaked at 42 at 20:40, above the recommended 18–30, room capacity 60."
    )


def test_the_alt_text_says_whether_the_peak_was_within_or_below_the_band() -> None:
    within = arrivals_chart([Stay(at(5))] * 20, UTC, start=START, end=END, band=(18, 30))
    below = arrivals_chart([Stay(at(5))] * 5, UTC, start=START, end=END, band=(18, 30))

    assert within is not None
    assert below is not None
    assert within.alt.endswith("peaked at 20 at 18:05, within the recommended 18–30.")
    assert below.alt.endswith("peaked at 5 at 18:05, below the recommended 18–30.")


def test_people_leaving_as_others_arrive_do_not_overstate_the_peak() -> None:
    stays = [Stay(at(10), at(40)) for _ in range(5)] + [Stay(at(40)) for _ in range(5)]

    chart = arrivals_chart(stays, UTC, start=START, end=END)

    assert chart is not None
    assert "head count peaked at 5 at 18:10." in chart.alt


# --- health trend ---


def weeks(*values: float) -> list[HealthPoint]:
    return [
        HealthPoint(date(2025, 3, 3) + timedelta(weeks=index), value)
        for index, value in enumerate(values)
    ]


def test_a_health_chart_is_a_palette_png_at_twice_its_display_size() -> None:
    chart = health_trend_chart(weeks(40, 55, 61))

    assert chart is not None
    image = decode(chart)
    assert image.mode == "P"
    assert image.size == (WIDTH * SCALE, HEIGHT * SCALE)
    assert len(chart.png) < 20_000


def test_the_health_line_climbs_where_the_score_does() -> None:
    chart = health_trend_chart(weeks(20, 50, 90))

    assert chart is not None
    blue = pixels(chart, _LINE)
    left, right = min(blue), max(blue)
    middle = (left + right) // 2
    assert min(blue[left + 2]) > min(blue[middle]) > min(blue[right - 2])


def test_a_single_reading_is_one_dot_in_the_middle() -> None:
    chart = health_trend_chart(weeks(62))

    assert chart is not None
    blue = pixels(chart, _LINE)
    assert max(blue) - min(blue) <= 8 * SCALE
    assert abs((min(blue) + max(blue)) / 2 - WIDTH * SCALE / 2) < 20 * SCALE
    assert chart.alt == "Group health is 62 as of 3 Mar; no trend yet."


def test_no_readings_draw_no_chart() -> None:
    assert health_trend_chart([]) is None


def test_the_health_alt_text_names_the_trend_its_ends_and_range() -> None:
    rising = health_trend_chart(weeks(54, 48, 60, 71))
    falling = health_trend_chart(weeks(80, 70.4))
    level = health_trend_chart(weeks(60, 75, 60))

    assert rising is not None
    assert falling is not None
    assert level is not None
    assert rising.alt == (
        "Group health rose from 54 on 3 Mar to 71 on 24 Mar over 4 readings, ranging 48–71."
    )
    assert falling.alt == (
        "Group health fell from 80 on 3 Mar to 70 on 10 Mar over 2 readings, ranging 70–80."
    )
    assert (
        level.alt == "Group health held at 60 from 3 Mar to 17 Mar over 3 readings, ranging 60–75."
    )


def test_health_values_outside_0_to_100_are_clamped_and_charts_repeat_exactly() -> None:
    chart = health_trend_chart(weeks(-5, 120))

    assert chart is not None
    assert chart.alt.startswith("Group health rose from 0 on 3 Mar to 100 on 10 Mar")
    assert chart == health_trend_chart(weeks(-5, 120))
