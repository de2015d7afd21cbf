"""AnymailMessage, send status objects, and inline-image helpers."""

import os
import random
import time
from email.mime.image import MIMEImage
from pathlib import Path

import django
from django.core.mail import EmailMessage, EmailMultiAlternatives

from .utils import UNSET

ANYMAIL_STATUSES = ["sent", "queued", "invalid", "rejected", "failed", "unknown"]

#: The Anymail attributes AnymailMessage accepts as constructor kwargs
ANYMAIL_MESSAGE_ATTRS = (
    "esp_extra",
    "envelope_sender",
    "metadata",
    "send_at",
    "tags",
    "track_clicks",
    "track_opens",
    "template_id",
    "merge_data",
    "merge_global_data",
    "merge_headers",
    "merge_metadata",
)


class AnymailMessageMixin(EmailMessage):
    """Adds Anymail's ESP attributes and inline-image helpers to an EmailMessage.

    Put it first in the bases of your own EmailMessage subclass.
    """

    def __init__(self, *args, **kwargs):
        for attr in ANYMAIL_MESSAGE_ATTRS:
            setattr(self, attr, kwargs.pop(attr, UNSET))
        self.anymail_status = AnymailStatus()
        super().__init__(*args, **kwargs)

    def attach_inline_image_file(self, path, subtype=None, idstring="img", domain=None):
        """Attach an image file inline; returns its Content-ID for `cid:` URLs."""
        return attach_inline_image_file(self, path, subtype, idstring, domain)

    def attach_inline_image(
        self, content, filename=None, subtype=None, idstring="img", domain=None
    ):
        """Attach image bytes inline; returns its Content-ID for `cid:` URLs."""
        return attach_inline_image(self, content, filename, subtype, idstring, domain)


class AnymailMessage(AnymailMessageMixin, EmailMultiAlternatives):
    """An EmailMultiAlternatives with Anymail's ESP attributes."""


def attach_inline_image_file(message, path, subtype=None, idstring="img", domain=None):
    """Attach the image file at `path` inline to `message`.

    Returns the Content-ID (without angle brackets), for `src="cid:..."`.
    """
    path = Path(path)
    content = path.read_bytes()
    return attach_inline_image(message, content, path.name, subtype, idstring, domain)


def attach_inline_image(
    message, content, filename=None, subtype=None, idstring="img", domain=None
):
    """Attach image `content` (bytes) inline to `message`.

    Returns the Content-ID (without angle brackets), for `src="cid:..."`.
    """
    content_id = _make_content_id(idstring, domain or "inline")
    if subtype is None:
        subtype = _guess_image_subtype(content)
    if django.VERSION >= (6, 0):
        part = _inline_mime_part(content, subtype, filename, content_id)
    else:
        part = MIMEImage(content, subtype)
        part.add_header("Content-Disposition", "inline", filename=filename)
        part.add_header("Content-ID", f"<{content_id}>")
    message.attach(part)
    return content_id


def _make_content_id(idstring, domain):
    """A unique id in email.utils.make_msgid's style, but never using the host name."""
    timeval = int(time.time() * 100)
    pid = os.getpid()
    randint = random.getrandbits(64)
    return f"{timeval}.{pid}.{randint}.{idstring}@{domain}"


# Leading bytes of the image formats browsers and mail clients display
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\x00\x00\x01\x00", "x-icon"),
)


def _guess_image_subtype(content):
    for signature, subtype in _IMAGE_SIGNATURES:
        if content.startswith(signature):
            return subtype
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    if content.lstrip()[:5] in (b"<svg ", b"<?xml"):
        return "svg+xml"
    raise TypeError("Could not guess image MIME subtype")


def _inline_mime_part(content, subtype, filename, content_id):
    from email.message import MIMEPart

    part = MIMEPart()
    part.set_content(
        content,
        maintype="image",
        subtype=subtype,
        cte="base64",
        disposition="inline",
        filename=filename,
        cid=f"<{content_id}>",
    )
    return part


class AnymailRecipientStatus:
    """The ESP's status for one recipient of a sent message."""

    def __init__(self, message_id, status):
        try:
            hash(message_id)
        except TypeError:
            raise TypeError(f"Invalid message_id {message_id!r} is not scalar type")
        if status is not None and status not in ANYMAIL_STATUSES:
            raise ValueError(f"Invalid status {status!r}")
        self.message_id = message_id
        self.status = status

    def __repr__(self):
        return f"AnymailRecipientStatus({self.message_id!r}, {self.status!r})"


class AnymailStatus:
    """The result of sending a message: overall and per-recipient ESP status."""

    def __init__(self):
        self.message_id = None
        self.status = None
        self.recipients = {}
        self.esp_response = None

    def set_recipient_status(self, recipients):
        """Merge `recipients` ({addr_spec: AnymailRecipientStatus}) into the status."""
        self.recipients.update(recipients)
        statuses = self.recipients.values()
        self.status = {recipient.status for recipient in statuses}
        message_ids = {recipient.message_id for recipient in statuses}
        self.message_id = message_ids.pop() if len(message_ids) == 1 else message_ids

    def __repr__(self):
        parts = [f"status={_repr_sorted(self.status)}"]
        if self.message_id:
            parts.append(f"message_id={_repr_sorted(self.message_id)}")
        if self.recipients:
            parts.append(f"{len(self.recipients)} recipients")
        return "AnymailStatus<%s>" % ", ".join(parts)


def _repr_sorted(value):
    """repr, but with sets rendered in sorted (stable) order."""
    if isinstance(value, set):
        try:
            items = sorted(value)
        except TypeError:  # unorderable mix, e.g. None with str ids
            items = sorted(value, key=_sort_key)
        return "{%s}" % ", ".join(repr(item) for item in items)
    return repr(value)


def _sort_key(item):
    # Sets of message ids can mix None with strings
    return (item is not None, str(item))
