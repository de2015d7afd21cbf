"""Mailgun tracking webhook: current (JSON) and legacy (form) posts."""

import hashlib
import hmac
import json
import logging
import warnings
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.test import RequestFactory

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import EventType, RejectReason, tracking
from anymail.webhooks.mailgun import MailgunTrackingWebhookView

from .conftest import basic_auth_header, security_messages

URL = "/anymail/mailgun/tracking/"
KEY = "test-signing-key"
TIMESTAMP = "1700000000"
TOKEN = "abc123token"
MISSING_KEY_MESSAGE = (
    "You must set ANYMAIL = {'MAILGUN_WEBHOOK_SIGNING_KEY': ...}"
    " or ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY in your Django settings"
)
INCORRECT_SIGNATURE = "Mailgun webhook called with incorrect signature"
INVALID_FORMAT = "Mailgun webhook called with invalid payload format"
MISSING_FIELDS = "Mailgun webhook called without required security fields"
# hex HMAC-SHA256 with key KEY of TIMESTAMP + TOKEN (the spec's check value)
SPEC_CHECK_SIGNATURE = (
    "ebe1904b263edf573570cdd64277029eb9f6703619cceb45ec4075febea4cfc9"
)

FIELDS = (
    "event_type",
    "timestamp",
    "event_id",
    "message_id",
    "recipient",
    "metadata",
    "tags",
    "reject_reason",
    "description",
    "mta_response",
    "user_agent",
    "click_url",
)


def mailgun_signature(timestamp=TIMESTAMP, token=TOKEN, key=KEY):
    """What Mailgun puts in `signature`: hex HMAC-SHA256 of timestamp+token."""
    return hmac.new(
        key.encode("ascii"), f"{timestamp}{token}".encode("ascii"), hashlib.sha256
    ).hexdigest()


def signature_block(timestamp=TIMESTAMP, token=TOKEN, key=KEY):
    return {
        "timestamp": timestamp,
        "token": token,
        "signature": mailgun_signature(timestamp, token, key),
    }


def json_payload(event_data, **signing):
    return {"signature": signature_block(**signing), "event-data": event_data}


def post_json(client, payload, url=URL, **extra):
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    # (CONTENT_TYPE too, as the test client omits content_type for an empty body)
    extra.setdefault("CONTENT_TYPE", "application/json")
    return client.post(url, body, content_type="application/json", **extra)


def legacy_body(fields, timestamp=TIMESTAMP, token=TOKEN, key=KEY):
    """A legacy urlencoded post: `fields` (pairs, in order), then Mailgun's
    timestamp, token and signature (which Mailgun posts last)."""
    signing = [
        ("timestamp", timestamp),
        ("token", token),
        ("signature", mailgun_signature(timestamp, token, key)),
    ]
    return urlencode(list(fields) + signing)


def post_form(client, body, url=URL, **extra):
    content_type = "application/x-www-form-urlencoded"
    extra.setdefault("CONTENT_TYPE", content_type)
    return client.post(url, body, content_type=content_type, **extra)


def event_fields(event):
    return {field: getattr(event, field) for field in FIELDS}


@pytest.fixture(autouse=True)
def signing_key(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": KEY}
    return settings


# ---------------------------------------------------------------------------
# Current (JSON) webhooks

SENT_HEADERS = {
    "to": "Bob <bob@example.com>",
    "message-id": "20231114221320.1.A1B2C3@mg.example.com",
    "from": "Shop <shop@example.com>",
    "subject": "Your order",
}


def event_data(event, **fields):
    """Realistic Mailgun event-data (as in Mailgun's webhook samples)."""
    data = {
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1700000000.25,
        "log-level": "info",
        "event": event,
        "envelope": {
            "transport": "smtp",
            "sender": "bounce@mg.example.com",
            "sending-ip": "198.51.100.5",
            "targets": "bob@example.com",
        },
        "flags": {"is-routed": False, "is-authenticated": True, "is-test-mode": False},
        "message": {
            "headers": dict(SENT_HEADERS),
            "attachments": [],
            "size": 2150,
        },
        "recipient": "bob@example.com",
        "recipient-domain": "example.com",
        "campaigns": [],
        "tags": ["welcome", "order"],
        "user-variables": {"order": "42", "customer": {"tier": "gold"}},
    }
    data.update(fields)
    return data


CLIENT_INFO = {
    "client-type": "browser",
    "client-os": "Linux",
    "device-type": "desktop",
    "client-name": "Firefox",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0",
}
GEOLOCATION = {"country": "US", "region": "CA", "city": "San Francisco"}

#: the normalized fields shared by every JSON event built with event_data()
COMMON = {
    "timestamp": datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=timezone.utc),
    "event_id": TOKEN,
    "message_id": "<20231114221320.1.A1B2C3@mg.example.com>",
    "recipient": "bob@example.com",
    "metadata": {"order": "42", "customer": {"tier": "gold"}},
    "tags": ["welcome", "order"],
    "reject_reason": None,
    "description": None,
    "mta_response": None,
    "user_agent": None,
    "click_url": None,
}

REJECTED_DATA = event_data(
    "rejected",
    reject={
        "reason": "Sandbox subdomains are for test purposes only.",
        "description": "",
    },
    message={
        "headers": {
            "to": "Carol <carol@example.net>",
            "message-id": "20231114221320.2.D4E5F6@mg.example.com",
            "from": "Shop <shop@example.com>",
            "subject": "Welcome",
        },
        "attachments": [],
        "size": 180,
    },
    tags=[],
    **{"user-variables": {}},
)
del REJECTED_DATA["recipient"]
del REJECTED_DATA["recipient-domain"]

JSON_EVENT_ROWS = {
    "accepted": (
        event_data("accepted", method="HTTP"),
        {**COMMON, "event_type": EventType.QUEUED},
    ),
    "rejected": (
        REJECTED_DATA,
        {
            **COMMON,
            "event_type": EventType.REJECTED,
            "message_id": "<20231114221320.2.D4E5F6@mg.example.com>",
            "recipient": "carol@example.net",
            "reject_reason": RejectReason.OTHER,
            "description": "Sandbox subdomains are for test purposes only.",
            "metadata": {},
            "tags": [],
        },
    ),
    "delivered": (
        event_data(
            "delivered",
            **{
                "delivery-status": {
                    "tls": True,
                    "mx-host": "mx.example.com",
                    "code": 250,
                    "description": "",
                    "session-seconds": 0.43,
                    "message": "OK 1700000000 q1si123 - gsmtp",
                    "attempt-no": 1,
                }
            },
        ),
        {
            **COMMON,
            "event_type": EventType.DELIVERED,
            "description": "",
            "mta_response": "OK 1700000000 q1si123 - gsmtp",
        },
    ),
    "failed": (
        event_data(
            "failed",
            severity="permanent",
            reason="bounce",
            **{
                "delivery-status": {
                    "code": 550,
                    "description": "",
                    "message": "5.1.1 No such user",
                    "attempt-no": 1,
                }
            },
        ),
        {
            **COMMON,
            "event_type": EventType.BOUNCED,
            "reject_reason": RejectReason.BOUNCED,
            "description": "",
            "mta_response": "5.1.1 No such user",
        },
    ),
    "opened": (
        event_data(
            "opened",
            ip="203.0.113.7",
            geolocation=GEOLOCATION,
            **{"client-info": CLIENT_INFO},
        ),
        {
            **COMMON,
            "event_type": EventType.OPENED,
            "user_agent": CLIENT_INFO["user-agent"],
        },
    ),
    "clicked": (
        event_data(
            "clicked",
            url="https://shop.example.com/orders/42?utm_source=mail",
            ip="203.0.113.7",
            geolocation=GEOLOCATION,
            **{"client-info": CLIENT_INFO},
        ),
        {
            **COMMON,
            "event_type": EventType.CLICKED,
            "user_agent": CLIENT_INFO["user-agent"],
            "click_url": "https://shop.example.com/orders/42?utm_source=mail",
        },
    ),
    "unsubscribed": (
        event_data("unsubscribed", ip="203.0.113.7", **{"client-info": CLIENT_INFO}),
        {
            **COMMON,
            "event_type": EventType.UNSUBSCRIBED,
            "user_agent": CLIENT_INFO["user-agent"],
        },
    ),
    "complained": (
        event_data("complained"),
        {**COMMON, "event_type": EventType.COMPLAINED},
    ),
    "other": (
        event_data("stored", storage={"key": "AgEF", "url": "https://storage/AgEF"}),
        {**COMMON, "event_type": EventType.UNKNOWN},
    ),
}


class TestJsonEvents:
    @pytest.mark.parametrize(
        "data, expected", JSON_EVENT_ROWS.values(), ids=list(JSON_EVENT_ROWS)
    )
    def test_event_types(self, webhook_client, tracking_events, data, expected):
        payload = json_payload(data)
        response = post_json(webhook_client, payload)
        assert response.status_code == 200
        assert response.content == b""
        call = tracking_events.calls[0]
        assert len(tracking_events.calls) == 1
        assert call["sender"] is MailgunTrackingWebhookView
        assert call["esp_name"] == "Mailgun"
        event = call["event"]
        assert event_fields(event) == expected
        assert event.esp_event == payload
        assert isinstance(event.esp_event, dict)

    def test_spec_sample(self, webhook_client, tracking_events):
        # the signature is the fixed check value for this key, timestamp, token
        payload = {
            "signature": {
                "timestamp": "1700000000",
                "token": "abc123token",
                "signature": SPEC_CHECK_SIGNATURE,
            },
            "event-data": {
                "event": "failed",
                "severity": "permanent",
                "reason": "bounce",
                "timestamp": 1700000000.25,
                "recipient": "bob@example.com",
                "tags": ["welcome"],
                "user-variables": {"order": "42"},
                "message": {"headers": {"message-id": "msg-123@mg.example.com"}},
                "delivery-status": {
                    "code": 550,
                    "description": "",
                    "message": "5.1.1 No such user",
                },
            },
        }
        assert post_json(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "bounced",
            "timestamp": datetime(
                2023, 11, 14, 22, 13, 20, 250000, tzinfo=timezone.utc
            ),
            "event_id": "abc123token",
            "message_id": "<msg-123@mg.example.com>",
            "recipient": "bob@example.com",
            "metadata": {"order": "42"},
            "tags": ["welcome"],
            "reject_reason": "bounced",
            "description": "",
            "mta_response": "5.1.1 No such user",
            "user_agent": None,
            "click_url": None,
        }

    def test_temporary_failure_is_deferred(self, webhook_client, tracking_events):
        data = event_data(
            "failed",
            severity="temporary",
            reason="generic",
            **{
                "delivery-status": {
                    "code": 452,
                    "description": "Mailbox full",
                    "message": "4.2.2 The email account is over quota",
                    "attempt-no": 2,
                    "retry-seconds": 600,
                }
            },
        )
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        assert event_fields(tracking_events.event) == {
            **COMMON,
            "event_type": EventType.DEFERRED,
            "reject_reason": RejectReason.OTHER,
            "description": "Mailbox full",
            "mta_response": "4.2.2 The email account is over quota",
        }

    @pytest.mark.parametrize("event", ["delivered", "rejected", "stored"])
    def test_temporary_severity_is_deferred_whatever_the_event(
        self, webhook_client, tracking_events, event
    ):
        data = event_data(event, severity="temporary")
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        event = tracking_events.event
        assert event.event_type == EventType.DEFERRED
        # (deferred isn't rejected: no rejected-only defaults)
        assert event.reject_reason is None

    @pytest.mark.parametrize(
        "reason, reject_reason",
        [
            ("bounce", RejectReason.BOUNCED),
            ("suppress-bounce", RejectReason.BOUNCED),
            ("generic", RejectReason.OTHER),
            ("greylisted", RejectReason.OTHER),
            ("old", RejectReason.OTHER),
            (None, None),
        ],
    )
    def test_reject_reasons(
        self, webhook_client, tracking_events, reason, reject_reason
    ):
        data = event_data("failed", severity="permanent")
        if reason is not None:
            data["reason"] = reason
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        assert tracking_events.event.reject_reason == reject_reason

    @pytest.mark.parametrize(
        "reason, reject_reason",
        [
            (None, RejectReason.OTHER),
            ("suppress-bounce", RejectReason.BOUNCED),
            ("generic", RejectReason.OTHER),
        ],
    )
    def test_rejected_reject_reason_defaults_to_other(
        self, webhook_client, tracking_events, reason, reject_reason
    ):
        data = dict(REJECTED_DATA)
        if reason is not None:
            data["reason"] = reason
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        assert tracking_events.event.reject_reason == reject_reason

    def test_rejected_keeps_its_recipient_and_description(
        self, webhook_client, tracking_events
    ):
        data = dict(
            REJECTED_DATA,
            recipient="dave@example.org",
            **{"delivery-status": {"description": "Policy", "message": "5.7.1 no"}},
        )
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        event = tracking_events.event
        assert event.recipient == "dave@example.org"
        assert event.description == "Policy"
        assert event.mta_response == "5.7.1 no"

    def test_rejected_empty_description_falls_back(
        self, webhook_client, tracking_events
    ):
        data = dict(REJECTED_DATA, **{"delivery-status": {"description": ""}})
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        event = tracking_events.event
        assert event.description == "Sandbox subdomains are for test purposes only."
        assert event.mta_response is None

    def test_rejected_without_reject_object(self, webhook_client, tracking_events):
        data = dict(REJECTED_DATA)
        del data["reject"]
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.description) == (EventType.REJECTED, None)

    @pytest.mark.parametrize(
        "to",
        ["undisclosed-recipients:;", "", "a@example.com, b@example.com", None],
        ids=["unparseable", "empty", "several", "missing"],
    )
    def test_rejected_recipient_parse_errors_ignored(
        self, webhook_client, tracking_events, to
    ):
        data = json.loads(json.dumps(REJECTED_DATA))
        if to is None:
            del data["message"]["headers"]["to"]
        else:
            data["message"]["headers"]["to"] = to
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        assert tracking_events.event.recipient is None

    def test_event_id_is_signature_token(self, webhook_client, tracking_events):
        data = event_data("delivered")
        payload = json_payload(data, token="f3a8bbe2d0c14ad0a1e2")
        assert post_json(webhook_client, payload).status_code == 200
        assert tracking_events.event.event_id == "f3a8bbe2d0c14ad0a1e2"

    @pytest.mark.parametrize(
        "message, message_id",
        [
            ({"headers": {"message-id": "<already@wrapped>"}}, "<already@wrapped>"),
            ({"headers": {"message-id": "bare@id"}}, "<bare@id>"),
            ({"headers": {}}, None),
            ({}, None),
            (None, None),
        ],
        ids=["wrapped", "bare", "no-message-id", "no-headers", "no-message"],
    )
    def test_message_id(self, webhook_client, tracking_events, message, message_id):
        data = event_data("delivered")
        if message is None:
            del data["message"]
        else:
            data["message"] = message
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        assert tracking_events.event.message_id == message_id

    @pytest.mark.parametrize("status", ["missing", None])
    def test_no_delivery_status(self, webhook_client, tracking_events, status):
        data = event_data("delivered")
        if status is not None:
            data["delivery-status"] = None
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        event = tracking_events.event
        assert (event.description, event.mta_response) == (None, None)

    def test_optional_fields_absent_or_null(self, webhook_client, tracking_events):
        data = {
            "event": "opened",
            "tags": None,
            "user-variables": None,
            "client-info": None,
        }
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": EventType.OPENED,
            "timestamp": None,
            "event_id": TOKEN,
            "message_id": None,
            "recipient": None,
            "metadata": {},
            "tags": [],
            "reject_reason": None,
            "description": None,
            "mta_response": None,
            "user_agent": None,
            "click_url": None,
        }

    def test_timestamp_keeps_microseconds(self, webhook_client, tracking_events):
        data = event_data("delivered", timestamp=1521472262.908181)
        assert post_json(webhook_client, json_payload(data)).status_code == 200
        assert tracking_events.event.timestamp == datetime(
            2018, 3, 19, 15, 11, 2, 908181, tzinfo=timezone.utc
        )

    def test_content_type_parameters_allowed(self, webhook_client, tracking_events):
        response = webhook_client.post(
            URL,
            json.dumps(json_payload(event_data("delivered"))),
            content_type="application/json; charset=utf-8",
        )
        assert response.status_code == 200
        assert tracking_events.event.event_type == EventType.DELIVERED

    def test_one_signal_per_post_in_order(self, webhook_client, tracking_events):
        # Mailgun posts one event per request
        for event in ["accepted", "delivered", "opened"]:
            payload = json_payload(event_data(event), token=f"token-{event}")
            assert post_json(webhook_client, payload).status_code == 200
        assert [(e.event_type, e.event_id) for e in tracking_events.events] == [
            ("queued", "token-accepted"),
            ("delivered", "token-delivered"),
            ("opened", "token-opened"),
        ]
        assert {call["sender"] for call in tracking_events.calls} == {
            MailgunTrackingWebhookView
        }
        assert {call["esp_name"] for call in tracking_events.calls} == {"Mailgun"}
        assert all(call["signal"] is tracking for call in tracking_events.calls)


# ---------------------------------------------------------------------------
# Legacy (form-encoded) webhooks


def message_headers(*extra):
    return json.dumps(
        [
            ["Received", "by luna.mailgun.net with SMTP mgrt 8734663311733"],
            ["To", "Bob <bob@example.com>"],
            ["Message-Id", "<20231114221320.1.A1B2C3@mg.example.com>"],
            *extra,
            ["Subject", "Your order"],
        ]
    )


LEGACY_OPEN_FIELDS = [
    ("domain", "mg.example.com"),
    ("my-var-1", "first value"),
    ("ip", "203.0.113.7"),
    ("country", "US"),
    ("region", "CA"),
    ("city", "San Francisco"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0"),
    ("device-type", "desktop"),
    ("client-type", "browser"),
    ("client-name", "Firefox"),
    ("client-os", "Linux"),
    ("tag", "welcome"),
    ("tag", "order"),
    ("message-id", "20231114221320.1.A1B2C3@mg.example.com"),
    ("recipient", "bob@example.com"),
    ("order", "42"),
    ("h", "e0c62f8e8ab0a4a6a17c47e1f7a3f9c8"),
]

LEGACY_COMMON = {
    "timestamp": datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc),
    "event_id": TOKEN,
    "message_id": "<20231114221320.1.A1B2C3@mg.example.com>",
    "recipient": "bob@example.com",
    "metadata": {},
    "tags": [],
    "reject_reason": None,
    "description": None,
    "mta_response": None,
    "user_agent": None,
    "click_url": None,
}

NO_SUCH_ACCOUNT = "5.1.1 The email account that you tried to reach does not exist."

LEGACY_EVENT_ROWS = {
    "delivered": (
        [
            ("event", "delivered"),
            ("recipient", "bob@example.com"),
            ("domain", "mg.example.com"),
            (
                "message-headers",
                message_headers(["X-Mailgun-Variables", '{"order": "42"}']),
            ),
            ("Message-Id", "<20231114221320.1.A1B2C3@mg.example.com>"),
            ("X-Mailgun-Sid", "WyI3ZGIzMyIsICJib2JAZXhhbXBsZS5jb20iLCAiNjBkNjc5Il0="),
            ("order", "42"),
        ],
        {
            **LEGACY_COMMON,
            "event_type": EventType.DELIVERED,
            "metadata": {"order": "42"},
        },
    ),
    "dropped": (
        [
            ("event", "dropped"),
            ("recipient", "bob@example.com"),
            ("domain", "mg.example.com"),
            ("reason", "hardfail"),
            ("code", "605"),
            ("description", "Not delivering to previously bounced address"),
            ("message-headers", message_headers()),
            ("Message-Id", "<20231114221320.1.A1B2C3@mg.example.com>"),
        ],
        {
            **LEGACY_COMMON,
            "event_type": EventType.REJECTED,
            "reject_reason": RejectReason.BOUNCED,
            "description": "Not delivering to previously bounced address",
        },
    ),
    "bounced": (
        [
            ("event", "bounced"),
            ("recipient", "bob@example.com"),
            ("domain", "mg.example.com"),
            ("code", "550"),
            ("error", NO_SUCH_ACCOUNT),
            ("notification", "Unknown user"),
            ("message-headers", message_headers()),
            ("Message-Id", "<20231114221320.1.A1B2C3@mg.example.com>"),
            ("X-Mailgun-Tag", "welcome"),
            ("X-Mailgun-Tag", "order"),
        ],
        {
            **LEGACY_COMMON,
            "event_type": EventType.BOUNCED,
            "reject_reason": RejectReason.BOUNCED,
            "mta_response": NO_SUCH_ACCOUNT,
            "tags": ["welcome", "order"],
        },
    ),
    "complained": (
        [
            ("event", "complained"),
            ("recipient", "bob@example.com"),
            ("domain", "mg.example.com"),
            ("message-headers", message_headers()),
            ("Message-Id", "<20231114221320.1.A1B2C3@mg.example.com>"),
            ("tag", "welcome"),
        ],
        {**LEGACY_COMMON, "event_type": EventType.COMPLAINED, "tags": ["welcome"]},
    ),
    "unsubscribed": (
        [("event", "unsubscribed"), *LEGACY_OPEN_FIELDS],
        {
            **LEGACY_COMMON,
            "event_type": EventType.UNSUBSCRIBED,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0",
            "tags": ["welcome", "order"],
            "metadata": {"my-var-1": "first value", "order": "42"},
        },
    ),
    "opened": (
        [("event", "opened"), *LEGACY_OPEN_FIELDS],
        {
            **LEGACY_COMMON,
            "event_type": EventType.OPENED,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0",
            "tags": ["welcome", "order"],
            "metadata": {"my-var-1": "first value", "order": "42"},
        },
    ),
    "clicked": (
        [
            ("event", "clicked"),
            ("url", "https://shop.example.com/orders/42"),
            *LEGACY_OPEN_FIELDS,
        ],
        {
            **LEGACY_COMMON,
            "event_type": EventType.CLICKED,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0",
            "click_url": "https://shop.example.com/orders/42",
            "tags": ["welcome", "order"],
            "metadata": {"my-var-1": "first value", "order": "42"},
        },
    ),
    "other": (
        [
            ("event", "stored"),
            ("recipient", "bob@example.com"),
            ("Message-Id", "<20231114221320.1.A1B2C3@mg.example.com>"),
            ("order", "42"),
        ],
        {**LEGACY_COMMON, "event_type": EventType.UNKNOWN},
    ),
}


class TestLegacyEvents:
    @pytest.mark.parametrize(
        "fields, expected", LEGACY_EVENT_ROWS.values(), ids=list(LEGACY_EVENT_ROWS)
    )
    def test_event_types(self, webhook_client, tracking_events, fields, expected):
        response = post_form(webhook_client, legacy_body(fields))
        assert response.status_code == 200
        assert response.content == b""
        call = tracking_events.calls[0]
        assert len(tracking_events.calls) == 1
        assert call["sender"] is MailgunTrackingWebhookView
        assert call["esp_name"] == "Mailgun"
        event = call["event"]
        assert event_fields(event) == expected
        # esp_event is the posted QueryDict itself
        assert isinstance(event.esp_event, QueryDict)
        assert list(event.esp_event.lists()) == list(
            QueryDict(legacy_body(fields)).lists()
        )

    @pytest.mark.parametrize(
        "code, reject_reason",
        [
            (None, None),
            ("499", RejectReason.TIMED_OUT),
            ("605", RejectReason.BOUNCED),
            ("607", RejectReason.SPAM),
            ("550", RejectReason.BOUNCED),
            ("400", RejectReason.BOUNCED),
            ("421", RejectReason.BOUNCED),
            ("599", RejectReason.BOUNCED),
            ("600", RejectReason.OTHER),
            ("399", RejectReason.OTHER),
            ("250", RejectReason.OTHER),
            ("5.1.1", RejectReason.BOUNCED),
            ("4.2.2", RejectReason.BOUNCED),
            ("2.0.0", RejectReason.OTHER),
            ("hardfail", RejectReason.OTHER),
            ("", RejectReason.OTHER),
        ],
    )
    def test_reject_reasons(self, webhook_client, tracking_events, code, reject_reason):
        fields = [("event", "bounced"), ("recipient", "bob@example.com")]
        if code is not None:
            fields.append(("code", code))
        assert post_form(webhook_client, legacy_body(fields)).status_code == 200
        assert tracking_events.event.reject_reason == reject_reason

    def test_reject_reason_uses_first_code(self, webhook_client, tracking_events):
        fields = [("event", "dropped"), ("code", "607"), ("code", "250")]
        assert post_form(webhook_client, legacy_body(fields)).status_code == 200
        assert tracking_events.event.reject_reason == RejectReason.SPAM

    def test_first_values_except_timestamp_and_token(
        self, webhook_client, tracking_events
    ):
        # custom variables named like Mailgun's fields: Mailgun's own value is
        # first, except for timestamp/token/signature where it's last
        body = urlencode(
            [
                ("event", "delivered"),
                ("recipient", "bob@example.com"),
                ("description", "real"),
                ("timestamp", "1600000000"),
                ("token", "user-token"),
                ("signature", "user-signature"),
                ("event", "opened"),
                ("recipient", "other@example.com"),
                ("description", "user"),
            ]
        )
        body += "&" + legacy_body([], timestamp="1700000001", token="mailgun-token")
        assert post_form(webhook_client, body).status_code == 200
        event = tracking_events.event
        assert event.event_type == EventType.DELIVERED
        assert event.recipient == "bob@example.com"
        assert event.description == "real"
        assert event.event_id == "mailgun-token"
        assert event.timestamp == datetime(
            2023, 11, 14, 22, 13, 21, tzinfo=timezone.utc
        )

    @pytest.mark.parametrize(
        "fields, message_id",
        [
            ([("Message-Id", "<a@x>"), ("message-id", "b@x")], "<a@x>"),
            ([("message-id", "b@x"), ("message-id", "c@x")], "<b@x>"),
            ([("Message-Id", "a@x")], "<a@x>"),
            ([], None),
        ],
        ids=["Message-Id-first", "lowercase", "wrapped", "none"],
    )
    def test_message_id(self, webhook_client, tracking_events, fields, message_id):
        body = legacy_body([("event", "delivered"), *fields])
        assert post_form(webhook_client, body).status_code == 200
        assert tracking_events.event.message_id == message_id

    @pytest.mark.parametrize(
        "fields, mta_response",
        [
            ([("error", "5.1.1 no"), ("notification", "n")], "5.1.1 no"),
            ([("notification", "Unknown user")], "Unknown user"),
            ([], None),
        ],
        ids=["error", "notification", "none"],
    )
    def test_mta_response(self, webhook_client, tracking_events, fields, mta_response):
        body = legacy_body([("event", "bounced"), *fields])
        assert post_form(webhook_client, body).status_code == 200
        assert tracking_events.event.mta_response == mta_response

    @pytest.mark.parametrize(
        "fields, tags",
        [
            ([("tag", "a"), ("X-Mailgun-Tag", "b"), ("tag", "c")], ["a", "c"]),
            ([("X-Mailgun-Tag", "b"), ("X-Mailgun-Tag", "d")], ["b", "d"]),
            ([], []),
        ],
        ids=["tag", "X-Mailgun-Tag", "none"],
    )
    def test_tags(self, webhook_client, tracking_events, fields, tags):
        body = legacy_body([("event", "delivered"), *fields])
        assert post_form(webhook_client, body).status_code == 200
        assert tracking_events.event.tags == tags

    def test_metadata_from_message_headers(self, webhook_client, tracking_events):
        headers = message_headers(
            ["X-Mailgun-Variables", '{"a": "1", "b": {"n": 2}}'],
            ["X-Other", '{"ignored": true}'],
            ["X-Mailgun-Variables", '{"b": "later wins", "c": 3}'],
        )
        fields = [("event", "delivered"), ("message-headers", headers), ("a", "x")]
        assert post_form(webhook_client, legacy_body(fields)).status_code == 200
        assert tracking_events.event.metadata == {
            "a": "1",
            "b": "later wins",
            "c": 3,
        }

    @pytest.mark.parametrize("event", ["opened", "delivered"])
    def test_message_headers_without_variables(
        self, webhook_client, tracking_events, event
    ):
        # message-headers present: loose fields are never metadata
        fields = [("event", event), ("message-headers", message_headers()), ("a", "1")]
        assert post_form(webhook_client, legacy_body(fields)).status_code == 200
        assert tracking_events.event.metadata == {}

    @pytest.mark.parametrize("event", ["delivered", "dropped", "bounced", "stored"])
    def test_no_loose_metadata_for_other_events(
        self, webhook_client, tracking_events, event
    ):
        fields = [("event", event), ("order", "42"), ("recipient", "bob@example.com")]
        assert post_form(webhook_client, legacy_body(fields)).status_code == 200
        assert tracking_events.event.metadata == {}

    def test_loose_metadata_known_fields(self, webhook_client, tracking_events):
        body = urlencode(
            [
                ("event", "opened"),
                ("recipient", "bob@example.com"),
                ("city", "Oakland"),  # known field, one value: not metadata
                ("tag", "t1"),
                ("url", "https://example.com/"),  # only known for clicked
                ("Message-Id", "<m@x>"),  # (only lowercase message-id is known)
                ("ip", "203.0.113.7"),
                ("custom", "one"),
                ("custom", "two"),  # unknown field: last value
                ("tag", "my-tag-var"),  # tag is never metadata
                ("ip", "my ip var"),  # known, repeated: the last value
                ("recipient", "my recipient var"),
                ("timestamp", "my timestamp var"),  # signature fields: first value
                ("token", "my token var"),
                ("signature", "my signature var"),
            ]
        )
        body += "&" + legacy_body([])
        assert post_form(webhook_client, body).status_code == 200
        event = tracking_events.event
        assert event.metadata == {
            "url": "https://example.com/",
            "Message-Id": "<m@x>",
            "custom": "two",
            "ip": "my ip var",
            "recipient": "my recipient var",
            "timestamp": "my timestamp var",
            "token": "my token var",
            "signature": "my signature var",
        }
        assert event.tags == ["t1", "my-tag-var"]
        assert event.recipient == "bob@example.com"
        assert event.event_id == TOKEN

    def test_clicked_url_is_not_metadata(self, webhook_client, tracking_events):
        fields = [("event", "clicked"), ("url", "https://a.example/"), ("v", "1")]
        assert post_form(webhook_client, legacy_body(fields)).status_code == 200
        event = tracking_events.event
        assert event.metadata == {"v": "1"}
        assert event.click_url == "https://a.example/"

    def test_multipart_post(self, webhook_client, tracking_events):
        # some legacy webhooks post multipart/form-data
        data = {
            "event": "bounced",
            "recipient": "bob@example.com",
            "code": "550",
            "Message-Id": "<20231114221320.1.A1B2C3@mg.example.com>",
            **signature_block(),
        }
        assert webhook_client.post(URL, data).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason, event.event_id) == (
            EventType.BOUNCED,
            RejectReason.BOUNCED,
            TOKEN,
        )

    def test_inbound_route_misdirected_to_tracking(
        self, webhook_client, tracking_events
    ):
        fields = [
            ("recipient", "inbox@in.example.com"),
            ("sender", "alice@example.org"),
            ("subject", "Hi"),
            ("body-plain", "Hello"),
        ]
        with pytest.raises(
            AnymailConfigurationError,
            match=r"^You seem to have set Mailgun's \*inbound\* route to Anymail's"
            r" Mailgun \*tracking\* webhook URL\.$",
        ):
            post_form(webhook_client, legacy_body(fields))
        assert tracking_events.calls == []


# ---------------------------------------------------------------------------
# Authentication


class TestSignatures:
    def test_spec_check_value(self, webhook_client, tracking_events):
        body = urlencode(
            [
                ("event", "delivered"),
                ("timestamp", "1700000000"),
                ("token", "abc123token"),
                ("signature", SPEC_CHECK_SIGNATURE),
            ]
        )
        assert post_form(webhook_client, body).status_code == 200
        assert len(tracking_events.calls) == 1

    @pytest.mark.parametrize(
        "signature",
        [
            mailgun_signature(key="wrong-key"),
            mailgun_signature(timestamp="1700000001"),
            mailgun_signature(token="other-token"),
            mailgun_signature().upper(),
            "",
            None,
            12345,
        ],
        ids=[
            "wrong-key",
            "other-timestamp",
            "other-token",
            "uppercase",
            "empty",
            "null",
            "number",
        ],
    )
    def test_json_incorrect_signature(
        self, webhook_client, tracking_events, security_log, signature
    ):
        payload = json_payload(event_data("delivered"))
        payload["signature"]["signature"] = signature
        response = post_json(webhook_client, payload)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    @pytest.mark.parametrize("field", ["timestamp", "token"])
    def test_json_tampered_signed_field(
        self, webhook_client, tracking_events, security_log, field
    ):
        payload = json_payload(event_data("delivered"))
        payload["signature"][field] += "0"
        assert post_json(webhook_client, payload).status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b'{"signature": ',
            b"\xff\xfe{}",
            b"[]",
            b'"text"',
            b"42",
            b'{"event-data": {"event": "delivered"}}',
            b'{"signature": "abc"}',
            b'{"signature": ["abc"]}',
            json.dumps({"signature": {"timestamp": TIMESTAMP, "token": TOKEN}}),
            json.dumps({"signature": {"timestamp": TIMESTAMP, "signature": "x"}}),
            json.dumps({"signature": {"token": TOKEN, "signature": "x"}}),
        ],
        ids=[
            "empty",
            "not-json",
            "truncated",
            "not-utf8",
            "list",
            "string",
            "number",
            "no-signature",
            "signature-string",
            "signature-list",
            "no-signature-field",
            "no-token",
            "no-timestamp",
        ],
    )
    def test_json_invalid_payload_format(
        self, webhook_client, tracking_events, security_log, body
    ):
        response = post_json(webhook_client, body)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INVALID_FORMAT]

    def test_json_signature_is_checked_before_parsing(
        self, webhook_client, tracking_events, security_log
    ):
        # an otherwise-unparseable event with a bad signature: the signature fails
        payload = {"signature": signature_block(key="wrong"), "event-data": "junk"}
        assert post_json(webhook_client, payload).status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    @pytest.mark.parametrize("missing", ["timestamp", "token", "signature"])
    def test_form_missing_security_field(
        self, webhook_client, tracking_events, security_log, missing
    ):
        pairs = QueryDict(legacy_body([("event", "delivered")]), mutable=True)
        del pairs[missing]
        response = post_form(webhook_client, pairs.urlencode())
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [MISSING_FIELDS]

    @pytest.mark.parametrize(
        "timestamp, token, signature",
        [
            (TIMESTAMP, TOKEN, mailgun_signature(key="wrong-key")),
            ("1700000001", TOKEN, mailgun_signature()),
            (TIMESTAMP, "tampered", mailgun_signature()),
            (TIMESTAMP, TOKEN, ""),
        ],
        ids=["wrong-key", "tampered-timestamp", "tampered-token", "empty"],
    )
    def test_form_incorrect_signature(
        self, webhook_client, tracking_events, security_log, timestamp, token, signature
    ):
        body = urlencode(
            [
                ("event", "delivered"),
                ("timestamp", timestamp),
                ("token", token),
                ("signature", signature),
            ]
        )
        assert post_form(webhook_client, body).status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_form_signature_uses_last_values(
        self, webhook_client, tracking_events, security_log
    ):
        # signed over the first values (a custom variable's): refused
        body = urlencode(
            [
                ("event", "opened"),
                ("timestamp", TIMESTAMP),
                ("token", TOKEN),
                ("signature", mailgun_signature()),
                ("timestamp", "1700000005"),
                ("token", "mailgun-token"),
                ("signature", "0" * 64),
            ]
        )
        assert post_form(webhook_client, body).status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]
        assert tracking_events.calls == []

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/vnd.mailgun+json", "text/json"]
    )
    def test_json_body_with_other_content_type(
        self, webhook_client, tracking_events, security_log, content_type
    ):
        # only application/json is the JSON format; anything else is read as
        # form fields, where there are no security fields
        payload = json.dumps(json_payload(event_data("delivered")))
        response = webhook_client.post(URL, payload, content_type=content_type)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [MISSING_FIELDS]

    def test_form_body_with_json_content_type(
        self, webhook_client, tracking_events, security_log
    ):
        body = legacy_body([("event", "delivered")])
        response = webhook_client.post(URL, body, content_type="application/json")
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INVALID_FORMAT]


class TestBasicAuth:
    @pytest.fixture(autouse=True)
    def webhook_secret(self, settings):
        settings.ANYMAIL = {
            "MAILGUN_WEBHOOK_SIGNING_KEY": KEY,
            "WEBHOOK_SECRET": "user:pass",
        }

    def test_right_credentials(self, webhook_client, tracking_events):
        payload = json_payload(event_data("delivered"))
        response = post_json(
            webhook_client, payload, HTTP_AUTHORIZATION=basic_auth_header("user:pass")
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    def test_right_credentials_legacy(self, webhook_client, tracking_events):
        body = legacy_body([("event", "delivered")])
        response = post_form(
            webhook_client, body, HTTP_AUTHORIZATION=basic_auth_header("user:pass")
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @pytest.mark.parametrize(
        "authorization",
        [None, basic_auth_header("user:wrong")],
        ids=["missing", "wrong"],
    )
    def test_wrong_or_missing_credentials(
        self, webhook_client, tracking_events, security_log, authorization
    ):
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        payload = json_payload(event_data("delivered"))
        response = post_json(webhook_client, payload, **extra)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Mailgun webhook"
        ]

    def test_basic_auth_checked_before_signature(
        self, webhook_client, tracking_events, security_log
    ):
        payload = json_payload(event_data("delivered"), key="wrong-key")
        response = post_json(webhook_client, payload)
        assert response.status_code == 400
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Mailgun webhook"
        ]

    def test_signature_still_required_with_credentials(
        self, webhook_client, tracking_events, security_log
    ):
        payload = json_payload(event_data("delivered"), key="wrong-key")
        response = post_json(
            webhook_client, payload, HTTP_AUTHORIZATION=basic_auth_header("user:pass")
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]


class TestInsecureWarning:
    @pytest.mark.parametrize(
        "anymail",
        [{"MAILGUN_WEBHOOK_SIGNING_KEY": KEY}, {"MAILGUN_API_KEY": KEY}],
        ids=["signing-key", "api-key"],
    )
    def test_never_warns(self, webhook_client, tracking_events, settings, anymail):
        settings.ANYMAIL = anymail
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_json(webhook_client, json_payload(event_data("delivered")))
            legacy = post_form(webhook_client, legacy_body([("event", "opened")]))
        assert (response.status_code, legacy.status_code) == (200, 200)
        assert len(tracking_events.calls) == 2


# ---------------------------------------------------------------------------
# Settings


def accepts_key(client, key):
    """Whether a post signed with `key` is accepted."""
    response = post_json(client, json_payload(event_data("delivered"), key=key))
    return response.status_code


class TestSettings:
    def test_signing_key_is_bytes(self):
        assert MailgunTrackingWebhookView().webhook_signing_key == KEY.encode()

    def test_flat_signing_key(self, settings, webhook_client):
        settings.ANYMAIL = {}
        settings.ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY = "flat-key"
        assert accepts_key(webhook_client, "flat-key") == 200

    @pytest.mark.parametrize(
        "setting, value",
        [
            ("ANYMAIL", {"MAILGUN_API_KEY": "api-key"}),
            ("ANYMAIL_MAILGUN_API_KEY", "api-key"),
            ("MAILGUN_API_KEY", "api-key"),
        ],
        ids=["anymail-dict", "flat", "bare"],
    )
    def test_falls_back_to_api_key(self, settings, webhook_client, setting, value):
        settings.ANYMAIL = {}
        setattr(settings, setting, value)
        assert MailgunTrackingWebhookView().webhook_signing_key == b"api-key"
        assert accepts_key(webhook_client, "api-key") == 200
        assert accepts_key(webhook_client, KEY) == 400

    def test_signing_key_wins_over_api_key(self, settings, webhook_client):
        settings.ANYMAIL = {
            "MAILGUN_API_KEY": "api-key",
            "MAILGUN_WEBHOOK_SIGNING_KEY": "signing-key",
        }
        settings.MAILGUN_API_KEY = "bare-api-key"
        assert accepts_key(webhook_client, "signing-key") == 200
        assert accepts_key(webhook_client, "api-key") == 400

    def test_missing_key(self, settings, webhook_client):
        settings.ANYMAIL = {}
        with pytest.raises(AnymailConfigurationError) as info:
            post_json(webhook_client, json_payload(event_data("delivered")))
        assert str(info.value) == MISSING_KEY_MESSAGE

    def test_missing_key_even_for_head(self, settings, webhook_client):
        del settings.ANYMAIL
        with pytest.raises(
            AnymailConfigurationError, match="MAILGUN_WEBHOOK_SIGNING_KEY"
        ):
            webhook_client.head(URL)

    def test_bare_signing_key_not_read(self, settings):
        settings.ANYMAIL = {}
        settings.MAILGUN_WEBHOOK_SIGNING_KEY = "bare-key"
        with pytest.raises(AnymailConfigurationError) as info:
            MailgunTrackingWebhookView()
        assert str(info.value) == MISSING_KEY_MESSAGE

    def test_as_view_signing_key(self, settings, tracking_events):
        view = MailgunTrackingWebhookView.as_view(
            webhook_signing_key="VIEW_SIGNING_KEY"
        )
        instance = view.view_class(**view.view_initkwargs)
        assert instance.webhook_signing_key == b"VIEW_SIGNING_KEY"
        request = RequestFactory().post(
            URL,
            json.dumps(json_payload(event_data("delivered"), key="VIEW_SIGNING_KEY")),
            content_type="application/json",
        )
        assert view(request).status_code == 200
        assert tracking_events.calls[0]["sender"] is MailgunTrackingWebhookView
        # the settings key isn't accepted by this view
        request = RequestFactory().post(
            URL,
            json.dumps(json_payload(event_data("delivered"))),
            content_type="application/json",
        )
        logging.getLogger("django.security").disabled = True
        try:
            assert _status(view, request) == 400
        finally:
            logging.getLogger("django.security").disabled = False

    def test_as_view_api_key_is_signing_key_default(self, settings):
        settings.ANYMAIL = {}
        view = MailgunTrackingWebhookView.as_view(api_key="VIEW_API_KEY")
        assert view.view_class(**view.view_initkwargs).webhook_signing_key == (
            b"VIEW_API_KEY"
        )
        # an explicit signing key (here from settings) still wins
        settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": "settings-key"}
        assert view.view_class(**view.view_initkwargs).webhook_signing_key == (
            b"settings-key"
        )


def _status(view, request):
    """Call a view function the way Django's handler would (400 for
    SuspiciousOperation), for requests built with RequestFactory."""
    from django.core.handlers.exception import convert_exception_to_response

    return convert_exception_to_response(view)(request).status_code


# ---------------------------------------------------------------------------
# Malformed posts and other methods


class TestMalformed:
    @pytest.mark.parametrize(
        "payload",
        [
            {"signature": signature_block()},
            {"signature": signature_block(), "event-data": "delivered"},
            {"signature": signature_block(), "event-data": ["delivered"]},
            {"signature": signature_block(), "event-data": {"recipient": "a@b.com"}},
            json_payload(event_data("delivered", timestamp="soon")),
            json_payload(event_data("delivered", timestamp=[1])),
            json_payload(event_data("delivered", message={"headers": ["x"]})),
            json_payload(event_data("delivered", **{"delivery-status": "ok"})),
            json_payload(event_data("opened", **{"client-info": "Firefox"})),
            json_payload(event_data("failed", reason=["bounce"])),
        ],
        ids=[
            "no-event-data",
            "event-data-string",
            "event-data-list",
            "no-event",
            "timestamp-text",
            "timestamp-list",
            "headers-list",
            "delivery-status-string",
            "client-info-string",
            "reason-list",
        ],
    )
    def test_malformed_json_event(
        self, webhook_client, tracking_events, security_log, payload
    ):
        # (upstream answers some of these with a 500; Anymail says 400)
        response = post_json(webhook_client, payload)
        assert response.status_code == 400
        assert response.content == b"Malformed Mailgun webhook payload"
        assert tracking_events.calls == []
        assert security_messages(security_log) == []

    @pytest.mark.parametrize("value", ["Infinity", "NaN", "1e300", "-1e300"])
    def test_timestamp_out_of_range(self, webhook_client, tracking_events, value):
        body = json.dumps(json_payload(event_data("delivered", timestamp=0)))
        body = body.replace('"timestamp": 0', f'"timestamp": {value}')
        response = post_json(webhook_client, body)
        assert response.status_code == 400
        assert response.content == b"Malformed Mailgun webhook payload"
        assert tracking_events.calls == []

    @pytest.mark.parametrize(
        "fields, timestamp",
        [
            ([("recipient", "bob@example.com")], TIMESTAMP),  # no event, no sender
            ([("event", "delivered")], "1700000000.5"),
            ([("event", "delivered")], "soon"),
            ([("event", "delivered")], "99999999999999999999"),
            ([("event", "delivered"), ("message-headers", "not json")], TIMESTAMP),
            ([("event", "delivered"), ("message-headers", '{"a": 1}')], TIMESTAMP),
            ([("event", "delivered"), ("message-headers", '[["To"]]')], TIMESTAMP),
            (
                [
                    ("event", "delivered"),
                    ("message-headers", '[["X-Mailgun-Variables", "not json"]]'),
                ],
                TIMESTAMP,
            ),
            (
                [
                    ("event", "delivered"),
                    ("message-headers", '[["X-Mailgun-Variables", "[1, 2]"]]'),
                ],
                TIMESTAMP,
            ),
        ],
        ids=[
            "no-event",
            "timestamp-float",
            "timestamp-text",
            "timestamp-huge",
            "headers-not-json",
            "headers-object",
            "headers-short-pair",
            "variables-not-json",
            "variables-list",
        ],
    )
    def test_malformed_form_post(
        self, webhook_client, tracking_events, fields, timestamp
    ):
        response = post_form(webhook_client, legacy_body(fields, timestamp=timestamp))
        assert response.status_code == 400
        assert response.content == b"Malformed Mailgun webhook payload"
        assert tracking_events.calls == []

    def test_non_ascii_token(self, webhook_client, tracking_events):
        body = urlencode(
            [
                ("event", "delivered"),
                ("timestamp", TIMESTAMP),
                ("token", "tökén"),
                ("signature", "0" * 64),
            ]
        )
        response = post_form(webhook_client, body)
        assert response.status_code == 400
        assert response.content == b"Malformed Mailgun webhook payload"
        assert tracking_events.calls == []

    def test_multipart_without_boundary(self, webhook_client, tracking_events):
        response = webhook_client.post(
            URL,
            legacy_body([("event", "delivered")]),
            content_type="multipart/form-data",
        )
        assert response.status_code == 400
        assert response.content == b"Malformed Mailgun webhook payload"
        assert tracking_events.calls == []

    @pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
    def test_wrong_content_type(
        self, webhook_client, tracking_events, security_log, content_type
    ):
        response = webhook_client.post(URL, b"<event/>", content_type=content_type)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [MISSING_FIELDS]

    def test_empty_form_post(self, webhook_client, tracking_events, security_log):
        response = post_form(webhook_client, "")
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [MISSING_FIELDS]


class TestMethods:
    def test_head_is_200_without_validation(self, webhook_client, tracking_events):
        response = webhook_client.head(URL)
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []

    def test_get_not_allowed(self, webhook_client):
        logging.getLogger("django.request").disabled = True
        try:
            response = webhook_client.get(URL)
        finally:
            logging.getLogger("django.request").disabled = False
        assert response.status_code == 405
        assert response["Allow"] == "POST, HEAD, OPTIONS"

    def test_csrf_exempt(self):
        assert MailgunTrackingWebhookView.as_view().csrf_exempt is True
