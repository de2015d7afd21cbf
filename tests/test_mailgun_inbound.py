"""Mailgun inbound webhook (receiving routes' forward() action)."""

import base64
import hashlib
import hmac
import json
import warnings
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.http import HttpRequest
from django.test import RequestFactory
from django.urls import path, re_path, reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent
from anymail.webhooks.mailgun import (
    MailgunInboundWebhookView,
    MailgunTrackingWebhookView,
)

from .conftest import basic_auth_header, security_messages

urlpatterns = [
    re_path(
        r"^anymail/mailgun/inbound(_mime)?/$",
        MailgunInboundWebhookView.as_view(),
        name="mailgun_inbound_webhook",
    ),
    path(
        "anymail/mailgun/tracking/",
        MailgunTrackingWebhookView.as_view(),
        name="mailgun_tracking_webhook",
    ),
    path(
        "custom/mailgun/inbound/",
        MailgunInboundWebhookView.as_view(webhook_signing_key="route-key"),
        name="custom_key_inbound",
    ),
]

pytestmark = pytest.mark.urls(__name__)

URL = "/anymail/mailgun/inbound/"
MIME_URL = "/anymail/mailgun/inbound_mime/"
TRACKING_URL = "/anymail/mailgun/tracking/"
KEY = "test-signing-key"
TIMESTAMP = "1700000000"
TOKEN = "abc123token"
# the spec's check value: hex HMAC-SHA256 of TIMESTAMP + TOKEN, keyed with KEY
SPEC_CHECK_SIGNATURE = (
    "ebe1904b263edf573570cdd64277029eb9f6703619cceb45ec4075febea4cfc9"
)
EVENT_TIME = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
BOUNDARY = "mailgun-form-boundary-5f2a"
FORM_CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
MISSING_KEY_MESSAGE = (
    "You must set ANYMAIL = {'MAILGUN_WEBHOOK_SIGNING_KEY': ...}"
    " or ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY in your Django settings"
)
INCORRECT_SIGNATURE = "Mailgun webhook called with incorrect signature"
MISSING_FIELDS = "Mailgun webhook called without required security fields"
INVALID_FORMAT = "Mailgun webhook called with invalid payload format"
BAD_BASIC_AUTH = "Missing or invalid basic auth in Anymail Mailgun webhook"

# A 1x1 transparent PNG, and the start of a PDF with its binary marker bytes
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


def mailgun_signature(timestamp=TIMESTAMP, token=TOKEN, key=KEY):
    return hmac.new(
        key.encode("ascii"), f"{timestamp}{token}".encode("ascii"), hashlib.sha256
    ).hexdigest()


def signing_fields(timestamp=TIMESTAMP, token=TOKEN, key=KEY):
    return [
        ("timestamp", timestamp),
        ("token", token),
        ("signature", mailgun_signature(timestamp, token, key)),
    ]


def form_body(parts):
    """A multipart/form-data body, byte for byte as given.

    parts: (name, value) for fields, or (name, content, filename, content_type)
    for files; str values are sent as UTF-8, bytes as they are.
    """
    body = b""
    for name, value, *file_info in parts:
        body += f"--{BOUNDARY}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if file_info:
            filename, content_type = file_info
            body += f'{disposition}; filename="{filename}"\r\n'.encode()
            if content_type is not None:
                body += f"Content-Type: {content_type}\r\n".encode()
        else:
            body += f"{disposition}\r\n".encode()
        body += b"\r\n"
        body += value.encode("utf-8") if isinstance(value, str) else value
        body += b"\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return body


def post_multipart(client, parts, url=URL, **extra):
    return client.post(url, form_body(parts), content_type=FORM_CONTENT_TYPE, **extra)


def post_urlencoded(client, fields, url=URL, **extra):
    content_type = "application/x-www-form-urlencoded"
    extra.setdefault("CONTENT_TYPE", content_type)
    return client.post(url, urlencode(fields), content_type=content_type, **extra)


@pytest.fixture(autouse=True)
def signing_key(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": KEY}
    return settings


# ---------------------------------------------------------------------------
# A realistic "fully parsed" forward() post (Mailgun's field names and order)

MESSAGE_HEADERS = [
    [
        "Received",
        "from mail-ed1-f41.example.org (mail-ed1-f41.example.org [209.85.208.41])"
        " by mxa.mailgun.org with ESMTP id 6553f1e0.0.abcd;"
        " Tue, 14 Nov 2023 22:13:20 -0000 (UTC)",
    ],
    [
        "Received",
        "by mail-ed1-f41.example.org with SMTP id a2so1234;"
        " Tue, 14 Nov 2023 14:13:19 -0800 (PST)",
    ],
    ["X-Envelope-From", "<renee@example.org>"],
    ["X-Mailgun-Incoming", "Yes"],
    ["X-Mailgun-Sflag", "Yes"],
    ["X-Mailgun-Sscore", "14.5"],
    ["X-Mailgun-Spf", "Pass"],
    ["Mime-Version", "1.0"],
    ["From", "=?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.org>"],
    ["Date", "Tue, 14 Nov 2023 14:13:19 -0800"],
    ["Message-Id", "<CAEPk3RK+5n1k@mail.example.org>"],
    ["Subject", "=?UTF-8?B?Q2Fmw6kg4piVIG9yZGVy?="],
    ["To", "Inbox =?UTF-8?Q?=E2=9C=89?= <inbox@in.example.com>, other@example.com"],
    ["Cc", "Zoë <zoe@example.net>"],
    [
        "Content-Type",
        'multipart/mixed; boundary="000000000000b5c4f0060a1d8a7e"',
    ],
]

BODY_PLAIN = (
    "Please find the order attached.\r\n\r\n[image: logo]\r\n\r\n-- \r\nRenée\r\n"
)
BODY_HTML = (
    '<div dir="ltr">Please find the order attached.<br>'
    '<img src="cid:ii_logo123" alt="logo"></div>\r\n'
)
CSV = "Produit,Prix\r\nCafé,3.20\r\n".encode("iso-8859-1")


def parsed_post_parts(**overrides):
    """The fields and files Mailgun posts for a parsed (non-MIME) forward()."""
    fields = {
        "recipient": "inbox@in.example.com",
        "sender": "renee@example.org",
        "from": "Renée Dupont <renee@example.org>",
        "subject": "Café ☕ order",
        "body-plain": BODY_PLAIN,
        "stripped-text": "Please find the order attached.",
        "stripped-signature": "Renée",
        "body-html": BODY_HTML,
        "stripped-html": '<div dir="ltr">Please find the order attached.</div>',
        "attachment-count": "3",
        "timestamp": TIMESTAMP,
        "token": TOKEN,
        "signature": mailgun_signature(),
        "message-headers": json.dumps(MESSAGE_HEADERS),
        "content-id-map": json.dumps({"<ii_logo123>": "attachment-2"}),
    }
    fields.update(overrides)
    parts = [(name, value) for name, value in fields.items() if value is not None]
    files = [
        ("attachment-1", CSV, "commande café.csv", "text/csv; charset=iso-8859-1"),
        ("attachment-2", PNG, "logo.png", "image/png"),
        ("attachment-3", PDF, "order.pdf", "application/pdf"),
    ]
    return parts + files


class TestParsedForward:
    def test_realistic_post(self, webhook_client, inbound_events):
        response = post_multipart(webhook_client, parsed_post_parts())
        assert response.status_code == 200
        assert response.content == b""

        assert len(inbound_events.calls) == 1
        call = inbound_events.calls[0]
        assert call["sender"] is MailgunInboundWebhookView
        assert call["esp_name"] == "Mailgun"
        event = call["event"]
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.timestamp == EVENT_TIME
        assert event.event_id == TOKEN
        assert isinstance(event.esp_event, HttpRequest)
        assert event.esp_event.POST["recipient"] == "inbox@in.example.com"
        assert set(event.esp_event.FILES) == {
            "attachment-1",
            "attachment-2",
            "attachment-3",
        }

        message = event.message
        assert isinstance(message, AnymailInboundMessage)
        assert str(message.from_email) == "Renée Dupont <renee@example.org>"
        assert message.from_email.addr_spec == "renee@example.org"
        assert message.from_email.display_name == "Renée Dupont"
        assert [str(addr) for addr in message.to] == [
            "Inbox ✉ <inbox@in.example.com>",
            "other@example.com",
        ]
        assert [addr.display_name for addr in message.cc] == ["Zoë"]
        assert [addr.addr_spec for addr in message.cc] == ["zoe@example.net"]
        assert message.subject == "Café ☕ order"
        assert message.date == datetime(
            2023, 11, 14, 14, 13, 19, tzinfo=timezone(timedelta(hours=-8))
        )
        assert message["Message-ID"] == "<CAEPk3RK+5n1k@mail.example.org>"
        # every header kept, in order, repeats included
        assert message.get_all("Received") == [
            value for _, value in MESSAGE_HEADERS[:2]
        ]
        assert list(message.keys())[:3] == ["Received", "Received", "X-Envelope-From"]
        assert message.get_content_type() == "multipart/mixed"
        assert message.defects == []

        # bodies, with line breaks normalized to \n
        assert message.text == (
            "Please find the order attached.\n\n[image: logo]\n\n-- \nRenée\n"
        )
        assert message.html == BODY_HTML.replace("\r\n", "\n")

        # Mailgun's extras
        assert message.envelope_sender == "renee@example.org"
        assert message.envelope_recipient == "inbox@in.example.com"
        assert message.stripped_text == "Please find the order attached."
        assert message.stripped_html == (
            '<div dir="ltr">Please find the order attached.</div>'
        )
        assert message.spam_detected is True
        assert message.spam_score == 14.5

        # attachments, in attachment-N order; the inline image isn't one
        csv_part, pdf_part = message.attachments
        assert csv_part.get_filename() == "commande café.csv"
        assert csv_part.get_content_type() == "text/csv"
        assert csv_part.get_content_charset() == "iso-8859-1"
        assert csv_part.get_content_bytes() == CSV
        assert csv_part.get_content_text() == "Produit,Prix\nCafé,3.20\n"
        assert pdf_part.get_filename() == "order.pdf"
        assert pdf_part.get_content_type() == "application/pdf"
        assert pdf_part.get_content_bytes() == PDF
        upload = pdf_part.as_uploaded_file()
        assert (upload.name, upload.content_type) == ("order.pdf", "application/pdf")
        assert upload.read() == PDF

        (logo,) = message.inlines
        assert message.content_id_map == {"ii_logo123": logo}
        assert logo["Content-ID"] == "<ii_logo123>"
        assert logo.get_filename() == "logo.png"
        assert logo.get_content_type() == "image/png"
        assert logo.get_content_bytes() == PNG
        assert not logo.is_attachment()

    def test_urlencoded_without_attachments(self, webhook_client, inbound_events):
        fields = [
            ("recipient", "inbox@in.example.com"),
            ("sender", "renee@example.org"),
            ("body-plain", "Hi\r\n"),
            ("message-headers", json.dumps([["Subject", "Hi"], ["From", "a@b.com"]])),
            *signing_fields(),
        ]
        response = post_urlencoded(webhook_client, fields)
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.subject == "Hi"
        assert message.text == "Hi\n"
        assert message.html is None
        assert message.attachments == []
        assert message.inlines == []
        assert message.stripped_text is None
        assert message.stripped_html is None
        # no spam headers: not detected, no score
        assert message.spam_detected is False
        assert message.spam_score is None

    def test_headers_only_message(self, webhook_client, inbound_events):
        parts = [("message-headers", json.dumps([["Subject", "Empty"]]))]
        response = post_multipart(webhook_client, parts + signing_fields())
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.subject == "Empty"
        assert message.text is None
        assert message.html is None
        assert message.envelope_sender is None
        assert message.envelope_recipient is None
        assert message.from_email is None

    @pytest.mark.parametrize(
        "sflag, sscore, detected, score",
        [
            ("Yes", "14.5", True, 14.5),
            ("YES", "5", True, 5.0),
            ("yes", "-0.1", True, -0.1),
            ("No", "0.0", False, 0.0),
            ("no", None, False, None),
            (None, "1.5", False, 1.5),
            ("No", "not-a-number", False, None),
            ("maybe", "", False, None),
        ],
    )
    def test_spam_headers(
        self, webhook_client, inbound_events, sflag, sscore, detected, score
    ):
        headers = [["Subject", "Spam?"]]
        if sflag is not None:
            headers.append(["X-Mailgun-Sflag", sflag])
        if sscore is not None:
            headers.append(["X-Mailgun-Sscore", sscore])
        parts = [("message-headers", json.dumps(headers))] + signing_fields()
        assert post_multipart(webhook_client, parts).status_code == 200
        message = inbound_events.event.message
        assert message.spam_detected is detected
        assert message.spam_score == score

    def test_content_id_map_variants(self, webhook_client, inbound_events):
        # duplicate keys all count; brackets added where missing; an empty
        # content id still makes the file inline
        content_id_map = (
            '{"<dup@example.org>": "attachment-1",'
            ' "<dup@example.org>": "attachment-2",'
            ' "bare@example.org": "attachment-3",'
            ' "": "attachment-4"}'
        )
        parts = [
            ("message-headers", "[]"),
            ("attachment-count", "5"),
            ("content-id-map", content_id_map),
            *signing_fields(),
            ("attachment-1", PNG, "one.png", "image/png"),
            ("attachment-2", PNG, "two.png", "image/png"),
            ("attachment-3", PNG, "three.png", "image/png"),
            ("attachment-4", PNG, "four.png", "image/png"),
            ("attachment-5", PDF, "five.pdf", "application/pdf"),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        message = inbound_events.event.message
        inlines = message.inlines
        assert [part.get_filename() for part in inlines] == [
            "one.png",
            "two.png",
            "three.png",
            "four.png",
        ]
        assert [part["Content-ID"] for part in inlines] == [
            "<dup@example.org>",
            "<dup@example.org>",
            "<bare@example.org>",
            "",
        ]
        # (a duplicate content id: the later part wins)
        assert message.content_id_map == {
            "dup@example.org": inlines[1],
            "bare@example.org": inlines[2],
        }
        assert [part.get_filename() for part in message.attachments] == ["five.pdf"]

    def test_attachment_count_limits_files(self, webhook_client, inbound_events):
        parts = [
            ("message-headers", "[]"),
            ("attachment-count", "2"),
            *signing_fields(),
            ("attachment-2", b"second", "b.txt", "text/plain"),
            ("attachment-1", b"first", "a.txt", "text/plain"),
            ("attachment-3", b"beyond the count", "c.txt", "text/plain"),
            ("other-file", b"not an attachment-N", "d.txt", "text/plain"),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        attachments = inbound_events.event.message.attachments
        assert [part.get_filename() for part in attachments] == ["a.txt", "b.txt"]
        assert [part.get_content_bytes() for part in attachments] == [
            b"first",
            b"second",
        ]

    def test_attachment_numbers_sort_numerically(self, webhook_client, inbound_events):
        files = [
            (f"attachment-{n}", f"file {n}".encode(), f"f{n}.txt", "text/plain")
            for n in range(1, 12)
        ]
        parts = [
            ("message-headers", "[]"),
            ("attachment-count", "11"),
            *signing_fields(),
            *reversed(files),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        attachments = inbound_events.event.message.attachments
        assert [part.get_filename() for part in attachments] == [
            f"f{n}.txt" for n in range(1, 12)
        ]

    def test_missing_files_are_skipped(self, webhook_client, inbound_events):
        # Django drops file parts with an empty filename
        parts = [
            ("message-headers", "[]"),
            ("attachment-count", "3"),
            ("content-id-map", json.dumps({"<gone>": "attachment-2"})),
            *signing_fields(),
            ("attachment-1", b"one", "one.txt", "text/plain"),
            ("attachment-2", b"dropped", "", "image/png"),
            ("attachment-3", b"three", "three.txt", "text/plain"),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        message = inbound_events.event.message
        assert [part.get_content_bytes() for part in message.attachments] == [
            b"one",
            b"three",
        ]
        assert message.inlines == []

    @pytest.mark.parametrize("count", [None, "0", "-2"])
    def test_no_attachment_count_means_no_attachments(
        self, webhook_client, inbound_events, count
    ):
        parts = [("message-headers", "[]"), *signing_fields()]
        if count is not None:
            parts.append(("attachment-count", count))
        parts.append(("attachment-1", b"ignored", "a.txt", "text/plain"))
        assert post_multipart(webhook_client, parts).status_code == 200
        assert inbound_events.event.message.attachments == []

    def test_huge_attachment_count(self, webhook_client, inbound_events):
        parts = [
            ("message-headers", "[]"),
            ("attachment-count", str(10**12)),
            *signing_fields(),
            ("attachment-1", b"one", "a.txt", "text/plain"),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        attachments = inbound_events.event.message.attachments
        assert [part.get_content_bytes() for part in attachments] == [b"one"]

    def test_upload_filename_and_type(self, webhook_client, inbound_events):
        parts = [
            ("message-headers", "[]"),
            ("attachment-count", "2"),
            *signing_fields(),
            # (Django strips directory paths from upload names)
            ("attachment-1", b"x", "../../etc/passwd", "text/plain"),
            ("attachment-2", b"{}", "data.json", "application/json"),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        first, second = inbound_events.event.message.attachments
        assert first.get_filename() == "passwd"
        assert first.get_content_type() == "text/plain"
        assert second.get_filename() == "data.json"
        assert second.get_content_type() == "application/json"

    def test_upload_without_content_type(self, webhook_client, inbound_events):
        parts = [
            ("message-headers", "[]"),
            ("attachment-count", "1"),
            *signing_fields(),
            ("attachment-1", PDF, "mystery", None),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        (attachment,) = inbound_events.event.message.attachments
        assert attachment.get_content_type() == "application/octet-stream"
        assert attachment.get_filename() == "mystery"
        assert attachment.get_content_bytes() == PDF

    def test_attachment_charsets(self, webhook_client, inbound_events):
        text = "Produit,Prix\r\nCafé,3.20\r\n"
        parts = [
            ("message-headers", "[]"),
            ("attachment-count", "4"),
            *signing_fields(),
            ("attachment-1", text.encode("utf-8"), "a.csv", "text/csv; charset=UTF-8"),
            (
                "attachment-2",
                text.encode("cp1252"),
                "b.csv",
                "text/csv; charset=cp1252",
            ),
            ("attachment-3", b"caf\xe9", "c.txt", "text/plain; charset=x-no-such"),
            ("attachment-4", b"caf\xe9", "d.txt", "text/plain"),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        first, second, unknown, undeclared = inbound_events.event.message.attachments
        # the bytes stay exactly as uploaded; the declared charset decodes them
        assert first.get_content_bytes() == text.encode("utf-8")
        assert first.get_content_charset() == "utf-8"
        assert first.get_content_text() == "Produit,Prix\nCafé,3.20\n"
        assert first["Content-Type"] == 'text/csv; name="a.csv"; charset="UTF-8"'
        assert second.get_content_bytes() == text.encode("cp1252")
        assert second.get_content_text() == "Produit,Prix\nCafé,3.20\n"
        # a charset Python doesn't know only matters when the text is read
        assert unknown.get_content_bytes() == b"caf\xe9"
        assert unknown.get_content_charset() == "x-no-such"
        with pytest.raises(LookupError):
            unknown.get_content_text()
        # no charset: us-ascii, with replacement
        assert undeclared.get_content_charset() is None
        assert undeclared.get_content_text() == "caf\ufffd"

    def test_attached_message_in_8bit(self, webhook_client, inbound_events):
        # a forwarded message/rfc822 attachment that isn't UTF-8
        forwarded = (
            b"From: Andr\xe9 <andre@example.com>\r\n"
            b"Subject: Re: caf\xe9\r\n"
            b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n"
            b"D\xe9j\xe0 vu.\r\n"
        )
        parts = [
            ("message-headers", "[]"),
            ("attachment-count", "1"),
            *signing_fields(),
            ("attachment-1", forwarded, "forwarded.eml", "message/rfc822"),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        (attachment,) = inbound_events.event.message.attachments
        assert attachment.get_content_type() == "message/rfc822"
        assert attachment.get_filename() == "forwarded.eml"
        inner = attachment.get_payload(0)
        assert isinstance(inner, AnymailInboundMessage)
        assert inner.get_content_text() == "Déjà vu.\n"
        assert inbound_events.event.message.text == "Déjà vu.\n"

    def test_attachment_read_once(self, webhook_client, inbound_events, settings):
        # big uploads go to temporary files; each is read just once
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
        reads = []

        def counting_read(upload):
            reads.append(upload.name)
            return upload.file.read

        parts = [
            ("message-headers", "[]"),
            ("attachment-count", "1"),
            *signing_fields(),
            ("attachment-1", PDF * 100, "big.pdf", "application/pdf"),
        ]
        with (
            mock.patch.object(TemporaryUploadedFile, "read", property(counting_read)),
            mock.patch.object(
                TemporaryUploadedFile,
                "chunks",
                side_effect=AssertionError("read a second time"),
            ),
        ):
            assert post_multipart(webhook_client, parts).status_code == 200
        assert reads == ["big.pdf"]
        (attachment,) = inbound_events.event.message.attachments
        assert attachment.get_content_bytes() == PDF * 100

    def test_folded_header_values(self, webhook_client, inbound_events):
        headers = [
            ["Subject", "A folded\r\n subject"],
            ["X-Odd", "line\nbreak"],
            ["References", "<a@example.org>\n\t<b@example.org>"],
        ]
        parts = [("message-headers", json.dumps(headers)), *signing_fields()]
        assert post_multipart(webhook_client, parts).status_code == 200
        message = inbound_events.event.message
        assert message.subject == "A folded subject"
        assert message["X-Odd"] == "line break"
        assert message["References"] == "<a@example.org>\t<b@example.org>"

    def test_utf8_header_values(self, webhook_client, inbound_events):
        # values Mailgun has already decoded
        headers = [["From", "Renée <renee@example.org>"], ["Subject", "Ça va ✓"]]
        parts = [("message-headers", json.dumps(headers)), *signing_fields()]
        assert post_multipart(webhook_client, parts).status_code == 200
        message = inbound_events.event.message
        assert message.from_email.display_name == "Renée"
        assert message.subject == "Ça va ✓"


# ---------------------------------------------------------------------------
# Raw MIME forward() posts (body-mime)

RAW_MIME = (
    "Received: from mail.example.org (mail.example.org [203.0.113.9])\r\n"
    " by mxa.mailgun.org with ESMTP; Tue, 14 Nov 2023 22:13:20 -0000\r\n"
    "X-Mailgun-Sflag: No\r\n"
    "X-Mailgun-Sscore: 0.3\r\n"
    "MIME-Version: 1.0\r\n"
    "From: =?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.org>\r\n"
    "To: =?UTF-8?B?w4lxdWlwZQ==?= <inbox@in.example.com>\r\n"
    "Cc: bob@example.net\r\n"
    "Date: Tue, 14 Nov 2023 14:13:19 -0800\r\n"
    "Subject: =?UTF-8?Q?Re=CC=81sume=CC=81_=E2=9C=93?=\r\n"
    'Content-Type: multipart/mixed; boundary="outer"\r\n'
    "\r\n"
    "--outer\r\n"
    'Content-Type: multipart/related; boundary="related"\r\n'
    "\r\n"
    "--related\r\n"
    'Content-Type: multipart/alternative; boundary="alt"\r\n'
    "\r\n"
    "--alt\r\n"
    'Content-Type: text/plain; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Voil=C3=A0 mon CV.\r\n"
    "--alt\r\n"
    'Content-Type: text/html; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    '<p>Voilà mon CV. <img src="cid:photo@example.org"></p>\r\n'
    "--alt--\r\n"
    "--related\r\n"
    "Content-Type: image/png\r\n"
    'Content-Disposition: inline; filename="photo.png"\r\n'
    "Content-ID: <photo@example.org>\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    f"{base64.b64encode(PNG).decode('ascii')}\r\n"
    "--related--\r\n"
    "--outer\r\n"
    'Content-Type: text/plain; charset="iso-8859-1"\r\n'
    'Content-Disposition: attachment; filename="cv.txt"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Ren=E9e Dupont\r\n"
    "--outer--\r\n"
)


class TestRawMimeForward:
    def test_spec_sample(self, webhook_client, inbound_events):
        fields = [
            *signing_fields(),
            ("recipient", "inbox@in.example.com"),
            ("sender", "alice@example.org"),
            (
                "body-mime",
                "From: Alice <alice@example.org>\r\nTo: inbox@in.example.com\r\n"
                "Subject: Hi\r\n\r\nHello",
            ),
        ]
        response = post_urlencoded(webhook_client, fields, url=MIME_URL)
        assert response.status_code == 200
        event = inbound_events.event
        assert event.event_type == "inbound"
        assert event.event_id == "abc123token"
        assert event.timestamp == EVENT_TIME
        message = event.message
        assert message.subject == "Hi"
        assert message.text == "Hello"
        assert message.envelope_sender == "alice@example.org"
        assert message.envelope_recipient == "inbox@in.example.com"
        assert message.spam_detected is False
        assert message.spam_score is None

    def test_realistic_mime_post(self, webhook_client, inbound_events):
        parts = [
            ("recipient", "inbox@in.example.com"),
            ("sender", "bounces+renee=example.org@mail.example.org"),
            ("subject", "Résumé ✓"),
            ("from", "Renée Dupont <renee@example.org>"),
            *signing_fields(),
            ("body-mime", RAW_MIME),
        ]
        response = post_multipart(webhook_client, parts, url=MIME_URL)
        assert response.status_code == 200
        call = inbound_events.calls[0]
        assert call["sender"] is MailgunInboundWebhookView
        assert call["esp_name"] == "Mailgun"
        event = inbound_events.event
        assert event.timestamp == EVENT_TIME
        assert event.event_id == TOKEN
        assert event.esp_event.POST["subject"] == "Résumé ✓"

        message = event.message
        assert message.defects == []
        assert message.from_email.display_name == "Renée Dupont"
        assert message.from_email.addr_spec == "renee@example.org"
        assert [(a.display_name, a.addr_spec) for a in message.to] == [
            ("Équipe", "inbox@in.example.com")
        ]
        assert [str(addr) for addr in message.cc] == ["bob@example.net"]
        assert message.subject == "Re\u0301sume\u0301 ✓"
        assert message.date == datetime(
            2023, 11, 14, 14, 13, 19, tzinfo=timezone(timedelta(hours=-8))
        )
        # (the line break before a boundary belongs to the boundary)
        assert message.text == "Voilà mon CV."
        assert message.html == '<p>Voilà mon CV. <img src="cid:photo@example.org"></p>'
        (cv,) = message.attachments
        assert cv.get_filename() == "cv.txt"
        assert cv.get_content_text() == "Renée Dupont"
        (photo,) = message.inlines
        assert message.content_id_map == {"photo@example.org": photo}
        assert photo.get_content_bytes() == PNG
        assert photo.get_filename() == "photo.png"
        assert message.envelope_sender == "bounces+renee=example.org@mail.example.org"
        assert message.envelope_recipient == "inbox@in.example.com"
        assert message.spam_detected is False
        assert message.spam_score == 0.3
        assert message.stripped_text is None
        assert message.stripped_html is None

    def test_mime_post_to_either_url(self, webhook_client, inbound_events):
        fields = [*signing_fields(), ("body-mime", "Subject: Either\r\n\r\nBody\r\n")]
        assert post_urlencoded(webhook_client, fields, url=URL).status_code == 200
        assert post_urlencoded(webhook_client, fields, url=MIME_URL).status_code == 200
        assert [event.message.subject for event in inbound_events.events] == [
            "Either",
            "Either",
        ]

    def test_stripped_fields_with_mime(self, webhook_client, inbound_events):
        fields = [
            *signing_fields(),
            ("body-mime", "Subject: S\r\n\r\nBody\r\n> quoted\r\n"),
            ("stripped-text", "Body\r\n"),
            ("stripped-html", "<p>Body</p>"),
        ]
        assert post_urlencoded(webhook_client, fields).status_code == 200
        message = inbound_events.event.message
        assert message.text == "Body\n> quoted\n"
        # (ESP-supplied strings are left as they are)
        assert message.stripped_text == "Body\r\n"
        assert message.stripped_html == "<p>Body</p>"

    def test_body_mime_wins_over_parsed_fields(self, webhook_client, inbound_events):
        fields = [
            *signing_fields(),
            ("message-headers", json.dumps([["Subject", "From the parsed fields"]])),
            ("body-plain", "parsed"),
            ("body-mime", "Subject: From the raw message\r\n\r\nraw\r\n"),
        ]
        assert post_urlencoded(webhook_client, fields).status_code == 200
        message = inbound_events.event.message
        assert message.subject == "From the raw message"
        assert message.text == "raw\n"

    def test_field_parsed_in_pieces(self, webhook_client, inbound_events):
        # A big body-mime field is encoded and fed to the parser a piece at a
        # time, never as one full-size bytes copy
        big_text = ("Lorem ipsum dolor sit amet ✓ " * 4000 + "\r\n") * 3
        raw = (
            "Subject: Big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + big_text
        )
        fields = [*signing_fields(), ("body-mime", raw)]
        pieces = []
        original = AnymailInboundMessage.parse_raw_mime_chunks.__func__

        def spy(cls, chunks):
            def recording():
                for chunk in chunks:
                    pieces.append(len(chunk))
                    yield chunk

            return original(cls, recording())

        with (
            mock.patch.object(
                AnymailInboundMessage, "parse_raw_mime_chunks", classmethod(spy)
            ),
            mock.patch.object(
                AnymailInboundMessage,
                "parse_raw_mime_bytes",
                side_effect=AssertionError("whole-message bytes parse"),
            ),
        ):
            assert post_urlencoded(webhook_client, fields).status_code == 200
        assert len(pieces) > 3
        assert max(pieces) <= 65536 * 4  # (at most 4 UTF-8 bytes per character)
        assert sum(pieces) == len(raw.encode("utf-8"))
        message = inbound_events.event.message
        assert message.subject == "Big"
        assert message.text == big_text.replace("\r\n", "\n")

    def test_body_mime_file_upload_is_streamed(
        self, webhook_client, inbound_events, settings
    ):
        # An 8-bit message as an uploaded file: parsed from its bytes, in pieces
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
        body = "Grüße aus Köln.\r\n".encode("iso-8859-1") * 10000
        raw = (
            b"Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n"
            b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
        )
        parts = [
            *signing_fields(),
            ("sender", "koeln@example.de"),
            ("body-mime", raw, "message.mime", "message/rfc822"),
        ]
        pieces = []
        original = AnymailInboundMessage.parse_raw_mime_chunks.__func__

        def spy(cls, chunks):
            def recording():
                for chunk in chunks:
                    pieces.append(len(chunk))
                    yield chunk

            return original(cls, recording())

        with mock.patch.object(
            AnymailInboundMessage, "parse_raw_mime_chunks", classmethod(spy)
        ):
            response = post_multipart(webhook_client, parts, url=MIME_URL)
        assert response.status_code == 200
        assert isinstance(
            inbound_events.event.esp_event.FILES["body-mime"], TemporaryUploadedFile
        )
        assert len(pieces) > 1
        assert sum(pieces) == len(raw)
        message = inbound_events.event.message
        assert message.subject == "Grüße"
        assert message.get_content_bytes() == body
        assert message.text == "Grüße aus Köln.\n" * 10000
        assert message.envelope_sender == "koeln@example.de"

    @pytest.mark.parametrize(
        "raw, check",
        [
            pytest.param(
                "Subject: No boundary\r\nContent-Type: multipart/mixed\r\n\r\nbody\r\n",
                lambda m: m.subject == "No boundary" and m.text is None and m.defects,
                id="multipart-without-boundary",
            ),
            pytest.param(
                'Subject: Cut\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
                "--b\r\nContent-Type: text/plain\r\n\r\nthe start of a mess",
                lambda m: m.text == "the start of a mess" and m.defects,
                id="truncated",
            ),
            pytest.param(
                "Subject: Odd charset\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n/w==\r\n",
                lambda m: m.text == "\ufffd",
                id="wrong-charset",
            ),
            pytest.param(
                "Subject: Bad base64\r\nContent-Transfer-Encoding: base64\r\n"
                "\r\n!!!\r\n",
                lambda m: m.subject == "Bad base64",
                id="bad-base64",
            ),
            pytest.param(
                "Subject: =?utf-8?q?Not_a_char:_=88.?=\r\nFrom: not an address\r\n\r\n",
                lambda m: m.subject == "Not a char: \ufffd.",
                id="bad-headers",
            ),
            pytest.param(
                "just some text, no headers at all",
                lambda m: m.keys() == [],
                id="no-headers",
            ),
            pytest.param("", lambda m: m.keys() == [] and not m.text, id="empty"),
        ],
    )
    def test_malformed_mime_is_delivered(
        self, webhook_client, inbound_events, raw, check
    ):
        fields = [*signing_fields(), ("body-mime", raw)]
        assert post_urlencoded(webhook_client, fields).status_code == 200
        assert check(inbound_events.event.message)

    def test_8bit_field_is_delivered(self, webhook_client, inbound_events):
        # Raw 8-bit bytes in the body-mime *field*: Django decodes form fields
        # as UTF-8 with replacement, so the bytes that aren't UTF-8 are lost
        # (use a file upload to keep them), but the message still arrives
        raw = b"Subject: caf\xe9\r\nContent-Type: text/plain\r\n\r\ncaf\xe9\r\n"
        parts = [*signing_fields(), ("body-mime", raw)]
        assert post_multipart(webhook_client, parts).status_code == 200
        message = inbound_events.event.message
        assert message.text.startswith("caf")
        assert "\ufffd" in message.text


# ---------------------------------------------------------------------------
# Misdirected webhooks


class TestMisdirected:
    def test_tracking_json_posted_to_inbound(self, webhook_client, inbound_events):
        payload = {
            "signature": {
                "timestamp": TIMESTAMP,
                "token": TOKEN,
                "signature": mailgun_signature(),
            },
            "event-data": {"event": "delivered", "timestamp": 1700000000.25},
        }
        with pytest.raises(AnymailConfigurationError) as excinfo:
            webhook_client.post(
                URL, json.dumps(payload), content_type="application/json"
            )
        assert str(excinfo.value) == (
            "You seem to have set Mailgun's *delivered tracking* webhook"
            " to Anymail's Mailgun *inbound* webhook URL."
            " (Or Mailgun has changed inbound events to use json.)"
        )
        assert inbound_events.calls == []

    def test_tracking_json_with_bad_signature_is_400(
        self, webhook_client, inbound_events, security_log
    ):
        payload = {
            "signature": {
                "timestamp": TIMESTAMP,
                "token": TOKEN,
                "signature": "0" * 64,
            },
            "event-data": {"event": "delivered"},
        }
        response = webhook_client.post(
            URL, json.dumps(payload), content_type="application/json"
        )
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]
        assert inbound_events.calls == []

    def test_legacy_tracking_form_posted_to_inbound(
        self, webhook_client, inbound_events
    ):
        fields = [
            ("event", "opened"),
            ("recipient", "bob@example.com"),
            ("event", "a user variable named event"),
            *signing_fields(),
        ]
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_urlencoded(webhook_client, fields)
        assert str(excinfo.value) == (
            "You seem to have set Mailgun's *opened tracking* webhook"
            " to Anymail's Mailgun *inbound* webhook URL."
        )
        assert inbound_events.calls == []

    def test_event_inbound_is_accepted(self, webhook_client, inbound_events):
        fields = [
            ("event", "inbound"),
            *signing_fields(),
            ("body-mime", "Subject: ok\r\n\r\n"),
        ]
        assert post_urlencoded(webhook_client, fields).status_code == 200
        assert inbound_events.event.message.subject == "ok"

    def test_store_notification(self, webhook_client, inbound_events):
        stored = [
            {
                "url": "https://storage.mailgun.net/v3/domains/x/messages/y/attachments/0",
                "content-type": "application/pdf",
                "name": "order.pdf",
                "size": 64,
            }
        ]
        fields = [
            ("recipient", "inbox@in.example.com"),
            ("sender", "renee@example.org"),
            ("attachments", json.dumps(stored)),
            ("message-url", "https://storage.mailgun.net/v3/domains/x/messages/y"),
            *signing_fields(),
        ]
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_urlencoded(webhook_client, fields)
        assert str(excinfo.value) == (
            "You seem to have configured Mailgun's receiving route using the"
            " store() action. Anymail's inbound webhook requires the forward()"
            " action."
        )
        assert inbound_events.calls == []

    def test_misdirection_checked_after_signature(
        self, webhook_client, inbound_events, security_log
    ):
        fields = [("event", "opened"), *signing_fields(token="other-token")]
        fields[-1] = ("signature", mailgun_signature())  # for TOKEN, not other-token
        response = post_urlencoded(webhook_client, fields)
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_inbound_posted_to_tracking(
        self, webhook_client, inbound_events, tracking_events
    ):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_multipart(webhook_client, parsed_post_parts(), url=TRACKING_URL)
        assert str(excinfo.value) == (
            "You seem to have set Mailgun's *inbound* route"
            " to Anymail's Mailgun *tracking* webhook URL."
        )
        assert tracking_events.calls == []
        assert inbound_events.calls == []


# ---------------------------------------------------------------------------
# Signature and basic auth


class TestSignature:
    def test_spec_check_value(self, webhook_client, inbound_events):
        assert mailgun_signature() == SPEC_CHECK_SIGNATURE
        fields = [
            ("timestamp", TIMESTAMP),
            ("token", TOKEN),
            ("signature", SPEC_CHECK_SIGNATURE),
            ("body-mime", "Subject: ok\r\n\r\n"),
        ]
        assert post_urlencoded(webhook_client, fields).status_code == 200
        assert inbound_events.event.event_id == TOKEN

    @pytest.mark.parametrize(
        "fields",
        [
            pytest.param(
                [("timestamp", TIMESTAMP), ("token", TOKEN), ("signature", "0" * 64)],
                id="wrong",
            ),
            pytest.param(
                signing_fields(key="some-other-key"),
                id="other-key",
            ),
            pytest.param(
                [
                    ("timestamp", "1700000001"),
                    ("token", TOKEN),
                    ("signature", SPEC_CHECK_SIGNATURE),
                ],
                id="tampered-timestamp",
            ),
            pytest.param(
                [
                    ("timestamp", TIMESTAMP),
                    ("token", "abc123tokeN"),
                    ("signature", SPEC_CHECK_SIGNATURE),
                ],
                id="tampered-token",
            ),
            pytest.param(
                [
                    ("timestamp", TIMESTAMP),
                    ("token", TOKEN),
                    ("signature", SPEC_CHECK_SIGNATURE.upper()),
                ],
                id="upper-case-hex",
            ),
            pytest.param(
                [("timestamp", TIMESTAMP), ("token", TOKEN), ("signature", "")],
                id="empty",
            ),
        ],
    )
    def test_incorrect_signature(
        self, webhook_client, inbound_events, security_log, fields
    ):
        response = post_multipart(
            webhook_client, fields + [("body-mime", "Subject: x\r\n\r\n")]
        )
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]
        assert inbound_events.calls == []

    @pytest.mark.parametrize("missing", ["timestamp", "token", "signature"])
    def test_missing_security_field(
        self, webhook_client, inbound_events, security_log, missing
    ):
        fields = [field for field in signing_fields() if field[0] != missing]
        response = post_multipart(
            webhook_client, fields + [("body-mime", "Subject: x\r\n\r\n")]
        )
        assert response.status_code == 400
        assert security_messages(security_log) == [MISSING_FIELDS]
        assert inbound_events.calls == []

    def test_signature_uses_last_values(self, webhook_client, inbound_events):
        fields = [
            ("token", "an-earlier-token"),
            ("timestamp", "1"),
            *signing_fields(),
            ("body-mime", "Subject: x\r\n\r\n"),
        ]
        assert post_urlencoded(webhook_client, fields).status_code == 200
        assert inbound_events.event.event_id == TOKEN
        assert inbound_events.event.timestamp == EVENT_TIME

    def test_signature_covers_only_timestamp_and_token(
        self, webhook_client, inbound_events
    ):
        # Mailgun's signature doesn't cover the message fields (that's why
        # WEBHOOK_SECRET basic auth is still worth having)
        parts = parsed_post_parts(**{"body-plain": "changed in transit"})
        assert post_multipart(webhook_client, parts).status_code == 200
        assert inbound_events.event.message.text == "changed in transit"

    def test_invalid_json_payload_format(
        self, webhook_client, inbound_events, security_log
    ):
        response = webhook_client.post(
            URL,
            '{"event-data": {"event": "delivered"}}',
            content_type="application/json",
        )
        assert response.status_code == 400
        assert security_messages(security_log) == [INVALID_FORMAT]
        assert inbound_events.calls == []

    def test_per_route_key(self, webhook_client, inbound_events):
        fields = [*signing_fields(key="route-key"), ("body-mime", "Subject: r\r\n\r\n")]
        response = post_urlencoded(
            webhook_client, fields, url="/custom/mailgun/inbound/"
        )
        assert response.status_code == 200
        assert inbound_events.event.message.subject == "r"
        # (the settings key isn't accepted on that route)
        fields = [*signing_fields(), ("body-mime", "Subject: r\r\n\r\n")]
        response = post_urlencoded(
            webhook_client, fields, url="/custom/mailgun/inbound/"
        )
        assert response.status_code == 400


class TestBasicAuth:
    @pytest.fixture(autouse=True)
    def webhook_secret(self, settings):
        settings.ANYMAIL = {
            "MAILGUN_WEBHOOK_SIGNING_KEY": KEY,
            "WEBHOOK_SECRET": "username:password",
        }

    def fields(self):
        return [*signing_fields(), ("body-mime", "Subject: auth\r\n\r\n")]

    def test_right_credentials(self, webhook_client, inbound_events):
        response = post_urlencoded(
            webhook_client,
            self.fields(),
            HTTP_AUTHORIZATION=basic_auth_header("username:password"),
        )
        assert response.status_code == 200
        assert inbound_events.event.message.subject == "auth"

    @pytest.mark.parametrize(
        "extra",
        [
            {},
            {"HTTP_AUTHORIZATION": basic_auth_header("username:wrong")},
            {"HTTP_AUTHORIZATION": "Bearer username:password"},
        ],
        ids=["missing", "wrong", "other-scheme"],
    )
    def test_wrong_or_missing_credentials(
        self, webhook_client, inbound_events, security_log, extra
    ):
        response = post_urlencoded(webhook_client, self.fields(), **extra)
        assert response.status_code == 400
        assert security_messages(security_log) == [BAD_BASIC_AUTH]
        assert inbound_events.calls == []

    def test_signature_still_checked(
        self, webhook_client, inbound_events, security_log
    ):
        fields = [*signing_fields(key="wrong"), ("body-mime", "Subject: x\r\n\r\n")]
        response = post_urlencoded(
            webhook_client,
            fields,
            HTTP_AUTHORIZATION=basic_auth_header("username:password"),
        )
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]
        assert inbound_events.calls == []


class TestSettings:
    @pytest.mark.parametrize(
        "anymail",
        [{}, {"WEBHOOK_SECRET": "username:password"}],
        ids=["no-secret", "secret"],
    )
    def test_never_warns(self, webhook_client, inbound_events, settings, anymail):
        settings.ANYMAIL = anymail
        settings.ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY = KEY
        fields = [*signing_fields(), ("body-mime", "Subject: quiet\r\n\r\n")]
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_urlencoded(
                webhook_client,
                fields,
                HTTP_AUTHORIZATION=basic_auth_header("username:password"),
            )
        assert response.status_code == 200
        assert inbound_events.event.message.subject == "quiet"

    def test_missing_key(self, settings, webhook_client, inbound_events):
        settings.ANYMAIL = {}
        fields = [*signing_fields(), ("body-mime", "Subject: x\r\n\r\n")]
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_urlencoded(webhook_client, fields)
        assert str(excinfo.value) == MISSING_KEY_MESSAGE
        assert inbound_events.calls == []

    @pytest.mark.parametrize("setting", ["ANYMAIL", "flat", "bare"])
    def test_api_key_fallback(self, settings, webhook_client, inbound_events, setting):
        settings.ANYMAIL = {}
        if setting == "ANYMAIL":
            settings.ANYMAIL = {"MAILGUN_API_KEY": "api-key"}
        elif setting == "flat":
            settings.ANYMAIL_MAILGUN_API_KEY = "api-key"
        else:
            settings.MAILGUN_API_KEY = "api-key"
        fields = [*signing_fields(key="api-key"), ("body-mime", "Subject: x\r\n\r\n")]
        assert post_urlencoded(webhook_client, fields).status_code == 200
        assert len(inbound_events.calls) == 1

    def test_as_view_kwargs(self, settings):
        settings.ANYMAIL = {}
        view = MailgunInboundWebhookView.as_view(webhook_signing_key="view-key")
        instance = view.view_class(**view.view_initkwargs)
        assert instance.webhook_signing_key == b"view-key"
        view = MailgunInboundWebhookView.as_view(api_key="view-api-key")
        instance = view.view_class(**view.view_initkwargs)
        assert instance.webhook_signing_key == b"view-api-key"

    def test_as_view_key_in_request(self, settings, inbound_events):
        settings.ANYMAIL = {}
        view = MailgunInboundWebhookView.as_view(webhook_signing_key="view-key")
        body = urlencode(
            [*signing_fields(key="view-key"), ("body-mime", "Subject: v\r\n\r\n")]
        )
        request = RequestFactory().post(
            URL, body, content_type="application/x-www-form-urlencoded"
        )
        assert view(request).status_code == 200
        assert inbound_events.event.message.subject == "v"

    def test_head_and_methods(self, webhook_client, inbound_events, security_log):
        response = webhook_client.head(URL)
        assert response.status_code == 200
        assert response.content == b""
        assert webhook_client.get(URL).status_code == 405
        assert inbound_events.calls == []
        assert security_messages(security_log) == []

    def test_urls(self):
        assert reverse("mailgun_inbound_webhook") == URL
        for url in (URL, MIME_URL):
            assert webhook_view_class(url) is MailgunInboundWebhookView

    def test_csrf_exempt(self):
        assert MailgunInboundWebhookView.as_view().csrf_exempt is True


def webhook_view_class(url):
    from django.urls import resolve

    return resolve(url).func.view_class


# ---------------------------------------------------------------------------
# Malformed posts: 400, nothing sent


class TestMalformed:
    @pytest.mark.parametrize(
        "overrides",
        [
            pytest.param({"message-headers": None}, id="no-message-headers"),
            pytest.param({"message-headers": "not json"}, id="headers-not-json"),
            pytest.param({"message-headers": '{"Subject": "x"}'}, id="headers-object"),
            pytest.param({"message-headers": '[["Subject"]]'}, id="headers-pair-short"),
            pytest.param({"message-headers": '[["Subject", 1]]'}, id="headers-number"),
            pytest.param({"message-headers": '["Subject"]'}, id="headers-not-pairs"),
            pytest.param({"attachment-count": "three"}, id="count-not-number"),
            pytest.param({"content-id-map": "not json"}, id="cid-map-not-json"),
            pytest.param({"content-id-map": '["<a>"]'}, id="cid-map-list"),
            pytest.param({"content-id-map": '{"<a>": 2}'}, id="cid-map-number"),
            pytest.param(
                {"timestamp": "soon", "signature": mailgun_signature("soon")},
                id="timestamp-not-number",
            ),
            pytest.param(
                {"timestamp": "1e400", "signature": mailgun_signature("1e400")},
                id="timestamp-float-text",
            ),
            pytest.param(
                {
                    "timestamp": "99999999999999999",
                    "signature": mailgun_signature("99999999999999999"),
                },
                id="timestamp-out-of-range",
            ),
        ],
    )
    def test_malformed_parsed_post(
        self, webhook_client, inbound_events, caplog, overrides
    ):
        response = post_multipart(webhook_client, parsed_post_parts(**overrides))
        assert response.status_code == 400
        assert response.content == b"Malformed Mailgun webhook payload"
        assert inbound_events.calls == []
        assert security_messages(caplog) == []

    def test_signed_json_without_event_is_misdirected(
        self, webhook_client, inbound_events, security_log
    ):
        # signed JSON with no event-data: still a Mailgun (tracking) webhook
        # pointed at the inbound URL, so it's reported as the setup problem
        payload = {
            "signature": {
                "timestamp": TIMESTAMP,
                "token": TOKEN,
                "signature": mailgun_signature(),
            }
        }
        with pytest.raises(AnymailConfigurationError, match=r"\*unknown tracking\*"):
            webhook_client.post(
                URL, json.dumps(payload), content_type="application/json"
            )
        assert inbound_events.calls == []

    def test_unparseable_multipart(self, webhook_client, inbound_events):
        response = webhook_client.post(
            URL, b"--x\r\nnot really\r\n", content_type="multipart/form-data"
        )
        assert response.status_code == 400
        assert response.content == b"Malformed Mailgun webhook payload"
        assert inbound_events.calls == []

    @pytest.mark.parametrize(
        "body, content_type, message",
        [
            (b"", "application/x-www-form-urlencoded", MISSING_FIELDS),
            (b"", "application/json", INVALID_FORMAT),
            (b"not json", "application/json", INVALID_FORMAT),
            (urlencode(signing_fields()).encode(), "text/plain", MISSING_FIELDS),
        ],
        ids=["empty-form", "empty-json", "not-json", "wrong-content-type"],
    )
    def test_unusable_bodies(
        self, webhook_client, inbound_events, security_log, body, content_type, message
    ):
        response = webhook_client.post(
            URL, body, content_type=content_type, CONTENT_TYPE=content_type
        )
        assert response.status_code == 400
        assert security_messages(security_log) == [message]
        assert inbound_events.calls == []

    def test_signed_but_empty(self, webhook_client, inbound_events):
        # signed, but neither body-mime nor message-headers
        response = post_urlencoded(webhook_client, signing_fields())
        assert response.status_code == 400
        assert response.content == b"Malformed Mailgun webhook payload"
        assert inbound_events.calls == []


class TestUploadLimits:
    """Django's DATA_UPLOAD_MAX_MEMORY_SIZE applies to form fields, not files."""

    RAW = "Subject: Large\r\n\r\n" + "x" * 5000 + "\r\n"

    def test_large_body_mime_field_is_refused(
        self, webhook_client, inbound_events, settings, caplog
    ):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
        parts = [*signing_fields(), ("body-mime", self.RAW)]
        response = post_multipart(webhook_client, parts, url=MIME_URL)
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert any(
            record.name == "django.security.RequestDataTooBig"
            for record in caplog.records
        )

    def test_large_attachment_file_is_fine(
        self, webhook_client, inbound_events, settings
    ):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
        parts = [
            ("message-headers", json.dumps([["Subject", "Large"]])),
            ("attachment-count", "1"),
            *signing_fields(),
            ("attachment-1", PDF * 200, "big.pdf", "application/pdf"),
        ]
        assert post_multipart(webhook_client, parts).status_code == 200
        (attachment,) = inbound_events.event.message.attachments
        assert attachment.get_content_bytes() == PDF * 200
