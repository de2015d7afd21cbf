"""Mailtrap: sends through Mailtrap's Email API v2 (JSON over HTTPS).

The same API serves the transactional and bulk sending hosts, and the Email
Sandbox (test inbox) host when a sandbox id is configured.
"""

from urllib.parse import quote

from requests.structures import CaseInsensitiveDict

from ..message import AnymailRecipientStatus
from ..utils import force_non_lazy_dict, get_anymail_setting, update_deep
from .base import Base64Bytes, DeferredMergeMixin
from .base_requests import AnymailRequestsBackend, RequestsPayload, json_api_headers

# Recipient fields a batch send can't keep in "base" ("to" is split into one
# request per recipient): every request repeats them
BATCH_SHARED_RECIPIENT_FIELDS = ("cc", "bcc")


class EmailBackend(AnymailRequestsBackend):
    """Mailtrap Email API v2 EmailBackend."""

    esp_name = "Mailtrap"

    DEFAULT_API_URL = "https://send.api.mailtrap.io/api/"
    DEFAULT_SANDBOX_API_URL = "https://sandbox.api.mailtrap.io/api/"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.api_token = get_anymail_setting(
            "api_token", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        sandbox_id = get_anymail_setting(
            "sandbox_id", esp_name=esp_name, kwargs=kwargs, default=None
        )
        # Any falsy sandbox id (None, "", 0) means the transactional service
        self.sandbox_id = sandbox_id or None
        if self.sandbox_id is None:
            default_api_url = self.DEFAULT_API_URL
            endpoint_suffix = ""
        else:
            default_api_url = self.DEFAULT_SANDBOX_API_URL
            endpoint_suffix = "/" + quote(str(self.sandbox_id), safe="")
        api_url = self.get_api_url_setting(kwargs, default=default_api_url)
        self.send_endpoint = "send" + endpoint_suffix
        self.batch_endpoint = "batch" + endpoint_suffix
        # The same for every message: build them once
        self.api_headers = json_api_headers({"Api-Token": self.api_token})
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return MailtrapPayload(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        if not isinstance(parsed, dict):
            raise self._format_error(response, payload, message)
        if parsed.get("errors") or not parsed.get("success"):
            raise self.api_error(
                "Unexpected API failure fields with response status"
                f" {response.status_code}",
                response,
                payload,
                message,
            )
        if not payload.is_batch():
            return self._parse_result(
                parsed, payload.all_recipients, response, payload, message
            )

        if "responses" not in parsed:
            raise self.api_error(None, response, payload, message)
        results = parsed["responses"]
        if not isinstance(results, list):
            raise self._format_error(response, payload, message)
        to_emails = payload.recipients["to"]
        if len(results) != len(to_emails):
            raise self.api_error(
                f"Expected {len(to_emails)} batch send responses"
                f" but got {len(results)}",
                response,
                payload,
                message,
            )
        # Each result covers one to recipient plus all cc and bcc recipients
        # (so the last result decides their status)
        shared = payload.recipients["cc"] + payload.recipients["bcc"]
        recipient_status = {}
        for to_email, result in zip(to_emails, results, strict=True):
            recipient_status.update(
                self._parse_result(
                    result, [to_email, *shared], response, payload, message
                )
            )
        return recipient_status

    def _parse_result(self, result, emails, response, payload, message):
        """{addr_spec: AnymailRecipientStatus} for one sent message's result."""
        if not isinstance(result, dict):
            raise self._format_error(response, payload, message)
        if not result.get("success", True):
            failed = AnymailRecipientStatus(message_id=None, status="failed")
            return {email.addr_spec: failed for email in emails}
        message_ids = result.get("message_ids")
        if not isinstance(message_ids, list):
            raise self._format_error(response, payload, message)
        # The sandbox reports one id for the whole message
        expected = len(emails) if self.sandbox_id is None else 1
        if len(message_ids) != expected:
            raise self.api_error(
                f"Expected {expected} message_ids, got {len(message_ids)}",
                response,
                payload,
                message,
            )
        if self.sandbox_id is not None:
            message_ids = message_ids * len(emails)
        try:
            return {
                email.addr_spec: AnymailRecipientStatus(
                    message_id=message_id, status="queued"
                )
                for email, message_id in zip(emails, message_ids, strict=True)
            }
        except TypeError as err:  # an unhashable id
            raise self._format_error(response, payload, message) from err

    def _format_error(self, response, payload, message):
        return self.api_error(
            "Unexpected API response format", response, payload, message
        )


class MailtrapPayload(DeferredMergeMixin, RequestsPayload):
    """A Mailtrap send (or batch send) request body."""

    def __init__(self, message, defaults, backend):
        super().__init__(message, defaults, backend, headers=dict(backend.api_headers))

    def init_payload(self):
        self.data = {}
        # EmailAddress objects by recipient type, for the send status
        self.recipients = {"to": [], "cc": [], "bcc": []}

    @property
    def all_recipients(self):
        return self.recipients["to"] + self.recipients["cc"] + self.recipients["bcc"]

    def get_api_endpoint(self):
        if self.is_batch():
            return self.backend.batch_endpoint
        return self.backend.send_endpoint

    def serialize_data(self):
        if self.is_batch():
            return self.serialize_json(self._batch_data())
        return self.serialize_json(self.data)

    def _batch_data(self):
        """{"base": shared fields, "requests": one item per to recipient}."""
        base = dict(self.data)  # (shallow: self.data is left as built)
        to = base.pop("to", [])
        shared = {
            field: base.pop(field)
            for field in BATCH_SHARED_RECIPIENT_FIELDS
            if field in base
        }
        requests = [self._batch_request(base, address, shared) for address in to]
        return {"base": base, "requests": requests}

    def _batch_request(self, base, address, shared):
        # A request's fields replace (not merge with) the base's, so each
        # per-recipient value is pre-merged with the base value
        email = address["email"]
        request = {"to": [address], **shared}
        if email in self.merge_data:
            request["template_variables"] = {
                **base.get("template_variables", {}),
                **self.merge_data[email],
            }
        if email in self.merge_metadata:
            request["custom_variables"] = {
                **base.get("custom_variables", {}),
                **self.merge_metadata[email],
            }
        if email in self.merge_headers:
            headers = CaseInsensitiveDict(base.get("headers", {}))
            headers.update(force_non_lazy_dict(self.merge_headers[email]))
            request["headers"] = dict(headers)
        return request

    def _address(self, email):
        return email.as_dict(idna_encode=self.backend.idna_encode)

    # -- Django message attributes ----------------------------------------

    def set_from_email(self, email):
        self.data["from"] = self._address(email)

    def set_recipients(self, recipient_type, emails):
        self.recipients[recipient_type].extend(emails)
        if emails:
            self.data[recipient_type] = [self._address(email) for email in emails]

    def set_subject(self, subject):
        if subject:  # (Mailtrap rejects a subject with a template)
            self.data["subject"] = subject

    def set_reply_to(self, emails):
        if len(emails) == 1:
            self.data["reply_to"] = self._address(emails[0])
        elif emails:
            # Mailtrap's reply_to takes one address: use a header for more
            if any(email.uses_eai for email in emails):
                self.unsupported_feature("EAI with multiple reply_to addresses")
            idna_encode = self.backend.idna_encode
            self.data.setdefault("headers", {})["Reply-To"] = ", ".join(
                email.format(use_rfc2047=True, idna_encode=idna_encode)
                for email in emails
            )

    def set_extra_headers(self, headers):
        self.data.setdefault("headers", {}).update(headers.items())

    def set_text_body(self, body):
        if body:  # (Mailtrap rejects a body with a template)
            self.data["text"] = body

    def set_html_body(self, body):
        self.data["html"] = body

    def add_attachment(self, attachment):
        item = {
            "filename": attachment.name or "attachment",  # (required by Mailtrap)
            "type": attachment.content_type,
            "content": Base64Bytes(attachment.content_bytes),
        }
        if attachment.inline:
            item["disposition"] = "inline"
            item["content_id"] = attachment.cid
        self.data.setdefault("attachments", []).append(item)

    # -- Anymail additions --------------------------------------------------
    # (envelope_sender, send_at, track_clicks, track_opens: unsupported by
    # the base class)

    def set_metadata(self, metadata):
        self.data["custom_variables"] = {
            str(key): str(value) for key, value in metadata.items()
        }

    def set_tags(self, tags):
        if len(tags) > 1:
            self.unsupported_feature("multiple tags")
        if tags:
            self.data["category"] = tags[0]

    def set_template_id(self, template_id):
        self.data["template_uuid"] = template_id

    def set_merge_global_data(self, merge_global_data):
        self.data.setdefault("template_variables", {}).update(merge_global_data)

    def set_esp_extra(self, extra):
        update_deep(self.data, extra)
