"""Tests for the SparkPost sending backend (Transmissions API)."""

from datetime import date, datetime, timedelta, timezone
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
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .conftest import b64
from .messages import make_message, send, sent_data

API_KEY = "test-sparkpost-api-key"
BACKEND = "anymail.backends.sparkpost.EmailBackend"
TRANSMISSIONS_URL = "https://api.sparkpost.com/api/v1/transmissions/"
TRANSMISSION_ID = "7263548172635481"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def results(accepted=1, rejected=0, transmission_id=TRANSMISSION_ID):
    return {
        "results": {
            "id": transmission_id,
            "total_accepted_recipients": accepted,
            "total_rejected_recipients": rejected,
        }
    }


@pytest.fixture(autouse=True)
def sparkpost_settings():
    with override_settings(
        EMAIL_BACKEND=BACKEND, ANYMAIL={"SPARKPOST_API_KEY": API_KEY}
    ):
        yield


@pytest.fixture
def api(requests_mock):
    """requests_mock answering every call with a one-recipient success."""
    requests_mock.set_response(200, results())
    return requests_mock


# ---------------------------------------------------------------------------


class TestApiCall:
    def test_minimal_request(self, api):
        send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        assert api.last_json() == {
            "content": {
                "from": "from@example.com",
                "subject": "Subject",
                "text": "Body",
            },
            "recipients": [
                {"address": {"email": "to@example.com", "header_to": "to@example.com"}}
            ],
        }


class TestSettings:
    def test_subaccount_setting(self, api):
        with override_settings(
            ANYMAIL={"SPARKPOST_API_KEY": API_KEY, "SPARKPOST_SUBACCOUNT": "123"}
        ):
            send()
        assert api.last_call["headers"] == {
            "Authorization": API_KEY,
            "Content-Type": "application/json",
            "X-MSYS-SUBACCOUNT": "123",
        }

    def test_subaccount_kwarg_passed_as_given(self, api):
        connection = get_connection(subaccount=123)
        send(make_message(connection=connection))
        assert api.last_call["headers"]["X-MSYS-SUBACCOUNT"] == 123

    def test_no_subaccount_header_by_default(self, api):
        send()
        assert "X-MSYS-SUBACCOUNT" not in api.last_call["headers"]

    def test_api_url_setting_adds_trailing_slash(self, api):
        with override_settings(
            ANYMAIL={
                "SPARKPOST_API_KEY": API_KEY,
                "SPARKPOST_API_URL": "https://api.eu.sparkpost.com/api/v1",
            }
        ):
            send()
        assert api.last_call["url"] == (
            "https://api.eu.sparkpost.com/api/v1/transmissions/"
        )

    def test_api_url_kwarg(self, api):
        connection = get_connection(api_url="https://api.example.com/api/labs/")
        assert connection.api_url == "https://api.example.com/api/labs/"
        send(make_message(connection=connection))
        assert api.last_call["url"] == "https://api.example.com/api/labs/transmissions/"

    def test_options_are_consumed(self):
        path = "django.core.mail.backends.base.BaseEmailBackend.__init__"
        with mock.patch(path, return_value=None) as base_init:
            get_connection(
                api_key="k",
                subaccount="7",
                api_url="https://example.com/",
                send_defaults={},
                idna_encoder="idna2003",
                timeout=3,
                alias="default",
            )
        base_init.assert_called_once()
        assert base_init.call_args.kwargs == {"alias": "default"}

    def test_settings_read_at_construction(self, api):
        connection = get_connection()
        with override_settings(ANYMAIL={"SPARKPOST_API_KEY": "changed"}):
            send(make_message(connection=connection))
        assert api.last_call["headers"]["Authorization"] == API_KEY

    def test_esp_send_defaults(self, api):
        with override_settings(
            ANYMAIL={
                "SPARKPOST_API_KEY": API_KEY,
                "SEND_DEFAULTS": {"metadata": {"global": "1"}, "tags": ["global"]},
                "SPARKPOST_SEND_DEFAULTS": {"tags": ["esp"], "track_opens": True},
            }
        ):
            data = sent_data(api)
        assert data["metadata"] == {"global": "1"}
        assert data["campaign_id"] == "esp"
        assert data["options"] == {"open_tracking": True}

    def test_esp_idna_encoder(self, api):
        with override_settings(
            ANYMAIL={"SPARKPOST_API_KEY": API_KEY, "SPARKPOST_IDNA_ENCODER": "idna2003"}
        ):
            data = sent_data(api, to=["to@faß.example"])
        assert data["recipients"][0]["address"]["email"] == "to@fass.example"


class TestAddresses:
    def test_from_email_formatting(self, api):
        data = sent_data(
            api, from_email='"Odesílatel, z adresy" <from@příklad.example>'
        )
        assert data["content"]["from"] == (
            '"Odesílatel, z adresy" <from@xn--pklad-zsa96e.example>'
        )

    def test_from_email_display_name(self, api):
        data = sent_data(api, from_email="From Name <from@example.com>")
        assert data["content"]["from"] == "From Name <from@example.com>"

    def test_default_from_email(self, api):
        message = mail.EmailMessage("Subject", "Body", to=["to@example.com"])
        data = sent_data(api, message)
        assert data["content"]["from"] == "from@example.com"

    def test_no_from_email(self, api):
        message = make_message()
        message.from_email = None
        data = sent_data(api, message)
        assert "from" not in data["content"]

    def test_to_recipients(self, api):
        data = sent_data(
            api,
            to=["to1@example.com", '"Recipient, Second" <to2@例え.jp>'],
        )
        header_to = 'to1@example.com, "Recipient, Second" <to2@xn--r8jz45g.jp>'
        assert data["recipients"] == [
            {"address": {"email": "to1@example.com", "header_to": header_to}},
            {"address": {"email": "to2@xn--r8jz45g.jp", "header_to": header_to}},
        ]
        assert "headers" not in data["content"]

    def test_eai_local_part_kept(self, api):
        data = sent_data(api, to=["Пользователь <відправник@example.com>"])
        assert data["recipients"][0]["address"] == {
            "email": "відправник@example.com",
            "header_to": "Пользователь <відправник@example.com>",
        }

    def test_cc_and_bcc(self, api):
        data = sent_data(
            api,
            to=["to1@example.com", "To 2 <to2@example.com>"],
            cc=["cc1@example.com", "CC 2 <cc2@example.com>"],
            bcc=["bcc1@example.com", "BCC 2 <bcc2@example.com>"],
        )
        header_to = "to1@example.com, To 2 <to2@example.com>"
        assert data["content"]["headers"] == {
            "Cc": "cc1@example.com, CC 2 <cc2@example.com>"
        }
        assert data["recipients"] == [
            {"address": {"email": email, "header_to": header_to}}
            for email in [
                "to1@example.com",
                "to2@example.com",
                "cc1@example.com",
                "cc2@example.com",
                "bcc1@example.com",
                "bcc2@example.com",
            ]
        ]

    def test_bcc_only_has_no_header(self, api):
        data = sent_data(api, bcc=["bcc@example.com"])
        assert "headers" not in data["content"]
        assert data["recipients"][-1] == {
            "address": {"email": "bcc@example.com", "header_to": "to@example.com"}
        }

    def test_no_to_recipients(self, api):
        data = sent_data(api, to=[], cc=["cc@example.com"], bcc=["bcc@example.com"])
        assert data["content"]["headers"] == {"Cc": "cc@example.com"}
        assert data["recipients"] == [
            {"address": {"email": "cc@example.com", "header_to": ""}},
            {"address": {"email": "bcc@example.com", "header_to": ""}},
        ]

    def test_reply_to(self, api):
        data = sent_data(
            api, reply_to=["reply@example.com", '"Other, Reply" <other@例え.jp>']
        )
        assert data["content"]["reply_to"] == (
            'reply@example.com, "Other, Reply" <other@xn--r8jz45g.jp>'
        )

    def test_empty_reply_to_omitted(self, api):
        data = sent_data(api, reply_to=[])
        assert "reply_to" not in data["content"]


class TestContent:
    def test_subject_and_text(self, api):
        data = sent_data(api, subject="Hello ✨", body="Text body")
        assert data["content"]["subject"] == "Hello ✨"
        assert data["content"]["text"] == "Text body"
        assert "html" not in data["content"]

    def test_empty_subject_and_body_still_sent(self, api):
        data = sent_data(api, subject="", body="")
        assert data["content"]["subject"] == ""
        assert data["content"]["text"] == ""

    def test_html_alternative(self, api):
        message = make_message()
        message.attach_alternative("<p>HTML</p>", "text/html")
        data = sent_data(api, message)
        assert data["content"]["text"] == "Body"
        assert data["content"]["html"] == "<p>HTML</p>"

    def test_html_only_body(self, api):
        message = make_message(body="<p>HTML only</p>")
        message.content_subtype = "html"
        data = sent_data(api, message)
        assert data["content"]["html"] == "<p>HTML only</p>"
        assert "text" not in data["content"]

    def test_amp_html(self, api):
        message = make_message()
        message.attach_alternative("<p>HTML</p>", "text/html")
        message.attach_alternative("<html amp4email>AMP</html>", "text/x-amp-HTML")
        data = sent_data(api, message)
        assert data["content"]["amp_html"] == "<html amp4email>AMP</html>"
        assert data["content"]["html"] == "<p>HTML</p>"

    def test_lazy_strings(self, api):
        message = make_message(
            subject=gettext_lazy("Lazy subject"), body=gettext_lazy("Lazy body")
        )
        message.tags = [gettext_lazy("lazy-tag")]
        data = sent_data(api, message)
        assert data["content"]["subject"] == "Lazy subject"
        assert data["content"]["text"] == "Lazy body"
        assert data["campaign_id"] == "lazy-tag"

    def test_unset_options_omitted(self, api):
        data = sent_data(api)
        assert set(data) == {"content", "recipients"}
        assert set(data["content"]) == {"from", "subject", "text"}


class TestHeaders:
    def test_extra_headers(self, api):
        data = sent_data(
            api,
            cc=["cc@example.com"],
            headers={"X-Custom": "value", "x-number": 123, "List-ID": "<list.example>"},
        )
        assert data["content"]["headers"] == {
            "Cc": "cc@example.com",
            "X-Custom": "value",
            "x-number": 123,  # not stringified
            "List-ID": "<list.example>",
        }

    def test_reply_to_header(self, api):
        data = sent_data(
            api,
            reply_to=["ignored@example.com"],
            headers={"reply-TO": "Header Reply <header@example.com>", "X-A": "b"},
        )
        assert data["content"]["reply_to"] == "Header Reply <header@example.com>"
        assert data["content"]["headers"] == {"X-A": "b"}

    def test_from_header(self, api):
        data = sent_data(
            api,
            from_email="envelope@bounces.example.com",
            headers={"From": "Header From <from@example.com>"},
        )
        assert data["content"]["from"] == "Header From <from@example.com>"
        assert data["return_path"] == "envelope@bounces.example.com"
        assert "headers" not in data["content"]

    def test_envelope_sender_wins_over_from_header(self, api):
        data = sent_data(
            api,
            from_email="from-attr@example.com",
            headers={"From": "header@example.com"},
            envelope_sender="explicit@bounces.example.com",
        )
        assert data["content"]["from"] == "header@example.com"
        assert data["return_path"] == "explicit@bounces.example.com"

    def test_to_header_unsupported(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(headers={"To": "Spoofed <spoofed@example.com>"})
        assert str(excinfo.value) == "SparkPost does not support spoofing `To` header"
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
        assert data["content"]["attachments"] == [
            {
                "name": "test.txt",
                "type": 'text/plain; charset="utf-8"',
                "data": b64("¡text content!".encode()),
            },
            {
                "name": "data.bin",
                "type": "application/octet-stream",
                "data": b64(b"\x00\x01\xfe\xff"),
            },
            {"name": "", "type": "application/pdf", "data": b64(b"%PDF-1.4")},
            {
                "name": "latin1.txt",
                "type": 'text/plain; charset="iso-8859-1"',
                "data": b64("¡Olé!".encode("iso-8859-1")),
            },
        ]
        assert "inline_images" not in data["content"]

    def test_inline_images(self, api):
        message = make_message()
        cid = attach_inline_image(message, PNG_BYTES, "logo.png", subtype="png")
        message.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        data = sent_data(api, message)
        assert data["content"]["inline_images"] == [
            {"name": cid, "type": "image/png", "data": b64(PNG_BYTES)}
        ]
        assert "attachments" not in data["content"]

    def test_inline_image_type_has_no_parameters(self, api):
        message = make_message()
        image = MIMEImage(PNG_BYTES, "png", name="logo.png")
        image.add_header("Content-ID", "<logo@example.com>")
        message.attach(image)
        data = sent_data(api, message)
        assert data["content"]["inline_images"] == [
            {"name": "logo@example.com", "type": "image/png", "data": b64(PNG_BYTES)}
        ]


class TestAnymailFeatures:
    def test_envelope_sender(self, api):
        data = sent_data(api, envelope_sender="Bounces <bounce@bounces.exämple.com>")
        assert data["return_path"] == "bounce@bounces.exämple.com"

    def test_metadata(self, api):
        metadata = {"user_id": 12345, "nested": {"a": [1, 2]}, "flag": True}
        data = sent_data(api, metadata=metadata)
        assert data["metadata"] == metadata

    def test_single_tag(self, api):
        data = sent_data(api, tags=["receipt"])
        assert data["campaign_id"] == "receipt"

    def test_empty_tags_omitted(self, api):
        data = sent_data(api, tags=[])
        assert "campaign_id" not in data

    def test_tracking(self, api):
        data = sent_data(api, track_clicks=True, track_opens=False)
        assert data["options"] == {"click_tracking": True, "open_tracking": False}

    @pytest.mark.parametrize(
        "send_at, expected",
        [
            (
                datetime(
                    2016, 3, 4, 5, 6, 7, 8901, tzinfo=timezone(timedelta(hours=-8))
                ),
                "2016-03-04T05:06:07-08:00",
            ),
            (
                datetime(2022, 10, 11, 12, 13, 14, 567, tzinfo=timezone.utc),
                "2022-10-11T12:13:14+00:00",
            ),
            (datetime(2022, 1, 15, 8, 30), "2022-01-15T08:30:00-08:00"),
            (datetime(2022, 7, 15, 8, 30), "2022-07-15T08:30:00-07:00"),
            (date(2022, 12, 25), "2022-12-25T00:00:00-08:00"),
            (1651820889, "2022-05-06T07:08:09+00:00"),
            (1651820889.5, "2022-05-06T07:08:09+00:00"),
            ("2022-10-11 12:13 custom", "2022-10-11 12:13 custom"),
        ],
        ids=[
            "aware",
            "utc",
            "naive-winter",
            "naive-summer",
            "date",
            "int",
            "float",
            "str",
        ],
    )
    def test_send_at(self, api, send_at, expected):
        with django_timezone.override(ZoneInfo("America/Los_Angeles")):
            data = sent_data(api, send_at=send_at)
        assert data["options"] == {"start_time": expected}

    def test_merge_global_data(self, api):
        data = sent_data(
            api,
            merge_global_data={"site": "ExampleCo", "dynamic_html": {"x": "<b>x</b>"}},
        )
        assert data["substitution_data"] == {
            "site": "ExampleCo",
            "dynamic_html": {"x": "<b>x</b>"},
        }
        # merge_global_data alone is not a batch send
        assert data["recipients"][0]["address"]["header_to"] == "to@example.com"

    def test_all_options_together(self, api):
        data = sent_data(
            api,
            track_clicks=False,
            send_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            tags=["t"],
            metadata={"m": "1"},
        )
        assert data["options"] == {
            "click_tracking": False,
            "start_time": "2030-01-02T03:04:05+00:00",
        }
        assert data["campaign_id"] == "t"
        assert data["metadata"] == {"m": "1"}


class TestBatchSends:
    def test_spec_batch_example(self, api):
        data = sent_data(
            api,
            from_email="shop@example.com",
            subject="Hi {{name}}",
            body="...",
            to=["alice@example.com", "Bob <bob@example.com>"],
            cc=["cc@example.com"],
            merge_global_data={"site": "Co"},
            merge_data={
                "alice@example.com": {"name": "Alice"},
                "bob@example.com": {"name": "Bob"},
            },
        )
        assert data == {
            "content": {
                "from": "shop@example.com",
                "subject": "Hi {{name}}",
                "text": "...",
                "headers": {"Cc": "cc@example.com"},
            },
            "substitution_data": {"site": "Co"},
            "recipients": [
                {
                    "address": {
                        "email": "alice@example.com",
                        "header_to": "alice@example.com",
                    },
                    "substitution_data": {"name": "Alice"},
                },
                {
                    "address": {
                        "email": "bob@example.com",
                        "header_to": "Bob <bob@example.com>",
                    },
                    "substitution_data": {"name": "Bob"},
                },
                {
                    "address": {
                        "email": "cc@example.com",
                        "header_to": "alice@example.com",
                    },
                    "substitution_data": {"name": "Alice"},
                },
                {
                    "address": {
                        "email": "cc@example.com",
                        "header_to": "Bob <bob@example.com>",
                    },
                    "substitution_data": {"name": "Bob"},
                },
            ],
        }

    def test_cc_then_bcc_copies_per_to_recipient(self, api):
        data = sent_data(
            api,
            to=["a@example.com", "b@example.com"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            merge_metadata={"a@example.com": {"order": "1"}},
        )
        assert data["recipients"] == [
            {
                "address": {"email": "a@example.com", "header_to": "a@example.com"},
                "metadata": {"order": "1"},
            },
            {"address": {"email": "b@example.com", "header_to": "b@example.com"}},
            {
                "address": {"email": "cc@example.com", "header_to": "a@example.com"},
                "metadata": {"order": "1"},
            },
            {
                "address": {"email": "bcc@example.com", "header_to": "a@example.com"},
                "metadata": {"order": "1"},
            },
            {"address": {"email": "cc@example.com", "header_to": "b@example.com"}},
            {"address": {"email": "bcc@example.com", "header_to": "b@example.com"}},
        ]

    def test_empty_merge_data_is_batch(self, api):
        data = sent_data(api, to=["a@example.com", "B <b@example.com>"], merge_data={})
        assert [r["address"]["header_to"] for r in data["recipients"]] == [
            "a@example.com",
            "B <b@example.com>",
        ]
        assert "substitution_data" not in data["recipients"][0]

    def test_merge_data_ignores_non_recipients_and_uses_idna_key(self, api):
        data = sent_data(
            api,
            to=["a@exämple.com"],
            merge_data={
                "a@xn--exmple-cua.com": {"name": "A"},
                "stranger@example.com": {"name": "S"},
            },
        )
        assert data["recipients"] == [
            {
                "address": {
                    "email": "a@xn--exmple-cua.com",
                    "header_to": "a@xn--exmple-cua.com",
                },
                "substitution_data": {"name": "A"},
            }
        ]

    def test_merge_metadata_with_metadata(self, api):
        data = sent_data(
            api,
            to=["a@example.com", "b@example.com"],
            metadata={"shared": "x"},
            merge_metadata={"a@example.com": {"uid": 1}, "b@example.com": {"uid": 2}},
        )
        assert data["metadata"] == {"shared": "x"}
        assert [r["metadata"] for r in data["recipients"]] == [{"uid": 1}, {"uid": 2}]

    def test_merge_headers_spec_example(self, api):
        data = sent_data(
            api,
            to=["a@example.com", "b@example.com"],
            headers={"X-Custom-1": "one", "X-Custom-2": "dflt"},
            merge_headers={"a@example.com": {"X-Custom-2": "A"}},
        )
        assert data["content"]["headers"] == {
            "X-Custom-1": "one",
            "X-Custom-2": "{{Header__X_Custom_2}}",
        }
        assert data["substitution_data"] == {"Header__X_Custom_2": "dflt"}
        assert data["recipients"] == [
            {
                "address": {"email": "a@example.com", "header_to": "a@example.com"},
                "substitution_data": {"Header__X_Custom_2": "A"},
            },
            {"address": {"email": "b@example.com", "header_to": "b@example.com"}},
        ]

    def test_merge_headers_combined_with_merge_data(self, api):
        data = sent_data(
            api,
            to=["a@example.com", "b@example.com"],
            merge_global_data={"site": "Co"},
            merge_data={"a@example.com": {"name": "A"}},
            merge_headers={
                "a@example.com": {"list-unsubscribe": "<https://u/a>"},
                "b@example.com": {"X-MyHeader": "B"},
            },
        )
        assert data["content"]["headers"] == {
            "list-unsubscribe": "{{Header__List_Unsubscribe}}",
            "X-MyHeader": "{{Header__X_Myheader}}",
        }
        # no extra_headers defaults, but the merge fields are known
        assert data["substitution_data"] == {"site": "Co"}
        assert data["recipients"][0]["substitution_data"] == {
            "name": "A",
            "Header__List_Unsubscribe": "<https://u/a>",
        }
        assert data["recipients"][1]["substitution_data"] == {"Header__X_Myheader": "B"}

    def test_merge_headers_creates_empty_substitution_data(self, api):
        data = sent_data(api, merge_headers={"to@example.com": {"X-Tag": "t"}})
        assert data["substitution_data"] == {}
        assert data["content"]["headers"] == {"X-Tag": "{{Header__X_Tag}}"}

    def test_merge_headers_case_mismatch_keeps_both_keys(self, api):
        data = sent_data(
            api,
            headers={"x-custom": "dflt"},
            merge_headers={"to@example.com": {"X-Custom": "A"}},
        )
        assert data["content"]["headers"] == {
            "x-custom": "dflt",
            "X-Custom": "{{Header__X_Custom}}",
        }
        assert data["substitution_data"] == {}

    def test_merge_headers_none_is_batch(self, api):
        data = sent_data(api, to=["a@example.com", "b@example.com"], merge_headers=None)
        assert [r["address"]["header_to"] for r in data["recipients"]] == [
            "a@example.com",
            "b@example.com",
        ]
        assert "headers" not in data["content"]
        assert "substitution_data" not in data

    def test_batch_without_to_still_sends_to_cc(self, api):
        data = sent_data(api, to=[], cc=["cc@example.com"], merge_data={})
        assert data["recipients"] == [
            {"address": {"email": "cc@example.com", "header_to": ""}}
        ]


class TestTemplates:
    def test_template_removes_empty_content_and_default_from(self, api):
        message = AnymailMessage(
            to=["to@example.com"],
            template_id="welcome-template",
            merge_global_data={"name": "x"},
        )
        data = sent_data(api, message)
        assert data["content"] == {"template_id": "welcome-template"}
        assert data["substitution_data"] == {"name": "x"}

    def test_template_keeps_nonempty_content(self, api):
        # (SparkPost will reject it: "Both content object and template_id...")
        data = sent_data(api, subject="Subject", body="", template_id="t")
        assert data["content"] == {"subject": "Subject", "template_id": "t"}

    def test_template_with_from_email_none(self, api):
        message = make_message(subject="", body="", template_id="t")
        message.from_email = None
        data = sent_data(api, message)
        assert data["content"] == {"template_id": "t"}

    def test_template_with_custom_from_unsupported(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(from_email="other@example.com", subject="", body="", template_id="t")
        assert str(excinfo.value) == (
            "SparkPost does not support template_id with from_email"
        )
        assert api.call_count == 0

    def test_template_with_display_name_default_from(self, api):
        with override_settings(DEFAULT_FROM_EMAIL="Shop <shop@example.com>"):
            message = AnymailMessage(to=["to@example.com"], template_id="t")
            data = sent_data(api, message)
        assert data["content"] == {"template_id": "t"}

    def test_template_with_everything_unsupported(self, api):
        message = AnymailMessage(
            to=["to@example.com"],
            cc=["cc@example.com"],
            reply_to=["reply@example.com"],
            from_email="other@example.com",
            template_id="t",
        )
        message.attach("a.txt", "text", "text/plain")
        attach_inline_image(message, PNG_BYTES, subtype="png")
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == (
            "SparkPost does not support template_id with attachments, inline images,"
            " extra headers and/or cc recipients, from_email, reply_to"
        )

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"cc": ["cc@example.com"]},
            {"headers": {"X-Custom": "1"}},
            {"merge_headers": {"to@example.com": {"X-Custom": "1"}}},
        ],
        ids=["cc", "headers", "merge_headers"],
    )
    def test_template_with_headers_unsupported(self, api, kwargs):
        message = AnymailMessage(to=["to@example.com"], template_id="t", **kwargs)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == (
            "SparkPost does not support template_id with"
            " extra headers and/or cc recipients"
        )

    def test_template_with_bcc_allowed(self, api):
        message = AnymailMessage(
            to=["to@example.com"], bcc=["bcc@example.com"], template_id="t"
        )
        data = sent_data(api, message)
        assert data["content"] == {"template_id": "t"}
        assert len(data["recipients"]) == 2

    def test_template_conflict_ignored(self, api):
        with override_settings(
            ANYMAIL={"SPARKPOST_API_KEY": API_KEY, "IGNORE_UNSUPPORTED_FEATURES": True}
        ):
            message = AnymailMessage(
                to=["to@example.com"], reply_to=["r@example.com"], template_id="t"
            )
            data = sent_data(api, message)
        assert data["content"] == {"template_id": "t", "reply_to": "r@example.com"}

    def test_template_conflict_added_by_esp_extra(self, api):
        message = AnymailMessage(
            to=["to@example.com"],
            template_id="t",
            esp_extra={"content": {"reply_to": "r@example.com"}},
        )
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert (
            str(excinfo.value) == "SparkPost does not support template_id with reply_to"
        )

    def test_batch_template(self, api):
        message = AnymailMessage(
            to=["a@example.com", "b@example.com"],
            template_id="t",
            merge_data={"a@example.com": {"n": "A"}, "b@example.com": {"n": "B"}},
            merge_global_data={"g": "G"},
        )
        data = sent_data(api, message)
        assert data == {
            "content": {"template_id": "t"},
            "substitution_data": {"g": "G"},
            "recipients": [
                {
                    "address": {"email": "a@example.com", "header_to": "a@example.com"},
                    "substitution_data": {"n": "A"},
                },
                {
                    "address": {"email": "b@example.com", "header_to": "b@example.com"},
                    "substitution_data": {"n": "B"},
                },
            ],
        }


class TestEspExtra:
    def test_deep_merge(self, api):
        data = sent_data(
            api,
            track_clicks=True,
            esp_extra={
                "description": "x",
                "options": {"transactional": True, "ip_pool": "pool1"},
                "content": {"use_draft_template": True, "ab_test_id": "t1"},
            },
        )
        assert data["description"] == "x"
        assert data["options"] == {
            "transactional": True,
            "click_tracking": True,
            "ip_pool": "pool1",
        }
        assert data["content"] == {
            "from": "from@example.com",
            "subject": "Subject",
            "text": "Body",
            "use_draft_template": True,
            "ab_test_id": "t1",
        }

    def test_esp_extra_overrides(self, api):
        data = sent_data(
            api,
            tags=["anymail-tag"],
            esp_extra={"campaign_id": "override", "content": {"subject": "New"}},
        )
        assert data["campaign_id"] == "override"
        assert data["content"]["subject"] == "New"

    def test_esp_extra_merged_with_send_defaults(self, api):
        with override_settings(
            ANYMAIL={
                "SPARKPOST_API_KEY": API_KEY,
                "SPARKPOST_SEND_DEFAULTS": {
                    "esp_extra": {"options": {"ip_pool": "dflt", "transactional": True}}
                },
            }
        ):
            data = sent_data(api, esp_extra={"options": {"ip_pool": "msg"}})
        assert data["options"] == {"ip_pool": "msg", "transactional": True}

    def test_recipients_list_id_sent_verbatim(self, api):
        data = sent_data(
            api,
            cc=["cc@example.com"],
            merge_data={"to@example.com": {"n": "1"}},
            esp_extra={"recipients": {"list_id": "my_list"}},
        )
        assert data["recipients"] == {"list_id": "my_list"}

    def test_recipients_list_sent_verbatim(self, api):
        recipients = [{"address": {"email": "x@example.com"}, "tags": ["a"]}]
        data = sent_data(
            api, bcc=["bcc@example.com"], esp_extra={"recipients": recipients}
        )
        assert data["recipients"] == recipients


class TestUnsupportedFeatures:
    @pytest.mark.parametrize(
        "alternatives, feature",
        [
            (
                [("<p>1</p>", "text/html"), ("<p>2</p>", "text/html")],
                "multiple html parts",
            ),
            (
                [
                    ("<amp>1</amp>", "text/x-amp-html"),
                    ("<amp>2</amp>", "TEXT/X-AMP-HTML"),
                ],
                "multiple html parts",
            ),
            ([("more text", "text/plain")], "multiple plaintext parts"),
            (
                [("BEGIN:VCALENDAR", "text/calendar")],
                "alternative part with type 'text/calendar'",
            ),
        ],
        ids=["html", "amp", "plain", "calendar"],
    )
    def test_alternatives(self, api, alternatives, feature):
        message = make_message(alternatives=alternatives)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(message)
        assert str(excinfo.value) == f"SparkPost does not support {feature}"
        assert api.call_count == 0

    def test_multiple_from_emails(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(from_email="one@example.com, two@example.com")
        assert str(excinfo.value) == "SparkPost does not support multiple from emails"

    def test_multiple_tags(self, api):
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(tags=["receipt", "repeat-user"])
        assert str(excinfo.value) == (
            "SparkPost does not support multiple tags (['receipt', 'repeat-user'])"
        )
        assert api.call_count == 0

    def test_ignore_unsupported_features(self, api):
        with override_settings(
            ANYMAIL={"SPARKPOST_API_KEY": API_KEY, "IGNORE_UNSUPPORTED_FEATURES": True}
        ):
            message = make_message(
                from_email="one@example.com, two@example.com",
                tags=["receipt", "repeat-user"],
                headers={"To": "spoofed@example.com"},
                alternatives=[
                    ("<p>1</p>", "text/html"),
                    ("<p>2</p>", "text/html"),
                    ("<amp>1</amp>", "text/x-amp-html"),
                    ("<amp>2</amp>", "text/x-amp-html"),
                    ("more text", "text/plain"),
                    ("BEGIN:VCALENDAR", "text/calendar"),
                ],
            )
            data = sent_data(api, message)
        assert data["content"] == {
            "from": "one@example.com",
            "subject": "Subject",
            "text": "Body",
            "html": "<p>1</p>",
            "amp_html": "<amp>1</amp>",
        }
        assert data["campaign_id"] == "receipt"

    def test_ignore_unsupported_features_kwarg(self, api):
        connection = get_connection(ignore_unsupported_features=True)
        data = sent_data(api, make_message(connection=connection, tags=["a", "b"]))
        assert data["campaign_id"] == "a"


class TestResponses:
    def test_success_status(self, api):
        api.set_response(200, results(accepted=3))
        message = send(
            to=["To <to@example.com>"], cc=["cc@example.com"], bcc=["bcc@example.com"]
        )
        status = message.anymail_status
        assert status.status == {"queued"}
        assert status.message_id == TRANSMISSION_ID
        assert set(status.recipients) == {
            "to@example.com",
            "cc@example.com",
            "bcc@example.com",
        }
        for recipient in status.recipients.values():
            assert recipient.status == "queued"
            assert recipient.message_id == TRANSMISSION_ID
        assert status.esp_response.json() == results(accepted=3)

    def test_recipient_keys_are_given_addr_spec(self, api):
        message = send(to=["User@Exämple.com"])
        assert list(message.anymail_status.recipients) == ["User@Exämple.com"]

    def test_duplicate_recipients_counted_per_occurrence(self, api):
        api.set_response(200, results(accepted=2))
        message = send(to=["to@example.com"], bcc=["to@example.com"])
        assert message.anymail_status.status == {"queued"}

    def test_all_rejected(self, api):
        api.set_response(200, results(accepted=0, rejected=2))
        message = make_message(to=["a@example.com", "b@example.com"])
        with pytest.raises(AnymailRecipientsRefused) as excinfo:
            send(message)
        assert str(excinfo.value) == "All message recipients were rejected or invalid"
        assert message.anymail_status.status == {"rejected"}
        assert message.anymail_status.message_id == TRANSMISSION_ID
        assert message.anymail_status.recipients["b@example.com"].status == "rejected"

    def test_all_rejected_ignored(self, api):
        api.set_response(200, results(accepted=0, rejected=1))
        with override_settings(
            ANYMAIL={"SPARKPOST_API_KEY": API_KEY, "IGNORE_RECIPIENT_STATUS": True}
        ):
            message = send()
        assert message.anymail_status.status == {"rejected"}

    @pytest.mark.parametrize(
        "accepted, rejected",
        [(1, 1), (3, 0), (0, 0), (0, 3), (2, 1), (1, 2)],
        ids=[
            "mixed",
            "too-many-accepted",
            "none",
            "too-many-rejected",
            "all-accepted-some-rejected",
            "all-rejected-some-accepted",
        ],
    )
    def test_unknown_status(self, api, accepted, rejected):
        api.set_response(200, results(accepted=accepted, rejected=rejected))
        message = send(to=["a@example.com", "b@example.com"])
        assert message.anymail_status.status == {"unknown"}
        assert message.anymail_status.message_id == TRANSMISSION_ID
        assert set(message.anymail_status.recipients) == {
            "a@example.com",
            "b@example.com",
        }

    def test_batch_with_cc_is_unknown(self, api):
        # SparkPost counts the duplicated cc entries (4) vs. 3 message recipients
        api.set_response(200, results(accepted=4))
        message = send(
            to=["a@example.com", "b@example.com"], cc=["cc@example.com"], merge_data={}
        )
        assert message.anymail_status.status == {"unknown"}

    def test_invalid_json(self, api):
        api.set_response(200, "this isn't json")
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        assert str(excinfo.value).startswith("Invalid JSON in SparkPost API response")
        assert message.anymail_status.esp_response is not None
        assert message.anymail_status.status is None

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"errors": []},
            {"results": "nope"},
            {
                "results": {
                    "total_accepted_recipients": 1,
                    "total_rejected_recipients": 0,
                }
            },
            {"results": {"id": "1", "total_rejected_recipients": 0}},
            {"results": {"id": "1", "total_accepted_recipients": 1}},
            {
                "results": {
                    "id": "1",
                    "total_accepted_recipients": "1",
                    "total_rejected_recipients": 0,
                }
            },
            {
                "results": {
                    "id": ["1"],
                    "total_accepted_recipients": 1,
                    "total_rejected_recipients": 0,
                }
            },
            [1, 2],
        ],
    )
    def test_invalid_response_format(self, api, body):
        api.set_response(200, body)
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        assert str(excinfo.value).startswith("Invalid SparkPost API response format")
        status = message.anymail_status
        assert status.status is None
        assert status.message_id is None
        assert status.recipients == {}
        assert status.esp_response is not None
        assert status.esp_response.status_code == 200

    def test_api_error(self, api):
        error_body = {
            "errors": [
                {
                    "message": "Message generation rejected",
                    "description": "recipient address suppressed due to policy",
                    "code": "1902",
                }
            ]
        }
        api.set_response(400, error_body)
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            send(message)
        err = excinfo.value
        assert err.status_code == 400
        assert str(err).startswith("SparkPost API response 400 (BAD REQUEST):\n")
        assert "recipient address suppressed due to policy" in str(err)
        assert API_KEY not in str(err)
        assert message.anymail_status.status is None
        assert message.anymail_status.esp_response is None

    def test_api_error_non_json(self, api):
        api.set_response(500, "Internal problem")
        with pytest.raises(AnymailAPIError) as excinfo:
            send()
        assert str(excinfo.value) == (
            "SparkPost API response 500 (INTERNAL SERVER ERROR): 'Internal problem'"
        )


class TestSendThroughDjangoApis:
    def test_plain_email_message_gets_status(self, api):
        message = mail.EmailMultiAlternatives(
            "Subject", "Body", "from@example.com", ["to@example.com"]
        )
        message.send()
        assert message.anymail_status.status == {"queued"}
        assert message.anymail_status.message_id == TRANSMISSION_ID
