"""Which sent message a reply or a bounce is about, from the strongest evidence to the weakest.

1. our signed token in In-Reply-To / References (the recipient's mail client keeps them);
2. our signed plus-address in To / Cc / Delivered-To / X-Original-To (the Reply-To of the invitation);
3. for a delivery report: the original Message-ID it returns, its ENVID, or the failed recipient against
   the envelope of what was sent;
4. the sender being an invitee or one of their CC addresses.

A token our key did not sign (forged, or altered on the way) matches nothing and makes the mail
suspicious: it is kept and listed, never attributed to anyone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from . import tokens
from .classify import BOUNCE, DELAY, Classification

MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Sent:
    """One message that went out, as matching needs it."""

    message: int
    campaign: str
    recipient_id: str
    kind: str
    message_id: str
    invitee: str
    addresses: tuple[str, ...]  # the envelope: the invitee first, then the CC addresses
    token_name: str  # the campaign as its tokens name it (slug and identity)


@dataclass(frozen=True)
class Match:
    sent: Sent | None = None
    matched_by: str | None = None
    suspicious: bool = False


@dataclass
class Directory:
    """Everything sent from one ledger, indexed the ways replies refer to it."""

    sent: list[Sent]
    senders: set[str]  # our sender addresses, whose plus-addresses carry reply tokens
    by_message_id: dict[str, Sent] = field(init=False)
    by_token: dict[tuple[str, str, str], Sent] = field(init=False)
    by_address: dict[str, list[Sent]] = field(init=False)
    campaigns: list[str] = field(init=False)  # sorted
    by_recipient: dict[tuple[str, str], Sent] = field(init=False)  # each recipient's first message

    def __post_init__(self) -> None:
        self.by_message_id = {s.message_id.lower(): s for s in self.sent}
        self.by_token = {(s.token_name, s.recipient_id, s.kind): s for s in self.sent}
        self.campaigns = sorted({s.token_name for s in self.sent})
        self.by_recipient, self.by_address = {}, {}
        for sent in self.sent:
            self.by_recipient.setdefault((sent.token_name, sent.recipient_id), sent)
            for address in sent.addresses:
                self.by_address.setdefault(address, []).append(sent)

    @classmethod
    def from_rows(cls, rows: Iterable[dict]) -> Directory:
        """From `Ledger.sent_messages()`."""
        sent, senders = [], set()
        for row in rows:
            envelope = json.loads(row["envelope_to"]) if row["envelope_to"] else [row["email"]]
            addresses = tuple(dict.fromkeys(address.lower() for address in envelope))
            sent.append(
                Sent(
                    row["id"],
                    row["campaign"],
                    row["recipient_id"],
                    row["kind"],
                    row["message_id"],
                    row["email"].lower(),
                    addresses,
                    f"{row['campaign']}.{row['identity']}" if row.get("identity") else row["campaign"],
                )
            )
            senders.add(parseaddr(row["sender"])[1].lower())
        return cls(sent, senders)

    def first_of(self, token_name: str, recipient_id: str) -> Sent | None:
        """The invitation (the first message) of a recipient of the campaign its tokens call `token_name`."""
        return self.by_recipient.get((token_name, recipient_id))

    def latest_to(self, address: str) -> Sent | None:
        found = self.by_address.get(address.lower())
        return found[-1] if found else None


def match(message: EmailMessage, found: Classification, directory: Directory, key: bytes) -> Match:
    suspicious = False
    for evidence in (by_thread, by_reply_address, by_report):
        result = evidence(message, found, directory, key)
        if result.sent is not None:
            return result
        suspicious = suspicious or result.suspicious
    if suspicious:
        return Match(suspicious=True)
    return by_sender(message, directory)


def by_thread(message: EmailMessage, found: Classification, directory: Directory, key: bytes) -> Match:
    """Our Message-ID in In-Reply-To, then in References (newest first)."""
    ids = MESSAGE_ID.findall(str(message.get("In-Reply-To") or ""))
    ids += reversed(MESSAGE_ID.findall(str(message.get("References") or "")))
    return first_token(ids, directory, key, "token")


def by_reply_address(message: EmailMessage, found: Classification, directory: Directory, key: bytes) -> Match:
    suspicious = False
    for address in header_addresses(message, "To", "Cc", "Delivered-To", "X-Original-To"):
        for sender in directory.senders:
            token = tokens.read_reply_address(key, address, sender, directory.campaigns)
            if token is None:
                continue
            if not token.valid or token.campaign is None:
                suspicious = True
                continue
            if (sent := directory.first_of(token.campaign, token.recipient_id)) is not None:
                return Match(sent, "reply-address")
    return Match(suspicious=suspicious)


def by_report(message: EmailMessage, found: Classification, directory: Directory, key: bytes) -> Match:
    """A delivery report returns the original's Message-ID, our ENVID, or at least the failed address."""
    if found.kind not in (BOUNCE, DELAY):
        return Match()
    if found.original_message_id:
        result = first_token([found.original_message_id], directory, key, "dsn-message-id")
        if result.sent or result.suspicious:
            return result
        if (sent := directory.by_message_id.get(found.original_message_id.lower())) is not None:
            return Match(sent, "dsn-message-id")
    if found.envid:
        result = first_token([found.envid], directory, key, "dsn-envid")
        if result.sent or result.suspicious:
            return result
    addresses = [a for r in found.reports for a in (r.final_recipient, r.original_recipient) if a]
    candidates = {  # per invitee, their latest message (a reminder after the invitation)
        (sent.campaign, sent.recipient_id): sent
        for a in [*addresses, *found.original_recipients]
        for sent in directory.by_address.get(a.lower(), [])
    }
    if len(candidates) == 1:  # only when the address points at one invitee: several would be a guess
        return Match(next(iter(candidates.values())), "dsn-recipient")
    return Match()


def by_sender(message: EmailMessage, directory: Directory) -> Match:
    for address in header_addresses(message, "From", "Sender", "Reply-To"):
        if (sent := directory.latest_to(address)) is not None:
            return Match(sent, "sender")
    return Match()


def first_token(ids: Iterable[str], directory: Directory, key: bytes, how: str) -> Match:
    suspicious = False
    for message_id in ids:
        token = tokens.read_message_id(key, message_id)
        if token is None:
            continue
        if not token.valid:
            suspicious = True
            continue
        if (sent := directory.by_token.get((token.campaign, token.recipient_id, token.kind))) is not None:
            return Match(sent, how)
    return Match(suspicious=suspicious)


def header_addresses(message: EmailMessage, *names: str) -> list[str]:
    values = [str(value) for name in names for value in (message.get_all(name) or [])]
    return [address.lower() for _name, address in getaddresses(values) if "@" in address]
