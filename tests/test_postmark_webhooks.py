"""Postmark tracking webhook: PostmarkTrackingWebhookView."""

import logging
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from django.test import override_settings
from django.urls import include, path, reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import tracking
from anymail.webhooks.postmark import PostmarkTrackingWebhookView

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
        "custom/postmark/",
        PostmarkTrackingWebhookView.as_view(basic_auth=["route:only"]),
        name="custom_postmark",
    ),
]

URL = "/anymail/postmark/tracking/"
SECRET = "postmark:webhook:secret"
AUTH = basic_auth_header(SECRET)

MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483"
UTC_TIME = "2019-11-05T16:33:54.9070259Z"
UTC_DATETIME = datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=timezone.utc)
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    """Most tests post with the right basic auth for this secret."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post_event(client, payload, auth=AUTH, url=URL, **extra):
    return post_json_with_auth(client, payload, auth=auth, url=url, **extra)


# Payloads modeled on the ones Postmark posts (and sends as webhook tests)


def delivery_payload(**fields):
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": MESSAGE_ID,
        "Recipient": "john@example.com",
        "Tag": "welcome-email",
        "DeliveredAt": UTC_TIME,
        "Details": "smtp;250 2.0.0 OK 1572971634 accepted",
        "Metadata": {"customer": "c-42", "plan": "pro"},
        **fields,
    }


def bounce_payload(**fields):
    return {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "invitation",
        "MessageID": MESSAGE_ID,
        "Metadata": {"customer": "c-42"},
        "ServerID": 23,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message"
        " (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach"
        " does not exist.",
        "Email": "john@example.com",
        "From": "sender@example.com",
        "BouncedAt": "2016-04-27T16:28:50.3963933-04:00",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Your invitation",
        "Content": "Return-Path: <>\r\n...",
        **fields,
    }


def spam_complaint_payload(**fields):
    return {
        "RecordType": "SpamComplaint",
        "ID": 901542550,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "Tag": "",
        "MessageID": MESSAGE_ID,
        "Metadata": {},
        "ServerID": 1234,
        "MessageStream": "outbound",
        "Description": "The subscriber explicitly marked this message as spam.",
        "Details": "Test spam complaint details",
        "Email": "john@example.com",
        "From": "sender@example.com",
        "BouncedAt": UTC_TIME,
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": False,
        "Subject": "Your invitation",
        **fields,
    }


def open_payload(**fields):
    return {
        "RecordType": "Open",
        "MessageStream": "outbound",
        "FirstOpen": True,
        "Client": {"Name": "Chrome 124", "Company": "Google", "Family": "Chrome"},
        "OS": {"Name": "OS X 10.15", "Company": "Apple Inc.", "Family": "OS X"},
        "Platform": "WebMail",
        "UserAgent": USER_AGENT,
        "ReadSeconds": 5,
        "Geo": {"CountryISOCode": "RS", "Country": "Serbia", "City": "Novi Sad"},
        "MessageID": MESSAGE_ID,
        "Metadata": {"customer": "c-42"},
        "ReceivedAt": "2019-11-05T16:33:54+01:00",
        "Tag": "welcome-email",
        "Recipient": "john@example.com",
        **fields,
    }


def click_payload(**fields):
    return {
        "RecordType": "Click",
        "MessageStream": "outbound",
        "ClickLocation": "HTML",
        "Client": {"Name": "Chrome 124", "Company": "Google", "Family": "Chrome"},
        "OS": {"Name": "OS X 10.15", "Company": "Apple Inc.", "Family": "OS X"},
        "Platform": "Desktop",
        "UserAgent": USER_AGENT,
        "OriginalLink": "https://example.com/welcome?ref=email",
        "Geo": {"CountryISOCode": "RS", "Country": "Serbia", "City": "Novi Sad"},
        "MessageID": MESSAGE_ID,
        "Metadata": {},
        "ReceivedAt": UTC_TIME,
        "Tag": "welcome-email",
        "Recipient": "john@example.com",
        **fields,
    }


def subscription_change_payload(**fields):
    return {
        "RecordType": "SubscriptionChange",
        "MessageID": MESSAGE_ID,
        "ServerID": 23,
        "MessageStream": "broadcast",
        "ChangedAt": "2020-02-01T10:53:34.416071Z",
        "Recipient": "john@example.com",
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "newsletter",
        "Metadata": {"customer": "c-42"},
        **fields,
    }


def inbound_payload(**fields):
    return {
        "FromName": "Sender",
        "From": "sender@example.org",
        "FromFull": {"Email": "sender@example.org", "Name": "Sender"},
        "To": "in@inbound.example.com",
        "ToFull": [{"Email": "in@inbound.example.com", "Name": ""}],
        "OriginalRecipient": "in@inbound.example.com",
        "Subject": "Hi",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Date": "Wed, 11 Oct 2017 18:31:04 -0700",
        "TextBody": "Hello",
        "Headers": [],
        "Attachments": [],
        **fields,
    }


class TestEventsByRecordType:
    """Every field of the normalized event, for each RecordType."""

    def test_delivery(self, webhook_client, tracking_events):
        payload = delivery_payload()
        response = post_event(webhook_client, payload)
        assert response.status_code == 200
        assert response.content == b""
        assert event_fields(tracking_events.event) == {
            "event_type": "delivered",
            "timestamp": UTC_DATETIME,
            "event_id": None,
            "message_id": MESSAGE_ID,
            "recipient": "john@example.com",
            "metadata": {"customer": "c-42", "plan": "pro"},
            "tags": ["welcome-email"],
            "reject_reason": None,
            "description": None,
            "mta_response": "smtp;250 2.0.0 OK 1572971634 accepted",
            "user_agent": None,
            "click_url": None,
            "esp_event": payload,
        }

    def test_bounce(self, webhook_client, tracking_events):
        payload = bounce_payload()
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "bounced",
            "timestamp": datetime(
                2016, 4, 27, 16, 28, 50, 396393, tzinfo=timezone(timedelta(hours=-4))
            ),
            "event_id": "4323372036854775807",
            "message_id": MESSAGE_ID,
            "recipient": "john@example.com",
            "metadata": {"customer": "c-42"},
            "tags": ["invitation"],
            "reject_reason": "bounced",
            "description": "The server was unable to deliver your message"
            " (ex: unknown user, mailbox not found).",
            "mta_response": "smtp;550 5.1.1 The email account that you tried to"
            " reach does not exist.",
            "user_agent": None,
            "click_url": None,
            "esp_event": payload,
        }
        # the offset is kept, not converted
        assert tracking_events.event.timestamp.utcoffset() == timedelta(hours=-4)

    def test_spec_bounce_sample(self, webhook_client, tracking_events):
        payload = {
            "RecordType": "Bounce",
            "ID": 42,
            "Type": "HardBounce",
            "MessageID": "msg-123",
            "Description": "Mailbox not found",
            "Details": "smtp;550 5.1.1 no such user",
            "Email": "bob@example.com",
            "BouncedAt": "2024-05-01T10:00:00.1234567-04:00",
            "Tag": "welcome",
        }
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "bounced",
            "timestamp": datetime(
                2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-4))
            ),
            "event_id": "42",
            "message_id": "msg-123",
            "recipient": "bob@example.com",
            "metadata": {},
            "tags": ["welcome"],
            "reject_reason": "bounced",
            "description": "Mailbox not found",
            "mta_response": "smtp;550 5.1.1 no such user",
            "user_agent": None,
            "click_url": None,
            "esp_event": payload,
        }

    def test_spam_complaint(self, webhook_client, tracking_events):
        payload = spam_complaint_payload()
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "complained",
            "timestamp": UTC_DATETIME,
            "event_id": "901542550",
            "message_id": MESSAGE_ID,
            "recipient": "john@example.com",
            "metadata": {},
            "tags": [""],  # Postmark's empty Tag is still reported
            "reject_reason": "spam",
            "description": "The subscriber explicitly marked this message as spam.",
            "mta_response": "Test spam complaint details",
            "user_agent": None,
            "click_url": None,
            "esp_event": payload,
        }

    def test_open(self, webhook_client, tracking_events):
        payload = open_payload()
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "opened",
            "timestamp": datetime(
                2019, 11, 5, 16, 33, 54, tzinfo=timezone(timedelta(hours=1))
            ),
            "event_id": None,
            "message_id": MESSAGE_ID,
            "recipient": "john@example.com",
            "metadata": {"customer": "c-42"},
            "tags": ["welcome-email"],
            "reject_reason": None,
            "description": None,
            "mta_response": None,
            "user_agent": USER_AGENT,
            "click_url": None,
            "esp_event": payload,
        }

    def test_click(self, webhook_client, tracking_events):
        payload = click_payload()
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "clicked",
            "timestamp": UTC_DATETIME,
            "event_id": None,
            "message_id": MESSAGE_ID,
            "recipient": "john@example.com",
            "metadata": {},
            "tags": ["welcome-email"],
            "reject_reason": None,
            "description": None,
            "mta_response": None,
            "user_agent": USER_AGENT,
            "click_url": "https://example.com/welcome?ref=email",
            "esp_event": payload,
        }

    def test_subscription_change(self, webhook_client, tracking_events):
        payload = subscription_change_payload()
        assert post_event(webhook_client, payload).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "unsubscribed",
            "timestamp": datetime(2020, 2, 1, 10, 53, 34, 416071, tzinfo=timezone.utc),
            "event_id": None,
            "message_id": MESSAGE_ID,
            "recipient": "john@example.com",
            "metadata": {"customer": "c-42"},
            "tags": ["newsletter"],
            "reject_reason": "unsubscribed",
            "description": None,
            "mta_response": None,
            "user_agent": None,
            "click_url": None,
            "esp_event": payload,
        }

    def test_missing_record_type_is_unknown(self, webhook_client, tracking_events):
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

    def test_signal_kwargs(self, webhook_client, tracking_events):
        post_event(webhook_client, delivery_payload())
        (call,) = tracking_events.calls
        assert call["sender"] is PostmarkTrackingWebhookView
        assert call["esp_name"] == "Postmark"
        assert call["signal"] is tracking
        assert set(call) == {"signal", "sender", "event", "esp_name"}

    def test_url_name(self):
        assert reverse("anymail:postmark_tracking_webhook") == URL


class TestEventTypeMapping:
    @pytest.mark.parametrize(
        "record_type, expected",
        [
            ("Bounce", "bounced"),
            ("SpamComplaint", "complained"),
            ("Delivery", "delivered"),
            ("Open", "opened"),
            ("Click", "clicked"),
            ("SubscriptionChange", "unsubscribed"),
            ("Outbound", "unknown"),
            ("bounce", "unknown"),  # exact match only
            (None, "unknown"),
        ],
    )
    def test_record_type(self, webhook_client, tracking_events, record_type, expected):
        # no Type or SuppressionReason, so no refinement
        payload = {"RecordType": record_type, "MessageID": MESSAGE_ID}
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == (expected, None)
        assert event.message_id == MESSAGE_ID

    @pytest.mark.parametrize(
        "bounce_type, event_type, reject_reason",
        [
            ("HardBounce", "bounced", "bounced"),
            ("SoftBounce", "bounced", "bounced"),
            ("Transient", "deferred", None),
            ("DnsError", "deferred", None),
            ("OpenRelayTest", "deferred", None),
            ("Unsubscribe", "unsubscribed", "unsubscribed"),
            ("ManualSuppression", "unsubscribed", "unsubscribed"),
            ("Subscribe", "subscribed", None),
            ("AutoResponder", "autoresponded", None),
            ("AddressChange", "autoresponded", None),
            ("ChallengeVerification", "autoresponded", None),
            ("SpamNotification", "complained", "spam"),
            ("SpamComplaint", "complained", "spam"),
            ("VirusNotification", "bounced", "other"),
            ("BadEmailAddress", "rejected", "invalid"),
            ("ManuallyDeactivated", "rejected", "blocked"),
            ("Blocked", "rejected", "blocked"),
            ("DMARCPolicy", "rejected", "blocked"),
            ("Unconfirmed", "rejected", None),
            ("SMTPApiError", "failed", None),
            ("TemplateRenderingFailed", "failed", None),
            ("InboundError", "inbound_failed", None),
            ("Unknown", "unknown", None),
            # not in the table: the RecordType's type stays, without a reason
            ("SomeNewBounceType", "bounced", None),
            (None, "bounced", None),
        ],
    )
    def test_bounce_type(
        self, webhook_client, tracking_events, bounce_type, event_type, reject_reason
    ):
        payload = bounce_payload(Type=bounce_type)
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == (event_type, reject_reason)
        assert event.recipient == "john@example.com"
        assert event.event_id == "4323372036854775807"

    @pytest.mark.parametrize(
        "spam_type, event_type, reject_reason",
        [
            ("SpamComplaint", "complained", "spam"),
            ("HardBounce", "bounced", "bounced"),
            ("NotATableEntry", "complained", None),
        ],
    )
    def test_spam_complaint_type(
        self, webhook_client, tracking_events, spam_type, event_type, reject_reason
    ):
        payload = spam_complaint_payload(Type=spam_type)
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == (event_type, reject_reason)

    @pytest.mark.parametrize("record_type", ["Delivery", "Open", "Click"])
    def test_type_only_refines_bounces_and_complaints(
        self, webhook_client, tracking_events, record_type
    ):
        payload = {"RecordType": record_type, "Type": "HardBounce"}
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.reject_reason is None
        assert tracking_events.event.event_type != "bounced"

    def test_inbound_failed_goes_to_tracking_signal(
        self, webhook_client, tracking_events
    ):
        payload = bounce_payload(
            Type="InboundError",
            TypeCode=4096,
            Name="Inbound error",
            Description="An error occurred while processing an inbound message.",
            Email="in@inbound.example.com",
        )
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert event.event_type == "inbound_failed"
        assert event.recipient == "in@inbound.example.com"
        assert tracking_events.calls[0]["signal"] is tracking


class TestSubscriptionChanges:
    @pytest.mark.parametrize(
        "reason, event_type, reject_reason",
        [
            ("HardBounce", "bounced", "bounced"),
            ("SpamComplaint", "complained", "spam"),
            ("ManualSuppression", "unsubscribed", "unsubscribed"),
            ("Unknown", "unknown", None),  # listed in the table
            ("SomethingNew", "unsubscribed", None),
            (None, "unsubscribed", None),
        ],
    )
    def test_suppression_reason(
        self, webhook_client, tracking_events, reason, event_type, reject_reason
    ):
        payload = subscription_change_payload(SuppressionReason=reason)
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == (event_type, reject_reason)

    def test_missing_suppression_reason(self, webhook_client, tracking_events):
        payload = subscription_change_payload()
        del payload["SuppressionReason"]
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == ("unsubscribed", None)

    @pytest.mark.parametrize("suppress_sending", ["missing", None])
    def test_missing_suppress_sending_means_suppressed(
        self, webhook_client, tracking_events, suppress_sending
    ):
        payload = subscription_change_payload(SuppressionReason="HardBounce")
        if suppress_sending == "missing":
            del payload["SuppressSending"]
        else:
            payload["SuppressSending"] = suppress_sending
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == ("bounced", "bounced")

    @pytest.mark.parametrize("reason", ["ManualSuppression", "HardBounce", None])
    def test_resubscribe(self, webhook_client, tracking_events, reason):
        payload = subscription_change_payload(
            SuppressSending=False, SuppressionReason=reason
        )
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == ("subscribed", None)
        assert event.recipient == "john@example.com"

    def test_bounce_unsubscribe_uses_suppression_reason(
        self, webhook_client, tracking_events
    ):
        payload = bounce_payload(Type="Unsubscribe", SuppressionReason="SpamComplaint")
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == ("complained", "spam")

    def test_bounce_unsubscribe_suppress_sending_false(
        self, webhook_client, tracking_events
    ):
        payload = bounce_payload(Type="Unsubscribe", SuppressSending=False)
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == ("subscribed", None)

    def test_suppress_sending_ignored_for_other_types(
        self, webhook_client, tracking_events
    ):
        payload = bounce_payload(SuppressSending=False, SuppressionReason="Unknown")
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert (event.event_type, event.reject_reason) == ("bounced", "bounced")


class TestFields:
    def test_anymail_id_metadata_is_message_id(self, webhook_client, tracking_events):
        # changes-15.2 §5.4 example (bulk API sends)
        metadata = {
            "campaign": "c1",
            "anymail_id": "0f6c1d2e-8a5b-4c3d-9e1f-2a3b4c5d6e7f",
        }
        payload = {
            "RecordType": "Delivery",
            "MessageID": "pm-883",
            "Recipient": "alice@example.com",
            "DeliveredAt": "2026-01-05T10:01:00Z",
            "Metadata": metadata,
        }
        assert post_event(webhook_client, payload).status_code == 200
        event = tracking_events.event
        assert event.event_type == "delivered"
        assert event.message_id == "0f6c1d2e-8a5b-4c3d-9e1f-2a3b4c5d6e7f"
        assert event.metadata == {
            "campaign": "c1",
            "anymail_id": "0f6c1d2e-8a5b-4c3d-9e1f-2a3b4c5d6e7f",
        }
        assert event.timestamp == datetime(2026, 1, 5, 10, 1, tzinfo=timezone.utc)

    def test_anymail_id_used_even_without_bulk(self, webhook_client, tracking_events):
        payload = bounce_payload(Metadata={"anymail_id": "set-by-user"})
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.message_id == "set-by-user"

    def test_null_anymail_id_falls_back_to_message_id(
        self, webhook_client, tracking_events
    ):
        payload = delivery_payload(Metadata={"anymail_id": None})
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.message_id == MESSAGE_ID
        assert tracking_events.event.metadata == {"anymail_id": None}

    def test_null_metadata_is_empty(self, webhook_client, tracking_events):
        # django-anymail 15.2 fails with a 500 here
        payload = delivery_payload(Metadata=None)
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.metadata == {}
        assert tracking_events.event.message_id == MESSAGE_ID

    def test_missing_metadata_and_message_id(self, webhook_client, tracking_events):
        payload = delivery_payload()
        del payload["Metadata"], payload["MessageID"]
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.metadata == {}
        assert tracking_events.event.message_id is None

    @pytest.mark.parametrize(
        "tag, expected", [("promo", ["promo"]), ("", [""]), (None, [])]
    )
    def test_tags(self, webhook_client, tracking_events, tag, expected):
        assert post_event(webhook_client, open_payload(Tag=tag)).status_code == 200
        assert tracking_events.event.tags == expected

    def test_no_tag_key(self, webhook_client, tracking_events):
        payload = open_payload()
        del payload["Tag"]
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.tags == []

    def test_recipient_prefers_email(self, webhook_client, tracking_events):
        payload = bounce_payload(Recipient="other@example.com")
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.recipient == "john@example.com"

    def test_recipient_falls_back_to_recipient(self, webhook_client, tracking_events):
        payload = bounce_payload(Email=None, Recipient="other@example.com")
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.recipient == "other@example.com"

    def test_string_id(self, webhook_client, tracking_events):
        payload = bounce_payload(ID="1234")
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.event_id == "1234"

    def test_null_id(self, webhook_client, tracking_events):
        payload = bounce_payload(ID=None)
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.event_id is None

    def test_timestamp_field_order(self, webhook_client, tracking_events):
        payload = {
            "RecordType": "Delivery",
            "ChangedAt": "2021-01-01T00:00:04Z",
            "ReceivedAt": "2021-01-01T00:00:03Z",
            "BouncedAt": "2021-01-01T00:00:02Z",
            "DeliveredAt": "2021-01-01T00:00:01Z",
        }
        expected_seconds = []
        for field in ("DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt"):
            post_event(webhook_client, payload)
            expected_seconds.append(int(payload.pop(field)[-2]))
        post_event(webhook_client, payload)
        timestamps = [event.timestamp for event in tracking_events.events]
        assert [ts.second for ts in timestamps[:4]] == expected_seconds == [1, 2, 3, 4]
        assert timestamps[4] is None

    def test_timestamp_without_offset_is_utc(self, webhook_client, tracking_events):
        payload = delivery_payload(DeliveredAt="2019-11-05T16:33:54.123")
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.timestamp == datetime(
            2019, 11, 5, 16, 33, 54, 123000, tzinfo=timezone.utc
        )

    def test_null_timestamp_field_is_skipped(self, webhook_client, tracking_events):
        payload = bounce_payload(DeliveredAt=None)
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.timestamp.year == 2016


class TestOneEventPerRequest:
    def test_each_post_sends_one_signal_in_order(self, webhook_client, tracking_events):
        for payload in (delivery_payload(), open_payload(), click_payload()):
            assert post_event(webhook_client, payload).status_code == 200
        assert [event.event_type for event in tracking_events.events] == [
            "delivered",
            "opened",
            "clicked",
        ]
        assert all(
            call["sender"] is PostmarkTrackingWebhookView
            and call["esp_name"] == "Postmark"
            for call in tracking_events.calls
        )

    def test_json_array_is_malformed(self, webhook_client, tracking_events):
        # Postmark never batches; a list isn't a Postmark payload
        response = post_event(webhook_client, [delivery_payload(), open_payload()])
        assert response.status_code == 400
        assert tracking_events.calls == []


class TestMisdirectedInbound:
    def test_inbound_payload(self, webhook_client, tracking_events):
        with pytest.raises(
            AnymailConfigurationError,
            match=r"^You seem to have set Postmark's \*inbound\* webhook to "
            r"Anymail's Postmark \*tracking\* webhook URL\.$",
        ):
            post_event(webhook_client, inbound_payload())
        assert tracking_events.calls == []

    def test_inbound_record_type(self, webhook_client, tracking_events):
        with pytest.raises(AnymailConfigurationError, match=r"\*inbound\* webhook"):
            post_event(webhook_client, inbound_payload(RecordType="Inbound"))
        assert tracking_events.calls == []

    def test_inbound_record_type_without_from_full(
        self, webhook_client, tracking_events
    ):
        with pytest.raises(AnymailConfigurationError, match=r"\*tracking\* webhook"):
            post_event(webhook_client, {"RecordType": "Inbound"})
        assert tracking_events.calls == []

    def test_from_full_with_tracking_record_type_is_fine(
        self, webhook_client, tracking_events
    ):
        payload = delivery_payload(FromFull={"Email": "a@example.com", "Name": ""})
        assert post_event(webhook_client, payload).status_code == 200
        assert tracking_events.event.event_type == "delivered"


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b'{"RecordType": "Delivery"',
            b'"Delivery"',
            b"null",
            b"42",
            b"\xff\xfe{}",
            b"[" * 100_000 + b"]" * 100_000,
        ],
        ids=[
            "empty",
            "not-json",
            "truncated",
            "string",
            "null",
            "number",
            "not-utf8",
            "deeply-nested",
        ],
    )
    def test_bad_body(self, webhook_client, tracking_events, caplog, body):
        response = post_event(webhook_client, body)
        assert response.status_code == 400
        assert response.content == b"Malformed Postmark webhook payload"
        assert tracking_events.calls == []
        assert "Malformed Postmark webhook payload" in caplog.text

    @pytest.mark.parametrize(
        "fields",
        [
            {"Metadata": ["customer", "c-42"]},
            {"Metadata": "customer=c-42"},
            {"Tag": ["a", "b"]},
            {"RecordType": ["Delivery"]},
            {"RecordType": 7},
            {"MessageID": 883953},
            {"Recipient": {"Email": "john@example.com"}},
            {"Details": 250},
            {"DeliveredAt": 1572971634},
            {"DeliveredAt": "yesterday"},
            {"DeliveredAt": "2019-13-45T16:33:54Z"},
        ],
        ids=lambda fields: "-".join(f"{k}={v!r}" for k, v in fields.items()),
    )
    def test_wrong_field_types(self, webhook_client, tracking_events, fields):
        response = post_event(webhook_client, delivery_payload(**fields))
        assert response.status_code == 400
        assert tracking_events.calls == []

    @pytest.mark.parametrize(
        "fields",
        [
            {"ID": {"id": 1}},
            {"ID": True},
            {"Type": 1},
            {"Email": ["john@example.com"]},
            {"Description": False},
        ],
        ids=lambda fields: "-".join(f"{k}={v!r}" for k, v in fields.items()),
    )
    def test_wrong_bounce_field_types(self, webhook_client, tracking_events, fields):
        response = post_event(webhook_client, bounce_payload(**fields))
        assert response.status_code == 400
        assert tracking_events.calls == []

    @pytest.mark.parametrize(
        "fields",
        [
            {"SuppressSending": "false"},
            {"SuppressSending": 0},
            {"SuppressionReason": 3},
        ],
    )
    def test_wrong_subscription_field_types(
        self, webhook_client, tracking_events, fields
    ):
        response = post_event(webhook_client, subscription_change_payload(**fields))
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_form_post(self, webhook_client, tracking_events):
        # e.g. a webhook from another service pointed at this URL
        response = webhook_client.post(
            URL,
            {"RecordType": "Delivery", "MessageID": MESSAGE_ID},
            HTTP_AUTHORIZATION=AUTH,
        )  # multipart/form-data
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_urlencoded_post(self, webhook_client, tracking_events):
        response = post_event(
            webhook_client,
            "RecordType=Delivery&MessageID=abc",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 400
        assert tracking_events.calls == []


class TestHttpMethods:
    def test_head_is_200_without_validation(self, webhook_client, tracking_events):
        response = webhook_client.head(URL)  # no credentials
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []

    def test_options(self, webhook_client):
        response = webhook_client.options(URL)
        assert response.status_code == 200
        assert response["Allow"] == "POST, HEAD, OPTIONS"

    def test_get_not_allowed(self, webhook_client):
        logger = logging.getLogger("django.request")
        logger.disabled = True
        try:
            response = webhook_client.get(URL, HTTP_AUTHORIZATION=AUTH)
        finally:
            logger.disabled = False
        assert response.status_code == 405

    def test_csrf_exempt(self, webhook_client, tracking_events):
        # webhook_client enforces CSRF checks; Postmark sends no token
        with override_settings(
            MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"]
        ):
            response = post_event(webhook_client, delivery_payload())
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1


class TestAuthentication:
    @pytest.fixture
    def security_log(self, caplog):
        caplog.set_level(logging.ERROR, logger="django.security")
        return caplog

    def test_correct_credentials_no_warning(self, webhook_client, tracking_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            response = post_event(webhook_client, delivery_payload())
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @pytest.mark.parametrize(
        "auth",
        [None, basic_auth_header("postmark:wrong"), "Bearer " + AUTH.split()[1]],
        ids=["missing", "wrong", "not-basic"],
    )
    def test_refused(self, webhook_client, tracking_events, security_log, auth):
        response = post_event(webhook_client, delivery_payload(), auth=auth)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Postmark webhook"
        ]

    def test_auth_checked_before_parsing(
        self, webhook_client, tracking_events, security_log
    ):
        # a misdirected inbound payload without credentials is just refused
        response = post_event(webhook_client, inbound_payload(), auth=None)
        assert response.status_code == 400
        assert security_messages(security_log) == [
            "Missing or invalid basic auth in Anymail Postmark webhook"
        ]

    def test_rotated_secrets(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {"WEBHOOK_SECRET": ["new:secret", SECRET]}
        old = post_event(webhook_client, delivery_payload())
        new = post_event(
            webhook_client, delivery_payload(), auth=basic_auth_header("new:secret")
        )
        assert (old.status_code, new.status_code) == (200, 200)
        assert len(tracking_events.calls) == 2

    def test_flat_setting(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {}
        settings.ANYMAIL_WEBHOOK_SECRET = "flat:secret"
        refused = post_event(webhook_client, delivery_payload())
        accepted = post_event(
            webhook_client, delivery_payload(), auth=basic_auth_header("flat:secret")
        )
        assert (refused.status_code, accepted.status_code) == (400, 200)

    @pytest.mark.urls(__name__)
    def test_as_view_basic_auth(self, webhook_client, tracking_events):
        setting_creds = post_event(
            webhook_client, delivery_payload(), url="/custom/postmark/"
        )
        route_creds = post_event(
            webhook_client,
            delivery_payload(),
            url="/custom/postmark/",
            auth=basic_auth_header("route:only"),
        )
        assert (setting_creds.status_code, route_creds.status_code) == (400, 200)
        assert len(tracking_events.calls) == 1

    def test_no_settings_required(self, settings):
        # Postmark's webhook has no signing key or other required setting
        settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
        view = PostmarkTrackingWebhookView()
        assert view.basic_auth == [SECRET]
        assert view.esp_name == "Postmark"
        assert view.warn_if_no_basic_auth is True


class TestInsecureWarning:
    @pytest.mark.parametrize("anymail", [{}, {"WEBHOOK_SECRET": ""}])
    def test_warns_without_secret_and_accepts_anything(
        self, webhook_client, tracking_events, settings, anymail
    ):
        settings.ANYMAIL = anymail
        with pytest.warns(AnymailInsecureWebhookWarning) as record:
            unauthenticated = post_event(webhook_client, delivery_payload(), auth=None)
            any_auth = post_event(
                webhook_client, open_payload(), auth=basic_auth_header("any:thing")
            )
        assert (unauthenticated.status_code, any_auth.status_code) == (200, 200)
        assert [e.event_type for e in tracking_events.events] == ["delivered", "opened"]
        messages = [str(w.message) for w in record]
        assert messages.count(INSECURE_WARNING) == 2  # once per request

    def test_no_warning_with_secret(self, webhook_client, tracking_events):
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            PostmarkTrackingWebhookView()
            webhook_client.head(URL)
