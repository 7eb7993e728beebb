"""The guide's wiring pictures are drawn from the shipped settings: a changed pin changes the picture."""

from __future__ import annotations

import importlib.util
import re

from motcua.localbroker import REPO


def _wiring():
    spec = importlib.util.spec_from_file_location("wiring", REPO / "images" / "wiring.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_pictures_are_the_ones_drawn_from_the_examples(tmp_path):
    import schemdraw

    schemdraw.use("svg")
    for path in _wiring().draw_all(tmp_path):
        committed = REPO / "images" / path.name
        assert committed.read_bytes() == path.read_bytes(), \
            f"images/{path.name} is stale: run .venv/bin/python images/wiring.py"


def test_the_counter_picture_names_every_configured_pin():
    import tomllib

    svg = (REPO / "images" / "wiring-counter.svg").read_text()
    gpio = tomllib.loads((REPO / "examples" / "counter_box.toml").read_text())["gpio"]
    for pin in [*gpio["buttons"].values(), gpio["buzzer_pin"], 10, 11, 8]:
        assert re.search(rf"GPIO{pin} \(pin \d+\)", svg), pin
    assert "MOSI" in svg and "DIN" in svg and "VCC" in svg
