"""`mailmerge demo`: the seed campaign sent to a local SMTP sink."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..i18n import _, ngettext
from .app import (
    app,
    out,
    reporting,
)
from .deliver import print_send_result, progress_updater, send_progress
from .interrupts import SendTracker, ctrl_c
from .report import print_written, write_report
from .status import print_status


@app.command(
    help=_("Send the seed campaign's 65 invitations to a local SMTP sink on 127.0.0.1 (nothing leaves this machine).")
)
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", metavar="DIR", help=_("Where to leave the received emails, PDFs and ledger."))
    ] = Path("demo-output"),
) -> None:
    from ..demo import run_demo  # the SMTP sink (aiosmtpd) and the sending code

    tracker = SendTracker()
    ctrl_c.last_words = tracker.last_words
    with reporting(), send_progress() as bar:
        result = run_demo(
            out_dir,
            on_outcome=progress_updater(bar, total=None, tracker=tracker),
            on_claimed=tracker.claimed,
            on_plan=lambda plan: bar.update(bar.task_ids[0], total=plan.count),
            run=ctrl_c.run,
        )
    print_status(result.report)
    print_send_result(result.result)
    count = len(result.received)
    # TRANSLATORS: {received} and {pdf} are folders, {ledger} is the ledger file of the demo
    message = ngettext(
        "The sink on 127.0.0.1:{port} received {count} message: {received}/*.eml; its PDF: {pdf}/; ledger: {ledger}",
        "The sink on 127.0.0.1:{port} received {count} messages: {received}/*.eml; their PDFs: {pdf}/; "
        "ledger: {ledger}",
        count,
    )
    out.print(
        message.format(
            port=result.port,
            count=count,
            received=out_dir / "received",
            pdf=out_dir / "pdf",
            ledger=out_dir / "ledger.db",
        )
    )
    with reporting():
        pages = write_report(out_dir / "campaign", out_dir / "ledger.db", out_dir / "report.pdf", lang="vi", force=True)
    print_written(out_dir / "report.pdf", pages)
