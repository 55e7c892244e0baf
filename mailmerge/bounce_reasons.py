"""Why an invitation did not arrive, in plain words, from a server's reply or a bounce.

Servers explain a failure with an enhanced status code (RFC 3463, "5.1.1") and English words of their own
("550 5.1.1 <x@example.org>: Recipient address rejected: User unknown"). The leaders reading the report
need the first in their language; the second is kept beside it as evidence. The codes an office meets are
translated here; any other code is explained by its class and subject.
"""

from __future__ import annotations

import re

from .i18n import N_, _

ENHANCED_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")

# RFC 3463's codes -> what happened, as people say it. Rules as data: add a row when users meet another one.
DETAILS = {
    # TRANSLATORS: why an invitation did not arrive (this one and those below), in the report of `mailmerge
    # report`; said to the organisers' leaders, not to technicians
    "1.1": N_("the mailbox does not exist: the address is probably misspelt or no longer used"),
    "1.2": N_("the address's domain (after the @) does not exist or takes no mail"),
    "1.3": N_("the address is not written correctly"),
    "1.6": N_("the mailbox has moved, with no new address given"),
    "1.10": N_("the address's domain (after the @) takes no mail"),
    "2.1": N_("the mailbox is disabled and takes no mail"),
    "2.2": N_("the mailbox is full"),
    "2.3": N_("the message is larger than the mailbox accepts"),
    "3.4": N_("the message is larger than the receiving server accepts"),
    "4.1": N_("the receiving server did not answer"),
    "4.4": N_("no mail server could be found for the address's domain"),
    "4.7": N_("it could not be delivered in time and the mail system gave up"),
    "7.1": N_("the receiving server refused it (a filter or policy)"),
    "7.26": N_("the receiving server refused it because the sender could not be verified (SPF, DKIM, DMARC)"),
}
SUBJECTS = {
    "1": N_("a problem with the address"),
    "2": N_("a problem with the mailbox"),
    "3": N_("a problem of the receiving mail system"),
    "4": N_("a network or routing problem"),
    "5": N_("a problem of the mail exchange"),
    "6": N_("a problem with the message's content"),
    "7": N_("refused by a security policy"),
}


def plain_reason(evidence: str | None) -> str:
    """What went wrong, in the user's language, from the status or reply in `evidence`."""
    found = ENHANCED_CODE.search(evidence or "")
    if found is None:
        # TRANSLATORS: a bounce or refusal whose reason has no standard code: the server's words follow it
        return _("the receiving server gave no standard reason")
    subject, detail = found[2], found[3]
    if (words := DETAILS.get(f"{subject}.{detail}")) is not None:
        reason = _(words)
    else:
        reason = _(SUBJECTS.get(subject, N_("a problem of the mail exchange")))
    if found[1] == "4":
        # TRANSLATORS: {reason} is why an invitation has not arrived yet, e.g. "the mailbox is full"
        return _("{reason} (temporary)").format(reason=reason)
    return reason
