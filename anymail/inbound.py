"""AnymailInboundMessage: a received email, as Anymail's inbound signal delivers it."""

import re
import warnings
from base64 import b64decode
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesFeedParser, HeaderParser
from email.policy import default as default_policy

from django.core.files.uploadedfile import SimpleUploadedFile

from .exceptions import AnymailDeprecationWarning
from .utils import (
    DEFAULT_DOWNLOAD_CHUNK_SIZE,
    angle_wrap,
    parse_address_list,
    parse_rfc2822date,
    unfold_header_value,
    utf8_encoded_chunks,
)

#: An RFC 5322 header field name: printable ASCII other than the colon
_FIELD_NAME = re.compile(r"[!-9;-~]+")

#: Makes a plain-text header object for any name (the fallback for values the
#: name's own header parser rejects)
_UNSTRUCTURED_HEADERS = HeaderRegistry(use_default_map=False)
_SURROGATE = re.compile("[\ud800-\udfff]")

MULTIPART_BYTES_ERROR = (
    "get_content_bytes() is not valid on multipart messages "
    "(perhaps you want as_bytes()?)"
)
MULTIPART_TEXT_ERROR = (
    "get_content_text() is not valid on multipart messages "
    "(perhaps you want as_string()?)"
)


class AnymailInboundMessage(EmailMessage):
    """An EmailMessage with conveniences for reading received mail.

    The email parsers use this class as the factory for every part, so each
    sub-part (and each attached message/rfc822) has the same methods.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Filled in by ESP webhook views on the top-level message
        self.envelope_sender = None
        self.envelope_recipient = None
        self.stripped_text = None
        self.stripped_html = None
        self.spam_detected = None
        self.spam_score = None

    # -- addresses and dates --------------------------------------------------

    @property
    def from_email(self):
        """The From address; a list if there are several; None if there is none."""
        addresses = self.get_address_header("From")
        if len(addresses) == 1:
            return addresses[0]
        return addresses or None

    @property
    def to(self):
        return self.get_address_header("To")

    @property
    def cc(self):
        return self.get_address_header("Cc")

    @property
    def bcc(self):
        return self.get_address_header("Bcc")

    @property
    def subject(self):
        return self.get("Subject")

    @property
    def date(self):
        return self.get_date_header("Date")

    def get_address_header(self, header):
        """All instances of an address header, parsed to a list of EmailAddress.

        Raises AnymailInvalidAddress if any of them can't be parsed.
        """
        values = [str(value) for value in self.get_all(header, [])]
        values = [value for value in values if value.strip()]
        return parse_address_list(values, field=header) if values else []

    def get_date_header(self, header):
        """The first instance of a date header as a datetime (None if unparseable)."""
        try:
            value = self.get(header)
        except (ValueError, TypeError):
            return None
        return None if value is None else parse_rfc2822date(str(value))

    # -- bodies ---------------------------------------------------------------

    @property
    def text(self):
        """The first text/plain body part's content (attachments don't count)."""
        return self._first_body_text("text/plain")

    @property
    def html(self):
        """The first text/html body part's content (attachments don't count)."""
        return self._first_body_text("text/html")

    def _first_body_text(self, content_type):
        for part in self.walk():
            if part.get_content_type() == content_type and not part.is_attachment():
                return part.get_content_text()
        return None

    # -- attachments ----------------------------------------------------------

    @property
    def attachments(self):
        """Every part with Content-Disposition attachment, at any depth."""
        return [part for part in self.walk() if part.is_attachment()]

    @property
    def inlines(self):
        """Every part with Content-Disposition inline, at any depth."""
        return [part for part in self.walk() if part.is_inline()]

    @property
    def content_id_map(self):
        """{content_id: part} for inline parts that have a Content-ID."""
        parts = {}
        for part in self.inlines:
            content_id = part.get("Content-ID")
            if content_id:
                parts[_strip_content_id(str(content_id))] = part
        return parts

    @property
    def inline_attachments(self):
        warnings.warn(
            "inline_attachments has been renamed to content_id_map and will be "
            "removed in the near future.",
            AnymailDeprecationWarning,
            stacklevel=2,
        )
        return self.content_id_map

    def is_inline(self):
        return self.get_content_disposition() == "inline"

    def is_inline_attachment(self):
        warnings.warn(
            "is_inline_attachment has been renamed to is_inline and will be "
            "removed in the near future.",
            AnymailDeprecationWarning,
            stacklevel=2,
        )
        return self.is_inline()

    def get_content_bytes(self):
        """This part's content as bytes, with any transfer encoding undone."""
        maintype = self.get_content_maintype()
        if maintype == "message":
            return self.get_payload(0).as_bytes()
        if maintype == "multipart":
            raise ValueError(MULTIPART_BYTES_ERROR)
        if self._payload is None:
            return None
        return self.get_payload(decode=True)

    def get_content_text(self, charset=None, errors=None):
        """This part's content as text, with line endings normalized to \\n.

        Decodes with `charset` if given, else the part's declared charset,
        else us-ascii; undecodable bytes become U+FFFD unless `errors` says
        otherwise.
        """
        maintype = self.get_content_maintype()
        if maintype == "message":
            return self.get_payload(0).as_string()
        if maintype == "multipart":
            raise ValueError(MULTIPART_TEXT_ERROR)
        content = self.get_content_bytes()
        if content is None:
            return None
        charset = charset or self.get_content_charset() or "us-ascii"
        text = content.decode(charset, errors or "replace")
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def as_uploaded_file(self):
        """This part as a Django SimpleUploadedFile (None if it has no disposition)."""
        if self.get("Content-Disposition") is None:
            return None
        return SimpleUploadedFile(
            name=self.get_filename(),
            content=self.get_content_bytes(),
            content_type=self.get_content_type(),
        )

    # -- parsing --------------------------------------------------------------

    @classmethod
    def parse_raw_mime(cls, s):
        """Parse a message from a str (parsed as its UTF-8 bytes)."""
        if not isinstance(s, str):
            raise TypeError(f"parse_raw_mime needs a str, not {type(s).__name__}")
        return cls.parse_raw_mime_chunks(utf8_encoded_chunks(s))

    @classmethod
    def parse_raw_mime_bytes(cls, b):
        """Parse a message from bytes.

        (Fed to the parser in pieces, which holds less in memory than the
        stdlib's BytesParser: that decodes a whole copy of the input first.)
        """
        view = memoryview(b)
        size = DEFAULT_DOWNLOAD_CHUNK_SIZE
        return cls.parse_raw_mime_chunks(
            bytes(view[start : start + size]) for start in range(0, len(view), size)
        )

    @classmethod
    def parse_raw_mime_chunks(cls, chunks):
        """Parse a message incrementally from an iterable of bytes pieces.

        Only the parsed message is kept, never the whole raw source, so large
        downloads and request bodies can be parsed as they arrive.
        """
        parser = BytesFeedParser(cls, policy=default_policy)
        for chunk in chunks:
            if chunk:
                parser.feed(chunk)
        return parser.close()

    # -- construction ---------------------------------------------------------

    @classmethod
    def construct(
        cls,
        raw_headers=None,
        from_email=None,
        to=None,
        cc=None,
        bcc=None,
        subject=None,
        headers=None,
        text=None,
        text_charset="utf-8",
        html=None,
        html_charset="utf-8",
        attachments=None,
    ):
        """Build a message from fields an ESP has already parsed out."""
        msg = cls._from_raw_headers(raw_headers)
        for name, value in (
            ("From", from_email),
            ("To", to),
            ("Cc", cc),
            ("Bcc", bcc),
            ("Subject", subject),
        ):
            if value is not None:
                del msg[name]
                msg.append_raw_header(name, value)
        for name, value in _header_items(headers):
            if value is not None:
                msg.append_raw_header(name, value)
        del msg["MIME-Version"]
        del msg["Content-Type"]
        msg["MIME-Version"] = "1.0"
        msg["Content-Type"] = "multipart/mixed"

        alternative = cls._multipart("alternative")
        if text is not None:
            alternative.attach(cls._text_part("plain", text, text_charset))
        if html is not None:
            alternative.attach(cls._text_part("html", html, html_charset))
        related = cls._multipart("related")
        related.attach(alternative)
        msg.set_payload([related])
        for attachment in attachments or []:
            (related if attachment.is_inline() else msg).attach(attachment)
        return msg

    def append_raw_header(self, name, value):
        """Add a header, accepting any value an ESP may report.

        Unlike add_header(), this never fails: repeated Subject or Date headers
        are kept, line breaks are unfolded, and a value the policy's parser
        for that header chokes on (a malformed Message-ID, say) is kept as
        plain text, readable like any unstructured header. A name that isn't a
        valid header field name is skipped.
        """
        if not _FIELD_NAME.fullmatch(name):
            return
        value = unfold_header_value(str(value))
        try:
            header = self.policy.header_store_parse(name, value)
        except Exception:  # the stdlib's header parsers raise assorted errors
            # (lone surrogates, which JSON can carry, become U+FFFD)
            text = _SURROGATE.sub("\ufffd", value)
            header = (name, _UNSTRUCTURED_HEADERS(name, text))
        self._headers.append(header)

    @classmethod
    def _from_raw_headers(cls, raw_headers):
        if raw_headers is None:
            return cls()
        msg = HeaderParser(cls, policy=default_policy).parsestr(raw_headers)
        msg.set_payload(None)
        return msg

    @classmethod
    def _multipart(cls, subtype):
        part = cls()
        part["Content-Type"] = f"multipart/{subtype}"
        part.set_payload([])
        return part

    @classmethod
    def _text_part(cls, subtype, content, charset):
        part = cls()
        part["Content-Type"] = f"text/{subtype}"
        part.set_payload(content, charset)
        return part

    @classmethod
    def construct_attachment(
        cls,
        content_type,
        content,
        charset=None,
        filename=None,
        content_id=None,
        base64=False,
    ):
        """A new attachment part (inline if content_id is given)."""
        part = cls()
        part["Content-Type"] = content_type
        part["Content-Disposition"] = "attachment" if content_id is None else "inline"
        if filename is not None:
            filename = re.sub(r"[\r\n]+", " ", filename)
            part.set_param("name", filename, header="Content-Type")
            part.set_param("filename", filename, header="Content-Disposition")
        if content_id is not None:
            part["Content-ID"] = angle_wrap(content_id)
        if base64:
            content = b64decode(content)
        if part.get_content_maintype() == "message":
            # (bytes are parsed as bytes, so an 8-bit attached message in any
            # charset works)
            if isinstance(content, bytes):
                attached = cls.parse_raw_mime_bytes(content)
            else:
                attached = cls.parse_raw_mime(content)
            part.set_payload([attached])
        else:
            part.set_payload(content, charset)
        return part

    @classmethod
    def construct_attachment_from_uploaded_file(cls, file, content_id=None):
        """An attachment part from a Django UploadedFile (reads all of it)."""
        return cls.construct_attachment(
            content_type=getattr(file, "content_type", None),
            content=file.read(),
            charset=getattr(file, "charset", None),
            filename=getattr(file, "name", None),
            content_id=content_id,
        )


def _strip_content_id(content_id):
    content_id = content_id.strip()
    if content_id[:1] == "<" and content_id[-1:] == ">":
        return content_id[1:-1]
    if len(content_id) > 1 and content_id[0] == content_id[-1] == '"':
        return content_id[1:-1]
    return content_id


def _header_items(headers):
    if headers is None:
        return []
    if hasattr(headers, "items"):
        return headers.items()
    return headers
