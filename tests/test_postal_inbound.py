"""Postal inbound webhook ("raw message" HTTP endpoint), with real signatures."""

import json
import warnings
from base64 import b64encode
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from django.urls import reverse

from anymail.exceptions import AnymailConfigurationError, AnymailInsecureWebhookWarning
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.postal import PostalInboundWebhookView

from .conftest import basic_auth_header, encodebytes_crlf
from .test_postal_webhooks import (
    BASIC_AUTH_FAILURE,
    INCORRECT_SIGNATURE,
    OTHER_PRIVATE_KEY,
    SIGNATURE_MISSING,
    WEBHOOK_KEY,
    post_signed,
    security_messages,
    sign,
)

URL = "/anymail/postal/inbound/"

PNG_CONTENT = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF_CONTENT = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


# A message as a mail client sends it: CRLF line endings, non-ASCII headers,
# text and HTML bodies, an inline image (multipart/related) and an attachment
RAW_MESSAGE = (
    "Return-Path: <bounces+7f3a@sender.example.org>\r\n"
    "Received: from mail.sender.example.org (mail.sender.example.org"
    " [198.51.100.7])\r\n"
    "\tby postal.example.com with ESMTPS; Mon, 30 Nov 2020 16:20:01 +0000\r\n"
    "From: =?utf-8?q?Jos=C3=A9_N=C3=BA=C3=B1ez?= <sender@example.org>\r\n"
    "To: Inbound <in@inbound.example.com>,\r\n"
    " =?utf-8?b?Wm/DqyBNw7xsbGVy?= <zoe@example.com>\r\n"
    'Cc: "Copy, Person" <cc@example.net>\r\n'
    "Subject: =?utf-8?q?R=C3=A9sum=C3=A9_and_pr=C3=A9sentation_=E2=9C=93?=\r\n"
    "Date: Mon, 30 Nov 2020 08:19:58 -0800\r\n"
    "Message-ID: <CAF=abc123@mail.sender.example.org>\r\n"
    "X-Spam-Status: No, score=-0.1\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="mixed-b"\r\n'
    "\r\n"
    "--mixed-b\r\n"
    'Content-Type: multipart/related; boundary="related-b"\r\n'
    "\r\n"
    "--related-b\r\n"
    'Content-Type: multipart/alternative; boundary="alt-b"\r\n'
    "\r\n"
    "--alt-b\r\n"
    'Content-Type: text/plain; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Bonjour, voici mon r=C3=A9sum=C3=A9.\r\n"
    "\r\n"
    "[image: logo]\r\n"
    "\r\n"
    "-- Jos=C3=A9\r\n"
    "--alt-b\r\n"
    'Content-Type: text/html; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<p>Bonjour, voici mon r=C3=A9sum=C3=A9.</p>\r\n"
    '<p><img src=3D"cid:logo@sender.example.org" alt=3D"logo"></p>\r\n'
    "--alt-b--\r\n"
    "\r\n"
    "--related-b\r\n"
    'Content-Type: image/png; name="logo.png"\r\n'
    'Content-Disposition: inline; filename="logo.png"\r\n'
    "Content-ID: <logo@sender.example.org>\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n" + encodebytes_crlf(PNG_CONTENT) + "--related-b--\r\n"
    "\r\n"
    "--mixed-b\r\n"
    'Content-Type: application/pdf; name="=?utf-8?q?R=C3=A9sum=C3=A9.pdf?="\r\n'
    "Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n" + encodebytes_crlf(PDF_CONTENT) + "--mixed-b--\r\n"
)


def ruby_base64(raw):
    """Base64 as Postal (Ruby's Base64.encode64) writes it: 60-char lines."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    encoded = b64encode(raw).decode("ascii")
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


def inbound_payload(raw=RAW_MESSAGE, base64=True, **overrides):
    payload = {
        "id": 233980,
        "rcpt_to": "in@inbound.example.com",
        "mail_from": "bounces+7f3a@sender.example.org",
        "token": "rtmVqvzN7zu6",
        "subject": "Résumé and présentation ✓",
        "message": ruby_base64(raw) if base64 else raw,
        "base64": base64,
        "size": "2104",
        "spam_status": "NotSpam",
        "bounce": False,
        "received_with_ssl": True,
        "to": "in@inbound.example.com",
        "cc": None,
        "from": "sender@example.org",
        "date": "Mon, 30 Nov 2020 08:19:58 -0800",
        "in_reply_to": None,
        "references": None,
        "html_body": "<p>ignored: Anymail uses the raw message</p>",
        "attachment_quantity": 1,
        "auto_submitted": None,
        "reply_to": None,
    }
    payload.update(overrides)
    return payload


@pytest.fixture(autouse=True)
def postal_settings(settings):
    settings.ANYMAIL = {"POSTAL_WEBHOOK_KEY": WEBHOOK_KEY}
    return settings


def post_inbound(client, data, **kwargs):
    return post_signed(client, data, url=URL, **kwargs)


def assert_realistic_message(message):
    assert isinstance(message, AnymailInboundMessage)
    assert message.defects == []

    assert message.from_email.display_name == "José Núñez"
    assert message.from_email.addr_spec == "sender@example.org"
    assert [str(addr) for addr in message.to] == [
        "Inbound <in@inbound.example.com>",
        "Zoë Müller <zoe@example.com>",
    ]
    assert [addr.addr_spec for addr in message.cc] == ["cc@example.net"]
    assert message.cc[0].display_name == "Copy, Person"
    assert message.bcc == []
    assert message.subject == "Résumé and présentation ✓"
    assert message.date == datetime(
        2020, 11, 30, 8, 19, 58, tzinfo=timezone(timedelta(hours=-8))
    )
    assert message["Message-ID"] == "<CAF=abc123@mail.sender.example.org>"
    assert message.get_all("Received")[0].startswith("from mail.sender.example.org")

    # 15.2 normalizes line endings of text read from the message (the CRLF
    # before a boundary belongs to the boundary)
    assert message.text == "Bonjour, voici mon résumé.\n\n[image: logo]\n\n-- José"
    assert message.html == (
        "<p>Bonjour, voici mon résumé.</p>\n"
        '<p><img src="cid:logo@sender.example.org" alt="logo"></p>'
    )

    attachments = message.attachments
    assert len(attachments) == 1
    assert attachments[0].get_filename() == "Résumé.pdf"
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content_bytes() == PDF_CONTENT

    cid_map = message.content_id_map
    assert list(cid_map) == ["logo@sender.example.org"]
    logo = cid_map["logo@sender.example.org"]
    assert logo.get_filename() == "logo.png"
    assert logo.get_content_type() == "image/png"
    assert logo.get_content_bytes() == PNG_CONTENT
    assert message.inlines == [logo]

    # from Postal's JSON, not the headers
    assert message.envelope_sender == "bounces+7f3a@sender.example.org"
    assert message.envelope_recipient == "in@inbound.example.com"
    # Postal gives none of these (its spam_status field isn't used)
    assert message.spam_detected is None
    assert message.spam_score is None
    assert message.stripped_text is None
    assert message.stripped_html is None


class TestInboundMessage:
    def test_realistic_message(self, webhook_client, inbound_events):
        payload = inbound_payload()
        response = post_inbound(webhook_client, payload)
        assert response.status_code == 200
        assert response.content == b""

        call = inbound_events.calls[0]
        assert call["sender"] is PostalInboundWebhookView
        assert call["esp_name"] == "Postal"
        assert call["signal"] is inbound
        event = inbound_events.event
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.timestamp is None
        assert event.event_id == 233980
        assert event.esp_event == payload
        assert_realistic_message(event.message)

    def test_spec_sample(self, webhook_client, inbound_events):
        body = json.dumps(
            {
                "id": 233980,
                "rcpt_to": "in@inbound.example.com",
                "mail_from": "sender@example.org",
                "message": b64encode(
                    b"From: sender@example.org\r\nTo: in@inbound.example.com\r\n"
                    b"Subject: Hi\r\n\r\nHello\r\n"
                ).decode(),
                "base64": True,
            }
        )
        assert post_inbound(webhook_client, body).status_code == 200
        event = inbound_events.event
        assert event.event_id == 233980
        message = event.message
        assert message.subject == "Hi"
        assert message.text == "Hello\n"
        assert message.envelope_sender == "sender@example.org"
        assert message.envelope_recipient == "in@inbound.example.com"
        assert str(message.from_email) == "sender@example.org"

    @pytest.mark.parametrize("base64", [False, None, "DROP"], ids=str)
    def test_not_base64(self, webhook_client, inbound_events, base64):
        payload = inbound_payload(base64=False)
        if base64 == "DROP":
            del payload["base64"]
        else:
            payload["base64"] = base64
        assert post_inbound(webhook_client, payload).status_code == 200
        assert_realistic_message(inbound_events.event.message)

    @pytest.mark.parametrize("base64", ["true", 1, "yes"])
    def test_base64_must_be_exactly_true(self, webhook_client, inbound_events, base64):
        # anything but JSON true: the message is used as it is
        payload = inbound_payload(raw="Subject: Literal\r\n\r\nBody\r\n", base64=False)
        payload["base64"] = base64
        assert post_inbound(webhook_client, payload).status_code == 200
        message = inbound_events.event.message
        assert message.subject == "Literal"
        assert message.text == "Body\n"

    def test_unwrapped_base64(self, webhook_client, inbound_events):
        payload = inbound_payload()
        payload["message"] = b64encode(RAW_MESSAGE.encode()).decode()
        assert post_inbound(webhook_client, payload).status_code == 200
        assert_realistic_message(inbound_events.event.message)

    def test_utf8_8bit_message(self, webhook_client, inbound_events):
        raw = (
            "From: Zoë <zoe@example.com>\r\n"
            "Subject: Ça va?\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "Très bien ✓\r\n"
        )
        for base64 in (True, False):
            post_inbound(webhook_client, inbound_payload(raw=raw, base64=base64))
        first, second = (event.message for event in inbound_events.events)
        for message in (first, second):
            assert message.subject == "Ça va?"
            assert message.from_email.display_name == "Zoë"
            assert message.text == "Très bien ✓\n"

    def test_non_utf8_8bit_message(self, webhook_client, inbound_events):
        # raw bytes in a declared charset other than UTF-8 parse as that charset
        raw = (
            b"From: sender@example.org\r\n"
            b"Subject: Latin-1\r\n"
            b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n"
            b"\xc7a marche d\xe9j\xe0.\r\n"
        )
        assert post_inbound(webhook_client, inbound_payload(raw=raw)).status_code == 200
        message = inbound_events.event.message
        assert message.text == "Ça marche déjà.\n"
        assert message.get_content_bytes() == b"\xc7a marche d\xe9j\xe0.\r\n"

    def test_missing_envelope(self, webhook_client, inbound_events):
        payload = inbound_payload()
        del payload["mail_from"]
        del payload["rcpt_to"]
        del payload["id"]
        assert post_inbound(webhook_client, payload).status_code == 200
        event = inbound_events.event
        assert event.event_id is None
        assert event.message.envelope_sender is None
        assert event.message.envelope_recipient is None
        assert event.message.subject == "Résumé and présentation ✓"

    def test_raw_message_only_not_postal_parsed_fields(
        self, webhook_client, inbound_events
    ):
        payload = inbound_payload(subject="Other", html_body="<p>other</p>")
        post_inbound(webhook_client, payload)
        message = inbound_events.event.message
        assert message.subject == "Résumé and présentation ✓"
        assert "other" not in message.html


class TestLenientParsing:
    """Malformed MIME is still delivered (AnymailInboundMessage is lenient)."""

    def post_raw(self, client, raw):
        response = post_inbound(client, inbound_payload(raw=raw))
        assert response.status_code == 200
        return response

    def test_multipart_without_boundary(self, webhook_client, inbound_events):
        raw = "Subject: No boundary\r\nContent-Type: multipart/mixed\r\n\r\nbody\r\n"
        self.post_raw(webhook_client, raw)
        message = inbound_events.event.message
        assert message.subject == "No boundary"
        assert message.text is None
        assert message.defects

    def test_truncated_message(self, webhook_client, inbound_events):
        truncated = RAW_MESSAGE[: RAW_MESSAGE.index("--related-b\r\nContent-Type: im")]
        self.post_raw(webhook_client, truncated)
        message = inbound_events.event.message
        assert message.subject == "Résumé and présentation ✓"
        assert message.text.startswith("Bonjour")
        assert message.attachments == []
        assert message.defects

    def test_wrong_charset(self, webhook_client, inbound_events):
        raw = (
            b"Subject: Mislabeled\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n"
            b"\r\n"
            b"caf\xc3\xa9\r\n"
        )
        self.post_raw(webhook_client, raw)
        assert inbound_events.event.message.text == "caf\ufffd\ufffd\n"

    def test_unknown_charset(self, webhook_client, inbound_events):
        raw = (
            b"Subject: Odd\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nhi\r\n"
        )
        self.post_raw(webhook_client, raw)
        message = inbound_events.event.message
        assert message.subject == "Odd"
        assert message.get_content_bytes() == b"hi\r\n"

    def test_broken_encoded_words(self, webhook_client, inbound_events):
        raw = b"Subject: =?utf-8?q?Not_a_char:_=88.?=\r\n\r\nx\r\n"
        self.post_raw(webhook_client, raw)
        assert inbound_events.event.message.subject == "Not a char: \ufffd."

    @pytest.mark.parametrize("raw", ["", "just some text, no headers"])
    def test_not_really_mime(self, webhook_client, inbound_events, raw):
        self.post_raw(webhook_client, raw)
        assert isinstance(inbound_events.event.message, AnymailInboundMessage)

    def test_non_base64_characters_ignored(self, webhook_client, inbound_events):
        payload = inbound_payload()
        payload["message"] = payload["message"].replace("\n", "\r\n\t ")
        assert post_inbound(webhook_client, payload).status_code == 200
        assert_realistic_message(inbound_events.event.message)


class TestLargeMessages:
    def test_parsed_in_pieces(self, webhook_client, inbound_events):
        big = bytes(range(256)) * 4096  # 1 MiB attachment
        raw = (
            "Subject: Big\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b"\r\n'
            "\r\n"
            "--b\r\n"
            "Content-Type: text/plain\r\n"
            "\r\n"
            "See attached.\r\n"
            "--b\r\n"
            "Content-Type: application/octet-stream\r\n"
            'Content-Disposition: attachment; filename="big.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            "\r\n" + encodebytes_crlf(big) + "--b--\r\n"
        )
        pieces = []
        original = AnymailInboundMessage.parse_raw_mime_chunks.__func__

        def spy(cls, chunks):
            def recorded():
                for chunk in chunks:
                    pieces.append(len(chunk))
                    yield chunk

            return original(cls, recorded())

        def whole(*args, **kwargs):
            raise AssertionError("must not parse the whole raw message at once")

        with (
            mock.patch.object(
                AnymailInboundMessage, "parse_raw_mime_chunks", classmethod(spy)
            ),
            mock.patch.object(AnymailInboundMessage, "parse_raw_mime", whole),
            mock.patch.object(AnymailInboundMessage, "parse_raw_mime_bytes", whole),
        ):
            for base64 in (True, False):
                payload = inbound_payload(raw=raw, base64=base64)
                assert post_inbound(webhook_client, payload).status_code == 200

        assert len(pieces) > 20
        assert max(pieces) <= 65536
        for event in inbound_events.events:
            message = event.message
            assert message.subject == "Big"
            assert message.attachments[0].get_content_bytes() == big


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"", id="empty"),
            pytest.param(b"not json", id="not-json"),
            pytest.param(b"[]", id="array"),
            pytest.param(b"null", id="null"),
            pytest.param(b'{"id": 1, "rcpt_to": "in@example.com"}', id="no-message"),
            pytest.param(b'{"message": null}', id="message-null"),
            pytest.param(b'{"message": 42}', id="message-number"),
            pytest.param(b'{"message": ["From: a@b"]}', id="message-list"),
            pytest.param(
                b'{"message": "QUJDRA", "base64": true}', id="base64-bad-padding"
            ),
            pytest.param(b'{"message": "Q", "base64": true}', id="base64-one-char"),
            pytest.param(b'{"message": "", "mail_from": 7}', id="mail_from-number"),
            pytest.param(
                b'{"message": "", "rcpt_to": ["in@example.com"]}', id="rcpt_to-list"
            ),
        ],
    )
    def test_malformed_is_400(self, webhook_client, inbound_events, body):
        response = post_inbound(webhook_client, body)
        assert response.status_code == 400
        assert b"Malformed Postal webhook payload" in response.content
        assert inbound_events.calls == []

    def test_form_post_is_400(self, webhook_client, inbound_events):
        response = post_inbound(
            webhook_client,
            b"message=Subject%3A+Hi&base64=false",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 400
        assert inbound_events.calls == []


class TestMisdirected:
    def test_tracking_payload_on_inbound_url(self, webhook_client, inbound_events):
        tracking_payload = {
            "event": "MessageSent",
            "timestamp": 1606753101.35,
            "uuid": "evt-58e8",
            "payload": {"status": "Sent", "message": {"id": 1563}},
        }
        with pytest.raises(
            AnymailConfigurationError,
            match=r"You seem to have set Postal's \*tracking\* webhook to Anymail's"
            r" Postal \*inbound\* webhook URL\.",
        ):
            post_inbound(webhook_client, tracking_payload)
        assert inbound_events.calls == []

    def test_top_level_status(self, webhook_client, inbound_events):
        # the spec's test: any top-level "status" key
        with pytest.raises(AnymailConfigurationError, match=r"\*tracking\* webhook"):
            post_inbound(webhook_client, {"status": "Sent", "message": "x"})
        assert inbound_events.calls == []


class TestAuth:
    @pytest.mark.parametrize(
        "signature, message",
        [
            pytest.param(None, SIGNATURE_MISSING, id="missing"),
            pytest.param("", INCORRECT_SIGNATURE, id="empty"),
            pytest.param("garbage", INCORRECT_SIGNATURE, id="not-base64"),
            pytest.param(
                sign(json.dumps(inbound_payload()).encode(), OTHER_PRIVATE_KEY),
                INCORRECT_SIGNATURE,
                id="other-key",
            ),
        ],
    )
    def test_bad_signature_dispatches_nothing(
        self, webhook_client, inbound_events, security_log, signature, message
    ):
        body = json.dumps(inbound_payload())
        extra = {} if signature is None else {"HTTP_X_POSTAL_SIGNATURE": signature}
        response = webhook_client.post(
            URL, body, content_type="application/json", **extra
        )
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(security_log) == [message]

    def test_tampered_body(self, webhook_client, inbound_events, security_log):
        body = json.dumps(inbound_payload()).encode()
        signature = sign(body)
        tampered = body.replace(b"in@inbound.example.com", b"xx@inbound.example.com")
        response = post_inbound(webhook_client, tampered, signature=signature)
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_missing_key(self, webhook_client, inbound_events, settings):
        settings.ANYMAIL = {}
        with pytest.raises(AnymailConfigurationError, match="POSTAL_WEBHOOK_KEY"):
            post_inbound(webhook_client, inbound_payload())
        with pytest.raises(AnymailConfigurationError, match="POSTAL_WEBHOOK_KEY"):
            webhook_client.head(URL)
        assert inbound_events.calls == []

    def test_as_view_kwarg(self, rf, inbound_events, settings):
        settings.ANYMAIL = {}
        view = PostalInboundWebhookView.as_view(webhook_key=WEBHOOK_KEY)
        body = json.dumps(inbound_payload()).encode()
        request = rf.post(
            URL,
            body,
            content_type="application/json",
            HTTP_X_POSTAL_SIGNATURE=sign(body),
        )
        assert view(request).status_code == 200
        assert len(inbound_events.calls) == 1

    @pytest.mark.parametrize(
        "authorization, status",
        [
            (basic_auth_header("postal-user:postal-pass"), 200),
            (basic_auth_header("postal-user:wrong"), 400),
            (None, 400),
        ],
    )
    def test_basic_auth(
        self,
        webhook_client,
        inbound_events,
        security_log,
        settings,
        authorization,
        status,
    ):
        settings.ANYMAIL = {
            "POSTAL_WEBHOOK_KEY": WEBHOOK_KEY,
            "WEBHOOK_SECRET": "postal-user:postal-pass",
        }
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        response = post_inbound(webhook_client, inbound_payload(), **extra)
        assert response.status_code == status
        if status == 200:
            assert len(inbound_events.calls) == 1
            assert security_messages(security_log) == []
        else:
            assert inbound_events.calls == []
            assert security_messages(security_log) == [BASIC_AUTH_FAILURE]

    @pytest.mark.parametrize("method", ["post", "head"])
    def test_never_warns(self, webhook_client, inbound_events, method):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            if method == "post":
                response = post_inbound(webhook_client, inbound_payload())
            else:
                response = webhook_client.head(URL)
        assert response.status_code == 200
        assert PostalInboundWebhookView.warn_if_no_basic_auth is False


class TestMethods:
    def test_head_without_validation(self, webhook_client, inbound_events):
        assert webhook_client.head(URL).status_code == 200
        assert inbound_events.calls == []

    def test_get_not_allowed(self, webhook_client):
        assert webhook_client.get(URL).status_code == 405

    def test_url_name(self):
        assert reverse("anymail:postal_inbound_webhook") == URL
