"""The merge: a campaign and its recipients, loaded and validated, and the exact message each recipient
gets, built the same way for check, preview and send."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import attachments, tokens
from .campaign import load_campaign
from .compose import compose
from .errors import InputError, MailmergeError, Problem
from .i18n import _
from .ledger import Ledger
from .ledger.schema import INVITATION, reminder_number
from .models import Campaign, Letter, Recipient
from .recipients import Reading, read_recipients


@dataclass(frozen=True)
class Loaded:
    campaign: Campaign
    recipients: list[Recipient]
    notes: list[Problem]  # what was cleaned or skipped in the recipients file


def load(folder: Path) -> Loaded:
    """Campaign and recipients, both fully validated."""
    campaign = load_campaign(folder)
    reading = campaign_recipients(campaign)
    if reading.problems:
        raise InputError(reading.problems)
    return Loaded(campaign, reading.recipients, reading.notes)


def campaign_recipients(campaign: Campaign) -> Reading:
    """The campaign's recipients file, read: the valid recipients, the rejected rows and their problems."""
    return read_recipients(campaign.recipients_file, encoding=campaign.encoding)


def select(recipients: list[Recipient], wanted: Iterable[str]) -> list[Recipient]:
    """Recipients named by protocol order (ID) or email; an unknown name is an error."""
    wanted = list(wanted)
    if not wanted:
        return recipients
    by_key = {r.id: r for r in recipients} | {r.email.lower(): r for r in recipients}
    unknown = [w for w in wanted if w.strip().lower() not in by_key]
    if unknown:
        # TRANSLATORS: {names} is what the user typed, one or more IDs or email addresses separated by commas.
        message = _("no recipient with ID or email {names}; see `mailmerge check`")
        raise MailmergeError(message.format(names=", ".join(unknown)))
    chosen = {by_key[w.strip().lower()].id for w in wanted}
    return [r for r in recipients if r.id in chosen]


def campaign_key(campaign: Campaign) -> bytes:
    """The key of the campaign's tokens, for a preview: its ledger's; before its ledger has one, the key
    its first send will take (the computer's, for a campaign made before identities), or for a new
    campaign whose ledger is gone a passing one (its Message-IDs are fixed when it is sent)."""
    if campaign.ledger_file.exists():
        ledger = Ledger(campaign.ledger_file, read_only=True)
        try:
            ledger.check_identity(campaign)
            if (key := ledger.stored_key()) is not None:
                return key
        finally:
            ledger.close()
    return tokens.new_key() if campaign.identity else tokens.load_key()


class Composer:
    """Renders and composes the exact email for a recipient, the same way for preview and send."""

    def __init__(self, campaign: Campaign, key: bytes | None = None):
        self.campaign = campaign
        from .render import Renderer  # WeasyPrint: only commands that lay out letters load it

        self.renderer = Renderer(campaign)
        self.key = key if key is not None else campaign_key(campaign)
        self.attachments = attachments.encoded(campaign.attachments)  # the same parts on every message

    def message_id(self, recipient: Recipient, kind: str = INVITATION) -> str:
        return tokens.message_id(self.key, self.campaign.token_name, recipient.id, kind, self.campaign.sender.domain)

    def reply_address(self, recipient: Recipient) -> str:
        """The sender's address with the recipient's signed token: `local+12.a1b2c3d4e5f6@domain`."""
        return tokens.reply_address(self.key, self.campaign.token_name, recipient.id, self.campaign.sender.email)

    def envelope_sender(self, recipient: Recipient) -> str:
        """MAIL FROM: the sender's address, or with `[sender] verp` its token address, so that a bounce
        names the recipient even from a relay that drops the DSN parameters."""
        return self.reply_address(recipient) if self.campaign.sender.verp else self.campaign.sender.email

    def build(
        self,
        recipient: Recipient,
        *,
        kind: str = INVITATION,
        message_id: str | None = None,
        thread: tuple[str, ...] = (),
        now: datetime | None = None,
    ) -> tuple[Letter, bytes]:
        """The letter and the exact bytes of the email; `message_id` is the ledger's when sending, so the two
        always agree. A reminder follows the messages of its `thread` (In-Reply-To and References)."""
        letter = self.renderer.render(recipient, reminder=reminder_number(kind) or 0)
        message = compose(
            letter,
            self.campaign,
            message_id=message_id or self.message_id(recipient, kind),
            reply_to=self.reply_address(recipient) if self.campaign.sender.reply_to_tokens else None,
            now=now or datetime.now().astimezone(),
            thread=thread,
            attachments=self.attachments,
        )
        return letter, message
