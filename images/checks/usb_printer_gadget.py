#!/usr/bin/env python3
"""The printer's side of an emulated USB printer (configfs gadget on dummy_hcd), inside the stand-in kiosk.

Reads what the host side (the kiosk, through libusb) sends to /dev/g_printer0: a 3-byte
transfer DLE EOT n is a status query and is answered like a TM-T20II with paper (online,
paper present); everything else is the print job, appended to OUT. Exits after IDLE
seconds without data once a job has arrived (or after LIMIT seconds in all).
"""

import errno
import os
import select
import sys
import time

DEV, OUT = sys.argv[1], sys.argv[2]
IDLE, LIMIT = 5.0, float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
ANSWERS = {1: 0x16, 2: 0x12, 3: 0x12, 4: 0x12}  # DLE EOT 1..4: online, no error, no cover open, paper OK

fd = os.open(DEV, os.O_RDWR | os.O_NONBLOCK)
start = last = time.monotonic()
got_job = queries = 0
with open(OUT, "wb") as out:
    while time.monotonic() - start < LIMIT and not (got_job and time.monotonic() - last > IDLE):
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        except OSError as exc:  # ENODEV until the host side has configured the printer: wait for it
            if exc.errno != errno.ENODEV:
                raise
            time.sleep(0.2)
            continue
        if not chunk:
            continue
        last = time.monotonic()
        if len(chunk) == 3 and chunk[:2] == b"\x10\x04":
            queries += 1
            os.write(fd, bytes([ANSWERS.get(chunk[2], 0x12)]))
            continue
        out.write(chunk)
        out.flush()
        got_job += len(chunk)
print(f"gadget: {got_job} job bytes, {queries} status queries answered", flush=True)
