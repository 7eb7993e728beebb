"""The LED matrix frames, as a person would see them: ASCII art from luma's dummy device."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from luma.core.device import dummy

from counter_display.config import CounterBoxSettings, MatrixSettings
from counter_display.display import MatrixDisplay
from counter_display.matrix import Content, MatrixPainter, ascii_art, brightness_at
from motcua.settings import SettingsError, load_settings


def show(content: Content, now: float = 0.0, **settings) -> str:
    """Draw ``content`` at ``now`` through MatrixDisplay onto a dummy device; the frame as ASCII art."""
    m = MatrixSettings(driver="dummy", **settings)
    device = dummy(width=m.width, height=m.height, mode="1")
    display = MatrixDisplay(m, device, clock=lambda: now)
    display.show(content)
    display.draw(now)
    return ascii_art(device.image)


def test_a_number_fills_four_modules_in_the_plain_font():
    assert show(Content("1023")) == "\n".join([
        "..##.....#####...####....####...",
        ".###....##...##.##..##..##..##..",
        "..##....##...##.....##......##..",
        "..##....##...##...###.....###...",
        "..##....##...##..##.........##..",
        "..##....##...##.##..##..##..##..",
        "######...#####..######...####...",
        "................................",
    ])


def test_a_prefixed_number_takes_the_first_font_it_fits():
    # A1023 is 40 columns in CP437 and 36 proportional: the proportional LCD font (28) fits 32
    painter = MatrixPainter(MatrixSettings())
    assert painter.fit("A1023") == ("lcd_proportional", 28, False)
    assert show(Content("A1023")) == "\n".join([
        "...###...#...###...###..#####...",
        "..#...#.##..#...#.#...#....#....",
        "..#...#..#..#...#.....#...#.....",
        "..#...#..#..#...#....#.....#....",
        "..#####..#..#...#...#.......#...",
        "..#...#..#..#...#..#....#...#...",
        "..#...#.###..###..#####..###....",
        "................................",
    ])


def test_eight_modules_show_a_prefixed_number_in_the_plain_font():
    art = show(Content("A1023"), modules=8)
    assert len(art.splitlines()[0]) == 64
    assert MatrixPainter(MatrixSettings(modules=8)).fit("A1023") == ("cp437", 40, False)


def test_a_number_too_wide_scrolls_one_column_per_step():
    settings = dict(fonts=["cp437"], scroll_step_ms=100, scroll_gap=8)
    painter = MatrixPainter(MatrixSettings(**settings))
    content = Content("A1023")  # 40 columns in CP437: does not fit 32
    assert painter.fit("A1023") == ("cp437", 40, True)
    first, later = show(content, 0.0, **settings), show(content, 0.5, **settings)
    shift = lambda art, n: "\n".join(row[n:] for row in art.splitlines())  # noqa: E731
    assert shift(first, 5) == "\n".join(row[:-5] for row in later.splitlines())  # 0.5 s = 5 columns left
    assert painter.next_change(content, 0.05) == pytest.approx(0.1)
    # a full cycle (40 columns + 8 blank) brings the first frame back
    assert show(content, 4.8, **settings) == first


def test_closed_shows_the_configured_text_and_nothing_moves():
    art = show(Content("OFF"), closed_text="OFF")
    assert art.splitlines()[0] == "......###...#######.#######....."
    assert MatrixPainter(MatrixSettings()).next_change(Content("OFF"), 0.0) is None  # static: the thread sleeps


def test_no_font_draws_a_slashed_zero():
    # a plain oval: every row between the top and the bottom is lit only at its two sides
    for font in ("cp437", "cp437_proportional", "lcd_proportional", "sinclair", "speccy", "tiny"):
        rows = [r.strip(".") for r in show(Content("0"), fonts=[font]).splitlines() if "#" in r]
        inner = rows[1:-1]
        assert inner and all("." not in r.strip("#") or set(r.strip("#")) == {"."} for r in inner), (font, rows)
        assert len({r for r in inner}) == 1, (font, rows)  # the same row all the way down: no diagonal


@pytest.mark.parametrize("modules, closed, paused", [
    (4, [
        "##...##...####..##..##...####...",
        "###..##..##..##.##..##....##....",
        "####.##.##......##..##....##....",
        "##.####.##......######....##....",
        "##..###.##..###.##..##....##....",
        "##...##..##..##.##..##....##....",
        "##...##...#####.##..##...####...",
        "................................",
    ], [
        "................................",
        "###..#..#.#......##..##.#.#.###.",
        ".#..#.#.###.....#.#.#...#.#..#..",
        ".#..###.###.....#.#.#.#.###..#..",
        ".#..#.#.#.#.....#.#.#.#.#.#..#..",
        ".#..#.#.#.#.....#.#..##.#.#.###.",
        "................................",
        "................................",
    ]),
    (8, [
        "...####..##..##...##...##..##.....##...##...####..##..##.####...",
        "..##..##.##..##..####..##..##.....###..##..##..##.##..##..##....",
        "..##..##.##..##.##..##.##..##.....####.##.##......##..##..##....",
        "..##..##.##..##.##..##..####......##.####.##......######..##....",
        "..##.###.##..##.######...##.......##..###.##..###.##..##..##....",
        "...####..##..##.##..##...##.......##...##..##..##.##..##..##....",
        ".....###.######.##..##..####......##...##...#####.##..##.####...",
        "................................................................",
    ], [
        "######....##....##...##.........##...##...####..##..##...####...",
        "#.##.#...####...###.###.........###..##..##..##.##..##....##....",
        "..##....##..##..#######.........####.##.##......##..##....##....",
        "..##....##..##..#######.........##.####.##......######....##....",
        "..##....######..##.#.##.........##..###.##..###.##..##....##....",
        "..##....##..##..##...##.........##...##..##..##.##..##....##....",
        ".####...##..##..##...##.........##...##...#####.##..##...####...",
        "................................................................",
    ]),
])
def test_closed_and_paused_read_as_vietnamese_and_fit_without_scrolling(modules, closed, paused):
    # NGHI / QUAY NGHI (nghỉ: not serving) and TAM NGHI (tạm nghỉ: back shortly): words a Vietnamese
    # reader knows without their marks, where "X" and "- -" meant nothing
    m = MatrixSettings(modules=modules)
    assert (m.closed_text, m.paused_text) == ("NGHI" if modules == 4 else "QUAY NGHI", "TAM NGHI")
    painter = MatrixPainter(m)
    for text, art in ((m.closed_text, closed), (m.paused_text, paused)):
        assert not painter.fit(text)[2]  # fits: it holds still
        assert show(Content(text), modules=modules) == "\n".join(art)


def test_offline_marker_is_a_dotted_bottom_row_and_keeps_the_number_legible():
    plain, marked = show(Content("1023")), show(Content("1023", marker=True))
    assert marked.splitlines()[:7] == plain.splitlines()[:7]
    assert marked.splitlines()[7] == "#." * 16
    corner = show(Content("1023", marker=True), offline_marker="corner").splitlines()
    assert [row[-3:] for row in corner[5:]] == ["...", ".##", ".##"]  # a block in a blanked corner


def test_a_call_blinks_the_configured_number_of_times_then_holds():
    s = dict(blink_count=2, blink_on_ms=300, blink_off_ms=200)
    content = Content("1023", blink_from=10.0)
    lit = show(Content("1023"))
    dark = "\n".join(["." * 32] * 8)
    # on 300 ms, off 200 ms, twice; then it holds
    seq = [show(content, 10.0 + t, **s) for t in (0.0, 0.35, 0.55, 0.85, 1.05, 5.0)]
    assert seq == [lit, dark, lit, dark, lit, lit]
    painter = MatrixPainter(MatrixSettings(**s))
    assert painter.next_change(content, 10.1) == pytest.approx(10.3)
    assert painter.next_change(content, 10.9) == pytest.approx(11.0)
    assert painter.next_change(content, 11.1) is None


def test_display_draws_only_when_the_frame_changes():
    m = MatrixSettings(driver="dummy")
    device = dummy(width=32, height=8, mode="1")
    display = MatrixDisplay(m, device)
    display.show(Content("1023"))
    display.draw(0.0)
    display.draw(1.0)
    display.draw(2.0)
    assert display.frames == 1
    display.show(Content("1024"))
    display.draw(3.0)
    assert display.frames == 2


def test_brightness_follows_the_schedule_in_the_hall_time_zone():
    m = MatrixSettings(brightness_schedule=[{"from": "06:00", "level": 200}, {"from": "18:30", "level": 20}])
    at = lambda h, mi: datetime(2026, 3, 2, h - 7 if h >= 7 else h + 17, mi, tzinfo=timezone.utc)  # noqa: E731
    assert brightness_at(m.brightness_schedule, 64, at(9, 0), m.timezone) == 200
    assert brightness_at(m.brightness_schedule, 64, at(19, 0), m.timezone) == 20
    assert brightness_at(m.brightness_schedule, 64, at(5, 0), m.timezone) == 20  # still last evening's
    device = dummy(width=32, height=8, mode="1")
    seen = []
    device.contrast = seen.append
    MatrixDisplay(m, device, wall=lambda: at(9, 0)).draw(0.0)
    assert seen == [200]


@pytest.mark.parametrize("table, key, message", [
    ("[matrix]\nclosed_text = \"Đóng\"\n", "matrix.closed_text", "ASCII"),
    ("[matrix]\nfonts = [\"comic\"]\n", "matrix.fonts", "unknown font"),
    ("[matrix]\nmodulez = 4\n", "matrix.modulez", "unknown key"),
    ("[gpio]\nbuttons = { next = 17, nxt = 27 }\n", "gpio.buttons", "not a key meaning"),
    ("[serial_keypad]\nkeys = { \"N\" = \"jump\" }\n", "serial_keypad.keys", "not a key meaning"),
])
def test_settings_errors_name_the_key(tmp_path, monkeypatch, table, key, message):
    for var in [v for v in __import__("os").environ if v.startswith("MOTCUA_")]:
        monkeypatch.delenv(var)
    path = tmp_path / "counter.toml"
    path.write_text(f'device_id = "counter-1"\nofficer = "lan"\n{table}', encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings(CounterBoxSettings, "counter", path)
    assert key in str(err.value) and message in str(err.value)


def test_open_key_needs_an_officer():
    with pytest.raises(ValueError, match="officer"):
        CounterBoxSettings(gpio={"pin_factory": "mock"})
