"""The ESP-independent send pipeline: message -> payload -> API call -> status."""

import base64
import functools
import json
import re
import secrets
import warnings
from collections.abc import Mapping
from datetime import date, datetime, timezone
from types import MappingProxyType

from django.core.mail.backends.base import BaseEmailBackend
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.timezone import get_current_timezone, is_naive, make_aware
from requests.structures import CaseInsensitiveDict

from .. import _idna
from ..exceptions import (
    AnymailCancelSend,
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailInvalidMailer,
    AnymailRecipientsRefused,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from ..message import AnymailStatus
from ..signals import post_send, pre_send
from ..utils import (
    BASIC_NUMERIC_TYPES,
    UNSET,
    Attachment,
    concat_lists,
    force_non_lazy,
    force_non_lazy_dict,
    force_non_lazy_list,
    get_anymail_setting,
    last,
    merge_dicts_deep,
    merge_dicts_one_level,
    merge_dicts_shallow,
    parse_address_list,
    parse_single_address,
)

DEFAULT_IDNA_ENCODER = "idna2008"
BUILTIN_IDNA_ENCODERS = ("idna2003", "idna2008", "uts46", "none")


class AnymailBaseBackend(BaseEmailBackend):
    """Base for Anymail EmailBackends: runs the send pipeline for each message.

    Subclasses set `esp_name`, read their own settings (with
    get_anymail_setting(..., kwargs=kwargs)) before calling super().__init__,
    and implement build_message_payload, post_to_esp and parse_recipient_status.
    """

    esp_name = None

    def __init__(self, fail_silently=False, **kwargs):
        if fail_silently:
            warnings.warn(
                "Anymail will drop support for fail_silently after Django 6.2.",
                DeprecationWarning,
                stacklevel=2,
            )
        alias = kwargs.get("alias")
        self.ignore_unsupported_features = get_anymail_setting(
            "ignore_unsupported_features", kwargs=kwargs, default=False
        )
        self.ignore_recipient_status = get_anymail_setting(
            "ignore_recipient_status", kwargs=kwargs, default=False
        )
        self.debug_api_requests = get_anymail_setting(
            "debug_api_requests", kwargs=kwargs, default=False
        )
        self.send_defaults = self._read_send_defaults(kwargs)
        self.idna_encoder = get_anymail_setting(
            "idna_encoder", esp_name=self.esp_name, kwargs=kwargs, default=None
        ) or get_anymail_setting("idna_encoder", default=DEFAULT_IDNA_ENCODER)
        self._idna_encode = _resolve_idna_encoder(self.idna_encoder, alias)
        super().__init__(**kwargs)  # the rest (incl. Django 6.1's alias) to Django
        self.fail_silently = fail_silently

    def _read_send_defaults(self, kwargs):
        """Global SEND_DEFAULTS, updated key by key with <ESP>_SEND_DEFAULTS."""
        defaults = dict(get_anymail_setting("send_defaults", default={}))
        esp_defaults = get_anymail_setting(
            "send_defaults", esp_name=self.esp_name, kwargs=kwargs, default=None
        )
        if esp_defaults is not None:
            defaults.update(esp_defaults)
        return defaults

    def open(self):
        return False

    def close(self):
        pass

    def send_messages(self, email_messages):
        """Send each message; returns the number sent."""
        if not email_messages:
            return 0
        sent_count = 0
        created_connection = self.open()
        try:
            for message in email_messages:
                try:
                    sent = self._send(message)
                except AnymailError:
                    if not self.fail_silently:
                        raise
                    sent = False
                if sent:
                    sent_count += 1
        finally:
            if created_connection:
                self.close()
        return sent_count

    def _send(self, message):
        """Send one message; True if it was sent, False if cancelled or skipped."""
        message.anymail_status = AnymailStatus()
        if not self.run_pre_send(message):
            return False
        if not message.recipients():
            return False
        payload = self.build_message_payload(message, self.send_defaults)
        response = self.post_to_esp(payload, message)
        message.anymail_status.esp_response = response
        recipient_status = self.parse_recipient_status(response, payload, message)
        message.anymail_status.set_recipient_status(recipient_status)
        self.run_post_send(message)
        self.raise_for_recipient_status(
            message.anymail_status, response, payload, message
        )
        return True

    def run_pre_send(self, message):
        """Send the pre_send signal; False if a receiver cancelled the send."""
        try:
            pre_send.send(type(self), message=message, esp_name=self.esp_name)
        except AnymailCancelSend:
            return False
        return True

    def run_post_send(self, message):
        """Send post_send to every receiver, then re-raise the first error."""
        results = post_send.send_robust(
            type(self),
            message=message,
            status=message.anymail_status,
            esp_name=self.esp_name,
        )
        for _receiver, result in results:
            if isinstance(result, Exception):
                raise result

    def raise_for_recipient_status(self, anymail_status, response, payload, message):
        """Raise AnymailRecipientsRefused if no recipient was accepted."""
        if self.ignore_recipient_status:
            return
        if anymail_status.status <= {"invalid", "rejected"}:
            raise AnymailRecipientsRefused(
                email_message=message, payload=payload, response=response, backend=self
            )

    def idna_encode(self, domain):
        """Encode a (non-ASCII) domain with the configured IDNA_ENCODER."""
        try:
            return self._idna_encode(domain)
        except ValueError as err:
            raise AnymailInvalidAddress(
                f"Cannot encode '{domain}' using IDNA_ENCODER={self.idna_encoder!r}"
            ) from err

    def build_message_payload(self, message, defaults):
        """Return a BasePayload for `message`. (Abstract.)"""
        raise NotImplementedError(
            f"{type(self).__name__} must implement build_message_payload"
        )

    def post_to_esp(self, payload, message):
        """Call the ESP API with `payload`; return its raw response. (Abstract.)"""
        raise NotImplementedError(f"{type(self).__name__} must implement post_to_esp")

    def parse_recipient_status(self, response, payload, message):
        """Return {addr_spec: AnymailRecipientStatus} from the response. (Abstract.)"""
        raise NotImplementedError(
            f"{type(self).__name__} must implement parse_recipient_status"
        )


def _resolve_idna_encoder(value, alias):
    """The encoder function named by an IDNA_ENCODER setting value."""
    try:
        if isinstance(value, str):
            if "." in value:
                encoder = import_string(value)
            elif value in BUILTIN_IDNA_ENCODERS:
                encoder = getattr(_idna, value)
            else:
                raise ValueError(f"Unknown IDNA encoder name {value!r}")
        else:
            encoder = value
        if not callable(encoder):
            raise TypeError(f"IDNA encoder {encoder!r} is not callable")
    except (ImportError, AttributeError, TypeError, ValueError) as err:
        error_class = AnymailInvalidMailer if alias is not None else None
        message = f"Cannot resolve IDNA_ENCODER={value!r}"
        if error_class is None:
            raise AnymailConfigurationError(message) from err
        raise AnymailInvalidMailer(message, alias=alias) from err
    return encoder


# ---------------------------------------------------------------------------
# Payloads


def _address_list(field):
    return functools.partial(parse_address_list, field=field)


def _single_address(field):
    return functools.partial(parse_single_address, field=field)


def _alternatives(alternatives):
    return [(force_non_lazy(content), mimetype) for content, mimetype in alternatives]


def _attachments(attachments):
    return [Attachment(attachment) for attachment in attachments]


LIST_ATTRS = ("to", "cc", "bcc", "reply_to")

# Attrs whose processing goes through a BasePayload method of its own (that
# also runs when the attr is unset: a From or Reply-To header can stand in)
_SPECIAL_SETTERS = {"from_email": "_set_from", "reply_to": "_set_reply_to"}
_SETTERS_CALLED_WHEN_UNSET = frozenset([*_SPECIAL_SETTERS.values(), "_set_headers"])

# Headers that mirror Django's SMTP handling rather than going to the ESP as-is
SPECIAL_HEADERS = ("From", "Reply-To", "To")

#: extra_headers' (combiner, converter)
_EXTRA_HEADERS_RULE = (merge_dicts_shallow, force_non_lazy_dict)


def _combined_value(message, defaults, attr, combiner, converter):
    """The message's attr combined with its send default, then converted."""
    value = getattr(message, attr, UNSET)
    if combiner is not None:
        value = combiner(defaults.get(attr, UNSET), value)
    if value is not UNSET and converter is not None:
        value = converter(value)
    return value


#: What a combiner does to a message value alone (without a send default),
#: where a builtin does the same: last(value) is value, concat_lists(value) is
#: list(value), merge_dicts_shallow(value) is dict(value)
_SINGLE_VALUE_COMBINERS = {
    None: None,
    last: None,
    concat_lists: list,
    merge_dicts_shallow: dict,
}


def _plan_step(cls, attr, combiner, converter):
    """One step of BasePayload._attr_plan (see there)."""
    if attr == "extra_headers":
        return (attr, None, None, None, "_set_headers", False, False)
    return (
        attr,
        _SINGLE_VALUE_COMBINERS.get(combiner, combiner),
        combiner,
        converter,
        _SPECIAL_SETTERS.get(attr, f"set_{attr}"),
        attr in LIST_ATTRS,
        attr in cls.batch_attrs,
    )


class BasePayload:
    """Builds an ESP API payload from an EmailMessage and send defaults.

    The constructor calls init_payload(), then set_<attr>(value) for each
    attribute in processing order whose combined value is set. ESP payloads
    override the setters for what they support; the defaults report the
    feature as unsupported.
    """

    # (attr, combiner, converter), in processing order; combiner None means
    # send defaults are ignored for that attribute
    base_message_attrs = (
        ("from_email", last, _address_list("from_email")),
        ("to", concat_lists, _address_list("to")),
        ("cc", concat_lists, _address_list("cc")),
        ("bcc", concat_lists, _address_list("bcc")),
        ("subject", last, force_non_lazy),
        ("reply_to", concat_lists, _address_list("reply_to")),
        ("extra_headers", merge_dicts_shallow, force_non_lazy_dict),
        ("body", last, force_non_lazy),
        ("alternatives", concat_lists, _alternatives),
        ("attachments", concat_lists, _attachments),
    )
    anymail_message_attrs = (
        ("envelope_sender", last, _single_address("envelope_sender")),
        ("metadata", merge_dicts_shallow, force_non_lazy_dict),
        ("send_at", last, "aware_datetime"),
        ("tags", concat_lists, force_non_lazy_list),
        ("track_clicks", last, None),
        ("track_opens", last, None),
        ("template_id", last, force_non_lazy),
        ("merge_data", merge_dicts_one_level, force_non_lazy_dict),
        ("merge_global_data", merge_dicts_shallow, force_non_lazy_dict),
        ("merge_headers", None, None),
        ("merge_metadata", merge_dicts_one_level, force_non_lazy_dict),
        ("esp_extra", merge_dicts_deep, force_non_lazy_dict),
    )
    esp_message_attrs = ()  # ESP-specific extra attributes
    batch_attrs = ("merge_data", "merge_headers", "merge_metadata")

    def __init__(self, message, defaults, backend):
        self.message = message
        self.defaults = defaults
        self.backend = backend
        self.esp_name = backend.esp_name
        self._batch_attrs_used = None  # known only after all attrs are processed
        self._text_body_set = False
        self._html_body_set = False
        self.init_payload()
        self._process_attrs()

    # -- processing -------------------------------------------------------

    def _process_attrs(self):
        message, defaults = self.message, self.defaults
        self._split_special_headers(
            _combined_value(message, defaults, "extra_headers", *_EXTRA_HEADERS_RULE)
        )
        batch_attrs_used = {}
        for step in self._attr_plan():
            attr, single, combiner, converter, setter, is_list, is_batch = step
            value = getattr(message, attr, UNSET)
            if is_list and isinstance(value, (str, Promise)):
                self.validate_not_bare_string(attr, value)
            if combiner is None:
                pass  # (send defaults are ignored)
            elif attr in defaults:
                value = combiner(defaults[attr], value)
            elif value is None:
                value = UNSET  # (None overrides send defaults; alone, it's unset)
            elif single is not None and value is not UNSET:
                value = single(value)
            if value is not UNSET:
                if isinstance(converter, str):  # a payload method's name
                    value = getattr(self, converter)(value)
                elif converter is not None:
                    value = converter(value)
                getattr(self, setter)(value)
            elif setter in _SETTERS_CALLED_WHEN_UNSET:
                getattr(self, setter)(value)
            if is_batch:
                batch_attrs_used[attr] = value is not UNSET
        self._batch_attrs_used = batch_attrs_used

    @classmethod
    def _attr_plan(cls):
        """What to do for each attribute, in processing order (built once per class).

        Each step is (attr, single, combiner, converter, setter name, is a list
        attr, is a batch attr). `combiner` merges send defaults with the message's
        value (None: defaults are ignored); `single` is what it does to a
        message value alone (None: nothing); a str `converter` names a payload
        method (looked up on each payload, so subclasses can override it).
        extra_headers' step only calls
        _set_headers: its value is combined before all the steps, for the
        special headers (see _split_special_headers).
        """
        plan = cls.__dict__.get("_attr_plan_cache")
        if plan is None:
            attrs = (
                cls.base_message_attrs
                + cls.anymail_message_attrs
                + cls.esp_message_attrs
            )
            plan = tuple(
                _plan_step(cls, attr, combiner, converter)
                for attr, combiner, converter in attrs
            )
            cls._attr_plan_cache = plan
        return plan

    def _split_special_headers(self, headers):
        """Keep From, Reply-To and To headers apart from the other extra_headers."""
        if headers is UNSET or not headers:
            self._headers = {}
            self._header_from = self._header_reply_to = self._header_to = None
            return
        self._headers = CaseInsensitiveDict(headers)
        self._header_from = self._headers.pop("From", None)
        self._header_reply_to = self._headers.pop("Reply-To", None)
        self._header_to = self._headers.pop("To", None)

    def _set_from(self, from_email):
        """from_email, or a From header (then from_email is the envelope sender)."""
        if self._header_from is None:
            if from_email is not UNSET:
                self.set_from_email_list(from_email)
            return
        self.set_from_email_list(
            parse_address_list(self._header_from, field="extra_headers['From']")
        )
        original_from = getattr(self.message, "from_email", None)
        if original_from:
            self.set_envelope_sender(
                parse_single_address(original_from, field="from_email")
            )

    def _set_reply_to(self, reply_to):
        """reply_to, replaced by a non-empty Reply-To header."""
        if self._header_reply_to:
            reply_to = parse_address_list(
                self._header_reply_to, field="extra_headers['Reply-To']"
            )
        if reply_to is not UNSET:
            self.set_reply_to(reply_to)

    def _set_headers(self, _unused=None):
        """(extra_headers' step: the headers were combined and split already)"""
        if self._header_to is not None:
            self.set_spoofed_to_header(self._header_to)
        if self._headers:
            self.set_extra_headers(self._headers)

    def is_batch(self):
        """True if each `to` recipient gets their own message (merge_* is set)."""
        if self._batch_attrs_used is None:
            raise AssertionError("Cannot call is_batch before all attributes processed")
        return any(self._batch_attrs_used.values())

    def unsupported_feature(self, feature):
        """Raise AnymailUnsupportedFeature, unless unsupported features are ignored."""
        if not self.backend.ignore_unsupported_features:
            raise AnymailUnsupportedFeature(
                f"{self.esp_name} does not support {feature}",
                email_message=self.message,
                payload=self,
                backend=self.backend,
            )

    # -- helpers for ESP payloads -----------------------------------------

    def serialize_json(self, data):
        """JSON-encode `data`, raising AnymailSerializationError if impossible.

        Returns a str, or a bytearray (UTF-8 JSON) when `data` holds large
        Base64Bytes: their base64 is then written straight into the body, without
        keeping a full-size base64 str and a JSON str of it as well. (Small ones
        are simply inlined.)
        """
        try:
            try:
                return _INLINING_JSON_ENCODER.encode(data)
            except _LargeBase64Bytes:
                return _serialize_json_streaming_base64(data)
        except TypeError as err:
            raise AnymailSerializationError(
                orig_err=err,
                email_message=self.message,
                backend=self.backend,
                payload=self,
            ) from None

    @staticmethod
    def aware_datetime(value):
        """Normalize send_at: datetime/date/timestamp to an aware datetime."""
        if isinstance(value, datetime):
            if is_naive(value):
                return make_aware(value, get_current_timezone())
            return value
        if isinstance(value, date):
            midnight = datetime(value.year, value.month, value.day)
            return make_aware(midnight, get_current_timezone())
        if isinstance(value, BASIC_NUMERIC_TYPES):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        return value  # anything else is passed through (not portable)

    @staticmethod
    def validate_not_bare_string(attr, value):
        if isinstance(value, (str, Promise)):
            raise TypeError(f'"{attr}" attribute must be a list or other iterable')

    # -- abstract: every ESP payload implements these ---------------------

    def init_payload(self):
        raise NotImplementedError(f"{type(self).__name__} must implement init_payload")

    def set_from_email(self, email):
        raise NotImplementedError(
            f"{type(self).__name__} must implement set_from_email"
            " or set_from_email_list"
        )

    def add_recipient(self, recipient_type, email):
        raise NotImplementedError(
            f"{type(self).__name__} must implement add_recipient or set_recipients"
        )

    def set_subject(self, subject):
        raise NotImplementedError(f"{type(self).__name__} must implement set_subject")

    def set_text_body(self, body):
        raise NotImplementedError(f"{type(self).__name__} must implement set_text_body")

    def set_html_body(self, body):
        raise NotImplementedError(f"{type(self).__name__} must implement set_html_body")

    def add_attachment(self, attachment):
        raise NotImplementedError(
            f"{type(self).__name__} must implement add_attachment or set_attachments"
        )

    # -- default setters ----------------------------------------------------

    def set_from_email_list(self, emails):
        if len(emails) > 1:
            self.unsupported_feature("multiple from emails")
        if emails:
            self.set_from_email(emails[0])

    def set_to(self, emails):
        self.set_recipients("to", emails)

    def set_cc(self, emails):
        self.set_recipients("cc", emails)

    def set_bcc(self, emails):
        self.set_recipients("bcc", emails)

    def set_recipients(self, recipient_type, emails):
        for email in emails:
            self.add_recipient(recipient_type, email)

    def set_body(self, body):
        """Route the body by content_subtype: plain, html, or an alternative part."""
        subtype = getattr(self.message, "content_subtype", "plain")
        if subtype == "plain":
            self.set_text_body(body)
            self._text_body_set = body != ""
        elif subtype == "html":
            self.set_html_body(body)
            self._html_body_set = body != ""
        else:
            self.add_alternative(body, f"text/{subtype}")

    def set_alternatives(self, alternatives):
        for content, mimetype in alternatives:
            kind = mimetype.lower() if isinstance(mimetype, str) else mimetype
            if kind == "text/plain" and not self._text_body_set:
                self.set_text_body(content)
                self._text_body_set = True
            elif kind == "text/html" and not self._html_body_set:
                self.set_html_body(content)
                self._html_body_set = True
            else:
                self.add_alternative(content, mimetype)

    def add_alternative(self, content, mimetype):
        kind = mimetype.lower() if isinstance(mimetype, str) else mimetype
        if kind == "text/plain":
            self.unsupported_feature("multiple plaintext parts")
        elif kind == "text/html":
            self.unsupported_feature("multiple html parts")
        else:
            self.unsupported_feature(f"alternative part with type '{mimetype}'")

    def set_attachments(self, attachments):
        for attachment in attachments:
            self.add_attachment(attachment)

    def set_reply_to(self, emails):
        if emails:  # Django's default reply_to=[] doesn't use the feature
            self.unsupported_feature("reply_to")

    def set_extra_headers(self, headers):
        self.unsupported_feature("extra_headers")

    def set_spoofed_to_header(self, header_to):
        self.unsupported_feature("spoofing `To` header")

    def set_envelope_sender(self, email):
        self.unsupported_feature("envelope_sender")

    def set_metadata(self, metadata):
        self.unsupported_feature("metadata")

    def set_send_at(self, send_at):
        self.unsupported_feature("send_at")

    def set_tags(self, tags):
        self.unsupported_feature("tags")

    def set_track_clicks(self, track_clicks):
        self.unsupported_feature("track_clicks")

    def set_track_opens(self, track_opens):
        self.unsupported_feature("track_opens")

    def set_template_id(self, template_id):
        self.unsupported_feature("template_id")

    def set_merge_data(self, merge_data):
        self.unsupported_feature("merge_data")

    def set_merge_headers(self, merge_headers):
        self.unsupported_feature("merge_headers")

    def set_merge_global_data(self, merge_global_data):
        self.unsupported_feature("merge_global_data")

    def set_merge_metadata(self, merge_metadata):
        self.unsupported_feature("merge_metadata")

    def set_esp_extra(self, extra):
        self.unsupported_feature("esp_extra")


class DeferredMergeMixin:
    """Keeps the per-recipient merge_* attributes for ESP payloads that build the
    per-recipient parts of a batch send when serializing.

    Put it before the payload base class; unset attributes read as empty.
    (An explicit merge_headers=None still makes the send a batch: kept as {}.)
    """

    merge_data = merge_global_data = merge_headers = merge_metadata = MappingProxyType(
        {}
    )

    def set_merge_data(self, merge_data):
        self.merge_data = merge_data

    def set_merge_headers(self, merge_headers):
        self.merge_headers = merge_headers or {}

    def set_merge_metadata(self, merge_metadata):
        self.merge_metadata = merge_metadata


def _json_default(obj):
    """Serialize mappings (e.g. case-insensitive header dicts) as plain objects,
    and lazy strings (wherever they are, e.g. in lists in merge_data) as str."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, Promise):
        return str(obj)
    raise TypeError(f"Object of type '{type(obj).__name__}' is not JSON serializable")


class _LargeBase64Bytes(Exception):
    """Raised by the inlining encoder on meeting Base64Bytes it shouldn't inline."""


def _inlining_default(obj):
    if isinstance(obj, Base64Bytes):
        if obj.size > BASE64_INLINE_LIMIT:
            raise _LargeBase64Bytes
        return obj.b64str()
    return _json_default(obj)


#: json.dumps(data, default=...)'s encoder, made once (it holds no state)
_INLINING_JSON_ENCODER = json.JSONEncoder(default=_inlining_default)


def _serialize_json_streaming_base64(data):
    """serialize_json for data with large Base64Bytes: UTF-8 bytearray JSON."""
    markers = []
    token = secrets.token_hex(16)

    def default(obj):
        if isinstance(obj, Base64Bytes):
            markers.append(obj)
            return f"anymail-base64-{token}-{len(markers) - 1}"
        return _json_default(obj)

    serialized = json.dumps(data, default=default)
    return _expand_base64_placeholders(serialized, token, markers)


class Base64Bytes:
    """Raw bytes that serialize_json emits as a base64 JSON string.

    Holds a reference to the bytes (no copy); the base64 text is only ever
    produced in chunks, directly into the serialized request body.
    """

    __slots__ = ("raw", "size")

    def __init__(self, raw):
        self.raw = raw
        #: in bytes (len() would count items of e.g. an array or memoryview)
        self.size = len(raw) if isinstance(raw, bytes) else memoryview(raw).nbytes

    @property
    def encoded_length(self):
        return 4 * ((self.size + 2) // 3)

    def b64str(self):
        """The whole base64 text, as an ASCII str."""
        return base64.b64encode(self.raw).decode("ascii")

    def __eq__(self, other):
        if isinstance(other, Base64Bytes):
            return self.raw == other.raw
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"Base64Bytes(len={self.size})"


#: Largest Base64Bytes (raw size) serialize_json inlines as a plain str
BASE64_INLINE_LIMIT = 64 * 1024

#: Bytes of raw data base64-encoded at a time (a multiple of 3, so the pieces'
#: base64 concatenates to the whole's)
_BASE64_CHUNK = 3 * 64 * 1024


#: serialize_json's placeholder for a Base64Bytes: per-call random token, index
_BASE64_PLACEHOLDER = re.compile(r'"anymail-base64-([0-9a-f]{32})-([0-9]+)"')


def _expand_base64_placeholders(serialized, token, markers):
    """UTF-8 bytearray of JSON `serialized`, with each marker's base64 in place
    of its placeholder string."""
    # (json.dumps's default ensure_ascii output is pure ASCII)
    pieces = []  # alternating JSON text (bytes) and Base64Bytes
    size = 0
    pos = 0
    for match in _BASE64_PLACEHOLDER.finditer(serialized):
        if match.group(1) != token:
            continue  # (not ours: some other text that happens to look alike)
        text = serialized[pos : match.start()].encode("utf-8")
        marker = markers[int(match.group(2))]
        pieces.append(text)
        pieces.append(marker)
        size += len(text) + 2 + marker.encoded_length
        pos = match.end()
    text = serialized[pos:].encode("utf-8")
    pieces.append(text)
    size += len(text)
    del serialized

    body = bytearray(size)
    view = memoryview(body)
    offset = 0
    for piece in pieces:
        if isinstance(piece, Base64Bytes):
            view[offset] = 0x22  # '"'
            offset += 1
            raw = memoryview(piece.raw).cast("B")
            for start in range(0, len(raw), _BASE64_CHUNK):
                chunk = base64.b64encode(raw[start : start + _BASE64_CHUNK])
                view[offset : offset + len(chunk)] = chunk
                offset += len(chunk)
            view[offset] = 0x22
            offset += 1
        else:
            view[offset : offset + len(piece)] = piece
            offset += len(piece)
    view.release()
    assert offset == size
    return body
