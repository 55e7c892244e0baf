"""What real mail servers expect of a client: a fully qualified EHLO name."""

from __future__ import annotations

import socket

from .campaign_files import set_table
from .followup_fixtures import run


def test_the_ehlo_name_is_never_a_bare_host_name_and_a_strict_relay_accepts_it(send_dir, smtp):
    handler, _server = smtp
    handler.fqdn_helo_only = True
    sent = run("send", "--yes", "--campaign", send_dir)
    assert sent.exit_code == 0, sent.output
    name = handler.ehlo_names[0]
    assert "." in name and name != socket.gethostname()
    fqdn = socket.getfqdn()
    assert name == (fqdn if "." in fqdn and not fqdn.startswith("localhost") else "mttq-quan5.example")


def test_helo_name_in_the_campaign_is_what_the_server_sees(send_dir, smtp):
    handler, server = smtp
    smtp_table = {"host": "127.0.0.1", "port": server.port, "security": "none", "timeout": 2}
    set_table(send_dir, "smtp", smtp_table | {"helo_name": "may01.mttq-quan5.example"})
    assert run("send", "--yes", "--limit", "1", "--campaign", send_dir).exit_code == 0
    assert handler.ehlo_names == ["may01.mttq-quan5.example"] * 2  # the server check, then the send


def test_a_bare_helo_name_is_refused_before_anything_is_sent(send_dir, smtp):
    handler, server = smtp
    set_table(send_dir, "smtp", {"host": "127.0.0.1", "port": server.port, "security": "none", "helo_name": "vm"})
    result = run("send", "--yes", "--campaign", send_dir)
    assert result.exit_code == 1 and "[smtp.helo_name]: use the computer's full domain name" in result.output
    assert handler.received == []
