"""Tests for the SendGrid sending backend (v3 Mail Send API)."""

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail import get_connection, send_mail
from django.test import override_settings
from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailNotSupportedWarning,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
    AnymailWarning,
)
from anymail.message import AnymailMessage, attach_inline_image

from .conftest import b64
from .messages import make_message, send, sent_data

# Every test constructs the backend, which always warns it is not supported
# (checked explicitly in TestNotSupportedWarning). Any other Anymail warning
# (e.g. about merge field delimiters) must be expected explicitly.
pytestmark = [
    pytest.mark.filterwarnings("error::anymail.exceptions.AnymailWarning"),
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

API_KEY = "test-sendgrid-api-key"
BACKEND = "anymail.backends.sendgrid.EmailBackend"
SEND_URL = "https://api.sendgrid.com/v3/mail/send"
EXPECTED_HEADERS = {
    "Authorization": f"Bearer {API_KEY}",
    "Content-Type": "application/json",
    "Accept": "application/json",
}
NOT_SUPPORTED_TEXT = (
    "django-anymail has dropped official support for SendGrid."
    " See https://github.com/anymail/django-anymail/issues/432."
)
LEGACY_AUTH_ERROR = (
    "SendGrid v3 API doesn't support username/password auth; Please change to API key."
)
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

# predictable "random" ids, in the order Anymail generates them
UUIDS = [
    "2c1a9f0e-0000-4000-8000-000000000001",
    "2c1a9f0e-0000-4000-8000-000000000002",
    "2c1a9f0e-0000-4000-8000-000000000003",
]


@pytest.fixture(autouse=True)
def sendgrid_settings():
    with override_settings(
        EMAIL_BACKEND=BACKEND, ANYMAIL={"SENDGRID_API_KEY": API_KEY}
    ):
        yield


@pytest.fixture
def api(requests_mock):
    """requests_mock answering every call like SendGrid: 202, empty body."""
    requests_mock.set_response(202, b"")
    return requests_mock


@pytest.fixture
def ids():
    """Make the generated anymail_ids UUIDS[0], UUIDS[1], ..."""
    with mock.patch(
        "anymail.backends.sendgrid.uuid.uuid4",
        side_effect=[uuid.UUID(value) for value in UUIDS],
    ):
        yield UUIDS


def anymail_settings(**extra):
    """override_settings for ANYMAIL with the API key plus `extra`."""
    return override_settings(ANYMAIL={"SENDGRID_API_KEY": API_KEY, **extra})


def without_ids(personalizations):
    """The personalizations with the generated anymail_id custom_args removed."""
    result = []
    for personalization in personalizations:
        personalization = dict(personalization)
        custom_args = dict(personalization.pop("custom_args", {}))
        custom_args.pop("anymail_id", None)
        if custom_args:
            personalization["custom_args"] = custom_args
        result.append(personalization)
    return result


# ---------------------------------------------------------------------------


class TestNotSupportedWarning:
    def test_constructing_backend_warns(self):
        with pytest.warns(AnymailNotSupportedWarning) as record:
            get_connection()
        # (Django 6.1 adds its own deprecation warning for get_connection)
        ours = [w for w in record if w.category is AnymailNotSupportedWarning]
        assert [str(w.message) for w in ours] == [NOT_SUPPORTED_TEXT]

    def test_every_instance_warns(self):
        with pytest.warns(AnymailNotSupportedWarning) as record:
            get_connection()
            get_connection()
        ours = [w for w in record if w.category is AnymailNotSupportedWarning]
        assert len(ours) == 2

    def test_sending_warns(self, api):
        with pytest.warns(AnymailNotSupportedWarning, match="dropped official"):
            send()
        assert api.call_count == 1

    def test_warns_even_when_misconfigured(self):
        with (
            override_settings(ANYMAIL={}),
            pytest.warns(AnymailNotSupportedWarning),
            pytest.raises(AnymailConfigurationError),
        ):
            get_connection()


class TestApiCall:
    def test_minimal_request(self, api, ids):
        send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        assert api.last_json() == {
            "personalizations": [
                {
                    "to": [{"email": "to@example.com"}],
                    "custom_args": {"anymail_id": UUIDS[0]},
                }
            ],
            "from": {"email": "from@example.com"},
            "subject": "Subject",
            "content": [{"type": "text/plain", "value": "Body"}],
        }

    def test_body_is_serialized_json_string(self, api):
        send()
        assert isinstance(api.last_call["data"], str)
        assert api.last_call["data"].startswith('{"personalizations": [')

    def test_unset_options_omitted(self, api):
        data = sent_data(api)
        assert set(data) == {"personalizations", "from", "subject", "content"}
        assert set(data["personalizations"][0]) == {"to", "custom_args"}
        assert set(data["personalizations"][0]["custom_args"]) == {"anymail_id"}


class TestSettings:
    @pytest.mark.parametrize(
        "settings_kwargs, connection_kwargs",
        [
            ({}, {"username": "user"}),
            ({}, {"password": "secret"}),
            ({"ANYMAIL": {"SENDGRID_API_KEY": API_KEY, "SENDGRID_USERNAME": "u"}}, {}),
            ({"ANYMAIL_SENDGRID_PASSWORD": "p"}, {}),
            ({"SENDGRID_USERNAME": "u"}, {}),
            ({"ANYMAIL": {}, "SENDGRID_PASSWORD": "p"}, {}),
        ],
        ids=[
            "username kwarg",
            "password kwarg",
            "ANYMAIL dict",
            "ANYMAIL_ prefixed",
            "bare username",
            "bare password, no api key",
        ],
    )
    def test_legacy_username_password(self, settings_kwargs, connection_kwargs):
        with (
            override_settings(**settings_kwargs),
            pytest.raises(AnymailConfigurationError) as excinfo,
        ):
            get_connection(**connection_kwargs)
        assert str(excinfo.value) == LEGACY_AUTH_ERROR

    def test_none_username_password_kwargs_ignored(self, api):
        # Django's send_mail passes auth_user/auth_password through as None
        send_mail(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            auth_user=None,
            auth_password=None,
        )
        assert api.call_count == 1

    def test_api_url_setting_adds_trailing_slash(self, api):
        with anymail_settings(SENDGRID_API_URL="https://api.eu.sendgrid.com/v3"):
            send()
        assert api.last_call["url"] == "https://api.eu.sendgrid.com/v3/mail/send"

    def test_api_url_kwarg(self, api):
        connection = get_connection(api_url="https://proxy.example.com/sg/")
        assert connection.api_url == "https://proxy.example.com/sg/"
        send(make_message(connection=connection))
        assert api.last_call["url"] == "https://proxy.example.com/sg/mail/send"

    def test_generate_message_id_setting(self, api):
        with anymail_settings(SENDGRID_GENERATE_MESSAGE_ID=False):
            data = sent_data(api)
        assert data["personalizations"] == [{"to": [{"email": "to@example.com"}]}]

    def test_merge_field_format_setting(self, api):
        with anymail_settings(SENDGRID_MERGE_FIELD_FORMAT="-{}-"):
            data = sent_data(api, merge_global_data={"name": "Co"})
        assert data["personalizations"][0]["substitutions"] == {"-name-": "Co"}

    def test_options_are_consumed(self):
        path = "django.core.mail.backends.base.BaseEmailBackend.__init__"
        with mock.patch(path, return_value=None) as base_init:
            get_connection(
                api_key="k",
                username=None,
                password=None,
                generate_message_id=False,
                merge_field_format="{{{{{}}}}}",
                api_url="https://example.com/",
                send_defaults={},
                idna_encoder="idna2003",
                ignore_unsupported_features=True,
                timeout=3,
                alias="default",
            )
        base_init.assert_called_once()
        assert base_init.call_args.kwargs == {"alias": "default"}

    def test_options_from_kwargs(self, api):
        connection = get_connection(
            generate_message_id=False, merge_field_format="%{}%"
        )
        assert connection.generate_message_id is False
        assert connection.merge_field_format == "%{}%"
        data = sent_data(
            api, make_message(connection=connection, merge_global_data={"x": "1"})
        )
        assert data["personalizations"] == [
            {"to": [{"email": "to@example.com"}], "substitutions": {"%x%": "1"}}
        ]

    def test_settings_read_at_construction(self, api):
        connection = get_connection()
        with override_settings(ANYMAIL={"SENDGRID_API_KEY": "changed"}):
            send(make_message(connection=connection))
        assert api.last_call["headers"]["Authorization"] == f"Bearer {API_KEY}"

    def test_esp_send_defaults(self, api):
        with anymail_settings(
            SEND_DEFAULTS={"metadata": {"global": "1"}, "tags": ["global"]},
            SENDGRID_SEND_DEFAULTS={"tags": ["esp"], "track_opens": True},
        ):
            data = sent_data(api)
        assert data["custom_args"] == {"global": "1"}
        assert data["categories"] == ["esp"]
        assert data["tracking_settings"] == {"open_tracking": {"enable": True}}

    def test_esp_idna_encoder(self, api):
        with anymail_settings(SENDGRID_IDNA_ENCODER="idna2003"):
            data = sent_data(api, to=["to@faß.example"])
        assert data["personalizations"][0]["to"] == [{"email": "to@fass.example"}]


class TestAddresses:
    def test_address_objects(self, api):
        data = sent_data(
            api,
            from_email='"Odesílatel, z adresy" <from@příklad.example>',
            to=["to1@example.com", '"Recipient, Second" <to2@例え.jp>'],
            cc=["Пользователь <відправник@example.com>"],
            bcc=["BCC <bcc@example.com>"],
        )
        assert data["from"] == {
            "email": "from@xn--pklad-zsa96e.example",
            "name": "Odesílatel, z adresy",  # raw: no quotes, no RFC 2047
        }
        assert without_ids(data["personalizations"]) == [
            {
                "to": [
                    {"email": "to1@example.com"},
                    {"email": "to2@xn--r8jz45g.jp", "name": "Recipient, Second"},
                ],
                "cc": [{"email": "відправник@example.com", "name": "Пользователь"}],
                "bcc": [{"email": "bcc@example.com", "name": "BCC"}],
            }
        ]

    def test_default_from_email(self, api):
        message = mail.EmailMessage("Subject", "Body", to=["to@example.com"])
        data = sent_data(api, message)
        assert data["from"] == {"email": "from@example.com"}

    def test_no_from_email(self, api):
        message = make_message()
        message.from_email = None
        data = sent_data(api, message)
        assert "from" not in data

    def test_empty_cc_and_bcc_omitted(self, api):
        data = sent_data(api, cc=[], bcc=[])
        assert set(data["personalizations"][0]) == {"to", "custom_args"}

    def test_no_to_recipients(self, api, ids):
        # (15.1 crashed with a KeyError here)
        message = send(to=[], cc=["cc@example.com"], bcc=["bcc@example.com"])
        assert api.last_json()["personalizations"] == [
            {
                "cc": [{"email": "cc@example.com"}],
                "bcc": [{"email": "bcc@example.com"}],
                "custom_args": {"anymail_id": UUIDS[0]},
            }
        ]
        assert message.anymail_status.message_id == UUIDS[0]
        assert set(message.anymail_status.recipients) == {
            "cc@example.com",
            "bcc@example.com",
        }

    def test_reply_to(self, api):
        data = sent_data(
            api, reply_to=["reply@example.com", '"Other, Reply" <other@例え.jp>']
        )
        assert data["reply_to_list"] == [
            {"email": "reply@example.com"},
            {"email": "other@xn--r8jz45g.jp", "name": "Other, Reply"},
        ]
        assert "reply_to" not in data

    def test_empty_reply_to_omitted(self, api):
        data = sent_data(api, reply_to=[])
        assert "reply_to_list" not in data
        assert "reply_to" not in data


class TestContent:
    def test_subject_and_text(self, api):
        data = sent_data(api, subject="Hello ✨", body="Text body")
        assert data["subject"] == "Hello ✨"
        assert data["content"] == [{"type": "text/plain", "value": "Text body"}]

    def test_empty_subject_and_body_omitted(self, api):
        data = sent_data(api, subject="", body="")
        assert "subject" not in data
        assert "content" not in data

    def test_html_alternative(self, api):
        message = make_message()
        message.attach_alternative("<p>HTML</p>", "text/html")
        data = sent_data(api, message)
        assert data["content"] == [
            {"type": "text/plain", "value": "Body"},
            {"type": "text/html", "value": "<p>HTML</p>"},
        ]

    def test_html_only_body(self, api):
        message = make_message(body="<p>HTML only</p>")
        message.content_subtype = "html"
        data = sent_data(api, message)
        assert data["content"] == [{"type": "text/html", "value": "<p>HTML only</p>"}]

    def test_empty_html_body_omitted(self, api):
        message = make_message(body="")
        message.content_subtype = "html"
        data = sent_data(api, message)
        assert "content" not in data

    def test_text_from_alternative_when_body_empty(self, api):
        message = make_message(
            body="",
            alternatives=[("Plain", "text/plain"), ("<p>HTML</p>", "text/html")],
        )
        data = sent_data(api, message)
        assert data["content"] == [
            {"type": "text/plain", "value": "Plain"},
            {"type": "text/html", "value": "<p>HTML</p>"},
        ]

    def test_plain_alternative_goes_before_html_body(self, api):
        # SendGrid requires text/plain first (15.1 sent html first here)
        message = make_message(body="<p>HTML</p>")
        message.content_subtype = "html"
        message.attach_alternative("Plain", "text/plain")
        data = sent_data(api, message)
        assert data["content"] == [
            {"type": "text/plain", "value": "Plain"},
            {"type": "text/html", "value": "<p>HTML</p>"},
        ]

    def test_any_alternatives_allowed(self, api):
        message = make_message()
        message.attach_alternative('{"a": 1}', "application/json")
        message.attach_alternative("<p>1</p>", "text/html")
        message.attach_alternative("<html amp4email>AMP</html>", "text/x-amp-html")
        message.attach_alternative("<p>2</p>", "text/html")
        message.attach_alternative("More text", "text/plain")
        data = sent_data(api, message)
        assert data["content"] == [
            {"type": "text/plain", "value": "Body"},
            {"type": "text/plain", "value": "More text"},
            {"type": "text/html", "value": "<p>1</p>"},
            {"type": "text/html", "value": "<p>2</p>"},
            {"type": "application/json", "value": '{"a": 1}'},
            {"type": "text/x-amp-html", "value": "<html amp4email>AMP</html>"},
        ]

    def test_other_body_subtype(self, api):
        message = make_message(body="BEGIN:VCALENDAR")
        message.content_subtype = "calendar"
        data = sent_data(api, message)
        assert data["content"] == [
            {"type": "text/calendar", "value": "BEGIN:VCALENDAR"}
        ]

    def test_lazy_strings(self, api):
        message = make_message(
            subject=gettext_lazy("Lazy subject"),
            body=gettext_lazy("Lazy body"),
            tags=[gettext_lazy("lazy-tag")],
            metadata={"lazy": gettext_lazy("value")},
        )
        data = sent_data(api, message)
        assert data["subject"] == "Lazy subject"
        assert data["content"] == [{"type": "text/plain", "value": "Lazy body"}]
        assert data["categories"] == ["lazy-tag"]
        assert data["custom_args"] == {"lazy": "value"}


class TestHeaders:
    def test_extra_headers(self, api):
        data = sent_data(
            api,
            headers={
                "X-Custom": "value",
                "x-number": 123,
                "X-Float": 98.6,
                "X-Bool": True,
                "List-ID": "<list.example>",
                "Message-ID": "<custom-id@example.com>",
            },
        )
        assert data["headers"] == {
            "X-Custom": "value",
            "x-number": "123",
            "X-Float": "98.6",
            "X-Bool": "True",
            "List-ID": "<list.example>",
            "Message-ID": "<custom-id@example.com>",
        }

    def test_no_headers_omitted(self, api):
        data = sent_data(api, headers={})
        assert "headers" not in data

    def test_non_serializable_header(self, api):
        message = make_message(headers={"X-Price": Decimal("19.99")})
        with pytest.raises(AnymailSerializationError):
            send(message)
        assert api.call_count == 0

    def test_reply_to_header(self, api):
        data = sent_data(
            api,
            reply_to=["ignored@example.com"],
            headers={"reply-TO": "Header Reply <header@example.com>", "X-A": "b"},
        )
        assert data["reply_to_list"] == [
            {"email": "header@example.com", "name": "Header Reply"}
        ]
        assert data["headers"] == {"X-A": "b"}

    def test_from_header_is_unsupported_envelope_sender(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(headers={"From": "Header From <header@example.com>"})
        assert str(excinfo.value) == "SendGrid does not support envelope_sender"
        assert api.call_count == 0

    def test_from_header_ignoring_unsupported(self, api):
        with anymail_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            data = sent_data(
                api,
                from_email="envelope@example.com",
                headers={"From": "Header From <header@example.com>"},
            )
        assert data["from"] == {"email": "header@example.com", "name": "Header From"}
        assert "headers" not in data

    def test_to_header_unsupported(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(headers={"To": "Spoofed <spoofed@example.com>"})
        assert str(excinfo.value) == "SendGrid does not support spoofing `To` header"
        assert api.call_count == 0


class TestAttachments:
    def test_attachments(self, api):
        message = make_message()
        message.attach("test.txt", "¡text content!", "text/plain")
        message.attach("data.bin", b"\x00\x01\xfe\xff", "application/octet-stream")
        message.attach(None, b"%PDF-1.4", "application/pdf")
        data = sent_data(api, message)
        assert data["attachments"] == [
            {
                "content": b64("¡text content!".encode()),
                "type": 'text/plain; charset="utf-8"',
                "filename": "test.txt",
            },
            {
                "content": b64(b"\x00\x01\xfe\xff"),
                "type": "application/octet-stream",
                "filename": "data.bin",
            },
            {"content": b64(b"%PDF-1.4"), "type": "application/pdf", "filename": ""},
        ]

    def test_text_attachment_reencoded_as_utf8(self, api):
        message = make_message()
        latin1 = MIMEText("¡Olé!", "plain", "iso-8859-1")
        latin1.add_header("Content-Disposition", "attachment", filename="latin1.txt")
        message.attach(latin1)
        data = sent_data(api, message)
        assert data["attachments"] == [
            {
                "content": b64("¡Olé!".encode()),
                "type": 'text/plain; charset="utf-8"',
                "filename": "latin1.txt",
            }
        ]

    def test_utf8_text_content_type_kept(self, api):
        message = make_message()
        message.attach("page.html", "<p>¡Hola!</p>", 'text/html; charset="utf-8"')
        data = sent_data(api, message)
        assert data["attachments"][0]["type"] == 'text/html; charset="utf-8"'
        assert data["attachments"][0]["content"] == b64("<p>¡Hola!</p>".encode())

    def test_inline_images(self, api):
        message = make_message()
        cid = attach_inline_image(message, PNG_BYTES, "logo.png", subtype="png")
        message.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        data = sent_data(api, message)
        assert data["attachments"] == [
            {
                "content": b64(PNG_BYTES),
                "type": "image/png",
                "filename": "logo.png",
                "disposition": "inline",
                "content_id": cid,
            }
        ]

    def test_inline_image_without_content_id(self, api):
        message = make_message()
        image = MIMEImage(PNG_BYTES, "png")
        image.add_header("Content-Disposition", "inline")
        message.attach(image)
        data = sent_data(api, message)
        assert data["attachments"] == [
            {
                "content": b64(PNG_BYTES),
                "type": "image/png",
                "filename": "",
                "disposition": "inline",
                "content_id": "",
            }
        ]


class TestAnymailFeatures:
    def test_metadata(self, api):
        data = sent_data(
            api,
            metadata={
                "user_id": 12345,
                "score": 98.6,
                "flag": True,
                "name": "Pat",
                "empty": None,
            },
        )
        assert data["custom_args"] == {
            "user_id": "12345",
            "score": "98.6",
            "flag": "True",
            "name": "Pat",
            "empty": None,
        }
        assert "custom_args" not in without_ids(data["personalizations"])[0]

    def test_tags(self, api):
        data = sent_data(api, tags=["receipt", "repeat-user", "x", "y", "z"])
        assert data["categories"] == ["receipt", "repeat-user", "x", "y", "z"]

    def test_tracking(self, api):
        data = sent_data(api, track_clicks=True, track_opens=False)
        assert data["tracking_settings"] == {
            "click_tracking": {"enable": True},
            "open_tracking": {"enable": False},
        }

    @pytest.mark.parametrize(
        "send_at, expected",
        [
            (
                datetime(
                    2016, 3, 4, 5, 6, 7, 8901, tzinfo=timezone(timedelta(hours=-8))
                ),
                1457096767,
            ),
            (
                datetime(2022, 10, 11, 12, 13, 14, 999999, tzinfo=timezone.utc),
                1665490394,
            ),
            (datetime(2022, 1, 15, 8, 30), 1642264200),  # naive: America/Los_Angeles
            (date(2022, 12, 25), 1671955200),  # midnight America/Los_Angeles
            (1651820889, 1651820889),
            (1651820889.9, 1651820889),
        ],
        ids=["aware", "utc-microseconds", "naive", "date", "int", "float"],
    )
    def test_send_at(self, api, send_at, expected):
        with django_timezone.override(ZoneInfo("America/Los_Angeles")):
            data = sent_data(api, send_at=send_at)
        assert data["send_at"] == expected
        assert isinstance(data["send_at"], int)

    def test_send_at_string_sent_as_given(self, api):
        # (15.1 crashed with AttributeError; SendGrid itself validates it)
        data = sent_data(api, send_at="1651820889")
        assert data["send_at"] == "1651820889"

    def test_envelope_sender_unsupported(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(envelope_sender="bounce@bounces.example.com")
        assert str(excinfo.value) == "SendGrid does not support envelope_sender"
        assert api.call_count == 0


class TestTemplates:
    def test_legacy_template_spec_example(self, api):
        with anymail_settings(SENDGRID_MERGE_FIELD_FORMAT=":{}"):
            data = sent_data(
                api,
                to=["alice@example.com"],
                template_id="5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f",
                merge_data={"alice@example.com": {"name": "Alice"}},
                merge_global_data={"site": "Co"},
            )
        assert data["template_id"] == "5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f"
        assert without_ids(data["personalizations"]) == [
            {
                "to": [{"email": "alice@example.com"}],
                "substitutions": {":name": "Alice", ":site": "Co"},
            }
        ]

    def test_template_without_subject_or_body(self, api):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["to@example.com"],
            template_id="d-0123abcd",
        )
        data = sent_data(api, message)
        assert data["template_id"] == "d-0123abcd"
        assert "subject" not in data
        assert "content" not in data

    def test_legacy_values_stringified(self, api):
        data = sent_data(
            api,
            esp_extra={"merge_field_format": "%{}%"},
            merge_global_data={
                "count": 3,
                "price": 19.5,
                "ok": True,
                "missing": None,
                "s": "x",
            },
        )
        assert data["personalizations"][0]["substitutions"] == {
            "%count%": "3",
            "%price%": "19.5",
            "%ok%": "True",
            "%missing%": None,
            "%s%": "x",
        }
        assert "merge_field_format" not in data

    @pytest.mark.parametrize(
        "value, type_name",
        [(["a"], "list"), ({"a": 1}, "dict"), (Decimal("1.5"), "Decimal")],
    )
    def test_legacy_non_string_values(self, api, value, type_name):
        with pytest.raises(AnymailSerializationError) as excinfo:
            send(
                esp_extra={"merge_field_format": "-{}-"}, merge_global_data={"v": value}
            )
        assert str(excinfo.value) == (
            "SendGrid legacy substitutions require string values."
            f" Don't know how to handle {type_name}."
        )
        assert api.call_count == 0

    def test_merge_field_format_with_literal_braces(self, api):
        with anymail_settings(SENDGRID_MERGE_FIELD_FORMAT="{{{{{}}}}}"):
            data = sent_data(api, template_id="legacy-id", merge_global_data={"n": "1"})
        assert data["personalizations"][0]["substitutions"] == {"{{n}}": "1"}

    def test_esp_extra_merge_field_format_overrides_setting(self, api):
        with anymail_settings(SENDGRID_MERGE_FIELD_FORMAT="-{}-"):
            data = sent_data(
                api,
                merge_global_data={"n": "1"},
                esp_extra={"merge_field_format": "*|{}|*"},
            )
        assert data["personalizations"][0]["substitutions"] == {"*|n|*": "1"}

    def test_warnings_for_undelimited_fields(self, api):
        with pytest.warns(AnymailWarning) as record:
            send(
                to=["alice@example.com", "bob@example.com"],
                merge_data={"alice@example.com": {"name": "Alice"}},
                merge_global_data={"site": "Co"},
            )
        messages = [str(w.message) for w in record if w.category is AnymailWarning]
        assert len(messages) == 2
        assert all("SENDGRID_MERGE_FIELD_FORMAT" in text for text in messages)
        assert "merge_data" in messages[0]
        assert "merge_global_data" in messages[1]
        data = api.last_json()
        assert [p["substitutions"] for p in data["personalizations"]] == [
            {"name": "Alice", "site": "Co"},
            {"site": "Co"},
        ]

    def test_warning_for_undelimited_merge_data_only(self, api):
        with pytest.warns(AnymailWarning) as record:
            send(merge_data={"to@example.com": {"name": "Alice"}})
        messages = [str(w.message) for w in record if w.category is AnymailWarning]
        assert len(messages) == 1
        assert "SENDGRID_MERGE_FIELD_FORMAT" in messages[0]

    def test_no_warning_for_delimited_fields(self, api):
        # (the module's filter turns any AnymailWarning into an error)
        data = sent_data(
            api,
            merge_data={"to@example.com": {":name": "Alice", "first_name": "A"}},
            merge_global_data={"-site-": "Co"},
        )
        assert data["personalizations"][0]["substitutions"] == {
            ":name": "Alice",
            "first_name": "A",
            "-site-": "Co",
        }

    def test_no_warning_when_format_set(self, api):
        with anymail_settings(SENDGRID_MERGE_FIELD_FORMAT="{}"):
            data = sent_data(api, merge_global_data={"site": "Co"})
        assert data["personalizations"][0]["substitutions"] == {"site": "Co"}

    def test_dynamic_template(self, api):
        data = sent_data(
            api,
            template_id="d-0123abcd",
            merge_global_data={"site": "Co", "items": [{"n": 1}], "ok": True},
        )
        assert data["template_id"] == "d-0123abcd"
        assert without_ids(data["personalizations"]) == [
            {
                "to": [{"email": "to@example.com"}],
                "dynamic_template_data": {
                    "site": "Co",
                    "items": [{"n": 1}],
                    "ok": True,
                },
            }
        ]

    def test_global_data_goes_to_single_personalization(self, api):
        data = sent_data(
            api,
            to=["a@example.com", "b@example.com"],
            template_id="d-0123abcd",
            merge_global_data={"site": "Co"},
        )
        assert without_ids(data["personalizations"]) == [
            {
                "to": [{"email": "a@example.com"}, {"email": "b@example.com"}],
                "dynamic_template_data": {"site": "Co"},
            }
        ]

    @pytest.mark.parametrize(
        "template_id, esp_extra, dynamic",
        [
            ("D-0123", {}, False),  # prefix is case-sensitive
            (12345, {}, False),
            ("legacy", {"use_dynamic_template": True}, True),
            ("d-0123", {"use_dynamic_template": False}, False),
        ],
        ids=["uppercase-D", "int", "forced-dynamic", "forced-legacy"],
    )
    def test_template_mode(self, api, template_id, esp_extra, dynamic):
        esp_extra = {"merge_field_format": "{}", **esp_extra}
        data = sent_data(
            api,
            template_id=template_id,
            merge_global_data={"site": "Co"},
            esp_extra=esp_extra,
        )
        assert data["template_id"] == template_id
        personalization = data["personalizations"][0]
        if dynamic:
            assert personalization["dynamic_template_data"] == {"site": "Co"}
            assert "substitutions" not in personalization
        else:
            assert personalization["substitutions"] == {"site": "Co"}
            assert "dynamic_template_data" not in personalization
        assert "use_dynamic_template" not in data

    def test_use_dynamic_template_without_template_id(self, api):
        data = sent_data(
            api,
            merge_global_data={"site": "Co"},
            esp_extra={"use_dynamic_template": True},
        )
        assert data["personalizations"][0]["dynamic_template_data"] == {"site": "Co"}
        assert "template_id" not in data

    def test_no_merge_data_no_substitutions(self, api):
        data = sent_data(api, template_id="legacy-id", merge_global_data={})
        assert set(data["personalizations"][0]) == {"to", "custom_args"}


class TestBatchSends:
    def test_spec_example(self, api, ids):
        message = AnymailMessage(
            from_email="shop@example.com",
            to=["alice@example.com", "Bob <bob@example.com>"],
            cc=["cc@example.com"],
            template_id="d-0123abcd",
            merge_data={"alice@example.com": {"name": "Alice"}},
            merge_global_data={"site": "Co"},
        )
        message.subject = None
        message.body = None
        data = sent_data(api, message)
        assert data == {
            "personalizations": [
                {
                    "to": [{"email": "alice@example.com"}],
                    "cc": [{"email": "cc@example.com"}],
                    "dynamic_template_data": {"name": "Alice", "site": "Co"},
                    "custom_args": {"anymail_id": UUIDS[0]},
                },
                {
                    "to": [{"email": "bob@example.com", "name": "Bob"}],
                    "cc": [{"email": "cc@example.com"}],
                    "dynamic_template_data": {"site": "Co"},
                    "custom_args": {"anymail_id": UUIDS[1]},
                },
            ],
            "from": {"email": "shop@example.com"},
            "template_id": "d-0123abcd",
        }
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == {UUIDS[0], UUIDS[1]}
        assert status.recipients["alice@example.com"].message_id == UUIDS[0]
        assert status.recipients["bob@example.com"].message_id == UUIDS[1]
        # cc is in every personalization: the last one's id wins
        assert status.recipients["cc@example.com"].message_id == UUIDS[1]

    @pytest.mark.parametrize(
        "batch_kwargs",
        [{"merge_data": {}}, {"merge_metadata": {}}, {"merge_headers": {}}],
        ids=["merge_data", "merge_metadata", "merge_headers"],
    )
    def test_empty_merge_attr_makes_batch(self, api, batch_kwargs):
        data = sent_data(
            api,
            to=["a@example.com", "b@example.com"],
            bcc=["bcc@example.com"],
            **batch_kwargs,
        )
        assert without_ids(data["personalizations"]) == [
            {"to": [{"email": "a@example.com"}], "bcc": [{"email": "bcc@example.com"}]},
            {"to": [{"email": "b@example.com"}], "bcc": [{"email": "bcc@example.com"}]},
        ]

    def test_explicit_none_merge_headers_makes_batch(self, api):
        message = make_message(to=["a@example.com", "b@example.com"])
        message.merge_headers = None
        data = sent_data(api, message)
        assert len(data["personalizations"]) == 2

    def test_merge_global_data_alone_is_not_batch(self, api):
        data = sent_data(
            api,
            to=["a@example.com", "b@example.com"],
            esp_extra={"merge_field_format": "{}"},
            merge_global_data={"x": "1"},
        )
        assert len(data["personalizations"]) == 1

    def test_merge_metadata(self, api, ids):
        message = send(
            to=["alice@example.com", "bob@example.com", "carol@example.com"],
            metadata={"order": "A1", "shared": 1},
            merge_metadata={
                "alice@example.com": {"user_id": 7, "shared": 2.5},
                "bob@example.com": {},
                "nobody@example.com": {"user_id": 9},
            },
        )
        data = api.last_json()
        assert data["custom_args"] == {"order": "A1", "shared": "1"}
        assert [p.get("custom_args") for p in data["personalizations"]] == [
            {"user_id": "7", "shared": "2.5", "anymail_id": UUIDS[0]},
            {"anymail_id": UUIDS[1]},
            {"anymail_id": UUIDS[2]},
        ]
        assert (
            message.anymail_status.recipients["carol@example.com"].message_id
            == (UUIDS[2])
        )

    def test_merge_headers(self, api):
        data = sent_data(
            api,
            to=["alice@example.com", "bob@example.com"],
            headers={"X-Custom": "default", "X-Count": 1},
            merge_headers={
                "alice@example.com": {"X-Custom": "alice", "X-Count": 2},
                "bob@example.com": {},
            },
        )
        assert data["headers"] == {"X-Custom": "default", "X-Count": "1"}
        assert [p.get("headers") for p in data["personalizations"]] == [
            {"X-Custom": "alice", "X-Count": 2},  # not stringified
            None,
        ]

    def test_merge_data_legacy(self, api):
        with anymail_settings(SENDGRID_MERGE_FIELD_FORMAT="-{}-"):
            data = sent_data(
                api,
                to=["alice@example.com", "Bob <bob@example.com>"],
                template_id="legacy-template",
                merge_data={
                    "alice@example.com": {"name": "Alice", "group": "Devs"},
                    "bob@example.com": {"name": "Bob"},
                },
                merge_global_data={"group": "Users", "site": "Co"},
            )
        assert [p["substitutions"] for p in data["personalizations"]] == [
            {"-name-": "Alice", "-group-": "Devs", "-site-": "Co"},
            {"-name-": "Bob", "-group-": "Users", "-site-": "Co"},
        ]

    def test_recipient_without_merge_data_gets_no_data(self, api):
        data = sent_data(
            api,
            to=["alice@example.com", "bob@example.com"],
            template_id="d-1",
            merge_data={"alice@example.com": {"name": "Alice"}},
        )
        assert data["personalizations"][0]["dynamic_template_data"] == {"name": "Alice"}
        assert "dynamic_template_data" not in data["personalizations"][1]

    def test_non_ascii_domain_keys(self, api, ids):
        # merge keys and status use the address as written in the message
        # (15.1 only matched the IDNA-encoded form, and reported message_id None)
        message = send(
            to=["anna@exämple.com", "ben@xn--exmple-cua.com"],
            template_id="d-1",
            merge_data={
                "anna@exämple.com": {"name": "Anna"},
                "ben@xn--exmple-cua.com": {"name": "Ben"},
            },
        )
        data = api.last_json()
        assert [p["to"] for p in data["personalizations"]] == [
            [{"email": "anna@xn--exmple-cua.com"}],
            [{"email": "ben@xn--exmple-cua.com"}],
        ]
        assert [p["dynamic_template_data"] for p in data["personalizations"]] == [
            {"name": "Anna"},
            {"name": "Ben"},
        ]
        recipients = message.anymail_status.recipients
        assert recipients["anna@exämple.com"].message_id == UUIDS[0]
        assert recipients["ben@xn--exmple-cua.com"].message_id == UUIDS[1]

    def test_batch_without_to(self, api, ids):
        data = sent_data(api, to=[], cc=["cc@example.com"], merge_data={})
        assert data["personalizations"] == [
            {
                "cc": [{"email": "cc@example.com"}],
                "custom_args": {"anymail_id": UUIDS[0]},
            }
        ]


class TestMessageIds:
    def test_generated_ids_are_uuid4(self, api):
        message = send(to=["a@example.com", "b@example.com"], merge_data={})
        data = api.last_json()
        generated = [p["custom_args"]["anymail_id"] for p in data["personalizations"]]
        assert len(set(generated)) == 2
        for value in generated:
            assert len(value) == 36
            assert str(uuid.UUID(value)) == value  # canonical lowercase form
            assert uuid.UUID(value).version == 4
        assert message.anymail_status.message_id == set(generated)

    def test_non_batch_single_id(self, api, ids):
        message = send(
            to=["a@example.com", "b@example.com"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
        )
        status = message.anymail_status
        assert status.message_id == UUIDS[0]
        assert set(status.recipients) == {
            "a@example.com",
            "b@example.com",
            "cc@example.com",
            "bcc@example.com",
        }
        assert {r.message_id for r in status.recipients.values()} == {UUIDS[0]}

    def test_fresh_ids_per_send(self, api):
        message = make_message()
        send(message)
        first = message.anymail_status.message_id
        send(message)
        assert message.anymail_status.message_id != first

    def test_ids_disabled(self, api):
        with anymail_settings(SENDGRID_GENERATE_MESSAGE_ID=False):
            message = send(
                to=["a@example.com", "b@example.com"],
                cc=["cc@example.com"],
                merge_metadata={"a@example.com": {"k": "v"}},
            )
        data = api.last_json()
        assert [p.get("custom_args") for p in data["personalizations"]] == [
            {"k": "v"},
            None,
        ]
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id is None
        assert {r.message_id for r in status.recipients.values()} == {None}

    def test_no_message_id_header(self, api):
        data = sent_data(api)
        assert "headers" not in data


class TestEspExtra:
    def test_deep_merge(self, api):
        data = sent_data(
            api,
            track_opens=True,
            esp_extra={
                "tracking_settings": {
                    "open_tracking": {"substitution_tag": "%%PIXEL%%"},
                    "subscription_tracking": {"enable": False},
                },
                "asm": {"group_id": 1, "groups_to_display": [1, 2, 3]},
                "ip_pool_name": "transactional",
                "mail_settings": {"sandbox_mode": {"enable": True}},
                "batch_id": "batch-1",
            },
        )
        assert data["tracking_settings"] == {
            "open_tracking": {"enable": True, "substitution_tag": "%%PIXEL%%"},
            "subscription_tracking": {"enable": False},
        }
        assert data["asm"] == {"group_id": 1, "groups_to_display": [1, 2, 3]}
        assert data["ip_pool_name"] == "transactional"
        assert data["mail_settings"] == {"sandbox_mode": {"enable": True}}
        assert data["batch_id"] == "batch-1"

    def test_esp_extra_overrides(self, api):
        data = sent_data(
            api,
            tags=["anymail-tag"],
            metadata={"a": "1"},
            esp_extra={
                "categories": ["override"],
                "subject": "New",
                "custom_args": {"b": "2"},
            },
        )
        assert data["categories"] == ["override"]
        assert data["subject"] == "New"
        assert data["custom_args"] == {"a": "1", "b": "2"}

    def test_esp_extra_merged_with_send_defaults(self, api):
        with anymail_settings(
            SENDGRID_SEND_DEFAULTS={
                "esp_extra": {"asm": {"group_id": 1}, "ip_pool_name": "dflt"}
            }
        ):
            data = sent_data(api, esp_extra={"asm": {"groups_to_display": [1]}})
        assert data["asm"] == {"group_id": 1, "groups_to_display": [1]}
        assert data["ip_pool_name"] == "dflt"

    def test_personalizations_dict_in_every_personalization(self, api, ids):
        data = sent_data(
            api,
            to=["a@example.com", "b@example.com"],
            merge_data={},
            esp_extra={
                "personalizations": {"send_at": 1651820889, "custom_args": {"k": "v"}}
            },
        )
        assert data["personalizations"] == [
            {
                "to": [{"email": "a@example.com"}],
                "send_at": 1651820889,
                "custom_args": {"k": "v", "anymail_id": UUIDS[0]},
            },
            {
                "to": [{"email": "b@example.com"}],
                "send_at": 1651820889,
                "custom_args": {"k": "v", "anymail_id": UUIDS[1]},
            },
        ]

    def test_personalizations_list_replaces(self, api, ids):
        personalizations = [
            {"to": [{"email": "x@example.com"}], "subject": "For X"},
            {"to": [{"email": "y@example.com"}], "custom_args": {"k": "v"}},
        ]
        message = send(
            to=["to@example.com"],
            esp_extra={"personalizations": personalizations},
        )
        assert api.last_json()["personalizations"] == [
            {
                "to": [{"email": "x@example.com"}],
                "subject": "For X",
                "custom_args": {"anymail_id": UUIDS[0]},
            },
            {
                "to": [{"email": "y@example.com"}],
                "custom_args": {"k": "v", "anymail_id": UUIDS[1]},
            },
        ]
        # the message's own recipient isn't in them
        assert message.anymail_status.recipients["to@example.com"].message_id is None
        assert message.esp_extra["personalizations"] == [
            {"to": [{"email": "x@example.com"}], "subject": "For X"},
            {"to": [{"email": "y@example.com"}], "custom_args": {"k": "v"}},
        ]

    def test_x_smtpapi_rejected(self, api):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            send(esp_extra={"x-smtpapi": {"asm_group_id": 1}})
        assert str(excinfo.value) == (
            "You are attempting to use SendGrid v2 API-style x-smtpapi params with"
            " the SendGrid v3 API. Please update your `esp_extra` to the new API."
        )
        assert api.call_count == 0

    def test_message_esp_extra_not_modified(self, api):
        esp_extra = {"merge_field_format": "-{}-", "use_dynamic_template": False}
        send(esp_extra=esp_extra, merge_global_data={"n": "1"})
        assert esp_extra == {
            "merge_field_format": "-{}-",
            "use_dynamic_template": False,
        }
        assert "merge_field_format" not in api.last_json()


class TestUnsupportedFeatures:
    @pytest.mark.parametrize(
        "kwargs, feature",
        [
            ({"envelope_sender": "bounce@example.com"}, "envelope_sender"),
            ({"headers": {"From": "header@example.com"}}, "envelope_sender"),
            (
                {"from_email": "one@example.com, two@example.com"},
                "multiple from emails",
            ),
            ({"headers": {"To": "spoofed@example.com"}}, "spoofing `To` header"),
        ],
        ids=["envelope_sender", "From header", "multiple from", "To header"],
    )
    def test_unsupported(self, api, kwargs, feature):
        message = make_message(**kwargs)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == f"SendGrid does not support {feature}"
        assert api.call_count == 0
        assert message.anymail_status.status is None

    def test_ignore_unsupported_features(self, api):
        with anymail_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            data = sent_data(
                api,
                from_email="one@example.com, two@example.com",
                envelope_sender="bounce@example.com",
                headers={"To": "spoofed@example.com", "X-Other": "kept"},
            )
        assert data["from"] == {"email": "one@example.com"}
        assert data["headers"] == {"X-Other": "kept"}
        assert set(data) == {
            "personalizations",
            "from",
            "subject",
            "content",
            "headers",
        }

    def test_ignore_unsupported_features_kwarg(self, api):
        connection = get_connection(ignore_unsupported_features=True)
        data = sent_data(
            api, make_message(connection=connection, envelope_sender="b@example.com")
        )
        assert "envelope_sender" not in data


class TestResponses:
    def test_success_status(self, api, ids):
        message = send(
            to=["To <To@Example.com>"], cc=["cc@example.com"], bcc=["bcc@example.com"]
        )
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == UUIDS[0]
        assert set(status.recipients) == {
            "To@Example.com",
            "cc@example.com",
            "bcc@example.com",
        }
        for recipient in status.recipients.values():
            assert recipient.status == "queued"
            assert recipient.message_id == UUIDS[0]
        assert status.esp_response.status_code == 202

    @pytest.mark.parametrize(
        "status_code, body",
        [(200, "not json at all"), (201, {"unexpected": "shape"}), (299, b"")],
    )
    def test_any_2xx_is_success_body_ignored(self, api, status_code, body):
        api.set_response(status_code, body)
        message = send()
        assert message.anymail_status.status == {"queued"}
        assert message.anymail_status.esp_response.status_code == status_code

    def test_never_recipients_refused(self, api):
        message = send(to=["bounce@simulator.example.com"])
        assert message.anymail_status.status == {"queued"}

    def test_api_error(self, api):
        error_body = {
            "errors": [
                {
                    "message": "The subject is required.",
                    "field": "subject",
                    "help": None,
                }
            ]
        }
        api.set_response(400, error_body)
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        err = excinfo.value
        assert err.status_code == 400
        assert str(err) == (
            "SendGrid API response 400 (BAD REQUEST):\n"
            "{\n"
            '  "errors": [\n'
            "    {\n"
            '      "message": "The subject is required.",\n'
            '      "field": "subject",\n'
            '      "help": null\n'
            "    }\n"
            "  ]\n"
            "}"
        )
        assert API_KEY not in str(err)
        status = message.anymail_status
        assert status.status is None
        assert status.message_id is None
        assert status.recipients == {}
        assert status.esp_response is None

    def test_api_error_non_json(self, api):
        api.set_response(500, "Internal problem")
        with pytest.raises(AnymailAPIError) as excinfo:
            send()
        assert str(excinfo.value) == (
            "SendGrid API response 500 (INTERNAL SERVER ERROR): 'Internal problem'"
        )

    def test_api_error_empty_body(self, api):
        api.set_response(401, b"", reason="Unauthorized")
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send()
        assert excinfo.value.status_code == 401
        assert str(excinfo.value).startswith("SendGrid API response 401 (Unauthorized)")
        assert API_KEY not in str(excinfo.value)


class TestSendThroughDjangoApis:
    def test_plain_email_message_gets_status(self, api):
        message = mail.EmailMultiAlternatives(
            "Subject", "Body", "from@example.com", ["to@example.com"]
        )
        message.send()
        assert message.anymail_status.status == {"queued"}
        assert isinstance(message.anymail_status.message_id, str)
