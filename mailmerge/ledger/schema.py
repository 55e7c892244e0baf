"""The ledger's states and codes: what a message can be in, and what came back for it.

Constants only, so that any module may name a state without loading SQLite (the tables are made by
`migrations`)."""

from __future__ import annotations

QUEUED, SENDING, SENT, DEFERRED, FAILED, UNKNOWN = "queued", "sending", "sent", "deferred", "failed", "unknown"
STATES = (QUEUED, SENDING, SENT, DEFERRED, FAILED, UNKNOWN)
REFUSED = "refused"  # an event, not a state: one address of a sent message was refused
COPIED, NOT_COPIED = "copied", "not-copied"  # events, not states: a copy of a sent message in the Sent folder
DUE = (QUEUED, DEFERRED)
INVITATION = "invitation"  # the kind of message a campaign sends first; replies and reminders come later
REMINDER = "reminder"  # reminders are kinds "reminder-1", "reminder-2" …: one message row each
NEW = "new"  # a recipient in the recipients file, not yet in the ledger
INVALID = "invalid"  # in the recipients file with problems: `send --skip-invalid` left it out


def reminder_kind(number: int) -> str:
    return f"{REMINDER}-{number}"


def reminder_number(kind: str) -> int | None:
    """1 for "reminder-1"; None for a kind that is not a reminder."""
    prefix, _dash, number = kind.partition("-")
    return int(number) if prefix == REMINDER and number.isdigit() else None


# What came back: kinds of mail and answers (the codes `status --json` shows).
BOUNCED, DELAYED, REPLIED, AUTO_REPLY = "bounced", "delayed", "replied", "auto-reply"
ATTENDING, DECLINED, DELEGATE, UNCLEAR, NO_ANSWER = "attending", "declined", "delegate", "unclear", "no answer"
ANSWERS = (ATTENDING, DECLINED, DELEGATE, UNCLEAR)
