"""E-mail over TLS with the shared TLS contexts (streams/notify/channels.py, share_smtp_tls_context): messages still
go out over STARTTLS, and a URL that turns certificate checks off never turns them off for another URL."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from safety.delivery.messages import render
from streams.notify.channels import load_apprise_channels
from streams.settings import DeliverySettings
from tests.streams.delivery_helpers import SmtpSink, free_port, make_alert


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Any:
    """A loopback SMTP server that requires STARTTLS, with a self-signed certificate no client trusts."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = SmtpSink()
    server = Controller(sink, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True)
    server.start()
    yield server, sink
    server.stop()


@pytest.mark.asyncio
async def test_starttls_mail_goes_out_and_verify_no_on_one_url_leaves_the_other_checking(
    tmp_path: Path, tls_smtp: Any
) -> None:
    server, sink = tls_smtp
    base = f"mailtos://127.0.0.1:{server.port}?from=sae-alerts@example.org&mode=starttls"
    path = tmp_path / "apprise.yml"
    path.write_text(
        "version: 1\nurls:\n"
        f'  - "{base}&verify=no&to=pi@example.org":\n      - tag: pi\n'
        f'  - "{base}&verify=yes&to=officer@example.org":\n      - tag: safety_officer\n',
        encoding="utf-8",
    )
    channels = {c.target.recipient: c for c in load_apprise_channels(path, DeliverySettings(notify_config=path))}
    message = render(make_alert(), time_zone="Asia/Shanghai")

    assert (await channels["pi"].send(message)).delivered
    assert (await channels["pi"].send(message)).delivered
    refused = await channels["safety_officer"].send(message)  # the self-signed certificate is not trusted
    assert (await channels["pi"].send(message)).delivered

    assert not refused.delivered
    assert len(sink.to("pi@example.org")) == 3 and sink.to("officer@example.org") == []
