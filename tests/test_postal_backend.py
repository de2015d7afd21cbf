"""Tests for the Postal sending backend (send-message API)."""

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
from anymail.backends.postal import EmailBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import attach_inline_image

from .conftest import b64
from .messages import make_message, send, sent_data

BACKEND = "anymail.backends.postal.EmailBackend"
API_KEY = "test-postal-server-key"
API_URL = "https://postal.example.com"
SEND_URL = "https://postal.example.com/api/v1/send/message"
CREDENTIALS = {"POSTAL_API_KEY": API_KEY, "POSTAL_API_URL": API_URL}
API_HEADERS = {
    "X-Server-API-Key": API_KEY,
    "Content-Type": "application/json",
    "Accept": "application/json",
}
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def success(messages=None):
    """A Postal send-message success response body."""
    if messages is None:
        messages = {"to@example.com": {"id": 1531, "token": "xLcafDRCVUFe"}}
    return {
        "status": "success",
        "time": 1.08,
        "flags": {},
        "data": {
            "message_id": "9dfc0f5e-5dde-4b5c-9b3b@postal.example.com",
            "messages": messages,
        },
    }


def postal_error(status="error", code="ValidationError", text="From is missing"):
    return {
        "status": status,
        "time": 0.0,
        "flags": {},
        "data": {"code": code, "message": text},
    }


@pytest.fixture(autouse=True)
def postal_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL=CREDENTIALS):
        yield


@pytest.fixture
def api(requests_mock):
    """requests_mock answering every call with a one-recipient success."""
    requests_mock.set_response(200, success())
    return requests_mock


def unsupported_text(feature):
    return f"Postal does not support {feature}"


# ---------------------------------------------------------------------------


class TestApiCall:
    def test_minimal_request(self, api):
        sent = send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        assert sent == 1
        call = api.last_call
        assert json.loads(call["data"]) == {
            "from": "from@example.com",
            "to": ["to@example.com"],
            "cc": [],
            "bcc": [],
            "subject": "Subject",
            "plain_body": "Body",
        }

    def test_typical_body(self, api):
        message = make_message(
            from_email="Sender <app@example.com>",
            to=["alice@example.com"],
            subject="Hi",
            body="Hello",
            tags=["welcome"],
        )
        message.attach_alternative("<p>Hello</p>", "text/html")
        assert sent_data(api, message) == {
            "from": "Sender <app@example.com>",
            "to": ["alice@example.com"],
            "cc": [],
            "bcc": [],
            "subject": "Hi",
            "plain_body": "Hello",
            "html_body": "<p>Hello</p>",
            "tag": "welcome",
        }


class TestSettings:
    def test_settings_via_kwargs(self, api):
        with override_settings(ANYMAIL={}):
            connection = get_connection(
                api_key="kwarg-key", api_url="https://mail.example.net"
            )
            send(make_message(connection=connection))
        assert api.last_call["headers"] == {
            **API_HEADERS,
            "X-Server-API-Key": "kwarg-key",
        }
        assert api.last_call["url"] == "https://mail.example.net/api/v1/send/message"

    @pytest.mark.parametrize(
        "api_url, expected",
        [
            ("https://postal.example.com/", SEND_URL),
            ("https://postal.example.com", SEND_URL),
            ("http://10.0.0.5:5000", "http://10.0.0.5:5000/api/v1/send/message"),
            (
                "https://example.com/postal",
                "https://example.com/postal/api/v1/send/message",
            ),
        ],
    )
    def test_api_url_joining(self, api, api_url, expected):
        connection = get_connection(api_url=api_url)
        assert connection.api_url.endswith("/")
        send(make_message(connection=connection))
        assert api.last_call["url"] == expected

    def test_options_are_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                api_key="k",
                api_url="https://postal.example.net",
                send_defaults={},
                idna_encoder="idna2003",
                requests_timeout=3,
                alias="postal",
            )
        assert django_init.call_args.kwargs == {"alias": "postal"}

    def test_settings_read_at_construction(self, api):
        connection = get_connection()
        with override_settings(ANYMAIL={**CREDENTIALS, "POSTAL_API_KEY": "changed"}):
            send(make_message(connection=connection))
        assert api.last_call["headers"]["X-Server-API-Key"] == API_KEY

    def test_timeout_kwarg(self, api):
        send(make_message(connection=get_connection(timeout=(2, 9))))
        assert api.last_call["timeout"] == (2, 9)

    def test_esp_send_defaults(self, api):
        with override_settings(
            ANYMAIL={
                **CREDENTIALS,
                "SEND_DEFAULTS": {"tags": ["global"], "bcc": ["audit@example.com"]},
                "POSTAL_SEND_DEFAULTS": {"tags": ["postal"]},
            }
        ):
            data = sent_data(api)
        assert data["tag"] == "postal"
        assert data["bcc"] == ["audit@example.com"]

    def test_esp_idna_encoder(self, api):
        with override_settings(
            ANYMAIL={**CREDENTIALS, "POSTAL_IDNA_ENCODER": "idna2003"}
        ):
            data = sent_data(api, to=["to@faß.example"])
        assert data["to"] == ["to@fass.example"]

    def test_default_idna_encoder_is_idna2008(self, api):
        data = sent_data(api, to=["to@faß.example"])
        assert data["to"] == ["to@xn--fa-hia.example"]


class TestAddresses:
    def test_from_email_formatting(self, api):
        data = sent_data(
            api, from_email='"Odesílatel, z adresy" <from@příklad.example.cz>'
        )
        assert data["from"] == (
            '"Odesílatel, z adresy" <from@xn--pklad-zsa96e.example.cz>'
        )

    def test_default_from_email(self, api):
        message = mail.EmailMessage("Subject", "Body", to=["to@example.com"])
        data = sent_data(api, message)
        assert data["from"] == "from@example.com"

    def test_from_email_none_omits_from(self, api):
        message = make_message()
        message.from_email = None
        data = sent_data(api, message)
        assert "from" not in data

    def test_to_cc_bcc_lists(self, api):
        data = sent_data(
            api,
            to=["to1@example.com", '"Recipient, Second" <to2@例え.jp>'],
            cc=["cc1@example.com", "CC Two <cc2@example.com>"],
            bcc=["Bcc Name <bcc@příklad.example.cz>"],
        )
        assert data["to"] == [
            "to1@example.com",
            '"Recipient, Second" <to2@xn--r8jz45g.jp>',
        ]
        assert data["cc"] == ["cc1@example.com", "CC Two <cc2@example.com>"]
        assert data["bcc"] == ["Bcc Name <bcc@xn--pklad-zsa96e.example.cz>"]

    def test_unicode_display_name_and_eai_local_part_kept(self, api):
        data = sent_data(api, to=["Пользователь <відправник@example.com>"])
        assert data["to"] == ["Пользователь <відправник@example.com>"]

    def test_recipient_lists_always_present(self, api):
        data = sent_data(api, to=[], bcc=["bcc@example.com"])
        assert data["to"] == []
        assert data["cc"] == []
        assert data["bcc"] == ["bcc@example.com"]

    def test_recipient_lists_present_when_unset(self):
        # (Django's send() needs lists: build the payload directly)
        message = make_message(cc=["cc@example.com"])
        message.to = None
        backend = get_connection()
        payload = backend.build_message_payload(message, backend.send_defaults)
        assert payload.data["to"] == []
        assert payload.data["cc"] == ["cc@example.com"]
        assert payload.data["bcc"] == []

    def test_reply_to(self, api):
        data = sent_data(api, reply_to=['"Reply, Name" <reply@příklad.example.cz>'])
        assert data["reply_to"] == '"Reply, Name" <reply@xn--pklad-zsa96e.example.cz>'

    def test_empty_reply_to_omitted(self, api):
        data = sent_data(api, reply_to=[])
        assert "reply_to" not in data

    def test_reply_to_header_overrides_reply_to(self, api):
        data = sent_data(
            api,
            reply_to=["ignored@example.com"],
            headers={"reply-TO": "Header Reply <header@example.com>", "X-A": "b"},
        )
        assert data["reply_to"] == "Header Reply <header@example.com>"
        assert data["headers"] == {"X-A": "b"}

    def test_from_header(self, api):
        data = sent_data(
            api,
            from_email="Envelope <envelope@bounces.example.com>",
            headers={"From": "Header From <from@example.com>"},
        )
        assert data["from"] == "Header From <from@example.com>"
        assert data["sender"] == "Envelope <envelope@bounces.example.com>"
        assert "headers" not in data

    def test_envelope_sender_wins_over_from_header(self, api):
        data = sent_data(
            api,
            from_email="attr@example.com",
            headers={"From": "header@example.com"},
            envelope_sender="explicit@bounces.example.com",
        )
        assert data["from"] == "header@example.com"
        assert data["sender"] == "explicit@bounces.example.com"


class TestContent:
    def test_subject_and_text(self, api):
        data = sent_data(api, subject="Hello ✨", body="Text body")
        assert data["subject"] == "Hello ✨"
        assert data["plain_body"] == "Text body"
        assert "html_body" not in data

    def test_empty_subject_and_body_still_sent(self, api):
        data = sent_data(api, subject="", body="")
        assert data["subject"] == ""
        assert data["plain_body"] == ""

    def test_html_alternative(self, api):
        message = make_message()
        message.attach_alternative("<p>HTML</p>", "text/html")
        data = sent_data(api, message)
        assert data["plain_body"] == "Body"
        assert data["html_body"] == "<p>HTML</p>"

    def test_html_only_body(self, api):
        message = make_message(body="<p>HTML only</p>")
        message.content_subtype = "html"
        data = sent_data(api, message)
        assert data["html_body"] == "<p>HTML only</p>"
        assert "plain_body" not in data

    def test_html_body_with_plain_alternative(self, api):
        message = make_message(
            body="<p>HTML</p>", alternatives=[("Text", "text/plain")]
        )
        message.content_subtype = "html"
        data = sent_data(api, message)
        assert data["html_body"] == "<p>HTML</p>"
        assert data["plain_body"] == "Text"

    def test_lazy_strings(self, api):
        message = make_message(
            subject=gettext_lazy("Lazy subject"),
            body=gettext_lazy("Lazy body"),
            tags=[gettext_lazy("lazy-tag")],
        )
        data = sent_data(api, message)
        assert data["subject"] == "Lazy subject"
        assert data["plain_body"] == "Lazy body"
        assert data["tag"] == "lazy-tag"

    def test_unset_options_omitted(self, api):
        data = sent_data(api)
        assert set(data) == {"from", "to", "cc", "bcc", "subject", "plain_body"}


class TestHeaders:
    def test_extra_headers(self, api):
        data = sent_data(
            api,
            headers={"X-Custom": "value", "x-number": 123, "List-ID": "<list.example>"},
        )
        assert data["headers"] == {
            "X-Custom": "value",
            "x-number": 123,  # passed through unchanged
            "List-ID": "<list.example>",
        }

    def test_no_headers_key_without_extra_headers(self, api):
        data = sent_data(api, headers={})
        assert "headers" not in data

    def test_to_header_unsupported(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(headers={"to": "Spoofed <spoofed@example.com>"})
        assert str(excinfo.value) == unsupported_text("spoofing `To` header")
        assert api.call_count == 0


class TestAttachments:
    def test_attachments(self, api):
        message = make_message()
        message.attach("test.txt", "¡text content!", "text/plain")
        message.attach("data.bin", b"\x00\x01\xfe\xff", "application/octet-stream")
        message.attach(None, b"%PDF-1.4", "application/pdf")
        latin1 = MIMEText("¡Olé!", "plain", "iso-8859-1")
        latin1.add_header("Content-Disposition", "attachment", filename="latin1.txt")
        message.attach(latin1)
        data = sent_data(api, message)
        assert data["attachments"] == [
            {
                "name": "test.txt",
                "data": b64("¡text content!".encode()),
                "content_type": 'text/plain; charset="utf-8"',
            },
            {
                "name": "data.bin",
                "data": b64(b"\x00\x01\xfe\xff"),
                "content_type": "application/octet-stream",
            },
            {
                "name": "",
                "data": b64(b"%PDF-1.4"),
                "content_type": "application/pdf",
            },
            {
                "name": "latin1.txt",
                "data": b64("¡Olé!".encode("iso-8859-1")),  # original charset
                "content_type": 'text/plain; charset="iso-8859-1"',
            },
        ]

    def test_no_attachments_key_without_attachments(self, api):
        data = sent_data(api)
        assert "attachments" not in data

    def test_inline_image_unsupported(self, api):
        message = make_message()
        attach_inline_image(message, PNG_BYTES, "logo.png", subtype="png")
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == unsupported_text("inline attachments")
        assert api.call_count == 0

    def test_inline_image_ignored_sent_as_attachment(self, api):
        connection = get_connection(ignore_unsupported_features=True)
        message = make_message(connection=connection)
        attach_inline_image(message, PNG_BYTES, "logo.png", subtype="png")
        data = sent_data(api, message)
        assert data["attachments"] == [
            {"name": "logo.png", "data": b64(PNG_BYTES), "content_type": "image/png"}
        ]


class TestAnymailFeatures:
    def test_envelope_sender_keeps_display_name_and_unicode_domain(self, api):
        data = sent_data(api, envelope_sender="Bounce Name <b@bounce.exämple.com>")
        assert data["sender"] == "Bounce Name <b@bounce.exämple.com>"

    def test_envelope_sender(self, api):
        data = sent_data(api, envelope_sender="b@bounce.example.com")
        assert data["sender"] == "b@bounce.example.com"

    def test_single_tag(self, api):
        data = sent_data(api, tags=["receipt"])
        assert data["tag"] == "receipt"

    def test_empty_tags_omitted(self, api):
        data = sent_data(api, tags=[])
        assert "tag" not in data


class TestBatchAndTemplates:
    """Postal has no batch or template API: all of these are unsupported."""

    @pytest.mark.parametrize(
        "attrs, feature",
        [
            ({"merge_data": {}}, "merge_data"),
            ({"merge_data": {"to@example.com": {"name": "A"}}}, "merge_data"),
            ({"merge_metadata": {"to@example.com": {"k": "v"}}}, "merge_metadata"),
            ({"merge_headers": {"to@example.com": {"X-A": "1"}}}, "merge_headers"),
            ({"merge_headers": None}, "merge_headers"),
            ({"template_id": "welcome"}, "template_id"),
            ({"merge_global_data": {"name": "A"}}, "merge_global_data"),
        ],
    )
    def test_unsupported(self, api, attrs, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(**attrs)
        assert str(excinfo.value) == unsupported_text(feature)
        assert api.call_count == 0

    def test_ignored_sends_one_message_to_all_recipients(self, api):
        connection = get_connection(ignore_unsupported_features=True)
        message = make_message(
            connection=connection,
            to=["a@example.com", "B <b@example.com>"],
            template_id="welcome",
            merge_data={"a@example.com": {"name": "A"}},
            merge_global_data={"site": "Co"},
            merge_metadata={"a@example.com": {"k": "v"}},
            merge_headers={"a@example.com": {"X-A": "1"}},
        )
        data = sent_data(api, message)
        assert api.call_count == 1
        assert data == {
            "from": "from@example.com",
            "to": ["a@example.com", "B <b@example.com>"],
            "cc": [],
            "bcc": [],
            "subject": "Subject",
            "plain_body": "Body",
        }

    def test_merge_data_from_send_defaults_unsupported(self, api):
        with (
            override_settings(
                ANYMAIL={**CREDENTIALS, "SEND_DEFAULTS": {"merge_data": {}}}
            ),
            pytest.raises(AnymailUnsupportedFeature) as excinfo,
        ):
            send()
        assert str(excinfo.value) == unsupported_text("merge_data")


class TestEspExtra:
    def test_shallow_update_applied_last(self, api):
        data = sent_data(
            api,
            tags=["anymail-tag"],
            headers={"X-A": "1"},
            esp_extra={
                "some_new_postal_param": "value",
                "tag": "override",
                "headers": {"X-B": "2"},  # replaces, not merged
            },
        )
        assert data["some_new_postal_param"] == "value"
        assert data["tag"] == "override"
        assert data["headers"] == {"X-B": "2"}
        assert data["subject"] == "Subject"

    def test_merged_with_send_defaults_esp_extra(self, api):
        with override_settings(
            ANYMAIL={
                **CREDENTIALS,
                "POSTAL_SEND_DEFAULTS": {
                    "esp_extra": {"bounce": False, "opts": {"a": 1, "b": 2}}
                },
            }
        ):
            data = sent_data(api, esp_extra={"opts": {"b": 22, "c": 3}})
        assert data["bounce"] is False
        assert data["opts"] == {"a": 1, "b": 22, "c": 3}


class TestUnsupportedFeatures:
    @pytest.mark.parametrize(
        "attrs, feature",
        [
            ({"metadata": {"user_id": "12345"}}, "metadata"),
            (
                {"send_at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)},
                "send_at",
            ),
            ({"track_clicks": True}, "track_clicks"),
            ({"track_clicks": False}, "track_clicks"),
            ({"track_opens": True}, "track_opens"),
            ({"track_opens": False}, "track_opens"),
            (
                {"from_email": "one@example.com, two@example.com"},
                "multiple from emails",
            ),
            (
                {"reply_to": ["r1@example.com", "r2@example.com"]},
                "multiple reply_to addresses",
            ),
            ({"tags": ["receipt", "repeat-user"]}, "multiple tags"),
            (
                {
                    "alternatives": [
                        ("<p>1</p>", "text/html"),
                        ("<p>2</p>", "text/html"),
                    ]
                },
                "multiple html parts",
            ),
            (
                {"alternatives": [("more text", "text/plain")]},
                "multiple plaintext parts",
            ),
            (
                {"alternatives": [("<html amp4email>A</html>", "text/x-amp-html")]},
                "alternative part with type 'text/x-amp-html'",
            ),
            ({"headers": {"To": "spoofed@example.com"}}, "spoofing `To` header"),
        ],
    )
    def test_unsupported_feature(self, api, attrs, feature):
        message = make_message(**attrs)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == unsupported_text(feature)
        assert api.call_count == 0
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_ignore_unsupported_features(self, api):
        with override_settings(
            ANYMAIL={**CREDENTIALS, "IGNORE_UNSUPPORTED_FEATURES": True}
        ):
            message = make_message(
                from_email="one@example.com, two@example.com",
                reply_to=["r1@example.com", "r2@example.com"],
                tags=["receipt", "repeat-user"],
                headers={"To": "spoofed@example.com"},
                metadata={"user_id": "12345"},
                send_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                track_clicks=True,
                track_opens=False,
                alternatives=[
                    ("<p>1</p>", "text/html"),
                    ("<p>2</p>", "text/html"),
                    ("more text", "text/plain"),
                    ("<html amp4email>A</html>", "text/x-amp-html"),
                ],
            )
            data = sent_data(api, message)
        assert data == {
            "from": "one@example.com",
            "to": ["to@example.com"],
            "cc": [],
            "bcc": [],
            "reply_to": "r1@example.com",
            "subject": "Subject",
            "plain_body": "Body",
            "html_body": "<p>1</p>",
            "tag": "receipt",
        }

    def test_second_html_body_after_html_content_subtype(self, api):
        message = make_message(
            body="<p>body</p>", alternatives=[("<p>alt</p>", "text/html")]
        )
        message.content_subtype = "html"
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == unsupported_text("multiple html parts")


class TestResponses:
    def test_success_status(self, api):
        message = send()
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == 1531  # an int, not the MIME Message-ID
        assert list(status.recipients) == ["to@example.com"]
        assert status.recipients["to@example.com"].message_id == 1531
        assert status.recipients["to@example.com"].status == "queued"
        assert status.esp_response.json() == success()

    def test_multiple_recipients(self, api):
        api.set_response(
            200,
            success(
                {
                    "to1@example.com": {"id": 1531, "token": "a"},
                    "cc@example.com": {"id": 1532, "token": "b"},
                    "bcc@example.com": {"id": 1533, "token": "c"},
                }
            ),
        )
        message = send(
            to=["To One <to1@example.com>"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
        )
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == {1531, 1532, 1533}
        assert {email: r.message_id for email, r in status.recipients.items()} == {
            "to1@example.com": 1531,
            "cc@example.com": 1532,
            "bcc@example.com": 1533,
        }

    def test_recipient_keys_as_postal_returned_them(self, api):
        api.set_response(200, success({"user@example.com": {"id": 7, "token": "t"}}))
        message = send(to=["User@Example.COM"])
        assert list(message.anymail_status.recipients) == ["user@example.com"]
        assert message.anymail_status.message_id == 7

    def test_api_error_status_with_http_200(self, api):
        api.set_response(200, postal_error())
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        text = str(excinfo.value)
        assert text.startswith("Postal API response 200 (OK):\n")
        assert "ValidationError" in text
        assert "From is missing" in text
        assert API_KEY not in text
        assert excinfo.value.status_code == 200
        assert message.anymail_status.status is None
        assert message.anymail_status.recipients == {}
        assert message.anymail_status.esp_response.status_code == 200

    def test_parameter_error_status(self, api):
        api.set_response(
            200,
            postal_error(
                status="parameter-error",
                code="AttachmentMissingName",
                text="An attachment is missing a name",
            ),
        )
        with pytest.raises(AnymailAPIError) as excinfo:
            send()
        assert "AttachmentMissingName" in str(excinfo.value)

    def test_http_error_json(self, api):
        api.set_response(
            403, {"status": "error", "data": {"code": "InvalidServerAPIKey"}}
        )
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        err = excinfo.value
        assert err.status_code == 403
        assert str(err).startswith("Postal API response 403 (FORBIDDEN):\n")
        assert "InvalidServerAPIKey" in str(err)
        assert API_KEY not in str(err)
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_http_error_text(self, api):
        api.set_response(502, "Bad gateway", headers={"Content-Type": "text/plain"})
        with pytest.raises(AnymailAPIError) as excinfo:
            send()
        assert (
            str(excinfo.value) == "Postal API response 502 (BAD GATEWAY): 'Bad gateway'"
        )

    def test_invalid_json(self, api):
        api.set_response(200, "<html>not json</html>")
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        assert str(excinfo.value).startswith("Invalid JSON in Postal API response")
        assert message.anymail_status.esp_response is not None
        assert message.anymail_status.status is None

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"data": {"messages": {}}},
            {"status": "success"},
            {"status": "success", "data": {}},
            {"status": "success", "data": "nope"},
            {"status": "success", "data": {"messages": ["to@example.com"]}},
            {"status": "success", "data": {"messages": {"to@example.com": {}}}},
            {"status": "success", "data": {"messages": {"to@example.com": 5}}},
            {"status": "success", "data": {"messages": {"to@example.com": {"id": []}}}},
            ["success"],
            "success",
        ],
    )
    def test_invalid_response_format(self, api, body):
        api.set_response(
            200, json.dumps(body), headers={"Content-Type": "application/json"}
        )
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        assert str(excinfo.value).startswith("Invalid Postal API response format")
        status = message.anymail_status
        assert status.status is None
        assert status.message_id is None
        assert status.recipients == {}
        assert status.esp_response.status_code == 200

    def test_empty_messages_is_refused(self, api):
        # (Postal doesn't reject recipients at send time; an empty result
        # means no recipient was accepted)
        api.set_response(200, success({}))
        message = make_message()
        with pytest.raises(AnymailRecipientsRefused):
            send(message)
        assert message.anymail_status.status == set()


class TestSerialization:
    def test_non_serializable_header_value(self, api):
        message = make_message(headers={"X-Price": Decimal("19.99")})
        with pytest.raises(AnymailSerializationError) as excinfo:
            send(message)
        assert str(excinfo.value) == (
            "Don't know how to send this data to Postal."
            " Try converting it to a string or number first.\n"
            "Object of type 'Decimal' is not JSON serializable"
        )
        assert api.call_count == 0
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_non_serializable_esp_extra(self, api):
        with pytest.raises(AnymailSerializationError):
            send(esp_extra={"when": datetime(2030, 1, 1, tzinfo=timezone.utc)})
        assert api.call_count == 0

    def test_non_serializable_metadata_is_unsupported_before_request(self, api):
        # Postal has no metadata: the feature error comes before serialization
        message = make_message(metadata={"price": Decimal("19.99")})
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == unsupported_text("metadata")
        assert api.call_count == 0

    @pytest.mark.parametrize(
        "size, body_type", [(10, str), (BASE64_INLINE_LIMIT + 1, bytearray)]
    )
    def test_attachment_body_type(self, api, size, body_type):
        # large attachments' base64 is written straight into a bytes body
        message = make_message()
        message.attach("a.bin", b"\xff" * size, "application/octet-stream")
        send(message)
        body = api.last_call["data"]
        assert type(body) is body_type
        assert json.loads(body)["attachments"][0]["data"] == b64(b"\xff" * size)


class TestSendThroughDjangoApis:
    def test_plain_email_message_gets_status(self, api):
        message = mail.EmailMultiAlternatives(
            "Subject", "Body", "from@example.com", ["to@example.com"]
        )
        message.send()
        assert message.anymail_status.status == {"queued"}
        assert message.anymail_status.message_id == 1531
