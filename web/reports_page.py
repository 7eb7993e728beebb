"""The console's Reports page: waits for the shared report code (package ``reports``)."""

from __future__ import annotations


def routes(settings, renderer):
    return None
