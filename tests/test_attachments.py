"""Tests for anymail.utils.Attachment normalization (core-sending §3.8)."""

from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage as PyEmailMessage
from email.message import MIMEPart
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import django
from django.core import mail
from django.test import override_settings
from django.utils.translation import gettext_lazy

from anymail.message import attach_inline_image
from anymail.utils import Attachment

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 20  # enough for the image-type sniffer


def fields(attachment):
    return {
        "name": attachment.name,
        "content": attachment.content,
        "mimetype": attachment.mimetype,
        "maintype": attachment.maintype,
        "subtype": attachment.subtype,
        "charset": attachment.charset,
        "content_type": attachment.content_type,
        "inline": attachment.inline,
        "content_id": attachment.content_id,
        "cid": attachment.cid,
    }


# ---------------------------------------------------------------------------
# (filename, content, mimetype) tuples


def test_text_tuple():
    attachment = Attachment(("test.txt", "¡text!", "text/plain"))
    assert fields(attachment) == {
        "name": "test.txt",
        "content": "¡text!",
        "mimetype": "text/plain",
        "maintype": "text",
        "subtype": "plain",
        "charset": "utf-8",
        "content_type": 'text/plain; charset="utf-8"',
        "inline": False,
        "content_id": None,
        "cid": "",
    }
    assert attachment.content_bytes == b"\xc2\xa1text!"
    assert attachment.content_utf8_bytes == b"\xc2\xa1text!"
    assert attachment.b64content == "wqF0ZXh0IQ=="
    assert attachment.b64content_utf8 == "wqF0ZXh0IQ=="
    assert repr(attachment) == "Attachment<text/plain, len=6, name='test.txt'>"


def test_binary_tuple():
    attachment = Attachment(("image.png", PNG, "image/png"))
    assert fields(attachment) == {
        "name": "image.png",
        "content": PNG,
        "mimetype": "image/png",
        "maintype": "image",
        "subtype": "png",
        "charset": None,
        "content_type": "image/png",
        "inline": False,
        "content_id": None,
        "cid": "",
    }
    assert attachment.content_bytes == PNG
    assert attachment.content_utf8_bytes == PNG
    assert attachment.b64content == "iVBORw0KGgoAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
    assert repr(attachment) == "Attachment<image/png, len=28, name='image.png'>"


def test_mimetype_guessed_from_filename():
    attachment = Attachment(("photo.png", PNG, None))
    assert attachment.mimetype == "image/png"
    assert attachment.content_type == "image/png"
    attachment = Attachment(("notes.txt", "hi", None))
    assert attachment.mimetype == "text/plain"
    assert attachment.content_type == 'text/plain; charset="utf-8"'


def test_mimetype_default_octet_stream():
    attachment = Attachment((None, b"\x00\x01", None))
    assert attachment.name is None
    assert attachment.mimetype == "application/octet-stream"
    assert attachment.content_type == "application/octet-stream"
    assert attachment.charset is None
    assert repr(attachment) == "Attachment<application/octet-stream, len=2>"
    attachment = Attachment(("data.unknown-extension-xyz", b"\x00", None))
    assert attachment.mimetype == "application/octet-stream"


def test_str_content_gets_charset_whatever_the_type():
    attachment = Attachment(("x.exotic", "data", "application/x-exotic"))
    assert attachment.charset == "utf-8"
    assert attachment.content_type == 'application/x-exotic; charset="utf-8"'
    assert attachment.content == "data"
    assert attachment.content_bytes == b"data"
    attachment = Attachment((None, "data", None))
    assert attachment.mimetype == "application/octet-stream"
    assert attachment.content_type == 'application/octet-stream; charset="utf-8"'


def test_text_bytes_decoded():
    attachment = Attachment(("x.txt", b"caf\xc3\xa9", "text/plain"))
    assert attachment.content == "café"
    assert attachment.charset == "utf-8"
    assert attachment.content_type == 'text/plain; charset="utf-8"'
    assert repr(attachment) == "Attachment<text/plain, len=4, name='x.txt'>"
    attachment = Attachment(("x.csv", b"a,b\r\n", None))
    assert attachment.mimetype == "text/csv"
    assert attachment.content == "a,b\r\n"


@override_settings(DEFAULT_CHARSET="iso-8859-1")
def test_default_charset_setting():
    attachment = Attachment(("test.txt", "¡text!", "text/plain"))
    assert attachment.charset == "iso-8859-1"
    assert attachment.content_type == 'text/plain; charset="iso-8859-1"'
    assert attachment.content_bytes == b"\xa1text!"
    assert attachment.content_utf8_bytes == b"\xc2\xa1text!"
    assert attachment.b64content == "oXRleHQh"
    assert attachment.b64content_utf8 == "wqF0ZXh0IQ=="
    attachment = Attachment(("test.txt", b"\xa1text!", "text/plain"))
    assert attachment.content == "¡text!"


def test_lazy_tuple_items():
    attachment = Attachment((gettext_lazy("lazy.txt"), gettext_lazy("content"), None))
    assert attachment.name == "lazy.txt"
    assert type(attachment.name) is str
    assert attachment.content == "content"
    assert type(attachment.content) is str
    assert attachment.mimetype == "text/plain"
    assert attachment.content_type == 'text/plain; charset="utf-8"'


def test_django_attach_items():
    message = mail.EmailMessage()
    message.attach("a.txt", "hi ☺", "text/plain")
    message.attach("b.bin", b"\x00\xff")
    first, second = (Attachment(item) for item in message.attachments)
    assert (first.name, first.content, first.content_type) == (
        "a.txt",
        "hi ☺",
        'text/plain; charset="utf-8"',
    )
    assert (second.name, second.content, second.mimetype) == (
        "b.bin",
        b"\x00\xff",
        "application/octet-stream",
    )


def test_email_attachment_namedtuple():
    attachment = Attachment(mail.EmailAttachment("e.txt", "x", "text/plain"))
    assert (attachment.name, attachment.content, attachment.content_type) == (
        "e.txt",
        "x",
        'text/plain; charset="utf-8"',
    )


# ---------------------------------------------------------------------------
# Forwarded messages


def assert_crlf_only(data):
    assert b"\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_forwarded_compat32_message():
    forwarded = message_from_string("From: a@example.com\nSubject: hi\n\nBody line\n")
    attachment = Attachment((None, forwarded, None))
    assert attachment.content == (
        b"From: a@example.com\r\nSubject: hi\r\n\r\nBody line\r\n"
    )
    assert attachment.mimetype == "message/rfc822"
    assert attachment.charset is None
    assert attachment.content_type == "message/rfc822"
    assert repr(attachment) == "Attachment<message/rfc822, len=47>"


def test_forwarded_modern_message_forced_7bit():
    forwarded = PyEmailMessage()
    forwarded["Subject"] = "Fwd"
    forwarded.set_content("Café\nline2\n")  # 8bit when set, but must go 7-bit
    attachment = Attachment(("fwd.eml", forwarded, None))
    assert attachment.content == (
        b"Subject: Fwd\r\n"
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b"MIME-Version: 1.0\r\n"
        b"\r\n"
        b"Q2Fmw6kKbGluZTIK\r\n"
    )
    assert attachment.name == "fwd.eml"
    assert attachment.mimetype == "message/rfc822"
    assert attachment.charset is None
    assert attachment.content_type == "message/rfc822"


def test_forwarded_8bit_parsed_message():
    forwarded = message_from_bytes(
        b"Subject: x\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: 8bit\n\nCaf\xc3\xa9\n",
        policy=policy.default,
    )
    attachment = Attachment((None, forwarded, None))
    assert attachment.content.isascii()
    assert_crlf_only(attachment.content)
    assert attachment.charset is None  # not the forwarded message's charset
    assert attachment.content_type == "message/rfc822"


def test_forwarded_message_explicit_mimetype():
    forwarded = message_from_string("Subject: hi\n\nBody\n")
    attachment = Attachment(("fwd.eml", forwarded, "message/rfc822"))
    assert attachment.content == b"Subject: hi\r\n\r\nBody\r\n"
    assert attachment.content_type == "message/rfc822"


def test_forwarded_django_message():
    forwarded = mail.EmailMessage(
        "Forwarded subject", "Body\nline", "from@example.com", ["to@example.com"]
    )
    attachment = Attachment((None, forwarded, None))
    assert isinstance(attachment.content, bytes)
    assert b"\r\nSubject: Forwarded subject\r\n" in attachment.content
    assert b"\r\nTo: to@example.com\r\n" in attachment.content
    assert attachment.content.endswith(b"\r\n\r\nBody\r\nline") or (
        attachment.content.endswith(b"\r\n\r\nBody\r\nline\r\n")
    )
    assert_crlf_only(attachment.content)
    assert attachment.mimetype == "message/rfc822"
    assert attachment.charset is None
    assert attachment.content_type == "message/rfc822"


def test_forwarded_django_message_via_attach():
    forwarded = mail.EmailMessage("Inner", "Inner body", to=["to@example.com"])
    message = mail.EmailMessage()
    message.attach("fwd.eml", forwarded, None)
    attachment = Attachment(message.attachments[0])
    assert attachment.name == "fwd.eml"
    assert attachment.mimetype == "message/rfc822"
    assert b"\r\nSubject: Inner\r\n" in attachment.content


# ---------------------------------------------------------------------------
# MIME parts


def test_mime_text_iso_8859_1():
    part = MIMEText("¡text!\n", "plain", "iso-8859-1")
    part["Content-Disposition"] = 'attachment; filename="t.txt"'
    attachment = Attachment(part)
    assert fields(attachment) == {
        "name": "t.txt",
        "content": "¡text!\n",
        "mimetype": "text/plain",
        "maintype": "text",
        "subtype": "plain",
        "charset": "iso-8859-1",
        "content_type": 'text/plain; charset="iso-8859-1"',
        "inline": False,
        "content_id": None,
        "cid": "",
    }
    assert attachment.content_bytes == b"\xa1text!\n"
    assert attachment.content_utf8_bytes == b"\xc2\xa1text!\n"
    assert attachment.b64content == "oXRleHQhCg=="
    assert attachment.b64content_utf8 == "wqF0ZXh0IQo="
    assert repr(attachment) == "Attachment<text/plain, len=7, name='t.txt'>"


def test_mime_text_spec_example():
    attachment = Attachment(MIMEText("¡text!", "plain", "iso-8859-1"))
    assert attachment.content == "¡text!"
    assert attachment.charset == "iso-8859-1"
    assert attachment.content_bytes == b"\xa1text!"
    assert attachment.name is None
    assert repr(attachment) == "Attachment<text/plain, len=6>"


def test_mime_text_utf8_base64():
    attachment = Attachment(MIMEText("Café ☺", "html", "utf-8"))
    assert attachment.content == "Café ☺"
    assert attachment.mimetype == "text/html"
    assert attachment.charset == "utf-8"
    assert attachment.content_type == 'text/html; charset="utf-8"'


def test_mime_text_without_charset_param():
    part = MIMEBase("text", "plain")
    part.set_payload(b"caf\xc3\xa9")
    attachment = Attachment(part)
    assert attachment.charset == "utf-8"
    assert attachment.content == "café"
    assert attachment.content_type == 'text/plain; charset="utf-8"'


def test_mime_application_keeps_full_content_type():
    part = MIMEApplication(b"%PDF-1.4 \x00\xff", "pdf", name="doc.pdf")
    part.add_header("Content-Disposition", "attachment", filename="doc.pdf")
    attachment = Attachment(part)
    assert attachment.content == b"%PDF-1.4 \x00\xff"  # base64 undone
    assert attachment.mimetype == "application/pdf"
    assert attachment.content_type == 'application/pdf; name="doc.pdf"'
    assert attachment.charset is None
    assert attachment.name == "doc.pdf"
    assert attachment.inline is False


def test_mime_image_content_id_without_disposition_is_inline():
    part = MIMEImage(PNG, "png")
    part["Content-ID"] = "<a@b>"
    attachment = Attachment(part)
    assert attachment.inline is True
    assert attachment.content_id == "<a@b>"
    assert attachment.cid == "a@b"
    assert attachment.content == PNG
    assert attachment.name is None
    assert repr(attachment) == (
        "Attachment<inline, image/png, len=28, content_id='<a@b>'>"
    )


def test_mime_image_attachment_disposition_drops_content_id():
    part = MIMEImage(PNG, "png")
    part["Content-ID"] = "<a@b>"
    part["Content-Disposition"] = 'attachment; filename="x.png"'
    attachment = Attachment(part)
    assert attachment.inline is False
    assert attachment.content_id is None
    assert attachment.cid == ""
    assert repr(attachment) == "Attachment<image/png, len=28, name='x.png'>"


def test_mime_image_inline_with_filename():
    part = MIMEImage(PNG, "png")
    part["Content-ID"] = "<img1@example.com>"
    part["Content-Disposition"] = 'inline; filename="x.png"'
    attachment = Attachment(part)
    assert (attachment.inline, attachment.content_id, attachment.cid) == (
        True,
        "<img1@example.com>",
        "img1@example.com",
    )
    assert repr(attachment) == (
        "Attachment<inline, image/png, len=28, name='x.png',"
        " content_id='<img1@example.com>'>"
    )


def test_mime_inline_without_content_id():
    part = MIMEImage(PNG, "png")
    part["Content-Disposition"] = "inline"
    attachment = Attachment(part)
    assert attachment.inline is True
    assert attachment.content_id is None
    assert attachment.cid == ""
    assert repr(attachment) == "Attachment<inline, image/png, len=28, content_id=None>"


def test_mime_plain_part_not_inline():
    attachment = Attachment(MIMEImage(PNG, "png"))
    assert (attachment.inline, attachment.content_id, attachment.cid) == (
        False,
        None,
        "",
    )


def test_modern_mime_part_binary():
    part = MIMEPart()
    part.set_content(
        PNG,
        maintype="image",
        subtype="png",
        disposition="inline",
        filename="x.png",
        cid="<a@b>",
    )
    attachment = Attachment(part)
    assert fields(attachment) == {
        "name": "x.png",
        "content": PNG,
        "mimetype": "image/png",
        "maintype": "image",
        "subtype": "png",
        "charset": None,
        "content_type": "image/png",
        "inline": True,
        "content_id": "<a@b>",
        "cid": "a@b",
    }
    assert type(attachment.content_type) is str
    assert type(attachment.content_id) is str


def test_modern_mime_part_text():
    part = MIMEPart()
    part.set_content("hello ¡\n", subtype="plain", charset="iso-8859-1")
    attachment = Attachment(part)
    assert attachment.content == "hello ¡\n"
    assert attachment.charset == "iso-8859-1"
    assert attachment.content_type == 'text/plain; charset="iso-8859-1"'
    assert attachment.content_bytes == b"hello \xa1\n"
    assert attachment.b64content_utf8 == "aGVsbG8gwqEK"


def test_multipart_serialized_whole():
    part = MIMEMultipart("alternative")
    part.attach(MIMEText("plain text", "plain"))
    attachment = Attachment(part)
    assert isinstance(attachment.content, bytes)
    assert b"plain text" in attachment.content
    assert attachment.mimetype == "multipart/alternative"
    assert attachment.charset is None
    boundary = part.get_boundary()
    assert boundary is not None
    assert attachment.content_type == f'multipart/alternative; boundary="{boundary}"'
    assert f"--{boundary}".encode() in attachment.content


# ---------------------------------------------------------------------------
# Inline images from anymail.message


def test_attach_inline_image_part():
    message = mail.EmailMultiAlternatives()
    cid = attach_inline_image(message, PNG, "x.png")
    attachment = Attachment(message.attachments[0])
    assert attachment.inline is True
    assert attachment.name == "x.png"
    assert attachment.mimetype == "image/png"
    assert attachment.content == PNG
    assert attachment.content_id == f"<{cid}>"
    assert attachment.cid == cid
    assert repr(attachment) == (
        f"Attachment<inline, image/png, len=28, name='x.png', content_id='<{cid}>'>"
    )


def test_attach_inline_image_without_filename():
    message = mail.EmailMultiAlternatives()
    cid = attach_inline_image(message, PNG)
    attachment = Attachment(message.attachments[0])
    if django.VERSION >= (6, 0):
        assert attachment.name is None
    else:
        assert attachment.name == ""
    assert repr(attachment) == (
        f"Attachment<inline, image/png, len=28, content_id='<{cid}>'>"
    )
