"""The Mailgun backend over real HTTP, against example.standin's local Mailgun API."""

import re

import pytest
from django.core import mail
from django.test import override_settings

from anymail.backends.mailgun import EmailBackend
from anymail.exceptions import AnymailRequestsAPIError
from example.standin import StandIn

from .messages import message_factory

API_KEY = "standin_api_key"
MAILGUN_ID_RE = re.compile(r"^<\d{14}\.\d+\.[0-9A-F]+@example\.com>$")

# A 1x1 transparent PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def standin():
    with (
        StandIn() as server,
        override_settings(
            EMAIL_BACKEND="anymail.backends.mailgun.EmailBackend",
            ANYMAIL={
                "MAILGUN_API_KEY": API_KEY,
                "MAILGUN_API_URL": server.api_url("mailgun"),
            },
        ),
    ):
        yield server
    assert server.errors == []


make_message = message_factory(
    body="Text body", from_email="Sender <sender@example.com>"
)


def test_send_with_attachments(standin):
    message = make_message(
        to=["Recipient #1 <to1@example.com>", "to2@example.com"],
        tags=["welcome", "ünïcode"],
        metadata={"order": 42},
    )
    cid = message.attach_inline_image(PNG, filename="logo.png")
    message.attach_alternative(f'<img src="cid:{cid}">', "text/html")
    message.attach("Résumé ✓.txt", "¡Hola!", "text/plain")
    message.attach("data.bin", bytes(range(256)), "application/octet-stream")
    assert message.send() == 1

    request = standin.last_request
    assert request.method == "POST"
    assert request.endpoint == "example.com/messages"
    assert request.auth == ("api", API_KEY)
    assert request.header("User-Agent").startswith("django-anymail/15.2-mailgun ")
    assert request.content_type == "multipart/form-data"
    assert request.form() == {
        "from": ["Sender <sender@example.com>"],
        "to": ["Recipient #1 <to1@example.com>", "to2@example.com"],
        "subject": ["Subject"],
        "text": ["Text body"],
        "html": [f'<img src="cid:{cid}">'],
        "o:tag": ["welcome", "ünïcode"],
        "v:order": ["42"],
    }
    assert request.files() == [
        ("inline", cid, "image/png", PNG),
        (
            "attachment",
            "Résumé ✓.txt",
            'text/plain; charset="utf-8"',
            "¡Hola!".encode(),
        ),
        ("attachment", "data.bin", "application/octet-stream", bytes(range(256))),
    ]
    # RFC 7578: raw UTF-8 filename, no RFC 2231 filename*=
    assert 'filename="Résumé ✓.txt"'.encode() in request.body
    assert b"filename*=" not in request.body

    status = message.anymail_status
    assert MAILGUN_ID_RE.match(status.message_id)
    assert status.status == {"queued"}
    assert set(status.recipients) == {"to1@example.com", "to2@example.com"}


def test_send_without_files_is_urlencoded(standin):
    message = make_message(merge_data={"to@example.com": {"name": "Tö"}})
    assert message.send() == 1
    request = standin.last_request
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form()["recipient-variables"] == [
        '{"to@example.com": {"name": "T\\u00f6"}}'
    ]
    assert request.files() == []


def test_send_messages_reuses_one_connection(standin):
    messages = [make_message(to=[f"to{n}@example.com"]) for n in range(3)]
    assert EmailBackend().send_messages(messages) == 3
    assert len(standin.requests) == 3
    assert [request.form()["to"] for request in standin.requests] == [
        ["to0@example.com"],
        ["to1@example.com"],
        ["to2@example.com"],
    ]
    assert len({request.connection_id for request in standin.requests}) == 1
    assert standin.connections_opened == 1
    ids = [message.anymail_status.message_id for message in messages]
    assert len(set(ids)) == 3


def test_unknown_domain(standin):
    message = make_message(esp_extra={"sender_domain": "unknown.example.com"})
    with pytest.raises(AnymailRequestsAPIError) as excinfo:
        message.send()
    assert str(excinfo.value).startswith(
        "Unknown sender domain 'unknown.example.com'.\n"
        "Check the domain is verified with Mailgun, and that the ANYMAIL"
        f" MAILGUN_API_URL setting '{standin.api_url('mailgun')}' is the correct"
        " region."
    )
    assert excinfo.value.status_code == 404


def test_send_mail(standin):
    assert mail.send_mail("Hi", "Body", "from@example.com", ["to@example.com"]) == 1
    assert standin.last_request.form()["subject"] == ["Hi"]


def test_multipart_body_on_the_wire(standin):
    message = make_message()
    message.attach("data.bin", bytes(range(256)) * 64, "application/octet-stream")
    assert message.send() == 1
    request = standin.last_request
    content_type = request.header("Content-Type")
    assert re.fullmatch(r"multipart/form-data; boundary=[0-9a-f]{32}", content_type)
    boundary = content_type.split("=", 1)[1]
    assert request.header("Content-Length") == str(len(request.body))
    assert request.header("Transfer-Encoding") is None
    assert request.body.startswith(f"--{boundary}\r\n".encode())
    assert request.body.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert request.files() == [
        ("attachment", "data.bin", "application/octet-stream", bytes(range(256)) * 64)
    ]


def test_debug_api_requests_with_attachments(standin, capsys):
    with override_settings(
        ANYMAIL={
            "MAILGUN_API_KEY": API_KEY,
            "MAILGUN_API_URL": standin.api_url("mailgun"),
            "DEBUG_API_REQUESTS": True,
        }
    ):
        message = make_message()
        message.attach("Résumé ✓.txt", "¡Hola!", "text/plain")
        message.attach("data.bin", b"\x00\xff\xfe", "application/octet-stream")
        assert message.send() == 1
    output = capsys.readouterr().out
    assert f"POST {standin.api_url('mailgun')}example.com/messages" in output
    assert "Authorization: <redacted>" in output
    assert API_KEY not in output
    assert "Content-Type: multipart/form-data; boundary=" in output
    assert (
        'Content-Disposition: form-data; name="attachment"; filename="Résumé ✓.txt"\n'
        'Content-Type: text/plain; charset="utf-8"\n\n¡Hola!\n'
    ) in output
    assert "\x00\ufffd\ufffd\n" in output  # binary content, undecodable bytes replaced
    assert "HTTP 200 OK" in output
