"""Using the second core while a report is made: the writers imported while the database is read,
and the PDF drawn by a forked copy of this process while this one writes the rest.

Both only help a process that does nothing else: the imports run on a thread of their own (the
readers hold no GIL while SQLite works), and a fork happens only when this process runs a single
thread (a fork copies one thread, never the locks another one holds: a web server or a daemon
with MQTT threads writes its files one after the other, as before).
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import threading
import traceback
from collections.abc import Callable
from typing import Any

# what each format's writer imports (matplotlib takes about 0.6 s of CPU to import, openpyxl 0.1 s)
WRITERS = {"xlsx": (".xlsx",), "pdf": (".charts", "matplotlib.backends.backend_pdf"), "png": (".charts",),
           "csv": (".csvout",)}

_preloading: threading.Thread | None = None


def preload(formats: tuple[str, ...]) -> None:
    """Start importing the writers of ``formats`` on a background thread (once), so that the
    import runs while the records are read; ``wait_preloaded`` (``write_all`` calls it) joins it."""
    global _preloading
    if _preloading is not None:
        return
    names = list(dict.fromkeys(m for f in formats for m in WRITERS.get(f, ())))

    def run() -> None:
        for name in names:
            try:
                importlib.import_module(name, __package__)
            except Exception:  # noqa: BLE001 - write_all imports it again and says what is wrong
                return

    _preloading = threading.Thread(target=run, name="motcua-report-preload", daemon=True)
    _preloading.start()


def wait_preloaded() -> None:
    global _preloading
    if _preloading is not None:
        _preloading.join()
        _preloading = None


def can_fork() -> bool:
    """A forked child can run the work: this platform forks, this process runs one thread, and
    there is a second core for it."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return cores > 1


class Child:
    """Work running in a forked child; ``result()`` waits for it and returns what it returned,
    or raises what it raised (an OSError stays an OSError, for the caller's message)."""

    def __init__(self, work: Callable[[], Any]) -> None:
        read, write = os.pipe()
        # the child's garbage collections leave the parent's objects alone (not copying the pages
        # they live on just to count references)
        freeze = gc.get_freeze_count() == 0  # (and leave alone what a caller froze itself)
        if freeze:
            gc.freeze()
        try:
            pid = os.fork()
        except BaseException:
            if freeze:
                gc.unfreeze()
            raise
        if pid == 0:  # the child: never returns into the caller's code
            os.close(read)
            code = 0
            try:
                try:
                    payload = pickle.dumps((True, work()))
                except BaseException as exc:  # noqa: BLE001 - handed to the parent, raised there
                    code = 1
                    exc.add_note("in the report's writer process:\n" + "".join(traceback.format_exc()))
                    try:
                        payload = pickle.dumps((False, exc))
                    except Exception:  # noqa: BLE001 - an exception that does not pickle: its words
                        payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
            finally:
                os._exit(code)  # no atexit handlers, no flushing of the parent's buffers
        if freeze:
            gc.unfreeze()
        os.close(write)
        self.pid, self._read = pid, read

    def result(self) -> Any:
        with os.fdopen(self._read, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        if not payload:
            raise RuntimeError(f"the report's writer process ended without an answer (wait status {status})")
        ok, value = pickle.loads(payload)
        if not ok:
            raise value
        return value
