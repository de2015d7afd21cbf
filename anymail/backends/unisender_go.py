"""Unisender Go: sends through the Web API v1 email/send.json call (JSON)."""

import uuid
from datetime import datetime, timezone

from ..message import AnymailRecipientStatus
from ..utils import (
    UNSET,
    CaseInsensitiveCasePreservingDict,
    force_non_lazy,
    get_anymail_setting,
    has_specials,
    rfc2047_encode,
    update_deep,
)
from .base import Base64Bytes
from .base_requests import AnymailRequestsBackend, RequestsPayload, json_api_headers

AMP_MIMETYPE = "text/x-amp-html"

#: Characters Unisender Go mishandles in an unencoded To/Cc display name, even
#: when the name is properly quoted (display-name workaround)
HEADER_NAME_UNSAFE = frozenset(",<>@")

#: The only header allowed in merge_headers, and its substitution variable
MERGE_HEADER = "List-Unsubscribe"
MERGE_HEADER_VAR = "Header__List_Unsubscribe"

#: send_at format Unisender Go expects (always in UTC)
SEND_AT_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Anymail status for each failed_emails reason (any other reason: "failed";
#: "duplicate" entries are ignored: the first copy was sent)
FAILED_REASON_STATUS = {
    "invalid": "invalid",
    "permanent_unavailable": "rejected",
    "unsubscribed": "rejected",
    "temporary_unavailable": "failed",
}
DUPLICATE_REASON = "duplicate"

BATCH_CC_FEATURE = "cc with batch send (merge_data, merge_metadata, or merge_headers)"


class EmailBackend(AnymailRequestsBackend):
    """Unisender Go Web API v1 EmailBackend."""

    esp_name = "Unisender Go"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        self.generate_message_id = get_anymail_setting(
            "generate_message_id", esp_name=esp_name, kwargs=kwargs, default=True
        )
        self.workaround_display_name_bugs = get_anymail_setting(
            "workaround_display_name_bugs",
            esp_name=esp_name,
            kwargs=kwargs,
            default=True,
        )
        # No default: the URL depends on the account's data center
        api_url = self.get_api_url_setting(kwargs, default=UNSET)
        # Request headers are the same for every message: build them once
        self.api_headers = json_api_headers({"X-API-KEY": api_key})
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return UnisenderGoPayload(message=message, defaults=defaults, backend=self)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        try:
            job_id, sent_emails, failed_emails = _parse_send_result(parsed)
        except (KeyError, TypeError) as err:
            raise self.invalid_response_format(response, payload, message) from err
        recipient_status = {
            email: AnymailRecipientStatus(
                message_id=payload.message_ids.get(email.lower(), job_id),
                status="queued",
            )
            for email in sent_emails
        }
        recipient_status.update(
            (email, AnymailRecipientStatus(message_id=None, status=status))
            for email, status in _failed_recipient_status(failed_emails)
        )
        return recipient_status


def _parse_send_result(parsed):
    """(job_id, sent emails, {email: reason}) from a send.json response."""
    job_id = parsed["job_id"]
    sent_emails = parsed["emails"]
    failed_emails = parsed.get("failed_emails") or {}
    if not isinstance(job_id, str):
        raise TypeError("job_id is not a string")
    if not isinstance(sent_emails, list) or not isinstance(failed_emails, dict):
        raise TypeError("unexpected emails or failed_emails")
    if not all(isinstance(email, str) for email in [*sent_emails, *failed_emails]):
        raise TypeError("recipient emails must be strings")
    return job_id, sent_emails, failed_emails


def _failed_recipient_status(failed_emails):
    """(email, Anymail status) for each failed_emails entry that counts."""
    for email, reason in failed_emails.items():
        if reason != DUPLICATE_REASON:
            yield email, FAILED_REASON_STATUS.get(reason, "failed")


class UnisenderGoPayload(RequestsPayload):
    """The `message` object of a send.json request.

    `data` is that object as built from the message; serialize_data makes the
    adjustments that depend on the whole message (batch headers, message ids).
    """

    def __init__(self, message, defaults, backend):
        super().__init__(message, defaults, backend, headers=dict(backend.api_headers))

    def init_payload(self):
        self.data = {
            "headers": CaseInsensitiveCasePreservingDict(),
            "recipients": [],
        }
        self.message_ids = {}  # lowercased recipient email -> generated id

    def get_api_endpoint(self):
        return "email/send.json"

    def serialize_data(self):
        message = dict(self.data)  # (a shallow copy: .data keeps its headers)
        headers = self._final_headers()
        if headers:
            message["headers"] = headers
        else:
            del message["headers"]
        if self.backend.generate_message_id:
            self._add_message_ids()
        return self.serialize_json({"message": message})

    def _final_headers(self):
        """The headers to send: in a batch send, without the shared To and Cc.

        (Unisender Go then gives each recipient a To header of their own.)
        """
        headers = self.data["headers"]
        if self.is_batch():
            headers = headers.copy()
            headers.pop("to", None)
            if headers.pop("cc", None):
                self.unsupported_feature(BATCH_CC_FEATURE)  # if ignored: dropped
        return headers

    def _add_message_ids(self):
        """Give each recipient a generated anymail_id in its metadata.

        Recipients with the same email (ignoring case) share one id, as
        Unisender Go sends them only one copy.
        """
        for recipient in self.data["recipients"]:
            key = recipient["email"].lower()
            if key not in self.message_ids:
                self.message_ids[key] = str(uuid.uuid4())
            metadata = recipient.setdefault("metadata", {})
            metadata["anymail_id"] = self.message_ids[key]

    # -- helpers ------------------------------------------------------------

    @property
    def headers_data(self):
        return self.data["headers"]

    def format_addr_spec(self, email):
        return email.format_addr_spec(idna_encode=self.backend.idna_encode)

    def format_header_address(self, email):
        """An address for the To/Cc headers.

        Non-ASCII display names are RFC 2047 encoded. With the workaround on,
        so are names with characters Unisender Go would mangle.
        """
        force = self.backend.workaround_display_name_bugs and (
            not HEADER_NAME_UNSAFE.isdisjoint(email.display_name)
        )
        return email.format(
            use_rfc2047="force" if force else True,
            idna_encode=self.backend.idna_encode,
        )

    def recipients_in(self, per_recipient):
        """(recipient entry, its value) for each recipient keyed in per_recipient."""
        for recipient in self.data["recipients"]:
            email = recipient["email"]
            if email in per_recipient:
                yield recipient, per_recipient[email]

    def body(self):
        return self.data.setdefault("body", {})

    # -- Django message attributes ----------------------------------------

    def set_from_email(self, email):
        self.data["from_email"] = self.format_addr_spec(email)
        if email.display_name:
            self.data["from_name"] = email.display_name  # (plain Unicode is fine)

    def set_recipients(self, recipient_type, emails):
        for email in emails:
            recipient = {"email": self.format_addr_spec(email)}
            if email.display_name:
                recipient["substitutions"] = {"to_name": email.display_name}
            self.data["recipients"].append(recipient)
        if recipient_type != "bcc" and emails:
            self.headers_data[recipient_type] = ", ".join(
                self.format_header_address(email) for email in emails
            )

    def set_subject(self, subject):
        if subject:
            self.data["subject"] = subject

    def set_reply_to(self, emails):
        if len(emails) > 1:
            self.unsupported_feature("multiple reply_to addresses")
        if emails:
            email = emails[0]
            self.data["reply_to"] = self.format_addr_spec(email)
            if email.display_name:
                self.data["reply_to_name"] = self.format_reply_to_name(email)

    def format_reply_to_name(self, email):
        name = email.display_name
        if self.backend.workaround_display_name_bugs and (
            not name.isascii() or has_specials(name)
        ):
            return rfc2047_encode(name)
        return name

    def set_extra_headers(self, headers):
        for name, value in headers.items():
            if isinstance(value, str) and not value.isascii():
                value = rfc2047_encode(value)
            self.headers_data[name] = value

    def set_text_body(self, body):
        if body:
            self.body()["plaintext"] = body

    def set_html_body(self, body):
        if body:
            self.body()["html"] = body

    def add_alternative(self, content, mimetype):
        if mimetype.lower() != AMP_MIMETYPE:
            super().add_alternative(content, mimetype)
        elif "amp" in self.data.get("body", {}):
            self.unsupported_feature("multiple amp-html parts")
        else:
            self.body()["amp"] = content

    def add_attachment(self, attachment):
        if attachment.inline:
            field, name = "inline_attachments", attachment.cid
        else:
            field, name = "attachments", attachment.name or ""  # name is required
        self.data.setdefault(field, []).append(
            {
                "content": Base64Bytes(attachment.content_bytes),
                "type": attachment.content_type,
                "name": name,
            }
        )

    # -- Anymail additions --------------------------------------------------

    # envelope_sender: the base class reports it unsupported

    def set_metadata(self, metadata):
        self.data["global_metadata"] = metadata

    def set_send_at(self, send_at):
        if isinstance(send_at, datetime):
            send_at = send_at.astimezone(timezone.utc).strftime(SEND_AT_FORMAT)
        self.data.setdefault("options", {})["send_at"] = send_at

    def set_tags(self, tags):
        self.data["tags"] = tags

    def set_track_clicks(self, track_clicks):
        self.data["track_links"] = 1 if track_clicks else 0

    def set_track_opens(self, track_opens):
        self.data["track_read"] = 1 if track_opens else 0

    def set_template_id(self, template_id):
        self.data["template_id"] = template_id

    def set_merge_data(self, merge_data):
        for recipient, data in self.recipients_in(merge_data):
            recipient.setdefault("substitutions", {}).update(data)

    def set_merge_global_data(self, merge_global_data):
        self.data["global_substitutions"] = merge_global_data

    def set_merge_headers(self, merge_headers):
        # Only List-Unsubscribe: a header template filled in from each
        # recipient's substitutions. (Entries for non-recipients are ignored.)
        recipient_values = []
        for recipient, headers in self.recipients_in(merge_headers or {}):
            for field, value in headers.items():
                if field.title() != MERGE_HEADER:
                    self.unsupported_feature(f"'{field.title()}' in merge_headers")
                else:
                    recipient_values.append((recipient, force_non_lazy(value)))
        if not recipient_values:
            return
        self.headers_data[MERGE_HEADER] = "{{%s}}" % MERGE_HEADER_VAR
        for recipient, value in recipient_values:
            recipient.setdefault("substitutions", {})[MERGE_HEADER_VAR] = value

    def set_merge_metadata(self, merge_metadata):
        for recipient, metadata in self.recipients_in(merge_metadata):
            recipient["metadata"] = metadata

    def set_esp_extra(self, extra):
        update_deep(self.data, extra)
