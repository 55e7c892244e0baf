"""What came back for each invitee, from the mail read back and the answers recorded by hand.

Delivery: a bounce of the invitee's own address means it did not arrive; a delay is news until something
later settles it; any reply (even an auto-reply) proves it arrived. A bounce of a CC address is kept
apart: the invitation itself still arrived. A bounce of an address the invitation no longer goes to (it
was corrected and sent again) is history. Answer: the latest human reply's RSVP, unless an answer was
recorded by hand, which wins over any reading of a reply; an auto-reply alone is not an answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .ledger.schema import ANSWERS, AUTO_REPLY, BOUNCED, DELAYED, NO_ANSWER, REPLIED

DELIVERED = "delivered"


@dataclass
class FollowUp:
    delivery: str | None = None  # delivered | delayed | bounced; None: no news since the 250
    bounce: str | None = None  # "5.1.1 smtp; 550 … user unknown"
    cc_bounces: list[str] = field(default_factory=list)
    answer: str = NO_ANSWER  # attending | declined | delegate | unclear | auto-reply | no answer
    delegate: str | None = None
    excerpt: str | None = None
    answered_at: str | None = None
    by_hand: bool = False
    note: str | None = None
    mail: int = 0  # messages about this invitee

    def as_json(self) -> dict[str, Any]:
        return {
            "delivery": self.delivery,
            "bounce": self.bounce,
            "cc_bounces": self.cc_bounces,
            "answer": self.answer,
            "delegate": self.delegate,
            "answer_excerpt": self.excerpt,
            "answered_at": self.answered_at,
            "answer_by_hand": self.by_hand,
            "note": self.note,
            "mail": self.mail,
        }


def follow_up(
    results: Iterable[dict[str, Any]], marks: dict[str, dict[str, Any]], envelopes: dict[str, list[str]]
) -> dict[str, FollowUp]:
    """recipient ID -> FollowUp, from `mail_results` rows (oldest first), the latest marks, and the
    addresses each recipient's invitation went to, their own first (to tell their bounce from a CC's)."""
    found: dict[str, FollowUp] = {}
    for row in results:
        recipient = row["recipient_id"]
        if recipient is None:
            continue
        state = found.setdefault(recipient, FollowUp())
        state.mail += 1
        apply(state, row, envelopes.get(recipient, []))
    for recipient, mark in marks.items():
        if mark["answer"] in ANSWERS:
            state = found.setdefault(recipient, FollowUp())
            state.answer, state.delegate, state.by_hand = mark["answer"], mark["delegate_name"], True
            state.note, state.answered_at, state.excerpt = mark["note"], mark["at"], None
    return found


def apply(state: FollowUp, row: dict[str, Any], envelope: list[str]) -> None:
    kind = row["kind"]
    if kind in (BOUNCED, DELAYED):
        addresses = [address.lower() for address in envelope] or [""]
        address = (row["address"] or addresses[0]).lower()
        if address != addresses[0]:
            if kind == BOUNCED and address in addresses:
                state.cc_bounces.append(address)
            return
        state.delivery = kind
        state.bounce = " ".join(part for part in (row["status"], row["diagnostic"]) if part) or None
    elif kind in (REPLIED, AUTO_REPLY):
        state.delivery = DELIVERED
        if kind == REPLIED:
            state.answer = row["rsvp"] or "unclear"
            state.delegate = ", ".join(p for p in (row["delegate_name"], row["delegate_position"]) if p) or None
            state.excerpt = row["excerpt"]
            state.answered_at = row["mail_date"]
        elif state.answer == NO_ANSWER:
            state.answer = AUTO_REPLY
