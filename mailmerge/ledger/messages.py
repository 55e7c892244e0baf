"""Messages and their events: every transition is one committed transaction, so after a crash the ledger
says exactly what is known."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import tokens
from ..errors import LedgerError
from ..i18n import _
from ..models import Campaign, Recipient
from .mail import MailRecords
from .migrations import migrations
from .schema import (
    COPIED,
    DEFERRED,
    DUE,
    FAILED,
    INVITATION,
    NOT_COPIED,
    QUEUED,
    REFUSED,
    SENDING,
    SENT,
    UNKNOWN,
)
from .storage import exclusive_lock, folder_error, guarded, ledger_error, open_reader, open_writer
from .written import WrittenFiles


@dataclass(frozen=True)
class Prepared:
    """What the sender knows about a message once it is rendered: stored at the claim."""

    message: int
    envelope_to: list[str]
    subject: str
    pdf_sha256: str | None
    pdf_size: int | None
    merged: dict[str, Any]


@dataclass(frozen=True)
class MessageRow:
    id: int
    recipient_id: str
    kind: str
    message_id: str
    state: str
    attempts: int


def utc_now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """One campaign ledger file. Not thread-safe: use it from one thread (the CLI's event loop)."""

    def __init__(self, path: Path, *, clock: Callable[[], datetime] = utc_now, read_only: bool = False):
        """A writer checks at once that it can write (a read-only or full ledger fails here, before anything
        is sent); a reader (`read_only`) also works on a read-only file, folder or disk."""
        self.path = path
        self.clock = clock
        try:
            self.db = open_reader(path) if read_only else open_writer(path)
            self._check_version()
            if not read_only:
                migrations.apply(self.db)
                self._probe_write()
            self.mail = MailRecords(self.db, path, self.now)
            self.written = WrittenFiles(self.db, path, self.now)
        except (sqlite3.Error, OSError) as error:
            raise ledger_error(path, folder_error(path) or error) from None

    def _probe_write(self) -> None:
        """SQLite opens a file it may not write read-only without saying so; find out now, not mid-send."""
        with self.db.atomic():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            self.db.execute(f"PRAGMA user_version = {int(version)}")

    def close(self) -> None:
        self.db.close()

    def _check_version(self) -> None:
        known = {m.name for m in migrations._migrations}
        unknown = [m.name for m in migrations.applied(self.db) if m.name not in known]
        if unknown:
            # TRANSLATORS: {path} is the ledger file; {schema} is the name of a database change (m002_replies).
            message = _("{path} was written by a newer mailmerge (schema {schema}); upgrade")
            raise LedgerError(message.format(path=self.path, schema=unknown[-1]))

    @property
    def schema_version(self) -> int:
        return len(migrations.applied(self.db))

    def now(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="milliseconds")

    def exclusive(self) -> AbstractContextManager[None]:
        """Only one sending process per ledger; the OS drops the lock if the process dies."""
        return exclusive_lock(self.path)

    # --- writes -------------------------------------------------------------------------------

    def _event(
        self,
        message: int,
        state: str,
        *,
        code: int | None = None,
        reply: str | None = None,
        address: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.db["events"].insert(
            {
                "message": message,
                "at": self.now(),
                "state": state,
                "code": code,
                "reply": reply,
                "address": address,
                "detail": detail,
            }
        )

    def _transition(self, message: int, allowed: Iterable[str], state: str, **fields: Any) -> bool:
        """Move one message to `state` if it is in one of `allowed`; True if it moved."""
        allowed = tuple(allowed)
        assignments = "".join(f", {name} = :{name}" for name in fields)
        placeholders = ", ".join(f":allowed{i}" for i in range(len(allowed)))
        sql = (
            f"UPDATE messages SET state = :state, updated_at = :now{assignments} "
            f"WHERE id = :id AND state IN ({placeholders}) RETURNING id"
        )
        params = {"state": state, "now": self.now(), "id": message, **fields}
        params |= {f"allowed{i}": value for i, value in enumerate(allowed)}
        return self.db.execute(sql, params).fetchone() is not None

    @guarded
    def token_key(self, campaign: Campaign) -> bytes:
        """The key that signs the campaign's tokens, made the first time it is needed: a new one for a
        campaign with an identity; for one made before identities, the computer's key that signed what
        it already sent. Raises if the ledger belongs to another campaign of the same slug."""
        self.check_identity(campaign)
        if (key := self.stored_key()) is not None:
            return key
        if campaign.identity:
            key, origin = tokens.new_key(), "new"
        else:
            key, origin = tokens.load_key(), f"moved from {tokens.key_file()}"
        with self.db.atomic():
            self.db["token_key"].insert({"id": 1, "key": key, "origin": origin, "created_at": self.now()})
        return key

    def stored_key(self) -> bytes | None:
        if not self.db["token_key"].exists():  # a read-only ledger of an earlier release
            return None
        row = self.db.execute("SELECT key FROM token_key WHERE id = 1").fetchone()
        return bytes(row[0]) if row else None

    def check_identity(self, campaign: Campaign) -> None:
        """A campaign file copied beside another campaign's ledger must not send in its name."""
        if "identity" not in self.db["campaigns"].columns_dict:
            return
        row = self.db.execute("SELECT identity FROM campaigns WHERE slug = ?", [campaign.slug]).fetchone()
        if row and row[0] and row[0] != campaign.identity:
            message = _(
                "{path} belongs to campaign {slug} with id {recorded}, but campaign.toml says id {identity}: the "
                "folder was copied from another campaign. Start a new campaign from it with `mailmerge init --from "
                "OLD NEW`, or put back the campaign.toml that goes with this ledger."
            )
            raise LedgerError(
                message.format(path=self.path, slug=campaign.slug, recorded=row[0], identity=campaign.identity or "–")
            )

    @guarded
    def register(self, campaign: Campaign, recipients: list[Recipient], kind: str, message_ids: dict[str, str]) -> int:
        """Record the campaign and its recipients; queue a message of `kind` for whoever has none yet.
        Returns how many were newly queued."""
        self.check_identity(campaign)
        now = self.now()
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO campaigns (slug, folder, sender, identity, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO UPDATE SET folder = excluded.folder, "
                "sender = excluded.sender, identity = coalesce(campaigns.identity, excluded.identity), "
                "updated_at = excluded.updated_at",
                [
                    campaign.slug,
                    str(campaign.folder),
                    f"{campaign.sender.name} <{campaign.sender.email}>",
                    campaign.identity,
                    now,
                    now,
                ],
            )
            self.db["recipients"].upsert_all(
                [
                    {
                        "campaign": campaign.slug,
                        "recipient_id": r.id,
                        "email": r.email,
                        "name": r.name,
                        "salutation": r.salutation,
                        "group_name": r.group,
                        "organisation": r.organisation,
                        "position": r.position,
                        "data": json.dumps(r.as_template_data(), ensure_ascii=False),
                        "updated_at": now,
                    }
                    for r in recipients
                ],
                pk=("campaign", "recipient_id"),
            )
            queued = 0
            for recipient in recipients:
                cursor = self.db.execute(
                    "INSERT INTO messages (campaign, recipient_id, kind, message_id, state, attempts, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) "
                    "ON CONFLICT (campaign, recipient_id, kind) DO NOTHING RETURNING id",
                    [campaign.slug, recipient.id, kind, message_ids[recipient.id], QUEUED, now, now],
                )
                if (row := cursor.fetchone()) is not None:
                    self._event(row[0], QUEUED)
                    queued += 1
        return queued

    @guarded
    def recover_interrupted(self) -> list[MessageRow]:
        """Start-up: whatever is still `sending` was cut off mid-send; whether it left is unknown."""
        with self.db.atomic():
            stuck = self._rows("state = ?", [SENDING])
            for row in stuck:
                self._transition(row.id, [SENDING], UNKNOWN)
                # An event's detail is the ledger's permanent record, in English: never translated.
                self._event(row.id, UNKNOWN, detail="the previous run stopped while this message was being sent")
        return stuck

    @guarded
    def claim(self, prepared: Prepared) -> bool:
        """queued/deferred -> sending, committed before any SMTP command for this message."""
        with self.db.atomic():
            moved = self._transition(
                prepared.message,
                DUE,
                SENDING,
                envelope_to=json.dumps(prepared.envelope_to),
                subject=prepared.subject,
                pdf_sha256=prepared.pdf_sha256,
                pdf_size=prepared.pdf_size,
                merged=json.dumps(prepared.merged, ensure_ascii=False, default=str),
            )
            if moved:
                self.db.execute("UPDATE messages SET attempts = attempts + 1 WHERE id = ?", [prepared.message])
                self._event(prepared.message, SENDING)
        return moved

    @guarded
    def record_sent(
        self, message: int, code: int, reply: str, refused: dict[str, tuple[int, str]] | None = None
    ) -> None:
        with self.db.atomic():
            self._require(self._transition(message, [SENDING], SENT, smtp_code=code, smtp_reply=reply), message)
            self._event(message, SENT, code=code, reply=reply)
            for address, (refused_code, refused_reply) in (refused or {}).items():
                self._event(message, REFUSED, code=refused_code, reply=refused_reply, address=address)

    @guarded
    def record_outcome(
        self, message: int, state: str, *, code: int | None, reply: str | None, detail: str | None = None
    ) -> None:
        """sending -> deferred (4xx, or nothing left), failed (5xx) or unknown (cut off after DATA)."""
        if state not in (DEFERRED, FAILED, UNKNOWN):
            raise ValueError(state)
        with self.db.atomic():
            moved = self._transition(message, [SENDING], state, smtp_code=code, smtp_reply=reply)
            self._require(moved, message)
            self._event(message, state, code=code, reply=reply, detail=detail)

    @guarded
    def readdress(self, campaign: str, recipient_id: str, old: str, new: str) -> bool:
        """failed, or sent and bounced -> queued, to go to the corrected address (`resend --failed`). The
        events keep the attempt to the old address and record the change; True if it was requeued."""
        with self.db.atomic():
            rows = self._rows("campaign = ? AND recipient_id = ? AND kind = ?", [campaign, recipient_id, INVITATION])
            if not rows or not self._transition(rows[0].id, [FAILED, SENT], QUEUED):
                return False
            detail = f"address corrected from {old} to {new}; resent after the invitation failed"
            self._event(rows[0].id, QUEUED, address=new, detail=detail)
        return True

    @guarded
    def settle_found(self, message: int, evidence: str) -> bool:
        """unknown -> sent, because the message was found in the sender's mailbox: the server had accepted
        it. `evidence` (where it was found) is kept in the event; True if it moved."""
        with self.db.atomic():
            moved = self._transition(message, [UNKNOWN], SENT)
            if moved:
                self._event(message, SENT, detail=evidence)
        return moved

    @guarded
    def record_copy(self, message: int, copied: bool, detail: str) -> None:
        """Whether a copy of a sent message went into the Sent folder (never tried twice)."""
        with self.db.atomic():
            self._event(message, COPIED if copied else NOT_COPIED, detail=detail)

    @guarded
    def requeue_unknown(self, campaign: str, recipient_ids: set[str] | None = None) -> int:
        """unknown -> queued, on the user's explicit confirmation (`mailmerge resend --unknown`)."""
        with self.db.atomic():
            rows = [
                r
                for r in self._rows("campaign = ? AND state = ?", [campaign, UNKNOWN])
                if recipient_ids is None or r.recipient_id in recipient_ids
            ]
            for row in rows:
                self._transition(row.id, [UNKNOWN], QUEUED)
                self._event(row.id, QUEUED, detail="resend of a message in doubt, confirmed by the user")
        return len(rows)

    def _require(self, moved: bool, message: int) -> None:
        if not moved:
            # TRANSLATORS: {message} is the number of a message in the ledger.
            text = _("message {message} is not being sent; the ledger was changed by someone else")
            raise LedgerError(text.format(message=message))

    # --- reads --------------------------------------------------------------------------------

    def _rows(self, where: str, params: list[Any]) -> list[MessageRow]:
        return [
            MessageRow(r["id"], r["recipient_id"], r["kind"], r["message_id"], r["state"], r["attempts"])
            for r in self.db["messages"].rows_where(where, params, order_by="id")
        ]

    @guarded
    def due(self, campaign: str, kind: str, recipient_ids: set[str] | None = None) -> list[MessageRow]:
        """Messages still to send (queued or deferred), in queue order."""
        rows = self._rows("campaign = ? AND kind = ? AND state IN (?, ?)", [campaign, kind, *DUE])
        return [r for r in rows if recipient_ids is None or r.recipient_id in recipient_ids]

    @guarded
    def messages(self, campaign: str) -> list[dict[str, Any]]:
        """Every message of the campaign, of every kind, oldest first: what reminders are planned from."""
        return list(
            self.db.query(
                "SELECT id, recipient_id, kind, message_id, state, envelope_to, pdf_sha256, updated_at "
                "FROM messages WHERE campaign = ? ORDER BY id",
                [campaign],
            )
        )

    @guarded
    def in_doubt(self, campaign: str) -> list[dict[str, Any]]:
        """Messages of any kind that may or may not have arrived, with whom they were for."""
        return list(
            self.db.query(
                "SELECT r.recipient_id, r.name, r.email, m.kind, m.id, m.message_id, m.state FROM messages m "
                "JOIN recipients r ON r.campaign = m.campaign AND r.recipient_id = m.recipient_id "
                "WHERE m.campaign = ? AND m.state IN (?, ?) ORDER BY m.id",
                [campaign, SENDING, UNKNOWN],
            )
        )

    @guarded
    def sent_messages(self) -> list[dict[str, Any]]:
        """Every message that went out (or may have), with its envelope: what replies are matched against."""
        return list(
            self.db.query(
                """
            SELECT m.id, m.campaign, m.recipient_id, m.kind, m.message_id, m.envelope_to, m.state, r.email,
                   c.sender, c.identity
            FROM messages m
            JOIN recipients r ON r.campaign = m.campaign AND r.recipient_id = m.recipient_id
            JOIN campaigns c ON c.slug = m.campaign
            WHERE m.state IN ('sent', 'unknown', 'sending')
            ORDER BY m.id
            """
            )
        )

    @guarded
    def status(self, campaign: str, kind: str = INVITATION) -> list[dict[str, Any]]:
        """One row per recipient: who they are and where their message of `kind` stands. The reminders are
        counted in one pass (a subquery per recipient made this quadratic: 64 s for 10,000)."""
        return list(
            self.db.query(
                """
            SELECT r.recipient_id, r.email, r.name, r.salutation, r.group_name, r.organisation, r.position,
                   m.state, m.smtp_code, m.smtp_reply, m.message_id, m.attempts, m.updated_at, m.envelope_to,
                   (SELECT group_concat(e.address || ': ' || e.code || ' ' || e.reply, '; ')
                      FROM events e WHERE e.message = m.id AND e.state = 'refused') AS refused,
                   (SELECT e.detail FROM events e WHERE e.message = m.id AND e.state = 'sent' AND e.code IS NULL
                      ORDER BY e.id DESC LIMIT 1) AS found_in_mailbox,
                   (SELECT e.state FROM events e WHERE e.message = m.id AND e.state IN ('copied', 'not-copied')
                      ORDER BY e.id DESC LIMIT 1) AS sent_copy,
                   x.reminders, x.reminded_at
            FROM recipients r
            LEFT JOIN messages m ON m.campaign = r.campaign AND m.recipient_id = r.recipient_id AND m.kind = ?
            LEFT JOIN (
                SELECT recipient_id, count(*) AS reminders, max(updated_at) AS reminded_at FROM messages
                WHERE campaign = ? AND kind LIKE 'reminder-%' AND state = 'sent' GROUP BY recipient_id
            ) x ON x.recipient_id = r.recipient_id
            WHERE r.campaign = ?
            ORDER BY CAST(r.recipient_id AS INTEGER), r.recipient_id
            """,
                [kind, campaign, campaign],
            )
        )

    @guarded
    def recipient_data(self, campaign: str) -> dict[str, dict[str, Any]]:
        """recipient ID -> the recipient as merged when last sent to (CC, phone and any other column)."""
        rows = self.db.execute("SELECT recipient_id, data FROM recipients WHERE campaign = ?", [campaign]).fetchall()
        return {recipient_id: json.loads(data or "{}") for recipient_id, data in rows}

    @guarded
    def events(self, campaign: str) -> list[dict[str, Any]]:
        """Every event of the campaign's messages, oldest first, with whose message it is and of what kind."""
        return list(
            self.db.query(
                "SELECT e.at, m.recipient_id, m.kind, e.state, e.code, e.reply, e.address, e.detail FROM events e "
                "JOIN messages m ON m.id = e.message WHERE m.campaign = ? ORDER BY e.id",
                [campaign],
            )
        )
