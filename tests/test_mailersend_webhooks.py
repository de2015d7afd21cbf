"""MailerSend tracking webhook, through Django's test client, HMAC-signed."""

import hashlib
import hmac
import json
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from django.urls import include, path

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import AnymailTrackingEvent, tracking
from anymail.webhooks.mailersend import (
    MailerSendInboundWebhookView,
    MailerSendTrackingWebhookView,
)

from .conftest import basic_auth_header, security_messages

URL = "/anymail/mailersend/tracking/"
SIGNING_SECRET = "Yq7rM2wZ0c4kT9pLx8sVbN3jHf6dGa1e"
INBOUND_SECRET = "Kd83hQpz6RtV1mXc9wLb2NsYf5jTg0Ua"
NO_SIGNATURE = "MailerSend webhook called without signature"
INCORRECT_SIGNATURE = (
    "MailerSend webhook called with incorrect signature"
    " (check Anymail MAILERSEND_SIGNING_SECRET setting)"
)
BASIC_AUTH_FAILURE = "Missing or invalid basic auth in Anymail MailerSend webhook"
MISSING_SECRET = (
    "You must set ANYMAIL = {'MAILERSEND_SIGNING_SECRET': ...} or"
    " ANYMAIL_MAILERSEND_SIGNING_SECRET in your Django settings"
)
MISDIRECTED_INBOUND = (
    "You seem to have set MailerSend's *inbound* route endpoint"
    " to Anymail's MailerSend *activity tracking* webhook URL."
)
MALFORMED = b"Malformed MailerSend webhook payload"

KWARG_SECRET = "as-view-kwarg-secret-3f9a"

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "kwarg-secret/",
        MailerSendTrackingWebhookView.as_view(signing_secret=KWARG_SECRET),
    ),
    path("no-basic-auth/", MailerSendTrackingWebhookView.as_view(basic_auth=[])),
]

pytestmark = pytest.mark.urls(__name__)


def sign(body, secret=SIGNING_SECRET):
    """The Signature header MailerSend would send for body (bytes)."""
    if isinstance(secret, str):
        secret = secret.encode("ascii")
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def encode_body(data):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return body.encode("utf-8") if isinstance(body, str) else body


def post_signed(client, data, url=URL, secret=SIGNING_SECRET, signature=None, **extra):
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


def activity(
    activity_type,
    morph=None,
    created_at="2023-02-27T21:09:49.506000Z",
    activity_id="63fd27c590cc1a44ea6e0b3f",
    tags=("welcome", "onboarding"),
    **email_overrides,
):
    """A MailerSend activity webhook payload, shaped as MailerSend posts it."""
    email = {
        "object": "email",
        "id": "63fd27c4f0fbd3ad650c3a42",
        "created_at": "2023-02-27T21:09:48.000000Z",
        "from": "app@example.com",
        "subject": "Welcome to ExampleCo",
        "status": "sent",
        "tags": list(tags) if tags is not None else None,
        "headers": None,
        "message": {
            "object": "message",
            "id": "63fd27c4b6e45fbc0e0a4c51",
            "created_at": "2023-02-27T21:09:48.000000Z",
        },
        "recipient": {
            "object": "recipient",
            "id": "63fd27c4a1c0b5ec3d0f9e12",
            "email": "bob@example.com",
            "created_at": "2023-02-27T21:09:48.000000Z",
        },
    }
    email.update(email_overrides)
    data = {
        "object": "activity",
        "id": activity_id,
        "type": activity_type,
        "created_at": created_at,
        "email": email,
        "morph": morph,
        "template_id": "zyxwvut98765",
    }
    return {
        "type": f"activity.{activity_type}",
        "domain_id": "3z0vklo6y1ge7qrx",
        "created_at": "2023-02-27T21:09:50.000000Z",
        "webhook_id": "pq3enl6xq8842vwr",
        "url": "https://yoursite.example.com/anymail/mailersend/tracking/",
        "data": data,
    }


MORPH_OPEN = {
    "object": "open",
    "id": "63fd27d25c1a6a5d0e0a0b11",
    "created_at": "2023-02-27T21:10:02.000000Z",
    "ip": "203.0.113.25",
}
MORPH_CLICK = {
    "object": "click",
    "id": "63fd27e0d6a2d8b7a50c6c21",
    "created_at": "2023-02-27T21:10:16.000000Z",
    "ip": "203.0.113.25",
    "url": "https://www.example.com/welcome?utm_source=email",
}
MORPH_SOFT_BOUNCE = {
    "object": "recipient_bounce",
    "reason": "Mailbox full",
    "readable_reason": "The recipient's mailbox is full",
}
MORPH_HARD_BOUNCE = {
    "object": "recipient_bounce",
    "reason": "Host or domain name not found",
}
MORPH_UNSUBSCRIBE = {
    "object": "recipient_unsubscribe",
    "reason": "NO_LONGER_WANT",
    "readable_reason": "I no longer want to receive these emails",
}
MORPH_SPAM = {
    "object": "spam_complaint",
    "id": "63fd2800c7e1b2a3d40f0e31",
    "created_at": "2023-02-27T21:11:00.000000Z",
    "recipient": {"object": "recipient", "email": "bob@example.com"},
}
MORPH_SURVEY = {
    "object": "survey_response",
    "id": "63fd2811a0b1c2d3e4f50617",
    "survey_id": "q1z2x3",
    "answers": [{"answer": "Yes"}],
}

# What every sample below has unless its row says otherwise
COMMON_EXPECTED = {
    "timestamp": datetime(2023, 2, 27, 21, 9, 49, 506000, tzinfo=timezone.utc),
    "event_id": "63fd27c590cc1a44ea6e0b3f",
    "message_id": "63fd27c4b6e45fbc0e0a4c51",
    "recipient": "bob@example.com",
    "metadata": {},
    "tags": ["welcome", "onboarding"],
    "reject_reason": None,
    "description": None,
    "mta_response": None,
    "user_agent": None,
    "click_url": None,
}

# One row per line of the spec's data.type → event_type table
EVENT_TYPE_ROWS = [
    ("sent", None, "sent", {}),
    ("delivered", None, "delivered", {}),
    (
        "soft_bounced",
        MORPH_SOFT_BOUNCE,
        "bounced",
        {
            "reject_reason": "bounced",
            "description": "The recipient's mailbox is full",
        },
    ),
    (
        "hard_bounced",
        MORPH_HARD_BOUNCE,
        "bounced",
        {"reject_reason": "bounced", "description": "Host or domain name not found"},
    ),
    ("opened", MORPH_OPEN, "opened", {}),
    (
        "clicked",
        MORPH_CLICK,
        "clicked",
        {"click_url": "https://www.example.com/welcome?utm_source=email"},
    ),
    (
        "unsubscribed",
        MORPH_UNSUBSCRIBE,
        "unsubscribed",
        {
            "reject_reason": "unsubscribed",
            "description": "I no longer want to receive these emails",
        },
    ),
    ("spam_complaint", MORPH_SPAM, "complained", {"reject_reason": "spam"}),
    # "anything else" row: several examples
    ("opened_unique", MORPH_OPEN, "unknown", {}),
    (
        "clicked_unique",
        MORPH_CLICK,
        "unknown",
        {"click_url": "https://www.example.com/welcome?utm_source=email"},
    ),
    ("survey_opened", None, "unknown", {}),
    ("survey_submitted", MORPH_SURVEY, "unknown", {}),
]


@pytest.mark.parametrize(
    "activity_type, morph, event_type, differences",
    EVENT_TYPE_ROWS,
    ids=[row[0] for row in EVENT_TYPE_ROWS],
)
def test_event_types(
    webhook_client, tracking_events, activity_type, morph, event_type, differences
):
    payload = activity(activity_type, morph=morph)
    response = post_signed(webhook_client, payload)
    assert response.status_code == 200
    assert response.content == b""

    call = tracking_events.calls[0]
    assert len(tracking_events.calls) == 1
    assert call["sender"] is MailerSendTrackingWebhookView
    assert call["esp_name"] == "MailerSend"
    event = call["event"]
    assert isinstance(event, AnymailTrackingEvent)
    assert event.event_type == event_type
    expected = {**COMMON_EXPECTED, **differences}
    actual = {name: getattr(event, name) for name in expected}
    assert actual == expected
    assert event.timestamp.utcoffset() == timedelta(0)
    assert event.esp_event == payload  # the whole payload, wrapper included


def test_spec_sample(webhook_client, tracking_events):
    # The sample from the spec, posted exactly as written there
    body = (
        '{"type": "activity.hard_bounced", "created_at": "2023-02-27T21:48:14Z",'
        ' "data": {"object": "activity", "id": "evt-001", "type": "hard_bounced",'
        ' "created_at": "2023-02-27T21:48:13.593000Z",'
        ' "email": {"status": "rejected", "tags": ["welcome"],'
        ' "message": {"id": "msg-123"}, "recipient": {"email": "bob@example.com"}},'
        ' "morph": {"object": "recipient_bounce",'
        ' "reason": "Host or domain name not found"}}}'
    )
    response = post_signed(webhook_client, body)
    assert response.status_code == 200
    event = tracking_events.event
    assert event.event_type == "bounced"
    assert event.reject_reason == "bounced"
    assert event.description == "Host or domain name not found"
    assert event.event_id == "evt-001"
    assert event.message_id == "msg-123"
    assert event.recipient == "bob@example.com"
    assert event.tags == ["welcome"]
    assert event.metadata == {}
    assert event.timestamp == datetime(
        2023, 2, 27, 21, 48, 13, 593000, tzinfo=timezone.utc
    )
    assert event.esp_event == json.loads(body)


# reject_reason comes from data.morph.object, whatever the event type
@pytest.mark.parametrize(
    "morph, reject_reason",
    [
        ({"object": "recipient_bounce", "reason": "x"}, "bounced"),
        ({"object": "spam_complaint"}, "spam"),
        ({"object": "recipient_unsubscribe", "reason": "OTHER"}, "unsubscribed"),
        (MORPH_OPEN, None),
        (MORPH_CLICK, None),
        ({"object": "something_new"}, None),
        ({"reason": "no object"}, None),
        (None, None),
    ],
    ids=[
        "recipient_bounce",
        "spam_complaint",
        "recipient_unsubscribe",
        "open",
        "click",
        "other",
        "no-object",
        "morph-null",
    ],
)
def test_reject_reasons(webhook_client, tracking_events, morph, reject_reason):
    response = post_signed(webhook_client, activity("soft_bounced", morph=morph))
    assert response.status_code == 200
    assert tracking_events.event.reject_reason == reject_reason


def test_reject_reason_not_from_email_status(webhook_client, tracking_events):
    # data.email.status "rejected" doesn't make a reject_reason
    payload = activity("hard_bounced", morph=None, status="rejected")
    post_signed(webhook_client, payload)
    event = tracking_events.event
    assert event.event_type == "bounced"
    assert event.reject_reason is None
    assert event.description is None


@pytest.mark.parametrize(
    "morph, description",
    [
        ({"object": "recipient_bounce", "reason": "R", "readable_reason": "RR"}, "RR"),
        ({"object": "recipient_bounce", "reason": "R", "readable_reason": ""}, "R"),
        ({"object": "recipient_bounce", "reason": "R", "readable_reason": None}, "R"),
        ({"object": "recipient_bounce", "reason": "R"}, "R"),
        ({"object": "recipient_bounce"}, None),
        (None, None),
    ],
)
def test_description(webhook_client, tracking_events, morph, description):
    post_signed(webhook_client, activity("hard_bounced", morph=morph))
    assert tracking_events.event.description == description


def test_tags_absent_null_and_empty(webhook_client, tracking_events):
    absent = activity("sent")
    del absent["data"]["email"]["tags"]
    post_signed(webhook_client, absent)
    post_signed(webhook_client, activity("sent", tags=None))
    post_signed(webhook_client, activity("sent", tags=()))
    assert [event.tags for event in tracking_events.events] == [[], [], []]


def test_minimal_activity(webhook_client, tracking_events):
    # Only data.type is required: everything else missing or null → None
    response = post_signed(
        webhook_client, {"data": {"type": "delivered", "email": None, "morph": None}}
    )
    assert response.status_code == 200
    event = tracking_events.event
    assert event.event_type == "delivered"
    assert event.timestamp is None
    assert event.event_id is None
    assert event.message_id is None
    assert event.recipient is None
    assert event.tags == []
    assert event.metadata == {}
    assert event.click_url is None


@pytest.mark.parametrize(
    "created_at, timestamp",
    [
        (
            "2023-02-27T21:09:49.506000Z",
            datetime(2023, 2, 27, 21, 9, 49, 506000, tzinfo=timezone.utc),
        ),
        ("2023-02-27T21:09:49Z", datetime(2023, 2, 27, 21, 9, 49, tzinfo=timezone.utc)),
        (
            "2023-02-27T23:09:49+02:00",
            datetime(2023, 2, 27, 21, 9, 49, tzinfo=timezone.utc),
        ),
        # no offset: taken as UTC, so the timestamp is always aware
        ("2023-02-27 21:09:49", datetime(2023, 2, 27, 21, 9, 49, tzinfo=timezone.utc)),
        ("not a date", None),
        ("2023-13-45T25:00:00Z", None),
        (None, None),
    ],
)
def test_timestamps(webhook_client, tracking_events, created_at, timestamp):
    post_signed(webhook_client, activity("sent", created_at=created_at))
    actual = tracking_events.event.timestamp
    assert actual == timestamp
    if timestamp is not None:
        assert actual.tzinfo is not None


def test_escaped_slashes(webhook_client, tracking_events):
    # MailerSend escapes "/" as "\/"; the signature covers the raw body
    body = json.dumps(activity("clicked", morph=MORPH_CLICK)).replace("/", "\\/")
    assert "https:\\/\\/www.example.com\\/welcome" in body
    response = post_signed(webhook_client, body)
    assert response.status_code == 200
    assert (
        tracking_events.event.click_url
        == "https://www.example.com/welcome?utm_source=email"
    )


def test_non_ascii_body(webhook_client, tracking_events):
    payload = activity("delivered", subject="Příliš žluťoučký kůň ✓")
    payload["data"]["email"]["recipient"]["email"] = "jürgen@bücher.example"
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    assert post_signed(webhook_client, body).status_code == 200
    event = tracking_events.event
    assert event.recipient == "jürgen@bücher.example"
    assert event.esp_event["data"]["email"]["subject"] == "Příliš žluťoučký kůň ✓"


def test_each_post_dispatches_one_event_in_order(webhook_client, tracking_events):
    # MailerSend posts each activity separately
    for activity_type, activity_id in [
        ("sent", "a1"),
        ("delivered", "a2"),
        ("opened", "a3"),
    ]:
        payload = activity(activity_type, activity_id=activity_id, morph=None)
        assert post_signed(webhook_client, payload).status_code == 200
    assert [(e.event_type, e.event_id) for e in tracking_events.events] == [
        ("sent", "a1"),
        ("delivered", "a2"),
        ("opened", "a3"),
    ]
    for call in tracking_events.calls:
        assert call["sender"] is MailerSendTrackingWebhookView
        assert call["esp_name"] == "MailerSend"


def test_receiver_gets_keyword_arguments(webhook_client):
    received = []

    def receiver(sender, event, esp_name, **kwargs):
        received.append((sender, event.event_type, esp_name, kwargs))

    tracking.connect(receiver)
    try:
        post_signed(webhook_client, activity("sent"))
    finally:
        tracking.disconnect(receiver)
    assert received == [
        (MailerSendTrackingWebhookView, "sent", "MailerSend", {"signal": tracking})
    ]


# --- misdirected payloads --------------------------------------------------


def test_inbound_payload_on_tracking_url(webhook_client, tracking_events):
    inbound_payload = {
        "type": "inbound.message",
        "inbound_id": "x0p7kl3e2r",
        "data": {
            "object": "message",
            "id": "in-001",
            "raw": "From: a@example.org\r\nSubject: Hi\r\n\r\nHello\r\n",
        },
    }
    with pytest.raises(AnymailConfigurationError) as excinfo:
        post_signed(webhook_client, inbound_payload)
    assert MISDIRECTED_INBOUND in str(excinfo.value)
    assert tracking_events.calls == []


# --- authentication --------------------------------------------------------


def test_valid_signature(webhook_client, tracking_events, security_log):
    response = post_signed(webhook_client, activity("sent"))
    assert response.status_code == 200
    assert len(tracking_events.calls) == 1
    assert security_messages(security_log) == []


def test_missing_signature(webhook_client, tracking_events, security_log):
    response = post_signed(webhook_client, activity("sent"), signature=False)
    assert response.status_code == 400
    assert tracking_events.calls == []
    assert security_messages(security_log) == [NO_SIGNATURE]


@pytest.mark.parametrize(
    "make_signature",
    [
        pytest.param(lambda body: sign(body, "some-other-secret"), id="other-secret"),
        pytest.param(lambda body: sign(body, INBOUND_SECRET), id="inbound-secret"),
        pytest.param(lambda body: sign(body).upper(), id="uppercase-hex"),
        pytest.param(lambda body: sign(body)[:-1], id="truncated"),
        pytest.param(lambda body: sign(body) + "0", id="extended"),
        pytest.param(lambda body: "", id="empty"),
        pytest.param(
            lambda body: hmac.new(
                SIGNING_SECRET.encode(), body, hashlib.sha1
            ).hexdigest(),
            id="sha1",
        ),
        pytest.param(
            lambda body: "sha256=" + sign(body),
            id="prefixed",
        ),
    ],
)
def test_incorrect_signature(
    webhook_client, tracking_events, security_log, make_signature
):
    body = encode_body(activity("sent"))
    response = post_signed(webhook_client, body, signature=make_signature(body))
    assert response.status_code == 400
    assert tracking_events.calls == []
    assert security_messages(security_log) == [INCORRECT_SIGNATURE]


def test_tampered_body(webhook_client, tracking_events, security_log):
    original = encode_body(activity("sent"))
    tampered = original.replace(b"bob@example.com", b"eve@example.com")
    assert tampered != original
    response = post_signed(webhook_client, tampered, signature=sign(original))
    assert response.status_code == 400
    assert tracking_events.calls == []
    assert security_messages(security_log) == [INCORRECT_SIGNATURE]


def test_signature_checked_before_parsing(
    webhook_client, tracking_events, security_log
):
    # An unsigned malformed body is a validation failure, not a malformed payload
    response = webhook_client.post(
        URL, b"not json", content_type="application/json", HTTP_SIGNATURE="abc"
    )
    assert response.status_code == 400
    assert security_messages(security_log) == [INCORRECT_SIGNATURE]
    assert tracking_events.calls == []


def test_secret_stored_as_bytes():
    view = MailerSendTrackingWebhookView()
    assert view.signing_secret == SIGNING_SECRET.encode("ascii")


def test_missing_secret(settings, webhook_client, tracking_events):
    settings.ANYMAIL = {"MAILERSEND_INBOUND_SECRET": INBOUND_SECRET}
    with pytest.raises(AnymailConfigurationError) as excinfo:
        post_signed(webhook_client, activity("sent"))
    assert str(excinfo.value) == MISSING_SECRET
    # raised when the view is created, so for HEAD too
    with pytest.raises(AnymailConfigurationError, match="MAILERSEND_SIGNING_SECRET"):
        webhook_client.head(URL)
    assert tracking_events.calls == []


@pytest.mark.parametrize("secret", [None, ""])
def test_empty_secret_is_missing(settings, secret):
    settings.ANYMAIL = {"MAILERSEND_SIGNING_SECRET": secret}
    with pytest.raises(AnymailConfigurationError) as excinfo:
        MailerSendTrackingWebhookView()
    assert str(excinfo.value) == MISSING_SECRET


def test_non_ascii_secret(settings):
    settings.ANYMAIL = {"MAILERSEND_SIGNING_SECRET": "sécret"}
    with pytest.raises(AnymailConfigurationError, match="MAILERSEND_SIGNING_SECRET"):
        MailerSendTrackingWebhookView()


def test_no_bare_secret_setting(settings):
    settings.ANYMAIL = {}
    settings.MAILERSEND_SIGNING_SECRET = SIGNING_SECRET
    with pytest.raises(AnymailConfigurationError) as excinfo:
        MailerSendTrackingWebhookView()
    assert str(excinfo.value) == MISSING_SECRET


def test_flat_anymail_setting(settings, webhook_client, tracking_events):
    settings.ANYMAIL = {}
    settings.ANYMAIL_MAILERSEND_SIGNING_SECRET = "flat-setting-secret"
    response = post_signed(
        webhook_client, activity("sent"), secret="flat-setting-secret"
    )
    assert response.status_code == 200
    assert len(tracking_events.calls) == 1


def test_as_view_secret(settings, webhook_client, tracking_events, security_log):
    settings.ANYMAIL = {}  # the kwarg alone is enough
    response = post_signed(
        webhook_client, activity("sent"), url="/kwarg-secret/", secret=KWARG_SECRET
    )
    assert response.status_code == 200
    assert len(tracking_events.calls) == 1
    response = post_signed(webhook_client, activity("sent"), url="/kwarg-secret/")
    assert response.status_code == 400
    assert security_messages(security_log) == [INCORRECT_SIGNATURE]
    assert len(tracking_events.calls) == 1


def test_as_view_kwarg_consumed(settings):
    settings.ANYMAIL = {}
    view = MailerSendTrackingWebhookView.as_view(signing_secret="kwarg-secret")
    instance = view.view_class(**view.view_initkwargs)
    assert instance.signing_secret == b"kwarg-secret"
    with pytest.raises(TypeError):
        MailerSendTrackingWebhookView.as_view(inbound_secret="wrong view's kwarg")


def test_secret_setting_names_are_distinct(settings):
    settings.ANYMAIL = {
        "MAILERSEND_SIGNING_SECRET": "tracking-one",
        "MAILERSEND_INBOUND_SECRET": "inbound-one",
    }
    assert MailerSendTrackingWebhookView().signing_secret == b"tracking-one"
    assert MailerSendInboundWebhookView().signing_secret == b"inbound-one"


def test_never_warns_about_basic_auth(settings, webhook_client, tracking_events):
    settings.ANYMAIL = {"MAILERSEND_SIGNING_SECRET": SIGNING_SECRET}
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnymailInsecureWebhookWarning)
        response = post_signed(webhook_client, activity("sent"))
        assert webhook_client.head(URL).status_code == 200
    assert response.status_code == 200
    assert len(tracking_events.calls) == 1


class TestBasicAuth:
    CREDENTIALS = "user1:p4ss:word"

    @pytest.fixture(autouse=True)
    def webhook_secret(self, settings):
        settings.ANYMAIL = {
            "MAILERSEND_SIGNING_SECRET": SIGNING_SECRET,
            "WEBHOOK_SECRET": ["old:credentials", self.CREDENTIALS],
        }

    def test_right_credentials(self, webhook_client, tracking_events):
        response = post_signed(
            webhook_client,
            activity("sent"),
            HTTP_AUTHORIZATION=basic_auth_header(self.CREDENTIALS),
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @pytest.mark.parametrize(
        "authorization",
        [
            None,
            basic_auth_header("user1:wrong"),
            "Bearer " + SIGNING_SECRET,
            "Basic not-base64!",
        ],
        ids=["missing", "wrong", "bearer", "malformed"],
    )
    def test_wrong_credentials(
        self, webhook_client, tracking_events, security_log, authorization
    ):
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        response = post_signed(webhook_client, activity("sent"), **extra)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [BASIC_AUTH_FAILURE]

    def test_route_without_basic_auth(self, webhook_client, tracking_events):
        # as the docs suggest, if MailerSend can't send the credentials
        response = post_signed(webhook_client, activity("sent"), url="/no-basic-auth/")
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1
        response = post_signed(
            webhook_client, activity("sent"), url="/no-basic-auth/", signature=False
        )
        assert response.status_code == 400

    def test_basic_auth_checked_before_signature(
        self, webhook_client, tracking_events, security_log
    ):
        response = post_signed(webhook_client, activity("sent"), signature=False)
        assert response.status_code == 400
        assert security_messages(security_log) == [BASIC_AUTH_FAILURE]

    def test_signature_still_required(
        self, webhook_client, tracking_events, security_log
    ):
        response = post_signed(
            webhook_client,
            activity("sent"),
            signature=False,
            HTTP_AUTHORIZATION=basic_auth_header(self.CREDENTIALS),
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [NO_SIGNATURE]


# --- malformed bodies ------------------------------------------------------


def _without(path_keys):
    payload = activity("sent")
    target = payload
    for key in path_keys[:-1]:
        target = target[key]
    del target[path_keys[-1]]
    return payload


def _with(path_keys, value):
    payload = activity("sent")
    target = payload
    for key in path_keys[:-1]:
        target = target[key]
    target[path_keys[-1]] = value
    return payload


MALFORMED_BODIES = {
    "empty": b"",
    "not-json": b"type=activity.sent&data=x",
    "truncated-json": encode_body(activity("sent"))[:-10],
    "not-utf8": b'{"type": "activity.sent", "data": {"type": "\xff\xfe"}}',
    "json-array": encode_body([activity("sent"), activity("delivered")]),
    "json-string": b'"activity.sent"',
    "json-null": b"null",
    "no-data": encode_body(_without(["data"])),
    "data-null": encode_body(_with(["data"], None)),
    "data-list": encode_body(_with(["data"], [activity("sent")["data"]])),
    "no-data-type": encode_body(_without(["data", "type"])),
    "data-type-null": encode_body(_with(["data", "type"], None)),
    "data-type-list": encode_body(_with(["data", "type"], ["sent"])),
    "email-string": encode_body(_with(["data", "email"], "bob@example.com")),
    "message-list": encode_body(_with(["data", "email", "message"], ["id"])),
    "recipient-string": encode_body(_with(["data", "email", "recipient"], "bob")),
    "morph-string": encode_body(_with(["data", "morph"], "open")),
    "created-at-number": encode_body(_with(["data", "created_at"], 1677532189)),
}


@pytest.mark.parametrize(
    "body", MALFORMED_BODIES.values(), ids=list(MALFORMED_BODIES.keys())
)
def test_malformed_body(webhook_client, tracking_events, security_log, body):
    response = post_signed(webhook_client, body)
    assert response.status_code == 400
    assert response.content == MALFORMED
    assert tracking_events.calls == []
    assert security_messages(security_log) == []


def test_form_encoded_post(webhook_client, tracking_events):
    # wrong content type: a form post (signed, so it reaches the parser)
    body = b"type=activity.sent&data=%7B%7D"
    response = post_signed(
        webhook_client, body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.content == MALFORMED
    assert tracking_events.calls == []


def test_multipart_post(webhook_client, tracking_events):
    boundary = "BoUnDaRy"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="type"\r\n\r\n'
        "activity.sent\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    response = post_signed(
        webhook_client, body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400
    assert response.content == MALFORMED
    assert tracking_events.calls == []


# --- other HTTP methods ----------------------------------------------------


def test_head_without_validation(settings, webhook_client, tracking_events):
    settings.ANYMAIL = {
        "MAILERSEND_SIGNING_SECRET": SIGNING_SECRET,
        "WEBHOOK_SECRET": "user:pass",
    }
    response = webhook_client.head(URL)  # no signature, no credentials
    assert response.status_code == 200
    assert response.content == b""
    assert tracking_events.calls == []


def test_get_not_allowed(webhook_client, tracking_events):
    response = webhook_client.get(URL)
    assert response.status_code == 405
    assert tracking_events.calls == []
