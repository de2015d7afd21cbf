"""Brevo tracking webhook: BrevoTrackingWebhookView."""

import json
import logging
import warnings
from datetime import datetime, timezone

import pytest
from django.urls import include, path, reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import AnymailTrackingEvent, tracking
from anymail.webhooks.brevo import BrevoTrackingWebhookView

from .conftest import (
    INSECURE_WARNING,
    basic_auth_header,
    event_fields,
    post_json_with_auth,
    security_messages,
)

# Routes for the as_view() test (selected with pytest.mark.urls on that test only)
urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "custom/brevo/",
        BrevoTrackingWebhookView.as_view(basic_auth=["route:only"]),
        name="custom_brevo",
    ),
]

URL = "/anymail/brevo/tracking/"
SECRET = "brevo-user:brevo:password"
AUTH = basic_auth_header(SECRET)

MESSAGE_ID = "<202401151030.12345678901@smtp-relay.mailin.fr>"
TS_EPOCH = 1705314645123  # 2024-01-15 10:30:45.123 UTC
TIMESTAMP = datetime(2024, 1, 15, 10, 30, 45, 123000, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    """Most tests post with the right basic auth for this secret."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post_event(client, payload, auth=AUTH, url=URL, **extra):
    return post_json_with_auth(client, payload, auth=auth, url=url, **extra)


def brevo_event(event, **fields):
    """A transactional webhook payload as Brevo posts it."""
    payload = {
        "event": event,
        "email": "recipient@example.com",
        "id": 1094573,  # Brevo's webhook id, not an event id
        "date": "2024-01-15 11:30:45",  # account-local time: ignored
        "ts": 1705311045,  # ditto
        "ts_event": 1705311045,  # ditto
        "ts_epoch": TS_EPOCH,
        "message-id": MESSAGE_ID,
        "subject": "Your order",
        "sending_ip": "185.41.28.109",
        "template_id": 12,
        "X-Mailin-custom": '{"order_id": "A-1001", "items": 3}',
        "tags": ["orders", "receipts"],
    }
    payload.update(fields)
    return payload


def expected_fields(payload, **overrides):
    fields = {
        "event_type": None,
        "timestamp": TIMESTAMP,
        "event_id": None,
        "message_id": MESSAGE_ID,
        "recipient": "recipient@example.com",
        "metadata": {"order_id": "A-1001", "items": 3},
        "tags": ["orders", "receipts"],
        "reject_reason": None,
        "description": None,
        "mta_response": None,
        "user_agent": None,
        "click_url": None,
        "esp_event": payload,
    }
    fields.update(overrides)
    return fields


class TestEventTypes:
    # One row per line of the spec's mapping table
    @pytest.mark.parametrize(
        "brevo_type, event_type, reject_reason",
        [
            ("request", "queued", None),
            ("delivered", "delivered", None),
            ("hard_bounce", "bounced", "bounced"),
            ("soft_bounce", "bounced", "bounced"),
            ("blocked", "rejected", "blocked"),
            ("spam", "complained", "spam"),
            ("complaint", "complained", "spam"),
            ("invalid_email", "bounced", "invalid"),
            ("deferred", "deferred", None),
            ("unique_opened", "opened", None),
            ("opened", "opened", None),
            ("unique_proxy_open", "opened", None),
            ("proxy_open", "opened", None),
            ("click", "clicked", None),
            ("unsubscribe", "unsubscribed", None),
            ("error", "failed", None),
            ("list_addition", "subscribed", None),
            ("something_new", "unknown", None),
            ("Delivered", "unknown", None),  # case matters
            ("", "unknown", None),
            (None, "unknown", None),
        ],
    )
    def test_mapping(
        self, webhook_client, tracking_events, brevo_type, event_type, reject_reason
    ):
        payload = brevo_event(brevo_type)
        response = post_event(webhook_client, payload)
        assert response.status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload, event_type=event_type, reject_reason=reject_reason
        )

    def test_missing_event_is_unknown(self, webhook_client, tracking_events):
        payload = brevo_event("delivered")
        del payload["event"]
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.event_type == "unknown"
        assert tracking_events.event.reject_reason is None

    def test_empty_object_is_unknown_event(self, webhook_client, tracking_events):
        assert post_event(webhook_client, {}).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "unknown",
            "timestamp": None,
            "event_id": None,
            "message_id": None,
            "recipient": None,
            "metadata": {},
            "tags": [],
            "reject_reason": None,
            "description": None,
            "mta_response": None,
            "user_agent": None,
            "click_url": None,
            "esp_event": {},
        }


class TestEvents:
    """Realistic payloads for each kind of event."""

    def test_spec_sample_hard_bounce(self, webhook_client, tracking_events):
        payload = {
            "event": "hard_bounce",
            "email": "bob@example.com",
            "id": 123,
            "message-id": "<msg-123@smtp-relay.mailin.fr>",
            "ts_epoch": 1520363423000,
            "reason": "550 5.1.1 mailbox unavailable",
            "X-Mailin-custom": '{"order": "A1"}',
            "tags": ["receipt"],
        }
        response = post_event(webhook_client, payload)
        assert response.status_code == 200
        assert response.content == b""
        assert event_fields(tracking_events.event) == {
            "event_type": "bounced",
            "timestamp": datetime(2018, 3, 6, 19, 10, 23, tzinfo=timezone.utc),
            "event_id": None,
            "message_id": "<msg-123@smtp-relay.mailin.fr>",
            "recipient": "bob@example.com",
            "metadata": {"order": "A1"},
            "tags": ["receipt"],
            "reject_reason": "bounced",
            "description": None,
            "mta_response": "550 5.1.1 mailbox unavailable",
            "user_agent": None,
            "click_url": None,
            "esp_event": payload,
        }

    def test_delivered(self, webhook_client, tracking_events):
        payload = brevo_event("delivered")
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert isinstance(event, AnymailTrackingEvent)
        assert event_fields(event) == expected_fields(payload, event_type="delivered")
        assert event.timestamp.tzinfo is not None

    def test_soft_bounce_reason(self, webhook_client, tracking_events):
        reason = "  452 4.2.2 The email account that you tried to reach is over quota"
        payload = brevo_event("soft_bounce", reason=reason)
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload,
            event_type="bounced",
            reject_reason="bounced",
            mta_response=reason,  # as-is, leading spaces kept
        )

    def test_blocked(self, webhook_client, tracking_events):
        payload = brevo_event("blocked", reason="blocked : due to blacklist user")
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload,
            event_type="rejected",
            reject_reason="blocked",
            mta_response="blocked : due to blacklist user",
        )

    def test_invalid_email(self, webhook_client, tracking_events):
        payload = brevo_event("invalid_email", email="not-an-address")
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload,
            event_type="bounced",
            reject_reason="invalid",
            recipient="not-an-address",
        )

    def test_deferred(self, webhook_client, tracking_events):
        payload = brevo_event("deferred", reason="421 4.7.0 Try again later")
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload,
            event_type="deferred",
            mta_response="421 4.7.0 Try again later",
        )

    def test_click(self, webhook_client, tracking_events):
        link = "https://www.example.com/track?utm_source=brevo&id=1"
        payload = brevo_event("click", link=link)
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload, event_type="clicked", click_url=link
        )

    def test_proxy_open(self, webhook_client, tracking_events):
        payload = brevo_event("proxy_open")
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload, event_type="opened"
        )

    def test_complaint(self, webhook_client, tracking_events):
        payload = brevo_event("spam")
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload, event_type="complained", reject_reason="spam"
        )

    def test_error(self, webhook_client, tracking_events):
        payload = brevo_event("error", reason="Sender not authorized")
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload, event_type="failed", mta_response="Sender not authorized"
        )

    def test_request_minimal(self, webhook_client, tracking_events):
        payload = {
            "event": "request",
            "email": "someone@example.com",
            "message-id": MESSAGE_ID,
            "ts_epoch": TS_EPOCH,
        }
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            payload,
            event_type="queued",
            recipient="someone@example.com",
            metadata={},
            tags=[],
        )


class TestFields:
    def test_timestamp_only_from_ts_epoch(self, webhook_client, tracking_events):
        payload = brevo_event("delivered")
        del payload["ts_epoch"]
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.timestamp is None  # ts/ts_event/date ignored

    def test_null_ts_epoch(self, webhook_client, tracking_events):
        assert (
            post_event(webhook_client, brevo_event("opened", ts_epoch=None)).status_code
            == 200
        )
        assert tracking_events.event.timestamp is None

    def test_float_ts_epoch(self, webhook_client, tracking_events):
        payload = brevo_event("opened", ts_epoch=1705314645123.0)
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.timestamp == TIMESTAMP
        assert tracking_events.event.timestamp.utcoffset().total_seconds() == 0

    def test_brevo_id_is_not_event_id(self, webhook_client, tracking_events):
        payload = brevo_event("delivered", id=987654)
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.event_id is None

    @pytest.mark.parametrize(
        "fields, expected",
        [
            ({"tags": ["a", "b"]}, ["a", "b"]),
            ({"tags": []}, []),
            ({"tag": "welcome"}, ["welcome"]),
            # Older events' "tag" can itself hold JSON: wrapped as it is
            ({"tag": '["welcome", "new"]'}, ['["welcome", "new"]']),
            ({"tag": ["a"]}, [["a"]]),
            ({"tag": ""}, [""]),
            ({"tags": ["from-tags"], "tag": "from-tag"}, ["from-tags"]),
            ({"tags": None, "tag": "from-tag"}, ["from-tag"]),
            ({"tags": None}, []),
            ({"tags": "single"}, ["single"]),
            ({}, []),
        ],
    )
    def test_tags(self, webhook_client, tracking_events, fields, expected):
        payload = brevo_event("delivered")
        del payload["tags"]
        payload.update(fields)
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.tags == expected

    @pytest.mark.parametrize(
        "custom, expected",
        [
            (
                '{"user_id": "12345", "float": 98.6, "nested": {"a": [1]}}',
                {"user_id": "12345", "float": 98.6, "nested": {"a": [1]}},
            ),
            ('{"name": "\\u00e9l\\u00e8ve"}', {"name": "\u00e9l\u00e8ve"}),
            ("{}", {}),
            ("", {}),
            (None, {}),
            (123, {}),  # not a string: no metadata
            ({"already": "parsed"}, {}),
        ],
    )
    def test_metadata(self, webhook_client, tracking_events, custom, expected):
        payload = brevo_event("delivered", **{"X-Mailin-custom": custom})
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.metadata == expected

    def test_no_metadata_key(self, webhook_client, tracking_events):
        payload = brevo_event("delivered")
        del payload["X-Mailin-custom"]
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.metadata == {}

    def test_user_agent_and_description_never_set(
        self, webhook_client, tracking_events
    ):
        payload = brevo_event(
            "unique_opened",
            user_agent="Mozilla/5.0",
            description="something",
            reason="n/a",
        )
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert event.user_agent is None
        assert event.description is None
        assert event.mta_response == "n/a"

    def test_esp_event_is_parsed_payload(self, webhook_client, tracking_events):
        payload = brevo_event("delivered", extra={"nested": [1, 2]})
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.esp_event == payload
        assert isinstance(tracking_events.event.esp_event, dict)

    def test_non_ascii_payload(self, webhook_client, tracking_events):
        payload = brevo_event("delivered", email="j\u00f6rg@b\u00fccher.example")
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        assert post_event(webhook_client, body).status_code == 200
        assert tracking_events.event.recipient == "j\u00f6rg@b\u00fccher.example"


class TestSignal:
    def test_signal_kwargs(self, webhook_client, tracking_events):
        assert post_event(webhook_client, brevo_event("delivered")).status_code == 200
        call = tracking_events.calls[0]
        assert call["sender"] is BrevoTrackingWebhookView
        assert call["esp_name"] == "Brevo"
        assert call["signal"] is tracking
        assert set(call) == {"signal", "sender", "event", "esp_name"}

    def test_each_post_is_one_event_in_order(self, webhook_client, tracking_events):
        for brevo_type in ("request", "delivered", "unique_opened", "click"):
            response = post_event(webhook_client, brevo_event(brevo_type))
            assert response.status_code == 200
        assert [event.event_type for event in tracking_events.events] == [
            "queued",
            "delivered",
            "opened",
            "clicked",
        ]
        assert len(tracking_events.calls) == 4

    def test_json_array_is_malformed(self, webhook_client, tracking_events):
        # Brevo posts one event object per request
        payload = [brevo_event("delivered"), brevo_event("opened")]
        response = post_event(webhook_client, payload)
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_receiver_exception_propagates(self, webhook_client):
        def failing_receiver(**kwargs):
            raise RuntimeError("receiver failed")

        tracking.connect(failing_receiver)
        try:
            with pytest.raises(RuntimeError, match="receiver failed"):
                post_event(webhook_client, brevo_event("delivered"))
        finally:
            tracking.disconnect(failing_receiver)

    def test_url_name(self):
        assert reverse("anymail:brevo_tracking_webhook") == URL


class TestMisdirected:
    def test_inbound_payload(self, webhook_client, tracking_events):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_event(webhook_client, {"items": [{"Uuid": ["abc"]}]})
        assert str(excinfo.value) == (
            "You seem to have set Brevo's *inbound* webhook URL"
            " to Anymail's Brevo *tracking* webhook URL."
        )
        assert tracking_events.calls == []

    def test_empty_inbound_payload(self, webhook_client, tracking_events):
        with pytest.raises(AnymailConfigurationError, match=r"\*inbound\* webhook"):
            post_event(webhook_client, {"items": []})
        assert tracking_events.calls == []


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b"{'event': 'delivered'}",
            b'{"event": "delivered"',
            b"\xff\xfe\x00garbage",
            b"null",
            b'"delivered"',
            b"42",
            b"[]",
        ],
    )
    def test_bad_body(self, webhook_client, tracking_events, caplog, body):
        response = post_event(webhook_client, body)
        assert response.status_code == 400
        assert b"Malformed Brevo webhook payload" in response.content
        assert tracking_events.calls == []
        assert "Malformed Brevo webhook payload" in caplog.text

    @pytest.mark.parametrize(
        "fields",
        [
            {"event": ["delivered"]},
            {"event": 1},
            {"email": 42},
            {"message-id": ["<a@b>"]},
            {"reason": {"code": 550}},
            {"link": 7},
            {"ts_epoch": "1705314645123"},
            {"ts_epoch": True},
            {"ts_epoch": 10**30},
            {"X-Mailin-custom": "not json"},  # django-anymail: 500
            {"X-Mailin-custom": "some_custom_header"},
            {"X-Mailin-custom": "[1, 2]"},
            {"X-Mailin-custom": "null"},
        ],
    )
    def test_wrong_field_values(self, webhook_client, tracking_events, fields):
        payload = brevo_event("delivered")
        payload.update(fields)
        response = post_event(webhook_client, payload)
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_form_post(self, webhook_client, tracking_events):
        response = webhook_client.post(
            URL,
            {"event": "delivered", "email": "recipient@example.com"},
            HTTP_AUTHORIZATION=AUTH,
        )  # multipart/form-data
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_urlencoded_post(self, webhook_client, tracking_events):
        response = post_event(
            webhook_client,
            "event=delivered&email=recipient%40example.com",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 400
        assert tracking_events.calls == []


class TestMethods:
    def test_head_is_200_without_validation(self, webhook_client, tracking_events):
        response = webhook_client.head(URL)  # no credentials
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []

    def test_options(self, webhook_client):
        response = webhook_client.options(URL)
        assert response.status_code == 200
        assert response["Allow"] == "POST, HEAD, OPTIONS"

    def test_get_not_allowed(self, webhook_client, tracking_events):
        response = webhook_client.get(URL, HTTP_AUTHORIZATION=AUTH)
        assert response.status_code == 405
        assert tracking_events.calls == []

    def test_csrf_exempt(self, webhook_client, tracking_events):
        # webhook_client enforces CSRF; no token or cookie sent
        assert post_event(webhook_client, brevo_event("delivered")).status_code == 200
        assert len(tracking_events.calls) == 1


class TestSecurity:
    @pytest.fixture
    def security_log(self, caplog):
        caplog.set_level(logging.ERROR, logger="django.security")
        return caplog

    def test_correct_credentials_no_warning(self, webhook_client, tracking_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_event(webhook_client, brevo_event("delivered"))
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @pytest.mark.parametrize(
        "auth",
        [
            None,
            basic_auth_header("brevo-user:wrong"),
            basic_auth_header("other:brevo:password"),
            "Bearer " + SECRET,
            "Basic not-base64!",
            AUTH + " extra",
        ],
    )
    def test_refused(self, webhook_client, tracking_events, security_log, auth):
        response = post_event(webhook_client, brevo_event("delivered"), auth=auth)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Brevo webhook"
        ]

    def test_refused_before_parsing(
        self, webhook_client, tracking_events, security_log
    ):
        # an unauthenticated post isn't even parsed (no misdirection error, no 400
        # for the body)
        response = post_event(webhook_client, {"items": []}, auth=None)
        assert response.status_code == 400
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Brevo webhook"
        ]

    def test_rotated_secrets(self, settings, webhook_client, tracking_events):
        settings.ANYMAIL = {"WEBHOOK_SECRET": ["new:secret", SECRET]}
        assert post_event(webhook_client, brevo_event("delivered")).status_code == 200
        new_auth = basic_auth_header("new:secret")
        response = post_event(webhook_client, brevo_event("opened"), auth=new_auth)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 2

    def test_flat_setting(self, settings, webhook_client, tracking_events):
        settings.ANYMAIL = {}
        settings.ANYMAIL_WEBHOOK_SECRET = SECRET
        response = post_event(webhook_client, brevo_event("delivered"), auth=None)
        assert response.status_code == 400
        assert post_event(webhook_client, brevo_event("delivered")).status_code == 200

    @pytest.mark.parametrize(
        "anymail", [{}, {"WEBHOOK_SECRET": ""}, {"WEBHOOK_SECRET": []}]
    )
    def test_insecure_warning(self, settings, webhook_client, tracking_events, anymail):
        settings.ANYMAIL = anymail
        with pytest.warns(AnymailInsecureWebhookWarning) as record:
            response = post_event(webhook_client, brevo_event("delivered"), auth=None)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1
        assert [str(w.message) for w in record] == [INSECURE_WARNING]

    def test_insecure_accepts_any_auth(self, settings, webhook_client, tracking_events):
        settings.ANYMAIL = {}
        with pytest.warns(AnymailInsecureWebhookWarning):
            response = post_event(
                webhook_client, brevo_event("delivered"), auth="Basic bm9wZTpub3Bl"
            )
        assert response.status_code == 200

    def test_head_warns_too_without_secret(self, settings, webhook_client):
        # a new view instance (and its settings check) for every request
        settings.ANYMAIL = {}
        with pytest.warns(AnymailInsecureWebhookWarning):
            assert webhook_client.head(URL).status_code == 200

    @pytest.mark.urls(__name__)
    def test_as_view_basic_auth(self, webhook_client, tracking_events):
        url = reverse("custom_brevo")
        assert (
            post_event(webhook_client, brevo_event("delivered"), url=url).status_code
            == 400
        )
        response = post_event(
            webhook_client,
            brevo_event("delivered"),
            url=url,
            auth=basic_auth_header("route:only"),
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1
