"""Tests for the Postmark sending backend (anymail.backends.postmark).

Every test checks the exact HTTP request Postmark would receive (recorded by the
`requests_mock` fixture from conftest.py) and/or how its answer is parsed.
"""

import json
import uuid
from decimal import Decimal
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from unittest import mock

import pytest
import requests
from django.core import mail
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings
from django.utils.translation import gettext_lazy

from anymail.backends.postmark import EmailBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .messages import make_message

BACKEND = "anymail.backends.postmark.EmailBackend"
TOKEN = "test_server_token"
API_URL = "https://api.postmarkapp.com/"

# A tiny "image": just enough of a PNG signature for attach_inline_image
PNG_CONTENT = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake png data"

SUBMITTED_AT = "2026-01-05T10:00:00.0000000-05:00"


def postmark_settings(**anymail):
    """override_settings for the Postmark backend, with extra ANYMAIL settings."""
    return override_settings(
        EMAIL_BACKEND=BACKEND,
        ANYMAIL={"POSTMARK_SERVER_TOKEN": TOKEN, **anymail},
    )


def ok_result(to="to@example.com", message_id="abcdef01-2345-6789-0123-456789abcdef"):
    return {
        "To": to,
        "SubmittedAt": SUBMITTED_AT,
        "MessageID": message_id,
        "ErrorCode": 0,
        "Message": "OK",
    }


def sent_data(api):
    """The JSON body of the last API call."""
    return api.last_json()


def endpoint(api):
    url = api.last_call["url"]
    assert url.startswith(API_URL)
    return url[len(API_URL) :]


@pytest.fixture
def api(requests_mock):
    """Postmark backend configured; every call answers a single-message success."""
    requests_mock.set_response(200, ok_result())
    with postmark_settings():
        yield requests_mock


def fixed_uuids(*values):
    """Patch uuid.uuid4 (as the backend module calls it) to return `values`."""
    return mock.patch(
        "anymail.backends.postmark.uuid.uuid4",
        side_effect=[uuid.UUID(value) for value in values],
    )


UUID_1 = "11111111-1111-4111-8111-111111111111"
UUID_2 = "22222222-2222-4222-8222-222222222222"
UUID_3 = "33333333-3333-4333-8333-333333333333"


# --------------------------------------------------------------------------------
# Settings and configuration
# --------------------------------------------------------------------------------


class TestSettings:
    @override_settings(ANYMAIL={})
    def test_settings_from_kwargs(self, requests_mock):
        requests_mock.set_response(200, ok_result())
        connection = get_connection(
            BACKEND,
            server_token="kwarg_token",
            api_url="https://postmark.example.com/api",
            message_stream="kwarg-stream",
        )
        make_message(connection=connection).send()
        call = requests_mock.last_call
        assert call["url"] == "https://postmark.example.com/api/email"
        assert call["headers"]["X-Postmark-Server-Token"] == "kwarg_token"
        assert requests_mock.last_json()["MessageStream"] == "kwarg-stream"

    @override_settings(ANYMAIL={})
    def test_all_options_consumed_from_kwargs(self):
        # Whatever is left over goes to Django (which rejects unknown MAILERS OPTIONS)
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            backend = EmailBackend(
                server_token="t",
                api_url="https://example.com/",
                message_stream="s",
                use_bulk_api=True,
                generate_message_id=False,
                send_defaults={"tags": ["x"]},
                idna_encoder="idna2003",
                requests_timeout=5,
                alias="default",
            )
        django_init.assert_called_once_with(backend, alias="default")
        assert backend.message_stream == "s"
        assert backend.use_bulk_api is True
        assert backend.generate_message_id is False
        assert backend.timeout == 5

    @postmark_settings()
    def test_new_setting_defaults(self):
        backend = EmailBackend()
        assert backend.api_url == API_URL
        assert backend.message_stream is None
        assert backend.use_bulk_api is False
        assert backend.generate_message_id is False

    @postmark_settings(POSTMARK_USE_BULK_API=True)
    def test_generate_message_id_defaults_to_use_bulk_api(self):
        assert EmailBackend().generate_message_id is True
        assert EmailBackend(generate_message_id=False).generate_message_id is False

    @override_settings(
        ANYMAIL_POSTMARK_MESSAGE_STREAM="flat-stream",
        ANYMAIL_POSTMARK_USE_BULK_API=True,
        ANYMAIL_POSTMARK_GENERATE_MESSAGE_ID=False,
    )
    @postmark_settings()
    def test_new_settings_flat_form(self):
        backend = EmailBackend()
        assert backend.message_stream == "flat-stream"
        assert backend.use_bulk_api is True
        assert backend.generate_message_id is False

    @override_settings(
        POSTMARK_MESSAGE_STREAM="bare",
        POSTMARK_USE_BULK_API=True,
        POSTMARK_GENERATE_MESSAGE_ID=True,
        POSTMARK_API_URL="https://bare.example.com/",
    )
    @postmark_settings()
    def test_no_bare_lookup_for_other_settings(self):
        backend = EmailBackend()
        assert backend.message_stream is None
        assert backend.use_bulk_api is False
        assert backend.generate_message_id is False
        assert backend.api_url == API_URL

    @postmark_settings(POSTMARK_API_URL="https://api.example.com/postmark")
    def test_api_url_gets_trailing_slash(self, requests_mock):
        requests_mock.set_response(200, ok_result())
        assert EmailBackend().api_url == "https://api.example.com/postmark/"
        make_message().send()
        assert (
            requests_mock.last_call["url"] == "https://api.example.com/postmark/email"
        )


# --------------------------------------------------------------------------------
# The API call
# --------------------------------------------------------------------------------


class TestApiCall:
    def test_send_mail(self, api):
        sent = mail.send_mail(
            "Subject here",
            "Here is the message.",
            "from@example.com",
            ["to@example.com"],
        )
        assert sent == 1
        call = api.last_call
        assert json.loads(call["data"]) == {
            "From": "from@example.com",
            "To": "to@example.com",
            "Subject": "Subject here",
            "TextBody": "Here is the message.",
        }

    def test_per_message_server_token(self, api):
        connection = get_connection()
        special = make_message(esp_extra={"server_token": "other_token"})
        normal = make_message()
        connection.send_messages([special, normal])
        first, second = api.calls
        assert first["headers"]["X-Postmark-Server-Token"] == "other_token"
        assert "server_token" not in json.loads(first["data"])
        assert second["headers"]["X-Postmark-Server-Token"] == TOKEN


# --------------------------------------------------------------------------------
# Field mapping
# --------------------------------------------------------------------------------


class TestAddresses:
    def test_display_names_and_idn(self, api):
        message = make_message(
            from_email='"Odesílatel, z adresy" <from@příklad.example.cz>',
            to=["Příjemce <to@příklad.example.cz>", '"Smith, Jo" <jo@example.com>'],
            cc=["Carbon Copy <cc@exämple.com>", "cc2@example.com"],
            bcc=["bcc@exämple.com"],
            reply_to=['"Reply, Please" <reply@exämple.com>', "Ann <ann@example.com>"],
        )
        message.send()
        data = sent_data(api)
        assert data["From"] == (
            '"Odesílatel, z adresy" <from@xn--pklad-zsa96e.example.cz>'
        )
        assert data["To"] == (
            'Příjemce <to@xn--pklad-zsa96e.example.cz>, "Smith, Jo" <jo@example.com>'
        )
        assert data["Cc"] == "Carbon Copy <cc@xn--exmple-cua.com>, cc2@example.com"
        assert data["Bcc"] == "bcc@xn--exmple-cua.com"
        assert data["ReplyTo"] == (
            '"Reply, Please" <reply@xn--exmple-cua.com>, Ann <ann@example.com>'
        )

    def test_unicode_local_part_not_encoded(self, api):
        make_message(to=["відправник@example.com"]).send()
        assert sent_data(api)["To"] == "відправник@example.com"

    def test_idna_encoder_setting(self, api):
        with postmark_settings(POSTMARK_IDNA_ENCODER="idna2003"):
            make_message(to=["to@faß.example"]).send()
        assert sent_data(api)["To"] == "to@fass.example"
        with postmark_settings(POSTMARK_IDNA_ENCODER="none"):
            make_message(to=["to@faß.example"]).send()
        assert sent_data(api)["To"] == "to@faß.example"

    def test_global_idna_encoder_setting(self, api):
        # Without POSTMARK_IDNA_ENCODER, the global IDNA_ENCODER applies
        with postmark_settings(IDNA_ENCODER="idna2003"):
            make_message(to=["to@faß.example"]).send()
        assert sent_data(api)["To"] == "to@fass.example"  # (idna2008: xn--fa-hia)

    def test_multiple_from_addresses(self, api):
        make_message(from_email="one@example.com, Two <two@example.com>").send()
        assert sent_data(api)["From"] == "one@example.com, Two <two@example.com>"
        make_message(from_email=["one@example.com", "Two <two@example.com>"]).send()
        assert sent_data(api)["From"] == "one@example.com, Two <two@example.com>"

    def test_unquoted_display_name_with_comma(self, api):
        message = make_message(from_email="Unquoted, name <from@example.com>")
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            message.send()
        assert "maybe missing quotes" in str(excinfo.value)
        assert api.call_count == 0

    def test_empty_recipient_fields_omitted(self, api):
        make_message(cc=[], bcc=[], reply_to=[]).send()
        assert set(sent_data(api)) == {"From", "To", "Subject", "TextBody"}

    def test_cc_and_bcc_only(self, api):
        api.set_response(
            200,
            {
                "SubmittedAt": SUBMITTED_AT,
                "MessageID": "m-1",
                "ErrorCode": 0,
                "Message": "OK",
            },
        )
        message = make_message(to=[], cc=["cc@example.com"], bcc=["bcc@example.com"])
        assert message.send() == 1
        assert sent_data(api) == {
            "From": "from@example.com",
            "Cc": "cc@example.com",
            "Bcc": "bcc@example.com",
            "Subject": "Subject",
            "TextBody": "Body",
        }
        assert endpoint(api) == "email"
        recipients = message.anymail_status.recipients
        assert recipients["cc@example.com"].status == "sent"
        assert recipients["cc@example.com"].message_id == "m-1"
        assert recipients["bcc@example.com"].message_id == "m-1"

    def test_reply_to_header_overrides_reply_to(self, api):
        make_message(
            reply_to=["attr@example.com"],
            headers={"reply-TO": "Header <header@example.com>"},
        ).send()
        data = sent_data(api)
        assert data["ReplyTo"] == "Header <header@example.com>"
        assert "Headers" not in data

    def test_from_header_is_envelope_sender(self, api):
        message = make_message(headers={"From": "Header <header@example.com>"})
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == "Postmark does not support envelope_sender"
        assert api.call_count == 0

    def test_from_header_ignoring_unsupported(self, api):
        with postmark_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            make_message(headers={"From": "Header <header@example.com>"}).send()
        assert sent_data(api)["From"] == "Header <header@example.com>"
        assert "Headers" not in sent_data(api)


class TestContent:
    def test_subject_none_omitted(self, api):
        make_message(subject=None).send()
        assert "Subject" not in sent_data(api)

    def test_html_and_text(self, api):
        message = make_message(body="Text body")
        message.attach_alternative("<p>HTML body</p>", "text/html")
        message.send()
        data = sent_data(api)
        assert data["TextBody"] == "Text body"
        assert data["HtmlBody"] == "<p>HTML body</p>"

    def test_html_only(self, api):
        message = make_message(body="<p>HTML only</p>")
        message.content_subtype = "html"
        message.send()
        data = sent_data(api)
        assert data["HtmlBody"] == "<p>HTML only</p>"
        assert "TextBody" not in data

    def test_extra_headers(self, api):
        make_message(
            headers={
                "X-Custom": "string",
                "X-Number": 123,
                "Message-ID": "<custom-id@example.com>",
            }
        ).send()
        assert sent_data(api)["Headers"] == [
            {"Name": "X-Custom", "Value": "string"},
            {"Name": "X-Number", "Value": 123},
            {"Name": "Message-ID", "Value": "<custom-id@example.com>"},
        ]

    def test_attachments(self, api):
        message = make_message()
        message.attach("test.txt", "¡text!", "text/plain")
        message.attach(None, b"\x00\x01binary\xff", "application/octet-stream")
        message.attach("report.pdf", b"%PDF-1.4 fake", None)
        latin1 = MIMEText("¡text!\n", "plain", "iso-8859-1")
        latin1.add_header("Content-Disposition", "attachment", filename="latin1.txt")
        message.attach(latin1)
        message.send()
        assert sent_data(api)["Attachments"] == [
            {
                "Name": "test.txt",
                "Content": "wqF0ZXh0IQ==",
                "ContentType": 'text/plain; charset="utf-8"',
            },
            {
                "Name": "",
                "Content": "AAFiaW5hcnn/",
                "ContentType": "application/octet-stream",
            },
            {
                "Name": "report.pdf",
                "Content": "JVBERi0xLjQgZmFrZQ==",
                "ContentType": "application/pdf",
            },
            {
                "Name": "latin1.txt",
                "Content": "oXRleHQhCg==",
                "ContentType": 'text/plain; charset="iso-8859-1"',
            },
        ]

    def test_inline_image(self, api):
        message = make_message()
        message.attach_alternative('<img src="cid:x">', "text/html")
        cid = attach_inline_image(message, PNG_CONTENT, filename="logo.png")
        message.send()
        [attachment] = sent_data(api)["Attachments"]
        assert attachment == {
            "Name": "logo.png",
            "Content": "iVBORw0KGgoAAAANSUhEUiBmYWtlIHBuZyBkYXRh",
            "ContentType": "image/png",
            "ContentID": f"cid:{cid}",
        }
        assert not cid.startswith("<")

    def test_inline_by_content_id_without_disposition(self, api):
        message = make_message()
        image = MIMEImage(PNG_CONTENT, "png")
        image["Content-ID"] = "<abc@x>"
        assert image.get_content_disposition() is None
        message.attach(image)
        message.send()
        [attachment] = sent_data(api)["Attachments"]
        assert attachment == {
            "Name": "",
            "Content": "iVBORw0KGgoAAAANSUhEUiBmYWtlIHBuZyBkYXRh",
            "ContentType": "image/png",
            "ContentID": "cid:abc@x",
        }

    def test_metadata(self, api):
        metadata = {"user_id": 12345, "nested": {"a": [1, 2]}, "flag": True}
        make_message(metadata=metadata).send()
        assert sent_data(api)["Metadata"] == metadata

    def test_single_tag(self, api):
        make_message(tags=["receipt"]).send()
        assert sent_data(api)["Tag"] == "receipt"

    @pytest.mark.parametrize(
        "track_clicks, expected", [(True, "HtmlAndText"), (False, "None")]
    )
    def test_track_clicks(self, api, track_clicks, expected):
        make_message(track_clicks=track_clicks).send()
        assert sent_data(api)["TrackLinks"] == expected

    @pytest.mark.parametrize("track_opens", [True, False])
    def test_track_opens(self, api, track_opens):
        make_message(track_opens=track_opens).send()
        assert sent_data(api)["TrackOpens"] is track_opens

    def test_unset_features_omitted(self, api):
        make_message().send()
        assert sent_data(api) == {
            "From": "from@example.com",
            "To": "to@example.com",
            "Subject": "Subject",
            "TextBody": "Body",
        }

    def test_plain_django_email_message(self, api):
        message = EmailMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"]
        )
        message.tags = ["one"]
        message.metadata = {"k": "v"}
        message.send()
        data = sent_data(api)
        assert data["Tag"] == "one"
        assert data["Metadata"] == {"k": "v"}


class TestTemplates:
    @pytest.mark.parametrize("template_id", [1234567, "1234567"])
    def test_numeric_template_id(self, api, template_id):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["to@example.com"],
            template_id=template_id,
        )
        message.send()
        assert endpoint(api) == "email/withTemplate/"
        # Django's default empty subject and body are removed
        assert sent_data(api) == {
            "From": "from@example.com",
            "To": "to@example.com",
            "TemplateId": 1234567,
            "TemplateModel": {},
        }

    def test_template_alias(self, api):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["to@example.com"],
            template_id="welcome-email",
            merge_global_data={"name": "Alice", "product": "Widget"},
        )
        message.send()
        assert endpoint(api) == "email/withTemplate/"
        assert sent_data(api) == {
            "From": "from@example.com",
            "To": "to@example.com",
            "TemplateAlias": "welcome-email",
            "TemplateModel": {"name": "Alice", "product": "Widget"},
        }

    @pytest.mark.parametrize("html_from", ["body", "alternative"])
    def test_empty_html_body_removed(self, api, html_from):
        message = make_message(body="", template_id=1234567)
        if html_from == "body":
            message.content_subtype = "html"
        else:
            message.attach_alternative("", "text/html")
        message.send()
        # (as for Django's default empty subject and text body)
        assert sent_data(api) == {
            "From": "from@example.com",
            "To": "to@example.com",
            "Subject": "Subject",
            "TemplateId": 1234567,
            "TemplateModel": {},
        }

    def test_non_empty_subject_and_body_kept(self, api):
        message = make_message(subject="Real subject", body="Real body", template_id=5)
        message.attach_alternative("<p>html</p>", "text/html")
        message.send()
        data = sent_data(api)
        assert data["Subject"] == "Real subject"
        assert data["TextBody"] == "Real body"
        assert data["HtmlBody"] == "<p>html</p>"

    def test_merge_global_data_without_template(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            make_message(merge_global_data={"a": 1}).send()
        assert str(excinfo.value) == (
            "Postmark does not support merge_global_data without template_id"
        )
        with pytest.raises(AnymailUnsupportedFeature, match="merge_global_data"):
            make_message(merge_global_data={}).send()
        with pytest.raises(AnymailUnsupportedFeature, match="merge_global_data"):
            make_message(esp_extra={"TemplateModel": {"a": 1}}).send()
        assert api.call_count == 0

    def test_merge_data_without_template(self, api):
        message = make_message(merge_data={"to@example.com": {"name": "To"}})
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Postmark does not support merge_data without template_id"
        )
        assert api.call_count == 0
        assert message.anymail_status.status is None
        assert message.anymail_status.recipients == {}

    def test_esp_extra_template_alias_switches_endpoint(self, api):
        make_message(esp_extra={"TemplateAlias": "from-esp-extra"}).send()
        assert endpoint(api) == "email/withTemplate/"
        assert sent_data(api)["TemplateAlias"] == "from-esp-extra"

    def test_esp_extra_template_id_allows_merge_global_data(self, api):
        make_message(
            subject="", body="", merge_global_data={"a": 1}, esp_extra={"TemplateId": 9}
        ).send()
        assert endpoint(api) == "email/withTemplate/"
        assert sent_data(api)["TemplateModel"] == {"a": 1}


class TestEspExtra:
    def test_esp_extra_overrides_fields(self, api):
        make_message(
            track_clicks=True,
            esp_extra={"TrackLinks": "HtmlOnly", "InlineCss": False, "Subject": "New"},
        ).send()
        data = sent_data(api)
        assert data["TrackLinks"] == "HtmlOnly"
        assert data["InlineCss"] is False
        assert data["Subject"] == "New"

    def test_esp_extra_message_stream(self, api):
        make_message(esp_extra={"MessageStream": "broadcast"}).send()
        assert sent_data(api)["MessageStream"] == "broadcast"

    def test_send_defaults(self, api):
        anymail = {
            "SEND_DEFAULTS": {
                "tags": ["global-tag"],
                "metadata": {"global": 1, "shared": "global"},
                "track_opens": True,
                "esp_extra": {"MessageStream": "global", "TrackLinks": "HtmlOnly"},
            },
            "POSTMARK_SEND_DEFAULTS": {
                "metadata": {"esp": 2, "shared": "esp"},
                "esp_extra": {"MessageStream": "esp-stream", "Extra": {"a": 1}},
            },
        }
        with postmark_settings(**anymail):
            make_message(
                metadata={"message": 3},
                esp_extra={"Extra": {"b": 2}, "InlineCss": True},
            ).send()
        data = sent_data(api)
        assert data["Tag"] == "global-tag"
        assert data["TrackOpens"] is True
        # POSTMARK_SEND_DEFAULTS replaces global keys; message values merge over it
        assert data["Metadata"] == {"esp": 2, "shared": "esp", "message": 3}
        assert data["MessageStream"] == "esp-stream"
        assert "TrackLinks" not in data
        assert data["Extra"] == {"a": 1, "b": 2}
        assert data["InlineCss"] is True


class TestMessageStream:
    def test_message_stream_setting(self, api):
        with postmark_settings(POSTMARK_MESSAGE_STREAM="outbound-2"):
            make_message(
                from_email="app@example.com",
                to=["alice@example.com"],
                subject="Hi",
                body="Hello",
            ).send()
        raw = api.last_call["data"]
        assert raw.startswith('{"MessageStream": "outbound-2", ')
        assert json.loads(raw) == {
            "MessageStream": "outbound-2",
            "From": "app@example.com",
            "To": "alice@example.com",
            "Subject": "Hi",
            "TextBody": "Hello",
        }

    def test_empty_message_stream_is_sent(self, api):
        with postmark_settings(POSTMARK_MESSAGE_STREAM=""):
            make_message().send()
        assert sent_data(api)["MessageStream"] == ""

    def test_esp_extra_overrides_setting(self, api):
        with postmark_settings(POSTMARK_MESSAGE_STREAM="setting"):
            make_message(esp_extra={"MessageStream": "extra"}).send()
        assert sent_data(api)["MessageStream"] == "extra"

    def test_message_stream_in_each_batch_message(self, api):
        api.set_response(200, [ok_result("a@example.com"), ok_result("b@example.com")])
        with postmark_settings(POSTMARK_MESSAGE_STREAM="stream"):
            make_message(to=["a@example.com", "b@example.com"], merge_data={}).send()
        assert endpoint(api) == "email/batch"
        assert [msg["MessageStream"] for msg in sent_data(api)] == ["stream", "stream"]


# --------------------------------------------------------------------------------
# Unsupported features
# --------------------------------------------------------------------------------


def amp_message():
    message = make_message()
    message.attach_alternative("<amp>", "text/x-amp-html")
    return message


def two_html_message():
    message = make_message()
    message.attach_alternative("<p>one</p>", "text/html")
    message.attach_alternative("<p>two</p>", "text/html")
    return message


def two_plain_message():
    message = make_message(body="plain one")
    message.attach_alternative("plain two", "text/plain")
    return message


UNSUPPORTED_CASES = [
    (lambda: make_message(envelope_sender="bounce@example.com"), "envelope_sender"),
    (lambda: make_message(send_at=1651820889), "send_at"),
    (lambda: make_message(tags=["t1", "t2"]), "multiple tags (['t1', 't2'])"),
    (two_html_message, "multiple html parts"),
    (two_plain_message, "multiple plaintext parts"),
    (amp_message, "alternative part with type 'text/x-amp-html'"),
    (
        lambda: make_message(headers={"To": "spoof@example.com"}),
        "spoofing `To` header",
    ),
    (
        lambda: make_message(merge_data={"to@example.com": {"a": 1}}),
        "merge_data without template_id",
    ),
    (
        lambda: make_message(merge_global_data={"a": 1}),
        "merge_global_data without template_id",
    ),
]


class TestUnsupportedFeatures:
    @pytest.mark.parametrize("build, feature", UNSUPPORTED_CASES)
    def test_unsupported(self, api, build, feature):
        message = build()
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == f"Postmark does not support {feature}"
        assert api.call_count == 0
        assert message.anymail_status.status is None
        assert message.anymail_status.message_id is None
        assert message.anymail_status.recipients == {}

    @pytest.mark.parametrize("build, feature", UNSUPPORTED_CASES)
    def test_ignore_unsupported(self, api, build, feature):
        with postmark_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            assert build().send() == 1
        assert api.call_count == 1

    def test_ignored_features_dropped(self, api):
        message = make_message(
            envelope_sender="bounce@example.com",
            send_at=1651820889,
            tags=["first", "second"],
            headers={"To": "spoof@example.com"},
        )
        message.attach_alternative("<amp>", "text/x-amp-html")
        with postmark_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            message.send()
        assert sent_data(api) == {
            "From": "from@example.com",
            "To": "to@example.com",
            "Subject": "Subject",
            "TextBody": "Body",
            "Tag": "first",
        }

    def test_ignored_merge_data_without_template(self, api):
        api.set_response(200, [ok_result("a@example.com"), ok_result("b@example.com")])
        with postmark_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            make_message(
                to=["a@example.com", "b@example.com"],
                merge_data={"a@example.com": {"name": "A"}},
            ).send()
        assert endpoint(api) == "email/batch"
        first, second = sent_data(api)
        assert first["TemplateModel"] == {"name": "A"}
        assert "TemplateModel" not in second


# --------------------------------------------------------------------------------
# Batch sends
# --------------------------------------------------------------------------------


class TestBatchSends:
    def test_template_batch(self, api):
        api.set_response(
            200,
            [
                ok_result("alice@example.com", "id-alice"),
                ok_result("Bob <bob@example.com>", "id-bob"),
            ],
        )
        message = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "Bob <bob@example.com>"],
            cc=["cc@example.com"],
            template_id=1234567,
            merge_global_data={"group": "Users", "site": "ExampleCo"},
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "nobody@example.com": {"name": "Not a recipient"},
            },
            metadata={"campaign": "c1"},
            merge_metadata={"bob@example.com": {"uid": 2}},
            esp_extra={"InlineCss": True},
        )
        message.send()
        assert endpoint(api) == "email/batchWithTemplates"
        assert sent_data(api) == {
            "Messages": [
                {
                    "From": "from@example.com",
                    "To": "alice@example.com",
                    "Cc": "cc@example.com",
                    "TemplateId": 1234567,
                    "TemplateModel": {
                        "name": "Alice",
                        "group": "Developers",
                        "site": "ExampleCo",
                    },
                    "Metadata": {"campaign": "c1"},
                    "InlineCss": True,
                },
                {
                    "From": "from@example.com",
                    "To": "Bob <bob@example.com>",
                    "Cc": "cc@example.com",
                    "TemplateId": 1234567,
                    "TemplateModel": {"group": "Users", "site": "ExampleCo"},
                    "Metadata": {"campaign": "c1", "uid": 2},
                    "InlineCss": True,
                },
            ]
        }
        status = message.anymail_status
        assert status.status == {"sent"}
        assert status.message_id == {"id-alice", "id-bob"}
        assert status.recipients["alice@example.com"].message_id == "id-alice"
        assert status.recipients["bob@example.com"].message_id == "id-bob"
        # cc gets each successful result's id in turn: the last one wins
        assert status.recipients["cc@example.com"].message_id == "id-bob"
        assert status.recipients["cc@example.com"].status == "sent"

    def test_spec_example(self, api):
        api.set_response(200, [ok_result("alice@example.com")])
        AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com"],
            template_id=1234567,
            merge_global_data={"group": "Users", "site": "ExampleCo"},
            merge_data={"alice@example.com": {"name": "Alice", "group": "Developers"}},
        ).send()
        assert sent_data(api)["Messages"][0] == {
            "From": "from@example.com",
            "To": "alice@example.com",
            "TemplateId": 1234567,
            "TemplateModel": {
                "name": "Alice",
                "group": "Developers",
                "site": "ExampleCo",
            },
        }

    def test_template_without_global_model(self, api):
        api.set_response(200, [ok_result("a@example.com"), ok_result("b@example.com")])
        AnymailMessage(
            from_email="from@example.com",
            to=["a@example.com", "b@example.com"],
            template_id="alias",
            merge_data={"a@example.com": {"name": "A"}},
        ).send()
        first, second = sent_data(api)["Messages"]
        assert first["TemplateModel"] == {"name": "A"}
        assert second["TemplateModel"] == {}
        assert first["TemplateAlias"] == second["TemplateAlias"] == "alias"

    def test_merge_keys_match_addr_spec_case_sensitively(self, api):
        api.set_response(
            200, [ok_result("Alice@example.com"), ok_result("b@example.com")]
        )
        AnymailMessage(
            from_email="from@example.com",
            to=["Alice <Alice@example.com>", "b@example.com"],
            template_id=1234567,
            merge_global_data={"name": "friend"},
            merge_data={
                "alice@example.com": {"name": "Alice"},
                "b@example.com": {"name": "B"},
            },
            merge_metadata={
                "ALICE@EXAMPLE.COM": {"uid": "alice"},
                "b@example.com": {"uid": "b"},
            },
        ).send()
        first, second = sent_data(api)["Messages"]
        # keys differing only in case from the recipient's addr_spec don't apply
        assert first["TemplateModel"] == {"name": "friend"}
        assert "Metadata" not in first
        assert second["TemplateModel"] == {"name": "B"}
        assert second["Metadata"] == {"uid": "b"}

    def test_batch_without_template(self, api):
        api.set_response(200, [ok_result("a@example.com"), ok_result("b@example.com")])
        make_message(
            to=["a@example.com", "Bee <b@exämple.com>"],
            bcc=["bcc@exämple.com"],
            tags=["tag"],
            merge_metadata={"a@example.com": {"order": 1}},
        ).send()
        assert endpoint(api) == "email/batch"
        common = {
            "From": "from@example.com",
            "Bcc": "bcc@xn--exmple-cua.com",
            "Subject": "Subject",
            "TextBody": "Body",
            "Tag": "tag",
        }
        # The batch To is not IDNA-encoded (unlike the top-level and bulk To)
        assert sent_data(api) == [
            {**common, "To": "a@example.com", "Metadata": {"order": 1}},
            {**common, "To": "Bee <b@exämple.com>"},
        ]

    def test_empty_merge_data_forces_batch(self, api):
        api.set_response(200, [ok_result("a@example.com")])
        make_message(to=["a@example.com"], merge_data={}).send()
        assert endpoint(api) == "email/batch"
        assert sent_data(api) == [
            {
                "From": "from@example.com",
                "To": "a@example.com",
                "Subject": "Subject",
                "TextBody": "Body",
            }
        ]

    def test_merge_headers(self, api):
        api.set_response(200, [ok_result("a@example.com"), ok_result("b@example.com")])
        make_message(
            to=["a@example.com", "b@example.com"],
            headers={"X-Global": "g", "List-Unsubscribe": "<mailto:u@example.com>"},
            merge_headers={
                "a@example.com": {
                    "list-unsubscribe": "<mailto:a@example.com>",
                    "X-Only-A": "a",
                },
            },
        ).send()
        assert endpoint(api) == "email/batch"
        first, second = sent_data(api)
        assert first["Headers"] == [
            {"Name": "X-Global", "Value": "g"},
            {"Name": "list-unsubscribe", "Value": "<mailto:a@example.com>"},
            {"Name": "X-Only-A", "Value": "a"},
        ]
        assert second["Headers"] == [
            {"Name": "X-Global", "Value": "g"},
            {"Name": "List-Unsubscribe", "Value": "<mailto:u@example.com>"},
        ]

    def test_merge_headers_without_global_headers(self, api):
        api.set_response(200, [ok_result("a@example.com"), ok_result("b@example.com")])
        make_message(
            to=["a@example.com", "b@example.com"],
            merge_headers={"b@example.com": {"X-B": "b"}},
        ).send()
        first, second = sent_data(api)
        assert "Headers" not in first
        assert second["Headers"] == [{"Name": "X-B", "Value": "b"}]

    def test_batch_shares_attachments(self, api):
        message = make_message(to=["a@example.com", "b@example.com"], merge_metadata={})
        message.attach("big.bin", b"x" * 1000, "application/octet-stream")
        backend = get_connection()
        payload = backend.build_message_payload(message, backend.send_defaults)
        first, second = (payload.batch_message(to) for to in payload.to_emails)
        assert first["Attachments"] is second["Attachments"]
        assert first["Attachments"] is payload.data["Attachments"]

    def test_batch_partial_failure(self, api):
        api.set_response(
            200,
            [
                ok_result("a@example.com", "id-a"),
                {
                    "ErrorCode": 406,
                    "Message": "You tried to send to a recipient that has been marked"
                    " as inactive.\nFound inactive addresses: b@example.com.\n"
                    "Inactive recipients are ones that have generated a hard bounce"
                    " or a spam complaint.",
                },
            ],
        )
        message = make_message(
            to=["a@example.com", "B@example.com"],
            cc=["cc@example.com"],
            merge_metadata={},
        )
        message.send()
        recipients = message.anymail_status.recipients
        assert recipients["a@example.com"].status == "sent"
        assert recipients["B@example.com"].status == "rejected"
        assert recipients["B@example.com"].message_id is None
        assert recipients["cc@example.com"].message_id == "id-a"
        assert message.anymail_status.status == {"sent", "rejected"}

    def test_batch_all_rejected(self, api):
        inactive = (
            "Found inactive addresses: {}. Inactive recipients are ones that have ..."
        )
        api.set_response(
            422,
            [
                {"ErrorCode": 406, "Message": inactive.format("a@example.com")},
                {"ErrorCode": 406, "Message": inactive.format("b@example.com")},
            ],
        )
        message = make_message(to=["a@example.com", "b@example.com"], merge_data={})
        with pytest.raises(AnymailRecipientsRefused):
            message.send()
        assert message.anymail_status.status == {"rejected"}

    def test_batch_other_error(self, api):
        api.set_response(
            200,
            [
                ok_result("a@example.com"),
                {"ErrorCode": 451, "Message": "Something went wrong with b."},
            ],
        )
        message = make_message(to=["a@example.com", "b@example.com"], merge_data={})
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert "Something went wrong with b." in str(excinfo.value)


# --------------------------------------------------------------------------------
# Response parsing and errors
# --------------------------------------------------------------------------------

INACTIVE_406_MESSAGE = (
    "You tried to send to a recipient that has been marked as inactive.\n"
    "Found inactive addresses: hardbounce@example.com, spam@example.com.\n"
    "Inactive recipients are ones that have generated a hard bounce or a spam"
    " complaint."
)


class TestResponses:
    def test_success(self, api):
        api.set_response(
            200,
            ok_result("Recipient <to1@example.com>", "abcdef01-2345-6789-0123-4567"),
        )
        message = make_message(to=["Recipient <to1@example.com>"])
        assert message.send() == 1
        status = message.anymail_status
        assert status.status == {"sent"}
        assert status.message_id == "abcdef01-2345-6789-0123-4567"
        assert status.recipients["to1@example.com"].status == "sent"
        assert status.recipients["to1@example.com"].message_id == (
            "abcdef01-2345-6789-0123-4567"
        )
        assert isinstance(status.esp_response, requests.Response)
        assert status.esp_response.json()["MessageID"] == (
            "abcdef01-2345-6789-0123-4567"
        )

    def test_success_multiple_recipients(self, api):
        api.set_response(
            200, ok_result("to1@example.com, Two <To2@example.com>", "msg-id")
        )
        message = make_message(
            to=["to1@example.com", "Two <to2@example.com>"], bcc=["bcc@example.com"]
        )
        message.send()
        recipients = message.anymail_status.recipients
        assert set(recipients) == {
            "to1@example.com",
            "to2@example.com",
            "bcc@example.com",
        }
        assert {r.message_id for r in recipients.values()} == {"msg-id"}
        assert {r.status for r in recipients.values()} == {"sent"}

    def test_delivery_may_be_delayed(self, api):
        # Postmark omits ErrorCode from this response
        api.set_response(
            200,
            {
                "To": "to@example.com",
                "SubmittedAt": SUBMITTED_AT,
                "MessageID": "delayed-id",
                "Message": "Message accepted, but delivery may be delayed.",
            },
        )
        message = make_message()
        message.send()
        assert message.anymail_status.status == {"queued"}
        assert message.anymail_status.message_id == "delayed-id"

    def test_inactive_addresses_in_success(self, api):
        api.set_response(
            200,
            {
                "To": "HardBounce@example.com, good@example.com,"
                " Spam <spam@example.com>",
                "SubmittedAt": SUBMITTED_AT,
                "MessageID": "ok-id",
                "ErrorCode": 0,
                "Message": "Message OK, but will not deliver to these inactive"
                " addresses: hardbounce@example.com, spam@example.com. Inactive"
                " recipients are ones that have generated a hard bounce or a spam"
                " complaint.",
            },
        )
        message = make_message(
            to=["HardBounce@example.com", "good@example.com", "Spam <spam@example.com>"]
        )
        message.send()
        recipients = message.anymail_status.recipients
        assert list(recipients) == [
            "HardBounce@example.com",
            "good@example.com",
            "spam@example.com",
        ]
        assert recipients["HardBounce@example.com"].status == "rejected"
        assert recipients["HardBounce@example.com"].message_id is None
        assert recipients["spam@example.com"].status == "rejected"
        assert recipients["good@example.com"].status == "sent"
        assert recipients["good@example.com"].message_id == "ok-id"
        assert message.anymail_status.message_id == {"ok-id", None}

    def test_inactive_recipients_406(self, api):
        api.set_response(422, {"ErrorCode": 406, "Message": INACTIVE_406_MESSAGE})
        message = make_message(
            to=["HardBounce@example.com", "Hates Spam <spam@example.com>"]
        )
        with pytest.raises(AnymailRecipientsRefused) as excinfo:
            message.send()
        assert str(excinfo.value) == "All message recipients were rejected or invalid"
        recipients = message.anymail_status.recipients
        assert set(recipients) == {"HardBounce@example.com", "spam@example.com"}
        assert recipients["HardBounce@example.com"].status == "rejected"
        assert recipients["spam@example.com"].status == "rejected"
        assert message.anymail_status.status == {"rejected"}
        assert message.anymail_status.message_id is None
        assert message.anymail_status.esp_response.status_code == 422

    def test_ignore_recipient_status(self, api):
        api.set_response(422, {"ErrorCode": 406, "Message": INACTIVE_406_MESSAGE})
        message = make_message(to=["hardbounce@example.com"])
        with postmark_settings(IGNORE_RECIPIENT_STATUS=True):
            assert message.send() == 1
        assert message.anymail_status.status == {"rejected"}

    def test_some_recipients_rejected(self, api):
        api.set_response(422, {"ErrorCode": 406, "Message": INACTIVE_406_MESSAGE})
        message = make_message(to=["spam@example.com", "other@example.com"])
        assert message.send() == 1  # no error: other@ isn't rejected
        recipients = message.anymail_status.recipients
        assert recipients["spam@example.com"].status == "rejected"
        assert recipients["other@example.com"].status == "unknown"
        # Addresses Postmark reports that weren't in the message are added
        assert recipients["hardbounce@example.com"].status == "rejected"

    @pytest.mark.parametrize(
        "field, error_message, address",
        [
            ("to", "Invalid 'To' address: 'Invalid@localhost'.", "Invalid@localhost"),
            ("cc", "INVALID 'Cc' address: 'bad@example'.", "bad@example"),
            (
                "bcc",
                "Error parsing 'Bcc': Illegal email address in address 'bad@x'.",
                "bad@x",
            ),
            ("to", "Error parsing 'To': Illegal address: 'invalid@localhost'.", None),
            (
                "cc",
                "Error parsing 'Cc': Illegal email address in address 'bad-cc@x'."
                " It must contain the '@' symbol.",
                "bad-cc@x",
            ),
            ("bcc", "Invalid 'Bcc' address: 'bad-bcc@localhost'.", "bad-bcc@localhost"),
        ],
    )
    def test_invalid_recipient_300(self, api, field, error_message, address):
        address = address or "invalid@localhost"
        api.set_response(422, {"ErrorCode": 300, "Message": error_message})
        message = make_message(**{field: [address]})
        if field != "to":
            message.to = []
        with pytest.raises(AnymailRecipientsRefused):
            message.send()
        assert message.anymail_status.recipients[address].status == "invalid"
        assert message.anymail_status.recipients[address].message_id is None

    def test_invalid_recipient_with_apostrophe(self, api):
        api.set_response(
            422,
            {"ErrorCode": 300, "Message": "Invalid 'To' address: 'o'brien@localhost'."},
        )
        message = make_message(to=["o'brien@localhost"])
        with pytest.raises(AnymailRecipientsRefused):
            message.send()
        recipients = message.anymail_status.recipients
        assert list(recipients) == ["o'brien@localhost"]
        assert recipients["o'brien@localhost"].status == "invalid"

    def test_invalid_recipient_with_valid_ones(self, api):
        api.set_response(
            422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'bad@localhost'."}
        )
        message = make_message(to=["BAD@localhost", "ok@example.com"])
        assert message.send() == 1
        recipients = message.anymail_status.recipients
        assert recipients["BAD@localhost"].status == "invalid"
        assert recipients["ok@example.com"].status == "unknown"
        assert message.anymail_status.status == {"invalid", "unknown"}

    @pytest.mark.parametrize(
        "error_message",
        [
            "Invalid 'From' address: 'from@localhost'.",
            "Invalid 'ReplyTo' address: 'x@localhost'.",
            "Invalid metadata content. Field names are limited to 20 characters.",
        ],
    )
    def test_other_300_errors(self, api, error_message):
        api.set_response(422, {"ErrorCode": 300, "Message": error_message})
        message = make_message()
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert not isinstance(excinfo.value, AnymailRecipientsRefused)
        assert error_message in str(excinfo.value)
        assert "Postmark API response 422" in str(excinfo.value)
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is not None

    @pytest.mark.parametrize(
        "body",
        [
            {"ErrorCode": 406, "Message": "Inactive recipient (no address list)."},
            {"ErrorCode": 300, "Message": "Invalid 'To' address."},
        ],
    )
    def test_refusal_without_addresses_is_error(self, api, body):
        # Nothing was sent, but there's no way to tell which recipients failed
        api.set_response(422, body)
        with pytest.raises(AnymailAPIError) as excinfo:
            make_message().send()
        assert not isinstance(excinfo.value, AnymailRecipientsRefused)
        assert body["Message"] in str(excinfo.value)

    def test_http_error_with_error_code(self, api):
        api.set_response(
            401,
            {
                "ErrorCode": 10,
                "Message": "No Account or Server API tokens were supplied in the"
                " HTTP headers.",
            },
        )
        message = make_message()
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        error = excinfo.value
        assert error.status_code == 401
        assert str(error).startswith("Postmark API response 401 (UNAUTHORIZED):\n")
        assert "No Account or Server API tokens" in str(error)
        assert TOKEN not in str(error)
        assert message.anymail_status.status is None
        assert message.anymail_status.message_id is None
        assert message.anymail_status.recipients == {}
        assert message.anymail_status.esp_response is None

    def test_unknown_error_code_with_http_200(self, api):
        api.set_response(200, {"ErrorCode": 451, "Message": "Mysterious failure."})
        with pytest.raises(AnymailAPIError) as excinfo:
            make_message().send()
        assert '"Message": "Mysterious failure."' in str(excinfo.value)
        assert "Postmark API response 200" in str(excinfo.value)

    def test_error_code_422_not_recipient_related(self, api):
        api.set_response(
            422, {"ErrorCode": 401, "Message": "Sender signature not confirmed."}
        )
        with pytest.raises(AnymailAPIError, match="Sender signature not confirmed"):
            make_message().send()

    def test_500_non_json(self, api):
        api.set_response(500, "Invalid API key", reason="Internal Server Error")
        with pytest.raises(AnymailAPIError) as excinfo:
            make_message().send()
        assert str(excinfo.value) == (
            "Postmark API response 500 (Internal Server Error): 'Invalid API key'"
        )

    @pytest.mark.parametrize("status_code", [200, 422])
    def test_invalid_json(self, api, status_code):
        # (a 422 body is parsed like a success body, so it must be JSON too)
        api.set_response(status_code, "this isn't json")
        message = make_message()
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid JSON in Postmark API response")
        assert excinfo.value.status_code == status_code
        # The response was received, but not parsed
        assert message.anymail_status.esp_response.text == "this isn't json"
        assert message.anymail_status.status is None
        assert message.anymail_status.recipients == {}

    @pytest.mark.parametrize(
        "body",
        [
            {"To": "to@example.com", "MessageID": "x", "ErrorCode": 0},  # no Message
            {"To": "to@example.com", "MessageID": "x", "ErrorCode": 0, "Message": None},
            ["not a dict"],
            [ok_result(), "not a dict"],
            "[1, 2]",
        ],
    )
    def test_invalid_response_format(self, api, body):
        api.set_response(200, body)
        message = make_message()
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid Postmark API response format\n")
        assert message.anymail_status.esp_response is not None
        assert message.anymail_status.status is None

    def test_unparseable_to_in_success_result(self, api):
        api.set_response(
            200,
            {
                "To": "Undisclosed recipients:;",
                "MessageID": "x",
                "ErrorCode": 0,
                "Message": "OK",
            },
        )
        message = make_message()
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid Postmark API response format\n")

    def test_missing_message_id(self, api):
        api.set_response(200, {"To": "to@example.com", "ErrorCode": 0, "Message": "OK"})
        with pytest.raises(AnymailAPIError) as excinfo:
            make_message().send()
        assert str(excinfo.value).startswith(
            "Invalid Postmark API success response format\n"
        )

    def test_unmentioned_recipients_stay_unknown(self, api):
        api.set_response(200, ok_result("a@example.com", "id-a"))
        message = make_message(to=["a@example.com", "b@example.com"])
        message.send()
        recipients = message.anymail_status.recipients
        assert recipients["a@example.com"].status == "sent"
        assert recipients["b@example.com"].status == "unknown"
        assert recipients["b@example.com"].message_id is None
        assert message.anymail_status.message_id == {"id-a", None}

    def test_server_token_not_in_error_texts(self, api):
        api.set_response(422, {"ErrorCode": 300, "Message": "Invalid 'From' address."})
        with pytest.raises(AnymailAPIError) as excinfo:
            make_message(esp_extra={"server_token": "secret-per-message"}).send()
        assert "secret-per-message" not in str(excinfo.value)
        assert TOKEN not in str(excinfo.value)


class TestSerialization:
    def test_non_serializable_merge_data_in_batch(self, api):
        message = make_message(
            template_id=1, merge_data={"to@example.com": {"when": Decimal(1)}}
        )
        with pytest.raises(AnymailSerializationError):
            message.send()
        assert api.call_count == 0

    def test_lazy_strings_nested_in_lists_serialized(self, api):
        # (force_non_lazy_dict only descends into mappings; the JSON encoder
        # turns lazy strings anywhere else into str)
        message = make_message(
            template_id=1,
            merge_global_data={"items": [gettext_lazy("Apple"), {"n": [1]}]},
            merge_data={"to@example.com": {"tags": (gettext_lazy("Tag"),)}},
        )
        message.send()
        (sent,) = json.loads(api.last_call["data"])["Messages"]
        assert sent["TemplateModel"] == {
            "items": ["Apple", {"n": [1]}],
            "tags": ["Tag"],
        }


# --------------------------------------------------------------------------------
# Bulk API (POSTMARK_USE_BULK_API)
# --------------------------------------------------------------------------------

BULK_RESPONSE = {
    "Id": "blk-51",
    "SubmittedAt": "2026-01-05T10:00:00Z",
    "TotalMessages": 2,
    "PercentageCompleted": 0,
    "Status": "Accepted",
    "Subject": "Hello {{name}}",
}


@pytest.fixture
def bulk_api(requests_mock):
    requests_mock.set_response(200, BULK_RESPONSE)
    with postmark_settings(POSTMARK_USE_BULK_API=True):
        yield requests_mock


class TestBulkApi:
    def test_spec_example(self, bulk_api):
        message = AnymailMessage(
            from_email="news@example.com",
            subject="Hello {{name}}",
            body="Hi {{name}}",
            to=["alice@example.com", "Bob <bob@example.com>"],
            metadata={"campaign": "c1"},
            merge_global_data={"name": "friend", "site": "Example"},
            merge_data={"alice@example.com": {"name": "Alice"}},
            merge_metadata={"bob@example.com": {"uid": "7"}},
        )
        with (
            postmark_settings(
                POSTMARK_USE_BULK_API=True, POSTMARK_MESSAGE_STREAM="broadcast"
            ),
            fixed_uuids(UUID_1, UUID_2),
        ):
            message.send()
        call = bulk_api.last_call
        assert call["url"] == "https://api.postmarkapp.com/email/bulk"
        assert call["method"] == "POST"
        assert call["headers"] == {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Postmark-Server-Token": TOKEN,
        }
        assert json.loads(call["data"]) == {
            "MessageStream": "broadcast",
            "From": "news@example.com",
            "Subject": "Hello {{name}}",
            "TextBody": "Hi {{name}}",
            "Messages": [
                {
                    "To": "alice@example.com",
                    "TemplateModel": {"name": "Alice", "site": "Example"},
                    "Metadata": {"campaign": "c1", "anymail_id": UUID_1},
                },
                {
                    "To": "Bob <bob@example.com>",
                    "TemplateModel": {"name": "friend", "site": "Example"},
                    "Metadata": {"campaign": "c1", "uid": "7", "anymail_id": UUID_2},
                },
            ],
        }
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == {UUID_1, UUID_2}
        assert status.recipients["alice@example.com"].message_id == UUID_1
        assert status.recipients["bob@example.com"].message_id == UUID_2
        assert status.recipients["bob@example.com"].status == "queued"

    def test_single_recipient(self, bulk_api):
        message = make_message()
        with fixed_uuids(UUID_1):
            message.send()
        assert endpoint(bulk_api) == "email/bulk"
        assert sent_data(bulk_api) == {
            "From": "from@example.com",
            "Subject": "Subject",
            "TextBody": "Body",
            "Messages": [{"To": "to@example.com", "Metadata": {"anymail_id": UUID_1}}],
        }
        assert message.anymail_status.status == {"queued"}
        assert message.anymail_status.message_id == UUID_1

    def test_generated_ids_are_uuid4_strings(self, bulk_api):
        message = make_message(to=["a@example.com", "b@example.com"])
        message.send()
        ids = [
            entry["Metadata"]["anymail_id"] for entry in sent_data(bulk_api)["Messages"]
        ]
        assert len(set(ids)) == 2
        for message_id in ids:
            assert str(uuid.UUID(message_id, version=4)) == message_id
        assert message.anymail_status.message_id == set(ids)

    def test_each_recipient_gets_own_id(self, bulk_api):
        # Departure from 15.2's shared-metadata quirk: every entry has its own id
        message = make_message(
            to=["a@example.com", "b@example.com", "c@example.com"],
            merge_metadata={"b@example.com": {"vip": True}},
        )
        with fixed_uuids(UUID_1, UUID_2, UUID_3):
            message.send()
        assert [m["Metadata"] for m in sent_data(bulk_api)["Messages"]] == [
            {"anymail_id": UUID_1},
            {"vip": True, "anymail_id": UUID_2},
            {"anymail_id": UUID_3},
        ]
        recipients = message.anymail_status.recipients
        assert recipients["a@example.com"].message_id == UUID_1
        assert recipients["c@example.com"].message_id == UUID_3

    def test_repeated_address_keeps_last_id(self, bulk_api):
        message = make_message(to=["a@example.com", "A <a@example.com>"])
        with fixed_uuids(UUID_1, UUID_2):
            message.send()
        assert [m["Metadata"] for m in sent_data(bulk_api)["Messages"]] == [
            {"anymail_id": UUID_2},
            {"anymail_id": UUID_2},
        ]
        assert message.anymail_status.message_id == UUID_2

    def test_cc_bcc_and_status(self, bulk_api):
        message = make_message(
            to=["alice@example.com", "bob@example.com"],
            cc=["carol@example.com"],
            bcc=["Dan <dan@exämple.com>"],
        )
        with fixed_uuids(UUID_1, UUID_2):
            message.send()
        data = sent_data(bulk_api)
        assert "Cc" not in data
        assert "Bcc" not in data
        assert "To" not in data
        for entry in data["Messages"]:
            assert entry["Cc"] == "carol@example.com"
            assert entry["Bcc"] == "Dan <dan@xn--exmple-cua.com>"
        status = message.anymail_status
        assert status.recipients["alice@example.com"].status == "queued"
        assert status.recipients["bob@example.com"].message_id == UUID_2
        assert status.recipients["carol@example.com"].status == "unknown"
        assert status.recipients["carol@example.com"].message_id is None
        assert status.recipients["dan@exämple.com"].status == "unknown"
        assert status.status == {"queued", "unknown"}
        assert status.message_id == {UUID_1, UUID_2, None}

    def test_bulk_to_is_idna_encoded(self, bulk_api):
        make_message(to=["Bob <b@exämple.com>"]).send()
        assert sent_data(bulk_api)["Messages"][0]["To"] == "Bob <b@xn--exmple-cua.com>"

    def test_without_generated_ids(self, bulk_api):
        message = make_message(metadata={"campaign": "c"})
        with (
            postmark_settings(
                POSTMARK_USE_BULK_API=True, POSTMARK_GENERATE_MESSAGE_ID=False
            ),
            fixed_uuids() as uuid4,
        ):
            message.send()
        uuid4.assert_not_called()
        assert sent_data(bulk_api)["Messages"] == [
            {"To": "to@example.com", "Metadata": {"campaign": "c"}}
        ]
        assert message.anymail_status.status == {"unknown"}
        assert message.anymail_status.message_id is None

    def test_no_metadata_without_ids(self, bulk_api):
        with postmark_settings(
            POSTMARK_USE_BULK_API=True, POSTMARK_GENERATE_MESSAGE_ID=False
        ):
            make_message().send()
        assert sent_data(bulk_api)["Messages"] == [{"To": "to@example.com"}]

    def test_template(self, bulk_api):
        AnymailMessage(
            from_email="from@example.com",
            to=["a@example.com", "b@example.com"],
            template_id="welcome",
            merge_data={"b@example.com": {"name": "B"}},
            esp_extra={"TrackLinks": "HtmlOnly"},
        ).send()
        data = sent_data(bulk_api)
        assert endpoint(bulk_api) == "email/bulk"
        assert data["TemplateAlias"] == "welcome"
        assert data["TrackLinks"] == "HtmlOnly"
        assert "TemplateModel" not in data
        assert "Subject" not in data and "TextBody" not in data
        first, second = data["Messages"]
        assert "TemplateModel" not in first  # empty models are omitted
        assert second["TemplateModel"] == {"name": "B"}

    def test_no_template_checks(self, bulk_api):
        # merge_data and merge_global_data work with inline {{var}} templating
        message = make_message(
            merge_data={"to@example.com": {"name": "To"}},
            merge_global_data={"site": "Example"},
        )
        assert message.send() == 1
        entry = sent_data(bulk_api)["Messages"][0]
        assert entry["TemplateModel"] == {"site": "Example", "name": "To"}

    def test_esp_extra_template_model_moved_into_messages(self, bulk_api):
        make_message(esp_extra={"TemplateModel": {"x": 1}}).send()
        data = sent_data(bulk_api)
        assert "TemplateModel" not in data
        assert data["Messages"][0]["TemplateModel"] == {"x": 1}

    def test_other_unsupported_features_still_raise(self, bulk_api):
        with pytest.raises(AnymailUnsupportedFeature, match="send_at"):
            make_message(send_at=1651820889).send()
        assert bulk_api.call_count == 0

    def test_merge_headers(self, bulk_api):
        make_message(
            to=["a@example.com", "b@example.com", "c@example.com"],
            headers={"X-Global": "g", "X-Override": "global"},
            merge_headers={
                "a@example.com": {"x-override": "a", "X-New": "new"},
                "c@example.com": {},
            },
        ).send()
        data = sent_data(bulk_api)
        global_headers = [
            {"Name": "X-Global", "Value": "g"},
            {"Name": "X-Override", "Value": "global"},
        ]
        assert data["Headers"] == global_headers
        first, second, third = data["Messages"]
        assert first["Headers"] == [
            {"Name": "X-Global", "Value": "g"},
            {"Name": "x-override", "Value": "a"},
            {"Name": "X-New", "Value": "new"},
        ]
        assert "Headers" not in second
        assert third["Headers"] == global_headers

    def test_merge_headers_without_global_headers(self, bulk_api):
        make_message(merge_headers={"to@example.com": {"X-Only": "1"}}).send()
        data = sent_data(bulk_api)
        assert "Headers" not in data
        assert data["Messages"][0]["Headers"] == [{"Name": "X-Only", "Value": "1"}]

    def test_shared_fields_stay_top_level(self, bulk_api):
        message = make_message(
            reply_to=["reply@example.com"],
            tags=["news"],
            track_opens=True,
            track_clicks=False,
            esp_extra={"Messages": "overwritten", "server_token": "bulk_token"},
        )
        message.attach("a.txt", "text", "text/plain")
        message.send()
        data = sent_data(bulk_api)
        assert data["ReplyTo"] == "reply@example.com"
        assert data["Tag"] == "news"
        assert data["TrackOpens"] is True
        assert data["TrackLinks"] == "None"
        assert data["Attachments"][0]["Name"] == "a.txt"
        assert isinstance(data["Messages"], list)
        assert "server_token" not in data
        assert bulk_api.last_call["headers"]["X-Postmark-Server-Token"] == "bulk_token"

    def test_cc_only_message(self, bulk_api):
        message = make_message(to=[], cc=["cc@example.com"])
        message.send()
        data = sent_data(bulk_api)
        assert data["Messages"] == []
        assert "Cc" not in data
        assert message.anymail_status.status == {"unknown"}

    def test_bulk_not_enabled_error(self, bulk_api):
        bulk_api.set_response(
            422,
            {
                "ErrorCode": 14,
                "Message": "This endpoint requires approval. Contact support.",
            },
        )
        with pytest.raises(AnymailAPIError) as excinfo:
            make_message().send()
        assert "Postmark API response 422" in str(excinfo.value)
        assert "This endpoint requires approval" in str(excinfo.value)

    def test_bulk_inactive_recipients(self, bulk_api):
        bulk_api.set_response(422, {"ErrorCode": 406, "Message": INACTIVE_406_MESSAGE})
        message = make_message(to=["spam@example.com"])
        with pytest.raises(AnymailRecipientsRefused):
            message.send()
        assert message.anymail_status.recipients["spam@example.com"].status == (
            "rejected"
        )

    def test_bulk_invalid_recipient_300(self, bulk_api):
        # Not a bulk (PercentageCompleted) response: parsed as for other endpoints
        bulk_api.set_response(
            422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'bad@localhost'."}
        )
        message = make_message(to=["Bad@localhost"])
        with fixed_uuids(UUID_1), pytest.raises(AnymailRecipientsRefused):
            message.send()
        assert endpoint(bulk_api) == "email/bulk"
        recipients = message.anymail_status.recipients
        assert list(recipients) == ["Bad@localhost"]
        assert recipients["Bad@localhost"].status == "invalid"
        assert recipients["Bad@localhost"].message_id is None  # (not the generated id)

    def test_bulk_response_without_status_fields(self, bulk_api):
        bulk_api.set_response(200, {"Id": "blk-1", "Status": "Accepted"})
        with pytest.raises(AnymailAPIError) as excinfo:
            make_message().send()
        assert str(excinfo.value).startswith("Invalid Postmark API response format")

    def test_bulk_response_recognized_on_any_endpoint(self, api):
        api.set_response(200, BULK_RESPONSE)
        message = make_message()
        message.send()
        assert message.anymail_status.status == {"unknown"}


class TestGenerateMessageIdWithoutBulk:
    def test_ids_not_sent(self, api):
        api.set_response(200, ok_result("to@example.com", "pm-id"))
        message = make_message(metadata={"a": 1})
        with postmark_settings(POSTMARK_GENERATE_MESSAGE_ID=True):
            message.send()
        assert endpoint(api) == "email"
        assert sent_data(api)["Metadata"] == {"a": 1}
        assert message.anymail_status.message_id == "pm-id"
