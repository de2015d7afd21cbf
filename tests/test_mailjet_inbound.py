"""Mailjet inbound webhook (Parse API): MailjetInboundWebhookView."""

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
from django.urls import reverse

from anymail.exceptions import AnymailInsecureWebhookWarning
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.mailjet import MailjetInboundWebhookView

from .conftest import b64, basic_auth_header, post_json_with_auth, security_messages

URL = "/anymail/mailjet/inbound/"
SECRET = "mailjet:inbound:secret"
AUTH = basic_auth_header(SECRET)
AUTH_FAILURE = "Missing or invalid basic auth in Anymail Mailjet webhook"

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
CSV_LATIN1 = "Produit,Prix\r\nCafé crème,3.20\r\n".encode("iso-8859-1")
FORWARDED = (
    b"From: Carol <carol@example.com>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: Original message\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"The original text.\r\n"
)


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    """Most tests post with the right basic auth for this secret."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post_inbound(client, payload, auth=AUTH, url=URL, **extra):
    return post_json_with_auth(client, payload, auth=auth, url=url, **extra)


def realistic_payload():
    """A Parse API post, modeled on what Mailjet sends for a received message."""
    return {
        "Sender": "bounces+alice=example.org@mail.example.org",
        "Recipient": "support@parse.example.com",
        # Mailjet's convenience copies of some headers (not used by Anymail)
        "Date": "20231121T091500",
        "From": "Jöhn Dœ <john@example.net>",
        "Subject": "Café résumé",
        "Headers": {
            "Return-Path": ["<bounces+alice=example.org@mail.example.org>"],
            "Received": [
                "from mail.example.net (mail.example.net [192.0.2.25])"
                " by parse.mailjet.com; Tue, 21 Nov 2023 09:15:02 +0000",
                "by 10.0.0.1 with SMTP id abc123; Tue, 21 Nov 2023 10:15:00 +0100",
            ],
            "MIME-Version": ["1.0"],
            "From": ["Jöhn Dœ <john@example.net>"],
            "To": "Support <support@parse.example.com>, sales@parse.example.com",
            "Cc": ["=?utf-8?q?Fran=C3=A7oise?= <francoise@example.net>"],
            "Subject": ["=?utf-8?q?Caf=C3=A9_r=C3=A9sum=C3=A9?="],
            "Date": ["Tue, 21 Nov 2023 10:15:00 +0100"],
            "Message-ID": ["<CAF1234.5678@mail.example.net>"],
            "X-Mailer": "Example Mail 9.1",
            "Content-Type": ['multipart/mixed; boundary="b1_0123456789abcdef"'],
        },
        "Parts": [
            {
                "Headers": {
                    "Content-Type": 'multipart/related; boundary="b2_0123456789abcdef"'
                }
            },
            {
                "Headers": {
                    "Content-Type": 'multipart/alternative; boundary="b3_01234567"'
                }
            },
            {
                "Headers": {
                    "Content-Type": ['text/plain; charset="UTF-8"'],
                    "Content-Transfer-Encoding": ["quoted-printable"],
                },
                "ContentRef": "Text-part",
            },
            {
                "Headers": {
                    "Content-Type": ['text/html; charset="UTF-8"'],
                    "Content-Transfer-Encoding": ["quoted-printable"],
                },
                "ContentRef": "Html-part",
            },
            {
                "Headers": {
                    "Content-Type": ['image/png; name="logo.png"'],
                    "Content-Disposition": ['inline; filename="logo.png"'],
                    "Content-Transfer-Encoding": ["base64"],
                    "Content-ID": ["<logo@example.net>"],
                },
                "ContentRef": "InlineAttachment1",
            },
            {
                "Headers": {
                    "Content-Type": ['text/csv; charset="iso-8859-1"'],
                    "Content-Disposition": [
                        "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.csv"
                    ],
                    "Content-Transfer-Encoding": ["base64"],
                },
                "ContentRef": "Attachment1",
            },
            {
                "Headers": {
                    "Content-Type": ["message/rfc822"],
                    "Content-Disposition": ['attachment; filename="original.eml"'],
                },
                "ContentRef": "Attachment2",
            },
        ],
        "Text-part": "Bonjour,\r\n\r\nVoici le résumé.\r\n\r\n-- \r\nJöhn\r\n",
        "Html-part": (
            '<p>Bonjour,</p><p>Voici le résumé.</p><img src="cid:logo@example.net">'
        ),
        "InlineAttachment1": b64(PNG),
        "Attachment1": b64(CSV_LATIN1),
        "Attachment2": b64(FORWARDED),
        "SpamAssassinScore": "1.7",
        "CustomID": "",
        "Payload": "",
    }


# The message


def test_inbound_message(webhook_client, inbound_events):
    payload = realistic_payload()
    response = post_inbound(webhook_client, payload)
    assert response.status_code == 200
    assert response.content == b""

    call = inbound_events.calls[0]
    assert len(inbound_events.calls) == 1
    assert call["sender"] is MailjetInboundWebhookView
    assert call["esp_name"] == "Mailjet"
    assert call["signal"] is inbound
    event = call["event"]
    assert isinstance(event, AnymailInboundEvent)
    assert event.event_type == "inbound"
    assert event.timestamp is None
    assert event.event_id is None
    assert event.esp_event == payload

    message = event.message
    assert isinstance(message, AnymailInboundMessage)
    assert message.envelope_sender == "bounces+alice=example.org@mail.example.org"
    assert message.envelope_recipient == "support@parse.example.com"
    assert message.spam_detected is None
    assert message.spam_score == 1.7
    assert message.stripped_text is None
    assert message.stripped_html is None

    assert str(message.from_email) == "Jöhn Dœ <john@example.net>"
    assert message.from_email.display_name == "Jöhn Dœ"
    assert message.from_email.addr_spec == "john@example.net"
    assert [str(address) for address in message.to] == [
        "Support <support@parse.example.com>",
        "sales@parse.example.com",
    ]
    assert [(a.display_name, a.addr_spec) for a in message.cc] == [
        ("Françoise", "francoise@example.net")
    ]
    assert message.bcc == []
    assert message.subject == "Café résumé"
    assert message.date == datetime(
        2023, 11, 21, 10, 15, tzinfo=timezone(timedelta(hours=1))
    )
    assert message["Message-ID"] == "<CAF1234.5678@mail.example.net>"
    assert message["X-Mailer"] == "Example Mail 9.1"
    assert message.get_all("Received") == payload["Headers"]["Received"]

    # Mailjet's decoded bodies; line endings normalized
    assert message.text == "Bonjour,\n\nVoici le résumé.\n\n-- \nJöhn\n"
    assert message.html == (
        '<p>Bonjour,</p><p>Voici le résumé.</p><img src="cid:logo@example.net">'
    )

    csv, forwarded = message.attachments
    assert csv.get_content_type() == "text/csv"
    assert csv.get_filename() == "résumé.csv"
    assert csv.get_content_bytes() == CSV_LATIN1
    assert csv.get_content_text() == "Produit,Prix\nCafé crème,3.20\n"
    assert csv.is_attachment() and not csv.is_inline()
    upload = csv.as_uploaded_file()
    assert (upload.name, upload.content_type) == ("résumé.csv", "text/csv")
    assert upload.read() == CSV_LATIN1

    assert forwarded.get_content_type() == "message/rfc822"
    assert forwarded.get_filename() == "original.eml"
    inner = forwarded.get_payload(0)
    assert isinstance(inner, AnymailInboundMessage)
    assert inner.subject == "Original message"
    assert str(inner.from_email) == "Carol <carol@example.com>"
    assert inner.text == "The original text.\n"

    assert list(message.content_id_map) == ["logo@example.net"]
    logo = message.content_id_map["logo@example.net"]
    assert message.inlines == [logo]
    assert logo.get_content_type() == "image/png"
    assert logo.get_filename() == "logo.png"
    assert logo["Content-ID"] == "<logo@example.net>"
    assert logo.get_content_bytes() == PNG
    assert logo.is_inline() and not logo.is_attachment()


def test_message_structure(webhook_client, inbound_events):
    post_inbound(webhook_client, realistic_payload())
    message = inbound_events.event.message
    assert message.get_content_type() == "multipart/mixed"
    # the original Content-Type and MIME-Version are replaced, not repeated
    assert message.get_all("Content-Type") == ["multipart/mixed"]
    assert message.get_all("MIME-Version") == ["1.0"]
    related, csv, forwarded = message.get_payload()
    assert related.get_content_type() == "multipart/related"
    alternative, logo = related.get_payload()
    assert [part.get_content_type() for part in alternative.get_payload()] == [
        "text/plain",
        "text/html",
    ]
    assert logo is message.content_id_map["logo@example.net"]
    assert message.attachments == [csv, forwarded]
    assert message.defects == []

    # attachments are base64-encoded, so serializing keeps their content exact
    reparsed = AnymailInboundMessage.parse_raw_mime_bytes(message.as_bytes())
    assert [part.get_content_bytes() for part in reparsed.attachments[:1]] == [
        CSV_LATIN1
    ]
    assert reparsed.content_id_map["logo@example.net"].get_content_bytes() == PNG
    assert reparsed.attachments[1].get_payload(0).subject == "Original message"


def test_spec_sample(webhook_client, inbound_events):
    payload = {
        "Sender": "bounce@example.org",
        "Recipient": "inbox@parse.example.com",
        "Headers": {
            "From": "Alice <alice@example.org>",
            "To": "inbox@parse.example.com",
            "Subject": "Hi",
            "Received": ["from a ...", "from b ..."],
        },
        "Parts": [
            {
                "Headers": {"Content-Type": ['text/plain; charset="UTF-8"']},
                "ContentRef": "Text-part",
            },
            {
                "Headers": {
                    "Content-Type": ["image/png"],
                    "Content-Disposition": ['inline; filename="i.png"'],
                    "Content-ID": ["<img1>"],
                },
                "ContentRef": "InlineAttachment1",
            },
        ],
        "Text-part": "Hello",
        "InlineAttachment1": "iVBORw0KGgo=",
        "SpamAssassinScore": "0.5",
    }
    assert post_inbound(webhook_client, payload).status_code == 200
    event = inbound_events.event
    assert (event.event_type, event.timestamp, event.event_id) == (
        "inbound",
        None,
        None,
    )
    message = event.message
    assert message.subject == "Hi"
    assert message.text == "Hello"
    assert message.html is None
    assert message.get_all("Received") == ["from a ...", "from b ..."]
    assert message.attachments == []
    image = message.content_id_map["img1"]
    assert message.inlines == [image]
    assert image.get_filename() == "i.png"
    assert image.get_content_bytes() == b"\x89PNG\r\n\x1a\n"
    assert message.spam_score == 0.5
    assert message.spam_detected is None
    assert message.envelope_sender == "bounce@example.org"
    assert message.envelope_recipient == "inbox@parse.example.com"


def test_headers_flattened_in_order(webhook_client, inbound_events):
    payload = {
        "Headers": {
            "Received": ["from a", "from b"],
            "X-Single": "one",
            "X-Listed": ["two"],
            "X-Empty-List": [],
            "X-Null": None,
            "Subject": "Order",
        }
    }
    post_inbound(webhook_client, payload)
    message = inbound_events.event.message
    assert message.items() == [
        ("Received", "from a"),
        ("Received", "from b"),
        ("X-Single", "one"),
        ("X-Listed", "two"),
        ("Subject", "Order"),
        ("MIME-Version", "1.0"),
        ("Content-Type", "multipart/mixed"),
    ]


def test_top_level_convenience_fields_not_used(webhook_client, inbound_events):
    payload = {
        "From": "Top <top@example.com>",
        "Subject": "Top subject",
        "Date": "20231121T091500",
        "Headers": {"From": "Header <header@example.com>", "Subject": "Real"},
    }
    post_inbound(webhook_client, payload)
    message = inbound_events.event.message
    assert message.from_email.addr_spec == "header@example.com"
    assert message.subject == "Real"
    assert message.date is None


def test_minimal_payload(webhook_client, inbound_events):
    # No Headers or Parts: still one (empty) message
    payload = {"Sender": "a@example.com", "Recipient": "b@example.com"}
    assert post_inbound(webhook_client, payload).status_code == 200
    message = inbound_events.event.message
    assert message.envelope_sender == "a@example.com"
    assert message.envelope_recipient == "b@example.com"
    assert message.from_email is None
    assert message.to == []
    assert message.subject is None
    assert message.text is None
    assert message.html is None
    assert message.attachments == []
    assert message.spam_score is None


def test_empty_bodies(webhook_client, inbound_events):
    post_inbound(webhook_client, {"Text-part": "", "Html-part": None})
    message = inbound_events.event.message
    assert message.text == ""
    assert message.html is None


# Attachments


def attachment_payload(part_headers, content=b"content", content_ref="Attachment1"):
    part = {"ContentRef": content_ref}
    if part_headers is not None:
        part["Headers"] = part_headers
    return {
        "Headers": {"Subject": "Attachment test"},
        "Parts": [part],
        content_ref: b64(content),
    }


@pytest.mark.parametrize(
    "part_headers, content_type, filename",
    [
        pytest.param(
            {
                "Content-Type": "application/pdf",
                "Content-Disposition": 'attachment; filename="report.pdf"',
            },
            "application/pdf",
            "report.pdf",
            id="disposition-filename",
        ),
        pytest.param(
            {"Content-Type": 'application/pdf; name="by-name.pdf"'},
            "application/pdf",
            "by-name.pdf",
            id="content-type-name",
        ),
        pytest.param(
            {
                "Content-Type": 'application/pdf; name="by-name.pdf"',
                "Content-Disposition": 'attachment; filename="by-filename.pdf"',
            },
            "application/pdf",
            "by-filename.pdf",
            id="filename-wins",
        ),
        pytest.param(
            {"Content-Type": ["application/zip"]},
            "application/zip",
            None,
            id="no-filename",
        ),
        pytest.param(
            {"Content-Disposition": 'attachment; filename="notes"'},
            "text/plain",
            "notes",
            id="no-content-type",
        ),
        pytest.param(None, "text/plain", None, id="no-part-headers"),
        pytest.param(
            {"Content-Type": "multipart/mixed"},
            "application/octet-stream",
            None,
            id="multipart-blob",
        ),
    ],
)
def test_attachment_type_and_filename(
    webhook_client, inbound_events, part_headers, content_type, filename
):
    post_inbound(webhook_client, attachment_payload(part_headers))
    message = inbound_events.event.message
    (attachment,) = message.attachments
    assert attachment.get_content_type() == content_type
    assert attachment.get_filename() == filename
    assert attachment.get_content_bytes() == b"content"
    assert message.content_id_map == {}


@pytest.mark.parametrize(
    "content_id, key",
    [("<part1.abc@example.net>", "part1.abc@example.net"), ("bare-id", "bare-id")],
)
def test_inline_by_content_id(webhook_client, inbound_events, content_id, key):
    post_inbound(
        webhook_client,
        attachment_payload({"Content-Type": "image/gif", "Content-ID": content_id}),
    )
    message = inbound_events.event.message
    assert message.attachments == []
    part = message.content_id_map[key]
    assert part.is_inline()
    assert part["Content-ID"] == f"<{key}>"
    assert part.get_content_bytes() == b"content"


def test_empty_content_id_is_attachment(webhook_client, inbound_events):
    post_inbound(
        webhook_client,
        attachment_payload(
            {
                "Content-Type": "image/gif",
                "Content-Disposition": 'inline; filename="x.gif"',
                "Content-ID": "",
            }
        ),
    )
    message = inbound_events.event.message
    (attachment,) = message.attachments
    assert attachment.get_filename() == "x.gif"
    assert message.content_id_map == {}
    assert message.inlines == []


def test_only_attachment_content_refs(webhook_client, inbound_events):
    payload = {
        "Parts": [
            {"Headers": {"Content-Type": "multipart/alternative; boundary=x"}},
            {"Headers": {"Content-Type": "text/plain"}, "ContentRef": "Text-part"},
            {"Headers": {"Content-Type": "text/html"}, "ContentRef": "Html-part"},
            {"Headers": {"Content-Type": "text/plain"}, "ContentRef": "Other-part"},
            {"Headers": {"Content-Type": "image/png"}, "ContentRef": "Attachment1"},
            {
                "Headers": {"Content-Type": "image/png", "Content-ID": "<i>"},
                "ContentRef": "InlineAttachment1",
            },
        ],
        "Text-part": "Text",
        "Html-part": "<p>HTML</p>",
        "Other-part": "ignored",
        "Attachment1": b64(PNG),
        "InlineAttachment1": b64(PNG),
    }
    post_inbound(webhook_client, payload)
    message = inbound_events.event.message
    assert message.text == "Text"
    assert message.html == "<p>HTML</p>"
    assert len(message.attachments) == 1
    assert list(message.content_id_map) == ["i"]


def test_text_attachment_charset(webhook_client, inbound_events):
    content = "Ĝi estas retpoŝto.\r\n".encode("iso-8859-3")
    post_inbound(
        webhook_client,
        attachment_payload(
            {
                "Content-Type": 'text/plain; charset="ISO-8859-3"',
                "Content-Disposition": "attachment",
            },
            content=content,
        ),
    )
    (attachment,) = inbound_events.event.message.attachments
    assert attachment.get_content_bytes() == content
    assert attachment.get_content_text() == "Ĝi estas retpoŝto.\n"


# Leniency: odd content never becomes a server error


def test_lenient_base64(webhook_client, inbound_events):
    encoded = b64(PNG)
    wrapped = "\r\n".join(encoded[i : i + 20] for i in range(0, len(encoded), 20))
    payload = attachment_payload({"Content-Type": "image/png"})
    payload["Attachment1"] = wrapped.rstrip("=")  # line breaks, padding lost
    assert post_inbound(webhook_client, payload).status_code == 200
    (attachment,) = inbound_events.event.message.attachments
    assert attachment.get_content_bytes() == PNG


def test_truncated_base64(webhook_client, inbound_events):
    payload = attachment_payload({"Content-Type": "image/png"})
    payload["Attachment1"] = b64(PNG)[:-5]
    assert post_inbound(webhook_client, payload).status_code == 200
    (attachment,) = inbound_events.event.message.attachments
    assert PNG.startswith(attachment.get_content_bytes())


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"this is not\x00 a message at all \xff\xfe", id="garbage"),
        pytest.param(
            b"Subject: truncated\r\nContent-Type: multipart/mixed; boundary=zz\r\n"
            b"\r\n--zz\r\nContent-Type: text/plain\r\n\r\ncut off",
            id="truncated-multipart",
        ),
        pytest.param(
            b"Subject: Latin-1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9\r\n",
            id="8bit-latin1",
        ),
    ],
)
def test_odd_attached_messages(webhook_client, inbound_events, raw):
    payload = attachment_payload({"Content-Type": "message/rfc822"}, content=raw)
    assert post_inbound(webhook_client, payload).status_code == 200
    (attachment,) = inbound_events.event.message.attachments
    assert attachment.get_content_type() == "message/rfc822"
    assert isinstance(attachment.get_payload(0), AnymailInboundMessage)


def test_8bit_attached_message_is_readable(webhook_client, inbound_events):
    raw = (
        b"Subject: Latin-1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9\r\n"
    )
    post_inbound(
        webhook_client,
        attachment_payload({"Content-Type": "message/rfc822"}, content=raw),
    )
    (attachment,) = inbound_events.event.message.attachments
    inner = attachment.get_payload(0)
    assert inner.subject == "Latin-1"
    assert inner.text == "Café\n"


def test_unknown_attachment_charset(webhook_client, inbound_events):
    payload = attachment_payload(
        {"Content-Type": "text/plain; charset=x-no-such-charset"}, content=b"abc\xff"
    )
    assert post_inbound(webhook_client, payload).status_code == 200
    (attachment,) = inbound_events.event.message.attachments
    assert attachment.get_content_bytes() == b"abc\xff"


def test_folded_and_odd_header_values(webhook_client, inbound_events):
    payload = {
        "Headers": {
            "Subject": "A folded\r\n subject",
            "X-Folded": "one\n\ttwo",
            "X-Breaks": "first\r\nsecond",
            "X-Lone-Surrogate": "bad \ud800 char",
            "Message-ID": "<<>>",  # the email package can't parse this one
            "Bad Header Name": "dropped",
            "Bad:Name": "dropped",
            "From": "Alice <alice@example.org>",
        },
        "Text-part": "Text with a lone surrogate \udc00 inside",
    }
    assert post_inbound(webhook_client, payload).status_code == 200
    event = inbound_events.event
    message = event.message
    assert message.subject == "A folded subject"
    assert message["X-Folded"] == "one\ttwo"
    assert message["X-Breaks"] == "first second"
    assert message["X-Lone-Surrogate"] == "bad \ufffd char"
    assert message["Message-ID"] == "<<>>"  # kept as plain text
    assert "Bad Header Name" not in message
    assert message.from_email.addr_spec == "alice@example.org"
    assert message.text == "Text with a lone surrogate \ufffd inside"
    # the raw values are still in the esp_event
    assert event.esp_event["Headers"]["Message-ID"] == "<<>>"
    message.as_bytes()  # and the message can be serialized


@pytest.mark.parametrize(
    "score, expected",
    [
        ("1.7", 1.7),
        ("-0.5", -0.5),
        (2, 2.0),
        (3.25, 3.25),
        ("n/a", None),
        ("", None),
        (None, None),
        (True, None),
        ([1], None),
        ("nan", None),
    ],
)
def test_spam_score(webhook_client, inbound_events, score, expected):
    post_inbound(webhook_client, {"SpamAssassinScore": score, "Text-part": "x"})
    message = inbound_events.event.message
    assert message.spam_score == expected
    assert message.spam_detected is None


def test_spam_score_missing(webhook_client, inbound_events):
    post_inbound(webhook_client, {"Text-part": "x"})
    assert inbound_events.event.message.spam_score is None


# Authentication and methods


def test_basic_auth_required(webhook_client, inbound_events, caplog):
    caplog.set_level(logging.ERROR, logger="django.security")
    for auth in [None, basic_auth_header("mailjet:wrong")]:
        response = post_inbound(webhook_client, realistic_payload(), auth=auth)
        assert response.status_code == 400
    assert inbound_events.calls == []
    assert security_messages(caplog) == [AUTH_FAILURE, AUTH_FAILURE]
    response = post_inbound(webhook_client, realistic_payload())
    assert response.status_code == 200
    assert len(inbound_events.calls) == 1


def test_insecure_warning(settings, webhook_client, inbound_events):
    settings.ANYMAIL = {}
    with pytest.warns(AnymailInsecureWebhookWarning, match="WEBHOOK_SECRET"):
        response = post_inbound(webhook_client, realistic_payload(), auth=None)
    assert response.status_code == 200
    assert len(inbound_events.calls) == 1


def test_head_without_validation(webhook_client, inbound_events):
    response = webhook_client.head(URL)
    assert response.status_code == 200
    assert inbound_events.calls == []


def test_reverse_url():
    assert reverse("anymail:mailjet_inbound_webhook") == URL


# Malformed and misdirected posts: 400, nothing dispatched


TRACKING_EVENT = {
    "event": "open",
    "time": 1700000000,
    "MessageID": 94294969890101240,
    "email": "bob@example.com",
    "customcampaign": "",
    "Payload": "",
}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"Headers": {', id="truncated-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"null", id="null"),
        pytest.param(b"42", id="number"),
        pytest.param(b'"text"', id="string"),
        pytest.param(json.dumps([TRACKING_EVENT]), id="tracking-batch"),
        pytest.param(json.dumps(TRACKING_EVENT), id="tracking-event"),
        pytest.param(b"[]", id="empty-tracking-batch"),
        pytest.param(b'{"Headers": "From: a@example.com"}', id="headers-not-object"),
        pytest.param(b'{"Headers": {"Subject": 42}}', id="header-number"),
        pytest.param(b'{"Headers": {"Received": ["a", {}]}}', id="header-item-object"),
        pytest.param(b'{"Parts": {"ContentRef": "Attachment1"}}', id="parts-object"),
        pytest.param(b'{"Parts": ["Attachment1"]}', id="part-not-object"),
        pytest.param(b'{"Parts": [{"ContentRef": 1}]}', id="content-ref-number"),
        pytest.param(
            b'{"Parts": [{"ContentRef": "Attachment1"}]}', id="missing-content"
        ),
        pytest.param(
            b'{"Parts": [{"ContentRef": "Attachment1"}], "Attachment1": null}',
            id="null-content",
        ),
        pytest.param(
            b'{"Parts": [{"ContentRef": "Attachment1", "Headers": []}],'
            b' "Attachment1": ""}',
            id="part-headers-array",
        ),
        pytest.param(b'{"Text-part": ["Hello"]}', id="text-not-string"),
        pytest.param(b'{"Html-part": 1}', id="html-not-string"),
        pytest.param(b'{"Sender": ["a@example.com"]}', id="sender-not-string"),
        pytest.param(b'{"Recipient": 7}', id="recipient-not-string"),
    ],
)
def test_malformed_body(webhook_client, inbound_events, body):
    response = post_inbound(webhook_client, body)
    assert response.status_code == 400
    assert response.content == b"Malformed Mailjet webhook payload"
    assert inbound_events.calls == []


def test_form_post(webhook_client, inbound_events):
    response = webhook_client.post(
        URL, {"Sender": "a@example.com", "Text-part": "Hi"}, HTTP_AUTHORIZATION=AUTH
    )
    assert response.status_code == 400
    assert inbound_events.calls == []


def test_tracking_event_to_inbound_url_dispatches_nothing(
    webhook_client, inbound_events, tracking_events
):
    response = post_inbound(webhook_client, [TRACKING_EVENT])
    assert response.status_code == 400
    assert inbound_events.calls == []
    assert tracking_events.calls == []


def test_inbound_payload_with_event_field(webhook_client, inbound_events):
    # only a payload that looks like nothing but a tracking event is refused
    payload = {"event": "custom", "Headers": {"Subject": "Hi"}, "Text-part": "x"}
    assert post_inbound(webhook_client, payload).status_code == 200
    assert inbound_events.event.message.subject == "Hi"
