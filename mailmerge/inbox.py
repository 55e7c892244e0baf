"""Reading the sender's mailbox: IMAP folders, read-only and incremental, and files exported from a mail client.

Nothing here writes to the ledger or prints: `fetch` and `watch` yield `Fetched` messages, `read_files` yields
`Imported` ones, and a problem is an `InboxError` naming the server, folder or file and what to do.

Read-only by construction: a folder is opened with EXAMINE, so the server itself refuses any change to it,
and messages are fetched with BODY.PEEK[], which does not set \\Seen. No STORE, COPY, MOVE or EXPUNGE is
ever sent. Reading is incremental by UID: the caller keeps, per folder, the UIDVALIDITY and the highest UID
it has, and a changed UIDVALIDITY means the old UIDs mean nothing any more, so the folder is read again
(the caller recognises the messages it already has by their content).
"""

from __future__ import annotations

import imaplib
import re
import select
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, MailboxLoginError, MailboxTaggedResponseError
from imap_tools.mailbox import BaseMailBox
from imap_tools.utils import encode_folder

from . import connection
from .errors import InboxError
from .i18n import _
from .models import ServerSettings

KEYRING_SERVICE = "mailmerge-imap"
PASSWORD_ENV = "MAILMERGE_IMAP_PASSWORD"
BATCH_MESSAGES = 200  # per UID FETCH: memory stays flat however large the folder
BATCH_BYTES = 16 * 1024 * 1024  # … and a batch of large messages is cut sooner
RETRY_FIRST, RETRY_MAX = 0.5, 60.0  # seconds before reconnecting, doubling after each failure
IDLE_SLICE = 0.5  # how often an IDLE looks at `stop`

OnTotal = Callable[[str, int], None]


@dataclass(frozen=True)
class FolderState:
    """What the ledger remembers per folder."""

    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class Fetched:
    folder: str
    uidvalidity: int
    uid: int
    raw: bytes  # the whole message, exactly as the server has it (BODY.PEEK[])


class ConnectionLost(InboxError):
    """The server or the network went away: worth connecting again (`watch` does)."""


def stored_password(settings: ServerSettings) -> str | None:
    """The IMAP password from `MAILMERGE_IMAP_PASSWORD` or the keyring (service `mailmerge-imap`)."""
    return connection.stored_password(settings, PASSWORD_ENV, KEYRING_SERVICE)


# --- IMAP ------------------------------------------------------------------------------------------------


def fetch(
    settings: ServerSettings,
    password: str | None,
    folders: Sequence[str],
    known: Mapping[str, FolderState],
    *,
    on_total: OnTotal | None = None,
) -> Iterator[Fetched]:
    """The messages of `folders` that `known` does not have yet, folder by folder, in UID order.
    `on_total(folder, count)` is called before a folder's messages (also with 0)."""
    session = _Session(settings, password, dict(known))
    try:
        for folder in folders:
            yield from session.read(folder, on_total)
    finally:
        session.close()


def watch(
    settings: ServerSettings,
    password: str | None,
    folders: Sequence[str],
    known: Mapping[str, FolderState],
    *,
    idle_seconds: float = 300,
    stop: threading.Event | None = None,
    on_total: OnTotal | None = None,
    on_reconnect: Callable[[InboxError, float], None] | None = None,
) -> Iterator[Fetched]:
    """`fetch`, then wait for news and fetch again, until `stop` is set.

    The wait is an IDLE on the first folder (a connection can IDLE on one folder only); news there, or
    `idle_seconds` without any, starts a new round over all the folders. A dropped connection is opened
    again after RETRY_FIRST seconds, doubling up to RETRY_MAX while the server stays away, and
    `on_reconnect(error, seconds)` is told before each wait. What waiting cannot fix (login refused,
    certificate, missing folder), or a server unreachable from the start, is raised."""
    stop = stop or threading.Event()
    report = on_reconnect or (lambda _error, _seconds: None)
    states = dict(known)
    delay, connected = 0.0, False
    while not stop.is_set():
        try:
            session = _Session(settings, password, states)
        except ConnectionLost as error:
            if not connected:
                raise
            delay = min(RETRY_MAX, delay * 2 or RETRY_FIRST)
            report(error, delay)
            stop.wait(delay)
            continue
        connected, delay = True, 0.0
        try:
            while not stop.is_set():
                for folder in folders:
                    yield from session.read(folder, on_total)
                session.wait(folders[0], idle_seconds, stop)
        except ConnectionLost as error:
            delay = RETRY_FIRST
            report(error, delay)
            stop.wait(delay)
        finally:
            session.close()


def missing_folders(settings: ServerSettings, password: str | None, folders: Sequence[str]) -> dict[str, str]:
    """Log in and open each folder read-only (EXAMINE), as `fetch` does, reading nothing: why each folder that
    cannot be opened cannot. A problem with the connection or the login is raised as an `InboxError`."""
    session = _Session(settings, password, {})
    missing = {}
    try:
        for folder in folders:
            try:
                with session._talking(folder):
                    session._examine(folder)
            except InboxError as error:
                missing[folder] = str(error)
    finally:
        session.close()
    return missing


class _Session:
    """One logged-in connection, and how far it has read each folder (`states`, updated as it reads)."""

    def __init__(self, settings: ServerSettings, password: str | None, states: dict[str, FolderState]):
        self.server = connection.where(settings)  # host:port, for the messages
        self.states = states
        self.box = open_mailbox(settings, password)
        self.idle = False  # announced once logged in (the greeting may list fewer capabilities)
        with suppress(imaplib.IMAP4.error, OSError):  # a lost connection shows at the next command
            _typ, data = self.box.client.capability()
            self.idle = b"IDLE" in b" ".join(d for d in data if isinstance(d, bytes)).upper().split()

    def close(self) -> None:
        close_mailbox(self.box)

    def read(self, folder: str, on_total: OnTotal | None) -> Iterator[Fetched]:
        with self._talking(folder):
            validity, uidnext, exists = self._examine(folder)
            state = self.states.get(folder)
            after = state.last_uid if state and state.uidvalidity == validity else 0
            sizes = self._new_uids(after, uidnext) if exists else []
            if on_total:
                on_total(folder, len(sizes))
            for batch in _batches(sizes):
                for uid, raw in self._bodies(batch):
                    self.states[folder] = FolderState(validity, uid)
                    yield Fetched(folder, validity, uid, raw)
            # Read up to UIDNEXT-1 even where the last messages were deleted, so `wait` sees no news there.
            self.states[folder] = FolderState(validity, max(after, sizes[-1][0] if sizes else 0, uidnext - 1))

    def wait(self, folder: str, seconds: float, stop: threading.Event) -> None:
        """Return when `folder` has news, `seconds` have passed or `stop` is set: IDLE if the server has
        it, else just waiting (the next round is then the poll)."""
        with self._talking(folder):
            validity, uidnext, _exists = self._examine(folder)
            state = self.states.get(folder)
            if state is None or state.uidvalidity != validity or uidnext > state.last_uid + 1:
                return  # mail came in between the round and now
            if not self.idle:
                stop.wait(seconds)
                return
            try:
                self.box.idle.start()
                _until_news(self.box.client, seconds, stop)
            except MailboxTaggedResponseError:
                pass  # a line came before the server's "+ idling": news already, or IDLE refused (stop says)
            self.box.idle.stop()

    def _examine(self, folder: str) -> tuple[int, int, int]:
        """UIDVALIDITY, UIDNEXT (0: not said) and the number of messages; EXAMINE opens the folder read-only."""
        client = self.box.client
        typ, data = client.select(encode_folder(folder), readonly=True)
        if typ != "OK":
            raise self._missing(folder, reply_text(data))
        untagged = client.untagged_responses
        return int(untagged.get("UIDVALIDITY", [0])[-1]), int(untagged.get("UIDNEXT", [0])[-1]), int(data[-1] or 0)

    def _new_uids(self, after: int, uidnext: int) -> list[tuple[int, int]]:
        """(uid, size) of the messages above `after`, in UID order."""
        if 0 < uidnext <= after + 1:
            return []
        found = {}
        for item in self._uid_fetch(f"{after + 1}:*", "(UID RFC822.SIZE)"):
            line = (item[0] if isinstance(item, tuple) else item) or b""
            uid, size = _UID.search(line), _SIZE.search(line)
            if uid and size and int(uid[1]) > after:  # n:* always includes the highest UID
                found[int(uid[1])] = int(size[1])
        return sorted(found.items())

    def _bodies(self, batch: list[int]) -> list[tuple[int, bytes]]:
        """The messages of `batch` by UID; one expunged meanwhile is simply not there."""
        data, wanted = self._uid_fetch(_uid_set(batch), "(UID BODY.PEEK[])"), set(batch)
        bodies = {}
        for index, item in enumerate(data):
            if isinstance(item, tuple):  # (b'5 (UID 42 BODY[] {1234}', message); the UID may also follow it
                rest = data[index + 1] if index + 1 < len(data) and isinstance(data[index + 1], bytes) else b""
                uid = _UID.search(item[0]) or _UID.search(rest)
                if uid and int(uid[1]) in wanted:
                    bodies[int(uid[1])] = item[1]
        return sorted(bodies.items())

    def _uid_fetch(self, uids: str, parts: str) -> list:
        typ, data = self.box.client.uid("FETCH", uids, parts)
        if typ != "OK":
            raise imaplib.IMAP4.error(reply_text(data))
        return data

    def _missing(self, folder: str, reply: str) -> InboxError:
        names = "?"
        with suppress(imaplib.IMAP4.error, OSError, ImapToolsError):
            names = ", ".join(info.name for info in self.box.folder.list())
        # TRANSLATORS: {folder} is a folder's name, {server} host:port, {reply} the server's answer (as the server
        # wrote it), {folders} the folders the server has. folders and [imap] are a setting of campaign.toml.
        message = _(
            "the folder {folder} cannot be opened on {server} ({reply}); the folders there are: {folders}. "
            "Check folders in [imap]"
        )
        return InboxError(message.format(folder=folder, server=self.server, reply=reply, folders=names))

    @contextmanager
    def _talking(self, folder: str) -> Iterator[None]:
        """imaplib's errors as an `InboxError` (a lost connection as `ConnectionLost`)."""
        try:
            yield
        except (imaplib.IMAP4.abort, OSError) as error:
            # TRANSLATORS: {server} is host:port; {reason} is the system's or the IMAP library's error, in English.
            message = _("lost the connection to {server}: {reason}")
            raise ConnectionLost(message.format(server=self.server, reason=_reason(error))) from None
        except (imaplib.IMAP4.error, ImapToolsError) as error:
            # TRANSLATORS: {server} is host:port, {folder} a folder's name; {reply} the server's answer, as written.
            message = _("{server} answered with an error in the folder {folder}: {reply}")
            raise InboxError(message.format(server=self.server, folder=folder, reply=error)) from None


_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


def _batches(sizes: list[tuple[int, int]]) -> Iterator[list[int]]:
    """UIDs in groups of at most BATCH_MESSAGES messages and, but for a single large one, BATCH_BYTES."""
    batch: list[int] = []
    total = 0
    for uid, size in sizes:
        if batch and (len(batch) >= BATCH_MESSAGES or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _uid_set(uids: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> "1:3,7,9:10": short commands for long runs of UIDs."""
    runs: list[list[int]] = []
    for uid in uids:
        if runs and uid == runs[-1][1] + 1:
            runs[-1][1] = uid
        else:
            runs.append([uid, uid])
    return ",".join(str(first) if first == last else f"{first}:{last}" for first, last in runs)


def _until_news(client: imaplib.IMAP4, seconds: float, stop: threading.Event) -> None:
    """In IDLE: return at the server's first news (`* OK` keep-alives are none), after `seconds`, or
    when `stop` is set. A closed connection or a BYE raises `imaplib.IMAP4.abort`."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        sock = client.sock  # an SSL socket may hold decrypted bytes that select() does not see
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
        if not pending and not select.select([sock], [], [], min(left, IDLE_SLICE))[0]:
            continue
        line = client.readline()
        if not line or line.startswith(b"* BYE"):
            raise imaplib.IMAP4.abort(line.decode(errors="replace").strip() or "EOF")
        if not line.startswith(b"* OK"):
            return


def open_mailbox(settings: ServerSettings, password: str | None) -> BaseMailBox:
    """A logged-in connection, no folder selected; or an `InboxError` saying what is wrong and what to do."""
    password = _credentials(settings, password)
    host, port, timeout = settings.host, settings.port, settings.timeout
    try:
        if settings.security == "tls":
            box: BaseMailBox = MailBox(host, port, timeout=timeout, ssl_context=connection.tls_context(settings))
        elif settings.security == "starttls":
            box = MailBoxStartTls(host, port, timeout=timeout, ssl_context=connection.tls_context(settings))
        else:
            box = MailBoxUnencrypted(host, port, timeout=timeout)
    except (OSError, imaplib.IMAP4.error, ImapToolsError, ValueError) as error:
        raise _connect_error(settings, error) from None
    try:
        _login(box, settings, password)
    except BaseException:
        close_mailbox(box)
        raise
    return box


def close_mailbox(box: BaseMailBox) -> None:
    with suppress(imaplib.IMAP4.error, OSError, ImapToolsError):  # the connection may be gone already
        box.logout()


def _credentials(settings: ServerSettings, password: str | None) -> str:
    server = connection.where(settings)
    if not settings.username:
        # TRANSLATORS: {server} is host:port. username and [imap] are a setting of campaign.toml: keep them.
        raise InboxError(_("no username for {server}: set username in [imap]").format(server=server))
    if settings.security == "none" and not settings.allow_plaintext_auth:
        # TRANSLATORS: {username} is the IMAP login, {server} is host:port. security = "starttls", "tls",
        # allow_plaintext_auth = true and [imap] are settings of campaign.toml: keep them as they are.
        message = _(
            "refusing to send the password for {username} unencrypted to {server}: "
            'use security = "starttls" or "tls", or set allow_plaintext_auth = true in [imap]'
        )
        raise InboxError(message.format(username=settings.username, server=server))
    if password is None:
        # TRANSLATORS: {username} is the IMAP login, {server} is host:port; MAILMERGE_IMAP_PASSWORD is an
        # environment variable and mailmerge-imap the keyring's service name: keep them as they are.
        message = _(
            "no password for {username} at {server}: set MAILMERGE_IMAP_PASSWORD or store it in the keyring "
            "(service mailmerge-imap)"
        )
        raise InboxError(message.format(username=settings.username, server=server))
    return password


def _login(box: BaseMailBox, settings: ServerSettings, password: str) -> None:
    """LOGIN, or AUTHENTICATE PLAIN in UTF-8 for a login or password beyond ASCII (LOGIN cannot carry it)."""
    username = settings.username or ""
    try:
        if (username + password).isascii():
            box.login(username, password, initial_folder=None)
        else:
            box.login_utf8(username, password, initial_folder=None)
    except (imaplib.IMAP4.abort, OSError) as error:
        raise _connect_error(settings, error) from None
    except (MailboxLoginError, imaplib.IMAP4.error) as error:
        reply = reply_text(error.command_result[1]) if isinstance(error, MailboxLoginError) else str(error)
        # TRANSLATORS: {server} is host:port, {username} the IMAP login; {reply} is the server's answer, as
        # the server wrote it (e.g. "[AUTHENTICATIONFAILED] Authentication failed"). MAILMERGE_IMAP_PASSWORD
        # is an environment variable: keep it as it is.
        message = _(
            "{server} refused the login for {username} ({reply}): check the username in [imap] and the password "
            "(MAILMERGE_IMAP_PASSWORD or the keyring)"
        )
        raise InboxError(message.format(server=connection.where(settings), username=username, reply=reply)) from None


def _connect_error(settings: ServerSettings, error: BaseException) -> InboxError:
    if (cert_error := connection.certificate_error(error)) is not None:
        # TRANSLATORS: {server} is host:port; {reason} is OpenSSL's reason, in English (e.g. "self-signed
        # certificate"). ca_file and [imap] are settings of campaign.toml: keep them as they are.
        message = _(
            "the TLS certificate of {server} could not be verified ({reason}); "
            "if the server uses an internal CA, set ca_file in [imap]"
        )
        return InboxError(message.format(server=connection.where(settings), reason=cert_error.verify_message))
    # TRANSLATORS: {server} is host:port; {reason} is the system's or the IMAP library's error, in English.
    # host, port, security and [imap] are settings of campaign.toml: keep them as they are.
    message = _("cannot connect to {server}: {reason}; check host, port and security in [imap]")
    text = message.format(server=connection.where(settings), reason=_reason(error))
    transient = isinstance(error, imaplib.IMAP4.abort | OSError) and not isinstance(error, ssl.SSLError)
    return ConnectionLost(text) if transient else InboxError(text)


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__  # a bare TimeoutError has no text


def reply_text(data: Sequence[object]) -> str:
    """A server's answer as imaplib hands it over, without Dovecot's timings: "Mailbox doesn't exist: X"."""
    text = " ".join(item.decode(errors="replace") if isinstance(item, bytes) else str(item) for item in data if item)
    return _TIMINGS.sub("", text).strip().rstrip(".")


_TIMINGS = re.compile(r"\s*\([\d.+ ]+ secs\)")


# --- files -----------------------------------------------------------------------------------------------
