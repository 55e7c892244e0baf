"""The email as bytes: encodings survive a round trip through Python's parser; tokens; no header injection."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from mailmerge import tokens
from mailmerge.campaign import load_campaign, seed_folder
from mailmerge.errors import MailmergeError
from mailmerge.merge import Composer

NOW = datetime(2020, 8, 21, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer(load_campaign(seed_folder()), key=b"k" * 32)


def round_trip(message) -> object:
    return message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.default)


def test_vietnamese_subject_names_and_attachment_survive_a_round_trip(composer, seed_recipients):
    recipient = dataclasses.replace(seed_recipients[0], name="Đặng Thị Ánh Tuyết", cc=("vp@mttq.example",))
    letter, message = composer.build(recipient, now=NOW)
    raw = message.as_bytes(policy=policy.SMTP)
    assert raw.isascii(), "every header and body part must be 7-bit encoded"
    parsed = round_trip(message)
    assert parsed["Subject"] == letter.subject and "Giấy mời" in parsed["Subject"]
    assert parsed["From"].addresses[0].display_name == "Ban Thường trực Ủy ban MTTQ Việt Nam Quận 5"
    assert parsed["To"].addresses[0].display_name == "Đặng Thị Ánh Tuyết"
    assert parsed["To"].addresses[0].addr_spec == recipient.email
    assert parsed["Cc"] == "vp@mttq.example"
    assert parsed["Date"].datetime == NOW
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "Giay-moi_58-GM-MTTQ-BTT_Dang-Thi-Anh-Tuyet.pdf"
    assert attachment["Content-Description"] == "Giấy mời – Đồng chí Đặng Thị Ánh Tuyết"
    assert attachment.get_content() == letter.pdf
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == letter.text
    assert "Đặng Thị Ánh Tuyết" in parsed.get_body(("html",)).get_content()


def test_message_id_and_reply_to_carry_a_signed_token(composer, seed_recipients):
    recipient = seed_recipients[10]
    _, message = composer.build(recipient, now=NOW)
    parsed = round_trip(message)
    slug = composer.campaign.slug
    signature = tokens.sign(b"k" * 32, slug, recipient.id, "invitation")
    assert parsed["Message-ID"].strip() == f"<{slug}.{recipient.id}.invitation.{signature}@mttq-quan5.example>"
    reply_to = parsed["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith(f"vanphong+{recipient.id}.") and reply_to.endswith("@mttq-quan5.example")
    other_key = Composer(composer.campaign, key=b"x" * 32)
    assert other_key.message_id(recipient) != composer.message_id(recipient), "the token depends on the key"


def test_the_same_message_keeps_its_message_id(composer, seed_recipients):
    first = composer.message_id(seed_recipients[3])
    assert composer.message_id(seed_recipients[3]) == first
    assert composer.message_id(seed_recipients[3], kind="reminder-1") != first


def test_header_injection_is_refused(composer, seed_recipients):
    recipient = dataclasses.replace(seed_recipients[0], name="Lê An\r\nBcc: victim@elsewhere.test")
    with pytest.raises(MailmergeError, match="row 2"):
        composer.build(recipient, now=NOW)


def test_key_is_created_once_with_private_permissions(token_key):
    first = tokens.load_key()
    assert token_key.exists() and token_key.stat().st_mode & 0o777 == 0o600
    assert tokens.load_key() == first
