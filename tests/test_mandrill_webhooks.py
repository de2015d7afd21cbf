"""Mandrill tracking webhook, through Django's test client, with real signatures.

(Inbound events through the same combined view: test_mandrill_inbound.py.)
"""

import hashlib
import hmac
import json
import logging
import warnings
from base64 import b64encode
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from django.urls import include, path, reverse

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.signals import tracking
from anymail.webhooks.mandrill import (
    MandrillCombinedWebhookView,
    MandrillTrackingWebhookView,
)

from .conftest import basic_auth_header, event_fields, security_messages

URL = "/anymail/mandrill/"
LEGACY_URL = "/anymail/mandrill/tracking/"
WEBHOOK_KEY = "zBg3Yk9Ed1aQ_wHmP2LtRq"
OTHER_KEY = "not-the-key-9Qm2Xv"
PUBLIC_URL = "https://hooks.example.com/anymail/mandrill/"

SIGNATURE_MISSING = "X-Mandrill-Signature header missing from webhook POST"
BASIC_AUTH_FAILURE = "Missing or invalid basic auth in Anymail Mandrill webhook"
MISSING_KEY = (
    "You must set ANYMAIL = {'MANDRILL_WEBHOOK_KEY': ...} or"
    " ANYMAIL_MANDRILL_WEBHOOK_KEY or MANDRILL_WEBHOOK_KEY in your Django settings"
)
MALFORMED = b"Malformed Mandrill webhook payload"


def incorrect_signature(url):
    return f"Mandrill webhook called with incorrect signature (for url '{url}')"


urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path(
        "kwargs/",
        MandrillCombinedWebhookView.as_view(
            webhook_key=OTHER_KEY, webhook_url=PUBLIC_URL
        ),
    ),
]

pytestmark = pytest.mark.urls(__name__)


def mandrill_signature(url, fields, key=WEBHOOK_KEY):
    """What Mandrill sends: base64 HMAC-SHA1 of url + sorted name/value pairs."""
    signed_text = url + "".join(name + value for name, value in sorted(fields))
    digest = hmac.new(
        key.encode("ascii"), signed_text.encode("utf-8"), hashlib.sha1
    ).digest()
    return b64encode(digest).decode("ascii")


def post_mandrill(
    client,
    events,
    url=URL,
    key=WEBHOOK_KEY,
    credentials=None,
    signed_url=None,
    fields=None,
    signature=None,
    **extra,
):
    """POST events (a JSON-able list, or raw str) as Mandrill would, signed.

    The signature covers the URL Django will see (with any basic auth
    credentials in it), unless signed_url says otherwise.
    """
    if fields is None:
        raw = events if isinstance(events, str) else json.dumps(events)
        fields = [("mandrill_events", raw)]
    if signed_url is None:
        userinfo = f"{credentials}@" if credentials else ""
        signed_url = f"http://{userinfo}testserver{url}"
    if signature is None:
        # a field sent more than once is signed with its last value
        signature = mandrill_signature(signed_url, dict(fields).items(), key)
    if signature is not False:
        extra["HTTP_X_MANDRILL_SIGNATURE"] = signature
    if credentials:
        extra["HTTP_AUTHORIZATION"] = basic_auth_header(credentials)
    return client.post(
        url,
        urlencode(fields),
        content_type="application/x-www-form-urlencoded",
        **extra,
    )


@pytest.fixture(autouse=True)
def mandrill_settings(settings):
    settings.ANYMAIL = {"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY}
    return settings


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


# Realistic Mandrill payloads, one per row of the event-type mapping

MESSAGE_ID = "5f4bb8c3a1e44c0f9a7b2e18d6c0a4f1"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def mandrill_msg(**overrides):
    """The `msg` object Mandrill includes in message events."""
    msg = {
        "ts": 1461095211,
        "_id": MESSAGE_ID,
        "state": "sent",
        "subject": "Your order has shipped",
        "email": "pat@example.com",
        "sender": "orders@shop.example.com",
        "tags": ["order-shipped", "transactional"],
        "metadata": {"order_id": "A-1042", "customer": "7781"},
        "opens": [],
        "clicks": [],
        "smtp_events": [],
        "resends": [],
        "subaccount": None,
        "template": None,
        "_version": "hDGmVnD1mXVM8kR3vDLscQ",
    }
    msg.update(overrides)
    return msg


def message_event(event, ts=1461095246, **top_level):
    esp_event = {"event": event, "_id": MESSAGE_ID, "ts": ts}
    esp_event.update(top_level)
    return esp_event


SEND = message_event("send", msg=mandrill_msg())
DEFERRAL = message_event(
    "deferral",
    msg=mandrill_msg(
        state="deferred",
        diag="451 4.3.5 Server busy, try again later",
        smtp_events=[
            {
                "ts": 1461095240,
                "type": "deferred",
                "diag": "451 4.3.5 Server busy, try again later",
                "source_ip": "198.2.128.4",
                "destination_ip": "203.0.113.25",
                "size": 4312,
            }
        ],
    ),
)
HARD_BOUNCE = message_event(
    "hard_bounce",
    msg=mandrill_msg(
        state="bounced",
        bounce_description="bad_mailbox",
        diag="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    ),
)
SOFT_BOUNCE = message_event(
    "soft_bounce",
    msg=mandrill_msg(
        state="soft-bounced",
        bounce_description="mailbox_full",
        diag="smtp;552 5.2.2 Over quota",
    ),
)
OPEN = message_event(
    "open",
    msg=mandrill_msg(opens=[{"ts": 1461095246, "ip": "203.0.113.9"}]),
    ip="203.0.113.9",
    location={"country_short": "US", "country": "United States", "city": "Oakland"},
    user_agent=CHROME,
    user_agent_parsed={"type": "Browser", "ua_family": "Chrome", "mobile": False},
)
CLICK = message_event(
    "click",
    msg=mandrill_msg(clicks=[{"ts": 1461095246, "url": "https://shop.example.com/t"}]),
    ip="203.0.113.9",
    url="https://shop.example.com/track?order=A-1042",
    user_agent=CHROME,
)
SPAM = message_event("spam", msg=mandrill_msg(state="sent"))
UNSUB = message_event("unsub", msg=mandrill_msg(state="sent"))
REJECT = message_event(
    "reject",
    msg=mandrill_msg(state="rejected", email="former@example.com", tags=[]),
)
WHITELIST = {
    "type": "whitelist",
    "action": "add",
    "entry": {
        "email": "vip@example.com",
        "detail": "Added manually",
        "created_at": "2016-04-19 19:47:26",
    },
    "ts": 1461095246,
}
BLACKLIST = {
    "type": "blacklist",
    "action": "add",
    "reject": {
        "reason": "hard-bounce",
        "detail": " smtp;550 5.1.1 unknown user",
        "last_event_at": "2016-04-19 19:47:26",
        "email": "carol@example.com",
        "created_at": "2016-04-19 19:47:26",
        "expires_at": "2016-05-19 19:47:26",
        "expired": False,
        "subaccount": None,
        "sender": None,
    },
    "ts": 1461095246,
}
FUTURE_EVENT = message_event("quarantine", msg=mandrill_msg())
NO_TYPE = {"_id": MESSAGE_ID, "ts": 1461095246, "msg": mandrill_msg()}

WHEN = utc(2016, 4, 19, 19, 47, 26)
MESSAGE_FIELDS = {
    "timestamp": WHEN,
    "event_id": None,
    "message_id": MESSAGE_ID,
    "recipient": "pat@example.com",
    "metadata": {"order_id": "A-1042", "customer": "7781"},
    "tags": ["order-shipped", "transactional"],
    "reject_reason": None,
    "description": None,
    "mta_response": None,
    "user_agent": None,
    "click_url": None,
}
SYNC_FIELDS = dict(
    MESSAGE_FIELDS, message_id=None, recipient=None, metadata={}, tags=[]
)

MAPPING = [
    pytest.param(SEND, dict(MESSAGE_FIELDS, event_type="sent"), id="send"),
    pytest.param(
        DEFERRAL,
        dict(
            MESSAGE_FIELDS,
            event_type="deferred",
            mta_response="451 4.3.5 Server busy, try again later",
        ),
        id="deferral",
    ),
    pytest.param(
        HARD_BOUNCE,
        dict(
            MESSAGE_FIELDS,
            event_type="bounced",
            mta_response=(
                "smtp;550 5.1.1 The email account that you tried to reach"
                " does not exist."
            ),
        ),
        id="hard_bounce",
    ),
    pytest.param(
        SOFT_BOUNCE,
        dict(
            MESSAGE_FIELDS,
            event_type="bounced",
            mta_response="smtp;552 5.2.2 Over quota",
        ),
        id="soft_bounce",
    ),
    pytest.param(
        OPEN,
        dict(MESSAGE_FIELDS, event_type="opened", user_agent=CHROME),
        id="open",
    ),
    pytest.param(
        CLICK,
        dict(
            MESSAGE_FIELDS,
            event_type="clicked",
            user_agent=CHROME,
            click_url="https://shop.example.com/track?order=A-1042",
        ),
        id="click",
    ),
    pytest.param(SPAM, dict(MESSAGE_FIELDS, event_type="complained"), id="spam"),
    pytest.param(UNSUB, dict(MESSAGE_FIELDS, event_type="unsubscribed"), id="unsub"),
    pytest.param(
        REJECT,
        dict(
            MESSAGE_FIELDS,
            event_type="rejected",
            recipient="former@example.com",
            tags=[],
        ),
        id="reject",
    ),
    # sync events: whitelist has no `reject`, so no recipient or description
    pytest.param(WHITELIST, dict(SYNC_FIELDS, event_type="unknown"), id="whitelist"),
    pytest.param(
        BLACKLIST,
        dict(
            SYNC_FIELDS,
            event_type="unknown",
            recipient="carol@example.com",
            description=" smtp;550 5.1.1 unknown user",  # detail wins over reason
        ),
        id="blacklist",
    ),
    pytest.param(FUTURE_EVENT, dict(MESSAGE_FIELDS, event_type="unknown"), id="other"),
    pytest.param(NO_TYPE, dict(MESSAGE_FIELDS, event_type="unknown"), id="missing"),
]


class TestEventMapping:
    @pytest.mark.parametrize("esp_event,expected", MAPPING)
    def test_mapping(self, webhook_client, tracking_events, esp_event, expected):
        response = post_mandrill(webhook_client, [esp_event])
        assert response.status_code == 200
        assert response.content == b""
        event = tracking_events.event
        assert event_fields(event) == dict(expected, esp_event=esp_event)
        assert isinstance(event.timestamp.tzinfo, type(timezone.utc))

    def test_spec_sample(self, webhook_client, tracking_events):
        # the batch from the spec, signed over a URL with credentials in it
        raw = (
            '[{"event":"hard_bounce","_id":"msg-123","ts":1461095246,'
            '"msg":{"_id":"msg-123","email":"bob@example.com",'
            '"diag":"smtp;550 5.1.1 unknown user",'
            '"tags":["welcome"],"metadata":{"user_id":"42"}}},'
            '{"type":"blacklist","action":"add",'
            '"reject":{"email":"carol@example.com","reason":"manual edit"}}]'
        )
        response = post_mandrill(webhook_client, raw, credentials="user:pass")
        assert response.status_code == 200
        bounced, unknown = tracking_events.events
        assert event_fields(bounced) == {
            "event_type": "bounced",
            "timestamp": utc(2016, 4, 19, 19, 47, 26),
            "event_id": None,
            "message_id": "msg-123",
            "recipient": "bob@example.com",
            "metadata": {"user_id": "42"},
            "tags": ["welcome"],
            "reject_reason": None,
            "description": None,
            "mta_response": "smtp;550 5.1.1 unknown user",
            "user_agent": None,
            "click_url": None,
            "esp_event": json.loads(raw)[0],
        }
        assert event_fields(unknown) == {
            "event_type": "unknown",
            "timestamp": None,
            "event_id": None,
            "message_id": None,
            "recipient": "carol@example.com",
            "metadata": {},
            "tags": [],
            "reject_reason": None,
            "description": "manual edit",
            "mta_response": None,
            "user_agent": None,
            "click_url": None,
            "esp_event": json.loads(raw)[1],
        }

    @pytest.mark.parametrize(
        "bounce_description",
        ["bad_mailbox", "invalid_domain", "mailbox_full", "spam_related", "general"],
    )
    @pytest.mark.parametrize("event", ["hard_bounce", "soft_bounce", "reject"])
    def test_reject_reason_is_always_none(
        self, webhook_client, tracking_events, event, bounce_description
    ):
        # Mandrill's bounce_description isn't normalized (as django-anymail)
        esp_event = message_event(
            event, msg=mandrill_msg(bounce_description=bounce_description)
        )
        post_mandrill(webhook_client, [esp_event])
        assert tracking_events.event.reject_reason is None
        assert tracking_events.event.description is None

    def test_sync_event_reason_when_no_detail(self, webhook_client, tracking_events):
        esp_event = {
            "type": "blacklist",
            "action": "remove",
            "reject": {"email": "carol@example.com", "reason": "unsub"},
            "ts": 1461095246,
        }
        post_mandrill(webhook_client, [esp_event])
        assert tracking_events.event.description == "unsub"
        assert tracking_events.event.recipient == "carol@example.com"

    @pytest.mark.parametrize("esp_type", [["send"], 7, {"name": "send"}, None])
    def test_non_string_type_is_unknown(
        self, webhook_client, tracking_events, esp_type
    ):
        post_mandrill(webhook_client, [dict(SEND, event=esp_type)])
        assert tracking_events.event.event_type == "unknown"

    def test_event_field_wins_over_type(self, webhook_client, tracking_events):
        post_mandrill(webhook_client, [dict(SEND, type="blacklist")])
        assert tracking_events.event.event_type == "sent"

    def test_msg_email_wins_over_reject_email(self, webhook_client, tracking_events):
        esp_event = dict(SEND, reject={"email": "other@example.com", "detail": "x"})
        post_mandrill(webhook_client, [esp_event])
        assert tracking_events.event.recipient == "pat@example.com"
        assert tracking_events.event.description == "x"

    @pytest.mark.parametrize(
        "msg_overrides",
        [{"tags": None, "metadata": None}, {}],
        ids=["null", "absent"],
    )
    def test_missing_tags_and_metadata(
        self, webhook_client, tracking_events, msg_overrides
    ):
        msg = {"_id": MESSAGE_ID, "email": "pat@example.com", **msg_overrides}
        post_mandrill(webhook_client, [message_event("send", msg=msg)])
        assert tracking_events.event.tags == []
        assert tracking_events.event.metadata == {}

    def test_fractional_timestamp(self, webhook_client, tracking_events):
        post_mandrill(webhook_client, [dict(SEND, ts=1461095246.25)])
        assert tracking_events.event.timestamp == utc(2016, 4, 19, 19, 47, 26, 250000)

    def test_non_ascii_payload(self, webhook_client, tracking_events):
        # the signature covers the UTF-8 text of the (URL-decoded) field
        esp_event = message_event(
            "open", msg=mandrill_msg(metadata={"name": "Zoë ✓"}, tags=["café"])
        )
        raw = json.dumps([esp_event], ensure_ascii=False)
        response = post_mandrill(webhook_client, raw)
        assert response.status_code == 200
        assert tracking_events.event.metadata == {"name": "Zoë ✓"}
        assert tracking_events.event.tags == ["café"]


class TestBatchAndDispatch:
    def test_one_signal_per_event_in_order(self, webhook_client, tracking_events):
        batch = [SEND, OPEN, CLICK, HARD_BOUNCE, BLACKLIST]
        response = post_mandrill(webhook_client, batch)
        assert response.status_code == 200
        assert [e.event_type for e in tracking_events.events] == [
            "sent",
            "opened",
            "clicked",
            "bounced",
            "unknown",
        ]
        # each event carries its own dict, not the batch
        assert [e.esp_event for e in tracking_events.events] == batch

    def test_signal_kwargs(self, webhook_client, tracking_events):
        post_mandrill(webhook_client, [SEND])
        call = tracking_events.calls[0]
        assert set(call) == {"signal", "sender", "event", "esp_name"}
        assert call["signal"] is tracking
        assert call["sender"] is MandrillCombinedWebhookView
        assert call["esp_name"] == "Mandrill"

    def test_tracking_view_is_the_combined_view(self):
        assert MandrillTrackingWebhookView is MandrillCombinedWebhookView

    def test_empty_batch(self, webhook_client, tracking_events):
        response = post_mandrill(webhook_client, [])
        assert response.status_code == 200
        assert tracking_events.calls == []

    def test_legacy_tracking_url(self, webhook_client, tracking_events):
        response = post_mandrill(webhook_client, [SEND, OPEN], url=LEGACY_URL)
        assert response.status_code == 200
        assert [e.event_type for e in tracking_events.events] == ["sent", "opened"]
        assert tracking_events.calls[0]["sender"] is MandrillCombinedWebhookView

    def test_url_names(self):
        assert reverse("anymail:mandrill_webhook") == URL
        assert reverse("anymail:mandrill_tracking_webhook") == LEGACY_URL

    def test_parse_error_in_any_event_dispatches_nothing(
        self, webhook_client, tracking_events
    ):
        response = post_mandrill(webhook_client, [SEND, dict(OPEN, ts="yesterday")])
        assert response.status_code == 400
        assert tracking_events.calls == []

    def test_receiver_exception_propagates(self, webhook_client):
        def receiver(sender, event, esp_name, **kwargs):
            raise RuntimeError("receiver failed")

        tracking.connect(receiver)
        try:
            with pytest.raises(RuntimeError, match="receiver failed"):
                post_mandrill(webhook_client, [SEND])
        finally:
            tracking.disconnect(receiver)


class TestSignature:
    def test_valid_signature(self, webhook_client, tracking_events, security_log):
        response = post_mandrill(webhook_client, [SEND])
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1
        assert security_messages(security_log) == []

    def test_missing_signature(self, webhook_client, tracking_events, security_log):
        response = post_mandrill(webhook_client, [SEND], signature=False)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [SIGNATURE_MISSING]

    @pytest.mark.parametrize(
        "signature",
        [
            pytest.param(
                mandrill_signature(
                    "http://testserver" + URL,
                    [("mandrill_events", json.dumps([SEND]))],
                    key=OTHER_KEY,
                ),
                id="wrong-key",
            ),
            pytest.param("", id="empty"),
            pytest.param("not base64 at all!", id="garbage"),
            pytest.param(
                b64encode(
                    hmac.new(
                        WEBHOOK_KEY.encode(),
                        ("http://testserver" + URL + "mandrill_events").encode()
                        + json.dumps([SEND]).encode(),
                        hashlib.sha256,
                    ).digest()
                ).decode(),
                id="sha256",
            ),
        ],
    )
    def test_incorrect_signature(
        self, webhook_client, tracking_events, security_log, signature
    ):
        response = post_mandrill(webhook_client, [SEND], signature=signature)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [
            incorrect_signature("http://testserver" + URL)
        ]

    def test_tampered_body(self, webhook_client, tracking_events, security_log):
        signature = mandrill_signature(
            "http://testserver" + URL, [("mandrill_events", json.dumps([SEND]))]
        )
        response = post_mandrill(webhook_client, [OPEN], signature=signature)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [
            incorrect_signature("http://testserver" + URL)
        ]

    def test_signed_for_another_url(
        self, webhook_client, tracking_events, security_log
    ):
        response = post_mandrill(
            webhook_client, [SEND], url=LEGACY_URL, signed_url="http://testserver" + URL
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [
            incorrect_signature("http://testserver" + LEGACY_URL)
        ]

    def test_query_string_is_signed(self, webhook_client, tracking_events):
        url = URL + "?source=mandrill"
        response = post_mandrill(
            webhook_client, [SEND], url=url, signed_url="http://testserver" + url
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    def test_https_scheme_is_signed(self, webhook_client, tracking_events):
        response = post_mandrill(
            webhook_client, [SEND], signed_url="https://testserver" + URL, secure=True
        )
        assert response.status_code == 200
        response = post_mandrill(
            webhook_client, [SEND], signed_url="http://testserver" + URL, secure=True
        )
        assert response.status_code == 400

    def test_all_fields_signed_sorted_with_last_value(
        self, webhook_client, tracking_events
    ):
        fields = [
            ("zeta", "last"),
            ("mandrill_events", json.dumps([SEND])),
            ("alpha", "first"),
            ("alpha", "second"),
        ]
        signed_url = "http://testserver" + URL
        signed_text_fields = [
            ("alpha", "second"),
            ("mandrill_events", json.dumps([SEND])),
            ("zeta", "last"),
        ]
        signature = mandrill_signature(signed_url, signed_text_fields)
        response = post_mandrill(
            webhook_client, None, fields=fields, signature=signature
        )
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

        # leaving out a field (or signing its first value) fails
        for bad_fields in (
            signed_text_fields[:2],
            [("alpha", "first")] + signed_text_fields[1:],
        ):
            signature = mandrill_signature(signed_url, bad_fields)
            response = post_mandrill(
                webhook_client, None, fields=fields, signature=signature
            )
            assert response.status_code == 400
        assert len(tracking_events.calls) == 1

    def test_checked_before_parsing(
        self, webhook_client, tracking_events, security_log
    ):
        # garbage that wasn't what was signed fails the signature, not parsing
        response = post_mandrill(
            webhook_client, "not json", signature=mandrill_signature("x", [])
        )
        assert response.status_code == 400
        assert response.content != MALFORMED
        assert security_messages(security_log) == [
            incorrect_signature("http://testserver" + URL)
        ]

    def test_basic_auth_credentials_are_part_of_the_signed_url(
        self, webhook_client, tracking_events, settings, security_log
    ):
        settings.ANYMAIL = dict(settings.ANYMAIL, WEBHOOK_SECRET="user:pass")
        response = post_mandrill(
            webhook_client,
            [SEND],
            credentials="user:pass",
            signed_url="http://testserver" + URL,  # without the credentials
        )
        assert response.status_code == 400
        assert security_messages(security_log) == [
            incorrect_signature("http://user:***@testserver" + URL)
        ]
        assert tracking_events.calls == []


class TestSettings:
    def test_missing_key_on_post(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {}
        with pytest.raises(AnymailConfigurationError) as excinfo:
            post_mandrill(webhook_client, [SEND])
        assert str(excinfo.value) == MISSING_KEY
        assert tracking_events.calls == []

    @pytest.mark.parametrize("key", ["", None])
    def test_empty_key_is_missing(self, webhook_client, tracking_events, settings, key):
        settings.ANYMAIL = {"MANDRILL_WEBHOOK_KEY": key}
        with pytest.raises(AnymailConfigurationError, match="MANDRILL_WEBHOOK_KEY"):
            post_mandrill(webhook_client, [SEND], key="x")
        assert tracking_events.calls == []

    def test_missing_key_is_fine_for_head(self, webhook_client, settings):
        # Mandrill checks the URL with an unsigned HEAD before it shows the key
        settings.ANYMAIL = {}
        response = webhook_client.head(URL)
        assert response.status_code == 200
        assert response.content == b""

    def test_head_is_not_validated(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {
            "MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY,
            "WEBHOOK_SECRET": "u:p",
        }
        response = webhook_client.head(URL, HTTP_X_MANDRILL_SIGNATURE="wrong")
        assert response.status_code == 200
        assert tracking_events.calls == []

    def test_get_not_allowed(self, webhook_client):
        logging.getLogger("django.request").disabled = True
        try:
            response = webhook_client.get(URL)
        finally:
            logging.getLogger("django.request").disabled = False
        assert response.status_code == 405

    def test_anymail_prefixed_setting(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {}
        settings.ANYMAIL_MANDRILL_WEBHOOK_KEY = WEBHOOK_KEY
        assert post_mandrill(webhook_client, [SEND]).status_code == 200

    def test_bare_setting(self, webhook_client, tracking_events, settings):
        # Djrill-era setting name
        settings.ANYMAIL = {}
        settings.MANDRILL_WEBHOOK_KEY = WEBHOOK_KEY
        assert post_mandrill(webhook_client, [SEND]).status_code == 200

    def test_anymail_dict_wins_over_bare(
        self, webhook_client, tracking_events, settings
    ):
        settings.MANDRILL_WEBHOOK_KEY = OTHER_KEY
        assert post_mandrill(webhook_client, [SEND]).status_code == 200

    def test_bytes_key(self, webhook_client, tracking_events, settings):
        settings.ANYMAIL = {"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY.encode("ascii")}
        assert post_mandrill(webhook_client, [SEND]).status_code == 200

    def test_non_ascii_key_is_configuration_error(self, webhook_client, settings):
        settings.ANYMAIL = {"MANDRILL_WEBHOOK_KEY": "clé"}
        with pytest.raises(AnymailConfigurationError, match="must be ASCII"):
            post_mandrill(webhook_client, [SEND], signature="x")

    def test_webhook_url_setting(
        self, webhook_client, tracking_events, settings, security_log
    ):
        # a proxy changes the host Django sees: sign the public URL instead
        settings.ANYMAIL = dict(settings.ANYMAIL, MANDRILL_WEBHOOK_URL=PUBLIC_URL)
        response = post_mandrill(webhook_client, [SEND], signed_url=PUBLIC_URL)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

        response = post_mandrill(webhook_client, [SEND])  # signed for testserver
        assert response.status_code == 400
        assert security_messages(security_log) == [incorrect_signature(PUBLIC_URL)]

    def test_webhook_url_bare_setting(self, webhook_client, tracking_events, settings):
        settings.MANDRILL_WEBHOOK_URL = PUBLIC_URL
        response = post_mandrill(webhook_client, [SEND], signed_url=PUBLIC_URL)
        assert response.status_code == 200

    def test_webhook_url_ignores_basic_auth(
        self, webhook_client, tracking_events, settings
    ):
        settings.ANYMAIL = dict(
            settings.ANYMAIL,
            MANDRILL_WEBHOOK_URL=PUBLIC_URL,
            WEBHOOK_SECRET="user:pass",
        )
        response = post_mandrill(
            webhook_client, [SEND], credentials="user:pass", signed_url=PUBLIC_URL
        )
        assert response.status_code == 200

    def test_as_view_kwargs(self, webhook_client, tracking_events):
        # route "kwargs/" has webhook_key=OTHER_KEY, webhook_url=PUBLIC_URL
        response = post_mandrill(
            webhook_client, [SEND], url="/kwargs/", key=OTHER_KEY, signed_url=PUBLIC_URL
        )
        assert response.status_code == 200
        assert tracking_events.calls[0]["sender"] is MandrillCombinedWebhookView
        response = post_mandrill(
            webhook_client, [SEND], url="/kwargs/", signed_url=PUBLIC_URL
        )
        assert response.status_code == 400  # the settings' key isn't used

    def test_view_instance_outside_request(self, settings):
        settings.ANYMAIL = {}
        view = MandrillCombinedWebhookView.as_view(webhook_key="K", webhook_url="U")
        instance = view.view_class(**view.view_initkwargs)
        assert instance.webhook_key == "K"
        assert instance.webhook_url == "U"
        bare = MandrillCombinedWebhookView()
        assert bare.webhook_key is None
        assert bare.webhook_url is None


class TestBasicAuth:
    @pytest.fixture(autouse=True)
    def secret(self, settings):
        settings.ANYMAIL = dict(
            settings.ANYMAIL, WEBHOOK_SECRET=["new:secret", "old:secret"]
        )

    @pytest.mark.parametrize("credentials", ["new:secret", "old:secret"])
    def test_right_credentials(self, webhook_client, tracking_events, credentials):
        response = post_mandrill(webhook_client, [SEND], credentials=credentials)
        assert response.status_code == 200
        assert len(tracking_events.calls) == 1

    @pytest.mark.parametrize("credentials", [None, "new:wrong", "intruder:secret"])
    def test_wrong_or_missing_credentials(
        self, webhook_client, tracking_events, security_log, credentials
    ):
        # correctly signed (for the URL as requested), but not authorized
        response = post_mandrill(webhook_client, [SEND], credentials=credentials)
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [BASIC_AUTH_FAILURE]

    def test_signature_still_required(
        self, webhook_client, tracking_events, security_log
    ):
        response = post_mandrill(
            webhook_client, [SEND], credentials="new:secret", signature=False
        )
        assert response.status_code == 400
        assert tracking_events.calls == []
        assert security_messages(security_log) == [SIGNATURE_MISSING]

    def test_signature_checked_first(
        self, webhook_client, tracking_events, security_log
    ):
        response = post_mandrill(
            webhook_client, [SEND], credentials="new:wrong", signature="bad"
        )
        assert response.status_code == 400
        assert security_messages(security_log) == [
            incorrect_signature("http://new:***@testserver" + URL)
        ]


class TestNoInsecureWarning:
    @pytest.mark.parametrize("method", ["post", "head"])
    def test_never_warns(self, webhook_client, tracking_events, settings, method):
        settings.ANYMAIL = {"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY}  # no WEBHOOK_SECRET
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            if method == "post":
                response = post_mandrill(webhook_client, [SEND])
            else:
                response = webhook_client.head(URL)
        assert response.status_code == 200

    def test_never_warns_without_any_settings(self, settings):
        settings.ANYMAIL = {}
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailInsecureWebhookWarning)
            MandrillCombinedWebhookView()

    def test_class_attr(self):
        assert MandrillCombinedWebhookView.warn_if_no_basic_auth is False


class TestMalformed:
    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param("", id="empty-field"),
            pytest.param("not json", id="not-json"),
            pytest.param("[{", id="truncated"),
            pytest.param('{"event": "send"}', id="object-not-array"),
            pytest.param('"send"', id="string"),
            pytest.param("null", id="null"),
            pytest.param('["send"]', id="array-of-strings"),
            pytest.param("[null]", id="array-of-null"),
            pytest.param('[{"event": "send", "msg": "pat@example.com"}]', id="msg"),
            pytest.param('[{"event": "send", "msg": ["x"]}]', id="msg-list"),
            pytest.param('[{"type": "blacklist", "reject": "x"}]', id="reject"),
            pytest.param('[{"event": "send", "ts": "1461095246"}]', id="ts-string"),
            pytest.param('[{"event": "send", "ts": true}]', id="ts-bool"),
            pytest.param('[{"event": "send", "ts": 1e20}]', id="ts-out-of-range"),
            pytest.param('[{"event": "send", "ts": NaN}]', id="ts-nan"),
        ],
    )
    def test_malformed_events_field(self, webhook_client, tracking_events, raw):
        response = post_mandrill(webhook_client, raw)
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []

    def test_missing_events_field(self, webhook_client, tracking_events):
        response = post_mandrill(webhook_client, None, fields=[("events", "[]")])
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []

    def test_empty_body(self, webhook_client, tracking_events):
        response = post_mandrill(webhook_client, None, fields=[])
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []

    def test_json_body(self, webhook_client, tracking_events):
        # wrong content type: there are no form fields, so only the URL is signed
        response = webhook_client.post(
            URL,
            json.dumps({"mandrill_events": [SEND]}),
            content_type="application/json",
            HTTP_X_MANDRILL_SIGNATURE=mandrill_signature("http://testserver" + URL, []),
        )
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []

    def test_multipart_form_is_accepted(self, webhook_client, tracking_events):
        raw = json.dumps([SEND])
        response = webhook_client.post(
            URL,
            {"mandrill_events": raw},  # the test client's multipart encoding
            HTTP_X_MANDRILL_SIGNATURE=mandrill_signature(
                "http://testserver" + URL, [("mandrill_events", raw)]
            ),
        )
        assert response.status_code == 200
        assert tracking_events.event.event_type == "sent"

    def test_unparseable_multipart(self, webhook_client, tracking_events):
        response = webhook_client.post(
            URL,
            b"--x\r\nnot a multipart body",
            content_type="multipart/form-data",  # no boundary
            HTTP_X_MANDRILL_SIGNATURE="x",
        )
        assert response.status_code == 400
        assert response.content == MALFORMED
        assert tracking_events.calls == []

    def test_non_utf8_body(self, webhook_client, tracking_events):
        # Django decodes the form leniently (U+FFFD), and that's what is signed
        body = (
            b"mandrill_events="
            + b"%5B%7B%22event%22%3A%22send%22%2C%22x%22%3A%22%ff%22%7D%5D"
        )
        signed = [("mandrill_events", '[{"event":"send","x":"\ufffd"}]')]
        response = webhook_client.post(
            URL,
            body,
            content_type="application/x-www-form-urlencoded",
            HTTP_X_MANDRILL_SIGNATURE=mandrill_signature(
                "http://testserver" + URL, signed
            ),
        )
        assert response.status_code == 200
        assert tracking_events.event.esp_event == {"event": "send", "x": "\ufffd"}
