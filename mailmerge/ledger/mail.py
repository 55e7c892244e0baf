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
from dataclasses import asdict, dataclass
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
        new = 0
        now = self.now()
        with self.db.atomic():
            for item in batch:
                digest = item.sha256
                if self.db.execute("SELECT 1 FROM mail WHERE sha256 = ?", [digest]).fetchone() is None:
                    self.db["mail"].insert(
                        {"sha256": digest, "raw": item.raw, "size": len(item.raw), "first_seen": now}
                    )
                    self._record(digest, item.result, now)
                    new += 1
                self.db.execute(
                    "INSERT OR IGNORE INTO mail_sources (sha256, source, uidvalidity, uid, seen_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [digest, item.source, item.uidvalidity, item.uid, now],
                )
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
        return new

    @guarded
    def reclassify(self, results: Iterable[tuple[str, MailResult]]) -> int:
        """Record the new results of stored messages; returns how many changed (each change is an event)."""
        changed = 0
        now = self.now()
        with self.db.atomic():
            for digest, result in results:
                current = next(self.db["mail_results"].rows_where("sha256 = ?", [digest]), None)
                if current is None or without_time(current) != without_time(self._row(digest, result, now)):
                    self._record(digest, result, now)
                    changed += 1
        return changed

    def _row(self, digest: str, result: MailResult, now: str) -> dict[str, Any]:
        return asdict(result) | {"sha256": digest, "suspicious": int(result.suspicious), "classified_at": now}

    def _record(self, digest: str, result: MailResult, now: str) -> None:
        self.db["mail_results"].upsert(self._row(digest, result, now), pk="sha256")
        if result.message is not None and result.kind != "other":
            evidence = {
                key: value
                for key, value in asdict(result).items()
                if value and key in ("matched_by", "rsvp", "delegate_name", "excerpt", "status", "diagnostic")
            }
            self.db["events"].insert(
                {
                    "message": result.message,
                    "at": now,
                    "state": result.kind,
                    "address": result.address,
                    "detail": json.dumps(evidence, ensure_ascii=False),
                    "mail": digest,
                }
            )

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
