"""Reading the mailbox (`mailmerge.inbox`) against a real Dovecot: read-only, incremental, and the same
messages from IMAP as from exported files."""

from __future__ import annotations

import imaplib
import mailbox
import queue
import shutil
import threading
import tracemalloc
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

import pytest
import trustme

from mailmerge import inbox, mailfiles
from mailmerge.errors import InboxError
from mailmerge.inbox import Fetched, FolderState

from .dovecot import Dovecot, answers, members

VIETNAM = timezone(timedelta(hours=7))
REPLIES = "Thư trả lời"  # a folder name beyond ASCII: modified UTF-7 on the wire


def letter(number: int, *, body: str | None = None, html: bool = False, padding: int = 0) -> bytes:
    """A reply to invitation `number`, as a mail client sends it (CRLF, 8-bit UTF-8 text)."""
    message = EmailMessage()
    message["From"] = f"Nguyễn Văn {number} <khach{number}@mttq-tphcm.example>"
    message["To"] = f"Văn phòng <vanphong+tok{number}@mttq-quan5.example>"
    message["Subject"] = f"Re: Giấy mời dự Hội nghị số {number}"
    message["Date"] = format_datetime(datetime(2026, 11, 20, 9, number % 60, tzinfo=VIETNAM))
    message["Message-ID"] = f"<reply.{number}@mttq-tphcm.example>"
    message["In-Reply-To"] = f"<inv{number}@mttq-quan5.example>"
    text = body or f"Kính gửi Văn phòng,\n\nTôi xin xác nhận sẽ tham dự.\n{'x' * padding}\n\n> Kính mời đồng chí …\n"
    if html:
        message.set_content(f"<p>{text}</p>", subtype="html")
    else:
        message.set_content(text, cte="8bit")
    return message.as_bytes(policy=SMTP)


def bounce(number: int) -> bytes:
    """A Postfix-style delivery status notification (multipart/report)."""
    message = EmailMessage()
    message["From"] = "MAILER-DAEMON@mx.mttq-quan5.example (Mail Delivery System)"
    message["To"] = "vanphong@mttq-quan5.example"
    message["Subject"] = "Undelivered Mail Returned to Sender"
    message.set_content("I'm sorry to have to inform you that your message could not be delivered.\n")
    status = EmailMessage()
    status.set_content(
        f"Final-Recipient: rfc822; sai{number}@mttq-tphcm.example\nAction: failed\nStatus: 5.1.1\n",
        subtype="delivery-status",
    )
    message.make_mixed()
    message.attach(status)
    message.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b1"')
    return message.as_bytes(policy=SMTP)


def raws(messages: list[Fetched]) -> list[bytes]:
    return [m.raw for m in messages]


def state_after(messages: list[Fetched], known: dict[str, FolderState] | None = None) -> dict[str, FolderState]:
    """What the ledger would remember after storing `messages`."""
    state = dict(known or {})
    for m in messages:
        state[m.folder] = FolderState(m.uidvalidity, max(m.uid, state.get(m.folder, FolderState(0, 0)).last_uid))
    return state


def fetch_all(server: Dovecot, folders=("INBOX",), known=None, **settings) -> list[Fetched]:
    return list(inbox.fetch(server.settings(**settings), server.password, list(folders), known or {}))


# --- fetch ------------------------------------------------------------------------------------------------


def test_fetch_gives_every_message_byte_for_byte_and_changes_nothing(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch):
    seen = [letter(1), bounce(2), letter(3, html=True)]
    unseen = [letter(4), letter(5, body="Khong tham du duoc\n")]
    dovecot.append_many(seen, flags=["\\Seen"])
    dovecot.append(letter(6), flags=["\\Flagged", "\\Answered"])
    dovecot.append_many(unseen)
    before = dovecot.flags_and_count()
    totals = []
    sent = record_commands(monkeypatch)

    fetched = list(
        inbox.fetch(dovecot.settings(), dovecot.password, ["INBOX"], {}, on_total=lambda *a: totals.append(a))
    )

    commands = list(sent)
    assert raws(fetched) == [*seen, letter(6), *unseen]
    assert [m.uid for m in fetched] == [1, 2, 3, 4, 5, 6]
    assert {(m.folder, m.uidvalidity) for m in fetched} == {("INBOX", before.uidvalidity)}
    assert totals == [("INBOX", 6)]
    after = dovecot.flags_and_count()
    assert after == before  # flags, count, HIGHESTMODSEQ (any STORE would raise it), UIDNEXT, UIDVALIDITY
    assert after.flags[1] == {"\\Seen"} and after.flags[4] == {"\\Flagged", "\\Answered"}
    assert after.flags[5] == after.flags[6] == frozenset()
    # what went over the wire: EXAMINE, never SELECT; BODY.PEEK[], never BODY[] or RFC822; nothing that writes
    assert {name for name, *_ in commands} == {"STARTTLS", "AUTHENTICATE", "CAPABILITY", "EXAMINE", "UID", "LOGOUT"}
    assert {tuple(args) for name, *args in commands if name == "UID"} == {
        ("FETCH", "1:*", "(UID RFC822.SIZE)"),
        ("FETCH", "1:6", "(UID BODY.PEEK[])"),
    }


def record_commands(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every IMAP command imaplib sends from now on: (name, arguments …)."""
    sent: list[tuple[str, ...]] = []
    original = imaplib.IMAP4._command

    def recording(client, name, *args):
        sent.append((name, *(a.decode() if isinstance(a, bytes) else str(a) for a in args)))
        return original(client, name, *args)

    monkeypatch.setattr(imaplib.IMAP4, "_command", recording)
    return sent


def test_a_second_fetch_with_the_state_gets_nothing_then_only_the_new_mail(dovecot: Dovecot):
    dovecot.append_many([letter(1), letter(2)])
    first = fetch_all(dovecot)
    state = state_after(first)
    totals = []

    again = list(
        inbox.fetch(dovecot.settings(), dovecot.password, ["INBOX"], state, on_total=lambda *a: totals.append(a))
    )
    assert again == [] and totals == [("INBOX", 0)]

    dovecot.append(letter(3))
    new = fetch_all(dovecot, known=state)
    assert raws(new) == [letter(3)] and new[0].uid == 3
    assert fetch_all(dovecot, known=state_after(new, state)) == []


def test_a_changed_uidvalidity_reads_the_folder_again(dovecot: Dovecot):
    dovecot.append_many([letter(1), letter(2)])
    first = fetch_all(dovecot)
    state = state_after(first)

    new_validity = dovecot.change_uidvalidity()
    again = fetch_all(dovecot, known=state)

    assert raws(again) == raws(first)
    assert {m.uidvalidity for m in again} == {new_validity} != {first[0].uidvalidity}
    assert fetch_all(dovecot, known=state_after(again, state)) == []


def test_several_folders_each_with_its_own_state(dovecot: Dovecot):
    dovecot.create_folder(REPLIES)
    dovecot.create_folder("Bounces")
    dovecot.append(letter(1))
    dovecot.append_many([letter(2), letter(3)], REPLIES)
    dovecot.append(bounce(4), "Bounces")
    folders = ["INBOX", REPLIES, "Bounces"]

    fetched = fetch_all(dovecot, folders)
    assert [(m.folder, m.uid) for m in fetched] == [("INBOX", 1), (REPLIES, 1), (REPLIES, 2), ("Bounces", 1)]
    assert raws(fetched) == [letter(1), letter(2), letter(3), bounce(4)]

    dovecot.append(letter(5), REPLIES)
    state = state_after(fetched)
    assert [(m.folder, m.uid, m.raw) for m in fetch_all(dovecot, folders, state)] == [(REPLIES, 3, letter(5))]
    assert {f: dovecot.flags_and_count(f).count for f in folders} == {"INBOX": 1, REPLIES: 3, "Bounces": 1}


def test_large_folders_are_fetched_in_batches(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch):
    """2,000 messages of ~5 kB: every one arrives, in UID FETCH batches of 200, and the memory held at any
    moment is a batch's, not the folder's (~10 MB)."""
    template = letter(999_999, padding=5000)
    messages = [template.replace(b"999999", b"%06d" % n) for n in range(2000)]
    dovecot.append_many(messages)
    commands = []
    original = imaplib.IMAP4.uid

    def counting(client, command, *args):
        commands.append((command, args[-1]))
        return original(client, command, *args)

    monkeypatch.setattr(imaplib.IMAP4, "uid", counting)
    tracemalloc.start()
    count = total = 0
    try:
        for m in inbox.fetch(dovecot.settings(), dovecot.password, ["INBOX"], {}):
            assert m.raw == messages[count]
            count, total = count + 1, total + len(m.raw)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 2000
    bodies = [c for c in commands if c == ("FETCH", "(UID BODY.PEEK[])")]
    assert len(bodies) == 10
    assert peak < total / 3, (peak, total)


# --- connection and errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_implicit_tls_with_the_ca_file(dovecot: Dovecot, security: str):
    dovecot.append(letter(1))
    assert raws(fetch_all(dovecot, security=security)) == [letter(1)]


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_certificate_from_another_ca_is_refused(dovecot: Dovecot, tmp_path: Path, security: str):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(InboxError) as error:
        fetch_all(dovecot, security=security, ca_file=other)
    message = str(error.value)
    assert "TLS certificate of 127.0.0.1:" in message and "could not be verified" in message
    assert "set ca_file in [imap]" in message
    assert not isinstance(error.value, inbox.ConnectionLost)  # waiting would not help


def test_a_wrong_password_is_a_clear_error(dovecot: Dovecot):
    with pytest.raises(InboxError) as error:
        list(inbox.fetch(dovecot.settings(), "not-the-password", ["INBOX"], {}))
    message = str(error.value)
    assert f"127.0.0.1:{dovecot.port} refused the login for {dovecot.user}" in message
    assert "AUTHENTICATIONFAILED" in message and "MAILMERGE_IMAP_PASSWORD" in message


def test_an_ascii_password_logs_in_with_login(dovecot: Dovecot):
    """The fixture's password is not ASCII (AUTHENTICATE PLAIN); most are, and go with LOGIN."""
    (dovecot.root / "passwd").write_text(f"{dovecot.user}:{{PLAIN}}plain-ascii-4711::::::\n")
    assert list(inbox.fetch(dovecot.settings(), "plain-ascii-4711", ["INBOX"], {})) == []


def test_a_missing_folder_is_named_with_the_folders_there(dovecot: Dovecot):
    dovecot.create_folder(REPLIES)
    with pytest.raises(InboxError) as error:
        fetch_all(dovecot, ["INBOX", "Replies"])
    message = str(error.value)
    assert "the folder Replies cannot be opened on 127.0.0.1:" in message
    assert "INBOX" in message and REPLIES in message and "Check folders in [imap]" in message


def test_no_password_over_an_unencrypted_connection(dovecot: Dovecot):
    plain = dovecot.settings(security="none")
    with pytest.raises(InboxError, match="refusing to send the password for vanphong unencrypted"):
        list(inbox.fetch(plain, dovecot.password, ["INBOX"], {}))
    dovecot.append(letter(1))
    allowed = dovecot.settings(security="none", allow_plaintext_auth=True)
    assert raws(list(inbox.fetch(allowed, dovecot.password, ["INBOX"], {}))) == [letter(1)]


def test_no_server_there(dovecot: Dovecot):
    port = dovecot.port
    dovecot.stop()
    with pytest.raises(inbox.ConnectionLost, match=f"cannot connect to 127.0.0.1:{port}: .*check host, port"):
        fetch_all(dovecot)
    with pytest.raises(InboxError, match="no password for vanphong"):
        list(inbox.fetch(dovecot.settings(), None, ["INBOX"], {}))


# --- watch ------------------------------------------------------------------------------------------------


def test_watch_sees_new_mail_while_idle_and_survives_dropped_connections(dovecot: Dovecot):
    dovecot.append(letter(1))
    stop = threading.Event()
    arrived: queue.Queue[Fetched | BaseException] = queue.Queue()
    reconnects: list[str] = []

    def run() -> None:
        try:
            for m in inbox.watch(
                dovecot.settings(),
                dovecot.password,
                ["INBOX"],
                {},
                idle_seconds=60,  # longer than the test: only IDLE can bring the news in time
                stop=stop,
                on_reconnect=lambda error, _delay: reconnects.append(str(error)),
            ):
                arrived.put(m)
        except BaseException as error:  # shown by the assertions below
            arrived.put(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert next_message(arrived).raw == letter(1)

        dovecot.append(letter(2))
        assert next_message(arrived).raw == letter(2)

        assert dovecot.drop_connections() >= 1  # SIGKILL to its imap process: no BYE, the socket closes
        dovecot.append(letter(3))
        assert next_message(arrived).raw == letter(3)

        dovecot.restart()  # the server says BYE and is away for a second
        dovecot.append(letter(4))
        assert next_message(arrived).raw == letter(4)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert arrived.empty()
    assert len(reconnects) >= 2 and all("127.0.0.1:" in text for text in reconnects)
    assert dovecot.flags_and_count().flags == {1: frozenset(), 2: frozenset(), 3: frozenset(), 4: frozenset()}


def next_message(arrived: queue.Queue, seconds: float = 10) -> Fetched:
    item = arrived.get(timeout=seconds)
    if isinstance(item, BaseException):
        raise item
    return item


def test_watch_reads_the_other_folders_after_idle_seconds(dovecot: Dovecot):
    """IDLE watches the first folder only; the others are read again at each round."""
    dovecot.create_folder(REPLIES)
    stop = threading.Event()
    arrived: queue.Queue[Fetched | BaseException] = queue.Queue()

    def run() -> None:
        settings = dovecot.settings()
        for m in inbox.watch(settings, dovecot.password, ["INBOX", REPLIES], {}, idle_seconds=0.5, stop=stop):
            arrived.put(m)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        dovecot.append(letter(1), REPLIES)
        got = next_message(arrived, 5)
        assert (got.folder, got.raw) == (REPLIES, letter(1))
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_watch_raises_when_the_server_is_not_there_at_the_start(dovecot: Dovecot):
    dovecot.stop()
    with pytest.raises(inbox.ConnectionLost, match=r"cannot connect to 127\.0\.0\.1:"):
        list(inbox.watch(dovecot.settings(), dovecot.password, ["INBOX"], {}))


def test_watch_stops_when_asked(dovecot: Dovecot):
    stop = threading.Event()
    stop.set()
    assert list(inbox.watch(dovecot.settings(), dovecot.password, ["INBOX"], {}, stop=stop)) == []


# --- files ------------------------------------------------------------------------------------------------


def test_files_give_the_same_messages_as_imap(dovecot: Dovecot, tmp_path: Path):
    messages = [letter(1), bounce(2), letter(3, html=True)]
    dovecot.append_many(messages[:2], flags=["\\Seen"])
    dovecot.append(messages[2])
    from_imap = raws(fetch_all(dovecot))

    # .eml files as mail clients save them: LF line ends
    folder = tmp_path / "saved"
    folder.mkdir()
    for number, raw in enumerate(messages, start=1):
        (folder / f"{number:02}-reply.eml").write_bytes(raw.replace(b"\r\n", b"\n"))
    (folder / "notes.txt").write_text("not mail")
    one = folder / "01-reply.eml"

    mbox_file = tmp_path / "Export.mbox"
    box = mailbox.mbox(mbox_file)
    for raw in messages:
        box.add(raw.replace(b"\r\n", b"\n"))
    box.close()

    maildir = tmp_path / "Maildir"  # the server's own store, copied as a user would
    shutil.copytree(dovecot.maildir(), maildir)

    assert [m.raw for m in mailfiles.read_files([one])] == from_imap[:1]
    assert [m.source for m in mailfiles.read_files([one])] == [str(one)]
    assert [m.raw for m in mailfiles.read_files([folder])] == from_imap
    assert [m.raw for m in mailfiles.read_files([mbox_file])] == from_imap
    assert [m.source for m in mailfiles.read_files([mbox_file])] == [f"{mbox_file}#{n}" for n in (1, 2, 3)]
    from_maildir = list(mailfiles.read_files([maildir]))
    assert sorted(m.raw for m in from_maildir) == sorted(from_imap)
    assert {Path(m.source).parent.name for m in from_maildir} == {"cur", "new"}


def test_files_that_are_not_mail_are_clear_errors(tmp_path: Path):
    cases = {
        tmp_path / "missing.eml": "does not exist",
        tmp_path / "photo.jpg": "is not a mail message (.eml), a Maildir or an mbox file",
        tmp_path / "reply.msg": "is an Outlook .msg file",
        tmp_path / "empty-folder": "holds no .eml files and is not a Maildir",
    }
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 JFIF")
    (tmp_path / "reply.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    (tmp_path / "empty-folder").mkdir()
    for path, expected in cases.items():
        with pytest.raises(InboxError) as error:
            list(mailfiles.read_files([path]))
        assert str(error.value).startswith(f"{path} {expected}")


# --- pieces -----------------------------------------------------------------------------------------------


def test_uid_sets_and_batches():
    assert inbox._uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert inbox._uid_set([5]) == "5"
    sizes = [(uid, 1000) for uid in range(1, 451)]
    assert [len(b) for b in inbox._batches(sizes)] == [200, 200, 50]
    big = [(1, 10), (2, inbox.BATCH_BYTES), (3, 10)]
    assert list(inbox._batches(big)) == [[1], [2], [3]]


def test_the_fixture_leaves_no_process_behind(dovecot: Dovecot):
    dovecot.append(letter(1))
    assert dovecot.process is not None
    group = dovecot.process.pid
    dovecot.stop()
    assert members(group) == []
    assert not answers(dovecot.port) and not answers(dovecot.tls_port)
