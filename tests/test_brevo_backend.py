"""Tests for the Brevo (v3 transactional email API) sending backend."""

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from email.mime.text import MIMEText
from unittest import mock

import pytest
import requests
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings
from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy

from anymail.backends.brevo import EmailBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image
from anymail.signals import post_send, pre_send

from .conftest import b64

BACKEND = "anymail.backends.brevo.EmailBackend"
API_URL = "https://api.brevo.com/v3/smtp/email"
CREDENTIALS = {"BREVO_API_KEY": "test-api-key"}
MESSAGE_ID = "<201801020304.1234567890@smtp-relay.mailin.fr>"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture(autouse=True)
def brevo_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL=CREDENTIALS):
        yield


@pytest.fixture
def api(requests_mock):
    """requests_mock answering like a successful Brevo send (201 Created)."""
    requests_mock.set_response(201, {"messageId": MESSAGE_ID})
    return requests_mock


@pytest.fixture
def message():
    return AnymailMessage(
        "Subject", "Text Body", "from@example.com", ["to@example.com"]
    )


@pytest.fixture
def ignore_unsupported():
    anymail = {**CREDENTIALS, "IGNORE_UNSUPPORTED_FEATURES": True}
    with override_settings(ANYMAIL=anymail):
        yield


def sent(api):
    return api.last_json()


# ---------------------------------------------------------------------------


class TestApiCall:
    def test_minimal_request(self, api):
        count = mail.send_mail(
            "Subject here", "Here is the message.", "from@sender.example.com",
            ["to@example.com"],
        )  # fmt: skip
        assert count == 1
        call = api.last_call
        assert json.loads(call["data"]) == {
            "sender": {"email": "from@sender.example.com"},
            "to": [{"email": "to@example.com"}],
            "subject": "Subject here",
            "textContent": "Here is the message.",
        }

    def test_api_key_only_in_header(self, api, message):
        message.send()
        assert "test-api-key" not in api.last_call["data"]
        assert "Authorization" not in api.last_call["headers"]

    def test_plain_django_email_message(self, api):
        msg = mail.EmailMessage("S", "B", "from@example.com", ["to@example.com"])
        msg.send()
        assert msg.anymail_status.message_id == MESSAGE_ID
        assert sent(api)["to"] == [{"email": "to@example.com"}]


class TestSettings:
    def test_api_url_setting_adds_trailing_slash(self, api, message):
        anymail = {**CREDENTIALS, "BREVO_API_URL": "https://proxy.example.com/v3"}
        with override_settings(ANYMAIL=anymail):
            message.send()
        assert api.last_call["url"] == "https://proxy.example.com/v3/smtp/email"

    def test_api_url_not_read_bare(self, api, message):
        with override_settings(BREVO_API_URL="https://bare.example.com/"):
            message.send()
        assert api.last_call["url"] == API_URL

    def test_settings_via_kwargs(self, api):
        connection = mail.get_connection(
            api_key="kw-key",
            api_url="https://kw.example.com/brevo/v3/",
            workaround_display_name_bugs=False,
            prevent_header_encoding_bugs=False,
        )
        assert connection.api_url == "https://kw.example.com/brevo/v3/"
        assert connection.workaround_display_name_bugs is False
        assert connection.prevent_header_encoding_bugs is False
        msg = AnymailMessage(
            "S", "B", '"Odesílatel, z adresy" <from@example.com>',
            ["to@example.com"], headers={"X-Extra": "Ünïcode"},
            connection=connection,
        )  # fmt: skip
        msg.send()
        assert api.last_call["url"] == "https://kw.example.com/brevo/v3/smtp/email"
        assert api.last_call["headers"]["api-key"] == "kw-key"
        data = sent(api)
        assert data["sender"] == {
            "email": "from@example.com",
            "name": "Odesílatel, z adresy",
        }
        assert data["headers"] == {"X-Extra": "Ünïcode"}

    def test_option_defaults(self):
        connection = mail.get_connection()
        assert connection.api_url == "https://api.brevo.com/v3/"
        assert connection.workaround_display_name_bugs is True
        assert connection.prevent_header_encoding_bugs is True

    def test_options_from_settings(self):
        anymail = {
            **CREDENTIALS,
            "BREVO_WORKAROUND_DISPLAY_NAME_BUGS": False,
            "BREVO_PREVENT_HEADER_ENCODING_BUGS": False,
        }
        with override_settings(ANYMAIL=anymail):
            connection = mail.get_connection()
        assert connection.workaround_display_name_bugs is False
        assert connection.prevent_header_encoding_bugs is False

    def test_kwargs_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                api_key="k",
                api_url="https://x.example/",
                workaround_display_name_bugs=True,
                prevent_header_encoding_bugs=True,
                send_defaults={},
                idna_encoder="idna2008",
                timeout=5,
                alias="brevo",
            )
        assert django_init.call_args.kwargs == {"alias": "brevo"}

    def test_settings_read_at_construction(self, api, message):
        connection = mail.get_connection()
        with override_settings(ANYMAIL={"BREVO_API_KEY": "changed"}):
            connection.send_messages([message])
        assert api.last_call["headers"]["api-key"] == "test-api-key"

    def test_esp_send_defaults(self, api, message):
        anymail = {
            **CREDENTIALS,
            "SEND_DEFAULTS": {"tags": ["global"], "metadata": {"a": 1}},
            "BREVO_SEND_DEFAULTS": {"tags": ["brevo"]},
        }
        with override_settings(ANYMAIL=anymail):
            message.send()
        data = sent(api)
        assert data["tags"] == ["brevo"]
        assert data["headers"] == {"X-Mailin-custom": '{"a": 1}'}

    def test_esp_idna_encoder(self, api):
        anymail = {
            **CREDENTIALS,
            "IDNA_ENCODER": "not-a-valid-encoder",
            "BREVO_IDNA_ENCODER": "idna2003",
        }
        with override_settings(ANYMAIL=anymail):
            mail.send_mail("S", "B", "from@example.com", ["to@faß.example"])
        assert sent(api)["to"] == [{"email": "to@fass.example"}]


class TestAddresses:
    def test_address_objects(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "Sender Name <from@example.com>",
            ["to1@example.com", "Recipient #2 <to2@example.com>"],
            cc=["cc1@example.com", "Copy 2 <cc2@example.com>"],
            bcc=["bcc@example.com", "Blind Copy <bcc2@example.com>"],
        )
        msg.send()
        data = sent(api)
        assert data["sender"] == {"email": "from@example.com", "name": "Sender Name"}
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

    def test_empty_lists_omitted(self, api, message):
        message.send()
        data = sent(api)
        for key in ("cc", "bcc", "replyTo"):
            assert key not in data

    def test_no_to_omits_to(self, api, message):
        message.to = []
        message.bcc = ["bcc@example.com"]
        message.send()
        data = sent(api)
        assert "to" not in data
        assert data["bcc"] == [{"email": "bcc@example.com"}]

    def test_idna_domain_and_eai_local_part(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "Frøm <from@exämple.com>",
            ["to@příklad.example.cz", "відправник@example.com"],
        )
        msg.send()
        data = sent(api)
        assert data["sender"] == {"email": "from@xn--exmple-cua.com", "name": "Frøm"}
        assert data["to"] == [
            {"email": "to@xn--pklad-zsa96e.example.cz"},
            {"email": "відправник@example.com"},
        ]

    def test_display_names_sent_raw(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            '"Sender, Inc." <from@example.com>',
            ["Juan Lopéz <to@example.com>", '"Smith, \\"JJ\\"" <jj@example.com>'],
        )
        msg.send()
        data = sent(api)
        # ASCII with specials, and non-ASCII without specials: unquoted, unencoded
        assert data["sender"] == {"email": "from@example.com", "name": "Sender, Inc."}
        assert data["to"] == [
            {"email": "to@example.com", "name": "Juan Lopéz"},
            {"email": "jj@example.com", "name": 'Smith, "JJ"'},
        ]

    def test_display_name_workaround(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            '"Odesílatel, z adresy" <from@example.com>',
            ['"Příjemce, na adresu" <to@example.com>'],
            cc=['"Kopie (Cc)" <cc@example.com>', '"Kopie. Dvě" <cc2@example.com>'],
            bcc=['"Skrytá <kopie>" <bcc@example.com>'],
            reply_to=['"Odpověď: ano" <reply@example.com>'],
        )
        msg.send()
        data = sent(api)
        assert data["sender"] == {
            "email": "from@example.com",
            "name": "=?utf-8?q?Odes=C3=ADlatel=2C_z_adresy?=",
        }
        assert data["to"] == [
            {
                "email": "to@example.com",
                "name": "=?utf-8?b?UMWZw61qZW1jZSwgbmEgYWRyZXN1?=",
            }
        ]
        assert data["cc"] == [
            # (ASCII with specials: raw)
            {"email": "cc@example.com", "name": "Kopie (Cc)"},
            {"email": "cc2@example.com", "name": "=?utf-8?b?S29waWUuIER2xJs=?="},
        ]
        assert data["bcc"] == [
            {"email": "bcc@example.com", "name": "=?utf-8?b?U2tyeXTDoSA8a29waWU+?="}
        ]
        assert data["replyTo"] == {
            "email": "reply@example.com",
            "name": "=?utf-8?b?T2Rwb3bEm8SPOiBhbm8=?=",
        }

    def test_display_name_workaround_disabled(self, api):
        anymail = {**CREDENTIALS, "BREVO_WORKAROUND_DISPLAY_NAME_BUGS": False}
        with override_settings(ANYMAIL=anymail):
            mail.send_mail(
                "S", "B", '"Odesílatel, z adresy" <from@example.com>',
                ['"Příjemce, na adresu" <to@example.com>'],
            )  # fmt: skip
        data = sent(api)
        assert data["sender"]["name"] == "Odesílatel, z adresy"
        assert data["to"][0]["name"] == "Příjemce, na adresu"

    def test_reply_to(self, api, message):
        message.reply_to = ["Reply Person <reply@example.com>"]
        message.send()
        assert sent(api)["replyTo"] == {
            "email": "reply@example.com",
            "name": "Reply Person",
        }

    def test_reply_to_header_replaces_reply_to(self, api, message):
        message.reply_to = ["ignored@example.com"]
        message.extra_headers = {"reply-TO": "Header <header@example.com>", "X-A": "a"}
        message.send()
        data = sent(api)
        assert data["replyTo"] == {"email": "header@example.com", "name": "Header"}
        assert data["headers"] == {"X-A": "a"}

    def test_from_email_none_omits_sender(self, api, message):
        message.from_email = None
        message.template_id = 12
        message.send()
        assert "sender" not in sent(api)


class TestContent:
    def test_empty_subject_omitted(self, api, message):
        message.subject = ""
        message.send()
        assert "subject" not in sent(api)

    def test_empty_text_body_omitted(self, api, message):
        message.body = ""
        message.send()
        assert "textContent" not in sent(api)

    def test_text_and_html(self, api):
        msg = mail.EmailMultiAlternatives(
            "Subject", "Text", "from@example.com", ["to@example.com"]
        )
        msg.attach_alternative("<p>HTML</p>", "text/html")
        msg.send()
        data = sent(api)
        assert data["textContent"] == "Text"
        assert data["htmlContent"] == "<p>HTML</p>"

    def test_html_only_body(self, api):
        msg = mail.EmailMessage(
            "Subject", "<p>HTML</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.send()
        data = sent(api)
        assert data["htmlContent"] == "<p>HTML</p>"
        assert "textContent" not in data

    def test_empty_html_body_omitted(self, api):
        msg = mail.EmailMessage("Subject", "", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.send()
        data = sent(api)
        assert "htmlContent" not in data
        assert "textContent" not in data

    def test_html_body_with_plain_alternative(self, api):
        msg = mail.EmailMultiAlternatives(
            "Subject", "<p>HTML</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.attach_alternative("Plain", "text/plain")
        msg.send()
        data = sent(api)
        assert data["htmlContent"] == "<p>HTML</p>"
        assert data["textContent"] == "Plain"

    def test_second_empty_html_part_is_not_an_error(self, api, message):
        message.attach_alternative("<p>HTML</p>", "text/html")
        message.attach_alternative("", "text/html")
        message.send()
        assert sent(api)["htmlContent"] == "<p>HTML</p>"

    def test_lazy_strings(self, api):
        msg = AnymailMessage(
            gettext_lazy("Lazy subject"),
            gettext_lazy("Lazy body"),
            "from@example.com",
            ["to@example.com"],
            tags=[gettext_lazy("lazy-tag")],
            metadata={"lazy": gettext_lazy("value")},
        )
        msg.send()
        data = sent(api)
        assert data["subject"] == "Lazy subject"
        assert data["textContent"] == "Lazy body"
        assert data["tags"] == ["lazy-tag"]
        assert data["headers"] == {"X-Mailin-custom": '{"lazy": "value"}'}


class TestHeaders:
    def test_extra_headers(self, api, message):
        message.extra_headers = {
            "X-Custom": "string",
            "Message-ID": "<mycustommsgid@sales.example.com>",
            "sender.ip": "1.2.3.4",
            "idempotencyKey": "abc-123",
            "X-Mailin-Tag": "tag",
        }
        message.send()
        assert sent(api)["headers"] == {
            "X-Custom": "string",
            "Message-ID": "<mycustommsgid@sales.example.com>",
            "sender.ip": "1.2.3.4",
            "idempotencyKey": "abc-123",
            "X-Mailin-Tag": "tag",
        }

    def test_numeric_values_stringified(self, api, message):
        message.extra_headers = {"X-Int": 123, "X-Float": 98.6, "X-Bool": True}
        message.send()
        assert sent(api)["headers"] == {
            "X-Int": "123",
            "X-Float": "98.6",
            "X-Bool": "True",
        }

    def test_other_values_passed_as_is(self, api, message):
        message.extra_headers = {"X-Price": Decimal("19.99")}
        with pytest.raises(AnymailSerializationError) as excinfo:
            message.send()
        assert "Decimal" in str(excinfo.value)
        assert "Don't know how to send this data to Brevo" in str(excinfo.value)
        assert api.call_count == 0

    def test_header_names_case_insensitive(self, api, message):
        message.extra_headers = {"X-Custom": "first", "x-custom": "second"}
        message.send()
        assert sent(api)["headers"] == {"x-custom": "second"}

    def test_send_defaults_headers_case_insensitive(self, api, message):
        anymail = {
            **CREDENTIALS,
            "SEND_DEFAULTS": {"extra_headers": {"X-Campaign": "default"}},
        }
        message.extra_headers = {"x-campaign": "message"}
        with override_settings(ANYMAIL=anymail):
            message.send()
        assert sent(api)["headers"] == {"x-campaign": "message"}

    def test_no_headers_key_when_empty(self, api, message):
        message.extra_headers = {}
        message.send()
        assert "headers" not in sent(api)

    def test_only_special_headers_leaves_no_headers(self, api, message):
        message.extra_headers = {"Reply-To": "reply@example.com"}
        message.send()
        data = sent(api)
        assert "headers" not in data
        assert data["replyTo"] == {"email": "reply@example.com"}

    @pytest.mark.parametrize(
        "value", ["Ünïcode", "escaped \\u00e9 text", "caf\u00e9"], ids=repr
    )
    def test_non_ascii_header_unsupported(self, api, message, value):
        message.extra_headers = {"X-Extra": value}
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Brevo does not support non-ASCII characters in 'X-Extra' header"
        )
        assert api.call_count == 0

    def test_non_ascii_header_allowed_when_prevention_disabled(self, api, message):
        anymail = {**CREDENTIALS, "BREVO_PREVENT_HEADER_ENCODING_BUGS": False}
        message.extra_headers = {"X-Extra": "Ünïcode"}
        with override_settings(ANYMAIL=anymail):
            message.send()
        assert sent(api)["headers"] == {"X-Extra": "Ünïcode"}

    def test_non_ascii_header_sent_when_ignoring(
        self, api, message, ignore_unsupported
    ):
        message.extra_headers = {"X-Extra": "Ünïcode"}
        message.send()
        assert sent(api)["headers"] == {"X-Extra": "Ünïcode"}


class TestAttachments:
    def test_attachments(self, api, message):
        message.attach("test.txt", "¡text!", "text/plain")
        message.attach("data.bin", b"\x00\x01\xff", "application/octet-stream")
        message.attach("résumé.pdf", b"%PDF-1.4", "application/pdf")
        message.attach(None, b"no name", "application/octet-stream")
        message.send()
        assert sent(api)["attachment"] == [
            {"name": "test.txt", "content": b64("¡text!")},
            {"name": "data.bin", "content": b64(b"\x00\x01\xff")},
            {"name": "résumé.pdf", "content": b64(b"%PDF-1.4")},
            {"name": "", "content": b64(b"no name")},
        ]

    def test_text_attachment_reencoded_as_utf8(self, api, message):
        part = MIMEText("¡text!", "plain", "iso-8859-1")
        part.add_header("Content-Disposition", "attachment", filename="latin.txt")
        message.attach(part)
        message.send()
        assert sent(api)["attachment"] == [
            {"name": "latin.txt", "content": b64("¡text!".encode())}
        ]

    def test_no_attachment_key_without_attachments(self, api, message):
        message.send()
        assert "attachment" not in sent(api)

    def test_inline_image_unsupported(self, api, message):
        attach_inline_image(message, PNG, filename="logo.png")
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == "Brevo does not support inline attachments"
        assert api.call_count == 0

    def test_inline_image_sent_as_attachment_when_ignoring(
        self, api, message, ignore_unsupported
    ):
        attach_inline_image(message, PNG, filename="logo.png")
        message.send()
        assert sent(api)["attachment"] == [{"name": "logo.png", "content": b64(PNG)}]


class TestAnymailFeatures:
    def test_unneeded_keys_never_sent(self, api, message):
        message.send()
        assert set(sent(api)) == {"sender", "to", "subject", "textContent"}

    def test_metadata(self, api, message):
        message.metadata = {"user_id": "12345", "items": 6, "float": 98.6}
        message.send()
        header = sent(api)["headers"]["X-Mailin-custom"]
        assert header == '{"user_id": "12345", "items": 6, "float": 98.6}'

    def test_metadata_replaces_custom_header(self, api, message):
        message.extra_headers = {"x-mailin-custom": "user value", "X-Other": "x"}
        message.metadata = {"a": "b"}
        message.send()
        assert sent(api)["headers"] == {
            "X-Other": "x",
            "X-Mailin-custom": '{"a": "b"}',
        }

    def test_non_ascii_metadata_unsupported(self, api, message):
        message.metadata = {"name": "Ünïcode"}
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Brevo does not support non-ASCII characters in metadata"
        )
        assert api.call_count == 0

    def test_non_ascii_metadata_sent_when_ignoring(
        self, api, message, ignore_unsupported
    ):
        message.metadata = {"name": "Ünïcode"}
        message.send()
        assert sent(api)["headers"] == {
            "X-Mailin-custom": '{"name": "\\u00dcn\\u00efcode"}'
        }

    def test_tags(self, api, message):
        message.tags = ["receipt", "repeat-user", "three", "four"]
        message.send()
        assert sent(api)["tags"] == ["receipt", "repeat-user", "three", "four"]

    def test_empty_tags_omitted(self, api, message):
        message.tags = []
        message.send()
        assert "tags" not in sent(api)

    @pytest.mark.parametrize(
        "send_at, expected",
        [
            (
                datetime(
                    2016, 3, 4, 5, 6, 7, 8000, tzinfo=timezone(timedelta(hours=-8))
                ),
                "2016-03-04T05:06:07.008-08:00",
            ),
            (
                datetime(2016, 3, 4, 5, 6, 7, tzinfo=timezone.utc),
                "2016-03-04T05:06:07.000+00:00",
            ),
            (
                datetime(2016, 3, 4, 5, 6, 7, 123999, tzinfo=timezone.utc),
                "2016-03-04T05:06:07.123+00:00",
            ),
            (1651820889.5, "2022-05-06T07:08:09.500+00:00"),
            (1651820889, "2022-05-06T07:08:09.000+00:00"),
            ("2022-10-11T12:13:14.567-07:00", "2022-10-11T12:13:14.567-07:00"),
        ],
        ids=["aware", "utc", "truncated-ms", "float", "int", "str"],
    )
    def test_send_at(self, api, message, send_at, expected):
        message.send_at = send_at
        message.send()
        assert sent(api)["scheduledAt"] == expected

    def test_send_at_naive_and_date_use_current_timezone(self, api, message):
        with django_timezone.override("America/Los_Angeles"):
            message.send_at = datetime(2016, 3, 4, 5, 6, 7, 8000)
            message.send()
            assert sent(api)["scheduledAt"] == "2016-03-04T05:06:07.008-08:00"
            message.send_at = date(2022, 10, 22)
            message.send()
            assert sent(api)["scheduledAt"] == "2022-10-22T00:00:00.000-07:00"

    @pytest.mark.parametrize("template_id", [12, "12", "my-template"])
    def test_template_id_passed_as_given(self, api, message, template_id):
        message.template_id = template_id
        message.send()
        assert sent(api)["templateId"] == template_id

    def test_merge_global_data(self, api, message):
        message.merge_global_data = {"name": "Alice", "count": 3}
        message.send()
        data = sent(api)
        assert data["params"] == {"name": "Alice", "count": 3}
        assert data["to"] == [{"email": "to@example.com"}]
        assert "messageVersions" not in data


class TestTemplates:
    def test_template_send(self, api):
        msg = AnymailMessage(
            to=["Recipient <to@example.com>"],
            template_id=12,
            merge_global_data={"name": "Alice"},
        )
        msg.from_email = None
        msg.send()
        assert sent(api) == {
            "to": [{"email": "to@example.com", "name": "Recipient"}],
            "templateId": 12,
            "params": {"name": "Alice"},
        }

    def test_template_overrides(self, api):
        msg = AnymailMessage(
            subject="Custom subject",
            from_email="Custom <from@example.com>",
            to=["to@example.com"],
            reply_to=["reply@example.com"],
            template_id=12,
        )
        msg.send()
        assert sent(api) == {
            "sender": {"email": "from@example.com", "name": "Custom"},
            "to": [{"email": "to@example.com"}],
            "replyTo": {"email": "reply@example.com"},
            "subject": "Custom subject",
            "templateId": 12,
        }


class TestBatchSends:
    def test_merge_data_spec_example(self, api):
        msg = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "Bob <bob@example.com>"],
            template_id=1234567,
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "bob@example.com": {"name": "Bob"},
            },
            merge_global_data={"group": "Users", "site": "ExampleCo"},
        )
        api.set_response(201, {"messageIds": ["<id-alice>", "<id-bob>"]})
        msg.send()
        assert api.call_count == 1
        assert api.last_call["url"] == API_URL
        assert sent(api) == {
            "sender": {"email": "from@example.com"},
            "templateId": 1234567,
            "params": {"group": "Users", "site": "ExampleCo"},
            "messageVersions": [
                {
                    "to": [{"email": "alice@example.com"}],
                    "params": {"name": "Alice", "group": "Developers"},
                },
                {
                    "to": [{"email": "bob@example.com", "name": "Bob"}],
                    "params": {"name": "Bob"},
                },
            ],
        }
        recipients = msg.anymail_status.recipients
        assert recipients["alice@example.com"].message_id == "<id-alice>"
        assert recipients["bob@example.com"].message_id == "<id-bob>"
        assert msg.anymail_status.message_id == {"<id-alice>", "<id-bob>"}
        assert msg.anymail_status.status == {"queued"}

    def test_merge_metadata_spec_example(self, api):
        msg = AnymailMessage(
            "Subject", "Body", "from@example.com",
            ["alice@example.com", "bob@example.com"],
            metadata={"notification_batch": "zx912"},
            merge_metadata={
                "alice@example.com": {"order_id": 123, "tier": "premium"},
                "nobody@example.com": {"order_id": 0},
            },
        )  # fmt: skip
        msg.send()
        data = sent(api)
        assert data["headers"] == {"X-Mailin-custom": '{"notification_batch": "zx912"}'}
        alice, bob = data["messageVersions"]
        assert alice["to"] == [{"email": "alice@example.com"}]
        assert set(alice) == {"to", "headers"}
        assert set(alice["headers"]) == {"X-Mailin-custom"}
        assert json.loads(alice["headers"]["X-Mailin-custom"]) == {
            "order_id": 123,
            "tier": "premium",
            "notification_batch": "zx912",
        }
        assert alice["headers"]["X-Mailin-custom"] == (
            '{"notification_batch": "zx912", "order_id": 123, "tier": "premium"}'
        )
        assert bob == {"to": [{"email": "bob@example.com"}]}

    def test_merge_metadata_recipient_wins(self, api):
        msg = AnymailMessage(
            "S", "B", "from@example.com", ["a@example.com"],
            metadata={"key": "global", "other": 1},
            merge_metadata={"a@example.com": {"key": "recipient"}},
        )  # fmt: skip
        msg.send()
        (version,) = sent(api)["messageVersions"]
        assert version["headers"] == {
            "X-Mailin-custom": '{"key": "recipient", "other": 1}'
        }

    def test_merge_headers_only(self, api):
        msg = AnymailMessage(
            "S", "B", "from@example.com",
            ["alice@example.com", "bob@example.com", "carol@example.com"],
            headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            merge_headers={
                "alice@example.com": {"List-Unsubscribe": "<https://e.x/a>"},
                "bob@example.com": {"List-Unsubscribe": "<https://e.x/b>", "X-N": 7},
            },
        )  # fmt: skip
        msg.send()
        data = sent(api)
        assert "to" not in data
        assert "params" not in data
        assert data["headers"] == {
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"
        }
        assert data["messageVersions"] == [
            {
                "to": [{"email": "alice@example.com"}],
                "headers": {"List-Unsubscribe": "<https://e.x/a>"},
            },
            {
                "to": [{"email": "bob@example.com"}],
                # (merge_headers values are not stringified)
                "headers": {"List-Unsubscribe": "<https://e.x/b>", "X-N": 7},
            },
            {"to": [{"email": "carol@example.com"}]},
        ]

    def test_merge_headers_after_merge_metadata_case_insensitive(self, api):
        msg = AnymailMessage(
            "S", "B", "from@example.com", ["a@example.com"],
            merge_metadata={"a@example.com": {"m": 1}},
            merge_headers={"a@example.com": {"x-mailin-CUSTOM": "override"}},
        )  # fmt: skip
        msg.send()
        (version,) = sent(api)["messageVersions"]
        assert version["headers"] == {"x-mailin-CUSTOM": "override"}

    def test_all_merge_attrs_together(self, api):
        msg = AnymailMessage(
            "S", "B", "from@example.com", ["a@example.com"],
            cc=["cc@example.com"], bcc=["bcc@example.com"],
            headers={"X-Global": "g"},
            metadata={"g": 1},
            merge_data={"a@example.com": {"v": "1"}},
            merge_metadata={"a@example.com": {"m": 2}},
            merge_headers={"a@example.com": {"X-Mine": "yes"}},
        )  # fmt: skip
        msg.send()
        assert sent(api) == {
            "sender": {"email": "from@example.com"},
            "cc": [{"email": "cc@example.com"}],
            "bcc": [{"email": "bcc@example.com"}],
            "subject": "S",
            "textContent": "B",
            "headers": {"X-Global": "g", "X-Mailin-custom": '{"g": 1}'},
            "messageVersions": [
                {
                    "to": [{"email": "a@example.com"}],
                    "params": {"v": "1"},
                    "headers": {"X-Mailin-custom": '{"g": 1, "m": 2}', "X-Mine": "yes"},
                }
            ],
        }

    @pytest.mark.parametrize("attr", ["merge_data", "merge_metadata", "merge_headers"])
    def test_empty_merge_attr_is_batch(self, api, message, attr):
        setattr(message, attr, {})
        message.send()
        data = sent(api)
        assert "to" not in data
        assert data["messageVersions"] == [{"to": [{"email": "to@example.com"}]}]

    def test_merge_headers_none_is_batch(self, api, message):
        message.merge_headers = None
        message.send()
        assert sent(api)["messageVersions"] == [{"to": [{"email": "to@example.com"}]}]

    def test_merge_data_none_is_not_batch(self, api, message):
        message.merge_data = None
        message.send()
        data = sent(api)
        assert data["to"] == [{"email": "to@example.com"}]
        assert "messageVersions" not in data

    def test_merge_data_from_send_defaults_is_batch(self, api, message):
        anymail = {**CREDENTIALS, "BREVO_SEND_DEFAULTS": {"merge_data": {}}}
        with override_settings(ANYMAIL=anymail):
            message.send()
        assert "messageVersions" in sent(api)

    def test_lookups_use_idna_email_exact_case(self, api):
        msg = AnymailMessage(
            "S", "B", "from@example.com",
            ["to@příklad.example.cz", "Case@Example.com"],
            merge_data={
                "to@xn--pklad-zsa96e.example.cz": {"v": "idna"},
                "to@příklad.example.cz": {"v": "unicode"},
                "case@example.com": {"v": "wrong case"},
                "other@example.com": {"v": "not a recipient"},
            },
        )  # fmt: skip
        msg.send()
        assert sent(api)["messageVersions"] == [
            {
                "to": [{"email": "to@xn--pklad-zsa96e.example.cz"}],
                "params": {"v": "idna"},
            },
            {"to": [{"email": "Case@Example.com"}]},
        ]

    def test_non_serializable_merge_data(self, api, message):
        message.merge_data = {"to@example.com": {"price": Decimal("1.5")}}
        with pytest.raises(AnymailSerializationError) as excinfo:
            message.send()
        assert "Object of type 'Decimal' is not JSON serializable" in str(excinfo.value)
        assert api.call_count == 0

    def test_non_serializable_merge_metadata(self, api, message):
        message.merge_metadata = {"to@example.com": {"price": Decimal("1.5")}}
        with pytest.raises(AnymailSerializationError):
            message.send()
        assert api.call_count == 0

    @pytest.mark.parametrize("value", ["Ünïcode", "has \\u sequence"], ids=repr)
    def test_non_ascii_merge_headers_unsupported(self, api, message, value):
        message.merge_headers = {"to@example.com": {"X-Extra": value}}
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Brevo does not support non-ASCII characters in merge_headers"
        )
        assert api.call_count == 0

    def test_non_ascii_merge_metadata_unsupported(self, api, message):
        message.merge_metadata = {"to@example.com": {"name": "Zoë"}}
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Brevo does not support non-ASCII characters in merge_metadata"
        )
        assert api.call_count == 0

    def test_non_ascii_merge_values_sent_when_ignoring(
        self, api, message, ignore_unsupported
    ):
        message.merge_headers = {"to@example.com": {"X-Extra": "Ünïcode"}}
        message.merge_metadata = {"to@example.com": {"name": "Zoë"}}
        message.send()
        (version,) = sent(api)["messageVersions"]
        assert version["headers"] == {
            "X-Mailin-custom": '{"name": "Zo\\u00eb"}',
            "X-Extra": "Ünïcode",
        }

    def test_non_ascii_merge_values_allowed_when_prevention_disabled(
        self, api, message
    ):
        anymail = {**CREDENTIALS, "BREVO_PREVENT_HEADER_ENCODING_BUGS": False}
        message.merge_headers = {"to@example.com": {"X-Extra": "Ünïcode"}}
        with override_settings(ANYMAIL=anymail):
            message.send()
        (version,) = sent(api)["messageVersions"]
        assert version["headers"] == {"X-Extra": "Ünïcode"}

    def test_non_ascii_merge_values_for_non_recipients_not_checked(self, api, message):
        message.merge_headers = {"other@example.com": {"X-Extra": "Ünïcode"}}
        message.merge_metadata = {"other@example.com": {"name": "Zoë"}}
        message.send()
        assert sent(api)["messageVersions"] == [{"to": [{"email": "to@example.com"}]}]


class TestEspExtra:
    def test_top_level_update(self, api, message):
        message.esp_extra = {"batchId": "5c6cfa04-eed9-42c2-8b5c-6d470d978e9d"}
        message.send()
        data = sent(api)
        assert data["batchId"] == "5c6cfa04-eed9-42c2-8b5c-6d470d978e9d"
        assert data["textContent"] == "Text Body"

    def test_replaces_whole_keys(self, api, message):
        message.extra_headers = {"X-A": "a"}
        message.metadata = {"m": 1}
        message.esp_extra = {"headers": {"X-B": "b"}, "subject": "Overridden"}
        message.send()
        data = sent(api)
        assert data["headers"] == {"X-B": "b"}
        assert data["subject"] == "Overridden"

    def test_empty_headers_dropped(self, api, message):
        message.extra_headers = {"X-A": "a"}
        message.esp_extra = {"headers": {}}
        message.send()
        assert "headers" not in sent(api)

    def test_batch_versions_generated_after_esp_extra(self, api):
        msg = AnymailMessage(
            "S", "B", "from@example.com", ["a@example.com"],
            merge_data={"a@example.com": {"v": 1}},
            esp_extra={
                "messageVersions": [{"to": [{"email": "z@example.com"}]}],
                "params": {"from": "esp_extra"},
            },
        )  # fmt: skip
        msg.send()
        data = sent(api)
        assert data["messageVersions"] == [
            {"to": [{"email": "a@example.com"}], "params": {"v": 1}}
        ]
        assert data["params"] == {"from": "esp_extra"}

    def test_merged_with_send_defaults(self, api, message):
        anymail = {
            **CREDENTIALS,
            "BREVO_SEND_DEFAULTS": {"esp_extra": {"batchId": "b", "nested": {"x": 1}}},
        }
        message.esp_extra = {"nested": {"y": 2}}
        with override_settings(ANYMAIL=anymail):
            message.send()
        data = sent(api)
        assert data["batchId"] == "b"
        assert data["nested"] == {"x": 1, "y": 2}


class TestUnsupportedFeatures:
    @pytest.mark.parametrize(
        "attrs, feature",
        [
            (
                {"from_email": "one@example.com, two@example.com"},
                "multiple from emails",
            ),
            (
                {"reply_to": ["r1@example.com", "r2@example.com"]},
                "multiple reply_to addresses",
            ),
            ({"envelope_sender": "bounce@example.com"}, "envelope_sender"),
            ({"track_clicks": True}, "track_clicks"),
            ({"track_clicks": False}, "track_clicks"),
            ({"track_opens": False}, "track_opens"),
            (
                {"extra_headers": {"To": "Spoofed <to@example.com>"}},
                "spoofing `To` header",
            ),
            (
                {"extra_headers": {"From": "Header <header@example.com>"}},
                "envelope_sender",
            ),
            (
                {"extra_headers": {"From": "one@example.com, two@example.com"}},
                "multiple from emails",
            ),
        ],
        ids=lambda value: value if isinstance(value, str) else None,
    )
    def test_unsupported_attribute(self, api, message, attrs, feature):
        for attr, value in attrs.items():
            setattr(message, attr, value)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == f"Brevo does not support {feature}"
        assert api.call_count == 0
        assert message.anymail_status.status is None

    @pytest.mark.parametrize(
        "alternatives, feature",
        [
            (
                [("<p>1</p>", "text/html"), ("<p>2</p>", "text/html")],
                "multiple html parts",
            ),
            ([("more text", "text/plain")], "multiple plaintext parts"),
            (
                [("<html amp4email></html>", "text/x-amp-html")],
                "alternative part with type 'text/x-amp-html'",
            ),
            (
                [("{}", "application/json")],
                "alternative part with type 'application/json'",
            ),
        ],
        ids=["html", "plain", "amp", "json"],
    )
    def test_unsupported_alternatives(self, api, message, alternatives, feature):
        for content, mimetype in alternatives:
            message.attach_alternative(content, mimetype)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == f"Brevo does not support {feature}"
        assert api.call_count == 0

    def test_second_html_after_html_body(self, api):
        msg = mail.EmailMultiAlternatives(
            "S", "<p>body</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.attach_alternative("<p>alt</p>", "text/html")
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            msg.send()
        assert str(excinfo.value) == "Brevo does not support multiple html parts"

    def test_calendar_body_subtype(self, api):
        msg = mail.EmailMessage("S", "BEGIN:VCALENDAR", "f@example.com", ["t@e.com"])
        msg.content_subtype = "calendar"
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            msg.send()
        assert str(excinfo.value) == (
            "Brevo does not support alternative part with type 'text/calendar'"
        )

    def test_ignore_unsupported_features_kwarg(self, api, message):
        message.track_opens = True
        connection = mail.get_connection(ignore_unsupported_features=True)
        connection.send_messages([message])
        assert "track_opens" not in api.last_call["data"]

    def test_fail_silently(self, api, message):
        message.track_opens = True
        with pytest.warns(DeprecationWarning):
            connection = mail.get_connection(fail_silently=True)
        assert connection.send_messages([message]) == 0
        assert api.call_count == 0


@pytest.mark.usefixtures("ignore_unsupported")
class TestIgnoreUnsupportedFeatures:
    def test_multiple_from_uses_first(self, api, message):
        message.from_email = "one@example.com, Two <two@example.com>"
        message.send()
        assert sent(api)["sender"] == {"email": "one@example.com"}

    def test_multiple_reply_to_uses_first(self, api, message):
        message.reply_to = ["First <r1@example.com>", "r2@example.com"]
        message.send()
        assert sent(api)["replyTo"] == {"email": "r1@example.com", "name": "First"}

    def test_later_html_part_wins(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        message.send()
        assert sent(api)["htmlContent"] == "<p>two</p>"

    def test_other_alternatives_dropped(self, api, message):
        message.attach_alternative("more text", "text/plain")
        message.attach_alternative("<html amp4email></html>", "text/x-amp-html")
        message.send()
        data = sent(api)
        assert data["textContent"] == "Text Body"
        assert "amp4email" not in api.last_call["data"]
        assert "more text" not in api.last_call["data"]

    def test_dropped_features(self, api, message):
        message.envelope_sender = "bounce@example.com"
        message.track_clicks = True
        message.track_opens = True
        message.extra_headers = {"To": "spoofed@example.com", "X-Kept": "kept"}
        message.send()
        data = sent(api)
        assert data == {
            "sender": {"email": "from@example.com"},
            "to": [{"email": "to@example.com"}],
            "subject": "Subject",
            "textContent": "Text Body",
            "headers": {"X-Kept": "kept"},
        }

    def test_from_header_used_as_sender(self, api, message):
        message.extra_headers = {"From": "Header <header@example.com>"}
        message.send()
        data = sent(api)
        assert data["sender"] == {"email": "header@example.com", "name": "Header"}
        assert "headers" not in data


class TestResponses:
    def test_success_status(self, api):
        msg = AnymailMessage(
            "S", "B", "from@example.com", ["To <to@example.com>"],
            cc=["cc@example.com"], bcc=["bcc@example.com"],
        )  # fmt: skip
        assert msg.send() == 1
        status = msg.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == MESSAGE_ID
        assert set(status.recipients) == {
            "to@example.com",
            "cc@example.com",
            "bcc@example.com",
        }
        for recipient in status.recipients.values():
            assert recipient.status == "queued"
            assert recipient.message_id == MESSAGE_ID
        assert isinstance(status.esp_response, requests.Response)
        assert status.esp_response.status_code == 201
        assert status.esp_response.json() == {"messageId": MESSAGE_ID}

    def test_status_keys_are_given_addr_spec(self, api):
        msg = AnymailMessage("S", "B", "from@example.com", ["to@příklad.example.cz"])
        msg.send()
        assert set(msg.anymail_status.recipients) == {"to@příklad.example.cz"}

    def test_batch_message_ids(self, api):
        msg = AnymailMessage(
            "S", "B", "from@example.com",
            ["a@example.com", "b@example.com"],
            cc=["cc@example.com"], bcc=["bcc@example.com"],
            merge_data={},
        )  # fmt: skip
        api.set_response(201, {"messageIds": ["<id-a>", "<id-b>"]})
        msg.send()
        recipients = msg.anymail_status.recipients
        summary = {k: (v.status, v.message_id) for k, v in recipients.items()}
        assert summary == {
            "a@example.com": ("queued", "<id-a>"),
            "b@example.com": ("queued", "<id-b>"),
            "cc@example.com": ("queued", None),
            "bcc@example.com": ("queued", None),
        }
        assert msg.anymail_status.message_id == {"<id-a>", "<id-b>", None}

    def test_batch_fewer_ids_than_recipients(self, api):
        msg = AnymailMessage(
            "S", "B", "from@example.com", ["a@example.com", "b@example.com"],
            merge_data={},
        )  # fmt: skip
        api.set_response(201, {"messageIds": ["<id-a>"]})
        msg.send()
        recipients = msg.anymail_status.recipients
        assert recipients["a@example.com"].message_id == "<id-a>"
        assert recipients["b@example.com"].message_id is None
        assert recipients["b@example.com"].status == "queued"

    def test_message_id_wins_over_message_ids(self, api, message):
        api.set_response(201, {"messageId": "<single>", "messageIds": ["<x>"]})
        message.send()
        assert message.anymail_status.recipients["to@example.com"].message_id == (
            "<single>"
        )

    def test_empty_body(self, api, message):
        api.set_response(201, b"")
        message.cc = ["cc@example.com"]
        assert message.send() == 1
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id is None
        assert status.recipients["to@example.com"].message_id is None
        assert status.recipients["cc@example.com"].status == "queued"

    def test_any_2xx_accepted(self, api, message):
        api.set_response(200, {"messageId": "<ok>"})
        message.send()
        assert message.anymail_status.message_id == "<ok>"

    def test_invalid_json(self, api, message):
        api.set_response(201, "not json", headers={"Content-Type": "text/plain"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid JSON in Brevo API response")
        assert isinstance(message.anymail_status.esp_response, requests.Response)
        assert message.anymail_status.status is None
        assert message.anymail_status.recipients == {}

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"unexpected": "keys"},
            [],
            ["messageId"],
            "messageId",
            {"messageIds": "<not-a-list>"},
            {"messageIds": [["nested"]]},
            {"messageId": {"nested": "object"}},
        ],
        ids=repr,
    )
    def test_invalid_response_format(self, api, message, body):
        api.set_response(201, json.dumps(body))
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid Brevo API response format")
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is not None

    def test_api_error(self, api, message):
        body = {
            "code": "invalid_parameter",
            "message": "Please provide a valid html content",
        }
        api.set_response(400, body)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        err = excinfo.value
        assert err.status_code == 400
        assert str(err) == "Brevo API response 400 (BAD REQUEST):\n" + json.dumps(
            body, indent=2
        )
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None
        assert message.anymail_status.message_id is None
        assert message.anymail_status.recipients == {}

    def test_api_error_empty_5xx(self, api, message):
        api.set_response(503, b"", reason="Service Unavailable")
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert isinstance(excinfo.value, AnymailRequestsAPIError)
        assert excinfo.value.status_code == 503
        assert str(excinfo.value).startswith(
            "Brevo API response 503 (Service Unavailable)"
        )

    def test_never_recipients_refused(self, api, message):
        api.set_response(201, {"messageId": "<x>"})
        assert message.send() == 1
        assert message.anymail_status.status == {"queued"}


class TestSignals:
    def test_esp_name_in_signals(self, api, message):
        received = []

        def receiver(sender, **kwargs):
            received.append((sender, kwargs["esp_name"]))

        pre_send.connect(receiver)
        post_send.connect(receiver)
        try:
            message.send()
        finally:
            pre_send.disconnect(receiver)
            post_send.disconnect(receiver)
        assert received == [(EmailBackend, "Brevo"), (EmailBackend, "Brevo")]
