"""The names shown for the states a message or a recipient can be in.

The codes (`sent`, `deferred` …) are data: the ledger stores them, `status --json` and `--state` use them.
People read a label instead, in the interface language, with the words of docs/glossary.md. The labels
are translated in the context "state", so that "sent" the state is not confused with other "sent"s.
"""

from __future__ import annotations

from ..followup import DELIVERED
from ..i18n import pgettext
from ..ledger import DEFERRED, FAILED, QUEUED, SENDING, SENT, UNKNOWN
from ..ledger.schema import (
    ATTENDING,
    AUTO_REPLY,
    BOUNCED,
    DECLINED,
    DELAYED,
    DELEGATE,
    INVALID,
    NEW,
    NO_ANSWER,
    REPLIED,
    UNCLEAR,
)


def state_labels() -> dict[str, str]:
    """Every state code and its label in the current language (looked up when asked: the language is
    chosen after this module may have been imported)."""
    return {
        # TRANSLATORS: the states of an invitation (this one and the eight below), shown in `mailmerge
        # status` and in the totals; use the words of docs/glossary.md.
        QUEUED: pgettext("state", "queued"),
        SENDING: pgettext("state", "sending"),
        SENT: pgettext("state", "sent"),
        DEFERRED: pgettext("state", "deferred"),
        FAILED: pgettext("state", "failed"),
        UNKNOWN: pgettext("state", "unknown"),
        BOUNCED: pgettext("state", "bounced"),
        NEW: pgettext("state", "new"),
        INVALID: pgettext("state", "invalid"),
    }


def state_label(state: str) -> str:
    """What people read for the state code `state`; a code without a label is shown as it is."""
    return state_labels().get(state, state)


def answer_labels() -> dict[str, str]:
    """What came back for an invitation that went out: its delivery, or the invitee's answer."""
    return {
        # TRANSLATORS: what came back for an invitation (this one and the eight below), shown in the
        # "answer" column of `mailmerge status` and in the totals; use the words of docs/glossary.md.
        ATTENDING: pgettext("answer", "attending"),
        DECLINED: pgettext("answer", "declined"),
        DELEGATE: pgettext("answer", "delegate"),
        UNCLEAR: pgettext("answer", "unclear"),
        AUTO_REPLY: pgettext("answer", "auto-reply only"),
        NO_ANSWER: pgettext("answer", "no answer"),
        BOUNCED: pgettext("answer", "bounced"),
        DELAYED: pgettext("answer", "delayed"),
        DELIVERED: pgettext("answer", "delivered"),
        REPLIED: pgettext("answer", "replied"),
        OTHER: pgettext("answer", "other mail"),
    }


OTHER = "other"  # mail that is neither a reply nor a report: spam, a newsletter


def answer_label(code: str) -> str:
    return answer_labels().get(code, code)


def follow_up_label(row: dict) -> str:
    """One cell for what came back: a bounce or delay first, then the answer (with the delegate's name)."""
    if row.get("delivery") in (BOUNCED, DELAYED):
        return answer_label(row["delivery"])
    if not row.get("answer"):
        return ""
    label = answer_label(row["answer"])
    if row["answer"] == DELEGATE and row.get("delegate"):
        label = f"{label}: {row['delegate']}"
    return label + (" ✎" if row.get("answer_by_hand") else "")
