"""SparkPost: sends through the Transmissions API (JSON over HTTPS)."""

from collections.abc import Mapping
from datetime import datetime

from django.conf import settings

from ..message import AnymailRecipientStatus
from ..utils import force_non_lazy, get_anymail_setting, update_deep
from .base import Base64Bytes
from .base_requests import AnymailRequestsBackend, RequestsPayload, json_api_headers

DEFAULT_API_URL = "https://api.sparkpost.com/api/v1/"

AMP_MIMETYPE = "text/x-amp-html"

# With a stored template, SparkPost ignores (or rejects) these content fields:
# (content key, feature name in the unsupported-feature error), in error order
TEMPLATE_CONFLICTS = (
    ("attachments", "attachments"),
    ("inline_images", "inline images"),
    ("headers", "extra headers and/or cc recipients"),
    ("from", "from_email"),
    ("reply_to", "reply_to"),
)

# Content fields dropped when a stored template is used and they are empty
TEMPLATE_OMIT_IF_EMPTY = ("subject", "text", "html")


class EmailBackend(AnymailRequestsBackend):
    """SparkPost Transmissions API Email Backend."""

    esp_name = "SparkPost"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        subaccount = get_anymail_setting(
            "subaccount", esp_name=esp_name, kwargs=kwargs, default=None
        )
        api_url = self.get_api_url_setting(kwargs, default=DEFAULT_API_URL)
        # Request headers are the same for every message: build them once
        self.api_headers = json_api_headers(
            {"Authorization": api_key},  # the raw key, no auth scheme
            accept_json=False,
        )
        if subaccount is not None:
            self.api_headers["X-MSYS-SUBACCOUNT"] = subaccount  # as given
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return SparkPostPayload(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        try:
            transmission_id, accepted, rejected = _parse_results(parsed)
        except (KeyError, TypeError):
            raise self.invalid_response_format(response, payload, message)
        # SparkPost reports only totals: a per-recipient status is known only
        # when they are all accepted or all rejected
        count = len(payload.all_recipients)
        if accepted == count and rejected == 0:
            status = "queued"
        elif rejected == count and accepted == 0:
            status = "rejected"
        else:
            status = "unknown"
        recipient_status = AnymailRecipientStatus(
            message_id=transmission_id, status=status
        )
        return {email.addr_spec: recipient_status for email in payload.all_recipients}


def _parse_results(parsed):
    """(transmission id, accepted count, rejected count) from a send response."""
    results = parsed["results"]
    if not isinstance(results, Mapping):
        raise TypeError("results is not an object")
    transmission_id = results["id"]
    accepted = results["total_accepted_recipients"]
    rejected = results["total_rejected_recipients"]
    if not isinstance(transmission_id, (str, int)) or isinstance(transmission_id, bool):
        raise TypeError("id is not a string or number")
    for total in (accepted, rejected):
        if not isinstance(total, int) or isinstance(total, bool):
            raise TypeError("recipient totals must be integers")
    return transmission_id, accepted, rejected


def merge_header_var(field):
    """The substitution variable carrying merge_headers values for header `field`."""
    return "Header__" + field.title().replace("-", "_")


class SparkPostPayload(RequestsPayload):
    """A SparkPost Transmissions API request body."""

    def __init__(self, message, defaults, backend, *args, **kwargs):
        headers = dict(backend.api_headers)
        super().__init__(message, defaults, backend, *args, headers=headers, **kwargs)

    def get_api_endpoint(self):
        return "transmissions/"

    def serialize_data(self):
        self._finalize_recipients()
        self._check_template_content()
        return self.serialize_json(self.data)

    def init_payload(self):
        self.data = {"content": {}}  # "recipients" is added by serialize_data
        self.all_recipients = []  # EmailAddress: to + cc + bcc, for the status
        self.to_entries = []  # recipient objects for the `to` addresses
        self.cc_and_bcc_emails = []  # addr-specs, cc then bcc

    # -- helpers ------------------------------------------------------------

    @property
    def content(self):
        return self.data["content"]

    def content_headers(self):
        return self.content.setdefault("headers", {})

    def format_address(self, email):
        return email.format(idna_encode=self.backend.idna_encode)

    def format_address_list(self, emails):
        return ", ".join(self.format_address(email) for email in emails)

    def format_addr_spec(self, email):
        return email.format_addr_spec(idna_encode=self.backend.idna_encode)

    def _finalize_recipients(self):
        """Add the recipients list, with To headers and cc/bcc entries.

        A `recipients` value from esp_extra is sent exactly as given.
        """
        if "recipients" in self.data:
            return
        if self.is_batch() and self.to_entries:
            # each to recipient sees only their own address (as set up by
            # set_recipients), and cc/bcc get a copy of each one's message
            extra_entries = [
                {**entry, "address": {**entry["address"], "email": email}}
                for entry in self.to_entries
                for email in self.cc_and_bcc_emails
            ]
        else:
            header_to = ", ".join(
                entry["address"]["header_to"] for entry in self.to_entries
            )
            for entry in self.to_entries:
                entry["address"]["header_to"] = header_to
            extra_entries = [
                {"address": {"email": email, "header_to": header_to}}
                for email in self.cc_and_bcc_emails
            ]
        self.data["recipients"] = self.to_entries + extra_entries

    def _check_template_content(self):
        if "template_id" not in self.content:
            return
        conflicts = [
            feature for key, feature in TEMPLATE_CONFLICTS if key in self.content
        ]
        if conflicts:
            # (if ignored, SparkPost itself disregards these fields)
            self.unsupported_feature("template_id with " + ", ".join(conflicts))

    def _to_entries_in(self, recipient_dict):
        """(to recipient object, its entry in recipient_dict) for each match."""
        for entry in self.to_entries:
            email = entry["address"]["email"]
            if email in recipient_dict:
                yield entry, recipient_dict[email]

    # -- setters ------------------------------------------------------------

    def set_from_email(self, email):
        self.content["from"] = self.format_address(email)

    def set_recipients(self, recipient_type, emails):
        self.all_recipients.extend(emails)
        if recipient_type == "to":
            self.to_entries.extend(
                {
                    "address": {
                        "email": self.format_addr_spec(email),
                        "header_to": self.format_address(email),
                    }
                }
                for email in emails
            )
        else:
            self.cc_and_bcc_emails.extend(
                self.format_addr_spec(email) for email in emails
            )
            if recipient_type == "cc" and emails:
                self.content_headers()["Cc"] = self.format_address_list(emails)

    def set_subject(self, subject):
        self.content["subject"] = subject

    def set_reply_to(self, emails):
        if emails:
            self.content["reply_to"] = self.format_address_list(emails)

    def set_extra_headers(self, headers):
        self.content_headers().update(headers.items())

    def set_text_body(self, body):
        self.content["text"] = body

    def set_html_body(self, body):
        self.content["html"] = body

    def add_alternative(self, content, mimetype):
        if mimetype.lower() != AMP_MIMETYPE:
            super().add_alternative(content, mimetype)
        elif "amp_html" in self.content:
            self.unsupported_feature("multiple html parts")
        else:
            self.content["amp_html"] = content

    def add_attachment(self, attachment):
        if attachment.inline:
            field = "inline_images"
            item = {"name": attachment.cid, "type": attachment.mimetype}
        else:
            field = "attachments"
            item = {"name": attachment.name or "", "type": attachment.content_type}
        item["data"] = Base64Bytes(attachment.content_bytes)
        self.content.setdefault(field, []).append(item)

    def set_envelope_sender(self, email):
        self.data["return_path"] = email.addr_spec

    def set_metadata(self, metadata):
        self.data["metadata"] = metadata

    def set_send_at(self, send_at):
        if isinstance(send_at, datetime):
            send_at = send_at.isoformat(timespec="seconds")
        self.data.setdefault("options", {})["start_time"] = send_at

    def set_tags(self, tags):
        if len(tags) > 1:
            self.unsupported_feature(f"multiple tags ({tags!r})")
        if tags:
            self.data["campaign_id"] = tags[0]

    def set_track_clicks(self, track_clicks):
        self.data.setdefault("options", {})["click_tracking"] = track_clicks

    def set_track_opens(self, track_opens):
        self.data.setdefault("options", {})["open_tracking"] = track_opens

    def set_template_id(self, template_id):
        content = self.content
        content["template_id"] = template_id
        # Drop Django's default empty subject and body, and the default From,
        # so the template's own are used
        for key in TEMPLATE_OMIT_IF_EMPTY:
            if content.get(key) == "":
                del content[key]
        if "from" in content and (
            not content["from"] or content["from"] == str(settings.DEFAULT_FROM_EMAIL)
        ):
            del content["from"]

    def set_merge_data(self, merge_data):
        for entry, data in self._to_entries_in(merge_data):
            entry["substitution_data"] = data

    def set_merge_global_data(self, merge_global_data):
        self.data["substitution_data"] = merge_global_data

    def set_merge_headers(self, merge_headers):
        # Each header becomes a substitution variable: per-recipient values in
        # the recipient's substitution_data, with any extra_headers value as
        # the default in the top-level substitution_data
        fields = {}  # (ordered set)
        for entry, headers in self._to_entries_in(merge_headers or {}):
            entry.setdefault("substitution_data", {}).update(
                (merge_header_var(field), force_non_lazy(value))
                for field, value in headers.items()
            )
            fields.update(dict.fromkeys(headers))
        if not fields:
            return
        headers = self.content_headers()
        defaults = self.data.setdefault("substitution_data", {})
        for field in fields:
            var = merge_header_var(field)
            if field in headers:
                defaults[var] = headers[field]
            headers[field] = "{{%s}}" % var

    def set_merge_metadata(self, merge_metadata):
        for entry, metadata in self._to_entries_in(merge_metadata):
            entry["metadata"] = metadata

    def set_esp_extra(self, extra):
        update_deep(self.data, extra)
