"""Classifying one email: bounces, delays, auto-replies, replies and their RSVP, from realistic mail.

The messages in tests/mail/ were written for these tests in the formats of the programs named in their file
names (Postfix, Exchange, qmail, Exim, Gmail, Outlook, Thunderbird, Zimbra, Apple Mail, iPhone, Windows Live
Mail); names are fictional and every domain is a reserved .example one.
"""

from __future__ import annotations

import unicodedata
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailmerge import quoting
from mailmerge.classify import AUTO_REPLY, BOUNCE, DELAY, OTHER, REPLY, classify, new_text
from mailmerge.rsvp import ATTENDING, DECLINED, DELEGATE, FIRST_WORDS, RULES, UNCLEAR, read_rsvp
from mailmerge.vntext import ascii_fold

MAIL = Path(__file__).parent / "mail"
SLUG = "so-ket-200-ngay-gd2"


def sent(recipient: int, signature: str) -> str:
    return f"<{SLUG}.{recipient}.invitation.{signature}@mttq-quan5.example>"


def load(name: str) -> EmailMessage:
    message = message_from_bytes((MAIL / name).read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parse(text: str) -> EmailMessage:
    message = message_from_bytes(text.lstrip().encode(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


# file -> kind, rsvp, delegate name, delegate position, original Message-ID
EXPECTED = {
    "reply-gmail-vi.eml": (REPLY, ATTENDING, None, None, None),
    "reply-outlook-vi.eml": (REPLY, DECLINED, None, None, None),
    "reply-outlook-delegate.eml": (REPLY, DELEGATE, "Lê Thị Hồng", "Phó Chủ tịch UBND Phường 3", None),
    "reply-thunderbird-vi.eml": (REPLY, DECLINED, None, None, None),
    "reply-html-only.eml": (REPLY, ATTENDING, None, None, None),
    "reply-no-tone-marks.eml": (REPLY, DECLINED, None, None, None),
    "reply-no-tone-marks-attending.eml": (REPLY, ATTENDING, None, None, None),
    "reply-co-alone.eml": (REPLY, ATTENDING, None, None, None),
    "reply-delegate-own-address.eml": (REPLY, DELEGATE, "Trần Văn Cường", "Phó Chủ tịch UBND Phường 3", None),
    "reply-nfd.eml": (REPLY, ATTENDING, None, None, None),
    "reply-windows-1258.eml": (REPLY, DECLINED, None, None, None),
    "reply-english.eml": (REPLY, DECLINED, None, None, None),
    "reply-subject-vang-mat.eml": (REPLY, DECLINED, None, None, None),
    "reply-unclear.eml": (REPLY, UNCLEAR, None, None, None),
    "autoreply-gmail-vi.eml": (AUTO_REPLY, None, None, None, None),
    "autoreply-exchange-en.eml": (AUTO_REPLY, None, None, None, None),
    "autoreply-subject-vi.eml": (AUTO_REPLY, None, None, None, None),
    "receipt-outlook-vi.eml": (AUTO_REPLY, None, None, None, None),
    "dsn-postfix-failed.eml": (BOUNCE, None, None, None, sent(25, "buygsrwbw3cv2vsj")),
    "dsn-postfix-delayed.eml": (DELAY, None, None, None, sent(28, "lftta3brm7a3awj3")),
    "dsn-postfix-expired.eml": (BOUNCE, None, None, None, sent(33, "2b4iyrg7bpnfm7ei")),
    "dsn-postfix-cc.eml": (BOUNCE, None, None, None, sent(39, "yip55zznzvgzm3dq")),
    "dsn-exchange-failed.eml": (BOUNCE, None, None, None, sent(26, "c3smkpw23se5g773")),
    "dsn-exchange-delayed.eml": (DELAY, None, None, None, sent(24, "oqperq7yt3jlfp5n")),
    "bounce-qmail.eml": (BOUNCE, None, None, None, sent(27, "qikdzh65aebewhmv")),
    "bounce-exchange-plain.eml": (BOUNCE, None, None, None, sent(20, "4gpe7maxvajwsgxg")),
    "warning-exim-delayed.eml": (DELAY, None, None, None, None),
    "spam.eml": (OTHER, None, None, None, None),
    "newsletter.eml": (OTHER, None, None, None, None),
}


def test_every_mail_file_has_an_expectation():
    assert sorted(path.name for path in MAIL.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_mail_is_classified(name, expected):
    kind, rsvp, delegate_name, delegate_position, original_message_id = expected
    found = classify(load(name))
    assert (found.kind, found.rsvp) == (kind, rsvp), found.reason
    assert (found.delegate_name, found.delegate_position) == (delegate_name, delegate_position)
    assert found.original_message_id == original_message_id
    assert found.reason


# Bounces and delays: what each report says


@pytest.mark.parametrize(
    ("name", "action", "status", "recipient", "diagnostic"),
    [
        ("dsn-postfix-failed.eml", "failed", "5.1.1", "linh.dh@phuong5-q5.example", "smtp; 550 5.1.1 <linh.dh@"),
        ("dsn-postfix-delayed.eml", "delayed", "4.4.1", "huong.dh@phuong8-q5.example", "X-Postfix; delivery tempo"),
        ("dsn-postfix-expired.eml", "failed", "4.2.0", "thang.hm@phuong13-q5.example", "smtp; 450 4.2.0 <thang."),
        ("dsn-postfix-cc.eml", "failed", "5.1.1", "mttq@phuong4-q5.example", "smtp; 550 5.1.1 <mttq@phuong4"),
        ("dsn-exchange-failed.eml", "failed", "5.1.10", "an.hc@phuong6-q5.example", "smtp;550 5.1.10 RESOLVER"),
        ("dsn-exchange-delayed.eml", "delayed", "4.4.7", "hung.nc@phuong4-q5.example", "smtp;400 4.4.7 Message"),
    ],
)
def test_delivery_reports_are_read_per_recipient(name, action, status, recipient, diagnostic):
    [report] = classify(load(name)).reports
    assert (report.action, report.status, report.final_recipient) == (action, status, recipient)
    assert report.diagnostic.startswith(diagnostic)
    assert "\n" not in report.diagnostic and "  " not in report.diagnostic, "folded lines are joined"


def test_postfix_report_keeps_envid_remote_mta_and_original_recipient():
    found = classify(load("dsn-postfix-failed.eml"))
    [report] = found.reports
    assert found.envid == sent(25, "buygsrwbw3cv2vsj").strip("<>")
    assert report.original_recipient == "linh.dh@phuong5-q5.example"
    assert report.remote_mta == "mx.phuong5-q5.example"
    assert report.diagnostic.endswith("Recipient address rejected: User unknown in virtual mailbox table")
    assert found.reason == "RFC 3464 report: failed 5.1.1 (bad destination mailbox address)"


def test_a_cc_address_that_bounced_is_the_one_reported():
    found = classify(load("dsn-postfix-cc.eml"))
    assert [report.final_recipient for report in found.reports] == ["mttq@phuong4-q5.example"]
    assert found.original_message_id == sent(39, "yip55zznzvgzm3dq"), "the invitation it is about"


@pytest.mark.parametrize(
    ("name", "kind", "addresses"),
    [
        ("bounce-qmail.eml", BOUNCE, ("an.qc@phuong7-q5.example",)),
        ("bounce-exchange-plain.eml", BOUNCE, ("thao.nh@ubnd-q5.example",)),
        ("warning-exim-delayed.eml", DELAY, ("toan.pc@quandoan-q5.example",)),
    ],
)
def test_bounces_in_other_formats_name_the_failed_addresses(name, kind, addresses):
    found = classify(load(name))
    assert (found.kind, found.original_recipients, found.reports) == (kind, addresses, ())
    assert found.reason.startswith("flufl.bounce")


def report(actions: list[tuple[str, str, str]]) -> EmailMessage:
    blocks = "\n".join(
        f"Final-Recipient: rfc822; {address}\nAction: {action}\nStatus: {status}\n"
        for address, action, status in actions
    )
    return parse(f"""
From: MAILER-DAEMON@mail.mttq-quan5.example (Mail Delivery System)
To: vanphong@mttq-quan5.example
Subject: Delivery Status Notification
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

A report.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.mttq-quan5.example

{blocks}
--b--
""")


def test_a_report_with_one_failure_among_delays_is_a_bounce():
    found = classify(report([("a@x.example", "delayed", "4.4.1"), ("b@x.example", "failed", "5.2.2")]))
    assert found.kind == BOUNCE and [r.action for r in found.reports] == ["delayed", "failed"]
    assert found.reason == "RFC 3464 report: failed 5.2.2 (mailbox full)"


def test_a_report_of_success_only_is_kept_but_is_no_bounce():
    found = classify(report([("a@x.example", "relayed", "2.0.0")]))
    assert found.kind == OTHER and found.reports[0].action == "relayed"


def test_returned_headers_with_odd_line_ends_still_give_the_message_id():
    raw = (MAIL / "dsn-postfix-failed.eml").read_bytes()
    head, _, returned = raw.partition(b"Content-Type: text/rfc822-headers")
    message = message_from_bytes(head + _ + returned.replace(b"\n", b"\r\r\n"), policy=policy.default)
    assert classify(message).original_message_id == sent(25, "buygsrwbw3cv2vsj")


def test_a_bounce_forwarded_inside_a_persons_mail_is_not_ours():
    inner = (MAIL / "dsn-postfix-failed.eml").read_text()
    message = parse(f"""
From: Lý Đức Lực <luc.ld@phuong2-q5.example>
To: vanphong@mttq-quan5.example
Subject: Fwd: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="f"

--f
Content-Type: text/plain; charset=utf-8

Thư này bị trả lại, nhờ Văn phòng kiểm tra.

--f
Content-Type: message/rfc822

{inner}
--f--
""")
    assert classify(message).kind not in (BOUNCE, DELAY)


# Auto-replies


def mail(headers: str = "", body: str = "Tôi sẽ tham dự.", subject: str = "Re: Giấy mời") -> EmailMessage:
    """A reply to invitation 25, with `headers` (lines) added."""
    message = EmailMessage()
    message["From"] = "Lê Văn Hải <hai.lv@phuong5-q5.example>"
    message["To"] = "vanphong+25.abcdefghijkl@mttq-quan5.example"
    message["Subject"] = subject
    message["In-Reply-To"] = f"<{SLUG}.25.invitation.abcdefghijklmnop@mttq-quan5.example>"
    for line in filter(None, headers.split("\n")):
        name, _, value = line.partition(":")
        message[name] = value.strip()
    message.set_content(body)
    return parse(message.as_string())


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("Auto-Submitted: auto-replied", AUTO_REPLY),
        ("Auto-Submitted: auto-generated", AUTO_REPLY),
        ("Auto-Submitted: auto-notified; owner-email=x@y.example", AUTO_REPLY),
        ("Auto-Submitted: no", REPLY),
        ("X-Autoreply: yes", AUTO_REPLY),
        ("X-Autorespond: Giấy mời", AUTO_REPLY),
        ("Precedence: auto_reply", AUTO_REPLY),
        ("Precedence: bulk", AUTO_REPLY),
        ("Precedence: junk", AUTO_REPLY),
        ("Precedence: list", REPLY),
        ("X-Auto-Response-Suppress: All", REPLY),
    ],
)
def test_auto_reply_headers(headers, kind):
    assert classify(mail(headers)).kind == kind


def test_precedence_bulk_on_list_mail_is_a_newsletter_not_an_auto_reply():
    found = classify(load("newsletter.eml"))
    assert found.kind == OTHER and "List" in found.reason


@pytest.mark.parametrize(
    "subject",
    ["Automatic reply: Giấy mời", "Out of Office: Giấy mời", "Autoreply: Giấy mời", "Auto-Reply: Giấy mời",
     "Trả lời tự động: Giấy mời", "Tự động trả lời: Giấy mời", "Vắng mặt: Giấy mời", "Vắng mặt"],
)  # fmt: skip
def test_out_of_office_subjects(subject):
    found = classify(mail(body="Tôi đi công tác đến ngày 31/8.", subject=subject))
    assert found.kind == AUTO_REPLY and found.reason == f"Subject: {subject}"


def test_a_subject_alone_does_not_hide_a_persons_answer():
    assert classify(mail(body="Xin phép vắng mặt.", subject="Vắng mặt: Giấy mời")).rsvp == DECLINED
    assert classify(mail(body="Xin phép vắng.", subject="Xin vắng mặt hội nghị")).kind == REPLY


def test_an_auto_reply_is_never_an_answer_whatever_its_text_says():
    found = classify(load("autoreply-exchange-en.eml"))
    assert found.kind == AUTO_REPLY and found.rsvp is None and found.excerpt.startswith("I am out of the office")


# Replies


def test_the_quoted_invitation_does_not_count():
    for name in ("reply-gmail-vi.eml", "reply-outlook-vi.eml", "reply-thunderbird-vi.eml", "reply-html-only.eml"):
        text = new_text(load(name))
        assert "Kính gửi Đồng chí" not in text and "nếu vắng mặt" not in text, name


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("reply-gmail-vi.eml", "Kính gửi Ban Thường trực,\n\nTôi xin xác nhận sẽ tham dự hội nghị."),
        ("reply-thunderbird-vi.eml", "Tôi xin phép vắng mặt vì trùng lịch tiếp công dân định kỳ của phường."),
        ("reply-co-alone.eml", "Có"),
        ("reply-english.eml", "Dear Sir or Madam,\n\nThank you for the invitation. Unfortunately I cannot "
         "attend, as I will be overseas on that day."),
        ("reply-windows-1258.eml", "Kính gửi Ban Thường trực,\n\nTôi xin vắng mặt buổi hội nghị vì bận họp Ban "
         "Chấp hành Đảng bộ phường.\n\nĐinh Thanh Ngân"),
    ],
)  # fmt: skip
def test_new_text_has_no_quote_and_no_signature(name, text):
    assert new_text(load(name)) == text


def test_nfd_and_legacy_charsets_are_read_as_nfc():
    nfd = new_text(load("reply-nfd.eml"))
    assert unicodedata.is_normalized("NFC", nfd) and "Tôi đồng ý tham dự" in nfd
    message = load("reply-windows-1258.eml")
    assert message.get_content_charset() == "windows-1258"
    assert "vắng mặt" in new_text(message) and "Đinh Thanh Ngân" in str(message["From"])


def test_the_excerpt_is_the_sentence_the_answer_came_from():
    found = classify(load("reply-outlook-delegate.eml"))
    assert found.excerpt == "Tôi xin cử đồng chí Lê Thị Hồng, Phó Chủ tịch UBND Phường 3, dự thay."
    assert classify(load("reply-co-alone.eml")).excerpt == "Có"


def test_a_delegate_who_does_not_introduce_themselves_is_named_by_their_address():
    message = mail(body="Tôi được đồng chí Chủ tịch phân công dự thay. Tôi xin xác nhận sẽ tham dự.")
    found = classify(message)
    assert (found.rsvp, found.delegate_name) == (DELEGATE, "Lê Văn Hải")


def test_an_answer_without_reply_headers_is_still_a_reply():
    message = parse("""
From: Lý Hoàng Thịnh <thinh.lh@phuong11-q5.example>
To: vanphong@mttq-quan5.example
Subject: Hội nghị 28/8
Content-Type: text/plain; charset=utf-8

Tôi xin xác nhận tham dự hội nghị ngày 28/8.
""")
    assert (classify(message).kind, classify(message).rsvp) == (REPLY, ATTENDING)


def test_a_charset_python_does_not_know_is_read_anyway():
    message = parse("""
From: a@phuong1-q5.example
Subject: Re: Giấy mời
In-Reply-To: <x@mttq-quan5.example>
Content-Type: text/plain; charset=x-vni-unknown
Content-Transfer-Encoding: 8bit

Se tham du.
""")
    assert classify(message).rsvp == ATTENDING


# The RSVP rules: every rule of the table on its example, with and without tone marks


@pytest.mark.parametrize("rule", RULES + FIRST_WORDS, ids=lambda rule: rule.phrase)
def test_every_rule_reads_its_example(rule):
    assert rule in FIRST_WORDS or rule.finds(rule.example), "the example must contain the phrase"
    assert read_rsvp(rule.example).rsvp == rule.answer
    assert read_rsvp(ascii_fold(rule.example)).rsvp == rule.answer, "typed without tone marks"


@pytest.mark.parametrize(
    ("text", "answer", "name", "position"),
    [
        # the phrases of the issue
        ("Tôi xin xác nhận tham dự.", ATTENDING, None, None),
        ("Tôi sẽ tham dự.", ATTENDING, None, None),
        ("Tôi sẽ có mặt.", ATTENDING, None, None),
        ("Tôi không tham dự.", DECLINED, None, None),
        ("Tôi không thể tham dự được.", DECLINED, None, None),
        ("Xin vắng.", DECLINED, None, None),
        ("Tôi xin phép vắng mặt.", DECLINED, None, None),
        ("Cử đồng chí Nguyễn Văn B, Phó Chủ tịch, dự thay.", DELEGATE, "Nguyễn Văn B", "Phó Chủ tịch"),
        ("Tôi ủy quyền cho đồng chí Lê Thị Hoa.", DELEGATE, "Lê Thị Hoa", None),
        ("Tôi uỷ quyền cho đồng chí Lê Thị Hoa.", DELEGATE, "Lê Thị Hoa", None),
        ("Sẽ có đồng chí Trần Văn Tư (Phó Chủ tịch UBND phường) dự thay.", DELEGATE, "Trần Văn Tư",
         "Phó Chủ tịch UBND phường"),
        ("I will send Mr. Nguyen Van Binh, Deputy Director, in my place.", DELEGATE, "Nguyen Van Binh",
         "Deputy Director"),
        ("Tôi xin cử đ/c Trần Văn Nam - Phó Bí thư Đảng ủy phường - đi dự thay.", DELEGATE, "Trần Văn Nam",
         "Phó Bí thư Đảng ủy phường"),
        ("Tôi xin cử đồng chí Phó Chủ tịch Nguyễn Thị Mai dự thay.", DELEGATE, "Nguyễn Thị Mai", "Phó Chủ tịch"),
        ("Tôi xin cử đồng chí Phó Chủ tịch dự thay.", DELEGATE, None, "Phó Chủ tịch"),
        # without tone marks, and case
        ("se tham du", ATTENDING, None, None),
        ("khong tham du duoc", DECLINED, None, None),
        ("xin vang", DECLINED, None, None),
        ("TÔI SẼ THAM DỰ.", ATTENDING, None, None),
        ("toi cu dong chi Le Van Hai du thay", DELEGATE, "Le Van Hai", None),
        # negation and declined with a delegate
        ("Tôi sẽ không tham dự.", DECLINED, None, None),
        ("Rất tiếc, tôi không có mặt được.", DECLINED, None, None),
        ("Tôi bận, không dự được. Xin cử đồng chí Bình dự thay.", DELEGATE, "Bình", None),
        ("Hôm đó tôi đi công tác, xin phép vắng mặt. Đồng chí Lê Văn Sơn sẽ có mặt thay tôi.", DELEGATE,
         "Lê Văn Sơn", None),
        ("I will not attend.", DECLINED, None, None),
        ("Unfortunately I am not able to attend.", DECLINED, None, None),
        # the answer the invitation asks for
        ("Có", ATTENDING, None, None),
        ("Có ạ.", ATTENDING, None, None),
        ("Dạ, có.", ATTENDING, None, None),
        ("“Không”", DECLINED, None, None),
        ("Không, tôi bận họp.", DECLINED, None, None),
        ("Kính gửi Ban Thường trực,\nCó.\nNguyễn Văn An", ATTENDING, None, None),
        ("Co", ATTENDING, None, None),
        ("Có mặt.", ATTENDING, None, None),
        ("Vắng ạ.", DECLINED, None, None),
        # texting shorthand
        ("Em ko tham dự được ạ.", DECLINED, None, None),
        ("Em ko biết đường nhưng sẽ tham dự.", ATTENDING, None, None),
        ("Anh Bình sẽ đi thay em.", DELEGATE, "Bình", None),
        ("Tôi sẽ cử Phó Chủ tịch dự thay.", DELEGATE, None, "Phó Chủ tịch"),
        ("Tôi sẽ tham dự cùng đồng chí Lê Văn Bình.", ATTENDING, None, None),
        # never a guess where a person should look
        ("Tôi sẽ tham dự. Tôi cử đồng chí Bình dự thay.", UNCLEAR, None, None),
        ("Có. Tôi không tham dự được.", UNCLEAR, None, None),
        ("Tôi sẽ tham dự, nhưng đồng chí Phó không dự được.", UNCLEAR, None, None),
        ("Tôi sẽ cố gắng tham dự.", UNCLEAR, None, None),
        ("Nếu không có gì thay đổi, tôi sẽ tham dự.", UNCLEAR, None, None),
        ("Có lẽ tôi sẽ tham dự.", UNCLEAR, None, None),
        ("Tôi có thể cử người dự thay không?", UNCLEAR, None, None),
        ("Tôi không chắc sẽ tham dự được.", UNCLEAR, None, None),
        ("Tôi không thể không tham dự.", UNCLEAR, None, None),
        ("Tôi đã nhận được giấy mời.", UNCLEAR, None, None),
        ("Không có gì ạ.", UNCLEAR, None, None),
        ("Cô Lan đã nhận được thư.", UNCLEAR, None, None),
        ("Tôi cứ tưởng hội nghị ngày 29.", UNCLEAR, None, None),
        ("Tôi sẽ dự thảo báo cáo gửi Ban Thường trực.", UNCLEAR, None, None),
        ("I might attend.", UNCLEAR, None, None),
        ("Đồng chí Lê Văn Bình sẽ tham dự.", UNCLEAR, None, None),
        ("Mr. Nguyen Van Binh will attend.", UNCLEAR, None, None),
        ("Đồng chí Chủ tịch sẽ tham dự.", ATTENDING, None, None),
        ("", UNCLEAR, None, None),
        # words that look like a rule and are not
        ("Hội nghị tiếp xúc cử tri tôi sẽ tham dự.", ATTENDING, None, None),
        ("Dù thay đổi lịch, tôi vẫn sẽ tham dự.", ATTENDING, None, None),
    ],
)  # fmt: skip
def test_rsvp(text, answer, name, position):
    found = read_rsvp(text)
    assert (found.rsvp, found.delegate_name, found.delegate_position) == (answer, name, position)


def test_rsvp_keeps_the_deciding_sentence_and_rule():
    found = read_rsvp("Kính gửi Ban Thường trực,\n\nTôi đã nhận được giấy mời. Tôi sẽ tham dự đúng giờ. Cảm ơn.")
    assert (found.excerpt, found.rule) == ("Tôi sẽ tham dự đúng giờ.", "sẽ (đến |tới |đi )?(tham )?dự")
    assert read_rsvp("Tôi sẽ cố gắng, chưa biết được.").excerpt == "Tôi sẽ cố gắng, chưa biết được."


def test_a_wrapped_sentence_is_read_whole():
    text = "Do trùng lịch họp Ban Chấp hành Đảng bộ phường vào sáng thứ Sáu nên tôi không\nthể tham dự được."
    assert read_rsvp(text).rsvp == DECLINED


# Quoted history, signatures and HTML


@pytest.mark.parametrize(
    "quoted",
    [
        "On Fri, Aug 21, 2020 at 8:00 AM Ban Thường trực <vanphong@mttq-quan5.example> wrote:\n> Xin tham dự.",
        "Vào Th 6, 21 thg 8, 2020 lúc 08:00 Ban Thường trực <\nvanphong@mttq-quan5.example> đã viết:\n\n> tham dự",
        "Vào 21/08/2020 08:00, Ban Thường trực đã viết:\n> tham dự",
        "-----Original Message-----\nFrom: Ban\nSent: Friday\nTo: A\nSubject: Giấy mời\n\ntham dự",
        "-----Thư gốc-----\nTham dự",
        "Từ: Ban Thường trực <vanphong@mttq-quan5.example>\nĐã gửi: Thứ Sáu\nĐến: A\nChủ đề: Giấy mời\n\ntham dự",
        "________________________________\nFrom: Ban\nSent: Friday\nTo: A\n\ntham dự",
        "From: Ban Sent: Friday, August 21, 2020 8:00 AM To: A Subject: Giấy mời\ntham dự",
        "---------- Forwarded message ---------\nFrom: Ban\nDate: Fri\n\ntham dự",
        "> Xin Đồng chí vui lòng trả lời: “Có” nếu tham dự",
    ],
)
def test_quoted_history_is_removed(quoted):
    assert quoting.strip_quoted(f"Tôi bận.\n\n{quoted}\n").strip() == "Tôi bận."


def test_an_answer_between_quoted_lines_stays():
    text = "Vào 21/08/2020 08:00, Ban đã viết:\n> Xin trả lời “Có” hoặc “Không”.\nCó.\n> Trân trọng,\n"
    assert quoting.strip_quoted(text).strip() == "Có."


def test_a_memo_header_in_the_answer_is_not_taken_for_a_quote():
    text = "Từ: Văn phòng Đảng ủy Phường 3\nGửi: Ban Thường trực\n\nĐồng chí Bí thư sẽ tham dự."
    assert quoting.strip_quoted(text) == text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Tôi sẽ tham dự.\n\nTrân trọng,\nNguyễn Văn An\nChủ tịch UBND Phường 1", "Tôi sẽ tham dự."),
        ("Tôi sẽ tham dự.\n-- \nNguyễn Văn An", "Tôi sẽ tham dự."),
        ("I will attend.\n\nBest regards,\nDinh Tan Dung", "I will attend."),
        ("Có\n\nGửi từ iPhone của tôi", "Có"),
        ("Có\n\nSent from my iPhone", "Có"),
        ("Trân trọng cảm ơn!\nTôi sẽ tham dự.", "Trân trọng cảm ơn!\nTôi sẽ tham dự."),
        ("Kính gửi Ban Thường trực,\nXin cảm ơn.\nTôi xin vắng mặt.", "Kính gửi Ban Thường trực,\nXin cảm ơn.\n"
         "Tôi xin vắng mặt."),
        ("Trân trọng, tôi xin xác nhận tham dự.", "Trân trọng, tôi xin xác nhận tham dự."),
    ],
)  # fmt: skip
def test_signature_is_removed_but_never_the_answer(text, kept):
    from mailmerge.rsvp import mentions_answer

    assert quoting.strip_signature(text, keep=mentions_answer).strip() == kept


def test_html_is_turned_into_text():
    html = """<html><head><style>p {color: red}</style><title>x</title></head><body>
    <div>Kính gửi&nbsp;Ban Thường trực,</div><div><br></div><div>Tôi <b>sẽ</b> tham&nbsp;dự.</div>
    <div class="gmail_signature">Nguyễn Văn An<br>Chủ tịch</div>
    <script>alert("x")</script>
    <blockquote><p>Xin trả lời “Có”</p><blockquote><p>cũ hơn</p></blockquote></blockquote></body></html>"""
    text = quoting.tidy(quoting.html_to_text(html))
    assert text.split("\n") == [
        "Kính gửi Ban Thường trực,",
        "",
        "Tôi sẽ tham dự.",
        "",
        "> Xin trả lời “Có”",
        "",
        "> > cũ hơn",
    ]
    assert quoting.strip_quoted(text).strip() == "Kính gửi Ban Thường trực,\n\nTôi sẽ tham dự."
