"""MailerSend inbound webhook, through Django's test client, HMAC-signed."""

import hashlib
import hmac
import json
import warnings
from base64 import b64encode
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from django.urls import include, path

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent
from anymail.utils import DEFAULT_DOWNLOAD_CHUNK_SIZE
from anymail.webhooks.mailersend import MailerSendInboundWebhookView

from .conftest import basic_auth_header, security_messages

URL = "/anymail/mailersend/inbound/"
SIGNING_SECRET = "Yq7rM2wZ0c4kT9pLx8sVbN3jHf6dGa1e"
INBOUND_SECRET = "Kd83hQpz6RtV1mXc9wLb2NsYf5jTg0Ua"
NO_SIGNATURE = "MailerSend webhook called without signature"
INCORRECT_SIGNATURE = (
    "MailerSend webhook called with incorrect signature"
    " (check Anymail MAILERSEND_INBOUND_SECRET setting)"
)
BASIC_AUTH_FAILURE = "Missing or invalid basic auth in Anymail MailerSend webhook"
MISSING_SECRET = (
    "You must set ANYMAIL = {'MAILERSEND_INBOUND_SECRET': ...} or"
    " ANYMAIL_MAILERSEND_INBOUND_SECRET in your Django settings"
)
MALFORMED = b"Malformed MailerSend webhook payload"
KWARG_SECRET = "inbound-kwarg-secret-77c1"

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "kwarg-secret/",
        MailerSendInboundWebhookView.as_view(inbound_secret=KWARG_SECRET),
    ),
]

pytestmark = pytest.mark.urls(__name__)


def sign(body, secret=INBOUND_SECRET):
    return hmac.new(secret.encode("ascii"), body, hashlib.sha256).hexdigest()


def encode_body(data):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return body.encode("utf-8") if isinstance(body, str) else body


def post_signed(client, data, url=URL, secret=INBOUND_SECRET, signature=None, **extra):
    """POST data (a JSON-able object, or a raw str/bytes body), signed."""
    body = encode_body(data)
    if signature is None:
        signature = sign(body, secret)
    extra.setdefault("content_type", "application/json")
    if signature is not False:
        extra["HTTP_SIGNATURE"] = signature
    return client.post(url, body, **extra)


@pytest.fixture(autouse=True)
def mailersend_settings(settings):
    settings.ANYMAIL = {
        "MAILERSEND_SIGNING_SECRET": SIGNING_SECRET,
        "MAILERSEND_INBOUND_SECRET": INBOUND_SECRET,
    }
    return settings


PNG_CONTENT = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF_CONTENT = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def wrap_base64(content):
    encoded = b64encode(content).decode("ascii")
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


# A message as Gmail would send it: non-ASCII headers, a text/html
# alternative, an inline image and a PDF attachment. CRLF line endings.
RAW_MIME = "\r\n".join(
    [
        "Received: from mail-wr1-f41.google.com (mail-wr1-f41.google.com"
        " [209.85.221.41])",
        "\tby inbound.mailersend.net with ESMTPS id 4PT8qw1Xyzz3",
        "\tfor <support@inbound.example.com>; Sat, 04 Mar 2023 02:22:14 +0000 (UTC)",
        "MIME-Version: 1.0",
        "From: =?UTF-8?Q?Fran=C3=A7oise_M=C3=BCller?= <francoise@example.org>",
        "Date: Fri, 3 Mar 2023 18:22:03 -0800",
        "Message-ID: <CAEXAMPLE+abc123@mail.gmail.com>",
        "Subject: =?UTF-8?B?VGVzdCDDqXByb3V2w6kg4pyT?=",
        "To: Support <support@inbound.example.com>,"
        " =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.com>",
        'Cc: "Sales, Team" <sales@example.com>',
        'Content-Type: multipart/mixed; boundary="000000000000mixed"',
        "",
        "--000000000000mixed",
        'Content-Type: multipart/related; boundary="000000000000related"',
        "",
        "--000000000000related",
        'Content-Type: multipart/alternative; boundary="000000000000alt"',
        "",
        "--000000000000alt",
        'Content-Type: text/plain; charset="UTF-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "This is a *test*!",
        "",
        "[image: sample_image.png]",
        "",
        "--000000000000alt",
        'Content-Type: text/html; charset="UTF-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        '<div dir=3D"ltr">This is a <b>test</b>! Fran=C3=A7aise.<div>'
        '<img src=3D"cid:ii_lesb1yds0" alt=3D"sample_image.png"></div></div>',
        "",
        "--000000000000alt--",
        "",
        "--000000000000related",
        'Content-Type: image/png; name="sample_image.png"',
        'Content-Disposition: inline; filename="sample_image.png"',
        "Content-Transfer-Encoding: base64",
        "Content-ID: <ii_lesb1yds0>",
        "X-Attachment-Id: ii_lesb1yds0",
        "",
        wrap_base64(PNG_CONTENT),
        "--000000000000related--",
        "",
        "--000000000000mixed",
        'Content-Type: application/pdf; name="Rechnung März.pdf"',
        "Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf",
        "Content-Transfer-Encoding: base64",
        "X-Attachment-Id: f_lesb2cm41",
        "",
        wrap_base64(PDF_CONTENT),
        "--000000000000mixed--",
        "",
    ]
)


def inbound_payload(raw=RAW_MIME, **data_overrides):
    """A MailerSend inbound route payload, shaped as MailerSend posts it."""
    data = {
        "object": "message",
        "id": "6402aaa7f7e84b15a8c0e3d2",
        "recipients": {
            "rcptTo": [{"email": "support@inbound.example.com"}],
            "to": {
                "raw": "Support <support@inbound.example.com>, Jürgen"
                " <juergen@example.com>",
                "data": [
                    {"email": "support@inbound.example.com", "name": "Support"},
                    {"email": "juergen@example.com", "name": "Jürgen"},
                ],
            },
        },
        "from": {
            "email": "francoise@example.org",
            "name": "Françoise Müller",
            "raw": "Françoise Müller <francoise@example.org>",
        },
        "sender": {"email": "bounces+srs=abc@example.org"},
        "subject": "Test éprouvé ✓",
        "date": "Fri, 3 Mar 2023 18:22:03 -0800",
        "headers": {"Message-ID": "<CAEXAMPLE+abc123@mail.gmail.com>"},
        "text": "This is a *test*!\n\n[image: sample_image.png]\n",
        "html": '<div dir="ltr">This is a <b>test</b>! Française.</div>',
        "raw": raw,
        "attachments": [
            {
                "file_name": "sample_image.png",
                "content_type": "image/png",
                "content_disposition": "inline",
                "content_id": "ii_lesb1yds0",
                "size": len(PNG_CONTENT),
                "content": b64encode(PNG_CONTENT).decode("ascii"),
            },
            {
                "file_name": "Rechnung März.pdf",
                "content_type": "application/pdf",
                "content_disposition": "attachment",
                "size": len(PDF_CONTENT),
                "content": b64encode(PDF_CONTENT).decode("ascii"),
            },
        ],
        "spf_check": {"code": "+", "value": None},
        "dkim_check": False,
        "created_at": "2023-03-04T02:22:15.525000Z",
    }
    data.update(data_overrides)
    return {
        "type": "inbound.message",
        "inbound_id": "x0p7kl3e2rq5m9w1",
        "url": "https://yoursite.example.com/anymail/mailersend/inbound/",
        "created_at": "2023-03-04T02:22:16.000000Z",
        "data": data,
    }


def test_inbound_message(webhook_client, inbound_events, tracking_events):
    payload = inbound_payload()
    response = post_signed(webhook_client, payload)
    assert response.status_code == 200
    assert response.content == b""

    assert len(inbound_events.calls) == 1
    call = inbound_events.calls[0]
    assert call["sender"] is MailerSendInboundWebhookView
    assert call["esp_name"] == "MailerSend"
    assert tracking_events.calls == []

    event = call["event"]
    assert isinstance(event, AnymailInboundEvent)
    assert event.event_type == "inbound"
    assert event.event_id == "6402aaa7f7e84b15a8c0e3d2"
    assert event.timestamp == datetime(
        2023, 3, 4, 2, 22, 15, 525000, tzinfo=timezone.utc
    )
    assert event.timestamp.utcoffset() == timedelta(0)
    assert event.esp_event == payload

    message = event.message
    assert isinstance(message, AnymailInboundMessage)
    assert str(message.from_email) == "Françoise Müller <francoise@example.org>"
    assert message.from_email.display_name == "Françoise Müller"
    assert message.from_email.addr_spec == "francoise@example.org"
    assert [str(addr) for addr in message.to] == [
        "Support <support@inbound.example.com>",
        "Jürgen <juergen@example.com>",
    ]
    assert [addr.addr_spec for addr in message.cc] == ["sales@example.com"]
    assert message.cc[0].display_name == "Sales, Team"
    assert message.bcc == []
    assert message.subject == "Test éprouvé ✓"
    assert message.date == datetime(
        2023, 3, 3, 18, 22, 3, tzinfo=timezone(timedelta(hours=-8))
    )
    assert message["Message-ID"] == "<CAEXAMPLE+abc123@mail.gmail.com>"
    assert message.get_all("Received")[0].startswith("from mail-wr1-f41.google.com")
    # 15.2: line endings normalized to \n in text and html
    assert message.text == "This is a *test*!\n\n[image: sample_image.png]\n"
    assert message.html == (
        '<div dir="ltr">This is a <b>test</b>! Française.<div>'
        '<img src="cid:ii_lesb1yds0" alt="sample_image.png"></div></div>\n'
    )

    assert len(message.attachments) == 1
    attachment = message.attachments[0]
    assert attachment.get_filename() == "Rechnung März.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content_bytes() == PDF_CONTENT
    uploaded = attachment.as_uploaded_file()
    assert uploaded.name == "Rechnung März.pdf"
    assert uploaded.read() == PDF_CONTENT

    assert list(message.content_id_map.keys()) == ["ii_lesb1yds0"]
    inline = message.content_id_map["ii_lesb1yds0"]
    assert inline.get_content_type() == "image/png"
    assert inline.get_filename() == "sample_image.png"
    assert inline.get_content_bytes() == PNG_CONTENT
    assert message.inlines == [inline]

    assert message.envelope_sender == "bounces+srs=abc@example.org"
    assert message.envelope_recipient == "support@inbound.example.com"
    assert message.spam_detected is None
    assert message.spam_score is None
    assert message.stripped_text is None
    assert message.stripped_html is None
    assert message.defects == []


def test_spec_sample(webhook_client, inbound_events):
    body = (
        '{"type": "inbound.message", "data": {"object": "message", "id": "in-001",'
        ' "created_at": "2023-03-04T02:22:15.525000Z",'
        ' "sender": {"email": "bounce@example.org"},'
        ' "recipients": {"rcptTo": [{"email": "inbox@example.com"}]},'
        ' "raw": "From: Sender <sender@example.org>\\r\\nTo: inbox@example.com'
        '\\r\\nSubject: Hi\\r\\n\\r\\nHello\\r\\n"}}'
    )
    response = post_signed(webhook_client, body)
    assert response.status_code == 200
    event = inbound_events.event
    assert event.event_type == "inbound"
    assert event.event_id == "in-001"
    assert event.timestamp == datetime(
        2023, 3, 4, 2, 22, 15, 525000, tzinfo=timezone.utc
    )
    assert event.message.subject == "Hi"
    assert event.message.text == "Hello\n"
    assert event.message.envelope_sender == "bounce@example.org"
    assert event.message.envelope_recipient == "inbox@example.com"
    assert event.esp_event == json.loads(body)


def test_message_comes_from_raw_mime_only(webhook_client, inbound_events):
    # MailerSend's own parsed fields are ignored: the raw MIME is the message
    payload = inbound_payload(
        subject="JSON subject",
        text="JSON text",
        html="<p>JSON html</p>",
        headers={"Subject": "JSON header"},
        attachments=[],
        **{"from": {"email": "json@example.net", "name": "JSON"}},
    )
    post_signed(webhook_client, payload)
    message = inbound_events.event.message
    assert message.subject == "Test éprouvé ✓"
    assert message.text.startswith("This is a *test*!")
    assert message.from_email.addr_spec == "francoise@example.org"
    assert len(message.attachments) == 1


def test_first_of_several_rcpt_to(webhook_client, inbound_events):
    payload = inbound_payload(
        recipients={
            "rcptTo": [
                {"email": "first@inbound.example.com"},
                {"email": "second@inbound.example.com"},
            ]
        }
    )
    post_signed(webhook_client, payload)
    assert inbound_events.event.message.envelope_recipient == (
        "first@inbound.example.com"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"sender": None, "recipients": None},
        {"sender": {}, "recipients": {}},
        {"sender": {"email": None}, "recipients": {"rcptTo": []}},
        {"recipients": {"rcptTo": None}},
    ],
)
def test_missing_envelope(webhook_client, inbound_events, overrides):
    payload = inbound_payload(**overrides)
    if "sender" not in overrides:
        del payload["data"]["sender"]
    response = post_signed(webhook_client, payload)
    assert response.status_code == 200
    message = inbound_events.event.message
    assert message.envelope_sender is None
    assert message.envelope_recipient is None


def test_missing_id_and_created_at(webhook_client, inbound_events):
    payload = inbound_payload()
    del payload["data"]["id"]
    del payload["data"]["created_at"]
    assert post_signed(webhook_client, payload).status_code == 200
    event = inbound_events.event
    assert event.event_id is None
    assert event.timestamp is None


def test_escaped_slashes(webhook_client, inbound_events):
    # MailerSend escapes "/" as "\/" in its JSON (here, in the raw MIME too)
    body = json.dumps(inbound_payload()).replace("/", "\\/")
    assert "text\\/plain" in body
    assert post_signed(webhook_client, body).status_code == 200
    message = inbound_events.event.message
    assert message.html.startswith('<div dir="ltr">')
    assert message.content_id_map["ii_lesb1yds0"].get_content_bytes() == PNG_CONTENT


# --- lenient parsing: odd messages are still delivered, never a 500 --------

ODD_MESSAGES = {
    "missing-close-boundary": (
        'From: a@example.org\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nFirst part\r\n"
    ),
    "multipart-without-boundary": (
        "From: a@example.org\r\nContent-Type: multipart/mixed\r\n\r\nJust text\r\n"
    ),
    "wrong-charset": (
        "From: a@example.org\r\nContent-Type: text/plain; charset=us-ascii\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nCaf\u00e9 \u2713\r\n"
    ),
    "unknown-charset": (
        "From: a@example.org\r\nContent-Type: text/plain; charset=x-no-such\r\n"
        "\r\nHello\r\n"
    ),
    "truncated-base64": (
        "From: a@example.org\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename=a.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJ"
    ),
    "broken-headers": (
        "From a@example.org no colon\r\n: empty name\r\nSubject: =?utf-8?q?bad_=88?="
        "\r\n\r\nBody\r\n"
    ),
    "unpaired-surrogate": "Subject: odd\r\n\r\nHalf a pair: \ud83d here\r\n",
    "empty": "",
    "no-headers": "\r\n\r\nJust a body",
}


@pytest.mark.parametrize("raw", ODD_MESSAGES.values(), ids=list(ODD_MESSAGES.keys()))
def test_odd_messages_are_delivered(webhook_client, inbound_events, raw):
    response = post_signed(webhook_client, inbound_payload(raw=raw))
    assert response.status_code == 200
    event = inbound_events.event
    assert isinstance(event.message, AnymailInboundMessage)
    assert event.message.envelope_recipient == "support@inbound.example.com"


def test_wrong_charset_text_is_replaced(webhook_client, inbound_events):
    post_signed(webhook_client, inbound_payload(raw=ODD_MESSAGES["wrong-charset"]))
    message = inbound_events.event.message
    # declared us-ascii, but 8-bit UTF-8: undecodable bytes become U+FFFD
    assert message.text.startswith("Caf\ufffd\ufffd")
    assert message.text.endswith("\n")


def test_missing_close_boundary_keeps_parts(webhook_client, inbound_events):
    raw = ODD_MESSAGES["missing-close-boundary"]
    post_signed(webhook_client, inbound_payload(raw=raw))
    message = inbound_events.event.message
    assert message.text == "First part"
    assert message.defects  # recorded, not raised


# --- large messages are parsed in pieces ------------------------------------


def test_large_message_parsed_in_chunks(webhook_client, inbound_events):
    big_content = bytes(range(256)) * 4096  # 1 MiB
    raw = "\r\n".join(
        [
            "From: sender@example.org",
            "Subject: Big",
            'Content-Type: multipart/mixed; boundary="big"',
            "",
            "--big",
            "Content-Type: text/plain",
            "",
            "See attached",
            "--big",
            "Content-Type: application/octet-stream",
            'Content-Disposition: attachment; filename="big.bin"',
            "Content-Transfer-Encoding: base64",
            "",
            wrap_base64(big_content),
            "--big--",
            "",
        ]
    )
    chunk_sizes = []
    original = AnymailInboundMessage.parse_raw_mime_chunks.__func__

    def recording_parse(cls, chunks):
        def recorded():
            for chunk in chunks:
                assert isinstance(chunk, bytes)
                chunk_sizes.append(len(chunk))
                yield chunk

        return original(cls, recorded())

    with (
        mock.patch.object(
            AnymailInboundMessage,
            "parse_raw_mime_chunks",
            classmethod(recording_parse),
        ),
        mock.patch.object(
            AnymailInboundMessage, "parse_raw_mime", side_effect=AssertionError
        ),
        mock.patch.object(
            AnymailInboundMessage, "parse_raw_mime_bytes", side_effect=AssertionError
        ),
    ):
        response = post_signed(webhook_client, inbound_payload(raw=raw))
    assert response.status_code == 200
    assert len(chunk_sizes) > 1
    assert max(chunk_sizes) <= DEFAULT_DOWNLOAD_CHUNK_SIZE
    assert sum(chunk_sizes) == len(raw.encode("utf-8"))
    message = inbound_events.event.message
    assert message.text == "See attached"
    assert message.attachments[0].get_content_bytes() == big_content


def test_no_api_call(webhook_client, inbound_events, requests_mock):
    # Everything comes in the post: MailerSend's API is never called
    post_signed(webhook_client, inbound_payload())
    assert len(inbound_events.calls) == 1
    assert requests_mock.calls == []


# --- misdirected payloads --------------------------------------------------


@pytest.mark.parametrize("activity_type", ["activity.sent", "activity.opened"])
def test_tracking_payload_on_inbound_url(webhook_client, inbound_events, activity_type):
    payload = {
        "type": activity_type,
        "domain_id": "3z0vklo6y1ge7qrx",
        "webhook_id": "pq3enl6xq8842vwr",
        "data": {
            "object": "activity",
            "id": "63fd27c590cc1a44ea6e0b3f",
            "type": activity_type.split(".")[1],
            "email": {"message": {"id": "msg-1"}},
        },
    }
    with pytest.raises(AnymailConfigurationError) as excinfo:
        post_signed(webhook_client, payload)
    assert (
        f"You seem to have set MailerSend's *{activity_type}* webhook"
        " to Anymail's MailerSend *inbound* webhook URL."
    ) in str(excinfo.value)
    assert inbound_events.calls == []


# --- authentication --------------------------------------------------------


def test_missing_signature(webhook_client, inbound_events, security_log):
    response = post_signed(webhook_client, inbound_payload(), signature=False)
    assert response.status_code == 400
    assert inbound_events.calls == []
    assert security_messages(security_log) == [NO_SIGNATURE]


@pytest.mark.parametrize(
    "make_signature",
    [
        pytest.param(lambda body: sign(body, SIGNING_SECRET), id="tracking-secret"),
        pytest.param(lambda body: sign(body, "other"), id="other-secret"),
        pytest.param(lambda body: sign(body)[:32], id="truncated"),
        pytest.param(lambda body: "", id="empty"),
    ],
)
def test_incorrect_signature(
    webhook_client, inbound_events, security_log, make_signature
):
    body = encode_body(inbound_payload())
    response = post_signed(webhook_client, body, signature=make_signature(body))
    assert response.status_code == 400
    assert inbound_events.calls == []
    assert security_messages(security_log) == [INCORRECT_SIGNATURE]


def test_tampered_body(webhook_client, inbound_events, security_log):
    original = encode_body(inbound_payload())
    tampered = original.replace(b"support@inbound", b"attacker@inbound")
    assert tampered != original
    response = post_signed(webhook_client, tampered, signature=sign(original))
    assert response.status_code == 400
    assert inbound_events.calls == []
    assert security_messages(security_log) == [INCORRECT_SIGNATURE]


def test_secret_stored_as_bytes_in_signing_secret():
    view = MailerSendInboundWebhookView()
    assert view.signing_secret == INBOUND_SECRET.encode("ascii")


def test_missing_secret(settings, webhook_client, inbound_events):
    settings.ANYMAIL = {"MAILERSEND_SIGNING_SECRET": SIGNING_SECRET}
    with pytest.raises(AnymailConfigurationError) as excinfo:
        post_signed(webhook_client, inbound_payload())
    assert str(excinfo.value) == MISSING_SECRET
    with pytest.raises(AnymailConfigurationError, match="MAILERSEND_INBOUND_SECRET"):
        webhook_client.head(URL)
    assert inbound_events.calls == []


def test_as_view_secret(settings, webhook_client, inbound_events, security_log):
    settings.ANYMAIL = {}
    response = post_signed(
        webhook_client, inbound_payload(), url="/kwarg-secret/", secret=KWARG_SECRET
    )
    assert response.status_code == 200
    assert len(inbound_events.calls) == 1
    response = post_signed(webhook_client, inbound_payload(), url="/kwarg-secret/")
    assert response.status_code == 400
    assert security_messages(security_log) == [INCORRECT_SIGNATURE]
    assert len(inbound_events.calls) == 1


def test_as_view_kwarg_consumed(settings):
    settings.ANYMAIL = {}
    view = MailerSendInboundWebhookView.as_view(inbound_secret="kwarg-secret")
    instance = view.view_class(**view.view_initkwargs)
    assert instance.signing_secret == b"kwarg-secret"
    with pytest.raises(TypeError):
        MailerSendInboundWebhookView.as_view(signing_secret="tracking view's kwarg")


def test_never_warns_about_basic_auth(settings, webhook_client, inbound_events):
    settings.ANYMAIL = {"MAILERSEND_INBOUND_SECRET": INBOUND_SECRET}
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnymailInsecureWebhookWarning)
        response = post_signed(webhook_client, inbound_payload())
        assert webhook_client.head(URL).status_code == 200
    assert response.status_code == 200
    assert len(inbound_events.calls) == 1


class TestBasicAuth:
    CREDENTIALS = "inbound-user:s3cret"

    @pytest.fixture(autouse=True)
    def webhook_secret(self, settings):
        settings.ANYMAIL = {
            "MAILERSEND_INBOUND_SECRET": INBOUND_SECRET,
            "WEBHOOK_SECRET": self.CREDENTIALS,
        }

    def test_right_credentials(self, webhook_client, inbound_events):
        response = post_signed(
            webhook_client,
            inbound_payload(),
            HTTP_AUTHORIZATION=basic_auth_header(self.CREDENTIALS),
        )
        assert response.status_code == 200
        assert len(inbound_events.calls) == 1

    @pytest.mark.parametrize(
        "authorization",
        [None, basic_auth_header("inbound-user:wrong")],
        ids=["missing", "wrong"],
    )
    def test_wrong_credentials(
        self, webhook_client, inbound_events, security_log, authorization
    ):
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        response = post_signed(webhook_client, inbound_payload(), **extra)
        assert response.status_code == 400
        assert inbound_events.calls == []
        assert security_messages(security_log) == [BASIC_AUTH_FAILURE]


# --- malformed bodies ------------------------------------------------------


def _with_data(**changes):
    payload = inbound_payload()
    for key, value in changes.items():
        if value is KeyError:
            del payload["data"][key]
        else:
            payload["data"][key] = value
    return encode_body(payload)


def _without_type():
    payload = inbound_payload()
    del payload["type"]
    return encode_body(payload)


MALFORMED_BODIES = {
    "empty": b"",
    "not-json": b"From: a@example.org\r\n\r\nraw MIME instead of JSON",
    "truncated-json": encode_body(inbound_payload())[:-20],
    "json-array": encode_body([inbound_payload()]),
    "json-number": b"42",
    "no-type": _without_type(),
    "type-null": encode_body({"type": None, "data": {"raw": ""}}),
    "no-data": b'{"type": "inbound.message"}',
    "data-string": b'{"type": "inbound.message", "data": "raw"}',
    "no-raw": _with_data(raw=KeyError),
    "raw-null": _with_data(raw=None),
    "raw-object": _with_data(raw={"headers": {}}),
    "sender-string": _with_data(sender="bounce@example.org"),
    "sender-email-list": _with_data(sender={"email": ["a@example.org"]}),
    "recipients-list": _with_data(recipients=[{"email": "a@example.com"}]),
    "rcpt-to-object": _with_data(recipients={"rcptTo": {"email": "a@example.com"}}),
    "rcpt-to-strings": _with_data(recipients={"rcptTo": ["a@example.com"]}),
    "created-at-number": _with_data(created_at=1677896535),
}


@pytest.mark.parametrize(
    "body", MALFORMED_BODIES.values(), ids=list(MALFORMED_BODIES.keys())
)
def test_malformed_body(webhook_client, inbound_events, security_log, body):
    response = post_signed(webhook_client, body)
    assert response.status_code == 400
    assert response.content == MALFORMED
    assert inbound_events.calls == []
    assert security_messages(security_log) == []


def test_multipart_form_post(webhook_client, inbound_events):
    # wrong content type: a SendGrid-style form post (signed, so it is parsed)
    boundary = "xYzZY"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="email"\r\n\r\n'
        "From: a@example.org\r\n\r\nHello\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = post_signed(
        webhook_client, body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400
    assert response.content == MALFORMED
    assert inbound_events.calls == []


def test_head_without_validation(webhook_client, inbound_events):
    response = webhook_client.head(URL)
    assert response.status_code == 200
    assert inbound_events.calls == []
