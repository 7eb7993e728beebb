"""The ticket kiosk: touch screen, Vietnamese ticket printing, dossier lookup, procedures."""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # a daemon's output is its log, not a greeting
