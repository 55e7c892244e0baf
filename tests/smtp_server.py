"""A real aiosmtpd server on 127.0.0.1 whose answers each test chooses."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.smtp import SMTP

from mailmerge.sink import LocalServer

DROP = "DROP"  # close the connection after the message was received, before answering
STALL = "STALL"  # wait past the client's timeout before answering


@dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)
    rcpt_options: dict[str, list[str]] = field(default_factory=dict)

    @property
    def message_id(self) -> str:
        return message_from_bytes(self.data, policy=policy.default)["Message-ID"].strip()


@dataclass
class ScriptedHandler:
    """Accepts everything unless told otherwise, per address.

    `rcpt[address]` and `data[invitee]` are queues of answers used one per attempt ("451 …", "550 …",
    STALL, and DROP for DATA); once a queue is empty the answer is 250. `stalled` lists the addresses
    whose answer was held back, as the stalls begin."""

    rcpt: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    data: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    stall_seconds: float = 3.0
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    stalled: list[str] = field(default_factory=list)
    dsn: bool = False  # announce DSN (RFC 3461) and accept its parameters; see `DsnSMTP`
    ehlo_names: list[str] = field(default_factory=list)  # what each client said at EHLO
    fqdn_helo_only: bool = False  # refuse a bare host name, as Postfix's reject_non_fqdn_helo_hostname does

    def answer_rcpt(self, address: str, *answers: str) -> None:
        self.rcpt[address].extend(answers)

    def answer_data(self, invitee: str, *answers: str) -> None:
        self.data[invitee].extend(answers)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        self.ehlo_names.append(hostname)
        if self.fqdn_helo_only and "." not in hostname:
            return f"504 5.5.2 <{hostname}>: Helo command rejected: need fully-qualified hostname"
        session.host_name = hostname
        if self.dsn:
            responses.insert(-1, "250-DSN")
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        answer = self.rcpt[address].popleft() if self.rcpt.get(address) else None
        if answer == STALL:
            await self.stall(address)
        elif answer:
            return answer
        envelope.rcpt_tos.append(address)
        if not hasattr(envelope, "options_by_rcpt"):
            envelope.options_by_rcpt = {}
        envelope.options_by_rcpt[address] = list(options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        invitee = envelope.rcpt_tos[0]
        answer = self.data[invitee].popleft() if self.data.get(invitee) else None
        if answer and answer[0] in "45":
            return answer
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                list(envelope.mail_options),
                getattr(envelope, "options_by_rcpt", {}),
            )
        )
        if answer == DROP:
            server.transport.abort()
        elif answer == STALL:
            await self.stall(invitee)
        return f"250 2.0.0 Ok: queued as {len(self.received):05d}"

    async def stall(self, address: str) -> None:
        self.stalled.append(address)
        await asyncio.sleep(self.stall_seconds)

    def count_by_message_id(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for message in self.received:
            counts[message.message_id] += 1
        return counts


class DsnSMTP(SMTP):
    """aiosmtpd refuses MAIL and RCPT parameters it does not know (555); this one takes those of DSN
    (RET, ENVID, NOTIFY, ORCPT) and leaves them in the envelope's options for the test to read."""

    DSN_PARAMETERS = frozenset({"RET", "ENVID", "NOTIFY", "ORCPT"})

    def _getparams(self, params: list[str]) -> dict[str, Any] | None:
        found = super()._getparams(params)
        return None if found is None else {k: v for k, v in found.items() if k not in self.DSN_PARAMETERS}


class DsnServer(LocalServer):
    def factory(self) -> SMTP:
        return DsnSMTP(self.handler, **self.SMTP_kwargs)
