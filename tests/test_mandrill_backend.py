"""Tests for the Mandrill sending backend (messages/send and send-template)."""

import copy
import io
import json
from contextlib import redirect_stdout
from datetime import date, datetime, timedelta, timezone
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import get_connection, send_mail
from django.test import override_settings
from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy

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

API_KEY = "test-mandrill-api-key"
BACKEND = "anymail.backends.mandrill.EmailBackend"
API_URL = "https://mandrillapp.com/api/1.0/"
SEND_URL = API_URL + "messages/send.json"
SEND_TEMPLATE_URL = API_URL + "messages/send-template.json"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
UTC_PLUS_6 = timezone(timedelta(hours=6))


def result(email="to@example.com", status="sent", _id="abc123", **extra):
    item = {"email": email, "status": status, "reject_reason": None, **extra}
    if _id is not None:
        item["_id"] = _id
    return item


@pytest.fixture(autouse=True)
def mandrill_settings():
    with override_settings(
        EMAIL_BACKEND=BACKEND, ANYMAIL={"MANDRILL_API_KEY": API_KEY}
    ):
        yield


@pytest.fixture
def api(requests_mock):
    """requests_mock answering every call with a one-recipient success."""
    requests_mock.set_response(200, [result()])
    return requests_mock


def sent_message(api, message=None, **kwargs):
    """Send, and return the body's "message" object."""
    return sent_data(api, message, **kwargs)["message"]


# ---------------------------------------------------------------------------


class TestApiCall:
    def test_minimal_request(self, api):
        send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        assert api.last_json() == {
            "key": API_KEY,
            "message": {
                "from_email": "from@example.com",
                "to": [{"email": "to@example.com", "type": "to"}],
                "subject": "Subject",
                "text": "Body",
            },
        }

    def test_template_endpoint(self, api):
        send(template_id="welcome")
        assert api.last_call["url"] == SEND_TEMPLATE_URL


class TestSettings:
    def test_api_url_setting_adds_trailing_slash(self, api):
        with override_settings(
            ANYMAIL={
                "MANDRILL_API_KEY": API_KEY,
                "MANDRILL_API_URL": "https://mandrill.example.com/api/1.1",
            }
        ):
            send()
        assert api.last_call["url"] == (
            "https://mandrill.example.com/api/1.1/messages/send.json"
        )

    def test_api_url_kwarg(self, api):
        connection = get_connection(api_url="https://proxy.example.com/mandrill/")
        assert connection.api_url == "https://proxy.example.com/mandrill/"
        send(make_message(connection=connection, template_id="t"))
        assert api.last_call["url"] == (
            "https://proxy.example.com/mandrill/messages/send-template.json"
        )

    def test_options_are_consumed(self):
        path = "django.core.mail.backends.base.BaseEmailBackend.__init__"
        with mock.patch(path, return_value=None) as base_init:
            get_connection(
                api_key="k",
                api_url="https://example.com/",
                send_defaults={},
                idna_encoder="idna2003",
                ignore_unsupported_features=True,
                ignore_recipient_status=True,
                debug_api_requests=False,
                requests_timeout=3,
                alias="default",
            )
        base_init.assert_called_once()
        assert base_init.call_args.kwargs == {"alias": "default"}

    def test_settings_read_at_construction(self, api):
        connection = get_connection()
        with override_settings(ANYMAIL={"MANDRILL_API_KEY": "changed"}):
            data = sent_data(api, make_message(connection=connection))
        assert data["key"] == API_KEY

    def test_djrill_settings_not_read(self, api):
        with override_settings(
            MANDRILL_SETTINGS={"subaccount": "djrill", "track_opens": True},
            MANDRILL_SUBACCOUNT="djrill",
            ANYMAIL={"MANDRILL_API_KEY": API_KEY, "MANDRILL_SUBACCOUNT": "djrill"},
        ):
            data = sent_data(api)
        assert set(data) == {"key", "message"}
        assert set(data["message"]) == {"from_email", "to", "subject", "text"}

    def test_esp_send_defaults(self, api):
        with override_settings(
            ANYMAIL={
                "MANDRILL_API_KEY": API_KEY,
                "SEND_DEFAULTS": {"metadata": {"global": "1"}, "tags": ["global"]},
                "MANDRILL_SEND_DEFAULTS": {"tags": ["esp"], "track_opens": True},
            }
        ):
            message = sent_message(api, tags=["message"])
        assert message["metadata"] == {"global": "1"}
        assert message["tags"] == ["esp", "message"]
        assert message["track_opens"] is True

    def test_esp_idna_encoder(self, api):
        with override_settings(
            ANYMAIL={"MANDRILL_API_KEY": API_KEY, "MANDRILL_IDNA_ENCODER": "idna2003"}
        ):
            message = sent_message(api, to=["to@faß.example"])
        assert message["to"] == [{"email": "to@fass.example", "type": "to"}]


class TestAddresses:
    def test_from_email_with_display_name(self, api):
        message = sent_message(
            api, from_email='"Odesílatel, z adresy" <from@příklad.example>'
        )
        assert message["from_email"] == "from@xn--pklad-zsa96e.example"
        assert message["from_name"] == "Odesílatel, z adresy"  # raw Unicode

    def test_from_email_without_display_name(self, api):
        message = sent_message(api, from_email="from@example.com")
        assert message["from_email"] == "from@example.com"
        assert "from_name" not in message

    def test_default_from_email(self, api):
        email = mail.EmailMessage("Subject", "Body", to=["to@example.com"])
        message = sent_message(api, email)
        assert message["from_email"] == "from@example.com"

    def test_no_from_email(self, api):
        email = make_message(from_email="Name <from@example.com>")
        email.from_email = None  # use the template's sender
        message = sent_message(api, email)
        assert "from_email" not in message
        assert "from_name" not in message

    def test_to_cc_bcc_in_one_list(self, api):
        message = sent_message(
            api,
            to=["to1@example.com", '"Recipient, Second" <to2@例え.jp>'],
            cc=["cc1@example.com", "CC 2 <cc2@example.com>"],
            bcc=["bcc1@example.com", "Blind Copy <bcc2@example.com>"],
        )
        assert message["to"] == [
            {"email": "to1@example.com", "type": "to"},
            {"email": "to2@xn--r8jz45g.jp", "name": "Recipient, Second", "type": "to"},
            {"email": "cc1@example.com", "type": "cc"},
            {"email": "cc2@example.com", "name": "CC 2", "type": "cc"},
            {"email": "bcc1@example.com", "type": "bcc"},
            {"email": "bcc2@example.com", "name": "Blind Copy", "type": "bcc"},
        ]
        assert "bcc_address" not in message
        assert "preserve_recipients" not in message

    def test_cc_only(self, api):
        message = sent_message(api, to=[], cc=["cc@example.com"])
        assert message["to"] == [{"email": "cc@example.com", "type": "cc"}]

    def test_eai_local_part_kept(self, api):
        message = sent_message(api, to=["Пользователь <відправник@example.com>"])
        assert message["to"] == [
            {"email": "відправник@example.com", "name": "Пользователь", "type": "to"}
        ]

    def test_reply_to(self, api):
        message = sent_message(
            api, reply_to=["reply@example.com", '"Other, Reply" <other@例え.jp>']
        )
        assert message["headers"] == {
            "Reply-To": 'reply@example.com, "Other, Reply" <other@xn--r8jz45g.jp>'
        }

    def test_unicode_reply_to_name_not_encoded(self, api):
        message = sent_message(api, reply_to=["Odpověď <reply@example.com>"])
        assert message["headers"] == {"Reply-To": "Odpověď <reply@example.com>"}

    def test_empty_reply_to_omitted(self, api):
        message = sent_message(api, reply_to=[])
        assert "headers" not in message


class TestContent:
    def test_subject_and_text(self, api):
        message = sent_message(api, subject="Hello ✨", body="Text body")
        assert message["subject"] == "Hello ✨"
        assert message["text"] == "Text body"
        assert "html" not in message

    def test_empty_subject_and_body_still_sent(self, api):
        message = sent_message(api, subject="", body="")
        assert message["subject"] == ""
        assert message["text"] == ""

    def test_no_subject(self, api):
        email = make_message()
        email.subject = None  # use the template's subject
        message = sent_message(api, email)
        assert "subject" not in message

    def test_html_alternative(self, api):
        email = make_message()
        email.attach_alternative("<p>HTML</p>", "text/html")
        message = sent_message(api, email)
        assert message["text"] == "Body"
        assert message["html"] == "<p>HTML</p>"

    def test_html_only_body(self, api):
        email = make_message(body="<p>HTML only</p>")
        email.content_subtype = "html"
        message = sent_message(api, email)
        assert message["html"] == "<p>HTML only</p>"
        assert "text" not in message

    def test_lazy_strings(self, api):
        email = make_message(
            subject=gettext_lazy("Lazy subject"), body=gettext_lazy("Lazy body")
        )
        email.tags = [gettext_lazy("lazy-tag")]
        email.metadata = {"lazy": gettext_lazy("value")}
        message = sent_message(api, email)
        assert message["subject"] == "Lazy subject"
        assert message["text"] == "Lazy body"
        assert message["tags"] == ["lazy-tag"]
        assert message["metadata"] == {"lazy": "value"}

    def test_unset_options_omitted(self, api):
        data = sent_data(api)
        assert set(data) == {"key", "message"}
        assert set(data["message"]) == {"from_email", "to", "subject", "text"}

    def test_djrill_attributes_ignored(self, api):
        email = make_message()
        email.merge_vars = {"to@example.com": {"x": "1"}}
        email.template_name = "djrill-template"
        email.preserve_recipients = True
        email.global_merge_vars = {"g": "1"}
        data = sent_data(api, email)
        assert set(data) == {"key", "message"}
        assert set(data["message"]) == {"from_email", "to", "subject", "text"}
        assert api.last_call["url"] == SEND_URL


class TestHeaders:
    def test_extra_headers_merged_with_reply_to(self, api):
        message = sent_message(
            api,
            reply_to=["reply@example.com"],
            headers={"X-Custom": "value", "x-number": 123, "List-ID": "<list.example>"},
        )
        assert message["headers"] == {
            "Reply-To": "reply@example.com",
            "X-Custom": "value",
            "x-number": 123,  # passed through unchanged
            "List-ID": "<list.example>",
        }

    def test_reply_to_header_overrides_reply_to(self, api):
        message = sent_message(
            api,
            reply_to=["ignored@example.com"],
            headers={"reply-TO": "Header Reply <header@example.com>", "X-A": "b"},
        )
        assert message["headers"] == {
            "Reply-To": "Header Reply <header@example.com>",
            "X-A": "b",
        }

    def test_from_header(self, api):
        message = sent_message(
            api,
            from_email="envelope@bounces.example.com",
            headers={"From": "Header From <from@example.com>"},
        )
        assert message["from_email"] == "from@example.com"
        assert message["from_name"] == "Header From"
        assert message["return_path_domain"] == "bounces.example.com"
        assert "headers" not in message

    def test_envelope_sender_wins_over_from_header(self, api):
        message = sent_message(
            api,
            from_email="from-attr@attr.example.com",
            headers={"From": "header@example.com"},
            envelope_sender="explicit@explicit.example.com",
        )
        assert message["from_email"] == "header@example.com"
        assert message["return_path_domain"] == "explicit.example.com"


class TestAttachments:
    def test_attachments(self, api):
        email = make_message()
        email.attach("test.txt", "¡text content!", "text/plain")
        email.attach("data.bin", b"\x00\x01\xfe\xff", "application/octet-stream")
        email.attach(None, b"%PDF-1.4", "application/pdf")
        latin1 = MIMEText("¡Olé!", "plain", "iso-8859-1")
        latin1.add_header("Content-Disposition", "attachment", filename="latin1.txt")
        email.attach(latin1)
        email.attach("názov.csv", "a,b\n", "text/csv")
        message = sent_message(api, email)
        assert message["attachments"] == [
            {
                "type": 'text/plain; charset="utf-8"',
                "name": "test.txt",
                "content": b64("¡text content!".encode()),
            },
            {
                "type": "application/octet-stream",
                "name": "data.bin",
                "content": b64(b"\x00\x01\xfe\xff"),
            },
            {"type": "application/pdf", "name": "", "content": b64(b"%PDF-1.4")},
            {
                "type": 'text/plain; charset="iso-8859-1"',
                "name": "latin1.txt",
                "content": b64("¡Olé!".encode("iso-8859-1")),  # its own charset
            },
            {
                "type": 'text/csv; charset="utf-8"',
                "name": "názov.csv",  # raw Unicode
                "content": b64(b"a,b\n"),
            },
        ]
        assert "images" not in message

    def test_inline_images(self, api):
        email = make_message()
        cid = attach_inline_image(email, PNG_BYTES, "logo.png", subtype="png")
        email.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        message = sent_message(api, email)
        assert message["images"] == [
            {"type": "image/png", "name": cid, "content": b64(PNG_BYTES)}
        ]
        assert "attachments" not in message

    def test_content_id_without_disposition_is_inline(self, api):
        email = make_message()
        image = MIMEImage(PNG_BYTES, "png")
        image.add_header("Content-ID", "<logo@example.com>")
        email.attach(image)
        attached = MIMEImage(PNG_BYTES, "png")
        attached.add_header("Content-Disposition", "attachment", filename="a.png")
        attached.add_header("Content-ID", "<ignored@example.com>")
        email.attach(attached)
        message = sent_message(api, email)
        assert message["images"] == [
            {"type": "image/png", "name": "logo@example.com", "content": b64(PNG_BYTES)}
        ]
        assert message["attachments"] == [
            {"type": "image/png", "name": "a.png", "content": b64(PNG_BYTES)}
        ]


class TestAnymailFeatures:
    def test_envelope_sender_domain_only(self, api):
        message = sent_message(
            api, envelope_sender="Bounces <bounce+123@bounces.exämple.com>"
        )
        assert message["return_path_domain"] == "bounces.xn--exmple-cua.com"

    def test_metadata(self, api):
        metadata = {"user_id": 12345, "nested": {"a": [1, 2]}, "flag": True}
        message = sent_message(api, metadata=metadata)
        assert message["metadata"] == metadata

    def test_tags(self, api):
        message = sent_message(api, tags=["receipt", "repeat-user", "three"])
        assert message["tags"] == ["receipt", "repeat-user", "three"]

    @pytest.mark.parametrize(
        "clicks, opens", [(True, False), (False, True)], ids=["clicks", "opens"]
    )
    def test_tracking(self, api, clicks, opens):
        message = sent_message(api, track_clicks=clicks, track_opens=opens)
        assert message["track_clicks"] is clicks
        assert message["track_opens"] is opens

    @pytest.mark.parametrize(
        "send_at, expected",
        [
            (datetime(2022, 10, 11, 12, 13, 14, 567), "2022-10-11 06:13:14"),
            (date(2022, 10, 22), "2022-10-21 18:00:00"),
            (
                datetime(
                    2016, 3, 4, 5, 6, 7, 8901, tzinfo=timezone(timedelta(hours=-8))
                ),
                "2016-03-04 13:06:07",
            ),
            (
                datetime(2022, 10, 11, 12, 13, 14, tzinfo=timezone.utc),
                "2022-10-11 12:13:14",
            ),
            (1651820889, "2022-05-06 07:08:09"),
            (1651820889.9, "2022-05-06 07:08:09"),
            ("2022-10-11 12:13:14", "2022-10-11 12:13:14"),
            ("whenever", "whenever"),
        ],
        ids=["naive", "date", "aware", "utc", "int", "float", "str", "odd-str"],
    )
    def test_send_at(self, api, send_at, expected):
        with django_timezone.override(UTC_PLUS_6):
            data = sent_data(api, send_at=send_at)
        assert data["send_at"] == expected  # top level, in UTC
        assert "send_at" not in data["message"]

    def test_template_id(self, api):
        data = sent_data(api, template_id="welcome-template")
        assert api.last_call["url"] == SEND_TEMPLATE_URL
        assert data["template_name"] == "welcome-template"
        assert data["template_content"] == []
        assert "template_name" not in data["message"]

    def test_template_without_from_and_subject(self, api):
        email = make_message(template_id="welcome", body="")
        email.from_email = None
        email.subject = None
        data = sent_data(api, email)
        assert data == {
            "key": API_KEY,
            "template_name": "welcome",
            "template_content": [],
            "message": {"to": [{"email": "to@example.com", "type": "to"}], "text": ""},
        }

    def test_merge_global_data_keeps_order(self, api):
        message = sent_message(
            api, merge_global_data={"zeta": "Z", "alpha": {"nested": 1}, "mid": 3}
        )
        assert message["global_merge_vars"] == [
            {"name": "zeta", "content": "Z"},
            {"name": "alpha", "content": {"nested": 1}},
            {"name": "mid", "content": 3},
        ]
        assert "preserve_recipients" not in message  # not a batch

    def test_merge_data(self, api):
        data = sent_data(
            api,
            to=["alice@example.com", "Bob <bob@example.com>"],
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "bob@example.com": {"name": "Bob"},
                "not-a-recipient@example.com": {"name": "Nobody"},
            },
            merge_global_data={"group": "Users"},
        )
        message = data["message"]
        assert message["merge_vars"] == [
            {
                "rcpt": "alice@example.com",
                "vars": [  # sorted by name
                    {"name": "group", "content": "Developers"},
                    {"name": "name", "content": "Alice"},
                ],
            },
            {"rcpt": "bob@example.com", "vars": [{"name": "name", "content": "Bob"}]},
            {
                "rcpt": "not-a-recipient@example.com",
                "vars": [{"name": "name", "content": "Nobody"}],
            },
        ]
        assert message["global_merge_vars"] == [{"name": "group", "content": "Users"}]
        assert message["preserve_recipients"] is False
        assert api.last_call["url"] == SEND_URL  # no template needed
        assert api.call_count == 1  # one API call for the whole batch

    def test_empty_merge_data_is_batch(self, api):
        message = sent_message(api, merge_data={})
        assert message["merge_vars"] == []
        assert message["preserve_recipients"] is False

    def test_merge_metadata(self, api):
        message = sent_message(
            api,
            to=["b@example.com", "a@example.com"],
            metadata={"batch": "zx9"},
            merge_metadata={
                "b@example.com": {"order": 2},
                "a@example.com": {"order": 1, "tier": "gold"},
            },
        )
        assert message["metadata"] == {"batch": "zx9"}
        assert message["recipient_metadata"] == [  # dict order
            {"rcpt": "b@example.com", "values": {"order": 2}},
            {"rcpt": "a@example.com", "values": {"order": 1, "tier": "gold"}},
        ]
        assert message["preserve_recipients"] is False

    def test_merge_data_in_send_defaults_makes_batch(self, api):
        with override_settings(
            ANYMAIL={
                "MANDRILL_API_KEY": API_KEY,
                "MANDRILL_SEND_DEFAULTS": {"merge_data": {"to@example.com": {"a": 1}}},
            }
        ):
            message = sent_message(api)
        assert message["merge_vars"] == [
            {"rcpt": "to@example.com", "vars": [{"name": "a", "content": 1}]}
        ]
        assert message["preserve_recipients"] is False

    def test_all_features_together(self, api):
        with django_timezone.override(timezone.utc):
            data = sent_data(
                api,
                from_email="Sender <from@example.com>",
                to=["to@example.com"],
                cc=["cc@example.com"],
                reply_to=["reply@example.com"],
                headers={"X-Test": "1"},
                envelope_sender="bounce@mail.example.com",
                metadata={"m": "1"},
                tags=["t"],
                track_clicks=True,
                track_opens=True,
                send_at=datetime(2030, 1, 2, 3, 4, 5),
                template_id="tmpl",
                merge_global_data={"g": "1"},
                merge_data={"to@example.com": {"v": "1"}},
                merge_metadata={"to@example.com": {"r": "1"}},
            )
        assert data == {
            "key": API_KEY,
            "send_at": "2030-01-02 03:04:05",
            "template_name": "tmpl",
            "template_content": [],
            "message": {
                "from_email": "from@example.com",
                "from_name": "Sender",
                "to": [
                    {"email": "to@example.com", "type": "to"},
                    {"email": "cc@example.com", "type": "cc"},
                ],
                "subject": "Subject",
                "headers": {"Reply-To": "reply@example.com", "X-Test": "1"},
                "text": "Body",
                "return_path_domain": "mail.example.com",
                "metadata": {"m": "1"},
                "tags": ["t"],
                "track_clicks": True,
                "track_opens": True,
                "merge_vars": [
                    {"rcpt": "to@example.com", "vars": [{"name": "v", "content": "1"}]}
                ],
                "global_merge_vars": [{"name": "g", "content": "1"}],
                "recipient_metadata": [
                    {"rcpt": "to@example.com", "values": {"r": "1"}}
                ],
                "preserve_recipients": False,
            },
        }


class TestEspExtra:
    def test_top_level_and_message_options(self, api):
        data = sent_data(
            api,
            tags=["anymail-tag"],
            esp_extra={
                "ip_pool": "Main Pool",
                "async": True,
                "send_at": "2031-01-01 00:00:00",
                "message": {
                    "subaccount": "sub-1",
                    "merge_language": "handlebars",
                    "important": True,
                    "tags": ["override"],
                    "subject": "New subject",
                },
            },
        )
        assert data == {
            "key": API_KEY,
            "ip_pool": "Main Pool",
            "async": True,
            "send_at": "2031-01-01 00:00:00",
            "message": {
                "from_email": "from@example.com",
                "to": [{"email": "to@example.com", "type": "to"}],
                "subject": "New subject",
                "text": "Body",
                "tags": ["override"],
                "subaccount": "sub-1",
                "merge_language": "handlebars",
                "important": True,
            },
        }

    def test_message_is_shallow_updated(self, api):
        message = sent_message(
            api,
            headers={"X-A": "a"},
            esp_extra={"message": {"headers": {"X-B": "b"}}},
        )
        assert message["headers"] == {"X-B": "b"}  # replaced, not merged

    def test_api_key_override(self, api):
        data = sent_data(api, esp_extra={"key": "other-subaccount-key"})
        assert data["key"] == "other-subaccount-key"

    def test_template_name_switches_endpoint(self, api):
        data = sent_data(api, esp_extra={"template_name": "from-extra"})
        assert api.last_call["url"] == SEND_TEMPLATE_URL
        assert data["template_name"] == "from-extra"
        assert "template_content" not in data

    def test_template_content_dict(self, api):
        data = sent_data(
            api,
            template_id="t",
            esp_extra={"template_content": {"header": "<h1>Hi</h1>", "footer": "Bye"}},
        )
        assert data["template_content"] == [
            {"name": "header", "content": "<h1>Hi</h1>"},
            {"name": "footer", "content": "Bye"},
        ]

    def test_template_content_list(self, api):
        content = [{"name": "main", "content": "x"}]
        data = sent_data(api, template_id="t", esp_extra={"template_content": content})
        assert data["template_content"] == content

    def test_recipient_metadata_dict_sorted_by_email(self, api):
        message = sent_message(
            api,
            esp_extra={
                "message": {
                    "recipient_metadata": {
                        "zed@example.com": {"n": 1},
                        "amy@example.com": {"n": 2},
                    }
                }
            },
        )
        assert message["recipient_metadata"] == [
            {"rcpt": "amy@example.com", "values": {"n": 2}},
            {"rcpt": "zed@example.com", "values": {"n": 1}},
        ]
        assert "preserve_recipients" not in message  # esp_extra isn't a batch

    def test_recipient_metadata_list(self, api):
        metadata = [{"rcpt": "zed@example.com", "values": {"n": 1}}]
        message = sent_message(
            api, esp_extra={"message": {"recipient_metadata": metadata}}
        )
        assert message["recipient_metadata"] == metadata

    def test_callers_esp_extra_not_modified(self, api):
        esp_extra = {
            "template_content": {"a": "1"},
            "message": {"recipient_metadata": {"x@example.com": {"v": 1}}},
        }
        original = copy.deepcopy(esp_extra)
        email = make_message(template_id="t", esp_extra=esp_extra)
        send(email)
        send(email)
        assert esp_extra == original
        assert api.last_json()["template_content"] == [{"name": "a", "content": "1"}]

    def test_batch_forces_preserve_recipients_off(self, api):
        message = sent_message(
            api,
            merge_metadata={"to@example.com": {"a": 1}},
            esp_extra={"message": {"preserve_recipients": True}},
        )
        assert message["preserve_recipients"] is False

    def test_preserve_recipients_for_non_batch(self, api):
        message = sent_message(
            api,
            cc=["cc@example.com"],
            esp_extra={"message": {"preserve_recipients": True}},
        )
        assert message["preserve_recipients"] is True

    def test_deep_merged_with_send_defaults(self, api):
        with override_settings(
            ANYMAIL={
                "MANDRILL_API_KEY": API_KEY,
                "MANDRILL_SEND_DEFAULTS": {
                    "esp_extra": {
                        "ip_pool": "Default Pool",
                        "message": {"subaccount": "dflt", "important": True},
                    }
                },
            }
        ):
            data = sent_data(api, esp_extra={"message": {"subaccount": "mine"}})
        assert data["ip_pool"] == "Default Pool"
        assert data["message"]["subaccount"] == "mine"
        assert data["message"]["important"] is True


class TestUnsupportedFeatures:
    @pytest.mark.parametrize(
        "merge_headers", [{"to@example.com": {"X-Id": "1"}}, {}], ids=["dict", "empty"]
    )
    def test_merge_headers(self, api, merge_headers):
        email = make_message(merge_headers=merge_headers)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(email)
        assert str(excinfo.value) == "Mandrill does not support merge_headers"
        assert api.call_count == 0
        assert email.anymail_status.status is None

    @pytest.mark.parametrize(
        "alternatives, feature",
        [
            (
                [("<p>1</p>", "text/html"), ("<p>2</p>", "text/html")],
                "multiple html parts",
            ),
            ([("more text", "text/plain")], "multiple plaintext parts"),
            (
                [("<html amp4email>AMP</html>", "text/x-amp-html")],
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
        email = make_message(alternatives=alternatives)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(email)
        assert str(excinfo.value) == f"Mandrill does not support {feature}"
        assert api.call_count == 0

    def test_multiple_from_emails(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(from_email="one@example.com, two@example.com")
        assert str(excinfo.value) == "Mandrill does not support multiple from emails"
        assert api.call_count == 0

    def test_spoofed_to_header(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(headers={"To": "Spoofed <spoofed@example.com>"})
        assert str(excinfo.value) == "Mandrill does not support spoofing `To` header"
        assert api.call_count == 0

    def test_ignore_unsupported_features(self, api):
        with override_settings(
            ANYMAIL={"MANDRILL_API_KEY": API_KEY, "IGNORE_UNSUPPORTED_FEATURES": True}
        ):
            email = make_message(
                from_email="one@example.com, two@example.com",
                headers={"To": "spoofed@example.com"},
                merge_headers={"to@example.com": {"X-Id": "1"}},
                alternatives=[
                    ("<p>1</p>", "text/html"),
                    ("<p>2</p>", "text/html"),
                    ("<amp>1</amp>", "text/x-amp-html"),
                    ("more text", "text/plain"),
                ],
            )
            message = sent_message(api, email)
        assert message == {
            "from_email": "one@example.com",
            "to": [{"email": "to@example.com", "type": "to"}],
            "subject": "Subject",
            "text": "Body",
            "html": "<p>1</p>",
            "preserve_recipients": False,  # merge_headers still makes a batch
        }

    def test_ignore_unsupported_features_kwarg(self, api):
        connection = get_connection(ignore_unsupported_features=True)
        email = make_message(connection=connection, merge_headers={})
        message = sent_message(api, email)
        assert message["preserve_recipients"] is False


class TestResponses:
    def test_success_status(self, api):
        api.set_response(
            200, [{"email": "to1@example.com", "status": "sent", "_id": "abc123"}]
        )
        email = send(to=["To <to1@example.com>"])
        status = email.anymail_status
        assert status.status == {"sent"}
        assert status.message_id == "abc123"
        assert list(status.recipients) == ["to1@example.com"]
        assert status.recipients["to1@example.com"].status == "sent"
        assert status.recipients["to1@example.com"].message_id == "abc123"
        assert status.esp_response.json() == [
            {"email": "to1@example.com", "status": "sent", "_id": "abc123"}
        ]

    def test_multiple_recipients(self, api):
        api.set_response(
            200,
            [
                result("to@example.com", "sent", "id1"),
                result("cc@example.com", "queued", "id2"),
                result(
                    "bcc@example.com", "rejected", None, reject_reason="hard-bounce"
                ),
            ],
        )
        email = send(cc=["cc@example.com"], bcc=["bcc@example.com"])
        status = email.anymail_status
        assert status.status == {"sent", "queued", "rejected"}
        assert status.message_id == {"id1", "id2", None}
        assert status.recipients["to@example.com"].message_id == "id1"
        assert status.recipients["cc@example.com"].status == "queued"
        assert status.recipients["bcc@example.com"].status == "rejected"
        assert status.recipients["bcc@example.com"].message_id is None

    def test_recipient_keys_as_mandrill_returned_them(self, api):
        api.set_response(200, [result("user@example.com")])
        email = send(to=["User@Example.com"])
        assert list(email.anymail_status.recipients) == ["user@example.com"]

    @pytest.mark.parametrize("mandrill_status", ["scheduled", "deferred", "", None, 5])
    def test_other_status_is_unknown(self, api, mandrill_status):
        api.set_response(200, [result(status=mandrill_status)])
        email = send(send_at=datetime(2030, 1, 1, tzinfo=timezone.utc))
        assert email.anymail_status.status == {"unknown"}
        assert email.anymail_status.message_id == "abc123"

    @pytest.mark.parametrize(
        "statuses", [["rejected"], ["invalid"], ["rejected", "invalid"]]
    )
    def test_all_refused(self, api, statuses):
        api.set_response(
            200,
            [
                result(f"r{i}@example.com", status, None)
                for i, status in enumerate(statuses)
            ],
        )
        email = make_message(to=[f"r{i}@example.com" for i in range(len(statuses))])
        with pytest.raises(AnymailRecipientsRefused) as excinfo:
            send(email)
        assert str(excinfo.value) == "All message recipients were rejected or invalid"
        assert email.anymail_status.status == set(statuses)
        assert email.anymail_status.message_id is None

    def test_empty_result_list_is_refused(self, api):
        api.set_response(200, [])
        email = make_message()
        with pytest.raises(AnymailRecipientsRefused):
            send(email)
        assert email.anymail_status.status == set()
        assert email.anymail_status.recipients == {}

    def test_all_refused_ignored(self, api):
        api.set_response(200, [result(status="rejected", _id=None)])
        with override_settings(
            ANYMAIL={"MANDRILL_API_KEY": API_KEY, "IGNORE_RECIPIENT_STATUS": True}
        ):
            email = make_message()
            assert email.send() == 1
        assert email.anymail_status.status == {"rejected"}

    def test_mixed_refused_and_sent_not_raised(self, api):
        api.set_response(
            200, [result("a@example.com", "invalid", None), result("b@example.com")]
        )
        email = make_message(to=["a@example.com", "b@example.com"])
        assert email.send() == 1
        assert email.anymail_status.status == {"invalid", "sent"}

    def test_invalid_json(self, api):
        api.set_response(200, "this isn't json")
        email = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(email)
        assert str(excinfo.value).startswith("Invalid JSON in Mandrill API response\n")
        assert email.anymail_status.esp_response is not None
        assert email.anymail_status.status is None

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "to@example.com", "status": "sent"},
            {},
            {"status": "error", "code": -1, "name": "Invalid_Key", "message": "x"},
            ["to@example.com"],
            [[1, 2]],
            [None],
            [{"status": "sent", "_id": "1"}],
            [{"email": "to@example.com", "_id": "1"}],
            [{"email": "to@example.com", "status": "sent", "_id": ["unhashable"]}],
            "a string",
        ],
        ids=[
            "object",
            "empty-object",
            "error-object",
            "strings",
            "lists",
            "nulls",
            "no-email",
            "no-status",
            "bad-id",
            "json-string",
        ],
    )
    def test_invalid_response_format(self, api, body):
        api.set_response(200, json.dumps(body))
        email = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(email)
        assert str(excinfo.value).startswith("Invalid Mandrill API response format\n")
        status = email.anymail_status
        assert status.status is None
        assert status.message_id is None
        assert status.recipients == {}
        assert status.esp_response.status_code == 200

    def test_api_error(self, api):
        error_body = {
            "status": "error",
            "code": -1,
            "name": "Invalid_Key",
            "message": "Invalid API key",
        }
        api.set_response(500, error_body)
        email = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(email)
        err = excinfo.value
        assert err.status_code == 500
        assert str(err) == (
            "Mandrill API response 500 (INTERNAL SERVER ERROR):\n"
            + json.dumps(error_body, indent=2)
        )
        assert API_KEY not in str(err)
        assert email.anymail_status.status is None
        assert email.anymail_status.message_id is None
        assert email.anymail_status.recipients == {}
        assert email.anymail_status.esp_response is None

    def test_api_error_non_json(self, api):
        api.set_response(502, "Bad gateway")
        with pytest.raises(AnymailAPIError) as excinfo:
            send()
        assert str(excinfo.value) == (
            "Mandrill API response 502 (BAD GATEWAY): 'Bad gateway'"
        )

    @pytest.mark.parametrize("field", ["merge_data", "merge_global_data", "esp_extra"])
    def test_serialization_error_in_merge_fields(self, api, field):
        value = {"to@example.com": {"d": date(2022, 1, 1)}}
        if field == "merge_global_data":
            value = {"d": date(2022, 1, 1)}
        with pytest.raises(AnymailSerializationError) as excinfo:
            send(**{field: value})
        assert "Object of type 'date' is not JSON serializable" in str(excinfo.value)
        assert api.call_count == 0


class TestSendThroughDjangoApis:
    def test_plain_email_message_gets_status(self, api):
        email = mail.EmailMultiAlternatives(
            "Subject", "Body", "from@example.com", ["to@example.com"]
        )
        email.send()
        assert email.anymail_status.status == {"sent"}
        assert email.anymail_status.message_id == "abc123"


# ---------------------------------------------------------------------------
# DEBUG_API_REQUESTS: the API key is in the body, and must not be printed


@pytest.fixture
def standin():
    from example.standin import StandIn

    with StandIn() as server:
        yield server


def send_with_debug_output(connection, email):
    output = io.StringIO()
    with redirect_stdout(output):
        connection.send_messages([email])
    return output.getvalue()


class TestDebugApiRequests:
    def test_api_key_redacted(self, standin):
        standin.respond_next(200, [result()])
        connection = get_connection(
            api_url=standin.api_url("mandrill"), debug_api_requests=True
        )
        email = make_message(metadata={"order": "42"})
        output = send_with_debug_output(connection, email)

        received = standin.last_request
        assert received.path.endswith("/mandrill/messages/send.json")
        sent_body = received.json()
        assert sent_body["key"] == API_KEY  # the real request is unchanged
        assert API_KEY not in output
        printed_body = json.dumps({**sent_body, "key": "<redacted>"})
        assert f"\n\n{printed_body}\n\n----- Response\n" in output
        assert '"metadata": {"order": "42"}' in output  # the rest is shown
        assert output.startswith(
            "\n===== Anymail API request\n"
            f"POST {standin.api_url('mandrill')}messages/send.json\n"
        )
        assert email.anymail_status.status == {"sent"}

    def test_esp_extra_key_redacted(self, standin):
        standin.respond_next(200, [result()])
        connection = get_connection(
            api_url=standin.api_url("mandrill"), debug_api_requests=True
        )
        email = make_message(esp_extra={"key": "per-message-secret"})
        output = send_with_debug_output(connection, email)
        assert standin.last_request.json()["key"] == "per-message-secret"
        assert "per-message-secret" not in output
        assert API_KEY not in output
        assert '{"key": "<redacted>", "message": {' in output

    def test_not_printed_when_off(self, standin):
        standin.respond_next(200, [result()])
        connection = get_connection(api_url=standin.api_url("mandrill"))
        output = send_with_debug_output(connection, make_message())
        assert output == ""
        assert standin.last_request.json()["key"] == API_KEY

    def test_body_sent_unchanged_with_debug_on(self, api):
        connection = get_connection(debug_api_requests=True)
        send(make_message(connection=connection))
        data = api.last_call["data"]
        assert isinstance(data, str)
        assert json.loads(data)["key"] == API_KEY
