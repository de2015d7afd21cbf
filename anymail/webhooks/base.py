"""Shared machinery for Anymail's tracking and inbound webhook views.

A webhook view validates the request (shared HTTP Basic auth plus any ESP
signature check), turns the ESP's payload into normalized events, and sends one
signal per event. ESP views supply ``esp_name``, ``signal`` and
``parse_events(request)``, and may add ``validate_request(request)`` checks.
"""

import hashlib
import hmac
import json
import logging
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone

import requests
from django.http import HttpResponse, HttpResponseBadRequest
from django.http.multipartparser import MultiPartParserError
from django.utils.crypto import constant_time_compare
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View

from ..backends.base_requests import DEFAULT_REQUESTS_TIMEOUT
from ..exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInsecureWebhookWarning,
    AnymailInvalidAddress,
    AnymailWebhookValidationFailure,
)
from ..inbound import AnymailInboundMessage
from ..utils import (
    collect_all_methods,
    get_anymail_setting,
    get_request_basic_auth,
    missing_setting_error,
    parse_single_address,
)

try:
    from django.contrib.auth.decorators import login_not_required
except ImportError:  # Django < 5.1 has no LoginRequiredMiddleware

    def login_not_required(view_func):
        return view_func


logger = logging.getLogger("anymail.webhooks")

#: Errors an ESP view's parsing raises for a body that isn't what the ESP
#: sends (bad JSON, wrong shape, missing fields, undecodable data). Anymail
#: answers these with 400 rather than letting them become a 500.
MALFORMED_PAYLOAD_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)

INSECURE_WEBHOOK_WARNING = (
    "Your Anymail webhooks are insecure and open to anyone on the web. "
    "You should set WEBHOOK_SECRET in your ANYMAIL settings. "
    "See 'Securing webhooks' in the Anymail docs."
)


class AnymailCoreWebhookView(View):
    """Validate, parse, then send one signal per event; answer 200."""

    http_method_names = ["post", "head", "options"]

    #: the signal to send for each parsed event (anymail.signals.tracking or inbound)
    signal = None

    @property
    def esp_name(self):
        cls = type(self)
        raise NotImplementedError(
            f"{cls.__module__}.{cls.__name__} must declare esp_name class attr"
        )

    def __init__(self, **kwargs):
        # Every distinct validate_request along the MRO runs, so mixins and
        # subclasses add checks without calling super()
        self.validators = collect_all_methods(type(self), "validate_request")
        super().__init__(**kwargs)

    @method_decorator(csrf_exempt)
    @method_decorator(login_not_required)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def head(self, request, *args, **kwargs):
        # ESPs probe the URL with HEAD: answer without validating anything
        return HttpResponse()

    def post(self, request, *args, **kwargs):
        try:
            self.run_validators(request)
            events = list(self.parse_events(request))
        except MALFORMED_PAYLOAD_ERRORS as err:
            return self.malformed_payload_response(err)
        for event in events:
            self.signal.send(sender=type(self), event=event, esp_name=self.esp_name)
        return HttpResponse()

    def run_validators(self, request):
        for validator in self.validators:
            validator(self, request)

    def validate_request(self, request):
        """Raise AnymailWebhookValidationFailure if the request isn't genuine."""

    def parse_events(self, request):
        """Return the list of AnymailEvents in the request."""
        raise NotImplementedError()

    def malformed_payload_response(self, err):
        """400 for a body this ESP would never send; logged, nothing dispatched."""
        logger.warning(
            "Malformed %s webhook payload (%s: %s)",
            self.esp_name,
            type(err).__name__,
            err,
        )
        return HttpResponseBadRequest(
            f"Malformed {self.esp_name} webhook payload", content_type="text/plain"
        )


class AnymailBasicAuthMixin:
    """Require the WEBHOOK_SECRET HTTP Basic credentials, when one is set.

    WEBHOOK_SECRET is "user:password", or a list of them (any one matches, so
    credentials can be rotated). ``as_view(basic_auth=[...])`` overrides it.
    """

    warn_if_no_basic_auth = True
    basic_auth = None

    def __init__(self, **kwargs):
        configured = _as_list(get_anymail_setting("webhook_secret", default=None))
        if "basic_auth" in kwargs:
            self.basic_auth = _as_list(kwargs.pop("basic_auth"))
        else:
            self.basic_auth = configured
        if self.warn_if_no_basic_auth and not configured:
            warnings.warn(
                INSECURE_WEBHOOK_WARNING, AnymailInsecureWebhookWarning, stacklevel=2
            )
        super().__init__(**kwargs)

    def validate_request(self, request):
        if not self.basic_auth:
            return
        credentials = get_request_basic_auth(request)
        if credentials is None or not self.is_allowed_basic_auth(credentials):
            raise AnymailWebhookValidationFailure(
                f"Missing or invalid basic auth in Anymail {self.esp_name} webhook"
            )

    def is_allowed_basic_auth(self, credentials):
        # compare against every allowed value, so timing says nothing of which matched
        matches = [
            constant_time_compare(credentials, allowed) for allowed in self.basic_auth
        ]
        return any(matches)


class AnymailBaseWebhookView(AnymailBasicAuthMixin, AnymailCoreWebhookView):
    """Base for Anymail's ESP webhook views: basic auth plus the core flow."""


def _as_list(secret):
    if not secret:
        return []
    if isinstance(secret, str):
        return [secret]
    return list(secret)


# ---------------------------------------------------------------------------
# Reading ESP payloads: data an ESP wouldn't send raises ValueError or
# TypeError, which the view answers with a 400


def load_json(body, expected_type=None):
    """The JSON value in a request body (or form field): bytes or str.

    ValueError for anything that isn't JSON (including invalid UTF-8 and
    absurdly deep nesting); TypeError if `expected_type` (dict or list) is
    given and the JSON isn't one.
    """
    try:
        data = json.loads(body)
    except RecursionError as err:
        raise ValueError("JSON nested too deeply") from err
    if expected_type is not None and not isinstance(data, expected_type):
        expected = "object" if expected_type is dict else "array"
        raise TypeError(f"expected a JSON {expected}, not {type(data).__name__}")
    return data


def form_fields(request):
    """request.POST, with a body Django can't parse as a form raising ValueError.

    (Django raises MultiPartParserError for, e.g., multipart without a
    boundary; as a ValueError it gets the base view's "malformed payload" 400.)
    """
    try:
        return request.POST
    except MultiPartParserError as err:
        raise ValueError(f"Unparseable form body: {err}") from err


def get_str(data, key):
    """data[key] if it is a str; None if missing or null; TypeError otherwise."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key!r} is not a string: {value!r}")
    return value


def get_id(data, key):
    """Like get_str, but a JSON integer is accepted too (as its str)."""
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return get_str(data, key)


def get_list(data, key):
    """data[key] if it is a list; [] if missing or null; TypeError otherwise."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"{key!r} is not a JSON array: {value!r}")
    return value


def get_object(data, key):
    """data[key] if it is a dict; None if missing or null; TypeError otherwise."""
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"{key!r} is not a JSON object: {value!r}")
    return value


def header_pairs(headers, what="headers"):
    """(name, value) pairs from a JSON object of headers, in order.

    Each value is a string, or a list of strings for a repeated header (one
    pair each); null values are skipped. None or a missing object gives [].
    TypeError for anything else (`what` names the field in the message).
    """
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise TypeError(f"{what} is not a JSON object: {headers!r}")
    pairs = []
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            if value is None:
                continue
            if not isinstance(value, str):
                raise TypeError(f"{what} {name!r} is not a string: {value!r}")
            pairs.append((name, value))
    return pairs


def epoch_to_datetime(value, *, milliseconds=False):
    """Aware UTC datetime from a number of seconds (or ms) since the epoch.

    None stays None. TypeError for anything but an int or float; ValueError
    for a value out of datetime's range (or nan).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"epoch timestamp is not a number: {value!r}")
    seconds = value / 1000 if milliseconds else value
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError) as err:
        raise ValueError(f"epoch timestamp {value!r} is out of range") from err


def parse_iso_datetime(value):
    """Aware datetime from an ISO 8601 string ("Z", or no offset at all, is UTC).

    Fractions of a second beyond microseconds are truncated. TypeError if value
    isn't a str, ValueError if it isn't a valid ISO 8601 datetime.
    """
    if not isinstance(value, str):
        raise TypeError(f"timestamp is not a string: {value!r}")
    parsed = parse_datetime(value)  # ValueError if well-formed but impossible
    if parsed is None:
        raise ValueError(f"timestamp is not an ISO 8601 datetime: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def optional_iso_datetime(value):
    """parse_iso_datetime(value), or None for anything it would refuse.

    (For timestamps that don't matter enough to reject a payload over:
    missing, null, not a string, or not a valid ISO 8601 datetime.)
    """
    try:
        return parse_iso_datetime(value)
    except (TypeError, ValueError):
        return None


@contextmanager
def esp_api_errors(esp_name, what):
    """Errors inside this block come from calling the ESP, not from the webhook body.

    The base view answers ValueError & co. raised while parsing as a malformed
    payload (400). A view that calls the ESP's API or downloads content while
    parsing wraps those calls in this, so a bad API answer, an unusable URL or
    a client-settings problem becomes AnymailAPIError "Couldn't <what>" (500:
    the ESP will retry). Other errors (requests.HTTPError, boto ClientError)
    pass through unchanged.
    """
    try:
        yield
    except MALFORMED_PAYLOAD_ERRORS as err:
        raise AnymailAPIError(f"Couldn't {what}", esp_name=esp_name) from err


def esp_request_timeout():
    """The timeout for a webhook view's calls to the ESP (REQUESTS_TIMEOUT).

    (django-anymail makes these calls without one: a stalled download would
    hold the request's worker indefinitely.)
    """
    return get_anymail_setting("requests_timeout", default=DEFAULT_REQUESTS_TIMEOUT)


def download_raw_message(url, chunk_size):
    """The AnymailInboundMessage at `url`, parsed as it streams in.

    For an ESP's download link that needs no auth (e.g. a presigned URL). An
    HTTP error raises requests.HTTPError (a 500, so the ESP retries later).
    """
    with requests.get(url, stream=True, timeout=esp_request_timeout()) as response:
        response.raise_for_status()
        return AnymailInboundMessage.parse_raw_mime_chunks(
            response.iter_content(chunk_size)
        )


def single_addr_spec(address):
    """The addr_spec of a str holding exactly one valid email address, else None."""
    if not isinstance(address, str):
        return None
    try:
        return parse_single_address(address).addr_spec
    except AnymailInvalidAddress:
        return None


# ---------------------------------------------------------------------------
# Signature checks


def signing_key_bytes(key, *, setting_name, esp_name, allow_bare=False):
    """A required signing key setting's value, as bytes for HMAC.

    `setting_name` is the setting's full name (e.g. "MANDRILL_WEBHOOK_KEY");
    `allow_bare` says whether the bare setting is read too (for the message).
    AnymailConfigurationError if the key is missing or empty (an empty key
    would let anyone sign requests), or is text that isn't ASCII.
    """
    if not key:
        raise missing_setting_error(setting_name, allow_bare=allow_bare)
    if isinstance(key, bytes):
        return key
    try:
        return str(key).encode("ascii")
    except UnicodeEncodeError:
        raise AnymailConfigurationError(
            f"{setting_name} must be ASCII text: use it exactly as {esp_name} shows it"
        ) from None


def hmac_sha256_hexdigest(key, msg):
    """The lowercase hex HMAC-SHA256 of `msg` (bytes), keyed with `key` (bytes)."""
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def check_body_hmac_signature(request, *, header, key, esp_name, setting_name):
    """Require the `header` header to be the hex HMAC-SHA256 of the request body.

    Raises AnymailWebhookValidationFailure if the header is missing or
    doesn't match (`setting_name` names the setting holding `key`, as a hint).
    """
    signature = request.headers.get(header)
    if signature is None:
        raise AnymailWebhookValidationFailure(
            f"{esp_name} webhook called without signature"
        )
    expected = hmac_sha256_hexdigest(key, request.body)
    if not constant_time_compare(signature, expected):
        raise AnymailWebhookValidationFailure(
            f"{esp_name} webhook called with incorrect signature"
            f" (check Anymail {setting_name} setting)"
        )


def load_public_key(key, *, key_type, setting_name, hint, install_extra):
    """The `cryptography` public key in a setting, for checking signatures.

    `key` is a PEM public key, or just its base64 body (as ESPs show them).
    `key_type` is "RSA" or "EC". Raises AnymailImproperlyInstalled if the
    cryptography package isn't installed, and AnymailConfigurationError naming
    `setting_name` (with `hint` on where to find the right key) if `key` isn't
    a public key of that type.
    """
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
    except ImportError as err:
        raise AnymailImproperlyInstalled(
            missing_package="cryptography", install_extra=install_extra
        ) from err
    key_class, description = {
        "RSA": (rsa.RSAPublicKey, "an RSA public key"),
        "EC": (ec.EllipticCurvePublicKey, "an elliptic curve (ECDSA) public key"),
    }[key_type]

    if isinstance(key, bytes):
        key = key.decode("ascii", errors="replace")
    key = str(key).strip()
    if "-----BEGIN" in key:
        pem = key
    else:
        pem = f"-----BEGIN PUBLIC KEY-----\n{key}\n-----END PUBLIC KEY-----\n"
    try:
        public_key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        # a server misconfiguration (500), not a bad request (400)
        raise AnymailConfigurationError(
            f"Invalid {setting_name}: {hint} ({err})"
        ) from err
    if not isinstance(public_key, key_class):
        raise AnymailConfigurationError(
            f"Invalid {setting_name}: it must be {description}"
        )
    return public_key
