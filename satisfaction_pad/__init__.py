"""The satisfaction pad: the citizen rates the service at the counter; no rating lost or counted twice."""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # keep the journal free of pygame's banner
