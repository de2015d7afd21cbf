"""Mailtrap inbound webhook: fetching and streaming the message, signatures."""

import hashlib
import hmac
import json
import time
import warnings
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
import requests
from django.test import override_settings
from django.urls import include, path, reverse

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.mailtrap import MailtrapInboundWebhookView, MailtrapWebhookView

from .conftest import basic_auth_header, encodebytes_crlf, security_messages

INBOUND_URL = "/anymail/mailtrap/inbound/"
CUSTOM_URL = "/custom/mailtrap/inbound/"

API_TOKEN = "mt-api-token-0123456789abcdef"
INBOUND_SECRET = "5d2c1b0a9f8e7d6c5b4a39281706f5e4"
TRACKING_SECRET = "3c1f0e9d7a2b4c58a6d1e0f2b3c4d5e6"
KWARG_SECRET = "as-view-inbound-secret"

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "custom/mailtrap/inbound/",
        MailtrapInboundWebhookView.as_view(
            api_token="kwarg-token",
            api_url="https://mailtrap.example.net/v9",
            inbound_secret=KWARG_SECRET,
        ),
    ),
]

pytestmark = pytest.mark.urls(__name__)

SETTINGS = {"MAILTRAP_API_TOKEN": API_TOKEN, "MAILTRAP_INBOUND_SECRET": INBOUND_SECRET}
INCORRECT_SIGNATURE = (
    "Mailtrap webhook called with incorrect signature"
    " (check Anymail MAILTRAP_INBOUND_SECRET setting)"
)
NO_SIGNATURE = "Mailtrap webhook called without signature"
BAD_BASIC_AUTH = "Missing or invalid basic auth in Anymail Mailtrap webhook"
MISSING_TOKEN = (
    "You must set ANYMAIL = {'MAILTRAP_API_TOKEN': ...} or"
    " ANYMAIL_MAILTRAP_API_TOKEN or MAILTRAP_API_TOKEN in your Django settings"
)

INBOX_ID = 4242
MESSAGE_ID = "1767225599000123"
DETAILS_URL = (
    f"https://mailtrap.io/api/inbound/inboxes/{INBOX_ID}/messages/{MESSAGE_ID}"
)
RAW_URL = "https://files.example.net/raw/abc.eml?sig=xyz"
EVENT_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)


def sign(body, secret=INBOUND_SECRET):
    """Mailtrap-Signature: lowercase hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_inbound(client, payload, *, secret=INBOUND_SECRET, url=INBOUND_URL, **kw):
    """POST payload (a dict, or raw bytes) signed with `secret` (None: unsigned)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if secret is not None:
        kw["HTTP_MAILTRAP_SIGNATURE"] = sign(body, secret)
    return client.post(url, body, content_type="application/json", **kw)


def received_event(**fields):
    """One inbound.message_received event, as Mailtrap posts it."""
    esp_event = {
        "event": "inbound.message_received",
        "event_id": "evt-77",
        "timestamp": 1767225600000,
        "inbox_id": INBOX_ID,
        "message_id": MESSAGE_ID,
        "from": "sender@example.org",
    }
    esp_event.update(fields)
    return esp_event


def message_details(raw_message_url=RAW_URL, **fields):
    """Mailtrap's inbound API answer for a message."""
    details = {
        "id": MESSAGE_ID,
        "inbox_id": INBOX_ID,
        "subject": "Help",
        "raw_message_url": raw_message_url,
        "raw_message_expires_at": "2026-01-01T01:00:00.000Z",
    }
    details.update(fields)
    return details


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00"
    b"\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


# A message as Mailtrap stores it: CRLF line endings, RFC 2047 headers, text
# and html alternatives, an inline image and an attachment.
RAW_MIME = (
    "Return-Path: <bounces+x@sender.example.org>\r\n"
    "Received: from mail.sender.example.org (mail.sender.example.org"
    " [203.0.113.5])\r\n"
    "\tby inbound.mailtrap.example with ESMTPS id 4f2a\r\n"
    "\tfor <help@inbound.example.com>; Wed, 31 Dec 2025 23:59:59 +0000\r\n"
    "Date: Wed, 31 Dec 2025 18:59:58 -0500\r\n"
    "From: =?utf-8?q?Ren=C3=A9e_Exp=C3=A9ditrice?= <renee@sender.example.org>\r\n"
    "To: Help Desk <help@inbound.example.com>,\r\n"
    " =?utf-8?b?Wm/DqyBNw7xsbGVy?= <zoe@inbound.example.com>\r\n"
    "Cc: cc@example.org\r\n"
    "Subject: =?utf-8?q?R=C3=A9sum=C3=A9_et_photo_=E2=9C=93?=\r\n"
    "Message-ID: <m1@sender.example.org>\r\n"
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
    "Voici mon r=C3=A9sum=C3=A9 =E2=9C=93\r\n"
    "\r\n"
    "> quoted earlier reply\r\n"
    "--==alt==\r\n"
    'Content-Type: text/html; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    '<p>Voici mon résumé ✓</p><img src="cid:logo@sender.example.org">\r\n'
    "--==alt==--\r\n"
    "\r\n"
    "--==related==\r\n"
    'Content-Type: image/png; name="logo.png"\r\n'
    'Content-Disposition: inline; filename="logo.png"\r\n'
    "Content-ID: <logo@sender.example.org>\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n" + encodebytes_crlf(PNG) + "--==related==--\r\n"
    "\r\n"
    "--==mixed==\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n" + encodebytes_crlf(PDF) + "--==mixed==--\r\n"
).encode("utf-8")


@pytest.fixture
def signed_settings():
    with override_settings(ANYMAIL=SETTINGS):
        yield


def queue_message(requests_mock, raw=RAW_MIME, details=None):
    """Queue Mailtrap's API answer, then the raw download, for one message."""
    requests_mock.queue_response(200, message_details() if details is None else details)
    requests_mock.queue_response(200, raw, headers={"Content-Type": "message/rfc822"})


@pytest.mark.usefixtures("signed_settings")
class TestInboundMessage:
    def test_spec_example(self, webhook_client, inbound_events, requests_mock):
        details = message_details()
        raw = (
            b"From: Sender <sender@example.org>\r\nTo: help@inbound.example.com\r\n"
            b"Subject: Help\r\n\r\nHello\r\n"
        )
        queue_message(requests_mock, raw=raw, details=details)
        response = post_inbound(webhook_client, {"events": [received_event()]})
        assert response.status_code == 200
        assert response.content == b""

        event = inbound_events.event
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.event_id == "4242/1767225599000123"
        assert event.timestamp == EVENT_TIME
        assert event.esp_event == details
        assert event.esp_event["raw_message_url"] == RAW_URL
        message = event.message
        assert isinstance(message, AnymailInboundMessage)
        assert message["Subject"] == "Help"
        assert message.text == "Hello\n"

        call = inbound_events.calls[0]
        assert call["sender"] is MailtrapInboundWebhookView
        assert call["esp_name"] == "Mailtrap"
        assert call["signal"] is inbound

        # the API call, then the streamed download (no auth on the presigned URL)
        api_call, download = requests_mock.calls
        assert api_call["method"].upper() == "GET"
        assert api_call["url"] == DETAILS_URL
        assert api_call["headers"] == {"Authorization": f"Bearer {API_TOKEN}"}
        assert not api_call.get("stream")
        assert api_call["timeout"] == 30  # (REQUESTS_TIMEOUT; upstream has none)
        assert download["method"].upper() == "GET"
        assert download["url"] == RAW_URL
        assert download["stream"] is True
        assert download["timeout"] == 30
        assert not download.get("headers")
        assert "auth" not in download

    def test_full_message(self, webhook_client, inbound_events, requests_mock):
        queue_message(requests_mock)
        post_inbound(webhook_client, {"events": [received_event()]})
        message = inbound_events.event.message

        assert str(message.from_email) == "Renée Expéditrice <renee@sender.example.org>"
        assert message.from_email.display_name == "Renée Expéditrice"
        assert message.from_email.addr_spec == "renee@sender.example.org"
        assert [str(addr) for addr in message.to] == [
            "Help Desk <help@inbound.example.com>",
            "Zoë Müller <zoe@inbound.example.com>",
        ]
        assert [addr.addr_spec for addr in message.cc] == ["cc@example.org"]
        assert message.bcc == []
        assert message.subject == "Résumé et photo ✓"
        assert message.date == datetime(
            2025, 12, 31, 18, 59, 58, tzinfo=timezone(timedelta(hours=-5))
        )
        assert message["Message-ID"] == "<m1@sender.example.org>"
        assert message.get_all("Received")[0].startswith("from mail.sender")
        # text is LF-normalized (the CRLF before a boundary belongs to it)
        assert message.text == "Voici mon résumé ✓\n\n> quoted earlier reply"
        assert message.html == (
            '<p>Voici mon résumé ✓</p><img src="cid:logo@sender.example.org">'
        )
        text_part = next(
            p for p in message.walk() if p.get_content_type() == "text/plain"
        )
        assert b"\r\n" in text_part.get_content_bytes()  # payload keeps CRLF

        (attachment,) = message.attachments
        assert attachment.get_filename() == "résumé.pdf"
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content_bytes() == PDF
        assert message.content_id_map.keys() == {"logo@sender.example.org"}
        logo = message.content_id_map["logo@sender.example.org"]
        assert logo.get_content_type() == "image/png"
        assert logo.get_filename() == "logo.png"
        assert logo.get_content_bytes() == PNG
        assert message.inlines == [logo]
        assert message.defects == []

        # Mailtrap provides none of these
        assert message.envelope_sender is None
        assert message.envelope_recipient is None
        assert message.spam_detected is None
        assert message.spam_score is None
        assert message.stripped_text is None
        assert message.stripped_html is None

    def test_same_as_parsing_the_whole_message(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        post_inbound(webhook_client, {"events": [received_event()]})
        message = inbound_events.event.message
        assert message.as_bytes() == (
            AnymailInboundMessage.parse_raw_mime_bytes(RAW_MIME).as_bytes()
        )

    def test_streamed_in_chunks(self, webhook_client, inbound_events, requests_mock):
        chunks = []
        real_parse = AnymailInboundMessage.parse_raw_mime_chunks.__func__

        def recording_parse(cls, pieces):
            def record():
                for piece in pieces:
                    chunks.append(piece)
                    yield piece

            return real_parse(cls, record())

        queue_message(requests_mock)
        with (
            override_settings(
                ANYMAIL={**SETTINGS, "MAILTRAP_DOWNLOAD_CHUNK_SIZE": 100}
            ),
            mock.patch.object(
                AnymailInboundMessage,
                "parse_raw_mime_chunks",
                classmethod(recording_parse),
            ),
        ):
            post_inbound(webhook_client, {"events": [received_event()]})
        assert len(chunks) == -(-len(RAW_MIME) // 100)
        assert all(len(chunk) <= 100 for chunk in chunks)
        assert b"".join(chunks) == RAW_MIME
        assert inbound_events.event.message.subject == "Résumé et photo ✓"

    def test_requests_timeout_setting(self, webhook_client, requests_mock):
        queue_message(requests_mock)
        with override_settings(ANYMAIL={**SETTINGS, "REQUESTS_TIMEOUT": 4.5}):
            post_inbound(webhook_client, {"events": [received_event()]})
        assert [call["timeout"] for call in requests_mock.calls] == [4.5, 4.5]

    @pytest.mark.parametrize(
        "anymail_settings, expected",
        [({}, 65536), ({"MAILTRAP_DOWNLOAD_CHUNK_SIZE": 4096}, 4096)],
    )
    def test_chunk_size(
        self, webhook_client, requests_mock, inbound_events, anymail_settings, expected
    ):
        queue_message(requests_mock)
        real_iter_content = requests.Response.iter_content
        with (
            override_settings(ANYMAIL={**SETTINGS, **anymail_settings}),
            mock.patch.object(
                requests.Response,
                "iter_content",
                autospec=True,
                side_effect=real_iter_content,
            ) as iter_content,
        ):
            post_inbound(webhook_client, {"events": [received_event()]})
        iter_content.assert_called_once_with(mock.ANY, chunk_size=expected)
        assert inbound_events.event.message.subject == "Résumé et photo ✓"

    def test_root_level_chunk_size(self, webhook_client, requests_mock, inbound_events):
        queue_message(requests_mock)
        with (
            override_settings(ANYMAIL_MAILTRAP_DOWNLOAD_CHUNK_SIZE=1024),
            mock.patch.object(
                requests.Response,
                "iter_content",
                autospec=True,
                side_effect=requests.Response.iter_content,
            ) as iter_content,
        ):
            post_inbound(webhook_client, {"events": [received_event()]})
        iter_content.assert_called_once_with(mock.ANY, chunk_size=1024)

    def test_chunk_size_is_not_an_as_view_kwarg(self):
        with pytest.raises(TypeError, match="download_chunk_size"):
            MailtrapInboundWebhookView.as_view(download_chunk_size=10)

    @pytest.mark.parametrize("chunk_size", [0, -5, "64k", 1.5, True])
    def test_invalid_chunk_size(
        self, webhook_client, inbound_events, requests_mock, chunk_size
    ):
        queue_message(requests_mock)
        anymail_settings = {**SETTINGS, "MAILTRAP_DOWNLOAD_CHUNK_SIZE": chunk_size}
        with (
            override_settings(ANYMAIL=anymail_settings),
            pytest.raises(AnymailConfigurationError, match="DOWNLOAD_CHUNK_SIZE"),
        ):
            post_inbound(webhook_client, {"events": [received_event()]})
        assert inbound_events.calls == []

    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param(b"", id="empty"),
            pytest.param(b"\x00\xff\xfe garbage \r\n\r\n\x80", id="garbage"),
            pytest.param(
                b"Subject: cut short\r\nContent-Type: multipart/mixed;"
                b' boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\npart',
                id="truncated multipart",
            ),
            pytest.param(
                b"Subject: no boundary\r\nContent-Type: multipart/mixed\r\n\r\nbody",
                id="no boundary",
            ),
            pytest.param(
                b"From: not an address <\r\nSubject: =?utf-8?q?bad_=88?=\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n!!not base64!!",
                id="bad headers and base64",
            ),
        ],
    )
    def test_malformed_mime_is_not_an_error(
        self, webhook_client, inbound_events, requests_mock, raw
    ):
        queue_message(requests_mock, raw=raw)
        response = post_inbound(webhook_client, {"events": [received_event()]})
        assert response.status_code == 200
        assert isinstance(inbound_events.event.message, AnymailInboundMessage)

    def test_truncated_multipart_keeps_parts(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock, raw=RAW_MIME[: len(RAW_MIME) * 2 // 3])
        assert (
            post_inbound(webhook_client, {"events": [received_event()]}).status_code
            == 200
        )
        message = inbound_events.event.message
        assert message.subject == "Résumé et photo ✓"
        assert message.text == "Voici mon résumé ✓\n\n> quoted earlier reply"
        assert message.attachments == []  # cut off before the attachment
        assert message.defects  # recorded, not raised

    def test_wrong_charset_is_replaced(
        self, webhook_client, inbound_events, requests_mock
    ):
        raw = (
            b"Subject: charset\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 cr\xe8me\r\n"
        )
        queue_message(requests_mock, raw=raw)
        assert (
            post_inbound(webhook_client, {"events": [received_event()]}).status_code
            == 200
        )
        assert inbound_events.event.message.text == "Caf\ufffd cr\ufffdme\n"

    def test_8bit_latin1(self, webhook_client, inbound_events, requests_mock):
        raw = (
            b"Subject: =?iso-8859-1?q?Caf=E9?=\r\n"
            b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 cr\xe8me\r\n"
        )
        queue_message(requests_mock, raw=raw)
        post_inbound(webhook_client, {"events": [received_event()]})
        message = inbound_events.event.message
        assert message.subject == "Café"
        assert message.text == "Café crème\n"


@pytest.mark.usefixtures("signed_settings")
class TestEvents:
    def test_alternate_event_spelling(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        payload = {"events": [received_event(event="inbound_message_received")]}
        assert post_inbound(webhook_client, payload).status_code == 200
        assert inbound_events.event.event_type == "inbound"

    def test_batch(self, webhook_client, inbound_events, requests_mock):
        raw_a = b"Subject: first\r\n\r\nA\r\n"
        raw_b = b"Subject: second\r\n\r\nB\r\n"
        details_a = message_details("https://files.example.net/a.eml", id="m-a")
        details_b = message_details(
            "https://files.example.net/b.eml", id="m-b", inbox_id=77
        )
        queue_message(requests_mock, raw=raw_a, details=details_a)
        queue_message(requests_mock, raw=raw_b, details=details_b)
        events = [
            received_event(message_id="m-a", event_id="e1"),
            None,  # null items are skipped
            received_event(
                message_id="m-b", inbox_id=77, timestamp=1767225660500, event_id="e1"
            ),
        ]
        assert post_inbound(webhook_client, {"events": events}).status_code == 200
        first, second = inbound_events.events
        assert first.message.subject == "first"
        assert first.event_id == "4242/m-a"
        assert first.esp_event == details_a
        assert first.timestamp == EVENT_TIME
        assert second.message.subject == "second"
        assert second.event_id == "77/m-b"
        assert second.esp_event == details_b
        assert second.timestamp == datetime(
            2026, 1, 1, 0, 1, 0, 500000, tzinfo=timezone.utc
        )
        assert [call["url"] for call in requests_mock.calls] == [
            "https://mailtrap.io/api/inbound/inboxes/4242/messages/m-a",
            "https://files.example.net/a.eml",
            "https://mailtrap.io/api/inbound/inboxes/77/messages/m-b",
            "https://files.example.net/b.eml",
        ]
        for call in inbound_events.calls:
            assert call["sender"] is MailtrapInboundWebhookView
            assert call["esp_name"] == "Mailtrap"

    @pytest.mark.parametrize("payload", [{}, {"events": []}, {"events": [None]}])
    def test_no_events(self, webhook_client, inbound_events, requests_mock, payload):
        assert post_inbound(webhook_client, payload).status_code == 200
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    @pytest.mark.parametrize(
        "inbox_id",
        [1, None, 1.0, "omitted"],
        ids=["inbox 1", "null inbox", "inbox 1.0", "no inbox"],
    )
    def test_sample_event(
        self, webhook_client, inbound_events, requests_mock, inbox_id
    ):
        # Mailtrap's "test your integration" sample: nothing is fetched, and
        # (as in django-anymail 15.2) the signal is sent with event=None
        esp_event = received_event(inbox_id=inbox_id)
        if inbox_id == "omitted":
            del esp_event["inbox_id"]
        assert post_inbound(webhook_client, {"events": [esp_event]}).status_code == 200
        assert requests_mock.calls == []
        assert len(inbound_events.calls) == 1
        assert inbound_events.calls[0]["event"] is None
        assert inbound_events.calls[0]["sender"] is MailtrapInboundWebhookView

    def test_sample_without_message_id(
        self, webhook_client, inbound_events, requests_mock
    ):
        sample = {"event": "inbound_message_received", "inbox_id": 1}
        assert post_inbound(webhook_client, {"events": [sample]}).status_code == 200
        assert inbound_events.events == [None]

    def test_sample_in_batch_keeps_order(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        events = [received_event(inbox_id=1), received_event()]
        post_inbound(webhook_client, {"events": events})
        sample, real = inbound_events.events
        assert sample is None
        assert real.event_id == "4242/1767225599000123"

    def test_string_inbox_one_is_real(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        post_inbound(webhook_client, {"events": [received_event(inbox_id="1")]})
        assert requests_mock.calls[0]["url"] == (
            f"https://mailtrap.io/api/inbound/inboxes/1/messages/{MESSAGE_ID}"
        )
        assert inbound_events.event.event_id == f"1/{MESSAGE_ID}"

    def test_path_segments_are_quoted(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        payload = {"events": [received_event(inbox_id="a/b c", message_id="x/y?z")]}
        post_inbound(webhook_client, payload)
        assert requests_mock.calls[0]["url"] == (
            "https://mailtrap.io/api/inbound/inboxes/a%2Fb%20c/messages/x%2Fy%3Fz"
        )
        # event_id uses the values as sent, not URL-encoded
        assert inbound_events.event.event_id == "a/b c/x/y?z"

    @pytest.mark.parametrize(
        "timestamp, expected",
        [
            (1767225600000, EVENT_TIME),
            (1767225600123, EVENT_TIME + timedelta(milliseconds=123)),
            (0, datetime(1970, 1, 1, tzinfo=timezone.utc)),
            (None, None),
            ("1767225600000", None),
            (True, None),
            (10**30, None),
            (float("nan"), None),
            ({"ms": 1}, None),
        ],
    )
    def test_timestamp_in_milliseconds(
        self, webhook_client, inbound_events, requests_mock, timestamp, expected
    ):
        queue_message(requests_mock)
        post_inbound(webhook_client, {"events": [received_event(timestamp=timestamp)]})
        assert inbound_events.event.timestamp == expected

    def test_missing_timestamp(self, webhook_client, inbound_events, requests_mock):
        queue_message(requests_mock)
        esp_event = received_event()
        del esp_event["timestamp"]
        post_inbound(webhook_client, {"events": [esp_event]})
        assert inbound_events.event.timestamp is None

    def test_mailtrap_event_id_not_used(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        post_inbound(webhook_client, {"events": [received_event(event_id="retry-2")]})
        assert inbound_events.event.event_id == "4242/1767225599000123"


@pytest.mark.usefixtures("signed_settings")
class TestErrors:
    @pytest.mark.parametrize(
        "name", ["delivery", "open", "soft bounce", "unknown_thing"]
    )
    def test_tracking_event_to_inbound_url(
        self, webhook_client, inbound_events, requests_mock, name
    ):
        tracking_event = {
            "event": name,
            "timestamp": 1700000000,
            "message_id": "1df37d17-0286-4d8b-8edf-bc4ec5be86e6",
            "email": "bob@example.com",
        }
        with pytest.raises(
            AnymailConfigurationError,
            match=r"^You seem to have set Mailtrap's \*tracking\* webhook to"
            r" Anymail's Mailtrap \*inbound\* webhook URL\.$",
        ):
            post_inbound(webhook_client, {"events": [tracking_event]})
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    def test_misdirected_event_later_in_batch(
        self, webhook_client, inbound_events, requests_mock
    ):
        events = [received_event(), {"event": "delivery", "message_id": "x"}]
        with pytest.raises(AnymailConfigurationError):
            post_inbound(webhook_client, {"events": events})
        assert inbound_events.calls == []
        assert requests_mock.calls == []  # checked before fetching anything

    @pytest.mark.parametrize(
        "name", ["inbound.message_deleted", "inbound", "inbound_spam"]
    )
    def test_unknown_inbound_event_type(
        self, webhook_client, inbound_events, requests_mock, name
    ):
        # (django-anymail raises ValueError, a server error)
        response = post_inbound(
            webhook_client, {"events": [received_event(event=name)]}
        )
        assert response.status_code == 400
        assert response.content == b"Malformed Mailtrap webhook payload"
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    @pytest.mark.parametrize(
        "change",
        [
            {"event": None},
            {"event": 5},
            {"message_id": None},
            {"message_id": 1767225599000123},
            {"message_id": ""},
            {"inbox_id": ""},
            {"inbox_id": [4242]},
            {"inbox_id": {"id": 4242}},
            {"inbox_id": True},
        ],
        ids=lambda change: repr(change),
    )
    def test_wrong_field_types(
        self, webhook_client, inbound_events, requests_mock, change
    ):
        response = post_inbound(webhook_client, {"events": [received_event(**change)]})
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    @pytest.mark.parametrize("field", ["event", "message_id"])
    def test_missing_required_field(
        self, webhook_client, inbound_events, requests_mock, field
    ):
        # (django-anymail: KeyError, a server error)
        esp_event = received_event()
        del esp_event[field]
        response = post_inbound(webhook_client, {"events": [esp_event]})
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"", id="empty"),
            pytest.param(b"inbox_id=4242", id="not JSON"),
            pytest.param(b'{"events": [', id="truncated JSON"),
            pytest.param(b"\xff\xfe{}", id="not UTF-8"),
            pytest.param(b"[]", id="array"),
            pytest.param(b"null", id="null"),
            pytest.param(b'{"events": {"event": "x"}}', id="events object"),
            pytest.param(b'{"events": null}', id="events null"),
            pytest.param(b'{"events": ["inbound.message_received"]}', id="string"),
            pytest.param(b'{"events": [[]]}', id="event array"),
        ],
    )
    def test_malformed_body(self, webhook_client, inbound_events, requests_mock, body):
        response = post_inbound(webhook_client, body)
        assert response.status_code == 400
        assert response.content == b"Malformed Mailtrap webhook payload"
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    def test_form_post(self, webhook_client, inbound_events, requests_mock, quiet):
        with override_settings(ANYMAIL={"MAILTRAP_API_TOKEN": API_TOKEN}):
            response = webhook_client.post(
                INBOUND_URL, {"events": json.dumps([received_event()])}
            )
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    @pytest.mark.parametrize("status", [401, 404, 500])
    def test_api_error(self, webhook_client, inbound_events, requests_mock, status):
        requests_mock.queue_response(status, {"error": "Not found"})
        with pytest.raises(requests.HTTPError):
            post_inbound(webhook_client, {"events": [received_event()]})
        assert inbound_events.calls == []
        assert len(requests_mock.calls) == 1

    def test_download_error(self, webhook_client, inbound_events, requests_mock):
        requests_mock.queue_response(200, message_details())
        requests_mock.queue_response(403, b"<Error>AccessDenied (expired)</Error>")
        with pytest.raises(requests.HTTPError):
            post_inbound(webhook_client, {"events": [received_event()]})
        assert inbound_events.calls == []

    def test_network_error(self, webhook_client, inbound_events, requests_mock):
        requests_mock.set_exception(requests.ConnectionError("connection refused"))
        with pytest.raises(requests.ConnectionError):
            post_inbound(webhook_client, {"events": [received_event()]})
        assert inbound_events.calls == []

    def test_failure_later_in_batch(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        requests_mock.queue_response(404, {"error": "Not found"})
        events = [received_event(), received_event(message_id="gone")]
        with pytest.raises(requests.HTTPError):
            post_inbound(webhook_client, {"events": events})
        assert inbound_events.calls == []  # nothing until every event is built

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"<html>oops</html>", id="not JSON"),
            pytest.param([message_details()], id="array"),
            pytest.param({"id": MESSAGE_ID}, id="no raw_message_url"),
            pytest.param(message_details(raw_message_url=None), id="null url"),
            pytest.param(message_details(raw_message_url=""), id="empty url"),
        ],
    )
    def test_unusable_api_response(
        self, webhook_client, inbound_events, requests_mock, body
    ):
        # Mailtrap's answer, not the webhook, is wrong: a server error
        requests_mock.queue_response(200, body)
        with pytest.raises(AnymailAPIError, match="Couldn't fetch inbound message"):
            post_inbound(webhook_client, {"events": [received_event()]})
        assert inbound_events.calls == []
        assert len(requests_mock.calls) == 1


class TestSettings:
    def test_api_token_required(self, webhook_client, inbound_events, requests_mock):
        with (
            override_settings(ANYMAIL={"MAILTRAP_INBOUND_SECRET": INBOUND_SECRET}),
            pytest.raises(AnymailConfigurationError) as excinfo,
        ):
            post_inbound(webhook_client, {"events": [received_event()]})
            assert str(excinfo.value) == MISSING_TOKEN
            # also on HEAD: the view can't even be created
            with pytest.raises(AnymailConfigurationError, match="MAILTRAP_API_TOKEN"):
                webhook_client.head(INBOUND_URL)
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    def test_api_token_reported_before_warning(self):
        with (
            override_settings(ANYMAIL={}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            with pytest.raises(AnymailConfigurationError, match="API_TOKEN"):
                MailtrapInboundWebhookView()

    @pytest.mark.parametrize(
        "token_settings",
        [
            {"ANYMAIL_MAILTRAP_API_TOKEN": "root-token"},
            {"MAILTRAP_API_TOKEN": "root-token"},  # bare
        ],
        ids=["ANYMAIL_ prefix", "bare"],
    )
    def test_root_level_token(
        self, webhook_client, inbound_events, requests_mock, quiet, token_settings
    ):
        queue_message(requests_mock)
        with override_settings(ANYMAIL={}, **token_settings):
            response = post_inbound(
                webhook_client, {"events": [received_event()]}, secret=None
            )
        assert response.status_code == 200
        assert requests_mock.calls[0]["headers"] == {
            "Authorization": "Bearer root-token"
        }

    @pytest.mark.parametrize(
        "api_url, expected",
        [
            ("https://api.example.net/mt/", "https://api.example.net/mt/"),
            ("https://api.example.net/mt", "https://api.example.net/mt/"),
        ],
    )
    def test_api_url_setting(
        self, webhook_client, inbound_events, requests_mock, api_url, expected
    ):
        queue_message(requests_mock)
        with override_settings(ANYMAIL={**SETTINGS, "MAILTRAP_API_URL": api_url}):
            post_inbound(webhook_client, {"events": [received_event()]})
        assert requests_mock.calls[0]["url"] == (
            f"{expected}inbound/inboxes/{INBOX_ID}/messages/{MESSAGE_ID}"
        )

    def test_stalled_download_times_out(self, webhook_client, inbound_events):
        # real HTTP: the raw download never answers within REQUESTS_TIMEOUT
        from example.standin import StandIn

        with StandIn() as standin:
            raw_url = standin.url + "files/raw.eml"
            standin.respond_next(200, message_details(raw_message_url=raw_url))
            standin.respond_next(200, RAW_MIME, "message/rfc822", delay=3)
            anymail = {
                **SETTINGS,
                "MAILTRAP_API_URL": standin.api_url("mailtrap"),
                "REQUESTS_TIMEOUT": 0.2,
            }
            start = time.monotonic()
            with (
                override_settings(ANYMAIL=anymail),
                pytest.raises(requests.Timeout),  # (a server error: Mailtrap retries)
            ):
                post_inbound(webhook_client, {"events": [received_event()]})
            assert time.monotonic() - start < 2
            assert [request.path for request in standin.requests][-1] == (
                "/files/raw.eml"
            )
        assert inbound_events.calls == []

    def test_as_view_kwargs(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        queue_message(requests_mock)
        with override_settings(ANYMAIL=SETTINGS):
            # signed with the settings' secret: refused on the custom route
            response = post_inbound(
                webhook_client, {"events": [received_event()]}, url=CUSTOM_URL
            )
            assert response.status_code == 400
            assert security_messages(security_log) == [INCORRECT_SIGNATURE]
            response = post_inbound(
                webhook_client,
                {"events": [received_event()]},
                url=CUSTOM_URL,
                secret=KWARG_SECRET,
            )
        assert response.status_code == 200
        api_call = requests_mock.calls[0]
        assert api_call["url"] == (
            f"https://mailtrap.example.net/v9/inbound/inboxes/{INBOX_ID}"
            f"/messages/{MESSAGE_ID}"
        )
        assert api_call["headers"] == {"Authorization": "Bearer kwarg-token"}

    def test_instance_attributes(self):
        view = MailtrapInboundWebhookView.as_view(
            api_token="t", api_url="https://x.example", inbound_secret="s"
        )
        instance = view.view_class(**view.view_initkwargs)
        assert instance.api_token == "t"
        assert instance.api_url == "https://x.example/"
        assert instance.inbound_secret == "s"
        assert instance.download_chunk_size == 65536
        with (
            override_settings(ANYMAIL={"MAILTRAP_API_TOKEN": "tok"}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            default = MailtrapInboundWebhookView()
        assert default.api_url == "https://mailtrap.io/api/"
        assert default.inbound_secret is None

    def test_none_kwargs_use_settings(self):
        with override_settings(ANYMAIL=SETTINGS):
            view = MailtrapInboundWebhookView.as_view(api_token=None, api_url=None)
            instance = view.view_class(**view.view_initkwargs)
        assert instance.api_token == API_TOKEN
        assert instance.api_url == "https://mailtrap.io/api/"


class TestSignature:
    def test_valid_signature(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        queue_message(requests_mock)
        with override_settings(ANYMAIL=SETTINGS):
            response = post_inbound(webhook_client, {"events": [received_event()]})
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1
        assert security_messages(security_log) == []

    @pytest.mark.parametrize(
        "secret, expected_message",
        [
            (None, NO_SIGNATURE),
            ("wrong-secret", INCORRECT_SIGNATURE),
            (TRACKING_SECRET, INCORRECT_SIGNATURE),
        ],
        ids=["missing", "wrong", "tracking secret"],
    )
    def test_refused(
        self,
        webhook_client,
        inbound_events,
        requests_mock,
        security_log,
        secret,
        expected_message,
    ):
        anymail_settings = {**SETTINGS, "MAILTRAP_TRACKING_SECRET": TRACKING_SECRET}
        with override_settings(ANYMAIL=anymail_settings):
            response = post_inbound(
                webhook_client, {"events": [received_event()]}, secret=secret
            )
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert requests_mock.calls == []  # nothing fetched either
        assert security_messages(security_log) == [expected_message]

    def test_tampered_body(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        body = json.dumps({"events": [received_event()]}).encode()
        signature = sign(body)
        tampered = body.replace(b"4242", b"4243")
        with override_settings(ANYMAIL=SETTINGS):
            response = webhook_client.post(
                INBOUND_URL,
                tampered,
                content_type="application/json",
                HTTP_MAILTRAP_SIGNATURE=signature,
            )
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert requests_mock.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_uppercase_hex_refused(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        body = json.dumps({"events": [received_event()]}).encode()
        with override_settings(ANYMAIL=SETTINGS):
            response = webhook_client.post(
                INBOUND_URL,
                body,
                content_type="application/json",
                HTTP_MAILTRAP_SIGNATURE=sign(body).upper(),
            )
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_tracking_secret_doesnt_turn_on_inbound_checks(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        anymail_settings = {
            "MAILTRAP_API_TOKEN": API_TOKEN,
            "MAILTRAP_TRACKING_SECRET": TRACKING_SECRET,
        }
        with (
            override_settings(ANYMAIL=anymail_settings),
            pytest.warns(AnymailInsecureWebhookWarning),
        ):
            response = post_inbound(
                webhook_client, {"events": [received_event()]}, secret=None
            )
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1

    def test_basic_auth(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        anymail_settings = {"MAILTRAP_API_TOKEN": API_TOKEN, "WEBHOOK_SECRET": "u:pw"}
        queue_message(requests_mock)
        with (
            override_settings(ANYMAIL=anymail_settings),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            ok = post_inbound(
                webhook_client,
                {"events": [received_event()]},
                secret=None,
                HTTP_AUTHORIZATION=basic_auth_header("u:pw"),
            )
            wrong = post_inbound(
                webhook_client,
                {"events": [received_event()]},
                secret=None,
                HTTP_AUTHORIZATION=basic_auth_header("u:nope"),
            )
            missing = post_inbound(
                webhook_client, {"events": [received_event()]}, secret=None
            )
        assert ok.status_code == 200
        assert wrong.status_code == 400
        assert missing.status_code == 400
        assert len(inbound_events.calls) == 1
        assert len(requests_mock.calls) == 2  # only for the accepted request
        assert security_messages(security_log) == [BAD_BASIC_AUTH, BAD_BASIC_AUTH]

    def test_basic_auth_and_signature(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        anymail_settings = {**SETTINGS, "WEBHOOK_SECRET": "u:pw"}
        auth = basic_auth_header("u:pw")
        queue_message(requests_mock)
        payload = {"events": [received_event()]}
        with override_settings(ANYMAIL=anymail_settings):
            signed_only = post_inbound(webhook_client, payload)
            auth_only = post_inbound(
                webhook_client, payload, secret=None, HTTP_AUTHORIZATION=auth
            )
            both = post_inbound(webhook_client, payload, HTTP_AUTHORIZATION=auth)
        assert signed_only.status_code == 400
        assert auth_only.status_code == 400
        assert both.status_code == 200
        assert len(inbound_events.calls) == 1
        assert security_messages(security_log) == [BAD_BASIC_AUTH, NO_SIGNATURE]

    def test_warns_without_inbound_secret(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        with (
            override_settings(ANYMAIL={"MAILTRAP_API_TOKEN": API_TOKEN}),
            pytest.warns(AnymailInsecureWebhookWarning, match="WEBHOOK_SECRET"),
        ):
            response = post_inbound(
                webhook_client, {"events": [received_event()]}, secret=None
            )
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1

    @pytest.mark.parametrize(
        "extra",
        [
            {"MAILTRAP_INBOUND_SECRET": INBOUND_SECRET},
            {"MAILTRAP_INBOUND_SECRET": ""},
            {"WEBHOOK_SECRET": "u:pw"},
        ],
        ids=["inbound secret", "empty inbound secret", "webhook secret"],
    )
    def test_no_warning(self, extra):
        with (
            override_settings(ANYMAIL={"MAILTRAP_API_TOKEN": API_TOKEN, **extra}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            MailtrapInboundWebhookView()

    def test_empty_secret_counts_as_set(
        self, webhook_client, inbound_events, requests_mock
    ):
        queue_message(requests_mock)
        anymail_settings = {
            "MAILTRAP_API_TOKEN": API_TOKEN,
            "MAILTRAP_INBOUND_SECRET": "",
        }
        payload = {"events": [received_event()]}
        with override_settings(ANYMAIL=anymail_settings):
            unsigned = post_inbound(webhook_client, payload, secret=None)
            signed = post_inbound(webhook_client, payload, secret="")
        assert unsigned.status_code == 400
        assert signed.status_code == 200


class TestHttpMethods:
    def test_head_without_validation(
        self, webhook_client, inbound_events, requests_mock, security_log
    ):
        with override_settings(ANYMAIL={**SETTINGS, "WEBHOOK_SECRET": "u:pw"}):
            response = webhook_client.head(INBOUND_URL)
        assert response.status_code == 200
        assert response.content == b""
        assert inbound_events.calls == []
        assert requests_mock.calls == []
        assert security_messages(security_log) == []

    def test_get_not_allowed(self, webhook_client, signed_settings):
        assert webhook_client.get(INBOUND_URL).status_code == 405

    def test_url_name(self):
        assert reverse("anymail:mailtrap_inbound_webhook") == INBOUND_URL

    def test_class(self):
        assert issubclass(MailtrapInboundWebhookView, MailtrapWebhookView)
        assert MailtrapInboundWebhookView.esp_name == "Mailtrap"
        assert MailtrapInboundWebhookView.signal is inbound


@pytest.mark.usefixtures("signed_settings")
def test_unusable_api_url_is_a_server_error(webhook_client, inbound_events, settings):
    """A settings problem calling Mailtrap's API is a 500 (a retry), not a 400."""
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILTRAP_API_URL": "mailtrap.io/api/"}
    with pytest.raises(AnymailAPIError, match="Couldn't fetch inbound message"):
        post_inbound(webhook_client, {"events": [received_event()]})
    assert inbound_events.calls == []
