"""The ledger file: opening it to write or to read, one sender at a time, and what a failure of the file
or the disk means to the user."""

from __future__ import annotations

import errno
import functools
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlite_utils import Database

from ..errors import LedgerError
from ..i18n import _

READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))  # no EDQUOT on Windows


def ledger_error(path: Path, error: sqlite3.Error | OSError) -> LedgerError:
    """What went wrong with the ledger file, in words that say what to do about it."""
    text = str(error).lower()
    number = getattr(error, "errno", None)
    if "readonly" in text or number in READ_ONLY_ERRNOS:
        # TRANSLATORS: {path} is the ledger file (ledger.db) or its lock file.
        message = _(
            "cannot write the ledger {path}: the file, its folder or the disk is read-only; make it writable "
            "(or copy the campaign folder to a writable place) and run the command again"
        )
    elif "full" in text or number in FULL_ERRNOS:
        # TRANSLATORS: {path} is the ledger file (ledger.db) or its lock file.
        message = _("cannot write the ledger {path}: the disk is full; free some space and run the command again")
    elif "locked" in text or "busy" in text:
        # TRANSLATORS: {path} is the ledger file (ledger.db) or its lock file.
        message = _("the ledger {path} is locked by another program; close it and run the command again")
    elif "not a database" in text or "malformed" in text:
        # TRANSLATORS: {path} is the ledger file; {reason} is SQLite's error, in English.
        message = _("{path} is not a readable ledger ({reason}); restore it from a backup")
    else:
        # TRANSLATORS: {path} is the ledger file (ledger.db) or its lock file; {reason} is SQLite's or the
        # system's error, in English.
        message = _("the ledger {path} cannot be used: {reason}")
    return LedgerError(message.format(path=path, reason=error))


def folder_error(path: Path) -> OSError | None:
    """What SQLite reports as "unable to open" or "disk I/O error" is often the folder: SQLite must create
    its journal files next to the ledger and grow them."""
    try:
        with tempfile.TemporaryFile(dir=path.parent) as probe:
            probe.write(bytes(65536))
            probe.flush()
            os.fsync(probe.fileno())
            return None
    except OSError as error:
        return error


Params = ParamSpec("Params")
Result = TypeVar("Result")


def guarded(method: Callable[Params, Result]) -> Callable[Params, Result]:
    """SQLite and file-system errors leave a `Ledger` method as a `LedgerError` that says what to do."""

    @functools.wraps(method)
    def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return method(*args, **kwargs)
        except (sqlite3.Error, OSError) as error:
            raise ledger_error(args[0].path, error) from None  # type: ignore[attr-defined]

    return wrapper


def open_writer(path: Path) -> Database:
    """WAL, full fsync on every commit, foreign keys checked; waits up to 10 s for another writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(path)
    db.execute("PRAGMA busy_timeout = 10000")
    db.enable_wal()
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    return db


def open_reader(path: Path) -> Database:
    return Database(reader_connection(path))


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Held by the one process sending with the ledger at `path`; the OS drops it if the process dies.

    An exclusive transaction on a small SQLite file beside the ledger: SQLite locks files the same way on
    POSIX and Windows, in C, and a lock held by a process that died is gone (no stale lock file)."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock = sqlite3.connect(lock_path, timeout=0, isolation_level=None)
    except sqlite3.Error as error:
        raise ledger_error(lock_path, folder_error(lock_path) or error) from None
    try:
        lock.execute("BEGIN EXCLUSIVE")
    except sqlite3.OperationalError as error:
        lock.close()
        if "locked" in str(error) or "busy" in str(error):
            # TRANSLATORS: {path} is the ledger file (ledger.db).
            message = _("another mailmerge process is sending with {path}; wait for it to end")
            raise LedgerError(message.format(path=path)) from None
        raise ledger_error(lock_path, folder_error(lock_path) or error) from None
    try:
        yield
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def reader_connection(path: Path) -> sqlite3.Connection:
    """Read-only access. On a read-only disk SQLite cannot create the WAL index (`-shm`), so the file is
    then opened as immutable: nobody can be writing it there."""
    if not path.is_file():
        # TRANSLATORS: {path} is where the ledger file (ledger.db) should be.
        raise LedgerError(_("no ledger at {path}").format(path=path))
    uri = path.absolute().as_uri()  # `--ledger ledger.db` is relative
    try:
        connection = sqlite3.connect(f"{uri}?mode=ro", uri=True)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError:
        return sqlite3.connect(f"{uri}?immutable=1", uri=True)
