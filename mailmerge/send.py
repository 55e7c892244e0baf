"""SMTP delivery: N reused aiosmtplib connections, a shared rate limit, retries and the crash-safe
order of writes (claim committed before MAIL FROM, `sent` only after the 250 to DATA). Each message's
own SMTP transaction is `transaction.transmit`.

A run that is cancelled (Ctrl-C) records what each message it had in flight became: cancelled before
DATA it is `deferred` (nothing left), during DATA `unknown` (the server may have it).

Nothing here prints or prompts: progress goes to callbacks, the password comes in as an argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .connection import connect, quit_quietly, where
from .errors import SendError
from .i18n import N_, ngettext
from .ledger import DEFERRED, FAILED, SENT, UNKNOWN, Ledger
from .models import SendSettings, ServerSettings
from .transaction import Attempt, Outcome, Outgoing, cut_short, explained, transmit

if TYPE_CHECKING:
    import aiosmtplib


@dataclass(frozen=True)
class Policy:
    """One run's choices from the command line, and the campaign's [send] settings."""

    connections: int = 1
    rate_per_minute: float | None = None
    settings: SendSettings = field(default_factory=SendSettings)


@dataclass
class Summary:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    unknown: int = 0
    not_attempted: int = 0
    paused: str | None = None


class TokenBucket:
    """Messages per minute across all connections; `capacity` messages may go in a burst."""

    def __init__(self, per_minute: float, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.capacity = capacity
        self.tokens = capacity
        self.clock = clock
        self.updated = clock()
        self.lock = asyncio.Lock()

    def wait_time(self) -> float:
        """Take a token if one is there (0.0), else say how long until one is."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    async def acquire(self) -> None:
        async with self.lock:
            while (delay := self.wait_time()) > 0:
                await asyncio.sleep(delay)


class Delivery:
    """Runs one send: workers (one per connection) take rendered messages from a bounded queue,
    claim each in the ledger, transmit it and record the outcome.

    `on_claimed` hears of each message once its claim is committed, `on_outcome` once its outcome is:
    in between, the message is in flight (`in_flight`, by ledger id)."""

    def __init__(
        self,
        ledger: Ledger,
        settings: ServerSettings,
        password: str | None,
        policy: Policy,
        on_outcome: Callable[[Outgoing, Outcome], None] | None = None,
        on_claimed: Callable[[Outgoing], None] | None = None,
        hold: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ):
        self.ledger = ledger
        self.settings = settings
        self.password = password
        self.policy = policy
        self.on_outcome = on_outcome or (lambda out, outcome: None)
        self.on_claimed = on_claimed or (lambda out: None)
        self.hold = hold  # around a ledger write and its callback: the caller's view never lags the ledger
        self.in_flight: dict[int, Attempt] = {}
        self.stopping = False
        self.bucket = (
            TokenBucket(policy.rate_per_minute, capacity=policy.connections) if (policy.rate_per_minute) else None
        )
        self.summary = Summary()
        self.consecutive_failures = 0
        self.tries: dict[int, int] = {}

    async def run(self, messages: AsyncIterator[Outgoing], total: int) -> Summary:
        """Send everything `messages` yields; `total` is how many it will yield."""
        self.connections = []
        try:
            for _number in range(self.policy.connections):
                self.connections.append(await connect(self.settings, self.password))
        except SendError:
            for smtp in self.connections:
                await quit_quietly(smtp)
            raise
        except asyncio.CancelledError:
            for smtp in self.connections:
                smtp.close()
            raise
        queue: asyncio.Queue[Outgoing | None] = asyncio.Queue(maxsize=2 * self.policy.connections)
        self.remaining = total
        self.done = asyncio.Event()
        self.crash: BaseException | None = None
        if total == 0:
            self.done.set()
        retries: set[asyncio.Task] = set()
        workers = [asyncio.create_task(self.worker(n, queue, retries)) for n in range(self.policy.connections)]
        feeder = asyncio.create_task(self.guard(self.feed(messages, total, queue)))
        interrupted = False
        try:
            await self.done.wait()
        except asyncio.CancelledError:  # Ctrl-C: connections may be mid-command, so no polite QUIT
            interrupted = True
            raise
        finally:
            self.stopping = True
            await stop([feeder, *workers, *retries])
            for smtp in self.connections:
                if interrupted:
                    smtp.close()
                else:
                    await quit_quietly(smtp)
            if interrupted:
                self.settle_interrupted()
        if self.crash:
            raise self.crash
        return self.summary

    async def guard(self, work: Awaitable[None]) -> None:
        """A bug or a ledger error in one task must end the run, not leave it waiting forever."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # re-raised by run()
            self.crash = error
            self.done.set()

    async def feed(self, messages: AsyncIterator[Outgoing], total: int, queue: asyncio.Queue) -> None:
        fed = 0
        async for out in messages:
            if self.summary.paused:
                break
            await queue.put(out)
            fed += 1
        if fed < total:
            self.finish_unsent(total - fed)

    def finish_unsent(self, count: int) -> None:
        self.summary.not_attempted += count
        self.settle(count)

    def settle(self, count: int = 1) -> None:
        self.remaining -= count
        if self.remaining <= 0:
            self.done.set()

    async def worker(self, number: int, queue: asyncio.Queue, retries: set[asyncio.Task]) -> None:
        await self.guard(self.work(number, queue, retries))

    async def work(self, number: int, queue: asyncio.Queue, retries: set[asyncio.Task]) -> None:
        while (out := await queue.get()) is not None:
            if self.summary.paused:
                if out.prepared.message in self.tries:  # a retry that will not happen: it stays deferred
                    self.summary.deferred += 1
                    self.settle()
                else:
                    self.finish_unsent(1)
                continue
            if self.bucket:
                await self.bucket.acquire()
            if self.stopping:  # a cancellation swallowed by aiosmtplib must not start another message
                return
            with self.hold():
                claimed = self.ledger.claim(out.prepared)
                if claimed:
                    attempt = self.in_flight[out.prepared.message] = Attempt(out)
                    self.on_claimed(out)
            if not claimed:
                self.finish_unsent(1)  # no longer due: another process or an earlier run settled it
                continue
            outcome = await self.attempt(number, attempt)
            self.record(out, outcome)
            tries = self.tries[out.prepared.message]
            settings = self.policy.settings
            if outcome.state == DEFERRED and tries <= settings.retries and not self.summary.paused:
                task = asyncio.create_task(self.retry_later(out, settings.retry_delay * 2 ** (tries - 1), queue))
                retries.add(task)
                task.add_done_callback(retries.discard)
            else:
                self.count(outcome)
                self.settle()

    async def attempt(self, number: int, attempt: Attempt) -> Outcome:
        """Transmit on this worker's connection, reconnecting first if the server dropped it."""
        if not self.connections[number].is_connected:
            self.connections[number] = await self.reconnect(self.connections[number])
        smtp = self.connections[number]
        if not smtp.is_connected:
            return explained(
                DEFERRED,
                # TRANSLATORS: shown after "last:" in the pause message. {server} is host:port.
                N_("cannot reconnect to {server}, nothing was sent"),
                server=where(self.settings),
            )
        return await transmit(smtp, attempt)

    async def retry_later(self, out: Outgoing, delay: float, queue: asyncio.Queue) -> None:
        await asyncio.sleep(delay)
        await queue.put(out)

    async def reconnect(self, smtp: aiosmtplib.SMTP) -> aiosmtplib.SMTP:
        try:
            return await connect(self.settings, self.password)
        except SendError:
            return smtp

    def record(self, out: Outgoing, outcome: Outcome) -> None:
        with self.hold():
            self._record(out, outcome)

    def _record(self, out: Outgoing, outcome: Outcome) -> None:
        message = out.prepared.message
        self.tries[message] = self.tries.get(message, 0) + 1
        if outcome.state == SENT:
            self.ledger.record_sent(message, outcome.code or 250, outcome.reply or "", outcome.refused)
            self.consecutive_failures = 0
        else:
            self.ledger.record_outcome(
                message, outcome.state, code=outcome.code, reply=outcome.reply, detail=outcome.detail
            )
            self.consecutive_failures += 1
            if self.consecutive_failures >= self.policy.settings.pause_after and not self.summary.paused:
                count = self.consecutive_failures
                # TRANSLATORS: {last} is the last failure: the server's reply as the server wrote it ("550 5.7.1
                # relaying denied"), or why there was no reply (one of the messages of its own, translated).
                self.summary.paused = ngettext(
                    "paused after {count} failure in a row (last: {last})",
                    "paused after {count} failures in a row (last: {last})",
                    count,
                ).format(count=count, last=outcome.shown)
        del self.in_flight[message]
        self.on_outcome(out, outcome)

    def settle_interrupted(self) -> None:
        """Once every task has stopped: record what each attempt cut short became, so that nothing is
        left `sending`."""
        for attempt in list(self.in_flight.values()):
            outcome = cut_short(attempt)
            self.record(attempt.out, outcome)
            self.count(outcome)

    def count(self, outcome: Outcome) -> None:
        attribute = {SENT: "sent", DEFERRED: "deferred", FAILED: "failed", UNKNOWN: "unknown"}[outcome.state]
        setattr(self.summary, attribute, getattr(self.summary, attribute) + 1)


async def stop(tasks: list[asyncio.Task]) -> None:
    """Cancel until every task is done: on Python 3.11 `asyncio.wait_for` (used by aiosmtplib) can swallow a
    cancellation that races with a reply, and the task would then go on. Our tasks need no time to clean up,
    so a task still running shortly after is cancelled again."""
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.05)
