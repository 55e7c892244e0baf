"""The ledger's tables, created and changed only by numbered migrations, in order."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

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


@migrations()
def m002_mail(db: Database) -> None:
    """Mail read back from the sender's mailbox: every raw message once (by sha256), where it was seen,
    what it was found to be, the IMAP folders' progress, and answers recorded by hand."""
    db["mail"].create({"sha256": str, "raw": bytes, "size": int, "first_seen": str}, pk="sha256")
    db["mail_sources"].create(
        {"id": int, "sha256": str, "source": str, "uidvalidity": int, "uid": int, "seen_at": str},
        pk="id",
        not_null={"sha256", "source", "seen_at"},
        foreign_keys=[("sha256", "mail", "sha256")],
    )
    db["mail_sources"].create_index(["source", "uidvalidity", "uid", "sha256"], unique=True)
    db["imap_folders"].create(
        {"account": str, "folder": str, "uidvalidity": int, "last_uid": int, "updated_at": str},
        pk=("account", "folder"),
    )
    db["mail_results"].create(
        {
            "sha256": str,
            "kind": str,
            "campaign": str,
            "recipient_id": str,
            "message": int,
            "matched_by": str,
            "suspicious": int,
            "address": str,
            "rsvp": str,
            "delegate_name": str,
            "delegate_position": str,
            "excerpt": str,
            "status": str,
            "diagnostic": str,
            "reason": str,
            "sender": str,
            "subject": str,
            "mail_date": str,
            "classified_at": str,
        },
        pk="sha256",
        not_null={"kind", "classified_at"},
        defaults={"suspicious": 0},
        foreign_keys=[("sha256", "mail", "sha256"), ("message", "messages", "id")],
    )
    db["mail_results"].create_index(["campaign", "recipient_id"])
    db["marks"].create(
        {
            "id": int,
            "campaign": str,
            "recipient_id": str,
            "answer": str,
            "delegate_name": str,
            "note": str,
            "at": str,
        },
        pk="id",
        not_null={"campaign", "recipient_id", "at"},
    )
    db.execute("ALTER TABLE events ADD COLUMN mail TEXT")  # the mail an event was read from, as evidence
    for action in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER marks_append_only_{action.lower()} BEFORE {action} ON marks "
            "BEGIN SELECT RAISE(ABORT, 'marks are append-only: a later mark replaces an earlier one'); END"
        )


@migrations()
def m003_identity(db: Database) -> None:
    """Each campaign's identity (`[campaign] id`), and the key that signs the ledger's tokens: it travels
    with the campaign folder. One row; `origin` says whether it was made with the ledger or moved in
    from the per-computer key file of earlier releases."""
    db.execute("ALTER TABLE campaigns ADD COLUMN identity TEXT")
    db["token_key"].create({"id": int, "key": bytes, "origin": str, "created_at": str}, pk="id")


@migrations()
def m004_written_files(db: Database) -> None:
    """The files `export` and `report` wrote, by path, with the sha256 of what was written: such a file is
    replaced without `--force` only while it is unchanged."""
    db["written_files"].create({"path": str, "sha256": str, "size": int, "written_at": str}, pk="path")
