"""Benchmark: how many text-only invitations per second `send` delivers with 1 and with 4 SMTP connections.

    .venv/bin/python scripts/bench_send.py [--recipients N] [--processes P] [--latency SECONDS]

Each run gets a fresh temporary campaign folder (the seed campaign with N generated recipients and
`attach_pdf = false`), a fresh ledger and a fresh token key, and goes through the library exactly as
`mailmerge send` does: `sending.plan_send`, then `sending.execute` with `Policy(connections=...)`.

The SMTP sink (`mailmerge.sink.LocalServer` with a handler that only counts) runs in a *subprocess*: in this
process it would share the GIL with the sender's event loop, so the benchmark would time both ends of each
SMTP conversation on one interpreter and the sink's parsing would slow the sender down, more so the more
connections there are. A separate process is closer to a real server. (The renderer's worker processes,
`min(4, cpu_count)` by default, still share the machine's CPUs with both.)

Two rates are printed: `overall` is messages / wall time of `execute` (ledger set-up and starting the
render pool included); `steady` is the rate between the first and the last SMTP outcome. Peak RSS is
the high-water mark of this process so far (it never goes down, so the second run shows the larger of
the two), and of the child processes reaped so far.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailmerge import sending, tokens
from mailmerge.campaign import seed_folder
from mailmerge.models import ServerSettings
from mailmerge.send import Policy
from mailmerge.sink import LocalServer
from mailmerge.transaction import Outcome, Outgoing

HEADER = "order,group,organisation,position,salutation,name,email,cc,phone"
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Thanh", "Ngọc", "Quốc", "Đức"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Hà", "Hải", "Hạnh", "Khánh", "Lan", "Long", "Mai", "Nam", "Phúc", "Sơn"]


# --- the sink, in its own process -----------------------------------------------------------------


class CountingHandler:
    """aiosmtpd handler: count each message, keep nothing, answer 250 after `latency` seconds (a remote
    server's round trips and queueing; 0 for a sink on this machine)."""

    def __init__(self, latency: float) -> None:
        self.count = 0
        self.latency = latency
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)
        with self.lock:
            self.count += 1
        return "250 2.0.0 Ok"


def serve_sink(latency: float) -> None:
    """`--sink` mode: print the port, then answer each line read on stdin with the count; stop at EOF."""
    handler = CountingHandler(latency)
    server = LocalServer(handler)
    server.start()
    try:
        print(server.port, flush=True)
        for _ in sys.stdin:
            print(handler.count, flush=True)
    finally:
        server.stop()


class Sink:
    """The parent's side of the sink subprocess."""

    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--sink", "--latency", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.port = int(self.process.stdout.readline())

    def count(self) -> int:
        assert self.process.stdout is not None and self.process.stdin is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


# --- one run --------------------------------------------------------------------------------------


def recipient_row(n: int) -> str:
    ward = n % 15 + 1
    middle = MIDDLE[n // 3 % len(MIDDLE)]
    name = f"{FAMILY[n % len(FAMILY)]} {middle} {GIVEN[n // 7 % len(GIVEN)]}"
    salutation = "Bà" if middle == "Thị" else "Ông"
    return (
        f"{n},Phường,Ủy ban MTTQ Việt Nam Phường {ward},Ủy viên,{salutation},{name},"
        f"khach{n}@phuong{ward}.example,,028 3855 {n:04d}"
    )


def make_campaign(folder: Path, recipients: int) -> None:
    """A copy of the seed campaign with `recipients` generated rows and no PDF attachment."""
    seed = seed_folder()
    folder.mkdir()
    shutil.copytree(seed / "templates", folder / "templates")
    text = (seed / "campaign.toml").read_text(encoding="utf-8")
    assert "\n[campaign]\n" in text, "the seed campaign.toml has no [campaign] table"
    (folder / "campaign.toml").write_text(
        text.replace("\n[campaign]\n", "\n[campaign]\nattach_pdf = false\n", 1), encoding="utf-8"
    )
    rows = [HEADER, *(recipient_row(n) for n in range(1, recipients + 1))]
    (folder / "recipients.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


@dataclass
class Result:
    connections: int
    sent: int
    plan_seconds: float
    seconds: float
    first_outcome: float
    last_outcome: float
    peak_rss_mib: float
    peak_children_rss_mib: float

    @property
    def overall(self) -> float:
        return self.sent / self.seconds

    @property
    def steady(self) -> float:
        return (self.sent - 1) / (self.last_outcome - self.first_outcome)


def peak_rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def bench(connections: int, recipients: int, sink: Sink, processes: int | None) -> Result:
    with tempfile.TemporaryDirectory(prefix="bench-send-") as temp:
        temp_dir = Path(temp)
        os.environ[tokens.KEY_FILE_ENV] = str(temp_dir / "token.key")  # never the user's real key
        folder = temp_dir / "campaign"
        make_campaign(folder, recipients)
        started = time.perf_counter()
        plan = sending.plan_send(folder, ledger_file=temp_dir / "ledger.db")
        plan_seconds = time.perf_counter() - started
        local = ServerSettings(host="127.0.0.1", port=sink.port, security="none", timeout=30)
        plan.campaign = dataclasses.replace(plan.campaign, smtp=local)
        outcomes: list[float] = []

        def on_outcome(out: Outgoing, outcome: Outcome) -> None:
            outcomes.append(time.perf_counter())

        before = sink.count()
        started = time.perf_counter()
        result = asyncio.run(
            sending.execute(plan, None, Policy(connections=connections), on_outcome=on_outcome, processes=processes)
        )
        seconds = time.perf_counter() - started
        received = sink.count() - before
    summary = result.summary
    if summary.sent != recipients or received != recipients:
        raise SystemExit(f"{connections} connection(s): sent {summary.sent}, the sink got {received}: {summary}")
    return Result(
        connections,
        summary.sent,
        plan_seconds,
        seconds,
        outcomes[0] - started,
        outcomes[-1] - started,
        peak_rss_mib(resource.RUSAGE_SELF),
        peak_rss_mib(resource.RUSAGE_CHILDREN),
    )


def report(result: Result) -> None:
    print(
        f"{result.connections} connection(s): {result.sent} sent in {result.seconds:.2f}s "
        f"(first outcome at {result.first_outcome:.2f}s; plan_send took {result.plan_seconds:.2f}s)\n"
        f"    overall {result.overall:7.1f} msg/s   steady {result.steady:7.1f} msg/s   "
        f"peak RSS: this process {result.peak_rss_mib:.0f} MiB, children reaped so far "
        f"{result.peak_children_rss_mib:.0f} MiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000, help="how many invitations per run")
    parser.add_argument("--processes", type=int, default=None, help="render processes (default: min(4, CPUs))")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the sink takes to accept a message")
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        serve_sink(args.latency)
        return
    processes = args.processes or min(4, os.cpu_count() or 1)
    print(
        f"{args.recipients} text-only recipients, {processes} render process(es), {os.cpu_count()} CPU(s), "
        f"Python {sys.version.split()[0]}; the sink runs in a subprocess, answers after {args.latency * 1000:.0f} ms",
        flush=True,
    )
    sink = Sink(args.latency)
    try:
        one = bench(1, args.recipients, sink, processes)
        report(one)
        four = bench(4, args.recipients, sink, processes)
        report(four)
    finally:
        sink.close()
    print(
        f"ratio 4-conn/1-conn: overall {four.overall / one.overall:.2f}x, steady {four.steady / one.steady:.2f}x",
        flush=True,
    )


if __name__ == "__main__":
    main()
