"""Amazon SES tracking webhook: SES events, posted by Amazon SNS."""

import importlib.util
import json
import logging
import sys
import warnings
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from django.test import RequestFactory, override_settings

import anymail.webhooks.amazon_ses as amazon_ses_webhooks
from anymail import __version__ as ANYMAIL_VERSION
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import tracking
from anymail.webhooks.amazon_ses import (
    AmazonSESBaseWebhookView,
    AmazonSESTrackingWebhookView,
)

from .conftest import basic_auth_header, security_messages

URL = "/anymail/amazon_ses/tracking/"
TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:SES_Tracking"
SNS_MESSAGE_ID = "5e1f6a2c-0b1d-5c3e-9f8a-7d6c5b4a3f21"
SNS_TIMESTAMP = "2024-05-01T10:00:00.675Z"
SNS_DATETIME = datetime(2024, 5, 1, 10, 0, 0, 675000, tzinfo=timezone.utc)
SES_MESSAGE_ID = "0100018f2d9c7a1b-4e3f2a1b-6c5d-4e7f-8a9b-0c1d2e3f4a5b-000000"

SECRET = {"WEBHOOK_SECRET": "sns-user:s3cret:pass"}
AUTH = basic_auth_header("sns-user:s3cret:pass")

# No insecure-webhook warning noise for tests not about it
pytestmark = pytest.mark.usefixtures("quiet")


# ---------------------------------------------------------------------------
# Payload builders


def ses_mail(destination=("bob@example.com", "amy@example.com"), headers=None):
    """An SES event's `mail` object, as event publishing sends it."""
    if headers is None:
        headers = [
            {"name": "From", "value": "Shop <shop@example.com>"},
            {"name": "To", "value": ", ".join(destination)},
            {"name": "Subject", "value": "Your order"},
            {"name": "MIME-Version", "value": "1.0"},
            {"name": "X-Metadata", "value": '{"order_id": 1234, "plan": "pro"}'},
            {"name": "X-Tag", "value": "receipt"},
            {"name": "X-Tag", "value": "order"},
            {"name": "Content-Type", "value": "text/plain; charset=UTF-8"},
        ]
    return {
        "timestamp": "2024-05-01T09:59:58.120Z",
        "source": "shop@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:111122223333:identity/example.com",
        "sendingAccountId": "111122223333",
        "messageId": SES_MESSAGE_ID,
        "destination": list(destination),
        "headersTruncated": False,
        "headers": headers,
        "commonHeaders": {
            "from": ["Shop <shop@example.com>"],
            "to": list(destination),
            "messageId": SES_MESSAGE_ID,
            "subject": "Your order",
        },
        # SES message tags: Anymail doesn't use these for event tags
        "tags": {
            "ses:configuration-set": ["TrackingConfigSet"],
            "ses:caller-identity": ["shop-app"],
            "campaign": ["spring"],
        },
    }


def sns_envelope(sns_type="Notification", **fields):
    """An SNS HTTP(S) message body (as a dict)."""
    envelope = {
        "Type": sns_type,
        "MessageId": SNS_MESSAGE_ID,
        "TopicArn": TOPIC_ARN,
        "Timestamp": SNS_TIMESTAMP,
        "SignatureVersion": "1",
        # Anymail doesn't verify SNS signatures: placeholders must work
        "Signature": "EXAMPLE-SIGNATURE==",
        "SigningCertURL": (
            "https://sns.us-east-1.amazonaws.com/"
            "SimpleNotificationService-0000000000000000000000.pem"
        ),
    }
    envelope.update(fields)
    return envelope


def sns_notification(ses_event, **fields):
    """An SNS Notification carrying `ses_event` (dict, or the raw Message)."""
    message = ses_event if isinstance(ses_event, str) else json.dumps(ses_event)
    return sns_envelope(
        "Notification",
        Message=message,
        UnsubscribeURL=(
            "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
            f"&SubscriptionArn={TOPIC_ARN}:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
        ),
        **fields,
    )


def subscription_confirmation(topic_arn=TOPIC_ARN, token="c0ffee-token-1234"):
    return sns_envelope(
        "SubscriptionConfirmation",
        TopicArn=topic_arn,
        Token=token,
        Message=(
            f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in "
            "this message."
        ),
        SubscribeURL=(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={topic_arn}&Token={token}"
        ),
    )


USE_BODY = object()  # post_sns: take the header value from the body


def post_sns(
    client,
    body,
    url=URL,
    message_type=USE_BODY,
    message_id=USE_BODY,
    content_type="text/plain; charset=UTF-8",
    **extra,
):
    """POST `body` (dict → JSON) as SNS does, with its x-amz-sns-* headers."""
    headers = {"HTTP_USER_AGENT": "Amazon Simple Notification Service Agent"}
    if isinstance(body, dict):
        if message_type is USE_BODY:
            message_type = body.get("Type")
        if message_id is USE_BODY:
            message_id = body.get("MessageId")
        headers["HTTP_X_AMZ_SNS_TOPIC_ARN"] = str(body.get("TopicArn"))
        body = json.dumps(body)
    if message_type not in (None, USE_BODY):
        headers["HTTP_X_AMZ_SNS_MESSAGE_TYPE"] = message_type
    if message_id not in (None, USE_BODY):
        headers["HTTP_X_AMZ_SNS_MESSAGE_ID"] = message_id
    headers.update(extra)
    return client.post(url, body, content_type=content_type, **headers)


def post_ses_event(client, ses_event, **kwargs):
    return post_sns(client, sns_notification(ses_event), **kwargs)


def event_fields(event):
    return {
        "event_type": event.event_type,
        "timestamp": event.timestamp,
        "event_id": event.event_id,
        "message_id": event.message_id,
        "recipient": event.recipient,
        "metadata": event.metadata,
        "tags": event.tags,
        "reject_reason": event.reject_reason,
        "description": event.description,
        "mta_response": event.mta_response,
        "user_agent": event.user_agent,
        "click_url": event.click_url,
    }


def expected_fields(event_type, recipient, **fields):
    """What every event from ses_mail() in sns_notification() has, updated."""
    expected = {
        "event_type": event_type,
        "timestamp": SNS_DATETIME,
        "event_id": SNS_MESSAGE_ID,
        "message_id": SES_MESSAGE_ID,
        "recipient": recipient,
        "metadata": {"order_id": 1234, "plan": "pro"},
        "tags": ["receipt", "order"],
        "reject_reason": None,
        "description": None,
        "mta_response": None,
        "user_agent": None,
        "click_url": None,
    }
    expected.update(fields)
    return expected


# ---------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def boto_session():
    """The (mocked) boto3 Session class, as the webhook module sees it."""
    with mock.patch("anymail.webhooks.amazon_ses.boto3.session.Session") as session:
        yield session


@pytest.fixture
def sns_client(boto_session):
    """The (mocked) client that boto_session().client(...) returns."""
    return boto_session.return_value.client.return_value


# ---------------------------------------------------------------------------
# SES event types


BOUNCE_PERMANENT = {
    "eventType": "Bounce",
    "bounce": {
        "feedbackId": "0100018f2d9c8b2c-bounce-feedback-000000",
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "bob@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            },
            {"emailAddress": "amy@example.com"},
        ],
        "timestamp": "2024-05-01T09:59:59.500Z",
        "reportingMTA": "dns; a8-30.smtp-out.amazonses.com",
    },
}

BOUNCE_TRANSIENT_NOTIFICATION = {
    "notificationType": "Bounce",
    "bounce": {
        "feedbackId": "0100018f2d9c8b2c-bounce-feedback-000001",
        "bounceType": "Transient",
        "bounceSubType": "MailboxFull",
        "bouncedRecipients": [
            {
                "emailAddress": "amy@example.com",
                "action": "delayed",
                "status": "4.2.2",
                "diagnosticCode": "smtp; 452 4.2.2 mailbox full",
            }
        ],
        "timestamp": "2024-05-01T09:59:59.500Z",
    },
}

COMPLAINT = {
    "eventType": "Complaint",
    "complaint": {
        "feedbackId": "0100018f2d9c9c3d-complaint-000000",
        "complaintSubType": None,
        "complainedRecipients": [{"emailAddress": "bob@example.com"}],
        "timestamp": "2024-05-01T11:00:00.000Z",
        "userAgent": "ExampleFBL/1.0",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2024-05-01T10:59:00.000Z",
    },
}

COMPLAINT_NOTIFICATION_NO_FEEDBACK = {
    "notificationType": "Complaint",
    "complaint": {
        "feedbackId": "0100018f2d9c9c3d-complaint-000001",
        "complainedRecipients": [{"emailAddress": "amy@example.com"}],
        "timestamp": "2024-05-01T11:00:00.000Z",
    },
}

DELIVERY = {
    "eventType": "Delivery",
    "delivery": {
        "timestamp": "2024-05-01T10:00:00.400Z",
        "processingTimeMillis": 2280,
        "recipients": ["bob@example.com", "amy@example.com"],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
        "remoteMtaIp": "203.0.113.25",
    },
}

DELIVERY_NOTIFICATION = {
    "notificationType": "Delivery",
    "delivery": {
        "timestamp": "2024-05-01T10:00:00.400Z",
        "recipients": ["amy@example.com"],
        "smtpResponse": "250 ok dirdel",
    },
}

SEND = {"eventType": "Send", "send": {}}

REJECT = {"eventType": "Reject", "reject": {"reason": "Bad content"}}

OPEN = {
    "eventType": "Open",
    "open": {
        "ipAddress": "192.0.2.1",
        "timestamp": "2024-05-01T12:00:00.000Z",
        "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
    },
}

CLICK = {
    "eventType": "Click",
    "click": {
        "ipAddress": "192.0.2.1",
        "timestamp": "2024-05-01T12:01:00.000Z",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0",
        "link": "https://example.com/orders/1234?utm_source=email",
        "linkTags": {"samplekey0": ["samplevalue0"]},
    },
}

RENDERING_FAILURE = {
    "eventType": "Rendering Failure",
    "failure": {
        "errorMessage": "Attribute 'name' is not present in the rendering data.",
        "templateName": "OrderTemplate",
    },
}

DELIVERY_DELAY = {
    "eventType": "DeliveryDelay",
    "deliveryDelay": {
        "timestamp": "2024-05-01T10:30:00.000Z",
        "delayType": "TransientCommunicationFailure",
        "expirationTime": "2024-05-01T20:30:00.000Z",
        "delayedRecipients": [
            {
                "emailAddress": "bob@example.com",
                "status": "4.4.1",
                "diagnosticCode": "smtp; 421 4.4.1 Unable to connect",
            }
        ],
    },
}

SUBSCRIPTION = {
    "eventType": "Subscription",
    "subscription": {
        "contactList": "News",
        "timestamp": "2024-05-01T13:00:00.000Z",
        "source": "UnsubscribeHeader",
        "newTopicPreferences": {"unsubscribeAll": True},
        "oldTopicPreferences": {"unsubscribeAll": False},
    },
}

BOB, AMY = "bob@example.com", "amy@example.com"

EVENT_TYPE_CASES = [
    pytest.param(
        BOUNCE_PERMANENT,
        [
            expected_fields(
                "bounced",
                BOB,
                reject_reason="bounced",
                description="Permanent: General",
                mta_response="smtp; 550 5.1.1 user unknown",
            ),
            expected_fields(
                "bounced",
                AMY,
                reject_reason="bounced",
                description="Permanent: General",
            ),
        ],
        id="Bounce",
    ),
    pytest.param(
        BOUNCE_TRANSIENT_NOTIFICATION,
        [
            expected_fields(
                "bounced",
                AMY,
                reject_reason="bounced",
                description="Transient: MailboxFull",
                mta_response="smtp; 452 4.2.2 mailbox full",
            )
        ],
        id="Bounce-Transient-notification",
    ),
    pytest.param(
        COMPLAINT,
        [
            expected_fields(
                "complained",
                BOB,
                reject_reason="spam",
                description="abuse",
                user_agent="ExampleFBL/1.0",
            )
        ],
        id="Complaint",
    ),
    pytest.param(
        COMPLAINT_NOTIFICATION_NO_FEEDBACK,
        [expected_fields("complained", AMY, reject_reason="spam")],
        id="Complaint-notification",
    ),
    pytest.param(
        DELIVERY,
        [
            expected_fields(
                "delivered", BOB, mta_response="250 2.6.0 Message received"
            ),
            expected_fields(
                "delivered", AMY, mta_response="250 2.6.0 Message received"
            ),
        ],
        id="Delivery",
    ),
    pytest.param(
        DELIVERY_NOTIFICATION,
        [expected_fields("delivered", AMY, mta_response="250 ok dirdel")],
        id="Delivery-notification",
    ),
    pytest.param(
        SEND,
        [expected_fields("sent", BOB), expected_fields("sent", AMY)],
        id="Send",
    ),
    pytest.param(
        REJECT,
        [
            expected_fields(
                "rejected", r, reject_reason="blocked", description="Bad content"
            )
            for r in (BOB, AMY)
        ],
        id="Reject",
    ),
    pytest.param(
        OPEN,
        [
            expected_fields("opened", r, user_agent=OPEN["open"]["userAgent"])
            for r in (BOB, AMY)
        ],
        id="Open",
    ),
    pytest.param(
        CLICK,
        [
            expected_fields(
                "clicked",
                r,
                user_agent=CLICK["click"]["userAgent"],
                click_url="https://example.com/orders/1234?utm_source=email",
            )
            for r in (BOB, AMY)
        ],
        id="Click",
    ),
    pytest.param(
        RENDERING_FAILURE,
        [
            expected_fields(
                "failed",
                r,
                description="Attribute 'name' is not present in the rendering data.",
            )
            for r in (BOB, AMY)
        ],
        id="Rendering Failure",
    ),
    pytest.param(
        DELIVERY_DELAY,
        [
            expected_fields(
                "unknown", r, description="Unknown SES eventType 'DeliveryDelay'"
            )
            for r in (BOB, AMY)
        ],
        id="DeliveryDelay",
    ),
    pytest.param(
        SUBSCRIPTION,
        [
            expected_fields(
                "unknown", r, description="Unknown SES eventType 'Subscription'"
            )
            for r in (BOB, AMY)
        ],
        id="Subscription",
    ),
    pytest.param(
        {},
        [
            expected_fields(
                "unknown", r, description="Unknown SES eventType '<<type missing>>'"
            )
            for r in (BOB, AMY)
        ],
        id="type-missing",
    ),
]


class TestEventTypes:
    @pytest.mark.parametrize("ses_event, expected", EVENT_TYPE_CASES)
    def test_event_type_mapping(
        self, webhook_client, tracking_events, ses_event, expected
    ):
        ses_event = {**ses_event, "mail": ses_mail()}
        response = post_ses_event(webhook_client, ses_event)
        assert response.status_code == 200
        assert response.content == b""
        assert [event_fields(e) for e in tracking_events.events] == expected
        for event in tracking_events.events:
            assert event.esp_event == ses_event
        for call in tracking_events.calls:
            assert call["sender"] is AmazonSESTrackingWebhookView
            assert call["esp_name"] == "Amazon SES"
            assert call["signal"] is tracking

    @pytest.mark.parametrize(
        "ses_type, reject_reason",
        [
            ("Bounce", "bounced"),
            ("Complaint", "spam"),
            ("Reject", "blocked"),
            ("Delivery", None),
            ("Send", None),
            ("Open", None),
            ("Click", None),
            ("Rendering Failure", None),
            ("DeliveryDelay", None),
        ],
    )
    def test_reject_reasons(
        self, webhook_client, tracking_events, ses_type, reject_reason
    ):
        sources = {
            "Bounce": BOUNCE_PERMANENT,
            "Complaint": COMPLAINT,
            "Reject": REJECT,
            "Delivery": DELIVERY,
            "Send": SEND,
            "Open": OPEN,
            "Click": CLICK,
            "Rendering Failure": RENDERING_FAILURE,
            "DeliveryDelay": DELIVERY_DELAY,
        }
        ses_event = {**sources[ses_type], "mail": ses_mail()}
        assert post_ses_event(webhook_client, ses_event).status_code == 200
        assert tracking_events.events
        assert {e.reject_reason for e in tracking_events.events} == {reject_reason}

    def test_both_formats_give_the_same_events(self, webhook_client, tracking_events):
        published = {**BOUNCE_PERMANENT, "mail": ses_mail()}
        notification = dict(published)
        notification["notificationType"] = notification.pop("eventType")
        post_ses_event(webhook_client, published)
        post_ses_event(webhook_client, notification)
        first, second = tracking_events.events[:2], tracking_events.events[2:]
        assert [event_fields(e) for e in first] == [event_fields(e) for e in second]

    def test_event_type_wins_over_notification_type(
        self, webhook_client, tracking_events
    ):
        ses_event = {**SEND, "notificationType": "Bounce", "mail": ses_mail()}
        post_ses_event(webhook_client, ses_event)
        assert {e.event_type for e in tracking_events.events} == {"sent"}

    def test_spec_sample_payload(self, webhook_client, tracking_events):
        body = (
            '{"Type": "Notification", "MessageId": "sns-111", "TopicArn":'
            ' "arn:aws:sns:us-east-1:123456789012:SES_Events",'
            ' "Timestamp": "2024-05-01T10:00:00.000Z", "SignatureVersion": "1",'
            ' "Signature": "EXAMPLE==",'
            ' "Message": "{\\"notificationType\\": \\"Bounce\\", \\"bounce\\":'
            ' {\\"bounceType\\": \\"Permanent\\", \\"bounceSubType\\": \\"General\\",'
            ' \\"bouncedRecipients\\": [{\\"emailAddress\\": \\"bob@example.com\\",'
            ' \\"diagnosticCode\\": \\"smtp; 550 5.1.1 user unknown\\"}]},'
            ' \\"mail\\": {\\"messageId\\": \\"ses-msg-1\\", \\"destination\\":'
            ' [\\"bob@example.com\\", \\"amy@example.com\\"], \\"headers\\":'
            ' [{\\"name\\": \\"X-Tag\\", \\"value\\": \\"welcome\\"},'
            ' {\\"name\\": \\"X-Metadata\\",'
            ' \\"value\\": \\"{\\\\\\"uid\\\\\\": 7}\\"}]}}"}'
        )
        response = post_sns(
            webhook_client,
            body,
            message_type="Notification",
            message_id="sns-111",
        )
        assert response.status_code == 200
        event = tracking_events.event
        assert event_fields(event) == {
            "event_type": "bounced",
            "timestamp": datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
            "event_id": "sns-111",
            "message_id": "ses-msg-1",
            "recipient": "bob@example.com",
            "metadata": {"uid": 7},
            "tags": ["welcome"],
            "reject_reason": "bounced",
            "description": "Permanent: General",
            "mta_response": "smtp; 550 5.1.1 user unknown",
            "user_agent": None,
            "click_url": None,
        }
        assert event.esp_event == json.loads(json.loads(body)["Message"])


class TestEventFields:
    def test_one_event_per_recipient_in_order_sharing_event_id(
        self, webhook_client, tracking_events
    ):
        destination = ["c@example.com", "a@example.com", "b@example.com"]
        post_ses_event(webhook_client, {**OPEN, "mail": ses_mail(destination)})
        assert [e.recipient for e in tracking_events.events] == destination
        assert {e.event_id for e in tracking_events.events} == {SNS_MESSAGE_ID}
        assert len(tracking_events.calls) == 3

    def test_events_have_their_own_tags_and_metadata(
        self, webhook_client, tracking_events
    ):
        post_ses_event(webhook_client, {**DELIVERY, "mail": ses_mail()})
        first, second = tracking_events.events
        assert first.tags == second.tags and first.tags is not second.tags
        assert first.metadata == second.metadata
        assert first.metadata is not second.metadata

    @pytest.mark.parametrize(
        "timestamp, expected",
        [
            ("2018-03-26T17:58:59.675Z", datetime(2018, 3, 26, 17, 58, 59, 675000)),
            ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, 0)),
            ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, 0, 0)),
        ],
    )
    def test_timestamp(self, webhook_client, tracking_events, timestamp, expected):
        body = sns_notification({**SEND, "mail": ses_mail([BOB])}, Timestamp=timestamp)
        post_sns(webhook_client, body)
        parsed = tracking_events.event.timestamp
        assert parsed == expected.replace(tzinfo=timezone.utc)
        assert parsed.utcoffset() == timedelta(0)

    @pytest.mark.parametrize(
        "timestamp", [None, "", "yesterday", "2024-13-01T10:00:00Z", 1714557600]
    )
    def test_missing_or_invalid_timestamp_is_none(
        self, webhook_client, tracking_events, timestamp
    ):
        body = sns_notification({**SEND, "mail": ses_mail([BOB])}, Timestamp=timestamp)
        if timestamp is None:
            del body["Timestamp"]
        assert post_sns(webhook_client, body).status_code == 200
        assert tracking_events.event.timestamp is None

    def test_timestamp_is_from_sns_not_ses(self, webhook_client, tracking_events):
        # (the mail and delivery timestamps in the SES event are ignored)
        post_ses_event(webhook_client, {**DELIVERY_NOTIFICATION, "mail": ses_mail()})
        assert tracking_events.event.timestamp == SNS_DATETIME

    def test_tags_and_metadata_headers(self, webhook_client, tracking_events):
        headers = [
            {"name": "x-tag", "value": "first"},
            {"name": "X-Metadata", "value": '{"a": 1}'},
            {"name": "Subject", "value": "X-Tag: not a tag"},
            {"name": "X-TAG", "value": "second"},
            {"name": "x-metadata", "value": '{"b": 2, "nested": {"c": [3]}}'},
            {"name": "X-Metadata", "value": "{not json"},
            {"name": "X-Tag", "value": "third"},
        ]
        post_ses_event(
            webhook_client, {**SEND, "mail": ses_mail([BOB], headers=headers)}
        )
        event = tracking_events.event
        assert event.tags == ["first", "second", "third"]
        assert event.metadata == {"b": 2, "nested": {"c": [3]}}

    @pytest.mark.parametrize(
        "mail_changes",
        [{"headers": []}, {"headers": None}, {"headers": "omitted"}],
        ids=["empty", "null", "omitted"],
    )
    def test_no_headers(self, webhook_client, tracking_events, mail_changes):
        mail = ses_mail([BOB])
        mail.update(mail_changes)
        if mail["headers"] == "omitted":
            del mail["headers"]
        post_ses_event(webhook_client, {**SEND, "mail": mail})
        event = tracking_events.event
        assert event.tags == []
        assert event.metadata == {}

    def test_ses_message_tags_are_not_event_tags(self, webhook_client, tracking_events):
        post_ses_event(webhook_client, {**SEND, "mail": ses_mail([BOB], headers=[])})
        assert tracking_events.event.tags == []

    def test_metadata_that_is_not_an_object_is_ignored(
        self, webhook_client, tracking_events
    ):
        headers = [
            {"name": "X-Metadata", "value": '{"kept": true}'},
            {"name": "X-Metadata", "value": "[1, 2]"},
        ]
        post_ses_event(
            webhook_client, {**SEND, "mail": ses_mail([BOB], headers=headers)}
        )
        assert tracking_events.event.metadata == {"kept": True}

    def test_empty_ses_event_is_no_events(self, webhook_client, tracking_events):
        response = post_ses_event(webhook_client, "{}")
        assert response.status_code == 200
        assert tracking_events.calls == []

    def test_bounce_without_diagnostic_code(self, webhook_client, tracking_events):
        post_ses_event(webhook_client, {**BOUNCE_PERMANENT, "mail": ses_mail()})
        assert [e.mta_response for e in tracking_events.events] == [
            "smtp; 550 5.1.1 user unknown",
            None,
        ]

    def test_ses_topic_validated_notice_is_ignored(
        self, webhook_client, tracking_events
    ):
        response = post_ses_event(
            webhook_client,
            "Successfully validated SNS topic for Amazon SES event publishing.",
        )
        assert response.status_code == 200
        assert tracking_events.calls == []

    def test_json_content_type_also_accepted(self, webhook_client, tracking_events):
        response = post_ses_event(
            webhook_client,
            {**SEND, "mail": ses_mail([BOB])},
            content_type="application/json",
        )
        assert response.status_code == 200
        assert tracking_events.event.event_type == "sent"

    def test_inbound_notification_is_configuration_error(
        self, webhook_client, tracking_events
    ):
        ses_event = {
            "notificationType": "Received",
            "mail": ses_mail(["in@example.com"]),
            "receipt": {"action": {"type": "SNS", "encoding": "UTF8"}},
            "content": "From: a@example.com\r\n\r\nHi\r\n",
        }
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_ses_event(webhook_client, ses_event)
        assert str(excinfo.value) == (
            "You seem to have set an Amazon SES *inbound* receipt rule to publish"
            " to an SNS Topic that posts to Anymail's *tracking* webhook URL."
            f" (SNS TopicArn {TOPIC_ARN})"
        )
        assert tracking_events.calls == []


# ---------------------------------------------------------------------------
# SNS message handling


class TestSNSMessages:
    def test_placeholder_signature_is_not_checked(
        self, webhook_client, tracking_events
    ):
        body = sns_notification(
            {**SEND, "mail": ses_mail([BOB])},
            Signature="not-a-real-signature",
            SignatureVersion="2",
            SigningCertURL="https://attacker.example/cert.pem",
        )
        assert post_sns(webhook_client, body).status_code == 200
        assert tracking_events.event.event_type == "sent"

    def test_unsubscribe_confirmation_is_ignored(
        self, webhook_client, tracking_events, boto_session
    ):
        body = sns_envelope(
            "UnsubscribeConfirmation",
            Token="unsub-token",
            Message="You have chosen to deactivate subscription ...",
            SubscribeURL="https://sns.us-east-1.amazonaws.com/?Action=Confirm",
        )
        with override_settings(ANYMAIL=SECRET):
            response = post_sns(webhook_client, body, HTTP_AUTHORIZATION=AUTH)
        assert response.status_code == 200
        assert tracking_events.calls == []
        boto_session.assert_not_called()

    @pytest.mark.parametrize(
        "header, body_type, message",
        [
            (
                "SubscriptionConfirmation",
                "Notification",
                'SNS header "x-amz-sns-message-type: SubscriptionConfirmation"'
                ' doesn\'t match body "Type": "Notification"',
            ),
            (
                None,
                "Notification",
                'SNS header "x-amz-sns-message-type: <<missing>>"'
                ' doesn\'t match body "Type": "Notification"',
            ),
            (
                "Notification",
                None,
                'SNS header "x-amz-sns-message-type: Notification"'
                ' doesn\'t match body "Type": "<<missing>>"',
            ),
        ],
        ids=["mismatch", "header-missing", "body-missing"],
    )
    def test_message_type_header_must_match_body(
        self, webhook_client, tracking_events, security_log, header, body_type, message
    ):
        body = sns_notification({**SEND, "mail": ses_mail([BOB])})
        if body_type is None:
            del body["Type"]
        response = post_sns(webhook_client, body, message_type=header)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [message]

    @pytest.mark.parametrize(
        "header, message",
        [
            (
                "other-id",
                'SNS header "x-amz-sns-message-id: other-id"'
                f' doesn\'t match body "MessageId": "{SNS_MESSAGE_ID}"',
            ),
            (
                None,
                'SNS header "x-amz-sns-message-id: <<missing>>"'
                f' doesn\'t match body "MessageId": "{SNS_MESSAGE_ID}"',
            ),
        ],
        ids=["mismatch", "missing"],
    )
    def test_message_id_header_must_match_body(
        self, webhook_client, tracking_events, security_log, header, message
    ):
        body = sns_notification({**SEND, "mail": ses_mail([BOB])})
        response = post_sns(webhook_client, body, message_id=header)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [message]

    def test_consistency_checked_before_basic_auth(
        self, webhook_client, tracking_events, security_log
    ):
        body = sns_notification({**SEND, "mail": ses_mail([BOB])})
        with override_settings(ANYMAIL=SECRET):
            response = post_sns(
                webhook_client,
                body,
                message_id="other-id",
                HTTP_AUTHORIZATION=basic_auth_header("sns-user:wrong"),
            )
        assert response.status_code == 400
        assert security_messages(security_log) == [
            'SNS header "x-amz-sns-message-id: other-id"'
            f' doesn\'t match body "MessageId": "{SNS_MESSAGE_ID}"'
        ]


class TestMalformedPayloads:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b'{"Type": "Notification", ',
            b"[]",
            b'"Notification"',
            b"\xff\xfe\x00",
            b"Type=Notification&MessageId=" + SNS_MESSAGE_ID.encode(),
        ],
        ids=["empty", "not-json", "truncated", "list", "string", "not-utf8", "form"],
    )
    def test_body_is_not_a_json_object(
        self, webhook_client, tracking_events, security_log, body
    ):
        response = post_sns(
            webhook_client,
            body,
            message_type="Notification",
            message_id=SNS_MESSAGE_ID,
            # (lower-case, so Django's test client sends the bytes unchanged)
            content_type="text/plain; charset=utf-8",
        )
        assert response.status_code == 400
        assert response.content == b"Malformed Amazon SES webhook payload"
        assert tracking_events.calls == []
        assert security_messages(security_log) == []

    def test_form_content_type(self, webhook_client, tracking_events):
        response = webhook_client.post(
            URL,
            {"Type": "Notification", "MessageId": SNS_MESSAGE_ID},
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            HTTP_X_AMZ_SNS_MESSAGE_ID=SNS_MESSAGE_ID,
        )
        assert response.status_code == 400
        assert tracking_events.calls == []

    @pytest.mark.parametrize("sns_type", ["Unknown", "", "notification"])
    def test_unknown_sns_type(self, webhook_client, tracking_events, sns_type):
        body = sns_notification({**SEND, "mail": ses_mail([BOB])}, Type=sns_type)
        response = post_sns(webhook_client, body)
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_type_missing_from_header_and_body(self, webhook_client, tracking_events):
        body = sns_notification({**SEND, "mail": ses_mail([BOB])})
        del body["Type"]
        response = post_sns(webhook_client, body)
        assert response.status_code == 400
        assert tracking_events.calls == []

    def _ses_event_without(self, source, *path):
        ses_event = json.loads(json.dumps({**source, "mail": ses_mail()}))
        target = ses_event
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return ses_event

    @pytest.mark.parametrize(
        "source, path",
        [
            (BOUNCE_PERMANENT, ("bounce",)),
            (BOUNCE_PERMANENT, ("bounce", "bouncedRecipients")),
            (BOUNCE_PERMANENT, ("bounce", "bounceType")),
            (BOUNCE_PERMANENT, ("bounce", "bounceSubType")),
            (COMPLAINT, ("complaint", "complainedRecipients")),
            (DELIVERY, ("delivery", "recipients")),
            (REJECT, ("reject",)),
            (OPEN, ("open",)),
            (CLICK, ("click",)),
            (RENDERING_FAILURE, ("failure",)),
        ],
        ids=lambda value: "/".join(value) if isinstance(value, tuple) else None,
    )
    def test_missing_required_ses_fields(
        self, webhook_client, tracking_events, source, path
    ):
        ses_event = self._ses_event_without(source, *path)
        response = post_ses_event(webhook_client, ses_event)
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_bounced_recipient_without_address(self, webhook_client, tracking_events):
        ses_event = json.loads(json.dumps({**BOUNCE_PERMANENT, "mail": ses_mail()}))
        del ses_event["bounce"]["bouncedRecipients"][1]["emailAddress"]
        response = post_ses_event(webhook_client, ses_event)
        assert response.status_code == 400
        assert tracking_events.calls == []  # not even for the first recipient

    @pytest.mark.parametrize(
        "message",
        ["not json", "[1, 2]", "null", '"a string"', None, {"eventType": "Send"}],
        ids=["not-json", "list", "null", "string", "missing", "not-a-string"],
    )
    def test_unparsable_notification_message(
        self, webhook_client, tracking_events, message
    ):
        body = sns_notification("{}")
        if message is None:
            del body["Message"]
        else:
            body["Message"] = message
        response = post_sns(webhook_client, body)
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_wrong_shapes_inside_ses_event(self, webhook_client, tracking_events):
        for ses_event in [
            {**SEND, "mail": ["not", "a", "dict"]},
            {**SEND, "mail": {**ses_mail(), "headers": ["X-Tag: a"]}},
            {**BOUNCE_PERMANENT, "bounce": "Permanent"},
            {**DELIVERY, "mail": ses_mail(), "delivery": {"recipients": None}},
        ]:
            response = post_ses_event(webhook_client, ses_event)
            assert response.status_code == 400, ses_event
        assert tracking_events.calls == []


# ---------------------------------------------------------------------------
# Authentication


class TestBasicAuth:
    @override_settings(ANYMAIL=SECRET)
    def test_correct_credentials(self, webhook_client, tracking_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_ses_event(
                webhook_client,
                {**SEND, "mail": ses_mail([BOB])},
                HTTP_AUTHORIZATION=AUTH,
            )
        assert response.status_code == 200
        assert tracking_events.event.event_type == "sent"

    @override_settings(ANYMAIL=SECRET)
    @pytest.mark.parametrize(
        "authorization",
        [
            basic_auth_header("sns-user:wrong"),
            "Bearer c25zLXVzZXI6czNjcmV0OnBhc3M=",
            "Basic not-base64!",
        ],
        ids=["wrong", "bearer", "malformed"],
    )
    def test_wrong_credentials_are_400(
        self, webhook_client, tracking_events, security_log, authorization
    ):
        response = post_ses_event(
            webhook_client,
            {**SEND, "mail": ses_mail([BOB])},
            HTTP_AUTHORIZATION=authorization,
        )
        assert response.status_code == 400
        assert "WWW-Authenticate" not in response
        assert tracking_events.calls == []
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Amazon SES webhook"
        ]

    @override_settings(ANYMAIL=SECRET)
    @pytest.mark.parametrize("authorization", [None, ""], ids=["missing", "empty"])
    def test_no_credentials_get_a_401_challenge(
        self, webhook_client, tracking_events, security_log, authorization
    ):
        extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
        response = post_ses_event(
            webhook_client, {**SEND, "mail": ses_mail([BOB])}, **extra
        )
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="Anymail WEBHOOK_SECRET"'
        assert tracking_events.calls == []
        assert security_messages(security_log) == []

    @override_settings(ANYMAIL=SECRET)
    def test_challenge_comes_before_any_parsing(
        self, webhook_client, tracking_events, security_log
    ):
        response = post_sns(webhook_client, b"not json", message_type="Bogus")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="Anymail WEBHOOK_SECRET"'
        assert security_messages(security_log) == []

    def test_no_challenge_without_secret(self, webhook_client, tracking_events):
        response = post_ses_event(webhook_client, {**SEND, "mail": ses_mail([BOB])})
        assert response.status_code == 200
        assert "WWW-Authenticate" not in response

    def test_challenge_with_as_view_basic_auth(self):
        view = AmazonSESTrackingWebhookView.as_view(basic_auth=["route:creds"])
        body = json.dumps(sns_notification({**SEND, "mail": ses_mail([BOB])}))
        factory = RequestFactory()
        challenged = view(factory.post(URL, body, content_type="text/plain"))
        accepted = view(
            factory.post(
                URL,
                body,
                content_type="text/plain",
                HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
                HTTP_X_AMZ_SNS_MESSAGE_ID=SNS_MESSAGE_ID,
                HTTP_AUTHORIZATION=basic_auth_header("route:creds"),
            )
        )
        assert (challenged.status_code, accepted.status_code) == (401, 200)

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": ["new:secret", "old:secret"]})
    def test_rotated_secrets(self, webhook_client, tracking_events):
        for credentials in ["old:secret", "new:secret"]:
            response = post_ses_event(
                webhook_client,
                {**SEND, "mail": ses_mail([BOB])},
                HTTP_AUTHORIZATION=basic_auth_header(credentials),
            )
            assert response.status_code == 200
        assert len(tracking_events.calls) == 2


class TestInsecureWarning:
    @override_settings(ANYMAIL={})
    def test_warns_without_webhook_secret(self, webhook_client, tracking_events):
        with pytest.warns(
            AnymailInsecureWebhookWarning, match="Your Anymail webhooks are insecure"
        ):
            response = post_ses_event(webhook_client, {**SEND, "mail": ses_mail([BOB])})
        assert response.status_code == 200
        assert tracking_events.event.event_type == "sent"

    @override_settings(ANYMAIL=SECRET)
    def test_no_warning_with_webhook_secret(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            AmazonSESTrackingWebhookView()


# ---------------------------------------------------------------------------
# SNS subscription confirmation


class TestSubscriptionConfirmation:
    @override_settings(ANYMAIL=SECRET)
    def test_auto_confirm(self, webhook_client, tracking_events, boto_session):
        sns_client = boto_session.return_value.client.return_value
        body = subscription_confirmation(
            topic_arn="arn:aws:sns:eu-west-3:111122223333:SES_Tracking",
            token="token-abc",
        )
        response = post_sns(webhook_client, body, HTTP_AUTHORIZATION=AUTH)
        assert response.status_code == 200
        assert tracking_events.calls == []
        boto_session.assert_called_once_with()
        boto_session.return_value.client.assert_called_once_with(
            "sns", config=mock.ANY, region_name="eu-west-3"
        )
        config = boto_session.return_value.client.call_args.kwargs["config"]
        assert isinstance(config, Config)
        assert f"django-anymail/{ANYMAIL_VERSION}-amazon-ses" in (
            config.user_agent_extra
        )
        sns_client.confirm_subscription.assert_called_once_with(
            TopicArn="arn:aws:sns:eu-west-3:111122223333:SES_Tracking",
            Token="token-abc",
            AuthenticateOnUnsubscribe="true",
        )
        sns_client.close.assert_called_once_with()
        # never by fetching the SubscribeURL
        assert [c[0] for c in sns_client.method_calls] == [
            "confirm_subscription",
            "close",
        ]

    def test_boto_settings(self, webhook_client, boto_session):
        client_params = {
            "region_name": "us-west-2",
            "aws_access_key_id": "AKIAEXAMPLE",
            "config": {"connect_timeout": 7, "retries": {"max_attempts": 2}},
        }
        session_params = {"profile_name": "anymail-test"}
        anymail_settings = {
            **SECRET,
            "AMAZON_SES_CLIENT_PARAMS": client_params,
            "AMAZON_SES_SESSION_PARAMS": session_params,
        }
        with override_settings(ANYMAIL=anymail_settings):
            response = post_sns(
                webhook_client, subscription_confirmation(), HTTP_AUTHORIZATION=AUTH
            )
        assert response.status_code == 200
        boto_session.assert_called_once_with(profile_name="anymail-test")
        boto_session.return_value.client.assert_called_once_with(
            "sns",
            config=mock.ANY,
            region_name="us-east-1",  # the topic's region wins
            aws_access_key_id="AKIAEXAMPLE",
        )
        config = boto_session.return_value.client.call_args.kwargs["config"]
        assert config.connect_timeout == 7
        assert config.retries == {"max_attempts": 2}
        assert "django-anymail/" in config.user_agent_extra
        # the settings themselves are unchanged
        assert client_params == {
            "region_name": "us-west-2",
            "aws_access_key_id": "AKIAEXAMPLE",
            "config": {"connect_timeout": 7, "retries": {"max_attempts": 2}},
        }
        assert session_params == {"profile_name": "anymail-test"}

    def test_user_config_object_and_user_agent_win(self, webhook_client, boto_session):
        client_params = {"config": Config(user_agent_extra="my-app/2")}
        with override_settings(
            ANYMAIL={**SECRET, "AMAZON_SES_CLIENT_PARAMS": client_params}
        ):
            post_sns(
                webhook_client, subscription_confirmation(), HTTP_AUTHORIZATION=AUTH
            )
        config = boto_session.return_value.client.call_args.kwargs["config"]
        assert config.user_agent_extra == "my-app/2"

    def test_no_bare_boto_settings(self, webhook_client, boto_session):
        with override_settings(
            ANYMAIL=SECRET, AMAZON_SES_SESSION_PARAMS={"profile_name": "bare"}
        ):
            post_sns(
                webhook_client, subscription_confirmation(), HTTP_AUTHORIZATION=AUTH
            )
        boto_session.assert_called_once_with()

    def test_flat_settings(self, webhook_client, boto_session):
        with override_settings(
            ANYMAIL=SECRET,
            ANYMAIL_AMAZON_SES_SESSION_PARAMS={"profile_name": "flat"},
        ):
            post_sns(
                webhook_client, subscription_confirmation(), HTTP_AUTHORIZATION=AUTH
            )
        boto_session.assert_called_once_with(profile_name="flat")

    def test_as_view_settings(self, boto_session):
        view = AmazonSESTrackingWebhookView.as_view(
            session_params={"profile_name": "route"},
            client_params={"endpoint_url": "https://sns.example.test"},
            basic_auth=["route:creds"],
        )
        request = RequestFactory().post(
            URL,
            json.dumps(subscription_confirmation()),
            content_type="text/plain; charset=UTF-8",
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="SubscriptionConfirmation",
            HTTP_X_AMZ_SNS_MESSAGE_ID=SNS_MESSAGE_ID,
            HTTP_AUTHORIZATION=basic_auth_header("route:creds"),
        )
        assert view(request).status_code == 200
        boto_session.assert_called_once_with(profile_name="route")
        boto_session.return_value.client.assert_called_once_with(
            "sns",
            config=mock.ANY,
            region_name="us-east-1",
            endpoint_url="https://sns.example.test",
        )
        # outside any request too
        instance = view.view_class(**view.view_initkwargs)
        assert instance.session_params == {"profile_name": "route"}
        assert instance.auto_confirm_sns_subscriptions is True

    def test_without_webhook_secret_is_refused(
        self, webhook_client, tracking_events, security_log, boto_session
    ):
        body = subscription_confirmation(token="manual-token-42")
        response = post_sns(webhook_client, body)
        assert response.status_code == 400
        assert tracking_events.calls == []
        boto_session.assert_not_called()
        assert security_messages(security_log) == [
            "Anymail received an unexpected SubscriptionConfirmation request for"
            f" Amazon SNS topic '{TOPIC_ARN}'. (Anymail can automatically confirm"
            " SNS subscriptions if you set a WEBHOOK_SECRET and use that in your"
            " SNS notification url. Or you can manually confirm this subscription"
            " in the SNS dashboard with token 'manual-token-42'.)"
        ]

    @pytest.mark.parametrize("secret", [{}, SECRET], ids=["no-secret", "secret"])
    def test_auto_confirm_off_ignores_it(
        self, webhook_client, tracking_events, security_log, boto_session, secret
    ):
        anymail_settings = {
            **secret,
            "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
        }
        with override_settings(ANYMAIL=anymail_settings):
            response = post_sns(
                webhook_client, subscription_confirmation(), HTTP_AUTHORIZATION=AUTH
            )
        assert response.status_code == 200
        assert tracking_events.calls == []
        assert security_messages(security_log) == []
        boto_session.assert_not_called()

    def test_auto_confirm_off_as_view(self, boto_session):
        view = AmazonSESTrackingWebhookView.as_view(
            auto_confirm_sns_subscriptions=False
        )
        request = RequestFactory().post(
            URL,
            json.dumps(subscription_confirmation()),
            content_type="text/plain; charset=UTF-8",
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="SubscriptionConfirmation",
            HTTP_X_AMZ_SNS_MESSAGE_ID=SNS_MESSAGE_ID,
        )
        assert view(request).status_code == 200
        boto_session.assert_not_called()

    @override_settings(ANYMAIL=SECRET)
    def test_client_error_propagates_and_client_is_closed(
        self, webhook_client, boto_session
    ):
        sns_client = boto_session.return_value.client.return_value
        error = ClientError(
            {"Error": {"Code": "AuthorizationError", "Message": "Not authorized"}},
            "ConfirmSubscription",
        )
        sns_client.confirm_subscription.side_effect = error
        with pytest.raises(ClientError) as excinfo:
            post_sns(
                webhook_client, subscription_confirmation(), HTTP_AUTHORIZATION=AUTH
            )
        assert excinfo.value is error
        sns_client.close.assert_called_once_with()

    @override_settings(ANYMAIL=SECRET)
    @pytest.mark.parametrize(
        "topic_arn",
        ["arn:aws:sns:us-east-1:111122223333", "not-an-arn", "a:b:c:d:e:f:g"],
    )
    def test_invalid_topic_arn(
        self, webhook_client, tracking_events, boto_session, topic_arn
    ):
        response = post_sns(
            webhook_client,
            subscription_confirmation(topic_arn=topic_arn),
            HTTP_AUTHORIZATION=AUTH,
        )
        assert response.status_code == 400
        boto_session.assert_not_called()

    @override_settings(ANYMAIL=SECRET)
    @pytest.mark.parametrize("field", ["TopicArn", "Token"])
    def test_missing_fields(self, webhook_client, boto_session, field):
        body = subscription_confirmation()
        del body[field]
        response = post_sns(webhook_client, body, HTTP_AUTHORIZATION=AUTH)
        assert response.status_code == 400
        boto_session.assert_not_called()


# ---------------------------------------------------------------------------
# The view


class TestView:
    @override_settings(ANYMAIL=SECRET)
    def test_head_is_200_without_validation(self, webhook_client, tracking_events):
        response = webhook_client.head(URL)
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []

    def test_get_not_allowed(self, webhook_client):
        logger = logging.getLogger("django.request")
        logger.disabled = True
        try:
            response = webhook_client.get(URL)
        finally:
            logger.disabled = False
        assert response.status_code == 405
        assert response["Allow"] == "POST, HEAD, OPTIONS"

    def test_class_structure(self):
        assert issubclass(AmazonSESTrackingWebhookView, AmazonSESBaseWebhookView)
        assert AmazonSESTrackingWebhookView.esp_name == "Amazon SES"
        assert AmazonSESTrackingWebhookView.signal is tracking

    def test_receiver_exception_propagates(self, webhook_client):
        def receiver(**kwargs):
            raise RuntimeError("receiver failed")

        tracking.connect(receiver, weak=False)
        try:
            with pytest.raises(RuntimeError, match="receiver failed"):
                post_ses_event(webhook_client, {**SEND, "mail": ses_mail([BOB])})
        finally:
            tracking.disconnect(receiver)


BOTO3_MISSING = (
    "The boto3 package isn't installed but is needed for this ESP.\n"
    '(Be sure to use `pip install "django-anymail[amazon-ses]"`.)'
)


class TestWithoutBoto3:
    def test_module_imports_without_boto3(self):
        # Load a private copy of the module while boto3 can't be imported
        spec = importlib.util.spec_from_file_location(
            "anymail.webhooks._amazon_ses_without_boto3", amazon_ses_webhooks.__file__
        )
        module = importlib.util.module_from_spec(spec)
        blocked = {"boto3": None, "botocore": None, "botocore.client": None}
        with mock.patch.dict(sys.modules, blocked):
            spec.loader.exec_module(module)
        assert module.boto3 is None
        with pytest.raises(AnymailImproperlyInstalled) as excinfo:
            module.AmazonSESTrackingWebhookView()
        assert str(excinfo.value) == BOTO3_MISSING

    @pytest.mark.parametrize("method", ["post", "head"])
    def test_view_raises_improperly_installed(self, webhook_client, method):
        with (
            mock.patch.object(amazon_ses_webhooks, "boto3", None),
            pytest.raises(AnymailImproperlyInstalled) as excinfo,
        ):
            getattr(webhook_client, method)(URL)
        assert str(excinfo.value) == BOTO3_MISSING
