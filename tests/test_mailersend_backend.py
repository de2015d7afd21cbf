"""Tests for the MailerSend sending backend (anymail.backends.mailersend).

Each test checks the exact request MailerSend would receive (recorded by the
`requests_mock` fixture from conftest.py) and/or how its answer is parsed.
"""

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
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

from anymail.backends.mailersend import EmailBackend
from anymail.exceptions import (
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .conftest import b64

BACKEND = "anymail.backends.mailersend.EmailBackend"
TOKEN = "test-api-token"
CREDENTIALS = {"MAILERSEND_API_TOKEN": TOKEN}
EMAIL_URL = "https://api.mailersend.com/v1/email"
BULK_URL = "https://api.mailersend.com/v1/bulk-email"

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)

# The email endpoint's normal answer: an empty text/html body, id in a header
ACCEPTED_HEADERS = {"Content-Type": "text/html", "X-Message-Id": "1234567890abcdef"}

BATCH_MODE_ERROR = (
    "MailerSend requires MAILERSEND_BATCH_SEND_MODE set to either"
    " 'use-bulk-email' or 'expose-to-list' for using batch send (merge_data)"
    " with multiple recipients. See the Anymail docs."
)


def mailersend_settings(**anymail):
    return override_settings(ANYMAIL={**CREDENTIALS, **anymail})


@pytest.fixture(autouse=True)
def mailersend_backend():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL=CREDENTIALS):
        yield


@pytest.fixture
def api(requests_mock):
    """requests_mock answering like MailerSend's email endpoint."""
    requests_mock.set_response(202, b"", headers=ACCEPTED_HEADERS)
    return requests_mock


@pytest.fixture
def bulk_api(requests_mock):
    """requests_mock answering like MailerSend's bulk-email endpoint."""
    requests_mock.set_response(
        202,
        {
            "message": "The bulk email is being processed.",
            "bulk_email_id": "12345abcde",
        },
    )
    return requests_mock


@pytest.fixture
def message():
    return AnymailMessage(
        "Subject", "Text Body", "from@example.com", ["to@example.com"]
    )


def sent_data(api):
    return api.last_json()


def batch_message(**kwargs):
    kwargs.setdefault("subject", "Subject")
    kwargs.setdefault("body", "Hi {{ name }}")
    kwargs.setdefault("from_email", "from@example.com")
    kwargs.setdefault("to", ["alice@example.com", "Bob <bob@example.com>"])
    return AnymailMessage(**kwargs)


# ---------------------------------------------------------------------------


class TestApiCall:
    def test_simple_send(self, api):
        sent = mail.send_mail(
            "Subject here", "Here is the message.", "from@example.com",
            ["to@example.com"],
        )  # fmt: skip
        assert sent == 1
        call = api.last_call
        assert json.loads(call["data"]) == {
            "from": {"email": "from@example.com"},
            "to": [{"email": "to@example.com"}],
            "subject": "Subject here",
            "text": "Here is the message.",
        }

    def test_headers_not_shared_between_messages(self, api):
        first = AnymailMessage("One", "1", "from@example.com", ["a@example.com"])
        first.esp_extra = {"api_token": "other-token"}
        second = AnymailMessage("Two", "2", "from@example.com", ["b@example.com"])
        mail.get_connection().send_messages([first, second])
        assert api.calls[0]["headers"]["Authorization"] == "Bearer other-token"
        assert api.calls[1]["headers"]["Authorization"] == "Bearer test-api-token"


class TestSettings:
    def test_flat_settings(self, api, message):
        with override_settings(
            ANYMAIL={},
            ANYMAIL_MAILERSEND_API_TOKEN="flat-token",
            ANYMAIL_MAILERSEND_API_URL="https://flat.example.com/v1/",
        ):
            message.send()
        assert api.last_call["headers"]["Authorization"] == "Bearer flat-token"
        assert api.last_call["url"] == "https://flat.example.com/v1/email"

    def test_api_url_adds_trailing_slash(self, api, message):
        with mailersend_settings(
            MAILERSEND_API_URL="https://api.dev.mailersend.com/v2"
        ):
            message.send()
        assert api.last_call["url"] == "https://api.dev.mailersend.com/v2/email"

    def test_api_url_not_read_bare(self, api, message):
        with override_settings(MAILERSEND_API_URL="https://bare.example.com/"):
            message.send()
        assert api.last_call["url"] == EMAIL_URL

    def test_batch_send_mode_not_read_bare(self, api):
        with (
            override_settings(MAILERSEND_BATCH_SEND_MODE="use-bulk-email"),
            pytest.raises(AnymailUnsupportedFeature),
        ):
            batch_message(merge_data={}).send()

    def test_defaults(self):
        backend = EmailBackend()
        assert backend.api_url == "https://api.mailersend.com/v1/"
        assert backend.batch_send_mode is None
        assert backend.api_token == TOKEN

    def test_settings_via_kwargs(self, bulk_api):
        connection = mail.get_connection(
            api_token="kw-token",
            api_url="https://kw.example.com/ms/v1",
            batch_send_mode="use-bulk-email",
        )
        assert connection.api_url == "https://kw.example.com/ms/v1/"
        assert connection.batch_send_mode == "use-bulk-email"
        msg = batch_message(merge_data={}, connection=connection)
        msg.send()
        assert bulk_api.last_call["url"] == "https://kw.example.com/ms/v1/bulk-email"
        assert bulk_api.last_call["headers"]["Authorization"] == "Bearer kw-token"

    def test_kwargs_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                api_token="t",
                api_url="https://x.example/",
                batch_send_mode="expose-to-list",
                send_defaults={},
                idna_encoder="idna2008",
                alias="ms",
            )
        assert django_init.call_args.kwargs == {"alias": "ms"}

    def test_token_never_in_body(self, api, message):
        message.esp_extra = {"api_token": "per-message-token"}
        message.send()
        assert "per-message-token" not in api.last_call["data"]
        assert TOKEN not in api.last_call["data"]

    def test_send_defaults(self, api, message):
        defaults = {"tags": ["default-tag"], "track_opens": True}
        with mailersend_settings(MAILERSEND_SEND_DEFAULTS=defaults):
            message.send()
        data = sent_data(api)
        assert data["tags"] == ["default-tag"]
        assert data["settings"] == {"track_opens": True}

    def test_idna_encoder_setting(self, api):
        with mailersend_settings(MAILERSEND_IDNA_ENCODER="idna2003"):
            mail.send_mail("S", "B", "from@example.com", ["to@faß.example"])
        assert sent_data(api)["to"] == [{"email": "to@fass.example"}]


class TestAddresses:
    def test_address_objects(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            '"Sender, Inc." <from@example.com>',
            ["to1@example.com", "Recipient #2 <to2@example.com>"],
            cc=["cc1@example.com", "Copy 2 <cc2@example.com>"],
            bcc=["bcc@example.com", "Blind Copy <bcc2@example.com>"],
        )
        msg.send()
        data = sent_data(api)
        assert data["from"] == {"email": "from@example.com", "name": "Sender, Inc."}
        assert data["to"] == [
            {"email": "to1@example.com"},
            {"email": "to2@example.com", "name": "Recipient #2"},
        ]
        assert data["cc"] == [
            {"email": "cc1@example.com"},
            {"email": "cc2@example.com", "name": "Copy 2"},
        ]
        assert data["bcc"] == [
            {"email": "bcc@example.com"},
            {"email": "bcc2@example.com", "name": "Blind Copy"},
        ]

    def test_unicode_names_and_idn_domains(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            '"Frøm, Ñame" <from@exämple.com>',
            ["Juan Lopéz <juan@éxample.com>", "відправник@example.com"],
        )
        msg.send()
        data = sent_data(api)
        # names raw (no quotes, no RFC 2047); domains IDNA; local parts unchanged
        assert data["from"] == {
            "email": "from@xn--exmple-cua.com",
            "name": "Frøm, Ñame",
        }
        assert data["to"] == [
            {"email": "juan@xn--xample-9ua.com", "name": "Juan Lopéz"},
            {"email": "відправник@example.com"},
        ]

    def test_no_optional_address_fields_when_empty(self, api, message):
        message.send()
        data = sent_data(api)
        for key in ("cc", "bcc", "reply_to"):
            assert key not in data

    def test_reply_to(self, api, message):
        message.reply_to = ['"Reply, Person" <reply@example.com>']
        message.send()
        assert sent_data(api)["reply_to"] == {
            "email": "reply@example.com",
            "name": "Reply, Person",
        }

    def test_reply_to_header_replaces_reply_to(self, api, message):
        message.reply_to = ["ignored@example.com"]
        message.extra_headers = {"reply-to": "Header <header@example.com>"}
        message.send()
        data = sent_data(api)
        assert data["reply_to"] == {"email": "header@example.com", "name": "Header"}
        assert "headers" not in data

    def test_from_email_none_omits_from(self, api, message):
        message.from_email = None
        message.template_id = "zyxwvut98765"
        message.send()
        assert "from" not in sent_data(api)


class TestContent:
    def test_subject_sent_even_if_empty(self, api, message):
        message.subject = ""
        message.send()
        assert sent_data(api)["subject"] == ""

    def test_empty_text_body_sent(self, api, message):
        message.body = ""
        message.send()
        assert sent_data(api)["text"] == ""

    def test_html_and_text(self, api):
        msg = mail.EmailMultiAlternatives(
            "Subject", "Text", "from@example.com", ["to@example.com"]
        )
        msg.attach_alternative("<p>HTML</p>", "text/html")
        msg.send()
        data = sent_data(api)
        assert data["text"] == "Text"
        assert data["html"] == "<p>HTML</p>"

    def test_html_only(self, api):
        msg = mail.EmailMessage(
            "Subject", "<p>HTML</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.send()
        data = sent_data(api)
        assert data["html"] == "<p>HTML</p>"
        assert "text" not in data

    def test_html_body_with_text_alternative(self, api):
        msg = AnymailMessage(
            "Subject", "<p>HTML</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.attach_alternative("Text", "text/plain")
        msg.send()
        data = sent_data(api)
        assert data["html"] == "<p>HTML</p>"
        assert data["text"] == "Text"

    def test_no_html_when_not_given(self, api, message):
        message.send()
        assert "html" not in sent_data(api)

    def test_extra_headers(self, api, message):
        message.extra_headers = {
            "X-Custom": "string",
            "X-Num": 123,
            "x-MiXeD": "m",
            "X-Extra": "Další",
        }
        message.send()
        assert sent_data(api)["headers"] == [
            {"name": "X-Custom", "value": "string"},
            {"name": "X-Num", "value": 123},
            {"name": "x-MiXeD", "value": "m"},
            {"name": "X-Extra", "value": "Další"},
        ]

    def test_in_reply_to_header(self, api, message):
        message.extra_headers = {
            "in-reply-to": "<12345@example.com>",
            "X-Other": "kept",
        }
        message.send()
        data = sent_data(api)
        assert data["in_reply_to"] == "<12345@example.com>"
        assert data["headers"] == [{"name": "X-Other", "value": "kept"}]

    @pytest.mark.parametrize(
        "value, expected",
        [
            ("bulk", True),
            ("Bulk", True),
            ("junk", True),
            ("LIST", True),
            ("first-class", False),
            ("", False),
        ],
    )
    def test_precedence_header(self, api, message, value, expected):
        message.extra_headers = {"Precedence": value}
        message.send()
        data = sent_data(api)
        assert data["precedence_bulk"] is expected
        assert "headers" not in data

    def test_no_special_fields_without_headers(self, api, message):
        message.extra_headers = {"X-Only": "one"}
        message.send()
        data = sent_data(api)
        assert "in_reply_to" not in data
        assert "precedence_bulk" not in data

    def test_extra_headers_from_send_defaults(self, api, message):
        defaults = {"extra_headers": {"X-Default": "d"}}
        message.extra_headers = {"X-Message": "m"}
        with mailersend_settings(MAILERSEND_SEND_DEFAULTS=defaults):
            message.send()
        assert sent_data(api)["headers"] == [
            {"name": "X-Default", "value": "d"},
            {"name": "X-Message", "value": "m"},
        ]


class TestAttachments:
    def test_attachments(self, api, message):
        message.attach("test.txt", "¡text!", "text/plain")
        message.attach("data.bin", b"\x00\x01\xff", "application/octet-stream")
        message.send()
        assert sent_data(api)["attachments"] == [
            {
                "filename": "test.txt",
                "content": b64("¡text!".encode()),
                "disposition": "attachment",
            },
            {
                "filename": "data.bin",
                "content": b64(b"\x00\x01\xff"),
                "disposition": "attachment",
            },
        ]

    def test_text_attachment_reencoded_as_utf8(self, api, message):
        message.attach(MIMEText("¡text!", "plain", "iso-8859-1"))
        message.send()
        (attachment,) = sent_data(api)["attachments"]
        assert attachment == {
            "filename": "attachment.txt",
            "content": b64("¡text!".encode()),
            "disposition": "attachment",
        }

    @pytest.mark.parametrize(
        "mimetype, filename",
        [
            ("application/pdf", "attachment.pdf"),
            ("text/calendar", "attachment.ics"),
            ("application/x-no-such-type", None),
        ],
    )
    def test_generated_filename(self, api, message, mimetype, filename):
        message.attach(None, b"content", mimetype)
        message.send()
        (attachment,) = sent_data(api)["attachments"]
        assert attachment["filename"] == filename
        assert attachment["content"] == b64(b"content")
        assert "type" not in attachment

    def test_inline_image(self, api, message):
        cid = attach_inline_image(message, PNG, filename="logo.png")
        message.attach("doc.pdf", b"%PDF", "application/pdf")
        message.send()
        assert sent_data(api)["attachments"] == [
            {
                "filename": "logo.png",
                "content": b64(PNG),
                "disposition": "inline",
                "id": cid,
            },
            {
                "filename": "doc.pdf",
                "content": b64(b"%PDF"),
                "disposition": "attachment",
            },
        ]

    def test_inline_image_without_filename(self, api, message):
        cid = attach_inline_image(message, PNG)
        message.send()
        (inline,) = sent_data(api)["attachments"]
        assert inline == {
            "filename": "attachment.png",
            "content": b64(PNG),
            "disposition": "inline",
            "id": cid,
        }

    def test_inline_content_id_without_brackets(self, api, message):
        image = MIMEImage(PNG, "png")
        image.add_header("Content-ID", "<my-image@example.com>")
        image.add_header("Content-Disposition", "inline", filename="x.png")
        message.attach(image)
        message.send()
        (inline,) = sent_data(api)["attachments"]
        assert inline["id"] == "my-image@example.com"
        assert inline["disposition"] == "inline"

    def test_no_attachments_field_when_none(self, api, message):
        message.send()
        assert "attachments" not in sent_data(api)


class TestAnymailFeatures:
    def test_plain_message_has_no_optional_fields(self, api, message):
        message.send()
        assert set(sent_data(api)) == {"from", "to", "subject", "text"}

    def test_tags(self, api, message):
        message.tags = ["receipt", "repeat-user"]
        message.send()
        assert sent_data(api)["tags"] == ["receipt", "repeat-user"]

    def test_empty_tags_omitted(self, api, message):
        message.tags = []
        message.send()
        assert "tags" not in sent_data(api)

    @pytest.mark.parametrize("value", [True, False])
    def test_tracking(self, api, message, value):
        message.track_clicks = value
        message.track_opens = not value
        message.send()
        assert sent_data(api)["settings"] == {
            "track_clicks": value,
            "track_opens": not value,
        }

    def test_track_clicks_only(self, api, message):
        message.track_clicks = False
        message.send()
        assert sent_data(api)["settings"] == {"track_clicks": False}

    @pytest.mark.parametrize(
        "send_at, expected",
        [
            (datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc), 1893553445),
            (
                datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-8))),
                1893582245,
            ),
            (1893553445, 1893553445),
            (1893553445.9, 1893553445),
        ],
    )
    def test_send_at(self, api, message, send_at, expected):
        message.send_at = send_at
        message.send()
        assert sent_data(api)["send_at"] == expected

    def test_send_at_naive_and_date_use_current_timezone(self, api):
        msgs = [
            AnymailMessage("S", "B", "from@example.com", ["to@example.com"]),
            AnymailMessage("S", "B", "from@example.com", ["to@example.com"]),
        ]
        msgs[0].send_at = datetime(2030, 1, 2, 3, 4, 5)
        msgs[1].send_at = date(2030, 1, 2)
        with django_timezone.override(ZoneInfo("America/New_York")):  # UTC-5
            mail.get_connection().send_messages(msgs)
        assert json.loads(api.calls[0]["data"])["send_at"] == 1893571445
        assert json.loads(api.calls[1]["data"])["send_at"] == 1893560400

    def test_serialization_error_in_tags(self, api, message):
        message.tags = [Decimal("1")]
        with pytest.raises(AnymailSerializationError) as excinfo:
            message.send()
        assert "Don't know how to send this data to MailerSend" in str(excinfo.value)
        assert api.call_count == 0

    def test_ignored_metadata_is_never_serialized(self, api, message):
        message.metadata = {"price": Decimal("19.99")}
        with mailersend_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            message.send()
        assert "19.99" not in api.last_call["data"]


class TestTemplates:
    def test_template(self, api):
        msg = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "Bob <bob@example.com>"],
            template_id="zyxwvut98765",
            merge_global_data={"name": "Everyone", "site": "ExampleCo"},
        )
        msg.send()
        assert api.last_call["url"] == EMAIL_URL
        assert sent_data(api) == {
            "from": {"email": "from@example.com"},
            "to": [
                {"email": "alice@example.com"},
                {"email": "bob@example.com", "name": "Bob"},
            ],
            "subject": "",
            "text": "",
            "template_id": "zyxwvut98765",
            "personalization": [
                {
                    "email": "alice@example.com",
                    "data": {"name": "Everyone", "site": "ExampleCo"},
                },
                {
                    "email": "bob@example.com",
                    "data": {"name": "Everyone", "site": "ExampleCo"},
                },
            ],
        }

    def test_template_stored_sender_and_subject(self, api):
        msg = AnymailMessage(to=["to@example.com"], template_id="tmpl")
        msg.from_email = None
        msg.subject = None
        msg.send()
        assert sent_data(api) == {
            "to": [{"email": "to@example.com"}],
            "text": "",
            "template_id": "tmpl",
        }

    def test_empty_merge_global_data_no_personalization(self, api, message):
        message.merge_global_data = {}
        message.send()
        assert "personalization" not in sent_data(api)

    def test_template_id_from_send_defaults(self, api, message):
        with mailersend_settings(MAILERSEND_SEND_DEFAULTS={"template_id": "dflt"}):
            message.send()
        assert sent_data(api)["template_id"] == "dflt"


class TestBatchSends:
    def test_single_recipient_uses_email_endpoint(self, api):
        msg = batch_message(
            to=["alice@example.com"],
            merge_data={"alice@example.com": {"name": "Alice"}},
            merge_global_data={"group": "Users"},
        )
        msg.send()
        assert api.last_call["url"] == EMAIL_URL
        data = sent_data(api)
        assert data["to"] == [{"email": "alice@example.com"}]
        assert data["personalization"] == [
            {"email": "alice@example.com", "data": {"name": "Alice", "group": "Users"}}
        ]
        assert msg.anymail_status.message_id == "1234567890abcdef"

    @pytest.mark.parametrize("mode", [None, "unknown-mode"])
    def test_multiple_recipients_require_mode(self, api, mode):
        msg = batch_message(merge_data={})
        with (
            mailersend_settings(MAILERSEND_BATCH_SEND_MODE=mode),
            pytest.raises(AnymailUnsupportedFeature) as excinfo,
        ):
            msg.send()
        assert str(excinfo.value) == BATCH_MODE_ERROR
        assert api.call_count == 0
        assert msg.anymail_status.status is None

    def test_mode_required_even_when_ignoring_unsupported(self, api):
        msg = batch_message(merge_data={"alice@example.com": {"name": "Alice"}})
        with (
            mailersend_settings(IGNORE_UNSUPPORTED_FEATURES=True),
            pytest.raises(AnymailUnsupportedFeature) as excinfo,
        ):
            msg.send()
        assert str(excinfo.value) == BATCH_MODE_ERROR
        assert api.call_count == 0

    @pytest.mark.parametrize(
        "attrs",
        [{"merge_metadata": {}}, {"merge_headers": {}}, {"merge_headers": None}],
    )
    def test_other_batch_attrs_also_need_mode(self, api, attrs):
        msg = batch_message(**attrs)
        with (
            mailersend_settings(IGNORE_UNSUPPORTED_FEATURES=True),
            pytest.raises(AnymailUnsupportedFeature) as excinfo,
        ):
            msg.send()
        assert str(excinfo.value) == BATCH_MODE_ERROR

    def test_non_batch_multiple_recipients_need_no_mode(self, api):
        msg = batch_message(merge_global_data={"group": "Users"})
        msg.send()
        assert api.last_call["url"] == EMAIL_URL
        assert len(sent_data(api)["personalization"]) == 2

    def test_expose_to_list(self, api):
        msg = batch_message(
            cc=["cc@example.com"],
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "bob@example.com": {"name": "Bob"},
                "nobody@example.com": {"name": "Not a recipient"},
            },
            merge_global_data={"group": "Users", "site": "ExampleCo"},
        )
        with mailersend_settings(MAILERSEND_BATCH_SEND_MODE="expose-to-list"):
            msg.send()
        assert api.call_count == 1
        assert api.last_call["url"] == EMAIL_URL
        assert sent_data(api) == {
            "from": {"email": "from@example.com"},
            "to": [
                {"email": "alice@example.com"},
                {"email": "bob@example.com", "name": "Bob"},
            ],
            "cc": [{"email": "cc@example.com"}],
            "subject": "Subject",
            "text": "Hi {{ name }}",
            "personalization": [
                {
                    "email": "alice@example.com",
                    "data": {
                        "name": "Alice",
                        "group": "Developers",
                        "site": "ExampleCo",
                    },
                },
                {
                    "email": "bob@example.com",
                    "data": {"name": "Bob", "group": "Users", "site": "ExampleCo"},
                },
            ],
        }

    def test_expose_to_list_recipient_without_data(self, api):
        msg = batch_message(merge_data={"bob@example.com": {"name": "Bob"}})
        with mailersend_settings(MAILERSEND_BATCH_SEND_MODE="expose-to-list"):
            msg.send()
        assert sent_data(api)["personalization"] == [
            {"email": "alice@example.com", "data": {}},
            {"email": "bob@example.com", "data": {"name": "Bob"}},
        ]

    def test_empty_merge_data_no_personalization(self, api):
        msg = batch_message(merge_data={})
        with mailersend_settings(MAILERSEND_BATCH_SEND_MODE="expose-to-list"):
            msg.send()
        assert api.last_call["url"] == EMAIL_URL
        assert "personalization" not in sent_data(api)

    def test_bulk_email(self, bulk_api):
        msg = batch_message(
            cc=["cc@example.com"],
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "bob@example.com": {"name": "Bob"},
            },
            merge_global_data={"group": "Users", "site": "ExampleCo"},
        )
        with mailersend_settings(MAILERSEND_BATCH_SEND_MODE="use-bulk-email"):
            msg.send()
        assert bulk_api.call_count == 1
        assert bulk_api.last_call["url"] == BULK_URL
        assert bulk_api.last_call["headers"]["Authorization"] == (
            "Bearer test-api-token"
        )
        common = {
            "from": {"email": "from@example.com"},
            "cc": [{"email": "cc@example.com"}],
            "subject": "Subject",
            "text": "Hi {{ name }}",
        }
        assert sent_data(bulk_api) == [
            {
                **common,
                "to": [{"email": "alice@example.com"}],
                "personalization": [
                    {
                        "email": "alice@example.com",
                        "data": {
                            "name": "Alice",
                            "group": "Developers",
                            "site": "ExampleCo",
                        },
                    }
                ],
            },
            {
                **common,
                "to": [{"email": "bob@example.com", "name": "Bob"}],
                "personalization": [
                    {
                        "email": "bob@example.com",
                        "data": {"name": "Bob", "group": "Users", "site": "ExampleCo"},
                    }
                ],
            },
        ]
        status = msg.anymail_status
        assert status.status == {"unknown"}
        assert status.message_id == "bulk:12345abcde"
        assert set(status.recipients) == {
            "alice@example.com",
            "bob@example.com",
            "cc@example.com",
        }

    def test_bulk_email_without_personalization(self, bulk_api):
        msg = batch_message(merge_metadata={})
        with mailersend_settings(
            MAILERSEND_BATCH_SEND_MODE="use-bulk-email",
            IGNORE_UNSUPPORTED_FEATURES=True,
        ):
            msg.send()
        assert bulk_api.last_call["url"] == BULK_URL
        data = sent_data(bulk_api)
        assert [item["to"] for item in data] == [
            [{"email": "alice@example.com"}],
            [{"email": "bob@example.com", "name": "Bob"}],
        ]
        assert all("personalization" not in item for item in data)

    def test_bulk_email_repeats_esp_extra_and_attachments(self, bulk_api):
        msg = batch_message(
            merge_data={},
            esp_extra={"variables": [{"email": "x@example.com"}], "tags": ["t"]},
        )
        msg.attach("a.txt", "attached", "text/plain")
        with mailersend_settings(MAILERSEND_BATCH_SEND_MODE="use-bulk-email"):
            msg.send()
        data = sent_data(bulk_api)
        assert len(data) == 2
        for item in data:
            assert item["variables"] == [{"email": "x@example.com"}]
            assert item["tags"] == ["t"]
            assert item["attachments"] == [
                {
                    "filename": "a.txt",
                    "content": b64(b"attached"),
                    "disposition": "attachment",
                }
            ]

    def test_batch_send_mode_from_esp_extra(self, bulk_api):
        msg = batch_message(
            merge_data={}, esp_extra={"batch_send_mode": "use-bulk-email"}
        )
        msg.send()
        assert bulk_api.last_call["url"] == BULK_URL
        assert all("batch_send_mode" not in item for item in sent_data(bulk_api))

    def test_esp_extra_batch_send_mode_overrides_setting(self, api):
        msg = batch_message(
            merge_data={}, esp_extra={"batch_send_mode": "expose-to-list"}
        )
        with mailersend_settings(MAILERSEND_BATCH_SEND_MODE="use-bulk-email"):
            msg.send()
        assert api.last_call["url"] == EMAIL_URL
        assert "batch_send_mode" not in sent_data(api)

    def test_esp_extra_batch_send_mode_none(self, api):
        msg = batch_message(merge_data={}, esp_extra={"batch_send_mode": None})
        with (
            mailersend_settings(MAILERSEND_BATCH_SEND_MODE="use-bulk-email"),
            pytest.raises(AnymailUnsupportedFeature) as excinfo,
        ):
            msg.send()
        assert str(excinfo.value) == BATCH_MODE_ERROR

    def test_non_batch_ignores_bulk_mode(self, api):
        msg = batch_message()
        with mailersend_settings(MAILERSEND_BATCH_SEND_MODE="use-bulk-email"):
            msg.send()
        assert api.last_call["url"] == EMAIL_URL
        assert len(sent_data(api)["to"]) == 2

    def test_merge_data_from_send_defaults_makes_batch(self, api):
        defaults = {"merge_data": {}}
        with (
            mailersend_settings(MAILERSEND_SEND_DEFAULTS=defaults),
            pytest.raises(AnymailUnsupportedFeature),
        ):
            batch_message().send()

    def test_merge_data_keys_match_idna_encoded_email(self, api):
        msg = batch_message(
            to=["user@éxample.com"],
            merge_data={"user@xn--xample-9ua.com": {"name": "IDN"}},
        )
        msg.send()
        assert sent_data(api)["personalization"] == [
            {"email": "user@xn--xample-9ua.com", "data": {"name": "IDN"}}
        ]


class TestEspExtra:
    def test_deep_merge(self, api, message):
        message.track_clicks = True
        message.esp_extra = {
            "settings": {"track_content": True},
            "variables": [{"email": "to@example.com", "substitutions": []}],
            "subject": "Overridden",
        }
        message.send()
        data = sent_data(api)
        assert data["settings"] == {"track_clicks": True, "track_content": True}
        assert data["variables"] == [{"email": "to@example.com", "substitutions": []}]
        assert data["subject"] == "Overridden"
        assert data["text"] == "Text Body"

    def test_api_token(self, api, message):
        message.esp_extra = {"api_token": "per-message-token"}
        message.send()
        assert api.last_call["headers"]["Authorization"] == "Bearer per-message-token"
        assert "api_token" not in sent_data(api)

    def test_only_underscore_spellings_recognized(self, api, message):
        message.esp_extra = {"api-token": "not-a-token", "batch-send-mode": "x"}
        message.send()
        assert api.last_call["headers"]["Authorization"] == "Bearer test-api-token"
        data = sent_data(api)
        assert data["api-token"] == "not-a-token"
        assert data["batch-send-mode"] == "x"

    def test_esp_extra_from_send_defaults(self, api, message):
        defaults = {"esp_extra": {"settings": {"track_content": False}}}
        message.esp_extra = {"precedence_bulk": True}
        with mailersend_settings(MAILERSEND_SEND_DEFAULTS=defaults):
            message.send()
        data = sent_data(api)
        assert data["settings"] == {"track_content": False}
        assert data["precedence_bulk"] is True

    def test_esp_extra_personalization_wins(self, api, message):
        given = [{"email": "to@example.com", "data": {"from": "esp_extra"}}]
        message.merge_global_data = {"from": "merge_global_data"}
        message.esp_extra = {"personalization": given}
        message.send()
        assert sent_data(api)["personalization"] == given


class TestUnsupportedFeatures:
    @staticmethod
    def assert_unsupported(api, message, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == f"MailerSend does not support {feature}"
        assert api.call_count == 0
        assert message.anymail_status.status is None

    def test_multiple_from(self, api, message):
        message.from_email = "one@example.com, two@example.com"
        self.assert_unsupported(api, message, "multiple from emails")

    def test_multiple_reply_to(self, api, message):
        message.reply_to = ["r1@example.com", "r2@example.com"]
        self.assert_unsupported(api, message, "multiple reply_to emails")

    def test_multiple_html_alternatives(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        self.assert_unsupported(api, message, "multiple html parts")

    def test_empty_html_body_and_html_alternative(self, api):
        msg = AnymailMessage("Subject", "", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.attach_alternative("<p>alt</p>", "text/html")
        self.assert_unsupported(api, msg, "multiple html parts")

    def test_multiple_plaintext_parts(self, api, message):
        message.attach_alternative("more text", "text/plain")
        self.assert_unsupported(api, message, "multiple plaintext parts")

    def test_amp_alternative(self, api, message):
        message.attach_alternative("<html amp4email></html>", "text/x-amp-html")
        self.assert_unsupported(
            api, message, "alternative part with type 'text/x-amp-html'"
        )

    def test_envelope_sender(self, api, message):
        message.envelope_sender = "bounce@example.com"
        self.assert_unsupported(api, message, "envelope_sender")

    def test_from_header(self, api, message):
        message.extra_headers = {"From": "Header From <header@example.com>"}
        self.assert_unsupported(api, message, "envelope_sender")

    def test_metadata(self, api, message):
        message.metadata = {"user_id": "12345"}
        self.assert_unsupported(api, message, "metadata")

    def test_merge_metadata(self, api, message):
        message.merge_metadata = {"to@example.com": {"user_id": "12345"}}
        self.assert_unsupported(api, message, "merge_metadata")

    def test_merge_headers(self, api, message):
        message.merge_headers = {"to@example.com": {"X-Custom": "value"}}
        self.assert_unsupported(api, message, "merge_headers")

    def test_spoofed_to_header(self, api, message):
        message.extra_headers = {"To": "Spoofed <spoofed@example.com>"}
        self.assert_unsupported(api, message, "spoofing `To` header")


@pytest.fixture
def ignore_unsupported():
    with mailersend_settings(IGNORE_UNSUPPORTED_FEATURES=True):
        yield


@pytest.mark.usefixtures("ignore_unsupported")
class TestIgnoreUnsupportedFeatures:
    def test_multiple_from_uses_first(self, api, message):
        message.from_email = "one@example.com, two@example.com"
        message.send()
        assert sent_data(api)["from"] == {"email": "one@example.com"}

    def test_multiple_reply_to_omitted_entirely(self, api, message):
        message.reply_to = ["r1@example.com", "r2@example.com"]
        message.send()
        assert "reply_to" not in sent_data(api)

    def test_extra_alternatives_dropped(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        message.attach_alternative("more text", "text/plain")
        message.attach_alternative("<html amp4email></html>", "text/x-amp-html")
        message.send()
        data = sent_data(api)
        assert data["html"] == "<p>one</p>"
        assert data["text"] == "Text Body"
        assert "amp4email" not in api.last_call["data"]

    def test_second_html_body_wins(self, api):
        msg = AnymailMessage("Subject", "", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.attach_alternative("<p>alt</p>", "text/html")
        msg.send()
        assert sent_data(api)["html"] == "<p>alt</p>"

    def test_envelope_sender_dropped(self, api, message):
        message.envelope_sender = "bounce@bounces.example.com"
        message.send()
        assert "bounces.example.com" not in api.last_call["data"]

    def test_from_header_used_as_from(self, api, message):
        message.extra_headers = {"From": "Header From <header@example.com>"}
        message.send()
        data = sent_data(api)
        assert data["from"] == {"email": "header@example.com", "name": "Header From"}
        assert "headers" not in data

    def test_metadata_and_merge_metadata_dropped(self, api, message):
        message.metadata = {"user_id": "12345"}
        message.merge_metadata = {"to@example.com": {"order": "678"}}
        message.send()
        assert set(sent_data(api)) == {"from", "to", "subject", "text"}

    def test_merge_headers_dropped(self, api, message):
        message.merge_headers = {"to@example.com": {"X-Custom": "value"}}
        message.send()
        assert "X-Custom" not in api.last_call["data"]

    def test_spoofed_to_dropped(self, api, message):
        message.extra_headers = {"To": "spoofed@example.com", "X-Other": "kept"}
        message.send()
        data = sent_data(api)
        assert data["headers"] == [{"name": "X-Other", "value": "kept"}]
        assert data["to"] == [{"email": "to@example.com"}]


class TestResponses:
    def test_email_endpoint_success(self, api, message):
        message.cc = ["cc@example.com"]
        message.bcc = ["bcc@example.com"]
        assert message.send() == 1
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == "1234567890abcdef"
        assert {k: (v.status, v.message_id) for k, v in status.recipients.items()} == {
            "to@example.com": ("queued", "1234567890abcdef"),
            "cc@example.com": ("queued", "1234567890abcdef"),
            "bcc@example.com": ("queued", "1234567890abcdef"),
        }
        assert isinstance(status.esp_response, requests.Response)
        assert status.esp_response.status_code == 202

    def test_some_suppressed(self, api):
        api.set_response(
            202,
            {
                "warnings": [
                    {
                        "type": "SOME_SUPPRESSED",
                        "warning": "Some of the recipients have been suppressed.",
                        "recipients": [
                            {"email": "to1@example.com", "reasons": ["blocklisted"]}
                        ],
                    }
                ]
            },
            headers={"X-Message-Id": "12345abcde"},
        )
        msg = AnymailMessage(
            "Subject", "Body", "from@example.com",
            ["to1@example.com", "to2@example.com"], cc=["cc@example.com"],
        )  # fmt: skip
        assert msg.send() == 1
        status = msg.anymail_status
        assert status.status == {"rejected", "queued"}
        assert {k: (v.status, v.message_id) for k, v in status.recipients.items()} == {
            "to1@example.com": ("rejected", None),
            "to2@example.com": ("queued", "12345abcde"),
            "cc@example.com": ("queued", "12345abcde"),
        }
        assert status.message_id == {None, "12345abcde"}

    def test_suppressed_matching_is_case_insensitive(self, api):
        api.set_response(
            202,
            {
                "warnings": [
                    {
                        "type": "SOME_SUPPRESSED",
                        "recipients": [{"email": "hardbounce@example.com"}],
                    }
                ]
            },
            headers={"X-Message-Id": "12345abcde"},
        )
        msg = AnymailMessage(
            "Subject", "Body", "from@example.com",
            ["HardBounce@Example.com", "ok@example.com"],
        )  # fmt: skip
        msg.send()
        recipients = msg.anymail_status.recipients
        assert set(recipients) == {"HardBounce@Example.com", "ok@example.com"}
        assert recipients["HardBounce@Example.com"].status == "rejected"
        assert recipients["ok@example.com"].status == "queued"

    def test_suppressed_idn_recipient_matches_message_address(self, api):
        api.set_response(
            202,
            {
                "warnings": [
                    {
                        "type": "SOME_SUPPRESSED",
                        "recipients": [{"email": "user@xn--xample-9ua.com"}],
                    }
                ]
            },
            headers={"X-Message-Id": "12345abcde"},
        )
        msg = AnymailMessage(
            "Subject", "Body", "from@example.com",
            ["user@éxample.com", "ok@example.com"],
        )  # fmt: skip
        msg.send()
        recipients = msg.anymail_status.recipients
        assert set(recipients) == {"user@éxample.com", "ok@example.com"}
        assert recipients["user@éxample.com"].status == "rejected"

    def test_all_suppressed(self, api, message):
        message.to = ["to1@example.com", "to2@example.com"]
        body = {
            "warnings": [
                {
                    "type": "ALL_SUPPRESSED",
                    "warning": "None of the recipients can be sent to.",
                    "recipients": [
                        {"email": "to1@example.com", "reasons": ["hard_bounced"]},
                        {"email": "to2@example.com", "reasons": ["unsubscribed"]},
                    ],
                }
            ]
        }
        api.set_response(202, body)
        with pytest.raises(AnymailRecipientsRefused) as excinfo:
            message.send()
        assert str(excinfo.value) == "All message recipients were rejected or invalid"
        status = message.anymail_status
        assert status.status == {"rejected"}
        assert status.message_id is None
        assert status.recipients["to2@example.com"].status == "rejected"

    def test_all_suppressed_ignore_recipient_status(self, api, message):
        api.set_response(
            202,
            {
                "warnings": [
                    {
                        "type": "ALL_SUPPRESSED",
                        "recipients": [{"email": "to@example.com"}],
                    }
                ]
            },
        )
        with mailersend_settings(IGNORE_RECIPIENT_STATUS=True):
            assert message.send() == 1
        assert message.anymail_status.status == {"rejected"}

    def test_all_suppressed_fail_silently(self, api, message):
        api.set_response(
            202,
            {
                "warnings": [
                    {
                        "type": "ALL_SUPPRESSED",
                        "recipients": [{"email": "to@example.com"}],
                    }
                ]
            },
        )
        with pytest.warns(DeprecationWarning):
            connection = mail.get_connection(fail_silently=True)
        assert connection.send_messages([message]) == 0

    def test_no_message_id_and_no_warnings_is_failed(self, api, message):
        api.set_response(202, b"", headers={"Content-Type": "text/html"})
        assert message.send() == 1
        status = message.anymail_status
        assert status.status == {"failed"}
        assert status.message_id is None

    def test_non_json_body_ignored(self, api, message):
        api.set_response(
            202,
            b'{"warnings": [{"type": "UNKNOWN_WARNING"}]}',
            headers={"Content-Type": "text/html", "X-Message-Id": "abc"},
        )
        message.send()
        assert message.anymail_status.status == {"queued"}
        assert message.anymail_status.message_id == "abc"

    @pytest.mark.parametrize(
        "content_type", ["application/json; charset=utf-8", "Application/JSON"]
    )
    def test_json_content_type_with_params(self, api, message, content_type):
        # (django-anymail 15.2 would ignore this body: see the docs' departures)
        api.set_response(
            202,
            b'{"message": "ok", "bulk_email_id": "xyz"}',
            headers={"Content-Type": content_type},
        )
        message.send()
        assert message.anymail_status.message_id == "bulk:xyz"

    def test_message_id_header_wins_over_bulk_id(self, api, message):
        api.set_response(202, {"bulk_email_id": "xyz"}, headers={"X-Message-Id": "m"})
        message.send()
        assert message.anymail_status.message_id == "m"
        assert message.anymail_status.status == {"queued"}

    def test_bulk_response(self, bulk_api, message):
        message.send()
        status = message.anymail_status
        assert status.status == {"unknown"}
        assert status.message_id == "bulk:12345abcde"
        assert status.recipients["to@example.com"].message_id == "bulk:12345abcde"

    @pytest.mark.parametrize(
        "body",
        [
            {"errors": {"to": ["The to field is invalid."]}},
            {
                "warnings": [
                    {"type": "SOME_SUPPRESSED", "recipients": []},
                    {"type": "UNKNOWN_WARNING", "warning": "Something new"},
                ]
            },
            {"warnings": [{"recipients": [{"email": "to@example.com"}]}]},
        ],
    )
    def test_unexpected_errors_or_warnings(self, api, message, body):
        api.set_response(202, body, headers={"X-Message-Id": "12345abcde"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        text = str(excinfo.value)
        assert text.startswith(
            "Unexpected MailerSend API response errors/warnings\n"
            "MailerSend API response 202 (ACCEPTED):\n"
        )
        assert json.dumps(body, indent=2) in text
        assert excinfo.value.status_code == 202
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is not None

    @pytest.mark.parametrize(
        "body, detail",
        [
            ({"warnings": [{"type": "SOME_SUPPRESSED"}]}, "'recipients'"),
            (
                {"warnings": [{"type": "ALL_SUPPRESSED", "recipients": [{}]}]},
                "'email'",
            ),
            ({"warnings": ["junk"]}, ""),
            (
                {
                    "warnings": [
                        {"type": "SOME_SUPPRESSED", "recipients": [{"email": None}]}
                    ]
                },
                "",
            ),
            (["not", "an", "object"], ""),
        ],
    )
    def test_invalid_response_format(self, api, message, body, detail):
        api.set_response(202, body)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith(
            f"Unexpected MailerSend API response format: {detail}"
        )
        assert message.anymail_status.recipients == {}

    def test_invalid_json(self, api, message):
        api.set_response(202, b"not json", headers={"Content-Type": "application/json"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid JSON in MailerSend API response")
        assert isinstance(message.anymail_status.esp_response, requests.Response)
        assert message.anymail_status.status is None

    def test_422_error(self, api, message):
        body = {
            "message": "Helpful ESP explanation",
            "errors": {"from.email": ["The from.email domain must be verified."]},
        }
        api.set_response(422, body, reason="Unprocessable Entity")
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        err = excinfo.value
        assert err.status_code == 422
        assert str(err) == (
            "MailerSend API response 422 (Unprocessable Entity):\n"
            + json.dumps(body, indent=2)
        )
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_401_error(self, api, message):
        api.set_response(401, {"message": "Unauthenticated."})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert excinfo.value.status_code == 401
        assert "Unauthenticated." in str(excinfo.value)

    def test_rate_limit_error(self, api, message):
        api.set_response(
            429,
            {"message": "Too Many Attempts."},
            headers={"x-ratelimit-remaining": "0", "retry-after": "42"},
        )
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        err = excinfo.value
        assert err.status_code == 429
        assert err.response.headers["Retry-After"] == "42"
        assert err.response.headers["X-RateLimit-Remaining"] == "0"

    def test_rate_limit_headers_on_success(self, api, message):
        api.set_response(
            202, b"", headers={**ACCEPTED_HEADERS, "x-ratelimit-remaining": "59"}
        )
        message.send()
        headers = message.anymail_status.esp_response.headers
        assert headers["x-ratelimit-remaining"] == "59"
