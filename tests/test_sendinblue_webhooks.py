"""Deprecated SendinBlue webhook URLs (aliases of the Brevo views)."""

import json
import logging
import warnings
from datetime import datetime, timezone

import pytest
from django.urls import reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailDeprecationWarning,
    AnymailInsecureWebhookWarning,
)
from anymail.webhooks.brevo import BrevoInboundWebhookView, BrevoTrackingWebhookView
from anymail.webhooks.sendinblue import (
    SendinBlueInboundWebhookView,
    SendinBlueTrackingWebhookView,
)

from .conftest import basic_auth_header

TRACKING_URL = "/anymail/sendinblue/tracking/"
INBOUND_URL = "/anymail/sendinblue/inbound/"
SECRET = "sib:secret"
AUTH = basic_auth_header(SECRET)

TRACKING_DEPRECATION = (
    "Anymail's SendinBlue webhook URLs are deprecated. Update your Brevo"
    " transactional email webhook URL to change 'anymail/sendinblue'"
    " to 'anymail/brevo'."
)
INBOUND_DEPRECATION = (
    "Anymail's SendinBlue webhook URLs are deprecated. Update your Brevo"
    " inbound webhook URL to change 'anymail/sendinblue' to 'anymail/brevo'."
)


@pytest.fixture(autouse=True)
def sendinblue_settings(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "SENDINBLUE_API_KEY": "sib-key"}


@pytest.fixture
def deprecations():
    """Record (and silence) the deprecation warnings; yields the list."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        yield record


def deprecation_messages(record):
    return [
        str(w.message)
        for w in record
        if issubclass(w.category, AnymailDeprecationWarning)
    ]


def post(client, url, payload, auth=AUTH):
    extra = {} if auth is None else {"HTTP_AUTHORIZATION": auth}
    return client.post(
        url, json.dumps(payload), content_type="application/json", **extra
    )


class TestTracking:
    def test_subclass(self):
        assert issubclass(SendinBlueTrackingWebhookView, BrevoTrackingWebhookView)
        assert SendinBlueTrackingWebhookView.esp_name == "SendinBlue"

    def test_url_name(self):
        assert reverse("anymail:sendinblue_tracking_webhook") == TRACKING_URL

    def test_event(self, webhook_client, tracking_events, deprecations):
        payload = {
            "event": "hard_bounce",
            "email": "bob@example.com",
            "message-id": "<msg-123@smtp-relay.mailin.fr>",
            "ts_epoch": 1520363423000,
            "reason": "550 5.1.1 mailbox unavailable",
            "X-Mailin-custom": '{"order": "A1"}',
            "tag": "receipt",
        }
        assert post(webhook_client, TRACKING_URL, payload).status_code == 200
        call = tracking_events.calls[0]
        assert call["sender"] is SendinBlueTrackingWebhookView
        assert call["esp_name"] == "SendinBlue"
        event = tracking_events.event
        assert event.event_type == "bounced"
        assert event.reject_reason == "bounced"
        assert event.timestamp == datetime(2018, 3, 6, 19, 10, 23, tzinfo=timezone.utc)
        assert event.message_id == "<msg-123@smtp-relay.mailin.fr>"
        assert event.recipient == "bob@example.com"
        assert event.metadata == {"order": "A1"}
        assert event.tags == ["receipt"]
        assert event.mta_response == "550 5.1.1 mailbox unavailable"
        assert event.esp_event == payload

    def test_empty_object(self, webhook_client, tracking_events, deprecations):
        assert post(webhook_client, TRACKING_URL, {}).status_code == 200
        assert tracking_events.event.event_type == "unknown"

    def test_deprecation_warning(self, webhook_client, tracking_events):
        with pytest.warns(AnymailDeprecationWarning) as record:
            assert post(webhook_client, TRACKING_URL, {}).status_code == 200
        assert deprecation_messages(record) == [TRACKING_DEPRECATION]

    def test_warns_on_every_request(self, webhook_client, deprecations):
        webhook_client.head(TRACKING_URL)
        post(webhook_client, TRACKING_URL, {})
        assert deprecation_messages(deprecations) == [TRACKING_DEPRECATION] * 2

    def test_misdirected(self, webhook_client, tracking_events, deprecations):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post(webhook_client, TRACKING_URL, {"items": []})
        assert str(excinfo.value) == (
            "You seem to have set Brevo's *inbound* webhook URL"
            " to Anymail's SendinBlue *tracking* webhook URL."
        )
        assert tracking_events.calls == []

    def test_basic_auth(self, webhook_client, tracking_events, deprecations, caplog):
        caplog.set_level(logging.ERROR, logger="django.security")
        response = post(webhook_client, TRACKING_URL, {"event": "delivered"}, auth=None)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert [
            record.getMessage()
            for record in caplog.records
            if record.name == "django.security.AnymailWebhookValidationFailure"
        ] == ["Missing or invalid basic auth in Anymail SendinBlue webhook"]

    def test_malformed(self, webhook_client, tracking_events, deprecations):
        response = webhook_client.post(
            TRACKING_URL,
            b"nope",
            content_type="application/json",
            HTTP_AUTHORIZATION=AUTH,
        )
        assert response.status_code == 400
        assert b"Malformed SendinBlue webhook payload" in response.content
        assert tracking_events.calls == []

    def test_insecure_warning_too(self, settings, webhook_client, tracking_events):
        settings.ANYMAIL = {}
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            assert post(webhook_client, TRACKING_URL, {}, auth=None).status_code == 200
        categories = [w.category for w in record]
        assert AnymailDeprecationWarning in categories
        assert AnymailInsecureWebhookWarning in categories


class TestInbound:
    def test_subclass(self):
        assert issubclass(SendinBlueInboundWebhookView, BrevoInboundWebhookView)
        assert SendinBlueInboundWebhookView.esp_name == "SendinBlue"

    def test_url_name(self):
        assert reverse("anymail:sendinblue_inbound_webhook") == INBOUND_URL

    def test_empty_item(self, webhook_client, inbound_events, deprecations):
        assert post(webhook_client, INBOUND_URL, {"items": [{}]}).status_code == 200
        call = inbound_events.calls[0]
        assert call["sender"] is SendinBlueInboundWebhookView
        assert call["esp_name"] == "SendinBlue"
        assert call["event"].event_type == "inbound"

    def test_deprecation_warning(self, webhook_client, inbound_events):
        with pytest.warns(AnymailDeprecationWarning) as record:
            assert post(webhook_client, INBOUND_URL, {"items": []}).status_code == 200
        assert deprecation_messages(record) == [INBOUND_DEPRECATION]

    def test_uses_sendinblue_settings(
        self, settings, webhook_client, inbound_events, requests_mock, deprecations
    ):
        settings.ANYMAIL = {
            "WEBHOOK_SECRET": SECRET,
            "SENDINBLUE_API_KEY": "sib-key",
            "SENDINBLUE_API_URL": "https://sib.example.com/v3",
            "BREVO_API_KEY": "not-this-one",
            "BREVO_API_URL": "https://not-this-one.example.com/",
        }
        requests_mock.set_response(200, b"hi", headers={"Content-Type": "text/plain"})
        item = {"Attachments": [{"Name": "hi.txt", "DownloadToken": "tok"}]}
        assert post(webhook_client, INBOUND_URL, {"items": [item]}).status_code == 200
        assert requests_mock.last_call["url"] == (
            "https://sib.example.com/v3/inbound/attachments/tok"
        )
        assert requests_mock.last_call["headers"] == {"api-key": "sib-key"}
        [attachment] = inbound_events.event.message.attachments
        assert attachment.get_content_bytes() == b"hi"

    def test_bare_api_key(self, settings, webhook_client, inbound_events, deprecations):
        settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
        settings.SENDINBLUE_API_KEY = "bare"
        assert post(webhook_client, INBOUND_URL, {"items": []}).status_code == 200

    def test_requires_sendinblue_api_key(
        self, settings, webhook_client, inbound_events, deprecations
    ):
        settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "BREVO_API_KEY": "brevo-key"}
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post(webhook_client, INBOUND_URL, {"items": []})
        assert str(excinfo.value) == (
            "You must set ANYMAIL = {'SENDINBLUE_API_KEY': ...} or"
            " ANYMAIL_SENDINBLUE_API_KEY or SENDINBLUE_API_KEY in your Django settings"
        )

    def test_misdirected(self, webhook_client, inbound_events, deprecations):
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post(webhook_client, INBOUND_URL, {"event": "delivered"})
        assert str(excinfo.value) == (
            "You seem to have set Brevo's *tracking* webhook URL"
            " to Anymail's SendinBlue *inbound* webhook URL."
        )
        assert inbound_events.calls == []

    def test_basic_auth(self, webhook_client, inbound_events, deprecations):
        response = post(
            webhook_client, INBOUND_URL, {"items": [{}]}, auth=basic_auth_header("x:y")
        )
        assert response.status_code == 400
        assert inbound_events.calls == []
