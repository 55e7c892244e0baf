"""The ledger: every campaign, recipient, message and state change, in SQLite.

This is the only package that writes the database. Every transition is one committed transaction, so
after a crash the ledger says exactly what is known: a message is claimed (`sending`) before SMTP and
`sent` only after the server's 250; anything found still `sending` at start-up becomes `unknown` and is
never resent without the user's say-so.
"""

from .mail import Incoming, MailResult
from .messages import Ledger, MessageRow, Prepared
from .schema import (
    DEFERRED,
    DUE,
    FAILED,
    INVITATION,
    QUEUED,
    REFUSED,
    REMINDER,
    SENDING,
    SENT,
    STATES,
    UNKNOWN,
    reminder_kind,
    reminder_number,
)

__all__ = [
    "DEFERRED",
    "DUE",
    "FAILED",
    "INVITATION",
    "QUEUED",
    "REFUSED",
    "REMINDER",
    "SENDING",
    "SENT",
    "STATES",
    "UNKNOWN",
    "Incoming",
    "Ledger",
    "MailResult",
    "MessageRow",
    "Prepared",
    "reminder_kind",
    "reminder_number",
]
