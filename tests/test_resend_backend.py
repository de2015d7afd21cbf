"""Tests for the Resend sending backend (emails and emails/batch APIs)."""

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings
from django.utils import timezone as django_timezone

from anymail.backends.resend import EmailBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .conftest import b64

BACKEND = "anymail.backends.resend.EmailBackend"
API_KEY = "re_test_api_key_123"
CREDENTIALS = {"RESEND_API_KEY": API_KEY}
EMAILS_URL = "https://api.resend.com/emails"
BATCH_URL = "https://api.resend.com/emails/batch"
MESSAGE_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
API_HEADERS = {
    "Authorization": f"Bearer {API_KEY}",
    "Content-Type": "application/json",
    "Accept": "application/json",
}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def batch_response(*ids):
    return {"data": [{"id": message_id} for message_id in ids]}


@pytest.fixture(autouse=True)
def resend_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL=CREDENTIALS):
        yield


@pytest.fixture
def ignore_unsupported():
    anymail = {**CREDENTIALS, "IGNORE_UNSUPPORTED_FEATURES": True}
    with override_settings(ANYMAIL=anymail):
        yield


@pytest.fixture
def api(requests_mock):
    """requests_mock answering a successful (non-batch) send."""
    requests_mock.set_response(200, {"id": MESSAGE_ID})
    return requests_mock


@pytest.fixture
def message():
    return AnymailMessage(
        "Subject", "Text Body", "from@example.com", ["to@example.com"]
    )


def sent_data(api, message):
    """Send `message`; return the JSON body Resend received."""
    message.send()
    return api.last_json()


def sent_headers(api, message):
    """Send `message`; return the "headers" object Resend received."""
    return sent_data(api, message)["headers"]


def sent_attachments(api, message):
    return sent_data(api, message)["attachments"]


def assert_unsupported(api, message, feature):
    with pytest.raises(AnymailUnsupportedFeature) as excinfo:
        message.send()
    assert str(excinfo.value) == f"Resend does not support {feature}"
    assert api.call_count == 0
    assert message.anymail_status.status is None
    assert message.anymail_status.esp_response is None


# ---------------------------------------------------------------------------


class TestApiCall:
    def test_simple_send(self, api):
        sent = mail.send_mail(
            "Subject here", "Here is the message.", "from@sender.example.com",
            ["to@example.com"],
        )  # fmt: skip
        assert sent == 1
        call = api.last_call
        assert json.loads(call["data"]) == {
            "from": "from@sender.example.com",
            "to": ["to@example.com"],
            "subject": "Subject here",
            "text": "Here is the message.",
        }


class TestSettings:
    def test_flat_settings(self, api, message):
        with override_settings(
            ANYMAIL={},
            ANYMAIL_RESEND_API_KEY="flat-key",
            ANYMAIL_RESEND_API_URL="https://flat.example.com/resend",
        ):
            message.send()
        assert api.last_call["headers"]["Authorization"] == "Bearer flat-key"
        assert api.last_call["url"] == "https://flat.example.com/resend/emails"

    def test_api_url_not_read_bare(self, api, message):
        with override_settings(RESEND_API_URL="https://bare.example.com/"):
            message.send()
        assert api.last_call["url"] == EMAILS_URL

    def test_api_url_trailing_slash_added(self, api, message):
        anymail = {**CREDENTIALS, "RESEND_API_URL": "https://proxy.example.com/v1"}
        with override_settings(ANYMAIL=anymail):
            message.send()
        assert api.last_call["url"] == "https://proxy.example.com/v1/emails"

    def test_settings_via_kwargs(self, api, message):
        connection = mail.get_connection(
            api_key="kw-key", api_url="https://kw.example.com/"
        )
        assert connection.api_url == "https://kw.example.com/"
        assert connection.api_key == "kw-key"
        message.connection = connection
        message.send()
        assert api.last_call["headers"]["Authorization"] == "Bearer kw-key"
        assert api.last_call["url"] == "https://kw.example.com/emails"

    def test_kwargs_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                api_key="k",
                api_url="https://x.example/",
                verify_attachment_extensions=False,
                alias="resend",
            )
        assert django_init.call_args.kwargs == {"alias": "resend"}

    def test_verify_attachment_extensions_default(self):
        assert mail.get_connection().verify_attachment_extensions is True

    def test_send_defaults(self, api, message):
        anymail = {
            **CREDENTIALS,
            "SEND_DEFAULTS": {"tags": ["global"], "metadata": {"a": 1}},
            "RESEND_SEND_DEFAULTS": {"tags": ["resend"]},
        }
        with override_settings(ANYMAIL=anymail):
            headers = sent_headers(api, message)
        assert headers == {"X-Tags": '["resend"]', "X-Metadata": '{"a": 1}'}

    def test_idna_encoder_setting(self, api):
        anymail = {**CREDENTIALS, "RESEND_IDNA_ENCODER": "idna2003"}
        with override_settings(ANYMAIL=anymail):
            mail.send_mail("S", "B", "from@example.com", ["to@faß.example"])
        assert api.last_json()["to"] == ["to@fass.example"]


class TestAddresses:
    def test_formatted_addresses(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "From Name <from@example.com>",
            ["to1@example.com", "Recipient #2 <to2@example.com>"],
            cc=["cc1@example.com", "Copy 2 <cc2@example.com>"],
            bcc=["bcc@example.com", "Blind Copy <bcc2@example.com>"],
            reply_to=["reply1@example.com", "Reply 2 <reply2@example.com>"],
        )
        msg.send()
        data = api.last_json()
        assert data["from"] == "From Name <from@example.com>"
        assert data["to"] == ["to1@example.com", "Recipient #2 <to2@example.com>"]
        assert data["cc"] == ["cc1@example.com", "Copy 2 <cc2@example.com>"]
        assert data["bcc"] == ["bcc@example.com", "Blind Copy <bcc2@example.com>"]
        assert data["reply_to"] == [
            "reply1@example.com",
            "Reply 2 <reply2@example.com>",
        ]

    def test_specials_quoted_unicode_names_idn_domains(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            '"Odesílatel, z adresy" <from@příklad.example.cz>',
            ["Juan Lopéz <juan@éxample.com>", '"Smith, J." <j@example.com>'],
        )
        msg.send()
        data = api.last_json()
        assert (
            data["from"] == '"Odesílatel, z adresy" <from@xn--pklad-zsa96e.example.cz>'
        )
        assert data["to"] == [
            "Juan Lopéz <juan@xn--xample-9ua.com>",
            '"Smith, J." <j@example.com>',
        ]

    def test_eai_local_part_unchanged(self, api):
        mail.send_mail("S", "B", "from@example.com", ["відправник@example.com"])
        assert api.last_json()["to"] == ["відправник@example.com"]

    def test_empty_optional_fields_omitted(self, api, message):
        data = sent_data(api, message)
        for key in ("cc", "bcc", "reply_to", "headers", "attachments", "html"):
            assert key not in data

    def test_cc_only_has_no_to(self, api, message):
        message.to = []
        message.cc = ["cc@example.com"]
        data = sent_data(api, message)
        assert "to" not in data
        assert data["cc"] == ["cc@example.com"]

    def test_reply_to_header_replaces_reply_to(self, api, message):
        message.reply_to = ["ignored@example.com"]
        message.extra_headers = {"reply-TO": "Header <header@example.com>, b@x.com"}
        data = sent_data(api, message)
        assert data["reply_to"] == ["Header <header@example.com>", "b@x.com"]
        assert "headers" not in data

    def test_from_email_none_omits_from(self, api, message):
        message.from_email = None
        assert "from" not in sent_data(api, message)


class TestContent:
    def test_subject_sent_even_if_empty(self, api, message):
        message.subject = ""
        assert sent_data(api, message)["subject"] == ""

    def test_empty_text_body_sent(self, api, message):
        message.body = ""
        assert sent_data(api, message)["text"] == ""

    def test_html_and_text(self, api):
        msg = mail.EmailMultiAlternatives(
            "Subject", "Text", "from@example.com", ["to@example.com"]
        )
        msg.attach_alternative("<p>HTML</p>", "text/html")
        msg.send()
        data = api.last_json()
        assert data["text"] == "Text"
        assert data["html"] == "<p>HTML</p>"

    def test_html_only(self, api):
        msg = mail.EmailMessage(
            "Subject", "<p>HTML</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.send()
        data = api.last_json()
        assert data["html"] == "<p>HTML</p>"
        assert "text" not in data

    def test_text_alternative_for_empty_body(self, api):
        msg = mail.EmailMultiAlternatives(
            "Subject", "", "from@example.com", ["to@example.com"]
        )
        msg.attach_alternative("Alt text", "text/plain")
        msg.attach_alternative("<p>Alt</p>", "text/html")
        msg.send()
        data = api.last_json()
        assert data["text"] == "Alt text"
        assert data["html"] == "<p>Alt</p>"

    def test_extra_headers(self, api, message):
        message.extra_headers = {
            "X-Custom": "string",
            "X-Int": 123,
            "X-Float": 1.5,
            "X-Unicode": "Olá, café ✓",
            "x-MiXeD": "m",
        }
        assert sent_headers(api, message) == {
            "X-Custom": "string",
            "X-Int": "123",
            "X-Float": "1.5",
            "X-Unicode": "Olá, café ✓",
            "x-MiXeD": "m",
        }

    def test_extra_header_decimal_not_serializable(self, api, message):
        message.extra_headers = {"X-Price": Decimal("1.5")}
        with pytest.raises(AnymailSerializationError) as excinfo:
            message.send()
        assert "Don't know how to send this data to Resend" in str(excinfo.value)
        assert api.call_count == 0

    def test_metadata(self, api, message):
        message.metadata = {"user_id": "12345"}
        assert sent_headers(api, message) == {"X-Metadata": '{"user_id": "12345"}'}

    def test_tags(self, api, message):
        message.tags = ["receipt", "reorder test 12"]
        assert sent_headers(api, message) == {
            "X-Tags": '["receipt", "reorder test 12"]'
        }

    def test_empty_tags_still_sent(self, api, message):
        message.tags = []
        assert sent_headers(api, message) == {"X-Tags": "[]"}

    def test_headers_metadata_and_tags_together(self, api, message):
        message.extra_headers = {"X-Custom": "custom value"}
        message.tags = ["receipt"]
        message.metadata = {"user_id": "12345"}
        data = sent_data(api, message)
        assert data["headers"] == {
            "X-Custom": "custom value",
            "X-Tags": '["receipt"]',
            "X-Metadata": '{"user_id": "12345"}',
        }
        assert "tags" not in data  # not Resend's native tags


class TestAttachments:
    def test_attachments(self, api, message):
        message.attach("test.txt", "¡text!", "text/plain")
        message.attach("data.csv", "a,b\n1,2\n", "text/csv")
        message.attach("image.png", PNG, "image/png")
        assert sent_attachments(api, message) == [
            {
                "content": b64("¡text!".encode()),
                "filename": "test.txt",
                "content_type": 'text/plain; charset="utf-8"',
            },
            {
                "content": b64(b"a,b\n1,2\n"),
                "filename": "data.csv",
                "content_type": 'text/csv; charset="utf-8"',
            },
            {
                "content": b64(PNG),
                "filename": "image.png",
                "content_type": "image/png",
            },
        ]

    def test_text_attachment_in_original_charset(self, api, message):
        part = MIMEText("¡text!", "plain", "iso-8859-1")
        part.add_header("Content-Disposition", "attachment", filename="latin.txt")
        message.attach(part)
        (attachment,) = sent_attachments(api, message)
        assert attachment == {
            "content": b64("¡text!".encode("iso-8859-1")),
            "filename": "latin.txt",
            "content_type": 'text/plain; charset="iso-8859-1"',
        }

    def test_mime_attachment_full_content_type(self, api, message):
        part = MIMEBase("application", "pdf", name="doc.pdf")
        part.set_payload(b"%PDF-1.4")
        part.add_header("Content-Disposition", "attachment", filename="doc.pdf")
        message.attach(part)
        (attachment,) = sent_attachments(api, message)
        assert attachment == {
            "content": b64(b"%PDF-1.4"),
            "filename": "doc.pdf",
            "content_type": 'application/pdf; name="doc.pdf"',
        }

    def test_extension_mismatch(self, api, message):
        message.attach("data.txt", "a,b\n", "text/csv")
        assert_unsupported(
            api, message, "attachments of type text/csv with name 'data.txt'"
        )

    def test_extension_mismatch_ignored(self, api, message, ignore_unsupported):
        message.attach("data.txt", "a,b\n", "text/csv")
        (attachment,) = sent_attachments(api, message)
        assert attachment["filename"] == "data.txt"
        assert attachment["content_type"] == 'text/csv; charset="utf-8"'

    def test_extension_check_disabled(self, api, message):
        anymail = {**CREDENTIALS, "RESEND_VERIFY_ATTACHMENT_EXTENSIONS": False}
        message.attach("data.txt", "a,b\n", "text/csv")
        with override_settings(ANYMAIL=anymail):
            (attachment,) = sent_attachments(api, message)
        assert attachment == {
            "content": b64(b"a,b\n"),
            "filename": "data.txt",
            "content_type": 'text/csv; charset="utf-8"',
        }

    def test_extension_check_disabled_by_kwarg(self, api, message):
        message.attach("data.txt", "a,b\n", "text/csv")
        message.connection = mail.get_connection(verify_attachment_extensions=False)
        (attachment,) = sent_attachments(api, message)
        assert attachment["filename"] == "data.txt"

    def test_extension_match_ignores_mimetype_case(self, api, message):
        message.attach("page.html", "<p>hi</p>", "Text/HTML")
        (attachment,) = sent_attachments(api, message)
        assert attachment["filename"] == "page.html"

    @pytest.mark.parametrize("name", ["emoticon.img", "no-extension"])
    def test_unknown_extension_passes(self, api, message, name):
        message.attach(name, b"\x01\x02", "image/x-emoticon")
        (attachment,) = sent_attachments(api, message)
        assert attachment == {
            "content": b64(b"\x01\x02"),
            "filename": name,
            "content_type": "image/x-emoticon",
        }

    @pytest.mark.parametrize(
        "mimetype, content, filename",
        [
            ("text/plain", "text", "attachment.txt"),
            ("image/png", PNG, "attachment.png"),
            ("application/pdf", b"%PDF", "attachment.pdf"),
        ],
    )
    def test_missing_filename_generated(
        self, api, message, mimetype, content, filename
    ):
        message.attach(None, content, mimetype)
        (attachment,) = sent_attachments(api, message)
        assert attachment["filename"] == filename

    def test_unnamed_unknown_type(self, api, message):
        message.attach(None, b"\x01", "image/x-emoticon")
        assert_unsupported(api, message, "unnamed attachments of type image/x-emoticon")

    def test_unnamed_unknown_type_ignored(self, api, message, ignore_unsupported):
        message.attach(None, b"\x01", "image/x-emoticon")
        (attachment,) = sent_attachments(api, message)
        assert attachment == {
            "content": b64(b"\x01"),
            "filename": "",
            "content_type": "image/x-emoticon",
        }

    def test_inline_image(self, api, message):
        cid = attach_inline_image(message, PNG, filename="logo.png")
        message.attach("plain.txt", "text", "text/plain")
        attachments = sent_attachments(api, message)
        assert attachments[0] == {
            "content": b64(PNG),
            "filename": "logo.png",
            "content_type": "image/png",
            "content_id": cid,
        }
        assert "content_id" not in attachments[1]

    def test_inline_without_content_id(self, api, message):
        image = MIMEImage(PNG, "png")
        image.add_header("Content-Disposition", "inline", filename="x.png")
        message.attach(image)
        assert_unsupported(api, message, "inline attachments without Content-ID")

    def test_inline_without_content_id_ignored(self, api, message, ignore_unsupported):
        image = MIMEImage(PNG, "png")
        image.add_header("Content-Disposition", "inline", filename="x.png")
        message.attach(image)
        (attachment,) = sent_attachments(api, message)
        assert attachment == {
            "content": b64(PNG),
            "filename": "x.png",
            "content_type": "image/png",
            "content_id": "",
        }


class TestSendAt:
    @pytest.mark.parametrize(
        "send_at, expected",
        [
            (
                datetime(2022, 10, 11, 12, 13, 14, 123456),
                "2022-10-11T12:13:14.123+06:00",
            ),
            (datetime(2022, 10, 11, 12, 13, 14), "2022-10-11T12:13:14+06:00"),
            (
                datetime(2016, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=-8))),
                "2016-03-04T05:06:07-08:00",
            ),
            (date(2022, 10, 22), "2022-10-22T00:00:00+06:00"),
            (1651820889, "2022-05-06T07:08:09+00:00"),
            ("2025-01-01T09:00:00Z", "2025-01-01T09:00:00Z"),
            ("in 1 hour", "in 1 hour"),
        ],
    )
    def test_scheduled_at(self, api, message, send_at, expected):
        message.send_at = send_at
        with django_timezone.override(ZoneInfo("Asia/Dhaka")):  # UTC+6, no DST
            data = sent_data(api, message)
        assert data["scheduled_at"] == expected
        assert api.last_call["url"] == EMAILS_URL

    def test_no_scheduled_at_by_default(self, api, message):
        assert "scheduled_at" not in sent_data(api, message)


class TestUnsupportedFeatures:
    def test_multiple_from(self, api, message):
        message.from_email = "one@example.com, two@example.com"
        assert_unsupported(api, message, "multiple from emails")

    def test_multiple_html_parts(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        assert_unsupported(api, message, "multiple html parts")

    def test_html_body_and_html_alternative(self, api):
        msg = AnymailMessage("S", "", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.attach_alternative("<p>alt</p>", "text/html")
        assert_unsupported(api, msg, "multiple html parts")

    def test_multiple_plaintext_parts(self, api, message):
        message.attach_alternative("more text", "text/plain")
        assert_unsupported(api, message, "multiple plaintext parts")

    def test_other_alternative(self, api, message):
        message.attach_alternative("<html amp4email></html>", "text/x-amp-html")
        assert_unsupported(api, message, "alternative part with type 'text/x-amp-html'")

    def test_envelope_sender(self, api, message):
        message.envelope_sender = "bounce@example.com"
        assert_unsupported(api, message, "envelope_sender")

    def test_from_header(self, api, message):
        message.extra_headers = {"From": "Header From <header@example.com>"}
        assert_unsupported(api, message, "envelope_sender")

    def test_spoofed_to_header(self, api, message):
        message.extra_headers = {"To": "Spoofed <spoofed@example.com>"}
        assert_unsupported(api, message, "spoofing `To` header")

    @pytest.mark.parametrize("value", [True, False])
    def test_track_clicks(self, api, message, value):
        message.track_clicks = value
        assert_unsupported(api, message, "track_clicks")

    @pytest.mark.parametrize("value", [True, False])
    def test_track_opens(self, api, message, value):
        message.track_opens = value
        assert_unsupported(api, message, "track_opens")

    def test_template_id(self, api, message):
        message.template_id = "welcome"
        assert_unsupported(api, message, "template_id")

    @pytest.mark.parametrize("value", [{"name": "Alice"}, {}])
    def test_merge_global_data(self, api, message, value):
        message.merge_global_data = value
        assert_unsupported(api, message, "merge_global_data")

    def test_merge_data(self, api, message):
        message.to = ["a@example.com", "b@example.com"]
        message.merge_data = {"a@example.com": {}, "b@example.com": {"x": 1}}
        assert_unsupported(api, message, "merge_data")


@pytest.mark.usefixtures("ignore_unsupported")
class TestIgnoreUnsupportedFeatures:
    def test_multiple_from_uses_first(self, api, message):
        message.from_email = "one@example.com, Two <two@example.com>"
        assert sent_data(api, message)["from"] == "one@example.com"

    def test_later_html_wins(self, api):
        msg = AnymailMessage("S", "", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.attach_alternative("<p>alt</p>", "text/html")
        assert sent_data(api, msg)["html"] == "<p>alt</p>"

    def test_extra_alternatives_dropped(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        message.attach_alternative("more text", "text/plain")
        message.attach_alternative("<html amp4email></html>", "text/x-amp-html")
        data = sent_data(api, message)
        assert data["html"] == "<p>one</p>"
        assert data["text"] == "Text Body"

    def test_from_header_used_as_from(self, api, message):
        message.extra_headers = {"From": "Header From <header@example.com>"}
        data = sent_data(api, message)
        assert data["from"] == "Header From <header@example.com>"
        assert "headers" not in data

    def test_dropped_features(self, api, message):
        message.envelope_sender = "bounce@example.com"
        message.extra_headers = {"To": "spoofed@example.com", "X-Other": "kept"}
        message.track_clicks = True
        message.track_opens = False
        message.template_id = "welcome"
        message.merge_global_data = {"name": "Alice"}
        data = sent_data(api, message)
        assert data == {
            "from": "from@example.com",
            "to": ["to@example.com"],
            "subject": "Subject",
            "text": "Text Body",
            "headers": {"X-Other": "kept"},
        }
        assert api.last_call["url"] == EMAILS_URL

    def test_merge_data_still_batch(self, api, message):
        message.merge_data = {"to@example.com": {"name": "Alice"}}
        api.set_response(200, batch_response("id-1"))
        message.send()
        assert api.last_call["url"] == BATCH_URL
        assert api.last_json() == [
            {
                "from": "from@example.com",
                "to": ["to@example.com"],
                "subject": "Subject",
                "text": "Text Body",
            }
        ]


class TestBatchSend:
    @pytest.fixture
    def batch_api(self, api):
        api.set_response(200, batch_response("id-1", "id-2"))
        return api

    @pytest.fixture
    def batch_message(self):
        return AnymailMessage(
            "Subject", "Body", "from@example.com",
            ["alice@example.com", "Bob <bob@example.com>"],
        )  # fmt: skip

    def test_batch_request(self, batch_api, batch_message):
        batch_message.cc = ["cc@example.com"]
        batch_message.bcc = ["bcc@example.com"]
        batch_message.reply_to = ["reply@example.com"]
        batch_message.attach("a.txt", "attached", "text/plain")
        batch_message.merge_data = {}
        batch_message.send()
        call = batch_api.last_call
        assert call["method"] == "POST"
        assert call["url"] == BATCH_URL
        assert call["headers"] == API_HEADERS
        shared = {
            "from": "from@example.com",
            "cc": ["cc@example.com"],
            "bcc": ["bcc@example.com"],
            "reply_to": ["reply@example.com"],
            "subject": "Subject",
            "text": "Body",
            "attachments": [
                {
                    "content": b64(b"attached"),
                    "filename": "a.txt",
                    "content_type": 'text/plain; charset="utf-8"',
                }
            ],
        }
        assert batch_api.last_json() == [
            {**shared, "to": ["alice@example.com"]},
            {**shared, "to": ["Bob <bob@example.com>"]},
        ]

    @pytest.mark.parametrize(
        "attr, value",
        [
            ("merge_data", {}),
            ("merge_data", {"alice@example.com": {}}),
            ("merge_metadata", {}),
            ("merge_headers", {}),
            ("merge_headers", None),
        ],
    )
    def test_batch_triggers(self, batch_api, batch_message, attr, value):
        setattr(batch_message, attr, value)
        batch_message.send()
        assert batch_api.last_call["url"] == BATCH_URL
        assert [m["to"] for m in batch_api.last_json()] == [
            ["alice@example.com"],
            ["Bob <bob@example.com>"],
        ]

    def test_merge_headers_spec_example(self, batch_api):
        msg = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "Bob <bob@example.com>"],
        )
        msg.extra_headers = {
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Unsubscribe": "<https://example.com/fallback/>",
        }
        msg.merge_headers = {
            "alice@example.com": {"List-Unsubscribe": "<https://example.com/a/>"},
            "bob@example.com": {"List-Unsubscribe": "<https://example.com/b/>"},
        }
        msg.send()
        assert batch_api.last_json() == [
            {
                "from": "from@example.com",
                "to": ["alice@example.com"],
                "subject": "",
                "text": "",
                "headers": {
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "List-Unsubscribe": "<https://example.com/a/>",
                },
            },
            {
                "from": "from@example.com",
                "to": ["Bob <bob@example.com>"],
                "subject": "",
                "text": "",
                "headers": {
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "List-Unsubscribe": "<https://example.com/b/>",
                },
            },
        ]

    def test_merge_headers_case_insensitive_keeps_first_spelling(
        self, batch_api, batch_message
    ):
        batch_message.extra_headers = {"X-Custom": "global", "X-Other": "o"}
        batch_message.merge_headers = {
            "alice@example.com": {"x-custom": "alice", "X-New": "n"},
        }
        batch_message.send()
        first, second = batch_api.last_json()
        assert first["headers"] == {"X-Custom": "alice", "X-Other": "o", "X-New": "n"}
        assert second["headers"] == {"X-Custom": "global", "X-Other": "o"}

    def test_merge_headers_without_global_headers(self, batch_api, batch_message):
        batch_message.merge_headers = {"bob@example.com": {"X-Bob": "1"}}
        batch_message.send()
        first, second = batch_api.last_json()
        assert "headers" not in first
        assert second["headers"] == {"X-Bob": "1"}

    def test_merge_metadata(self, batch_api, batch_message):
        batch_message.metadata = {"batch": "zx9", "shared": "global"}
        batch_message.tags = ["newsletter"]
        batch_message.merge_metadata = {
            "bob@example.com": {"order_id": 678, "shared": "bob"},
        }
        batch_message.send()
        first, second = batch_api.last_json()
        assert first["headers"] == {
            "X-Metadata": '{"batch": "zx9", "shared": "global"}',
            "X-Tags": '["newsletter"]',
        }
        assert second["headers"] == {
            "X-Metadata": '{"batch": "zx9", "shared": "bob", "order_id": 678}',
            "X-Tags": '["newsletter"]',
        }

    def test_merge_metadata_without_metadata_or_headers(self, batch_api, batch_message):
        batch_message.merge_metadata = {"alice@example.com": {"id": 1}}
        batch_message.send()
        first, second = batch_api.last_json()
        assert first["headers"] == {"X-Metadata": '{"id": 1}'}
        assert "headers" not in second

    def test_merge_metadata_and_merge_headers(self, batch_api, batch_message):
        batch_message.extra_headers = {"X-Global": "g"}
        batch_message.merge_metadata = {"alice@example.com": {"id": 1}}
        batch_message.merge_headers = {"alice@example.com": {"x-metadata": "over"}}
        batch_message.send()
        first, second = batch_api.last_json()
        assert first["headers"] == {"X-Global": "g", "X-Metadata": "over"}
        assert second["headers"] == {"X-Global": "g"}

    def test_lookup_by_exact_addr_spec(self, batch_api, batch_message):
        batch_message.merge_metadata = {"Alice@example.com": {"id": 1}}
        batch_message.merge_headers = {"bob@example.com ": {"X-B": "b"}}
        batch_message.send()
        assert all("headers" not in m for m in batch_api.last_json())

    def test_merge_metadata_not_serializable(self, batch_api, batch_message):
        batch_message.merge_metadata = {"alice@example.com": {"p": Decimal("1")}}
        with pytest.raises(AnymailSerializationError):
            batch_message.send()
        assert batch_api.call_count == 0

    def test_no_to_recipients_sends_empty_array(self, batch_api):
        msg = AnymailMessage("S", "B", "from@example.com", cc=["cc@example.com"])
        msg.merge_metadata = {}
        batch_api.set_response(200, batch_response())
        msg.send()
        assert batch_api.last_call["url"] == BATCH_URL
        assert batch_api.last_json() == []
        recipients = msg.anymail_status.recipients
        assert recipients["cc@example.com"].status == "queued"
        assert recipients["cc@example.com"].message_id is None

    def test_batch_from_send_defaults(self, batch_api, batch_message):
        anymail = {
            **CREDENTIALS,
            "RESEND_SEND_DEFAULTS": {"merge_metadata": {"alice@example.com": {"d": 1}}},
        }
        with override_settings(ANYMAIL=anymail):
            batch_message.send()
        first, second = batch_api.last_json()
        assert first["headers"] == {"X-Metadata": '{"d": 1}'}
        assert "headers" not in second

    def test_batch_status(self, batch_api, batch_message):
        batch_message.cc = ["cc@example.com"]
        batch_message.bcc = ["bcc@example.com"]
        batch_message.merge_data = {}
        batch_message.send()
        status = batch_message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == {"id-1", "id-2", None}
        assert {
            email: (r.status, r.message_id) for email, r in status.recipients.items()
        } == {
            "alice@example.com": ("queued", "id-1"),
            "bob@example.com": ("queued", "id-2"),
            "cc@example.com": ("queued", None),
            "bcc@example.com": ("queued", None),
        }

    def test_batch_status_case_insensitive(self, batch_api):
        msg = AnymailMessage(
            "S", "B", "from@example.com",
            ["Alice@Example.com", "bob@example.com"],
            cc=["alice@example.com"],
        )  # fmt: skip
        msg.merge_data = {}
        msg.send()
        recipients = msg.anymail_status.recipients
        assert {e: r.message_id for e, r in recipients.items()} == {
            "Alice@Example.com": "id-1",
            "bob@example.com": "id-2",
        }

    def test_batch_fewer_ids_than_recipients(self, api, batch_message):
        api.set_response(200, batch_response("id-1"))
        batch_message.merge_data = {}
        batch_message.send()
        recipients = batch_message.anymail_status.recipients
        assert recipients["alice@example.com"].message_id == "id-1"
        assert recipients["bob@example.com"].message_id is None
        assert recipients["bob@example.com"].status == "queued"


class TestEspExtra:
    def test_native_tags(self, api, message):
        message.tags = ["anymail-tag"]
        message.esp_extra = {"tags": [{"name": "my_tag", "value": "my_tag_value"}]}
        data = sent_data(api, message)
        assert data["tags"] == [{"name": "my_tag", "value": "my_tag_value"}]
        assert data["headers"] == {"X-Tags": '["anymail-tag"]'}

    def test_shallow_update_overrides(self, api, message):
        message.reply_to = ["reply@example.com"]
        message.esp_extra = {"subject": "Overridden", "reply_to": "r@example.com"}
        data = sent_data(api, message)
        assert data["subject"] == "Overridden"
        assert data["reply_to"] == "r@example.com"
        assert data["text"] == "Text Body"

    def test_headers_replaced_entirely(self, api, message):
        message.extra_headers = {"X-Custom": "custom"}
        message.tags = ["t"]
        message.metadata = {"m": 1}
        message.esp_extra = {"headers": {"X-Only": "this"}}
        assert sent_headers(api, message) == {"X-Only": "this"}

    def test_in_every_batch_message(self, api, message):
        api.set_response(200, batch_response("id-1", "id-2"))
        message.to = ["a@example.com", "b@example.com"]
        message.merge_metadata = {"b@example.com": {"id": 2}}
        message.esp_extra = {"tags": [{"name": "t", "value": "v"}], "to": ["x@x.com"]}
        message.send()
        first, second = api.last_json()
        assert first["tags"] == second["tags"] == [{"name": "t", "value": "v"}]
        assert first["to"] == ["a@example.com"]
        assert second["to"] == ["b@example.com"]
        assert second["headers"] == {"X-Metadata": '{"id": 2}'}

    def test_from_send_defaults(self, api, message):
        anymail = {
            **CREDENTIALS,
            "RESEND_SEND_DEFAULTS": {"esp_extra": {"tags": [{"name": "d"}]}},
        }
        message.esp_extra = {"scheduled_at": "in 1 min"}
        with override_settings(ANYMAIL=anymail):
            data = sent_data(api, message)
        assert data["tags"] == [{"name": "d"}]
        assert data["scheduled_at"] == "in 1 min"


class TestResponses:
    def test_success_status(self, api, message):
        message.cc = ["cc@example.com"]
        message.bcc = ["Hidden <bcc@example.com>"]
        assert message.send() == 1
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == MESSAGE_ID
        assert {
            email: (r.status, r.message_id) for email, r in status.recipients.items()
        } == {
            "to@example.com": ("queued", MESSAGE_ID),
            "cc@example.com": ("queued", MESSAGE_ID),
            "bcc@example.com": ("queued", MESSAGE_ID),
        }
        assert isinstance(status.esp_response, requests.Response)
        assert status.esp_response.json() == {"id": MESSAGE_ID}

    def test_status_keys_are_original_addr_spec(self, api):
        msg = AnymailMessage("S", "B", "from@example.com", ["Juan@éxample.com"])
        msg.send()
        assert list(msg.anymail_status.recipients) == ["Juan@éxample.com"]
        assert api.last_json()["to"] == ["Juan@xn--xample-9ua.com"]

    def test_invalid_json(self, api, message):
        api.set_response(200, "<html>Not JSON</html>")
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid JSON in Resend API response")
        status = message.anymail_status
        assert isinstance(status.esp_response, requests.Response)
        assert status.status is None
        assert status.message_id is None
        assert status.recipients == {}

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"object": "email"},
            {"data": None},
            {"data": "id-1"},
            {"data": {"id": "id-1"}},
            {"data": [{"no_id": "x"}]},
            {"data": ["id-1"]},
            {"id": ["unhashable"]},
            [{"id": "id-1"}],
            "id-1",
            None,
        ],
    )
    def test_invalid_response_format(self, api, message, body):
        api.set_response(200, json.dumps(body))
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid Resend API response format")
        assert message.anymail_status.esp_response is not None
        assert message.anymail_status.status is None

    def test_data_response_to_non_batch_send(self, api, message):
        api.set_response(200, batch_response("only-id"))
        message.send()
        assert message.anymail_status.message_id == "only-id"

    def test_api_error(self, api, message):
        error = {
            "statusCode": 400,
            "message": "API key is invalid",
            "name": "validation_error",
        }
        api.set_response(400, error)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        err = excinfo.value
        assert err.status_code == 400
        assert str(err) == (
            "Resend API response 400 (BAD REQUEST):\n" + json.dumps(error, indent=2)
        )
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_rate_limit(self, api, message):
        api.set_response(
            429,
            {"statusCode": 429, "message": "Too many requests", "name": "rate_limit"},
            headers={"retry-after": "1"},
        )
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert excinfo.value.status_code == 429
        assert excinfo.value.response.headers["Retry-After"] == "1"
        assert "Resend API response 429" in str(excinfo.value)

    def test_server_error_not_json(self, api, message):
        api.set_response(500, "Internal Server Error", headers={})
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Resend API response 500 (INTERNAL SERVER ERROR): 'Internal Server Error'"
        )
