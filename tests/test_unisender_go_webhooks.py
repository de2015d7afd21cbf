"""Unisender Go tracking webhook: batch and single events, MD5 body signature."""

import hashlib
import json
import logging
import warnings
from datetime import datetime, timezone

import pytest
from django.test import override_settings
from django.urls import include, path

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import EventType, RejectReason, tracking
from anymail.webhooks.unisender_go import UnisenderGoTrackingWebhookView

from .conftest import basic_auth_header, event_fields, security_messages

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "custom/",
        UnisenderGoTrackingWebhookView.as_view(api_key="VIEW_API_KEY"),
        name="custom_unisender_go",
    ),
]

pytestmark = pytest.mark.urls(__name__)

URL = "/anymail/unisender_go/tracking/"
API_KEY = "6ct1mzh8pqew4rbn3yjdf5gk7usz9oxa"
PROJECT_ID = "6432890213745872"
ANYMAIL_ID = "8c4a4f8e-6b1c-4d6a-9f0e-3f1c2b7d9a11"
JOB_ID = "1a3Q2V-0000OZ-S0"

MISSING_KEY_MESSAGE = (
    "You must set ANYMAIL = {'UNISENDER_GO_API_KEY': ...}"
    " or ANYMAIL_UNISENDER_GO_API_KEY or UNISENDER_GO_API_KEY"
    " in your Django settings"
)
INVALID_PAYLOAD = "Unisender Go webhook called with invalid payload"
INCORRECT_SIGNATURE = (
    "Unisender Go webhook called with incorrect signature"
    " (check Anymail UNISENDER_GO_API_KEY setting)"
)
INCORRECT_SIGNATURE_FOR_PROJECT = (
    "Unisender Go webhook called with incorrect signature"
    f" (check Anymail UNISENDER_GO_API_KEY setting is for Project ID {PROJECT_ID})"
)
BASIC_AUTH_FAILURE = "Missing or invalid basic auth in Anymail Unisender Go webhook"
MALFORMED = b"Malformed Unisender Go webhook payload"

# ---------------------------------------------------------------------------
# Building signed payloads the way Unisender Go does


def sign(unsigned_text, api_key=API_KEY):
    """Unisender Go's signing: the MD5 of the body text *with the API key as
    its auth value*, then the digest put in the key's place."""
    unsigned = unsigned_text.encode("utf-8")
    digest = hashlib.md5(unsigned).hexdigest().encode("ascii")
    assert unsigned.count(api_key.encode("ascii")) == 1
    return unsigned.replace(api_key.encode("ascii"), digest)


def signed_json(payload, api_key=API_KEY, **dumps_kwargs):
    """A signed body for payload (a dict without auth), with auth first."""
    return sign(json.dumps({"auth": api_key, **payload}, **dumps_kwargs), api_key)


def batch(*event_datas, project_id=PROJECT_ID, events=None):
    """A batch ("events_by_user") payload of transactional_email_status events."""
    if events is None:
        events = [
            {"event_name": "transactional_email_status", "event_data": event_data}
            for event_data in event_datas
        ]
    return {
        "events_by_user": [
            {
                "user_id": 456,
                "project_id": project_id,
                "project_name": "Shop notifications",
                "events": events,
            }
        ]
    }


def event_data(**fields):
    """A transactional_email_status event_data, like Unisender Go's examples."""
    data = {
        "job_id": JOB_ID,
        "metadata": {"anymail_id": ANYMAIL_ID, "order": "A-123"},
        "email": "recipient@example.com",
        "status": "delivered",
        "event_time": "2024-09-06 23:22:40",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def post(client, body, url=URL, content_type="application/json", **extra):
    return client.post(url, body, content_type=content_type, **extra)


def expected_fields(esp_event, **overrides):
    """The normalized fields for an event_data() event, with overrides."""
    fields = {
        "event_type": EventType.DELIVERED,
        "timestamp": datetime(2024, 9, 6, 23, 22, 40, tzinfo=timezone.utc),
        "event_id": None,
        "message_id": ANYMAIL_ID,
        "recipient": "recipient@example.com",
        "metadata": {"order": "A-123"},
        "tags": [],
        "reject_reason": None,
        "description": None,
        "mta_response": None,
        "user_agent": None,
        "click_url": None,
        "esp_event": esp_event,
    }
    fields.update(overrides)
    return fields


@pytest.fixture(autouse=True)
def api_key_setting():
    """Configure the API key (and no WEBHOOK_SECRET) unless a test overrides it."""
    with override_settings(ANYMAIL={"UNISENDER_GO_API_KEY": API_KEY}):
        yield


# ---------------------------------------------------------------------------
# Event normalization

OPENER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36"
)

# (Unisender Go status, extra event_data fields, expected field overrides):
# one row for each row of the event-type table
EVENT_TYPE_ROWS = [
    ("sent", {}, {"event_type": EventType.SENT}),
    (
        "delivered",
        {"delivery_info": {"destination_response": "250 2.0.0 Ok: queued as 4Wx"}},
        {
            "event_type": EventType.DELIVERED,
            "mta_response": "250 2.0.0 Ok: queued as 4Wx",
        },
    ),
    (
        "opened",
        {"delivery_info": {"user_agent": OPENER_UA, "ip": "192.0.2.10"}},
        {"event_type": EventType.OPENED, "user_agent": OPENER_UA},
    ),
    (
        "clicked",
        {
            "url": "https://shop.example.com/orders/A-123?utm_source=email",
            "delivery_info": {"user_agent": OPENER_UA, "ip": "192.0.2.10"},
        },
        {
            "event_type": EventType.CLICKED,
            "user_agent": OPENER_UA,
            "click_url": "https://shop.example.com/orders/A-123?utm_source=email",
        },
    ),
    (
        "unsubscribed",
        {"comment": "Too many emails"},
        {"event_type": EventType.UNSUBSCRIBED, "description": "Too many emails"},
    ),
    ("subscribed", {}, {"event_type": EventType.SUBSCRIBED}),
    ("spam", {}, {"event_type": EventType.COMPLAINED}),
    (
        "soft_bounced",
        {
            "delivery_info": {
                "delivery_status": "err_will_retry",
                "destination_response": "421 4.7.0 Try again later",
            }
        },
        {
            "event_type": EventType.DEFERRED,
            "reject_reason": None,
            "description": "err_will_retry",
            "mta_response": "421 4.7.0 Try again later",
        },
    ),
    (
        "hard_bounced",
        {
            "delivery_info": {
                "delivery_status": "err_user_unknown",
                "destination_response": "550 5.1.1 <recipient@example.com>:"
                " Recipient address rejected: User unknown",
            }
        },
        {
            "event_type": EventType.BOUNCED,
            "reject_reason": RejectReason.BOUNCED,
            "description": "err_user_unknown",
            "mta_response": "550 5.1.1 <recipient@example.com>:"
            " Recipient address rejected: User unknown",
        },
    ),
    ("queued_for_review", {}, {"event_type": EventType.UNKNOWN}),
]


class TestEventTypes:
    @pytest.mark.parametrize(
        "status, extra, overrides",
        EVENT_TYPE_ROWS,
        ids=[row[0] for row in EVENT_TYPE_ROWS],
    )
    def test_batch_event(
        self, webhook_client, tracking_events, status, extra, overrides
    ):
        data = event_data(status=status, **extra)
        response = post(webhook_client, signed_json(batch(data)))
        assert response.status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(data, **overrides)

    @pytest.mark.parametrize(
        "status, extra, overrides",
        EVENT_TYPE_ROWS,
        ids=[row[0] for row in EVENT_TYPE_ROWS],
    )
    def test_single_event(
        self, webhook_client, tracking_events, status, extra, overrides
    ):
        data = {
            "event_name": "transactional_email_status",
            "user_id": 456,
            "project_id": PROJECT_ID,
            "project_name": "Shop notifications",
            **event_data(status=status, **extra),
        }
        body = signed_json(data)
        response = post(webhook_client, body)
        assert response.status_code == 200
        # the single-event format's esp_event is the whole object, auth included
        whole = json.loads(body)
        assert whole["auth"] != API_KEY
        assert event_fields(tracking_events.event) == expected_fields(
            whole, **overrides
        )

    def test_spec_sample(self, webhook_client, tracking_events):
        sample = {
            "event_name": "transactional_email_status",
            "user_id": 111,
            "job_id": "1abc-000X-yz",
            "email": "full@example.com",
            "status": "soft_bounced",
            "event_time": "2024-09-06 23:22:40",
            "metadata": {"anymail_id": "aaaa-bbbb", "cohort": "a"},
            "delivery_info": {
                "delivery_status": "err_mailbox_full",
                "destination_response": "552 Mailbox full",
            },
        }
        body = signed_json(sample)
        assert post(webhook_client, body).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "deferred",
            "timestamp": datetime(2024, 9, 6, 23, 22, 40, tzinfo=timezone.utc),
            "event_id": None,
            "message_id": "aaaa-bbbb",
            "recipient": "full@example.com",
            "metadata": {"cohort": "a"},
            "tags": [],
            "reject_reason": "bounced",
            "description": "err_mailbox_full",
            "mta_response": "552 Mailbox full",
            "user_agent": None,
            "click_url": None,
            "esp_event": json.loads(body),
        }


# every row of the reject-reason table (and what isn't an error code)
REJECT_REASON_ROWS = [
    ("err_user_unknown", RejectReason.BOUNCED),
    ("err_user_inactive", RejectReason.BOUNCED),
    ("err_mailbox_discarded", RejectReason.BOUNCED),
    ("err_mailbox_full", RejectReason.BOUNCED),
    ("err_too_large", RejectReason.BOUNCED),
    ("err_unreachable", RejectReason.BOUNCED),
    ("err_skip_letter", RejectReason.BOUNCED),
    ("err_domain_inactive", RejectReason.BOUNCED),
    ("err_destination_misconfigured", RejectReason.BOUNCED),
    ("err_spam_rejected", RejectReason.SPAM),
    ("err_spam_skipped", RejectReason.SPAM),
    ("err_blacklisted", RejectReason.BLOCKED),
    ("err_unsubscribed", RejectReason.UNSUBSCRIBED),
    ("err_delivery_failed", RejectReason.OTHER),
    ("err_lost", RejectReason.OTHER),
    ("err_will_retry", None),
    ("err_not_yet_documented", RejectReason.OTHER),
    ("ok_delivered", None),
]


class TestRejectReasons:
    @pytest.mark.parametrize(
        "delivery_status, reject_reason",
        REJECT_REASON_ROWS,
        ids=[row[0] for row in REJECT_REASON_ROWS],
    )
    def test_delivery_status(
        self, webhook_client, tracking_events, delivery_status, reject_reason
    ):
        data = event_data(
            status="hard_bounced",
            delivery_info={
                "delivery_status": delivery_status,
                "destination_response": "550 Rejected",
            },
        )
        assert post(webhook_client, signed_json(batch(data))).status_code == 200
        event = tracking_events.event
        assert event.reject_reason == reject_reason
        assert event.description == delivery_status
        assert event.mta_response == "550 Rejected"

    @pytest.mark.parametrize("status", ["sent", "delivered", "spam", "soft_bounced"])
    def test_any_event_type_gets_the_reason(
        self, webhook_client, tracking_events, status
    ):
        data = event_data(status=status, delivery_info={"delivery_status": "err_lost"})
        assert post(webhook_client, signed_json(batch(data))).status_code == 200
        assert tracking_events.event.reject_reason == RejectReason.OTHER

    @pytest.mark.parametrize(
        "delivery_info",
        [None, {}, {"delivery_status": ""}, {"delivery_status": None}],
        ids=["no-delivery-info", "empty", "empty-status", "null-status"],
    )
    def test_no_delivery_status(self, webhook_client, tracking_events, delivery_info):
        data = event_data(status="hard_bounced", delivery_info=delivery_info)
        assert post(webhook_client, signed_json(batch(data))).status_code == 200
        assert tracking_events.event.reject_reason is None
        assert tracking_events.event.description is None

    def test_delivery_status_takes_precedence_over_comment(
        self, webhook_client, tracking_events
    ):
        data = event_data(
            status="unsubscribed",
            comment="Not interested",
            delivery_info={"delivery_status": "err_unsubscribed"},
        )
        assert post(webhook_client, signed_json(batch(data))).status_code == 200
        assert tracking_events.event.description == "err_unsubscribed"
        assert tracking_events.event.reject_reason == RejectReason.UNSUBSCRIBED


class TestEventFields:
    @pytest.mark.parametrize(
        "fields, message_id, metadata",
        [
            ({}, ANYMAIL_ID, {"order": "A-123"}),
            ({"metadata": {"order": "A-123"}}, JOB_ID, {"order": "A-123"}),
            ({"metadata": {}}, JOB_ID, {}),
            ({"metadata": None}, JOB_ID, {}),
            ({"metadata": None, "job_id": None}, None, {}),
            ({"job_id": None}, ANYMAIL_ID, {"order": "A-123"}),
        ],
        ids=[
            "anymail_id",
            "job_id-without-anymail_id",
            "empty-metadata",
            "no-metadata",
            "no-ids",
            "anymail_id-without-job_id",
        ],
    )
    def test_message_id_and_metadata(
        self, webhook_client, tracking_events, fields, message_id, metadata
    ):
        data = event_data(**fields)  # (a None field is left out)
        assert post(webhook_client, signed_json(batch(data))).status_code == 200
        assert tracking_events.event.message_id == message_id
        assert tracking_events.event.metadata == metadata

    def test_null_anymail_id_is_used_as_is(self, webhook_client, tracking_events):
        data = event_data(metadata={"anymail_id": None, "order": "A-1"})
        assert post(webhook_client, signed_json(batch(data))).status_code == 200
        assert tracking_events.event.message_id is None
        assert tracking_events.event.metadata == {"order": "A-1"}

    def test_null_metadata(self, webhook_client, tracking_events):
        data = event_data()
        data["metadata"] = None
        assert post(webhook_client, signed_json(batch(data))).status_code == 200
        assert tracking_events.event.metadata == {}
        assert tracking_events.event.message_id == JOB_ID

    def test_anymail_id_removed_without_touching_esp_event(
        self, webhook_client, tracking_events
    ):
        data = event_data(metadata={"anymail_id": ANYMAIL_ID, "cohort": 7})
        assert post(webhook_client, signed_json(batch(data))).status_code == 200
        event = tracking_events.event
        assert event.metadata == {"cohort": 7}
        assert event.esp_event["metadata"] == {"anymail_id": ANYMAIL_ID, "cohort": 7}

    def test_missing_event_time(self, webhook_client, tracking_events):
        data = event_data()
        del data["event_time"]
        assert post(webhook_client, signed_json(batch(data))).status_code == 200
        assert tracking_events.event.timestamp is None

    def test_timestamp_is_utc(self, webhook_client, tracking_events):
        data = event_data(event_time="2024-12-31 23:59:59")
        with override_settings(TIME_ZONE="Europe/Moscow"):
            response = post(webhook_client, signed_json(batch(data)))
        assert response.status_code == 200
        timestamp = tracking_events.event.timestamp
        assert timestamp == datetime(2024, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
        assert timestamp.utcoffset().total_seconds() == 0


class TestBatches:
    def test_one_signal_per_status_event_in_order(
        self, webhook_client, tracking_events
    ):
        events = [
            {
                "event_name": "transactional_email_status",
                "event_data": event_data(status="sent", email="one@example.com"),
            },
            {
                "event_name": "transactional_spam_block",
                "event_data": {
                    "block_time": "2024-09-06 23:20:00",
                    "block_type": "one_smtp",
                    "domain": "example.net",
                    "SMTP_blocks_count": 8,
                    "domain_blocks_count": 6,
                },
            },
            {
                "event_name": "transactional_email_status",
                "event_data": event_data(status="delivered", email="two@example.com"),
            },
            {
                "event_name": "transactional_email_status",
                "event_data": event_data(status="opened", email="one@example.com"),
            },
        ]
        response = post(webhook_client, signed_json(batch(events=events)))
        assert response.status_code == 200
        assert response.content == b""
        assert [(e.event_type, e.recipient) for e in tracking_events.events] == [
            ("sent", "one@example.com"),
            ("delivered", "two@example.com"),
            ("opened", "one@example.com"),
        ]
        assert [e.esp_event for e in tracking_events.events] == [
            events[0]["event_data"],
            events[2]["event_data"],
            events[3]["event_data"],
        ]
        for call in tracking_events.calls:
            assert call["sender"] is UnisenderGoTrackingWebhookView
            assert call["esp_name"] == "Unisender Go"
            assert call["signal"] is tracking

    def test_empty_and_non_status_batches(self, webhook_client, tracking_events):
        spam_block = {
            "event_name": "transactional_spam_block",
            "event_data": {"block_time": "2024-09-06 23:20:00", "block_type": "all"},
        }
        assert post(webhook_client, signed_json(batch(events=[]))).status_code == 200
        body = signed_json(batch(events=[spam_block]))
        assert post(webhook_client, body).status_code == 200
        assert tracking_events.calls == []

    def test_single_non_status_event(self, webhook_client, tracking_events):
        payload = {
            "event_name": "transactional_spam_block",
            "user_id": 456,
            "project_id": PROJECT_ID,
            "block_time": "2024-09-06 23:20:00",
            "block_type": "one_smtp",
            "domain": "example.net",
        }
        assert post(webhook_client, signed_json(payload)).status_code == 200
        assert tracking_events.calls == []

    def test_one_bad_event_dispatches_none(self, webhook_client, tracking_events):
        bad = event_data()
        del bad["email"]
        body = signed_json(batch(event_data(), bad))
        response = post(webhook_client, body)
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []


# ---------------------------------------------------------------------------
# Signature


class TestSignature:
    def test_fixed_test_vector(self, webhook_client, tracking_events):
        # MD5 computed independently (md5sum) over the body with the key in auth
        body = (
            b'{"auth":"0722c81407ed4f6b3907fd64131dc926","events_by_user":'
            b'[{"user_id":5,"project_id":"7001","project_name":"Shop","events":'
            b'[{"event_name":"transactional_email_status","event_data":'
            b'{"job_id":"1xYz-0001-ab","email":"vector@example.com",'
            b'"status":"delivered","event_time":"2024-05-01 10:00:00"}}]}]}'
        )
        with override_settings(ANYMAIL={"UNISENDER_GO_API_KEY": "SPEC_VECTOR_KEY"}):
            response = post(webhook_client, body)
        assert response.status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.recipient, event.message_id) == (
            "delivered",
            "vector@example.com",
            "1xYz-0001-ab",
        )

    @pytest.mark.parametrize(
        "dumps_kwargs",
        [
            {"separators": (",", ":")},
            {"indent": 2, "ensure_ascii": False},
            {"ensure_ascii": True, "sort_keys": True},
        ],
        ids=["compact", "indented-raw-utf8", "u-escapes-sorted"],
    )
    def test_checks_raw_body_however_serialized(
        self, webhook_client, tracking_events, dumps_kwargs
    ):
        data = event_data(
            status="clicked",
            email="jiří@example.com",
            url="https://example.com/ž/path",
            metadata={"anymail_id": ANYMAIL_ID, "note": "Привет"},
        )
        body = signed_json(batch(data), **dumps_kwargs)
        assert post(webhook_client, body).status_code == 200
        event = tracking_events.event
        assert event.recipient == "jiří@example.com"
        assert event.click_url == "https://example.com/ž/path"
        assert event.metadata == {"note": "Привет"}

    def test_escaped_slashes_and_auth_last(self, webhook_client, tracking_events):
        # PHP-style "\/" escapes, and auth after the events: the digest is
        # still over the raw text
        text = (
            '{"events_by_user":[{"user_id":1,"project_id":"","events":['
            '{"event_name":"transactional_email_status","event_data":{'
            '"email":"a@example.com","status":"clicked",'
            '"url":"https:\\/\\/example.com\\/a\\/b","job_id":"J1"}}]}],'
            f'"auth":"{API_KEY}"}}'
        )
        assert post(webhook_client, sign(text)).status_code == 200
        assert tracking_events.event.click_url == "https://example.com/a/b"

    def test_wrong_api_key(self, webhook_client, tracking_events, security_log):
        body = signed_json(batch(event_data()), api_key="some-other-projects-key")
        response = post(webhook_client, body)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE_FOR_PROJECT]

    @pytest.mark.parametrize(
        "tamper",
        [
            lambda body: body.replace(b'"delivered"', b'"opened"'),
            lambda body: body.replace(b"recipient@", b"attacker@"),
            lambda body: body + b" ",
        ],
        ids=["status", "email", "trailing-space"],
    )
    def test_tampered_body(self, webhook_client, tracking_events, security_log, tamper):
        body = signed_json(batch(event_data()))
        tampered = tamper(body)
        assert tampered != body
        response = post(webhook_client, tampered)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE_FOR_PROJECT]

    def test_uppercase_digest_is_not_accepted(
        self, webhook_client, tracking_events, security_log
    ):
        body = signed_json(batch(event_data()))
        digest = json.loads(body)["auth"]
        response = post(
            webhook_client, body.replace(digest.encode(), digest.upper().encode())
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE_FOR_PROJECT]

    def test_empty_auth(self, webhook_client, tracking_events, security_log):
        body = json.dumps({"auth": "", **batch(event_data(), project_id="")})
        response = post(webhook_client, body)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    def test_project_id_hint_single_event(self, webhook_client, security_log):
        payload = {
            "event_name": "transactional_email_status",
            "project_id": "5550001",
            **event_data(),
        }
        body = signed_json(payload, api_key="not-the-configured-key")
        assert post(webhook_client, body).status_code == 400
        assert security_messages(security_log) == [
            "Unisender Go webhook called with incorrect signature"
            " (check Anymail UNISENDER_GO_API_KEY setting is for Project ID 5550001)"
        ]

    @pytest.mark.parametrize(
        "payload",
        [
            {"event_name": "transactional_email_status", **event_data()},
            batch(event_data(), project_id=""),
            {"events_by_user": [{"user_id": 1, "events": []}]},
            {"events_by_user": []},
        ],
        ids=[
            "single-no-project",
            "batch-empty-project",
            "batch-no-project",
            "no-users",
        ],
    )
    def test_no_project_id_hint(self, webhook_client, security_log, payload):
        body = signed_json(payload, api_key="not-the-configured-key")
        assert post(webhook_client, body).status_code == 400
        assert security_messages(security_log) == [INCORRECT_SIGNATURE]

    @pytest.mark.parametrize(
        "auth",
        [None, 0, [], {}, 1.5, True],
        ids=["null", "0", "list", "dict", "float", "bool"],
    )
    def test_non_string_auth(self, webhook_client, tracking_events, security_log, auth):
        body = json.dumps({"auth": auth, **batch(event_data())})
        response = post(webhook_client, body)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INVALID_PAYLOAD]

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b'{"auth": "0722c81407ed4f6b3907fd64131dc926", "events_by_user": [',
            json.dumps(batch(event_data())).encode(),  # no auth at all
            b"[]",
            b'[{"auth": "0722c81407ed4f6b3907fd64131dc926"}]',
            b'"0722c81407ed4f6b3907fd64131dc926"',
            b"null",
            b'{"auth": "\xff\xfe"}',
        ],
        ids=[
            "empty",
            "not-json",
            "truncated",
            "missing-auth",
            "empty-list",
            "list",
            "string",
            "null",
            "not-utf8",
        ],
    )
    def test_invalid_payload(self, webhook_client, tracking_events, security_log, body):
        response = post(webhook_client, body)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INVALID_PAYLOAD]

    def test_form_post_is_invalid_payload(
        self, webhook_client, tracking_events, security_log
    ):
        signed = json.loads(signed_json(batch(event_data())))
        response = webhook_client.post(
            URL, {"auth": signed["auth"], "events_by_user": "[]"}
        )  # multipart/form-data
        urlencoded = post(
            webhook_client,
            f"auth={signed['auth']}",
            content_type="application/x-www-form-urlencoded",
        )
        assert (response.status_code, urlencoded.status_code) == (400, 400)
        assert tracking_events.calls == []
        assert security_messages(security_log) == [INVALID_PAYLOAD, INVALID_PAYLOAD]


# ---------------------------------------------------------------------------
# Payloads that are signed but aren't what Unisender Go sends


def _without(data, key):
    data = dict(data)
    del data[key]
    return data


MALFORMED_PAYLOADS = {
    "missing-email": batch(_without(event_data(), "email")),
    "missing-status": batch(_without(event_data(), "status")),
    "missing-event-data": batch(events=[{"event_name": "transactional_email_status"}]),
    "missing-event-name-in-batch": batch(events=[{"event_data": event_data()}]),
    "missing-event-name-single": event_data(),
    "single-missing-email": {
        "event_name": "transactional_email_status",
        **_without(event_data(), "email"),
    },
    "no-users": {"events_by_user": []},
    "users-not-a-list": {"events_by_user": {"events": []}},
    "missing-events": {"events_by_user": [{"user_id": 1}]},
    "events-not-a-list": batch(events=7),
    "event-not-an-object": batch(events=["transactional_email_status"]),
    "unparseable-event-time": batch(event_data(event_time="yesterday at noon")),
    "numeric-event-time": batch(event_data(event_time=1725664960)),
    "metadata-not-an-object": batch(event_data(metadata=["anymail_id", "x"])),
    "delivery-info-not-an-object": batch(event_data(delivery_info="err_lost")),
    "numeric-delivery-status": batch(
        event_data(delivery_info={"delivery_status": 550})
    ),
}


class TestMalformedPayloads:
    @pytest.mark.parametrize(
        "payload", MALFORMED_PAYLOADS.values(), ids=MALFORMED_PAYLOADS.keys()
    )
    def test_400_not_500(self, webhook_client, tracking_events, security_log, payload):
        response = post(webhook_client, signed_json(payload))
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []
        # a parsing problem, not a security one
        assert security_messages(security_log) == []

    def test_text_plain_content_type_is_still_parsed(
        self, webhook_client, tracking_events
    ):
        # the body is what's signed and parsed; Content-Type isn't checked
        body = signed_json(batch(event_data()))
        assert post(webhook_client, body, content_type="text/plain").status_code == 200
        assert len(tracking_events.calls) == 1


# ---------------------------------------------------------------------------
# Basic auth, warnings, settings


class TestBasicAuth:
    @override_settings(
        ANYMAIL={"UNISENDER_GO_API_KEY": API_KEY, "WEBHOOK_SECRET": "user:pass"}
    )
    def test_right_credentials(self, webhook_client, tracking_events):
        body = signed_json(batch(event_data()))
        response = post(
            webhook_client, body, HTTP_AUTHORIZATION=basic_auth_header("user:pass")
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @override_settings(
        ANYMAIL={"UNISENDER_GO_API_KEY": API_KEY, "WEBHOOK_SECRET": "user:pass"}
    )
    @pytest.mark.parametrize(
        "authorization",
        [None, basic_auth_header("user:wrong"), "Bearer dXNlcjpwYXNz"],
        ids=["missing", "wrong", "bearer"],
    )
    def test_wrong_or_missing_credentials(
        self, webhook_client, tracking_events, security_log, authorization
    ):
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        response = post(webhook_client, signed_json(batch(event_data())), **extra)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [BASIC_AUTH_FAILURE]

    @override_settings(
        ANYMAIL={"UNISENDER_GO_API_KEY": API_KEY, "WEBHOOK_SECRET": "user:pass"}
    )
    def test_signature_checked_first(
        self, webhook_client, tracking_events, security_log
    ):
        body = signed_json(batch(event_data()), api_key="wrong-key")
        good = basic_auth_header("user:pass")
        bad = basic_auth_header("user:wrong")
        assert post(webhook_client, body, HTTP_AUTHORIZATION=good).status_code == 400
        assert post(webhook_client, body, HTTP_AUTHORIZATION=bad).status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [
            INCORRECT_SIGNATURE_FOR_PROJECT,
            INCORRECT_SIGNATURE_FOR_PROJECT,
        ]


class TestNoInsecureWarning:
    @pytest.mark.parametrize(
        "anymail_settings",
        [{"UNISENDER_GO_API_KEY": API_KEY}, {}],
        ids=["key-in-anymail", "empty-anymail"],
    )
    def test_never_warns(self, webhook_client, tracking_events, anymail_settings):
        with (
            override_settings(ANYMAIL=anymail_settings, UNISENDER_GO_API_KEY=API_KEY),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post(webhook_client, signed_json(batch(event_data())))
            assert webhook_client.get(URL).status_code == 200
            assert webhook_client.head(URL).status_code == 200
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1


class TestSettings:
    @pytest.mark.parametrize(
        "settings",
        [
            {"ANYMAIL": {"UNISENDER_GO_API_KEY": "dict-key"}},
            {"ANYMAIL": {}, "ANYMAIL_UNISENDER_GO_API_KEY": "dict-key"},
            {"ANYMAIL": {}, "UNISENDER_GO_API_KEY": "dict-key"},
            {
                "ANYMAIL": {"UNISENDER_GO_API_KEY": "dict-key"},
                "ANYMAIL_UNISENDER_GO_API_KEY": "flat-key",
                "UNISENDER_GO_API_KEY": "bare-key",
            },
            {
                "ANYMAIL": {},
                "ANYMAIL_UNISENDER_GO_API_KEY": "dict-key",
                "UNISENDER_GO_API_KEY": "bare-key",
            },
        ],
        ids=["anymail-dict", "flat", "bare", "dict-first", "flat-before-bare"],
    )
    def test_api_key_lookup(self, webhook_client, tracking_events, settings):
        body = signed_json(batch(event_data()), api_key="dict-key")
        with override_settings(**settings):
            response = post(webhook_client, body)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    def test_as_view_api_key(self, webhook_client, tracking_events, security_log):
        # the route's api_key wins over the setting (API_KEY)
        right = signed_json(batch(event_data()), api_key="VIEW_API_KEY")
        wrong = signed_json(batch(event_data()), api_key=API_KEY)
        assert post(webhook_client, right, url="/custom/").status_code == 200
        assert post(webhook_client, wrong, url="/custom/").status_code == 400
        assert len(tracking_events.calls) == 1
        assert security_messages(security_log) == [INCORRECT_SIGNATURE_FOR_PROJECT]

    def test_as_view_kwarg_is_consumed(self):
        view = UnisenderGoTrackingWebhookView.as_view(api_key="VIEW_API_KEY")
        instance = view.view_class(**view.view_initkwargs)
        assert instance.api_key_bytes == b"VIEW_API_KEY"
        assert instance.api_key == "VIEW_API_KEY"

    def test_setting_key_bytes(self):
        assert UnisenderGoTrackingWebhookView().api_key_bytes == API_KEY.encode()

    @pytest.mark.parametrize("method", ["post", "get", "head", "options"])
    def test_missing_api_key(self, webhook_client, method):
        with (
            override_settings(ANYMAIL={}),
            pytest.raises(AnymailConfigurationError) as info,
        ):
            getattr(webhook_client, method)(URL)
        assert str(info.value) == MISSING_KEY_MESSAGE

    @pytest.mark.parametrize("empty", ["", None], ids=["empty", "none"])
    def test_empty_api_key(self, webhook_client, empty):
        body = json.dumps({"auth": "", **batch(event_data())})
        with (
            override_settings(ANYMAIL={"UNISENDER_GO_API_KEY": empty}),
            pytest.raises(AnymailConfigurationError) as info,
        ):
            post(webhook_client, body)
        assert str(info.value) == MISSING_KEY_MESSAGE

    def test_non_ascii_api_key(self, webhook_client):
        with (
            override_settings(ANYMAIL={"UNISENDER_GO_API_KEY": "ключ"}),
            pytest.raises(AnymailConfigurationError, match="must be ASCII"),
        ):
            post(webhook_client, signed_json(batch(event_data())))


# ---------------------------------------------------------------------------
# HTTP methods


class TestMethods:
    @override_settings(
        ANYMAIL={"UNISENDER_GO_API_KEY": API_KEY, "WEBHOOK_SECRET": "user:pass"}
    )
    @pytest.mark.parametrize("method", ["get", "head"])
    def test_get_and_head_without_validation(
        self, webhook_client, tracking_events, security_log, method
    ):
        # no credentials, no body: Unisender Go's setup check uses GET
        response = getattr(webhook_client, method)(URL)
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []
        assert security_messages(security_log) == []

    def test_options_allow_includes_get(self, webhook_client):
        response = webhook_client.options(URL)
        assert response.status_code == 200
        assert response["Allow"] == "POST, HEAD, OPTIONS, GET"

    @pytest.mark.parametrize("method", ["put", "patch", "delete"])
    def test_other_methods_not_allowed(self, webhook_client, method):
        logger = logging.getLogger("django.request")
        logger.disabled = True
        try:
            response = getattr(webhook_client, method)(URL)
        finally:
            logger.disabled = False
        assert response.status_code == 405
        assert response["Allow"] == "POST, HEAD, OPTIONS, GET"

    def test_csrf_exempt(self, webhook_client, tracking_events):
        # webhook_client enforces CSRF checks; the view needs no token
        response = post(webhook_client, signed_json(batch(event_data())))
        assert response.status_code == 200
        assert UnisenderGoTrackingWebhookView.as_view().csrf_exempt is True

    def test_reverse(self):
        from django.urls import resolve, reverse

        assert reverse("anymail:unisender_go_tracking_webhook") == URL
        assert resolve(URL).func.view_class is UnisenderGoTrackingWebhookView
