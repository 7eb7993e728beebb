"""motcua: controller daemons for a Vietnamese one-stop public service hall."""

from importlib.metadata import PackageNotFoundError, version

try:
    # the installed release's own version: what a box reports in its health and `motcua status` shows
    __version__ = version("motcua")
except PackageNotFoundError:  # run from a checkout without installing
    __version__ = "0.0.0+checkout"
