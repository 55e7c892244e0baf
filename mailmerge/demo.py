"""`demo`: the seed campaign sent to a local SMTP sink on 127.0.0.1, so nothing leaves the machine."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from .campaign import seed_folder
from .models import ServerSettings
from .send import Policy
from .sending import SendPlan, SendResult, execute, plan_send
from .sink import FileSink, LocalServer
from .tracking import StatusReport, status
from .transaction import Outcome, Outgoing


@dataclass
class DemoResult:
    result: SendResult
    report: StatusReport
    received: list[Path]
    pdfs: list[Path]
    port: int


def run_demo(
    out: Path,
    *,
    connections: int = 2,
    on_outcome: Callable[[Outgoing, Outcome], None] | None = None,
    on_claimed: Callable[[Outgoing], None] | None = None,
    on_plan: Callable[[SendPlan], None] | None = None,
    run: Callable[[Coroutine[Any, Any, SendResult]], SendResult] = asyncio.run,
) -> DemoResult:
    """Send a copy of the seed campaign (`out/campaign`: the seed may be inside the installed package) to an
    SMTP sink on 127.0.0.1 with a fresh ledger in `out`; keep what the sink received as .eml files and the
    PDFs taken out of them. `run` drives the event loop (the CLI's runner knows what Ctrl-C should do)."""
    received_dir, pdf_dir, ledger_file = out / "received", out / "pdf", out / "ledger.db"
    for folder in (received_dir, pdf_dir, out / "campaign"):
        shutil.rmtree(folder, ignore_errors=True)
    campaign_folder = copy_seed(out / "campaign")
    for stale in out.glob("ledger.db*"):
        stale.unlink()
    server = LocalServer(FileSink(received_dir))
    server.start()
    try:
        plan = plan_send(campaign_folder, ledger_file=ledger_file)
        local = ServerSettings(host="127.0.0.1", port=server.port, security="none", timeout=30)
        plan.campaign = dataclasses.replace(plan.campaign, smtp=local)
        if on_plan:
            on_plan(plan)
        policy = Policy(connections=connections, settings=plan.campaign.send)
        result = run(execute(plan, None, policy, on_outcome=on_outcome, on_claimed=on_claimed))
    finally:
        server.stop()
    received = sorted(received_dir.glob("*.eml"))
    return DemoResult(
        result, status(campaign_folder, ledger_file=ledger_file), received, extract_pdfs(received, pdf_dir), server.port
    )


def copy_seed(folder: Path) -> Path:
    """The seed campaign's file, recipients and templates in `folder`."""
    seed = seed_folder()
    folder.mkdir(parents=True)
    for name in ("campaign.toml", "recipients.csv"):
        shutil.copy(seed / name, folder / name)
    shutil.copytree(seed / "templates", folder / "templates")
    return folder


def extract_pdfs(emails: list[Path], folder: Path) -> list[Path]:
    """Save the PDF attachment of each email, under its own file name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in emails:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in message.iter_attachments():
            if part.get_content_type() == "application/pdf":
                target = folder / Path(part.get_filename() or f"{path.stem}.pdf").name
                target.write_bytes(part.get_content())
                written.append(target)
    return written
