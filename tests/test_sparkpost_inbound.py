"""SparkPost inbound (relay) webhook: SparkPostInboundWebhookView."""

import base64
import logging
import warnings
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from django.urls import reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.utils import DEFAULT_DOWNLOAD_CHUNK_SIZE
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView

from .conftest import (
    INSECURE_WARNING,
    b64_lines,
    basic_auth_header,
    post_json_with_auth,
    security_messages,
)

URL = "/anymail/sparkpost/inbound/"
SECRET = "sparkpost:relay:secret"
AUTH = basic_auth_header(SECRET)

PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
    b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
    b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\n%%EOF\n"


#: A realistic multipart message as SparkPost relays it (CRLF line endings)
RAW_MIME = "\r\n".join(
    [
        "Return-Path: <bounces+renee=example.org@mail.example.org>",
        "Received: from mail.example.org (mail.example.org [203.0.113.9])",
        "\tby inbound.sparkpostmail.com (envelope-from"
        " <bounces+renee=example.org@mail.example.org>)",
        "\twith ESMTPS id 8C/2E-10912-B5B6AF65; Tue, 02 Feb 2016 18:50:02 +0000",
        "MIME-Version: 1.0",
        "From: =?UTF-8?Q?Ren=C3=A9e_Dupr=C3=A9?= <renee@example.org>",
        'To: "Support Team" <support@inbound.example.com>,',
        " =?UTF-8?B?5pel5pys?= <japan@inbound.example.com>",
        "Cc: =?ISO-8859-1?Q?Andr=E9?= <andre@example.net>",
        "Subject: =?UTF-8?Q?Re:_Votre_commande_=E2=80=94_re=C3=A7ue?=",
        "Date: Tue, 2 Feb 2016 19:50:00 +0100",
        "Message-ID: <CAF+renee.1234@mail.example.org>",
        'Content-Type: multipart/mixed; boundary="==outer=="',
        "",
        "This is a multi-part message in MIME format.",
        "--==outer==",
        'Content-Type: multipart/related; boundary="==related=="',
        "",
        "--==related==",
        'Content-Type: multipart/alternative; boundary="==alt=="',
        "",
        "--==alt==",
        'Content-Type: text/plain; charset="UTF-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Bonjour,",
        "",
        "Voici le re=C3=A7u =E2=80=94 merci !",
        "",
        "> Le 1 f=C3=A9vr. 2016, Support a =C3=A9crit :",
        "> Votre commande est confirm=C3=A9e.",
        "--==alt==",
        'Content-Type: text/html; charset="UTF-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        '<p>Bonjour,</p><p>Voici le re=C3=A7u</p><img src=3D"cid:logo@example.org">',
        "--==alt==--",
        "",
        "--==related==",
        'Content-Type: image/png; name="logo.png"',
        'Content-Disposition: inline; filename="logo.png"',
        "Content-ID: <logo@example.org>",
        "Content-Transfer-Encoding: base64",
        "",
        b64_lines(PNG_BYTES),
        "--==related==--",
        "",
        "--==outer==",
        'Content-Type: application/pdf; name="=?UTF-8?Q?re=C3=A7u.pdf?="',
        "Content-Disposition: attachment; filename*=utf-8''re%C3%A7u.pdf",
        "Content-Transfer-Encoding: base64",
        "",
        b64_lines(PDF_BYTES),
        "--==outer==--",
        "",
    ]
)

EXPECTED_TEXT = (
    "Bonjour,\n"
    "\n"
    "Voici le reçu — merci !\n"
    "\n"
    "> Le 1 févr. 2016, Support a écrit :\n"
    "> Votre commande est confirmée."
)
EXPECTED_HTML = '<p>Bonjour,</p><p>Voici le reçu</p><img src="cid:logo@example.org">'


def relay_message(raw_mime=RAW_MIME, is_base64=False, **overrides):
    """A wrapped relay_message event, as SparkPost posts it."""
    event = {
        "content": {
            "email_rfc822": raw_mime,
            "email_rfc822_is_base64": is_base64,
            # SparkPost's own parsed fields (ignored by Anymail)
            "headers": [
                {"Subject": "Re: Votre commande — reçue"},
                {"To": "Support Team <support@inbound.example.com>"},
            ],
            "html": "<p>Bonjour,</p>",
            "subject": "Re: Votre commande — reçue",
            "text": "Bonjour,",
            "to": ["support@inbound.example.com"],
        },
        "customer_id": "318254",
        "friendly_from": "renee@example.org",
        "msg_from": "bounces+renee=example.org@mail.example.org",
        "protocol": "smtp",
        "rcpt_to": "support@inbound.example.com",
        "webhook_id": "639426913213452",
    }
    event.update(overrides)
    return {"msys": {"relay_message": event}}


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    """Most tests post with the right basic auth for this secret."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post_relay(client, payload, auth=AUTH, url=URL, **extra):
    return post_json_with_auth(client, payload, auth=auth, url=url, **extra)


class TestInboundMessage:
    def test_realistic_relay_message(self, webhook_client, inbound_events):
        wrapped = relay_message()
        response = post_relay(webhook_client, [{"msys": {}}, wrapped])
        assert response.status_code == 200
        assert response.content == b""

        call = inbound_events.calls[0]
        assert call["sender"] is SparkPostInboundWebhookView
        assert call["esp_name"] == "SparkPost"
        assert call["signal"] is inbound
        event = inbound_events.event
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.timestamp is None
        assert event.event_id is None
        assert event.esp_event == wrapped

        message = event.message
        assert isinstance(message, AnymailInboundMessage)
        assert message.defects == []
        assert str(message.from_email) == "Renée Dupré <renee@example.org>"
        assert message.from_email.addr_spec == "renee@example.org"
        assert [str(addr) for addr in message.to] == [
            "Support Team <support@inbound.example.com>",
            "日本 <japan@inbound.example.com>",
        ]
        assert [addr.display_name for addr in message.cc] == ["André"]
        assert [addr.addr_spec for addr in message.cc] == ["andre@example.net"]
        assert message.bcc == []
        assert message.subject == "Re: Votre commande — reçue"
        assert message.date == datetime(
            2016, 2, 2, 19, 50, tzinfo=timezone(timedelta(hours=1))
        )
        assert message.date.utcoffset() == timedelta(hours=1)
        assert message["Message-ID"] == "<CAF+renee.1234@mail.example.org>"
        assert message.get_all("Received")[0].startswith("from mail.example.org")

        assert message.text == EXPECTED_TEXT
        assert message.html == EXPECTED_HTML

        [attachment] = message.attachments
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == "reçu.pdf"
        assert attachment.get_content_bytes() == PDF_BYTES
        uploaded = attachment.as_uploaded_file()
        assert uploaded.name == "reçu.pdf"
        assert uploaded.read() == PDF_BYTES

        assert list(message.content_id_map) == ["logo@example.org"]
        logo = message.content_id_map["logo@example.org"]
        assert logo.get_content_type() == "image/png"
        assert logo.get_filename() == "logo.png"
        assert logo.get_content_bytes() == PNG_BYTES
        assert message.inlines == [logo]

        # SparkPost gives the SMTP envelope, but no spam verdict or stripped text
        assert message.envelope_sender == "bounces+renee=example.org@mail.example.org"
        assert message.envelope_recipient == "support@inbound.example.com"
        assert message.spam_detected is None
        assert message.spam_score is None
        assert message.stripped_text is None
        assert message.stripped_html is None

    def test_spec_sample(self, webhook_client, inbound_events):
        payload = [
            {
                "msys": {
                    "relay_message": {
                        "protocol": "smtp",
                        "rcpt_to": "in@inbound.example.com",
                        "msg_from": "bounces@example.org",
                        "content": {
                            "email_rfc822_is_base64": False,
                            "email_rfc822": "From: Ann <ann@example.org>\r\n"
                            "To: in@inbound.example.com\r\n"
                            "Subject: Hi\r\n\r\nHello\r\n",
                        },
                    }
                }
            }
        ]
        assert post_relay(webhook_client, payload).status_code == 200
        message = inbound_events.event.message
        assert message.subject == "Hi"
        assert message.text == "Hello\n"  # CRLF normalized (django-anymail 15.2)
        assert message.get_content_bytes() == b"Hello\r\n"
        assert str(message.from_email) == "Ann <ann@example.org>"
        assert message.envelope_sender == "bounces@example.org"
        assert message.envelope_recipient == "in@inbound.example.com"
        assert inbound_events.event.esp_event == payload[0]

    def test_sparkpost_parsed_fields_are_ignored(self, webhook_client, inbound_events):
        wrapped = relay_message("Subject: From the MIME\r\n\r\nMIME body\r\n")
        assert post_relay(webhook_client, [wrapped]).status_code == 200
        message = inbound_events.event.message
        assert message.subject == "From the MIME"
        assert message.text == "MIME body\n"
        assert message.html is None
        assert message.to == []

    def test_missing_envelope_fields(self, webhook_client, inbound_events):
        wrapped = relay_message()
        del wrapped["msys"]["relay_message"]["rcpt_to"]
        del wrapped["msys"]["relay_message"]["msg_from"]
        assert post_relay(webhook_client, [wrapped]).status_code == 200
        message = inbound_events.event.message
        assert message.envelope_recipient is None
        assert message.envelope_sender is None

    def test_batch(self, webhook_client, inbound_events):
        payload = [
            relay_message("Subject: one\r\n\r\n1\r\n", rcpt_to="a@in.example.com"),
            {"msys": {}},
            relay_message("Subject: two\r\n\r\n2\r\n", rcpt_to="b@in.example.com"),
        ]
        assert post_relay(webhook_client, payload).status_code == 200
        assert [
            (e.message.subject, e.message.envelope_recipient, e.esp_event)
            for e in inbound_events.events
        ] == [
            ("one", "a@in.example.com", payload[0]),
            ("two", "b@in.example.com", payload[2]),
        ]

    def test_ping_only(self, webhook_client, inbound_events):
        response = post_relay(webhook_client, [{"msys": {}}])
        assert response.status_code == 200
        assert response.content == b""
        assert inbound_events.calls == []


class TestBase64Content:
    def test_base64_same_as_plain(self, webhook_client, inbound_events):
        encoded = base64.b64encode(RAW_MIME.encode("utf-8")).decode("ascii")
        payload = [relay_message(encoded, is_base64=True), relay_message()]
        assert post_relay(webhook_client, payload).status_code == 200
        from_base64, from_plain = [e.message for e in inbound_events.events]
        assert from_base64.as_bytes() == from_plain.as_bytes()
        assert from_base64.text == EXPECTED_TEXT
        assert from_base64.subject == "Re: Votre commande — reçue"

    def test_base64_non_utf8_message(self, webhook_client, inbound_events):
        # SparkPost base64-encodes messages that aren't valid UTF-8, such as
        # 8bit text in another charset (django-anymail fails on these)
        raw = (
            "From: =?ISO-8859-1?Q?Fran=E7ois?= <francois@example.fr>\r\n"
            "To: support@inbound.example.com\r\n"
            "Subject: =?ISO-8859-1?Q?=C7a_marche?=\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: text/plain; charset="iso-8859-1"\r\n'
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "Ça marche très bien.\r\n"
        ).encode("iso-8859-1")
        encoded = base64.encodebytes(raw).decode("ascii")  # with line breaks
        assert "\n" in encoded
        wrapped = relay_message(encoded, is_base64=True)
        assert post_relay(webhook_client, [wrapped]).status_code == 200
        message = inbound_events.event.message
        assert message.subject == "Ça marche"
        assert message.from_email.display_name == "François"
        assert message.text == "Ça marche très bien.\n"
        assert message.get_content_bytes() == "Ça marche très bien.\r\n".encode(
            "iso-8859-1"
        )

    @pytest.mark.parametrize("value", ["", "QQ=", "Q", "QUJD=Q"])
    def test_bad_base64_is_400(self, webhook_client, inbound_events, value):
        # (empty base64 is an empty message, not an error)
        response = post_relay(webhook_client, [relay_message(value, is_base64=True)])
        if value == "":
            assert response.status_code == 200
            assert inbound_events.event.message.keys() == []
        else:
            assert response.status_code == 400
            assert inbound_events.calls == []


class TestLargeMessages:
    def spy_chunks(self):
        """Patch parse_raw_mime_chunks to record the size of each piece."""
        sizes = []
        original = AnymailInboundMessage.parse_raw_mime_chunks

        def spy(chunks):
            def recorded():
                for chunk in chunks:
                    sizes.append(len(chunk))
                    yield chunk

            return original(recorded())

        patch = mock.patch.object(AnymailInboundMessage, "parse_raw_mime_chunks", spy)
        return sizes, patch

    def big_message(self, data):
        return (
            "From: big@example.org\r\n"
            "To: support@inbound.example.com\r\n"
            "Subject: Big\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b"\r\n'
            "\r\n"
            "--b\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "\r\n"
            "Attached.\r\n"
            "--b\r\n"
            "Content-Type: application/octet-stream\r\n"
            'Content-Disposition: attachment; filename="big.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            "\r\n" + b64_lines(data) + "\r\n--b--\r\n"
        )

    @pytest.mark.parametrize("is_base64", [False, True])
    def test_parsed_in_pieces(self, webhook_client, inbound_events, is_base64):
        data = bytes(range(256)) * 1200  # 300 KiB
        raw = self.big_message(data)
        if is_base64:
            raw = base64.b64encode(raw.encode("ascii")).decode("ascii")
        sizes, patch = self.spy_chunks()
        with patch:
            response = post_relay(webhook_client, [relay_message(raw, is_base64)])
        assert response.status_code == 200
        assert len(sizes) > 4
        assert max(sizes) <= DEFAULT_DOWNLOAD_CHUNK_SIZE
        message = inbound_events.event.message
        assert message.text == "Attached."
        [attachment] = message.attachments
        assert attachment.get_content_bytes() == data

    def test_non_ascii_pieces_encode_like_the_whole(
        self, webhook_client, inbound_events
    ):
        body = "Ünïcödé ✓ 😀 " * 20000  # several pieces, multibyte characters
        raw = (
            "Subject: =?utf-8?q?=E2=9C=93?=\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n" + body + "\r\n"
        )
        assert post_relay(webhook_client, [relay_message(raw)]).status_code == 200
        message = inbound_events.event.message
        assert message.text == body + "\n"
        assert message.subject == "✓"


class TestLenientMime:
    """Broken MIME is still delivered: the parser is lenient."""

    @pytest.mark.parametrize(
        "raw,check",
        [
            pytest.param(
                "Subject: truncated\r\n"
                'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
                "--x\r\nContent-Type: text/plain\r\n\r\nstill here\r\n"
                "--x\r\nContent-Type: image/png\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KG",
                lambda m: m.text == "still here",
                id="missing-close-boundary",
            ),
            pytest.param(
                "Subject: no boundary\r\nContent-Type: multipart/mixed\r\n\r\nbody\r\n",
                lambda m: m.subject == "no boundary" and m.text is None,
                id="multipart-without-boundary",
            ),
            pytest.param(
                "Subject: =?utf-8?q?bad_=FF_byte?=\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve\r\n",
                lambda m: m.text == "na\ufffdve\n" and "\ufffd" in m.subject,
                id="wrong-charset",
            ),
            pytest.param(
                "Subject: unknown charset\r\n"
                "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nhi\r\n",
                lambda m: m.get_content_bytes() == b"hi\r\n",
                id="unknown-charset",
            ),
            pytest.param(
                "this is not an email at all",
                lambda m: isinstance(m, AnymailInboundMessage),
                id="not-mime",
            ),
            pytest.param(
                "Subject: Truncated\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG",
                lambda m: m.subject == "Truncated",
                id="truncated-base64-body",
            ),
            pytest.param(
                "",
                lambda m: m.keys() == [] and m.text == "",
                id="empty",
            ),
            pytest.param(
                "Subject: lone \ud800 surrogate\r\n\r\nbody \udfff\r\n",
                lambda m: "\ufffd" in m.text,
                id="lone-surrogates",
            ),
        ],
    )
    def test_lenient(self, webhook_client, inbound_events, raw, check):
        assert post_relay(webhook_client, [relay_message(raw)]).status_code == 200
        assert check(inbound_events.event.message)


class TestMisdirected:
    def test_tracking_event_on_inbound_url(self, webhook_client, inbound_events):
        payload = [
            relay_message(),
            {
                "msys": {
                    "message_event": {
                        "type": "delivery",
                        "event_id": "92356927693813856",
                        "transmission_id": "65832150921904138",
                        "raw_rcpt_to": "recipient@example.com",
                        "timestamp": "1454442600",
                    }
                }
            },
        ]
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_relay(webhook_client, payload)
        assert str(excinfo.value) == (
            "You seem to have set SparkPost's *tracking* webhook URL"
            " to Anymail's SparkPost *inbound* relay webhook URL."
        )
        assert inbound_events.calls == []

    @pytest.mark.parametrize("protocol", ["http", "sms"])
    def test_non_smtp_protocol(self, webhook_client, inbound_events, protocol):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_relay(webhook_client, [relay_message(protocol=protocol)])
        assert str(excinfo.value) == (
            f"You cannot use Anymail's webhooks for SparkPost '{protocol}' relay"
            " events. Anymail only handles the 'smtp' protocol"
        )
        assert inbound_events.calls == []

    def test_multiple_event_classes(self, webhook_client, inbound_events):
        # django-anymail raises TypeError (500); Anymail answers 400
        wrapped = relay_message()
        wrapped["msys"]["track_event"] = {"type": "open"}
        response = post_relay(webhook_client, [wrapped])
        assert response.status_code == 400
        assert inbound_events.calls == []


def _without(key):
    wrapped = relay_message()
    del wrapped["msys"]["relay_message"][key]
    return [wrapped]


def _without_content(key):
    wrapped = relay_message()
    del wrapped["msys"]["relay_message"]["content"][key]
    return [wrapped]


MALFORMED = [
    pytest.param(b"", id="empty"),
    pytest.param(b"From: a@example.org\r\n\r\nraw MIME, not JSON", id="raw-mime"),
    pytest.param(b"\xff\xfe garbage", id="not-utf8"),
    pytest.param(relay_message(), id="not-array"),
    pytest.param([None], id="null-item"),
    pytest.param([{}], id="missing-msys"),
    pytest.param([{"msys": "relay_message"}], id="string-msys"),
    pytest.param([{"msys": {"relay_message": None}}], id="null-event"),
    pytest.param(_without("protocol"), id="missing-protocol"),
    pytest.param(_without("content"), id="missing-content"),
    pytest.param(
        [relay_message(content="From: a@example.org\r\n\r\nhi")], id="string-content"
    ),
    pytest.param(_without_content("email_rfc822"), id="missing-email_rfc822"),
    pytest.param([relay_message(None)], id="null-email_rfc822"),
    pytest.param([relay_message(["From: a@example.org"])], id="list-email_rfc822"),
    pytest.param([relay_message(msg_from=["a@example.org"])], id="list-msg_from"),
    pytest.param([relay_message(rcpt_to=7)], id="numeric-rcpt_to"),
]


class TestMalformed:
    @pytest.mark.parametrize("body", MALFORMED)
    def test_malformed_is_400(self, webhook_client, inbound_events, body):
        response = post_relay(webhook_client, body)
        assert response.status_code == 400
        assert response.content == b"Malformed SparkPost webhook payload"
        assert inbound_events.calls == []

    def test_form_post_is_400(self, webhook_client, inbound_events):
        response = webhook_client.post(
            URL, {"email": RAW_MIME}, HTTP_AUTHORIZATION=AUTH
        )
        assert response.status_code == 400
        assert inbound_events.calls == []

    def test_malformed_later_in_batch_dispatches_nothing(
        self, webhook_client, inbound_events
    ):
        response = post_relay(webhook_client, [relay_message(), {"msys": []}])
        assert response.status_code == 400
        assert inbound_events.calls == []


class TestAuth:
    @pytest.mark.parametrize(
        "auth",
        [None, basic_auth_header("sparkpost:wrong"), "Bearer " + SECRET],
    )
    def test_wrong_or_missing_credentials(
        self, webhook_client, inbound_events, caplog, auth
    ):
        caplog.set_level(logging.ERROR, logger="django.security")
        response = post_relay(webhook_client, [relay_message()], auth=auth)
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(caplog) == [
            "Missing or invalid basic auth in Anymail SparkPost webhook"
        ]

    def test_right_credentials(self, webhook_client, inbound_events, caplog):
        caplog.set_level(logging.ERROR, logger="django.security")
        assert post_relay(webhook_client, [relay_message()]).status_code == 200
        assert len(inbound_events.calls) == 1
        assert security_messages(caplog) == []

    def test_warns_without_webhook_secret(
        self, webhook_client, inbound_events, settings
    ):
        settings.ANYMAIL = {}
        with pytest.warns(AnymailInsecureWebhookWarning) as record:
            response = post_relay(webhook_client, [relay_message()], auth=None)
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1
        assert [str(w.message) for w in record] == [INSECURE_WARNING]

    def test_no_warning_with_webhook_secret(self, webhook_client, inbound_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            assert post_relay(webhook_client, [relay_message()]).status_code == 200

    def test_no_initial_open_setting_on_inbound(self):
        # the tracking-only setting isn't an inbound view option
        with pytest.raises(TypeError):
            SparkPostInboundWebhookView.as_view(track_initial_open_as_opened=True)


class TestMethods:
    def test_head_without_validation(self, webhook_client, inbound_events):
        response = webhook_client.head(URL)
        assert response.status_code == 200
        assert response.content == b""
        assert inbound_events.calls == []

    def test_url_name(self):
        assert reverse("anymail:sparkpost_inbound_webhook") == URL
