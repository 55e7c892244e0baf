"""Mail read back from the sender's mailbox: kept whole, once, and what it was found to be.

Every raw message is stored by its sha256, so the same message fetched twice, or imported and fetched, is
one row, and a better classifier can read it again (`replies reclassify`). A batch of messages and the IMAP
folder progress that covers them are one transaction: after a crash a folder is never marked read past
mail that was not stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from .schema import ANSWERS
from .storage import guarded


@dataclass(frozen=True)
class MailResult:
    """What one message was found to be, and whose invitation it is about."""

    kind: str  # bounced | delayed | replied | auto-reply | other
    campaign: str | None = None
    recipient_id: str | None = None
    message: int | None = None  # the ledger's message it is about
    matched_by: str | None = None  # token | reply-address | dsn-message-id | dsn-envid | dsn-recipient | sender
    suspicious: bool = False  # it carried one of our tokens, forged or altered
    address: str | None = None  # the address a bounce or delay is about
    rsvp: str | None = None
    delegate_name: str | None = None
    delegate_position: str | None = None
    excerpt: str | None = None
    status: str | None = None  # a DSN's status, "5.1.1"
    diagnostic: str | None = None
    reason: str | None = None
    sender: str | None = None
    subject: str | None = None
    mail_date: str | None = None  # ISO 8601, UTC


RESULT_FIELDS = tuple(f.name for f in fields(MailResult))


@dataclass(frozen=True)
class Incoming:
    """One message to store: its bytes, where it was seen, and what it was found to be."""

    raw: bytes
    source: str  # "imap:user@host/INBOX", or a file
    result: MailResult
    uidvalidity: int | None = None
    uid: int | None = None

    @property
    def sha256(self) -> str:
        return sha256(self.raw)


EVIDENCE = ("matched_by", "rsvp", "delegate_name", "excerpt", "status", "diagnostic")  # in an event's detail


def source_row(digest: str, item: Incoming, now: str) -> dict[str, Any]:
    return {"sha256": digest, "source": item.source, "uidvalidity": item.uidvalidity, "uid": item.uid, "seen_at": now}


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def without_time(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "classified_at"}


class MailRecords:
    """The mail tables of one ledger (`Ledger.mail`)."""

    def __init__(self, db: Database, path: Path, now: Callable[[], str]):
        self.db = db
        self.path = path
        self.now = now

    @guarded
    def add(self, batch: Iterable[Incoming], folder: tuple[str, str, int, int] | None = None) -> int:
        """Store a batch, each message once, and (account, folder, uidvalidity, last_uid) with it.
        Returns how many messages were new; a message already stored keeps its first result."""
        now = self.now()
        items = [(item.sha256, item) for item in batch]
        with self.db.atomic():
            new = self._unknown(items)
            self.db["mail"].insert_all(
                {"sha256": digest, "raw": item.raw, "size": len(item.raw), "first_seen": now} for digest, item in new
            )
            self.db["mail_results"].insert_all(self._row(digest, item.result, now) for digest, item in new)
            events = (self._event(digest, item.result, now) for digest, item in new)
            self.db["events"].insert_all(event for event in events if event is not None)
            sources = (source_row(digest, item, now) for digest, item in items)
            self.db["mail_sources"].insert_all(sources, ignore=True)  # where it was seen before: one row
            if folder is not None:
                account, name, uidvalidity, last_uid = folder
                self.db["imap_folders"].upsert(
                    {
                        "account": account,
                        "folder": name,
                        "uidvalidity": uidvalidity,
                        "last_uid": last_uid,
                        "updated_at": now,
                    },
                    pk=("account", "folder"),
                )
        return len(new)

    def _unknown(self, items: list[tuple[str, Incoming]]) -> list[tuple[str, Incoming]]:
        """The items whose message is not stored yet, each message once (its first item)."""
        unknown: dict[str, Incoming] = {}
        for digest, item in items:
            if digest not in unknown and not self._stored(digest):
                unknown[digest] = item
        return list(unknown.items())

    def _stored(self, digest: str) -> bool:
        return self.db.execute("SELECT 1 FROM mail WHERE sha256 = ?", [digest]).fetchone() is not None

    @guarded
    def reclassify(self, results: Iterable[tuple[str, MailResult]]) -> int:
        """Record the new results of stored messages; returns how many changed (each change is an event)."""
        changed = 0
        now = self.now()
        with self.db.atomic():
            for digest, result in results:
                current = next(self.db["mail_results"].rows_where("sha256 = ?", [digest]), None)
                row = self._row(digest, result, now)
                if current is None or without_time(current) != without_time(row):
                    self.db["mail_results"].upsert(row, pk="sha256")
                    if (event := self._event(digest, result, now)) is not None:
                        self.db["events"].insert(event)
                    changed += 1
        return changed

    def _row(self, digest: str, result: MailResult, now: str) -> dict[str, Any]:
        values = {name: getattr(result, name) for name in RESULT_FIELDS}  # `asdict` without its deep copy
        return values | {"sha256": digest, "suspicious": int(result.suspicious), "classified_at": now}

    def _event(self, digest: str, result: MailResult, now: str) -> dict[str, Any] | None:
        """The event a result is for the message it is about; None when it is about none, or is `other`."""
        if result.message is None or result.kind == "other":
            return None
        evidence = {key: value for key in EVIDENCE if (value := getattr(result, key))}
        return {
            "message": result.message,
            "at": now,
            "state": result.kind,
            "address": result.address,
            "detail": json.dumps(evidence, ensure_ascii=False),
            "mail": digest,
        }

    @guarded
    def folders(self, account: str) -> dict[str, tuple[int, int]]:
        """folder -> (uidvalidity, last UID stored) for one IMAP account."""
        rows = self.db["imap_folders"].rows_where("account = ?", [account])
        return {row["folder"]: (row["uidvalidity"], row["last_uid"]) for row in rows}

    @guarded
    def stored(self) -> Iterator[tuple[str, bytes]]:
        """Every stored message, for a new classification."""
        for row in self.db.execute("SELECT sha256, raw FROM mail ORDER BY first_seen, sha256").fetchall():
            yield row[0], row[1]

    @guarded
    def results(self, campaign: str | None = None, *, unmatched: bool = False) -> list[dict[str, Any]]:
        """Results of a campaign's mail (or of mail that matched nothing), oldest first."""
        where, params = ("campaign IS NULL", []) if unmatched else ("campaign = ?", [campaign])
        return list(self.db["mail_results"].rows_where(where, params, order_by="mail_date, sha256"))

    @guarded
    def mark(
        self, campaign: str, recipient_id: str, answer: str | None, delegate_name: str | None, note: str | None
    ) -> None:
        """An answer given by phone or in person (`answer` None clears it); the latest mark wins."""
        if answer is not None and answer not in ANSWERS:
            raise ValueError(answer)
        with self.db.atomic():
            self.db["marks"].insert(
                {
                    "campaign": campaign,
                    "recipient_id": recipient_id,
                    "answer": answer,
                    "delegate_name": delegate_name,
                    "note": note,
                    "at": self.now(),
                }
            )

    @guarded
    def marks(self, campaign: str) -> dict[str, dict[str, Any]]:
        """recipient -> their latest mark (a cleared one has `answer` None)."""
        latest: dict[str, dict[str, Any]] = {}
        for row in self.db["marks"].rows_where("campaign = ?", [campaign], order_by="id"):
            latest[row["recipient_id"]] = row
        return latest
