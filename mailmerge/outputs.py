"""Files written for people (`export`, `report`): whole or not at all, and never over someone else's file.

A file is written to a temporary file beside its target, then moved over it: an interrupted run never leaves
half a file. The campaign's ledger remembers the sha256 of what was written to each path, so running the
same export again replaces its own file without `--force`, while a file someone edited since, or one that
is not ours, needs `--force`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from .errors import LedgerError, MailmergeError
from .i18n import _
from .ledger import Ledger


def save(path: Path, data: bytes, *, ledger_file: Path, force: bool = False) -> None:
    """`data` in `path`, whole or not at all; an existing file is replaced only with `force` or while it
    holds what we last wrote there."""
    target = path.absolute()
    if path.exists() and not force and not holds_ours(target, ledger_file):
        # TRANSLATORS: {path} is the file `mailmerge export -o` or `mailmerge report -o` was to write
        message = _(
            "{path} already exists and is not a file mailmerge wrote (or it was changed since); add `--force` "
            "to replace it"
        )
        raise MailmergeError(message.format(path=path))
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode_for(path))
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(NameError, OSError):
            os.unlink(temporary)
        # TRANSLATORS: {path} is the file `mailmerge export -o` was to write; {reason} is the system's error
        message = _("cannot write {path}: {reason}")
        raise MailmergeError(message.format(path=path, reason=error.strerror or error)) from None
    remember(target, data, ledger_file)


def mode_for(path: Path) -> int:
    """The permissions of the file replaced, or those a new file gets (the temporary file's are 0600)."""
    if path.exists():
        return stat.S_IMODE(path.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def holds_ours(target: Path, ledger_file: Path) -> bool:
    if not ledger_file.exists():
        return False
    try:
        ledger = Ledger(ledger_file, read_only=True)
    except LedgerError:
        return False
    try:
        return ledger.written.holds_ours(target, hashlib.sha256(target.read_bytes()).hexdigest())
    except (LedgerError, OSError):
        return False
    finally:
        ledger.close()


def remember(target: Path, data: bytes, ledger_file: Path) -> None:
    """Note what was written in the campaign's ledger. Without a ledger (nothing sent yet) or with a
    read-only one, nothing is noted: the next run then asks for `--force`."""
    if not ledger_file.exists():
        return
    with contextlib.suppress(LedgerError):
        ledger = Ledger(ledger_file)
        try:
            ledger.written.record(target, hashlib.sha256(data).hexdigest(), len(data))
        finally:
            ledger.close()
