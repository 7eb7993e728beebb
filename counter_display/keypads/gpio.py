"""Buttons, a buzzer and an LED on GPIO pins, through gpiozero.

The pin factory is chosen by name from the settings, one factory per keypad:
``mock`` gives a laptop (or the demo's ten boxes in one process) its own
simulated pins, which tests press with ``pin.drive_low()``.
"""

from __future__ import annotations

import logging

from gpiozero import LED, Button, Buzzer

from ..config import GpioKeypadSettings
from . import Keypad

log = logging.getLogger("counter_display.keypad.gpio")


def pin_factory(name: str):
    """A gpiozero pin factory by name; None lets gpiozero choose (GPIOZERO_PIN_FACTORY)."""
    if name == "default":
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    if name == "pigpio":
        from gpiozero.pins.pigpio import PiGPIOFactory

        return PiGPIOFactory()
    from gpiozero.pins.native import NativeFactory

    return NativeFactory()


class GpioKeypad(Keypad):
    kind = "gpio"

    def __init__(self, settings: GpioKeypadSettings, factory=None):
        super().__init__()
        self.s = settings
        self.factory = factory if factory is not None else pin_factory(settings.pin_factory)
        bounce = settings.bounce_ms / 1000 or None
        self.buttons: dict[str, Button] = {}
        try:
            for token, pin in settings.buttons.items():
                button = Button(pin, pull_up=settings.pull_up, bounce_time=bounce, pin_factory=self.factory)
                button.when_pressed = lambda _btn=None, token=token: self._emit(token)
                self.buttons[token] = button
            self.buzzer = (Buzzer(settings.buzzer_pin, active_high=settings.buzzer_active_high,
                                  pin_factory=self.factory) if settings.buzzer_pin is not None else None)
            self.led = LED(settings.led_pin, pin_factory=self.factory) if settings.led_pin is not None else None
        except Exception:
            self.close()
            raise

    def pin(self, token: str):
        """The pin behind a key (a MockPin under the mock factory: ``drive_low()`` presses it)."""
        return self.buttons[token].pin

    def _signal(self, on_ms: int) -> None:
        for out in (self.buzzer, self.led):
            if out is not None:
                out.blink(on_time=on_ms / 1000, off_time=0.05, n=1, background=True)

    def accepted(self) -> None:
        self._signal(self.s.ok_beep_ms)

    def refused(self) -> None:
        self._signal(self.s.error_beep_ms)

    def status(self) -> str:
        outs = [f"buzzer on {self.s.buzzer_pin}"] if self.buzzer else []
        outs += [f"LED on {self.s.led_pin}"] if self.led else []
        return f"ok (gpio: {len(self.buttons)} buttons{', ' if outs else ''}{', '.join(outs)})"

    def close(self) -> None:
        for dev in [*self.buttons.values(), getattr(self, "buzzer", None), getattr(self, "led", None)]:
            if dev is not None:
                try:
                    dev.close()
                except Exception:  # noqa: BLE001
                    pass
