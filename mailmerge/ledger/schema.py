"""The ledger's states and its tables, created and changed only by numbered migrations."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

QUEUED, SENDING, SENT, DEFERRED, FAILED, UNKNOWN = "queued", "sending", "sent", "deferred", "failed", "unknown"
STATES = (QUEUED, SENDING, SENT, DEFERRED, FAILED, UNKNOWN)
REFUSED = "refused"  # an event, not a state: one address of a sent message was refused
DUE = (QUEUED, DEFERRED)
INVITATION = "invitation"  # the kind of message a campaign sends first; replies and reminders come later

migrations = Migrations("mailmerge")


@migrations()
def m001_ledger(db: Database) -> None:
    db["campaigns"].create({"slug": str, "folder": str, "sender": str, "created_at": str, "updated_at": str}, pk="slug")
    db["recipients"].create(
        {
            "campaign": str,
            "recipient_id": str,
            "email": str,
            "name": str,
            "salutation": str,
            "group_name": str,
            "organisation": str,
            "position": str,
            "data": str,
            "updated_at": str,
        },
        pk=("campaign", "recipient_id"),
        foreign_keys=[("campaign", "campaigns", "slug")],
    )
    db["messages"].create(
        {
            "id": int,
            "campaign": str,
            "recipient_id": str,
            "kind": str,
            "message_id": str,
            "state": str,
            "attempts": int,
            "envelope_to": str,
            "subject": str,
            "pdf_sha256": str,
            "pdf_size": int,
            "merged": str,
            "smtp_code": int,
            "smtp_reply": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"campaign", "recipient_id", "kind", "message_id", "state", "attempts"},
        defaults={"attempts": 0},
        foreign_keys=[("campaign", "campaigns", "slug")],
    )
    db["messages"].create_index(["campaign", "recipient_id", "kind"], unique=True)
    db["messages"].create_index(["message_id"], unique=True)
    db["messages"].create_index(["campaign", "state"])
    db["events"].create(
        {"id": int, "message": int, "at": str, "state": str, "code": int, "reply": str, "address": str, "detail": str},
        pk="id",
        not_null={"message", "at", "state"},
        foreign_keys=[("message", "messages", "id")],
    )
    db["events"].create_index(["message"])
    for action in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER events_append_only_{action.lower()} BEFORE {action} ON events "
            "BEGIN SELECT RAISE(ABORT, 'the events table is append-only'); END"
        )
