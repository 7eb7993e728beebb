"""Wiring diagrams for the technician's guide, drawn from the shipped settings (schemdraw, SVG).

    .venv/bin/python images/wiring.py            writes images/wiring-counter.svg, images/wiring-announcer.svg

The pins come from examples/counter_box.toml and examples/announcer.toml (the files the
bundle starts from), so a changed pin in the example changes the picture; the Raspberry Pi
header's BCM-to-physical map is the fixed 40-pin layout. tests/test_wiring.py checks the
committed pictures are the ones this script draws.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import schemdraw
import schemdraw.elements as elm

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"

# BCM GPIO number -> physical pin on the 40-pin header (every Pi since the B+)
PHYSICAL = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 5: 29, 6: 31, 13: 33, 19: 35, 26: 37,
            14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 12: 32, 16: 36, 20: 38, 21: 40}
FIVE_V, GROUND = 2, 6
SPI_PINS = {"MOSI": 10, "SCLK": 11, "CE0": 8, "CE1": 7}
KEY_NAMES = {"next": "NEXT (gọi số tiếp)", "recall": "RECALL (gọi lại)", "skip": "SKIP (bỏ qua)",
             "transfer": "TRANSFER (chuyển)", "finish": "FINISH (xong)", "open_close": "OPEN/CLOSE (mở/đóng quầy)",
             "pause_resume": "PAUSE (tạm dừng)"}


def pi_pin(bcm: int) -> str:
    return f"GPIO{bcm} (pin {PHYSICAL[bcm]})"


def _pi(d: schemdraw.Drawing, pins: list[tuple[str, str]]) -> elm.Ic:
    """The Pi's header as a box with the used pins on its right side."""
    ic = elm.Ic(pins=[elm.IcPin(name=label, anchorname=anchor, side="right") for anchor, label in pins],
                edgepadW=4.0, pinspacing=1.5, leadlen=0.6).label("Raspberry Pi (40-pin header)", loc="top",
                                                                    fontsize=13)
    return d.add(ic)


def counter(settings: dict) -> schemdraw.Drawing:
    gpio, matrix = settings["gpio"], settings["matrix"]
    buttons = dict(gpio["buttons"])
    ce = f"CE{matrix.get('spi_device', 0)}"
    pins = [("V5", f"5V (pin {FIVE_V})"), ("GND", f"GND (pin {GROUND})"),
            ("MOSI", f"MOSI {pi_pin(SPI_PINS['MOSI'])}"), ("SCLK", f"SCLK {pi_pin(SPI_PINS['SCLK'])}"),
            ("CE", f"{ce} {pi_pin(SPI_PINS[ce])}")]
    pins += [(f"K_{name}", pi_pin(int(pin))) for name, pin in buttons.items()]
    if gpio.get("buzzer_pin") is not None:
        pins.append(("BUZ", pi_pin(int(gpio["buzzer_pin"]))))
    d = schemdraw.Drawing(show=False)
    d.config(fontsize=11, unit=2)
    pi = _pi(d, pins)
    # the MAX7219 chain (FC-16 modules): five wires
    mod = elm.Ic(pins=[elm.IcPin(name=n, side="left") for n in ("VCC", "GND", "DIN", "CLK", "CS")],
                 edgepadW=2.2, pinspacing=1.5, leadlen=0.6).label(
        f"MAX7219 LED matrix, {matrix.get('modules', 4)} modules (FC-16), input side", loc="top", fontsize=12)
    d.add(mod.right().at((pi.V5[0] + 9, pi.V5[1])).anchor("VCC"))
    for a, b in (("V5", "VCC"), ("GND", "GND"), ("MOSI", "DIN"), ("SCLK", "CLK"), ("CE", "CS")):
        d.add(elm.Wire("-|").at(getattr(pi, a)).to(getattr(mod, b)))
    # each key: GPIO -> push button -> ground (the Pi's pull-up holds the pin high)
    for name in buttons:
        start = getattr(pi, f"K_{name}")
        d.add(elm.Line().right(1.5).at(start))
        d.add(elm.Button().right().label(KEY_NAMES.get(name, name), loc="top", fontsize=10))
        d.add(elm.Line().right(0.5))
        d.add(elm.Ground().right())
    if gpio.get("buzzer_pin") is not None:
        d.add(elm.Line().right(1.5).at(pi.BUZ))
        d.add(elm.Speaker().right().label("active buzzer (+)", loc="top", fontsize=10))
        d.add(elm.Line().right(0.5))
        d.add(elm.Ground().right())
    return d


def announcer(settings: dict) -> schemdraw.Drawing:
    relay_pin = int(settings["amplifier"]["relay_pin"])
    pins = [("V5", f"5V (pin {FIVE_V})"), ("GND", f"GND (pin {GROUND})"), ("RELAY", pi_pin(relay_pin)),
            ("AUDIO", "3.5 mm jack / USB sound card")]
    d = schemdraw.Drawing(show=False)
    d.config(fontsize=11, unit=2)
    pi = _pi(d, pins)
    mod = elm.Ic(pins=[elm.IcPin(name=n, side="left") for n in ("VCC", "GND", "IN")]
                 + [elm.IcPin(name=n, side="right") for n in ("COM", "NO")],
                 edgepadW=2.0, pinspacing=1.5, leadlen=0.6).label("relay module (5 V coil, 230 V contacts)",
                                                                  loc="top", fontsize=12)
    d.add(mod.right().at((pi.V5[0] + 8, pi.V5[1])).anchor("VCC"))
    for a, b in (("V5", "VCC"), ("GND", "GND"), ("RELAY", "IN")):
        d.add(elm.Wire("-|").at(getattr(pi, a)).to(getattr(mod, b)))
    d.add(elm.Line().right(2).at(mod.COM).label("230 V mains (L)", loc="top", fontsize=10))
    d.add(elm.Line().right(2).at(mod.NO).label("to the amplifier's power (L)", loc="bottom", fontsize=10))
    d.add(elm.Line().right(4).at(pi.AUDIO))
    d.add(elm.Speaker().right().label("amplifier line in → speakers", loc="top", fontsize=10))
    return d


DIAGRAMS = {"counter": ("counter_box.toml", counter), "announcer": ("announcer.toml", announcer)}


def draw_all(out_dir: Path = HERE) -> list[Path]:
    written = []
    for name, (example, draw) in DIAGRAMS.items():
        settings = tomllib.loads((EXAMPLES / example).read_text(encoding="utf-8"))
        target = out_dir / f"wiring-{name}.svg"
        target.write_bytes(draw(settings).get_imagedata("svg"))
        written.append(target)
    return written


if __name__ == "__main__":
    schemdraw.use("svg")
    for path in draw_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(path)
