"""Tests for the Mailtrap (Email API v2) sending backend."""

import base64
import json
from datetime import datetime, timezone
from decimal import Decimal
from email.mime.text import MIMEText
from unittest import mock

import pytest
import requests
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings
from django.utils.translation import gettext_lazy

from anymail.backends.mailtrap import EmailBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .conftest import b64

BACKEND = "anymail.backends.mailtrap.EmailBackend"
TOKEN = "test-api-token"
CREDENTIALS = {"MAILTRAP_API_TOKEN": TOKEN}
SEND_URL = "https://send.api.mailtrap.io/api/send"
BATCH_URL = "https://send.api.mailtrap.io/api/batch"
REQUEST_HEADERS = {
    "Api-Token": TOKEN,
    "Content-Type": "application/json",
    "Accept": "application/json",
}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def success(*message_ids):
    return {"success": True, "message_ids": list(message_ids)}


def batch_success(*results):
    return {"success": True, "responses": list(results)}


@pytest.fixture(autouse=True)
def mailtrap_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL=CREDENTIALS):
        yield


def anymail_settings(**settings):
    return override_settings(ANYMAIL={**CREDENTIALS, **settings})


@pytest.fixture
def api(requests_mock):
    """requests_mock answering a successful send to one recipient."""
    requests_mock.set_response(200, success("id-to1"))
    return requests_mock


@pytest.fixture
def message():
    return AnymailMessage(
        "Subject", "Text Body", "from@example.com", ["to@example.com"]
    )


def sent_data(api):
    return api.last_json()


def batch_message(to, **kwargs):
    """A simple message to `to` (with merge_* kwargs for a batch send)."""
    return AnymailMessage("Subject", "Body", "from@example.com", to, **kwargs)


def set_batch_response(api, count):
    """Answer a batch send to `count` to recipients (ids id-0, id-1, ...)."""
    api.set_response(200, batch_success(*(success(f"id-{n}") for n in range(count))))


# ---------------------------------------------------------------------------


class TestApiCall:
    def test_simple_send(self, api):
        sent = mail.send_mail(
            "Subject here", "Here is the message.", "from@example.com",
            ["to@example.com"],
        )  # fmt: skip
        assert sent == 1
        call = api.last_call
        # a default message has only these fields
        assert json.loads(call["data"]) == {
            "from": {"email": "from@example.com"},
            "to": [{"email": "to@example.com"}],
            "subject": "Subject here",
            "text": "Here is the message.",
        }

    def test_request_headers_not_shared_between_payloads(self, api, message):
        connection = mail.get_connection()
        payload = connection.build_message_payload(message, connection.send_defaults)
        payload.headers["X-Changed"] = "yes"
        assert connection.api_headers == REQUEST_HEADERS

    def test_class_constants(self):
        assert EmailBackend.esp_name == "Mailtrap"
        assert EmailBackend.DEFAULT_API_URL == "https://send.api.mailtrap.io/api/"
        assert EmailBackend.DEFAULT_SANDBOX_API_URL == (
            "https://sandbox.api.mailtrap.io/api/"
        )


class TestSettings:
    def test_flat_settings(self, api, message):
        with override_settings(
            ANYMAIL={},
            ANYMAIL_MAILTRAP_API_TOKEN="flat-token",
            ANYMAIL_MAILTRAP_SANDBOX_ID=777,
            ANYMAIL_MAILTRAP_API_URL="https://flat.example.com/api",
        ):
            message.send()
        assert api.last_call["headers"]["Api-Token"] == "flat-token"
        assert api.last_call["url"] == "https://flat.example.com/api/send/777"

    def test_sandbox_and_api_url_not_read_bare(self, api, message):
        with override_settings(
            MAILTRAP_SANDBOX_ID="12345", MAILTRAP_API_URL="https://bare.example.com/"
        ):
            message.send()
        assert api.last_call["url"] == SEND_URL

    @pytest.mark.parametrize("sandbox_id", ["12345", 12345])
    def test_sandbox_id(self, api, message, sandbox_id):
        with anymail_settings(MAILTRAP_SANDBOX_ID=sandbox_id):
            message.send()
        assert api.last_call["url"] == "https://sandbox.api.mailtrap.io/api/send/12345"
        assert api.last_call["headers"] == REQUEST_HEADERS

    def test_sandbox_id_is_url_quoted(self, api, message):
        with anymail_settings(MAILTRAP_SANDBOX_ID="a/b c?"):
            message.send()
        assert api.last_call["url"] == (
            "https://sandbox.api.mailtrap.io/api/send/a%2Fb%20c%3F"
        )

    @pytest.mark.parametrize("sandbox_id", [None, "", 0])
    def test_falsy_sandbox_id_means_transactional(self, api, message, sandbox_id):
        with anymail_settings(MAILTRAP_SANDBOX_ID=sandbox_id):
            connection = mail.get_connection()
            message.connection = connection
            message.send()
        assert connection.sandbox_id is None
        assert api.last_call["url"] == SEND_URL

    def test_bulk_api_url(self, api, message):
        with anymail_settings(MAILTRAP_API_URL="https://bulk.api.mailtrap.io/api"):
            connection = mail.get_connection()
            message.connection = connection
            message.send()
        assert connection.api_url == "https://bulk.api.mailtrap.io/api/"
        assert api.last_call["url"] == "https://bulk.api.mailtrap.io/api/send"

    def test_api_url_used_even_with_sandbox_id(self, api, message):
        with anymail_settings(
            MAILTRAP_API_URL="https://proxy.example.com/mailtrap/",
            MAILTRAP_SANDBOX_ID=42,
        ):
            message.send()
        assert api.last_call["url"] == "https://proxy.example.com/mailtrap/send/42"

    def test_settings_via_kwargs(self, api, message):
        connection = mail.get_connection(
            api_token="kw-token",
            sandbox_id="kw-inbox",
            api_url="https://kw.example.com/api",
        )
        assert connection.api_url == "https://kw.example.com/api/"
        message.connection = connection
        message.send()
        assert api.last_call["headers"]["Api-Token"] == "kw-token"
        assert api.last_call["url"] == "https://kw.example.com/api/send/kw-inbox"

    def test_kwargs_win_over_settings(self, api, message):
        with anymail_settings(MAILTRAP_SANDBOX_ID="from-settings"):
            message.connection = mail.get_connection(sandbox_id=None)
            message.send()
        assert api.last_call["url"] == SEND_URL

    def test_kwargs_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                api_token="t",
                sandbox_id="1",
                api_url="https://x.example/",
                alias="mt",
            )
        assert django_init.call_args.kwargs == {"alias": "mt"}

    def test_send_defaults(self, api, message):
        with anymail_settings(
            MAILTRAP_SEND_DEFAULTS={"tags": ["default-tag"], "metadata": {"a": 1}}
        ):
            message.send()
        data = sent_data(api)
        assert data["category"] == "default-tag"
        assert data["custom_variables"] == {"a": "1"}

    def test_idna_encoder_setting(self, api):
        with anymail_settings(MAILTRAP_IDNA_ENCODER="idna2003"):
            mail.send_mail("S", "B", "from@example.com", ["to@faß.example"])
        assert sent_data(api)["to"] == [{"email": "to@fass.example"}]


class TestAddresses:
    def test_address_objects(self, api):
        api.set_response(200, success(*(f"id-{n}" for n in range(6))))
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

    def test_unicode_names_idn_domains_and_eai(self, api):
        api.set_response(200, success("id-1", "id-2"))
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "Frøm Ñame <from@exämple.com>",
            ["Juan Lopéz <juan@éxample.com>", "відправник@example.com"],
        )
        msg.send()
        data = sent_data(api)
        assert data["from"] == {"email": "from@xn--exmple-cua.com", "name": "Frøm Ñame"}
        assert data["to"] == [
            {"email": "juan@xn--xample-9ua.com", "name": "Juan Lopéz"},
            {"email": "відправник@example.com"},
        ]

    def test_eai_from_passed_through(self, api, message):
        message.from_email = "Відправник <відправник@exämple.com>"
        message.send()
        assert sent_data(api)["from"] == {
            "email": "відправник@xn--exmple-cua.com",
            "name": "Відправник",
        }

    def test_no_cc_bcc_reply_to_when_empty(self, api, message):
        message.send()
        data = sent_data(api)
        for key in ("cc", "bcc", "reply_to", "headers"):
            assert key not in data

    def test_single_reply_to(self, api, message):
        message.reply_to = ["Reply Person <reply@example.com>"]
        message.send()
        data = sent_data(api)
        assert data["reply_to"] == {
            "email": "reply@example.com",
            "name": "Reply Person",
        }
        assert "headers" not in data

    def test_single_eai_reply_to(self, api, message):
        message.reply_to = ["Відповідь <відповідь@příklad.example.cz>"]
        message.send()
        assert sent_data(api)["reply_to"] == {
            "email": "відповідь@xn--pklad-zsa96e.example.cz",
            "name": "Відповідь",
        }

    def test_multiple_reply_to_header(self, api, message):
        message.reply_to = [
            "reply@example.com",
            '"Other, with comma" <reply2@example.com>',
            "Інше <reply3@příklad.example.cz>",
        ]
        message.send()
        data = sent_data(api)
        assert "reply_to" not in data
        assert data["headers"] == {
            "Reply-To": "reply@example.com, "
            '"Other, with comma" <reply2@example.com>, '
            "=?utf-8?b?0IbQvdGI0LU=?= <reply3@xn--pklad-zsa96e.example.cz>"
        }

    def test_multiple_reply_to_with_other_headers(self, api, message):
        message.reply_to = ["a@example.com", "b@example.com"]
        message.extra_headers = {"X-Custom": "value"}
        message.send()
        assert sent_data(api)["headers"] == {
            "Reply-To": "a@example.com, b@example.com",
            "X-Custom": "value",
        }

    def test_reply_to_header_replaces_reply_to(self, api, message):
        message.reply_to = ["ignored@example.com"]
        message.extra_headers = {"reply-TO": "Header <header@example.com>", "X-A": "a"}
        message.send()
        data = sent_data(api)
        assert data["reply_to"] == {"email": "header@example.com", "name": "Header"}
        assert data["headers"] == {"X-A": "a"}

    def test_multiple_reply_to_in_header(self, api, message):
        message.reply_to = ["ignored@example.com"]
        message.extra_headers = {"Reply-To": "one@example.com, Two <two@example.com>"}
        message.send()
        data = sent_data(api)
        assert "reply_to" not in data
        assert data["headers"] == {"Reply-To": "one@example.com, Two <two@example.com>"}

    def test_from_email_none_omits_from(self, api, message):
        message.from_email = None
        message.template_id = "tmpl-uuid"
        message.send()
        assert "from" not in sent_data(api)


class TestContent:
    def test_empty_subject_omitted(self, api, message):
        message.subject = ""
        message.send()
        assert "subject" not in sent_data(api)

    def test_empty_text_body_omitted(self, api, message):
        message.body = ""
        message.send()
        assert "text" not in sent_data(api)

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

    def test_alternatives_with_empty_body(self, api):
        msg = mail.EmailMultiAlternatives(
            "Subject", "", "from@example.com", ["to@example.com"]
        )
        msg.attach_alternative("Plain alternative", "text/plain")
        msg.attach_alternative("<p>HTML alternative</p>", "text/html")
        msg.send()
        data = sent_data(api)
        assert data["text"] == "Plain alternative"
        assert data["html"] == "<p>HTML alternative</p>"

    def test_extra_headers(self, api, message):
        message.extra_headers = {"X-Custom": "string", "X-Num": 123, "x-MiXeD": "m"}
        message.send()
        assert sent_data(api)["headers"] == {
            "X-Custom": "string",
            "X-Num": 123,
            "x-MiXeD": "m",
        }


class TestAttachments:
    def test_attachments(self, api, message):
        message.attach("test.txt", "¡text!", "text/plain")
        message.attach("data.bin", b"\x00\x01\xff", "application/octet-stream")
        message.attach(None, b"%PDF-1.4", "application/pdf")
        message.send()
        assert sent_data(api)["attachments"] == [
            {
                "filename": "test.txt",
                "type": 'text/plain; charset="utf-8"',
                "content": b64("¡text!".encode()),
            },
            {
                "filename": "data.bin",
                "type": "application/octet-stream",
                "content": b64(b"\x00\x01\xff"),
            },
            {
                "filename": "attachment",
                "type": "application/pdf",
                "content": b64(b"%PDF-1.4"),
            },
        ]

    def test_text_attachment_keeps_original_charset(self, api, message):
        message.attach(MIMEText("¡text!", "plain", "iso-8859-1"))
        message.send()
        assert sent_data(api)["attachments"] == [
            {
                "filename": "attachment",
                "type": 'text/plain; charset="iso-8859-1"',
                "content": b64(b"\xa1text!"),
            }
        ]

    def test_inline_image(self, api, message):
        cid = attach_inline_image(message, PNG, filename="logo.png")
        message.send()
        assert sent_data(api)["attachments"] == [
            {
                "filename": "logo.png",
                "type": "image/png",
                "content": b64(PNG),
                "disposition": "inline",
                "content_id": cid,
            }
        ]
        assert "<" not in cid

    def test_inline_image_without_filename(self, api, message):
        cid = attach_inline_image(message, PNG)
        message.send()
        (inline,) = sent_data(api)["attachments"]
        assert inline["filename"] == "attachment"
        assert inline["content_id"] == cid
        assert inline["disposition"] == "inline"

    def test_attachment_body_is_valid_json(self, api, message):
        content = bytes(range(256)) * 50
        message.attach("big.bin", content, "application/octet-stream")
        message.metadata = {"note": "snowman ☃"}
        message.send()
        body = api.last_call["data"]
        data = json.loads(body)
        assert base64.b64decode(data["attachments"][0]["content"]) == content
        assert data["custom_variables"] == {"note": "snowman ☃"}


class TestAnymailFeatures:
    def test_metadata_stringified(self, api, message):
        message.metadata = {
            "user_id": "12345",
            "items": 6,
            7: 8.5,
            "price": Decimal("1.5"),
        }
        message.send()
        assert sent_data(api)["custom_variables"] == {
            "user_id": "12345",
            "items": "6",
            "7": "8.5",
            "price": "1.5",
        }

    def test_tag(self, api, message):
        message.tags = ["receipt"]
        message.send()
        assert sent_data(api)["category"] == "receipt"

    def test_empty_tags(self, api, message):
        message.tags = []
        message.send()
        assert "category" not in sent_data(api)

    def test_serialization_error_in_merge_metadata(self, api, message):
        message.merge_metadata = {"to@example.com": {"price": Decimal("1.5")}}
        with pytest.raises(AnymailSerializationError) as excinfo:
            message.send()
        assert "Object of type 'Decimal' is not JSON serializable" in str(excinfo.value)
        assert api.call_count == 0


class TestTemplates:
    def test_template(self, api):
        msg = AnymailMessage(
            from_email="from@example.com",
            to=["to@example.com"],
            template_id="1df37d17-0286-4d8b-8edf-bc4ec5be86e6",
            merge_global_data={"name": "Alice", "group": "Developers"},
        )
        msg.send()
        assert api.last_call["url"] == SEND_URL
        # Django's default empty subject and body are not sent
        assert sent_data(api) == {
            "from": {"email": "from@example.com"},
            "to": [{"email": "to@example.com"}],
            "template_uuid": "1df37d17-0286-4d8b-8edf-bc4ec5be86e6",
            "template_variables": {"name": "Alice", "group": "Developers"},
        }

    def test_template_with_tag_passed_to_mailtrap(self, api, message):
        # (Mailtrap itself rejects category with template_uuid)
        message.template_id = "tmpl-uuid"
        message.tags = ["welcome"]
        message.send()
        data = sent_data(api)
        assert data["template_uuid"] == "tmpl-uuid"
        assert data["category"] == "welcome"

    def test_merge_global_data_merged_into_existing(self, api, message):
        message.merge_global_data = {"a": 1, "b": 2}
        message.esp_extra = {"template_variables": {"b": 20, "c": 3}}
        message.send()
        assert sent_data(api)["template_variables"] == {"a": 1, "b": 20, "c": 3}

    def test_merge_global_data_without_batch(self, api, message):
        api.set_response(200, success("id-a", "id-b"))
        message.to = ["a@example.com", "b@example.com"]
        message.merge_global_data = {"group": "All"}
        message.send()
        assert api.last_call["url"] == SEND_URL
        data = sent_data(api)
        assert data["template_variables"] == {"group": "All"}
        assert data["to"] == [{"email": "a@example.com"}, {"email": "b@example.com"}]


class TestBatchSend:
    def test_spec_example(self, api):
        set_batch_response(api, 3)
        msg = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "Bob <bob@example.com>", "cam@example.com"],
            template_id="tmpl-uuid",
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "bob@example.com": {"name": "Bob"},
            },
            merge_global_data={"group": "Users", "site": "ExampleCo"},
        )
        msg.send()
        call = api.last_call
        assert call["method"] == "POST"
        assert call["url"] == BATCH_URL
        assert call["headers"] == REQUEST_HEADERS
        assert json.loads(call["data"]) == {
            "base": {
                "from": {"email": "from@example.com"},
                "template_uuid": "tmpl-uuid",
                "template_variables": {"group": "Users", "site": "ExampleCo"},
            },
            "requests": [
                {
                    "to": [{"email": "alice@example.com"}],
                    "template_variables": {
                        "group": "Developers",
                        "site": "ExampleCo",
                        "name": "Alice",
                    },
                },
                {
                    "to": [{"email": "bob@example.com", "name": "Bob"}],
                    "template_variables": {
                        "group": "Users",
                        "site": "ExampleCo",
                        "name": "Bob",
                    },
                },
                {"to": [{"email": "cam@example.com"}]},
            ],
        }
        status = msg.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == {"id-0", "id-1", "id-2"}
        assert status.recipients["bob@example.com"].message_id == "id-1"

    def test_merge_data_without_merge_global_data(self, api, message):
        set_batch_response(api, 1)
        message.merge_data = {"to@example.com": {"name": "Alice"}}
        message.send()
        data = sent_data(api)
        assert "template_variables" not in data["base"]
        assert data["requests"] == [
            {
                "to": [{"email": "to@example.com"}],
                "template_variables": {"name": "Alice"},
            }
        ]

    def test_cc_and_bcc_copied_into_every_request(self, api):
        api.set_response(
            200,
            batch_success(success("a", "a-cc", "a-bcc"), success("b", "b-cc", "b-bcc")),
        )
        msg = batch_message(
            ["a@example.com", "b@example.com"],
            cc=["Copy <cc@example.com>"],
            bcc=["bcc@example.com"],
            merge_data={},
        )
        msg.send()
        data = sent_data(api)
        assert data["base"] == {
            "from": {"email": "from@example.com"},
            "subject": "Subject",
            "text": "Body",
        }
        copies = {
            "cc": [{"email": "cc@example.com", "name": "Copy"}],
            "bcc": [{"email": "bcc@example.com"}],
        }
        assert data["requests"] == [
            {"to": [{"email": "a@example.com"}], **copies},
            {"to": [{"email": "b@example.com"}], **copies},
        ]

    def test_merge_metadata(self, api):
        set_batch_response(api, 2)
        msg = batch_message(
            ["a@example.com", "b@example.com"],
            metadata={"batch": "zx9", "count": 2},
            merge_metadata={"b@example.com": {"order_id": 678, "count": 3}},
        )
        msg.send()
        data = sent_data(api)
        assert data["base"]["custom_variables"] == {"batch": "zx9", "count": "2"}
        assert data["requests"] == [
            {"to": [{"email": "a@example.com"}]},
            {
                "to": [{"email": "b@example.com"}],
                # (the recipient's values are not stringified)
                "custom_variables": {"batch": "zx9", "count": 3, "order_id": 678},
            },
        ]

    def test_merge_headers(self, api):
        set_batch_response(api, 2)
        msg = batch_message(
            ["a@example.com", "b@example.com"],
            headers={"X-Global": "g", "X-Both": "default"},
            merge_headers={
                "a@example.com": {"x-both": "for-a", "List-Unsubscribe": "<https://a>"},
                "nobody@example.com": {"X-Both": "ignored"},
            },
        )
        msg.send()
        data = sent_data(api)
        assert data["base"]["headers"] == {"X-Global": "g", "X-Both": "default"}
        assert data["requests"] == [
            {
                "to": [{"email": "a@example.com"}],
                "headers": {
                    "X-Global": "g",
                    "x-both": "for-a",
                    "List-Unsubscribe": "<https://a>",
                },
            },
            {"to": [{"email": "b@example.com"}]},
        ]

    def test_lazy_merge_header_values(self, api, message):
        set_batch_response(api, 1)
        message.merge_headers = {"to@example.com": {"X-Lazy": gettext_lazy("lazy")}}
        message.send()
        assert sent_data(api)["requests"][0]["headers"] == {"X-Lazy": "lazy"}

    def test_merge_headers_none_makes_batch(self, api, message):
        set_batch_response(api, 1)
        message.merge_headers = None
        message.send()
        assert api.last_call["url"] == BATCH_URL
        assert sent_data(api)["requests"] == [{"to": [{"email": "to@example.com"}]}]

    @pytest.mark.parametrize("attr", ["merge_data", "merge_metadata", "merge_headers"])
    def test_empty_merge_attr_makes_batch(self, api, attr):
        set_batch_response(api, 2)
        msg = batch_message(["a@example.com", "b@example.com"], **{attr: {}})
        msg.send()
        assert api.last_call["url"] == BATCH_URL
        data = sent_data(api)
        assert "to" not in data["base"]
        assert data["requests"] == [
            {"to": [{"email": "a@example.com"}]},
            {"to": [{"email": "b@example.com"}]},
        ]

    def test_merge_data_for_non_recipients_ignored(self, api, message):
        set_batch_response(api, 1)
        message.merge_data = {"stranger@example.com": {"name": "X"}}
        message.send()
        assert sent_data(api)["requests"] == [{"to": [{"email": "to@example.com"}]}]

    def test_batch_lookup_uses_encoded_address(self, api, message):
        set_batch_response(api, 1)
        message.to = ["to@éxample.com"]
        message.merge_data = {
            "to@xn--xample-9ua.com": {"name": "encoded"},
            "to@éxample.com": {"name": "unicode"},
        }
        message.send()
        assert sent_data(api)["requests"] == [
            {
                "to": [{"email": "to@xn--xample-9ua.com"}],
                "template_variables": {"name": "encoded"},
            }
        ]
        # the status is keyed by the address as given
        assert message.anymail_status.recipients["to@éxample.com"].message_id == "id-0"

    def test_sandbox_batch_url(self, api, message):
        set_batch_response(api, 1)
        message.merge_data = {}
        with anymail_settings(MAILTRAP_SANDBOX_ID=12345):
            message.send()
        assert api.last_call["url"] == (
            "https://sandbox.api.mailtrap.io/api/batch/12345"
        )

    def test_batch_from_send_defaults(self, api, message):
        set_batch_response(api, 2)
        message.to = ["a@example.com", "b@example.com"]
        with anymail_settings(
            MAILTRAP_SEND_DEFAULTS={"merge_data": {"a@example.com": {"x": 1}}}
        ):
            message.send()
        assert api.last_call["url"] == BATCH_URL
        assert sent_data(api)["requests"] == [
            {"to": [{"email": "a@example.com"}], "template_variables": {"x": 1}},
            {"to": [{"email": "b@example.com"}]},
        ]

    def test_attachments_in_base(self, api, message):
        set_batch_response(api, 1)
        message.attach("a.txt", "text", "text/plain")
        message.merge_data = {}
        message.send()
        data = sent_data(api)
        assert data["base"]["attachments"] == [
            {
                "filename": "a.txt",
                "type": 'text/plain; charset="utf-8"',
                "content": b64(b"text"),
            }
        ]
        assert data["requests"] == [{"to": [{"email": "to@example.com"}]}]


class TestEspExtra:
    def test_deep_merge(self, api, message):
        message.merge_global_data = {"a": 1, "b": 2}
        message.esp_extra = {
            "future_mailtrap_option": "some-value",
            "template_variables": {"b": 20, "nested": {"x": 1}},
            "subject": "Overridden",
        }
        message.send()
        assert sent_data(api) == {
            "from": {"email": "from@example.com"},
            "to": [{"email": "to@example.com"}],
            "subject": "Overridden",
            "text": "Text Body",
            "template_variables": {"a": 1, "b": 20, "nested": {"x": 1}},
            "future_mailtrap_option": "some-value",
        }

    def test_nested_dicts_merged_recursively(self, api, message):
        message.extra_headers = {"X-A": "a"}
        message.esp_extra = {"headers": {"X-B": "b"}, "from": {"name": "Extra Name"}}
        message.send()
        data = sent_data(api)
        assert data["headers"] == {"X-A": "a", "X-B": "b"}
        assert data["from"] == {"email": "from@example.com", "name": "Extra Name"}

    def test_lists_replaced(self, api, message):
        message.cc = ["cc@example.com"]
        message.esp_extra = {"cc": [{"email": "other@example.com"}]}
        with pytest.raises(AnymailRequestsAPIError):  # (2 ids expected)
            message.send()
        assert sent_data(api)["cc"] == [{"email": "other@example.com"}]

    def test_batch_esp_extra_lands_in_base(self, api, message):
        set_batch_response(api, 1)
        message.merge_global_data = {"a": 1}
        message.merge_data = {"to@example.com": {"b": 2}}
        message.esp_extra = {
            "future_mailtrap_option": "some-value",
            "template_variables": {"c": 3},
        }
        message.send()
        data = sent_data(api)
        assert data["base"]["future_mailtrap_option"] == "some-value"
        assert data["base"]["template_variables"] == {"a": 1, "c": 3}
        assert "future_mailtrap_option" not in data
        assert data["requests"] == [
            {
                "to": [{"email": "to@example.com"}],
                "template_variables": {"a": 1, "c": 3, "b": 2},
            }
        ]

    def test_esp_extra_from_send_defaults(self, api, message):
        message.esp_extra = {"option_b": "message"}
        with anymail_settings(
            MAILTRAP_SEND_DEFAULTS={"esp_extra": {"option_a": "default"}}
        ):
            message.send()
        data = sent_data(api)
        assert data["option_a"] == "default"
        assert data["option_b"] == "message"


class TestUnsupportedFeatures:
    @staticmethod
    def assert_unsupported(api, message, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == f"Mailtrap does not support {feature}"
        assert api.call_count == 0
        assert message.anymail_status.status is None

    def test_multiple_from(self, api, message):
        message.from_email = "one@example.com, two@example.com"
        self.assert_unsupported(api, message, "multiple from emails")

    def test_eai_with_multiple_reply_to(self, api, message):
        message.reply_to = ["ok@example.com", "відповідь@example.com"]
        self.assert_unsupported(api, message, "EAI with multiple reply_to addresses")

    def test_multiple_html_parts(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        self.assert_unsupported(api, message, "multiple html parts")

    def test_multiple_plaintext_parts(self, api, message):
        message.attach_alternative("more text", "text/plain")
        self.assert_unsupported(api, message, "multiple plaintext parts")

    @pytest.mark.parametrize("mimetype", ["application/json", "text/x-amp-html"])
    def test_other_alternative(self, api, message, mimetype):
        message.attach_alternative("{}", mimetype)
        self.assert_unsupported(
            api, message, f"alternative part with type '{mimetype}'"
        )

    def test_spoofed_to_header(self, api, message):
        message.extra_headers = {"To": "Spoofed <spoofed@example.com>"}
        self.assert_unsupported(api, message, "spoofing `To` header")

    def test_envelope_sender(self, api, message):
        message.envelope_sender = "bounce@example.com"
        self.assert_unsupported(api, message, "envelope_sender")

    def test_from_header_makes_envelope_sender(self, api, message):
        message.extra_headers = {"From": "Header From <header@example.com>"}
        self.assert_unsupported(api, message, "envelope_sender")

    def test_send_at(self, api, message):
        message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        self.assert_unsupported(api, message, "send_at")

    def test_multiple_tags(self, api, message):
        message.tags = ["receipt", "repeat-user"]
        self.assert_unsupported(api, message, "multiple tags")

    @pytest.mark.parametrize("value", [True, False])
    def test_track_clicks(self, api, message, value):
        message.track_clicks = value
        self.assert_unsupported(api, message, "track_clicks")

    @pytest.mark.parametrize("value", [True, False])
    def test_track_opens(self, api, message, value):
        message.track_opens = value
        self.assert_unsupported(api, message, "track_opens")


@pytest.fixture
def ignore_unsupported():
    with anymail_settings(IGNORE_UNSUPPORTED_FEATURES=True):
        yield


@pytest.mark.usefixtures("ignore_unsupported")
class TestIgnoreUnsupportedFeatures:
    def test_multiple_from_uses_first(self, api, message):
        message.from_email = "one@example.com, two@example.com"
        message.send()
        assert sent_data(api)["from"] == {"email": "one@example.com"}

    def test_eai_with_multiple_reply_to_sent_as_is(self, api, message):
        message.reply_to = ["ok@example.com", "Відповідь <відповідь@exämple.com>"]
        message.send()
        assert sent_data(api)["headers"] == {
            "Reply-To": "ok@example.com, "
            "=?utf-8?b?0JLRltC00L/QvtCy0ZbQtNGM?= <відповідь@xn--exmple-cua.com>"
        }

    def test_multiple_tags_uses_first(self, api, message):
        message.tags = ["receipt", "repeat-user"]
        message.send()
        assert sent_data(api)["category"] == "receipt"

    def test_dropped_features(self, api, message):
        message.envelope_sender = "bounce@example.com"
        message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        message.track_clicks = True
        message.track_opens = False
        message.extra_headers = {"To": "spoofed@example.com", "X-Other": "kept"}
        message.send()
        assert sent_data(api) == {
            "from": {"email": "from@example.com"},
            "to": [{"email": "to@example.com"}],
            "subject": "Subject",
            "text": "Text Body",
            "headers": {"X-Other": "kept"},
        }

    def test_extra_alternatives_dropped(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        message.attach_alternative("more text", "text/plain")
        message.attach_alternative("<html amp4email></html>", "text/x-amp-html")
        message.send()
        data = sent_data(api)
        assert data["html"] == "<p>one</p>"
        assert data["text"] == "Text Body"


class TestResponses:
    def test_success_status(self, api, message):
        api.set_response(200, success("1df37d17-0286-4d8b-8edf-bc4ec5be86e6"))
        message.send()
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == "1df37d17-0286-4d8b-8edf-bc4ec5be86e6"
        assert status.recipients["to@example.com"].status == "queued"
        assert isinstance(status.esp_response, requests.Response)
        assert status.esp_response.json() == success(
            "1df37d17-0286-4d8b-8edf-bc4ec5be86e6"
        )

    def test_ids_assigned_in_to_cc_bcc_order(self, api):
        api.set_response(
            200, success("id-to1", "id-to2", "id-cc1", "id-cc2", "id-bcc1", "id-bcc2")
        )
        msg = mail.EmailMessage(
            "Subject", "Body", "from@example.com",
            ["To 1 <to1@example.com>", "to2@example.com"],
            cc=["cc1@example.com", "cc2@example.com"],
            bcc=["bcc1@example.com", "bcc2@example.com"],
        )  # fmt: skip
        msg.send()
        status = msg.anymail_status
        assert {k: (v.status, v.message_id) for k, v in status.recipients.items()} == {
            "to1@example.com": ("queued", "id-to1"),
            "to2@example.com": ("queued", "id-to2"),
            "cc1@example.com": ("queued", "id-cc1"),
            "cc2@example.com": ("queued", "id-cc2"),
            "bcc1@example.com": ("queued", "id-bcc1"),
            "bcc2@example.com": ("queued", "id-bcc2"),
        }
        assert status.message_id == {
            "id-to1", "id-to2", "id-cc1", "id-cc2", "id-bcc1", "id-bcc2",
        }  # fmt: skip

    def test_recipient_keys_keep_case(self, api, message):
        message.to = ["HardBounce@Example.com"]
        message.send()
        assert list(message.anymail_status.recipients) == ["HardBounce@Example.com"]

    def test_sandbox_single_id_shared(self, api, message):
        api.set_response(200, success("sandbox-single-id"))
        message.to = ["a@example.com", "b@example.com"]
        message.cc = ["cc@example.com"]
        with anymail_settings(MAILTRAP_SANDBOX_ID="12345"):
            message.send()
        status = message.anymail_status
        assert status.message_id == "sandbox-single-id"
        assert set(status.recipients) == {
            "a@example.com",
            "b@example.com",
            "cc@example.com",
        }
        assert {r.message_id for r in status.recipients.values()} == {
            "sandbox-single-id"
        }

    def test_sandbox_expects_one_id(self, api, message):
        api.set_response(200, success("id-1", "id-2"))
        message.to = ["a@example.com", "b@example.com"]
        with (
            anymail_settings(MAILTRAP_SANDBOX_ID="12345"),
            pytest.raises(AnymailRequestsAPIError) as excinfo,
        ):
            message.send()
        assert str(excinfo.value).startswith("Expected 1 message_ids, got 2\n")

    def test_too_many_ids(self, api, message):
        api.set_response(200, success("id-1", "id-2"))
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith(
            "Expected 1 message_ids, got 2\nMailtrap API response 200 (OK):"
        )
        assert isinstance(message.anymail_status.esp_response, requests.Response)
        assert message.anymail_status.status is None

    def test_too_few_ids(self, api, message):
        message.cc = ["cc@example.com"]
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Expected 2 message_ids, got 1\n")

    @pytest.mark.parametrize(
        "body",
        [
            {"success": True},
            {"success": True, "message_ids": "id-1"},
            {"success": True, "message_ids": [["unhashable"]]},
            [],
            '"a string"',
        ],
    )
    def test_unexpected_format(self, api, message, body):
        api.set_response(200, body)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        text = str(excinfo.value)
        assert text.startswith("Unexpected API response format\n")
        assert "\nMailtrap API response 200 (OK):" in text
        assert message.anymail_status.recipients == {}

    @pytest.mark.parametrize(
        "body",
        [
            {"success": False, "errors": ["'from' is required"]},
            {"success": True, "errors": ["something went wrong"], "message_ids": []},
            {"errors": []},
            {"success": False},
        ],
    )
    def test_failure_fields_in_2xx(self, api, message, body):
        api.set_response(200, body)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        text = str(excinfo.value)
        assert text.startswith(
            "Unexpected API failure fields with response status 200\n"
            "Mailtrap API response 200 (OK):"
        )
        assert json.dumps(body, indent=2) in text

    def test_400_error(self, api, message):
        body = {"success": False, "errors": ["subject is required", "bad 'to'"]}
        api.set_response(400, body)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        err = excinfo.value
        assert err.status_code == 400
        assert str(err) == (
            "Mailtrap API response 400 (BAD REQUEST):\n" + json.dumps(body, indent=2)
        )
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_401_error(self, api, message):
        api.set_response(401, {"success": False, "error": "Invalid API token"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith(
            "Mailtrap API response 401 (UNAUTHORIZED):"
        )
        assert '"error": "Invalid API token"' in str(excinfo.value)

    def test_non_json_error(self, api, message):
        api.set_response(
            502, "<html>Bad gateway</html>", headers={"Content-Type": "text/html"}
        )
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Mailtrap API response 502 (BAD GATEWAY): '<html>Bad gateway</html>'"
        )

    def test_invalid_json(self, api, message):
        api.set_response(200, "this isn't json", headers={"Content-Type": "text/plain"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid JSON in Mailtrap API response")
        assert isinstance(message.anymail_status.esp_response, requests.Response)
        assert message.anymail_status.status is None


class TestBatchResponses:
    def test_mixed_results(self, api):
        api.set_response(
            200,
            batch_success(
                success("id-alice"),
                {"success": False, "errors": ["address is invalid in 'to' 0"]},
            ),
        )
        msg = batch_message(["alice@example.com", "bad@example"], merge_data={})
        assert msg.send() == 1  # "failed" doesn't raise AnymailRecipientsRefused
        status = msg.anymail_status
        assert status.status == {"queued", "failed"}
        assert status.recipients["alice@example.com"].message_id == "id-alice"
        assert status.recipients["bad@example"].status == "failed"
        assert status.recipients["bad@example"].message_id is None
        assert status.message_id == {"id-alice", None}

    def test_all_failed_does_not_raise_refused(self, api):
        api.set_response(200, batch_success({"success": False, "errors": ["x"]}))
        msg = batch_message(["a@example.com"], merge_metadata={}, cc=["cc@example.com"])
        assert msg.send() == 1
        status = msg.anymail_status
        assert status.status == {"failed"}
        assert set(status.recipients) == {"a@example.com", "cc@example.com"}

    def test_cc_bcc_status_from_last_response(self, api):
        api.set_response(
            200,
            batch_success(
                success("id-a", "id-a-cc", "id-a-bcc"),
                success("id-b", "id-b-cc", "id-b-bcc"),
            ),
        )
        msg = batch_message(
            ["a@example.com", "b@example.com"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            merge_data={},
        )
        msg.send()
        recipients = msg.anymail_status.recipients
        assert {k: v.message_id for k, v in recipients.items()} == {
            "a@example.com": "id-a",
            "b@example.com": "id-b",
            "cc@example.com": "id-b-cc",
            "bcc@example.com": "id-b-bcc",
        }

    def test_sandbox_batch_one_id_per_response(self, api):
        api.set_response(200, batch_success(success("sb-a"), success("sb-b")))
        msg = batch_message(
            ["a@example.com", "b@example.com"], cc=["cc@example.com"], merge_data={}
        )
        with anymail_settings(MAILTRAP_SANDBOX_ID=9):
            msg.send()
        recipients = msg.anymail_status.recipients
        assert {k: v.message_id for k, v in recipients.items()} == {
            "a@example.com": "sb-a",
            "b@example.com": "sb-b",
            "cc@example.com": "sb-b",
        }

    def test_item_without_success_field_uses_ids(self, api):
        api.set_response(200, batch_success({"message_ids": ["id-a"]}))
        msg = batch_message(["a@example.com"], merge_data={})
        msg.send()
        assert msg.anymail_status.recipients["a@example.com"].status == "queued"
        assert msg.anymail_status.message_id == "id-a"

    def test_item_id_count_mismatch(self, api):
        api.set_response(200, batch_success(success("id-1", "id-2")))
        msg = batch_message(["a@example.com"], merge_data={})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            msg.send()
        assert str(excinfo.value).startswith("Expected 1 message_ids, got 2\n")

    def test_missing_responses(self, api):
        body = {"success": True, "message_ids": ["id-1"]}
        api.set_response(200, body)
        msg = batch_message(["a@example.com"], merge_data={})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            msg.send()
        # (no text of its own: just the response)
        assert str(excinfo.value) == (
            "Mailtrap API response 200 (OK):\n" + json.dumps(body, indent=2)
        )

    def test_wrong_number_of_responses(self, api):
        api.set_response(200, batch_success(success("id-1")))
        msg = batch_message(["a@example.com", "b@example.com"], merge_data={})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            msg.send()
        assert str(excinfo.value).startswith(
            "Expected 2 batch send responses but got 1\n"
        )
        assert msg.anymail_status.recipients == {}

    @pytest.mark.parametrize(
        "body",
        [
            {"success": True, "responses": {"a": 1}},
            {"success": True, "responses": ["junk"]},
            {"success": True, "responses": [{"success": True}]},
        ],
    )
    def test_unexpected_format(self, api, body):
        api.set_response(200, body)
        msg = batch_message(["a@example.com"], merge_data={})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            msg.send()
        assert str(excinfo.value).startswith("Unexpected API response format\n")

    def test_top_level_failure(self, api):
        api.set_response(200, {"success": False, "errors": ["batch rejected"]})
        msg = batch_message(["a@example.com"], merge_data={})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            msg.send()
        assert str(excinfo.value).startswith(
            "Unexpected API failure fields with response status 200\n"
        )
