"""motcua: controller daemons for a Vietnamese one-stop public service hall."""

__version__ = "0.1.0"
