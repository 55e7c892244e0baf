"""The ledger: every campaign, recipient, message and state change, in SQLite.

This is the only package that writes the database. Every transition is one committed transaction, so
after a crash the ledger says exactly what is known: a message is claimed (`sending`) before SMTP and
`sent` only after the server's 250; anything found still `sending` at start-up becomes `unknown` and is
never resent without the user's say-so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .mail import Incoming, MailResult
    from .messages import Ledger, MessageRow, Prepared

# The classes that need SQLite (sqlite-utils), loaded when first asked for: a command that only names
# states (`mailmerge --help`, the labels) starts without them.
LAZY = {
    "Incoming": "mail",
    "MailResult": "mail",
    "Ledger": "messages",
    "MessageRow": "messages",
    "Prepared": "messages",
}


def __getattr__(name: str) -> Any:
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{LAZY[name]}", __name__), name)


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
