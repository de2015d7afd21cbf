"""Tests for the Scaleway Transactional Email (TEM) sending backend."""

import json
from datetime import datetime, timezone
from decimal import Decimal
from email.mime.text import MIMEText
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import get_connection, send_mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings
from django.utils.translation import gettext_lazy

from anymail.backends.base import BASE64_INLINE_LIMIT
from anymail.backends.scaleway import EmailBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import attach_inline_image

from .conftest import b64
from .messages import message_factory

BACKEND = "anymail.backends.scaleway.EmailBackend"
SECRET_KEY = "test-scaleway-secret-key"
PROJECT_ID = "test-project-id"
CREDENTIALS = {"SCALEWAY_SECRET_KEY": SECRET_KEY, "SCALEWAY_PROJECT_ID": PROJECT_ID}
API_URL = "https://api.scaleway.com/transactional-email/v1alpha1/regions/fr-par/"
EMAILS_URL = API_URL + "emails"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def email_item(recipient, n=1, status="sending", rcpt_type="to"):
    """One item of a Scaleway send response's "emails" list."""
    return {
        "id": f"11111111-aaaa-4bbb-8ccc-00000000000{n}",
        "message_id": "22222222-bbbb-4ccc-8ddd-000000000000",
        "project_id": PROJECT_ID,
        "mail_from": "from@example.com",
        "mail_rcpt": recipient,
        "rcpt_type": rcpt_type,
        "subject": "Subject",
        "status": status,
        "status_details": "ready to send",
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
    }


def item_id(n):
    return f"11111111-aaaa-4bbb-8ccc-00000000000{n}"


def emails_response(*recipients, status="sending"):
    return {
        "emails": [
            email_item(recipient, n, status=status)
            for n, recipient in enumerate(recipients, start=1)
        ]
    }


def settings_with(**extra):
    return override_settings(ANYMAIL={**CREDENTIALS, **extra})


@pytest.fixture(autouse=True)
def scaleway_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL=CREDENTIALS):
        yield


@pytest.fixture
def api(requests_mock):
    """requests_mock answering every call with a success for to@example.com."""
    requests_mock.set_response(200, emails_response("to@example.com"))
    return requests_mock


make_message = message_factory(body="Text Body")


def send(message=None, **kwargs):
    """Send message (or a make_message(**kwargs)); returns the message."""
    if message is None:
        message = make_message(**kwargs)
    message.send()
    return message


def sent_data(api, message=None, **kwargs):
    """Send, and return the JSON body Scaleway received."""
    send(message, **kwargs)
    return api.last_json()


def sent_headers(api, message=None, **kwargs):
    """Send, and return the additional_headers Scaleway received."""
    return sent_data(api, message, **kwargs)["additional_headers"]


# ---------------------------------------------------------------------------


class TestApiCall:
    def test_minimal_request(self, api):
        sent = send_mail("Subject", "Text Body", "from@example.com", ["to@example.com"])
        assert sent == 1
        assert api.last_json() == {
            "project_id": PROJECT_ID,
            "from": {"email": "from@example.com"},
            "to": [{"email": "to@example.com"}],
            "subject": "Subject",
            "text": "Text Body",
        }

    def test_body_starts_with_project_id(self, api):
        send(cc=["cc@example.com"], esp_extra={"send_before": "2025-08-13T02:22:00Z"})
        assert api.last_call["data"].startswith(f'{{"project_id": "{PROJECT_ID}", ')


class TestSettings:
    def test_settings_via_kwargs(self, api):
        connection = get_connection(
            secret_key="kwarg-key", project_id="kwarg-project", region="nl-ams"
        )
        data = sent_data(api, make_message(connection=connection))
        assert api.last_call["headers"]["X-Auth-Token"] == "kwarg-key"
        assert data["project_id"] == "kwarg-project"
        assert api.last_call["url"] == (
            "https://api.scaleway.com/transactional-email/v1alpha1"
            "/regions/nl-ams/emails"
        )

    def test_kwargs_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                secret_key="k",
                project_id="p",
                region="pl-waw",
                api_url="https://x.example/{region}/",
                send_defaults={},
                idna_encoder="idna2003",
                requests_timeout=5,
                alias="default",
            )
        assert django_init.call_args.kwargs == {"alias": "default"}

    @pytest.mark.parametrize(
        "region, expected_url",
        [
            (
                "pl-waw",
                "https://api.scaleway.com/transactional-email/v1alpha1/regions/pl-waw/",
            ),
            (
                "nl-ams # from /.env",
                "https://api.scaleway.com/transactional-email/v1alpha1"
                "/regions/nl-ams%20%23%20from%20%2F.env/",
            ),
        ],
    )
    def test_region_setting(self, api, region, expected_url):
        with settings_with(SCALEWAY_REGION=region):
            backend = get_connection()
            send()
        assert backend.api_url == expected_url
        assert api.last_call["url"] == expected_url + "emails"

    def test_default_region(self):
        assert get_connection().api_url == API_URL

    @pytest.mark.parametrize(
        "api_url, expected",
        [
            (
                "https://scaleway.example.com/{region}/email",
                "https://scaleway.example.com/fr-par/email/",
            ),
            (
                "https://scaleway.example.com/email",
                "https://scaleway.example.com/email/",
            ),
            (
                "https://scaleway.example.com/v1/{region}/",
                "https://scaleway.example.com/v1/fr-par/",
            ),
        ],
    )
    def test_api_url_setting(self, api, api_url, expected):
        with settings_with(SCALEWAY_API_URL=api_url):
            backend = get_connection()
            send()
        assert backend.api_url == expected
        assert api.last_call["url"] == expected + "emails"

    def test_api_url_with_region_kwargs(self):
        backend = get_connection(
            api_url="https://scaleway.example.com/r/{region}", region="pl-waw"
        )
        assert backend.api_url == "https://scaleway.example.com/r/pl-waw/"

    def test_settings_read_at_construction(self, api):
        connection = get_connection()
        with override_settings(
            ANYMAIL={"SCALEWAY_SECRET_KEY": "changed", "SCALEWAY_PROJECT_ID": "x"}
        ):
            data = sent_data(api, make_message(connection=connection))
        assert api.last_call["headers"]["X-Auth-Token"] == SECRET_KEY
        assert data["project_id"] == PROJECT_ID

    def test_esp_send_defaults(self, api):
        with settings_with(
            SEND_DEFAULTS={"tags": ["global"], "metadata": {"global": 1}},
            SCALEWAY_SEND_DEFAULTS={"tags": ["esp"]},
        ):
            headers = sent_headers(api)
        assert headers == [
            {"key": "X-Metadata", "value": '{"global": 1}'},
            {"key": "X-Tags", "value": '["esp"]'},
        ]

    def test_esp_idna_encoder(self, api):
        with settings_with(SCALEWAY_IDNA_ENCODER="idna2003"):
            data = sent_data(api, to=["to@faß.example"])
        assert data["to"] == [{"email": "to@fass.example"}]

    def test_global_idna_encoder(self, api):
        data = sent_data(api, to=["to@faß.example"])
        assert data["to"] == [{"email": "to@xn--fa-hia.example"}]


class TestAddresses:
    def test_from_email_with_name(self, api):
        data = sent_data(api, from_email='"Shop, Inc." <shop@example.com>')
        assert data["from"] == {"email": "shop@example.com", "name": "Shop, Inc."}

    def test_unicode_name_and_idn_domain(self, api):
        data = sent_data(api, from_email="Jöhn Dœ <from@münchen.example>")
        assert data["from"] == {
            "email": "from@xn--mnchen-3ya.example",
            "name": "Jöhn Dœ",  # raw Unicode: no RFC 2047, no quotes
        }

    def test_default_from_email(self, api):
        message = mail.EmailMessage("Subject", "Body", to=["to@example.com"])
        data = sent_data(api, message)
        assert data["from"] == {"email": "from@example.com"}

    def test_recipients(self, api):
        data = sent_data(
            api,
            to=["to1@example.com", "Recipient Two <to2@例え.jp>"],
            cc=["cc1@example.com", '"Copy, Carbon" <cc2@example.com>'],
            bcc=["Blind <bcc@example.com>"],
        )
        assert data["to"] == [
            {"email": "to1@example.com"},
            {"email": "to2@xn--r8jz45g.jp", "name": "Recipient Two"},
        ]
        assert data["cc"] == [
            {"email": "cc1@example.com"},
            {"email": "cc2@example.com", "name": "Copy, Carbon"},
        ]
        assert data["bcc"] == [{"email": "bcc@example.com", "name": "Blind"}]

    def test_empty_recipient_lists_omitted(self, api):
        data = sent_data(api, to=[], bcc=["bcc@example.com"])
        assert "to" not in data
        assert "cc" not in data
        assert data["bcc"] == [{"email": "bcc@example.com"}]

    @pytest.mark.parametrize(
        "kwargs, feature",
        [
            ({"from_email": "відправник@example.com"}, "EAI in from_email"),
            ({"to": ["одержувач@example.com"]}, "EAI in to"),
            ({"cc": ["ok@example.com", "копія@example.com"]}, "EAI in cc"),
            ({"bcc": ["прихована@example.com"]}, "EAI in bcc"),
            ({"reply_to": ["відповідь@example.com"]}, "EAI in reply_to"),
            ({"headers": {"Reply-To": "відповідь@example.com"}}, "EAI in reply_to"),
        ],
    )
    def test_eai_unsupported(self, api, kwargs, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(**kwargs)
        assert str(excinfo.value) == f"Scaleway does not support {feature}"
        assert api.call_count == 0

    def test_eai_ignored(self, api):
        with settings_with(IGNORE_UNSUPPORTED_FEATURES=True):
            data = sent_data(
                api,
                from_email="відправник@example.com",
                to=["одержувач@example.com"],
                reply_to=["відповідь@example.com"],
            )
        assert data["from"] == {"email": "відправник@example.com"}
        assert data["to"] == [{"email": "одержувач@example.com"}]
        assert data["additional_headers"] == [
            {"key": "Reply-To", "value": "відповідь@example.com"}
        ]

    def test_idn_domain_is_not_eai(self, api):
        data = sent_data(api, to=["to@münchen.example"])
        assert data["to"] == [{"email": "to@xn--mnchen-3ya.example"}]

    def test_multiple_from_emails(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(from_email="one@example.com, two@example.com")
        assert str(excinfo.value) == "Scaleway does not support multiple from emails"
        assert api.call_count == 0


class TestReplyTo:
    def test_reply_to(self, api):
        headers = sent_headers(api, reply_to=["help@example.com"])
        assert headers == [{"key": "Reply-To", "value": "help@example.com"}]

    def test_reply_to_header_formatting(self, api):
        headers = sent_headers(
            api,
            reply_to=[
                "Jöhn Dœ <reply@münchen.example>",
                '"Support, Team" <support@example.com>',
                "Plain Name <plain@example.com>",
            ],
        )
        assert headers == [
            {
                "key": "Reply-To",
                "value": "=?utf-8?b?SsO2aG4gRMWT?= <reply@xn--mnchen-3ya.example>, "
                '"Support, Team" <support@example.com>, '
                "Plain Name <plain@example.com>",
            }
        ]

    def test_reply_to_header(self, api):
        headers = sent_headers(api, headers={"reply-to": "Help <help@example.com>"})
        assert headers == [{"key": "Reply-To", "value": "Help <help@example.com>"}]

    def test_reply_to_header_replaces_reply_to(self, api):
        # (a departure from upstream, which sent two Reply-To headers)
        headers = sent_headers(
            api,
            reply_to=["attr@example.com"],
            headers={"Reply-To": "header@example.com"},
        )
        assert headers == [{"key": "Reply-To", "value": "header@example.com"}]

    def test_empty_reply_to_omitted(self, api):
        data = sent_data(api, reply_to=[])
        assert "additional_headers" not in data


class TestContent:
    def test_subject_text_and_html(self, api):
        message = make_message(subject="Your receipt", body="Thanks for your order.")
        message.attach_alternative("<p>Thanks for your order.</p>", "text/html")
        data = sent_data(api, message)
        assert data["subject"] == "Your receipt"
        assert data["text"] == "Thanks for your order."
        assert data["html"] == "<p>Thanks for your order.</p>"

    def test_empty_fields_omitted(self, api):
        data = sent_data(api, subject="", body="")
        assert data == {
            "project_id": PROJECT_ID,
            "from": {"email": "from@example.com"},
            "to": [{"email": "to@example.com"}],
        }

    def test_html_only_body(self, api):
        message = make_message(body="<p>HTML only</p>")
        message.content_subtype = "html"
        data = sent_data(api, message)
        assert data["html"] == "<p>HTML only</p>"
        assert "text" not in data

    def test_empty_body_with_alternatives(self, api):
        message = make_message(body="")
        message.attach_alternative("Plain alternative", "text/plain")
        message.attach_alternative("<p>HTML alternative</p>", "text/html")
        data = sent_data(api, message)
        assert data["text"] == "Plain alternative"
        assert data["html"] == "<p>HTML alternative</p>"

    def test_html_body_with_plain_alternative(self, api):
        message = make_message(body="<p>HTML</p>")
        message.content_subtype = "html"
        message.attach_alternative("Plain", "text/plain")
        data = sent_data(api, message)
        assert (data["html"], data["text"]) == ("<p>HTML</p>", "Plain")

    def test_lazy_strings(self, api):
        data = sent_data(
            api,
            subject=gettext_lazy("Lazy subject"),
            body=gettext_lazy("Lazy body"),
            headers={"X-Lazy": gettext_lazy("lazy value")},
            tags=[gettext_lazy("lazy tag")],
            metadata={"lazy": gettext_lazy("lazy metadata")},
        )
        assert data["subject"] == "Lazy subject"
        assert data["text"] == "Lazy body"
        assert data["additional_headers"] == [
            {"key": "X-Lazy", "value": "lazy value"},
            {"key": "X-Metadata", "value": '{"lazy": "lazy metadata"}'},
            {"key": "X-Tags", "value": '["lazy tag"]'},
        ]


class TestHeaders:
    def test_extra_headers_as_strings(self, api):
        headers = sent_headers(
            api,
            headers={"X-Custom": "value", "X-Number": 123, "X-Float": 1.5},
        )
        assert headers == [
            {"key": "X-Custom", "value": "value"},
            {"key": "X-Number", "value": "123"},
            {"key": "X-Float", "value": "1.5"},
        ]

    def test_header_spelling_kept(self, api):
        headers = sent_headers(api, headers={"x-lower-CASE": "v"})
        assert headers == [{"key": "x-lower-CASE", "value": "v"}]

    def test_additional_headers_order(self, api):
        headers = sent_headers(
            api,
            reply_to=["reply@example.com"],
            headers={"X-Extra": "extra"},
            metadata={"user_id": "12345", "items": 6},
            tags=["receipt", "reorder test 12"],
        )
        assert headers == [
            {"key": "Reply-To", "value": "reply@example.com"},
            {"key": "X-Extra", "value": "extra"},
            {"key": "X-Metadata", "value": '{"user_id": "12345", "items": 6}'},
            {"key": "X-Tags", "value": '["receipt", "reorder test 12"]'},
        ]

    def test_from_header_implies_envelope_sender(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(headers={"From": "Header From <header@example.com>"})
        assert str(excinfo.value) == "Scaleway does not support envelope_sender"
        assert api.call_count == 0

    def test_from_header_ignored_unsupported(self, api):
        with settings_with(IGNORE_UNSUPPORTED_FEATURES=True):
            data = sent_data(api, headers={"From": "Header <header@example.com>"})
        assert data["from"] == {"email": "header@example.com", "name": "Header"}
        assert "additional_headers" not in data

    def test_to_header_unsupported(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(headers={"To": "spoofed@example.com"})
        assert str(excinfo.value) == "Scaleway does not support spoofing `To` header"
        assert api.call_count == 0


class TestAttachments:
    def test_attachments(self, api):
        message = make_message()
        message.attach("r.pdf", b"%PDF-1", "application/pdf")
        message.attach("note.txt", "¡text!", "text/plain")
        message.attach(None, b"\x00\x01binary", "application/octet-stream")
        data = sent_data(api, message)
        assert data["attachments"] == [
            {"name": "r.pdf", "type": "application/pdf", "content": b64(b"%PDF-1")},
            {
                "name": "note.txt",
                "type": 'text/plain; charset="utf-8"',
                "content": "wqF0ZXh0IQ==",
            },
            {
                "name": None,  # sent as JSON null
                "type": "application/octet-stream",
                "content": b64(b"\x00\x01binary"),
            },
        ]

    def test_text_attachment_in_own_charset(self, api):
        message = make_message()
        part = MIMEText("¡text!\n", "plain", "iso-8859-1")
        part.add_header("Content-Disposition", "attachment", filename="latin.txt")
        message.attach(part)
        data = sent_data(api, message)
        assert data["attachments"] == [
            {
                "name": "latin.txt",
                "type": 'text/plain; charset="iso-8859-1"',
                "content": "oXRleHQhCg==",
            }
        ]

    def test_guessed_mimetype(self, api):
        message = make_message()
        message.attach("image.png", PNG)
        data = sent_data(api, message)
        assert data["attachments"][0]["type"] == "image/png"

    def test_large_body_is_serialized_without_base64_copies(self, api):
        content = b"%PDF-1" * (BASE64_INLINE_LIMIT // 6 + 1)
        message = make_message()
        message.attach("r.pdf", content, "application/pdf")
        send(message)
        data = api.last_call["data"]
        assert isinstance(data, bytearray)
        assert b'"content": "JVBERi0x' in data

    def test_no_attachments_key_by_default(self, api):
        assert "attachments" not in sent_data(api)

    def test_inline_attachment_unsupported(self, api):
        message = make_message()
        attach_inline_image(message, PNG, filename="logo.png")
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == "Scaleway does not support inline attachments"
        assert api.call_count == 0

    def test_inline_attachment_ignored_sent_as_attachment(self, api):
        message = make_message()
        attach_inline_image(message, PNG, filename="logo.png")
        with settings_with(IGNORE_UNSUPPORTED_FEATURES=True):
            data = sent_data(api, message)
        assert data["attachments"] == [
            {"name": "logo.png", "type": "image/png", "content": b64(PNG)}
        ]


class TestTagsAndMetadata:
    def test_tags(self, api):
        headers = sent_headers(api, tags=["receipt", "reorder test 12"])
        assert headers == [{"key": "X-Tags", "value": '["receipt", "reorder test 12"]'}]

    def test_metadata_keeps_json_types(self, api):
        headers = sent_headers(api, metadata={"user_id": "12345", "items": 6})
        assert headers == [
            {"key": "X-Metadata", "value": '{"user_id": "12345", "items": 6}'}
        ]

    def test_empty_tags_and_metadata_omitted(self, api):
        data = sent_data(api, tags=[], metadata={})
        assert "additional_headers" not in data

    def test_serialization_error_in_tags(self, api):
        # (metadata: see test_esp_contract.py)
        message = make_message(tags=[Decimal("1")])
        with pytest.raises(AnymailSerializationError) as excinfo:
            send(message)
        assert str(excinfo.value) == (
            "Don't know how to send this data to Scaleway."
            " Try converting it to a string or number first.\n"
            "Object of type 'Decimal' is not JSON serializable"
        )
        assert api.call_count == 0
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_serialization_error_in_esp_extra(self, api):
        with pytest.raises(AnymailSerializationError) as excinfo:
            send(esp_extra={"when": datetime(2025, 1, 1, tzinfo=timezone.utc)})
        assert "Object of type 'datetime' is not JSON serializable" in str(
            excinfo.value
        )
        assert api.call_count == 0


class TestBatchAndTemplates:
    @pytest.mark.parametrize(
        "kwargs, feature",
        [
            ({"template_id": "welcome"}, "template_id"),
            ({"merge_data": {"to@example.com": {"name": "A"}}}, "merge_data"),
            ({"merge_data": {}}, "merge_data"),
            ({"merge_global_data": {"name": "A"}}, "merge_global_data"),
            ({"merge_headers": {"to@example.com": {"X-H": "v"}}}, "merge_headers"),
            ({"merge_metadata": {"to@example.com": {"k": "v"}}}, "merge_metadata"),
        ],
    )
    def test_unsupported(self, api, kwargs, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(**kwargs)
        assert str(excinfo.value) == f"Scaleway does not support {feature}"
        assert api.call_count == 0

    def test_merge_headers_none_is_unsupported(self, api):
        message = make_message()
        message.merge_headers = None
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == "Scaleway does not support merge_headers"

    def test_ignored_sends_one_message_to_all(self, api):
        with settings_with(IGNORE_UNSUPPORTED_FEATURES=True):
            data = sent_data(
                api,
                to=["a@example.com", "b@example.com"],
                template_id="welcome",
                merge_data={"a@example.com": {"name": "A"}},
                merge_global_data={"g": 1},
                merge_headers={"a@example.com": {"X-H": "v"}},
                merge_metadata={"a@example.com": {"k": "v"}},
            )
        assert api.call_count == 1
        assert data == {
            "project_id": PROJECT_ID,
            "from": {"email": "from@example.com"},
            "to": [{"email": "a@example.com"}, {"email": "b@example.com"}],
            "subject": "Subject",
            "text": "Text Body",
        }


class TestEspExtra:
    def test_adds_fields(self, api):
        data = sent_data(api, esp_extra={"send_before": "2025-08-13T02:22:00Z"})
        assert data["send_before"] == "2025-08-13T02:22:00Z"
        assert data["subject"] == "Subject"

    def test_shallow_update_replaces_additional_headers(self, api):
        data = sent_data(
            api,
            reply_to=["reply@example.com"],
            tags=["tag"],
            metadata={"k": "v"},
            headers={"X-Extra": "1"},
            esp_extra={"additional_headers": [{"key": "X-Only", "value": "this"}]},
        )
        assert data["additional_headers"] == [{"key": "X-Only", "value": "this"}]

    def test_replaces_project_id_and_recipients(self, api):
        data = sent_data(
            api,
            esp_extra={
                "project_id": "other-project",
                "to": [{"email": "x@example.com"}],
            },
        )
        assert data["project_id"] == "other-project"
        assert data["to"] == [{"email": "x@example.com"}]

    def test_nested_values_replaced_not_merged(self, api):
        data = sent_data(api, esp_extra={"from": {"name": "Only Name"}})
        assert data["from"] == {"name": "Only Name"}

    def test_merged_with_send_defaults(self, api):
        with settings_with(
            SCALEWAY_SEND_DEFAULTS={
                "esp_extra": {"send_before": "2030-01-01T00:00:00Z", "a": 1}
            }
        ):
            data = sent_data(api, esp_extra={"a": 2})
        assert data["send_before"] == "2030-01-01T00:00:00Z"
        assert data["a"] == 2


class TestUnsupportedFeatures:
    @pytest.mark.parametrize(
        "kwargs, feature",
        [
            ({"envelope_sender": "bounce@example.com"}, "envelope_sender"),
            ({"send_at": datetime(2030, 1, 1, tzinfo=timezone.utc)}, "send_at"),
            ({"track_clicks": True}, "track_clicks"),
            ({"track_clicks": False}, "track_clicks"),
            ({"track_opens": True}, "track_opens"),
            ({"track_opens": False}, "track_opens"),
        ],
    )
    def test_unsupported(self, api, kwargs, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(**kwargs)
        assert str(excinfo.value) == f"Scaleway does not support {feature}"
        assert api.call_count == 0

    @pytest.mark.parametrize(
        "alternatives, feature",
        [
            (
                [("<p>1</p>", "text/html"), ("<p>2</p>", "text/html")],
                "multiple html parts",
            ),
            ([("more text", "text/plain")], "multiple plaintext parts"),
            (
                [("<amp>AMP</amp>", "text/x-amp-html")],
                "alternative part with type 'text/x-amp-html'",
            ),
            (
                [("BEGIN:VCALENDAR", "text/calendar")],
                "alternative part with type 'text/calendar'",
            ),
        ],
        ids=["html", "plain", "amp", "calendar"],
    )
    def test_alternatives(self, api, alternatives, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(alternatives=alternatives)
        assert str(excinfo.value) == f"Scaleway does not support {feature}"
        assert api.call_count == 0

    def test_ignore_unsupported_features(self, api):
        message = make_message(
            from_email="one@example.com, two@example.com",
            headers={"To": "spoofed@example.com"},
            envelope_sender="bounce@example.com",
            send_at=datetime(2030, 1, 1, tzinfo=timezone.utc),
            track_clicks=True,
            track_opens=False,
            alternatives=[
                ("<p>1</p>", "text/html"),
                ("<p>2</p>", "text/html"),
                ("<amp>AMP</amp>", "text/x-amp-html"),
                ("more text", "text/plain"),
            ],
        )
        with settings_with(IGNORE_UNSUPPORTED_FEATURES=True):
            data = sent_data(api, message)
        assert data == {
            "project_id": PROJECT_ID,
            "from": {"email": "one@example.com"},
            "to": [{"email": "to@example.com"}],
            "subject": "Subject",
            "text": "Text Body",
            "html": "<p>1</p>",
        }

    def test_ignore_unsupported_features_kwarg(self, api):
        connection = get_connection(ignore_unsupported_features=True)
        data = sent_data(api, make_message(connection=connection, track_opens=True))
        assert "track_opens" not in data
        assert api.call_count == 1


class TestResponses:
    def test_success_status(self, api):
        api.set_response(
            200,
            {
                "emails": [
                    email_item("to@example.com", 1),
                    email_item("cc@example.com", 2, rcpt_type="cc"),
                    email_item("bcc@example.com", 3, rcpt_type="bcc"),
                ]
            },
        )
        message = send(
            to=["To <to@example.com>"], cc=["cc@example.com"], bcc=["bcc@example.com"]
        )
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == {item_id(1), item_id(2), item_id(3)}
        assert status.recipients["to@example.com"].message_id == item_id(1)
        assert status.recipients["cc@example.com"].message_id == item_id(2)
        assert status.recipients["bcc@example.com"].message_id == item_id(3)
        assert {r.status for r in status.recipients.values()} == {"queued"}
        assert status.esp_response.status_code == 200

    def test_single_recipient_message_id_is_item_id(self, api):
        message = send()
        assert message.anymail_status.message_id == item_id(1)  # not "message_id"
        assert message.anymail_status.status == {"queued"}

    @pytest.mark.parametrize(
        "scaleway_status, anymail_status",
        [
            ("new", "queued"),
            ("sending", "queued"),
            ("sent", "sent"),
            ("failed", "failed"),
            ("canceled", "failed"),
            ("unknown", "unknown"),
            ("something-new", "unknown"),
            (None, "unknown"),
        ],
    )
    def test_status_mapping(self, api, scaleway_status, anymail_status):
        api.set_response(200, emails_response("to@example.com", status=scaleway_status))
        message = send()
        assert message.anymail_status.status == {anymail_status}
        recipient = message.anymail_status.recipients["to@example.com"]
        assert recipient.status == anymail_status

    def test_missing_status_is_unknown(self, api):
        item = email_item("to@example.com")
        del item["status"]
        api.set_response(200, {"emails": [item]})
        assert send().anymail_status.status == {"unknown"}

    def test_recipients_come_from_response(self, api):
        api.set_response(
            200,
            {
                "emails": [
                    email_item("to@xn--mnchen-3ya.example", 1),
                    email_item("", 2),
                    {**email_item("x", 3), "mail_rcpt": None},
                ]
            },
        )
        message = send(to=["to@münchen.example"])
        assert list(message.anymail_status.recipients) == ["to@xn--mnchen-3ya.example"]
        assert message.anymail_status.message_id == item_id(1)

    def test_empty_emails_refused(self, api):
        api.set_response(200, {"emails": []})
        message = make_message()
        with pytest.raises(AnymailRecipientsRefused) as excinfo:
            send(message)
        assert str(excinfo.value) == "All message recipients were rejected or invalid"
        assert message.anymail_status.status == set()
        assert message.anymail_status.recipients == {}

    def test_empty_emails_with_ignore_recipient_status(self, api):
        api.set_response(200, {"emails": []})
        with settings_with(IGNORE_RECIPIENT_STATUS=True):
            message = send()
        assert message.anymail_status.status == set()
        assert message.anymail_status.message_id == set()

    def test_invalid_json(self, api):
        api.set_response(200, "this isn't json")
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        assert str(excinfo.value).startswith("Invalid JSON in Scaleway API response")
        assert message.anymail_status.esp_response is not None
        assert message.anymail_status.status is None

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"message": "ok"},
            [{"emails": []}],
            "emails",
            None,
            {"emails": None},
            {"emails": 3},
            {"emails": ["to@example.com"]},
            {"emails": {"to@example.com": {}}},
            {"emails": [{"mail_rcpt": "to@example.com", "id": ["unhashable"]}]},
        ],
    )
    def test_invalid_response_shape(self, api, body):
        api.set_response(
            200, json.dumps(body), headers={"Content-Type": "application/json"}
        )
        message = make_message()
        with pytest.raises(AnymailAPIError) as excinfo:
            send(message)
        assert str(excinfo.value).startswith("Invalid response from Scaleway API\n")
        status = message.anymail_status
        assert status.status is None
        assert status.recipients == {}
        assert status.esp_response.status_code == 200

    def test_api_error(self, api):
        error = {
            "details": [{"argument_name": "from.email", "reason": "constraint"}],
            "message": "Invalid email from address",
            "type": "invalid_arguments",
        }
        api.set_response(400, error)
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        err = excinfo.value
        assert err.status_code == 400
        assert str(err) == (
            "Scaleway API response 400 (BAD REQUEST):\n" + json.dumps(error, indent=2)
        )
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_api_error_non_json(self, api):
        api.set_response(502, "Bad gateway")
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send()
        assert str(excinfo.value) == (
            "Scaleway API response 502 (BAD GATEWAY): 'Bad gateway'"
        )

    def test_plain_email_message_gets_status(self, api):
        message = mail.EmailMultiAlternatives(
            "Subject", "Body", "from@example.com", ["to@example.com"]
        )
        message.send()
        assert message.anymail_status.status == {"queued"}
        assert message.anymail_status.message_id == item_id(1)
