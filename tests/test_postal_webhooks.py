"""Postal tracking webhook, through Django's test client, with real RSA signatures."""

import importlib
import json
import sys
import textwrap
import warnings
from base64 import b64encode
from datetime import datetime, timezone
from unittest import mock

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from django.urls import include, path, reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import AnymailTrackingEvent, tracking
from anymail.webhooks.postal import PostalTrackingWebhookView

from .conftest import basic_auth_header, security_messages

URL = "/anymail/postal/tracking/"
SIGNATURE_MISSING = "X-Postal-Signature header missing from webhook"
INCORRECT_SIGNATURE = "Postal webhook called with incorrect signature"
BASIC_AUTH_FAILURE = "Missing or invalid basic auth in Anymail Postal webhook"
MISSING_KEY = (
    "You must set ANYMAIL = {'POSTAL_WEBHOOK_KEY': ...} or"
    " ANYMAIL_POSTAL_WEBHOOK_KEY or POSTAL_WEBHOOK_KEY in your Django settings"
)


def public_key_setting(private_key):
    """The public key as `postal default-dkim-record` shows it after p=."""
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return b64encode(der).decode("ascii")


# 1024 bits keeps key generation fast; the check is the same for any size
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
WEBHOOK_KEY = public_key_setting(PRIVATE_KEY)
OTHER_PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
OTHER_WEBHOOK_KEY = public_key_setting(OTHER_PRIVATE_KEY)

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path("kwarg-key/", PostalTrackingWebhookView.as_view(webhook_key=WEBHOOK_KEY)),
]

pytestmark = pytest.mark.urls(__name__)


def sign(body, private_key=PRIVATE_KEY):
    """The X-Postal-Signature value Postal would send for body (bytes)."""
    signature = private_key.sign(body, padding.PKCS1v15(), hashes.SHA1())
    return b64encode(signature).decode("ascii")


def post_signed(client, data, url=URL, signature=None, **extra):
    """POST data (a JSON-able object, or raw str/bytes) signed with PRIVATE_KEY."""
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if signature is None:
        signature = sign(body)
    extra.setdefault("content_type", "application/json")
    return client.post(url, body, HTTP_X_POSTAL_SIGNATURE=signature, **extra)


@pytest.fixture(autouse=True)
def postal_settings(settings):
    settings.ANYMAIL = {"POSTAL_WEBHOOK_KEY": WEBHOOK_KEY}
    return settings


def outgoing_message(**overrides):
    message = {
        "id": 1563,
        "token": "xLcafDRCVUFe",
        "direction": "outgoing",
        "message_id": "1e4c7a3f-6c0d-4a4f-a5c6-6d2c3d0f1b3e@rp.postal.example.com",
        "to": "bob@example.com",
        "from": "app@example.com",
        "subject": "Welcome to Example",
        "timestamp": 1606753100.123,
        "spam_status": "NotChecked",
        "tag": "welcome-email",
    }
    message.update(overrides)
    return message


def postal_event(event, payload, timestamp=1606753101.35, uuid="evt-58e8"):
    return {"event": event, "timestamp": timestamp, "uuid": uuid, "payload": payload}


# One sample per row of the event-type mapping: realistic Postal payloads
MESSAGE_SENT = postal_event(
    "MessageSent",
    {
        "message": outgoing_message(),
        "status": "Sent",
        "details": "Message for bob@example.com accepted by 203.0.113.5:25 "
        "(mx.example.com)",
        "output": "250 2.0.0 OK\n",
        "sent_with_ssl": True,
        "timestamp": 1606753101.3,
        "time": 0.52,
    },
)
MESSAGE_DELAYED = postal_event(
    "MessageDelayed",
    {
        "message": outgoing_message(id=1564, to="Carol <carol@example.net>"),
        "status": "SoftFail",
        "details": "Message for carol@example.net deferred. Will retry in 2 mins.",
        "output": "451 4.7.1 Greylisted, please try again later\n",
        "sent_with_ssl": False,
        "timestamp": 1606753101.6,
        "time": 1.2,
    },
    uuid="evt-delayed",
)
MESSAGE_DELIVERY_FAILED = postal_event(
    "MessageDeliveryFailed",
    {
        "message": outgoing_message(id=1565, to="nobody@example.org", tag=None),
        "status": "HardFail",
        "details": "Permanent SMTP delivery error when sending to nobody@example.org",
        "output": "550 5.1.1 The email account that you tried to reach does not"
        " exist\n",
        "sent_with_ssl": True,
        "timestamp": 1606753102.0,
        "time": 0.3,
    },
    timestamp=1606753102.7,
    uuid="evt-failed",
)
MESSAGE_HELD = postal_event(
    "MessageHeld",
    {
        "message": outgoing_message(id=1566, to="held@example.com"),
        "status": "Held",
        "details": "Recipient (held@example.com) is on the suppression list",
        "output": None,
        "sent_with_ssl": False,
        "timestamp": 1606753103.9,
        "time": None,
    },
    uuid="evt-held",
)
MESSAGE_OTHER_STATUS = postal_event(
    "MessageSent",
    {
        "message": outgoing_message(id=1567),
        "status": "Bounced",
        "details": "Some future status",
        "output": "",
    },
    uuid="evt-other",
)
MESSAGE_BOUNCED = postal_event(
    "MessageBounced",
    {
        "original_message": {
            "id": 233843,
            "token": "McC2tuqg7mhx",
            "direction": "outgoing",
            "message_id": "7b82aac4-5d63-41b8-8e35-9faa31a892dc@rp.postal.example.com",
            "to": "x@example.com",
            "from": "app@example.com",
            "subject": "Your order",
            "timestamp": 1606753090.0,
            "spam_status": "NotChecked",
            "tag": None,
        },
        "bounce": {
            "id": 233844,
            "token": "nII5p0Cp8onV",
            "direction": "incoming",
            "message_id": "E1kjnmN-0002Kc-8L@mx.example.com",
            "to": "bounces@rp.postal.example.com",
            "from": "MAILER-DAEMON@mx.example.com",
            "subject": "Mail delivery failed",
            "timestamp": 1606753105.0,
            "spam_status": "NotSpam",
            "tag": None,
        },
        "details": "Bounce received from mx.example.com",
        "output": "550 5.1.1 <x@example.com>: Recipient address rejected",
    },
    uuid="evt-bounce",
)
MESSAGE_LINK_CLICKED = postal_event(
    "MessageLinkClicked",
    {
        "url": "https://example.com/welcome?ref=email",
        "token": "VJzsFA0S",
        "ip_address": "192.0.2.15",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/120.0",
        "message": outgoing_message(id=1568, to="Dan <dan@example.com>"),
    },
    uuid="evt-click",
)
MESSAGE_LOADED = postal_event(
    "MessageLoaded",
    {
        "ip_address": "192.0.2.16",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
        "message": outgoing_message(id=1569),
    },
    uuid="evt-open",
)
DOMAIN_DNS_ERROR = postal_event(
    "DomainDNSError",
    {
        "domain": "example.com",
        "uuid": "820b47a4-4dfd-42e4-ae6a-1e5bed5a33fd",
        "dns_checked_at": 1606753000.0,
        "spf_status": "OK",
        "spf_error": None,
        "dkim_status": "Invalid",
        "dkim_error": "The DKIM record at example.com does not match",
        "mx_status": "OK",
        "mx_error": None,
        "return_path_status": "OK",
        "return_path_error": None,
        "server": {
            "uuid": "54529725-8807-4069-ab29-a3746c1bbd98",
            "name": "Example Mail Server",
            "permalink": "example-mail-server",
            "organization": "example",
        },
    },
    timestamp=1606753000.99,
    uuid="evt-dns",
)

SENT_TIME = datetime(2020, 11, 30, 16, 18, 21, tzinfo=timezone.utc)


def expected(
    event_type,
    esp_event,
    message_id,
    recipient,
    tags,
    reject_reason=None,
    description=None,
    mta_response=None,
    user_agent=None,
    click_url=None,
    timestamp=SENT_TIME,
):
    return dict(
        event_type=event_type,
        timestamp=timestamp,
        event_id=esp_event["uuid"],
        message_id=message_id,
        recipient=recipient,
        metadata=None,
        tags=tags,
        reject_reason=reject_reason,
        description=description,
        mta_response=mta_response,
        user_agent=user_agent,
        click_url=click_url,
        esp_event=esp_event,
    )


MAPPING_CASES = {
    "status Sent -> delivered": (
        MESSAGE_SENT,
        expected(
            "delivered",
            MESSAGE_SENT,
            message_id=1563,
            recipient="bob@example.com",
            tags=["welcome-email"],
            description="Message for bob@example.com accepted by 203.0.113.5:25 "
            "(mx.example.com)",
            mta_response="250 2.0.0 OK\n",
        ),
    ),
    "status SoftFail -> deferred": (
        MESSAGE_DELAYED,
        expected(
            "deferred",
            MESSAGE_DELAYED,
            message_id=1564,
            recipient="carol@example.net",
            tags=["welcome-email"],
            description="Message for carol@example.net deferred. Will retry in 2 mins.",
            mta_response="451 4.7.1 Greylisted, please try again later\n",
        ),
    ),
    "status HardFail -> failed": (
        MESSAGE_DELIVERY_FAILED,
        expected(
            "failed",
            MESSAGE_DELIVERY_FAILED,
            message_id=1565,
            recipient="nobody@example.org",
            tags=[None],
            description="Permanent SMTP delivery error when sending to "
            "nobody@example.org",
            mta_response="550 5.1.1 The email account that you tried to reach does"
            " not exist\n",
            timestamp=datetime(2020, 11, 30, 16, 18, 22, tzinfo=timezone.utc),
        ),
    ),
    "status Held -> queued": (
        MESSAGE_HELD,
        expected(
            "queued",
            MESSAGE_HELD,
            message_id=1566,
            recipient="held@example.com",
            tags=["welcome-email"],
            description="Recipient (held@example.com) is on the suppression list",
        ),
    ),
    "other status -> unknown": (
        MESSAGE_OTHER_STATUS,
        expected(
            "unknown",
            MESSAGE_OTHER_STATUS,
            message_id=1567,
            recipient="bob@example.com",
            tags=["welcome-email"],
            description="Some future status",
            mta_response="",
        ),
    ),
    "bounce -> bounced": (
        MESSAGE_BOUNCED,
        expected(
            "bounced",
            MESSAGE_BOUNCED,
            message_id=233843,
            recipient="x@example.com",
            tags=[None],
            reject_reason="bounced",
            description="Bounce received from mx.example.com",
            mta_response="550 5.1.1 <x@example.com>: Recipient address rejected",
        ),
    ),
    "url -> clicked": (
        MESSAGE_LINK_CLICKED,
        expected(
            "clicked",
            MESSAGE_LINK_CLICKED,
            message_id=1568,
            recipient="dan@example.com",
            tags=["welcome-email"],
            user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/120.0",
            click_url="https://example.com/welcome?ref=email",
        ),
    ),
    "open (MessageLoaded) -> unknown": (
        MESSAGE_LOADED,
        expected(
            "unknown",
            MESSAGE_LOADED,
            message_id=1569,
            recipient="bob@example.com",
            tags=["welcome-email"],
            user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
        ),
    ),
    "other events (DomainDNSError) -> unknown": (
        DOMAIN_DNS_ERROR,
        expected(
            "unknown",
            DOMAIN_DNS_ERROR,
            message_id=None,
            recipient=None,
            tags=[None],
            timestamp=datetime(2020, 11, 30, 16, 16, 40, tzinfo=timezone.utc),
        ),
    ),
}


#: marks a field to leave out of a test payload
DROP = object()


def event_fields(event):
    return {name: getattr(event, name) for name in expected("x", {"uuid": 0}, 0, 0, 0)}


class TestEventMapping:
    @pytest.mark.parametrize(
        "esp_event, fields", MAPPING_CASES.values(), ids=MAPPING_CASES.keys()
    )
    def test_mapping(self, webhook_client, tracking_events, esp_event, fields):
        response = post_signed(webhook_client, esp_event)
        assert response.status_code == 200
        assert response.content == b""
        event = tracking_events.event
        assert isinstance(event, AnymailTrackingEvent)
        assert event_fields(event) == fields
        assert event.esp_event == esp_event  # the whole parsed JSON object
        assert event.timestamp.utcoffset().total_seconds() == 0

    def test_spec_sample(self, webhook_client, tracking_events):
        body = (
            '{"event":"MessageSent","timestamp":1606753101.35,"uuid":"evt-58e8",'
            '"payload":{"status":"Sent","details":"Message for bob@example.com'
            ' accepted","output":"250 2.0.0 OK\\n","message":{"id":1563,'
            '"direction":"outgoing","to":"bob@example.com","tag":"welcome-email"}}}'
        )
        assert post_signed(webhook_client, body).status_code == 200
        event = tracking_events.event
        assert event.event_type == "delivered"
        assert event.event_id == "evt-58e8"
        assert event.message_id == 1563
        assert isinstance(event.message_id, int)
        assert event.recipient == "bob@example.com"
        assert event.timestamp == SENT_TIME
        assert event.tags == ["welcome-email"]
        assert event.metadata is None
        assert event.description == "Message for bob@example.com accepted"
        assert event.mta_response == "250 2.0.0 OK\n"
        assert event.reject_reason is None

    def test_event_name_is_not_used(self, webhook_client, tracking_events):
        # the payload's keys decide the type, whatever Postal's event name says
        esp_event = dict(MESSAGE_LINK_CLICKED, event="MessageSent")
        post_signed(webhook_client, esp_event)
        assert tracking_events.event.event_type == "clicked"

    @pytest.mark.parametrize(
        "payload_extra, event_type",
        [
            # status wins over bounce and url; bounce wins over url
            ({"status": "Sent", "bounce": {}, "url": "https://x"}, "delivered"),
            ({"status": "Other", "bounce": {}, "url": "https://x"}, "unknown"),
            ({"status": None, "bounce": {}}, "unknown"),
            ({"bounce": {"id": 1}, "url": "https://x"}, "bounced"),
            ({"url": None}, "clicked"),
        ],
    )
    def test_condition_order(
        self, webhook_client, tracking_events, payload_extra, event_type
    ):
        payload = {"message": outgoing_message(), **payload_extra}
        post_signed(webhook_client, postal_event("Whatever", payload))
        event = tracking_events.event
        assert event.event_type == event_type
        assert event.reject_reason == ("bounced" if event_type == "bounced" else None)


class TestRejectReason:
    @pytest.mark.parametrize(
        "esp_event, fields", MAPPING_CASES.values(), ids=MAPPING_CASES.keys()
    )
    def test_only_bounced_has_a_reject_reason(
        self, webhook_client, tracking_events, esp_event, fields
    ):
        post_signed(webhook_client, esp_event)
        event = tracking_events.event
        if event.event_type == "bounced":
            assert event.reject_reason == "bounced"
        else:
            assert event.reject_reason is None


class TestEventFields:
    def post_with(self, client, message=None, **top_level):
        payload = {"status": "Sent", "message": message or outgoing_message()}
        esp_event = postal_event("MessageSent", payload)
        esp_event.update(top_level)
        esp_event = {k: v for k, v in esp_event.items() if v is not DROP}
        return post_signed(client, esp_event)

    @pytest.mark.parametrize(
        "timestamp, expected_time",
        [
            (1606753101.99, SENT_TIME),  # truncated, not rounded
            (1606753101, SENT_TIME),
            (None, None),
            (0, None),
            (DROP, None),
        ],
    )
    def test_timestamp(self, webhook_client, tracking_events, timestamp, expected_time):
        self.post_with(webhook_client, timestamp=timestamp)
        assert tracking_events.event.timestamp == expected_time

    def test_timestamp_is_aware_utc(self, webhook_client, tracking_events):
        self.post_with(webhook_client)
        timestamp = tracking_events.event.timestamp
        assert timestamp.tzinfo is not None
        assert timestamp.utcoffset().total_seconds() == 0

    def test_missing_uuid(self, webhook_client, tracking_events):
        self.post_with(webhook_client, uuid=DROP)
        assert tracking_events.event.event_id is None

    @pytest.mark.parametrize(
        "to, recipient",
        [
            ("bob@example.com", "bob@example.com"),
            ("Bob Example <bob@example.com>", "bob@example.com"),
            ('"Example, Bob" <bob@example.com>', "bob@example.com"),
            (DROP, None),
            (None, None),
            ("", None),
            ("not an address", None),
            ("<>", None),
            ("a@example.com, b@example.com", None),
            (["bob@example.com"], None),
        ],
    )
    def test_recipient(self, webhook_client, tracking_events, to, recipient):
        message = outgoing_message(to=to)
        if to is DROP:
            del message["to"]
        self.post_with(webhook_client, message=message)
        assert tracking_events.event.recipient == recipient

    @pytest.mark.parametrize(
        "tag, tags",
        [("welcome", ["welcome"]), (None, [None]), ("", [""])],
    )
    def test_tags_always_one_item(self, webhook_client, tracking_events, tag, tags):
        self.post_with(webhook_client, message=outgoing_message(tag=tag))
        assert tracking_events.event.tags == tags

    def test_absent_tag(self, webhook_client, tracking_events):
        message = outgoing_message()
        del message["tag"]
        self.post_with(webhook_client, message=message)
        assert tracking_events.event.tags == [None]

    def test_metadata_is_none(self, webhook_client, tracking_events):
        self.post_with(webhook_client)
        assert tracking_events.event.metadata is None

    def test_message_id_kept_as_given(self, webhook_client, tracking_events):
        self.post_with(webhook_client, message=outgoing_message(id=987654321))
        assert tracking_events.event.message_id == 987654321

    def test_empty_message_falls_back_to_original_message(
        self, webhook_client, tracking_events
    ):
        payload = {
            "bounce": {"id": 2},
            "message": None,
            "original_message": outgoing_message(id=42, to="o@example.com"),
        }
        post_signed(webhook_client, postal_event("MessageBounced", payload))
        event = tracking_events.event
        assert event.message_id == 42
        assert event.recipient == "o@example.com"

    def test_message_preferred_over_original_message(
        self, webhook_client, tracking_events
    ):
        payload = {
            "status": "Sent",
            "message": outgoing_message(id=1),
            "original_message": outgoing_message(id=2),
        }
        post_signed(webhook_client, postal_event("MessageSent", payload))
        assert tracking_events.event.message_id == 1

    @pytest.mark.parametrize(
        "esp_event", [MESSAGE_SENT, MESSAGE_BOUNCED], ids=["message", "bounce"]
    )
    def test_incoming_message_is_ignored(
        self, webhook_client, tracking_events, esp_event
    ):
        # failure notices about forwarding *inbound* mail: 200, nothing sent
        esp_event = json.loads(json.dumps(esp_event))
        payload = esp_event["payload"]
        source = payload.get("message") or payload["original_message"]
        source["direction"] = "incoming"
        response = post_signed(webhook_client, esp_event)
        assert response.status_code == 200
        assert tracking_events.calls == []


class TestDispatch:
    def test_signal_kwargs(self, webhook_client, tracking_events):
        post_signed(webhook_client, MESSAGE_SENT)
        call = tracking_events.calls[0]
        assert call["sender"] is PostalTrackingWebhookView
        assert call["esp_name"] == "Postal"
        assert call["signal"] is tracking
        assert set(call) == {"signal", "sender", "event", "esp_name"}

    def test_one_event_per_post_in_order(self, webhook_client, tracking_events):
        # Postal posts each event separately: each post sends exactly one signal
        for esp_event in (MESSAGE_HELD, MESSAGE_SENT, MESSAGE_LINK_CLICKED):
            assert post_signed(webhook_client, esp_event).status_code == 200
        assert [e.event_type for e in tracking_events.events] == [
            "queued",
            "delivered",
            "clicked",
        ]

    def test_json_array_is_not_a_batch(self, webhook_client, tracking_events):
        response = post_signed(webhook_client, [MESSAGE_SENT, MESSAGE_HELD])
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_url_name(self):
        assert reverse("anymail:postal_tracking_webhook") == URL

    def test_receiver_exception_propagates(self, webhook_client):
        def receiver(**kwargs):
            raise RuntimeError("receiver failed")

        tracking.connect(receiver, weak=False)
        try:
            with pytest.raises(RuntimeError, match="receiver failed"):
                post_signed(webhook_client, MESSAGE_SENT)
        finally:
            tracking.disconnect(receiver)


class TestMisdirected:
    def test_inbound_payload_on_tracking_url(self, webhook_client, tracking_events):
        inbound_payload = {
            "id": 233980,
            "rcpt_to": "in@inbound.example.com",
            "mail_from": "sender@example.org",
            "message": "U3ViamVjdDogSGkKCkhlbGxvCg==",
            "base64": True,
        }
        with pytest.raises(
            AnymailConfigurationError,
            match=r"You seem to have set Postal's \*inbound\* webhook to Anymail's"
            r" Postal \*tracking\* webhook URL\.",
        ):
            post_signed(webhook_client, inbound_payload)
        assert tracking_events.calls == []


class TestSignature:
    def test_valid_signature(self, webhook_client, tracking_events, security_log):
        assert post_signed(webhook_client, MESSAGE_SENT).status_code == 200
        assert len(tracking_events.calls) == 1
        assert security_messages(security_log) == []

    @pytest.mark.parametrize(
        "signature, message",
        [
            pytest.param(None, SIGNATURE_MISSING, id="missing"),
            pytest.param("", INCORRECT_SIGNATURE, id="empty"),
            pytest.param("garbage", INCORRECT_SIGNATURE, id="not-base64"),
            pytest.param("not base64 at all!", INCORRECT_SIGNATURE, id="junk"),
            pytest.param(b64encode(b"x" * 128).decode(), INCORRECT_SIGNATURE, id="bad"),
            pytest.param(
                sign(json.dumps(MESSAGE_SENT).encode(), OTHER_PRIVATE_KEY),
                INCORRECT_SIGNATURE,
                id="other-key",
            ),
            pytest.param(
                sign(json.dumps(MESSAGE_HELD).encode()),
                INCORRECT_SIGNATURE,
                id="other-body",
            ),
        ],
    )
    def test_rejected(
        self, webhook_client, tracking_events, security_log, signature, message
    ):
        body = json.dumps(MESSAGE_SENT)
        extra = {} if signature is None else {"HTTP_X_POSTAL_SIGNATURE": signature}
        response = webhook_client.post(
            URL, body, content_type="application/json", **extra
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [message]

    def test_tampered_body(self, webhook_client, tracking_events, security_log):
        body = json.dumps(MESSAGE_SENT).encode()
        signature = sign(body)
        tampered = body.replace(b"bob@example.com", b"eve@example.com")
        response = post_signed(webhook_client, tampered, signature=signature)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_signature_covers_raw_bytes(self, webhook_client, tracking_events):
        # same JSON, different bytes (whitespace): the signature is over the bytes
        compact = json.dumps(MESSAGE_SENT, separators=(",", ":")).encode()
        spaced = json.dumps(MESSAGE_SENT, indent=2).encode()
        response = post_signed(webhook_client, spaced, signature=sign(compact))
        assert response.status_code == 400
        assert post_signed(webhook_client, spaced).status_code == 200
        assert len(tracking_events.calls) == 1

    def test_sha256_signature_not_accepted(
        self, webhook_client, tracking_events, security_log
    ):
        body = json.dumps(MESSAGE_SENT).encode()
        sha256 = PRIVATE_KEY.sign(body, padding.PKCS1v15(), hashes.SHA256())
        response = post_signed(
            webhook_client, body, signature=b64encode(sha256).decode()
        )
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_checked_before_parsing(
        self, webhook_client, tracking_events, security_log
    ):
        # a malformed body with a bad signature is a validation failure
        response = post_signed(webhook_client, b"not json", signature="garbage")
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]


class TestWebhookKeySetting:
    def test_missing_key(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {}
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_signed(webhook_client, MESSAGE_SENT)
        assert str(excinfo.value) == MISSING_KEY
        assert tracking_events.calls == []

    def test_missing_key_on_head(self, webhook_client, settings):
        settings.ANYMAIL = {}
        with pytest.raises(AnymailConfigurationError, match="POSTAL_WEBHOOK_KEY"):
            webhook_client.head(URL)

    def test_anymail_prefixed_setting(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {}
        settings.ANYMAIL_POSTAL_WEBHOOK_KEY = WEBHOOK_KEY
        assert post_signed(webhook_client, MESSAGE_SENT).status_code == 200

    def test_bare_setting(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {}
        settings.POSTAL_WEBHOOK_KEY = WEBHOOK_KEY
        assert post_signed(webhook_client, MESSAGE_SENT).status_code == 200

    def test_anymail_dict_wins(self, webhook_client, tracking_events, settings):
        settings.POSTAL_WEBHOOK_KEY = OTHER_WEBHOOK_KEY
        assert post_signed(webhook_client, MESSAGE_SENT).status_code == 200

    def test_as_view_kwarg(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {}
        response = post_signed(webhook_client, MESSAGE_SENT, url="/kwarg-key/")
        assert response.status_code == 200
        assert tracking_events.calls[0]["sender"] is PostalTrackingWebhookView

    def test_as_view_kwarg_overrides_settings(
        self, webhook_client, tracking_events, settings
    ):
        settings.ANYMAIL = {"POSTAL_WEBHOOK_KEY": OTHER_WEBHOOK_KEY}
        assert post_signed(webhook_client, MESSAGE_SENT).status_code == 400
        response = post_signed(webhook_client, MESSAGE_SENT, url="/kwarg-key/")
        assert response.status_code == 200

    def test_view_instance_outside_request(self):
        view = PostalTrackingWebhookView.as_view(webhook_key="K")
        instance = view.view_class(**view.view_initkwargs)
        assert instance.webhook_key == "K"

    def test_wrapped_key(self, webhook_client, tracking_events, settings):
        wrapped = "\n".join(textwrap.wrap(WEBHOOK_KEY, 64))
        settings.ANYMAIL = {"POSTAL_WEBHOOK_KEY": wrapped}
        assert post_signed(webhook_client, MESSAGE_SENT).status_code == 200

    def test_full_pem_tolerated(self, webhook_client, tracking_events, settings):
        pem = PRIVATE_KEY.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        settings.ANYMAIL = {"POSTAL_WEBHOOK_KEY": pem.decode()}
        assert post_signed(webhook_client, MESSAGE_SENT).status_code == 200

    @pytest.mark.parametrize("key", ["not-a-key", "AAAA", WEBHOOK_KEY[:-20]])
    def test_malformed_key_is_server_error(
        self, webhook_client, tracking_events, settings, key
    ):
        settings.ANYMAIL = {"POSTAL_WEBHOOK_KEY": key}
        with pytest.raises(
            AnymailConfigurationError, match="Invalid POSTAL_WEBHOOK_KEY"
        ):
            post_signed(webhook_client, MESSAGE_SENT)
        assert tracking_events.calls == []

    def test_non_rsa_key_is_server_error(self, webhook_client, settings):
        ec_key = public_key_setting(ec.generate_private_key(ec.SECP256R1()))
        settings.ANYMAIL = {"POSTAL_WEBHOOK_KEY": ec_key}
        with pytest.raises(
            AnymailConfigurationError, match="must be an RSA public key"
        ):
            post_signed(webhook_client, MESSAGE_SENT)


class TestBasicAuth:
    @pytest.fixture(autouse=True)
    def webhook_secret(self, settings):
        settings.ANYMAIL = {
            "POSTAL_WEBHOOK_KEY": WEBHOOK_KEY,
            "WEBHOOK_SECRET": "postal-user:postal-pass",
        }

    def test_right_credentials(self, webhook_client, tracking_events):
        response = post_signed(
            webhook_client,
            MESSAGE_SENT,
            HTTP_AUTHORIZATION=basic_auth_header("postal-user:postal-pass"),
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @pytest.mark.parametrize(
        "authorization",
        [None, basic_auth_header("postal-user:wrong"), "Bearer postal-user"],
    )
    def test_wrong_or_missing_credentials(
        self, webhook_client, tracking_events, security_log, authorization
    ):
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        response = post_signed(webhook_client, MESSAGE_SENT, **extra)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [BASIC_AUTH_FAILURE]

    def test_signature_still_required(
        self, webhook_client, tracking_events, security_log
    ):
        response = post_signed(
            webhook_client,
            MESSAGE_SENT,
            signature="garbage",
            HTTP_AUTHORIZATION=basic_auth_header("postal-user:postal-pass"),
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]


class TestNoInsecureWarning:
    @pytest.mark.parametrize("method", ["post", "head"])
    def test_never_warns(self, webhook_client, tracking_events, settings, method):
        settings.ANYMAIL = {"POSTAL_WEBHOOK_KEY": WEBHOOK_KEY}  # no WEBHOOK_SECRET
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            if method == "post":
                response = post_signed(webhook_client, MESSAGE_SENT)
            else:
                response = webhook_client.head(URL)
        assert response.status_code == 200

    def test_class_attr(self):
        assert PostalTrackingWebhookView.warn_if_no_basic_auth is False


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"", id="empty"),
            pytest.param(b"not json", id="not-json"),
            pytest.param(b"\xff\xfe\x00", id="binary"),
            pytest.param(b"[]", id="array"),
            pytest.param(b'"MessageSent"', id="string"),
            pytest.param(b"null", id="null"),
            pytest.param(b'{"event": "MessageSent", "uuid": "x"}', id="no-payload"),
            pytest.param(b'{"payload": null}', id="payload-null"),
            pytest.param(b'{"payload": ["Sent"]}', id="payload-list"),
            pytest.param(b'{"payload": {"message": "1563"}}', id="message-str"),
            pytest.param(
                b'{"payload": {"status": "Sent", "message": [1]}}', id="message-list"
            ),
            pytest.param(
                b'{"timestamp": "yesterday", "payload": {"status": "Sent"}}',
                id="timestamp-str",
            ),
            pytest.param(
                b'{"timestamp": Infinity, "payload": {"status": "Sent"}}',
                id="timestamp-inf",
            ),
            pytest.param(
                b'{"timestamp": NaN, "payload": {"status": "Sent"}}',
                id="timestamp-nan",
            ),
            pytest.param(
                b'{"timestamp": 1e30, "payload": {"status": "Sent"}}',
                id="timestamp-huge",
            ),
            pytest.param(
                b'{"timestamp": true, "payload": {"status": "Sent"}}',
                id="timestamp-bool",
            ),
        ],
    )
    def test_malformed_is_400(self, webhook_client, tracking_events, body):
        response = post_signed(webhook_client, body)
        assert response.status_code == 400
        assert b"Malformed Postal webhook payload" in response.content
        assert tracking_events.calls == []

    def test_form_post_is_400(self, webhook_client, tracking_events):
        body = b"event=MessageSent&uuid=evt-1&payload=x"
        response = post_signed(
            webhook_client, body, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_content_type_not_checked(self, webhook_client, tracking_events):
        # Postal sends application/json; the signed body is what matters
        response = post_signed(webhook_client, MESSAGE_SENT, content_type="text/plain")
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1


class TestMethods:
    def test_head_without_validation(self, webhook_client, tracking_events):
        response = webhook_client.head(URL)  # no signature
        assert response.status_code == 200
        assert tracking_events.calls == []

    def test_get_not_allowed(self, webhook_client):
        response = webhook_client.get(URL)
        assert response.status_code == 405

    def test_csrf_exempt(self, webhook_client, tracking_events):
        # webhook_client enforces CSRF checks, and there's no token in the post
        assert post_signed(webhook_client, MESSAGE_SENT).status_code == 200


class TestWithoutCryptography:
    def test_urls_import_without_cryptography(self):
        import anymail
        import anymail.webhooks

        blocked = {
            name: None
            for name in list(sys.modules)
            if name == "cryptography" or name.startswith("cryptography.")
        }
        # fresh imports replace these package attributes: put them back after
        with (
            mock.patch.object(anymail, "urls", anymail.urls),
            mock.patch.object(anymail.webhooks, "postal", anymail.webhooks.postal),
            mock.patch.dict(sys.modules, blocked),
        ):
            for name in ("anymail.urls", "anymail.webhooks.postal"):
                del sys.modules[name]
            with pytest.raises(ImportError):
                import cryptography  # noqa: F401 (really blocked)
            module = importlib.import_module("anymail.webhooks.postal")
            urls = importlib.import_module("anymail.urls")
            assert module.PostalTrackingWebhookView.esp_name == "Postal"
            assert urls.app_name == "anymail"

    def test_validation_needs_cryptography(self, webhook_client, tracking_events):
        blocked = {
            name: None
            for name in list(sys.modules)
            if name == "cryptography" or name.startswith("cryptography.")
        }
        with mock.patch.dict(sys.modules, blocked):
            with pytest.raises(AnymailImproperlyInstalled) as excinfo:
                post_signed(webhook_client, MESSAGE_SENT)
            # HEAD doesn't validate, so it still works
            assert webhook_client.head(URL).status_code == 200
        assert isinstance(excinfo.value, AnymailConfigurationError)
        assert isinstance(excinfo.value, ImportError)
        assert str(excinfo.value) == (
            "The cryptography package isn't installed but is needed for this ESP.\n"
            '(Be sure to use `pip install "django-anymail[postal]"`.)'
        )
        assert tracking_events.calls == []
