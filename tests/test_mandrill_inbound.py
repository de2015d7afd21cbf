"""Mandrill inbound events, through the combined Mandrill webhook view."""

import json
import warnings
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from django.urls import include, path

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.mandrill import MandrillCombinedWebhookView

from .conftest import b64_lines
from .test_mandrill_webhooks import (
    BASIC_AUTH_FAILURE,
    MALFORMED,
    MISSING_KEY,
    OTHER_KEY,
    SEND,
    SIGNATURE_MISSING,
    URL,
    WEBHOOK_KEY,
    incorrect_signature,
    mandrill_signature,
    post_mandrill,
    security_messages,
)

LEGACY_URL = "/anymail/mandrill/tracking/"
SMALL_CHUNKS_URL = "/small-chunks/"

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "small-chunks/",
        MandrillCombinedWebhookView.as_view(raw_message_chunk_size=7),
    ),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture(autouse=True)
def mandrill_settings(settings):
    settings.ANYMAIL = {"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY}
    return settings


# A 1x1 transparent PNG and a (tiny) PDF, as a mail client would attach them
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


# What Mandrill's msg.raw_msg holds: the message exactly as received (CRLF)
RAW_MESSAGE = "\r\n".join(
    [
        "Received: from mail.example.org (mail.example.org [203.0.113.7])",
        "\tby inbound.mandrillapp.com (Postfix) with ESMTPS id 3F1A2C0001",
        "\tfor <support@inbound.example.com>; Fri, 13 Oct 2017 01:05:21 +0000",
        "From: =?utf-8?q?Ren=C3=A9e_Dupr=C3=A9?= <renee@example.org>",
        'To: "Support Team" <support@inbound.example.com>,',
        " ops@inbound.example.com",
        "Cc: =?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@example.de>",
        "Subject: =?utf-8?b?UsOpc2VydmF0aW9uIG7CsCA0MiDinJM=?=",
        "Date: Thu, 12 Oct 2017 18:05:20 -0700",
        "Message-ID: <20171013010520.8E1F2@mail.example.org>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="==outer=="',
        "",
        "This is a multi-part message in MIME format.",
        "",
        "--==outer==",
        'Content-Type: multipart/related; boundary="==related=="',
        "",
        "--==related==",
        'Content-Type: multipart/alternative; boundary="==alt=="',
        "",
        "--==alt==",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Bonjour, voici la facture de la r=C3=A9servation n=C2=B0 42 =E2=9C=93.",
        "",
        "> quoted reply",
        "--==alt==",
        'Content-Type: text/html; charset="iso-8859-1"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        '<p>Bonjour, voici la facture de la r=E9servation <img src=3D"cid:logo@e=',
        'xample.org"></p>',
        "--==alt==--",
        "",
        "--==related==",
        'Content-Type: image/png; name="logo.png"',
        'Content-Disposition: inline; filename="logo.png"',
        "Content-ID: <logo@example.org>",
        "Content-Transfer-Encoding: base64",
        "",
        b64_lines(PNG),
        "--==related==--",
        "",
        "--==outer==",
        'Content-Type: application/pdf; name="facture.pdf"',
        "Content-Disposition: attachment; filename*=utf-8''facture%20n%C2%B042.pdf",
        "Content-Transfer-Encoding: base64",
        "",
        b64_lines(PDF),
        "--==outer==--",
        "",
    ]
)


def inbound_event(raw_msg=RAW_MESSAGE, ts=1507856722, **msg_overrides):
    """An inbound event as Mandrill posts it, with its own parsed fields too."""
    msg = {
        "raw_msg": raw_msg,
        "headers": {"Subject": "Mandrill's decoded subject"},
        "text": "Mandrill's text",
        "html": "<p>Mandrill's html</p>",
        "from_email": "renee@example.org",
        "from_name": "Renée Dupré",
        "to": [["support@inbound.example.com", "Support Team"]],
        "email": "support@inbound.example.com",
        "subject": "Mandrill's decoded subject",
        "tags": [],
        "sender": None,
        "template": None,
        "spam_report": {
            "score": 1.7,
            "matched_rules": [
                {"name": "HTML_MESSAGE", "score": 0.001, "description": "HTML"}
            ],
        },
        "dkim": {"signed": True, "valid": True},
        "spf": {"result": "pass", "detail": "sender SPF authorized"},
        "attachments": {"facture.pdf": {"name": "facture.pdf", "content": "..."}},
        "images": {"logo.png": {"name": "logo.png", "content": "..."}},
    }
    msg.update(msg_overrides)
    return {"event": "inbound", "ts": ts, "msg": msg}


MISSING = object()


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


class TestInboundMessage:
    def test_spec_sample(self, webhook_client, inbound_events, tracking_events):
        raw = (
            '[{"event":"inbound","ts":1507856722,'
            '"msg":{"raw_msg":"From: A tester <test@example.org>\\n'
            'To: in@inbound.example.com\\nSubject: Test\\n\\nHello\\n",'
            '"email":"delivered-to@example.com","sender":null,'
            '"spam_report":{"score":1.7}}}]'
        )
        response = post_mandrill(webhook_client, raw)
        assert response.status_code == 200
        assert tracking_events.calls == []
        event = inbound_events.event
        assert isinstance(event, AnymailInboundEvent)
        assert event.event_type == "inbound"
        assert event.timestamp == utc(2017, 10, 13, 1, 5, 22)
        assert event.event_id is None
        assert event.esp_event == json.loads(raw)[0]
        message = event.message
        assert isinstance(message, AnymailInboundMessage)
        assert str(message.from_email) == "A tester <test@example.org>"
        assert [str(addr) for addr in message.to] == ["in@inbound.example.com"]
        assert message.subject == "Test"
        assert message.text == "Hello\n"
        assert message.envelope_sender is None
        assert message.envelope_recipient == "delivered-to@example.com"
        assert message.spam_score == 1.7
        assert message.spam_detected is None

    def test_realistic_message(self, webhook_client, inbound_events, tracking_events):
        esp_event = inbound_event()
        response = post_mandrill(webhook_client, [esp_event])
        assert response.status_code == 200
        assert tracking_events.calls == []

        call = inbound_events.calls[0]
        assert set(call) == {"signal", "sender", "event", "esp_name"}
        assert call["signal"] is inbound
        assert call["sender"] is MandrillCombinedWebhookView
        assert call["esp_name"] == "Mandrill"

        event = inbound_events.event
        assert event.event_type == "inbound"
        assert event.timestamp == utc(2017, 10, 13, 1, 5, 22)
        assert event.event_id is None
        assert event.esp_event == esp_event

        message = event.message
        # headers are decoded from the raw MIME (Mandrill's parsed fields ignored)
        assert message.from_email.display_name == "Renée Dupré"
        assert message.from_email.addr_spec == "renee@example.org"
        assert [str(addr) for addr in message.to] == [
            "Support Team <support@inbound.example.com>",
            "ops@inbound.example.com",
        ]
        assert [str(addr) for addr in message.cc] == ["Jörg Müller <joerg@example.de>"]
        assert message.bcc == []
        assert message.subject == "Réservation n° 42 ✓"
        assert message.date == datetime(
            2017, 10, 12, 18, 5, 20, tzinfo=timezone(timedelta(hours=-7))
        )
        assert message["Message-ID"] == "<20171013010520.8E1F2@mail.example.org>"
        assert len(message.get_all("Received")) == 1

        # bodies: CRLF becomes LF; each part in its declared charset
        assert message.text == (
            "Bonjour, voici la facture de la réservation n° 42 ✓.\n\n> quoted reply"
        )
        assert message.html == (
            '<p>Bonjour, voici la facture de la réservation <img src="cid:logo@'
            'example.org"></p>'
        )

        # the attachment, with its content
        [attachment] = message.attachments
        assert attachment.get_filename() == "facture n°42.pdf"
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content_bytes() == PDF
        uploaded = attachment.as_uploaded_file()
        assert uploaded.name == "facture n°42.pdf"
        assert uploaded.read() == PDF

        # the inline image, by its Content-ID
        assert list(message.content_id_map) == ["logo@example.org"]
        image = message.content_id_map["logo@example.org"]
        assert image.get_content_type() == "image/png"
        assert image.get_filename() == "logo.png"
        assert image.get_content_bytes() == PNG
        assert message.inlines == [image]

        # what Mandrill tells about the delivery
        assert message.envelope_sender is None
        assert message.envelope_recipient == "support@inbound.example.com"
        assert message.spam_detected is None
        assert message.spam_score == 1.7
        assert message.stripped_text is None
        assert message.stripped_html is None
        assert message.defects == []

    def test_raw_mime_is_not_reencoded(self, webhook_client, inbound_events):
        post_mandrill(webhook_client, [inbound_event()])
        message = inbound_events.event.message
        expected = AnymailInboundMessage.parse_raw_mime(RAW_MESSAGE)
        assert message.as_bytes() == expected.as_bytes()
        # payloads keep the received CRLF line endings (text reads with LF)
        plain = message.get_body(("plain",))
        assert plain.get_content_bytes().endswith(b"\r\n\r\n> quoted reply")
        assert plain.get_content_text().endswith("\n\n> quoted reply")

    def test_batch(self, webhook_client, inbound_events, tracking_events):
        second = inbound_event(
            raw_msg="From: bob@example.org\r\nSubject: Second\r\n\r\nTwo\r\n",
            ts=1507856730,
            email="ops@inbound.example.com",
            spam_report={"score": -0.3},
        )
        response = post_mandrill(webhook_client, [inbound_event(), second])
        assert response.status_code == 200
        assert tracking_events.calls == []
        first_event, second_event = inbound_events.events
        assert first_event.message.subject == "Réservation n° 42 ✓"
        assert second_event.message.subject == "Second"
        assert second_event.message.text == "Two\n"
        assert second_event.message.envelope_recipient == "ops@inbound.example.com"
        assert second_event.message.spam_score == -0.3
        assert second_event.timestamp == utc(2017, 10, 13, 1, 5, 30)
        assert second_event.esp_event == second

    def test_legacy_tracking_url_takes_inbound(
        self, webhook_client, inbound_events, tracking_events
    ):
        # not a misdirected payload: both Mandrill URLs are the combined view
        response = post_mandrill(webhook_client, [inbound_event()], url=LEGACY_URL)
        assert response.status_code == 200
        assert tracking_events.calls == []
        assert inbound_events.event.message.subject == "Réservation n° 42 ✓"
        assert inbound_events.calls[0]["sender"] is MandrillCombinedWebhookView

    def test_tracking_post_after_inbound_post(
        self, webhook_client, inbound_events, tracking_events
    ):
        # the signal choice doesn't leak from one request to the next
        post_mandrill(webhook_client, [inbound_event()])
        post_mandrill(webhook_client, [SEND])
        assert len(inbound_events.calls) == 1
        assert [e.event_type for e in tracking_events.events] == ["sent"]

    @pytest.mark.parametrize(
        "spam_report,expected",
        [
            pytest.param({"score": 3}, 3.0, id="int"),
            pytest.param({"score": "2.5"}, 2.5, id="numeric-string"),
            pytest.param({"score": None}, None, id="null-score"),
            pytest.param({"matched_rules": []}, None, id="no-score"),
            pytest.param({"score": "high"}, None, id="not-a-number"),
            pytest.param(None, None, id="null"),
            pytest.param(MISSING, None, id="missing"),
        ],
    )
    def test_spam_score(self, webhook_client, inbound_events, spam_report, expected):
        esp_event = inbound_event()
        if spam_report is MISSING:
            del esp_event["msg"]["spam_report"]
        else:
            esp_event["msg"]["spam_report"] = spam_report
        assert post_mandrill(webhook_client, [esp_event]).status_code == 200
        message = inbound_events.event.message
        assert message.spam_score == expected
        assert message.spam_detected is None

    def test_missing_email_and_ts(self, webhook_client, inbound_events):
        esp_event = inbound_event()
        del esp_event["msg"]["email"]
        del esp_event["ts"]
        assert post_mandrill(webhook_client, [esp_event]).status_code == 200
        assert inbound_events.event.message.envelope_recipient is None
        assert inbound_events.event.timestamp is None

    def test_never_warns_insecure(self, webhook_client, inbound_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_mandrill(webhook_client, [inbound_event()])
        assert response.status_code == 200


class TestLenientParsing:
    """Whatever MIME Mandrill relays, the post is answered 200 (never 500)."""

    @pytest.mark.parametrize(
        "raw_msg",
        [
            pytest.param("", id="empty"),
            pytest.param("this is not an email at all", id="not-mime"),
            pytest.param(RAW_MESSAGE[: len(RAW_MESSAGE) * 2 // 3], id="truncated"),
            pytest.param(
                RAW_MESSAGE.replace("--==outer==--", ""), id="no-close-boundary"
            ),
            pytest.param(
                "Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
                id="multipart-without-boundary",
            ),
            pytest.param(
                "From: =?utf-8?q?Not_a_char:_=88?= <a@example.org>\r\n"
                "Subject: =?x-unknown?q?Hi?=\r\n\r\nBody\r\n",
                id="bad-encoded-words",
            ),
            pytest.param(
                "Subject: Hi\r\nContent-Type: text/plain; charset=x-no-such-charset"
                "\r\n\r\nBody\r\n",
                id="unknown-charset",
            ),
            pytest.param(
                "Subject: Hi\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!@@@\r\n",
                id="bad-base64",
            ),
            pytest.param(
                "Subject: \ud83d broken\r\n\r\nBody \udc00\r\n", id="surrogate"
            ),
        ],
    )
    def test_malformed_mime_is_200(self, webhook_client, inbound_events, raw_msg):
        response = post_mandrill(webhook_client, [inbound_event(raw_msg=raw_msg)])
        assert response.status_code == 200
        message = inbound_events.event.message
        assert isinstance(message, AnymailInboundMessage)
        assert message.envelope_recipient == "support@inbound.example.com"

    def test_truncated_message_keeps_what_arrived(self, webhook_client, inbound_events):
        raw_msg = RAW_MESSAGE[: RAW_MESSAGE.index("--==related==--")]
        post_mandrill(webhook_client, [inbound_event(raw_msg=raw_msg)])
        message = inbound_events.event.message
        assert message.subject == "Réservation n° 42 ✓"
        assert message.text.startswith("Bonjour, voici la facture")
        assert message.defects != []

    def test_wrong_declared_charset(self, webhook_client, inbound_events):
        # 8bit UTF-8 text declared as Latin-1: read as declared, no error
        raw_msg = (
            "Subject: Charset\r\n"
            'Content-Type: text/plain; charset="iso-8859-1"\r\n'
            "Content-Transfer-Encoding: 8bit\r\n\r\nCafé\r\n"
        )
        post_mandrill(webhook_client, [inbound_event(raw_msg=raw_msg)])
        assert inbound_events.event.message.text == "CafÃ©\n"

    def test_unpaired_surrogates_replaced(self, webhook_client, inbound_events):
        raw = json.dumps([inbound_event(raw_msg="Subject: A \ud83d B\r\n\r\nx\r\n")])
        assert "\\ud83d" in raw  # JSON can carry an unpaired surrogate
        post_mandrill(webhook_client, raw)
        assert inbound_events.event.message.subject == "A ? B"


class TestLargeMessages:
    def test_parsed_in_pieces(self, webhook_client, inbound_events):
        """The raw message is fed to the parser in pieces, never whole as bytes."""
        original = AnymailInboundMessage.parse_raw_mime_chunks
        pieces = []

        def recording_parse(chunks):
            def record():
                for chunk in chunks:
                    pieces.append(chunk)
                    yield chunk

            return original(record())

        with (
            mock.patch.object(
                AnymailInboundMessage,
                "parse_raw_mime_chunks",
                side_effect=recording_parse,
            ) as chunks_spy,
            mock.patch.object(
                AnymailInboundMessage, "parse_raw_mime", side_effect=AssertionError
            ),
            mock.patch.object(
                AnymailInboundMessage,
                "parse_raw_mime_bytes",
                side_effect=AssertionError,
            ),
        ):
            response = post_mandrill(
                webhook_client, [inbound_event()], url=SMALL_CHUNKS_URL
            )
        assert response.status_code == 200
        assert chunks_spy.call_count == 1
        assert inbound_events.event.message.subject == "Réservation n° 42 ✓"
        # pieces of 7 characters (as_view kwarg), each valid UTF-8 on its own
        assert len(pieces) == -(-len(RAW_MESSAGE) // 7)
        assert all(isinstance(piece, bytes) for piece in pieces)
        assert all(len(piece.decode("utf-8")) <= 7 for piece in pieces)
        assert b"".join(pieces) == RAW_MESSAGE.encode("utf-8")

    def test_default_piece_size(self):
        assert MandrillCombinedWebhookView.raw_message_chunk_size == 65536

    def test_small_pieces_parse_the_same(self, webhook_client, inbound_events):
        response = post_mandrill(
            webhook_client, [inbound_event()], url=SMALL_CHUNKS_URL
        )
        assert response.status_code == 200
        message = inbound_events.event.message
        assert message.subject == "Réservation n° 42 ✓"
        assert message.text == (
            "Bonjour, voici la facture de la réservation n° 42 ✓.\n\n> quoted reply"
        )
        assert message.content_id_map["logo@example.org"].get_content_bytes() == PNG
        assert message.attachments[0].get_content_bytes() == PDF
        expected = AnymailInboundMessage.parse_raw_mime(RAW_MESSAGE)
        assert message.as_bytes() == expected.as_bytes()

    def test_large_attachment(self, webhook_client, inbound_events):
        big = bytes(range(256)) * 1200  # 300 KiB: several default-size pieces
        raw_msg = RAW_MESSAGE.replace(b64_lines(PDF), b64_lines(big))
        post_mandrill(webhook_client, [inbound_event(raw_msg=raw_msg)])
        [attachment] = inbound_events.event.message.attachments
        assert attachment.get_content_bytes() == big


class TestInboundValidation:
    @pytest.mark.parametrize(
        "post_kwargs,message",
        [
            pytest.param({"signature": False}, SIGNATURE_MISSING, id="missing"),
            pytest.param(
                {"key": OTHER_KEY},
                incorrect_signature("http://testserver" + URL),
                id="wrong-key",
            ),
            pytest.param(
                {"signature": mandrill_signature("http://testserver" + URL, [])},
                incorrect_signature("http://testserver" + URL),
                id="not-covering-body",
            ),
        ],
    )
    def test_bad_signature_dispatches_nothing(
        self,
        webhook_client,
        inbound_events,
        tracking_events,
        security_log,
        post_kwargs,
        message,
    ):
        response = post_mandrill(webhook_client, [inbound_event()], **post_kwargs)
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert tracking_events.calls == []
        assert security_messages(security_log) == [message]

    def test_tampered_raw_message(self, webhook_client, inbound_events, security_log):
        signed = json.dumps([inbound_event()])
        signature = mandrill_signature(
            "http://testserver" + URL, [("mandrill_events", signed)]
        )
        tampered = signed.replace("facture", "invoice")
        response = post_mandrill(webhook_client, tampered, signature=signature)
        assert response.status_code == 400
        assert inbound_events.calls == []

    @pytest.mark.parametrize("credentials", [None, "user:wrong"])
    def test_basic_auth_dispatches_nothing(
        self, webhook_client, inbound_events, settings, security_log, credentials
    ):
        settings.ANYMAIL = dict(settings.ANYMAIL, WEBHOOK_SECRET="user:pass")
        response = post_mandrill(
            webhook_client, [inbound_event()], credentials=credentials
        )
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(security_log) == [BASIC_AUTH_FAILURE]

        response = post_mandrill(
            webhook_client, [inbound_event()], credentials="user:pass"
        )
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1

    def test_missing_key(self, webhook_client, inbound_events, settings):
        settings.ANYMAIL = {}
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_mandrill(webhook_client, [inbound_event()])
        assert str(excinfo.value) == MISSING_KEY
        assert inbound_events.calls == []


class TestMalformedInbound:
    @pytest.mark.parametrize(
        "esp_event",
        [
            pytest.param({"event": "inbound", "ts": 1507856722}, id="no-msg"),
            pytest.param({"event": "inbound", "msg": None}, id="null-msg"),
            pytest.param({"event": "inbound", "msg": "From: a@b"}, id="string-msg"),
            pytest.param({"event": "inbound", "msg": {"email": "a@b"}}, id="no-raw"),
            pytest.param(inbound_event(raw_msg=None), id="null-raw"),
            pytest.param(inbound_event(raw_msg=["From: a@b"]), id="list-raw"),
            pytest.param(inbound_event(raw_msg=42), id="number-raw"),
            pytest.param(inbound_event(ts="2017-10-13"), id="string-ts"),
        ],
    )
    def test_malformed_envelope_is_400(
        self, webhook_client, inbound_events, tracking_events, esp_event
    ):
        response = post_mandrill(webhook_client, [esp_event])
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert inbound_events.calls == []
        assert tracking_events.calls == []

    def test_bad_event_anywhere_in_batch_dispatches_nothing(
        self, webhook_client, inbound_events
    ):
        batch = [inbound_event(), inbound_event(raw_msg=None)]
        assert post_mandrill(webhook_client, batch).status_code == 400
        assert inbound_events.calls == []

    @pytest.mark.parametrize("inbound_first", [True, False])
    def test_mixed_batch_is_400(
        self, webhook_client, inbound_events, tracking_events, inbound_first
    ):
        batch = [inbound_event(), SEND] if inbound_first else [SEND, inbound_event()]
        response = post_mandrill(webhook_client, batch)
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert inbound_events.calls == []
        assert tracking_events.calls == []
