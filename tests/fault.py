#!/usr/bin/env python3
"""Planted crash for the isolation tests: `shell tests/fault.py SIGSEGV` in a deck sends the signal to the
mdrive run process (mdrive.worker) that runs LAMMPS, as a segfault or an abort inside LAMMPS would."""
import os
import signal
import sys

pid = os.getppid()
while pid > 1:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        if b"mdrive.worker" in f.read():
            os.kill(pid, getattr(signal, sys.argv[1]))
            break
    with open(f"/proc/{pid}/stat") as f:
        pid = int(f.read().rsplit(")", 1)[1].split()[1])
