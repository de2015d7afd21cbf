"""Resend tracking webhook: Svix signatures, event normalization."""

import base64
import hashlib
import hmac
import json
import logging
import subprocess
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest
from django.test import override_settings
from django.urls import include, path

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import AnymailTrackingEvent, tracking
from anymail.webhooks.resend import ResendTrackingWebhookView

from .conftest import basic_auth_header, security_messages

TRACKING_URL = "/anymail/resend/tracking/"

# Svix secrets are "whsec_" + base64 of the raw HMAC key
SIGNING_KEY = b"resend tracking test key 0123456"
SIGNING_SECRET = "whsec_" + base64.b64encode(SIGNING_KEY).decode("ascii")
OTHER_KEY = b"some other endpoint's key 987654"
OTHER_SECRET = "whsec_" + base64.b64encode(OTHER_KEY).decode("ascii")

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "custom/tracking/",
        ResendTrackingWebhookView.as_view(signing_secret=OTHER_SECRET),
    ),
]

pytestmark = pytest.mark.urls(__name__)

INCORRECT_SIGNATURE = (
    "Resend webhook called with incorrect signature"
    " (check Anymail RESEND_SIGNING_SECRET setting)"
)
BAD_BASIC_AUTH = "Missing or invalid basic auth in Anymail Resend webhook"
MALFORMED = b"Malformed Resend webhook payload"
INSECURE = "Your Anymail webhooks are insecure and open to anyone on the web."


def svix_signature(key, msg_id, timestamp, body):
    """Svix's v1 signature: base64 HMAC-SHA256 of "<id>.<timestamp>.<body>"."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return (
        "v1,"
        + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    )


def svix_headers(body, key=SIGNING_KEY, msg_id="msg_2a8Pq1", timestamp=None):
    """Django test client kwargs for Svix's three headers, correctly signed."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "HTTP_SVIX_ID": msg_id,
        "HTTP_SVIX_TIMESTAMP": str(timestamp),
        "HTTP_SVIX_SIGNATURE": svix_signature(key, msg_id, timestamp, body),
    }


def post_json(
    client, payload, *, signed=True, key=SIGNING_KEY, url=TRACKING_URL, **extra
):
    body = json.dumps(payload).encode("utf-8")
    headers = svix_headers(body, key=key) if signed else {}
    headers.update(extra)
    return client.post(url, body, content_type="application/json", **headers)


def resend_event(event_type, data_extra=None, **top_level):
    """A Resend email.* webhook payload like Resend's docs show."""
    data = {
        "email_id": "56761188-7520-42d8-8898-ff6fc54ce618",
        "created_at": "2024-02-22T23:41:11.894719+00:00",
        "from": "Acme <onboarding@resend.dev>",
        "to": ["Delivered User <delivered@resend.dev>"],
        "subject": "Sending this example",
        "headers": [
            {"name": "X-Tags", "value": '["welcome", "onboarding"]'},
            {"name": "X-Metadata", "value": '{"user_id": "12345", "order": 7}'},
        ],
        "tags": {"category": "confirm_email"},
    }
    data.update(data_extra or {})
    payload = {
        "type": event_type,
        "created_at": "2024-02-22T23:41:12.126Z",
        "data": data,
    }
    payload.update(top_level)
    return payload


HARD_BOUNCE = "The recipient's email provider sent a hard bounce message."
EVENT_TIME = datetime(2024, 2, 22, 23, 41, 12, 126000, tzinfo=timezone.utc)


@pytest.fixture
def signed_settings():
    with override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": SIGNING_SECRET}):
        yield


# -- event normalization ---------------------------------------------------------


BOUNCE = {
    "bounce": {
        "message": "The recipient's email provider sent a hard bounce message, "
        "and there's nothing more Resend can do.",
        "subType": "Suppressed",
        "type": "Permanent",
    }
}
CLICK = {
    "click": {
        "ipAddress": "122.115.53.11",
        "link": "https://resend.com/blog?utm=1",
        "timestamp": "2024-11-24T05:00:57.163Z",
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
    }
}
OPEN_DATA = {"open": {"userAgent": "ignored for opens"}}
FAILED = {"failed": {"reason": "reached_daily_quota"}}


@pytest.mark.usefixtures("signed_settings")
class TestEventTypes:
    # One row per line of the spec's event-type table
    @pytest.mark.parametrize(
        "resend_type, data_extra, expected",
        [
            ("email.sent", {}, {"event_type": "sent"}),
            ("email.delivered", {}, {"event_type": "delivered"}),
            ("email.delivery_delayed", {}, {"event_type": "deferred"}),
            ("email.complained", {}, {"event_type": "complained"}),
            (
                "email.bounced",
                BOUNCE,
                {
                    "event_type": "bounced",
                    "reject_reason": "bounced",
                    "description": BOUNCE["bounce"]["message"],
                },
            ),
            ("email.opened", OPEN_DATA, {"event_type": "opened"}),
            (
                "email.clicked",
                CLICK,
                {
                    "event_type": "clicked",
                    "click_url": "https://resend.com/blog?utm=1",
                    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
                },
            ),
            ("email.failed", FAILED, {"event_type": "unknown"}),
            ("email.scheduled", {}, {"event_type": "unknown"}),
            ("email.received", {}, {"event_type": "unknown"}),
            ("contact.created", {}, {"event_type": "unknown"}),
        ],
    )
    def test_event(
        self, webhook_client, tracking_events, resend_type, data_extra, expected
    ):
        payload = resend_event(resend_type, data_extra)
        response = post_json(webhook_client, payload)
        assert response.status_code == 200
        assert response.content == b""

        event = tracking_events.event
        assert isinstance(event, AnymailTrackingEvent)
        fields = {
            "event_type": None,
            "timestamp": EVENT_TIME,
            "event_id": "msg_2a8Pq1",
            "message_id": "56761188-7520-42d8-8898-ff6fc54ce618",
            "recipient": "delivered@resend.dev",
            "metadata": {"user_id": "12345", "order": 7},
            "tags": ["welcome", "onboarding"],
            "reject_reason": None,
            "description": None,
            "mta_response": None,
            "user_agent": None,
            "click_url": None,
            "esp_event": payload,
        }
        fields.update(expected)
        assert {name: getattr(event, name) for name in fields} == fields
        assert event.timestamp.utcoffset() == timedelta(0)

        call = tracking_events.calls[0]
        assert call["sender"] is ResendTrackingWebhookView
        assert call["esp_name"] == "Resend"
        assert call["signal"] is tracking

    def test_spec_sample_bounce(self, webhook_client, tracking_events):
        payload = {
            "type": "email.bounced",
            "created_at": "2023-10-02T18:11:26.101Z",
            "data": {
                "email_id": "em-123",
                "created_at": "2023-10-02T18:11:25.729Z",
                "from": "Sender <from@example.com>",
                "to": ["Bob <bob@example.org>", "x@example.org"],
                "subject": "Hi",
                "bounce": {"message": HARD_BOUNCE},
                "headers": [
                    {"name": "X-Tags", "value": '["welcome"]'},
                    {"name": "X-Metadata", "value": '{"user_id": 7}'},
                ],
            },
        }
        body = json.dumps(payload).encode()
        response = webhook_client.post(
            TRACKING_URL,
            body,
            content_type="application/json",
            **svix_headers(body, msg_id="msg_abc"),
        )
        assert response.status_code == 200
        event = tracking_events.event
        assert event.event_type == "bounced"
        assert event.reject_reason == "bounced"
        assert event.event_id == "msg_abc"
        assert event.message_id == "em-123"
        assert event.recipient == "bob@example.org"
        assert event.tags == ["welcome"]
        assert event.metadata == {"user_id": 7}
        # the event's time, not data.created_at (when the message was created)
        assert event.timestamp == datetime(
            2023, 10, 2, 18, 11, 26, 101000, tzinfo=timezone.utc
        )
        assert (
            event.description
            == "The recipient's email provider sent a hard bounce message."
        )
        assert event.esp_event["data"]["bounce"] == payload["data"]["bounce"]

    def test_one_event_per_post(self, webhook_client, tracking_events):
        # Resend never batches: each POST is one event, so each POST → one signal,
        # in the order posted
        for resend_type in ["email.sent", "email.delivered", "email.opened"]:
            assert (
                post_json(webhook_client, resend_event(resend_type)).status_code == 200
            )
        assert [e.event_type for e in tracking_events.events] == [
            "sent",
            "delivered",
            "opened",
        ]
        assert all(
            c["sender"] is ResendTrackingWebhookView for c in tracking_events.calls
        )

    def test_native_tags_stay_in_esp_event(self, webhook_client, tracking_events):
        post_json(webhook_client, resend_event("email.sent"))
        event = tracking_events.event
        # Resend's own tags aren't Anymail tags
        assert event.tags == ["welcome", "onboarding"]
        assert event.esp_event["data"]["tags"] == {"category": "confirm_email"}


@pytest.mark.usefixtures("signed_settings")
class TestRejectReasons:
    @pytest.mark.parametrize(
        "bounce_message, reject_reason",
        [
            (
                "Resend has suppressed sending to this address because it is on the "
                "account-level suppression list. This does not count toward your "
                "bounce rate metric",
                "blocked",
            ),
            ("The recipient's email provider sent a hard bounce message.", "bounced"),
            (
                "The recipient's email provider sent a general bounce message.",
                "bounced",
            ),
            ("Mailbox full", "other"),
            ("", "other"),
        ],
    )
    def test_bounce_message(
        self, webhook_client, tracking_events, bounce_message, reject_reason
    ):
        payload = resend_event("email.bounced", {"bounce": {"message": bounce_message}})
        assert post_json(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert event.reject_reason == reject_reason
        assert event.description == bounce_message

    def test_no_bounce(self, webhook_client, tracking_events):
        post_json(webhook_client, resend_event("email.bounced"))
        assert tracking_events.event.reject_reason is None
        assert tracking_events.event.description is None

    def test_bounce_on_any_event_type(self, webhook_client, tracking_events):
        payload = resend_event(
            "email.delivery_delayed",
            {"bounce": {"message": "Resend has suppressed sending to this address"}},
        )
        post_json(webhook_client, payload)
        assert tracking_events.event.event_type == "deferred"
        assert tracking_events.event.reject_reason == "blocked"

    def test_null_bounce_is_no_bounce(self, webhook_client, tracking_events):
        # departure: django-anymail 15.2 fails (500) on "bounce": null
        post_json(webhook_client, resend_event("email.bounced", {"bounce": None}))
        assert tracking_events.event.reject_reason is None
        assert tracking_events.event.description is None

    def test_bounce_without_message(self, webhook_client, tracking_events):
        payload = resend_event("email.bounced", {"bounce": {"type": "Permanent"}})
        post_json(webhook_client, payload)
        assert tracking_events.event.reject_reason == "other"
        assert tracking_events.event.description is None


@pytest.mark.usefixtures("signed_settings")
class TestEventFields:
    @pytest.mark.parametrize(
        "created_at, expected",
        [
            ("2024-02-22T23:41:12.126Z", EVENT_TIME),
            (
                "2024-11-26T15:35:53.843339+00:00",
                datetime(2024, 11, 26, 15, 35, 53, 843339, tzinfo=timezone.utc),
            ),
            (
                "2024-02-22T18:41:12-05:00",
                datetime(2024, 2, 22, 23, 41, 12, tzinfo=timezone.utc),
            ),
            # no offset: taken as UTC, so timestamps are always aware
            (
                "2024-02-22T23:41:12",
                datetime(2024, 2, 22, 23, 41, 12, tzinfo=timezone.utc),
            ),
            ("not a date", None),
            ("2024-13-45T25:00:00Z", None),
            ("", None),
            (1708645272, None),
            (None, None),
        ],
    )
    def test_timestamp(self, webhook_client, tracking_events, created_at, expected):
        post_json(webhook_client, resend_event("email.sent", created_at=created_at))
        timestamp = tracking_events.event.timestamp
        assert timestamp == expected
        if expected is not None:
            assert timestamp.tzinfo is not None

    def test_missing_timestamp(self, webhook_client, tracking_events):
        payload = resend_event("email.sent")
        del payload["created_at"]
        post_json(webhook_client, payload)
        assert tracking_events.event.timestamp is None

    @pytest.mark.parametrize(
        "to, recipient",
        [
            (["Bob <bob@example.org>", "x@example.org"], "bob@example.org"),
            (["x@example.org"], "x@example.org"),
            (['"Smith, J." <j@example.org>'], "j@example.org"),
            ("Single <one@example.org>", "one@example.org"),
            ([], None),
            (None, None),
            (["not an address"], None),
            ([42], None),
            (["a@example.org, b@example.org"], None),  # not one address
        ],
    )
    def test_recipient(self, webhook_client, tracking_events, to, recipient):
        post_json(webhook_client, resend_event("email.delivered", {"to": to}))
        assert tracking_events.event.recipient == recipient

    def test_missing_fields(self, webhook_client, tracking_events):
        payload = {"type": "email.sent", "data": {}}
        post_json(webhook_client, payload)
        event = tracking_events.event
        assert event.event_type == "sent"
        assert event.message_id is None
        assert event.recipient is None
        assert event.tags == []
        assert event.metadata == {}
        assert event.timestamp is None

    def test_missing_data(self, webhook_client, tracking_events):
        post_json(webhook_client, {"type": "email.sent"})
        assert tracking_events.event.message_id is None

    @pytest.mark.parametrize(
        "headers, tags, metadata",
        [
            (
                [
                    {"name": "x-tags", "value": '["lower"]'},
                    {"name": "X-METADATA", "value": '{"a": 1}'},
                ],
                ["lower"],
                {"a": 1},
            ),
            ([{"name": "X-Other", "value": "x"}], [], {}),
            ([], [], {}),
            (None, [], {}),
            (
                [
                    {"name": "X-Tags", "value": "[not json"},
                    {"name": "X-Metadata", "value": "{also not"},
                ],
                [],
                {},
            ),
            (
                # JSON, but not a list / an object
                [
                    {"name": "X-Tags", "value": '"one"'},
                    {"name": "X-Metadata", "value": "[1, 2]"},
                ],
                [],
                {},
            ),
            ([{"name": "X-Tags", "value": "[]"}], [], {}),
        ],
    )
    def test_tags_and_metadata(
        self, webhook_client, tracking_events, headers, tags, metadata
    ):
        payload = resend_event("email.sent", {"headers": headers})
        post_json(webhook_client, payload)
        event = tracking_events.event
        assert event.tags == tags
        assert event.metadata == metadata

    def test_missing_headers_key(self, webhook_client, tracking_events):
        payload = resend_event("email.sent")
        del payload["data"]["headers"]
        post_json(webhook_client, payload)
        assert tracking_events.event.tags == []
        assert tracking_events.event.metadata == {}

    def test_event_id_absent_without_svix_id(
        self, webhook_client, tracking_events, quiet
    ):
        # (only possible without a signing secret: svix-id is part of the signature)
        with override_settings(ANYMAIL={}):
            post_json(webhook_client, resend_event("email.sent"), signed=False)
        assert tracking_events.event.event_id is None

    def test_fresh_defaults_per_event(self, webhook_client, tracking_events):
        payload = resend_event("email.sent", {"headers": []})
        post_json(webhook_client, payload)
        post_json(webhook_client, payload)
        first, second = tracking_events.events
        assert first.tags == [] and first.tags is not second.tags
        assert first.metadata == {} and first.metadata is not second.metadata


# -- authentication --------------------------------------------------------------


@pytest.mark.usefixtures("signed_settings")
class TestSignature:
    def test_valid_signature(self, webhook_client, tracking_events, security_log):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_json(webhook_client, resend_event("email.delivered"))
        assert response.status_code == 200
        assert tracking_events.event.event_type == "delivered"
        assert security_messages(security_log) == []

    def test_standard_webhooks_header_names(self, webhook_client, tracking_events):
        body = json.dumps(resend_event("email.sent")).encode()
        svix = svix_headers(body, msg_id="msg_std")
        headers = {
            "HTTP_WEBHOOK_ID": svix["HTTP_SVIX_ID"],
            "HTTP_WEBHOOK_TIMESTAMP": svix["HTTP_SVIX_TIMESTAMP"],
            "HTTP_WEBHOOK_SIGNATURE": svix["HTTP_SVIX_SIGNATURE"],
        }
        response = webhook_client.post(
            TRACKING_URL, body, content_type="application/json", **headers
        )
        assert response.status_code == 200
        # event_id comes from svix-id only
        assert tracking_events.event.event_id is None

    def test_any_of_several_signatures(self, webhook_client, tracking_events):
        body = json.dumps(resend_event("email.sent")).encode()
        headers = svix_headers(body)
        wrong = svix_signature(
            OTHER_KEY, "msg_2a8Pq1", headers["HTTP_SVIX_TIMESTAMP"], body
        )
        headers["HTTP_SVIX_SIGNATURE"] = (
            f"{wrong} v2,ignored {headers['HTTP_SVIX_SIGNATURE']}"
        )
        response = webhook_client.post(
            TRACKING_URL, body, content_type="application/json", **headers
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    def _assert_rejected(self, response, tracking_events, security_log):
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_missing_signature_headers(
        self, webhook_client, tracking_events, security_log
    ):
        response = post_json(webhook_client, resend_event("email.sent"), signed=False)
        self._assert_rejected(response, tracking_events, security_log)

    @pytest.mark.parametrize(
        "missing", ["HTTP_SVIX_ID", "HTTP_SVIX_TIMESTAMP", "HTTP_SVIX_SIGNATURE"]
    )
    def test_each_header_required(
        self, webhook_client, tracking_events, security_log, missing
    ):
        body = json.dumps(resend_event("email.sent")).encode()
        headers = svix_headers(body)
        del headers[missing]
        response = webhook_client.post(
            TRACKING_URL, body, content_type="application/json", **headers
        )
        self._assert_rejected(response, tracking_events, security_log)

    def test_wrong_secret(self, webhook_client, tracking_events, security_log):
        response = post_json(webhook_client, resend_event("email.sent"), key=OTHER_KEY)
        self._assert_rejected(response, tracking_events, security_log)

    def test_tampered_body(self, webhook_client, tracking_events, security_log):
        body = json.dumps(resend_event("email.sent")).encode()
        headers = svix_headers(body)
        tampered = body.replace(b"email.sent", b"email.opened")
        response = webhook_client.post(
            TRACKING_URL, tampered, content_type="application/json", **headers
        )
        self._assert_rejected(response, tracking_events, security_log)

    def test_tampered_svix_id(self, webhook_client, tracking_events, security_log):
        body = json.dumps(resend_event("email.sent")).encode()
        headers = svix_headers(body)
        headers["HTTP_SVIX_ID"] = "msg_replayed"
        response = webhook_client.post(
            TRACKING_URL, body, content_type="application/json", **headers
        )
        self._assert_rejected(response, tracking_events, security_log)

    @pytest.mark.parametrize("age", [-400, 400])
    def test_timestamp_out_of_tolerance(
        self, webhook_client, tracking_events, security_log, age
    ):
        body = json.dumps(resend_event("email.sent")).encode()
        headers = svix_headers(body, timestamp=int(time.time()) - age)
        response = webhook_client.post(
            TRACKING_URL, body, content_type="application/json", **headers
        )
        self._assert_rejected(response, tracking_events, security_log)

    def test_timestamp_within_tolerance(self, webhook_client, tracking_events):
        body = json.dumps(resend_event("email.sent")).encode()
        headers = svix_headers(body, timestamp=int(time.time()) - 240)
        response = webhook_client.post(
            TRACKING_URL, body, content_type="application/json", **headers
        )
        assert response.status_code == 200

    @pytest.mark.parametrize(
        "signature",
        ["not-a-signature", "v1,not base64!!", "v1", "", "v1,a,b"],
    )
    def test_malformed_signature_header(
        self, webhook_client, tracking_events, security_log, signature
    ):
        body = json.dumps(resend_event("email.sent")).encode()
        headers = svix_headers(body)
        headers["HTTP_SVIX_SIGNATURE"] = signature
        response = webhook_client.post(
            TRACKING_URL, body, content_type="application/json", **headers
        )
        self._assert_rejected(response, tracking_events, security_log)

    def test_non_utf8_body(self, webhook_client, tracking_events, security_log):
        body = b'{"type": "email.sent", "x": "\xff"}'
        headers = svix_headers(body)
        response = webhook_client.post(
            TRACKING_URL, body, content_type="application/json", **headers
        )
        self._assert_rejected(response, tracking_events, security_log)

    def test_inbound_secret_doesnt_sign_tracking(
        self, webhook_client, tracking_events, security_log
    ):
        with override_settings(
            ANYMAIL={
                "RESEND_SIGNING_SECRET": SIGNING_SECRET,
                "RESEND_INBOUND_SECRET": OTHER_SECRET,
            }
        ):
            response = post_json(
                webhook_client, resend_event("email.sent"), key=OTHER_KEY
            )
        self._assert_rejected(response, tracking_events, security_log)


class TestSecretSettings:
    def test_root_setting(self, webhook_client, tracking_events):
        with override_settings(
            ANYMAIL=None, ANYMAIL_RESEND_SIGNING_SECRET=SIGNING_SECRET
        ):
            assert (
                post_json(webhook_client, resend_event("email.sent")).status_code == 200
            )
            response = post_json(
                webhook_client, resend_event("email.sent"), key=OTHER_KEY
            )
        assert response.status_code == 400
        assert len(tracking_events.calls) == 1

    def test_bare_setting_is_not_used(
        self, webhook_client, tracking_events, security_log
    ):
        with (
            override_settings(ANYMAIL={}, RESEND_SIGNING_SECRET=SIGNING_SECRET),
            pytest.warns(AnymailInsecureWebhookWarning),
        ):
            response = post_json(
                webhook_client, resend_event("email.sent"), signed=False
            )
        assert response.status_code == 200

    def test_as_view_kwarg(self, webhook_client, tracking_events, security_log):
        # /custom/tracking/ is as_view(signing_secret=OTHER_SECRET), which
        # overrides the setting
        with (
            override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": SIGNING_SECRET}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            good = post_json(
                webhook_client,
                resend_event("email.sent"),
                key=OTHER_KEY,
                url="/custom/tracking/",
            )
            bad = post_json(
                webhook_client, resend_event("email.sent"), url="/custom/tracking/"
            )
        assert good.status_code == 200
        assert bad.status_code == 400
        assert len(tracking_events.calls) == 1
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_secret_stored_as_given(self):
        view = ResendTrackingWebhookView.as_view(signing_secret=SIGNING_SECRET)
        instance = view.view_class(**view.view_initkwargs)
        assert instance.signing_secret == SIGNING_SECRET
        with override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": OTHER_SECRET}):
            assert ResendTrackingWebhookView().signing_secret == OTHER_SECRET
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": "u:p"}):
            assert ResendTrackingWebhookView().signing_secret is None

    @pytest.mark.parametrize("secret", ["whsec_", "whsec_abcde"])
    def test_invalid_secret(self, secret):
        with (
            override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": secret}),
            pytest.raises(AnymailConfigurationError) as excinfo,
        ):
            ResendTrackingWebhookView()
        message = str(excinfo.value)
        assert (
            "RESEND_SIGNING_SECRET setting is not a valid Svix webhook secret"
            in message
        )
        assert secret not in message.replace("'whsec_'", "")

    def test_invalid_secret_fails_request(self, webhook_client):
        with (
            override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": "whsec_"}),
            pytest.raises(AnymailConfigurationError),
        ):
            post_json(webhook_client, resend_event("email.sent"))


class TestSvixPackage:
    def test_svix_missing_with_secret(self, webhook_client, tracking_events):
        with (
            mock.patch.dict(sys.modules, {"svix": None, "svix.webhooks": None}),
            override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": SIGNING_SECRET}),
            pytest.raises(AnymailImproperlyInstalled) as excinfo,
        ):
            post_json(webhook_client, resend_event("email.sent"))
        assert str(excinfo.value) == (
            "The svix package isn't installed but is needed for this ESP.\n"
            '(Be sure to use `pip install "django-anymail[resend]"`.)'
        )
        assert isinstance(excinfo.value, ImportError)
        assert isinstance(excinfo.value, AnymailConfigurationError)
        assert tracking_events.calls == []

    def test_svix_not_needed_without_secret(self, webhook_client, tracking_events):
        with (
            mock.patch.dict(sys.modules, {"svix": None, "svix.webhooks": None}),
            override_settings(ANYMAIL={"WEBHOOK_SECRET": "user:pass"}),
        ):
            response = post_json(
                webhook_client,
                resend_event("email.sent"),
                signed=False,
                HTTP_SVIX_ID="msg_nosvix",
                HTTP_AUTHORIZATION=basic_auth_header("user:pass"),
            )
        assert response.status_code == 200
        assert tracking_events.event.event_id == "msg_nosvix"

    def test_urls_import_without_svix(self):
        # in a fresh interpreter, so this test's imports can't leak into others
        script = (
            "import sys\n"
            "sys.modules['svix'] = sys.modules['svix.webhooks'] = None\n"
            "import django; from django.conf import settings\n"
            "settings.configure(ANYMAIL={'WEBHOOK_SECRET': 'u:p'}); django.setup()\n"
            "import anymail.urls\n"
            "from anymail.webhooks.resend import ResendTrackingWebhookView as V\n"
            "V()\n"
            "print('ok')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.stdout == "ok\n", result.stderr


class TestBasicAuth:
    def test_basic_auth_alone(self, webhook_client, tracking_events, security_log):
        with (
            override_settings(ANYMAIL={"WEBHOOK_SECRET": "user:pass"}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            good = post_json(
                webhook_client,
                resend_event("email.sent"),
                signed=False,
                HTTP_AUTHORIZATION=basic_auth_header("user:pass"),
            )
            wrong = post_json(
                webhook_client,
                resend_event("email.sent"),
                signed=False,
                HTTP_AUTHORIZATION=basic_auth_header("user:wrong"),
            )
            missing = post_json(
                webhook_client, resend_event("email.sent"), signed=False
            )
        assert good.status_code == 200
        assert wrong.status_code == 400
        assert missing.status_code == 400
        assert len(tracking_events.calls) == 1
        assert security_messages(security_log) == [BAD_BASIC_AUTH, BAD_BASIC_AUTH]

    def test_basic_auth_and_signature_both_required(
        self, webhook_client, tracking_events, security_log
    ):
        settings = {
            "WEBHOOK_SECRET": "user:pass",
            "RESEND_SIGNING_SECRET": SIGNING_SECRET,
        }
        auth = basic_auth_header("user:pass")
        with override_settings(ANYMAIL=settings):
            both = post_json(
                webhook_client, resend_event("email.sent"), HTTP_AUTHORIZATION=auth
            )
            no_auth = post_json(webhook_client, resend_event("email.sent"))
            no_sig = post_json(
                webhook_client,
                resend_event("email.sent"),
                signed=False,
                HTTP_AUTHORIZATION=auth,
            )
        assert both.status_code == 200
        assert no_auth.status_code == 400
        assert no_sig.status_code == 400
        assert len(tracking_events.calls) == 1
        assert security_messages(security_log) == [BAD_BASIC_AUTH, INCORRECT_SIGNATURE]


class TestInsecureWarning:
    def test_warns_without_any_secret(self, webhook_client, tracking_events):
        with (
            override_settings(ANYMAIL={}),
            pytest.warns(AnymailInsecureWebhookWarning, match=INSECURE),
        ):
            response = post_json(
                webhook_client, resend_event("email.sent"), signed=False
            )
        # still accepted
        assert response.status_code == 200
        assert tracking_events.event.event_type == "sent"

    def test_no_warning_with_signing_secret(self, webhook_client, tracking_events):
        with (
            override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": SIGNING_SECRET}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_json(webhook_client, resend_event("email.sent"))
        assert response.status_code == 200

    def test_no_warning_with_webhook_secret(self):
        with (
            override_settings(ANYMAIL={"WEBHOOK_SECRET": "user:pass"}),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            ResendTrackingWebhookView()

    def test_inbound_secret_doesnt_silence_tracking(self):
        with (
            override_settings(ANYMAIL={"RESEND_INBOUND_SECRET": SIGNING_SECRET}),
            pytest.warns(AnymailInsecureWebhookWarning),
        ):
            ResendTrackingWebhookView()

    def test_warns_on_every_request(self, webhook_client, tracking_events):
        with (
            override_settings(ANYMAIL={}),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            post_json(webhook_client, resend_event("email.sent"), signed=False)
            webhook_client.head(TRACKING_URL)
        insecure = [
            w for w in caught if issubclass(w.category, AnymailInsecureWebhookWarning)
        ]
        assert len(insecure) == 2


# -- malformed requests, HTTP methods --------------------------------------------


@pytest.mark.usefixtures("quiet")
class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b'{"type": "email.sent"',
            b'"email.sent"',
            b'[{"type": "email.sent"}]',
            b"null",
            b'{"data": {"email_id": "x"}}',
            b'{"type": null, "data": {}}',
            b'{"type": ["email.sent"], "data": {}}',
            b'{"type": "email.sent", "data": "x"}',
            b'{"type": "email.sent", "data": []}',
            b'{"type": "email.clicked", "data": {"click": "https://x"}}',
            b'{"type": "email.bounced", "data": {"bounce": "bounced"}}',
            b'{"type": "email.bounced", "data": {"bounce": {"message": 550}}}',
            b'{"type": "email.sent", "data": {"headers": "X-Tags: []"}}',
            b"\xff\xfe\x00",
        ],
        ids=[
            "empty",
            "not-json",
            "truncated",
            "json-string",
            "json-array",
            "json-null",
            "missing-type",
            "null-type",
            "list-type",
            "data-string",
            "data-array",
            "click-string",
            "bounce-string",
            "bounce-message-number",
            "headers-string",
            "not-utf8",
        ],
    )
    def test_malformed_body(self, webhook_client, tracking_events, body):
        with override_settings(ANYMAIL={}):
            response = webhook_client.post(
                TRACKING_URL, body, content_type="application/json"
            )
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []

    def test_form_post(self, webhook_client, tracking_events):
        with override_settings(ANYMAIL={}):
            response = webhook_client.post(
                TRACKING_URL, {"type": "email.sent", "data": "{}"}
            )
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []

    def test_malformed_but_signed(self, webhook_client, tracking_events, security_log):
        # a correctly signed body that isn't a Resend event: still 400, not 500
        body = b'{"no-type": true}'
        with override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": SIGNING_SECRET}):
            response = webhook_client.post(
                TRACKING_URL,
                body,
                content_type="application/json",
                **svix_headers(body),
            )
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []
        assert security_messages(security_log) == []

    def test_signature_checked_before_parsing(
        self, webhook_client, tracking_events, security_log
    ):
        with override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": SIGNING_SECRET}):
            response = webhook_client.post(
                TRACKING_URL, b"not json", content_type="application/json"
            )
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]


@pytest.mark.usefixtures("quiet")
class TestMethods:
    def test_head_without_validation(
        self, webhook_client, tracking_events, security_log
    ):
        settings = {
            "RESEND_SIGNING_SECRET": SIGNING_SECRET,
            "WEBHOOK_SECRET": "user:pass",
        }
        with override_settings(ANYMAIL=settings):
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
        logger = logging.getLogger("django.request")
        logger.disabled = True
        try:
            response = webhook_client.get(TRACKING_URL)
        finally:
            logger.disabled = False
        assert response.status_code == 405

    def test_receiver_exception_propagates(self, webhook_client):
        def receiver(sender, event, esp_name, **kwargs):
            raise RuntimeError("receiver failed")

        tracking.connect(receiver, weak=False)
        try:
            with (
                override_settings(ANYMAIL={"RESEND_SIGNING_SECRET": SIGNING_SECRET}),
                pytest.raises(RuntimeError, match="receiver failed"),
            ):
                post_json(webhook_client, resend_event("email.sent"))
        finally:
            tracking.disconnect(receiver)

    def test_url_name(self):
        from django.urls import reverse

        assert reverse("anymail:resend_tracking_webhook") == TRACKING_URL
