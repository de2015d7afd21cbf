"""Unisender Go tracking webhook (Unisender Go has no inbound email).

Unisender Go posts JSON ("json_post" event format): either a batch of events
grouped under ``events_by_user``, or (with "use single event" turned on) one
flat event object. Every post carries its own signature in the body's
``auth`` field: the lowercase hex MD5 of the raw request body as it would read
with the account's (or project's) API key in place of that ``auth`` value. So
the view needs UNISENDER_GO_API_KEY, and checks the shared WEBHOOK_SECRET
basic auth only in addition (and only when it is set).

Unisender Go checks a new webhook URL with a GET, which is answered with an
empty 200 (no validation).
"""

import hashlib

from django.http import HttpResponse
from django.utils.crypto import constant_time_compare

from ..exceptions import AnymailWebhookValidationFailure
from ..signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from ..utils import get_anymail_setting
from .base import (
    MALFORMED_PAYLOAD_ERRORS,
    AnymailBaseWebhookView,
    load_json,
    parse_iso_datetime,
    signing_key_bytes,
)

#: the only event_name Anymail turns into tracking events (others, such as
#: transactional_spam_block, are about the sending infrastructure)
EMAIL_STATUS_EVENT = "transactional_email_status"

#: Unisender Go's ``status`` → Anymail event_type (anything else is UNKNOWN)
EVENT_TYPES = {
    "sent": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "subscribed": EventType.SUBSCRIBED,
    "spam": EventType.COMPLAINED,
    "soft_bounced": EventType.DEFERRED,
    "hard_bounced": EventType.BOUNCED,
}

#: ``delivery_info.delivery_status`` error codes → Anymail reject_reason
#: (any other ``err...`` code is OTHER; non-error statuses give None)
REJECT_REASONS = {
    "err_user_unknown": RejectReason.BOUNCED,
    "err_user_inactive": RejectReason.BOUNCED,
    "err_mailbox_discarded": RejectReason.BOUNCED,
    "err_mailbox_full": RejectReason.BOUNCED,
    "err_too_large": RejectReason.BOUNCED,
    "err_unreachable": RejectReason.BOUNCED,
    "err_skip_letter": RejectReason.BOUNCED,
    "err_domain_inactive": RejectReason.BOUNCED,
    "err_destination_misconfigured": RejectReason.BOUNCED,
    "err_spam_rejected": RejectReason.SPAM,
    "err_spam_skipped": RejectReason.SPAM,
    "err_blacklisted": RejectReason.BLOCKED,
    "err_unsubscribed": RejectReason.UNSUBSCRIBED,
    "err_delivery_failed": RejectReason.OTHER,
    "err_lost": RejectReason.OTHER,
    # a temporary failure: Unisender Go will try again
    "err_will_retry": None,
}

API_KEY_SETTING = "UNISENDER_GO_API_KEY"


class UnisenderGoTrackingWebhookView(AnymailBaseWebhookView):
    """Unisender Go's email status webhook (batched or single events)."""

    esp_name = "Unisender Go"
    signal = tracking

    # GET is Unisender Go's check that the URL works (Allow lists it last)
    http_method_names = ["post", "head", "options", "get"]

    # Every post is signed with the API key, so the lack of a WEBHOOK_SECRET
    # isn't worth a warning (basic auth is still enforced when it is set)
    warn_if_no_basic_auth = False

    #: as_view(api_key=...) overrides the UNISENDER_GO_API_KEY setting
    api_key = None

    def __init__(self, **kwargs):
        api_key = get_anymail_setting(
            "api_key", esp_name=self.esp_name, kwargs=kwargs, allow_bare=True
        )
        #: the API key as bytes: it stands in for ``auth`` in the signed body
        self.api_key_bytes = signing_key_bytes(
            api_key,
            setting_name=API_KEY_SETTING,
            esp_name=self.esp_name,
            allow_bare=True,
        )
        self.api_key = api_key
        super().__init__(**kwargs)

    def get(self, request, *args, **kwargs):
        # Unisender Go's check that the webhook URL answers (nothing to verify)
        return HttpResponse()

    def validate_request(self, request):
        # Runs before the basic-auth check (validators go most-derived first)
        try:
            payload = load_json(request.body)
            auth = payload["auth"]
            auth_bytes = auth.encode("utf-8")
        except MALFORMED_PAYLOAD_ERRORS:
            raise AnymailWebhookValidationFailure(
                "Unisender Go webhook called with invalid payload"
            ) from None

        # The signed text is the raw body with the API key where the auth
        # value is, so work on the bytes as posted (never re-serialize: key
        # order, spacing and escapes all vary)
        if auth_bytes:
            expected = hashlib.md5(
                request.body.replace(auth_bytes, self.api_key_bytes)
            ).hexdigest()
        else:
            # (replacing b"" would splice the key between every byte)
            expected = None
        if expected is None or not constant_time_compare(auth, expected):
            project_id = _project_id(payload)
            if project_id:
                hint = f"setting is for Project ID {project_id}"
            else:
                hint = "setting"
            raise AnymailWebhookValidationFailure(
                "Unisender Go webhook called with incorrect signature"
                f" (check Anymail {API_KEY_SETTING} {hint})"
            )

    def parse_events(self, request):
        payload = load_json(request.body, dict)
        if "events_by_user" in payload:
            # Batch format: a list holding a single user (account) entry,
            # whose events are {"event_name": ..., "event_data": {...}}
            user_events = payload["events_by_user"][0]["events"]
            return [
                self.esp_to_anymail_event(item["event_data"])
                for item in user_events
                if item["event_name"] == EMAIL_STATUS_EVENT
            ]
        # Single-event format: the event data fields are at the top level,
        # mixed with event_name, user_id, project_id and auth
        if payload["event_name"] == EMAIL_STATUS_EVENT:
            return [self.esp_to_anymail_event(payload)]
        return []

    def esp_to_anymail_event(self, event_data):
        status = event_data["status"]
        recipient = event_data["email"]

        metadata = event_data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise TypeError(f"Unisender Go event metadata is not an object: {metadata}")
        metadata = dict(metadata)
        # Anymail's generated per-recipient id is the message_id; without
        # one (UNISENDER_GO_GENERATE_MESSAGE_ID off) it's the send's job_id
        if "anymail_id" in metadata:
            message_id = metadata.pop("anymail_id")
        else:
            message_id = event_data.get("job_id")

        # "YYYY-MM-DD HH:MM:SS", in UTC (without a zone)
        event_time = event_data.get("event_time")

        delivery_info = event_data.get("delivery_info") or {}
        delivery_status = delivery_info.get("delivery_status")

        return AnymailTrackingEvent(
            event_type=EVENT_TYPES.get(status, EventType.UNKNOWN),
            timestamp=None if event_time is None else parse_iso_datetime(event_time),
            event_id=None,  # Unisender Go gives events no unique id
            message_id=message_id,
            recipient=recipient,
            metadata=metadata,
            tags=[],  # not included in Unisender Go's events
            reject_reason=_reject_reason(delivery_status),
            # the delivery status code, else the unsubscribe form's comment
            description=delivery_status or event_data.get("comment"),
            mta_response=delivery_info.get("destination_response"),
            user_agent=delivery_info.get("user_agent"),
            click_url=event_data.get("url"),
            esp_event=event_data,
        )


def _project_id(payload):
    """The Project ID a payload names (for the signature failure hint), or None."""
    try:
        if "events_by_user" in payload:
            return payload["events_by_user"][0]["project_id"]
        return payload.get("project_id")
    except (KeyError, TypeError, IndexError, AttributeError):
        return None


def _reject_reason(delivery_status):
    # Only error codes ("err_...") give a reason, whatever the event status
    if not delivery_status or not delivery_status.startswith("err"):
        return None
    return REJECT_REASONS.get(delivery_status, RejectReason.OTHER)
