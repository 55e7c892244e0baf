"""Benchmark: `mailmerge export` of a sent campaign of N recipients, XLSX (the target), CSV and JSON.

    .venv/bin/python scripts/bench_export.py [--recipients N] [--keep] [--profile]

Issue 10's target: 10,000 recipients exported in under 3 s as XLSX on the development machine. It is printed
with PASS/FAIL; the exit code is 0 either way (1 only when something went wrong, e.g. a file has the wrong
number of rows).

Set-up (timed and printed, not part of the target), all on 127.0.0.1 in a temporary folder:
- a copy of the seed campaign with N generated recipients (tests/real_send.py's builder: every 10th has a
  CC) and `attach_pdf = false`, sent in this process with `sending.plan_send` + `sending.execute` to an
  aiosmtpd sink (tests/smtp_server.py), with a temporary token key: bench_inbox.py's `send_invitations`;
- answers recorded by hand for 60 % of them, one mark at a time as `mailmerge mark` records them
  (`replies.mark` without its per-call read of the recipients file: the ledger's `mail.mark`): 30 %
  attending, 20 % declined, 10 % sending a delegate with a name (some with a note), so that the rows have
  answers, replied times and delegates.

Measured:
1. end to end as the user runs it, each in a fresh process: `mailmerge export -o FILE --campaign DIR` for
   FILE.xlsx, FILE.csv and FILE.json (the real console script, so start-up and imports count), wall time
   (median of RUNS) and the process's peak RSS (`os.wait4`); and `mailmerge --help`, the start-up alone;
2. in a fresh subprocess of this script, the phases in-process, median of RUNS each: `export.collect`, then
   `to_xlsx`, `to_csv` and `to_json` of what it collected (with the CLI's `labels()` in Vietnamese, the
   CLI's default), and that process's peak RSS.

Afterwards the XLSX's first sheet (openpyxl, read-only) and the CSV must have N + 1 rows (a header and
everyone), and the JSON N recipients.

`--profile` runs `collect` + `to_xlsx` once more under cProfile in the measuring subprocess and prints the
top functions by cumulative and by own time. `--keep` keeps the temporary folder and prints where it is.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))  # bench_inbox: the 10k campaign sent to a local sink

from bench_inbox import current_rss_mib, peak_rss_mib, send_invitations, timed, verdict  # noqa: E402

from mailmerge import replies, tokens  # noqa: E402
from mailmerge.ledger.schema import ATTENDING, DECLINED, DELEGATE  # noqa: E402

TARGET = 3.0  # seconds, XLSX export of TARGET_RECIPIENTS
TARGET_RECIPIENTS = 10_000
RUNS = 3
MAILMERGE = Path(sys.executable).parent / "mailmerge"  # the venv's console script
FORMATS = ("xlsx", "csv", "json")
DELEGATES = [
    "Trần Văn Nam - Phó Bí thư Đảng ủy phường",
    "Lê Thị Hồng - Phó Chủ tịch Ủy ban MTTQ phường",
    "Phạm Quốc Bảo - Ủy viên Ban Thường trực",
]


# --- set-up -----------------------------------------------------------------------------------------


def answer_for(n: int) -> tuple[str, str | None, str | None] | None:
    """Recipient n's answer by hand (answer, delegate, note), or None for the 40 % who gave none."""
    share = n % 10
    if share < 3:
        return ATTENDING, None, "Gọi điện xác nhận" if n % 7 == 0 else None
    if share < 5:
        return DECLINED, None, "Trùng lịch công tác" if n % 3 == 0 else None
    if share == 5:
        return DELEGATE, DELEGATES[n % len(DELEGATES)], "Báo qua Zalo" if n % 2 == 0 else None
    return None


def record_answers(folder: Path, recipients: int) -> Counter[str]:
    """One mark per answering recipient, each in its own transaction, as `mailmerge mark` records it."""
    campaign, ledger = replies.open_ledger(folder)
    counts: Counter[str] = Counter()
    try:
        for n in range(1, recipients + 1):
            if (given := answer_for(n)) is not None:
                answer, delegate, note = given
                ledger.mail.mark(campaign.slug, str(n), answer, delegate, note)
                counts[answer] += 1
    finally:
        ledger.close()
    return counts


# --- measuring --------------------------------------------------------------------------------------


def median_time(work: Callable[[], Any]) -> tuple[float, Any]:
    """The median of RUNS timings of `work`, and its last result."""
    times, result = [], None
    for _ in range(RUNS):
        seconds, result = timed(work)
        times.append(seconds)
    return statistics.median(times), result


def measure(folder: Path, profile: bool) -> dict[str, Any]:
    """In a fresh process: the imports, then each phase (median of RUNS); numbers for the parent."""
    from mailmerge import export
    from mailmerge.cli.export import labels, language

    rss_start = current_rss_mib()
    collect_seconds, data = median_time(lambda: export.collect(folder))
    with language("vi"):
        names = labels()
        xlsx_seconds, xlsx = median_time(lambda: export.to_xlsx(data, names))
        csv_seconds, csv_bytes = median_time(lambda: export.to_csv(data, names))
    json_seconds, json_bytes = median_time(lambda: export.to_json(data))
    numbers = {
        "rows": len(data.rows),
        "events": len(data.events),
        "answers": dict(Counter(row["answer"] for row in data.rows)),
        "rss_start": rss_start,
        "collect": collect_seconds,
        "to_xlsx": xlsx_seconds,
        "to_csv": csv_seconds,
        "to_json": json_seconds,
        "sizes": {"xlsx": len(xlsx), "csv": len(csv_bytes), "json": len(json_bytes)},
        "peak_rss": peak_rss_mib(),
    }
    if profile:

        def both() -> None:
            with language("vi"):
                export.to_xlsx(export.collect(folder), labels())

        profiler = cProfile.Profile()
        profiler.runcall(both)
        for order, count in (("cumulative", 25), ("tottime", 15)):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(count)
            print(f"--- cProfile of collect + to_xlsx, by {order} ---", text.getvalue(), sep="\n", flush=True)
    return numbers


def run_measurement(folder: Path, result_file: Path, profile: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", str(folder), "--result", str(result_file)]
    subprocess.run([*command, *(["--profile"] if profile else [])], check=True)
    return json.loads(result_file.read_text())


def run_cli(folder: Path, output: Path) -> tuple[float, float, str]:
    """`mailmerge export -o output --campaign folder --force` in a fresh process: wall time, peak RSS (MiB)
    and what it printed."""
    command = [str(MAILMERGE), "export", "-o", str(output), "--campaign", str(folder), "--force"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    printed = process.stdout.read() if process.stdout else b""
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    text = printed.decode(errors="replace").strip()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {process.returncode}:\n{text}")
    return seconds, usage.ru_maxrss / 1024, text


def startup_times() -> list[float]:
    """`mailmerge --help`: the CLI's start-up and imports alone, as a baseline."""
    times = []
    for _ in range(RUNS):
        seconds, _ = timed(lambda: subprocess.run([str(MAILMERGE), "--help"], capture_output=True, check=True))
        times.append(seconds)
    return times


def cli_runs(folder: Path, out_dir: Path) -> dict[str, Any]:
    """Each format end to end, RUNS times (the first into a new file, the others with --force), and the
    start-up baseline."""
    results: dict[str, Any] = {"startup": startup_times()}
    for name in FORMATS:
        runs = [run_cli(folder, out_dir / f"export.{name}") for _ in range(RUNS)]
        times = [seconds for seconds, _rss, _text in runs]
        results[name] = {
            "seconds": statistics.median(times),
            "times": times,
            "peak_rss": max(rss for _seconds, rss, _text in runs),
            "printed": runs[-1][2],
        }
    return results


# --- checks -----------------------------------------------------------------------------------------


def count_rows(out_dir: Path) -> dict[str, int]:
    from openpyxl import load_workbook

    book = load_workbook(out_dir / "export.xlsx", read_only=True)
    try:
        xlsx_rows = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    with open(out_dir / "export.csv", encoding="utf-8-sig", newline="") as stream:
        csv_rows = sum(1 for _ in csv.reader(stream))
    csv_lines = (out_dir / "export.csv").read_bytes().count(b"\r\n")
    json_rows = len(json.loads((out_dir / "export.json").read_bytes())["recipients"])
    return {"xlsx": xlsx_rows, "csv": csv_rows, "csv_lines": csv_lines, "json": json_rows}


# --- the report -------------------------------------------------------------------------------------


def report(numbers: dict[str, Any], cli: dict[str, Any], rows: dict[str, int], recipients: int) -> bool:
    """Print the results; False when something is wrong beyond a missed target."""
    print(f"{'end to end (fresh process)':34} {'median':>8} {'runs':>22} {'peak RSS':>10} {'size':>10}")
    for name in FORMATS:
        result = cli[name]
        runs = " ".join(f"{t:.2f}" for t in result["times"])
        size = numbers["sizes"][name] / 2**20
        label = f"mailmerge export -o export.{name}"
        print(f"{label:34} {result['seconds']:7.2f}s {runs:>22} {result['peak_rss']:7.0f}MiB {size:7.2f}MiB")
    startup = statistics.median(cli["startup"])
    print(f"{'mailmerge --help (start-up only)':34} {startup:7.2f}s")
    print(f"in-process phases (median of {RUNS}, {numbers['rows']} rows, {numbers['events']} events):")
    for phase in ("collect", "to_xlsx", "to_csv", "to_json"):
        print(f"    {phase:30} {numbers[phase]:6.2f}s  {numbers[phase] * 1e6 / max(numbers['rows'], 1):6.0f} µs/row")
    print(
        f"    RSS of the measuring process: {numbers['rss_start']:.0f} MiB at start, peak {numbers['peak_rss']:.0f} MiB"
    )
    print(f"    answers in the rows: {dict(sorted(numbers['answers'].items(), key=lambda kv: str(kv[0])))}")
    print(f"    CLI printed: {cli['xlsx']['printed']}")
    seconds = cli["xlsx"]["seconds"]
    note = "" if recipients == TARGET_RECIPIENTS else f"; the target is for {TARGET_RECIPIENTS}"
    print(
        f"target: XLSX export of {recipients} recipients < {TARGET:.0f} s: {verdict(seconds, TARGET)} "
        f"({seconds:.2f} s{note})"
    )
    expected = {"xlsx": recipients + 1, "csv": recipients + 1, "json": recipients}
    right = all(rows[name] == count for name, count in expected.items()) and numbers["rows"] == recipients
    print(
        f"check: rows: XLSX first sheet {rows['xlsx']}, CSV {rows['csv']} records ({rows['csv_lines']} lines), "
        f"JSON {rows['json']} recipients, collect {numbers['rows']}: "
        + ("OK" if right else f"WRONG (expected {expected}, collect {recipients})")
    )
    return right


# --- main -------------------------------------------------------------------------------------------


def bench(args: argparse.Namespace, temp_dir: Path) -> bool:
    """Set up, measure, report; False when a check failed."""
    os.environ[tokens.KEY_FILE_ENV] = str(temp_dir / "token.key")  # never the user's real key
    folder = temp_dir / "campaign"
    seconds, _sent = timed(lambda: send_invitations(folder, args.recipients))
    print(f"set-up: {args.recipients} invitations sent to the local sink in {seconds:.1f}s", flush=True)
    seconds, marks = timed(lambda: record_answers(folder, args.recipients))
    total = sum(marks.values())
    print(
        f"set-up: {total} answers recorded one by one (mark) in {seconds:.1f}s "
        f"({seconds * 1000 / max(total, 1):.1f} ms each): {dict(marks)}",
        flush=True,
    )
    out_dir = temp_dir / "out"
    out_dir.mkdir()
    cli = cli_runs(folder, out_dir)
    numbers = run_measurement(folder, temp_dir / "result.json", args.profile)
    seconds, rows = timed(lambda: count_rows(out_dir))
    print(f"load average after the measurement: {os.getloadavg()[0]:.2f} (other work on the machine skews it all)")
    return report(numbers, cli, rows, args.recipients)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=TARGET_RECIPIENTS, help="invitations sent and exported")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--profile", action="store_true", help="profile collect + to_xlsx in-process")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        args.result.write_text(json.dumps(measure(args.measure, args.profile)))
        return
    print(
        f"export of {args.recipients} recipients, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}, "
        f"Python {sys.version.split()[0]}; target: XLSX of {TARGET_RECIPIENTS} in < {TARGET:.0f}s",
        flush=True,
    )
    temp_dir = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        ok = bench(args, temp_dir)
    finally:
        if args.keep:
            print(f"kept: {temp_dir}")
        else:
            shutil.rmtree(temp_dir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
