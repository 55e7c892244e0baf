"""Ctrl-C for the command line: the first press stops cleanly, any further press ends the process at once.

Part of the CLI edge: only `cli` uses it. Python's own handling cannot promise either. `asyncio.run`
raises KeyboardInterrupt on a second press wherever the main thread happens to be, even half-way through
shutting the render pool down, which can leave the process waiting forever at exit. So the CLI installs
one handler for the whole process:

* the first press raises KeyboardInterrupt as usual (inside an event loop: between two of its callbacks,
  never from the middle of a task), except while `Interrupts.run` drives the loop: there it cancels the
  main task from the loop's own thread, so the send can record what each message in flight became, and
  KeyboardInterrupt comes out of `run` once the loop is closed;
* any further press cannot wait for that: it writes `last_words()` straight to file descriptor 2 and
  leaves with `os._exit(130)`, skipping every clean-up that could hang. No rich, no locks, no database:
  the main thread may be anywhere, even inside a print or a transaction. Messages it leaves `sending`
  are what the ledger is made for: the next `send` or `status` marks them unknown.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ..i18n import _, ngettext
from ..ledger import SENT, UNKNOWN

if TYPE_CHECKING:
    from ..transaction import Invitee, Outcome, Outgoing

EXIT_CODE = 130  # 128 + SIGINT: what a shell reports for a command ended by Ctrl-C
Result = TypeVar("Result")


class Interrupts:
    """The process's SIGINT policy (one instance: `ctrl_c`)."""

    def __init__(self) -> None:
        self.presses = 0
        self.stopped = "\nStopped at once.\n"  # in the interface language once a command runs (`installed`)
        self.last_words: Callable[[], str] = lambda: self.stopped
        self.previous: Any = None  # the handler found at the first install
        self.active = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None
        self.recording_depth = 0  # inside `recording`: a further press waits for its end
        self.leave_pending = False

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Follow this policy while a command runs. Afterwards the handler stays in place, so that a press
        after the first one still ends the process at once (even while it exits); a process that was never
        interrupted gets the previous handler's behaviour back (a test runner's own Ctrl-C, say)."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers belong to the main thread
            return
        # TRANSLATORS: printed when a second Ctrl-C ends `mailmerge` at once
        self.stopped = "\n" + _("Stopped at once.") + "\n"  # made now: `leave` must not depend on anything
        if signal.getsignal(signal.SIGINT) != self.on_sigint:
            self.previous = signal.signal(signal.SIGINT, self.on_sigint)
            atexit.register(self.ignore_while_exiting)
        self.presses, self.active = 0, True
        try:
            yield
        finally:
            self.active = False

    def ignore_while_exiting(self) -> None:
        """After a press, the last moments of the exit ignore Ctrl-C. This runs after the joins that could
        hang (where a further press still ends the process), and Python's own clean-up would otherwise put
        the default action back, so a press there would end the process with a signal instead of exit 130."""
        if self.presses:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Around one message's ledger write and the tracker's update for it: a further press waits for both
        (milliseconds), so that what `last_words` lists agrees with the ledger. A third press does not wait."""
        self.recording_depth += 1
        try:
            yield
        finally:
            self.recording_depth -= 1
            if self.leave_pending and not self.recording_depth:
                self.leave()

    def on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.presses:
            if self.recording_depth and not self.leave_pending:
                self.leave_pending = True
                return
            self.leave()
        if not self.active:
            if callable(self.previous):
                self.previous(signum, frame)
            return
        self.presses += 1
        if self.loop is None:
            interrupt_running_loop()
        elif self.task is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closing: `run` raises anyway
                self.loop.call_soon_threadsafe(self.task.cancel)

    def leave(self) -> NoReturn:
        try:
            text = self.last_words()
        except BaseException:  # whatever happens, the process ends now
            text = self.stopped
        data = text.encode("utf-8", errors="replace")
        with contextlib.suppress(OSError):
            while data:
                data = data[os.write(2, data) :]
        os._exit(EXIT_CODE)

    def run(self, main: Coroutine[Any, Any, Result]) -> Result:
        """`asyncio.run(main)`, where a first Ctrl-C cancels `main` instead of raising somewhere inside the
        loop; a run cut short that way raises KeyboardInterrupt once the loop is closed."""

        async def watched() -> Result:
            self.task = asyncio.current_task()
            if self.presses:  # pressed while the loop was starting
                main.close()
                raise asyncio.CancelledError
            return await main

        self.loop = loop = asyncio.new_event_loop()
        try:
            with asyncio.Runner(loop_factory=lambda: loop) as runner:
                return runner.run(watched())
        except asyncio.CancelledError:
            if not self.presses:
                raise
            raise KeyboardInterrupt from None
        finally:
            self.loop = self.task = None


ctrl_c = Interrupts()


def interrupt_running_loop() -> None:
    """KeyboardInterrupt now, or, inside an event loop not started by `Interrupts.run`, between two of its
    callbacks: out of `asyncio.run`, which then cancels every task, never from the middle of one."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise KeyboardInterrupt from None
    loop.call_soon_threadsafe(raise_keyboard_interrupt)


def raise_keyboard_interrupt() -> NoReturn:
    raise KeyboardInterrupt


class SendTracker:
    """Follows one send for the progress bar and for Ctrl-C: outcomes by state, what is in flight (claimed
    in the ledger, outcome not yet recorded) and what is in doubt. Fed by `Delivery`'s `on_claimed` and
    `on_outcome`; `known_doubts` are those earlier runs left."""

    def __init__(self, known_doubts: Iterable[Invitee] = ()):
        self.counts: Counter[str] = Counter()
        self.in_flight: dict[int, Invitee] = {}
        self.doubts = {invitee.id: invitee for invitee in known_doubts}

    @property
    def sent(self) -> int:
        return self.counts[SENT]

    def claimed(self, out: Outgoing) -> None:
        self.in_flight[out.prepared.message] = out.invitee

    def settled(self, out: Outgoing, outcome: Outcome) -> None:
        invitee = out.invitee
        if outcome.state == UNKNOWN:
            self.doubts[invitee.id] = invitee
        else:
            self.doubts.pop(invitee.id, None)  # a message in doubt that `resend --unknown` settled
        self.counts[outcome.state] += 1
        self.in_flight.pop(out.prepared.message, None)

    def last_words(self) -> str:
        """What a second Ctrl-C prints: plain text, nothing that could wait for a lock."""
        doubts = sorted({**self.doubts, **{i.id: i for i in self.in_flight.values()}}.values(), key=by_id)
        sent, count = self.sent, len(doubts)
        lines = [
            "",
            ngettext(
                "Stopped at once. {count} message was sent in this run.",
                "Stopped at once. {count} messages were sent in this run.",
                sent,
            ).format(count=sent),
        ]
        if doubts:
            lines.append(
                ngettext(
                    "{count} message is in doubt: the server may or may not have it.",
                    "{count} messages are in doubt: the server may or may not have them.",
                    count,
                ).format(count=count)
            )
            lines += [invitee_line(invitee) for invitee in doubts]
            lines.append(
                _(
                    "The next `mailmerge send` or `mailmerge status` marks those cut off mid-send as unknown. "
                    "Check with the recipients whether they arrived, then run `mailmerge resend --unknown` "
                    "to send them again."
                )
            )
        else:
            lines.append(_("No message is in doubt; the next `mailmerge send` goes on where this one stopped."))
        return "\n".join(lines) + "\n"


def by_id(invitee: Invitee) -> tuple[int, str]:
    return (int(invitee.id) if invitee.id.isdigit() else 0, invitee.id)


def invitee_line(invitee: Invitee) -> str:
    return f"  {invitee.id:>4}  {invitee.name} <{invitee.email}>"
