"""The names shown for the states a message or a recipient can be in.

The codes (`sent`, `deferred` …) are data: the ledger stores them, `status --json` and `--state` use them.
People read a label instead, in the interface language, with the words of docs/glossary.md. The labels
are translated in the context "state", so that "sent" the state is not confused with other "sent"s.
"""

from __future__ import annotations

from ..i18n import pgettext
from ..ledger import DEFERRED, FAILED, QUEUED, SENDING, SENT, UNKNOWN
from ..tracking import INVALID, NEW

BOUNCED = "bounced"  # a state still to come: accepted by the server, then returned undelivered


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
