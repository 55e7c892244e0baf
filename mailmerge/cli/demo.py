"""`mailmerge demo`: the seed campaign sent to a local SMTP sink."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..demo import run_demo
from .app import (
    app,
    out,
    reporting,
)
from .deliver import print_send_result, progress_updater, send_progress
from .interrupts import SendTracker, ctrl_c
from .status import print_status


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Where to leave the received emails, PDFs and ledger.")
    ] = Path("demo-output"),
) -> None:
    """Send the seed campaign's 65 invitations to a local SMTP sink on 127.0.0.1 (nothing leaves this machine)."""
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
    out.print(
        f"The sink on 127.0.0.1:{result.port} received {len(result.received)} message(s): "
        f"{out_dir / 'received'}/*.eml; their PDFs: {out_dir / 'pdf'}/; ledger: {out_dir / 'ledger.db'}"
    )
