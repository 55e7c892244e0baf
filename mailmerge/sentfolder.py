"""The sender's Sent folder: where office staff look for what they sent, and where a copy proves that the
server accepted a message whose delivery is in doubt (Gmail, for one, files what is submitted over SMTP
there by itself).

Searching is read-only (EXAMINE, UID SEARCH). Appending copies is the one write this program makes to a
mailbox: each copy at most once, flagged \\Seen, and only in the Sent folder.
"""

from __future__ import annotations

import imaplib
import queue
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

from imap_tools.errors import ImapToolsError
from imap_tools.mailbox import BaseMailBox
from imap_tools.utils import encode_folder

from . import connection, inbox
from .errors import InboxError
from .i18n import _
from .models import ServerSettings

SENT_FLAG = "\\Sent"  # RFC 6154 special-use


@dataclass(frozen=True)
class Found:
    """Where a message was found: the proof that the server had it."""

    folder: str
    uid: int
    server: str  # host:port

    @property
    def evidence(self) -> str:
        """For the ledger's event (a permanent record, in English)."""
        return f"found in the folder {self.folder} (UID {self.uid}) on {self.server}: the server had accepted it"


class Mailbox:
    """One logged-in IMAP connection to the sender's mailbox, for its Sent folder."""

    def __init__(self, settings: ServerSettings, password: str | None, sent_folder: str | None = None):
        self.server = connection.where(settings)
        self.box: BaseMailBox = inbox.open_mailbox(settings, password)
        self.sent = sent_folder or self._special_use_sent()

    def close(self) -> None:
        inbox.close_mailbox(self.box)

    def _special_use_sent(self) -> str | None:
        """The folder the server marks \\Sent (RFC 6154), if it marks one."""
        try:
            folders = self.box.folder.list()
        except (imaplib.IMAP4.error, OSError, ImapToolsError):
            return None
        return next((info.name for info in folders if SENT_FLAG in info.flags), None)

    def find(self, message_ids: Sequence[str], folders: Sequence[str]) -> dict[str, Found]:
        """Message-ID -> where it is, searched read-only in `folders` (a folder that cannot be opened is
        passed over: it proves nothing either way)."""
        found: dict[str, Found] = {}
        for folder in dict.fromkeys(folders):
            wanted = [m for m in message_ids if m not in found]
            if not wanted or not self._examine(folder):
                continue
            for message_id in wanted:
                typ, data = self.box.client.uid("SEARCH", "HEADER", "Message-ID", f'"{message_id}"')
                uids = data[0].split() if typ == "OK" and data and data[0] else []
                if uids:
                    found[message_id] = Found(folder, int(uids[0]), self.server)
        return found

    def _examine(self, folder: str) -> bool:
        try:
            typ, _data = self.box.client.select(encode_folder(folder), readonly=True)
        except (imaplib.IMAP4.error, ImapToolsError):
            return False
        return typ == "OK"

    def append(self, raw: bytes, when: datetime) -> None:
        """One copy into the Sent folder, flagged \\Seen (it is the sender's own message)."""
        if self.sent is None:
            # TRANSLATORS: {server} is host:port; sent_folder and [imap] are a setting of campaign.toml.
            message = _("{server} marks no folder as Sent: set sent_folder in [imap] to the folder to keep copies in")
            raise InboxError(message.format(server=self.server))
        date = imaplib.Time2Internaldate(when)
        typ, data = self.box.client.append(encode_folder(self.sent), "(\\Seen)", date, raw)
        if typ != "OK":
            # TRANSLATORS: {folder} is the Sent folder's name, {server} host:port, {reply} the server's answer.
            message = _("{server} did not keep the copy in {folder}: {reply}")
            raise InboxError(message.format(server=self.server, folder=self.sent, reply=inbox.reply_text(data)))


@dataclass
class Copies:
    """What became of the copies of one send: per ledger message, whether it is in Sent, and why not."""

    results: list[tuple[int, bool, str]] = field(default_factory=list)  # (message, copied, detail for the ledger)
    server_keeps: bool = False  # the server files what it accepts in Sent by itself: no copy was added
    problem: str | None = None  # why copies are missing, in the user's language

    @property
    def copied(self) -> int:
        return sum(1 for _message, copied, _detail in self.results if copied)

    @property
    def missing(self) -> int:
        return len(self.results) - self.copied


class Copier:
    """Puts a copy of each message the server accepted into the Sent folder, from a thread of its own with
    its own IMAP connection, so that sending never waits for it. Each copy is tried once: a failure is
    reported, never retried (a retry could leave two copies). Before the first copy it looks whether the
    server has filed the message by itself (Gmail does); then it adds none."""

    QUEUE = 256  # messages waiting for their copy; past that, a copy is given up rather than slow the send
    LOOKS = 3  # looks for the server's own copy of the first message, half a second apart

    def __init__(self, settings: ServerSettings, password: str | None, sent_folder: str | None):
        self.settings, self.password, self.sent_folder = settings, password, sent_folder
        self.queue: queue.Queue[tuple[int, str, bytes] | None] = queue.Queue(self.QUEUE)
        self.copies = Copies()
        self.thread = threading.Thread(target=self._work, name="sent-copies", daemon=True)
        self.thread.start()

    def offer(self, message: int, message_id: str, raw: bytes) -> None:
        """A message the server accepted (250); never blocks."""
        try:
            self.queue.put_nowait((message, message_id, raw))
        except queue.Full:
            self.copies.results.append((message, False, "not copied: the Sent folder could not keep up"))

    def finish(self, timeout: float) -> Copies:
        """Wait (at most `timeout` seconds) for the copies still queued; what is not done by then is missing."""
        with suppress(queue.Full):
            self.queue.put(None, timeout=timeout)
        self.thread.join(timeout)
        return self.copies

    def _work(self) -> None:
        try:
            mailbox = Mailbox(self.settings, self.password, self.sent_folder)
        except InboxError as error:
            self._give_up(str(error))
            return
        try:
            while (item := self.queue.get()) is not None:
                self._copy(mailbox, *item)
        finally:
            mailbox.close()

    def _copy(self, mailbox: Mailbox, message: int, message_id: str, raw: bytes) -> None:
        results = self.copies.results
        if not results and mailbox.sent and self._server_keeps(mailbox, message_id):
            self.copies.server_keeps = True
        if self.copies.server_keeps:
            results.append((message, True, f"the server keeps its own copy in {mailbox.sent}"))
            return
        try:
            mailbox.append(raw, datetime.now().astimezone())
        except (InboxError, imaplib.IMAP4.error, OSError, ImapToolsError) as error:
            self.copies.problem = str(error)
            results.append((message, False, f"not copied to Sent: {error}"))
            return
        results.append((message, True, f"copied to {mailbox.sent} on {mailbox.server}"))

    def _server_keeps(self, mailbox: Mailbox, message_id: str) -> bool:
        for look in range(self.LOOKS):
            if look:
                time.sleep(0.5)
            if mailbox.find([message_id], [mailbox.sent or ""]):
                return True
        return False

    def _give_up(self, reason: str) -> None:
        """No connection: every message offered gets no copy, for `reason`."""
        self.copies.problem = reason
        while (item := self.queue.get()) is not None:
            self.copies.results.append((item[0], False, f"not copied to Sent: {reason}"))
