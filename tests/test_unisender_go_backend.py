"""Tests for the Unisender Go (Web API v1 email/send.json) sending backend."""

import io
import json
import uuid
from contextlib import redirect_stdout
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

from anymail.backends.unisender_go import EmailBackend, UnisenderGoPayload
from anymail.exceptions import (
    AnymailAPIError,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .conftest import b64

BACKEND = "anymail.backends.unisender_go.EmailBackend"
API_URL = "https://go1.unisender.ru/ru/transactional/api/v1/"
SEND_URL = API_URL + "email/send.json"
CREDENTIALS = {"UNISENDER_GO_API_KEY": "test-api-key", "UNISENDER_GO_API_URL": API_URL}
API_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "X-API-KEY": "test-api-key",
}
JOB_ID = "1ZymBc-00041N-9X"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)

#: The ids the patched uuid.uuid4 hands out, in order
IDS = [str(uuid.UUID(int=n)) for n in range(1, 21)]


def success_response(*emails, failed=None):
    body = {"status": "success", "job_id": JOB_ID, "emails": list(emails)}
    if failed is not None:
        body["failed_emails"] = failed
    return body


@pytest.fixture(autouse=True)
def unisender_go_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL=CREDENTIALS):
        yield


@pytest.fixture(autouse=True)
def uuids():
    """Predictable generated message ids: IDS, in order."""
    ids = iter(uuid.UUID(id_) for id_ in IDS)
    with mock.patch(
        "anymail.backends.unisender_go.uuid.uuid4", side_effect=lambda: next(ids)
    ) as uuid4:
        yield uuid4


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


def anymail_settings(**extra):
    return override_settings(ANYMAIL={**CREDENTIALS, **extra})


def sent_message(api):
    """The "message" object the API received."""
    body = api.last_json()
    assert list(body) == ["message"]
    return body["message"]


def sent_recipients(api):
    return sent_message(api)["recipients"]


def sent_headers(api):
    return sent_message(api).get("headers")


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
            "message": {
                "headers": {"to": "to@example.com"},
                "recipients": [
                    {"email": "to@example.com", "metadata": {"anymail_id": IDS[0]}}
                ],
                "from_email": "from@example.com",
                "subject": "Subject here",
                "body": {"plaintext": "Here is the message."},
            }
        }

    def test_spec_example(self, api):
        api.set_response(
            200,
            success_response("alice@example.com", "bob@example.com", "cc@example.com"),
        )
        msg = AnymailMessage(
            "Your order",
            "Hi",
            "Shop <shop@example.com>",
            ["Alice <alice@example.com>", "bob@example.com"],
            cc=["cc@example.com"],
            headers={"X-Order": "123"},
            metadata={"campaign": "x"},
            tags=["orders"],
            track_clicks=False,
            track_opens=True,
            send_at=datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc),
        )
        msg.attach_alternative("<p>Hi</p>", "text/html")
        msg.send()
        assert api.last_json() == {
            "message": {
                "headers": {
                    "to": "Alice <alice@example.com>, bob@example.com",
                    "cc": "cc@example.com",
                    "X-Order": "123",
                },
                "recipients": [
                    {
                        "email": "alice@example.com",
                        "substitutions": {"to_name": "Alice"},
                        "metadata": {"anymail_id": IDS[0]},
                    },
                    {"email": "bob@example.com", "metadata": {"anymail_id": IDS[1]}},
                    {"email": "cc@example.com", "metadata": {"anymail_id": IDS[2]}},
                ],
                "from_email": "shop@example.com",
                "from_name": "Shop",
                "subject": "Your order",
                "body": {"plaintext": "Hi", "html": "<p>Hi</p>"},
                "global_metadata": {"campaign": "x"},
                "tags": ["orders"],
                "track_links": 0,
                "track_read": 1,
                "options": {"send_at": "2024-05-01 10:00:00"},
            }
        }
        assert msg.anymail_status.message_id == set(IDS[:3])

    def test_json_body_is_ascii_escaped(self, api, message):
        message.subject = "Café ☕"
        message.send()
        data = api.last_call["data"]
        raw = data.decode("ascii") if isinstance(data, (bytes, bytearray)) else data
        assert raw.isascii()
        assert r'"subject": "Caf\u00e9 \u2615"' in raw
        assert sent_message(api)["subject"] == "Café ☕"

    def test_debug_api_requests_redacts_api_key(self, message):
        # (real HTTP to a local stand-in server, so the debug hook runs)
        from example.standin import StandIn

        with StandIn() as server:
            server.respond_next(200, success_response("to@example.com"))
            url = server.api_url("unisender_go")
            output = io.StringIO()
            with (
                anymail_settings(UNISENDER_GO_API_URL=url, DEBUG_API_REQUESTS=True),
                redirect_stdout(output),
            ):
                message.send()
            received = server.last_request
        assert received.header("X-API-KEY") == "test-api-key"
        assert received.json()["message"]["subject"] == "Subject"
        output = output.getvalue()
        assert output.startswith(
            f"\n===== Anymail API request\nPOST {url}email/send.json\n"
        )
        assert "\nX-API-KEY: <redacted>\n" in output
        assert "\nAccept: application/json\n" in output
        assert "test-api-key" not in output
        assert message.anymail_status.status == {"queued"}


class TestSettings:
    def test_trailing_slash_added(self):
        with anymail_settings(
            UNISENDER_GO_API_URL="https://go2.unisender.ru/ru/transactional/api/v1"
        ):
            connection = mail.get_connection()
        assert connection.api_url == "https://go2.unisender.ru/ru/transactional/api/v1/"

    def test_settings_via_kwargs(self, api, message):
        with override_settings(ANYMAIL={}):
            connection = mail.get_connection(
                api_key="kw-key",
                api_url="https://go2.unisender.ru/ru/transactional/api/v1",
                generate_message_id=False,
                workaround_display_name_bugs=False,
            )
        assert connection.api_url == "https://go2.unisender.ru/ru/transactional/api/v1/"
        assert connection.generate_message_id is False
        assert connection.workaround_display_name_bugs is False
        message.connection = connection
        message.to = ['"With, Comma" <to@example.com>']
        message.send()
        call = api.last_call
        assert call["headers"]["X-API-KEY"] == "kw-key"
        assert call["url"] == (
            "https://go2.unisender.ru/ru/transactional/api/v1/email/send.json"
        )
        data = sent_message(api)
        assert "metadata" not in data["recipients"][0]
        assert data["headers"]["to"] == '"With, Comma" <to@example.com>'

    def test_defaults(self):
        connection = mail.get_connection()
        assert connection.generate_message_id is True
        assert connection.workaround_display_name_bugs is True
        assert connection.api_url == API_URL

    def test_kwargs_consumed(self):
        with mock.patch.object(
            BaseEmailBackend, "__init__", autospec=True, return_value=None
        ) as django_init:
            EmailBackend(
                api_key="k",
                api_url=API_URL,
                generate_message_id=False,
                workaround_display_name_bugs=False,
                alias="ug",
            )
        assert django_init.call_args.kwargs == {"alias": "ug"}

    def test_optional_settings_consumed_when_in_settings(self):
        # (defaults come from settings, the kwargs are still removed)
        with (
            anymail_settings(UNISENDER_GO_GENERATE_MESSAGE_ID=False),
            mock.patch.object(
                BaseEmailBackend, "__init__", autospec=True, return_value=None
            ) as django_init,
        ):
            backend = EmailBackend(workaround_display_name_bugs=True, alias="ug")
        assert backend.generate_message_id is False
        assert django_init.call_args.kwargs == {"alias": "ug"}

    def test_send_defaults(self, api, message):
        with anymail_settings(
            UNISENDER_GO_SEND_DEFAULTS={"tags": ["default-tag"], "track_opens": True}
        ):
            message.send()
        data = sent_message(api)
        assert data["tags"] == ["default-tag"]
        assert data["track_read"] == 1

    def test_constructible_without_credentials_for_payload_tests(self):
        with override_settings(
            ANYMAIL={},
            ANYMAIL_UNISENDER_GO_API_KEY=None,
            ANYMAIL_UNISENDER_GO_API_URL="",
        ):
            backend = EmailBackend()
        assert backend.send_defaults == {}


class TestPayloadData:
    """UnisenderGoPayload.data: the message object before serialization."""

    @pytest.fixture
    def backend(self):
        with override_settings(
            ANYMAIL={},
            ANYMAIL_UNISENDER_GO_API_KEY=None,
            ANYMAIL_UNISENDER_GO_API_URL="",
        ):
            yield EmailBackend()

    def payload(self, backend, msg):
        return UnisenderGoPayload(
            message=msg, defaults=backend.send_defaults, backend=backend
        )

    def test_data(self, backend):
        msg = AnymailMessage(
            subject="subject",
            from_email="test name <sender@test.test>",
            to=["receiver <receiver@test.test>", "receiver1 <receiver1@test.test>"],
            template_id="template_id",
            merge_global_data={"arg": "arg"},
            merge_data={"receiver@test.test": {"arg1": "arg1"}},
        )
        payload = self.payload(backend, msg)
        assert payload.data == {
            "from_email": "sender@test.test",
            "from_name": "test name",
            "subject": "subject",
            "template_id": "template_id",
            "global_substitutions": {"arg": "arg"},
            "headers": {
                "to": "receiver <receiver@test.test>, receiver1 <receiver1@test.test>"
            },
            "recipients": [
                {
                    "email": "receiver@test.test",
                    "substitutions": {"arg1": "arg1", "to_name": "receiver"},
                },
                {
                    "email": "receiver1@test.test",
                    "substitutions": {"to_name": "receiver1"},
                },
            ],
        }

    def test_headers_case_insensitive(self, backend):
        msg = AnymailMessage(
            from_email="from@example.com",
            to=["to@example.com"],
            cc=["cc@example.com"],
            merge_data={},  # (a batch: still has To and Cc before serialization)
        )
        headers = self.payload(backend, msg).data["headers"]
        assert headers == {"To": "to@example.com", "CC": "cc@example.com"}
        assert headers["TO"] == "to@example.com"

    def test_serialize_leaves_data_unchanged(self, backend):
        msg = AnymailMessage(
            from_email="from@example.com", to=["to@example.com"], merge_data={}
        )
        payload = self.payload(backend, msg)
        first = json.loads(payload.serialize_data())
        second = json.loads(payload.serialize_data())
        assert first == second
        assert "headers" not in first["message"]
        assert payload.data["headers"] == {"to": "to@example.com"}
        assert first["message"]["recipients"][0]["metadata"] == {"anymail_id": IDS[0]}


class TestAddresses:
    def test_recipients_and_headers(self, api):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to1@example.com", "Recipient #2 <to2@example.com>"],
            cc=["cc1@example.com", "Copy 2 <cc2@example.com>"],
            bcc=["bcc1@example.com", "Blind Copy <bcc2@example.com>"],
        )
        msg.send()
        data = sent_message(api)
        assert data["recipients"] == [
            {"email": "to1@example.com", "metadata": {"anymail_id": IDS[0]}},
            {
                "email": "to2@example.com",
                "substitutions": {"to_name": "Recipient #2"},
                "metadata": {"anymail_id": IDS[1]},
            },
            {"email": "cc1@example.com", "metadata": {"anymail_id": IDS[2]}},
            {
                "email": "cc2@example.com",
                "substitutions": {"to_name": "Copy 2"},
                "metadata": {"anymail_id": IDS[3]},
            },
            {"email": "bcc1@example.com", "metadata": {"anymail_id": IDS[4]}},
            {
                "email": "bcc2@example.com",
                "substitutions": {"to_name": "Blind Copy"},
                "metadata": {"anymail_id": IDS[5]},
            },
        ]
        # no Bcc header
        assert data["headers"] == {
            "to": "to1@example.com, Recipient #2 <to2@example.com>",
            "cc": "cc1@example.com, Copy 2 <cc2@example.com>",
        }

    def test_no_cc_header_without_cc(self, api, message):
        message.bcc = ["bcc@example.com"]
        message.send()
        assert sent_headers(api) == {"to": "to@example.com"}

    def test_bcc_only_omits_headers(self, api, message):
        message.to = []
        message.bcc = ["bcc@example.com"]
        message.send()
        data = sent_message(api)
        assert "headers" not in data
        assert data["recipients"] == [
            {"email": "bcc@example.com", "metadata": {"anymail_id": IDS[0]}}
        ]

    def test_header_display_name_formatting(self, api, message):
        message.to = [
            "Recipient #1 <to1@example.com>",
            '"With, Comma" <to2@example.com>',
            '"(without) special / chars" <to3@example.com>',
            '"Angle <brackets>" <to4@example.com>',
            '"at@sign" <to5@example.com>',
            "Nön-ASCII <to6@example.com>",
        ]
        message.cc = ["Šárka Nováková <cc@příklad.example.cz>"]
        message.send()
        headers = sent_headers(api)
        assert headers["to"] == (
            "Recipient #1 <to1@example.com>, "
            "=?utf-8?q?With=2C_Comma?= <to2@example.com>, "
            '"(without) special / chars" <to3@example.com>, '
            "=?utf-8?q?Angle_=3Cbrackets=3E?= <to4@example.com>, "
            "=?utf-8?q?at=40sign?= <to5@example.com>, "
            "=?utf-8?q?N=C3=B6n-ASCII?= <to6@example.com>"
        )
        assert headers["cc"] == (
            "=?utf-8?b?xaDDoXJrYSBOb3bDoWtvdsOh?= <cc@xn--pklad-zsa96e.example.cz>"
        )
        # names in recipients are plain Unicode
        assert sent_recipients(api)[1]["substitutions"] == {"to_name": "With, Comma"}
        assert sent_recipients(api)[5]["substitutions"] == {"to_name": "Nön-ASCII"}
        assert sent_recipients(api)[6]["email"] == "cc@xn--pklad-zsa96e.example.cz"

    def test_header_display_names_without_workaround(self, api, message):
        message.to = [
            '"With, Comma" <to2@example.com>',
            "Nön-ASCII <to6@example.com>",
        ]
        with anymail_settings(UNISENDER_GO_WORKAROUND_DISPLAY_NAME_BUGS=False):
            message.send()
        assert sent_headers(api)["to"] == (
            '"With, Comma" <to2@example.com>, '
            "=?utf-8?q?N=C3=B6n-ASCII?= <to6@example.com>"
        )

    def test_from_email(self, api, message):
        message.from_email = '"Odesílatel, z adresy" <from@příklad.example.cz>'
        message.send()
        data = sent_message(api)
        assert data["from_email"] == "from@xn--pklad-zsa96e.example.cz"
        assert data["from_name"] == "Odesílatel, z adresy"

    def test_from_email_without_name(self, api, message):
        message.send()
        data = sent_message(api)
        assert data["from_email"] == "from@example.com"
        assert "from_name" not in data

    def test_from_email_none_omits_from(self, api, message):
        message.from_email = None
        message.template_id = "template-uuid"
        message.send()
        data = sent_message(api)
        assert "from_email" not in data
        assert "from_name" not in data

    def test_idna_encoder_setting(self, api):
        with anymail_settings(UNISENDER_GO_IDNA_ENCODER="idna2003"):
            mail.send_mail("S", "B", "from@example.com", ["to@faß.example"])
        assert sent_recipients(api)[0]["email"] == "to@fass.example"
        assert sent_headers(api) == {"to": "to@fass.example"}

    def test_eai_local_part_sent_as_is(self, api, message):
        message.to = ["відправник@example.com"]
        message.send()
        assert sent_recipients(api)[0]["email"] == "відправник@example.com"

    @pytest.mark.parametrize(
        "reply_to, expected",
        [
            ("reply@example.com", {"reply_to": "reply@example.com"}),
            (
                "Reply Person <reply@example.com>",
                {"reply_to": "reply@example.com", "reply_to_name": "Reply Person"},
            ),
            (
                '"Reply (parens)" <reply@example.com>',
                {
                    "reply_to": "reply@example.com",
                    "reply_to_name": "=?utf-8?q?Reply_=28parens=29?=",
                },
            ),
            (
                '"Odpověď, adresa" <reply@příklad.example.cz>',
                {
                    "reply_to": "reply@xn--pklad-zsa96e.example.cz",
                    "reply_to_name": "=?utf-8?b?T2Rwb3bEm8SPLCBhZHJlc2E=?=",
                },
            ),
            (
                '"Mr. Dot" <reply@example.com>',
                {
                    "reply_to": "reply@example.com",
                    "reply_to_name": "=?utf-8?q?Mr=2E_Dot?=",
                },
            ),
        ],
    )
    def test_reply_to(self, api, message, reply_to, expected):
        message.reply_to = [reply_to]
        message.send()
        data = sent_message(api)
        assert {k: data[k] for k in ("reply_to", "reply_to_name") if k in data} == (
            expected
        )

    def test_reply_to_name_without_workaround(self, api, message):
        message.reply_to = ['"Odpověď, adresa" <reply@example.com>']
        with anymail_settings(UNISENDER_GO_WORKAROUND_DISPLAY_NAME_BUGS=False):
            message.send()
        assert sent_message(api)["reply_to_name"] == "Odpověď, adresa"

    def test_no_reply_to_when_empty(self, api, message):
        message.send()
        data = sent_message(api)
        assert "reply_to" not in data
        assert "reply_to_name" not in data

    def test_reply_to_header_becomes_reply_to(self, api, message):
        message.reply_to = ["ignored@example.com"]
        message.extra_headers = {"reply-to": "Header <header@example.com>", "X-A": "a"}
        message.send()
        data = sent_message(api)
        assert data["reply_to"] == "header@example.com"
        assert data["reply_to_name"] == "Header"
        assert data["headers"] == {"to": "to@example.com", "X-A": "a"}


class TestContent:
    def test_empty_subject_omitted(self, api, message):
        message.subject = ""
        message.send()
        assert "subject" not in sent_message(api)

    def test_none_subject_omitted(self, api, message):
        message.subject = None
        message.send()
        assert "subject" not in sent_message(api)

    def test_lazy_subject(self, api, message):
        message.subject = gettext_lazy("Lazy subject")
        message.send()
        assert sent_message(api)["subject"] == "Lazy subject"

    def test_empty_body_omitted(self, api, message):
        message.body = ""
        message.send()
        assert "body" not in sent_message(api)

    def test_html_and_text(self, api):
        msg = mail.EmailMultiAlternatives(
            "Subject", "Text", "from@example.com", ["to@example.com"]
        )
        msg.attach_alternative("<p>HTML</p>", "text/html")
        msg.send()
        assert sent_message(api)["body"] == {"plaintext": "Text", "html": "<p>HTML</p>"}

    def test_html_only(self, api):
        msg = mail.EmailMessage(
            "Subject", "<p>HTML</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.send()
        assert sent_message(api)["body"] == {"html": "<p>HTML</p>"}

    def test_empty_html_omitted(self, api):
        msg = mail.EmailMessage("Subject", "", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.send()
        assert "body" not in sent_message(api)

    def test_text_alternative_with_html_body(self, api):
        msg = mail.EmailMultiAlternatives(
            "Subject", "<p>HTML</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.attach_alternative("Text", "text/plain")
        msg.send()
        assert sent_message(api)["body"] == {"plaintext": "Text", "html": "<p>HTML</p>"}

    def test_amp(self, api, message):
        message.attach_alternative("<p>HTML</p>", "text/html")
        message.attach_alternative("<html amp4email>AMP</html>", "text/x-amp-html")
        message.send()
        assert sent_message(api)["body"] == {
            "plaintext": "Text Body",
            "html": "<p>HTML</p>",
            "amp": "<html amp4email>AMP</html>",
        }

    def test_amp_mimetype_case_insensitive(self, api, message):
        message.attach_alternative("<html amp4email>AMP</html>", "Text/X-AMP-HTML")
        message.send()
        assert sent_message(api)["body"]["amp"] == "<html amp4email>AMP</html>"

    def test_extra_headers(self, api, message):
        message.extra_headers = {
            "X-Ascii": "plain value",
            "X-Unicode": "Další",
            "X-Num": 123,
            "x-MiXeD": "m",
        }
        message.send()
        assert sent_headers(api) == {
            "to": "to@example.com",
            "X-Ascii": "plain value",
            "X-Unicode": "=?utf-8?b?RGFsxaHDrQ==?=",
            "X-Num": 123,
            "x-MiXeD": "m",
        }

    def test_extra_headers_from_send_defaults(self, api, message):
        message.extra_headers = {"X-Msg": "m", "x-shared": "message wins"}
        with anymail_settings(
            SEND_DEFAULTS={"extra_headers": {"X-Default": "d", "X-Shared": "default"}}
        ):
            message.send()
        headers = sent_headers(api)
        assert headers["X-Default"] == "d"
        assert headers["X-Msg"] == "m"
        assert {k.lower(): v for k, v in headers.items()}["x-shared"] == "message wins"
        assert len(headers) == 4

    def test_extra_header_replaces_cc_header(self, api, message):
        # extra_headers are merged case-insensitively into the generated headers
        message.cc = ["cc@example.com"]
        message.extra_headers = {"CC": "Other <other@example.com>"}
        message.send()
        assert sent_headers(api) == {
            "to": "to@example.com",
            "cc": "Other <other@example.com>",
        }
        assert [r["email"] for r in sent_recipients(api)] == [
            "to@example.com",
            "cc@example.com",
        ]

    def test_unserializable_header_value(self, api, message):
        message.extra_headers = {"X-Decimal": Decimal("1.5")}
        with pytest.raises(AnymailSerializationError) as excinfo:
            message.send()
        assert "Don't know how to send this data to Unisender Go" in str(excinfo.value)
        assert api.call_count == 0


class TestAttachments:
    def test_attachments(self, api, message):
        message.attach("test.txt", "¡text!", "text/plain")
        message.attach("data.bin", b"\x00\x01\xff", "application/octet-stream")
        message.attach(None, b"%PDF-", "application/pdf")
        message.attach("Дані.csv", "a,b\n", "text/csv")
        message.send()
        assert sent_message(api)["attachments"] == [
            {
                "content": b64("¡text!".encode()),
                "type": 'text/plain; charset="utf-8"',
                "name": "test.txt",
            },
            {
                "content": b64(b"\x00\x01\xff"),
                "type": "application/octet-stream",
                "name": "data.bin",
            },
            {"content": b64(b"%PDF-"), "type": "application/pdf", "name": ""},
            {
                "content": b64(b"a,b\n"),
                "type": 'text/csv; charset="utf-8"',
                "name": "Дані.csv",
            },
        ]
        assert "inline_attachments" not in sent_message(api)

    def test_mime_text_attachment_keeps_charset(self, api, message):
        part = MIMEText("¡text!\n", "plain", "iso-8859-1")
        part["Content-Disposition"] = 'attachment; filename="latin.txt"'
        message.attach(part)
        message.send()
        assert sent_message(api)["attachments"] == [
            {
                "content": b64("¡text!\n".encode("iso-8859-1")),
                "type": 'text/plain; charset="iso-8859-1"',
                "name": "latin.txt",
            }
        ]

    def test_inline_image(self, api, message):
        cid = attach_inline_image(message, PNG, filename="dot.png", domain="example")
        message.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        message.send()
        data = sent_message(api)
        assert data["inline_attachments"] == [
            {"content": b64(PNG), "type": "image/png", "name": cid}
        ]
        assert not cid.startswith("<")
        assert "attachments" not in data


class TestAnymailFeatures:
    def test_plain_message_has_no_optional_fields(self, api, message):
        message.send()
        assert set(sent_message(api)) == {
            "headers",
            "recipients",
            "from_email",
            "subject",
            "body",
        }

    def test_metadata(self, api, message):
        message.metadata = {"user_id": "12345", "items": 6, "price": 1.5}
        message.send()
        assert sent_message(api)["global_metadata"] == {
            "user_id": "12345",
            "items": 6,
            "price": 1.5,
        }

    def test_tags(self, api, message):
        message.tags = ["receipt", "repeat-user"]
        message.send()
        assert sent_message(api)["tags"] == ["receipt", "repeat-user"]

    @pytest.mark.parametrize(
        "value, expected", [(True, 1), (False, 0), ("yes", 1), (0, 0), (None, None)]
    )
    def test_tracking(self, api, message, value, expected):
        message.track_clicks = value
        message.track_opens = value
        message.send()
        data = sent_message(api)
        assert data.get("track_links") == expected
        assert data.get("track_read") == expected

    def test_tracking_independent(self, api, message):
        message.track_opens = True
        message.send()
        data = sent_message(api)
        assert data["track_read"] == 1
        assert "track_links" not in data

    @pytest.mark.parametrize(
        "send_at, expected",
        [
            (
                datetime(
                    2022, 10, 11, 12, 13, 14, 567, tzinfo=timezone(timedelta(hours=6))
                ),
                "2022-10-11 06:13:14",
            ),
            # naive datetime and date: in the current time zone (UTC-5 here)
            (datetime(2022, 10, 11, 12, 13, 14), "2022-10-11 17:13:14"),
            (date(2022, 10, 22), "2022-10-22 05:00:00"),
            (1665490394, "2022-10-11 12:13:14"),
            (1665490394.9, "2022-10-11 12:13:14"),
            ("2022-10-11 22:00:00", "2022-10-11 22:00:00"),  # str: as given
        ],
    )
    def test_send_at(self, api, message, send_at, expected):
        message.send_at = send_at
        with django_timezone.override(timezone(timedelta(hours=-5))):
            message.send()
        assert sent_message(api)["options"] == {"send_at": expected}

    def test_template_id(self, api, message):
        message.template_id = "f6b2a1d0-0000-4000-8000-123456789abc"
        message.send()
        assert sent_message(api)["template_id"] == (
            "f6b2a1d0-0000-4000-8000-123456789abc"
        )

    def test_merge_global_data(self, api, message):
        message.merge_global_data = {"order": "12345", "total": 9.5}
        message.send()
        data = sent_message(api)
        assert data["global_substitutions"] == {"order": "12345", "total": 9.5}
        assert data["headers"] == {"to": "to@example.com"}  # not a batch

    def test_serialization_error_in_merge_data(self, api, message):
        message.merge_data = {"to@example.com": {"amount": Decimal("1")}}
        with pytest.raises(AnymailSerializationError):
            message.send()
        assert api.call_count == 0


class TestMessageIds:
    def test_id_per_recipient(self, api, message, uuids):
        message.cc = ["cc@example.com"]
        message.bcc = ["bcc@example.com"]
        api.set_response(
            200, success_response("to@example.com", "cc@example.com", "bcc@example.com")
        )
        message.send()
        assert [r["metadata"] for r in sent_recipients(api)] == [
            {"anymail_id": IDS[0]},
            {"anymail_id": IDS[1]},
            {"anymail_id": IDS[2]},
        ]
        assert uuids.call_count == 3
        status = message.anymail_status
        assert status.recipients["to@example.com"].message_id == IDS[0]
        assert status.recipients["cc@example.com"].message_id == IDS[1]
        assert status.recipients["bcc@example.com"].message_id == IDS[2]
        assert status.message_id == {IDS[0], IDS[1], IDS[2]}

    def test_duplicates_share_id(self, api, message, uuids):
        message.to = ["to@example.com", "other@example.com"]
        message.cc = ["TO@Example.com"]
        api.set_response(
            200,
            success_response(
                "to@example.com",
                "other@example.com",
                failed={"TO@Example.com": "duplicate"},
            ),
        )
        message.send()
        assert [r["metadata"]["anymail_id"] for r in sent_recipients(api)] == [
            IDS[0],
            IDS[1],
            IDS[0],
        ]
        assert uuids.call_count == 2
        # the duplicate's report is ignored
        assert set(message.anymail_status.recipients) == {
            "to@example.com",
            "other@example.com",
        }

    def test_added_to_merge_metadata(self, api, message):
        message.to = ["to@example.com", "other@example.com"]
        message.merge_metadata = {"to@example.com": {"order": 12}}
        message.send()
        assert [r["metadata"] for r in sent_recipients(api)] == [
            {"order": 12, "anymail_id": IDS[0]},
            {"anymail_id": IDS[1]},
        ]
        assert message.merge_metadata == {"to@example.com": {"order": 12}}

    def test_message_id_lookup_case_insensitive(self, api, message):
        message.to = ["Mixed.Case@Example.com"]
        api.set_response(200, success_response("mixed.case@example.com"))
        message.send()
        assert message.anymail_status.recipients == {"mixed.case@example.com": mock.ANY}
        assert message.anymail_status.message_id == IDS[0]

    def test_unknown_email_gets_job_id(self, api, message):
        api.set_response(200, success_response("to@example.com", "extra@example.com"))
        message.send()
        recipients = message.anymail_status.recipients
        assert recipients["to@example.com"].message_id == IDS[0]
        assert recipients["extra@example.com"].message_id == JOB_ID

    def test_generation_disabled(self, api, message, uuids):
        message.to = ["to@example.com", "other@example.com"]
        message.merge_metadata = {"other@example.com": {"k": "v"}}
        api.set_response(200, success_response("to@example.com", "other@example.com"))
        with anymail_settings(UNISENDER_GO_GENERATE_MESSAGE_ID=False):
            message.send()
        assert sent_recipients(api) == [
            {"email": "to@example.com"},
            {"email": "other@example.com", "metadata": {"k": "v"}},
        ]
        assert uuids.call_count == 0
        assert message.anymail_status.message_id == JOB_ID
        recipients = message.anymail_status.recipients
        assert recipients["other@example.com"].message_id == JOB_ID


class TestBatchSend:
    def test_merge_data(self, api):
        api.set_response(
            200,
            success_response("alice@example.com", "bob@example.com", "x@example.com"),
        )
        msg = AnymailMessage(
            from_email="from@example.com",
            to=["alice@example.com", "Bob <bob@example.com>", "x@example.com"],
            template_id="template-uuid",
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "bob@example.com": {"name": "Robert"},
                "nobody@example.com": {"name": "Ignored"},
            },
            merge_global_data={"group": "Users", "site": "Example"},
        )
        msg.send()
        assert api.call_count == 1
        data = sent_message(api)
        assert "headers" not in data  # no shared To header in a batch
        assert data["global_substitutions"] == {"group": "Users", "site": "Example"}
        assert data["recipients"] == [
            {
                "email": "alice@example.com",
                "substitutions": {"name": "Alice", "group": "Developers"},
                "metadata": {"anymail_id": IDS[0]},
            },
            {
                "email": "bob@example.com",
                "substitutions": {"to_name": "Bob", "name": "Robert"},
                "metadata": {"anymail_id": IDS[1]},
            },
            {"email": "x@example.com", "metadata": {"anymail_id": IDS[2]}},
        ]
        assert msg.anymail_status.message_id == {IDS[0], IDS[1], IDS[2]}
        assert msg.anymail_status.status == {"queued"}

    @pytest.mark.parametrize("attr", ["merge_data", "merge_metadata", "merge_headers"])
    def test_empty_merge_attr_makes_batch(self, api, message, attr):
        message.extra_headers = {"X-Keep": "kept"}
        setattr(message, attr, {})
        message.send()
        data = sent_message(api)
        assert data["headers"] == {"X-Keep": "kept"}
        assert data["recipients"] == [
            {"email": "to@example.com", "metadata": {"anymail_id": IDS[0]}}
        ]

    def test_merge_headers_none_makes_batch(self, api, message):
        message.merge_headers = None
        message.send()
        assert "headers" not in sent_message(api)

    def test_merge_global_data_alone_is_not_batch(self, api, message):
        message.merge_global_data = {"a": 1}
        message.send()
        assert sent_headers(api) == {"to": "to@example.com"}

    def test_batch_from_send_defaults(self, api, message):
        with anymail_settings(SEND_DEFAULTS={"merge_data": {}}):
            message.send()
        assert "headers" not in sent_message(api)

    def test_merge_metadata(self, api, message):
        message.to = ["alice@example.com", "bob@example.com"]
        message.metadata = {"campaign": "spring"}
        message.merge_metadata = {
            "alice@example.com": {"order": 1},
            "bob@example.com": {"order": 2, "tier": "gold"},
        }
        message.send()
        data = sent_message(api)
        assert data["global_metadata"] == {"campaign": "spring"}
        assert [r["metadata"] for r in data["recipients"]] == [
            {"order": 1, "anymail_id": IDS[0]},
            {"order": 2, "tier": "gold", "anymail_id": IDS[1]},
        ]

    def test_lookup_uses_encoded_address_exactly(self, api, message):
        message.to = ["Juan <juan@éxample.com>", "Case@Example.com"]
        message.merge_data = {
            "juan@xn--xample-9ua.com": {"n": "encoded"},
            "juan@éxample.com": {"n": "unencoded"},
            "case@example.com": {"n": "wrong case"},
        }
        message.send()
        recipients = sent_recipients(api)
        assert recipients[0]["substitutions"] == {"to_name": "Juan", "n": "encoded"}
        assert "substitutions" not in recipients[1]

    def test_bcc_in_batch(self, api, message):
        message.bcc = ["bcc@example.com"]
        message.merge_data = {"bcc@example.com": {"name": "Hidden"}}
        message.send()
        data = sent_message(api)
        assert "headers" not in data
        assert data["recipients"][1] == {
            "email": "bcc@example.com",
            "substitutions": {"name": "Hidden"},
            "metadata": {"anymail_id": IDS[1]},
        }

    def test_merge_headers_list_unsubscribe(self, api, message):
        message.to = ["alice@example.com", "bob@example.com", "carol@example.com"]
        message.extra_headers = {
            "List-Unsubscribe": "<mailto:default@example.com>",
            "X-Other": "kept",
        }
        message.merge_headers = {
            "alice@example.com": {"list-unsubscribe": "<https://example.com/a>"},
            "bob@example.com": {"List-Unsubscribe": "<https://example.com/b>"},
        }
        message.send()
        data = sent_message(api)
        assert data["headers"] == {
            "List-Unsubscribe": "{{Header__List_Unsubscribe}}",
            "X-Other": "kept",
        }
        assert [r.get("substitutions") for r in data["recipients"]] == [
            {"Header__List_Unsubscribe": "<https://example.com/a>"},
            {"Header__List_Unsubscribe": "<https://example.com/b>"},
            None,
        ]

    def test_merge_headers_with_to_name(self, api, message):
        message.to = ["Alice <alice@example.com>"]
        message.merge_data = {"alice@example.com": {"name": "Al"}}
        message.merge_headers = {
            "alice@example.com": {"List-Unsubscribe": "<mailto:u@example.com>"}
        }
        message.send()
        assert sent_recipients(api)[0]["substitutions"] == {
            "to_name": "Alice",
            "name": "Al",
            "Header__List_Unsubscribe": "<mailto:u@example.com>",
        }

    def test_merge_headers_for_non_recipients_ignored(self, api, message):
        message.to = ["t@example.com"]
        message.merge_headers = {
            "T@example.com": {"X-Other": "1"},  # keys match addresses exactly
            "other@example.com": {"List-Unsubscribe": "<mailto:u@example.com>"},
        }
        message.send()
        data = sent_message(api)
        assert "List-Unsubscribe" not in data.get("headers", {})
        assert data["recipients"][0].get("substitutions") is None

    def test_merge_headers_not_from_send_defaults(self, api, message):
        # (merge_headers ignores SEND_DEFAULTS)
        with anymail_settings(
            SEND_DEFAULTS={
                "merge_headers": {"to@example.com": {"List-Unsubscribe": "<x>"}}
            }
        ):
            message.send()
        assert sent_headers(api) == {"to": "to@example.com"}


class TestEspExtra:
    def test_deep_merge(self, api, message):
        message.send_at = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
        message.esp_extra = {
            "global_language": "cs",
            "skip_unsubscribe": 1,
            "template_engine": "velocity",
            "bypass_global": 1,
            "options": {
                "unsubscribe_url": "https://example.com/u",
                "smtp_pool_id": "p",
            },
            "headers": {"X-From-Extra": "e"},
        }
        message.send()
        data = sent_message(api)
        assert data["global_language"] == "cs"
        assert data["skip_unsubscribe"] == 1
        assert data["template_engine"] == "velocity"
        assert data["bypass_global"] == 1
        assert data["options"] == {
            "send_at": "2024-05-01 10:00:00",
            "unsubscribe_url": "https://example.com/u",
            "smtp_pool_id": "p",
        }
        assert data["headers"] == {"to": "to@example.com", "X-From-Extra": "e"}
        assert "message" not in data

    def test_values_and_lists_replaced(self, api, message):
        message.tags = ["one", "two"]
        message.esp_extra = {"tags": ["three"], "subject": "Replaced"}
        message.send()
        data = sent_message(api)
        assert data["tags"] == ["three"]
        assert data["subject"] == "Replaced"

    def test_esp_extra_from_send_defaults(self, api, message):
        message.esp_extra = {
            "options": {"custom_backend_id": 2},
            "global_language": "en",
        }
        with anymail_settings(
            UNISENDER_GO_SEND_DEFAULTS={
                "esp_extra": {
                    "options": {"custom_backend_id": 1, "smtp_pool_id": "pool"},
                    "global_language": "ru",
                    "skip_unsubscribe": 1,
                }
            }
        ):
            message.send()
        data = sent_message(api)
        assert data["options"] == {"custom_backend_id": 2, "smtp_pool_id": "pool"}
        assert data["global_language"] == "en"
        assert data["skip_unsubscribe"] == 1


class TestUnsupportedFeatures:
    @staticmethod
    def assert_unsupported(api, message, feature):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == f"Unisender Go does not support {feature}"
        assert api.call_count == 0
        assert message.anymail_status.status is None

    def test_envelope_sender(self, api, message):
        message.envelope_sender = "bounce@example.com"
        self.assert_unsupported(api, message, "envelope_sender")

    def test_from_header(self, api, message):
        message.extra_headers = {"From": "Header From <header@example.com>"}
        self.assert_unsupported(api, message, "envelope_sender")

    def test_spoofed_to_header(self, api, message):
        message.extra_headers = {"To": "Spoofed <spoofed@example.com>"}
        self.assert_unsupported(api, message, "spoofing `To` header")

    def test_multiple_from(self, api, message):
        message.from_email = "one@example.com, two@example.com"
        self.assert_unsupported(api, message, "multiple from emails")

    def test_multiple_reply_to(self, api, message):
        message.reply_to = ["r1@example.com", "r2@example.com"]
        self.assert_unsupported(api, message, "multiple reply_to addresses")

    def test_multiple_amp(self, api, message):
        message.attach_alternative("<html amp4email>1</html>", "text/x-amp-html")
        message.attach_alternative("<html amp4email>2</html>", "text/x-amp-html")
        self.assert_unsupported(api, message, "multiple amp-html parts")

    def test_multiple_html_parts(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        self.assert_unsupported(api, message, "multiple html parts")

    def test_multiple_plaintext_parts(self, api, message):
        message.attach_alternative("more text", "text/plain")
        self.assert_unsupported(api, message, "multiple plaintext parts")

    def test_other_alternative(self, api, message):
        message.attach_alternative('{"a": 1}', "application/json")
        self.assert_unsupported(
            api, message, "alternative part with type 'application/json'"
        )

    def test_other_merge_header(self, api, message):
        message.merge_headers = {"to@example.com": {"x-other": "value"}}
        self.assert_unsupported(api, message, "'X-Other' in merge_headers")

    @pytest.mark.parametrize("attr", ["merge_data", "merge_metadata", "merge_headers"])
    def test_cc_with_batch(self, api, message, attr):
        message.cc = ["cc@example.com"]
        setattr(message, attr, {})
        self.assert_unsupported(
            api,
            message,
            "cc with batch send (merge_data, merge_metadata, or merge_headers)",
        )


@pytest.fixture
def ignore_unsupported():
    with anymail_settings(IGNORE_UNSUPPORTED_FEATURES=True):
        yield


@pytest.mark.usefixtures("ignore_unsupported")
class TestIgnoreUnsupportedFeatures:
    def test_envelope_sender_dropped(self, api, message):
        message.envelope_sender = "bounce@example.com"
        message.send()
        assert "bounce" not in json.dumps(sent_message(api))

    def test_from_header_used_as_from(self, api, message):
        message.extra_headers = {"From": "Header From <header@example.com>"}
        message.send()
        data = sent_message(api)
        assert data["from_email"] == "header@example.com"
        assert data["from_name"] == "Header From"
        assert data["headers"] == {"to": "to@example.com"}

    def test_spoofed_to_dropped(self, api, message):
        message.extra_headers = {"To": "Spoofed <spoofed@example.com>"}
        message.send()
        assert sent_headers(api) == {"to": "to@example.com"}

    def test_multiple_from_uses_first(self, api, message):
        message.from_email = "one@example.com, two@example.com"
        message.send()
        assert sent_message(api)["from_email"] == "one@example.com"

    def test_multiple_reply_to_uses_first(self, api, message):
        message.reply_to = ["R1 <r1@example.com>", "r2@example.com"]
        message.send()
        data = sent_message(api)
        assert data["reply_to"] == "r1@example.com"
        assert data["reply_to_name"] == "R1"

    def test_extra_alternatives_dropped(self, api, message):
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        message.attach_alternative("more text", "text/plain")
        message.attach_alternative("<html amp4email>1</html>", "text/x-amp-html")
        message.attach_alternative("<html amp4email>2</html>", "text/x-amp-html")
        message.attach_alternative("{}", "application/json")
        message.send()
        assert sent_message(api)["body"] == {
            "plaintext": "Text Body",
            "html": "<p>one</p>",
            "amp": "<html amp4email>1</html>",
        }

    def test_other_merge_header_dropped(self, api, message):
        message.merge_headers = {
            "to@example.com": {"X-Other": "v", "List-Unsubscribe": "<u>"}
        }
        message.send()
        data = sent_message(api)
        assert data["headers"] == {"List-Unsubscribe": "{{Header__List_Unsubscribe}}"}
        assert data["recipients"][0]["substitutions"] == {
            "Header__List_Unsubscribe": "<u>"
        }

    def test_cc_with_batch_drops_cc_header(self, api, message):
        message.cc = ["cc@example.com"]
        message.extra_headers = {"X-Keep": "kept"}
        message.merge_data = {"cc@example.com": {"name": "Copy"}}
        api.set_response(200, success_response("to@example.com", "cc@example.com"))
        message.send()
        data = sent_message(api)
        assert data["headers"] == {"X-Keep": "kept"}
        assert data["recipients"] == [
            {"email": "to@example.com", "metadata": {"anymail_id": IDS[0]}},
            {
                "email": "cc@example.com",
                "substitutions": {"name": "Copy"},
                "metadata": {"anymail_id": IDS[1]},
            },
        ]


class TestResponses:
    def test_success_status(self, api, message):
        message.send()
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == IDS[0]
        assert status.recipients["to@example.com"].status == "queued"
        assert status.recipients["to@example.com"].message_id == IDS[0]
        assert isinstance(status.esp_response, requests.Response)
        assert status.esp_response.json()["job_id"] == JOB_ID

    @pytest.mark.parametrize(
        "reason, expected",
        [
            ("invalid", "invalid"),
            ("permanent_unavailable", "rejected"),
            ("unsubscribed", "rejected"),
            ("temporary_unavailable", "failed"),
            ("something_new", "failed"),
        ],
    )
    def test_failed_emails(self, api, message, reason, expected):
        message.to = ["to@example.com", "bad@example.com"]
        api.set_response(
            200, success_response("to@example.com", failed={"bad@example.com": reason})
        )
        assert message.send() == 1
        recipients = message.anymail_status.recipients
        assert recipients["to@example.com"].status == "queued"
        assert recipients["bad@example.com"].status == expected
        assert recipients["bad@example.com"].message_id is None
        assert message.anymail_status.status == {"queued", expected}
        assert message.anymail_status.message_id == {IDS[0], None}

    def test_duplicate_ignored(self, api, message):
        message.to = ["to@example.com", "to@example.com"]
        api.set_response(
            200, success_response("to@example.com", failed={"to@example.com": "dup"})
        )
        # (an unknown reason still counts: only "duplicate" is ignored)
        message.send()
        assert message.anymail_status.recipients["to@example.com"].status == "failed"
        api.set_response(
            200,
            success_response("to@example.com", failed={"to@example.com": "duplicate"}),
        )
        message.send()
        assert message.anymail_status.recipients["to@example.com"].status == "queued"
        assert message.anymail_status.status == {"queued"}

    def test_failed_overrides_success(self, api, message):
        api.set_response(
            200,
            success_response("to@example.com", failed={"to@example.com": "invalid"}),
        )
        with pytest.raises(AnymailRecipientsRefused):
            message.send()
        assert message.anymail_status.recipients["to@example.com"].status == "invalid"

    def test_keys_as_returned_by_api(self, api, message):
        message.to = ["To@Example.com", "Bad@Example.com"]
        api.set_response(
            200,
            success_response("to@example.com", failed={"bad@example.com": "invalid"}),
        )
        message.send()
        assert set(message.anymail_status.recipients) == {
            "to@example.com",
            "bad@example.com",
        }

    def test_failed_emails_null(self, api, message):
        api.set_response(200, success_response("to@example.com", failed=None))
        message.send()
        assert message.anymail_status.status == {"queued"}

    def test_all_rejected_raises(self, api, message):
        message.to = ["a@example.com", "b@example.com"]
        api.set_response(
            200,
            success_response(
                failed={"a@example.com": "invalid", "b@example.com": "unsubscribed"}
            ),
        )
        with pytest.raises(AnymailRecipientsRefused) as excinfo:
            message.send()
        assert str(excinfo.value) == "All message recipients were rejected or invalid"
        assert message.anymail_status.status == {"invalid", "rejected"}
        assert message.anymail_status.message_id is None

    def test_all_rejected_ignore_recipient_status(self, api, message):
        api.set_response(
            200, success_response(failed={"to@example.com": "permanent_unavailable"})
        )
        with anymail_settings(IGNORE_RECIPIENT_STATUS=True):
            assert message.send() == 1
        assert message.anymail_status.status == {"rejected"}

    def test_all_failed_does_not_raise(self, api, message):
        api.set_response(
            200, success_response(failed={"to@example.com": "temporary_unavailable"})
        )
        assert message.send() == 1
        assert message.anymail_status.status == {"failed"}

    def test_api_error(self, api, message):
        error = {
            "status": "error",
            "message": "User with id 123 not found",
            "code": 114,
        }
        api.set_response(400, error)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        err = excinfo.value
        assert err.status_code == 400
        assert str(err) == (
            "Unisender Go API response 400 (BAD REQUEST):\n"
            + json.dumps(error, indent=2)
        )
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_api_error_not_json(self, api, message):
        api.set_response(
            503, "Service Unavailable", headers={"Content-Type": "text/plain"}
        )
        with pytest.raises(AnymailAPIError) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Unisender Go API response 503 (SERVICE UNAVAILABLE): 'Service Unavailable'"
        )

    def test_invalid_json(self, api, message):
        api.set_response(200, "this isn't json", headers={"Content-Type": "text/plain"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith(
            "Invalid JSON in Unisender Go API response"
        )
        assert isinstance(message.anymail_status.esp_response, requests.Response)
        assert message.anymail_status.status is None

    @pytest.mark.parametrize(
        "body",
        [
            {},
            [],
            '"success"',
            {"status": "success", "emails": ["to@example.com"]},
            {"status": "success", "job_id": JOB_ID},
            {"status": "success", "job_id": JOB_ID, "emails": "to@example.com"},
            {"status": "success", "job_id": JOB_ID, "emails": [1]},
            {"job_id": JOB_ID, "emails": [], "failed_emails": ["x@example.com"]},
        ],
    )
    def test_invalid_response_format(self, api, message, body):
        api.set_response(200, body)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        assert str(excinfo.value).startswith("Invalid Unisender Go API response format")
        assert message.anymail_status.recipients == {}
