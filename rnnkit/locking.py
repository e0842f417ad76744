"""One writer per run folder: an operating-system lock on `FOLDER/.rnnkit.lock`, which names its holder's pid.

The lock is the kernel's (`fcntl.flock`; `msvcrt.locking` on Windows), so it ends with the
process that holds it, however that process ends: a lock file left by a killed process is
simply locked again by the next writer (a stale lock is taken over). A leaf module: it
imports nothing from rnnkit but its errors.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.errors import RunError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

LOCK_FILE = ".rnnkit.lock"
_WINDOWS_LOCK_OFFSET = 1 << 20  # Windows locks are mandatory: lock a byte past the pid, so it stays readable


class FolderLocked(RunError):
    """Another live process writes this folder."""


class FolderLock:
    """An exclusive lock on `folder`, held from `acquire()` to `release()` (or the process's end).

    Args:
        folder: the folder to lock; it must exist.

    Example:
        >>> lock = FolderLock("runs/demo").acquire()   # doctest: +SKIP
        >>> lock.release()                              # doctest: +SKIP
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.folder / LOCK_FILE

    def acquire(self) -> "FolderLock":
        """Lock the folder; raises `FolderLocked` naming the holder's pid when a live process has it."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                pid = _read_pid(fd)
                os.close(fd)
                holder = f"process {pid}" if pid else "another process"
                raise FolderLocked(f"{self.folder} is being written by {holder} (another rnnkit train). Wait for it "
                                   "to finish, or choose another --out.")
            # The previous holder removes the file as it releases it: make sure the file locked is the one there now.
            try:
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def moved_to(self, folder: str | Path) -> None:
        """The locked folder was renamed to `folder` (the lock moves with it)."""
        self.folder = Path(folder)

    def release(self) -> None:
        """Remove the lock file and unlock; a no-op when not held."""
        if self._fd is None:
            return
        try:
            if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)  # closing the descriptor ends the lock
        self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def is_locked(folder: str | Path) -> bool:
    """Whether a live process holds `folder`'s lock (without taking it)."""
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        if not _try_lock(fd):
            return True
        _unlock(fd)
        return False
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
