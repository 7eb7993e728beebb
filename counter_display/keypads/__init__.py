"""Keypads: every kind turns key presses into key meanings and gives the officer feedback.

One small interface (:class:`Keypad`), one module per hardware driver:
:mod:`.gpio` (buttons, buzzer and LED through gpiozero) and :mod:`.serial`
(USB or RS-232 keypads that send key codes, through pyserial). A key
meaning is one of the tokens :data:`counter_display.config.KEY_ACTIONS`, a
digit, or ``area:CODE``.
"""

from __future__ import annotations

from collections.abc import Callable


class Keypad:
    """gpiozero style: set ``when_key`` to a callable taking the key meaning."""

    kind = "keypad"

    def __init__(self) -> None:
        self.when_key: Callable[[str], None] | None = None

    def _emit(self, token: str) -> None:
        handler = self.when_key
        if handler is not None:
            handler(token)

    def accepted(self) -> None:
        """The dispatcher accepted the press: a short beep."""

    def refused(self) -> None:
        """Refused, timed out or offline: a long beep."""

    def status(self) -> str:
        """'ok …', 'fault …' or a degraded description, for the health message."""
        return "ok"

    def close(self) -> None:
        pass
