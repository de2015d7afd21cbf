"""Brevo inbound webhook: BrevoInboundWebhookView."""

import logging
import warnings
from datetime import datetime, timedelta, timezone

import pytest
import requests
from django.urls import include, path, reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.brevo import BrevoInboundWebhookView

from .conftest import (
    INSECURE_WARNING,
    basic_auth_header,
    post_json_with_auth,
    security_messages,
)

# Routes for the as_view() tests (selected with pytest.mark.urls on those tests)
urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "custom/brevo/inbound/",
        BrevoInboundWebhookView.as_view(
            api_key="view-key", api_url="https://proxy.example.net/brevo"
        ),
        name="custom_brevo_inbound",
    ),
]

URL = "/anymail/brevo/inbound/"
SECRET = "brevo-inbound:s3cret"
AUTH = basic_auth_header(SECRET)
API_KEY = "xkeysib-test-api-key"

PNG_CONTENT = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\xff\xd8"
PDF_CONTENT = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n"


@pytest.fixture(autouse=True)
def brevo_settings(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "BREVO_API_KEY": API_KEY}


def post_inbound(client, payload, auth=AUTH, url=URL, **extra):
    return post_json_with_auth(client, payload, auth=auth, url=url, **extra)


def realistic_item():
    """One message as Brevo's inbound parsing webhook posts it."""
    return {
        "Uuid": ["6a3e9a1c-8d3b-4b5e-9f0e-3c2d1b0a9f87"],
        "MessageId": "<CAJx1yq=abc123@mail.example.com>",
        "InReplyTo": "<previous-message@example.org>",
        # Brevo's convenience fields: not used (the headers are)
        "From": {"Name": "Ignored", "Address": "ignored@example.com"},
        "To": [{"Name": None, "Address": "ignored@example.com"}],
        "Cc": [],
        "ReplyTo": None,
        "SentAtDate": "Mon, 15 Jan 2024 10:30:45 +0100",
        "Subject": "Ignored subject",
        "Headers": {
            "Return-Path": "<bounces+x1y2@sender.example.com>",
            "Delivered-To": "support@inbound.example.org",
            "Received": [
                "by mx-in.brevo.com with ESMTPS id abc;"
                " Mon, 15 Jan 2024 09:30:46 +0000",
                "from mail.example.com (mail.example.com [192.0.2.1])"
                "\r\n\tby relay.example.com; Mon, 15 Jan 2024 09:30:45 +0000",
            ],
            "DKIM-Signature": "v=1; a=rsa-sha256; d=example.com; s=sel; b=abc==",
            "MIME-Version": "1.0",
            "From": "=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@sender.example.com>",
            "To": "Support <support@inbound.example.org>, other@inbound.example.org",
            "Cc": "Zoë Café <zoe@example.net>",
            "Date": "Mon, 15 Jan 2024 10:30:45 +0100",
            "Subject": "=?utf-8?b?UmU6IENvbW1hbmRlIG7CsCA0MiDigJQgw6l0w6k=?=",
            "Message-ID": "<CAJx1yq=abc123@mail.example.com>",
            "In-Reply-To": "<previous-message@example.org>",
            "Content-Type": 'multipart/mixed; boundary="000000000000b0b1"',
            "X-Custom-Header": "Valeur accentuée",
        },
        "RawTextBody": (
            "Bonjour,\r\n\r\nVoici la facture.\r\n[image: logo]\r\n\r\n-- \r\nJörg\r\n"
        ),
        "RawHtmlBody": (
            '<div dir="ltr">Bonjour,<br><br>Voici la facture.<br>'
            '<img src="cid:ii_logo123" alt="logo"><br></div>\r\n'
        ),
        "ExtractedMarkdownMessage": (
            "Bonjour,\n\nVoici la facture.\n![logo](cid:ii_logo123)"
        ),
        "ExtractedMarkdownSignature": "Jörg",
        "SpamScore": 1.2,
        "Attachments": [
            {
                "Name": "facture-42.pdf",
                "ContentType": "application/pdf",
                "ContentLength": len(PDF_CONTENT),
                "ContentID": None,
                "DownloadToken": "tok/pdf+42==",
            },
            {
                "Name": "logo.png",
                "ContentType": "image/png",
                "ContentLength": len(PNG_CONTENT),
                "ContentID": "ii_logo123",
                "DownloadToken": "tok-logo",
            },
        ],
    }


def queue_attachments(requests_mock):
    requests_mock.queue_response(
        200, PDF_CONTENT, headers={"Content-Type": "application/pdf"}
    )
    requests_mock.queue_response(
        200, PNG_CONTENT, headers={"Content-Type": "image/png"}
    )


class TestInbound:
    def test_realistic_message(self, webhook_client, inbound_events, requests_mock):
        item = realistic_item()
        queue_attachments(requests_mock)
        response = post_inbound(webhook_client, {"items": [item]})
        assert response.status_code == 200
        assert response.content == b""

        call = inbound_events.calls[0]
        assert call["sender"] is BrevoInboundWebhookView
        assert call["esp_name"] == "Brevo"
        assert call["signal"] is inbound
        event = inbound_events.event
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.timestamp is None
        assert event.event_id == "6a3e9a1c-8d3b-4b5e-9f0e-3c2d1b0a9f87"
        assert event.esp_event == item

        message = event.message
        assert isinstance(message, AnymailInboundMessage)
        assert str(message.from_email) == "Jörg Müller <joerg@sender.example.com>"
        assert message.from_email.display_name == "Jörg Müller"
        assert message.from_email.addr_spec == "joerg@sender.example.com"
        assert [str(addr) for addr in message.to] == [
            "Support <support@inbound.example.org>",
            "other@inbound.example.org",
        ]
        assert [addr.display_name for addr in message.cc] == ["Zoë Café"]
        assert [addr.addr_spec for addr in message.cc] == ["zoe@example.net"]
        assert message.bcc == []
        assert message.subject == "Re: Commande n° 42 — été"
        assert message.date == datetime(
            2024, 1, 15, 10, 30, 45, tzinfo=timezone(timedelta(hours=1))
        )
        assert message["Message-ID"] == "<CAJx1yq=abc123@mail.example.com>"
        assert message["X-Custom-Header"] == "Valeur accentuée"
        assert message.get_all("Received") == [
            "by mx-in.brevo.com with ESMTPS id abc; Mon, 15 Jan 2024 09:30:46 +0000",
            "from mail.example.com (mail.example.com [192.0.2.1])"
            "\tby relay.example.com; Mon, 15 Jan 2024 09:30:45 +0000",
        ]
        # 15.2: bodies are read with line endings normalized
        assert message.text == (
            "Bonjour,\n\nVoici la facture.\n[image: logo]\n\n-- \nJörg\n"
        )
        assert message.html == (
            '<div dir="ltr">Bonjour,<br><br>Voici la facture.<br>'
            '<img src="cid:ii_logo123" alt="logo"><br></div>\n'
        )

        assert message.envelope_sender == "bounces+x1y2@sender.example.com"
        assert message.envelope_recipient == "support@inbound.example.org"
        assert message.stripped_text == (
            "Bonjour,\n\nVoici la facture.\n![logo](cid:ii_logo123)"
        )
        assert message.stripped_html is None
        assert message.spam_score == 1.2
        assert message.spam_detected is None

        # the attachment
        assert len(message.attachments) == 1
        pdf = message.attachments[0]
        assert pdf.get_filename() == "facture-42.pdf"
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_content_bytes() == PDF_CONTENT
        assert pdf.is_attachment()
        uploaded = pdf.as_uploaded_file()
        assert uploaded.name == "facture-42.pdf"
        assert uploaded.read() == PDF_CONTENT

        # the inline image
        assert list(message.content_id_map) == ["ii_logo123"]
        logo = message.content_id_map["ii_logo123"]
        assert logo.get_content_type() == "image/png"
        assert logo.get_filename() == "logo.png"
        assert logo.get_content_bytes() == PNG_CONTENT
        assert logo.is_inline()
        assert message.inlines == [logo]

        # Structure: always mixed → related → alternative, whatever the
        # original Content-Type said
        assert message.get_content_type() == "multipart/mixed"
        assert message.get_all("Content-Type") == ["multipart/mixed"]
        assert message.get_all("MIME-Version") == ["1.0"]
        related = message.get_payload(0)
        assert related.get_content_type() == "multipart/related"
        assert [part.get_content_type() for part in related.get_payload()] == [
            "multipart/alternative",
            "image/png",
        ]
        assert message.get_payload(1) is pdf
        assert message.defects == []
        message.as_bytes()  # serializable

    def test_attachment_downloads(self, webhook_client, inbound_events, requests_mock):
        queue_attachments(requests_mock)
        assert (
            post_inbound(webhook_client, {"items": [realistic_item()]}).status_code
            == 200
        )
        assert [
            (call["method"].upper(), call["url"], call["headers"], call["timeout"])
            for call in requests_mock.calls
        ] == [
            (
                "GET",
                # token percent-encoded, with no safe characters
                "https://api.brevo.com/v3/inbound/attachments/tok%2Fpdf%2B42%3D%3D",
                {"api-key": API_KEY},
                30,  # REQUESTS_TIMEOUT (upstream has none)
            ),
            (
                "GET",
                "https://api.brevo.com/v3/inbound/attachments/tok-logo",
                {"api-key": API_KEY},
                30,
            ),
        ]

    def test_spec_sample(self, webhook_client, inbound_events, requests_mock):
        item = {
            "Uuid": ["uuid-0001"],
            "SpamScore": 1.5,
            "Headers": {
                "From": "Sender <from@example.com>",
                "To": "inbox@example.org",
                "Subject": "Hi",
                "Received": ["by a ...", "from b ..."],
            },
            "RawTextBody": "Hello\n",
            "RawHtmlBody": "<p>Hello</p>",
            "ExtractedMarkdownMessage": "Hello",
            "Attachments": [],
        }
        assert post_inbound(webhook_client, {"items": [item]}).status_code == 200
        event = inbound_events.event
        assert event.event_id == "uuid-0001"
        message = event.message
        assert message.subject == "Hi"
        assert message.get_all("Received") == ["by a ...", "from b ..."]
        assert message.text == "Hello\n"
        assert message.html == "<p>Hello</p>"
        assert message.spam_score == 1.5
        assert message.stripped_text == "Hello"
        assert message.from_email.addr_spec == "from@example.com"
        assert [addr.addr_spec for addr in message.to] == ["inbox@example.org"]
        assert message.envelope_sender is None
        assert message.envelope_recipient is None
        assert message.attachments == []
        assert message.content_id_map == {}
        assert requests_mock.calls == []

    def test_crlf_text_body(self, webhook_client, inbound_events):
        item = {"RawTextBody": "This is a *test message*.\r\n\n- Sender\r\n"}
        assert post_inbound(webhook_client, {"items": [item]}).status_code == 200
        assert inbound_events.event.message.text == (
            "This is a *test message*.\n\n- Sender\n"
        )

    def test_empty_item(self, webhook_client, inbound_events):
        assert post_inbound(webhook_client, {"items": [{}]}).status_code == 200
        event = inbound_events.event
        assert event.event_id is None
        assert event.esp_event == {}
        message = event.message
        assert message.text == ""
        assert message.html == ""
        assert message.subject is None
        assert message.from_email is None
        assert message.to == []
        assert message.spam_score is None
        assert message.stripped_text is None

    def test_null_bodies(self, webhook_client, inbound_events):
        item = {"RawTextBody": None, "RawHtmlBody": "<p>only html</p>"}
        assert post_inbound(webhook_client, {"items": [item]}).status_code == 200
        message = inbound_events.event.message
        assert message.text is None
        assert message.html == "<p>only html</p>"

    def test_batch(self, webhook_client, inbound_events, requests_mock):
        items = [
            {"Uuid": ["first"], "Headers": {"Subject": "One"}},
            {"Uuid": ["second"], "Headers": {"Subject": "Two"}},
            {"Uuid": [], "Headers": {"Subject": "Three"}},
        ]
        assert post_inbound(webhook_client, {"items": items}).status_code == 200
        assert [event.event_id for event in inbound_events.events] == [
            "first",
            "second",
            None,
        ]
        assert [event.message.subject for event in inbound_events.events] == [
            "One",
            "Two",
            "Three",
        ]
        assert [call["esp_name"] for call in inbound_events.calls] == ["Brevo"] * 3

    def test_empty_batch(self, webhook_client, inbound_events):
        assert post_inbound(webhook_client, {"items": []}).status_code == 200
        assert inbound_events.calls == []

    def test_url_name(self):
        assert reverse("anymail:brevo_inbound_webhook") == URL


class TestHeaders:
    def post_headers(self, client, headers):
        response = post_inbound(client, {"items": [{"Headers": headers}]})
        assert response.status_code == 200
        return response

    def test_header_order_and_repeats(self, webhook_client, inbound_events):
        self.post_headers(
            webhook_client,
            {
                "X-First": "1",
                "Received": ["r1", "r2", "r3"],
                "X-Last": "z",
            },
        )
        message = inbound_events.event.message
        assert message.keys() == [
            "X-First",
            "Received",
            "Received",
            "Received",
            "X-Last",
            "MIME-Version",
            "Content-Type",
        ]
        assert message.get_all("Received") == ["r1", "r2", "r3"]

    def test_raw_utf8_headers(self, webhook_client, inbound_events):
        self.post_headers(
            webhook_client,
            {
                "From": "Jérôme Dupré <jerome@exemple.fr>",
                "Subject": "Résumé – 日本語",
            },
        )
        message = inbound_events.event.message
        assert message.from_email.display_name == "Jérôme Dupré"
        assert message.subject == "Résumé – 日本語"
        assert b"Subject: =?utf-8?" in message.as_bytes()

    def test_quoted_envelope_headers(self, webhook_client, inbound_events):
        self.post_headers(
            webhook_client,
            {
                "Return-Path": ' "sender@example.com" ',
                "Delivered-To": "<to@example.org>",
            },
        )
        message = inbound_events.event.message
        assert message.envelope_sender == "sender@example.com"
        assert message.envelope_recipient == "to@example.org"

    def test_null_sender(self, webhook_client, inbound_events):
        self.post_headers(webhook_client, {"Return-Path": "<>"})
        assert inbound_events.event.message.envelope_sender == ""

    def test_first_envelope_header_used(self, webhook_client, inbound_events):
        self.post_headers(
            webhook_client,
            {"Delivered-To": ["<first@example.org>", "second@example.org"]},
        )
        assert inbound_events.event.message.envelope_recipient == "first@example.org"

    def test_broken_headers_are_kept(self, webhook_client, inbound_events):
        # The email package's header parser crashes on some broken values, and
        # refuses a second Date: real received mail can have both
        self.post_headers(
            webhook_client,
            {
                "Message-ID": "<<<>>>",
                "Reply-To": "():;[,b:)",
                "Cc": "é@[ ",
                "Date": [
                    "Mon, 15 Jan 2024 10:30:45 +0000",
                    "Tue, 16 Jan 2024 10:30:45 +0000",
                ],
                "Subject": ["first", "second"],
                "To": "not an address at all",
            },
        )
        message = inbound_events.event.message
        assert message["Message-ID"] == "<<<>>>"
        assert message["Reply-To"] == "():;[,b:)"
        assert message["Cc"] == "é@[ "
        assert message.date == datetime(2024, 1, 15, 10, 30, 45, tzinfo=timezone.utc)
        assert message.get_all("Subject") == ["first", "second"]
        assert message.subject == "first"
        message.as_bytes()

    def test_garbage_date(self, webhook_client, inbound_events):
        self.post_headers(webhook_client, {"Date": "sometime last week"})
        assert inbound_events.event.message.date is None

    def test_folded_header_values_are_unfolded(self, webhook_client, inbound_events):
        self.post_headers(
            webhook_client,
            {"Subject": "A long\r\n subject", "X-Odd": "line\nbreak"},
        )
        message = inbound_events.event.message
        assert message.subject == "A long subject"
        assert message["X-Odd"] == "line break"

    def test_null_header_values_skipped(self, webhook_client, inbound_events):
        self.post_headers(webhook_client, {"X-Null": None, "Received": ["a", None]})
        message = inbound_events.event.message
        assert "X-Null" not in message
        assert message.get_all("Received") == ["a"]

    def test_content_type_and_mime_version_replaced(
        self, webhook_client, inbound_events
    ):
        self.post_headers(
            webhook_client,
            {"MIME-Version": "1.0", "Content-Type": "text/plain; charset=us-ascii"},
        )
        message = inbound_events.event.message
        assert message.get_all("Content-Type") == ["multipart/mixed"]
        assert message.get_all("MIME-Version") == ["1.0"]


class TestAttachments:
    def post_attachments(self, client, attachments):
        return post_inbound(client, {"items": [{"Attachments": attachments}]})

    def test_content_type_from_download_with_charset(
        self, webhook_client, inbound_events, requests_mock
    ):
        content = "Prénom;Ville\r\nAnaïs;Orléans\r\n".encode("iso-8859-1")
        requests_mock.set_response(
            200, content, headers={"Content-Type": "text/csv; charset=iso-8859-1"}
        )
        attachment = {
            "Name": "liste.csv",
            "ContentType": "text/csv",
            "ContentID": None,
            "DownloadToken": "csv",
        }
        assert self.post_attachments(webhook_client, [attachment]).status_code == 200
        [csv] = inbound_events.event.message.attachments
        assert csv.get_content_type() == "text/csv"
        assert csv.get_content_charset() == "iso-8859-1"
        assert csv.get_content_bytes() == content
        assert csv.get_content_text() == "Prénom;Ville\nAnaïs;Orléans\n"
        # a text attachment is not the message body
        assert inbound_events.event.message.text == ""

    def test_content_type_from_item_without_header(
        self, webhook_client, inbound_events, requests_mock
    ):
        requests_mock.set_response(200, b"GIF89a\x01\x00", headers={})
        attachment = {"Name": "a.gif", "ContentType": "image/gif", "DownloadToken": "g"}
        assert self.post_attachments(webhook_client, [attachment]).status_code == 200
        [gif] = inbound_events.event.message.attachments
        assert gif.get_content_type() == "image/gif"
        assert gif.get_content_bytes() == b"GIF89a\x01\x00"

    def test_no_content_type_at_all(
        self, webhook_client, inbound_events, requests_mock
    ):
        requests_mock.set_response(200, b"\x00\x01", headers={})
        assert (
            self.post_attachments(
                webhook_client, [{"Name": "blob", "DownloadToken": "b"}]
            ).status_code
            == 200
        )
        [blob] = inbound_events.event.message.attachments
        assert blob.get_content_type() == "application/octet-stream"

    def test_attached_message(self, webhook_client, inbound_events, requests_mock):
        forwarded = (
            b"From: Original <original@example.com>\r\n"
            b"Subject: Forwarded \xe9t\xe9\r\n"  # 8bit latin-1: not UTF-8
            b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n"
            b"Original body \xe9t\xe9\r\n"
        )
        requests_mock.set_response(
            200, forwarded, headers={"Content-Type": "message/rfc822"}
        )
        attachment = {
            "Name": "forwarded.eml",
            "ContentType": "message/rfc822",
            "DownloadToken": "eml",
        }
        assert self.post_attachments(webhook_client, [attachment]).status_code == 200
        message = inbound_events.event.message
        [attached] = message.attachments
        assert attached.get_content_type() == "message/rfc822"
        assert attached.get_filename() == "forwarded.eml"
        inner = attached.get_payload(0)
        assert isinstance(inner, AnymailInboundMessage)
        assert inner.from_email.addr_spec == "original@example.com"
        assert inner.get_content_text() == "Original body été\n"

    def test_truncated_attached_message(
        self, webhook_client, inbound_events, requests_mock
    ):
        requests_mock.set_response(
            200,
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Ty',
            headers={"Content-Type": "message/rfc822"},
        )
        attachment = {"Name": "cut.eml", "DownloadToken": "cut"}
        assert self.post_attachments(webhook_client, [attachment]).status_code == 200
        [attached] = inbound_events.event.message.attachments
        assert attached.get_payload(0).defects

    def test_non_ascii_filename(self, webhook_client, inbound_events, requests_mock):
        requests_mock.set_response(200, b"data", headers={"Content-Type": "text/plain"})
        attachment = {"Name": "reçu été.txt", "DownloadToken": "t"}
        assert self.post_attachments(webhook_client, [attachment]).status_code == 200
        [txt] = inbound_events.event.message.attachments
        assert txt.get_filename() == "reçu été.txt"

    def test_download_failure(self, webhook_client, inbound_events, requests_mock):
        requests_mock.set_response(404, b'{"code": "not_found"}')
        attachment = {"Name": "a.pdf", "DownloadToken": "expired"}
        with pytest.raises(requests.HTTPError):
            self.post_attachments(webhook_client, [attachment])
        assert inbound_events.calls == []

    def test_no_signal_until_all_downloaded(
        self, webhook_client, inbound_events, requests_mock
    ):
        requests_mock.queue_response(200, b"ok", headers={"Content-Type": "text/plain"})
        requests_mock.set_response(500, b"")
        items = [
            {"Attachments": [{"Name": "a.txt", "DownloadToken": "a"}]},
            {"Attachments": [{"Name": "b.txt", "DownloadToken": "b"}]},
        ]
        with pytest.raises(requests.HTTPError):
            post_inbound(webhook_client, {"items": items})
        assert inbound_events.calls == []
        assert requests_mock.call_count == 2


class TestSettings:
    def test_missing_api_key(self, settings, webhook_client, inbound_events):
        settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_inbound(webhook_client, {"items": []})
        assert str(excinfo.value) == (
            "You must set ANYMAIL = {'BREVO_API_KEY': ...} or ANYMAIL_BREVO_API_KEY"
            " or BREVO_API_KEY in your Django settings"
        )
        assert inbound_events.calls == []

    def test_missing_api_key_head(self, settings, webhook_client):
        # settings are checked on every request (a new view instance each time)
        settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
        with pytest.raises(AnymailConfigurationError, match="BREVO_API_KEY"):
            webhook_client.head(URL)

    @pytest.mark.parametrize("setting", ["ANYMAIL_BREVO_API_KEY", "BREVO_API_KEY"])
    def test_flat_and_bare_api_key(
        self, settings, webhook_client, inbound_events, requests_mock, setting
    ):
        settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
        setattr(settings, setting, "flat-key")
        requests_mock.set_response(200, b"x", headers={"Content-Type": "text/plain"})
        item = {"Attachments": [{"Name": "x.txt", "DownloadToken": "x"}]}
        assert post_inbound(webhook_client, {"items": [item]}).status_code == 200
        assert requests_mock.last_call["headers"] == {"api-key": "flat-key"}

    def test_api_url_setting(
        self, settings, webhook_client, inbound_events, requests_mock
    ):
        settings.ANYMAIL = {
            "WEBHOOK_SECRET": SECRET,
            "BREVO_API_KEY": API_KEY,
            "BREVO_API_URL": "https://api.example.com/brevo/v3",  # no slash
        }
        requests_mock.set_response(200, b"x", headers={"Content-Type": "text/plain"})
        item = {"Attachments": [{"Name": "x.txt", "DownloadToken": "x y"}]}
        assert post_inbound(webhook_client, {"items": [item]}).status_code == 200
        assert requests_mock.last_call["url"] == (
            "https://api.example.com/brevo/v3/inbound/attachments/x%20y"
        )

    @pytest.mark.urls(__name__)
    def test_as_view_kwargs(
        self, settings, webhook_client, inbound_events, requests_mock
    ):
        settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}  # no API key setting
        requests_mock.set_response(200, b"x", headers={"Content-Type": "text/plain"})
        item = {"Attachments": [{"Name": "x.txt", "DownloadToken": "x"}]}
        response = post_inbound(
            webhook_client, {"items": [item]}, url=reverse("custom_brevo_inbound")
        )
        assert response.status_code == 200
        assert requests_mock.last_call["url"] == (
            "https://proxy.example.net/brevo/inbound/attachments/x"
        )
        assert requests_mock.last_call["headers"] == {"api-key": "view-key"}

    def test_view_attributes(self):
        view = BrevoInboundWebhookView.as_view(api_key="k", api_url="https://x.test")
        instance = view.view_class(**view.view_initkwargs)
        assert instance.api_key == "k"
        assert instance.api_url == "https://x.test/"


class TestMisdirected:
    def test_tracking_payload(self, webhook_client, inbound_events, requests_mock):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_inbound(
                webhook_client,
                {"event": "delivered", "email": "a@example.com", "ts_epoch": 1},
            )
        assert str(excinfo.value) == (
            "You seem to have set Brevo's *tracking* webhook URL"
            " to Anymail's Brevo *inbound* webhook URL."
        )
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    def test_empty_object(self, webhook_client, inbound_events):
        with pytest.raises(AnymailConfigurationError, match=r"\*tracking\* webhook"):
            post_inbound(webhook_client, {})
        assert inbound_events.calls == []


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b'{"items": [',
            b"\xff\xfe garbage",
            b"null",
            b"[]",
            b'[{"Uuid": ["a"]}]',
            b'{"items": null}',
            b'{"items": {"Uuid": ["a"]}}',
            b'{"items": "abc"}',
            b'{"items": [null]}',
            b'{"items": ["message"]}',
            b'{"items": [{"Headers": "From: a@example.com"}]}',
            b'{"items": [{"Headers": ["From", "a@example.com"]}]}',
            b'{"items": [{"Headers": {"X-Number": 42}}]}',
            b'{"items": [{"Headers": {"Received": ["a", 1]}}]}',
            b'{"items": [{"Headers": {"X-Object": {"a": "b"}}}]}',
            b'{"items": [{"RawTextBody": 42}]}',
            b'{"items": [{"RawHtmlBody": ["<p>"]}]}',
            b'{"items": [{"Uuid": 7}]}',
            b'{"items": [{"ExtractedMarkdownMessage": 1}]}',
            b'{"items": [{"Attachments": "none"}]}',
            b'{"items": [{"Attachments": [null]}]}',
            b'{"items": [{"Attachments": [{"Name": "a.txt"}]}]}',
            b'{"items": [{"Attachments": [{"DownloadToken": 42}]}]}',
            b'{"items": [{"Attachments": [{"DownloadToken": "t", "Name": 1}]}]}',
            b'{"items": [{"Attachments": [{"DownloadToken": "t", "ContentID": 1}]}]}',
        ],
    )
    def test_bad_body(
        self, webhook_client, inbound_events, requests_mock, caplog, body
    ):
        response = post_inbound(webhook_client, body)
        assert response.status_code == 400
        assert b"Malformed Brevo webhook payload" in response.content
        assert "Malformed Brevo webhook payload" in caplog.text
        assert inbound_events.calls == []
        assert requests_mock.calls == []

    def test_bad_second_item_dispatches_nothing(self, webhook_client, inbound_events):
        items = [{"Uuid": ["ok"]}, {"RawTextBody": 1}]
        assert post_inbound(webhook_client, {"items": items}).status_code == 400
        assert inbound_events.calls == []

    def test_form_post(self, webhook_client, inbound_events):
        response = webhook_client.post(
            URL, {"items": "[]"}, HTTP_AUTHORIZATION=AUTH
        )  # multipart/form-data
        assert response.status_code == 400
        assert inbound_events.calls == []

    def test_string_uuid_accepted(self, webhook_client, inbound_events):
        item = {"Uuid": "single-uuid"}
        assert post_inbound(webhook_client, {"items": [item]}).status_code == 200
        assert inbound_events.event.event_id == "single-uuid"


class TestSecurity:
    @pytest.fixture
    def security_log(self, caplog):
        caplog.set_level(logging.ERROR, logger="django.security")
        return caplog

    @pytest.mark.parametrize(
        "auth",
        [None, basic_auth_header("brevo-inbound:wrong"), "Bearer abc", "Basic %%%"],
    )
    def test_refused(
        self, webhook_client, inbound_events, requests_mock, security_log, auth
    ):
        queue_attachments(requests_mock)
        response = post_inbound(
            webhook_client, {"items": [realistic_item()]}, auth=auth
        )
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert requests_mock.calls == []  # nothing downloaded either
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Brevo webhook"
        ]

    def test_correct_credentials_no_warning(self, webhook_client, inbound_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_inbound(webhook_client, {"items": [{}]})
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1

    def test_insecure_warning(self, settings, webhook_client, inbound_events):
        settings.ANYMAIL = {"BREVO_API_KEY": API_KEY}
        with pytest.warns(AnymailInsecureWebhookWarning) as record:
            response = post_inbound(webhook_client, {"items": [{}]}, auth=None)
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1
        assert [str(w.message) for w in record] == [INSECURE_WARNING]

    def test_head_is_200_without_validation(self, webhook_client, inbound_events):
        response = webhook_client.head(URL)
        assert response.status_code == 200
        assert response.content == b""
        assert inbound_events.calls == []

    def test_get_not_allowed(self, webhook_client):
        assert webhook_client.get(URL, HTTP_AUTHORIZATION=AUTH).status_code == 405


def test_unusable_api_url_is_a_server_error(webhook_client, inbound_events, settings):
    """A settings problem calling Brevo's API is a 500 (Brevo retries), not a 400."""
    from anymail.exceptions import AnymailAPIError

    settings.ANYMAIL = {**settings.ANYMAIL, "BREVO_API_URL": "api.brevo.test/v3/"}
    with pytest.raises(AnymailAPIError, match="Couldn't download attachment"):
        post_inbound(webhook_client, {"items": [realistic_item()]})
    assert inbound_events.calls == []
