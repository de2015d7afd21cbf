"""Resend inbound webhook: the email.received event, and fetching the message."""

import base64
import hashlib
import hmac
import json
import sys
import time
import warnings
from datetime import datetime, timezone
from unittest import mock

import pytest
import requests
from django.test import override_settings
from django.urls import include, path

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInsecureWebhookWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.resend import ResendInboundWebhookView

from .conftest import basic_auth_header, encodebytes_crlf, security_messages

INBOUND_URL = "/anymail/resend/inbound/"

INBOUND_KEY = b"resend inbound test key 01234567"
INBOUND_SECRET = "whsec_" + base64.b64encode(INBOUND_KEY).decode("ascii")
TRACKING_KEY = b"resend tracking test key 0123456"
TRACKING_SECRET = "whsec_" + base64.b64encode(TRACKING_KEY).decode("ascii")

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "custom/inbound/",
        ResendInboundWebhookView.as_view(
            api_key="re_kwarg_key",
            api_url="https://resend.example.net/v9",
            inbound_secret=TRACKING_SECRET,
        ),
    ),
]

pytestmark = pytest.mark.urls(__name__)

API_KEY = "re_test_123456"
SETTINGS = {"RESEND_API_KEY": API_KEY, "RESEND_INBOUND_SECRET": INBOUND_SECRET}
INCORRECT_SIGNATURE = (
    "Resend webhook called with incorrect signature"
    " (check Anymail RESEND_INBOUND_SECRET setting)"
)
EMAIL_ID = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"
RECEIVING_URL = f"https://api.resend.com/emails/receiving/{EMAIL_ID}"
RAW_URL = "https://inbound-cdn.resend.example/raw/4ef9a417.eml?token=abc"
EVENT_TIME = datetime(2024, 2, 22, 23, 41, 12, 126000, tzinfo=timezone.utc)


def svix_headers(body, key=INBOUND_KEY, msg_id="msg_inb_7Yk2"):
    """Django test client kwargs for Svix's headers, signed as Resend would."""
    timestamp = int(time.time())
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    return {
        "HTTP_SVIX_ID": msg_id,
        "HTTP_SVIX_TIMESTAMP": str(timestamp),
        "HTTP_SVIX_SIGNATURE": "v1," + signature.decode(),
    }


def received_event(email_id=EMAIL_ID, **top_level):
    """Resend's email.received webhook: a summary of the message."""
    payload = {
        "type": "email.received",
        "created_at": "2024-02-22T23:41:12.126Z",
        "data": {
            "email_id": email_id,
            "created_at": "2024-02-22T23:41:11.894719+00:00",
            "from": "Renée <renee@sender.example.com>",
            "to": ["inbox@example.org"],
            "bcc": [],
            "cc": ["cc@example.org"],
            "message_id": "<m1@sender.example.com>",
            "subject": "Résumé et photo ✓",
            "attachments": [
                {
                    "id": "att-1",
                    "filename": "résumé.pdf",
                    "content_type": "application/pdf",
                    "content_disposition": "attachment",
                    "content_id": None,
                }
            ],
        },
    }
    payload.update(top_level)
    return payload


def post_inbound(
    client, payload, *, key=INBOUND_KEY, signed=True, url=INBOUND_URL, **extra
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = svix_headers(body, key=key) if signed else {}
    headers.update(extra)
    return client.post(url, body, content_type="application/json", **headers)


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00"
    b"\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


# A message as Resend stores it: CRLF line endings, RFC 2047 headers,
# text + html alternatives, an inline image and an attachment.
RAW_MIME = (
    "Return-Path: <bounces@sender.example.com>\r\n"
    "Received: from mail.sender.example.com (mail.sender.example.com [203.0.113.5])\r\n"
    " by inbound-smtp.resend.example with ESMTPS id abc123\r\n"
    " for <inbox@example.org>; Thu, 22 Feb 2024 23:41:10 +0000\r\n"
    "Date: Thu, 22 Feb 2024 18:41:09 -0500\r\n"
    "From: =?utf-8?q?Ren=C3=A9e_Exp=C3=A9ditrice?= <renee@sender.example.com>\r\n"
    "To: Inbox <inbox@example.org>, =?utf-8?b?Wm/DqyBNw7xsbGVy?= <zoe@example.org>\r\n"
    "Cc: cc@example.org\r\n"
    "Subject: =?utf-8?q?R=C3=A9sum=C3=A9_et_photo_=E2=9C=93?=\r\n"
    "Message-ID: <m1@sender.example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="==mixed=="\r\n'
    "\r\n"
    "--==mixed==\r\n"
    'Content-Type: multipart/related; boundary="==related=="\r\n'
    "\r\n"
    "--==related==\r\n"
    'Content-Type: multipart/alternative; boundary="==alt=="\r\n'
    "\r\n"
    "--==alt==\r\n"
    'Content-Type: text/plain; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Bonjour,\r\n"
    "voici mon r=C3=A9sum=C3=A9.\r\n"
    "--==alt==\r\n"
    'Content-Type: text/html; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    '<p>Bonjour,<br>voici mon r=C3=A9sum=C3=A9.</p><img src=3D"cid:photo@sender">\r\n'
    "--==alt==--\r\n"
    "--==related==\r\n"
    'Content-Type: image/png; name="photo.png"\r\n'
    'Content-Disposition: inline; filename="photo.png"\r\n'
    "Content-ID: <photo@sender>\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n" + encodebytes_crlf(PNG) + "--==related==--\r\n"
    "--==mixed==\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n" + encodebytes_crlf(PDF) + "--==mixed==--\r\n"
).encode("ascii")


def receiving_response(**fields):
    """Resend's GET /emails/receiving/{id} answer."""
    response = {
        "object": "email",
        "id": EMAIL_ID,
        "to": ["inbox@example.org"],
        "from": "Sender <from@example.com>",
        "created_at": "2024-02-22T23:41:11.894719+00:00",
        "subject": "Hi",
        "html": "<p>Hi</p>",
        "text": "Hi",
        "headers": {"Received": ["by a", "from b"]},
        "bcc": [],
        "cc": [],
        "reply_to": ["reply@example.com"],
        "message_id": "<m1@example.com>",
        "attachments": [],
    }
    response.update(fields)
    return response


@pytest.fixture
def resend_settings():
    with override_settings(ANYMAIL=SETTINGS):
        yield


def assert_api_call(call, url=RECEIVING_URL, api_key=API_KEY, timeout=30):
    assert call["method"].upper() == "GET"
    assert call["url"] == url
    assert call["headers"] == {"Authorization": f"Bearer {api_key}"}
    assert call["timeout"] == timeout  # REQUESTS_TIMEOUT (upstream has none)


def assert_unauthenticated_download(call, url, stream, timeout=30):
    assert call["method"].upper() == "GET"
    assert call["url"] == url
    assert "Authorization" not in (call.get("headers") or {})
    assert bool(call.get("stream")) is stream
    assert call["timeout"] == timeout


# -- the raw MIME path --------------------------------------------------------------


@pytest.mark.usefixtures("resend_settings")
class TestRawMessage:
    def test_raw_mime_message(self, webhook_client, inbound_events, requests_mock):
        requests_mock.queue_response(
            200, receiving_response(raw={"download_url": RAW_URL, "expires_at": "x"})
        )
        requests_mock.queue_response(
            200, RAW_MIME, headers={"Content-Type": "message/rfc822"}
        )
        payload = received_event()
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_inbound(webhook_client, payload)
        assert response.status_code == 200
        assert response.content == b""

        assert len(requests_mock.calls) == 2
        assert_api_call(requests_mock.calls[0])
        assert_unauthenticated_download(requests_mock.calls[1], RAW_URL, stream=True)

        call = inbound_events.calls[0]
        assert call["sender"] is ResendInboundWebhookView
        assert call["esp_name"] == "Resend"
        assert call["signal"] is inbound
        event = inbound_events.event
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.event_id == "msg_inb_7Yk2"
        assert event.timestamp == EVENT_TIME
        assert event.esp_event == payload

        message = event.message
        assert isinstance(message, AnymailInboundMessage)
        assert str(message.from_email) == "Renée Expéditrice <renee@sender.example.com>"
        assert message.from_email.addr_spec == "renee@sender.example.com"
        assert [str(a) for a in message.to] == [
            "Inbox <inbox@example.org>",
            "Zoë Müller <zoe@example.org>",
        ]
        assert [a.addr_spec for a in message.cc] == ["cc@example.org"]
        assert message.bcc == []
        assert message.subject == "Résumé et photo ✓"
        assert message.date == datetime(2024, 2, 22, 23, 41, 9, tzinfo=timezone.utc)
        assert message.date.utcoffset().total_seconds() == -5 * 3600
        assert message["Message-ID"] == "<m1@sender.example.com>"
        assert message["Received"].startswith("from mail.sender.example.com")
        # line endings normalized in text and html
        assert message.text == "Bonjour,\nvoici mon résumé."
        assert message.html == (
            '<p>Bonjour,<br>voici mon résumé.</p><img src="cid:photo@sender">'
        )

        [attachment] = message.attachments
        assert attachment.get_filename() == "résumé.pdf"
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content_bytes() == PDF
        assert attachment.as_uploaded_file().read() == PDF

        assert list(message.content_id_map) == ["photo@sender"]
        image = message.content_id_map["photo@sender"]
        assert image.get_content_type() == "image/png"
        assert image.get_filename() == "photo.png"
        assert image.get_content_bytes() == PNG
        assert message.inlines == [image]

        # Resend provides none of these
        assert message.envelope_sender is None
        assert message.envelope_recipient is None
        assert message.spam_detected is None
        assert message.spam_score is None
        assert message.stripped_text is None
        assert message.stripped_html is None
        assert message.defects == []

    def test_raw_message_streamed_in_chunks(
        self, webhook_client, inbound_events, requests_mock
    ):
        requests_mock.queue_response(
            200, receiving_response(raw={"download_url": RAW_URL})
        )
        requests_mock.queue_response(200, RAW_MIME)
        chunk_sizes = []
        original_iter_content = requests.Response.iter_content

        def spy_iter_content(response, *args, **kwargs):
            for chunk in original_iter_content(response, *args, **kwargs):
                chunk_sizes.append(len(chunk))
                yield chunk

        settings = dict(SETTINGS, RESEND_DOWNLOAD_CHUNK_SIZE=1000)
        with (
            override_settings(ANYMAIL=settings),
            mock.patch.object(
                requests.Response,
                "iter_content",
                autospec=True,
                side_effect=spy_iter_content,
            ) as iter_content,
            mock.patch.object(
                AnymailInboundMessage,
                "parse_raw_mime_bytes",
                side_effect=AssertionError("raw MIME must be parsed as it streams"),
            ),
        ):
            response = post_inbound(webhook_client, received_event())
        assert response.status_code == 200
        assert iter_content.call_args == mock.call(mock.ANY, 1000)
        assert sum(chunk_sizes) == len(RAW_MIME)
        assert max(chunk_sizes) == 1000
        assert len(chunk_sizes) == -(-len(RAW_MIME) // 1000)
        assert inbound_events.event.message.subject == "Résumé et photo ✓"

    def test_default_chunk_size(self, webhook_client, inbound_events, requests_mock):
        requests_mock.queue_response(
            200, receiving_response(raw={"download_url": RAW_URL})
        )
        requests_mock.queue_response(200, RAW_MIME)
        with mock.patch.object(
            requests.Response,
            "iter_content",
            autospec=True,
            side_effect=requests.Response.iter_content,
        ) as iter_content:
            post_inbound(webhook_client, received_event())
        assert iter_content.call_args == mock.call(mock.ANY, 65536)
        assert inbound_events.event.message.text == "Bonjour,\nvoici mon résumé."

    def test_chunk_size_is_not_an_as_view_kwarg(self):
        with pytest.raises(TypeError):
            ResendInboundWebhookView.as_view(download_chunk_size=10)

    @pytest.mark.parametrize(
        "raw",
        [
            # truncated in the middle of a part
            RAW_MIME[: len(RAW_MIME) // 2],
            # multipart without its boundary
            b"Subject: x\r\nContent-Type: multipart/mixed\r\n\r\nbody\r\n",
            # wrong charset: latin-1 bytes declared utf-8
            b"Subject: caf\xe9\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"\r\ncaf\xe9\r\n",
            # not MIME at all
            b"\x00\xff\xfe garbage",
            b"",
        ],
        ids=["truncated", "no-boundary", "wrong-charset", "garbage", "empty"],
    )
    def test_malformed_mime_is_not_an_error(
        self, webhook_client, inbound_events, requests_mock, raw
    ):
        requests_mock.queue_response(
            200, receiving_response(raw={"download_url": RAW_URL})
        )
        requests_mock.queue_response(200, raw)
        response = post_inbound(webhook_client, received_event())
        assert response.status_code == 200
        message = inbound_events.event.message
        assert isinstance(message, AnymailInboundMessage)
        # the lenient parser's results are still readable
        message.text, message.html, message.attachments, message.subject  # noqa: B018

    def test_wrong_charset_is_replaced(
        self, webhook_client, inbound_events, requests_mock
    ):
        raw = (
            b"Subject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\xe9\r\n"
        )
        requests_mock.queue_response(
            200, receiving_response(raw={"download_url": RAW_URL})
        )
        requests_mock.queue_response(200, raw)
        post_inbound(webhook_client, received_event())
        assert inbound_events.event.message.text == "caf\ufffd\n"

    def test_raw_download_error(self, webhook_client, inbound_events, requests_mock):
        requests_mock.queue_response(
            200, receiving_response(raw={"download_url": RAW_URL})
        )
        requests_mock.queue_response(403, b"<Error>AccessDenied</Error>")
        with pytest.raises(requests.HTTPError):
            post_inbound(webhook_client, received_event())
        assert inbound_events.calls == []


# -- the parsed-fields path -----------------------------------------------------------


@pytest.mark.usefixtures("resend_settings")
class TestConstructedMessage:
    def test_spec_sample(self, webhook_client, inbound_events, requests_mock):
        payload = {
            "type": "email.received",
            "created_at": "2024-02-22T23:41:12.126Z",
            "data": {
                "email_id": "rcv-001",
                "from": "Sender <from@example.com>",
                "to": ["inbox@example.org"],
                "subject": "Hi",
                "attachments": [],
            },
        }
        requests_mock.set_response(200, receiving_response(id="rcv-001"))
        response = post_inbound(webhook_client, payload)
        assert response.status_code == 200
        [call] = requests_mock.calls
        assert_api_call(call, url="https://api.resend.com/emails/receiving/rcv-001")

        message = inbound_events.event.message
        assert message["From"] == "Sender <from@example.com>"
        assert str(message.from_email) == "Sender <from@example.com>"
        assert [a.addr_spec for a in message.to] == ["inbox@example.org"]
        assert message.get_all("Received") == ["by a", "from b"]
        assert message["Reply-To"] == "reply@example.com"
        assert message["Message-ID"] == "<m1@example.com>"
        assert message.subject == "Hi"
        assert message.text == "Hi"
        assert message.html == "<p>Hi</p>"
        assert message.cc == []
        assert message.bcc == []
        assert "Cc" not in message
        assert message.attachments == []
        assert message.content_id_map == {}
        assert message.date is None
        assert message.envelope_sender is None
        assert message.envelope_recipient is None
        assert message.spam_detected is None
        assert message.spam_score is None
        assert message.stripped_text is None
        assert message.stripped_html is None
        assert inbound_events.event.event_id == "msg_inb_7Yk2"
        assert inbound_events.event.timestamp == EVENT_TIME

    def test_attachments_and_inline_images(
        self, webhook_client, inbound_events, requests_mock
    ):
        details = receiving_response(
            **{
                "from": "=?utf-8?q?Ren=C3=A9e?= <renee@sender.example.com>",
                "to": ["Inbox <inbox@example.org>", "Zoë <zoe@example.org>"],
                "cc": ["cc1@example.org", "Cc Two <cc2@example.org>"],
                "bcc": ["hidden@example.org"],
                "subject": "Résumé ✓",
                "text": "Voici mon résumé.\r\n",
                "html": '<p>Voici</p><img src="cid:img001">',
                "headers": [
                    {"name": "Date", "value": "Thu, 22 Feb 2024 23:41:09 +0000"},
                    {"name": "X-Mailer", "value": "Mailwagen 5 ✓"},
                    {"name": "Received", "value": "by one"},
                    {"name": "Received", "value": "by two"},
                ],
                "attachments": [
                    {
                        "id": "att-1",
                        "filename": "résumé.pdf",
                        "content_type": "application/x-from-entry",
                        "content_id": None,
                        "download_url": "https://cdn.example/att-1",
                    },
                    {
                        "id": "att-2",
                        "filename": "avatar.png",
                        "content_type": "image/png",
                        "content_disposition": "inline",
                        "content_id": "img001",
                        "download_url": "https://cdn.example/att-2",
                    },
                    {
                        "id": "att-3",
                        "filename": "blob",
                        "download_url": "https://cdn.example/att-3",
                    },
                ],
            }
        )
        requests_mock.queue_response(200, details)
        # the download's Content-Type wins over the entry's
        requests_mock.queue_response(
            200, PDF, headers={"Content-Type": "application/pdf"}
        )
        requests_mock.queue_response(200, PNG)
        requests_mock.queue_response(200, b"\x00\x01\x02")
        response = post_inbound(webhook_client, received_event())
        assert response.status_code == 200

        assert len(requests_mock.calls) == 4
        assert_api_call(requests_mock.calls[0])
        for call, n in zip(requests_mock.calls[1:], [1, 2, 3], strict=True):
            assert_unauthenticated_download(
                call, f"https://cdn.example/att-{n}", stream=False
            )

        message = inbound_events.event.message
        assert str(message.from_email) == "Renée <renee@sender.example.com>"
        assert [str(a) for a in message.to] == [
            "Inbox <inbox@example.org>",
            "Zoë <zoe@example.org>",
        ]
        assert [a.addr_spec for a in message.cc] == [
            "cc1@example.org",
            "cc2@example.org",
        ]
        assert [a.addr_spec for a in message.bcc] == ["hidden@example.org"]
        assert message.subject == "Résumé ✓"
        assert message.date == datetime(2024, 2, 22, 23, 41, 9, tzinfo=timezone.utc)
        assert message["X-Mailer"] == "Mailwagen 5 ✓"
        assert message.get_all("Received") == ["by one", "by two"]
        assert message.text == "Voici mon résumé.\n"
        assert message.html == '<p>Voici</p><img src="cid:img001">'

        pdf, blob = message.attachments
        assert pdf.get_filename() == "résumé.pdf"
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_content_bytes() == PDF
        assert blob.get_filename() == "blob"
        assert blob.get_content_type() == "application/octet-stream"
        assert blob.get_content_bytes() == b"\x00\x01\x02"

        assert list(message.content_id_map) == ["img001"]
        image = message.content_id_map["img001"]
        assert image.get_content_type() == "image/png"  # from the entry
        assert image.get_filename() == "avatar.png"
        assert image.get_content_bytes() == PNG
        assert image.is_inline()

        assert message.envelope_sender is None
        assert message.envelope_recipient is None
        assert message.spam_detected is None
        assert message.spam_score is None
        assert message.stripped_text is None
        assert message.stripped_html is None

    def test_null_bodies_are_omitted(
        self, webhook_client, inbound_events, requests_mock
    ):
        requests_mock.set_response(
            200, receiving_response(text=None, html="<p>only</p>")
        )
        post_inbound(webhook_client, received_event())
        message = inbound_events.event.message
        assert message.text is None
        assert message.html == "<p>only</p>"

    def test_headers_dont_duplicate_fields(
        self, webhook_client, inbound_events, requests_mock
    ):
        # Resend's headers object may repeat what its own fields say
        details = receiving_response(
            headers={
                "from": "Sender <from@example.com>",
                "to": "inbox@example.org",
                "subject": "Hi",
                "mime-version": "1.0",
                "content-type": "multipart/alternative; boundary=x",
                "reply-to": "header-reply@example.com",
                "message-id": "<header-id@example.com>",
                "x-spam-flag": "NO",
            }
        )
        requests_mock.set_response(200, details)
        post_inbound(webhook_client, received_event())
        message = inbound_events.event.message
        assert message.get_all("From") == ["Sender <from@example.com>"]
        assert message.get_all("To") == ["inbox@example.org"]
        assert message.get_all("Subject") == ["Hi"]
        assert message.get_all("MIME-Version") == ["1.0"]
        assert message.get_content_type() == "multipart/mixed"
        # existing Reply-To and Message-ID headers aren't replaced
        assert message.get_all("Reply-To") == ["header-reply@example.com"]
        assert message.get_all("Message-ID") == ["<header-id@example.com>"]
        assert message["X-Spam-Flag"] == "NO"

    def test_unsafe_header_values(self, webhook_client, inbound_events, requests_mock):
        details = receiving_response(
            subject="Line\r\nBreak",
            headers={
                "X-Injected": "a\r\nBcc: victim@example.com",
                "Bad Name": "dropped",
                "X-Colon:": "dropped",
                "X-Null": None,
                "X-Number": 42,
            },
            text="lone \ud800 surrogate",
        )
        requests_mock.set_response(200, details)
        response = post_inbound(webhook_client, received_event())
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.subject == "Line Break"
        assert message["X-Injected"] == "a Bcc: victim@example.com"
        assert "Bcc" not in message
        assert "Bad Name" not in message
        assert "X-Null" not in message
        assert message["X-Number"] == "42"
        assert message.text == "lone ? surrogate"

    def test_minimal_details(self, webhook_client, inbound_events, requests_mock):
        requests_mock.set_response(200, {"id": EMAIL_ID})
        response = post_inbound(webhook_client, received_event())
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.from_email is None
        assert message.to == []
        assert message.subject is None
        assert message.text is None
        assert message.html is None
        assert "Reply-To" not in message
        assert "Message-ID" not in message

    def test_attachment_download_error(
        self, webhook_client, inbound_events, requests_mock
    ):
        details = receiving_response(
            attachments=[{"filename": "a.pdf", "download_url": "https://cdn.example/a"}]
        )
        requests_mock.queue_response(200, details)
        requests_mock.queue_response(404, b"gone")
        with pytest.raises(requests.HTTPError):
            post_inbound(webhook_client, received_event())
        assert inbound_events.calls == []


@pytest.mark.usefixtures("resend_settings")
class TestFetching:
    @pytest.mark.parametrize("email_id", [None, ""])
    def test_no_email_id(self, webhook_client, inbound_events, requests_mock, email_id):
        payload = received_event(email_id=email_id)
        response = post_inbound(webhook_client, payload)
        assert response.status_code == 200
        assert requests_mock.calls == []
        event = inbound_events.event
        assert event.message is None
        assert event.event_type == "inbound"
        assert event.event_id == "msg_inb_7Yk2"
        assert event.timestamp == EVENT_TIME
        assert event.esp_event == payload

    def test_no_data(self, webhook_client, inbound_events, requests_mock):
        post_inbound(webhook_client, {"type": "email.received"})
        assert inbound_events.event.message is None
        assert inbound_events.event.timestamp is None
        assert requests_mock.calls == []

    def test_api_error(self, webhook_client, inbound_events, requests_mock):
        requests_mock.set_response(404, {"statusCode": 404, "name": "not_found"})
        with pytest.raises(requests.HTTPError):
            post_inbound(webhook_client, received_event())
        assert inbound_events.calls == []

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"[]",
            json.dumps(receiving_response(attachments={"a": 1})).encode(),
            json.dumps(receiving_response(attachments=["x"])).encode(),
            json.dumps(
                receiving_response(attachments=[{"filename": "no-url.pdf"}])
            ).encode(),
            json.dumps(receiving_response(headers="Received: x")).encode(),
        ],
        ids=[
            "not-json",
            "array",
            "attachments-object",
            "attachment-string",
            "attachment-no-url",
            "headers-string",
        ],
    )
    def test_unexpected_api_response(
        self, webhook_client, inbound_events, requests_mock, body
    ):
        # A server error (so Resend retries), not a 400 "malformed webhook"
        requests_mock.set_response(200, body)
        with pytest.raises(AnymailAPIError, match="Couldn't read received email"):
            post_inbound(webhook_client, received_event())
        assert inbound_events.calls == []

    def test_raw_download_url_not_a_string(
        self, webhook_client, inbound_events, requests_mock
    ):
        requests_mock.set_response(200, receiving_response(raw={"download_url": 42}))
        with pytest.raises(AnymailAPIError, match="Couldn't read received email"):
            post_inbound(webhook_client, received_event())
        assert len(requests_mock.calls) == 1
        assert inbound_events.calls == []

    def test_invalid_url_is_not_a_malformed_webhook(
        self, webhook_client, inbound_events, requests_mock
    ):
        # requests' InvalidURL is a ValueError; it mustn't become a 400
        # "malformed payload" answer
        requests_mock.set_exception(requests.exceptions.InvalidURL("bad URL"))
        with pytest.raises(AnymailAPIError) as excinfo:
            post_inbound(webhook_client, received_event())
        assert str(excinfo.value).startswith(
            f"Couldn't fetch received email '{EMAIL_ID}'"
        )
        assert isinstance(excinfo.value.__cause__, requests.exceptions.InvalidURL)
        assert inbound_events.calls == []

    def test_email_id_is_quoted_in_url(self, webhook_client, requests_mock):
        requests_mock.set_response(200, receiving_response())
        post_inbound(webhook_client, received_event(email_id="../domains?x=1"))
        assert requests_mock.calls[0]["url"] == (
            "https://api.resend.com/emails/receiving/..%2Fdomains%3Fx%3D1"
        )

    def test_api_url_setting(self, webhook_client, requests_mock):
        requests_mock.set_response(200, receiving_response())
        settings = dict(SETTINGS, RESEND_API_URL="https://proxy.example.com/resend")
        with override_settings(ANYMAIL=settings):
            post_inbound(webhook_client, received_event())
        assert_api_call(
            requests_mock.calls[0],
            url=f"https://proxy.example.com/resend/emails/receiving/{EMAIL_ID}",
        )


# -- misdirected and malformed posts ------------------------------------------------


@pytest.mark.usefixtures("resend_settings")
class TestMisdirected:
    @pytest.mark.parametrize(
        "resend_type",
        ["email.sent", "email.delivered", "email.bounced", "contact.created"],
    )
    def test_tracking_event_to_inbound_url(
        self, webhook_client, inbound_events, requests_mock, resend_type
    ):
        payload = received_event(type=resend_type)
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_inbound(webhook_client, payload)
        assert str(excinfo.value) == (
            f"You seem to have set Resend's *{resend_type}* webhook"
            " to Anymail's Resend *inbound* webhook URL."
        )
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    def test_missing_type(self, webhook_client, inbound_events, requests_mock):
        payload = received_event()
        del payload["type"]
        with pytest.raises(
            AnymailConfigurationError,
            match=r"set Resend's \*tracking\* webhook to Anymail's Resend \*inbound\*",
        ):
            post_inbound(webhook_client, payload)
        assert inbound_events.calls == []


@pytest.mark.usefixtures("resend_settings")
class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b'{"type": "email.received"',
            b'[{"type": "email.received"}]',
            b'"email.received"',
            b'{"type": "email.received", "data": "x"}',
            b'{"type": "email.received", "data": {"email_id": 42}}',
            b'{"type": "email.received", "data": {"email_id": ["a"]}}',
            b"\xff\xfe",
        ],
        ids=[
            "empty",
            "not-json",
            "truncated",
            "array",
            "string",
            "data-string",
            "email-id-number",
            "email-id-list",
            "not-utf8",
        ],
    )
    def test_malformed_body(self, webhook_client, inbound_events, requests_mock, body):
        with override_settings(
            ANYMAIL={"RESEND_API_KEY": API_KEY, "WEBHOOK_SECRET": "u:p"}
        ):
            response = webhook_client.post(
                INBOUND_URL,
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=basic_auth_header("u:p"),
            )
        assert response.status_code == 400
        assert response.content == b"Malformed Resend webhook payload"
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    def test_form_post(self, webhook_client, inbound_events, requests_mock, quiet):
        with override_settings(ANYMAIL={"RESEND_API_KEY": API_KEY}):
            response = webhook_client.post(INBOUND_URL, {"type": "email.received"})
        assert response.status_code == 400
        assert inbound_events.calls == []


# -- authentication and settings ------------------------------------------------------


@pytest.mark.usefixtures("resend_settings")
class TestInboundSignature:
    def _assert_rejected(self, response, inbound_events, requests_mock, security_log):
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert requests_mock.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_missing_signature(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        response = post_inbound(webhook_client, received_event(), signed=False)
        self._assert_rejected(response, inbound_events, requests_mock, security_log)

    def test_tracking_secret_is_not_inbound_secret(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        settings = dict(SETTINGS, RESEND_SIGNING_SECRET=TRACKING_SECRET)
        with override_settings(ANYMAIL=settings):
            response = post_inbound(webhook_client, received_event(), key=TRACKING_KEY)
        self._assert_rejected(response, inbound_events, requests_mock, security_log)

    def test_tampered_body(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        body = json.dumps(received_event()).encode()
        headers = svix_headers(body)
        tampered = body.replace(EMAIL_ID.encode(), b"someone-elses-email")
        response = webhook_client.post(
            INBOUND_URL, tampered, content_type="application/json", **headers
        )
        self._assert_rejected(response, inbound_events, requests_mock, security_log)

    def test_as_view_kwargs(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        # /custom/inbound/ sets api_key, api_url and inbound_secret in as_view()
        requests_mock.set_response(200, receiving_response())
        good = post_inbound(
            webhook_client, received_event(), key=TRACKING_KEY, url="/custom/inbound/"
        )
        bad = post_inbound(webhook_client, received_event(), url="/custom/inbound/")
        assert good.status_code == 200
        assert bad.status_code == 400
        assert len(inbound_events.calls) == 1
        [call] = requests_mock.calls
        assert_api_call(
            call,
            url=f"https://resend.example.net/v9/emails/receiving/{EMAIL_ID}",
            api_key="re_kwarg_key",
        )
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_instance_attributes(self):
        view = ResendInboundWebhookView.as_view(inbound_secret=TRACKING_SECRET)
        instance = view.view_class(**view.view_initkwargs)
        assert instance.inbound_secret == TRACKING_SECRET
        assert instance.api_key == API_KEY
        assert instance.api_url == "https://api.resend.com/"
        assert instance.download_chunk_size == 65536

    def test_svix_missing(self, webhook_client, inbound_events):
        with (
            mock.patch.dict(sys.modules, {"svix": None, "svix.webhooks": None}),
            pytest.raises(
                AnymailImproperlyInstalled, match="The svix package isn't installed"
            ),
        ):
            post_inbound(webhook_client, received_event())
        assert inbound_events.calls == []


class TestInboundAuthAndSettings:
    def test_basic_auth(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        requests_mock.set_response(200, receiving_response())
        settings = {"RESEND_API_KEY": API_KEY, "WEBHOOK_SECRET": "user:pass"}
        with override_settings(ANYMAIL=settings), warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            good = post_inbound(
                webhook_client,
                received_event(),
                signed=False,
                HTTP_AUTHORIZATION=basic_auth_header("user:pass"),
            )
            wrong = post_inbound(
                webhook_client,
                received_event(),
                signed=False,
                HTTP_AUTHORIZATION=basic_auth_header("user:nope"),
            )
            missing = post_inbound(webhook_client, received_event(), signed=False)
        assert [good.status_code, wrong.status_code, missing.status_code] == [
            200,
            400,
            400,
        ]
        assert len(inbound_events.calls) == 1
        assert len(requests_mock.calls) == 1
        assert (
            security_messages(security_log)
            == ["Missing or invalid basic auth in Anymail Resend webhook"] * 2
        )

    def test_basic_auth_and_signature(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        requests_mock.set_response(200, receiving_response())
        settings = dict(SETTINGS, WEBHOOK_SECRET="user:pass")
        auth = basic_auth_header("user:pass")
        with override_settings(ANYMAIL=settings):
            both = post_inbound(
                webhook_client, received_event(), HTTP_AUTHORIZATION=auth
            )
            no_sig = post_inbound(
                webhook_client, received_event(), signed=False, HTTP_AUTHORIZATION=auth
            )
            no_auth = post_inbound(webhook_client, received_event())
        assert [both.status_code, no_sig.status_code, no_auth.status_code] == [
            200,
            400,
            400,
        ]
        assert len(inbound_events.calls) == 1

    def test_warns_without_inbound_secret(
        self, webhook_client, inbound_events, requests_mock
    ):
        requests_mock.set_response(200, receiving_response())
        # the tracking secret doesn't count
        settings = {"RESEND_API_KEY": API_KEY, "RESEND_SIGNING_SECRET": TRACKING_SECRET}
        with (
            override_settings(ANYMAIL=settings),
            pytest.warns(AnymailInsecureWebhookWarning, match="webhooks are insecure"),
        ):
            response = post_inbound(webhook_client, received_event(), signed=False)
        assert response.status_code == 200
        assert inbound_events.event.message.subject == "Hi"

    def test_no_warning_with_inbound_secret(self):
        with override_settings(ANYMAIL=SETTINGS), warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            ResendInboundWebhookView()

    def test_api_key_required(self, webhook_client, inbound_events):
        with (
            override_settings(ANYMAIL={"RESEND_INBOUND_SECRET": INBOUND_SECRET}),
            pytest.raises(AnymailConfigurationError) as excinfo,
        ):
            post_inbound(webhook_client, received_event())
        assert str(excinfo.value) == (
            "You must set ANYMAIL = {'RESEND_API_KEY': ...} or ANYMAIL_RESEND_API_KEY"
            " or RESEND_API_KEY in your Django settings"
        )
        assert inbound_events.calls == []

    def test_api_key_reported_first(self):
        # missing API key + svix missing + no WEBHOOK_SECRET: the API key error
        # comes first, with no insecure-webhook warning before it
        with (
            override_settings(ANYMAIL={"RESEND_INBOUND_SECRET": INBOUND_SECRET}),
            mock.patch.dict(sys.modules, {"svix": None, "svix.webhooks": None}),
            warnings.catch_warnings(),
            pytest.raises(AnymailConfigurationError, match="RESEND_API_KEY") as excinfo,
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            ResendInboundWebhookView()
        assert not isinstance(excinfo.value, AnymailImproperlyInstalled)

    def test_bare_and_root_settings(self, webhook_client, requests_mock, quiet):
        requests_mock.set_response(200, receiving_response())
        with override_settings(
            ANYMAIL=None,
            RESEND_API_KEY="re_bare",
            ANYMAIL_RESEND_API_URL="https://root.example.com/",
            ANYMAIL_RESEND_DOWNLOAD_CHUNK_SIZE=123,
        ):
            view = ResendInboundWebhookView()
            post_inbound(webhook_client, received_event(), signed=False)
        assert view.download_chunk_size == 123
        assert_api_call(
            requests_mock.calls[0],
            url=f"https://root.example.com/emails/receiving/{EMAIL_ID}",
            api_key="re_bare",
        )

    def test_head(self, webhook_client, inbound_events, requests_mock, security_log):
        with override_settings(ANYMAIL=dict(SETTINGS, WEBHOOK_SECRET="u:p")):
            response = webhook_client.head(INBOUND_URL)
        assert response.status_code == 200
        assert response.content == b""
        assert inbound_events.calls == []
        assert requests_mock.calls == []
        assert security_messages(security_log) == []

    def test_url_name(self):
        from django.urls import reverse

        assert reverse("anymail:resend_inbound_webhook") == INBOUND_URL
