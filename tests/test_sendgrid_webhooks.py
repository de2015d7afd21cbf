"""SendGrid tracking webhook (Event Webhook), through Django's test client."""

import json
import sys
import warnings
from base64 import b64encode
from datetime import datetime, timezone
from unittest import mock

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import override_settings
from django.urls import include, path

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInsecureWebhookWarning,
    AnymailNotSupportedWarning,
)
from anymail.signals import tracking
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView

from .conftest import basic_auth_header, security_messages

URL = "/anymail/sendgrid/tracking/"
NOT_SUPPORTED = (
    "django-anymail has dropped official support for SendGrid."
    " See https://github.com/anymail/django-anymail/issues/432."
)
INCORRECT_SIGNATURE = (
    "SendGrid webhook called with incorrect signature"
    " (check Anymail SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY setting)"
)
SIGNATURE_MISSING = "X-Twilio-Email-Event-Webhook-Signature header missing from webhook"
TIMESTAMP_MISSING = "X-Twilio-Email-Event-Webhook-Timestamp header missing from webhook"
BASIC_AUTH_FAILURE = "Missing or invalid basic auth in Anymail SendGrid webhook"


def _public_key_setting(private_key):
    """The public key as SendGrid's dashboard shows it: base64 DER, one line."""
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return b64encode(der).decode("ascii")


PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
VERIFICATION_KEY = _public_key_setting(PRIVATE_KEY)
OTHER_PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "signed/",
        SendGridTrackingWebhookView.as_view(
            tracking_webhook_verification_key=VERIFICATION_KEY
        ),
    ),
]

pytestmark = [
    pytest.mark.urls(__name__),
    # (each request warns; the tests that check warnings record them anyway)
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
    pytest.mark.filterwarnings(
        "ignore::anymail.exceptions.AnymailInsecureWebhookWarning"
    ),
]

KEY_SETTINGS = {"SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": VERIFICATION_KEY}
SECRET_SETTINGS = {"WEBHOOK_SECRET": "sg-user:sg-pass"}
GOOD_AUTH = basic_auth_header("sg-user:sg-pass")


def sign(body, timestamp="1700000000", private_key=PRIVATE_KEY):
    """The signature headers SendGrid would send for body."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    signature = private_key.sign(
        timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256())
    )
    return {
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": b64encode(signature).decode(),
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp,
    }


def post(client, body, url=URL, content_type="application/json", **extra):
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    return client.post(url, body, content_type=content_type, **extra)


ALL_FIELDS = {
    "event_type": None,
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
}


def assert_event(event, esp_event, **expected):
    """Every normalized field: the given values, else the defaults."""
    actual = {field: getattr(event, field) for field in ALL_FIELDS}
    assert actual == {**ALL_FIELDS, **expected}
    assert event.esp_event == esp_event


T_2023 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
ANYMAIL_ID = "0f1e2d3c-0000-4000-8000-123456789abc"


def sample(event, **fields):
    """A SendGrid event as the Event Webhook posts it."""
    return {
        "email": "pat@example.com",
        "timestamp": 1700000000,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": event,
        "sg_event_id": f"sg-{event}-evt",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "anymail_id": ANYMAIL_ID,
        "category": ["welcome", "onboarding"],
        "order_id": "77",
        **fields,
    }


COMMON = dict(
    timestamp=T_2023,
    message_id=ANYMAIL_ID,
    recipient="pat@example.com",
    metadata={"order_id": "77"},
    tags=["welcome", "onboarding"],
)

# One case per row of the event-type table
EVENT_CASES = {
    "processed": (
        sample("processed", pool={"name": "new_MY_test", "id": 210}, send_at=0),
        dict(event_type="queued", event_id="sg-processed-evt"),
    ),
    "deferred": (
        sample(
            "deferred",
            response="400 try again later",
            attempt="5",
            tls=1,
        ),
        dict(
            event_type="deferred",
            event_id="sg-deferred-evt",
            mta_response="400 try again later",
        ),
    ),
    "delivered": (
        sample(
            "delivered",
            response="250 2.0.0 OK 1700000000 x12si.123 - gsmtp",
            ip="168.1.1.1",
            tls=1,
            cert_err=0,
        ),
        dict(
            event_type="delivered",
            event_id="sg-delivered-evt",
            mta_response="250 2.0.0 OK 1700000000 x12si.123 - gsmtp",
        ),
    ),
    "bounce": (
        sample(
            "bounce",
            reason="550 5.1.1 The email account that you tried to reach does"
            " not exist.",
            status="5.1.1",
            type="bounce",
            bounce_classification="Invalid Address",
            ip="168.1.1.1",
            tls=1,
        ),
        dict(
            event_type="bounced",
            event_id="sg-bounce-evt",
            reject_reason=None,  # only dropped events get one
            mta_response="550 5.1.1 The email account that you tried to reach"
            " does not exist.",
            # not in the known-fields list, so it looks like metadata
            metadata={"order_id": "77", "bounce_classification": "Invalid Address"},
        ),
    ),
    "dropped": (
        sample("dropped", reason="Bounced Address", status="5.0.0"),
        dict(
            event_type="rejected",
            event_id="sg-dropped-evt",
            reject_reason="bounced",
            mta_response=None,
        ),
    ),
    "open": (
        sample(
            "open",
            useragent="Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR"
            " 1.1.4322; .NET CLR 2.0.50727)",
            ip="255.255.255.255",
            sg_machine_open=False,
        ),
        dict(
            event_type="opened",
            event_id="sg-open-evt",
            user_agent="Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR"
            " 1.1.4322; .NET CLR 2.0.50727)",
            metadata={"order_id": "77", "sg_machine_open": False},
        ),
    ),
    "click": (
        sample(
            "click",
            useragent="Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            ip="255.255.255.255",
            url="https://www.example.com/welcome?utm=1",
            url_offset={"index": 0, "type": "html"},
        ),
        dict(
            event_type="clicked",
            event_id="sg-click-evt",
            user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            click_url="https://www.example.com/welcome?utm=1",
        ),
    ),
    "spamreport": (
        sample("spamreport"),
        dict(event_type="complained", event_id="sg-spamreport-evt"),
    ),
    "unsubscribe": (
        sample("unsubscribe"),
        dict(event_type="unsubscribed", event_id="sg-unsubscribe-evt"),
    ),
    "group_unsubscribe": (
        sample(
            "group_unsubscribe",
            asm_group_id=10,
            useragent="Mozilla/5.0 (Macintosh)",
            ip="255.255.255.255",
            url="https://sendgrid.com/unsubscribe",
        ),
        dict(
            event_type="unsubscribed",
            event_id="sg-group_unsubscribe-evt",
            user_agent="Mozilla/5.0 (Macintosh)",
            click_url="https://sendgrid.com/unsubscribe",
        ),
    ),
    "group_resubscribe": (
        sample(
            "group_resubscribe",
            asm_group_id=10,
            useragent="Mozilla/5.0 (Macintosh)",
            ip="255.255.255.255",
            url="https://sendgrid.com/resubscribe",
        ),
        dict(
            event_type="subscribed",
            event_id="sg-group_resubscribe-evt",
            user_agent="Mozilla/5.0 (Macintosh)",
            click_url="https://sendgrid.com/resubscribe",
        ),
    ),
    "anything-else": (
        sample("machine_opened", reason="prefetch"),
        dict(
            event_type="unknown",
            event_id="sg-machine_opened-evt",
            mta_response="prefetch",
        ),
    ),
}


class TestEvents:
    @pytest.mark.parametrize("case", EVENT_CASES.keys())
    def test_event_types(self, webhook_client, tracking_events, case):
        esp_event, expected = EVENT_CASES[case]
        response = post(webhook_client, [esp_event])
        assert response.status_code == 200
        assert response.content == b""
        assert_event(tracking_events.event, esp_event, **{**COMMON, **expected})

    def test_spec_sample(self, webhook_client, tracking_events):
        esp_event = {
            "email": "pat@example.com",
            "timestamp": 1700000000,
            "event": "dropped",
            "reason": "Unsubscribed Address",
            "sg_event_id": "evt-1",
            "sg_message_id": "sgm-1",
            "anymail_id": ANYMAIL_ID,
            "category": ["welcome"],
            "order_id": "77",
        }
        assert post(webhook_client, [esp_event]).status_code == 200
        assert_event(
            tracking_events.event,
            esp_event,
            event_type="rejected",
            reject_reason="unsubscribed",
            timestamp=T_2023,
            message_id=ANYMAIL_ID,
            event_id="evt-1",
            recipient="pat@example.com",
            tags=["welcome"],
            metadata={"order_id": "77"},
        )

    @pytest.mark.parametrize(
        "fields, reject_reason",
        [
            ({"reason": "Invalid"}, "invalid"),
            ({"reason": "Unsubscribed Address"}, "unsubscribed"),
            ({"reason": "Bounce"}, "bounced"),
            ({"reason": "Bounced Address"}, "bounced"),
            ({"reason": "BLOCKED"}, "blocked"),
            ({"reason": "Expired"}, "timed_out"),
            ({"reason": "Spam Reporting Address"}, "other"),
            ({"reason": "Invalid SMTPAPI header"}, "other"),
            ({}, "other"),
            # "type" wins over "reason"
            ({"type": "expired", "reason": "Bounced Address"}, "timed_out"),
            ({"type": "Blocked", "reason": "Invalid"}, "blocked"),
        ],
    )
    def test_dropped_reject_reasons(
        self, webhook_client, tracking_events, fields, reject_reason
    ):
        esp_event = {"event": "dropped", "email": "pat@example.com", **fields}
        assert post(webhook_client, [esp_event]).status_code == 200
        assert_event(
            tracking_events.event,
            esp_event,
            event_type="rejected",
            recipient="pat@example.com",
            reject_reason=reject_reason,
            mta_response=None,
        )

    @pytest.mark.parametrize(
        "fields, mta_response",
        [
            ({"response": "250 OK", "reason": "ignored"}, "250 OK"),
            ({"reason": "550 No such user"}, "550 No such user"),
            ({}, None),
        ],
    )
    def test_mta_response_source(
        self, webhook_client, tracking_events, fields, mta_response
    ):
        esp_event = {"event": "bounce", "email": "pat@example.com", **fields}
        post(webhook_client, [esp_event])
        assert tracking_events.event.mta_response == mta_response
        assert tracking_events.event.reject_reason is None

    @pytest.mark.parametrize(
        "fields, message_id",
        [
            ({"anymail_id": ANYMAIL_ID, "smtp-id": "<old@example>"}, ANYMAIL_ID),
            ({"smtp-id": "<old@example>"}, "<old@example>"),
            ({"sg_message_id": "sgm-1"}, None),
        ],
    )
    def test_message_id_source(
        self, webhook_client, tracking_events, fields, message_id
    ):
        post(webhook_client, [{"event": "delivered", **fields}])
        assert tracking_events.event.message_id == message_id

    def test_minimal_event(self, webhook_client, tracking_events):
        esp_event = {"event": "open"}
        assert post(webhook_client, [esp_event]).status_code == 200
        assert_event(tracking_events.event, esp_event, event_type="opened")

    @pytest.mark.parametrize(
        "timestamp, expected",
        [
            (1700000000, T_2023),
            (1700000000.25, T_2023.replace(microsecond=250000)),
            (10**20, None),  # out of range
            (float("inf"), None),
        ],
    )
    def test_timestamp(self, webhook_client, tracking_events, timestamp, expected):
        body = json.dumps([{"event": "open", "timestamp": timestamp}])
        assert post(webhook_client, body).status_code == 200
        assert tracking_events.event.timestamp == expected

    def test_tags_as_given(self, webhook_client, tracking_events):
        post(webhook_client, [{"event": "open", "category": "single"}])
        assert tracking_events.event.tags == "single"

    def test_metadata_excludes_every_known_sendgrid_field(
        self, webhook_client, tracking_events
    ):
        known = [
            "anymail_id",
            "asm_group_id",
            "attempt",
            "category",
            "cert_err",
            "email",
            "event",
            "ip",
            "marketing_campaign_id",
            "marketing_campaign_name",
            "newsletter",
            "nlvx_campaign_id",
            "nlvx_campaign_split_id",
            "nlvx_user_id",
            "pool",
            "post_type",
            "reason",
            "response",
            "send_at",
            "sg_event_id",
            "sg_message_id",
            "smtp-id",
            "status",
            "timestamp",
            "tls",
            "type",
            "url",
            "url_offset",
            "useragent",
        ]
        esp_event = dict.fromkeys(known, "x")
        esp_event.update(event="processed", timestamp=1700000000, cohort=6)
        post(webhook_client, [esp_event])
        assert tracking_events.event.metadata == {"cohort": 6}

    def test_batch_dispatches_each_event_in_order(
        self, webhook_client, tracking_events
    ):
        esp_events = [
            sample("processed"),
            sample("delivered", email="a@example.com"),
            sample("open", email="b@example.com"),
        ]
        assert post(webhook_client, esp_events).status_code == 200
        assert [e.event_type for e in tracking_events.events] == [
            "queued",
            "delivered",
            "opened",
        ]
        assert [e.esp_event for e in tracking_events.events] == esp_events
        for call in tracking_events.calls:
            assert call["sender"] is SendGridTrackingWebhookView
            assert call["esp_name"] == "SendGrid"
            assert call["signal"] is tracking

    def test_empty_batch(self, webhook_client, tracking_events):
        response = post(webhook_client, [])
        assert response.status_code == 200
        assert tracking_events.calls == []

    def test_no_settings_at_all(self, webhook_client, tracking_events):
        with override_settings(ANYMAIL={}):
            assert post(webhook_client, [sample("open")]).status_code == 200
        assert tracking_events.event.event_type == "opened"


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b'[{"event": "open"}',
            b"\xff\xfe[]",
            b'{"event": "open"}',  # SendGrid always posts an array
            b'"open"',
            b'["open"]',
            b"[null]",
            b'[{"email": "pat@example.com"}]',  # no "event"
            b'[{"event": "dropped", "reason": 550}]',
            b'[{"event": "open", "timestamp": "1700000000"}]',  # not a number
            b'[{"event": ["open"]}]',
        ],
        ids=[
            "empty",
            "not-json",
            "truncated",
            "not-utf8",
            "object",
            "string",
            "list-of-strings",
            "list-of-null",
            "missing-event",
            "non-string-reason",
            "string-timestamp",
            "unhashable-event",
        ],
    )
    def test_malformed_body_is_400(self, webhook_client, tracking_events, body):
        response = post(webhook_client, body)
        assert response.status_code == 400
        assert response.content == b"Malformed SendGrid webhook payload"
        assert tracking_events.calls == []

    def test_one_bad_event_dispatches_none(self, webhook_client, tracking_events):
        response = post(webhook_client, [sample("open"), {"no": "event"}])
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_form_content_type_is_400(self, webhook_client, tracking_events):
        response = webhook_client.post(URL, {"event": "open"})  # multipart form
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_inbound_post_to_tracking_url_is_400(self, webhook_client, tracking_events):
        inbound_form = {
            "headers": "From: a@example.com\nTo: b@example.com\nSubject: Hi\n",
            "text": "Hi",
            "envelope": '{"to": ["b@example.com"], "from": "a@example.com"}',
        }
        response = webhook_client.post(URL, inbound_form)
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_malformed_after_valid_signature_is_400(
        self, webhook_client, tracking_events
    ):
        body = b'{"not": "an array"}'
        with override_settings(ANYMAIL=KEY_SETTINGS):
            response = post(webhook_client, body, **sign(body))
        assert response.status_code == 400
        assert tracking_events.calls == []


class TestSignature:
    body = json.dumps([sample("delivered", response="250 OK")])

    @override_settings(ANYMAIL=KEY_SETTINGS)
    def test_valid_signature(self, webhook_client, tracking_events):
        response = post(webhook_client, self.body, **sign(self.body))
        assert response.status_code == 200
        assert tracking_events.event.event_type == "delivered"
        assert tracking_events.event.mta_response == "250 OK"

    def _refused(self, webhook_client, tracking_events, caplog, headers, message):
        response = post(webhook_client, self.body, **headers)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(caplog) == [message]

    @override_settings(ANYMAIL=KEY_SETTINGS)
    def test_missing_signature(self, webhook_client, tracking_events, security_log):
        headers = sign(self.body)
        del headers["HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE"]
        self._refused(
            webhook_client, tracking_events, security_log, headers, SIGNATURE_MISSING
        )

    @override_settings(ANYMAIL=KEY_SETTINGS)
    def test_missing_timestamp(self, webhook_client, tracking_events, security_log):
        headers = sign(self.body)
        del headers["HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP"]
        self._refused(
            webhook_client, tracking_events, security_log, headers, TIMESTAMP_MISSING
        )

    @override_settings(ANYMAIL=KEY_SETTINGS)
    def test_missing_both_reports_signature(
        self, webhook_client, tracking_events, security_log
    ):
        self._refused(
            webhook_client, tracking_events, security_log, {}, SIGNATURE_MISSING
        )

    @override_settings(ANYMAIL=KEY_SETTINGS)
    @pytest.mark.parametrize(
        "headers",
        [
            sign(body, private_key=OTHER_PRIVATE_KEY),
            sign(body.replace("250 OK", "250 Ok")),  # signed another body
            {
                **sign(body, timestamp="1700000000"),
                "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": "1700000001",
            },
            {
                **sign(body),
                "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": "not base64!",
            },
            {
                **sign(body),
                "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": "abc",  # bad padding
            },
            {
                **sign(body),
                "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": b64encode(
                    b"not a DER signature"
                ).decode(),
            },
            {
                "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": "",
                "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": "",
            },
        ],
        ids=[
            "wrong-key",
            "tampered-body",
            "wrong-timestamp",
            "not-base64",
            "bad-padding",
            "not-der",
            "empty-headers",
        ],
    )
    def test_incorrect_signature(
        self, webhook_client, tracking_events, security_log, headers
    ):
        self._refused(
            webhook_client, tracking_events, security_log, headers, INCORRECT_SIGNATURE
        )

    @override_settings(ANYMAIL=KEY_SETTINGS)
    def test_tampered_body_with_original_signature(
        self, webhook_client, tracking_events, security_log
    ):
        headers = sign(self.body)
        tampered = self.body.replace("pat@example.com", "eve@example.com")
        response = post(webhook_client, tampered, **headers)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_no_key_no_signature_check(self, webhook_client, tracking_events):
        with override_settings(ANYMAIL={}):
            response = post(webhook_client, self.body)  # no signature headers
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @override_settings(ANYMAIL=KEY_SETTINGS)
    def test_head_is_200_without_validation(self, webhook_client, tracking_events):
        response = webhook_client.head(URL)
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []

    @override_settings(ANYMAIL=KEY_SETTINGS)
    def test_signature_is_over_raw_body_bytes(self, webhook_client, tracking_events):
        # the exact bytes, not a re-serialization of the JSON
        body = '[ {"event" : "open",  "email": "pat@example.com"} ]\n'
        assert post(webhook_client, body, **sign(body)).status_code == 200
        assert tracking_events.event.recipient == "pat@example.com"


class TestBasicAuth:
    body = json.dumps([sample("open")])

    @override_settings(ANYMAIL=SECRET_SETTINGS)
    def test_correct_credentials(self, webhook_client, tracking_events):
        response = post(webhook_client, self.body, HTTP_AUTHORIZATION=GOOD_AUTH)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @override_settings(ANYMAIL=SECRET_SETTINGS)
    @pytest.mark.parametrize(
        "extra",
        [{}, {"HTTP_AUTHORIZATION": basic_auth_header("sg-user:wrong")}],
        ids=["missing", "wrong"],
    )
    def test_refused(self, webhook_client, tracking_events, security_log, extra):
        response = post(webhook_client, self.body, **extra)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [BASIC_AUTH_FAILURE]

    @override_settings(ANYMAIL={**SECRET_SETTINGS, **KEY_SETTINGS})
    def test_signature_and_basic_auth_both_pass(self, webhook_client, tracking_events):
        response = post(
            webhook_client, self.body, HTTP_AUTHORIZATION=GOOD_AUTH, **sign(self.body)
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @override_settings(ANYMAIL={**SECRET_SETTINGS, **KEY_SETTINGS})
    def test_signature_alone_is_not_enough(
        self, webhook_client, tracking_events, security_log
    ):
        response = post(webhook_client, self.body, **sign(self.body))
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [BASIC_AUTH_FAILURE]

    @override_settings(ANYMAIL={**SECRET_SETTINGS, **KEY_SETTINGS})
    def test_basic_auth_alone_is_not_enough(
        self, webhook_client, tracking_events, security_log
    ):
        response = post(webhook_client, self.body, HTTP_AUTHORIZATION=GOOD_AUTH)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [SIGNATURE_MISSING]

    @override_settings(ANYMAIL={**SECRET_SETTINGS, **KEY_SETTINGS})
    def test_signature_checked_first(
        self, webhook_client, tracking_events, security_log
    ):
        headers = sign(self.body, private_key=OTHER_PRIVATE_KEY)
        response = post(webhook_client, self.body, **headers)  # no basic auth
        assert response.status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]


class TestWarnings:
    body = json.dumps([sample("open")])

    @override_settings(ANYMAIL={})
    def test_insecure_warning_without_key_or_secret(
        self, webhook_client, tracking_events
    ):
        with pytest.warns(AnymailInsecureWebhookWarning, match="WEBHOOK_SECRET"):
            response = post(webhook_client, self.body)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @pytest.mark.parametrize(
        "anymail_settings",
        [KEY_SETTINGS, SECRET_SETTINGS, {**KEY_SETTINGS, **SECRET_SETTINGS}],
        ids=["key", "secret", "both"],
    )
    def test_no_insecure_warning(
        self, webhook_client, tracking_events, anymail_settings
    ):
        extra = sign(self.body)
        if "WEBHOOK_SECRET" in anymail_settings:
            extra["HTTP_AUTHORIZATION"] = GOOD_AUTH
        with override_settings(ANYMAIL=anymail_settings), warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post(webhook_client, self.body, **extra)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    def test_key_from_as_view_suppresses_insecure_warning(
        self, webhook_client, tracking_events
    ):
        with override_settings(ANYMAIL={}), warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post(webhook_client, self.body, url="/signed/")
        # (the as_view key is in force: an unsigned post is refused)
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_not_supported_warning_every_request(self, webhook_client):
        with pytest.warns(AnymailNotSupportedWarning) as record:
            post(webhook_client, self.body)
            post(webhook_client, self.body)
            webhook_client.head(URL)
        messages = [
            str(w.message)
            for w in record
            if issubclass(w.category, AnymailNotSupportedWarning)
        ]
        assert messages == [NOT_SUPPORTED] * 3


class TestSettings:
    body = json.dumps([sample("open")])

    @pytest.mark.parametrize(
        "setting_overrides",
        [
            {"ANYMAIL": KEY_SETTINGS},
            {
                "ANYMAIL": {},
                "ANYMAIL_SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": VERIFICATION_KEY,
            },
            {
                "ANYMAIL": {},
                "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": VERIFICATION_KEY,
            },
        ],
        ids=["anymail-dict", "anymail-prefixed", "bare"],
    )
    def test_key_setting_lookup(
        self, webhook_client, tracking_events, setting_overrides
    ):
        with override_settings(**setting_overrides):
            unsigned = post(webhook_client, self.body)
            signed = post(webhook_client, self.body, **sign(self.body))
        assert unsigned.status_code == 400
        assert signed.status_code == 200
        assert len(tracking_events.calls) == 1

    @override_settings(ANYMAIL={})
    def test_key_as_view_kwarg(self, webhook_client, tracking_events):
        assert post(webhook_client, self.body, url="/signed/").status_code == 400
        response = post(webhook_client, self.body, url="/signed/", **sign(self.body))
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @override_settings(ANYMAIL={})
    def test_as_view_kwarg_consumed(self):
        view = SendGridTrackingWebhookView.as_view(
            tracking_webhook_verification_key=VERIFICATION_KEY
        )
        instance = view.view_class(**view.view_initkwargs)
        assert instance.tracking_webhook_verification_key == VERIFICATION_KEY
        assert instance.warn_if_no_basic_auth is False

    @override_settings(ANYMAIL={})
    def test_unknown_as_view_kwarg_rejected(self):
        with pytest.raises(TypeError):
            SendGridTrackingWebhookView.as_view(verification_key=VERIFICATION_KEY)

    def test_key_given_as_full_pem(self, webhook_client, tracking_events):
        pem = (
            PRIVATE_KEY.public_key()
            .public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
            .decode()
        )
        with override_settings(
            ANYMAIL={"SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": pem}
        ):
            response = post(webhook_client, self.body, **sign(self.body))
        assert response.status_code == 200

    @pytest.mark.parametrize(
        "key",
        [
            "not a key",
            VERIFICATION_KEY[:40],
            _public_key_setting(
                rsa.generate_private_key(public_exponent=65537, key_size=1024)
            ),
        ],
        ids=["garbage", "truncated", "rsa-key"],
    )
    def test_invalid_key_is_configuration_error(self, webhook_client, key):
        with (
            override_settings(
                ANYMAIL={"SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": key}
            ),
            pytest.raises(
                AnymailConfigurationError,
                match="Invalid SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
            ),
        ):
            post(webhook_client, self.body)


def _without_cryptography():
    hidden = {
        name: None
        for name in list(sys.modules)
        if name == "cryptography" or name.startswith("cryptography.")
    }
    hidden["cryptography"] = None
    return mock.patch.dict(sys.modules, hidden)


class TestCryptographyMissing:
    body = json.dumps([sample("open")])

    @override_settings(ANYMAIL=KEY_SETTINGS)
    def test_key_set_requires_cryptography(self, webhook_client, tracking_events):
        headers = sign(self.body)
        with (
            _without_cryptography(),
            pytest.raises(AnymailImproperlyInstalled) as excinfo,
        ):
            post(webhook_client, self.body, **headers)
        assert str(excinfo.value) == (
            "The cryptography package isn't installed but is needed for this"
            ' ESP.\n(Be sure to use `pip install "django-anymail[sendgrid]"`.)'
        )
        assert isinstance(excinfo.value, ImportError)
        assert tracking_events.calls == []

    @override_settings(ANYMAIL={})
    def test_works_without_cryptography_when_no_key(
        self, webhook_client, tracking_events
    ):
        with _without_cryptography():
            response = post(webhook_client, self.body)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1
