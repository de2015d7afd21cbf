"""Brevo (formerly Sendinblue): sends through Brevo's v3 transactional email API."""

from datetime import datetime

from requests.structures import CaseInsensitiveDict

from ..message import AnymailRecipientStatus
from ..utils import BASIC_NUMERIC_TYPES, get_anymail_setting, has_specials
from .base import Base64Bytes, DeferredMergeMixin
from .base_requests import AnymailRequestsBackend, RequestsPayload, json_api_headers

DEFAULT_API_URL = "https://api.brevo.com/v3/"

# The header Brevo returns as "X-Mailin-custom" in tracking events
METADATA_HEADER = "X-Mailin-custom"


class EmailBackend(AnymailRequestsBackend):
    """Brevo v3 transactional email (smtp/email) EmailBackend."""

    esp_name = "Brevo"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        api_url = self.get_api_url_setting(kwargs, default=DEFAULT_API_URL)
        # Brevo mishandles some display names and non-ASCII header values;
        # these (undocumented) settings turn off Anymail's precautions
        self.workaround_display_name_bugs = get_anymail_setting(
            "workaround_display_name_bugs",
            esp_name=esp_name,
            kwargs=kwargs,
            default=True,
        )
        self.prevent_header_encoding_bugs = get_anymail_setting(
            "prevent_header_encoding_bugs",
            esp_name=esp_name,
            kwargs=kwargs,
            default=True,
        )
        # The same request headers for every message: build them once
        self.api_headers = json_api_headers({"api-key": api_key}, accept_json=False)
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return BrevoPayload(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        # Brevo reports no per-recipient results: only the id(s) it assigned
        message_id, to_message_ids = None, []
        if response.content:  # (an empty success response is allowed)
            parsed = self.deserialize_json_response(response, payload, message)
            try:
                message_id, to_message_ids = _parse_message_ids(parsed)
            except (KeyError, TypeError) as err:
                raise self.invalid_response_format(response, payload, message) from err
        status = AnymailRecipientStatus(message_id=message_id, status="queued")
        recipient_status = {email.addr_spec: status for email in payload.all_recipients}
        # A batch send has one id per `to` recipient, in order
        to_ids = zip(payload.to_recipients, to_message_ids, strict=False)
        for email, to_message_id in to_ids:
            recipient_status[email.addr_spec] = AnymailRecipientStatus(
                message_id=to_message_id, status="queued"
            )
        return recipient_status


def _parse_message_ids(parsed):
    """(messageId, messageIds list) from a send response; raises if neither."""
    if not isinstance(parsed, dict):
        raise TypeError("response is not a JSON object")
    if "messageId" in parsed:
        message_id, message_ids = parsed["messageId"], []
    else:
        message_id, message_ids = None, parsed["messageIds"]
        if not isinstance(message_ids, list):
            raise TypeError("messageIds is not a list")
    for value in [message_id, *message_ids]:
        if value is not None and not isinstance(value, (str, int)):
            raise TypeError(f"message id {value!r} is not a string or number")
    return message_id, message_ids


def has_encoding_problem(value):
    """True for a string Brevo would garble in a header (non-ASCII, or `\\u`)."""
    return isinstance(value, str) and (not value.isascii() or "\\u" in value)


class BrevoPayload(DeferredMergeMixin, RequestsPayload):
    """A Brevo smtp/email request body."""

    def __init__(self, message, defaults, backend, *args, **kwargs):
        headers = dict(backend.api_headers)
        super().__init__(message, defaults, backend, *args, headers=headers, **kwargs)

    def get_api_endpoint(self):
        return "smtp/email"

    def init_payload(self):
        self.data = {}
        self.all_recipients = []  # EmailAddress: to, cc and bcc
        self.to_recipients = []  # EmailAddress, for batch message ids
        self.to_addresses = []  # Brevo address objects, for messageVersions
        self.metadata = {}
        self.merge_data = {}
        self.merge_headers = {}
        self.merge_metadata_json = {}  # to email -> X-Mailin-custom value

    def serialize_data(self):
        data = dict(self.data)
        if self.is_batch():
            data.pop("to", None)
            data["messageVersions"] = [
                self._message_version(address) for address in self.to_addresses
            ]
        if not data.get("headers"):
            data.pop("headers", None)
        return self.serialize_json(data)

    def _message_version(self, address):
        """The messageVersions item for one `to` recipient of a batch send."""
        email = address["email"]
        version = {"to": [address]}
        if email in self.merge_data:
            version["params"] = self.merge_data[email]
        headers = CaseInsensitiveDict()
        if email in self.merge_metadata_json:
            headers[METADATA_HEADER] = self.merge_metadata_json[email]
        headers.update(self.merge_headers.get(email, {}))
        if headers:
            version["headers"] = headers
        return version

    # -- helpers ------------------------------------------------------------

    @property
    def headers_data(self):
        """The top-level "headers" object (created on first use)."""
        return self.data.setdefault("headers", CaseInsensitiveDict())

    def _address(self, email):
        """A Brevo {"email", "name"} object for an EmailAddress."""
        # Brevo garbles non-ASCII display names that need quoting: send those
        # as RFC 2047 encoded-words instead
        use_rfc2047 = self.backend.workaround_display_name_bugs and has_specials(
            email.display_name
        )
        return email.as_dict(
            use_rfc2047=use_rfc2047, idna_encode=self.backend.idna_encode
        )

    def check_header_value(self, value, feature):
        """Report a header value Brevo would send incorrectly encoded."""
        if self.backend.prevent_header_encoding_bugs and has_encoding_problem(value):
            self.unsupported_feature(feature)

    # -- Django message attributes ----------------------------------------

    def set_from_email(self, email):
        self.data["sender"] = self._address(email)

    def set_recipients(self, recipient_type, emails):
        if not emails:
            return
        addresses = [self._address(email) for email in emails]
        self.data[recipient_type] = addresses  # "to", "cc" or "bcc"
        self.all_recipients.extend(emails)
        if recipient_type == "to":
            self.to_recipients.extend(emails)
            self.to_addresses.extend(addresses)

    def set_subject(self, subject):
        if subject:  # an empty subject would override a template's
            self.data["subject"] = subject

    def set_reply_to(self, emails):
        if len(emails) > 1:
            self.unsupported_feature("multiple reply_to addresses")
        if emails:
            self.data["replyTo"] = self._address(emails[0])

    def set_extra_headers(self, headers):
        for field, value in headers.items():
            if isinstance(value, BASIC_NUMERIC_TYPES):
                value = str(value)
            self.check_header_value(value, f"non-ASCII characters in {field!r} header")
            self.headers_data[field] = value

    def set_text_body(self, body):
        if body:
            self.data["textContent"] = body

    def set_html_body(self, body):
        if body:
            self.data["htmlContent"] = body

    def add_alternative(self, content, mimetype):
        if not (isinstance(mimetype, str) and mimetype.lower() == "text/html"):
            super().add_alternative(content, mimetype)
        elif content:  # a second, non-empty HTML body (replaces it if ignored)
            self.unsupported_feature("multiple html parts")
            self.data["htmlContent"] = content

    def add_attachment(self, attachment):
        if attachment.inline:
            # (if ignored, sent as an ordinary attachment)
            self.unsupported_feature("inline attachments")
        # Brevo infers the content type from the name, and treats text as UTF-8
        self.data.setdefault("attachment", []).append(
            {
                "name": attachment.name or "",
                "content": Base64Bytes(attachment.content_utf8_bytes),
            }
        )

    # -- Anymail additions --------------------------------------------------

    def set_metadata(self, metadata):
        self.metadata = metadata
        value = self.serialize_json(metadata)
        self.check_header_value(value, "non-ASCII characters in metadata")
        self.headers_data[METADATA_HEADER] = value

    def set_send_at(self, send_at):
        if isinstance(send_at, datetime):
            send_at = send_at.isoformat(timespec="milliseconds")
        self.data["scheduledAt"] = send_at  # (other types passed as given)

    def set_tags(self, tags):
        if tags:
            self.data["tags"] = tags

    def set_template_id(self, template_id):
        self.data["templateId"] = template_id

    def set_merge_global_data(self, merge_global_data):
        self.data["params"] = merge_global_data

    # The merge_* setters are only called for batch sends; serialize_data
    # turns what they store into messageVersions.

    def set_merge_headers(self, merge_headers):
        self.merge_headers = merge_headers or {}
        for address in self.to_addresses:
            for value in self.merge_headers.get(address["email"], {}).values():
                self.check_header_value(value, "non-ASCII characters in merge_headers")

    def set_merge_metadata(self, merge_metadata):
        for address in self.to_addresses:
            email = address["email"]
            if email in merge_metadata:
                value = self.serialize_json({**self.metadata, **merge_metadata[email]})
                self.check_header_value(value, "non-ASCII characters in merge_metadata")
                self.merge_metadata_json[email] = value

    def set_esp_extra(self, extra):
        self.data.update(extra)  # replaces whole top-level keys
