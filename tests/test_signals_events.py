"""Tests for anymail.signals: the signals and the normalized event objects."""

from datetime import datetime, timezone

import pytest
from django.dispatch import Signal

from anymail import signals
from anymail.signals import (
    AnymailEvent,
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
)

TRACKING_ONLY_ATTRS = (
    "message_id",
    "recipient",
    "metadata",
    "tags",
    "reject_reason",
    "description",
    "mta_response",
    "user_agent",
    "click_url",
)


def test_signals_are_django_signals():
    names = ("pre_send", "post_send", "tracking", "inbound")
    for name in names:
        assert isinstance(getattr(signals, name), Signal)
    assert len({id(getattr(signals, name)) for name in names}) == 4


def test_signal_kwargs_only():
    received = []

    def receiver(sender, event, esp_name, **kwargs):
        received.append((sender, event, esp_name, kwargs))

    event = AnymailTrackingEvent(event_type=EventType.DELIVERED)
    signals.tracking.connect(receiver)
    try:
        signals.tracking.send(sender=object, event=event, esp_name="Test")
    finally:
        signals.tracking.disconnect(receiver)
    assert received == [(object, event, "Test", {"signal": signals.tracking})]


# ---------------------------------------------------------------------------
# AnymailEvent


def test_base_event_positional_and_defaults():
    event = AnymailEvent("delivered")
    assert event.event_type == "delivered"
    assert event.timestamp is None
    assert event.event_id is None
    assert event.esp_event is None


def test_base_event_all_args_and_unknown_kwargs():
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    raw = {"raw": True}
    event = AnymailEvent("opened", when, "id-1", raw, surprise="ignored")
    assert event.event_type == "opened"
    assert event.timestamp is when
    assert event.event_id == "id-1"
    assert event.esp_event is raw
    assert not hasattr(event, "surprise")


# ---------------------------------------------------------------------------
# AnymailTrackingEvent


def test_tracking_event_defaults():
    event = AnymailTrackingEvent(event_type=EventType.BOUNCED)
    assert isinstance(event, AnymailEvent)
    assert event.event_type == "bounced"
    assert event.timestamp is None
    assert event.event_id is None
    assert event.esp_event is None
    assert event.message_id is None
    assert event.recipient is None
    assert event.metadata == {}
    assert event.tags == []
    assert event.reject_reason is None
    assert event.description is None
    assert event.mta_response is None
    assert event.user_agent is None
    assert event.click_url is None


def test_tracking_event_fresh_defaults():
    first = AnymailTrackingEvent(event_type="sent")
    second = AnymailTrackingEvent(event_type="sent")
    first.metadata["key"] = "value"
    first.tags.append("tag")
    assert second.metadata == {}
    assert second.tags == []
    assert first.metadata is not second.metadata
    assert first.tags is not second.tags


def test_tracking_event_all_attributes():
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    raw = {"event": "click"}
    event = AnymailTrackingEvent(
        event_type=EventType.CLICKED,
        timestamp=when,
        event_id="evt-1",
        esp_event=raw,
        message_id="msg-1",
        recipient="to@example.com",
        metadata={"order": "1234"},
        tags=["welcome"],
        reject_reason=RejectReason.SPAM,
        description="desc",
        mta_response="550 5.1.1 No such user",
        user_agent="Mozilla/5.0",
        click_url="https://example.com/",
        unknown_extra="ignored",
    )
    assert (event.event_type, event.timestamp, event.event_id) == (
        "clicked",
        when,
        "evt-1",
    )
    assert event.esp_event is raw
    assert event.message_id == "msg-1"
    assert event.recipient == "to@example.com"
    assert event.metadata == {"order": "1234"}
    assert event.tags == ["welcome"]
    assert event.reject_reason == "spam"
    assert event.description == "desc"
    assert event.mta_response == "550 5.1.1 No such user"
    assert event.user_agent == "Mozilla/5.0"
    assert event.click_url == "https://example.com/"
    assert not hasattr(event, "unknown_extra")


def test_tracking_event_requires_keyword_event_type():
    with pytest.raises(TypeError):
        AnymailTrackingEvent()
    with pytest.raises(TypeError):
        AnymailTrackingEvent("delivered")


# ---------------------------------------------------------------------------
# AnymailInboundEvent


def test_inbound_event_defaults():
    event = AnymailInboundEvent(event_type=EventType.INBOUND)
    assert isinstance(event, AnymailEvent)
    assert event.event_type == "inbound"
    assert event.timestamp is None
    assert event.event_id is None
    assert event.esp_event is None
    assert event.message is None
    for attr in TRACKING_ONLY_ATTRS:
        assert not hasattr(event, attr), attr


def test_inbound_event_all_attributes():
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    message = object()
    raw = object()
    event = AnymailInboundEvent(
        event_type="inbound",
        timestamp=when,
        event_id="in-1",
        esp_event=raw,
        message=message,
        recipient="ignored@example.com",
    )
    assert event.timestamp is when
    assert event.event_id == "in-1"
    assert event.esp_event is raw
    assert event.message is message
    assert not hasattr(event, "recipient")


def test_inbound_event_requires_keyword_event_type():
    with pytest.raises(TypeError):
        AnymailInboundEvent()
    with pytest.raises(TypeError):
        AnymailInboundEvent("inbound")


# ---------------------------------------------------------------------------
# Constants


def test_event_type_constants():
    expected = {
        "QUEUED": "queued",
        "SENT": "sent",
        "REJECTED": "rejected",
        "FAILED": "failed",
        "BOUNCED": "bounced",
        "DEFERRED": "deferred",
        "DELIVERED": "delivered",
        "AUTORESPONDED": "autoresponded",
        "OPENED": "opened",
        "CLICKED": "clicked",
        "COMPLAINED": "complained",
        "UNSUBSCRIBED": "unsubscribed",
        "SUBSCRIBED": "subscribed",
        "INBOUND": "inbound",
        "INBOUND_FAILED": "inbound_failed",
        "UNKNOWN": "unknown",
    }
    actual = {name: value for name, value in vars(EventType).items() if name.isupper()}
    assert actual == expected
    for value in actual.values():
        assert type(value) is str


def test_reject_reason_constants():
    expected = {
        "INVALID": "invalid",
        "BOUNCED": "bounced",
        "TIMED_OUT": "timed_out",
        "BLOCKED": "blocked",
        "SPAM": "spam",
        "UNSUBSCRIBED": "unsubscribed",
        "OTHER": "other",
    }
    actual = {
        name: value for name, value in vars(RejectReason).items() if name.isupper()
    }
    assert actual == expected
    for value in actual.values():
        assert type(value) is str


def test_event_types_match_send_statuses():
    from anymail.message import ANYMAIL_STATUSES

    for status in ("queued", "sent", "rejected", "failed"):
        assert status in ANYMAIL_STATUSES
    assert (EventType.QUEUED, EventType.SENT, EventType.REJECTED, EventType.FAILED) == (
        "queued",
        "sent",
        "rejected",
        "failed",
    )
