"""SparkPost tracking webhook: SparkPostTrackingWebhookView."""

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
from anymail.webhooks.sparkpost import SparkPostTrackingWebhookView

from .conftest import (
    INSECURE_WARNING,
    basic_auth_header,
    event_fields,
    post_json_with_auth,
    security_messages,
)

# Routes for the as_view() tests (selected with pytest.mark.urls on those tests only)
urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "custom/sparkpost/initial-open/",
        SparkPostTrackingWebhookView.as_view(track_initial_open_as_opened=True),
        name="custom_initial_open",
    ),
    path(
        "custom/sparkpost/auth/",
        SparkPostTrackingWebhookView.as_view(basic_auth=["route:only"]),
        name="custom_auth",
    ),
]

URL = "/anymail/sparkpost/tracking/"
SECRET = "sparkpost:webhook:secret"
AUTH = basic_auth_header(SECRET)

TIMESTAMP = "1454442600"
TIMESTAMP_DATETIME = datetime(2016, 2, 2, 19, 50, tzinfo=timezone.utc)
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    """Most tests post with the right basic auth for this secret."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def post_events(client, payload, auth=AUTH, url=URL, **extra):
    return post_json_with_auth(client, payload, auth=auth, url=url, **extra)


class _Missing:
    """Marks a field to delete from a test event."""

    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def wrap(event_class, event):
    return {"msys": {event_class: event}}


def message_fields(**overrides):
    """Fields SparkPost includes in message (and most other) events."""
    fields = {
        "campaign_id": "order-receipts",
        "customer_id": "318254",
        "delv_method": "esmtp",
        "event_id": "92356927693813856",
        "friendly_from": "orders@shop.example.com",
        "ip_address": "203.0.113.25",
        "ip_pool": "transactional",
        "message_id": "000443ee14578172be22",
        "msg_from": "msprvs1=18015kd3vyJ7Y=bounces-318254@sparkpostmail.com",
        "msg_size": "1337",
        "num_retries": "0",
        "queue_time": "12",
        "rcpt_meta": {"order_id": "A-1007", "customer": "cust-42"},
        "rcpt_tags": ["vip", "us"],
        "rcpt_to": "recipient@example.com",
        "raw_rcpt_to": "Recipient@Example.com",
        "rcpt_type": "to",
        "recipient_domain": "example.com",
        "routing_domain": "example.com",
        "sending_ip": "198.51.100.7",
        "subject": "Your order A-1007",
        "template_id": "receipt",
        "template_version": "3",
        "timestamp": TIMESTAMP,
        "transmission_id": "65832150921904138",
    }
    fields.update(overrides)
    return fields


def expected_fields(esp_event, **overrides):
    """The normalized fields for an event built from message_fields()."""
    fields = {
        "event_type": None,
        "timestamp": TIMESTAMP_DATETIME,
        "event_id": "92356927693813856",
        "message_id": "65832150921904138",
        "recipient": "Recipient@Example.com",
        "metadata": {"order_id": "A-1007", "customer": "cust-42"},
        "tags": ["order-receipts"],
        "reject_reason": None,
        "description": None,
        "mta_response": None,
        "user_agent": None,
        "click_url": None,
        "esp_event": esp_event,
    }
    fields.update(overrides)
    return fields


BOUNCE_REASON = (
    "550 5.1.1 <Recipient@Example.com>: Recipient address rejected: User unknown"
)

#: One row per line of the SparkPost type → event_type table:
#: (event_class, type, extra event fields, expected normalized overrides)
EVENT_TYPE_ROWS = [
    pytest.param(
        "message_event",
        "injection",
        {"injection_time": "2016-02-02T19:50:00.000Z"},
        {"event_type": "queued"},
        id="injection",
    ),
    pytest.param(
        "message_event",
        "delivery",
        {"outbound_tls": "1", "queue_time": "3022"},
        {"event_type": "delivered"},
        id="delivery",
    ),
    pytest.param(
        "message_event",
        "bounce",
        {
            "bounce_class": "10",
            "error_code": "550",
            "raw_reason": BOUNCE_REASON,
            "reason": "550 5.1.1 ...@... Recipient address rejected: User unknown",
        },
        {
            "event_type": "bounced",
            "reject_reason": "invalid",
            "mta_response": BOUNCE_REASON,
        },
        id="bounce",
    ),
    pytest.param(
        "message_event",
        "out_of_band",
        {
            "bounce_class": "21",
            "error_code": "554",
            "raw_reason": "554 5.4.4 DNS lookup failed",
            "reason": "554 5.4.4 DNS lookup failed",
        },
        {
            "event_type": "bounced",
            "reject_reason": "bounced",
            "mta_response": "554 5.4.4 DNS lookup failed",
        },
        id="out_of_band",
    ),
    pytest.param(
        "message_event",
        "delay",
        {
            "bounce_class": "22",
            "error_code": "452",
            "num_retries": "2",
            "raw_reason": "452 4.2.2 Mailbox full",
            "reason": "452 4.2.2 Mailbox full",
        },
        {
            "event_type": "deferred",
            "reject_reason": "bounced",
            "mta_response": "452 4.2.2 Mailbox full",
        },
        id="delay",
    ),
    pytest.param(
        "message_event",
        "policy_rejection",
        {
            "bounce_class": "25",
            "error_code": "554",
            "raw_reason": "554 5.7.1 recipient is on the suppression list",
            "reason": "554 5.7.1 recipient is on the suppression list",
            "remote_addr": "127.0.0.1",
        },
        {
            "event_type": "rejected",
            "reject_reason": "blocked",
            "mta_response": "554 5.7.1 recipient is on the suppression list",
        },
        id="policy_rejection",
    ),
    pytest.param(
        "gen_event",
        "generation_rejection",
        {
            "bounce_class": "25",
            "error_code": "554",
            "raw_reason": "554 5.7.1 recipient address suppressed due to policy",
            "reason": "554 5.7.1 recipient address suppressed due to policy",
        },
        {
            "event_type": "rejected",
            "reject_reason": "blocked",
            "mta_response": "554 5.7.1 recipient address suppressed due to policy",
        },
        id="generation_rejection",
    ),
    pytest.param(
        "gen_event",
        "generation_failure",
        {
            "error_code": "554",
            "raw_reason": "554 5.3.3 [internal] Error while rendering part html",
            "reason": "554 5.3.3 [internal] Error while rendering part html",
        },
        {
            "event_type": "failed",
            "mta_response": "554 5.3.3 [internal] Error while rendering part html",
        },
        id="generation_failure",
    ),
    pytest.param(
        "message_event",
        "spam_complaint",
        {
            "fbtype": "abuse",
            "report_by": "server.example.com",
            "report_to": "abuse.example.com",
            "user_str": "Mozilla/5.0 (compatible; Feedback Loop)",
        },
        {"event_type": "complained"},
        id="spam_complaint",
    ),
    pytest.param(
        "track_event",
        "open",
        {"user_agent": USER_AGENT, "geo_ip": {"country": "US", "city": "Columbia"}},
        {"event_type": "opened", "user_agent": USER_AGENT},
        id="open",
    ),
    pytest.param(
        "track_event",
        "amp_open",
        {"user_agent": USER_AGENT},
        {"event_type": "opened", "user_agent": USER_AGENT},
        id="amp_open",
    ),
    pytest.param(
        "track_event",
        "click",
        {
            "user_agent": USER_AGENT,
            "target_link_name": "Track your order",
            "target_link_url": "https://shop.example.com/orders/A-1007?ref=mail",
        },
        {
            "event_type": "clicked",
            "user_agent": USER_AGENT,
            "click_url": "https://shop.example.com/orders/A-1007?ref=mail",
        },
        id="click",
    ),
    pytest.param(
        "track_event",
        "amp_click",
        {
            "user_agent": USER_AGENT,
            "target_link_url": "https://shop.example.com/amp",
        },
        {
            "event_type": "clicked",
            "user_agent": USER_AGENT,
            "click_url": "https://shop.example.com/amp",
        },
        id="amp_click",
    ),
    pytest.param(
        "unsubscribe_event",
        "list_unsubscribe",
        {"mailfrom": "recipient@example.com"},
        {"event_type": "unsubscribed"},
        id="list_unsubscribe",
    ),
    pytest.param(
        "unsubscribe_event",
        "link_unsubscribe",
        {"mailfrom": "recipient@example.com", "user_agent": USER_AGENT},
        {"event_type": "unsubscribed", "user_agent": USER_AGENT},
        id="link_unsubscribe",
    ),
    pytest.param(
        "track_event",
        "initial_open",
        {"user_agent": USER_AGENT},
        {"event_type": "unknown", "user_agent": USER_AGENT},
        id="initial_open",
    ),
    pytest.param(
        "track_event",
        "amp_initial_open",
        {"user_agent": USER_AGENT},
        {"event_type": "unknown", "user_agent": USER_AGENT},
        id="amp_initial_open",
    ),
    pytest.param(
        "relay_event",
        "relay_delivery",
        {"relay_id": "my-relay"},
        {"event_type": "unknown"},
        id="other-type",
    ),
    pytest.param(
        "ab_test_event",
        "ab_test_completed",
        {},
        {"event_type": "unknown"},
        id="other-class",
    ),
]


class TestEventTypes:
    @pytest.mark.parametrize("event_class,sp_type,extra,expected", EVENT_TYPE_ROWS)
    def test_event_type_row(
        self, webhook_client, tracking_events, event_class, sp_type, extra, expected
    ):
        wrapped = wrap(event_class, message_fields(type=sp_type, **extra))
        response = post_events(webhook_client, [wrapped])
        assert response.status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            wrapped, **expected
        )
        call = tracking_events.calls[0]
        assert call["sender"] is SparkPostTrackingWebhookView
        assert call["esp_name"] == "SparkPost"
        assert isinstance(tracking_events.event, AnymailTrackingEvent)

    def test_missing_type_is_unknown(self, webhook_client, tracking_events):
        event = message_fields()
        wrapped = wrap("message_event", event)
        assert post_events(webhook_client, [wrapped]).status_code == 200
        assert tracking_events.event.event_type == "unknown"

    @pytest.mark.parametrize("sp_type", ["initial_open", "amp_initial_open"])
    def test_initial_open_as_opened_setting(
        self, webhook_client, tracking_events, settings, sp_type
    ):
        settings.ANYMAIL = {
            "WEBHOOK_SECRET": SECRET,
            "SPARKPOST_TRACK_INITIAL_OPEN_AS_OPENED": True,
        }
        wrapped = wrap("track_event", message_fields(type=sp_type))
        assert post_events(webhook_client, [wrapped]).status_code == 200
        assert tracking_events.event.event_type == "opened"

    def test_initial_open_as_opened_flat_setting(
        self, webhook_client, tracking_events, settings
    ):
        settings.ANYMAIL_SPARKPOST_TRACK_INITIAL_OPEN_AS_OPENED = True
        wrapped = wrap("track_event", message_fields(type="initial_open"))
        assert post_events(webhook_client, [wrapped]).status_code == 200
        assert tracking_events.event.event_type == "opened"

    def test_initial_open_setting_doesnt_change_other_types(
        self, webhook_client, tracking_events, settings
    ):
        settings.ANYMAIL = {
            "WEBHOOK_SECRET": SECRET,
            "SPARKPOST_TRACK_INITIAL_OPEN_AS_OPENED": True,
        }
        events = [
            wrap("track_event", message_fields(type="open")),
            wrap("track_event", message_fields(type="some_future_open")),
        ]
        assert post_events(webhook_client, events).status_code == 200
        assert [e.event_type for e in tracking_events.events] == ["opened", "unknown"]

    @pytest.mark.urls(__name__)
    def test_initial_open_as_opened_view_kwarg(self, webhook_client, tracking_events):
        wrapped = wrap("track_event", message_fields(type="initial_open"))
        response = post_events(
            webhook_client, [wrapped], url=reverse("custom_initial_open")
        )
        assert response.status_code == 200
        assert tracking_events.event.event_type == "opened"

    def test_initial_open_setting_read_per_instance(self, settings):
        settings.ANYMAIL = {"SPARKPOST_TRACK_INITIAL_OPEN_AS_OPENED": True}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            view = SparkPostTrackingWebhookView()
            assert view.track_initial_open_as_opened is True
            settings.ANYMAIL = {}
            assert SparkPostTrackingWebhookView().track_initial_open_as_opened is False


class TestSpecSample:
    def test_spec_sample_post(self, webhook_client, tracking_events):
        payload = [
            {"msys": {}},
            {
                "msys": {
                    "message_event": {
                        "type": "bounce",
                        "bounce_class": "10",
                        "event_id": "ev-9",
                        "transmission_id": "tx-42",
                        "raw_rcpt_to": "Nobody@example.com",
                        "rcpt_to": "nobody@example.com",
                        "raw_reason": "550 5.1.1 user unknown",
                        "timestamp": "1700000000",
                        "campaign_id": "receipts",
                        "rcpt_meta": {"order": "7"},
                    }
                }
            },
        ]
        response = post_events(webhook_client, payload)
        assert response.status_code == 200
        assert response.content == b""
        assert event_fields(tracking_events.event) == {
            "event_type": "bounced",
            "timestamp": datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc),
            "event_id": "ev-9",
            "message_id": "tx-42",
            "recipient": "Nobody@example.com",
            "metadata": {"order": "7"},
            "tags": ["receipts"],
            "reject_reason": "invalid",
            "description": None,
            "mta_response": "550 5.1.1 user unknown",
            "user_agent": None,
            "click_url": None,
            "esp_event": payload[1],
        }


#: bounce_class → (reject_reason, event_type for a "bounce" event)
BOUNCE_CLASSES = [
    ("1", "other", "bounced"),
    ("10", "invalid", "bounced"),
    ("20", "bounced", "bounced"),
    ("21", "bounced", "bounced"),
    ("22", "bounced", "bounced"),
    ("23", "bounced", "bounced"),
    ("24", "timed_out", "bounced"),
    ("25", "blocked", "bounced"),
    ("30", "bounced", "bounced"),
    ("40", "bounced", "bounced"),
    ("50", "blocked", "bounced"),
    ("51", "spam", "bounced"),
    ("52", "spam", "bounced"),
    ("53", "other", "bounced"),
    ("54", "blocked", "bounced"),
    ("60", "other", "autoresponded"),
    ("70", "bounced", "bounced"),
    ("80", "other", "subscribed"),
    ("90", "unsubscribed", "unsubscribed"),
    ("100", "other", "autoresponded"),
    ("999", "other", "bounced"),
    ("", "other", "bounced"),
    (None, "other", "bounced"),
]


class TestRejectReasons:
    @pytest.mark.parametrize("bounce_class,reject_reason,event_type", BOUNCE_CLASSES)
    def test_bounce_class(
        self, webhook_client, tracking_events, bounce_class, reject_reason, event_type
    ):
        event = message_fields(
            type="bounce", bounce_class=bounce_class, raw_reason="550 nope"
        )
        wrapped = wrap("message_event", event)
        assert post_events(webhook_client, [wrapped]).status_code == 200
        assert event_fields(tracking_events.event) == expected_fields(
            wrapped,
            event_type=event_type,
            reject_reason=reject_reason,
            mta_response="550 nope",
        )

    @pytest.mark.parametrize(
        "sp_type,bounce_class,reject_reason,event_type",
        [
            ("out_of_band", "60", "other", "autoresponded"),
            ("out_of_band", "90", "unsubscribed", "unsubscribed"),
            ("delay", "24", "timed_out", "deferred"),
            ("policy_rejection", "10", "invalid", "rejected"),
            ("delivery", "80", "other", "subscribed"),
            ("open", "50", "blocked", "opened"),
        ],
    )
    def test_bounce_class_on_any_type(
        self,
        webhook_client,
        tracking_events,
        sp_type,
        bounce_class,
        reject_reason,
        event_type,
    ):
        wrapped = wrap(
            "message_event", message_fields(type=sp_type, bounce_class=bounce_class)
        )
        assert post_events(webhook_client, [wrapped]).status_code == 200
        event = tracking_events.event
        assert (event.reject_reason, event.event_type) == (reject_reason, event_type)

    def test_numeric_bounce_class(self, webhook_client, tracking_events):
        wrapped = wrap("message_event", message_fields(type="bounce", bounce_class=51))
        assert post_events(webhook_client, [wrapped]).status_code == 200
        assert tracking_events.event.reject_reason == "spam"

    @pytest.mark.parametrize("sp_type", ["bounce", "policy_rejection", "delay"])
    def test_no_bounce_class(self, webhook_client, tracking_events, sp_type):
        wrapped = wrap("message_event", message_fields(type=sp_type))
        assert post_events(webhook_client, [wrapped]).status_code == 200
        assert tracking_events.event.reject_reason is None


class TestFields:
    def post_one(self, client, recorder, **fields):
        event = message_fields(type="delivery")
        for name, value in fields.items():
            if value is _MISSING:
                del event[name]
            else:
                event[name] = value
        assert post_events(client, [wrap("message_event", event)]).status_code == 200
        return recorder.event

    @pytest.mark.parametrize(
        "value,expected",
        [
            ("1454442600", TIMESTAMP_DATETIME),
            (1454442600, TIMESTAMP_DATETIME),
            (1454442600.0, TIMESTAMP_DATETIME),
            ("0", datetime(1970, 1, 1, tzinfo=timezone.utc)),
            ("2016-02-02T19:50:00.000Z", None),
            ("1454442600.5", None),
            (1454442600.5, None),
            ("", None),
            ("soon", None),
            (None, None),
            (True, None),
            ([1454442600], None),
            (10**20, None),
        ],
    )
    def test_timestamp(self, webhook_client, tracking_events, value, expected):
        event = self.post_one(webhook_client, tracking_events, timestamp=value)
        assert event.timestamp == expected
        if expected is not None:
            assert event.timestamp.utcoffset().total_seconds() == 0

    def test_missing_timestamp(self, webhook_client, tracking_events):
        event = self.post_one(webhook_client, tracking_events, timestamp=_MISSING)
        assert event.timestamp is None

    @pytest.mark.parametrize(
        "fields,expected",
        [
            ({"campaign_id": "welcome"}, ["welcome"]),
            ({"campaign_id": "0"}, ["0"]),
            ({"campaign_id": ""}, []),
            ({"campaign_id": None}, []),
        ],
    )
    def test_tags_from_campaign_id(
        self, webhook_client, tracking_events, fields, expected
    ):
        event = self.post_one(webhook_client, tracking_events, **fields)
        assert event.tags == expected

    def test_no_campaign_id_is_empty_tags(self, webhook_client, tracking_events):
        event = self.post_one(
            webhook_client,
            tracking_events,
            campaign_id=_MISSING,
            rcpt_tags=["not", "tags"],
        )
        assert event.tags == []

    @pytest.mark.parametrize(
        "value,expected",
        [
            ({"a": "1", "b": {"nested": True}}, {"a": "1", "b": {"nested": True}}),
            ({}, {}),
            (None, {}),
            (_MISSING, {}),
        ],
    )
    def test_metadata_from_rcpt_meta(
        self, webhook_client, tracking_events, value, expected
    ):
        event = self.post_one(webhook_client, tracking_events, rcpt_meta=value)
        assert event.metadata == expected

    def test_metadata_is_a_fresh_dict_when_missing(
        self, webhook_client, tracking_events
    ):
        events = [
            wrap("message_event", {"type": "delivery"}),
            wrap("message_event", {"type": "delivery"}),
        ]
        assert post_events(webhook_client, events).status_code == 200
        first, second = tracking_events.events
        first.metadata["x"] = 1
        assert second.metadata == {}

    def test_recipient_is_raw_rcpt_to(self, webhook_client, tracking_events):
        event = self.post_one(
            webhook_client,
            tracking_events,
            raw_rcpt_to="Mixed.Case@Example.COM",
            rcpt_to="mixed.case@example.com",
        )
        assert event.recipient == "Mixed.Case@Example.COM"

    def test_no_raw_rcpt_to(self, webhook_client, tracking_events):
        event = self.post_one(webhook_client, tracking_events, raw_rcpt_to=_MISSING)
        assert event.recipient is None

    def test_message_id_is_transmission_id(self, webhook_client, tracking_events):
        event = self.post_one(
            webhook_client,
            tracking_events,
            transmission_id="7263548172635481",
            message_id="0000123456789abcdef0",
        )
        assert event.message_id == "7263548172635481"

    def test_numeric_ids_become_strings(self, webhook_client, tracking_events):
        event = self.post_one(
            webhook_client,
            tracking_events,
            transmission_id=7263548172635481,
            event_id=92356927693813856,
        )
        assert (event.message_id, event.event_id) == (
            "7263548172635481",
            "92356927693813856",
        )

    def test_minimal_event(self, webhook_client, tracking_events):
        wrapped = wrap("message_event", {"type": "delivery"})
        assert post_events(webhook_client, [wrapped]).status_code == 200
        assert event_fields(tracking_events.event) == {
            "event_type": "delivered",
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
            "esp_event": wrapped,
        }

    def test_esp_event_includes_other_top_level_keys(
        self, webhook_client, tracking_events
    ):
        wrapped = {
            "msys": {"message_event": message_fields(type="delivery")},
            "cust": {"webhook": "extra"},
        }
        assert post_events(webhook_client, [wrapped]).status_code == 200
        assert tracking_events.event.esp_event == wrapped


class TestBatches:
    def test_one_signal_per_event_in_order(self, webhook_client, tracking_events):
        payload = [
            wrap("message_event", message_fields(type="injection", event_id="1")),
            {"msys": {}},
            wrap("message_event", message_fields(type="delivery", event_id="2")),
            wrap("track_event", message_fields(type="open", event_id="3")),
            wrap("track_event", message_fields(type="click", event_id="4")),
            {"msys": {}},
        ]
        response = post_events(webhook_client, payload)
        assert response.status_code == 200
        assert [(e.event_type, e.event_id) for e in tracking_events.events] == [
            ("queued", "1"),
            ("delivered", "2"),
            ("opened", "3"),
            ("clicked", "4"),
        ]
        assert [e.esp_event for e in tracking_events.events] == [
            payload[0],
            payload[2],
            payload[3],
            payload[4],
        ]
        for call in tracking_events.calls:
            assert call["sender"] is SparkPostTrackingWebhookView
            assert call["esp_name"] == "SparkPost"
            assert call["signal"] is tracking
            assert set(call) == {"signal", "sender", "event", "esp_name"}

    def test_ping_only(self, webhook_client, tracking_events):
        response = post_events(webhook_client, [{"msys": {}}])
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []

    def test_empty_array(self, webhook_client, tracking_events):
        assert post_events(webhook_client, []).status_code == 200
        assert tracking_events.calls == []

    def test_receiver_error_stops_the_batch(self, webhook_client, tracking_events):
        seen = []

        def failing_receiver(sender, event, esp_name, **kwargs):
            seen.append(event.event_id)
            raise RuntimeError("receiver failed")

        tracking.connect(failing_receiver, weak=False)
        try:
            payload = [
                wrap("message_event", message_fields(type="delivery", event_id="1")),
                wrap("message_event", message_fields(type="delivery", event_id="2")),
            ]
            with pytest.raises(RuntimeError, match="receiver failed"):
                post_events(webhook_client, payload)
        finally:
            tracking.disconnect(failing_receiver)
        assert seen == ["1"]


class TestMisdirectedAndInvalid:
    def test_relay_message_on_tracking_url(self, webhook_client, tracking_events):
        payload = [
            wrap("message_event", message_fields(type="delivery")),
            wrap(
                "relay_message",
                {
                    "protocol": "smtp",
                    "rcpt_to": "in@inbound.example.com",
                    "msg_from": "someone@example.org",
                    "content": {"email_rfc822": "Subject: Hi\r\n\r\nHello\r\n"},
                },
            ),
        ]
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_events(webhook_client, payload)
        assert str(excinfo.value) == (
            "You seem to have set SparkPost's *inbound* relay webhook URL"
            " to Anymail's SparkPost *tracking* webhook URL."
        )
        assert tracking_events.calls == []

    def test_multiple_event_classes(self, webhook_client, tracking_events, caplog):
        # django-anymail raises TypeError (500); Anymail answers 400
        caplog.set_level(logging.WARNING, logger="anymail.webhooks")
        payload = [
            wrap("message_event", message_fields(type="delivery")),
            {
                "msys": {
                    "message_event": message_fields(type="delivery"),
                    "track_event": message_fields(type="open"),
                }
            },
        ]
        response = post_events(webhook_client, payload)
        assert response.status_code == 400
        assert response.content == b"Malformed SparkPost webhook payload"
        assert tracking_events.calls == []
        assert any(
            "multiple event classes" in record.getMessage()
            for record in caplog.records
            if record.name == "anymail.webhooks"
        )


MALFORMED_BODIES = [
    pytest.param(b"", id="empty"),
    pytest.param(b"not json", id="not-json"),
    pytest.param(b'[{"msys": {}}', id="truncated-json"),
    pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
    pytest.param(b"[" * 100000 + b"]" * 100000, id="deeply-nested"),
    pytest.param({"msys": {"message_event": {"type": "delivery"}}}, id="not-array"),
    pytest.param("null", id="null"),
    pytest.param([None], id="null-item"),
    pytest.param(["msys"], id="string-item"),
    pytest.param([[{"msys": {}}]], id="nested-array"),
    pytest.param([{}], id="missing-msys"),
    pytest.param([{"message_event": {"type": "delivery"}}], id="unwrapped"),
    pytest.param([{"msys": None}], id="null-msys"),
    pytest.param([{"msys": ["message_event"]}], id="list-msys"),
    pytest.param([{"msys": {"message_event": None}}], id="null-event"),
    pytest.param([{"msys": {"message_event": "delivery"}}], id="string-event"),
    pytest.param([{"msys": {"message_event": {"type": 7}}}], id="numeric-type"),
    pytest.param([{"msys": {"message_event": {"type": ["open"]}}}], id="list-type"),
    pytest.param(
        [{"msys": {"message_event": {"type": "delivery", "rcpt_meta": ["a"]}}}],
        id="list-rcpt_meta",
    ),
    pytest.param(
        [{"msys": {"message_event": {"type": "delivery", "raw_rcpt_to": {}}}}],
        id="object-raw_rcpt_to",
    ),
    pytest.param(
        [{"msys": {"track_event": {"type": "click", "target_link_url": 3}}}],
        id="numeric-target_link_url",
    ),
    pytest.param(
        [{"msys": {"message_event": {"type": "delivery", "event_id": [1]}}}],
        id="list-event_id",
    ),
]


class TestMalformed:
    @pytest.mark.parametrize("body", MALFORMED_BODIES)
    def test_malformed_body_is_400(self, webhook_client, tracking_events, body):
        response = post_events(webhook_client, body)
        assert response.status_code == 400
        assert response.content == b"Malformed SparkPost webhook payload"
        assert tracking_events.calls == []

    def test_malformed_event_later_in_batch_dispatches_nothing(
        self, webhook_client, tracking_events
    ):
        payload = [
            wrap("message_event", message_fields(type="delivery")),
            {"msys": {"message_event": "oops"}},
        ]
        assert post_events(webhook_client, payload).status_code == 400
        assert tracking_events.calls == []

    def test_form_post_is_400(self, webhook_client, tracking_events):
        response = webhook_client.post(
            URL, {"msys": "message_event"}, HTTP_AUTHORIZATION=AUTH
        )
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_urlencoded_post_is_400(self, webhook_client, tracking_events):
        response = post_events(
            webhook_client,
            "type=delivery&event_id=1",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 400
        assert tracking_events.calls == []


class TestAuth:
    def test_right_credentials(self, webhook_client, tracking_events):
        wrapped = wrap("message_event", message_fields(type="delivery"))
        assert post_events(webhook_client, [wrapped]).status_code == 200
        assert len(tracking_events.calls) == 1

    @pytest.mark.parametrize(
        "auth",
        [
            None,
            basic_auth_header("sparkpost:wrong"),
            basic_auth_header("other:webhook:secret"),
            "Bearer " + SECRET,
            "Basic not-base64!",
        ],
    )
    def test_wrong_or_missing_credentials(
        self, webhook_client, tracking_events, caplog, auth
    ):
        caplog.set_level(logging.ERROR, logger="django.security")
        wrapped = wrap("message_event", message_fields(type="delivery"))
        response = post_events(webhook_client, [wrapped], auth=auth)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(caplog) == [
            "Missing or invalid basic auth in Anymail SparkPost webhook"
        ]

    def test_auth_checked_before_parsing(self, webhook_client, tracking_events, caplog):
        caplog.set_level(logging.ERROR, logger="django.security")
        response = post_events(webhook_client, b"not json", auth=None)
        assert response.status_code == 400
        assert security_messages(caplog) == [
            "Missing or invalid basic auth in Anymail SparkPost webhook"
        ]

    def test_rotated_secrets(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {"WEBHOOK_SECRET": ["new:secret", SECRET]}
        wrapped = wrap("message_event", message_fields(type="delivery"))
        for credentials in ("new:secret", SECRET):
            response = post_events(
                webhook_client, [wrapped], auth=basic_auth_header(credentials)
            )
            assert response.status_code == 200
        assert len(tracking_events.calls) == 2

    @pytest.mark.urls(__name__)
    def test_as_view_basic_auth(self, webhook_client, tracking_events):
        wrapped = wrap("message_event", message_fields(type="delivery"))
        url = reverse("custom_auth")
        assert post_events(webhook_client, [wrapped], url=url).status_code == 400
        response = post_events(
            webhook_client, [wrapped], url=url, auth=basic_auth_header("route:only")
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    def test_warns_without_webhook_secret(
        self, webhook_client, tracking_events, settings
    ):
        settings.ANYMAIL = {}
        wrapped = wrap("message_event", message_fields(type="delivery"))
        with pytest.warns(AnymailInsecureWebhookWarning) as record:
            response = post_events(webhook_client, [wrapped], auth=None)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1
        assert [str(w.message) for w in record] == [INSECURE_WARNING]

    def test_no_warning_with_webhook_secret(self, webhook_client, tracking_events):
        wrapped = wrap("message_event", message_fields(type="delivery"))
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            assert post_events(webhook_client, [wrapped]).status_code == 200

    def test_flat_webhook_secret_setting(
        self, webhook_client, tracking_events, settings
    ):
        settings.ANYMAIL = {}
        settings.ANYMAIL_WEBHOOK_SECRET = "flat:secret"
        wrapped = wrap("message_event", message_fields(type="delivery"))
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            assert post_events(webhook_client, [wrapped]).status_code == 400
            response = post_events(
                webhook_client, [wrapped], auth=basic_auth_header("flat:secret")
            )
        assert response.status_code == 200


class TestMethods:
    def test_head_without_validation(self, webhook_client, tracking_events):
        response = webhook_client.head(URL)
        assert response.status_code == 200
        assert response.content == b""
        assert tracking_events.calls == []

    def test_get_not_allowed(self, webhook_client):
        logger = logging.getLogger("django.request")
        logger.disabled = True
        try:
            response = webhook_client.get(URL, HTTP_AUTHORIZATION=AUTH)
        finally:
            logger.disabled = False
        assert response.status_code == 405

    def test_url_name(self):
        assert reverse("anymail:sparkpost_tracking_webhook") == URL

    def test_csrf_exempt(self, webhook_client, tracking_events):
        # webhook_client enforces CSRF checks; no token is sent
        wrapped = wrap("message_event", message_fields(type="delivery"))
        assert post_events(webhook_client, [wrapped]).status_code == 200
