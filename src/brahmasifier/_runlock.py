"""One run per output: the lock every writing command takes (``pack``, ``predict``, ``simulate``, ``inject``).

:class:`RunLock` holds an exclusive, non-blocking ``flock`` on a lock file for as long as the
run writes its output, and writes its PID into the file (for the message a second run gets).
A second run into the same output is refused at once with one line naming the holder's PID.

Why ``flock`` and not a PID file alone (the simulation's lock before issue 25): the kernel
releases the lock when its holder dies, however it dies (SIGKILL, out of memory), so a dead
run's lock never needs "taking over" and a reused PID can never keep a lock alive. The file is
removed when the run ends; a run that opened the old file just before may then lock a removed
file, so after locking we check that the path still names the file we locked and retry if not.
Two ``predict`` runs to one ``--out`` both exited 0, one of them with a truncated run's message
and the other's submission lost; now the second is refused.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from brahmasifier.errors import BrahmasifierError, OutputExistsError

__all__ = ["RunLock"]


class RunLock:
    """An exclusive lock on ``path`` (created if absent) for one run writing an output.

    Args:
        path: the lock file (a hidden file beside or inside the output).
        message: the error of a second run; ``{pid}`` is replaced by the holder's PID.
        error: the error class raised (a :class:`~brahmasifier.errors.BrahmasifierError`).
    """

    def __init__(self, path: str | os.PathLike[str], message: str = "{path}: another run (PID {pid}) is writing here; "
                 "wait for it or choose another output", error: type[BrahmasifierError] = OutputExistsError) -> None:
        self.path = Path(path)
        self.message = message
        self.error = error
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise self.error(self.message.format(pid=holder, path=self.path.parent)) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed the file between our open and our lock: lock the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode("ascii"))
            self._fd = fd
            return self
        raise self.error(f"{self.path}: cannot take the run lock")

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)  # closing releases the lock
        self._fd = None
