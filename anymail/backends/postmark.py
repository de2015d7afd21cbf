"""Postmark email backend: https://postmarkapp.com/developer/api/email-api

Sends through Postmark's ``email``, ``email/withTemplate/``, ``email/batch``,
``email/batchWithTemplates`` or (with POSTMARK_USE_BULK_API) ``email/bulk``
endpoint, chosen after the whole payload (including esp_extra) is built.
"""

import re
import uuid

from requests.structures import CaseInsensitiveDict

from ..exceptions import AnymailInvalidAddress
from ..message import AnymailRecipientStatus
from ..utils import (
    get_anymail_setting,
    parse_address_list,
)
from .base import Base64Bytes, DeferredMergeMixin
from .base_requests import AnymailRequestsBackend, RequestsPayload, json_api_headers

DEFAULT_API_URL = "https://api.postmarkapp.com/"

# Postmark's "ErrorCode" values that Anymail interprets
ERROR_CODE_OK = 0
ERROR_CODE_INVALID_REQUEST = 300
ERROR_CODE_INACTIVE_RECIPIENT = 406

# ErrorCode 300 messages about a recipient address, e.g.
# "Invalid 'To' address: 'invalid@localhost'." or
# "Error parsing 'Cc': Illegal email address 'user@+'. It must contain ..."
INVALID_RECIPIENT_RE = re.compile(
    r"^(?:invalid|error parsing) '(?:to|cc|bcc)'", re.IGNORECASE
)
# The quoted address ends at a quote followed by the end of a sentence or
# clause, so an address with an apostrophe is read whole:
# "Invalid 'To' address: 'o'brien@localhost'."
QUOTED_ADDRESS_RE = re.compile(
    r"address:?\s*'(.*?)'(?=[.,;]?(?:\s|$))", re.IGNORECASE | re.DOTALL
)
# "... Found inactive addresses: a@example.com, b@example.com.\nInactive recipients..."
INACTIVE_ADDRESSES_RE = re.compile(
    r"inactive addresses:\s*(.*?)\.\s*Inactive recipients", re.IGNORECASE | re.DOTALL
)


class EmailBackend(AnymailRequestsBackend):
    """Postmark Email Backend."""

    esp_name = "Postmark"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.server_token = get_anymail_setting(
            "server_token", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        self.message_stream = get_anymail_setting(
            "message_stream", esp_name=esp_name, kwargs=kwargs, default=None
        )
        self.use_bulk_api = get_anymail_setting(
            "use_bulk_api", esp_name=esp_name, kwargs=kwargs, default=False
        )
        self.generate_message_id = get_anymail_setting(
            "generate_message_id",
            esp_name=esp_name,
            kwargs=kwargs,
            default=self.use_bulk_api,
        )
        api_url = self.get_api_url_setting(kwargs, default=DEFAULT_API_URL)
        # The same for every message: build them once
        self.api_headers = json_api_headers(
            {"X-Postmark-Server-Token": self.server_token}
        )
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return PostmarkPayload(message, defaults, self)

    def raise_for_status(self, response, payload, message):
        # Postmark answers 422 for recipient problems: parse those bodies
        if response.status_code != 422:
            super().raise_for_status(response, payload, message)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        statuses = _RecipientStatuses(payload.all_recipients)
        if isinstance(parsed, dict) and "PercentageCompleted" in parsed:
            self._parse_bulk_response(statuses, payload)
        else:
            results = parsed if isinstance(parsed, list) else [parsed]
            for result in results:
                self._parse_result(result, statuses, response, payload)
        return statuses.as_dict()

    @staticmethod
    def _parse_bulk_response(statuses, payload):
        """Bulk sends are queued; only Anymail's generated ids are known."""
        for email in payload.to_emails:
            message_id = payload.message_ids.get(email.addr_spec)
            if message_id is not None:
                statuses.mark(
                    email.addr_spec, AnymailRecipientStatus(message_id, "queued")
                )

    def _parse_result(self, result, statuses, response, payload):
        """Update statuses from one Postmark result object."""
        if not isinstance(result, dict) or not isinstance(result.get("Message"), str):
            raise self.invalid_response_format(response, payload, payload.message)
        error_code = result.get("ErrorCode", ERROR_CODE_OK)  # absent when delayed
        text = result["Message"]
        if error_code == ERROR_CODE_OK:
            self._parse_accepted(result, statuses, response, payload)
            return
        if error_code == ERROR_CODE_INACTIVE_RECIPIENT:
            addresses, status = _inactive_addresses(text), "rejected"
        elif error_code == ERROR_CODE_INVALID_REQUEST:
            addresses, status = _invalid_recipient_addresses(text), "invalid"
        else:
            addresses = []
        if not addresses:  # any other error, or one we can't pin on recipients
            raise self.api_error(None, response, payload, payload.message)
        statuses.mark_all(addresses, AnymailRecipientStatus(None, status))

    def _parse_accepted(self, result, statuses, response, payload):
        if "MessageID" not in result:
            raise self.api_error(
                "Invalid Postmark API success response format",
                response,
                payload,
                payload.message,
            )
        text = result["Message"]
        status = "queued" if "delivery may be delayed" in text else "sent"
        accepted = AnymailRecipientStatus(result["MessageID"], status)
        to = result.get("To")  # absent for cc/bcc-only messages
        try:
            to_emails = parse_address_list(to, field="To") if to else []
        except AnymailInvalidAddress as err:
            raise self.invalid_response_format(
                response, payload, payload.message
            ) from err
        # Postmark doesn't echo Cc or Bcc: they share each result's status
        statuses.mark_all(
            (email.addr_spec for email in to_emails + payload.cc_and_bcc_emails),
            accepted,
        )
        inactive = _inactive_addresses(text)
        if inactive:
            statuses.mark_all(inactive, AnymailRecipientStatus(None, "rejected"))


class _RecipientStatuses:
    """Recipient statuses by address, matched case-insensitively (Postmark may
    echo an address in other case); reported under each address's first spelling.

    Every recipient starts out "unknown".
    """

    def __init__(self, recipients):
        self.spellings = {}  # lowercased address: first spelling
        for email in recipients:
            self.spellings.setdefault(email.addr_spec.lower(), email.addr_spec)
        unknown = AnymailRecipientStatus(None, "unknown")
        self.statuses = dict.fromkeys(self.spellings, unknown)

    def mark(self, address, status):
        key = address.lower()
        self.spellings.setdefault(key, address)
        self.statuses[key] = status

    def mark_all(self, addresses, status):
        for address in addresses:
            self.mark(address, status)

    def as_dict(self):
        spellings = self.spellings
        return {spellings[key]: status for key, status in self.statuses.items()}


def _split_addresses(text):
    """Lowercased, trimmed addresses from a comma-separated list."""
    return [address.strip().lower() for address in text.split(",") if address.strip()]


def _inactive_addresses(text):
    match = INACTIVE_ADDRESSES_RE.search(text)
    return _split_addresses(match.group(1)) if match else []


def _invalid_recipient_addresses(text):
    if not INVALID_RECIPIENT_RE.match(text):
        return []  # e.g., invalid From or metadata: not a recipient problem
    match = QUOTED_ADDRESS_RE.search(text)
    return _split_addresses(match.group(1)) if match else []


def _header_list(headers):
    """Postmark's Headers format from a mapping."""
    return [{"Name": name, "Value": value} for name, value in headers.items()]


def _merged_headers(header_list, recipient_headers):
    """A Headers list with recipient_headers applied case-insensitively."""
    headers = CaseInsensitiveDict(
        (item["Name"], item["Value"]) for item in header_list or []
    )
    headers.update(recipient_headers)
    return _header_list(headers)


class PostmarkPayload(DeferredMergeMixin, RequestsPayload):
    """Builds Postmark's JSON from a message."""

    def __init__(self, message, defaults, backend, *args, **kwargs):
        headers = dict(backend.api_headers)  # (esp_extra can change the token)
        self.to_emails = []
        self.cc_and_bcc_emails = []
        self.merge_data = {}
        self.merge_metadata = {}
        self.merge_headers = {}
        self.message_ids = {}  # to addr_spec: Anymail-generated id
        super().__init__(message, defaults, backend, *args, headers=headers, **kwargs)

    @property
    def all_recipients(self):
        return self.to_emails + self.cc_and_bcc_emails

    def init_payload(self):
        self.data = {}
        if self.backend.message_stream is not None:
            self.data["MessageStream"] = self.backend.message_stream

    def format_addresses(self, emails):
        idna_encode = self.backend.idna_encode
        return ", ".join(email.format(idna_encode=idna_encode) for email in emails)

    def has_template(self):
        return "TemplateId" in self.data or "TemplateAlias" in self.data

    # -- request ----------------------------------------------------------

    def get_api_endpoint(self):
        if self.backend.use_bulk_api:
            return "email/bulk"
        if self.has_template():
            if self.is_batch():
                return "email/batchWithTemplates"
            return "email/withTemplate/"  # (Postmark's path has the trailing slash)
        return "email/batch" if self.is_batch() else "email"

    def serialize_data(self):
        if self.backend.generate_message_id:
            self.message_ids = {
                email.addr_spec: str(uuid.uuid4()) for email in self.to_emails
            }
        if self.backend.use_bulk_api:
            return self.serialize_json(self.bulk_data())
        self.check_template_features()
        if not self.is_batch():
            return self.serialize_json(self.data)
        messages = [self.batch_message(email) for email in self.to_emails]
        if self.has_template():
            return self.serialize_json({"Messages": messages})
        return self.serialize_json(messages)

    def check_template_features(self):
        if self.has_template():
            return
        if self.merge_data:
            self.unsupported_feature("merge_data without template_id")
        if "TemplateModel" in self.data:
            self.unsupported_feature("merge_global_data without template_id")

    def batch_message(self, to):
        """The email/batch message for one to-recipient.

        A shallow copy of the base message (so attachments are shared).
        """
        addr_spec = to.addr_spec
        message = dict(self.data, To=to.address)
        if addr_spec in self.merge_data:
            message["TemplateModel"] = {
                **(self.data.get("TemplateModel") or {}),
                **self.merge_data[addr_spec],
            }
        if addr_spec in self.merge_metadata:
            message["Metadata"] = {
                **(self.data.get("Metadata") or {}),
                **self.merge_metadata[addr_spec],
            }
        if addr_spec in self.merge_headers:
            message["Headers"] = _merged_headers(
                self.data.get("Headers"), self.merge_headers[addr_spec]
            )
        return message

    def bulk_data(self):
        """The email/bulk body: shared fields plus a Messages entry per to-recipient."""
        data = dict(self.data)
        data.pop("To", None)
        copied = {field: data.pop(field) for field in ("Cc", "Bcc") if field in data}
        metadata = data.pop("Metadata", None) or {}
        template_model = data.pop("TemplateModel", None) or {}
        data["Messages"] = [
            self.bulk_message(email, copied, metadata, template_model)
            for email in self.to_emails
        ]
        return data

    def bulk_message(self, to, copied, metadata, template_model):
        addr_spec = to.addr_spec
        message = {"To": to.format(idna_encode=self.backend.idna_encode), **copied}
        model = {**template_model, **self.merge_data.get(addr_spec, {})}
        if model:
            message["TemplateModel"] = model
        # A fresh dict per recipient, so each carries its own anymail_id
        recipient_metadata = {**metadata, **self.merge_metadata.get(addr_spec, {})}
        if addr_spec in self.message_ids:
            recipient_metadata["anymail_id"] = self.message_ids[addr_spec]
        if recipient_metadata:
            message["Metadata"] = recipient_metadata
        if addr_spec in self.merge_headers:
            message["Headers"] = _merged_headers(
                self.data.get("Headers"), self.merge_headers[addr_spec]
            )
        return message

    # -- message attributes -----------------------------------------------

    def set_from_email_list(self, emails):
        # Postmark accepts multiple From addresses
        self.data["From"] = self.format_addresses(emails)

    def set_recipients(self, recipient_type, emails):
        if recipient_type == "to":
            self.to_emails += emails
        else:
            self.cc_and_bcc_emails += emails
        if emails:
            self.data[recipient_type.capitalize()] = self.format_addresses(emails)

    def set_subject(self, subject):
        if subject is not None:
            self.data["Subject"] = subject

    def set_reply_to(self, emails):
        if emails:
            self.data["ReplyTo"] = self.format_addresses(emails)

    def set_extra_headers(self, headers):
        self.data["Headers"] = _header_list(headers)

    def set_text_body(self, body):
        self.data["TextBody"] = body

    def set_html_body(self, body):
        self.data["HtmlBody"] = body

    def add_attachment(self, attachment):
        entry = {
            "Name": attachment.name or "",
            "Content": Base64Bytes(attachment.content_bytes),
            "ContentType": attachment.content_type,
        }
        if attachment.inline:
            entry["ContentID"] = f"cid:{attachment.cid}"
        self.data.setdefault("Attachments", []).append(entry)

    def set_metadata(self, metadata):
        self.data["Metadata"] = metadata

    # envelope_sender and send_at: the base class reports them unsupported

    def set_tags(self, tags):
        if len(tags) > 1:
            self.unsupported_feature(f"multiple tags ({tags!r})")
        if tags:
            self.data["Tag"] = tags[0]

    def set_track_clicks(self, track_clicks):
        self.data["TrackLinks"] = "HtmlAndText" if track_clicks else "None"

    def set_track_opens(self, track_opens):
        self.data["TrackOpens"] = bool(track_opens)

    def set_template_id(self, template_id):
        try:
            self.data["TemplateId"] = int(template_id)
        except (TypeError, ValueError):
            self.data["TemplateAlias"] = template_id
        # Postmark requires a TemplateModel, and rejects Subject and bodies
        # with templates: drop Django's empty defaults (but keep real content)
        self.data.setdefault("TemplateModel", {})
        for field in ("Subject", "TextBody", "HtmlBody"):
            if field in self.data and not self.data[field]:
                del self.data[field]

    def set_merge_global_data(self, merge_global_data):
        self.data["TemplateModel"] = merge_global_data

    def set_esp_extra(self, extra):
        if "server_token" in extra:
            self.headers["X-Postmark-Server-Token"] = extra.pop("server_token")
        self.data.update(extra)
