"""Resend tracking and inbound webhooks.

Resend delivers its webhooks through Svix: one JSON event per POST, signed
with a per-endpoint secret ("whsec_..."). When that secret is configured
(RESEND_SIGNING_SECRET for tracking, RESEND_INBOUND_SECRET for inbound), the
view checks the Svix signature with the svix package; without one, only the
shared WEBHOOK_SECRET basic auth (if set) protects the URL.

The inbound (``email.received``) webhook carries only a summary, so the
inbound view fetches the message from Resend's API: the raw MIME when Resend
offers a download link (streamed into the parser), else the parsed fields
and attachment downloads, from which it builds the message.
"""

import json
import re
from urllib.parse import quote

import requests

from ..exceptions import (
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailWebhookValidationFailure,
)
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from ..utils import DEFAULT_DOWNLOAD_CHUNK_SIZE, get_anymail_setting
from .base import (
    AnymailBaseWebhookView,
    download_raw_message,
    esp_api_errors,
    esp_request_timeout,
    get_list,
    get_object,
    load_json,
    optional_iso_datetime,
    single_addr_spec,
)


class ResendSvixSignatureMixin:
    """Checks a Resend (Svix) webhook signature, when this view has a secret.

    Subclasses name their secret setting in ``svix_secret_name`` (which is also
    the as_view() keyword and the instance attribute holding the secret as
    given), and call ``init_svix_signature(kwargs)`` before the basic-auth
    mixin's __init__ runs: with a secret, the missing-WEBHOOK_SECRET warning
    isn't needed.
    """

    svix_secret_name = None  # e.g. "signing_secret"
    _svix_webhook = None  # no secret: no signature check
    _svix_error = None

    def init_svix_signature(self, kwargs):
        name = self.svix_secret_name
        secret = get_anymail_setting(
            name, esp_name=self.esp_name, kwargs=kwargs, default=None
        )
        setattr(self, name, secret)
        if secret is None:
            self._svix_webhook = None
            self._svix_error = None
        else:
            self._svix_webhook, self._svix_error = _make_svix_verifier(
                secret, self.svix_setting_name
            )
        self.warn_if_no_basic_auth = secret is None

    @property
    def svix_setting_name(self):
        return f"{self.esp_name.upper()}_{self.svix_secret_name.upper()}"

    def validate_request(self, request):
        if self._svix_webhook is None:
            return
        try:
            self._svix_webhook.verify(request.body, dict(request.headers))
        except (self._svix_error, ValueError, TypeError):
            # ValueError/TypeError: a malformed signature header or a body
            # that isn't UTF-8 -- no more genuine than a wrong signature.
            # (Not chained: the logged message must be exactly this text.)
            raise AnymailWebhookValidationFailure(
                f"{self.esp_name} webhook called with incorrect signature"
                f" (check Anymail {self.svix_setting_name} setting)"
            ) from None


def _make_svix_verifier(secret, setting_name):
    """(svix Webhook for `secret`, svix's WebhookVerificationError class)."""
    try:
        from svix.webhooks import Webhook, WebhookVerificationError
    except ImportError:
        raise AnymailImproperlyInstalled(
            missing_package="svix", install_extra="resend"
        ) from None
    try:
        return Webhook(secret), WebhookVerificationError
    except Exception:
        # svix raises binascii.Error, EmptyWebhookSecretError or RuntimeError;
        # don't echo the secret itself into the error
        raise AnymailConfigurationError(
            f"Your Anymail {setting_name} setting is not a valid Svix webhook"
            " secret. Copy the signing secret (it starts with 'whsec_') from"
            " the webhook's page in Resend's dashboard."
        ) from None


class ResendBaseWebhookView(ResendSvixSignatureMixin, AnymailBaseWebhookView):
    """What Resend's tracking and inbound webhooks have in common."""

    esp_name = "Resend"

    @staticmethod
    def event_id(request):
        # Svix's message id: stays the same when Svix retries a delivery
        return request.headers.get("svix-id")


class ResendTrackingWebhookView(ResendBaseWebhookView):
    """Resend's email.* delivery and engagement events."""

    signal = tracking
    svix_secret_name = "signing_secret"
    signing_secret = None  # as_view(signing_secret=...) overrides the setting

    event_types = {
        "email.sent": EventType.SENT,
        "email.delivered": EventType.DELIVERED,
        "email.delivery_delayed": EventType.DEFERRED,
        "email.complained": EventType.COMPLAINED,
        "email.bounced": EventType.BOUNCED,
        "email.opened": EventType.OPENED,
        "email.clicked": EventType.CLICKED,
    }

    def __init__(self, **kwargs):
        self.init_svix_signature(kwargs)
        super().__init__(**kwargs)

    def parse_events(self, request):
        payload = load_json(request.body, dict)
        return [self.esp_to_anymail_event(payload, request)]

    def esp_to_anymail_event(self, payload, request):
        resend_type = payload["type"]
        if not isinstance(resend_type, str):
            raise TypeError(f"Resend event type {resend_type!r} is not a string")
        data = get_object(payload, "data") or {}
        headers = _header_lookup(data.get("headers"))
        bounce = get_object(data, "bounce")
        click = get_object(data, "click") or {}

        description = None if bounce is None else bounce.get("message")
        return AnymailTrackingEvent(
            event_type=self.event_types.get(resend_type, EventType.UNKNOWN),
            # top-level created_at is the event's time (data.created_at is
            # when the message was created)
            timestamp=optional_iso_datetime(payload.get("created_at")),
            event_id=self.event_id(request),
            message_id=data.get("email_id"),
            recipient=_first_addr_spec(data.get("to")),
            tags=_json_header(headers, "X-Tags", list, []),
            metadata=_json_header(headers, "X-Metadata", dict, {}),
            reject_reason=_reject_reason(bounce),
            description=description,
            mta_response=None,
            click_url=click.get("link"),
            user_agent=click.get("userAgent"),
            esp_event=payload,
        )


def _reject_reason(bounce):
    """Resend has no bounce codes: the message text is all there is."""
    if bounce is None:
        return None
    message = bounce.get("message")
    if message is None:
        return RejectReason.OTHER
    if not isinstance(message, str):
        raise TypeError("Resend bounce message is not a string")
    if "suppressed sending" in message:
        return RejectReason.BLOCKED
    if "bounce message" in message:
        return RejectReason.BOUNCED
    return RejectReason.OTHER


class ResendInboundWebhookView(ResendBaseWebhookView):
    """Resend's email.received webhook; the message is fetched from the API."""

    signal = inbound
    svix_secret_name = "inbound_secret"
    # as_view() keywords that override the settings:
    inbound_secret = None
    api_key = None
    api_url = None

    def __init__(self, **kwargs):
        # The API settings are checked first, so a missing API key is
        # reported before anything about signatures or basic auth.
        self.api_key = get_anymail_setting(
            "api_key", esp_name=self.esp_name, kwargs=kwargs, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url",
            esp_name=self.esp_name,
            kwargs=kwargs,
            default="https://api.resend.com/",
        )
        if not api_url.endswith("/"):
            api_url += "/"
        self.api_url = api_url
        # settings only (not an as_view() keyword)
        self.download_chunk_size = get_anymail_setting(
            "download_chunk_size",
            esp_name=self.esp_name,
            default=DEFAULT_DOWNLOAD_CHUNK_SIZE,
        )
        self.init_svix_signature(kwargs)
        super().__init__(**kwargs)

    def parse_events(self, request):
        payload = load_json(request.body, dict)
        resend_type = payload.get("type", "tracking")
        if resend_type != "email.received":
            raise AnymailConfigurationError(
                f"You seem to have set Resend's *{resend_type}* webhook"
                " to Anymail's Resend *inbound* webhook URL."
            )
        data = get_object(payload, "data") or {}
        email_id = data.get("email_id")
        if email_id is not None and not isinstance(email_id, str):
            raise TypeError("Resend email_id is not a string")
        message = None
        if email_id:
            # (a ValueError here, such as requests' InvalidURL for a bad
            # api_url or download_url, isn't a malformed webhook payload)
            with esp_api_errors(self.esp_name, f"fetch received email {email_id!r}"):
                message = self.fetch_message(email_id)
        return [
            AnymailInboundEvent(
                event_type=EventType.INBOUND,
                timestamp=optional_iso_datetime(payload.get("created_at")),
                event_id=self.event_id(request),
                esp_event=payload,
                message=message,
            )
        ]

    # -- fetching the message from Resend's API --------------------------------

    def fetch_message(self, email_id):
        """The received email `email_id`, as an AnymailInboundMessage.

        HTTP errors from Resend propagate (requests.HTTPError, a server error,
        so Resend retries the webhook later); an API response Anymail can't
        interpret raises AnymailAPIError.
        """
        url = f"{self.api_url}emails/receiving/{quote(email_id, safe='')}"
        auth = {"Authorization": f"Bearer {self.api_key}"}
        response = requests.get(url, headers=auth, timeout=esp_request_timeout())
        response.raise_for_status()
        with esp_api_errors(self.esp_name, f"read received email {email_id!r}"):
            details = response.json()
            if not isinstance(details, dict):
                raise TypeError("expected a JSON object")
            raw = details.get("raw")
            download_url = raw.get("download_url") if isinstance(raw, dict) else None
            if download_url is not None and not isinstance(download_url, str):
                raise TypeError("raw.download_url is not a string")
        if download_url:
            # (a signed URL: no auth)
            return download_raw_message(download_url, self.download_chunk_size)
        with esp_api_errors(self.esp_name, f"read received email {email_id!r}"):
            return self.construct_message(details)

    def construct_message(self, details):
        """Build the message from the API's parsed fields and attachments."""
        fields = {
            "from_email": _joined_addresses(details.get("from")),
            "to": _joined_addresses(details.get("to")),
            "cc": _joined_addresses(details.get("cc")),
            "bcc": _joined_addresses(details.get("bcc")),
            "subject": _optional_header_value(details.get("subject")),
        }
        # Don't let `headers` duplicate a header set from its own field
        # (two From headers would turn from_email into a list)
        replaced = _STRUCTURE_HEADERS | {
            _FIELD_HEADERS[name] for name, value in fields.items() if value is not None
        }
        headers = [
            (name, value)
            for name, value in _header_pairs(details.get("headers"))
            if name.lower() not in replaced
        ]
        attachments = [
            self.download_attachment(entry)
            for entry in get_list(details, "attachments")
        ]
        message = AnymailInboundMessage.construct(
            headers=headers,
            text=_optional_text(details.get("text")),
            html=_optional_text(details.get("html")),
            attachments=attachments,
            **fields,
        )
        reply_to = _joined_addresses(details.get("reply_to"))
        if reply_to and "Reply-To" not in message:
            message["Reply-To"] = reply_to
        message_id = _optional_header_value(details.get("message_id"))
        if message_id and "Message-ID" not in message:
            message["Message-ID"] = message_id
        return message

    def download_attachment(self, entry):
        """An attachment part for one `attachments` entry of the API response."""
        if not isinstance(entry, dict):
            raise TypeError("attachment entry is not a JSON object")
        url = entry.get("download_url")
        if not url or not isinstance(url, str):
            filename = entry.get("filename")
            raise ValueError(f"attachment {filename!r} has no download_url")
        response = requests.get(url, timeout=esp_request_timeout())
        response.raise_for_status()
        content_type = (
            response.headers.get("Content-Type")
            or entry.get("content_type")
            or "application/octet-stream"
        )
        filename = entry.get("filename")
        content_id = entry.get("content_id")
        return AnymailInboundMessage.construct_attachment(
            content_type=_header_value(content_type),
            content=response.content,
            filename=None if filename is None else _header_value(filename),
            content_id=None if content_id is None else _header_value(content_id),
        )


# -- helpers -----------------------------------------------------------------

# construct() keyword → the header it sets
_FIELD_HEADERS = {
    "from_email": "from",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "subject": "subject",
}
# The constructed message's own MIME structure headers
_STRUCTURE_HEADERS = {"mime-version", "content-type", "content-transfer-encoding"}


def _first_addr_spec(to):
    """addr_spec of data.to's first entry (None unless it is one valid address)."""
    if isinstance(to, list):
        to = to[0] if to else None
    return single_addr_spec(to)


def _header_lookup(headers):
    """{lowercased name: first value} from data.headers (list of name/value)."""
    found = {}
    for name, value in _header_pairs(headers):
        found.setdefault(name.lower(), value)
    return found


def _json_header(headers, name, expected_type, default):
    """A header holding JSON (X-Tags, X-Metadata), decoded; default if unusable."""
    try:
        value = json.loads(headers[name.lower()])
    except (KeyError, ValueError):
        return default
    return value if isinstance(value, expected_type) else default


def _header_pairs(headers):
    """(name, value) pairs from Resend's headers, in either of its shapes.

    An object maps each name to a string (one header) or a list (one header
    per item); a list holds {"name": ..., "value": ...} objects. Null values,
    and names that aren't strings, are skipped.
    """
    if headers is None:
        return
    if isinstance(headers, dict):
        items = headers.items()
    elif isinstance(headers, list):
        items = [
            (item.get("name"), item.get("value"))
            for item in headers
            if isinstance(item, dict)
        ]
    else:
        raise TypeError("Resend headers are neither a JSON object nor an array")
    for name, values in items:
        if not isinstance(name, str):
            continue
        for value in values if isinstance(values, list) else [values]:
            if value is not None:
                yield name, _header_value(value)


def _header_value(value):
    """`value` as text that can go in a header: no line breaks, no surrogates."""
    return re.sub(r"[\r\n]+", " ", _optional_text(value))


def _optional_header_value(value):
    return None if value is None else _header_value(value)


def _optional_text(value):
    """str(value), with any unencodable lone surrogate replaced; None stays None."""
    if value is None:
        return None
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _joined_addresses(value):
    """An address header value from a string or a list of them (None if empty)."""
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value if item)
    return _header_value(value) if value else None
