"""Mail exported from a mail client: `.eml` files, folders of them, a Maildir or an mbox (what Outlook and
Thunderbird users can save), read as the raw messages IMAP would give. Line ends become CRLF, as IMAP has
them, so a message imported and the same message fetched are one message in the ledger."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InboxError
from .i18n import _


@dataclass(frozen=True)
class Imported:
    source: str  # "mail/reply.eml", "Export.mbox#12", "Maildir/cur/…"
    raw: bytes


_LINE_END = re.compile(rb"\r?\n")
_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:")  # "Received:", "From:", "Return-Path:" …
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # an Outlook .msg file


def read_files(paths: Sequence[Path]) -> Iterator[Imported]:
    """The messages of each path: a message file (.eml), a folder of .eml files, a Maildir (cur/ and new/)
    or an mbox file. Line ends become CRLF, as an IMAP server hands messages out, so that a message imported
    from a file and fetched from the server is the same bytes (mbox's >From quoting is not undone)."""
    for path in map(Path, paths):
        if path.is_dir():
            yield from _read_folder(path)
        elif path.is_file():
            yield from _read_file(path)
        else:
            # TRANSLATORS: {path} is a file or folder the user named on the command line.
            raise InboxError(_("{path} does not exist").format(path=path))


def _read_folder(path: Path) -> Iterator[Imported]:
    if (path / "cur").is_dir() or (path / "new").is_dir():  # a Maildir; its subfolders are Maildirs of their own
        files = sorted((f for part in ("cur", "new") for f in _files(path / part)), key=lambda f: f.name)
    else:
        files = sorted(f for f in _files(path) if f.suffix.lower() == ".eml")
        if not files:
            # TRANSLATORS: {path} is a folder; .eml, cur and new are names: keep them as they are.
            message = _("{path} holds no .eml files and is not a Maildir (no cur or new folder in it)")
            raise InboxError(message.format(path=path))
    for file in files:  # sorted: Maildir names start with the time of delivery
        yield Imported(str(file), _crlf(_bytes(file)))


def _files(folder: Path) -> list[Path]:
    try:
        return [f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")] if folder.is_dir() else []
    except OSError as error:
        raise _unreadable(folder, error) from None


def _read_file(path: Path) -> Iterator[Imported]:
    head = _bytes(path, 512)
    if head.startswith(b"From "):
        yield from _read_mbox(path)
    elif head.startswith(_OLE_MAGIC):
        # TRANSLATORS: {path} is a file. .msg, .eml and mbox are file formats: keep them as they are.
        message = _(
            "{path} is an Outlook .msg file: save the messages as .eml files (or export an mbox) and import those"
        )
        raise InboxError(message.format(path=path))
    elif path.suffix.lower() == ".eml" or _HEADER_LINE.match(head):
        yield Imported(str(path), _crlf(_bytes(path)))
    elif head:  # an empty file holds no messages
        # TRANSLATORS: {path} is a file. .eml, Maildir and mbox are formats: keep them as they are.
        raise InboxError(_("{path} is not a mail message (.eml), a Maildir or an mbox file").format(path=path))


def _read_mbox(path: Path) -> Iterator[Imported]:
    try:
        box = mailbox.mbox(path, create=False)
        try:
            for number, key in enumerate(box.iterkeys(), start=1):
                yield Imported(f"{path}#{number}", _crlf(box.get_bytes(key)))
        finally:
            box.close()
    except OSError as error:
        raise _unreadable(path, error) from None


def _bytes(path: Path, size: int = -1) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(size)
    except OSError as error:
        raise _unreadable(path, error) from None


def _unreadable(path: Path, error: OSError) -> InboxError:
    # TRANSLATORS: {path} is a file or folder; {reason} is the system's error, in English.
    return InboxError(_("cannot read {path}: {reason}").format(path=path, reason=error.strerror or error))


def _crlf(raw: bytes) -> bytes:
    return _LINE_END.sub(b"\r\n", raw)
