"""`replies fetch`, `replies import`, `replies reclassify`: mail from the sender's mailbox, understood.

Each message is parsed, classified (`classify`), matched to what was sent (`match`) and stored whole in
the ledger with what it was found to be, in batches. Never prints or prompts: the CLI follows progress
through the callbacks.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from . import headers, inbox, mailfiles
from .campaign import load_campaign
from .classify import AUTO_REPLY, BOUNCE, DELAY, REPLY, Classification, classify
from .errors import CampaignError
from .i18n import _
from .ledger import Incoming, Ledger, MailResult
from .match import Directory, match
from .merge import campaign_recipients, select
from .models import Campaign, Recipient, ServerSettings

BATCH = 200
KINDS = {BOUNCE: "bounced", DELAY: "delayed", REPLY: "replied", AUTO_REPLY: "auto-reply"}  # else "other"


@dataclass
class Summary:
    """What a run read and found."""

    read: int = 0
    new: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # of the new messages
    unmatched: int = 0
    suspicious: int = 0

    def count(self, result: MailResult) -> None:
        self.kinds[result.kind] += 1
        self.unmatched += result.campaign is None
        self.suspicious += result.suspicious


class Reader:
    """Understands one raw message against what one ledger has sent."""

    def __init__(self, ledger: Ledger, key: bytes):
        self.directory = Directory.from_rows(ledger.sent_messages())
        self.key = key

    def understand(self, raw: bytes) -> MailResult:
        message = headers.parse(raw)
        found = classify(message)
        matched = match(message, found, self.directory, self.key)
        sent = matched.sent
        return MailResult(
            kind=KINDS.get(found.kind, "other"),
            campaign=sent.campaign if sent else None,
            recipient_id=sent.recipient_id if sent else None,
            message=sent.message if sent else None,
            matched_by=matched.matched_by,
            suspicious=matched.suspicious,
            address=reported_address(found, sent.invitee if sent else None),
            rsvp=found.rsvp,
            delegate_name=found.delegate_name,
            delegate_position=found.delegate_position,
            excerpt=found.excerpt,
            status=first_report(found, "status"),
            diagnostic=first_report(found, "diagnostic"),
            reason=found.reason,
            sender=parseaddr(str(message.get("From") or ""))[1].lower() or None,
            subject=str(message.get("Subject") or "") or None,
            mail_date=date_of(message),
        )


def reported_address(found: Classification, invitee: str | None) -> str | None:
    """The address a bounce or delay is about: the invitee's when they are among the failed ones."""
    addresses = [r.final_recipient or r.original_recipient for r in found.reports if r.action in ("failed", "delayed")]
    addresses = [a for a in [*addresses, *found.original_recipients] if a]
    if not addresses:
        return None
    return invitee if invitee in addresses else addresses[0]


def first_report(found: Classification, name: str) -> str | None:
    return next((getattr(r, name) for r in found.reports if getattr(r, name)), None)


def date_of(message: EmailMessage) -> str | None:
    header = message.get("Date")
    try:
        moment = header.datetime if header is not None else None
    except (AttributeError, ValueError):
        return None
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="seconds")


def store(
    ledger: Ledger,
    reader: Reader,
    items: Iterable[tuple[bytes, str, int | None, int | None]],
    summary: Summary,
    folder: Callable[[int | None, int | None], tuple[str, str, int, int] | None] | None = None,
    on_message: Callable[[], None] | None = None,
) -> None:
    """Understand and store (raw, source, uidvalidity, uid) in batches; `folder` gives the IMAP progress that a
    batch covers, stored with it."""
    batch: list[Incoming] = []

    def flush() -> None:
        last = batch[-1]
        new = ledger.mail.add(batch, folder(last.uidvalidity, last.uid) if folder else None)
        summary.new += new
        batch.clear()

    for raw, source, uidvalidity, uid in items:
        result = reader.understand(raw)
        batch.append(Incoming(raw, source, result, uidvalidity, uid))
        summary.read += 1
        summary.count(result)
        if on_message:
            on_message()
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()


def open_ledger(folder: Path) -> tuple[Campaign, Ledger]:
    campaign = load_campaign(folder)
    if not campaign.ledger_file.exists():
        raise CampaignError(
            _(
                "there is no ledger in {folder} yet: replies are read for a campaign that has sent its invitations"
            ).format(folder=campaign.folder)
        )
    return campaign, Ledger(campaign.ledger_file)


def import_files(folder: Path, paths: list[Path], *, on_message: Callable[[], None] | None = None) -> Summary:
    """`.eml` files, folders of them, Maildirs and mbox files exported from a mail client."""
    campaign, ledger = open_ledger(folder)
    try:
        summary = Summary()
        items = ((m.raw, f"file:{m.source}", None, None) for m in mailfiles.read_files(paths))
        store(ledger, Reader(ledger, ledger.token_key(campaign)), items, summary, on_message=on_message)
        return summary
    finally:
        ledger.close()


def fetch(
    folder: Path,
    password: str | None,
    *,
    watch: bool = False,
    stop: threading.Event | None = None,
    on_total: Callable[[str, int], None] | None = None,
    on_message: Callable[[], None] | None = None,
) -> Summary:
    """New mail of the `[imap]` folders, read-only; `watch` keeps going (IDLE) until `stop` is set."""
    campaign, ledger = open_ledger(folder)
    try:
        settings = imap_settings(folder)
        account = f"{settings.username or ''}@{settings.host}:{settings.port}"
        known = {name: inbox.FolderState(*state) for name, state in ledger.mail.folders(account).items()}
        summary = Summary()
        reader = Reader(ledger, ledger.token_key(campaign))
        read = inbox.watch if watch else inbox.fetch
        extra = {"stop": stop} if watch else {}
        fetched = read(settings, password, campaign.imap_folders, known, on_total=on_total, **extra)
        for name, messages in by_folder(fetched):
            items = ((m.raw, f"imap:{account}/{m.folder}", m.uidvalidity, m.uid) for m in messages)
            store(
                ledger,
                reader,
                items,
                summary,
                folder=lambda validity, uid, name=name: (account, name, validity, uid),
                on_message=on_message,
            )
        return summary
    finally:
        ledger.close()


def by_folder(fetched: Iterator[inbox.Fetched]) -> Iterator[tuple[str, Iterator[inbox.Fetched]]]:
    """Consecutive runs of one folder's messages, so each batch's progress belongs to one folder."""
    yield from itertools.groupby(fetched, key=lambda m: m.folder)


def reclassify(folder: Path, *, on_message: Callable[[], None] | None = None) -> tuple[int, int]:
    """Every stored message read again with today's rules; returns (messages read, results changed)."""
    campaign, ledger = open_ledger(folder)
    try:
        reader = Reader(ledger, ledger.token_key(campaign))
        results = []
        for digest, raw in ledger.mail.stored():
            results.append((digest, reader.understand(raw)))
            if on_message:
                on_message()
        return len(results), ledger.mail.reclassify(results)
    finally:
        ledger.close()


def mark(
    folder: Path, who: str, answer: str | None, *, delegate: str | None = None, note: str | None = None
) -> Recipient:
    """Record an answer given by phone or in person (`answer` None clears the recorded one); it wins over
    whatever a reply was read to say. Returns the recipient."""
    campaign, ledger = open_ledger(folder)
    try:
        reading = campaign_recipients(campaign)
        recipient = select(reading.recipients, [who])[0]
        ledger.mail.mark(campaign.slug, recipient.id, answer, delegate, note)
        return recipient
    finally:
        ledger.close()


def listed(folder: Path, *, unmatched: bool = False) -> list[dict]:
    """Mail read back, oldest first: the campaign's, or (`unmatched`) what matched no invitation."""
    campaign, ledger = open_ledger(folder)
    try:
        return ledger.mail.results(None if unmatched else campaign.slug, unmatched=unmatched)
    finally:
        ledger.close()


def imap_settings(folder: Path) -> ServerSettings:
    """The `[imap]` server of the campaign, or a clear error when there is none."""
    campaign = load_campaign(folder)
    if campaign.imap is None:
        raise CampaignError(_("campaign.toml has no [imap] table: say which mailbox to read replies from"))
    return campaign.imap
