"""Mailjet tracking webhook: MailjetTrackingWebhookView."""

import logging
import warnings
from datetime import datetime, timezone

import pytest
from django.urls import include, path, reverse

from anymail.exceptions import AnymailInsecureWebhookWarning
from anymail.signals import tracking
from anymail.webhooks.mailjet import MailjetTrackingWebhookView

from .conftest import (
    INSECURE_WARNING,
    TRACKING_EVENT_FIELDS,
    basic_auth_header,
    event_fields,
    post_json_with_auth,
    security_messages,
)

# Routes for the as_view() test (selected with pytest.mark.urls on that test only)
urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "custom/mailjet/",
        MailjetTrackingWebhookView.as_view(basic_auth=["route:only"]),
        name="custom_mailjet",
    ),
]

URL = "/anymail/mailjet/tracking/"
SECRET = "mailjet:webhook:secret"
AUTH = basic_auth_header(SECRET)

AUTH_FAILURE = "Missing or invalid basic auth in Anymail Mailjet webhook"

MESSAGE_ID = 94294969890101240  # bigger than a JavaScript number holds exactly
TIME = 1700000000
DATETIME = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    """Most tests post with the right basic auth for this secret."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post_events(client, payload, auth=AUTH, url=URL, **extra):
    return post_json_with_auth(client, payload, auth=auth, url=url, **extra)


def expected_fields(**fields):
    defaults = dict.fromkeys(TRACKING_EVENT_FIELDS)
    defaults.update(metadata={}, tags=[])
    defaults.update(fields)
    return defaults


# Events modeled on the ones Mailjet posts (fields as in Mailjet's event API docs)


def mailjet_event(event, **fields):
    return {
        "event": event,
        "time": TIME,
        "MessageID": MESSAGE_ID,
        "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0ab1c2d",
        "email": "bob@example.com",
        "mj_campaign_id": 7173,
        "mj_contact_id": 26765371,
        "customcampaign": "welcome",
        "mj_message_id": str(MESSAGE_ID),
        "CustomID": "",
        "Payload": '{"order": "42", "items": 3}',
        **fields,
    }


SENT = mailjet_event(
    "sent",
    smtp_reply="sent (250 2.0.0 OK 1700000000 a1-20020a.123 - gsmtp)",
)
OPEN = mailjet_event("open", ip="192.0.2.7", geo="US", agent=USER_AGENT)
CLICK = mailjet_event(
    "click",
    url="https://example.com/welcome?utm=mj",
    ip="192.0.2.7",
    geo="FR",
    agent=USER_AGENT,
)
BOUNCE = mailjet_event(
    "bounce",
    blocked=False,
    hard_bounce=True,
    error_related_to="recipient",
    error="user unknown",
    comment="Host or domain name not found.",
)
BLOCKED = mailjet_event(
    "blocked", error_related_to="recipient", error="preblocked", comment=""
)
SPAM = mailjet_event("spam", source="JMRPP")
UNSUB = mailjet_event(
    "unsub", mj_list_id=1234, ip="192.0.2.7", geo="DE", agent=USER_AGENT
)
FUTURE = mailjet_event("teleported")

COMMON = dict(
    timestamp=DATETIME,
    message_id=str(MESSAGE_ID),
    recipient="bob@example.com",
    metadata={"order": "42", "items": 3},
    tags=["welcome"],
)


@pytest.mark.parametrize(
    "esp_event, expected",
    [
        pytest.param(
            SENT,
            dict(
                event_type="delivered",
                mta_response="sent (250 2.0.0 OK 1700000000 a1-20020a.123 - gsmtp)",
            ),
            id="sent",
        ),
        pytest.param(OPEN, dict(event_type="opened", user_agent=USER_AGENT), id="open"),
        pytest.param(
            CLICK,
            dict(
                event_type="clicked",
                user_agent=USER_AGENT,
                click_url="https://example.com/welcome?utm=mj",
            ),
            id="click",
        ),
        pytest.param(
            BOUNCE, dict(event_type="bounced", reject_reason="bounced"), id="bounce"
        ),
        pytest.param(
            BLOCKED,
            dict(event_type="rejected", reject_reason="blocked"),
            id="blocked",
        ),
        pytest.param(SPAM, dict(event_type="complained"), id="spam"),
        pytest.param(
            UNSUB, dict(event_type="unsubscribed", user_agent=USER_AGENT), id="unsub"
        ),
        pytest.param(FUTURE, dict(event_type="unknown"), id="other"),
    ],
)
def test_event_types(webhook_client, tracking_events, esp_event, expected):
    response = post_events(webhook_client, esp_event)
    assert response.status_code == 200
    assert event_fields(tracking_events.event) == expected_fields(
        **COMMON, esp_event=esp_event, **expected
    )


@pytest.mark.parametrize(
    "error, reject_reason",
    [
        ("user unknown", "bounced"),
        ("mailbox inactive", "bounced"),
        ("quota exceeded", "bounced"),
        ("blacklisted", "blocked"),
        ("spam reporter", "spam"),
        ("invalid domain", "bounced"),
        ("no mail host", "bounced"),
        ("relay/access denied", "bounced"),
        ("greylisted", "other"),
        ("typofix", "invalid"),
        ("sender blocked", "blocked"),
        ("content blocked", "blocked"),
        ("policy issue", "blocked"),
        ("preblocked", "blocked"),
        ("duplicate in campaign", "other"),
        ("some future error", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_reject_reasons(webhook_client, tracking_events, error, reject_reason):
    # (hard_bounce keeps a greylisted bounce a bounce: see the deferred tests)
    post_events(webhook_client, mailjet_event("bounce", hard_bounce=True, error=error))
    event = tracking_events.event
    assert event.event_type == "bounced"
    assert event.reject_reason == reject_reason


@pytest.mark.parametrize("event", ["sent", "open", "bounce", "blocked"])
def test_no_error_no_reject_reason(webhook_client, tracking_events, event):
    post_events(webhook_client, mailjet_event(event))
    assert tracking_events.event.reject_reason is None


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(dict(hard_bounce=False), id="soft"),
        pytest.param(dict(), id="no-hard_bounce"),
        pytest.param(dict(hard_bounce=None), id="null-hard_bounce"),
    ],
)
@pytest.mark.parametrize("event", ["bounce", "blocked", "sent"])
def test_greylisted_is_deferred(webhook_client, tracking_events, event, fields):
    esp_event = mailjet_event(
        event, error_related_to="domain", error="greylisted", **fields
    )
    post_events(webhook_client, esp_event)
    assert event_fields(tracking_events.event) == expected_fields(
        **COMMON, event_type="deferred", reject_reason="other", esp_event=esp_event
    )


def test_hard_greylisted_bounce_is_bounced(webhook_client, tracking_events):
    post_events(
        webhook_client,
        mailjet_event("bounce", hard_bounce=True, error="greylisted"),
    )
    event = tracking_events.event
    assert (event.event_type, event.reject_reason) == ("bounced", "other")


def test_spec_sample_batch(webhook_client, tracking_events):
    payload = [
        {
            "event": "bounce",
            "time": 1700000000,
            "MessageID": 12345678901234567,
            "email": "bob@example.com",
            "customcampaign": "welcome",
            "Payload": '{"order": "42"}',
            "hard_bounce": True,
            "error_related_to": "recipient",
            "error": "user unknown",
        },
        {
            "event": "open",
            "time": 1700000100,
            "MessageID": 12345678901234568,
            "email": "amy@example.com",
            "customcampaign": "",
            "Payload": "",
            "agent": "Mozilla/5.0",
        },
    ]
    response = post_events(webhook_client, payload)
    assert response.status_code == 200
    assert response.content == b""
    bounced, opened = tracking_events.events
    assert event_fields(bounced) == expected_fields(
        event_type="bounced",
        timestamp=DATETIME,
        message_id="12345678901234567",
        recipient="bob@example.com",
        metadata={"order": "42"},
        tags=["welcome"],
        reject_reason="bounced",
        esp_event=payload[0],
    )
    assert event_fields(opened) == expected_fields(
        event_type="opened",
        timestamp=datetime(2023, 11, 14, 22, 15, tzinfo=timezone.utc),
        message_id="12345678901234568",
        recipient="amy@example.com",
        user_agent="Mozilla/5.0",
        esp_event=payload[1],
    )


def test_batch_one_signal_per_event_in_order(webhook_client, tracking_events):
    payload = [SENT, OPEN, CLICK, UNSUB]
    response = post_events(webhook_client, payload)
    assert response.status_code == 200
    assert [event.event_type for event in tracking_events.events] == [
        "delivered",
        "opened",
        "clicked",
        "unsubscribed",
    ]
    assert [event.esp_event for event in tracking_events.events] == payload
    for call in tracking_events.calls:
        assert call["sender"] is MailjetTrackingWebhookView
        assert call["esp_name"] == "Mailjet"
        assert call["signal"] is tracking
        assert set(call) == {"signal", "sender", "event", "esp_name"}


def test_single_bare_event(webhook_client, tracking_events):
    # "group events" off: Mailjet posts each event as its own object
    response = post_events(webhook_client, OPEN)
    assert response.status_code == 200
    assert len(tracking_events.calls) == 1
    call = tracking_events.calls[0]
    assert call["sender"] is MailjetTrackingWebhookView
    assert call["esp_name"] == "Mailjet"
    assert call["event"].esp_event == OPEN


def test_empty_batch(webhook_client, tracking_events):
    response = post_events(webhook_client, [])
    assert response.status_code == 200
    assert tracking_events.calls == []


def test_reverse_url(webhook_client, tracking_events):
    assert reverse("anymail:mailjet_tracking_webhook") == URL


def test_big_message_id_is_exact(webhook_client, tracking_events):
    # The JSON integer must not go through a float
    post_events(webhook_client, '[{"event": "sent", "MessageID": 288230376151711743}]')
    assert tracking_events.event.message_id == "288230376151711743"


# Field details


@pytest.mark.parametrize(
    "fields, metadata",
    [
        pytest.param({"Payload": '{"user_id": "12345", "n": 6}'}, None, id="json"),
        pytest.param({"Payload": ""}, {}, id="empty"),
        pytest.param({}, {}, id="missing"),
        pytest.param({"Payload": None}, {}, id="null"),
        pytest.param({"Payload": "not {json"}, {}, id="not-json"),
        pytest.param({"Payload": "[1, 2]"}, {}, id="json-array"),
        pytest.param({"Payload": "12"}, {}, id="json-number"),
    ],
)
def test_metadata(webhook_client, tracking_events, fields, metadata):
    if metadata is None:
        metadata = {"user_id": "12345", "n": 6}
    post_events(webhook_client, {"event": "open", **fields})
    assert tracking_events.event.metadata == metadata


@pytest.mark.parametrize(
    "fields, tags",
    [
        ({"customcampaign": "receipt"}, ["receipt"]),
        ({"customcampaign": ""}, []),
        ({"customcampaign": None}, []),
        ({}, []),
    ],
)
def test_tags(webhook_client, tracking_events, fields, tags):
    post_events(webhook_client, {"event": "open", **fields})
    assert tracking_events.event.tags == tags


@pytest.mark.parametrize(
    "fields, timestamp",
    [
        ({"time": 1700000000}, DATETIME),
        ({"time": 1700000000.25}, DATETIME.replace(microsecond=250000)),
        ({"time": "1700000000"}, DATETIME),
        ({"time": None}, None),
        ({}, None),
    ],
)
def test_timestamp(webhook_client, tracking_events, fields, timestamp):
    post_events(webhook_client, {"event": "open", **fields})
    assert tracking_events.event.timestamp == timestamp
    if timestamp is not None:
        assert tracking_events.event.timestamp.utcoffset().total_seconds() == 0


def test_minimal_event(webhook_client, tracking_events):
    esp_event = {"event": "open"}
    post_events(webhook_client, esp_event)
    assert event_fields(tracking_events.event) == expected_fields(
        event_type="opened", esp_event=esp_event
    )


def test_message_id_string(webhook_client, tracking_events):
    post_events(webhook_client, {"event": "sent", "MessageID": "1234"})
    assert tracking_events.event.message_id == "1234"


@pytest.mark.parametrize("event", [None, 42, ["open"]])
def test_non_string_event_is_unknown(webhook_client, tracking_events, event):
    post_events(webhook_client, {"event": event, "email": "bob@example.com"})
    assert tracking_events.event.event_type == "unknown"


# Authentication


def test_basic_auth_right_credentials(webhook_client, tracking_events):
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnymailInsecureWebhookWarning)
        response = post_events(webhook_client, [OPEN])
    assert response.status_code == 200
    assert len(tracking_events.calls) == 1


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(None, id="missing"),
        pytest.param(basic_auth_header("mailjet:wrong"), id="wrong"),
        pytest.param(basic_auth_header("mailjet:webhook"), id="truncated"),
        pytest.param("Bearer " + SECRET, id="bearer"),
        pytest.param("Basic not-base64!", id="malformed"),
    ],
)
def test_basic_auth_failures(webhook_client, tracking_events, caplog, auth):
    caplog.set_level(logging.ERROR, logger="django.security")
    response = post_events(webhook_client, [OPEN], auth=auth)
    assert response.status_code == 400
    assert tracking_events.calls == []
    assert security_messages(caplog) == [AUTH_FAILURE]


def test_basic_auth_rotation(settings, webhook_client, tracking_events):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ["new:secret", "old:secret"]}
    for credentials in ["new:secret", "old:secret"]:
        response = post_events(
            webhook_client, [OPEN], auth=basic_auth_header(credentials)
        )
        assert response.status_code == 200
    response = post_events(webhook_client, [OPEN], auth=AUTH)
    assert response.status_code == 400
    assert len(tracking_events.calls) == 2


def test_flat_webhook_secret_setting(settings, webhook_client, tracking_events):
    settings.ANYMAIL = {}
    settings.ANYMAIL_WEBHOOK_SECRET = "flat:secret"
    assert post_events(webhook_client, [OPEN]).status_code == 400
    response = post_events(
        webhook_client, [OPEN], auth=basic_auth_header("flat:secret")
    )
    assert response.status_code == 200
    assert len(tracking_events.calls) == 1


@pytest.mark.urls(__name__)
def test_as_view_basic_auth(webhook_client, tracking_events):
    url = reverse("custom_mailjet")
    assert post_events(webhook_client, [OPEN], url=url).status_code == 400
    response = post_events(
        webhook_client, [OPEN], url=url, auth=basic_auth_header("route:only")
    )
    assert response.status_code == 200
    assert len(tracking_events.calls) == 1
    # the standard route still uses the settings
    assert post_events(webhook_client, [OPEN]).status_code == 200


@pytest.mark.parametrize("anymail_settings", [{}, {"WEBHOOK_SECRET": ""}])
def test_insecure_warning(settings, webhook_client, tracking_events, anymail_settings):
    settings.ANYMAIL = anymail_settings
    with pytest.warns(AnymailInsecureWebhookWarning) as record:
        response = post_events(webhook_client, [OPEN], auth=None)
    assert [str(warning.message) for warning in record] == [INSECURE_WARNING]
    # only a warning: the post is accepted
    assert response.status_code == 200
    assert len(tracking_events.calls) == 1


def test_no_secret_accepts_any_authorization(settings, webhook_client, tracking_events):
    settings.ANYMAIL = {}
    with pytest.warns(AnymailInsecureWebhookWarning):
        response = post_events(
            webhook_client, [OPEN], auth=basic_auth_header("any:thing")
        )
    assert response.status_code == 200


def test_head_without_validation(webhook_client, tracking_events):
    response = webhook_client.head(URL)  # no credentials
    assert response.status_code == 200
    assert response.content == b""
    assert tracking_events.calls == []


def test_get_not_allowed(webhook_client):
    logger = logging.getLogger("django.request")
    logger.disabled = True
    try:
        response = webhook_client.get(URL, HTTP_AUTHORIZATION=AUTH)
    finally:
        logger.disabled = False
    assert response.status_code == 405
    assert response["Allow"] == "POST, HEAD, OPTIONS"


def test_csrf_exempt(webhook_client, tracking_events):
    # webhook_client enforces CSRF checks, and the post has no token
    assert post_events(webhook_client, OPEN).status_code == 200


# Malformed posts: 400, nothing dispatched


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'[{"event": "open"}', id="truncated-json"),
        pytest.param(b"\xff\xfe[]", id="not-utf8"),
        pytest.param(b"null", id="null"),
        pytest.param(b"42", id="number"),
        pytest.param(b'"open"', id="string"),
        pytest.param(b'["open"]', id="array-of-strings"),
        pytest.param(b"[null]", id="array-of-null"),
        pytest.param(b"[[]]", id="array-of-arrays"),
        pytest.param(
            b'{"time": 1700000000, "email": "bob@example.com"}', id="no-event"
        ),
        pytest.param(b'[{"event": "open"}, {"time": 1}]', id="batch-item-no-event"),
        pytest.param(b'{"event": "open", "time": "soon"}', id="time-not-number"),
        pytest.param(b'{"event": "open", "time": true}', id="time-bool"),
        pytest.param(b'{"event": "open", "time": [1]}', id="time-array"),
        pytest.param(b'{"event": "open", "time": 1e30}', id="time-out-of-range"),
        pytest.param(b'{"event": "open", "email": 42}', id="email-not-string"),
        pytest.param(b'{"event": "click", "url": {"a": 1}}', id="url-not-string"),
        pytest.param(b'{"event": "open", "agent": 1}', id="agent-not-string"),
        pytest.param(b'{"event": "sent", "smtp_reply": []}', id="reply-not-string"),
        pytest.param(b'{"event": "open", "customcampaign": 7}', id="campaign-number"),
    ],
)
def test_malformed_body(webhook_client, tracking_events, body):
    response = post_events(webhook_client, body)
    assert response.status_code == 400
    assert response.content == b"Malformed Mailjet webhook payload"
    assert tracking_events.calls == []


def test_form_post(webhook_client, tracking_events):
    response = webhook_client.post(
        URL,
        {"event": "open", "email": "bob@example.com"},
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code == 400
    assert tracking_events.calls == []


def test_urlencoded_post(webhook_client, tracking_events):
    response = post_events(
        webhook_client,
        "event=open&email=bob%40example.com",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert tracking_events.calls == []


def test_bad_event_in_batch_dispatches_nothing(webhook_client, tracking_events):
    response = post_events(webhook_client, [SENT, OPEN, {"event": "open", "time": "x"}])
    assert response.status_code == 400
    assert tracking_events.calls == []


def test_inbound_payload_to_tracking_url(webhook_client, tracking_events):
    # Mailjet's Parse API route pointed at the tracking URL: no "event"
    inbound_payload = {
        "Sender": "bounce@example.org",
        "Recipient": "inbox@parse.example.com",
        "Headers": {"From": "Alice <alice@example.org>", "Subject": "Hi"},
        "Parts": [
            {"Headers": {"Content-Type": "text/plain"}, "ContentRef": "Text-part"}
        ],
        "Text-part": "Hello",
    }
    response = post_events(webhook_client, inbound_payload)
    assert response.status_code == 400
    assert response.content == b"Malformed Mailjet webhook payload"
    assert tracking_events.calls == []


def test_receiver_exception_propagates(webhook_client, tracking_events):
    def failing_receiver(sender, event, esp_name, **kwargs):
        raise RuntimeError("receiver failed")

    tracking.connect(failing_receiver, weak=False)
    try:
        with pytest.raises(RuntimeError, match="receiver failed"):
            post_events(webhook_client, [SENT, OPEN])
    finally:
        tracking.disconnect(failing_receiver)
