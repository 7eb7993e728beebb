"""A real X server for the screen tests and the benchmark: Xvfb at a given size, no window manager."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager

from motcua.localbroker import stop_process


@contextmanager
def xvfb(width: int, height: int):
    """Start ``Xvfb`` (24-bit) at ``width``x``height``; yields the DISPLAY string."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is missing (Debian: xvfb)")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24",
                             "-nolisten", "tcp", "-noreset"], pass_fds=(write,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as f:
            number = f.readline().strip()  # Xvfb writes its display number once it accepts clients
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        stop_process(proc, timeout=5)
