"""Tests for the Mailgun sending backend (anymail.backends.mailgun).

Every test asserts exactly what Mailgun would receive: the keyword arguments
anymail passes to requests.Session.request (recorded by the requests_mock fixture).
"""

import json
from datetime import date, datetime, timedelta, timezone
from email.mime.base import MIMEBase
from email.mime.text import MIMEText
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core import mail
from django.test import override_settings
from django.utils import timezone as django_timezone

from anymail.backends.mailgun import EmailBackend, MailgunPayload
from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailRequestsAPIError,
    AnymailUnsupportedFeature,
)
from anymail.message import attach_inline_image

from .messages import make_message

API_KEY = "test_api_key"
MESSAGE_ID = "<20240101120000.1.ABC@mg.example.com>"
SUCCESS_BODY = {"id": MESSAGE_ID, "message": "Queued. Thank you."}
DEFAULT_URL = "https://api.mailgun.net/v3/example.com/messages"
BACKEND = "anymail.backends.mailgun.EmailBackend"

# A 1x1 transparent PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def mailgun_settings():
    with override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL={"MAILGUN_API_KEY": API_KEY}):
        yield


@pytest.fixture
def mailgun(requests_mock):
    """requests_mock answering like a successful Mailgun send."""
    requests_mock.set_response(200, SUCCESS_BODY)
    return requests_mock


def anymail_settings(**settings):
    """override_settings for ANYMAIL, keeping the API key."""
    return override_settings(ANYMAIL={"MAILGUN_API_KEY": API_KEY, **settings})


def send(mailgun, **kwargs):
    """Send a message built from kwargs; returns the data Mailgun received."""
    message = make_message(**kwargs)
    assert message.send() == 1
    return mailgun.last_call["data"]


def recipient_variables(data):
    return json.loads(data["recipient-variables"])


def prepared_body(call):
    """The HTTP body requests would send for the recorded call."""
    request = requests.Request(
        method=call["method"],
        url=call["url"],
        data=call["data"],
        files=call["files"],
        auth=call["auth"],
    )
    return request.prepare()


class TestApiCall:
    def test_minimal_send(self, mailgun):
        message = make_message()
        assert message.send() == 1
        call = mailgun.last_call
        # A plain message has no o: or v: (or other) extra fields
        assert call["data"] == {
            "from": ["from@example.com"],
            "to": ["to@example.com"],
            "subject": "Subject",
            "text": "Body",
        }

    def test_form_urlencoded_without_files(self, mailgun):
        send(mailgun, to=["one@example.com", "two@example.com"], tags=["a", "b"])
        prepared = prepared_body(mailgun.last_call)
        assert prepared.headers["Content-Type"] == "application/x-www-form-urlencoded"
        fields = parse_qs(prepared.body)
        assert fields["to"] == ["one@example.com", "two@example.com"]
        assert fields["o:tag"] == ["a", "b"]

    def test_payload_class(self, mailgun):
        backend = mail.get_connection()
        assert isinstance(backend, EmailBackend)
        assert backend.esp_name == "Mailgun"
        payload = backend.build_message_payload(make_message(), {})
        assert isinstance(payload, MailgunPayload)


class TestSettings:
    def test_bare_root_settings(self, mailgun):
        with override_settings(
            ANYMAIL={},
            MAILGUN_API_KEY="bare_key",
            MAILGUN_SENDER_DOMAIN="bare.example.com",
        ):
            make_message().send()
        assert mailgun.last_call["auth"] == ("api", "bare_key")
        assert mailgun.last_call["url"] == (
            "https://api.mailgun.net/v3/bare.example.com/messages"
        )

    def test_bare_api_url_ignored(self, mailgun):
        with override_settings(MAILGUN_API_URL="https://bare.example.com/v3/"):
            make_message().send()
        assert mailgun.last_call["url"] == DEFAULT_URL

    def test_api_url_setting_gets_trailing_slash(self, mailgun):
        with anymail_settings(MAILGUN_API_URL="https://api.eu.mailgun.net/v3"):
            backend = EmailBackend()
        backend.send_messages([make_message()])
        assert backend.api_url == "https://api.eu.mailgun.net/v3/"
        assert mailgun.last_call["url"] == (
            "https://api.eu.mailgun.net/v3/example.com/messages"
        )

    def test_api_url_kwarg_with_slash(self, mailgun):
        backend = EmailBackend(api_url="https://proxy.example.net/mg/v3/")
        backend.send_messages([make_message()])
        assert backend.api_url == "https://proxy.example.net/mg/v3/"
        assert mailgun.last_call["url"] == (
            "https://proxy.example.net/mg/v3/example.com/messages"
        )

    def test_default_api_url(self):
        assert EmailBackend().api_url == "https://api.mailgun.net/v3/"

    def test_kwargs_consumed(self):
        # Unknown options would reach Django's BaseEmailBackend; these must not
        backend = EmailBackend(
            api_key="key", sender_domain="mg.example.com", api_url="https://x/"
        )
        assert backend.api_key == "key"
        assert backend.sender_domain == "mg.example.com"

    def test_send_defaults(self, mailgun):
        with anymail_settings(
            SEND_DEFAULTS={"tags": ["global"], "metadata": {"g": "1"}},
            MAILGUN_SEND_DEFAULTS={
                "tags": ["mailgun"],
                "esp_extra": {"o:testmode": "yes"},
            },
        ):
            data = send(mailgun, tags=["message"], metadata={"m": "2"})
        # MAILGUN_SEND_DEFAULTS["tags"] replaces SEND_DEFAULTS["tags"]
        assert data["o:tag"] == ["mailgun", "message"]
        assert data["v:g"] == "1"
        assert data["v:m"] == "2"
        assert data["o:testmode"] == "yes"


class TestSenderDomain:
    def test_from_email_domain(self, mailgun):
        send(mailgun, from_email="Sender <sender@mg.example.com>")
        assert mailgun.last_call["url"] == (
            "https://api.mailgun.net/v3/mg.example.com/messages"
        )

    def test_first_from_email_domain(self, mailgun):
        send(mailgun, from_email="one@first.example.com, two@second.example.com")
        assert mailgun.last_call["url"] == (
            "https://api.mailgun.net/v3/first.example.com/messages"
        )

    def test_sender_domain_setting_beats_from_email(self, mailgun):
        with anymail_settings(MAILGUN_SENDER_DOMAIN="mg.setting"):
            send(mailgun, from_email="sender@example.com")
        assert mailgun.last_call["url"] == (
            "https://api.mailgun.net/v3/mg.setting/messages"
        )

    def test_sender_domain_kwarg(self, mailgun):
        EmailBackend(sender_domain="mg.kwarg").send_messages([make_message()])
        assert (
            mailgun.last_call["url"] == "https://api.mailgun.net/v3/mg.kwarg/messages"
        )

    def test_envelope_sender_beats_setting(self, mailgun):
        with anymail_settings(MAILGUN_SENDER_DOMAIN="mg.setting"):
            data = send(mailgun, envelope_sender="anything@mg.envelope")
        assert mailgun.last_call["url"] == (
            "https://api.mailgun.net/v3/mg.envelope/messages"
        )
        # envelope_sender itself is not sent
        assert data["from"] == ["from@example.com"]
        assert "anything" not in json.dumps(data)

    def test_esp_extra_beats_envelope_sender(self, mailgun):
        esp_extra = {"sender_domain": "mg.extra", "o:testmode": "yes"}
        data = send(mailgun, envelope_sender="bounce@mg.envelope", esp_extra=esp_extra)
        assert (
            mailgun.last_call["url"] == "https://api.mailgun.net/v3/mg.extra/messages"
        )
        assert "sender_domain" not in data
        assert data["o:testmode"] == "yes"
        assert esp_extra == {"sender_domain": "mg.extra", "o:testmode": "yes"}

    def test_esp_extra_beats_setting(self, mailgun):
        with anymail_settings(MAILGUN_SENDER_DOMAIN="mg.setting"):
            send(mailgun, esp_extra={"sender_domain": "mg.extra"})
        assert (
            mailgun.last_call["url"] == "https://api.mailgun.net/v3/mg.extra/messages"
        )

    def test_from_header_makes_from_email_the_envelope_sender(self, mailgun):
        with anymail_settings(MAILGUN_SENDER_DOMAIN="mg.setting"):
            data = send(
                mailgun,
                from_email="bounces@mg.envelope",
                headers={"From": "Display <display@example.org>"},
            )
        assert data["from"] == ["Display <display@example.org>"]
        assert not any(field.startswith("h:") for field in data)
        assert mailgun.last_call["url"] == (
            "https://api.mailgun.net/v3/mg.envelope/messages"
        )

    def test_from_header_and_explicit_envelope_sender(self, mailgun):
        send(
            mailgun,
            from_email="bounces@mg.from",
            headers={"from": "display@example.org"},
            envelope_sender="bounces@mg.envelope",
        )
        assert mailgun.last_call["url"] == (
            "https://api.mailgun.net/v3/mg.envelope/messages"
        )

    def test_domain_is_quoted_without_safe_characters(self, mailgun):
        send(mailgun, esp_extra={"sender_domain": "example.com # oops"})
        assert mailgun.last_call["url"] == (
            "https://api.mailgun.net/v3/example.com%20%23%20oops/messages"
        )

    def test_non_ascii_domain_percent_encoded_not_idna(self, mailgun):
        data = send(mailgun, from_email="sender@příklad.example.cz")
        assert mailgun.last_call["url"] == (
            "https://api.mailgun.net/v3/p%C5%99%C3%ADklad.example.cz/messages"
        )
        assert data["from"] == ["sender@xn--pklad-zsa96e.example.cz"]

    def test_unknown_sender_domain(self, mailgun):
        message = make_message()
        message.from_email = None
        with pytest.raises(AnymailError) as excinfo:
            message.send()
        assert not isinstance(excinfo.value, AnymailUnsupportedFeature)
        assert str(excinfo.value) == (
            "Cannot call Mailgun unknown sender domain. Either provide valid"
            " `from_email`, or set `message.esp_extra={'sender_domain':"
            " 'example.com'}`"
        )
        assert mailgun.calls == []

    def test_unknown_sender_domain_not_ignorable(self, mailgun):
        message = make_message()
        message.from_email = None
        with (
            anymail_settings(IGNORE_UNSUPPORTED_FEATURES=True),
            pytest.raises(AnymailError, match="unknown sender domain"),
        ):
            message.send()
        assert mailgun.calls == []

    @pytest.mark.parametrize(
        "domain", ["example.com/invalid", "example.com%2Finvalid", "x%2fy"]
    )
    def test_slash_in_sender_domain(self, mailgun, domain):
        with pytest.raises(AnymailError) as excinfo:
            send(mailgun, esp_extra={"sender_domain": domain})
        assert not isinstance(excinfo.value, AnymailUnsupportedFeature)
        assert str(excinfo.value) == f"Invalid '/' in sender domain '{domain}'"
        assert mailgun.calls == []


class TestAddresses:
    def test_address_formatting(self, mailgun):
        data = send(
            mailgun,
            from_email='"From, also" <from@example.com>',
            to=["Recipient #1 <to1@example.com>", "to2@example.com"],
            cc=["Carbon Copy <cc1@example.com>", "cc2@example.com"],
            bcc=["Blind Copy <bcc1@example.com>", "bcc2@example.com"],
        )
        assert data["from"] == ['"From, also" <from@example.com>']
        assert data["to"] == ["Recipient #1 <to1@example.com>", "to2@example.com"]
        assert data["cc"] == ["Carbon Copy <cc1@example.com>", "cc2@example.com"]
        assert data["bcc"] == ["Blind Copy <bcc1@example.com>", "bcc2@example.com"]

    def test_repeated_fields_on_the_wire(self, mailgun):
        send(mailgun, to=["to1@example.com", "Two <to2@example.com>"])
        fields = parse_qs(prepared_body(mailgun.last_call).body)
        assert fields["to"] == ["to1@example.com", "Two <to2@example.com>"]

    def test_unicode_display_name_not_encoded(self, mailgun):
        data = send(mailgun, from_email="Fröm Ñame <from@example.com>")
        assert data["from"] == ["Fröm Ñame <from@example.com>"]

    def test_multiple_from_emails(self, mailgun):
        data = send(
            mailgun, from_email='first@example.com, "From, also" <second@example.com>'
        )
        assert data["from"] == [
            "first@example.com",
            '"From, also" <second@example.com>',
        ]

    def test_idna_encoded_domains(self, mailgun):
        data = send(
            mailgun,
            from_email="Příklad <sender@příklad.example.cz>",
            to=["Name <to@příklad.example.cz>"],
            cc=["cc@příklad.example.cz"],
            reply_to=["reply@příklad.example.cz"],
        )
        assert data["from"] == ["Příklad <sender@xn--pklad-zsa96e.example.cz>"]
        assert data["to"] == ["Name <to@xn--pklad-zsa96e.example.cz>"]
        assert data["cc"] == ["cc@xn--pklad-zsa96e.example.cz"]
        assert data["h:Reply-To"] == "reply@xn--pklad-zsa96e.example.cz"

    def test_idna_encoder_setting(self, mailgun):
        with anymail_settings(MAILGUN_IDNA_ENCODER="none"):
            data = send(mailgun, to=["to@příklad.example.cz"])
        assert data["to"] == ["to@příklad.example.cz"]

    def test_eai_recipient_allowed(self, mailgun):
        data = send(mailgun, to=["Інфо <інфо@example.com>"], bcc=["ñ@example.com"])
        assert data["to"] == ["Інфо <інфо@example.com>"]
        assert data["bcc"] == ["ñ@example.com"]

    def test_cc_only(self, mailgun):
        data = send(mailgun, to=[], cc=["cc@example.com"])
        assert "to" not in data
        assert data["cc"] == ["cc@example.com"]
        assert "bcc" not in data

    def test_reply_to(self, mailgun):
        data = send(
            mailgun, reply_to=["reply@example.com", "Other <reply2@example.com>"]
        )
        assert data["h:Reply-To"] == "reply@example.com, Other <reply2@example.com>"

    def test_reply_to_header_replaces_reply_to(self, mailgun):
        data = send(
            mailgun,
            reply_to=["ignored@example.com"],
            headers={"reply-TO": "Header <header@example.com>"},
        )
        assert data["h:Reply-To"] == "Header <header@example.com>"
        assert [field for field in data if field.lower() == "h:reply-to"] == [
            "h:Reply-To"
        ]

    def test_no_reply_to(self, mailgun):
        data = send(mailgun, reply_to=[])
        assert "h:Reply-To" not in data


class TestContent:
    def test_subject_and_text(self, mailgun):
        data = send(mailgun, subject="Ünïcode subject", body="Text ✓ body")
        assert data["subject"] == "Ünïcode subject"
        assert data["text"] == "Text ✓ body"
        assert "html" not in data

    def test_empty_subject_and_body_are_sent(self, mailgun):
        data = send(mailgun, subject="", body="")
        assert data["subject"] == ""
        assert data["text"] == ""

    def test_no_subject(self, mailgun):
        message = make_message()
        message.subject = None
        message.send()
        assert "subject" not in mailgun.last_call["data"]

    def test_html_body(self, mailgun):
        message = make_message(body="<p>HTML</p>")
        message.content_subtype = "html"
        message.send()
        data = mailgun.last_call["data"]
        assert data["html"] == "<p>HTML</p>"
        assert "text" not in data

    def test_html_alternative(self, mailgun):
        message = make_message(body="Text")
        message.attach_alternative("<p>HTML</p>", "text/html")
        message.send()
        data = mailgun.last_call["data"]
        assert data["text"] == "Text"
        assert data["html"] == "<p>HTML</p>"

    def test_send_mail_with_html_message(self, mailgun):
        mail.send_mail(
            "Subject",
            "Text",
            "from@example.com",
            ["to@example.com"],
            html_message="<b>HTML</b>",
        )
        data = mailgun.last_call["data"]
        assert data["text"] == "Text"
        assert data["html"] == "<b>HTML</b>"

    @pytest.mark.parametrize("mimetype", ["text/x-amp-html", "TEXT/X-AMP-HTML"])
    def test_amp_html(self, mailgun, mimetype):
        message = make_message(body="Text")
        message.attach_alternative("<p>HTML</p>", "text/html")
        message.attach_alternative("<html amp>AMP</html>", mimetype)
        message.send()
        data = mailgun.last_call["data"]
        assert data["amp-html"] == "<html amp>AMP</html>"
        assert data["html"] == "<p>HTML</p>"
        assert data["text"] == "Text"

    def test_extra_headers_title_cased(self, mailgun):
        data = send(
            mailgun,
            headers={
                "x-my-header": "my value",
                "Message-ID": "<mycustommsgid@sales.example.com>",
                "X-MyHeader": "Ünïcode ✓",
                "X-Mailgun-Variables": '{"user": "123"}',
            },
        )
        assert data["h:X-My-Header"] == "my value"
        assert data["h:Message-Id"] == "<mycustommsgid@sales.example.com>"
        assert data["h:X-Myheader"] == "Ünïcode ✓"
        assert data["h:X-Mailgun-Variables"] == '{"user": "123"}'
        assert "h:X-MyHeader" not in data


class TestAttachments:
    def test_attachments(self, mailgun):
        message = make_message()
        message.attach("test.txt", "Hi ✓", "text/plain")
        message.attach("data.bin", b"\x00\x01\xff", "application/octet-stream")
        message.attach("photo.png", PNG, "image/png")
        message.send()
        assert mailgun.last_call["files"] == [
            (
                "attachment",
                ("test.txt", "Hi ✓".encode(), 'text/plain; charset="utf-8"'),
            ),
            ("attachment", ("data.bin", b"\x00\x01\xff", "application/octet-stream")),
            ("attachment", ("photo.png", PNG, "image/png")),
        ]

    def test_attachment_content_bytes_not_copied(self, mailgun):
        content = b"\x00" * 1000
        message = make_message()
        message.attach("data.bin", content, "application/octet-stream")
        message.send()
        assert mailgun.last_call["files"][0][1][1] is content

    def test_missing_filename_defaults_to_attachment(self, mailgun):
        message = make_message()
        message.attach(None, b"content", "application/pdf")
        part = MIMEBase("application", "octet-stream")
        part.set_payload(b"mime content")
        message.attach(part)
        message.send()
        assert mailgun.last_call["files"] == [
            ("attachment", ("attachment", b"content", "application/pdf")),
            ("attachment", ("attachment", b"mime content", "application/octet-stream")),
        ]

    def test_iso_8859_1_text_attachment(self, mailgun):
        message = make_message()
        part = MIMEText("¡text!", "plain", "iso-8859-1")
        part.add_header("Content-Disposition", "attachment", filename="latin.txt")
        message.attach(part)
        message.send()
        assert mailgun.last_call["files"] == [
            (
                "attachment",
                ("latin.txt", b"\xa1text!", 'text/plain; charset="iso-8859-1"'),
            )
        ]
        body = prepared_body(mailgun.last_call).body
        assert b'Content-Type: text/plain; charset="iso-8859-1"\r\n\r\n\xa1text!' in (
            body
        )

    def test_inline_image(self, mailgun):
        message = make_message()
        cid = attach_inline_image(message, PNG, filename="logo.png")
        message.attach_alternative(f"<img src='cid:{cid}'>", "text/html")
        message.attach("report.txt", "Report", "text/plain")
        message.send()
        assert not cid.startswith("<")
        assert mailgun.last_call["files"] == [
            ("inline", (cid, PNG, "image/png")),
            ("attachment", ("report.txt", b"Report", 'text/plain; charset="utf-8"')),
        ]
        assert mailgun.last_call["data"]["html"] == f"<img src='cid:{cid}'>"

    def test_inline_without_content_id(self, mailgun):
        message = make_message()
        part = MIMEBase("image", "png")
        part.set_payload(PNG)
        part.add_header("Content-Disposition", "inline")
        message.attach(part)
        with pytest.raises(
            AnymailUnsupportedFeature,
            match="^Mailgun does not support inline attachments without Content-ID$",
        ):
            message.send()
        assert mailgun.calls == []

        with anymail_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            EmailBackend().send_messages([message])
        assert mailgun.last_call["files"] == [
            ("inline", ("attachment", PNG, "image/png"))
        ]

    def test_multipart_encoding_with_files(self, mailgun):
        message = make_message(to=["one@example.com", "two@example.com"])
        message.attach("file.txt", "text", "text/plain")
        message.send()
        prepared = prepared_body(mailgun.last_call)
        assert prepared.headers["Content-Type"].startswith("multipart/form-data;")
        body = prepared.body
        assert body.count(b'Content-Disposition: form-data; name="to"\r\n') == 2
        assert (
            b'Content-Disposition: form-data; name="attachment";'
            b' filename="file.txt"\r\n'
            b'Content-Type: text/plain; charset="utf-8"\r\n\r\ntext\r\n'
        ) in body

    def test_non_ascii_filename_is_raw_utf8(self, mailgun):
        message = make_message()
        message.attach("Résumé ✓.txt", "text", "text/plain")
        message.send()
        assert mailgun.last_call["files"][0][1][0] == "Résumé ✓.txt"
        body = prepared_body(mailgun.last_call).body
        assert b"filename*=" not in body
        assert 'filename="Résumé ✓.txt"'.encode() in body


class TestAnymailFeatures:
    def test_metadata(self, mailgun):
        data = send(
            mailgun,
            metadata={"user_id": "12345", "count": 3, "items": '["mail","gun"]'},
        )
        assert data["v:user_id"] == "12345"
        assert data["v:count"] == 3  # the form encoder stringifies it
        assert data["v:items"] == '["mail","gun"]'
        assert "recipient-variables" not in data
        assert parse_qs(prepared_body(mailgun.last_call).body)["v:count"] == ["3"]

    def test_metadata_with_multiple_to_is_not_batch(self, mailgun):
        data = send(
            mailgun, to=["one@example.com", "two@example.com"], metadata={"a": "b"}
        )
        assert "recipient-variables" not in data
        assert data["to"] == ["one@example.com", "two@example.com"]

    def test_metadata_not_mutated(self, mailgun):
        metadata = {"a": "1"}
        send(mailgun, metadata=metadata, merge_metadata={"to@example.com": {"a": "2"}})
        assert metadata == {"a": "1"}

    def test_tags(self, mailgun):
        data = send(mailgun, tags=["receipt", "repeat user"])
        assert data["o:tag"] == ["receipt", "repeat user"]

    @pytest.mark.parametrize(
        "track_clicks, track_opens, clicks, opens",
        [(True, False, "yes", "no"), (False, True, "no", "yes")],
    )
    def test_tracking(self, mailgun, track_clicks, track_opens, clicks, opens):
        data = send(mailgun, track_clicks=track_clicks, track_opens=track_opens)
        assert data["o:tracking-clicks"] == clicks
        assert data["o:tracking-opens"] == opens

    def test_send_at_aware_datetime(self, mailgun):
        pacific = timezone(timedelta(hours=-8))
        send_at = datetime(2016, 3, 4, 5, 6, 7, 8000, tzinfo=pacific)
        data = send(mailgun, send_at=send_at)
        assert data["o:deliverytime"] == "Fri, 04 Mar 2016 13:06:07 GMT"

    def test_send_at_naive_datetime_in_current_timezone(self, mailgun):
        with django_timezone.override(ZoneInfo("America/Denver")):
            data = send(mailgun, send_at=datetime(2022, 10, 11, 12, 13, 14, 567))
        assert data["o:deliverytime"] == "Tue, 11 Oct 2022 18:13:14 GMT"

    def test_send_at_date_is_midnight_in_current_timezone(self, mailgun):
        with django_timezone.override(ZoneInfo("America/Denver")):
            data = send(mailgun, send_at=date(2022, 10, 22))
        assert data["o:deliverytime"] == "Sat, 22 Oct 2022 06:00:00 GMT"

    def test_send_at_timestamp(self, mailgun):
        data = send(mailgun, send_at=1651820889.5)
        assert data["o:deliverytime"] == "Fri, 06 May 2022 07:08:09 GMT"

    def test_send_at_string_passed_through(self, mailgun):
        data = send(mailgun, send_at="Thu, 13 Oct 2022 18:02:00 GMT")
        assert data["o:deliverytime"] == "Thu, 13 Oct 2022 18:02:00 GMT"

    def test_template_id(self, mailgun):
        data = send(mailgun, template_id="welcome-template")
        assert data["template"] == "welcome-template"
        assert "recipient-variables" not in data

    def test_esp_extra(self, mailgun):
        data = send(
            mailgun,
            esp_extra={
                "o:testmode": "yes",
                "o:deliverytime-optimize-period": "24h",
                "o:time-zone-localize": "16:00",
                "subject": "Overridden",
            },
        )
        assert data["o:testmode"] == "yes"
        assert data["o:deliverytime-optimize-period"] == "24h"
        assert data["o:time-zone-localize"] == "16:00"
        assert data["subject"] == "Overridden"

    def test_computed_fields_win_over_esp_extra(self, mailgun):
        data = send(
            mailgun,
            metadata={"key": "metadata"},
            merge_data={},
            esp_extra={"v:key": "extra", "recipient-variables": "extra"},
        )
        assert data["v:key"] == "metadata"
        assert data["recipient-variables"] == "{}"

    def test_merge_headers_field_wins_over_esp_extra(self, mailgun):
        data = send(
            mailgun,
            to=["alice@example.com", "bob@example.com"],
            merge_headers={
                "alice@example.com": {"X-Custom": "for-alice"},
                "bob@example.com": {"x-custom": "for-bob"},
            },
            esp_extra={"h:X-Custom": "extra", "h:X-Other": "extra-other"},
        )
        assert data["h:X-Custom"] == "%recipient.h:X-Custom%"
        assert recipient_variables(data) == {
            "alice@example.com": {"h:X-Custom": "for-alice"},
            "bob@example.com": {"h:X-Custom": "for-bob"},
        }
        # (an esp_extra h: field without a computed counterpart is still sent)
        assert data["h:X-Other"] == "extra-other"

    def test_merge_headers_default_not_from_esp_extra(self, mailgun):
        # a recipient without their own value gets the message's extra_headers
        # value for it, else "" (esp_extra fields aren't message headers)
        data = send(
            mailgun,
            to=["alice@example.com", "bob@example.com"],
            merge_headers={"alice@example.com": {"X-Custom": "for-alice"}},
            esp_extra={"h:X-Custom": "extra"},
        )
        assert recipient_variables(data)["bob@example.com"] == {"h:X-Custom": ""}

    def test_esp_extra_recipient_variables_without_batch(self, mailgun):
        data = send(mailgun, esp_extra={"recipient-variables": '{"x": {}}'})
        assert data["recipient-variables"] == '{"x": {}}'

    def test_no_fields_for_unset_features(self, mailgun):
        data = send(mailgun)
        assert not [field for field in data if field[:2] in ("o:", "v:", "h:")]
        assert "recipient-variables" not in data
        assert "template" not in data


class TestBatchSends:
    def test_merge_data_on_the_fly_template(self, mailgun):
        merge_data = {
            "alice@example.com": {"name": "Alice", "group": "Developers"},
            "bob@example.com": {"name": "Bob"},
        }
        merge_global_data = {"group": "Users", "site": "ExampleCo"}
        data = send(
            mailgun,
            to=["alice@example.com", "Bob <bob@example.com>"],
            merge_data=merge_data,
            merge_global_data=merge_global_data,
        )
        assert recipient_variables(data) == {
            "alice@example.com": {
                "name": "Alice",
                "group": "Developers",
                "site": "ExampleCo",
            },
            "bob@example.com": {"name": "Bob", "group": "Users", "site": "ExampleCo"},
        }
        assert not [field for field in data if field.startswith("v:")]
        assert "template" not in data
        # inputs untouched
        assert merge_data["bob@example.com"] == {"name": "Bob"}
        assert merge_global_data == {"group": "Users", "site": "ExampleCo"}

    def test_merge_data_with_stored_template(self, mailgun):
        data = send(
            mailgun,
            to=["alice@example.com", "Bob <bob@example.com>"],
            template_id="welcome",
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "bob@example.com": {"name": "Bob"},
            },
            merge_global_data={"group": "Users", "site": "ExampleCo"},
        )
        assert data["template"] == "welcome"
        assert data["v:name"] == "%recipient.name%"
        assert data["v:group"] == "%recipient.group%"
        assert data["v:site"] == "%recipient.site%"
        assert recipient_variables(data)["bob@example.com"] == {
            "name": "Bob",
            "group": "Users",
            "site": "ExampleCo",
        }

    def test_merge_global_data_alone_makes_recipient_variables(self, mailgun):
        data = send(
            mailgun,
            to=["one@example.com", "two@example.com"],
            merge_global_data={"site": "ExampleCo"},
        )
        assert recipient_variables(data) == {
            "one@example.com": {"site": "ExampleCo"},
            "two@example.com": {"site": "ExampleCo"},
        }

    def test_empty_merge_data(self, mailgun):
        data = send(mailgun, to=["one@example.com", "two@example.com"], merge_data={})
        assert data["recipient-variables"] == "{}"

    def test_empty_merge_metadata_and_merge_headers(self, mailgun):
        assert send(mailgun, merge_metadata={})["recipient-variables"] == "{}"
        assert send(mailgun, merge_headers={})["recipient-variables"] == "{}"

    def test_only_to_recipients_get_entries(self, mailgun):
        data = send(
            mailgun,
            to=["to@example.com"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            merge_data={
                "to@example.com": {"name": "To"},
                "cc@example.com": {"name": "Cc"},
                "nobody@example.com": {"extra": "ignored"},
            },
        )
        assert recipient_variables(data) == {
            "to@example.com": {"name": "To", "extra": ""}
        }

    def test_recipient_variables_keys_not_idna_encoded(self, mailgun):
        data = send(
            mailgun,
            to=["Name <user@příklad.example.cz>"],
            merge_data={"user@příklad.example.cz": {"name": "Name"}},
        )
        assert data["to"] == ["Name <user@xn--pklad-zsa96e.example.cz>"]
        assert recipient_variables(data) == {
            "user@příklad.example.cz": {"name": "Name"}
        }

    def test_merge_metadata(self, mailgun):
        data = send(
            mailgun,
            to=["alice@example.com", "Bob <bob@example.com>"],
            merge_metadata={
                "alice@example.com": {"order_id": 123, "tier": "premium"},
                "bob@example.com": {"order_id": 678},
            },
            metadata={"tier": "basic", "notification_batch": "zx912"},
        )
        assert data["v:order_id"] == "%recipient.v:order_id%"
        assert data["v:tier"] == "%recipient.v:tier%"
        assert data["v:notification_batch"] == "zx912"
        assert recipient_variables(data) == {
            "alice@example.com": {"v:order_id": 123, "v:tier": "premium"},
            "bob@example.com": {"v:order_id": 678, "v:tier": "basic"},
        }

    def test_merge_metadata_missing_everywhere_is_empty(self, mailgun):
        data = send(
            mailgun,
            to=["alice@example.com", "bob@example.com"],
            merge_metadata={"alice@example.com": {"order_id": 123}},
        )
        assert recipient_variables(data) == {
            "alice@example.com": {"v:order_id": 123},
            "bob@example.com": {"v:order_id": ""},
        }

    def test_merge_metadata_and_merge_data_together(self, mailgun):
        data = send(
            mailgun,
            to=["alice@example.com"],
            merge_metadata={"alice@example.com": {"order_id": 123}},
            merge_data={"alice@example.com": {"name": "Alice"}},
        )
        assert recipient_variables(data) == {
            "alice@example.com": {"v:order_id": 123, "name": "Alice"}
        }

    def test_template_merge_data_conflicts_with_metadata(self, mailgun):
        kwargs = dict(
            to=["alice@example.com"],
            template_id="welcome",
            metadata={"group": "meta", "site": "meta"},
            merge_metadata={"alice@example.com": {"name": "meta"}},
            merge_data={"alice@example.com": {"name": "Alice", "group": "Devs"}},
            merge_global_data={"site": "ExampleCo", "other": "ok"},
        )
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            send(mailgun, **kwargs)
        assert str(excinfo.value) == (
            "Mailgun does not support conflicting merge_data and metadata keys"
            " ('name', 'group', 'site') when using template_id"
        )
        assert mailgun.calls == []

        with anymail_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            data = send(mailgun, **kwargs)
        assert data["v:group"] == "%recipient.group%"
        assert data["v:other"] == "%recipient.other%"

    def test_template_conflict_single_key(self, mailgun):
        with pytest.raises(
            AnymailUnsupportedFeature,
            match=r"conflicting merge_data and metadata keys \('group'\) when using",
        ):
            send(
                mailgun,
                template_id="welcome",
                metadata={"group": "x"},
                merge_data={"to@example.com": {"group": "y"}},
            )

    def test_no_conflict_without_template(self, mailgun):
        data = send(
            mailgun,
            metadata={"group": "meta"},
            merge_data={"to@example.com": {"group": "merge"}},
        )
        assert data["v:group"] == "meta"
        assert recipient_variables(data) == {"to@example.com": {"group": "merge"}}

    def test_merge_headers(self, mailgun):
        merge_headers = {
            "alice@example.com": {
                "List-Unsubscribe": "<https://example.com/a/>",
                "X-No-Default": "for-alice",
            },
            "bob@example.com": {
                "List-Unsubscribe": "<https://example.com/b/>",
                "X-Custom": "for-bob",
            },
        }
        data = send(
            mailgun,
            to=["alice@example.com", "Bob <bob@example.com>"],
            headers={
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Unsubscribe": "<mailto:u@example.com>",
                "X-Custom": "custom-default",
            },
            merge_headers=merge_headers,
        )
        assert data["h:List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert data["h:List-Unsubscribe"] == "%recipient.h:List-Unsubscribe%"
        assert data["h:X-Custom"] == "%recipient.h:X-Custom%"
        assert data["h:X-No-Default"] == "%recipient.h:X-No-Default%"
        assert recipient_variables(data) == {
            "alice@example.com": {
                "h:List-Unsubscribe": "<https://example.com/a/>",
                "h:X-Custom": "custom-default",
                "h:X-No-Default": "for-alice",
            },
            "bob@example.com": {
                "h:List-Unsubscribe": "<https://example.com/b/>",
                "h:X-Custom": "for-bob",
                "h:X-No-Default": "",
            },
        }
        assert merge_headers["bob@example.com"] == {
            "List-Unsubscribe": "<https://example.com/b/>",
            "X-Custom": "for-bob",
        }

    @pytest.mark.parametrize(
        "reply_to",
        [{"headers": {"Reply-To": "r@example.com"}}, {"reply_to": ["r@example.com"]}],
    )
    def test_merge_headers_reply_to_default(self, mailgun, reply_to):
        # a recipient without their own Reply-To gets the message's
        data = send(
            mailgun,
            to=["alice@example.com", "bob@example.com"],
            merge_headers={"alice@example.com": {"Reply-To": "a@example.com"}},
            **reply_to,
        )
        assert data["h:Reply-To"] == "%recipient.h:Reply-To%"
        assert recipient_variables(data) == {
            "alice@example.com": {"h:Reply-To": "a@example.com"},
            "bob@example.com": {"h:Reply-To": "r@example.com"},
        }

    def test_merge_headers_title_cased(self, mailgun):
        data = send(
            mailgun,
            headers={"x-custom": "default"},
            merge_headers={"to@example.com": {"X-CUSTOM": "mine", "x-other": "o"}},
        )
        assert data["h:X-Custom"] == "%recipient.h:X-Custom%"
        assert data["h:X-Other"] == "%recipient.h:X-Other%"
        assert recipient_variables(data) == {
            "to@example.com": {"h:X-Custom": "mine", "h:X-Other": "o"}
        }

    def test_merge_headers_none_is_batch(self, mailgun):
        data = send(mailgun, merge_headers=None)
        assert data["recipient-variables"] == "{}"

    def test_batch_status(self, mailgun):
        message = make_message(
            to=["alice@example.com", "bob@example.com"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            merge_data={"alice@example.com": {"name": "Alice"}},
        )
        message.send()
        status = message.anymail_status
        assert status.message_id == MESSAGE_ID
        assert status.status == {"queued"}
        assert set(status.recipients) == {
            "alice@example.com",
            "bob@example.com",
            "cc@example.com",
            "bcc@example.com",
        }


class TestUnsupportedFeatures:
    def unsupported(self, mailgun, feature, **kwargs):
        message = make_message(**kwargs)
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == f"Mailgun does not support {feature}"
        assert mailgun.calls == []
        return message

    def send_ignoring(self, message):
        with anymail_settings(IGNORE_UNSUPPORTED_FEATURES=True):
            assert EmailBackend().send_messages([message]) == 1

    def test_eai_from_email(self, mailgun):
        message = self.unsupported(
            mailgun, "EAI in from_email", from_email="відправник@example.com"
        )
        self.send_ignoring(message)
        assert mailgun.last_call["data"]["from"] == ["відправник@example.com"]

    def test_eai_in_from_header(self, mailgun):
        self.unsupported(
            mailgun, "EAI in from_email", headers={"From": "ñame@example.com"}
        )

    def test_eai_in_second_from_email(self, mailgun):
        self.unsupported(
            mailgun, "EAI in from_email", from_email="ok@example.com, ñ@example.com"
        )

    def test_multiple_html_alternatives(self, mailgun):
        message = make_message()
        message.attach_alternative("<p>First</p>", "text/html")
        message.attach_alternative("<p>Second</p>", "text/html")
        with pytest.raises(
            AnymailUnsupportedFeature, match="^Mailgun does not support multiple html"
        ):
            message.send()
        self.send_ignoring(message)
        assert mailgun.last_call["data"]["html"] == "<p>First</p>"

    def test_html_body_and_html_alternative(self, mailgun):
        message = make_message(body="<p>Body</p>")
        message.content_subtype = "html"
        message.attach_alternative("<p>Alternative</p>", "text/html")
        with pytest.raises(
            AnymailUnsupportedFeature,
            match="^Mailgun does not support multiple html parts$",
        ):
            message.send()

    def test_multiple_amp_alternatives(self, mailgun):
        message = make_message()
        message.attach_alternative("<html amp>1</html>", "text/x-amp-html")
        message.attach_alternative("<html amp>2</html>", "text/x-amp-html")
        with pytest.raises(
            AnymailUnsupportedFeature,
            match="^Mailgun does not support multiple html parts$",
        ):
            message.send()

    def test_multiple_plaintext_parts(self, mailgun):
        message = make_message(body="Text")
        message.attach_alternative("More text", "text/plain")
        with pytest.raises(
            AnymailUnsupportedFeature,
            match="^Mailgun does not support multiple plaintext parts$",
        ):
            message.send()
        self.send_ignoring(message)
        assert mailgun.last_call["data"]["text"] == "Text"

    def test_other_alternative_type(self, mailgun):
        message = make_message()
        message.attach_alternative("{}", "application/json")
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert str(excinfo.value) == (
            "Mailgun does not support alternative part with type 'application/json'"
        )
        self.send_ignoring(message)
        assert "{}" not in mailgun.last_call["data"].values()

    def test_spoofed_to_header(self, mailgun):
        message = self.unsupported(
            mailgun,
            "spoofing `To` header",
            headers={"To": "Spoofed <spoofed@example.com>"},
        )
        self.send_ignoring(message)
        data = mailgun.last_call["data"]
        assert data["to"] == ["to@example.com"]
        assert not any(field.lower() == "h:to" for field in data)

    def test_unsupported_error_carries_context(self, mailgun):
        message = make_message(headers={"To": "x@example.com"})
        with pytest.raises(AnymailUnsupportedFeature) as excinfo:
            message.send()
        assert excinfo.value.email_message is message
        assert excinfo.value.esp_name == "Mailgun"


class TestResponses:
    def test_success_status(self, mailgun):
        message = make_message(
            to=["to1@example.com", "Two <to2@example.com>"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
        )
        assert message.send() == 1
        status = message.anymail_status
        assert status.message_id == MESSAGE_ID
        assert status.status == {"queued"}
        assert {
            addr_spec: (recipient.status, recipient.message_id)
            for addr_spec, recipient in status.recipients.items()
        } == {
            "to1@example.com": ("queued", MESSAGE_ID),
            "to2@example.com": ("queued", MESSAGE_ID),
            "cc@example.com": ("queued", MESSAGE_ID),
            "bcc@example.com": ("queued", MESSAGE_ID),
        }
        assert status.esp_response.json() == SUCCESS_BODY

    def assert_failed(self, mailgun, message_or_text=None, response_set=False):
        """Send a message; check the error and the message's anymail_status."""
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            message.send()
        error = excinfo.value
        assert message.anymail_status.status is None
        assert message.anymail_status.message_id is None
        assert message.anymail_status.recipients == {}
        if response_set:
            assert message.anymail_status.esp_response is not None
        else:
            assert message.anymail_status.esp_response is None
        assert API_KEY not in str(error)
        assert error.email_message is message
        return error

    def test_domain_not_found(self, mailgun):
        mailgun.set_response(404, {"message": "Domain not found: example.com"})
        error = self.assert_failed(mailgun)
        assert str(error).startswith(
            "Unknown sender domain 'example.com'.\n"
            "Check the domain is verified with Mailgun, and that the ANYMAIL"
            " MAILGUN_API_URL setting 'https://api.mailgun.net/v3/' is the correct"
            " region.\nMailgun API response 404 (NOT FOUND):"
        )
        assert error.status_code == 404
        assert error.backend.esp_name == "Mailgun"

    def test_domain_not_found_uses_configured_api_url(self, mailgun):
        mailgun.set_response(404, {"message": "Domain not found: mg.example.com"})
        with anymail_settings(MAILGUN_API_URL="https://api.eu.mailgun.net/v3"):
            message = make_message(esp_extra={"sender_domain": "mg.example.com"})
            with pytest.raises(AnymailRequestsAPIError) as excinfo:
                message.send()
        assert str(excinfo.value).startswith(
            "Unknown sender domain 'mg.example.com'.\n"
        )
        assert "'https://api.eu.mailgun.net/v3/' is the correct region." in str(
            excinfo.value
        )

    def test_other_404(self, mailgun):
        mailgun.set_response(404, {"message": "Not here"})
        error = self.assert_failed(mailgun)
        assert str(error) == (
            'Mailgun API response 404 (NOT FOUND):\n{\n  "message": "Not here"\n}'
        )

    def test_domain_not_found_in_other_status(self, mailgun):
        # only a 404 gets the "Unknown sender domain" explanation
        mailgun.set_response(400, {"message": "Domain not found: example.com"})
        error = self.assert_failed(mailgun)
        assert str(error) == (
            "Mailgun API response 400 (BAD REQUEST):\n"
            '{\n  "message": "Domain not found: example.com"\n}'
        )

    def test_error_json_body(self, mailgun):
        mailgun.set_response(
            400, {"message": "'to' parameter is not a valid address. please check"}
        )
        error = self.assert_failed(mailgun)
        assert str(error).startswith("Mailgun API response 400 (BAD REQUEST):\n")
        assert "'to' parameter is not a valid address" in str(error)
        assert error.status_code == 400

    def test_error_non_json_body(self, mailgun):
        mailgun.set_response(401, "Forbidden")
        error = self.assert_failed(mailgun)
        assert str(error) == "Mailgun API response 401 (UNAUTHORIZED): 'Forbidden'"

    def test_server_error(self, mailgun):
        mailgun.set_response(500, "Mailgun Magnificent API")  # not 200: generic
        error = self.assert_failed(mailgun)
        assert str(error) == (
            "Mailgun API response 500 (INTERNAL SERVER ERROR):"
            " 'Mailgun Magnificent API'"
        )

    def test_magnificent_api(self, mailgun):
        mailgun.set_response(200, "Mailgun Magnificent API")
        error = self.assert_failed(mailgun)
        assert str(error).startswith(
            f"Invalid Mailgun API endpoint '{DEFAULT_URL}'.\n"
            "Check your ANYMAIL MAILGUN_SENDER_DOMAIN and MAILGUN_API_URL settings.\n"
            "Mailgun API response 200 (OK): 'Mailgun Magnificent API'"
        )

    def test_magnificent_api_only_for_200(self, mailgun):
        # any other 2xx with that (non-JSON) body is an invalid JSON response
        mailgun.set_response(201, "Mailgun Magnificent API")
        error = self.assert_failed(mailgun, response_set=True)
        assert str(error).startswith("Invalid JSON in Mailgun API response\n")

    def test_invalid_json(self, mailgun):
        mailgun.set_response(200, "{not json")
        error = self.assert_failed(mailgun, response_set=True)
        assert str(error).startswith("Invalid JSON in Mailgun API response\n")
        assert "Mailgun API response 200 (OK): '{not json'" in str(error)

    @pytest.mark.parametrize(
        "body",
        [
            {"message": "Queued. Thank you."},
            {"id": MESSAGE_ID},
            ["not", "an", "object"],
            "null",
            "42",
        ],
    )
    def test_invalid_format(self, mailgun, body):
        mailgun.set_response(200, body)
        error = self.assert_failed(mailgun, response_set=True)
        assert str(error).startswith("Invalid Mailgun API response format\n")

    def test_unrecognized_message(self, mailgun):
        mailgun.set_response(200, {"id": MESSAGE_ID, "message": "Hmm?"})
        error = self.assert_failed(mailgun, response_set=True)
        assert str(error).startswith("Unrecognized Mailgun API message 'Hmm?'\n")

    def test_api_key_not_in_errors(self, mailgun):
        secret = "key-0123456789abcdef"
        backend = EmailBackend(api_key=secret)
        errors = []
        for status, body in [
            (404, {"message": "Domain not found: example.com"}),
            (401, "Forbidden"),
            (200, "Mailgun Magnificent API"),
            (200, "{"),
            (200, {"id": MESSAGE_ID, "message": "Nope"}),
        ]:
            mailgun.set_response(status, body)
            with pytest.raises(AnymailAPIError) as excinfo:
                backend.send_messages([make_message()])
            errors.append(excinfo.value)
        mailgun.set_exception(requests.Timeout("timed out"))
        with pytest.raises(AnymailAPIError) as excinfo:
            backend.send_messages([make_message()])
        errors.append(excinfo.value)
        assert len(errors) == 6
        for error in errors:
            assert secret not in str(error)
            assert secret not in repr(error)


def test_empty_html_body_replaced_by_html_alternative(mailgun):
    message = mail.EmailMultiAlternatives(
        "Subject", "", "from@example.com", ["to@example.com"]
    )
    message.content_subtype = "html"
    message.attach_alternative("<p>From the alternative</p>", "text/html")
    message.send()
    assert mailgun.last_call["data"]["html"] == "<p>From the alternative</p>"
