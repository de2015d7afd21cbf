"""SendGrid inbound webhook (Inbound Parse), through Django's test client."""

import json
import logging
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from django.http.request import RawPostDataException
from django.test import RequestFactory, override_settings

from anymail.exceptions import (
    AnymailInsecureWebhookWarning,
    AnymailNotSupportedWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.sendgrid import SendGridInboundWebhookView

from .conftest import basic_auth_header, security_messages

URL = "/anymail/sendgrid/inbound/"
BOUNDARY = "xYzZY-sendgrid-parse"
FORM_CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
NOT_SUPPORTED = (
    "django-anymail has dropped official support for SendGrid."
    " See https://github.com/anymail/django-anymail/issues/432."
)

pytestmark = [
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
    pytest.mark.filterwarnings(
        "ignore::anymail.exceptions.AnymailInsecureWebhookWarning"
    ),
]


def form_body(parts):
    """A multipart/form-data body, byte for byte as given.

    parts: (name, value) for fields, or (name, value, filename, content_type)
    for files; str values are sent as UTF-8, bytes as they are.
    """
    body = b""
    for name, value, *file_info in parts:
        body += f"--{BOUNDARY}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if file_info:
            filename, content_type = file_info
            disposition += f'; filename="{filename}"'
            body += (disposition + "\r\n").encode()
            body += f"Content-Type: {content_type}\r\n".encode()
        else:
            body += (disposition + "\r\n").encode()
        body += b"\r\n"
        body += value.encode("utf-8") if isinstance(value, str) else value
        body += b"\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return body


def post_form(client, parts, url=URL, **extra):
    return client.post(url, form_body(parts), content_type=FORM_CONTENT_TYPE, **extra)


# A realistic "parsed" Inbound Parse post (fields in SendGrid's usual order)
RAW_HEADERS = (
    "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn"
    " Wed, 27 Jul 2016 20:53:06 +0000 (UTC)\n"
    "Received: from mail-io0-f169.example.org (mail-io0-f169.example.org"
    " [209.85.223.169]) by mx0047p1mdw1.sendgrid.net (Postfix) with ESMTPS id"
    " AA9FFA817F2\n\tfor <inbound@inbound.example.com>;"
    " Wed, 27 Jul 2016 20:53:05 +0000 (UTC)\n"
    "MIME-Version: 1.0\n"
    "From: =?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.org>\n"
    "Date: Wed, 27 Jul 2016 13:53:04 -0700\n"
    "Message-ID: <CAEPk3R+4Zr@mail.example.org>\n"
    "Subject: =?UTF-8?B?Q2Fmw6kg4piVIG9yZGVy?=\n"
    'To: "Inbound =?UTF-8?Q?=E2=9C=89?=" <inbound@inbound.example.com>,'
    " other@example.com\n"
    "Cc: =?ISO-8859-1?Q?Andr=E9?= <andre@example.net>\n"
    'Content-Type: multipart/mixed; boundary="001a113df448cad2d00538a4b8a5"\n'
)
TEXT = "Hi there,\r\n\r\nYour café order ☕ is attached.\r\n"
HTML = '<p>Your café order ☕</p><img src="cid:ii_139db99fdb3c4a29">\r\n'
CSV = "Product,Price\r\nCafé,3.20\r\n".encode()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
ENVELOPE = '{"to":["inbound@inbound.example.com"],"from":"bounce+renee@example.org"}'
ATTACHMENT_INFO = {
    "attachment2": {
        "filename": "image.png",
        "name": "image.png",
        "type": "image/png",
        "content-id": "ii_139db99fdb3c4a29",
    },
    "attachment1": {"filename": "IGNORED.csv", "name": "order.csv", "type": "text/csv"},
}
CHARSETS = (
    '{"to":"UTF-8","cc":"UTF-8","html":"UTF-8","subject":"UTF-8",'
    '"from":"UTF-8","text":"UTF-8"}'
)


def parsed_parts(**replace):
    parts = {
        "headers": RAW_HEADERS,
        "dkim": "{@example.org : pass}",
        "content-ids": '{"ii_139db99fdb3c4a29":"attachment2"}',
        "to": '"Inbound ✉" <inbound@inbound.example.com>, other@example.com',
        "html": HTML,
        "from": "Renée Dupont <renee@example.org>",
        "text": TEXT,
        "sender_ip": "209.85.223.169",
        "spam_report": "Spam detection software ... 0.7 points",
        "envelope": ENVELOPE,
        "attachments": "2",
        "subject": "Café ☕ order",
        "spam_score": "0.7",
        "attachment-info": json.dumps(ATTACHMENT_INFO),
        "charsets": CHARSETS,
        "SPF": "pass",
        "attachment1": (CSV, "order.csv", "text/csv; charset=utf-8"),
        "attachment2": (PNG, "image.png", "image/png"),
    }
    parts.update(replace)
    return [
        (name, *value) if isinstance(value, tuple) else (name, value)
        for name, value in parts.items()
        if value is not None
    ]


class TestParsedMode:
    def test_realistic_post(self, webhook_client, inbound_events):
        response = post_form(webhook_client, parsed_parts())
        assert response.status_code == 200
        assert response.content == b""

        call = inbound_events.calls[0]
        assert len(inbound_events.calls) == 1
        assert call["sender"] is SendGridInboundWebhookView
        assert call["esp_name"] == "SendGrid"
        assert call["signal"] is inbound
        event = inbound_events.event
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.timestamp is None
        assert event.event_id is None
        # the Django request itself, with the form fields
        assert event.esp_event.POST["SPF"] == "pass"
        assert event.esp_event.FILES["attachment2"].name == "image.png"

        message = event.message
        assert isinstance(message, AnymailInboundMessage)
        assert str(message.from_email) == "Renée Dupont <renee@example.org>"
        assert message.from_email.addr_spec == "renee@example.org"
        assert [str(a) for a in message.to] == [
            "Inbound ✉ <inbound@inbound.example.com>",
            "other@example.com",
        ]
        assert [str(a) for a in message.cc] == ["André <andre@example.net>"]
        assert message.bcc == []
        assert message.subject == "Café ☕ order"
        assert message.date == datetime(
            2016, 7, 27, 13, 53, 4, tzinfo=timezone(timedelta(hours=-7))
        )
        assert message["Message-ID"] == "<CAEPk3R+4Zr@mail.example.org>"
        assert len(message.get_all("Received")) == 2
        assert message.get_content_type() == "multipart/mixed"
        assert message.text == "Hi there,\n\nYour café order ☕ is attached.\n"
        assert message.html == (
            '<p>Your café order ☕</p><img src="cid:ii_139db99fdb3c4a29">\n'
        )

        assert len(message.attachments) == 1
        csv = message.attachments[0]
        assert csv.get_filename() == "order.csv"  # the upload's, not the info's
        assert csv.get_content_type() == "text/csv"
        assert csv.get_content_charset() == "utf-8"
        assert csv.get_content_bytes() == CSV
        assert csv.get_content_text() == "Product,Price\nCafé,3.20\n"

        assert list(message.content_id_map) == ["ii_139db99fdb3c4a29"]
        image = message.content_id_map["ii_139db99fdb3c4a29"]
        assert image.is_inline()
        assert image.get_filename() == "image.png"
        assert image.get_content_type() == "image/png"
        assert image.get_content_bytes() == PNG
        assert message.inlines == [image]

        assert message.envelope_sender == "bounce+renee@example.org"
        assert message.envelope_recipient == "inbound@inbound.example.com"
        assert message.spam_score == 0.7
        assert message.spam_detected is None
        assert message.stripped_text is None
        assert message.stripped_html is None

    def test_spec_sample(self, webhook_client, inbound_events):
        parts = [
            (
                "headers",
                "From: Ann <ann@example.org>\nTo: in@inbound.example.com\n"
                "Subject: Hi\nDate: Mon, 2 Jan 2023 10:00:00 +0000\n",
            ),
            ("text", "Hello"),
            ("html", "<p>Hello</p>"),
            (
                "charsets",
                '{"text":"UTF-8","html":"UTF-8","subject":"UTF-8",'
                '"from":"UTF-8","to":"UTF-8"}',
            ),
            (
                "envelope",
                '{"to":["in@inbound.example.com"],"from":"bounce@example.org"}',
            ),
            ("spam_score", "0.4"),
        ]
        assert post_form(webhook_client, parts).status_code == 200
        message = inbound_events.event.message
        assert str(message.from_email) == "Ann <ann@example.org>"
        assert message.subject == "Hi"
        assert message.date == datetime(2023, 1, 2, 10, tzinfo=timezone.utc)
        assert message.text == "Hello"
        assert message.html == "<p>Hello</p>"
        assert message.envelope_sender == "bounce@example.org"
        assert message.envelope_recipient == "in@inbound.example.com"
        assert message.spam_score == 0.4
        assert message.spam_detected is None
        assert message.attachments == []
        assert message.content_id_map == {}

    def test_headers_field_wins_over_separate_fields(
        self, webhook_client, inbound_events
    ):
        parts = parsed_parts(
            **{"from": "Spoof <spoof@example.com>", "subject": "Spoofed", "to": "x@y"}
        )
        post_form(webhook_client, parts)
        message = inbound_events.event.message
        assert message.from_email.addr_spec == "renee@example.org"
        assert message.subject == "Café ☕ order"
        assert message.to[1].addr_spec == "other@example.com"

    def test_unencoded_utf8_headers(self, webhook_client, inbound_events):
        headers = "From: Zoë <zoe@example.org>\nSubject: Grüße ✓\nTo: in@example.com\n"
        post_form(webhook_client, [("headers", headers), ("text", "x")])
        message = inbound_events.event.message
        assert message.subject == "Grüße ✓"
        assert message.from_email.display_name == "Zoë"

    def test_missing_bodies_are_none(self, webhook_client, inbound_events):
        post_form(webhook_client, [("headers", "Subject: empty\n")])
        message = inbound_events.event.message
        assert message.subject == "empty"
        assert message.text is None
        assert message.html is None
        assert message.envelope_sender is None
        assert message.envelope_recipient is None
        assert message.spam_score is None

    def test_empty_headers_field_is_parsed_mode(self, webhook_client, inbound_events):
        response = post_form(webhook_client, [("headers", ""), ("text", "Hi")])
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.from_email is None
        assert message.text == "Hi"


class TestCharsets:
    def _post(self, webhook_client, text_bytes, html_bytes, charsets):
        parts = [
            ("headers", "From: a@example.org\nSubject: Charsets\n"),
            ("text", text_bytes),
            ("html", html_bytes),
            ("charsets", charsets),
        ]
        return post_form(webhook_client, parts)

    def test_bodies_redecoded_with_declared_charsets(
        self, webhook_client, inbound_events
    ):
        response = self._post(
            webhook_client,
            "Œuvre d’art – 5 €\r\n".encode("windows-1252"),
            "<p>Ça coûte 5 €</p>".encode("iso-8859-15"),
            '{"text": "windows-1252", "html": "ISO-8859-15", "subject": "UTF-8"}',
        )
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.text == "Œuvre d’art – 5 €\n"
        assert message.html == "<p>Ça coûte 5 €</p>"
        # (the request's own fields are Django's, decoded as UTF-8)
        assert (
            "\N{REPLACEMENT CHARACTER}" in inbound_events.event.esp_event.POST["text"]
        )

    def test_multibyte_charset(self, webhook_client, inbound_events):
        self._post(
            webhook_client,
            "日本語のテキスト".encode("iso-2022-jp"),
            "<p>日本語</p>".encode("shift_jis"),
            '{"text": "iso-2022-jp", "html": "shift_jis"}',
        )
        message = inbound_events.event.message
        assert message.text == "日本語のテキスト"
        assert message.html == "<p>日本語</p>"

    def test_only_declared_fields_redecoded(self, webhook_client, inbound_events):
        self._post(
            webhook_client,
            "café".encode("iso-8859-1"),
            "<p>café</p>".encode(),
            '{"text": "iso-8859-1", "html": "utf8"}',
        )
        message = inbound_events.event.message
        assert message.text == "café"
        assert message.html == "<p>café</p>"

    @pytest.mark.parametrize(
        "charsets",
        ["not json", '["iso-8859-1"]', '{"text": "x-no-such-charset"}', "", None],
        ids=["not-json", "not-object", "unknown-charset", "empty", "missing"],
    )
    def test_unusable_charsets_keep_form_decoding(
        self, webhook_client, inbound_events, charsets
    ):
        parts = [
            ("headers", "Subject: Charsets\n"),
            ("text", "café".encode("iso-8859-1")),
        ]
        if charsets is not None:
            parts.append(("charsets", charsets))
        response = post_form(webhook_client, parts)
        assert response.status_code == 200
        assert inbound_events.event.message.text == "caf\N{REPLACEMENT CHARACTER}"

    def test_wrong_declared_charset_does_not_fail(self, webhook_client, inbound_events):
        # declared utf-16 for bytes that aren't
        response = self._post(
            webhook_client, b"abc", b"<p>x</p>", '{"text": "utf-16", "html": "ascii"}'
        )
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.text is not None  # whatever utf-16 makes of it
        assert message.html == "<p>x</p>"

    def test_request_body_stays_available(self, webhook_client, inbound_events):
        parts = parsed_parts()
        post_form(webhook_client, parts)
        assert inbound_events.event.esp_event.body == form_body(parts)


class TestLargePost:
    """Bodies too big for request.body are spooled, not read into memory."""

    BIG = bytes(range(256)) * 400  # 100 KiB attachment

    def _parts(self):
        return [
            ("headers", "From: a@example.org\nSubject: Big\n"),
            ("text", "Grüße aus Köln".encode("iso-8859-1")),
            ("html", "<p>Grüße</p>".encode("windows-1252")),
            ("charsets", '{"text": "iso-8859-1", "html": "windows-1252"}'),
            ("attachment-info", '{"attachment1": {"type": "application/pdf"}}'),
            ("attachment1", self.BIG, "big.pdf", "application/pdf"),
            ("envelope", '{"to": ["in@example.com"], "from": "a@example.org"}'),
        ]

    @override_settings(
        DATA_UPLOAD_MAX_MEMORY_SIZE=4096, FILE_UPLOAD_MAX_MEMORY_SIZE=1024
    )
    def test_large_post_redecoded_from_spool(self, webhook_client, inbound_events):
        response = post_form(webhook_client, self._parts())
        assert response.status_code == 200
        event = inbound_events.event
        message = event.message
        assert message.text == "Grüße aus Köln"
        assert message.html == "<p>Grüße</p>"
        [attachment] = message.attachments
        assert attachment.get_filename() == "big.pdf"
        assert attachment.get_content_bytes() == self.BIG
        assert message.envelope_recipient == "in@example.com"
        # the raw body was never loaded into memory as request.body
        with pytest.raises(RawPostDataException):
            event.esp_event.body  # noqa: B018
        # but the request's form is there for receivers
        assert event.esp_event.POST["envelope"].startswith('{"to"')
        assert event.esp_event.FILES["attachment1"].size == len(self.BIG)

    @override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None)
    def test_no_limit_reads_body(self, webhook_client, inbound_events):
        parts = self._parts()
        assert post_form(webhook_client, parts).status_code == 200
        assert inbound_events.event.message.text == "Grüße aus Köln"
        assert inbound_events.event.esp_event.body == form_body(parts)

    @pytest.mark.parametrize(
        "max_memory_size", [None, 4096], ids=["small-post", "large-post"]
    )
    def test_form_already_parsed_falls_back_to_form_decoding(
        self, inbound_events, max_memory_size
    ):
        # (e.g. a middleware read request.POST before the view)
        request = RequestFactory().post(
            URL, form_body(self._parts()), content_type=FORM_CONTENT_TYPE
        )
        with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=max_memory_size):
            request.POST  # noqa: B018
            response = SendGridInboundWebhookView.as_view()(request)
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.text == "Gr\ufffd\ufffde aus K\ufffdln"
        assert message.attachments[0].get_content_bytes() == self.BIG


RAW_MIME = """\
Received: from mail.example.org by mx.sendgrid.net; Wed, 27 Jul 2016 20:53:06 +0000
From: =?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.org>
To: "Inbound" <inbound@inbound.example.com>
Cc: cc@example.net
Subject: =?UTF-8?B?Q2Fmw6kg4piVIG9yZGVy?=
Date: Wed, 27 Jul 2016 13:53:04 -0700
Message-ID: <raw-1@mail.example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/related; boundary="related"

--related
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Your café order ☕ is attached.

--alt
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<p>Your caf=C3=A9 order</p><img src=3D"cid:logo@example.org">
--alt--
--related
Content-Type: image/png; name="logo.png"
Content-Disposition: inline; filename="logo.png"
Content-ID: <logo@example.org>
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB
--related--
--mixed
Content-Type: text/csv; charset="utf-8"; name="order.csv"
Content-Disposition: attachment; filename="order.csv"
Content-Transfer-Encoding: base64

UHJvZHVjdCxQcmljZQ0KQ2Fmw6ksMy4yMA0K
--mixed--
"""


class TestRawMode:
    def _raw_parts(self, email=RAW_MIME, **extra):
        return [
            ("dkim", "{@example.org : pass}"),
            ("email", email),
            ("to", "inbound@inbound.example.com"),
            ("from", "Renée Dupont <renee@example.org>"),
            ("sender_ip", "209.85.223.169"),
            ("envelope", ENVELOPE),
            ("subject", "Café ☕ order"),
            ("spam_score", "1.5"),
            ("charsets", '{"to":"UTF-8","from":"UTF-8","subject":"UTF-8"}'),
            ("SPF", "pass"),
            *extra.items(),
        ]

    def _assert_raw_message(self, message):
        assert str(message.from_email) == "Renée Dupont <renee@example.org>"
        assert [str(a) for a in message.to] == ["Inbound <inbound@inbound.example.com>"]
        assert [a.addr_spec for a in message.cc] == ["cc@example.net"]
        assert message.subject == "Café ☕ order"
        assert message.date == datetime(
            2016, 7, 27, 13, 53, 4, tzinfo=timezone(timedelta(hours=-7))
        )
        assert message["Message-ID"] == "<raw-1@mail.example.org>"
        assert message.text == "Your café order ☕ is attached.\n"
        assert message.html == '<p>Your café order</p><img src="cid:logo@example.org">'
        [csv] = message.attachments
        assert csv.get_filename() == "order.csv"
        assert csv.get_content_text() == "Product,Price\nCafé,3.20\n"
        assert list(message.content_id_map) == ["logo@example.org"]
        logo = message.content_id_map["logo@example.org"]
        assert logo.get_content_bytes() == (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
        )
        assert message.envelope_sender == "bounce+renee@example.org"
        assert message.envelope_recipient == "inbound@inbound.example.com"
        assert message.spam_score == 1.5
        assert message.spam_detected is None
        assert message.stripped_text is None
        assert message.stripped_html is None

    def test_raw_email_field(self, webhook_client, inbound_events):
        response = post_form(webhook_client, self._raw_parts())
        assert response.status_code == 200
        event = inbound_events.event
        assert event.event_type == "inbound"
        assert event.timestamp is None
        assert event.event_id is None
        assert event.esp_event.POST["SPF"] == "pass"
        assert inbound_events.calls[0]["sender"] is SendGridInboundWebhookView
        self._assert_raw_message(event.message)

    def test_raw_email_as_file_upload(self, webhook_client, inbound_events):
        parts = [part for part in self._raw_parts() if part[0] != "email"] + [
            ("email", RAW_MIME.encode(), "message.eml", "message/rfc822")
        ]
        assert post_form(webhook_client, parts).status_code == 200
        self._assert_raw_message(inbound_events.event.message)

    def test_crlf_raw_email(self, webhook_client, inbound_events):
        email = RAW_MIME.replace("\n", "\r\n")
        post_form(webhook_client, self._raw_parts(email=email))
        self._assert_raw_message(inbound_events.event.message)

    def test_raw_8bit_non_utf8_email_uses_exact_bytes(
        self, webhook_client, inbound_events
    ):
        email = (
            "From: a@example.org\r\nSubject: Latin\r\nMIME-Version: 1.0\r\n"
            'Content-Type: text/plain; charset="iso-8859-1"\r\n'
            "Content-Transfer-Encoding: 8bit\r\n\r\nUn café crème\r\n"
        ).encode("iso-8859-1")
        post_form(webhook_client, [("email", email)])
        assert inbound_events.event.message.text == "Un café crème\n"

    @pytest.mark.parametrize(
        "email",
        [
            "",
            "this is not a MIME message at all",
            "Subject: truncated\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
            "Content-Type: text/plain\n\nhalf a mess",
            "Content-Type: multipart/alternative\n\nno boundary",
            "Subject: =?utf-8?q?bad=88?=\nContent-Type: text/plain;"
            ' charset="utf-8"\n\n\udcff',
        ],
        ids=["empty", "garbage", "truncated", "no-boundary", "bad-encodings"],
    )
    def test_malformed_mime_never_fails(self, webhook_client, inbound_events, email):
        if "\udcff" in email:
            email = email.replace("\udcff", "").encode() + b"\xff\xfe"
        response = post_form(webhook_client, [("email", email)])
        assert response.status_code == 200
        message = inbound_events.event.message
        assert isinstance(message, AnymailInboundMessage)
        message.text  # noqa: B018 (no exception)
        message.subject  # noqa: B018

    def test_truncated_mime_keeps_what_arrived(self, webhook_client, inbound_events):
        truncated = RAW_MIME[: RAW_MIME.index("--related--")]
        post_form(webhook_client, [("email", truncated)])
        message = inbound_events.event.message
        assert message.subject == "Café ☕ order"
        assert message.text == "Your café order ☕ is attached.\n"
        assert message.defects or any(part.defects for part in message.walk())

    def test_headers_field_takes_precedence(self, webhook_client, inbound_events):
        parts = [("headers", "Subject: parsed\n"), ("email", RAW_MIME)]
        post_form(webhook_client, parts)
        assert inbound_events.event.message.subject == "parsed"


class TestAttachments:
    def _post(self, webhook_client, info, files):
        parts = [("headers", "Subject: files\n"), ("text", "see attached")]
        if info is not None:
            parts.append(("attachment-info", json.dumps(info)))
        parts.extend(files)
        return post_form(webhook_client, parts)

    def test_plain_string_sort_order(self, webhook_client, inbound_events):
        info = {
            f"attachment{n}": {"filename": f"f{n}.txt", "type": "text/plain"}
            for n in (1, 2, 10)
        }
        files = [
            (f"attachment{n}", f"file {n}", f"f{n}.txt", "text/plain")
            for n in (2, 10, 1)
        ]
        assert self._post(webhook_client, info, files).status_code == 200
        names = [a.get_filename() for a in inbound_events.event.message.attachments]
        assert names == ["f1.txt", "f10.txt", "f2.txt"]

    def test_missing_and_unnamed_files_skipped(self, webhook_client, inbound_events):
        info = {
            "attachment1": {"filename": "a.txt"},
            "attachment2": {"filename": "gone.txt"},  # never uploaded
            "attachment3": {"filename": ""},  # Django drops a blank filename
        }
        files = [
            ("attachment1", "A", "a.txt", "text/plain"),
            ("attachment3", "C", "", "text/plain"),
        ]
        assert self._post(webhook_client, info, files).status_code == 200
        [attachment] = inbound_events.event.message.attachments
        assert attachment.get_filename() == "a.txt"
        assert attachment.get_content_text() == "A"

    def test_uploaded_file_name_is_sanitized(self, webhook_client, inbound_events):
        info = {"attachment1": {"filename": "../../etc/passwd"}}
        files = [("attachment1", "x", "../../etc/passwd", "text/plain")]
        self._post(webhook_client, info, files)
        [attachment] = inbound_events.event.message.attachments
        assert attachment.get_filename() == "passwd"

    def test_no_attachment_info_no_attachments(self, webhook_client, inbound_events):
        files = [("attachment1", "A", "a.txt", "text/plain")]
        assert self._post(webhook_client, None, files).status_code == 200
        message = inbound_events.event.message
        assert message.attachments == []
        assert message.content_id_map == {}

    def test_non_ascii_filename_and_charset(self, webhook_client, inbound_events):
        info = {"attachment1": {"filename": "Übersicht.txt", "type": "text/plain"}}
        files = [
            (
                "attachment1",
                "Größe".encode("iso-8859-1"),
                "Übersicht.txt",
                "text/plain; charset=iso-8859-1",
            )
        ]
        self._post(webhook_client, info, files)
        [attachment] = inbound_events.event.message.attachments
        assert attachment.get_filename() == "Übersicht.txt"
        assert attachment.get_content_text() == "Größe"

    @pytest.mark.parametrize(
        "info",
        ["not json", '["attachment1"]', '{"attachment1": "a.txt"}'],
        ids=["not-json", "list", "entry-not-object"],
    )
    def test_malformed_attachment_info_is_400(
        self, webhook_client, inbound_events, info
    ):
        parts = [
            ("headers", "Subject: files\n"),
            ("attachment-info", info),
            ("attachment1", "A", "a.txt", "text/plain"),
        ]
        response = post_form(webhook_client, parts)
        assert response.status_code == 400
        assert inbound_events.calls == []


class TestEnvelopeAndSpam:
    def _post(self, webhook_client, **fields):
        parts = [("headers", "Subject: env\n"), *fields.items()]
        return post_form(webhook_client, parts)

    @pytest.mark.parametrize(
        "envelope", [None, "", "not json", "{"], ids=["missing", "empty", "bad", "cut"]
    )
    def test_unusable_envelope_ignored(self, webhook_client, inbound_events, envelope):
        fields = {} if envelope is None else {"envelope": envelope}
        assert self._post(webhook_client, **fields).status_code == 200
        message = inbound_events.event.message
        assert message.envelope_sender is None
        assert message.envelope_recipient is None

    def test_first_envelope_recipient(self, webhook_client, inbound_events):
        envelope = '{"to": ["one@example.com", "two@example.com"], "from": "s@x.org"}'
        self._post(webhook_client, envelope=envelope)
        message = inbound_events.event.message
        assert message.envelope_sender == "s@x.org"
        assert message.envelope_recipient == "one@example.com"

    @pytest.mark.parametrize(
        "envelope",
        [
            '{"to": [], "from": "s@x.org"}',
            '{"from": "s@x.org"}',
            '{"to": ["r@x.org"]}',
            '["r@x.org"]',
            '"r@x.org"',
        ],
        ids=["empty-to", "no-to", "no-from", "list", "string"],
    )
    def test_malformed_envelope_is_400(self, webhook_client, inbound_events, envelope):
        response = self._post(webhook_client, envelope=envelope)
        assert response.status_code == 400
        assert response.content == b"Malformed SendGrid webhook payload"
        assert inbound_events.calls == []

    @pytest.mark.parametrize(
        "spam_score, expected",
        [("3.14", 3.14), ("-0.5", -0.5), ("7", 7.0), ("", None), ("high", None)],
    )
    def test_spam_score(self, webhook_client, inbound_events, spam_score, expected):
        self._post(webhook_client, spam_score=spam_score)
        message = inbound_events.event.message
        assert message.spam_score == expected
        assert message.spam_detected is None


class TestMalformedAndMisdirected:
    def test_missing_headers_and_email_is_400(self, webhook_client, inbound_events):
        response = post_form(webhook_client, [("text", "Hi"), ("subject", "Hi")])
        assert response.status_code == 400
        assert response.content == b"Malformed SendGrid webhook payload"
        assert inbound_events.calls == []

    def test_tracking_payload_posted_to_inbound_is_400(
        self, webhook_client, inbound_events
    ):
        body = json.dumps([{"event": "delivered", "email": "pat@example.com"}])
        response = webhook_client.post(URL, body, content_type="application/json")
        assert response.status_code == 400
        assert inbound_events.calls == []

    @pytest.mark.parametrize(
        "body, content_type",
        [
            (b"", FORM_CONTENT_TYPE),
            (b"garbage", FORM_CONTENT_TYPE),
            (form_body([("headers", "Subject: x\n")]), "multipart/form-data"),
            (form_body([("headers", "Subject: x\n")])[:30], FORM_CONTENT_TYPE),
            (b"headers=x", "text/plain"),
        ],
        ids=["empty", "garbage", "no-boundary", "truncated-early", "wrong-type"],
    )
    def test_malformed_bodies_are_400(
        self, webhook_client, inbound_events, body, content_type
    ):
        response = webhook_client.post(URL, body, content_type=content_type)
        assert response.status_code == 400
        assert inbound_events.calls == []

    def test_truncated_post_keeps_what_arrived(self, webhook_client, inbound_events):
        body = form_body([("headers", "Subject: cut\n"), ("text", "hello world")])
        response = webhook_client.post(
            URL, body[: body.index(b"world")], content_type=FORM_CONTENT_TYPE
        )
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.subject == "cut"
        assert message.text == "hello "

    def test_head_is_200(self, webhook_client, inbound_events):
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": "u:p"}):
            response = webhook_client.head(URL)
        assert response.status_code == 200
        assert inbound_events.calls == []


class TestAuthAndWarnings:
    @override_settings(ANYMAIL={"WEBHOOK_SECRET": "in-user:in-pass"})
    def test_correct_basic_auth(self, webhook_client, inbound_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_form(
                webhook_client,
                parsed_parts(),
                HTTP_AUTHORIZATION=basic_auth_header("in-user:in-pass"),
            )
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": "in-user:in-pass"})
    @pytest.mark.parametrize(
        "extra",
        [{}, {"HTTP_AUTHORIZATION": basic_auth_header("in-user:nope")}],
        ids=["missing", "wrong"],
    )
    def test_refused_dispatches_nothing(
        self, webhook_client, inbound_events, caplog, extra
    ):
        caplog.set_level(logging.ERROR, logger="django.security")
        response = post_form(webhook_client, parsed_parts(), **extra)
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(caplog) == [
            "Missing or invalid basic auth in Anymail SendGrid webhook"
        ]

    @pytest.mark.parametrize(
        "anymail_settings",
        [
            {},
            # the tracking verification key doesn't secure inbound
            {"SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": "unused"},
        ],
        ids=["nothing", "tracking-key"],
    )
    def test_insecure_warning_without_secret(
        self, webhook_client, inbound_events, anymail_settings
    ):
        with (
            override_settings(ANYMAIL=anymail_settings),
            pytest.warns(AnymailInsecureWebhookWarning, match="WEBHOOK_SECRET"),
        ):
            response = post_form(webhook_client, parsed_parts())
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1

    def test_not_supported_warning_every_request(self, webhook_client):
        with pytest.warns(AnymailNotSupportedWarning) as record:
            post_form(webhook_client, parsed_parts())
            post_form(webhook_client, parsed_parts())
            webhook_client.head(URL)
        messages = [
            str(w.message)
            for w in record
            if issubclass(w.category, AnymailNotSupportedWarning)
        ]
        assert messages == [NOT_SUPPORTED] * 3
