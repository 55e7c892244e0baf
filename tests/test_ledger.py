"""The ledger's own guarantees: schema versioning, legal transitions only, an append-only history."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailmerge.campaign import load_campaign
from mailmerge.errors import LedgerError
from mailmerge.ledger import Ledger, Prepared
from mailmerge.send import TokenBucket

from .conftest import SEED


@pytest.fixture
def ledger(tmp_path: Path, seed_recipients):
    book = Ledger(tmp_path / "ledger.db", clock=lambda: datetime(2020, 8, 21, 2, 0, tzinfo=UTC))
    campaign = load_campaign(SEED)
    book.register(campaign, seed_recipients[:3], "invitation", {r.id: f"<{r.id}@x.example>" for r in seed_recipients})
    yield book
    book.close()


def prepared(message: int) -> Prepared:
    return Prepared(message, ["a@x.example"], "Giấy mời", None, None, {"name": "Lê An"})


def test_schema_is_versioned_and_a_newer_ledger_is_refused(ledger, tmp_path):
    assert ledger.schema_version == 4
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES "
            "('mailmerge', 'm999_from_the_future', '2030')"
        )
    with pytest.raises(LedgerError, match="newer mailmerge"):
        Ledger(tmp_path / "ledger.db")


def test_a_ledger_of_the_previous_release_is_migrated_and_keeps_its_history(tmp_path, seed_recipients):
    from sqlite_utils import Database

    from mailmerge.ledger.migrations import migrations

    old = Database(tmp_path / "ledger.db")
    migrations.apply(old, stop_before="m002_mail")
    old["campaigns"].insert({"slug": "c", "folder": "/x", "sender": "s", "created_at": "t", "updated_at": "t"})
    old["messages"].insert(
        {
            "id": 1,
            "campaign": "c",
            "recipient_id": "1",
            "kind": "invitation",
            "message_id": "<1@x.example>",
            "state": "sent",
            "attempts": 1,
        }
    )
    old["events"].insert({"message": 1, "at": "t", "state": "sent", "code": 250, "reply": "ok"})
    old.close()
    ledger = Ledger(tmp_path / "ledger.db")
    assert ledger.schema_version == 4
    assert [row["state"] for row in ledger.db["events"].rows] == ["sent"]
    assert "mail" in ledger.db["events"].columns_dict and ledger.db["mail"].exists()
    assert ledger.db["written_files"].exists()
    assert ledger.stored_key() is None  # taken over from this computer's key file when first needed
    ledger.close()


def test_registering_again_queues_nobody_twice(ledger, seed_recipients):
    campaign = load_campaign(SEED)
    ids = {r.id: f"<{r.id}@x.example>" for r in seed_recipients}
    assert ledger.register(campaign, seed_recipients[:5], "invitation", ids) == 2
    assert [row.recipient_id for row in ledger.due(campaign.slug, "invitation")] == ["1", "2", "3", "4", "5"]


def test_a_message_is_claimed_once_and_only_from_a_due_state(ledger):
    first = ledger.due("so-ket-200-ngay-gd2", "invitation")[0]
    assert ledger.claim(prepared(first.id))
    assert not ledger.claim(prepared(first.id)), "a second claim must not succeed"
    ledger.record_sent(first.id, 250, "2.0.0 Ok")
    with pytest.raises(LedgerError):
        ledger.record_outcome(first.id, "failed", code=550, reply="too late")
    events = list(ledger.db["events"].rows_where("message = ?", [first.id], order_by="id"))
    assert [e["state"] for e in events] == ["queued", "sending", "sent"]
    assert events[-1]["at"] == "2020-08-21T02:00:00.000+00:00"


def test_events_are_append_only(ledger, tmp_path):
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        for statement in ("UPDATE events SET state = 'sent'", "DELETE FROM events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)


def test_interrupted_sends_become_unknown_and_stay_out_of_the_queue(ledger):
    slug = "so-ket-200-ngay-gd2"
    first = ledger.due(slug, "invitation")[0]
    ledger.claim(prepared(first.id))
    assert [row.id for row in ledger.recover_interrupted()] == [first.id]
    assert [r["recipient_id"] for r in ledger.status(slug) if r["state"] == "unknown"] == [first.recipient_id]
    assert first.id not in [row.id for row in ledger.due(slug, "invitation")]
    assert ledger.requeue_unknown(slug) == 1
    assert ledger.due(slug, "invitation")[0].id == first.id


def test_only_one_process_sends_with_a_ledger(ledger, tmp_path):
    other = Ledger(tmp_path / "ledger.db")
    with ledger.exclusive(), pytest.raises(LedgerError, match="another mailmerge process"), other.exclusive():
        pass
    with other.exclusive():
        pass  # free again once the first one let go
    other.close()


def test_token_bucket_spaces_messages_at_the_rate():
    now = [0.0]
    bucket = TokenBucket(per_minute=30, capacity=2, clock=lambda: now[0])
    assert [bucket.wait_time(), bucket.wait_time()] == [0.0, 0.0]  # the burst
    assert bucket.wait_time() == pytest.approx(2.0)  # 30/min: one every 2 s
    now[0] = 1.0
    assert bucket.wait_time() == pytest.approx(1.0)
    now[0] = 2.0
    assert bucket.wait_time() == 0.0
    now[0] = 100.0
    assert [bucket.wait_time(), bucket.wait_time(), bucket.wait_time() > 0] == [0.0, 0.0, True]
