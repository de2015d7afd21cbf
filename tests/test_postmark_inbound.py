"""Postmark inbound webhook: PostmarkInboundWebhookView."""

import logging
import warnings
from base64 import b64encode
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from django.urls import path, reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.postmark import (
    PostmarkInboundWebhookView,
    PostmarkTrackingWebhookView,
)

from .conftest import (
    INSECURE_WARNING,
    b64,
    basic_auth_header,
    post_json_with_auth,
    security_messages,
)

# The lead adds the real routes to anymail.urls; these tests use their own
urlpatterns = [
    path(
        "anymail/postmark/inbound/",
        PostmarkInboundWebhookView.as_view(),
        name="postmark_inbound_webhook",
    ),
    path(
        "anymail/postmark/tracking/",
        PostmarkTrackingWebhookView.as_view(),
        name="postmark_tracking_webhook",
    ),
    path(
        "custom/postmark/inbound/",
        PostmarkInboundWebhookView.as_view(basic_auth=["route:only"]),
        name="custom_postmark_inbound",
    ),
]
pytestmark = pytest.mark.urls(__name__)

URL = "/anymail/postmark/inbound/"
TRACKING_URL = "/anymail/postmark/tracking/"
SECRET = "postmark:inbound:secret"
AUTH = basic_auth_header(SECRET)
AUTH_FAILURE = "Missing or invalid basic auth in Anymail Postmark webhook"

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
CSV_LATIN1 = "Artikel,Preis\r\nKäse,4.50\r\n".encode("iso-8859-1")
FORWARDED = (
    b"From: Grete <grete@example.net>\r\n"
    b"To: lotte@example.org\r\n"
    b"Subject: Weitergeleitet\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Gr\xfc\xdfe aus K\xf6ln\r\n"
)
LONG_NAME = " ".join(["Ŝtefana Ĝojplena-Ĉiutaga Ŭrbano de la Ĥoraj Ĵurnalistoj"] * 4)
MESSAGE_UUID = "a8c1040e-db1c-4e18-ac79-bc5f64c7ce2c"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    """Most tests post with the right basic auth for this secret."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post_inbound(client, payload, auth=AUTH, url=URL, **extra):
    return post_json_with_auth(client, payload, auth=auth, url=url, **extra)


def realistic_payload():
    """Postmark's parsed-inbound JSON for a message with an inline image and
    two attachments (the server's "include raw email" option off)."""
    return {
        "FromName": LONG_NAME,
        "MessageStream": "inbound",
        "From": "stefana@example.net",
        "FromFull": {
            "Email": "stefana@example.net",
            "Name": LONG_NAME,
            "MailboxHash": "",
        },
        "To": '"Sales, Team" <sales@inbound.example.com>, Zoë <zoe@example.org>',
        "ToFull": [
            {
                "Email": "sales@inbound.example.com",
                "Name": "Sales, Team",
                "MailboxHash": "",
            },
            {"Email": "zoe@example.org", "Name": "Zoë", "MailboxHash": ""},
        ],
        "Cc": "cc@example.org",
        "CcFull": [{"Email": "cc@example.org", "Name": "", "MailboxHash": ""}],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": "sales+orders@inbound.example.com",
        "ReplyTo": "replies@example.net",
        "Subject": "Bestellung für Käse ✓",
        "MessageID": MESSAGE_UUID,
        "Date": "Tue, 5 Nov 2024 14:03:21 +0100",
        "MailboxHash": "orders",
        "TextBody": "Hallo,\r\nanbei die Liste.\r\n\r\n> zitiert\r\n",
        "HtmlBody": '<p>Hallo,</p><img src="cid:logo.png@01DB2F3A.5C1E8A70">\r\n',
        "StrippedTextReply": "Hallo,\nanbei die Liste.",
        "Tag": "",
        "Headers": [
            {"Name": "Return-Path", "Value": "<bounce-7f3a@mail.example.net>"},
            {
                "Name": "Received",
                "Value": "by p-pm-inboundg02a-aws-useast1a.inbound.postmarkapp.com"
                " (Postfix, from userid 996) id 4XjGZ10GdKz2Y0x;"
                " Tue,  5 Nov 2024 13:03:25 +0000 (UTC)",
            },
            {
                "Name": "Received",
                "Value": "from mail.example.net (mail.example.net [192.0.2.7])"
                " by p-pm-inboundg02a-aws-useast1a.inbound.postmarkapp.com;"
                " Tue,  5 Nov 2024 13:03:24 +0000 (UTC)",
            },
            {"Name": "X-Spam-Checker-Version", "Value": "SpamAssassin 3.4.0"},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "X-Spam-Score", "Value": "-0.1"},
            {"Name": "X-Spam-Tests", "Value": "DKIM_SIGNED,DKIM_VALID,SPF_PASS"},
            {"Name": "Message-ID", "Value": "<CAE7x1@mail.example.net>"},
            {"Name": "MIME-Version", "Value": "1.0"},
            {"Name": "X-Besteller", "Value": "Jürgen Groß"},
            {"Name": "Content-Type", "Value": 'multipart/mixed; boundary="b1"'},
        ],
        "Attachments": [
            {
                "Name": "logo.png",
                "Content": b64(PNG),
                "ContentType": "image/png",
                "ContentLength": len(PNG),
                "ContentID": "logo.png@01DB2F3A.5C1E8A70",
            },
            {
                "Name": "preisliste.csv",
                "Content": b64(CSV_LATIN1),
                "ContentType": "text/csv; charset=iso-8859-1",
                "ContentLength": len(CSV_LATIN1),
                "ContentID": "",
            },
            {
                "Name": "weitergeleitet.eml",
                "Content": b64(FORWARDED),
                "ContentType": "message/rfc822",
                "ContentLength": len(FORWARDED),
                "ContentID": "",
            },
        ],
    }


RAW_EMAIL = (
    "Return-Path: <ignored@example.net>\n"
    "Received: from mail.example.net (mail.example.net [192.0.2.7])\n"
    " by inbound.postmarkapp.com; Tue,  5 Nov 2024 13:03:24 +0000 (UTC)\n"
    "From: =?utf-8?q?J=C3=BCrgen_Gro=C3=9F?= <juergen@example.net>\n"
    "To: =?utf-8?b?w4lsb2TDrWU=?= <elodie@inbound.example.com>\n"
    "Cc: Team <team@example.org>\n"
    "Subject: =?utf-8?q?R=C3=BCckfrage_zum_Angebot?=\n"
    "Date: Tue, 5 Nov 2024 14:03:21 +0100\n"
    "Message-ID: <raw-1@mail.example.net>\n"
    "X-Spam-Status: Yes\n"
    "X-Spam-Score: 6.2\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="outer"\n'
    "\n"
    "--outer\n"
    'Content-Type: multipart/related; boundary="related"\n'
    "\n"
    "--related\n"
    'Content-Type: multipart/alternative; boundary="alt"\n'
    "\n"
    "--alt\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Gr=C3=BC=C3=9Fe aus dem Rohtext\n"
    "--alt\n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    '<p>Grüße</p><img src="cid:sig@example.net">\n'
    "--alt--\n"
    "--related\n"
    'Content-Type: image/png; name="sig.png"\n'
    "Content-Disposition: inline\n"
    "Content-ID: <sig@example.net>\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    f"{b64(PNG)}\n"
    "--related--\n"
    "--outer\n"
    "Content-Type: text/csv; charset=iso-8859-1\n"
    "Content-Disposition: attachment; filename*=utf-8''pr%C3%BCfung.csv\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    f"{b64(CSV_LATIN1)}\n"
    "--outer--\n"
)


def raw_payload():
    """Postmark's JSON with the "include raw email content" option on: the
    parsed fields are there too, but the message comes from RawEmail."""
    return {
        "FromFull": {"Email": "juergen@example.net", "Name": "Jürgen Groß"},
        "ToFull": [{"Email": "elodie@inbound.example.com", "Name": "Élodíe"}],
        "CcFull": [{"Email": "team@example.org", "Name": "Team"}],
        "BccFull": [{"Email": "hidden@inbound.example.com", "Name": "Hidden Ünit"}],
        "OriginalRecipient": "hidden@inbound.example.com",
        "Subject": "Rückfrage zum Angebot",
        "MessageID": "0c4d1c0a-4a63-4f4e-9d5e-1f4c3e1c8a11",
        "Date": "Tue, 5 Nov 2024 14:03:21 +0100",
        "ReplyTo": "field-reply@example.net",
        "TextBody": "text from the parsed fields",
        "HtmlBody": "<p>html from the parsed fields</p>",
        "StrippedTextReply": "Grüße aus dem Rohtext",
        "Headers": [
            {"Name": "Return-Path", "Value": "<envelope@example.net>"},
            {"Name": "X-From-Headers-Only", "Value": "not in the message"},
            {"Name": "X-Spam-Status", "Value": "No"},
        ],
        "Attachments": [
            {
                "Name": "from-fields.txt",
                "Content": b64(b"not in the message"),
                "ContentType": "text/plain",
                "ContentID": "",
            }
        ],
        "RawEmail": RAW_EMAIL,
    }


def message_from(inbound_events):
    return inbound_events.event.message


# The message built from Postmark's parsed fields


class TestParsedFields:
    def test_event_and_signal(self, webhook_client, inbound_events):
        payload = realistic_payload()
        response = post_inbound(webhook_client, payload)
        assert response.status_code == 200
        assert response.content == b""

        assert len(inbound_events.calls) == 1
        call = inbound_events.calls[0]
        assert call["sender"] is PostmarkInboundWebhookView
        assert call["esp_name"] == "Postmark"
        assert call["signal"] is inbound
        event = call["event"]
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.timestamp is None
        assert event.event_id == MESSAGE_UUID
        assert event.esp_event == payload
        assert isinstance(event.message, AnymailInboundMessage)

    def test_message(self, webhook_client, inbound_events):
        payload = realistic_payload()
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)

        assert message.envelope_sender == "bounce-7f3a@mail.example.net"
        assert message.envelope_recipient == "sales+orders@inbound.example.com"
        assert message.stripped_text == "Hallo,\nanbei die Liste."
        assert message.stripped_html is None
        assert message.spam_detected is False
        assert message.spam_score == -0.1

        assert message.from_email.display_name == LONG_NAME
        assert message.from_email.addr_spec == "stefana@example.net"
        assert [(a.display_name, a.addr_spec) for a in message.to] == [
            ("Sales, Team", "sales@inbound.example.com"),
            ("Zoë", "zoe@example.org"),
        ]
        assert [str(address) for address in message.cc] == ["cc@example.org"]
        assert message.bcc == []
        assert message["Bcc"] is None  # empty BccFull: no header
        assert message.subject == "Bestellung für Käse ✓"
        assert message.date == datetime(
            2024, 11, 5, 14, 3, 21, tzinfo=timezone(timedelta(hours=1))
        )
        assert message["Reply-To"] == "replies@example.net"
        assert message["Message-ID"] == "<CAE7x1@mail.example.net>"
        assert message["X-Besteller"] == "Jürgen Groß"
        assert message["X-Spam-Tests"] == "DKIM_SIGNED,DKIM_VALID,SPF_PASS"
        assert message.get_all("Received") == [
            payload["Headers"][1]["Value"],
            payload["Headers"][2]["Value"],
        ]
        # Postmark's envelope Return-Path isn't a header of the message
        assert message["Return-Path"] is None

        # bodies, with line endings normalized
        assert message.text == "Hallo,\nanbei die Liste.\n\n> zitiert\n"
        assert message.html == (
            '<p>Hallo,</p><img src="cid:logo.png@01DB2F3A.5C1E8A70">\n'
        )

        csv, forwarded = message.attachments
        assert csv.get_content_type() == "text/csv"
        assert csv.get_content_charset() == "iso-8859-1"
        assert csv.get_filename() == "preisliste.csv"
        assert csv.get_content_bytes() == CSV_LATIN1
        assert csv.get_content_text() == "Artikel,Preis\nKäse,4.50\n"
        assert csv.is_attachment() and not csv.is_inline()
        upload = csv.as_uploaded_file()
        assert upload.name == "preisliste.csv"
        assert upload.read() == CSV_LATIN1

        assert forwarded.get_content_type() == "message/rfc822"
        assert forwarded.get_filename() == "weitergeleitet.eml"
        inner = forwarded.get_payload(0)
        assert isinstance(inner, AnymailInboundMessage)
        assert inner.subject == "Weitergeleitet"
        assert str(inner.from_email) == "Grete <grete@example.net>"
        # not UTF-8, and still parsed
        assert inner.text == "Grüße aus Köln\n"

        assert list(message.content_id_map) == ["logo.png@01DB2F3A.5C1E8A70"]
        logo = message.content_id_map["logo.png@01DB2F3A.5C1E8A70"]
        assert message.inlines == [logo]
        assert logo["Content-ID"] == "<logo.png@01DB2F3A.5C1E8A70>"
        assert logo.get_content_type() == "image/png"
        assert logo.get_filename() == "logo.png"
        assert logo.get_content_bytes() == PNG
        assert logo.is_inline() and not logo.is_attachment()
        assert message.defects == []

    def test_headers(self, webhook_client, inbound_events):
        post_inbound(webhook_client, realistic_payload())
        message = message_from(inbound_events)
        # Postmark's fields first, then its headers in order; the original
        # body's MIME headers give way to the rebuilt structure
        assert message.keys() == [
            "From",
            "To",
            "Cc",
            "Subject",
            "Received",
            "Received",
            "X-Spam-Checker-Version",
            "X-Spam-Status",
            "X-Spam-Score",
            "X-Spam-Tests",
            "Message-ID",
            "X-Besteller",
            "Date",
            "Reply-To",
            "MIME-Version",
            "Content-Type",
        ]
        assert message["Content-Type"] == "multipart/mixed"
        assert message.get_all("MIME-Version") == ["1.0"]

    def test_structure(self, webhook_client, inbound_events):
        post_inbound(webhook_client, realistic_payload())
        message = message_from(inbound_events)
        related, csv, forwarded = message.get_payload()
        assert related.get_content_type() == "multipart/related"
        alternative, logo = related.get_payload()
        assert alternative.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in alternative.get_payload()] == [
            "text/plain",
            "text/html",
        ]
        assert logo.get_content_type() == "image/png"

    def test_serializes(self, webhook_client, inbound_events):
        post_inbound(webhook_client, realistic_payload())
        message = message_from(inbound_events)
        reparsed = AnymailInboundMessage.parse_raw_mime_bytes(message.as_bytes())
        assert reparsed.subject == "Bestellung für Käse ✓"
        assert reparsed.to == message.to
        assert reparsed["X-Besteller"] == "Jürgen Groß"
        assert reparsed.text == message.text
        assert reparsed.attachments[0].get_content_text() == (
            "Artikel,Preis\nKäse,4.50\n"
        )
        assert reparsed.attachments[1].get_payload(0).subject == "Weitergeleitet"
        assert reparsed.content_id_map["logo.png@01DB2F3A.5C1E8A70"] is not None

    def test_spec_sample(self, webhook_client, inbound_events):
        payload = {
            "FromFull": {"Email": "sender@example.org", "Name": "Sender"},
            "ToFull": [{"Email": "in@inbound.example.com", "Name": ""}],
            "OriginalRecipient": "in@inbound.example.com",
            "Subject": "Hi",
            "MessageID": "uuid-1",
            "Date": "Wed, 11 Oct 2017 18:31:04 -0700",
            "TextBody": "Hello",
            "StrippedTextReply": "Hello",
            "Headers": [
                {"Name": "Return-Path", "Value": "<bounce@example.org>"},
                {"Name": "X-Spam-Score", "Value": "1.7"},
            ],
        }
        assert post_inbound(webhook_client, payload).status_code == 200
        event = inbound_events.event
        message = event.message
        assert event.event_id == "uuid-1"
        assert str(message.from_email) == "Sender <sender@example.org>"
        assert [str(address) for address in message.to] == ["in@inbound.example.com"]
        assert message.text == "Hello"
        assert message.html == ""
        assert message.envelope_sender == "bounce@example.org"
        assert message.envelope_recipient == "in@inbound.example.com"
        assert message.stripped_text == "Hello"
        assert message.spam_score == 1.7
        assert message.spam_detected is False
        assert message["Date"] == "Wed, 11 Oct 2017 18:31:04 -0700"
        assert message.date == datetime(
            2017, 10, 11, 18, 31, 4, tzinfo=timezone(timedelta(hours=-7))
        )

    def test_check_test_payload(self, webhook_client, inbound_events):
        """Postmark's "Check" button posts a fixed sample, with Data for the
        attachment content (and a non-RFC date)."""
        payload = {
            "FromName": "Postmarkapp Support",
            "MessageStream": "inbound",
            "From": "support@postmarkapp.com",
            "FromFull": {
                "Email": "support@postmarkapp.com",
                "Name": "Postmarkapp Support",
                "MailboxHash": "",
            },
            "To": '"Firstname Lastname" <yourhash+SampleHash@inbound.postmarkapp.com>',
            "ToFull": [
                {
                    "Email": "yourhash+SampleHash@inbound.postmarkapp.com",
                    "Name": "Firstname Lastname",
                    "MailboxHash": "SampleHash",
                }
            ],
            "Cc": '"First Cc" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com',
            "CcFull": [
                {"Email": "firstcc@postmarkapp.com", "Name": "First Cc"},
                {"Email": "secondCc@postmarkapp.com", "Name": ""},
            ],
            "Bcc": '"First Bcc" <firstbcc@postmarkapp.com>',
            "BccFull": [{"Email": "firstbcc@postmarkapp.com", "Name": "First Bcc"}],
            "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
            "Subject": "Test subject",
            "MessageID": "00000000-0000-0000-0000-000000000000",
            "ReplyTo": "replyto@postmarkapp.com",
            "MailboxHash": "SampleHash",
            "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
            "TextBody": "This is a test text body.",
            "HtmlBody": "<html><body><p>This is a test html body.</p></body></html>",
            "StrippedTextReply": "This is the reply text",
            "Tag": "TestTag",
            "Headers": [
                {"Name": "X-Header-Test", "Value": ""},
                {"Name": "X-Spam-Status", "Value": "No"},
                {"Name": "X-Spam-Score", "Value": "-0.1"},
                {"Name": "X-Spam-Tests", "Value": "DKIM_SIGNED,DKIM_VALID,SPF_PASS"},
            ],
            "Attachments": [
                {
                    "Name": "test.txt",
                    "Data": b64(b"This is attachment contents, base-64 encoded."),
                    "ContentType": "text/plain",
                    "ContentLength": 45,
                }
            ],
        }
        assert post_inbound(webhook_client, payload).status_code == 200
        message = message_from(inbound_events)
        assert message.envelope_sender is None
        assert (
            str(message.from_email) == "Postmarkapp Support <support@postmarkapp.com>"
        )
        assert [a.addr_spec for a in message.cc] == [
            "firstcc@postmarkapp.com",
            "secondCc@postmarkapp.com",
        ]
        assert [str(a) for a in message.bcc] == ["First Bcc <firstbcc@postmarkapp.com>"]
        assert message["X-Header-Test"] == ""
        assert message["Reply-To"] == "replyto@postmarkapp.com"
        (attachment,) = message.attachments
        assert attachment.get_filename() == "test.txt"
        assert attachment.get_content_text() == (
            "This is attachment contents, base-64 encoded."
        )
        assert message.spam_score == -0.1
        assert message.spam_detected is False

    def test_minimal_payload(self, webhook_client, inbound_events):
        assert post_inbound(webhook_client, {}).status_code == 200
        message = message_from(inbound_events)
        assert inbound_events.event.event_id is None
        assert message.keys() == ["Subject", "MIME-Version", "Content-Type"]
        assert message.subject == ""
        assert message.from_email is None
        assert (message.to, message.cc, message.bcc) == ([], [], [])
        assert (message.text, message.html) == ("", "")
        assert message.attachments == []
        assert message.envelope_sender is None
        assert message.envelope_recipient is None
        assert message.stripped_text is None
        assert message.spam_detected is False
        assert message.spam_score is None

    def test_nulls_count_as_missing(self, webhook_client, inbound_events):
        payload = dict.fromkeys(
            [
                "RecordType",
                "FromFull",
                "ToFull",
                "CcFull",
                "BccFull",
                "Subject",
                "TextBody",
                "HtmlBody",
                "Headers",
                "Attachments",
                "Date",
                "ReplyTo",
                "RawEmail",
                "MessageID",
                "OriginalRecipient",
                "StrippedTextReply",
            ]
        )
        assert post_inbound(webhook_client, payload).status_code == 200
        message = message_from(inbound_events)
        assert message.keys() == ["Subject", "MIME-Version", "Content-Type"]
        assert (message.text, message.html) == ("", "")

    def test_empty_address_lists_make_no_header(self, webhook_client, inbound_events):
        payload = {
            "FromFull": {"Email": "", "Name": ""},
            "ToFull": [],
            "CcFull": [],
            "BccFull": [],
            "ReplyTo": "",
            "Date": "",
        }
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        for header in ("From", "To", "Cc", "Bcc", "Reply-To", "Date"):
            assert header not in message

    def test_from_with_special_characters(self, webhook_client, inbound_events):
        payload = {
            "FromFull": {"Email": "q@example.net", "Name": 'Doe, "JD" \\ Jane'},
            "ToFull": [{"Email": "to@example.com", "Name": "A <B>"}],
        }
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        assert message.from_email.display_name == 'Doe, "JD" \\ Jane'
        assert message.from_email.addr_spec == "q@example.net"
        assert [(a.display_name, a.addr_spec) for a in message.to] == [
            ("A <B>", "to@example.com")
        ]

    def test_from_without_name(self, webhook_client, inbound_events):
        payload = {"FromFull": {"Email": "bare@example.net", "Name": ""}}
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        assert message["From"] == "bare@example.net"

    def test_headers_win_over_date_and_reply_to_fields(
        self, webhook_client, inbound_events
    ):
        payload = {
            "Date": "Wed, 11 Oct 2017 18:31:04 -0700",
            "ReplyTo": "field@example.net",
            "Headers": [
                {"Name": "date", "Value": "Thu, 12 Oct 2017 01:31:04 +0000"},
                {"Name": "Reply-To", "Value": "header@example.net"},
            ],
        }
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        assert message.get_all("Date") == ["Thu, 12 Oct 2017 01:31:04 +0000"]
        assert message.get_all("Reply-To") == ["header@example.net"]

    def test_header_line_breaks_are_unfolded(self, webhook_client, inbound_events):
        payload = {
            "Headers": [
                {"Name": "X-Folded", "Value": "first\r\n second"},
                {"Name": "X-Sneaky", "Value": "innocent\r\nBcc: spy@example.net"},
            ]
        }
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        assert message["X-Folded"] == "first second"
        assert message["X-Sneaky"] == "innocent Bcc: spy@example.net"
        assert "Bcc" not in message
        reparsed = AnymailInboundMessage.parse_raw_mime_bytes(message.as_bytes())
        assert "Bcc" not in reparsed

    def test_odd_headers_are_kept_or_skipped(self, webhook_client, inbound_events):
        payload = {
            "Headers": [
                {"Name": "Message-ID", "Value": "<<not-quite@example.net"},
                {"Name": "Bad Name", "Value": "has a space"},
                {"Name": "", "Value": "no name"},
                {"Name": "X-Null", "Value": None},
                {"Name": "X-After", "Value": "still here"},
            ]
        }
        assert post_inbound(webhook_client, payload).status_code == 200
        message = message_from(inbound_events)
        # kept as unparsed source (Python's header parser can't handle it)
        assert "Message-ID" in message
        assert "Bad Name" not in message
        assert message["X-Null"] == ""
        assert message["X-After"] == "still here"
        assert message.keys()[:4] == ["Subject", "Message-ID", "X-Null", "X-After"]

    def test_return_path_only_when_first(self, webhook_client, inbound_events):
        payload = {
            "Headers": [
                {"Name": "X-First", "Value": "1"},
                {"Name": "Return-Path", "Value": "<not-envelope@example.net>"},
            ]
        }
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        assert message.envelope_sender is None
        assert message["Return-Path"] == "<not-envelope@example.net>"

    @pytest.mark.parametrize(
        "name, value, expected",
        [
            ("return-path", "<lower@example.net>", "lower@example.net"),
            ("RETURN-PATH", "<upper@example.net>", "upper@example.net"),
            ("Return-Path", "<>", ""),
            ("Return-Path", "no-brackets@example.net", "no-brackets@example.net"),
        ],
    )
    def test_envelope_sender(
        self, webhook_client, inbound_events, name, value, expected
    ):
        payload = {"Headers": [{"Name": name, "Value": value}]}
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        assert message.envelope_sender == expected
        assert "Return-Path" not in message


class TestAttachments:
    def post_attachment(self, client, inbound_events, **attachment):
        assert post_inbound(client, {"Attachments": [attachment]}).status_code == 200
        return message_from(inbound_events)

    def test_content_preferred_over_data(self, webhook_client, inbound_events):
        message = self.post_attachment(
            webhook_client,
            inbound_events,
            Name="a.bin",
            ContentType="application/octet-stream",
            Content=b64(b"content"),
            Data=b64(b"data"),
        )
        assert message.attachments[0].get_content_bytes() == b"content"

    def test_empty_content(self, webhook_client, inbound_events):
        message = self.post_attachment(
            webhook_client, inbound_events, Name="empty.txt", Content=""
        )
        assert message.attachments[0].get_content_bytes() == b""

    def test_defaults(self, webhook_client, inbound_events):
        message = self.post_attachment(
            webhook_client, inbound_events, Content=b64(b"\x00\x01"), Name=""
        )
        (attachment,) = message.attachments
        assert attachment.get_content_type() == "application/octet-stream"
        assert attachment.get_filename() is None
        assert attachment.get_content_bytes() == b"\x00\x01"
        assert message.content_id_map == {}

    def test_inline_without_filename(self, webhook_client, inbound_events):
        message = self.post_attachment(
            webhook_client,
            inbound_events,
            ContentType="image/png",
            Content=b64(PNG),
            ContentID="<already@wrapped>",
        )
        assert message.attachments == []
        assert message.content_id_map["already@wrapped"].get_content_bytes() == PNG

    def test_non_ascii_filename(self, webhook_client, inbound_events):
        message = self.post_attachment(
            webhook_client,
            inbound_events,
            Name="Übersicht 2024.pdf",
            ContentType="application/pdf",
            Content=b64(b"%PDF-1.4"),
        )
        attachment = message.attachments[0]
        assert attachment.get_filename() == "Übersicht 2024.pdf"
        assert attachment.as_uploaded_file().name == "Übersicht 2024.pdf"


# The message parsed from RawEmail


class TestRawEmail:
    def test_message(self, webhook_client, inbound_events):
        payload = raw_payload()
        assert post_inbound(webhook_client, payload).status_code == 200
        event = inbound_events.event
        assert event.event_id == "0c4d1c0a-4a63-4f4e-9d5e-1f4c3e1c8a11"
        assert event.esp_event == payload
        assert event.timestamp is None
        message = event.message

        # envelope and Postmark's fields
        assert message.envelope_sender == "envelope@example.net"
        assert message.envelope_recipient == "hidden@inbound.example.com"
        assert message.stripped_text == "Grüße aus dem Rohtext"
        assert message.stripped_html is None
        # spam headers come from the message itself
        assert message.spam_detected is True
        assert message.spam_score == 6.2

        assert str(message.from_email) == "Jürgen Groß <juergen@example.net>"
        assert [(a.display_name, a.addr_spec) for a in message.to] == [
            ("Élodíe", "elodie@inbound.example.com")
        ]
        assert [str(a) for a in message.cc] == ["Team <team@example.org>"]
        # added from BccFull, which the source doesn't show
        assert [(a.display_name, a.addr_spec) for a in message.bcc] == [
            ("Hidden Ünit", "hidden@inbound.example.com")
        ]
        assert message.subject == "Rückfrage zum Angebot"
        assert message.date == datetime(
            2024, 11, 5, 14, 3, 21, tzinfo=timezone(timedelta(hours=1))
        )
        assert message["Message-ID"] == "<raw-1@mail.example.net>"
        # the source's own Return-Path stays; the envelope comes from Headers
        assert message["Return-Path"] == "<ignored@example.net>"
        assert message.get_all("Received") == [
            "from mail.example.net (mail.example.net [192.0.2.7])"
            " by inbound.postmarkapp.com; Tue,  5 Nov 2024 13:03:24 +0000 (UTC)"
        ]

        assert message.text == "Grüße aus dem Rohtext"
        assert message.html == '<p>Grüße</p><img src="cid:sig@example.net">'
        (csv,) = message.attachments
        assert csv.get_filename() == "prüfung.csv"
        assert csv.get_content_bytes() == CSV_LATIN1
        assert csv.get_content_text() == "Artikel,Preis\nKäse,4.50\n"
        assert list(message.content_id_map) == ["sig@example.net"]
        assert message.content_id_map["sig@example.net"].get_content_bytes() == PNG
        assert message.inlines == [message.content_id_map["sig@example.net"]]
        assert message.defects == []

    def test_parsed_fields_not_applied(self, webhook_client, inbound_events):
        post_inbound(webhook_client, raw_payload())
        message = message_from(inbound_events)
        assert "X-From-Headers-Only" not in message
        assert "Reply-To" not in message
        assert len(message.get_all("Date")) == 1
        assert message.get_all("From") == ["Jürgen Groß <juergen@example.net>"]
        assert message.get_all("X-Spam-Status") == ["Yes"]
        assert [a.get_filename() for a in message.attachments] == ["prüfung.csv"]

    def test_existing_bcc_kept(self, webhook_client, inbound_events):
        payload = raw_payload()
        payload["RawEmail"] = "Bcc: own@example.org\nSubject: x\n\nbody\n"
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        assert [a.addr_spec for a in message.bcc] == ["own@example.org"]

    @pytest.mark.parametrize("bcc_full", [None, []])
    def test_no_bcc_full(self, webhook_client, inbound_events, bcc_full):
        payload = raw_payload()
        payload["BccFull"] = bcc_full
        post_inbound(webhook_client, payload)
        assert "Bcc" not in message_from(inbound_events)

    def test_crlf_source(self, webhook_client, inbound_events):
        payload = {
            "RawEmail": "Subject: CRLF\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "\r\nline one\r\nline two\r\n"
        }
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        assert message.subject == "CRLF"
        assert message.text == "line one\nline two\n"
        assert message.get_content_bytes() == b"line one\r\nline two\r\n"

    def test_parsed_in_pieces(self, webhook_client, inbound_events):
        """A large RawEmail is fed to the parser piece by piece."""
        big = bytes(range(256)) * 4096  # 1 MiB attachment
        raw = (
            "Subject: big\n"
            'Content-Type: multipart/mixed; boundary="b"\n\n'
            "--b\nContent-Type: text/plain\n\nsee attached\n"
            "--b\nContent-Type: application/octet-stream\n"
            "Content-Disposition: attachment; filename=big.bin\n"
            "Content-Transfer-Encoding: base64\n\n"
            + b64encode(big).decode("ascii")
            + "\n--b--\n"
        )
        pieces = []
        parse = AnymailInboundMessage.parse_raw_mime_chunks.__func__

        def recording_parse(cls, chunks):
            def recorded():
                for chunk in chunks:
                    pieces.append(len(chunk))
                    yield chunk

            return parse(cls, recorded())

        with (
            mock.patch.object(
                AnymailInboundMessage,
                "parse_raw_mime_chunks",
                classmethod(recording_parse),
            ),
            mock.patch.object(
                AnymailInboundMessage, "parse_raw_mime", side_effect=AssertionError
            ),
            mock.patch.object(
                AnymailInboundMessage,
                "parse_raw_mime_bytes",
                side_effect=AssertionError,
            ),
        ):
            response = post_inbound(webhook_client, {"RawEmail": raw})
        assert response.status_code == 200
        assert sum(pieces) == len(raw.encode("utf-8"))
        assert len(pieces) > 10
        assert max(pieces) <= 65536
        message = message_from(inbound_events)
        assert message.text == "see attached"
        assert message.attachments[0].get_content_bytes() == big

    def test_non_ascii_split_across_pieces(self, webhook_client, inbound_events):
        text = "ü" * 70000 + "✓"
        payload = {
            "RawEmail": "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n" + text
        }
        post_inbound(webhook_client, payload)
        assert message_from(inbound_events).text == text

    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param("", id="empty"),
            pytest.param("no headers, no blank line", id="not-mime"),
            pytest.param(
                'Content-Type: multipart/mixed; boundary="x"\n\n--x\n'
                "Content-Type: text/plain\n\ntruncated befo",
                id="truncated",
            ),
            pytest.param(
                "Content-Type: multipart/alternative\n\nno boundary at all\n",
                id="no-boundary",
            ),
            pytest.param(
                "Subject: =?x-unknown?q?abc?=\nContent-Type: text/plain;"
                " charset=x-no-such-charset\n\nbody\n",
                id="unknown-charset",
            ),
            pytest.param(
                "Subject: lone \udc80 surrogate\n\nbody \ud800\n", id="surrogates"
            ),
            pytest.param(
                "Content-Type: text/plain; charset=us-ascii\n"
                "Content-Transfer-Encoding: base64\n\n!!!not base64!!!\n",
                id="bad-base64",
            ),
            pytest.param(
                "From: <<<\nTo: undisclosed-recipients:;\nDate: someday\n"
                "Message-ID: <<broken\n\nbody\n",
                id="bad-headers",
            ),
        ],
    )
    def test_malformed_mime_is_delivered(self, webhook_client, inbound_events, raw):
        payload = {"RawEmail": raw, "MessageID": "m-1"}
        assert post_inbound(webhook_client, payload).status_code == 200
        event = inbound_events.event
        assert event.event_id == "m-1"
        assert isinstance(event.message, AnymailInboundMessage)

    def test_unknown_charset_is_reported_when_read(
        self, webhook_client, inbound_events
    ):
        payload = {
            "RawEmail": "Content-Type: text/plain; charset=x-no-such-charset\n\nhi\n"
        }
        post_inbound(webhook_client, payload)
        message = message_from(inbound_events)
        with pytest.raises(LookupError):
            message.text  # noqa: B018

    def test_lone_surrogate_becomes_replacement(self, webhook_client, inbound_events):
        # JSON can carry a lone surrogate (here in an escape); it reads as U+FFFD
        body = '{"RawEmail": "Content-Type: text/plain; charset=utf-8\\n\\nx\\ud800y"}'
        post_inbound(webhook_client, body)
        text = message_from(inbound_events).text
        assert text.startswith("x\ufffd") and text.endswith("y")
        assert "\ud800" not in text


# Spam verdict and score


class TestSpam:
    @pytest.mark.parametrize(
        "status, expected",
        [
            ("Yes", True),
            ("yes", True),
            ("YES", True),
            ("No", False),
            ("Yes, score=5.2 required=5.0", False),
            ("", False),
            (None, False),
        ],
    )
    def test_spam_detected(self, webhook_client, inbound_events, status, expected):
        headers = [] if status is None else [{"Name": "X-Spam-Status", "Value": status}]
        post_inbound(webhook_client, {"Headers": headers})
        assert message_from(inbound_events).spam_detected is expected

    @pytest.mark.parametrize(
        "score, expected",
        [("1.7", 1.7), ("-0.1", -0.1), ("12", 12.0), ("", None), ("high", None)],
    )
    def test_spam_score(self, webhook_client, inbound_events, score, expected):
        headers = [{"Name": "X-Spam-Score", "Value": score}]
        post_inbound(webhook_client, {"Headers": headers})
        assert message_from(inbound_events).spam_score == expected

    def test_no_spam_score(self, webhook_client, inbound_events):
        post_inbound(webhook_client, {"Headers": []})
        assert message_from(inbound_events).spam_score is None


# Misdirected webhooks


class TestMisdirected:
    @pytest.mark.parametrize(
        "payload, record_type",
        [
            (
                {
                    "RecordType": "Delivery",
                    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
                    "Recipient": "john@example.com",
                    "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
                    "Details": "Test delivery webhook details",
                    "Tag": "welcome-email",
                    "ServerID": 23,
                    "Metadata": {"a_key": "a_value"},
                    "MessageStream": "outbound",
                },
                "Delivery",
            ),
            (
                {
                    "RecordType": "Bounce",
                    "ID": 42,
                    "Type": "HardBounce",
                    "MessageID": "msg-123",
                    "Email": "bob@example.com",
                    "BouncedAt": "2024-05-01T10:00:00.1234567-04:00",
                },
                "Bounce",
            ),
            ({"RecordType": "SubscriptionChange"}, "SubscriptionChange"),
            # even with inbound-looking fields, RecordType decides
            ({"RecordType": "Open", "FromFull": {"Email": "a@b.c"}}, "Open"),
        ],
    )
    def test_tracking_payload(
        self, webhook_client, inbound_events, payload, record_type
    ):
        expected = (
            f"You seem to have set Postmark's *{record_type}* webhook"
            " to Anymail's Postmark *inbound* webhook URL."
        )
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_inbound(webhook_client, payload)
        assert str(excinfo.value) == expected
        assert inbound_events.calls == []

    def test_inbound_record_type_is_fine(self, webhook_client, inbound_events):
        payload = realistic_payload()
        payload["RecordType"] = "Inbound"
        assert post_inbound(webhook_client, payload).status_code == 200
        assert inbound_events.event.message.subject == "Bestellung für Käse ✓"

    def test_inbound_payload_to_tracking_url(
        self, webhook_client, inbound_events, tracking_events
    ):
        with pytest.raises(
            AnymailConfigurationError,
            match=r"You seem to have set Postmark's \*inbound\* webhook"
            r" to Anymail's Postmark \*tracking\* webhook URL\.",
        ):
            post_inbound(webhook_client, realistic_payload(), url=TRACKING_URL)
        assert tracking_events.calls == []
        assert inbound_events.calls == []


# Authentication


class TestBasicAuth:
    def test_right_credentials(self, webhook_client, inbound_events, caplog):
        assert post_inbound(webhook_client, realistic_payload()).status_code == 200
        assert len(inbound_events.calls) == 1
        assert security_messages(caplog) == []

    @pytest.mark.parametrize(
        "auth",
        [
            None,
            basic_auth_header("postmark:wrong"),
            basic_auth_header("postmark:inbound:secret:extra"),
            "Bearer postmark:inbound:secret",
            "Basic not-base64!",
        ],
    )
    def test_wrong_or_missing_credentials(
        self, webhook_client, inbound_events, caplog, auth
    ):
        caplog.set_level(logging.ERROR)
        response = post_inbound(webhook_client, realistic_payload(), auth=auth)
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(caplog) == [AUTH_FAILURE]

    def test_auth_checked_before_parsing(self, webhook_client, inbound_events, caplog):
        # a bad password fails as such even for a body that isn't JSON, or
        # for a misdirected tracking event
        caplog.set_level(logging.ERROR)
        bad = basic_auth_header("x:y")
        assert post_inbound(webhook_client, "not json", auth=bad).status_code == 400
        tracking = {"RecordType": "Delivery"}
        assert post_inbound(webhook_client, tracking, auth=bad).status_code == 400
        assert security_messages(caplog) == [AUTH_FAILURE, AUTH_FAILURE]
        assert inbound_events.calls == []

    def test_rotated_secrets(self, settings, webhook_client, inbound_events):
        settings.ANYMAIL = {"WEBHOOK_SECRET": ["old:secret", "new:secret"]}
        for credentials in ("old:secret", "new:secret"):
            auth = basic_auth_header(credentials)
            assert post_inbound(webhook_client, {}, auth=auth).status_code == 200
        auth = basic_auth_header(SECRET)
        assert post_inbound(webhook_client, {}, auth=auth).status_code == 400
        assert len(inbound_events.calls) == 2

    def test_flat_setting(self, settings, webhook_client, inbound_events):
        settings.ANYMAIL = {}
        settings.ANYMAIL_WEBHOOK_SECRET = "flat:secret"
        auth = basic_auth_header("flat:secret")
        assert post_inbound(webhook_client, {}, auth=auth).status_code == 200
        assert post_inbound(webhook_client, {}).status_code == 400
        assert len(inbound_events.calls) == 1

    def test_as_view_basic_auth(self, webhook_client, inbound_events):
        url = reverse("custom_postmark_inbound")
        assert url == "/custom/postmark/inbound/"
        assert post_inbound(webhook_client, {}, url=url).status_code == 400
        auth = basic_auth_header("route:only")
        assert post_inbound(webhook_client, {}, url=url, auth=auth).status_code == 200
        assert len(inbound_events.calls) == 1

    def test_no_secret_warns(self, settings, webhook_client, inbound_events):
        settings.ANYMAIL = {}
        with pytest.warns(AnymailInsecureWebhookWarning) as record:
            response = post_inbound(webhook_client, realistic_payload(), auth=None)
        assert response.status_code == 200
        assert [str(w.message) for w in record] == [INSECURE_WARNING]
        assert len(inbound_events.calls) == 1

    def test_no_warning_with_secret(self, webhook_client, inbound_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            assert post_inbound(webhook_client, {}).status_code == 200


# Malformed posts


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            pytest.param("", id="empty"),
            pytest.param("not json", id="not-json"),
            pytest.param(b"\xff\xfe{", id="not-utf8"),
            pytest.param("[]", id="array"),
            pytest.param("[{}]", id="array-of-object"),
            pytest.param('"a string"', id="string"),
            pytest.param("null", id="null"),
            pytest.param("[" * 100000 + "]" * 100000, id="deep-nesting"),
        ],
    )
    def test_bad_body(self, webhook_client, inbound_events, caplog, body):
        caplog.set_level(logging.WARNING)
        response = post_inbound(webhook_client, body)
        assert response.status_code == 400
        assert response.content == b"Malformed Postmark webhook payload"
        assert inbound_events.calls == []
        assert security_messages(caplog) == []
        assert any(
            record.name == "anymail.webhooks"
            and record.getMessage().startswith("Malformed Postmark webhook payload")
            for record in caplog.records
        )

    @pytest.mark.parametrize(
        "fields",
        [
            {"RecordType": 7},
            {"Headers": {"Return-Path": "<x@example.net>"}},
            {"Headers": ["Return-Path: <x@example.net>"]},
            {"Headers": [{"Value": "no name"}]},
            {"Headers": [{"Name": 5, "Value": "x"}]},
            {"Headers": [{"Name": "X-Num", "Value": 5}]},
            {"FromFull": "sender@example.org"},
            {"FromFull": {"Email": ["a@example.org"]}},
            {"FromFull": {"Email": "a@example.org", "Name": 3}},
            {"ToFull": {"Email": "in@example.com"}},
            {"ToFull": ["in@example.com"]},
            {"CcFull": "cc@example.com"},
            {"BccFull": [None]},
            {"Subject": 12},
            {"TextBody": ["x"]},
            {"HtmlBody": {"x": 1}},
            {"Date": 1700000000},
            {"ReplyTo": ["a@example.org"]},
            {"MessageID": 42},
            {"OriginalRecipient": ["in@example.com"]},
            {"StrippedTextReply": 1},
            {"RawEmail": {"raw": "Subject: x"}},
            {"RawEmail": "Subject: x\n\nbody", "BccFull": "b@example.com"},
            {"Attachments": {"Name": "a.txt"}},
            {"Attachments": ["a.txt"]},
            {"Attachments": [{"Name": "a.txt", "ContentType": "text/plain"}]},
            {"Attachments": [{"Name": "a.txt", "Content": None, "Data": None}]},
            {"Attachments": [{"Content": 123}]},
            {"Attachments": [{"Content": "bm90IHBhZGRlZA"}]},
            {"Attachments": [{"Content": "", "ContentType": 3}]},
            {"Attachments": [{"Content": "", "Name": ["a"]}]},
            {"Attachments": [{"Content": "", "ContentID": 1}]},
        ],
    )
    def test_wrong_fields(self, webhook_client, inbound_events, fields):
        payload = realistic_payload()
        payload.update(fields)
        response = post_inbound(webhook_client, payload)
        assert response.status_code == 400
        assert inbound_events.calls == []

    def test_form_post(self, webhook_client, inbound_events):
        response = webhook_client.post(
            URL, {"Subject": "hi", "TextBody": "x"}, HTTP_AUTHORIZATION=AUTH
        )
        assert response.status_code == 400
        assert inbound_events.calls == []

    def test_urlencoded_post(self, webhook_client, inbound_events):
        response = post_inbound(
            webhook_client,
            "Subject=hi&TextBody=x",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 400
        assert inbound_events.calls == []

    def test_json_with_other_content_type(self, webhook_client, inbound_events):
        # Postmark always says application/json, but the body is what counts
        response = post_inbound(webhook_client, {}, content_type="text/plain")
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1


# Receivers and HTTP methods


def test_receiver_exception_propagates(webhook_client):
    def failing_receiver(sender, event, esp_name, **kwargs):
        raise RuntimeError("receiver failed")

    inbound.connect(failing_receiver, weak=False)
    try:
        with pytest.raises(RuntimeError, match="receiver failed"):
            post_inbound(webhook_client, realistic_payload())
    finally:
        inbound.disconnect(failing_receiver)


def test_one_message_per_post_in_order(webhook_client, inbound_events):
    for subject in ("first", "second", "third"):
        post_inbound(webhook_client, {"Subject": subject})
    assert [event.message.subject for event in inbound_events.events] == [
        "first",
        "second",
        "third",
    ]


def test_head_is_200_without_validation(settings, webhook_client, inbound_events):
    response = webhook_client.head(URL)  # no credentials
    assert response.status_code == 200
    assert response.content == b""
    assert inbound_events.calls == []


def test_options(webhook_client):
    response = webhook_client.options(URL)
    assert response.status_code == 200
    assert response["Allow"] == "POST, HEAD, OPTIONS"


def test_get_not_allowed(webhook_client):
    assert webhook_client.get(URL, HTTP_AUTHORIZATION=AUTH).status_code == 405


def test_url_name():
    assert reverse("postmark_inbound_webhook") == URL


def test_view_instance_outside_request():
    view = PostmarkInboundWebhookView.as_view(basic_auth=["a:b"])
    instance = view.view_class(**view.view_initkwargs)
    assert instance.basic_auth == ["a:b"]
    assert instance.esp_name == "Postmark"
    assert instance.signal is inbound
