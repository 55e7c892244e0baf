"""Messages in doubt settled by the sender's mailbox: a message cut off during DATA may have been accepted,
and where the server files what it accepts in the Sent folder (Gmail does), a copy there proves it. Found
-> `sent`, with where it was found kept as the evidence; not found -> still in doubt, for a person to
decide (`resend --unknown` asks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .campaign import load_campaign
from .ledger import UNKNOWN, Ledger
from .sentfolder import Found, Mailbox
from .transaction import Invitee


@dataclass(frozen=True)
class Settled:
    invitee: Invitee
    found: Found


def settle_in_doubt(folder: Path, password: str | None, *, ledger_file: Path | None = None) -> list[Settled]:
    """Search the Sent folder, then the folders replies are read from, for every message of the campaign
    in doubt; mark those found as sent. Nothing to do without [imap] or a ledger. Raises `InboxError`
    when the mailbox cannot be read (nothing is settled then)."""
    campaign = load_campaign(folder)
    path = ledger_file or campaign.ledger_file
    if campaign.imap is None or not path.exists():
        return []
    ledger = Ledger(path)
    try:
        with ledger.exclusive():
            ledger.recover_interrupted()
            doubtful = [row for row in ledger.in_doubt(campaign.slug) if row["state"] == UNKNOWN]
            if not doubtful:
                return []
            mailbox = Mailbox(campaign.imap, password, campaign.sent_folder)
            try:
                folders = [name for name in (mailbox.sent, *campaign.imap_folders) if name]
                found = mailbox.find([row["message_id"] for row in doubtful], folders)
            finally:
                mailbox.close()
            settled = []
            for row in doubtful:
                where = found.get(row["message_id"])
                if where is not None and ledger.settle_found(row["id"], where.evidence):
                    settled.append(Settled(Invitee(row["recipient_id"], row["name"], row["email"]), where))
            return settled
    finally:
        ledger.close()
