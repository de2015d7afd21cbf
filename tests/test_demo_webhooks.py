"""The stand-in's webhook side, over real HTTP into a live Django server."""

import pytest

from example import standin_webhooks
from example.webapp import DjangoServer

SETTINGS = {
    "WEBHOOK_SECRET": "hook-user:hook-pass",
    "MAILGUN_WEBHOOK_SIGNING_KEY": "signing-key",
}


@pytest.fixture(scope="module")
def live_server_url():
    with DjangoServer() as server:
        yield server.url


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.ANYMAIL = SETTINGS


class TestStandInWebhooks:
    def test_postmark_delivery(self, live_server_url, tracking_events):
        payload = standin_webhooks.postmark_delivery_event(
            "pm-id-1", "alice@example.com", tag="demo", metadata={"order": "1"}
        )
        status, body = standin_webhooks.post_webhook(
            live_server_url("/anymail/postmark/tracking/"),
            payload,
            basic_auth="hook-user:hook-pass",
        )
        assert (status, body) == (200, b"")
        event = tracking_events.event
        assert event.event_type == "delivered"
        assert event.message_id == "pm-id-1"
        assert event.tags == ["demo"]
        assert event.metadata == {"order": "1"}

    def test_postmark_wrong_credentials_refused(self, live_server_url, tracking_events):
        status, _ = standin_webhooks.post_webhook(
            live_server_url("/anymail/postmark/tracking/"),
            standin_webhooks.postmark_delivery_event("id", "a@example.com"),
            basic_auth="hook-user:wrong",
        )
        assert status == 400
        assert tracking_events.calls == []

    def test_mailgun_signed_delivery(self, live_server_url, tracking_events):
        payload = standin_webhooks.mailgun_delivered_event(
            "<mg-id@example.com>", "bob@example.com", signing_key="signing-key"
        )
        status, _ = standin_webhooks.post_webhook(
            live_server_url("/anymail/mailgun/tracking/"),
            payload,
            basic_auth="hook-user:hook-pass",
        )
        assert status == 200
        assert tracking_events.event.message_id == "<mg-id@example.com>"
        assert tracking_events.event.recipient == "bob@example.com"

    def test_mailgun_wrong_signing_key_refused(self, live_server_url, tracking_events):
        payload = standin_webhooks.mailgun_delivered_event(
            "<mg-id@example.com>", "bob@example.com", signing_key="not-the-key"
        )
        status, _ = standin_webhooks.post_webhook(
            live_server_url("/anymail/mailgun/tracking/"),
            payload,
            basic_auth="hook-user:hook-pass",
        )
        assert status == 400
        assert tracking_events.calls == []
