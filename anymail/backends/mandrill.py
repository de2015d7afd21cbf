"""Mandrill (Mailchimp Transactional): sends through the messages API (JSON)."""

from collections.abc import Mapping
from datetime import datetime, timezone

from ..message import ANYMAIL_STATUSES, AnymailRecipientStatus
from ..utils import get_anymail_setting
from .base import Base64Bytes
from .base_requests import AnymailRequestsBackend, RequestsPayload

DEFAULT_API_URL = "https://mandrillapp.com/api/1.0/"

SEND_ENDPOINT = "messages/send.json"
SEND_TEMPLATE_ENDPOINT = "messages/send-template.json"

SEND_AT_FORMAT = "%Y-%m-%d %H:%M:%S"  # always in UTC


class EmailBackend(AnymailRequestsBackend):
    """Mandrill messages API EmailBackend."""

    esp_name = "Mandrill"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        api_url = self.get_api_url_setting(kwargs, default=DEFAULT_API_URL)
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return MandrillPayload(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        try:
            return _recipient_status(parsed)
        except (KeyError, TypeError) as err:
            raise self.invalid_response_format(response, payload, message) from err


def _recipient_status(parsed):
    """{email: AnymailRecipientStatus} from a send response's list of results."""
    if not isinstance(parsed, list):  # (e.g. an error object)
        raise TypeError("response is not a list")
    recipient_status = {}
    for item in parsed:
        status = item["status"]
        if status not in ANYMAIL_STATUSES:
            status = "unknown"  # e.g. Mandrill's "scheduled"
        recipient_status[item["email"]] = AnymailRecipientStatus(
            message_id=item.get("_id"), status=status
        )
    return recipient_status


def _name_content_list(items):
    """Mandrill's [{"name": ..., "content": ...}, ...] for (name, content) pairs."""
    return [{"name": name, "content": content} for name, content in items]


def _recipient_metadata_list(items):
    """Mandrill's recipient_metadata list for (email, values) pairs."""
    return [{"rcpt": email, "values": values} for email, values in items]


class MandrillPayload(RequestsPayload):
    """A Mandrill messages/send (or send-template) request body."""

    secret_body_fields = ("key",)  # Mandrill authenticates in the body

    def init_payload(self):
        self.data = {"key": self.backend.api_key, "message": {}}

    @property
    def message_data(self):
        return self.data["message"]

    def get_api_endpoint(self):
        if "template_name" in self.data:
            return SEND_TEMPLATE_ENDPOINT
        return SEND_ENDPOINT

    def serialize_data(self):
        if self.is_batch():
            # Applied after esp_extra: each recipient must see only themself
            self.message_data["preserve_recipients"] = False
        return self.serialize_json(self.data)

    def _addr_spec(self, email):
        return email.format_addr_spec(idna_encode=self.backend.idna_encode)

    # -- Django message attributes ----------------------------------------

    def set_from_email(self, email):
        self.message_data["from_email"] = self._addr_spec(email)
        if email.display_name:
            self.message_data["from_name"] = email.display_name

    def set_recipients(self, recipient_type, emails):
        if emails:
            self.message_data.setdefault("to", []).extend(
                {
                    **email.as_dict(idna_encode=self.backend.idna_encode),
                    "type": recipient_type,
                }
                for email in emails
            )

    def set_subject(self, subject):
        self.message_data["subject"] = subject

    def set_reply_to(self, emails):
        if emails:
            self.message_data.setdefault("headers", {})["Reply-To"] = ", ".join(
                email.format(idna_encode=self.backend.idna_encode) for email in emails
            )

    def set_extra_headers(self, headers):
        self.message_data.setdefault("headers", {}).update(headers)

    def set_text_body(self, body):
        self.message_data["text"] = body

    def set_html_body(self, body):
        self.message_data["html"] = body

    def add_attachment(self, attachment):
        if attachment.inline:
            field, name = "images", attachment.cid
        else:
            field, name = "attachments", attachment.name or ""
        self.message_data.setdefault(field, []).append(
            {
                "type": attachment.content_type,
                "name": name,
                "content": Base64Bytes(attachment.content_bytes),
            }
        )

    # -- Anymail additions --------------------------------------------------

    def set_envelope_sender(self, email):
        # Mandrill only lets you choose the return path's domain
        domain = self._addr_spec(email).rpartition("@")[2]
        self.message_data["return_path_domain"] = domain

    def set_metadata(self, metadata):
        self.message_data["metadata"] = metadata

    def set_send_at(self, send_at):
        if isinstance(send_at, datetime):
            send_at = send_at.astimezone(timezone.utc).strftime(SEND_AT_FORMAT)
        self.data["send_at"] = send_at  # (other types, e.g. str, as given)

    def set_tags(self, tags):
        self.message_data["tags"] = tags

    def set_track_clicks(self, track_clicks):
        self.message_data["track_clicks"] = track_clicks

    def set_track_opens(self, track_opens):
        self.message_data["track_opens"] = track_opens

    def set_template_id(self, template_id):
        self.data["template_name"] = template_id
        self.data.setdefault("template_content", [])  # required by send-template

    def set_merge_data(self, merge_data):
        self.message_data["merge_vars"] = [
            {"rcpt": email, "vars": _name_content_list(sorted(data.items()))}
            for email, data in merge_data.items()
        ]

    def set_merge_global_data(self, merge_global_data):
        self.message_data["global_merge_vars"] = _name_content_list(
            merge_global_data.items()
        )

    def set_merge_metadata(self, merge_metadata):
        self.message_data["recipient_metadata"] = _recipient_metadata_list(
            merge_metadata.items()
        )

    def set_esp_extra(self, extra):
        # esp_extra is the last attribute processed, so it overrides everything
        # above (but not the batch's preserve_recipients, set in serialize_data).
        # The converted values are new objects: the caller's dict is unchanged.
        extra = dict(extra)
        message_extra = dict(extra.pop("message", None) or {})
        if isinstance(extra.get("template_content"), Mapping):
            extra["template_content"] = _name_content_list(
                extra["template_content"].items()
            )
        if isinstance(message_extra.get("recipient_metadata"), Mapping):
            message_extra["recipient_metadata"] = _recipient_metadata_list(
                sorted(message_extra["recipient_metadata"].items())
            )
        self.data.update(extra)
        self.message_data.update(message_extra)
