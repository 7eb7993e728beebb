"""The kiosk as an elderly citizen meets it: touches counted on the drawn screens, targets measured in
millimetres on the shipped panels, the ticket's letter on every area button, closed areas said so."""

from __future__ import annotations

import os
import time

os.environ["SDL_VIDEODRIVER"] = "dummy"

import pygame  # noqa: E402
import pytest  # noqa: E402

from kiosk_ticket.app import KioskScreen  # noqa: E402
from kiosk_ticket.config import KioskSettings  # noqa: E402
from kiosk_ticket.model import KEYPAD_ROWS  # noqa: E402
from kiosk_ticket.screenshots import sample_dossier, sample_hall_config, sample_reply, sample_summaries  # noqa: E402
from kiosk_ticket.service import KioskService  # noqa: E402

MIN_TARGET_MM = 15.0  # the size an unsteady fingertip hits first time
# the panels the kiosk ships with (docs/kiosk.md): a 32-inch portrait or landscape totem
SHIPPED = [((1080, 1920), 32.0), ((1920, 1080), 32.0)]


def make(tmp_path, size=(1080, 1920), diagonal=32.0, **settings) -> KioskScreen:
    s = KioskSettings(device_id="kiosk-1", screen={"fullscreen": False, "diagonal_in": diagonal},
                      timeouts={"debounce_ms": 0}, printer={"counter_file": tmp_path / "n.json"}, **settings)
    service = KioskService(s)  # not started: the effects are collected, never sent
    screen = KioskScreen(service, pygame.Surface(size))
    config = sample_hall_config()
    service.hall_config(config)
    for summary in sample_summaries(config):
        service.area_summary(summary)
    screen.redraw()
    return screen


class Finger:
    """Touches the screen where a target is drawn, and counts the touches; what the kiosk asked for is kept."""

    def __init__(self, screen: KioskScreen):
        self.screen = screen
        self.touches = 0
        self.effects = []
        model = screen.service.model
        tap = model.tap

        def recording_tap(target, now):
            changed, effect = tap(target, now)
            if effect is not None:
                self.effects.append(effect)
            return changed, None  # nothing is sent: no dispatcher here

        model.tap = recording_tap

    def __call__(self, target: str) -> None:
        assert target in self.screen.targets, f"{target} is not on the {self.screen.service.view.screen} screen"
        self.screen.handle_point(self.screen.targets[target].center)
        self.screen.redraw()
        self.touches += 1


def test_a_number_in_two_touches_from_home(tmp_path):
    screen = make(tmp_path)
    finger = Finger(screen)
    finger("idle")
    finger.touches = 0  # from home
    finger("home:take")
    finger("area:DD")
    assert finger.touches == 2 and [(e.area, e.priority) for e in finger.effects] == [("DD", None)]
    assert screen.service.view.screen == "issuing"


def test_a_priority_number_in_four_touches_chosen_before_printing(tmp_path):
    screen = make(tmp_path)
    finger = Finger(screen)
    finger("idle")
    finger.touches = 0
    finger("home:take")
    assert "priority" in screen.targets  # its own button, above the areas: not under a confirm button
    assert screen.targets["priority"].bottom < min(r.top for n, r in screen.targets.items() if n.startswith("area:"))
    finger("priority")
    finger("cat:elderly")
    assert not finger.effects and screen.service.view.priority == ("elderly", "Người cao tuổi")
    finger("area:TP")
    assert finger.touches == 4 and [(e.area, e.priority) for e in finger.effects] == [("TP", "elderly")]


def test_a_one_area_hall_prints_from_home(tmp_path):
    screen = make(tmp_path)
    service = screen.service
    config = sample_hall_config()
    service.hall_config(config.model_copy(update={"areas": config.areas[:1]}))
    screen.redraw()
    finger = Finger(screen)
    finger("idle")
    assert {"home:take", "home:priority"} <= set(screen.targets)
    finger("home:take")
    assert [(e.area, e.priority) for e in finger.effects] == [("TP", None)]


def test_every_area_button_shows_the_tickets_letter(tmp_path):
    screen = make(tmp_path)
    Finger(screen)("idle")
    Finger(screen)("home:take")
    config = sample_hall_config()
    white = screen.service.settings.screen.colours.button_text
    painter = screen.painter
    for a in config.areas:
        rect = screen.targets[f"area:{a.code}"]
        # the letter's square sits on the left of the button, the letter drawn in it in the button's colour
        square = pygame.Rect(rect.left + 10, rect.top + 10, rect.height - 20, rect.height - 20)
        letter = painter.font(10, True).get_rect(a.prefix)
        assert letter.width > 0
        shown = pygame.Surface(square.size)
        shown.blit(screen.surface, (0, 0), square)
        assert any(shown.get_at((x, y))[:3] == white for x in range(0, square.width, 4)
                   for y in range(0, square.height, 4)), a.code
    assert [a.prefix for a in screen.service.view.areas] == [a.prefix for a in config.areas]


@pytest.mark.parametrize("policy", ["issue", "refuse"])
def test_an_area_with_no_open_counter_is_shown_and_the_ticket_says_so(tmp_path, policy):
    from kiosk_ticket.ticket_render import ticket_lines

    screen = make(tmp_path, flow={"closed_area": policy})
    service = screen.service
    closed = next(a for a in service.view.areas if a.closed)
    finger = Finger(screen)
    finger("idle")
    finger("home:take")
    finger(f"area:{closed.code}")
    if policy == "refuse":
        assert not finger.effects and service.view.screen == "error"
        assert "chưa có quầy nào mở" in service.view.message
        return
    assert finger.effects[0].area == closed.code
    reply = sample_reply(number="E5001", area=closed.code, priority=None)
    with service._lock:
        service._after(service.model.issued(reply, time.monotonic()), None)
    assert service.view.ticket.area_closed
    lines = " ".join(ticket_lines(service.ticket_content(reply), service.settings.texts, 42))
    assert "chưa có quầy mở" in lines  # the raster ticket draws the same words from the same content


def test_the_keypad_is_laid_out_for_dossier_codes(tmp_path):
    screen = make(tmp_path)
    finger = Finger(screen)
    finger("idle")
    finger("home:dossier")
    digits = [screen.targets[f"key:{d}"] for d in KEYPAD_ROWS[0]]
    assert len({r.top for r in digits}) == 1 and KEYPAD_ROWS[0] == "1234567890"  # all ten on one row
    assert {"key:-", "key:.", "key:/", "key:_"} <= set(screen.targets)
    for key in "000.00.17.H57-260225-0042":
        finger(f"key:{key}")
    assert screen.service.view.typed == "000.00.17.H57-260225-0042"


def test_no_result_yet_is_a_notice_not_a_button(tmp_path):
    screen = make(tmp_path)
    service = screen.service
    with service._lock:
        service._after(service.model.looked_up(sample_dossier(), "H57-0042", time.monotonic()), None)
    screen.redraw()
    assert not service.view.dossier.ready
    nav = service.settings.screen.colours.nav
    footer = min(r.top for r in screen.targets.values())
    body = pygame.Rect(0, 0, screen.surface.get_width(), footer - 10)
    filled = sum(1 for x in range(body.left, body.right, 4) for y in range(body.top, body.bottom, 4)
                 if screen.surface.get_at((x, y))[:3] == nav)
    assert filled == 0, "the notice is drawn like the navigation buttons"
    assert set(screen.targets) == {"nav:back", "nav:home"}


def walk(screen: KioskScreen):
    """Every screen the citizen can reach, as (name, targets)."""
    service = screen.service
    finger = Finger(screen)

    def now_done(fn, *args):
        with service._lock:
            service._after(fn(*args, time.monotonic()), None)
        screen.redraw()

    yield "idle", dict(screen.targets)
    for path in (["idle"], ["home:take"], ["priority"], ["cat:elderly"]):
        for t in path:
            finger(t)
        yield service.view.screen, dict(screen.targets)
    now_done(service.model.issue_failed, "paper_out")
    yield "error", dict(screen.targets)
    finger("nav:home")
    finger("home:dossier")
    yield "dossier", dict(screen.targets)
    now_done(lambda now: service.model.looked_up(sample_dossier(), "H57-0042", now))
    yield "dossier_result", dict(screen.targets)
    finger("nav:home")
    for t in ("home:procedures", "parea:DD", "proc:DD-01"):
        finger(t)
        yield service.view.screen, dict(screen.targets)


@pytest.mark.parametrize("size,diagonal", SHIPPED, ids=lambda v: str(v))
def test_every_target_is_at_least_15_mm_on_the_shipped_panels(tmp_path, size, diagonal):
    screen = make(tmp_path, size, diagonal)
    px_mm = screen.service.settings.screen.px_per_mm(size)
    seen = set()
    for name, targets in walk(screen):
        seen.add(name)
        for target, rect in targets.items():
            mm = min(rect.width, rect.height) / px_mm
            assert mm >= MIN_TARGET_MM, f"{name} {target}: {mm:.1f} mm"
    assert {"idle", "home", "areas", "priority", "error", "dossier", "proc_detail"} <= seen


def test_every_touch_ticks_and_the_printed_number_is_spoken(tmp_path):
    """The kiosk's own speaker: a tick for each touch that did something, the number in the announcer's words."""
    from announcer import voicepack as vp
    from announcer.numbers import ticket_words
    from announcer.touch import TICK

    pack = tmp_path / "pack"
    vp.synthetic(pack, vp.required_words(), rate=8000, word_ms=20)
    screen = make(tmp_path, sound={"pack": pack, "driver": "dummy", "tick_ms": 20})
    service = screen.service
    sounds = service.sounds
    sounds.start()
    try:
        finger = Finger(screen)
        finger("idle")
        assert sounds.wait_idle()
        finger("home:take")
        assert sounds.wait_idle()
        assert [k for k in sounds.heard] == [[TICK], [TICK]]
        sounds.number("B2013")
        assert sounds.wait_idle() and sounds.error is None
        assert sounds.heard[-1] == [vp.normalise_key(w) for w in ticket_words("B2013")]
    finally:
        sounds.close()


def test_the_speaker_really_sounds(tmp_path, monkeypatch):
    """Through a real mixer (SDL's disk audio driver: the samples a speaker would get, in a file): the tick and
    the spoken number reach the output as sound, not only as a record of what was asked."""
    from array import array

    from announcer import voicepack as vp

    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")  # the player names its driver in the environment: put it back
    pack = tmp_path / "pack"
    vp.synthetic(pack, vp.required_words(), rate=8000, word_ms=40)
    out = tmp_path / "speaker.raw"
    screen = make(tmp_path, sound={"pack": pack, "driver": "disk", "device": str(out), "tick_ms": 60})
    sounds = screen.service.sounds
    sounds.start()
    try:
        Finger(screen)("idle")
        assert sounds.wait_idle() and sounds.error is None
        sounds.number("B2013")
        assert sounds.wait_idle() and sounds.error is None and sounds.played == 2
    finally:
        sounds.close()
    samples = array("h", out.read_bytes()[: out.stat().st_size // 2 * 2])
    audible = sum(1 for v in samples if abs(v) > 300)
    assert audible / 8000 >= 0.05 + 0.2, f"only {audible / 8000:.2f} s of sound reached the speaker"


def test_a_speaker_that_will_not_open_is_not_tried_on_every_touch(tmp_path, monkeypatch):
    """No sound device: the first touch finds out, the next ones stay silent without trying again (each try
    of SDL's drivers costs the screen time and leaks memory), and the kiosk goes on."""
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    screen = make(tmp_path, sound={"driver": "no-such-driver", "retry_s": 600})
    sounds = screen.service.sounds
    sounds.start()
    try:
        finger = Finger(screen)
        finger("idle")
        assert sounds.wait_idle() and sounds.error and "unavailable" in sounds.error
        player = sounds._player
        tries = []
        opening = player.open
        player.open = lambda: (tries.append(1), opening())[1]
        finger("home:take")
        finger("nav:back")
        assert sounds.wait_idle() and not tries and sounds.played == 0 and sounds.dropped >= 3
        assert screen.service.view.screen == "home"
    finally:
        sounds.close()


def test_sounds_off_by_setting(tmp_path):
    screen = make(tmp_path, sound={"enabled": False})
    sounds = screen.service.sounds
    sounds.start()
    Finger(screen)("idle")
    assert sounds.wait_idle(1) and not sounds.heard


def test_a_days_numbers_do_not_grow_the_text_cache(tmp_path):
    """Each printed number is drawn once at 300 pt (about 1 MB): the cache keeps a bounded number of bytes."""
    from motcua.touchscreen import Fonts

    fonts = Fonts(KioskSettings().screen, max_bytes=8 << 20)
    for n in range(1001, 1101):
        fonts(330, True).image(f"A{n}", (176, 30, 35))
    assert fonts.bytes <= 8 << 20
    assert fonts(330, True).get_rect("A1100").width > 0


def test_large_text_and_high_contrast_switched_on_screen(tmp_path):
    screen = make(tmp_path)
    service = screen.service
    finger = Finger(screen)
    finger("idle")
    normal = screen.service.settings.screen.colours
    assert screen.surface.get_at((5, screen.surface.get_height() // 2))[:3] == normal.background
    finger("mode:large")
    hc = service.settings.screen.high_contrast
    assert service.view.large and screen.surface.get_at((5, screen.surface.get_height() // 2))[:3] == hc.background
    assert screen.painter.font(40).size == int(40 * service.settings.screen.large_text_scale)
    px_mm = service.settings.screen.px_per_mm(screen.surface.get_size())
    for target in ("home:take", "area:DD"):  # the mode stays while this citizen goes on, targets still large
        finger(target) if target != "area:DD" else None
        assert all(min(r.size) / px_mm >= MIN_TARGET_MM for r in screen.targets.values())
    assert service.view.large and service.view.screen == "areas"
    finger("nav:home")
    finger("mode:large")
    assert not service.view.large
    finger("mode:large")
    with service._lock:  # left alone: the next citizen finds the usual screen
        service._after(service.model.tick(time.monotonic() + 10_000), None)
        service._after(service.model.tick(time.monotonic() + 20_000), None)
    assert service.view.screen == "idle" and not service.view.large


@pytest.mark.parametrize("minutes", [0, 1, 4])
def test_no_zero_minutes_on_the_screen_or_the_ticket(tmp_path, minutes):
    from kiosk_ticket.ticket_render import ticket_lines

    screen = make(tmp_path)
    service = screen.service
    reply = sample_reply().model_copy(update={"estimated_wait_min": minutes, "waiting_ahead": 0})
    with service._lock:
        service._after(service.model.issued(reply, time.monotonic()), None)
    screen.redraw()
    t = service.view.ticket
    said = [service.settings.texts.wait_text(t.estimated_wait_min)]
    said += ticket_lines(service.ticket_content(reply), service.settings.texts, 42)
    assert not [s for s in said if " 0 phút" in f" {s}"], said
    assert any("dưới 5 phút" in s for s in said)


def test_a_kiosk_without_a_printer_offers_lookup_and_procedures_only(tmp_path):
    screen = make(tmp_path, flow={"issue_tickets": False})
    finger = Finger(screen)
    finger("idle")
    assert {t for t in screen.targets if t.startswith("home:")} == {"home:dossier", "home:procedures"}
    screen.service.tap("home:take")  # even a stray target name issues nothing
    assert screen.service.view.screen == "home" and not finger.effects
    assert screen.service._checks()["printer"].startswith("ok: none")
    finger("home:procedures")
    assert screen.service.view.screen == "proc_areas"


@pytest.mark.parametrize("size,diagonal", SHIPPED, ids=lambda v: str(v))
def test_search_procedures_by_name_typed_on_screen(tmp_path, size, diagonal):
    screen = make(tmp_path, size, diagonal)
    service = screen.service
    finger = Finger(screen)
    for t in ("idle", "home:procedures", "search"):
        finger(t)
    assert service.view.screen == "proc_search"
    wanted = next(p for p in service.model._procedures() if "khai sinh" in p.name.lower())
    for key in "KHAI":
        finger(f"skey:{key}")
    finger("skey:space")
    for key in "SINH":
        finger(f"skey:{key}")
    assert service.view.query == "KHAI SINH"
    px_mm = service.settings.screen.px_per_mm(size)
    assert all(min(r.size) / px_mm >= MIN_TARGET_MM for r in screen.targets.values())
    finger(f"proc:{wanted.code}")
    assert service.view.screen == "proc_detail" and service.view.procedure.code == wanted.code
    finger("nav:back")
    assert service.view.screen == "proc_search" and service.view.query == "KHAI SINH"
