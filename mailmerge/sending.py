"""`send` and `resend`: plan (validate and fill everything before anything can go out), then execute
(lock the ledger, queue, deliver through `send.Delivery` with the letters rendered by `pool`)."""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import tokens
from .campaign import load_campaign
from .errors import InputError, Problem
from .ledger import DUE, INVITATION, SENDING, UNKNOWN, Ledger, MessageRow
from .merge import Composer, campaign_recipients, select
from .models import Campaign, Recipient
from .pool import Work, rendered
from .send import Delivery, Invitee, Outcome, Outgoing, Policy, Summary


@dataclass
class SendPlan:
    """What `send` is about to do, worked out without writing anything or connecting anywhere."""

    campaign: Campaign
    ledger_path: Path
    to_send: list[Recipient]
    skipped: list[Problem]
    already: Counter[str]
    kind: str = INVITATION
    resend_unknown: bool = False

    @property
    def count(self) -> int:
        return len(self.to_send)


def plan_send(
    folder: Path,
    *,
    only: Iterable[str] = (),
    limit: int | None = None,
    skip_invalid: bool = False,
    ledger_file: Path | None = None,
    resend_unknown: bool = False,
) -> SendPlan:
    """Validate everything, fill every template (and lay out one PDF) for every recipient, and work out
    who still needs the invitation (or, with `resend_unknown`, whose invitation is in doubt).
    Raises before anything can be sent if any of it fails."""
    campaign = load_campaign(folder)
    reading = campaign_recipients(campaign)
    if reading.problems and not skip_invalid:
        raise InputError(reading.problems)
    problems = reading.problems
    recipients = select(reading.recipients, only)
    composer = Composer(campaign)
    for number, recipient in enumerate(recipients):
        composer.renderer.render(recipient, with_pdf=number == 0)
    path = ledger_file or campaign.ledger_file
    states = current_states(path, campaign.slug, INVITATION) if path.exists() else {}
    wanted_states = (UNKNOWN,) if resend_unknown else (None, *DUE)
    to_send = [r for r in recipients if states.get(r.id) in wanted_states]
    return SendPlan(
        campaign,
        path,
        to_send[:limit] if limit is not None else to_send,
        problems,
        Counter(states.get(r.id, "new") for r in recipients),
        resend_unknown=resend_unknown,
    )


def current_states(path: Path, campaign: str, kind: str) -> dict[str, str]:
    ledger = Ledger(path)
    try:
        return {row["recipient_id"]: row["state"] for row in ledger.status(campaign, kind) if row["state"]}
    finally:
        ledger.close()


@dataclass
class SendResult:
    summary: Summary
    recovered: list[MessageRow]
    in_doubt: list[Invitee] = field(default_factory=list)  # the whole campaign's, after this run


async def execute(
    plan: SendPlan,
    password: str | None,
    send_policy: Policy,
    *,
    on_outcome: Callable[[Outgoing, Outcome], None] | None = None,
    on_claimed: Callable[[Outgoing], None] | None = None,
    processes: int | None = None,
) -> SendResult:
    """Send the plan: lock the ledger, settle what a previous crash left `sending`, queue, deliver.
    Cancelled (Ctrl-C), it records what each message in flight became and re-raises."""
    campaign = plan.campaign
    ledger = Ledger(plan.ledger_path)
    try:
        with ledger.exclusive():
            recovered = ledger.recover_interrupted()
            if plan.resend_unknown:
                ledger.requeue_unknown(campaign.slug, {r.id for r in plan.to_send})
            key = tokens.load_key()
            message_ids = {
                r.id: tokens.message_id(key, campaign.slug, r.id, plan.kind, campaign.sender.domain)
                for r in plan.to_send
            }
            ledger.register(campaign, plan.to_send, plan.kind, message_ids)
            wanted = {r.id: r for r in plan.to_send}
            work = [
                Work(row.id, row.message_id, wanted[row.recipient_id])
                for row in ledger.due(campaign.slug, plan.kind, set(wanted))
            ]
            delivery = Delivery(ledger, campaign.smtp, password, send_policy, on_outcome, on_claimed)
            processes = processes or min(4, os.cpu_count() or 1)
            async with contextlib.aclosing(rendered(campaign, key, work, plan.kind, processes)) as messages:
                summary = await delivery.run(messages, len(work))
            return SendResult(summary, recovered, doubtful(ledger, campaign.slug, plan.kind))
    finally:
        ledger.close()


def in_doubt(plan: SendPlan) -> list[Invitee]:
    """Every message of the plan's campaign that may or may not have arrived, whichever run left it so."""
    if not plan.ledger_path.exists():
        return []
    ledger = Ledger(plan.ledger_path, read_only=True)
    try:
        return doubtful(ledger, plan.campaign.slug, plan.kind)
    finally:
        ledger.close()


def doubtful(ledger: Ledger, campaign: str, kind: str) -> list[Invitee]:
    """`unknown`, or still `sending` after a stopped run (the next `send` or `status` marks it unknown)."""
    return [
        Invitee(row["recipient_id"], row["name"], row["email"])
        for row in ledger.status(campaign, kind)
        if row["state"] in (SENDING, UNKNOWN)
    ]
