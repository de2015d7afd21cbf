"""Tests for the Mailjet (Send API v3.1) sending backend."""

import json
from datetime import datetime, timezone
from decimal import Decimal
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from unittest import mock

import pytest
import requests
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings

from anymail.backends.mailjet import EmailBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .conftest import b64

BACKEND = "anymail.backends.mailjet.EmailBackend"
CREDENTIALS = {
    "MAILJET_API_KEY": "test-api-key",
    "MAILJET_SECRET_KEY": "test-secret-key",
}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def success_item(*emails, first_id=70650219165027410):
    """A Mailjet "success" Messages item for the given to-recipients."""
    return {
        "Status": "success",
        "CustomID": "",
        "To": [
            {
                "Email": email,
                "MessageUUID": f"uuid-{n}",
                "MessageID": first_id + n,
                "MessageHref": f"https://api.mailjet.com/v3/message/{first_id + n}",
            }
            for n, email in enumerate(emails)
        ],
        "Cc": [],
        "Bcc": [],
    }


def success_response(*emails):
    return {"Messages": [success_item(*emails)]}


@pytest.fixture(autouse=True)
def mailjet_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL=CREDENTIALS):
        yield


@pytest.fixture
def api(requests_mock):
    """requests_mock answering a successful send to to@example.com."""
    requests_mock.set_response(200, success_response("to@example.com"))
    return requests_mock


@pytest.fixture
def message():
    return AnymailMessage(
        "Subject", "Text Body", "from@example.com", ["to@example.com"]
    )


def sent_data(api):
    return api.last_json()


def sent_globals(api):
    return api.last_json()["Globals"]


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
            "Globals": {
                "From": {"Email": "from@example.com"},
                "Subject": "Subject here",
                "TextPart": "Here is the message.",
            },
            "Messages": [{"To": [{"Email": "to@example.com"}]}],
        }


class TestSettings:
    def test_flat_settings(self, api, message):
        with override_settings(
            ANYMAIL={},
            ANYMAIL_MAILJET_API_KEY="flat-key",
            ANYMAIL_MAILJET_SECRET_KEY="flat-secret",
            ANYMAIL_MAILJET_API_URL="https://flat.example.com/v3.1",
        ):
            message.send()
        assert api.last_call["auth"] == ("flat-key", "flat-secret")
        assert api.last_call["url"] == "https://flat.example.com/v3.1/send"

    def test_api_url_not_read_bare(self, api, message):
        with override_settings(MAILJET_API_URL="https://bare.example.com/"):
            message.send()
        assert api.last_call["url"] == "https://api.mailjet.com/v3.1/send"

    def test_api_url_setting(self, api, message):
        anymail = {**CREDENTIALS, "MAILJET_API_URL": "https://api.example.com/v3.1/"}
        with override_settings(ANYMAIL=anymail):
            message.send()
        assert api.last_call["url"] == "https://api.example.com/v3.1/send"

    def test_settings_via_kwargs(self, api, message):
        connection = mail.get_connection(
            api_key="kw-key",
            secret_key="kw-secret",
            api_url="https://kw.example.com/mj/v3.1",
        )
        assert connection.api_url == "https://kw.example.com/mj/v3.1/"
        message.connection = connection
        message.send()
        assert api.last_call["auth"] == ("kw-key", "kw-secret")
        assert api.last_call["url"] == "https://kw.example.com/mj/v3.1/send"

    def test_kwargs_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                api_key="k", secret_key="s", api_url="https://x.example/", alias="mj"
            )
        assert django_init.call_args.kwargs == {"alias": "mj"}

    def test_send_defaults(self, api, message):
        anymail = {
            **CREDENTIALS,
            "MAILJET_SEND_DEFAULTS": {"tags": ["default-tag"], "track_opens": True},
        }
        with override_settings(ANYMAIL=anymail):
            message.send()
        g = sent_globals(api)
        assert g["CustomCampaign"] == "default-tag"
        assert g["TrackOpens"] == "enabled"


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
        g = data["Globals"]
        assert g["From"] == {"Email": "from@example.com", "Name": "Sender, Inc."}
        assert data["Messages"] == [
            {
                "To": [
                    {"Email": "to1@example.com"},
                    {"Email": "to2@example.com", "Name": "Recipient #2"},
                ]
            }
        ]
        assert g["Cc"] == [
            {"Email": "cc1@example.com"},
            {"Email": "cc2@example.com", "Name": "Copy 2"},
        ]
        assert g["Bcc"] == [
            {"Email": "bcc@example.com"},
            {"Email": "bcc2@example.com", "Name": "Blind Copy"},
        ]

    def test_unicode_names_and_idn_domains(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "Frøm Ñame <from@exämple.com>",
            ["Juan Lopéz <juan@éxample.com>", "відправник@example.com"],
        )
        msg.send()
        data = sent_data(api)
        assert data["Globals"]["From"] == {
            "Email": "from@xn--exmple-cua.com",
            "Name": "Frøm Ñame",
        }
        assert data["Messages"][0]["To"] == [
            {"Email": "juan@xn--xample-9ua.com", "Name": "Juan Lopéz"},
            {"Email": "відправник@example.com"},
        ]

    def test_idna_encoder_setting(self, api):
        anymail = {**CREDENTIALS, "MAILJET_IDNA_ENCODER": "idna2003"}
        with override_settings(ANYMAIL=anymail):
            mail.send_mail("S", "B", "from@example.com", ["to@faß.example"])
        assert sent_data(api)["Messages"][0]["To"] == [{"Email": "to@fass.example"}]

    def test_no_cc_bcc_reply_to_when_empty(self, api, message):
        message.send()
        g = sent_globals(api)
        for key in ("Cc", "Bcc", "ReplyTo", "Headers", "Sender"):
            assert key not in g

    def test_reply_to(self, api, message):
        message.reply_to = ["Reply Person <reply@example.com>"]
        message.send()
        assert sent_globals(api)["ReplyTo"] == {
            "Email": "reply@example.com",
            "Name": "Reply Person",
        }

    def test_reply_to_header_replaces_reply_to(self, api, message):
        message.reply_to = ["ignored@example.com"]
        message.extra_headers = {"reply-to": "Header <header@example.com>", "X-A": "a"}
        message.send()
        g = sent_globals(api)
        assert g["ReplyTo"] == {"Email": "header@example.com", "Name": "Header"}
        assert g["Headers"] == {"X-A": "a"}

    def test_from_header(self, api, message):
        message.extra_headers = {"From": "Header From <header-from@example.com>"}
        message.send()
        g = sent_globals(api)
        assert g["From"] == {"Email": "header-from@example.com", "Name": "Header From"}
        assert g["Sender"] == {"Email": "from@example.com"}
        assert "Headers" not in g

    def test_from_email_none_omits_from(self, api, message):
        message.from_email = None
        message.template_id = "1234567"
        message.send()
        assert "From" not in sent_globals(api)

    def test_envelope_sender(self, api, message):
        message.envelope_sender = "Bounces <bounce-handler@bounces.example.com>"
        message.send()
        assert sent_globals(api)["Sender"] == {
            "Email": "bounce-handler@bounces.example.com",
            "Name": "Bounces",
        }


class TestContent:
    def test_subject_sent_even_if_empty(self, api, message):
        message.subject = ""
        message.send()
        assert sent_globals(api)["Subject"] == ""

    def test_empty_text_body_omitted(self, api, message):
        message.body = ""
        message.send()
        assert "TextPart" not in sent_globals(api)

    def test_html_and_text(self, api):
        msg = mail.EmailMultiAlternatives(
            "Subject", "Text", "from@example.com", ["to@example.com"]
        )
        msg.attach_alternative("<p>HTML</p>", "text/html")
        msg.send()
        g = sent_globals(api)
        assert g["TextPart"] == "Text"
        assert g["HTMLPart"] == "<p>HTML</p>"

    def test_html_only(self, api):
        msg = mail.EmailMessage(
            "Subject", "<p>HTML</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.send()
        g = sent_globals(api)
        assert g["HTMLPart"] == "<p>HTML</p>"
        assert "TextPart" not in g

    def test_empty_html_body_still_sent(self, api):
        msg = mail.EmailMessage("Subject", "", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.send()
        assert sent_globals(api)["HTMLPart"] == ""

    def test_no_html_when_not_given(self, api, message):
        message.send()
        assert "HTMLPart" not in sent_globals(api)

    def test_extra_headers(self, api, message):
        message.extra_headers = {"X-Custom": "string", "X-Num": 123, "x-MiXeD": "m"}
        message.send()
        assert sent_globals(api)["Headers"] == {
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
        assert sent_globals(api)["Attachments"] == [
            {
                "ContentType": "text/plain",
                "Filename": "test.txt",
                "Base64Content": b64("¡text!".encode()),
            },
            {
                "ContentType": "application/octet-stream",
                "Filename": "data.bin",
                "Base64Content": b64(b"\x00\x01\xff"),
            },
            {
                "ContentType": "application/pdf",
                "Filename": "attachment",
                "Base64Content": b64(b"%PDF-1.4"),
            },
        ]
        assert "InlinedAttachments" not in sent_globals(api)

    def test_text_attachment_reencoded_as_utf8(self, api, message):
        message.attach(MIMEText("¡text!", "plain", "iso-8859-1"))
        message.send()
        (attachment,) = sent_globals(api)["Attachments"]
        assert attachment["ContentType"] == "text/plain"
        assert attachment["Base64Content"] == b64("¡text!".encode())
        assert attachment["Filename"] == "attachment"
        assert "ContentID" not in attachment

    def test_inline_image(self, api, message):
        cid = attach_inline_image(message, PNG, filename="logo.png")
        message.send()
        g = sent_globals(api)
        assert g["InlinedAttachments"] == [
            {
                "ContentType": "image/png",
                "Filename": "logo.png",
                "Base64Content": b64(PNG),
                "ContentID": cid,
            }
        ]
        assert "Attachments" not in g

    def test_inline_image_without_filename(self, api, message):
        cid = attach_inline_image(message, PNG)
        message.send()
        (inline,) = sent_globals(api)["InlinedAttachments"]
        assert inline["Filename"] == "attachment"
        assert inline["ContentID"] == cid

    def test_inline_without_content_id(self, api, message):
        image = MIMEImage(PNG, "png")
        image.add_header("Content-Disposition", "inline", filename="x.png")
        message.attach(image)
        message.send()
        assert sent_globals(api)["InlinedAttachments"] == [
            {
                "ContentType": "image/png",
                "Filename": "x.png",
                "Base64Content": b64(PNG),
                "ContentID": "",
            }
        ]

    def test_mime_attachment_content_type_without_params(self, api, message):
        part = MIMEBase("application", "x-custom", name="c.dat")
        part.set_payload(b"abc")
        part.add_header("Content-Disposition", "attachment", filename="c.dat")
        message.attach(part)
        message.send()
        (attachment,) = sent_globals(api)["Attachments"]
        assert attachment["ContentType"] == "application/x-custom"
        assert attachment["Filename"] == "c.dat"
        assert attachment["Base64Content"] == b64(b"abc")


class TestAnymailFeatures:
    def test_plain_message_has_no_optional_fields(self, api, message):
        message.send()
        g = sent_globals(api)
        for key in (
            "CustomCampaign", "EventPayload", "HTMLPart", "TemplateID",
            "TemplateLanguage", "Variables", "TrackOpens", "TrackClicks",
            "Cc", "Bcc", "ReplyTo", "Attachments", "InlinedAttachments",
        ):  # fmt: skip
            assert key not in g
        assert sent_data(api)["Messages"] == [{"To": [{"Email": "to@example.com"}]}]

    def test_metadata(self, api, message):
        message.metadata = {"user_id": "12345", "items": 6}
        message.send()
        g = sent_globals(api)
        assert isinstance(g["EventPayload"], str)
        assert json.loads(g["EventPayload"]) == {"user_id": "12345", "items": 6}

    def test_tag(self, api, message):
        message.tags = ["receipt"]
        message.send()
        assert sent_globals(api)["CustomCampaign"] == "receipt"

    def test_empty_tags(self, api, message):
        message.tags = []
        message.send()
        assert "CustomCampaign" not in sent_globals(api)

    @pytest.mark.parametrize(
        "value, expected", [(True, "enabled"), (False, "disabled")]
    )
    def test_tracking(self, api, message, value, expected):
        message.track_clicks = value
        message.track_opens = value
        message.send()
        g = sent_globals(api)
        assert g["TrackClicks"] == expected
        assert g["TrackOpens"] == expected

    def test_tracking_independent(self, api, message):
        message.track_clicks = False
        message.track_opens = True
        message.send()
        g = sent_globals(api)
        assert g["TrackClicks"] == "disabled"
        assert g["TrackOpens"] == "enabled"

    def test_serialization_error_in_merge_data(self, api, message):
        message.merge_data = {"to@example.com": {"price": Decimal("1.5")}}
        with pytest.raises(AnymailSerializationError):
            message.send()
        assert api.call_count == 0


class TestTemplates:
    def test_template(self, api):
        msg = AnymailMessage(
            from_email="from@example.com",
            to=["to@example.com"],
            template_id="1234567",
            merge_global_data={"name": "Alice", "group": "Developers"},
        )
        msg.send()
        data = sent_data(api)
        assert data == {
            "Globals": {
                "From": {"Email": "from@example.com"},
                "Subject": "",
                "TemplateID": 1234567,
                "TemplateLanguage": True,
                "Variables": {"name": "Alice", "group": "Developers"},
            },
            "Messages": [{"To": [{"Email": "to@example.com"}]}],
        }

    def test_template_stored_sender_and_subject(self, api):
        msg = AnymailMessage(to=["to@example.com"], template_id=42)
        msg.from_email = None
        msg.subject = None
        msg.send()
        assert sent_globals(api) == {"TemplateID": 42, "TemplateLanguage": True}

    def test_non_numeric_template_id(self, api, message):
        message.template_id = "welcome-template"
        with pytest.raises(ValueError) as excinfo:
            message.send()
        assert not isinstance(excinfo.value, AnymailUnsupportedFeature)
        assert api.call_count == 0

    def test_merge_global_data_without_batch(self, api, message):
        message.to = ["a@example.com", "b@example.com"]
        message.merge_global_data = {"group": "All"}
        message.send()
        data = sent_data(api)
        assert data["Globals"]["Variables"] == {"group": "All"}
        assert data["Messages"] == [
            {"To": [{"Email": "a@example.com"}, {"Email": "b@example.com"}]}
        ]


class TestBatchSend:
    def test_spec_example(self, api):
        msg = AnymailMessage(
            "Hi", "Body", "from@example.com",
            ["alice@example.com", "Bob <bob@example.com>"],
        )  # fmt: skip
        msg.merge_data = {
            "alice@example.com": {"name": "Alice", "group": "Developers"},
            "bob@example.com": {"name": "Bob"},
        }
        msg.merge_global_data = {"group": "Default Group"}
        msg.metadata = {"batch": "zx9"}
        msg.merge_metadata = {"bob@example.com": {"order_id": 678}}
        msg.send()
        data = sent_data(api)
        assert data == {
            "Globals": {
                "From": {"Email": "from@example.com"},
                "Subject": "Hi",
                "TextPart": "Body",
                "Variables": {"group": "Default Group"},
                "EventPayload": '{"batch": "zx9"}',
            },
            "Messages": [
                {
                    "To": [{"Email": "alice@example.com"}],
                    "Variables": {"name": "Alice", "group": "Developers"},
                },
                {
                    "To": [{"Email": "bob@example.com", "Name": "Bob"}],
                    "Variables": {"name": "Bob"},
                    "EventPayload": '{"batch": "zx9", "order_id": 678}',
                },
            ],
        }

    @pytest.mark.parametrize("attr", ["merge_data", "merge_metadata", "merge_headers"])
    def test_empty_merge_attr_makes_batch(self, api, message, attr):
        message.to = ["a@example.com", "b@example.com"]
        message.cc = ["cc@example.com"]
        setattr(message, attr, {})
        message.send()
        data = sent_data(api)
        assert data["Messages"] == [
            {"To": [{"Email": "a@example.com"}]},
            {"To": [{"Email": "b@example.com"}]},
        ]
        assert data["Globals"]["Cc"] == [{"Email": "cc@example.com"}]

    def test_merge_headers_none_makes_batch(self, api, message):
        message.to = ["a@example.com", "b@example.com"]
        message.merge_headers = None
        message.send()
        assert sent_data(api)["Messages"] == [
            {"To": [{"Email": "a@example.com"}]},
            {"To": [{"Email": "b@example.com"}]},
        ]

    def test_merge_headers(self, api, message):
        message.to = ["a@example.com", "b@example.com"]
        message.extra_headers = {"X-Global": "g", "X-Both": "default"}
        message.merge_headers = {
            "a@example.com": {"X-Both": "for-a", "List-Unsubscribe": "<https://a>"},
            "nobody@example.com": {"X-Both": "ignored"},
        }
        message.send()
        data = sent_data(api)
        assert data["Globals"]["Headers"] == {"X-Global": "g", "X-Both": "default"}
        assert data["Messages"] == [
            {
                "To": [{"Email": "a@example.com"}],
                "Headers": {"X-Both": "for-a", "List-Unsubscribe": "<https://a>"},
            },
            {"To": [{"Email": "b@example.com"}]},
        ]

    def test_merge_metadata_without_metadata(self, api, message):
        message.to = ["a@example.com", "b@example.com"]
        message.merge_metadata = {"a@example.com": {"id": 1}}
        message.send()
        data = sent_data(api)
        assert "EventPayload" not in data["Globals"]
        assert json.loads(data["Messages"][0]["EventPayload"]) == {"id": 1}
        assert "EventPayload" not in data["Messages"][1]

    def test_merge_metadata_recipient_wins(self, api, message):
        message.metadata = {"a": "global", "b": "global"}
        message.merge_metadata = {"to@example.com": {"b": "recipient"}}
        message.send()
        payload = sent_data(api)["Messages"][0]["EventPayload"]
        assert json.loads(payload) == {"a": "global", "b": "recipient"}

    def test_merge_data_for_non_recipients_ignored(self, api, message):
        message.merge_data = {"stranger@example.com": {"name": "X"}}
        message.send()
        assert sent_data(api)["Messages"] == [{"To": [{"Email": "to@example.com"}]}]

    def test_batch_lookup_uses_encoded_address(self, api, message):
        message.to = ["to@éxample.com"]
        message.merge_data = {
            "to@xn--xample-9ua.com": {"name": "encoded"},
            "to@éxample.com": {"name": "unicode"},
        }
        message.send()
        assert sent_data(api)["Messages"] == [
            {
                "To": [{"Email": "to@xn--xample-9ua.com"}],
                "Variables": {"name": "encoded"},
            }
        ]

    def test_batch_status(self, api, message):
        message.to = ["a@example.com", "b@example.com"]
        message.merge_data = {}
        api.set_response(
            200,
            {
                "Messages": [
                    success_item("a@example.com", first_id=111),
                    success_item("b@example.com", first_id=222),
                ]
            },
        )
        message.send()
        status = message.anymail_status
        assert status.status == {"sent"}
        assert status.message_id == {"111", "222"}
        assert status.recipients["a@example.com"].message_id == "111"
        assert status.recipients["b@example.com"].message_id == "222"

    def test_batch_from_send_defaults(self, api, message):
        message.to = ["a@example.com", "b@example.com"]
        anymail = {
            **CREDENTIALS,
            "MAILJET_SEND_DEFAULTS": {"merge_data": {"a@example.com": {"x": 1}}},
        }
        with override_settings(ANYMAIL=anymail):
            message.send()
        assert sent_data(api)["Messages"] == [
            {"To": [{"Email": "a@example.com"}], "Variables": {"x": 1}},
            {"To": [{"Email": "b@example.com"}]},
        ]


class TestEspExtra:
    def test_deep_merge(self, api, message):
        message.merge_global_data = {"a": 1, "b": 2}
        message.esp_extra = {
            "SandboxMode": True,
            "AdvanceErrorHandling": False,
            "Globals": {
                "Priority": 2,
                "TemplateErrorReporting": {"Email": "dev@example.com"},
                "Variables": {"b": 20, "c": 3},
                "Subject": "Overridden",
            },
        }
        message.send()
        data = sent_data(api)
        assert data["SandboxMode"] is True
        assert data["AdvanceErrorHandling"] is False
        g = data["Globals"]
        assert g["Priority"] == 2
        assert g["TemplateErrorReporting"] == {"Email": "dev@example.com"}
        assert g["Variables"] == {"a": 1, "b": 20, "c": 3}
        assert g["Subject"] == "Overridden"
        assert g["From"] == {"Email": "from@example.com"}
        assert g["TextPart"] == "Text Body"

    def test_lists_replaced(self, api, message):
        message.cc = ["cc@example.com"]
        message.esp_extra = {"Globals": {"Cc": [{"Email": "other@example.com"}]}}
        message.send()
        assert sent_globals(api)["Cc"] == [{"Email": "other@example.com"}]

    def test_messages_replaced_after_batch(self, api, message):
        message.to = ["a@example.com", "b@example.com"]
        message.merge_data = {"a@example.com": {"x": 1}}
        message.esp_extra = {"Messages": [{"To": [{"Email": "z@example.com"}]}]}
        message.send()
        assert sent_data(api)["Messages"] == [{"To": [{"Email": "z@example.com"}]}]

    def test_esp_extra_from_send_defaults(self, api, message):
        anymail = {
            **CREDENTIALS,
            "MAILJET_SEND_DEFAULTS": {"esp_extra": {"Globals": {"Priority": 1}}},
        }
        message.esp_extra = {"Globals": {"CustomID": "abc"}}
        with override_settings(ANYMAIL=anymail):
            message.send()
        g = sent_globals(api)
        assert g["Priority"] == 1
        assert g["CustomID"] == "abc"


class TestUnsupportedFeatures:
    @staticmethod
    def assert_unsupported(api, message, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == f"Mailjet does not support {feature}"
        assert api.call_count == 0

    def test_multiple_from(self, api, message):
        message.from_email = "one@example.com, two@example.com"
        self.assert_unsupported(api, message, "multiple from emails")

    def test_no_to(self, api, message):
        message.to = []
        message.cc = ["cc@example.com"]
        self.assert_unsupported(api, message, "messages without any `to` recipients")

    def test_multiple_reply_to(self, api, message):
        message.reply_to = ["r1@example.com", "r2@example.com"]
        self.assert_unsupported(api, message, "Multiple reply_to addresses")

    def test_multiple_tags(self, api, message):
        message.tags = ["receipt", "repeat-user"]
        self.assert_unsupported(
            api, message, "multiple tags (['receipt', 'repeat-user'])"
        )

    def test_send_at(self, api, message):
        message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        self.assert_unsupported(api, message, "send_at")

    def test_multiple_html_parts(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        self.assert_unsupported(api, message, "multiple html parts")

    def test_multiple_plaintext_parts(self, api, message):
        message.attach_alternative("more text", "text/plain")
        self.assert_unsupported(api, message, "multiple plaintext parts")

    def test_amp_alternative(self, api, message):
        message.attach_alternative("<html amp4email></html>", "text/x-amp-html")
        self.assert_unsupported(
            api, message, "alternative part with type 'text/x-amp-html'"
        )

    def test_spoofed_to_header(self, api, message):
        message.extra_headers = {"To": "Spoofed <spoofed@example.com>"}
        self.assert_unsupported(api, message, "spoofing `To` header")


@pytest.fixture
def ignore_unsupported():
    anymail = {**CREDENTIALS, "IGNORE_UNSUPPORTED_FEATURES": True}
    with override_settings(ANYMAIL=anymail):
        yield


@pytest.mark.usefixtures("ignore_unsupported")
class TestIgnoreUnsupportedFeatures:
    def test_multiple_from_uses_first(self, api, message):
        message.from_email = "one@example.com, two@example.com"
        message.send()
        assert sent_globals(api)["From"] == {"Email": "one@example.com"}

    def test_no_to(self, api, message):
        message.to = []
        message.cc = ["cc@example.com"]
        message.send()
        data = sent_data(api)
        assert data["Messages"] == [{"To": []}]
        assert data["Globals"]["Cc"] == [{"Email": "cc@example.com"}]

    def test_multiple_reply_to_uses_first(self, api, message):
        message.reply_to = ["r1@example.com", "r2@example.com"]
        message.send()
        assert sent_globals(api)["ReplyTo"] == {"Email": "r1@example.com"}

    def test_multiple_tags_uses_first(self, api, message):
        message.tags = ["receipt", "repeat-user"]
        message.send()
        assert sent_globals(api)["CustomCampaign"] == "receipt"

    def test_send_at_dropped(self, api, message):
        message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        message.send()
        assert "SendAt" not in json.dumps(sent_data(api))
        assert "2030" not in json.dumps(sent_data(api))

    def test_extra_alternatives_dropped(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        message.attach_alternative("more text", "text/plain")
        message.attach_alternative("<html amp4email></html>", "text/x-amp-html")
        message.send()
        g = sent_globals(api)
        assert g["HTMLPart"] == "<p>one</p>"
        assert g["TextPart"] == "Text Body"

    def test_spoofed_to_dropped(self, api, message):
        message.extra_headers = {"To": "spoofed@example.com", "X-Other": "kept"}
        message.send()
        assert sent_globals(api)["Headers"] == {"X-Other": "kept"}


class TestResponses:
    def test_success_status(self, api, message):
        message.send()
        status = message.anymail_status
        assert status.status == {"sent"}
        assert status.message_id == "70650219165027410"
        assert status.recipients["to@example.com"].status == "sent"
        assert status.recipients["to@example.com"].message_id == "70650219165027410"
        assert isinstance(status.esp_response, requests.Response)
        assert status.esp_response.json() == success_response("to@example.com")

    def test_message_id_big_integer_exact(self, api, message):
        api.set_response(
            200, b'{"Messages": [{"Status": "success", "To": [{"Email": '
            b'"to@example.com", "MessageID": 1152921512018562453}]}]}',
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        message.send()
        assert message.anymail_status.message_id == "1152921512018562453"

    def test_cc_and_bcc_status(self, api, message):
        message.cc = ["cc@example.com"]
        message.bcc = ["bcc@example.com"]
        item = success_item("to@example.com", first_id=1)
        item["Cc"] = [{"Email": "cc@example.com", "MessageUUID": "u", "MessageID": 2}]
        item["Bcc"] = [{"Email": "bcc@example.com", "MessageUUID": "v", "MessageID": 3}]
        api.set_response(200, {"Messages": [item]})
        message.send()
        recipients = message.anymail_status.recipients
        assert {k: (v.status, v.message_id) for k, v in recipients.items()} == {
            "to@example.com": ("sent", "1"),
            "cc@example.com": ("sent", "2"),
            "bcc@example.com": ("sent", "3"),
        }

    def test_unreported_recipients_failed(self, api, message):
        message.to = ["to@example.com", "missing@example.com"]
        message.bcc = ["Hidden <hidden@example.com>"]
        message.send()
        recipients = message.anymail_status.recipients
        assert recipients["to@example.com"].status == "sent"
        assert recipients["missing@example.com"].status == "failed"
        assert recipients["missing@example.com"].message_id is None
        assert recipients["hidden@example.com"].status == "failed"
        assert message.anymail_status.status == {"sent", "failed"}

    def test_partial_success(self, api):
        msg = AnymailMessage(
            "Subject", "Body", "from@example.com",
            ["to-good@example.com", "invalid@123.4"],
        )  # fmt: skip
        msg.merge_data = {}
        api.set_response(
            400,
            {
                "Messages": [
                    success_item("to-good@example.com", first_id=12345678901234500),
                    {
                        "Status": "error",
                        "Errors": [
                            {
                                "ErrorIdentifier": "f480a5a2",
                                "ErrorCode": "mj-0013",
                                "StatusCode": 400,
                                "ErrorMessage": '"invalid@123.4" is an invalid email',
                                "ErrorRelatedTo": ["To[0].Email"],
                            }
                        ],
                    },
                ]
            },
            reason="BAD REQUEST",
        )
        assert msg.send() == 1
        status = msg.anymail_status
        assert status.status == {"sent", "failed"}
        assert status.recipients["to-good@example.com"].status == "sent"
        assert status.recipients["to-good@example.com"].message_id == (
            "12345678901234500"
        )
        assert status.recipients["invalid@123.4"].status == "failed"
        assert status.recipients["invalid@123.4"].message_id is None
        assert status.message_id == {"12345678901234500", None}

    def test_json_content_type_with_params(self, api, message):
        api.set_response(
            400,
            json.dumps({"Messages": [{"Status": "error", "Errors": []}]}),
            headers={"Content-Type": "Application/JSON; charset=utf-8"},
        )
        assert message.send() == 1
        assert message.anymail_status.status == {"failed"}

    def test_all_failed_does_not_raise_refused(self, api, message):
        api.set_response(400, {"Messages": [{"Status": "error", "Errors": []}]})
        assert message.send() == 1
        assert message.anymail_status.status == {"failed"}
        assert message.anymail_status.message_id is None
        assert message.anymail_status.recipients["to@example.com"].status == "failed"

    def test_global_error(self, api, message):
        body = {
            "ErrorIdentifier": "06df1144-c6f3-4ca7-8885-7ec5d4344113",
            "ErrorCode": "mj-0002",
            "ErrorMessage": "Malformed JSON, please review the syntax and properties",
            "StatusCode": 400,
        }
        api.set_response(400, body)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        err = excinfo.value
        assert err.status_code == 400
        assert "Mailjet API response 400 (BAD REQUEST):" in str(err)
        assert json.dumps(body, indent=2) in str(err)
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is not None

    def test_non_json_4xx_is_http_error(self, api, message):
        api.set_response(
            429,
            "<html>Too many requests</html>",
            reason="Too Many Requests",
            headers={"Content-Type": "text/html"},
        )
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Mailjet API response 429 (Too Many Requests): "
            "'<html>Too many requests</html>'"
        )
        assert excinfo.value.status_code == 429
        assert message.anymail_status.esp_response is None

    def test_5xx_json_is_http_error(self, api, message):
        api.set_response(
            500, {"Messages": []}, reason="Cannot convert data from Null value"
        )
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith(
            "Mailjet API response 500 (Cannot convert data from Null value):"
        )

    def test_invalid_json(self, api, message):
        api.set_response(200, "this isn't json", headers={"Content-Type": "text/plain"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid JSON in Mailjet API response")
        assert isinstance(message.anymail_status.esp_response, requests.Response)
        assert message.anymail_status.status is None

    def test_invalid_json_4xx_json_content_type(self, api, message):
        api.set_response(400, "not json", headers={"Content-Type": "application/json"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid JSON in Mailjet API response")

    @pytest.mark.parametrize(
        "body",
        [
            {},
            [],
            {"Messages": [{"Status": "success", "To": [{"MessageID": 1}]}]},
            {"Messages": [{"Status": "success", "To": [{"Email": "to@example.com"}]}]},
            {"Messages": ["junk"]},
        ],
    )
    def test_invalid_response_format(self, api, message, body):
        api.set_response(200, body)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid Mailjet API response format")
        assert message.anymail_status.recipients == {}

    def test_error_is_anymail_api_error(self, api, message):
        api.set_response(503, "unavailable", headers={"Content-Type": "text/plain"})
        with pytest.raises(AnymailAPIError):
            message.send()
