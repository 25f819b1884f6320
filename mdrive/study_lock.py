"""One command at a time on a study folder: a lock file in it (`fcntl.flock`), held for the command's whole life.

Two commands on one --out would mix their studies (runs of both, a summary over both). The lock dies with its
process, so a killed command never leaves the folder locked; a job of a --submit chain takes it in its turn,
waiting a moment for the submitting command to let go.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from pathlib import Path

from mdrive.errors import InputError

LOCK = ".mdrive.lock"
_held: dict[Path, int] = {}  # folder -> descriptor, kept open until the process ends


def hold(folder: Path, wait_s: float = 0.0) -> None:
    """Lock `folder` (which exists) for this process, or refuse in one line if another command holds it."""
    folder = folder.resolve()
    if folder in _held:
        return
    try:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise InputError(f"{folder}: cannot write there ({err.strerror or err}); choose a folder you can write") \
            from None
    end = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                break  # a file system without locks (ENOLCK): run unlocked rather than not at all
            if time.monotonic() >= end:
                os.close(fd)
                raise InputError(f"{folder} is in use by another mdrive command: wait for it to end (or stop it), "
                                 f"or choose another --out") from None
            time.sleep(0.2)
    _held[folder] = fd  # the file stays empty: a refused command leaves the folder byte for byte as it was


def busy(folder: Path) -> None:
    """Refuse at once if another command holds `folder`'s lock (nothing is created to find out)."""
    if folder.resolve() in _held:
        return  # this command's own (a second descriptor's lock would conflict with it)
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return  # no lock file: no command has held it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        raise InputError(f"{folder} is in use by another mdrive command: wait for it to end "
                         f"(or stop it), or choose another --out") from None
    finally:
        os.close(fd)


def release(folder: Path) -> None:
    fd = _held.pop(folder.resolve(), None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
