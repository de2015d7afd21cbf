"""Mailtrap tracking webhook: event normalization, signatures and basic auth."""

import hashlib
import hmac
import json
import warnings
from datetime import datetime, timezone

import pytest
from django.test import override_settings
from django.urls import include, path, reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import tracking
from anymail.webhooks import mailtrap as mailtrap_webhooks
from anymail.webhooks.mailtrap import (
    MailtrapTrackingWebhookView,
    MailtrapWebhookView,
)

from .conftest import basic_auth_header, event_fields, security_messages

TRACKING_URL = "/anymail/mailtrap/tracking/"
CUSTOM_URL = "/custom/mailtrap/tracking/"

TRACKING_SECRET = "3c1f0e9d7a2b4c58a6d1e0f2b3c4d5e6"
INBOUND_SECRET = "a8b7c6d5e4f30211a8b7c6d5e4f30211"
KWARG_SECRET = "as-view-secret-for-this-route"

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "custom/mailtrap/tracking/",
        MailtrapTrackingWebhookView.as_view(tracking_secret=KWARG_SECRET),
    ),
]

pytestmark = pytest.mark.urls(__name__)

SIGNED = {"MAILTRAP_TRACKING_SECRET": TRACKING_SECRET}
INCORRECT_SIGNATURE = (
    "Mailtrap webhook called with incorrect signature"
    " (check Anymail MAILTRAP_TRACKING_SECRET setting)"
)
NO_SIGNATURE = "Mailtrap webhook called without signature"
BAD_BASIC_AUTH = "Missing or invalid basic auth in Anymail Mailtrap webhook"

MESSAGE_ID = "1df37d17-0286-4d8b-8edf-bc4ec5be86e6"
TIMESTAMP = 1700000000
EVENT_TIME = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)


def sign(body, secret=TRACKING_SECRET):
    """Mailtrap-Signature: lowercase hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_tracking(client, payload, *, secret=TRACKING_SECRET, url=TRACKING_URL, **kw):
    """POST payload (a dict, or raw bytes) signed with `secret` (None: unsigned)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if secret is not None:
        kw["HTTP_MAILTRAP_SIGNATURE"] = sign(body, secret)
    return client.post(url, body, content_type="application/json", **kw)


def mailtrap_event(event, **fields):
    """A Mailtrap sending event, with the fields every event has."""
    esp_event = {
        "event": event,
        "timestamp": TIMESTAMP,
        "sending_stream": "transactional",
        "message_id": MESSAGE_ID,
        "email": "recipient@example.com",
        "event_id": f"evt-{event.replace(' ', '-')}-1",
    }
    esp_event.update(fields)
    return esp_event


@pytest.fixture
def signed_settings():
    with override_settings(ANYMAIL=SIGNED):
        yield


# One case per row of the event-type table (and of the reject-reason table),
# with the fields Mailtrap sends for that kind of event.
EVENT_CASES = [
    pytest.param(
        mailtrap_event("delivery", category="welcome", custom_variables={"a": "1"}),
        {"event_type": "delivered", "reject_reason": None},
        id="delivery",
    ),
    pytest.param(
        mailtrap_event(
            "open", ip="203.0.113.7", user_agent="Mozilla/5.0 (Windows NT 10.0)"
        ),
        {
            "event_type": "opened",
            "reject_reason": None,
            "user_agent": "Mozilla/5.0 (Windows NT 10.0)",
        },
        id="open",
    ),
    pytest.param(
        mailtrap_event(
            "click",
            url="https://example.com/welcome?utm=1",
            user_agent="Mozilla/5.0 (iPhone)",
            ip="203.0.113.8",
        ),
        {
            "event_type": "clicked",
            "reject_reason": None,
            "click_url": "https://example.com/welcome?utm=1",
            "user_agent": "Mozilla/5.0 (iPhone)",
        },
        id="click",
    ),
    pytest.param(
        mailtrap_event(
            "bounce",
            response="550 5.1.1 The email account does not exist",
            response_code=550,
            bounce_category="badmailbox",
        ),
        {
            "event_type": "bounced",
            "reject_reason": "bounced",
            "mta_response": "550 5.1.1 The email account does not exist",
        },
        id="bounce",
    ),
    pytest.param(
        mailtrap_event(
            "soft bounce",
            response="450 4.2.0 Mailbox temporarily unavailable",
            response_code=450,
            bounce_category="unavailable",
        ),
        {
            "event_type": "deferred",
            "reject_reason": "other",
            "mta_response": "450 4.2.0 Mailbox temporarily unavailable",
        },
        id="soft bounce",
    ),
    pytest.param(
        mailtrap_event("spam"),
        {"event_type": "complained", "reject_reason": "spam"},
        id="spam",
    ),
    pytest.param(
        mailtrap_event("unsubscribe", ip="203.0.113.9", user_agent="Mozilla/5.0"),
        {
            "event_type": "unsubscribed",
            "reject_reason": "unsubscribed",
            "user_agent": "Mozilla/5.0",
        },
        id="unsubscribe",
    ),
    pytest.param(
        # Mailtrap's `reason` is not used for reject_reason
        mailtrap_event("reject", reason="unsubscribed"),
        {"event_type": "rejected", "reject_reason": "blocked"},
        id="reject",
    ),
    pytest.param(
        mailtrap_event("suspension", reason="other"),
        {"event_type": "deferred", "reject_reason": "other"},
        id="suspension",
    ),
    pytest.param(
        # not a documented Mailtrap event: unknown, but with a reject_reason
        mailtrap_event("blocked"),
        {"event_type": "unknown", "reject_reason": "blocked"},
        id="blocked",
    ),
    pytest.param(
        mailtrap_event("future_event_type"),
        {"event_type": "unknown", "reject_reason": None},
        id="other",
    ),
]


@pytest.mark.usefixtures("signed_settings")
class TestEvents:
    @pytest.mark.parametrize("esp_event, expected", EVENT_CASES)
    def test_event(self, webhook_client, tracking_events, esp_event, expected):
        response = post_tracking(webhook_client, {"events": [esp_event]})
        assert response.status_code == 200
        assert response.content == b""
        category = esp_event.get("category")
        assert event_fields(tracking_events.event) == {
            "timestamp": EVENT_TIME,
            "event_id": esp_event["event_id"],
            "message_id": MESSAGE_ID,
            "recipient": "recipient@example.com",
            "description": None,
            "mta_response": None,
            "tags": [category] if category else [],
            "metadata": esp_event.get("custom_variables", {}),
            "click_url": None,
            "user_agent": None,
            "esp_event": esp_event,
            **expected,
        }
        call = tracking_events.calls[0]
        assert call["sender"] is MailtrapTrackingWebhookView
        assert call["esp_name"] == "Mailtrap"
        assert call["signal"] is tracking

    def test_spec_sample_batch(self, webhook_client, tracking_events):
        payload = {
            "events": [
                {
                    "event": "soft bounce",
                    "timestamp": 1700000000,
                    "sending_stream": "transactional",
                    "message_id": MESSAGE_ID,
                    "email": "bob@example.com",
                    "event_id": "evt-001",
                    "category": "welcome",
                    "custom_variables": {"order": "42"},
                    "response": "450 4.2.0 Mailbox temporarily unavailable",
                    "response_code": 450,
                    "bounce_category": "unavailable",
                },
                {
                    "event": "click",
                    "timestamp": 1700000100,
                    "sending_stream": "transactional",
                    "message_id": MESSAGE_ID,
                    "email": "amy@example.com",
                    "event_id": "evt-002",
                    "url": "https://example.com/x",
                    "user_agent": "Mozilla/5.0",
                },
            ]
        }
        assert post_tracking(webhook_client, payload).status_code == 200
        first, second = tracking_events.events
        assert event_fields(first) == {
            "event_type": "deferred",
            "timestamp": datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc),
            "event_id": "evt-001",
            "message_id": MESSAGE_ID,
            "recipient": "bob@example.com",
            "reject_reason": "other",
            "description": None,
            "mta_response": "450 4.2.0 Mailbox temporarily unavailable",
            "tags": ["welcome"],
            "metadata": {"order": "42"},
            "click_url": None,
            "user_agent": None,
            "esp_event": payload["events"][0],
        }
        assert event_fields(second) == {
            "event_type": "clicked",
            "timestamp": datetime(2023, 11, 14, 22, 15, tzinfo=timezone.utc),
            "event_id": "evt-002",
            "message_id": MESSAGE_ID,
            "recipient": "amy@example.com",
            "reject_reason": None,
            "description": None,
            "mta_response": None,
            "tags": [],
            "metadata": {},
            "click_url": "https://example.com/x",
            "user_agent": "Mozilla/5.0",
            "esp_event": payload["events"][1],
        }
        for call in tracking_events.calls:
            assert call["sender"] is MailtrapTrackingWebhookView
            assert call["esp_name"] == "Mailtrap"

    def test_batch_one_signal_per_event_in_order(self, webhook_client, tracking_events):
        names = ["delivery", "open", "click", "open", "unsubscribe"]
        events = [
            mailtrap_event(name, event_id=f"evt-{n}") for n, name in enumerate(names)
        ]
        assert post_tracking(webhook_client, {"events": events}).status_code == 200
        assert [e.event_type for e in tracking_events.events] == [
            "delivered",
            "opened",
            "clicked",
            "opened",
            "unsubscribed",
        ]
        assert [e.event_id for e in tracking_events.events] == [
            f"evt-{n}" for n in range(5)
        ]
        assert [e.esp_event for e in tracking_events.events] == events

    @pytest.mark.parametrize("payload", [{}, {"events": []}])
    def test_no_events(self, webhook_client, tracking_events, payload):
        assert post_tracking(webhook_client, payload).status_code == 200
        assert tracking_events.calls == []

    def test_metadata_values_as_given(self, webhook_client, tracking_events):
        variables = {"user_id": 123, "vip": True, "ref": "abc", "ratio": 0.5}
        esp_event = mailtrap_event("delivery", custom_variables=variables)
        post_tracking(webhook_client, {"events": [esp_event]})
        assert tracking_events.event.metadata == variables

    @pytest.mark.parametrize(
        "fields, tags, metadata",
        [
            ({}, [], {}),
            ({"category": ""}, [], {}),
            ({"category": None, "custom_variables": None}, [], {}),
            ({"category": "Order ✓", "custom_variables": {}}, ["Order ✓"], {}),
        ],
    )
    def test_tags_and_metadata_defaults(
        self, webhook_client, tracking_events, fields, tags, metadata
    ):
        post_tracking(webhook_client, {"events": [mailtrap_event("open", **fields)]})
        assert tracking_events.event.tags == tags
        assert tracking_events.event.metadata == metadata

    def test_fresh_defaults_per_event(self, webhook_client, tracking_events):
        post_tracking(
            webhook_client,
            {"events": [mailtrap_event("open"), mailtrap_event("click")]},
        )
        first, second = tracking_events.events
        first.tags.append("changed")
        first.metadata["changed"] = True
        assert second.tags == []
        assert second.metadata == {}

    def test_optional_fields_missing(self, webhook_client, tracking_events):
        esp_event = {"event": "delivery", "timestamp": 0, "message_id": "m-1"}
        post_tracking(webhook_client, {"events": [esp_event]})
        assert event_fields(tracking_events.event) == {
            "event_type": "delivered",
            "timestamp": datetime(1970, 1, 1, tzinfo=timezone.utc),
            "event_id": None,
            "message_id": "m-1",
            "recipient": None,
            "reject_reason": None,
            "description": None,
            "mta_response": None,
            "tags": [],
            "metadata": {},
            "click_url": None,
            "user_agent": None,
            "esp_event": esp_event,
        }

    def test_fractional_timestamp(self, webhook_client, tracking_events):
        post_tracking(
            webhook_client,
            {"events": [mailtrap_event("open", timestamp=1700000000.25)]},
        )
        assert tracking_events.event.timestamp == datetime(
            2023, 11, 14, 22, 13, 20, 250000, tzinfo=timezone.utc
        )

    def test_mailtrap_reason_fields_not_used(self, webhook_client, tracking_events):
        # reject_reason comes only from the event name
        esp_event = mailtrap_event(
            "bounce", reason="spam", bounce_category="spam_related"
        )
        post_tracking(webhook_client, {"events": [esp_event]})
        assert tracking_events.event.reject_reason == "bounced"
        assert tracking_events.event.description is None


@pytest.mark.usefixtures("signed_settings")
class TestMisdirectedInbound:
    @pytest.mark.parametrize(
        "name",
        ["inbound.message_received", "inbound_message_received", "inbound-anything"],
    )
    def test_inbound_event_to_tracking_url(self, webhook_client, tracking_events, name):
        inbound_event = {
            "event": name,
            "event_id": "evt-77",
            "timestamp": 1767225600000,
            "inbox_id": 4242,
            "message_id": "1767225599000123",
        }
        with pytest.raises(
            AnymailConfigurationError,
            match=r"^You seem to have set Mailtrap's \*inbound\* webhook to"
            r" Anymail's Mailtrap \*tracking\* webhook URL\.$",
        ):
            post_tracking(webhook_client, {"events": [inbound_event]})
        assert tracking_events.calls == []

    def test_nothing_dispatched_from_mixed_batch(self, webhook_client, tracking_events):
        events = [
            mailtrap_event("delivery"),
            {"event": "inbound.message_received", "inbox_id": 1, "message_id": "x"},
        ]
        with pytest.raises(AnymailConfigurationError):
            post_tracking(webhook_client, {"events": events})
        assert tracking_events.calls == []

    def test_only_a_prefix_counts(self, webhook_client, tracking_events):
        post_tracking(webhook_client, {"events": [mailtrap_event("not inbound")]})
        assert tracking_events.event.event_type == "unknown"


@pytest.mark.usefixtures("signed_settings")
class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"", id="empty"),
            pytest.param(b"events=delivery", id="not JSON"),
            pytest.param(b'{"events": [', id="truncated JSON"),
            pytest.param(b"\xff\xfe{}", id="not UTF-8"),
            pytest.param(b"[]", id="array"),
            pytest.param(b"null", id="null"),
            pytest.param(b'"events"', id="string"),
            pytest.param(b'{"events": {"event": "delivery"}}', id="events object"),
            pytest.param(b'{"events": null}', id="events null"),
            pytest.param(b'{"events": [null]}', id="null event"),
            pytest.param(b'{"events": ["delivery"]}', id="event string"),
            pytest.param(b'{"events": [[]]}', id="event array"),
        ],
    )
    def test_malformed_body(self, webhook_client, tracking_events, body):
        response = post_tracking(webhook_client, body)
        assert response.status_code == 400
        assert response.content == b"Malformed Mailtrap webhook payload"
        assert tracking_events.calls == []

    @pytest.mark.parametrize("field", ["event", "timestamp", "message_id"])
    def test_missing_required_field(self, webhook_client, tracking_events, field):
        # (django-anymail answers these with a server error, 500)
        esp_event = mailtrap_event("delivery")
        del esp_event[field]
        response = post_tracking(webhook_client, {"events": [esp_event]})
        assert response.status_code == 400
        assert tracking_events.calls == []

    @pytest.mark.parametrize(
        "fields",
        [
            {"event": None},
            {"event": ["delivery"]},
            {"event": 7},
            {"timestamp": None},
            {"timestamp": "1700000000"},
            {"timestamp": True},
            {"timestamp": 10**20},
            {"timestamp": float("inf")},
            {"timestamp": float("nan")},
            {"message_id": None},
            {"message_id": 12345},
            {"email": ["a@example.com"]},
            {"event_id": {"id": 1}},
            {"category": ["welcome"]},
            {"custom_variables": ["order", "42"]},
            {"custom_variables": "order=42"},
            {"url": 5},
            {"user_agent": 5},
            {"response": 550},
        ],
        ids=lambda fields: repr(fields),
    )
    def test_wrong_field_types(self, webhook_client, tracking_events, fields):
        esp_event = {**mailtrap_event("click"), **fields}
        response = post_tracking(webhook_client, {"events": [esp_event]})
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_one_bad_event_spoils_the_batch(self, webhook_client, tracking_events):
        bad = mailtrap_event("open")
        del bad["timestamp"]
        events = [mailtrap_event("delivery"), bad, mailtrap_event("click")]
        assert post_tracking(webhook_client, {"events": events}).status_code == 400
        assert tracking_events.calls == []

    def test_form_post(self, webhook_client, tracking_events):
        # not Mailtrap's content type: Django encodes this as multipart/form-data
        # (unsigned, so that parsing is what refuses it)
        with override_settings(ANYMAIL={}), warnings.catch_warnings():
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            response = webhook_client.post(
                TRACKING_URL, {"events": json.dumps([mailtrap_event("delivery")])}
            )
        assert response.status_code == 400
        assert response.content == b"Malformed Mailtrap webhook payload"
        assert tracking_events.calls == []

    def test_signature_checked_before_parsing(
        self, webhook_client, tracking_events, security_log
    ):
        response = post_tracking(webhook_client, b"not json", secret="wrong")
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]


@pytest.mark.usefixtures("signed_settings")
class TestSignature:
    def test_valid_signature(self, webhook_client, tracking_events, security_log):
        response = post_tracking(webhook_client, {"events": [mailtrap_event("open")]})
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1
        assert security_messages(security_log) == []

    def test_spec_signature_example(self, webhook_client, tracking_events):
        # secret "sekret", body {"events":[]}: hex HMAC-SHA256 of those bytes
        body = b'{"events":[]}'
        expected = hmac.new(b"sekret", body, hashlib.sha256).hexdigest()
        with override_settings(ANYMAIL={"MAILTRAP_TRACKING_SECRET": "sekret"}):
            response = webhook_client.post(
                TRACKING_URL,
                body,
                content_type="application/json",
                HTTP_MAILTRAP_SIGNATURE=expected,
            )
        assert response.status_code == 200

    def test_missing_signature(self, webhook_client, tracking_events, security_log):
        payload = {"events": [mailtrap_event("open")]}
        response = post_tracking(webhook_client, payload, secret=None)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [NO_SIGNATURE]

    def test_empty_signature(self, webhook_client, tracking_events, security_log):
        payload = json.dumps({"events": [mailtrap_event("open")]})
        response = webhook_client.post(
            TRACKING_URL,
            payload,
            content_type="application/json",
            HTTP_MAILTRAP_SIGNATURE="",
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_wrong_secret(self, webhook_client, tracking_events, security_log):
        payload = {"events": [mailtrap_event("open")]}
        response = post_tracking(webhook_client, payload, secret="not-the-secret")
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_tampered_body(self, webhook_client, tracking_events, security_log):
        body = json.dumps({"events": [mailtrap_event("open")]}).encode()
        signature = sign(body)
        tampered = body.replace(b"open", b"spam")
        response = webhook_client.post(
            TRACKING_URL,
            tampered,
            content_type="application/json",
            HTTP_MAILTRAP_SIGNATURE=signature,
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    @pytest.mark.parametrize(
        "mangle",
        [str.upper, lambda sig: f" {sig}", lambda sig: f"sha256={sig}"],
        ids=["uppercase", "padded", "prefixed"],
    )
    def test_exact_match_required(
        self, webhook_client, tracking_events, security_log, mangle
    ):
        body = json.dumps({"events": [mailtrap_event("open")]}).encode()
        response = webhook_client.post(
            TRACKING_URL,
            body,
            content_type="application/json",
            HTTP_MAILTRAP_SIGNATURE=mangle(sign(body)),
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_inbound_secret_doesnt_sign_tracking(
        self, webhook_client, tracking_events, security_log
    ):
        payload = {"events": [mailtrap_event("open")]}
        settings = {**SIGNED, "MAILTRAP_INBOUND_SECRET": INBOUND_SECRET}
        with override_settings(ANYMAIL=settings):
            response = post_tracking(webhook_client, payload, secret=INBOUND_SECRET)
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]
        # and the inbound secret alone doesn't turn tracking checks on
        with (
            override_settings(ANYMAIL={"MAILTRAP_INBOUND_SECRET": INBOUND_SECRET}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            response = post_tracking(webhook_client, payload, secret=None)
        assert response.status_code == 200

    def test_root_level_setting(self, webhook_client, tracking_events):
        payload = {"events": [mailtrap_event("open")]}
        with override_settings(ANYMAIL={}, ANYMAIL_MAILTRAP_TRACKING_SECRET="root"):
            response = post_tracking(webhook_client, payload, secret=TRACKING_SECRET)
            assert response.status_code == 400
            response = post_tracking(webhook_client, payload, secret="root")
            assert response.status_code == 200

    def test_bare_setting_not_used(self, webhook_client, tracking_events):
        payload = {"events": [mailtrap_event("open")]}
        with (
            override_settings(ANYMAIL={}, MAILTRAP_TRACKING_SECRET="bare"),
            pytest.warns(AnymailInsecureWebhookWarning),
        ):
            response = post_tracking(webhook_client, payload, secret=None)
        assert response.status_code == 200

    def test_empty_secret_counts_as_set(self, webhook_client, tracking_events):
        payload = {"events": [mailtrap_event("open")]}
        with (
            override_settings(ANYMAIL={"MAILTRAP_TRACKING_SECRET": ""}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            unsigned = post_tracking(webhook_client, payload, secret=None)
            signed = post_tracking(webhook_client, payload, secret="")
        assert unsigned.status_code == 400
        assert signed.status_code == 200

    def test_non_ascii_secret(self, webhook_client, tracking_events):
        secret = "sécret-✓"
        payload = {"events": [mailtrap_event("open")]}
        with override_settings(ANYMAIL={"MAILTRAP_TRACKING_SECRET": secret}):
            response = post_tracking(webhook_client, payload, secret=secret)
        assert response.status_code == 200

    def test_as_view_kwarg(self, webhook_client, tracking_events, security_log):
        payload = {"events": [mailtrap_event("open")]}
        response = post_tracking(webhook_client, payload, url=CUSTOM_URL)
        assert response.status_code == 400  # signed with the settings' secret
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]
        response = post_tracking(
            webhook_client, payload, secret=KWARG_SECRET, url=CUSTOM_URL
        )
        assert response.status_code == 200

    def test_secret_stored_as_given(self):
        view = MailtrapTrackingWebhookView.as_view(tracking_secret="kwarg")
        instance = view.view_class(**view.view_initkwargs)
        assert instance.tracking_secret == "kwarg"
        assert MailtrapTrackingWebhookView().tracking_secret == TRACKING_SECRET

    def test_non_utf8_body_signed(self, webhook_client, tracking_events):
        response = post_tracking(webhook_client, b"\xff\xfe\x00")
        assert response.status_code == 400
        assert response.content == b"Malformed Mailtrap webhook payload"


class TestBasicAuth:
    AUTH = basic_auth_header("user:p@ss:word")

    @pytest.fixture(autouse=True)
    def basic_auth_settings(self):
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": "user:p@ss:word"}):
            yield

    def test_right_credentials(self, webhook_client, tracking_events, security_log):
        payload = {"events": [mailtrap_event("open")]}
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_tracking(
                webhook_client, payload, secret=None, HTTP_AUTHORIZATION=self.AUTH
            )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1
        assert security_messages(security_log) == []

    @pytest.mark.parametrize(
        "authorization",
        [None, basic_auth_header("user:wrong"), "Bearer user:p@ss:word"],
        ids=["missing", "wrong", "not basic"],
    )
    def test_wrong_credentials(
        self, webhook_client, tracking_events, security_log, authorization
    ):
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        payload = {"events": [mailtrap_event("open")]}
        response = post_tracking(webhook_client, payload, secret=None, **extra)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [BAD_BASIC_AUTH]

    def test_rotated_credentials(self, webhook_client, tracking_events):
        payload = {"events": [mailtrap_event("open")]}
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": ["new:one", "old:one"]}):
            for credentials in ["new:one", "old:one"]:
                response = post_tracking(
                    webhook_client,
                    payload,
                    secret=None,
                    HTTP_AUTHORIZATION=basic_auth_header(credentials),
                )
                assert response.status_code == 200
        assert len(tracking_events.calls) == 2

    def test_basic_auth_and_signature_both_required(
        self, webhook_client, tracking_events, security_log
    ):
        settings = {"WEBHOOK_SECRET": "user:p@ss:word", **SIGNED}
        payload = {"events": [mailtrap_event("open")]}
        with override_settings(ANYMAIL=settings):
            signed_no_auth = post_tracking(webhook_client, payload)
            auth_unsigned = post_tracking(
                webhook_client, payload, secret=None, HTTP_AUTHORIZATION=self.AUTH
            )
            both_wrong = post_tracking(webhook_client, payload, secret="wrong")
            both = post_tracking(webhook_client, payload, HTTP_AUTHORIZATION=self.AUTH)
        assert signed_no_auth.status_code == 400
        assert auth_unsigned.status_code == 400
        assert both_wrong.status_code == 400
        assert both.status_code == 200
        assert len(tracking_events.calls) == 1
        # one log record per refused request; basic auth is checked first
        assert security_messages(security_log) == [
            BAD_BASIC_AUTH,
            NO_SIGNATURE,
            BAD_BASIC_AUTH,
        ]


class TestInsecureWarning:
    def test_warns_without_any_secret(self, webhook_client, tracking_events):
        with (
            override_settings(ANYMAIL={}),
            pytest.warns(AnymailInsecureWebhookWarning) as record,
        ):
            response = post_tracking(
                webhook_client, {"events": [mailtrap_event("open")]}, secret=None
            )
        assert response.status_code == 200  # just a warning
        assert len(tracking_events.calls) == 1
        messages = [
            str(w.message)
            for w in record
            if issubclass(w.category, AnymailInsecureWebhookWarning)
        ]
        assert messages == [
            "Your Anymail webhooks are insecure and open to anyone on the web."
            " You should set WEBHOOK_SECRET in your ANYMAIL settings."
            " See 'Securing webhooks' in the Anymail docs."
        ]

    def test_warns_on_every_request(self):
        with (
            override_settings(ANYMAIL={}),
            warnings.catch_warnings(record=True) as record,
        ):
            warnings.simplefilter("always")
            MailtrapTrackingWebhookView()
            MailtrapTrackingWebhookView()
        insecure = [
            w for w in record if issubclass(w.category, AnymailInsecureWebhookWarning)
        ]
        assert len(insecure) == 2

    @pytest.mark.parametrize(
        "anymail_settings",
        [
            {"MAILTRAP_TRACKING_SECRET": TRACKING_SECRET},
            {"MAILTRAP_TRACKING_SECRET": ""},
            {"WEBHOOK_SECRET": "user:pass"},
        ],
        ids=["tracking secret", "empty tracking secret", "webhook secret"],
    )
    def test_no_warning(self, anymail_settings):
        with (
            override_settings(ANYMAIL=anymail_settings),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            MailtrapTrackingWebhookView()

    def test_no_warning_with_as_view_secret(self):
        with (
            override_settings(ANYMAIL={}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            view = MailtrapTrackingWebhookView.as_view(tracking_secret="k")
            view.view_class(**view.view_initkwargs)

    def test_inbound_secret_doesnt_silence_tracking(self):
        with (
            override_settings(ANYMAIL={"MAILTRAP_INBOUND_SECRET": INBOUND_SECRET}),
            pytest.warns(AnymailInsecureWebhookWarning),
        ):
            MailtrapTrackingWebhookView()


@pytest.mark.usefixtures("signed_settings")
class TestHttpMethods:
    def test_head_without_validation(
        self, webhook_client, tracking_events, security_log
    ):
        with override_settings(ANYMAIL={**SIGNED, "WEBHOOK_SECRET": "u:p"}):
            response = webhook_client.head(TRACKING_URL)
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []
        assert security_messages(security_log) == []

    def test_options(self, webhook_client):
        response = webhook_client.options(TRACKING_URL)
        assert response.status_code == 200
        assert response["Allow"] == "POST, HEAD, OPTIONS"

    def test_get_not_allowed(self, webhook_client):
        response = webhook_client.get(TRACKING_URL)
        assert response.status_code == 405

    def test_csrf_exempt_without_token(self, webhook_client, tracking_events):
        # webhook_client enforces CSRF checks; the view must be exempt
        response = post_tracking(webhook_client, {"events": [mailtrap_event("open")]})
        assert response.status_code == 200

    def test_receiver_exception_propagates(self, webhook_client):
        def failing_receiver(**kwargs):
            raise RuntimeError("receiver failed")

        tracking.connect(failing_receiver)
        try:
            with pytest.raises(RuntimeError, match="receiver failed"):
                post_tracking(webhook_client, {"events": [mailtrap_event("open")]})
        finally:
            tracking.disconnect(failing_receiver)


class TestModule:
    def test_url_name(self):
        assert reverse("anymail:mailtrap_tracking_webhook") == TRACKING_URL

    def test_class_hierarchy(self):
        assert issubclass(MailtrapTrackingWebhookView, MailtrapWebhookView)
        assert MailtrapTrackingWebhookView.esp_name == "Mailtrap"
        assert MailtrapWebhookView.esp_name == "Mailtrap"
        assert MailtrapTrackingWebhookView.signal is tracking

    def test_typed_dicts(self):
        assert "custom_variables" in (
            mailtrap_webhooks.MailtrapReceiveEvent.__annotations__
        )
        assert "from" in mailtrap_webhooks.MailtrapInboundEvent.__annotations__
        assert "raw_message_url" in (
            mailtrap_webhooks.MailtrapInboundMessage.__annotations__
        )
        # 15.2 renamed MailtrapEvent to MailtrapReceiveEvent
        assert not hasattr(mailtrap_webhooks, "MailtrapEvent")
