"""Mailgun sending backend: the v3 messages API, posted as form fields."""

from urllib.parse import quote

from ..exceptions import AnymailError
from ..message import AnymailRecipientStatus
from ..utils import get_anymail_setting, rfc2822date
from .base import DeferredMergeMixin
from .base_requests import AnymailRequestsBackend, RequestsPayload

DEFAULT_API_URL = "https://api.mailgun.net/v3"
AMP_MIMETYPE = "text/x-amp-html"


class EmailBackend(AnymailRequestsBackend):
    """Mailgun API Email Backend (esp_name "Mailgun")."""

    esp_name = "Mailgun"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        self.sender_domain = get_anymail_setting(
            "sender_domain",
            esp_name=esp_name,
            kwargs=kwargs,
            allow_bare=True,
            default=None,
        )
        api_url = self.get_api_url_setting(kwargs, default=DEFAULT_API_URL)
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return MailgunPayload(message, defaults, self)

    def raise_for_status(self, response, payload, message):
        if response.status_code == 404 and "Domain not found" in response.text:
            raise self.api_error(
                f"Unknown sender domain '{payload.sender_domain}'.\n"
                "Check the domain is verified with Mailgun, and that the ANYMAIL"
                f" MAILGUN_API_URL setting '{self.api_url}' is the correct region.",
                response,
                payload,
                message,
            )
        super().raise_for_status(response, payload, message)
        if response.status_code == 200 and "Mailgun Magnificent API" in response.text:
            # Mailgun's answer to a request for an unknown (malformed) endpoint
            raise self.api_error(
                f"Invalid Mailgun API endpoint '{response.url}'.\n"
                "Check your ANYMAIL MAILGUN_SENDER_DOMAIN and MAILGUN_API_URL"
                " settings.",
                response,
                payload,
                message,
            )

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        try:
            message_id = parsed["id"]
            mailgun_message = parsed["message"]
        except (KeyError, TypeError):
            raise self.invalid_response_format(response, payload, message)
        if not isinstance(mailgun_message, str) or not mailgun_message.startswith(
            "Queued"
        ):
            raise self.api_error(
                f"Unrecognized Mailgun API message '{mailgun_message}'",
                response,
                payload,
                message,
            )
        # Mailgun only reports per-recipient problems later, through webhooks
        status = AnymailRecipientStatus(message_id=message_id, status="queued")
        return dict.fromkeys(payload.all_recipients, status)


class MailgunPayload(DeferredMergeMixin, RequestsPayload):
    """Form fields (self.data) and files for a Mailgun messages API call."""

    def init_payload(self):
        self.auth = ("api", self.backend.api_key)
        self.data = {}  # field name -> value, or list of values for repeated fields
        self.header_fields = {}  # the message's own headers, as {"h:Name": value}
        self.files = []  # (field name, (filename, content bytes, content type))
        self.sender_domain = self.backend.sender_domain
        self.to_addr_specs = []  # keys for recipient-variables
        self.all_recipients = []  # to, cc and bcc addr_specs, for send status
        self.metadata = {}
        self.merge_metadata = {}
        self.merge_data = {}
        self.merge_global_data = {}
        self.merge_headers = {}

    def get_api_endpoint(self):
        domain = self.sender_domain
        if not domain:
            raise AnymailError(
                "Cannot call Mailgun unknown sender domain. "
                "Either provide valid `from_email`, "
                "or set `message.esp_extra={'sender_domain': 'example.com'}`",
                backend=self.backend,
                email_message=self.message,
                payload=self,
            )
        if "/" in domain or "%2f" in domain.lower():
            # A slash would let the domain change the API path (after quoting)
            raise AnymailError(
                f"Invalid '/' in sender domain '{domain}'",
                backend=self.backend,
                email_message=self.message,
                payload=self,
            )
        return f"{quote(domain, safe='')}/messages"

    def serialize_data(self):
        """The form fields, with the merge/metadata indirections computed now.

        Mailgun personalizes a batch send through recipient-variables (keyed by
        `to` address); `v:` custom data and `h:` header fields refer to those
        per-recipient values with %recipient.name% indirections.
        """
        data = dict(self.data)
        if not (self.is_batch() or self.merge_global_data):  # (nothing per recipient)
            data.update({f"v:{key}": value for key, value in self.metadata.items()})
            return data
        recipient_variables = {}
        custom_data = dict(self.metadata)
        custom_data.update(self._add_merge_metadata(recipient_variables))
        merge_keys = self._add_merge_data(recipient_variables)
        if merge_keys and self.data.get("template"):
            # let the stored template's {{key}} see each recipient's merge data
            self._check_custom_data_conflicts(merge_keys, custom_data)
            custom_data.update({key: f"%recipient.{key}%" for key in merge_keys})
        data.update({f"v:{key}": value for key, value in custom_data.items()})
        data.update(self._add_merge_headers(recipient_variables))
        if recipient_variables or self.is_batch():
            data["recipient-variables"] = self.serialize_json(recipient_variables)
        return data

    def _add_merge_metadata(self, recipient_variables):
        """Per-recipient "v:key" values; returns {key: %recipient.v:key%}."""
        keys = _union_of_keys(self.merge_metadata.values())
        self._add_recipient_values(
            recipient_variables,
            {
                addr_spec: {f"v:{key}": value for key, value in values.items()}
                for addr_spec, values in self.merge_metadata.items()
            },
            {f"v:{key}": self.metadata.get(key, "") for key in keys},
        )
        return {key: f"%recipient.v:{key}%" for key in keys}

    def _add_merge_data(self, recipient_variables):
        """Per-recipient merge_data (over merge_global_data); returns the keys."""
        keys = _union_of_keys([*self.merge_data.values(), self.merge_global_data])
        defaults = {key: self.merge_global_data.get(key, "") for key in keys}
        self._add_recipient_values(recipient_variables, self.merge_data, defaults)
        return keys

    def _check_custom_data_conflicts(self, merge_keys, custom_data):
        conflicts = [key for key in merge_keys if key in custom_data]
        if conflicts:
            self.unsupported_feature(
                "conflicting merge_data and metadata keys (%s) when using template_id"
                % ", ".join(f"'{key}'" for key in conflicts)
            )

    def _add_merge_headers(self, recipient_variables):
        """Per-recipient "h:Name" values; returns {h:Name: %recipient.h:Name%}."""
        per_recipient = {
            addr_spec: _header_fields(headers)
            for addr_spec, headers in self.merge_headers.items()
        }
        fields = _union_of_keys(per_recipient.values())
        defaults = {field: self.header_fields.get(field, "") for field in fields}
        self._add_recipient_values(recipient_variables, per_recipient, defaults)
        return {field: f"%recipient.{field}%" for field in fields}

    def _add_recipient_values(self, recipient_variables, per_recipient, defaults):
        """Give each `to` recipient every key in defaults, with their own values.

        (Entries in per_recipient for addresses that aren't `to` are ignored.)
        """
        if not defaults:
            return
        for addr_spec in self.to_addr_specs:
            own = per_recipient.get(addr_spec, {})
            entry = recipient_variables.setdefault(addr_spec, {})
            entry.update({key: own.get(key, value) for key, value in defaults.items()})

    # -- addresses ------------------------------------------------------------

    def format_addresses(self, emails):
        return [email.format(idna_encode=self.backend.idna_encode) for email in emails]

    def set_from_email_list(self, emails):
        if any(email.uses_eai for email in emails):
            self.unsupported_feature("EAI in from_email")
        self.data["from"] = self.format_addresses(emails)
        if not self.sender_domain and emails:
            self.sender_domain = emails[0].domain

    def set_recipients(self, recipient_type, emails):
        if not emails:
            return
        self.data[recipient_type] = self.format_addresses(emails)
        addr_specs = [email.addr_spec for email in emails]
        self.all_recipients += addr_specs
        if recipient_type == "to":
            self.to_addr_specs += addr_specs

    def set_reply_to(self, emails):
        if emails:
            self.header_fields["h:Reply-To"] = ", ".join(self.format_addresses(emails))
            self.data["h:Reply-To"] = self.header_fields["h:Reply-To"]

    def set_envelope_sender(self, email):
        # Mailgun has no envelope sender field, but sends from the API domain
        self.sender_domain = email.domain

    # -- content --------------------------------------------------------------

    def set_subject(self, subject):
        self.data["subject"] = subject

    def set_extra_headers(self, headers):
        fields = _header_fields(headers)
        self.header_fields.update(fields)
        self.data.update(fields)

    def set_text_body(self, body):
        self.data["text"] = body

    def set_html_body(self, body):
        # The base payload routes only the first HTML part here (an empty html
        # body is then replaced by an html alternative); later ones go to
        # add_alternative.
        self.data["html"] = body

    def add_alternative(self, content, mimetype):
        is_amp = isinstance(mimetype, str) and mimetype.lower() == AMP_MIMETYPE
        if not is_amp:
            super().add_alternative(content, mimetype)
        elif "amp-html" in self.data:
            self.unsupported_feature("multiple html parts")
        else:
            self.data["amp-html"] = content

    def add_attachment(self, attachment):
        if attachment.inline:
            field, filename = "inline", attachment.cid  # matched by "cid:" in html
            if not filename:
                self.unsupported_feature("inline attachments without Content-ID")
        else:
            field, filename = "attachment", attachment.name
        self.files.append(
            (
                field,
                (
                    filename or "attachment",
                    attachment.content_bytes,
                    attachment.content_type,
                ),
            )
        )

    # -- Anymail features -------------------------------------------------------

    def set_metadata(self, metadata):
        self.metadata = metadata

    def set_send_at(self, send_at):
        if not isinstance(send_at, str):
            send_at = rfc2822date(send_at)
        self.data["o:deliverytime"] = send_at

    def set_tags(self, tags):
        self.data["o:tag"] = tags

    def set_track_clicks(self, track_clicks):
        self.data["o:tracking-clicks"] = "yes" if track_clicks else "no"

    def set_track_opens(self, track_opens):
        self.data["o:tracking-opens"] = "yes" if track_opens else "no"

    def set_template_id(self, template_id):
        self.data["template"] = template_id

    def set_merge_global_data(self, merge_global_data):
        self.merge_global_data = merge_global_data

    def set_esp_extra(self, extra):
        extra = dict(extra)
        if "sender_domain" in extra:
            self.sender_domain = extra.pop("sender_domain")
        self.data.update(extra)


def _header_fields(headers):
    """{"h:Name": value}, with each header name title-cased (x-tag -> X-Tag)."""
    return {f"h:{name.title()}": value for name, value in headers.items()}


def _union_of_keys(dicts):
    """All keys of the dicts, in first-seen order (as a dict used as ordered set)."""
    keys = {}
    for dct in dicts:
        keys.update(dict.fromkeys(dct))
    return keys
