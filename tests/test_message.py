"""AnymailMessage and its mixin, inline images, message attribute normalization,
and the AnymailStatus / AnymailRecipientStatus objects.

Normalization is observed through the test backend's anymail_test_params.
"""

import base64
import os
import re
from datetime import date, datetime, timedelta, timezone
from email.mime.base import MIMEBase
from pathlib import Path
from zoneinfo import ZoneInfo

import django
import pytest
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy

from anymail.backends.base import BasePayload
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailError, AnymailInvalidAddress
from anymail.message import (
    ANYMAIL_STATUSES,
    AnymailMessage,
    AnymailMessageMixin,
    AnymailRecipientStatus,
    AnymailStatus,
    attach_inline_image,
    attach_inline_image_file,
)
from anymail.utils import UNSET, Attachment, EmailAddress

from .messages import make_message

ANYMAIL_ATTRS = [
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
]

# A real 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAA"
    "SUVORK5CYII="
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01"

CID_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.([^@]+)@(.+)$")


@pytest.fixture
def backend():
    return AnymailTestBackend()


def send(backend, message):
    """Send through the test backend; return the normalized params."""
    assert backend.send_messages([message]) == 1
    return message.anymail_test_params


# ---------------------------------------------------------------------------
# Constructor and attributes


class TestAnymailMessageConstructor:
    def test_anymail_attrs_default_to_unset(self):
        message = AnymailMessage()
        for attr in ANYMAIL_ATTRS:
            assert getattr(message, attr) is UNSET, attr

    def test_each_anymail_kwarg_is_stored_as_is(self):
        values = {attr: object() for attr in ANYMAIL_ATTRS}
        message = AnymailMessage(**values)
        for attr, value in values.items():
            assert getattr(message, attr) is value, attr

    def test_none_kwarg_is_stored_as_none(self):
        message = AnymailMessage(tags=None, merge_headers=None)
        assert message.tags is None
        assert message.merge_headers is None
        assert message.metadata is UNSET

    def test_fresh_status_before_sending(self):
        message = AnymailMessage()
        status = message.anymail_status
        assert isinstance(status, AnymailStatus)
        assert status.status is None
        assert status.message_id is None
        assert status.recipients == {}
        assert status.esp_response is None
        assert repr(status) == "AnymailStatus<status=None>"
        # each message gets its own
        assert AnymailMessage().anymail_status is not status

    def test_other_args_reach_django(self):
        message = AnymailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            reply_to=["reply@example.com"],
            headers={"X-Custom": "yes"},
            attachments=[("a.txt", "text", "text/plain")],
            tags=["tag"],
        )
        assert message.subject == "Subject"
        assert message.body == "Body"
        assert message.from_email == "from@example.com"
        assert message.to == ["to@example.com"]
        assert message.cc == ["cc@example.com"]
        assert message.bcc == ["bcc@example.com"]
        assert message.reply_to == ["reply@example.com"]
        assert message.extra_headers == {"X-Custom": "yes"}
        assert list(message.attachments[0]) == ["a.txt", "text", "text/plain"]
        assert message.tags == ["tag"]

    @pytest.mark.parametrize(
        "kwarg", ["anymail_status", "anymail_test_params", "anymail_test_response"]
    )
    def test_non_constructor_attrs_rejected_by_django(self, kwarg):
        with pytest.raises(TypeError, match=kwarg):
            AnymailMessage(**{kwarg: {}})

    def test_is_email_multi_alternatives(self):
        message = AnymailMessage(body="text")
        assert isinstance(message, EmailMultiAlternatives)
        assert isinstance(message, AnymailMessageMixin)
        message.attach_alternative("<p>html</p>", "text/html")
        assert [tuple(alt) for alt in message.alternatives] == [
            ("<p>html</p>", "text/html")
        ]

    def test_mixin_with_plain_email_message(self, backend):
        class MyMessage(AnymailMessageMixin, EmailMessage):
            pass

        message = MyMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"], tags=["t"]
        )
        assert message.tags == ["t"]
        assert message.metadata is UNSET
        assert not hasattr(message, "attach_alternative")
        params = send(backend, message)
        assert params["tags"] == ["t"]

    def test_mixin_with_other_email_message_subclass(self):
        class MyMessage(AnymailMessageMixin, EmailMultiAlternatives):
            pass

        message = MyMessage(metadata={"a": "b"})
        assert message.metadata == {"a": "b"}
        assert message.track_clicks is UNSET
        assert message.alternatives == []

    def test_attributes_honored_on_plain_django_message(self, backend):
        message = EmailMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"]
        )
        assert not hasattr(message, "anymail_status")
        message.tags = ["plain"]
        message.metadata = {"k": "v"}
        message.track_opens = True
        params = send(backend, message)
        assert params["tags"] == ["plain"]
        assert params["metadata"] == {"k": "v"}
        assert params["track_opens"] is True
        assert "track_clicks" not in params
        assert message.anymail_status.status == {"sent"}


# ---------------------------------------------------------------------------
# UNSET vs None


class TestUnsetVsNone:
    def test_unset_attrs_are_not_passed(self, backend):
        params = send(backend, make_message())
        assert params == {
            "from": EmailAddress("", "from@example.com"),
            "to": [EmailAddress("", "to@example.com")],
            "cc": [],
            "bcc": [],
            "reply_to": [],
            "subject": "Subject",
            "text_body": "Body",
            "is_batch_send": False,
        }

    def test_none_subject_is_omitted(self, backend):
        message = make_message()
        message.subject = None
        params = send(backend, message)
        assert "subject" not in params

    def test_none_from_email_is_omitted(self, backend):
        message = make_message()
        message.from_email = None
        params = send(backend, message)
        assert "from" not in params

    def test_falsy_values_are_passed(self, backend):
        params = send(
            backend,
            make_message(tags=[], metadata={}, track_clicks=False, track_opens=False),
        )
        assert params["tags"] == []
        assert params["metadata"] == {}
        assert params["track_clicks"] is False
        assert params["track_opens"] is False

    def test_none_anymail_attrs_are_omitted(self, backend):
        message = make_message(
            tags=None,
            metadata=None,
            track_clicks=None,
            template_id=None,
            esp_extra=None,
            merge_global_data=None,
        )
        params = send(backend, message)
        for key in (
            "tags",
            "metadata",
            "track_clicks",
            "template_id",
            "merge_global_data",
        ):
            assert key not in params


# ---------------------------------------------------------------------------
# Batch detection


class TestBatchDetection:
    @pytest.mark.parametrize(
        "kwargs,expected",
        [
            ({}, False),
            ({"merge_data": {}}, True),
            ({"merge_data": {"to@example.com": {"a": 1}}}, True),
            ({"merge_metadata": {}}, True),
            ({"merge_headers": {}}, True),
            ({"merge_headers": None}, True),
            ({"merge_data": None}, False),
            ({"merge_metadata": None}, False),
            ({"merge_global_data": {"a": 1}}, False),
            ({"merge_global_data": {}}, False),
            ({"template_id": "tpl", "metadata": {"a": 1}}, False),
        ],
    )
    def test_is_batch_send(self, backend, kwargs, expected):
        params = send(backend, make_message(**kwargs))
        assert params["is_batch_send"] is expected

    def test_merge_headers_none_is_handed_to_payload(self, backend):
        params = send(backend, make_message(merge_headers=None))
        assert "merge_headers" in params
        assert params["merge_headers"] is None

    def test_cancelled_merge_data_is_not_passed(self, backend):
        params = send(backend, make_message(merge_data=None, merge_metadata=None))
        assert "merge_data" not in params
        assert "merge_metadata" not in params

    def test_batch_send_is_one_outbox_item(self, backend):
        message = make_message(
            to=["a@example.com", "b@example.com"],
            merge_data={"a@example.com": {"n": 1}, "b@example.com": {"n": 2}},
        )
        assert backend.send_messages([message]) == 1
        assert mail.outbox == [message]
        assert message.anymail_test_params["is_batch_send"] is True


# ---------------------------------------------------------------------------
# Inline images


def image_parts(message):
    return [part for part in message.attachments if not isinstance(part, tuple)]


class TestInlineImages:
    def test_attach_inline_image(self):
        message = EmailMessage()
        cid = attach_inline_image(message, PNG)
        match = CID_RE.match(cid)
        assert match, cid
        assert int(match.group(2)) == os.getpid()
        assert match.group(4) == "img"
        assert match.group(5) == "inline"
        assert not cid.startswith("<")

        (part,) = message.attachments
        assert part.get_content_type() == "image/png"
        assert part["Content-ID"] == f"<{cid}>"
        assert part["Content-Transfer-Encoding"] == "base64"
        assert part.get_content_disposition() == "inline"
        assert part.get_payload(decode=True) == PNG
        if django.VERSION >= (6, 0):
            from email.message import MIMEPart

            assert isinstance(part, MIMEPart)
        else:
            from email.mime.image import MIMEImage

            assert isinstance(part, MIMEImage)

    def test_content_id_time_based_part(self):
        import time

        before = int(time.time() * 100)
        cid = attach_inline_image(EmailMessage(), PNG)
        after = int(time.time() * 100)
        assert before <= int(CID_RE.match(cid).group(1)) <= after

    def test_content_ids_are_unique(self):
        message = EmailMessage()
        cids = {attach_inline_image(message, PNG) for _ in range(5)}
        assert len(cids) == 5
        assert len(message.attachments) == 5

    def test_idstring_and_domain(self):
        message = EmailMessage()
        cid = attach_inline_image(
            message, PNG, idstring="logo", domain="images.example.com"
        )
        assert cid.endswith(".logo@images.example.com")
        assert CID_RE.match(cid).group(4) == "logo"

    def test_filename(self):
        message = EmailMessage()
        cid = attach_inline_image(message, PNG, filename="logo.png")
        (part,) = message.attachments
        assert part.get_filename() == "logo.png"
        attachment = Attachment(part)
        assert attachment.name == "logo.png"
        assert attachment.inline is True
        assert attachment.content_id == f"<{cid}>"
        assert attachment.cid == cid
        assert attachment.content == PNG
        assert attachment.mimetype == "image/png"

    def test_no_filename(self):
        message = EmailMessage()
        attach_inline_image(message, PNG)
        attachment = Attachment(message.attachments[0])
        if django.VERSION >= (6, 0):
            assert attachment.name is None
        else:
            assert attachment.name == ""
        assert attachment.inline is True

    @pytest.mark.parametrize(
        "content,subtype", [(PNG, "png"), (JPEG, "jpeg"), (GIF, "gif")]
    )
    def test_subtype_guessed(self, content, subtype):
        message = EmailMessage()
        attach_inline_image(message, content)
        assert message.attachments[0].get_content_type() == f"image/{subtype}"

    def test_explicit_subtype(self):
        message = EmailMessage()
        attach_inline_image(message, b"not really an image", subtype="x-custom")
        part = message.attachments[0]
        assert part.get_content_type() == "image/x-custom"
        assert part.get_payload(decode=True) == b"not really an image"

    def test_unguessable_subtype(self):
        message = EmailMessage()
        with pytest.raises(TypeError, match="Could not guess image MIME subtype"):
            attach_inline_image(message, b"not an image")
        assert message.attachments == []

    @pytest.mark.parametrize("as_path", [False, True])
    def test_attach_inline_image_file(self, tmp_path, as_path):
        path = tmp_path / "sample_image.png"
        path.write_bytes(PNG)
        message = EmailMessage()
        cid = attach_inline_image_file(
            message, path if as_path else str(path), domain="example.org"
        )
        assert cid.endswith(".img@example.org")
        attachment = Attachment(message.attachments[0])
        assert attachment.name == "sample_image.png"
        assert attachment.content == PNG
        assert attachment.content_id == f"<{cid}>"

    def test_file_variant_subtype_and_idstring(self, tmp_path):
        path = tmp_path / "pic.bin"
        path.write_bytes(b"whatever")
        message = EmailMessage()
        cid = attach_inline_image_file(message, path, subtype="webp", idstring="pic")
        assert cid.endswith(".pic@inline")
        assert message.attachments[0].get_content_type() == "image/webp"

    def test_methods_on_anymail_message(self, tmp_path):
        path = Path(tmp_path) / "logo.png"
        path.write_bytes(PNG)
        message = AnymailMessage()
        cid1 = message.attach_inline_image_file(path, idstring="one", domain="d.test")
        cid2 = message.attach_inline_image(
            GIF, filename="anim.gif", subtype=None, idstring="two"
        )
        assert cid1.endswith(".one@d.test")
        assert cid2.endswith(".two@inline")
        first, second = (Attachment(part) for part in message.attachments)
        assert (first.name, first.mimetype, first.cid) == (
            "logo.png",
            "image/png",
            cid1,
        )
        assert (second.name, second.mimetype, second.cid) == (
            "anim.gif",
            "image/gif",
            cid2,
        )

    def test_inline_image_in_sent_message(self, backend):
        message = make_message()
        message.attach_alternative("<img src='cid:x'>", "text/html")
        cid = message.attach_inline_image(PNG, filename="logo.png")
        params = send(backend, message)
        (attachment,) = params["attachments"]
        assert attachment.inline is True
        assert attachment.cid == cid
        assert attachment.name == "logo.png"
        assert attachment.content == PNG

    def test_renders_with_django(self):
        # usable with non-Anymail backends too
        message = EmailMultiAlternatives(
            "Subject", "Body", "from@example.com", ["to@example.com"]
        )
        cid = attach_inline_image(message, PNG, filename="logo.png")
        rendered = message.message().as_bytes()
        assert f"Content-ID: <{cid}>".encode() in rendered
        assert b"Content-Type: image/png" in rendered
        assert base64.b64encode(PNG)[:40] in rendered


# ---------------------------------------------------------------------------
# send_at


class TestSendAt:
    def test_aware_datetime_unchanged(self, backend):
        tz = timezone(timedelta(hours=-7))
        when = datetime(2022, 10, 11, 12, 13, 14, 567, tzinfo=tz)
        params = send(backend, make_message(send_at=when))
        assert params["send_at"] == when
        assert params["send_at"].tzinfo is tz
        assert params["send_at"].microsecond == 567

    def test_naive_datetime_uses_current_timezone(self, backend):
        tz = ZoneInfo("America/New_York")
        with django_timezone.override(tz):
            params = send(backend, make_message(send_at=datetime(2022, 7, 1, 9, 0)))
        send_at = params["send_at"]
        assert send_at.tzinfo is not None
        assert send_at == datetime(2022, 7, 1, 13, 0, tzinfo=timezone.utc)
        assert send_at.utcoffset() == timedelta(hours=-4)

    def test_date_is_midnight_in_current_timezone(self, backend):
        tz = ZoneInfo("Asia/Tokyo")
        with django_timezone.override(tz):
            params = send(backend, make_message(send_at=date(2022, 1, 2)))
        send_at = params["send_at"]
        assert send_at == datetime(2022, 1, 1, 15, 0, tzinfo=timezone.utc)
        assert send_at.utcoffset() == timedelta(hours=9)
        assert (send_at.hour, send_at.minute, send_at.second) == (0, 0, 0)

    def test_date_uses_default_timezone(self, backend):
        # settings.TIME_ZONE is UTC
        params = send(backend, make_message(send_at=date(2022, 1, 2)))
        assert params["send_at"] == datetime(2022, 1, 2, tzinfo=timezone.utc)

    @pytest.mark.parametrize("timestamp", [1651820889, 1651820889.5])
    def test_timestamp_is_utc(self, backend, timestamp):
        params = send(backend, make_message(send_at=timestamp))
        send_at = params["send_at"]
        assert send_at == datetime(
            2022,
            5,
            6,
            7,
            8,
            9,
            500000 if isinstance(timestamp, float) else 0,
            tzinfo=timezone.utc,
        )
        assert send_at.utcoffset() == timedelta(0)

    def test_other_values_pass_through(self, backend):
        params = send(backend, make_message(send_at="2022-10-11 12:13:14"))
        assert params["send_at"] == "2022-10-11 12:13:14"


# ---------------------------------------------------------------------------
# Address fields


class TestAddressFields:
    def test_parsed_to_email_address(self, backend):
        params = send(
            backend,
            make_message(
                from_email='"Sender, Inc." <from@example.com>',
                to=["Recipient <to@example.com>", "to2@example.com"],
                cc=["Copy <cc@example.com>"],
                bcc=["bcc@example.com"],
                reply_to=["Reply Name <reply@example.com>"],
            ),
        )
        assert params["from"] == EmailAddress("Sender, Inc.", "from@example.com")
        assert params["from"].display_name == "Sender, Inc."
        assert str(params["from"]) == '"Sender, Inc." <from@example.com>'
        assert params["to"] == [
            EmailAddress("Recipient", "to@example.com"),
            EmailAddress("", "to2@example.com"),
        ]
        assert params["cc"] == [EmailAddress("Copy", "cc@example.com")]
        assert params["bcc"] == [EmailAddress("", "bcc@example.com")]
        assert params["reply_to"] == [EmailAddress("Reply Name", "reply@example.com")]
        assert all(isinstance(addr, EmailAddress) for addr in params["to"])

    def test_comma_splits_an_item(self, backend):
        params = send(backend, make_message(to=["a@example.com, B <b@example.com>"]))
        assert params["to"] == [
            EmailAddress("", "a@example.com"),
            EmailAddress("B", "b@example.com"),
        ]
        assert sorted(params) == sorted(
            ["from", "to", "cc", "bcc", "reply_to", "subject", "text_body"]
            + ["is_batch_send"]
        )
        assert set(backend_recipients(params)) == {"a@example.com", "b@example.com"}

    def test_unicode_display_name_and_eai(self, backend):
        params = send(
            backend,
            make_message(
                from_email="Frañçois <from@exämple.com>",
                to=["відправник@example.com"],
            ),
        )
        assert params["from"].display_name == "Frañçois"
        assert params["from"].domain == "exämple.com"
        assert params["to"][0].addr_spec == "відправник@example.com"
        assert params["to"][0].uses_eai is True

    def test_bare_string_reply_to(self, backend):
        message = make_message()
        message.reply_to = "reply@example.com"
        with pytest.raises(TypeError) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == (
            '"reply_to" attribute must be a list or other iterable'
        )

    def test_lazy_string_reply_to(self, backend):
        message = make_message()
        message.reply_to = gettext_lazy("reply@example.com")
        with pytest.raises(TypeError) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == (
            '"reply_to" attribute must be a list or other iterable'
        )

    @pytest.mark.parametrize("attr", ["to", "cc", "bcc", "reply_to"])
    def test_validate_not_bare_string(self, attr):
        with pytest.raises(TypeError) as excinfo:
            BasePayload.validate_not_bare_string(attr, "x@example.com")
        assert str(excinfo.value) == (
            f'"{attr}" attribute must be a list or other iterable'
        )
        BasePayload.validate_not_bare_string(attr, ["x@example.com"])  # no error

    def test_invalid_to(self, backend):
        message = make_message(
            from_email="private-sender@example.com",
            to=["ok@example.com, oops"],
            cc=["private-cc@example.com"],
        )
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.send_messages([message])
        error = excinfo.value
        assert str(error).splitlines()[0] == (
            "Invalid email address 'oops' in `to` parsed from 'ok@example.com, oops'"
            " (maybe missing quotes around a display-name?)"
        )
        # no other addresses from the message in the error
        assert "private-sender" not in str(error)
        assert "private-cc" not in str(error)
        assert mail.outbox == []

    def test_unquoted_display_name_with_comma(self, backend):
        message = make_message(to=["Smith, John <john@example.com>"])
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value).splitlines()[0] == (
            "Invalid email address 'Smith' in `to` parsed from"
            " 'Smith, John <john@example.com>'"
            " (maybe missing quotes around a display-name?)"
        )

    def test_invalid_cc(self, backend):
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.send_messages([make_message(cc=["webmaster"])])
        assert str(excinfo.value).splitlines()[0] == (
            "Invalid email address 'webmaster' in `cc` parsed from 'webmaster'"
        )

    def test_empty_from_email(self, backend):
        message = make_message()
        message.from_email = ""
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value).splitlines()[0] == (
            "Invalid email address '' in `from_email` parsed from ''"
        )

    def test_multiple_envelope_senders(self, backend):
        message = make_message(envelope_sender="one@example.com, two@example.com")
        with pytest.raises(AnymailInvalidAddress) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == (
            "Only one email address is allowed; found 2 in "
            "'one@example.com, two@example.com' in `envelope_sender`."
        )

    def test_envelope_sender_is_addr_spec(self, backend):
        params = send(
            backend, make_message(envelope_sender="Bounces <bounce@example.com>")
        )
        assert params["envelope_sender"] == "bounce@example.com"

    def test_multiple_from_unsupported(self, backend):
        message = make_message(from_email="one@example.com, two@example.com")
        with pytest.raises(AnymailError) as excinfo:
            backend.send_messages([message])
        assert str(excinfo.value) == "Test does not support multiple from emails"

    def test_multiple_from_ignored_uses_first(self):
        backend = AnymailTestBackend(ignore_unsupported_features=True)
        message = make_message(from_email="One <one@example.com>, two@example.com")
        params = send(backend, message)
        assert params["from"] == EmailAddress("One", "one@example.com")


def backend_recipients(params):
    return [addr.addr_spec for key in ("to", "cc", "bcc") for addr in params[key]]


# ---------------------------------------------------------------------------
# Attachments


def pdf_part(content, filename):
    """A MIME attachment of the kind the running Django version prefers."""
    if django.VERSION >= (6, 0):
        from email.message import MIMEPart

        part = MIMEPart()
        part.set_content(
            content,
            maintype="application",
            subtype="pdf",
            disposition="attachment",
            filename=filename,
        )
    else:
        part = MIMEBase("application", "pdf")
        part.set_payload(content)
        part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


class TestAttachments:
    def test_tuple_and_mime_attachments(self, backend):
        message = make_message()
        message.attach("file.txt", "¡text!", "text/plain")
        message.attach("data.bin", b"\x00\x01", None)
        message.attach("guess.csv", "a,b", None)
        message.attach(pdf_part(b"%PDF-1.4", "doc.pdf"))
        params = send(backend, message)
        txt, binary, csv, pdf = params["attachments"]
        assert (txt.name, txt.content, txt.mimetype) == (
            "file.txt",
            "¡text!",
            "text/plain",
        )
        assert txt.content_type == 'text/plain; charset="utf-8"'
        assert (binary.name, binary.content, binary.mimetype) == (
            "data.bin",
            b"\x00\x01",
            "application/octet-stream",
        )
        assert csv.mimetype == "text/csv"
        assert (pdf.name, pdf.content, pdf.mimetype, pdf.inline) == (
            "doc.pdf",
            b"%PDF-1.4",
            "application/pdf",
            False,
        )
        assert all(isinstance(item, Attachment) for item in params["attachments"])

    def test_no_attachments_key_without_attachments(self, backend):
        params = send(backend, make_message())
        assert "attachments" not in params


# ---------------------------------------------------------------------------
# Lazy strings


def assert_no_lazy(value, path="params"):
    if isinstance(value, dict):
        for key, item in value.items():
            assert_no_lazy(key, f"{path} key")
            assert_no_lazy(item, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            assert_no_lazy(item, f"{path}[{index}]")
    else:
        assert type(value).__module__ != "django.utils.functional", path


class TestLazyStrings:
    def test_everything_is_forced(self, backend):
        lazy = gettext_lazy
        message = AnymailMessage(
            subject=lazy("Lazy subject"),
            body=lazy("Lazy body"),
            from_email=lazy("Lazy From <from@example.com>"),
            to=[lazy("Lazy To <to@example.com>")],
            cc=[lazy("cc@example.com")],
            reply_to=[lazy("reply@example.com")],
            headers={"X-Lazy": lazy("header value")},
            envelope_sender=lazy("bounce@example.com"),
            tags=[lazy("tag")],
            metadata={"key": lazy("meta"), "nested": {"deep": lazy("deeper")}},
            template_id=lazy("template"),
            merge_data={"to@example.com": {"name": lazy("Name")}},
            merge_global_data={"global": lazy("Global")},
            merge_metadata={"to@example.com": {"m": lazy("mm")}},
            esp_extra={"extra": {"nested": lazy("esp")}},
        )
        message.attach_alternative(lazy("<p>Lazy html</p>"), "text/html")
        message.attach(lazy("lazy.txt"), lazy("lazy content"), "text/plain")
        params = send(backend, message)

        assert params["subject"] == "Lazy subject"
        assert type(params["subject"]) is str
        assert type(params["text_body"]) is str
        assert type(params["html_body"]) is str
        assert params["html_body"] == "<p>Lazy html</p>"
        assert params["from"] == EmailAddress("Lazy From", "from@example.com")
        assert params["to"] == [EmailAddress("Lazy To", "to@example.com")]
        assert params["extra_headers"] == {"X-Lazy": "header value"}
        assert type(params["extra_headers"]["X-Lazy"]) is str
        assert params["envelope_sender"] == "bounce@example.com"
        assert params["tags"] == ["tag"]
        assert type(params["tags"][0]) is str
        assert params["metadata"] == {"key": "meta", "nested": {"deep": "deeper"}}
        assert type(params["metadata"]["nested"]["deep"]) is str
        assert type(params["template_id"]) is str
        assert type(params["merge_data"]["to@example.com"]["name"]) is str
        assert type(params["merge_global_data"]["global"]) is str
        assert type(params["merge_metadata"]["to@example.com"]["m"]) is str
        assert params["extra"] == {"nested": "esp"}
        assert type(params["extra"]["nested"]) is str
        (attachment,) = params["attachments"]
        assert type(attachment.name) is str
        assert type(attachment.content) is str
        assert (attachment.name, attachment.content) == ("lazy.txt", "lazy content")
        params_without_attachments = {
            key: value for key, value in params.items() if key != "attachments"
        }
        assert_no_lazy(params_without_attachments)

    def test_lazy_alternative_content(self, backend):
        message = make_message()
        message.attach_alternative(gettext_lazy("calendar"), "text/calendar")
        params = send(backend, message)
        assert params["alternatives"] == [("calendar", "text/calendar")]
        assert type(params["alternatives"][0][0]) is str


# ---------------------------------------------------------------------------
# Status objects


class TestRecipientStatus:
    def test_statuses(self):
        assert ANYMAIL_STATUSES == [
            "sent",
            "queued",
            "invalid",
            "rejected",
            "failed",
            "unknown",
        ]

    def test_attrs_and_repr(self):
        status = AnymailRecipientStatus("12345", "sent")
        assert status.message_id == "12345"
        assert status.status == "sent"
        assert repr(status) == "AnymailRecipientStatus('12345', 'sent')"
        assert repr(AnymailRecipientStatus(None, None)) == (
            "AnymailRecipientStatus(None, None)"
        )
        assert repr(AnymailRecipientStatus(7, "queued")) == (
            "AnymailRecipientStatus(7, 'queued')"
        )

    @pytest.mark.parametrize("status", ANYMAIL_STATUSES)
    def test_every_status_accepted(self, status):
        assert AnymailRecipientStatus("id", status).status == status

    def test_invalid_status(self):
        with pytest.raises(ValueError) as excinfo:
            AnymailRecipientStatus("id", "bogus")
        assert str(excinfo.value) == "Invalid status 'bogus'"
        with pytest.raises(ValueError) as excinfo:
            AnymailRecipientStatus("id", "SENT")
        assert str(excinfo.value) == "Invalid status 'SENT'"

    def test_unhashable_message_id(self):
        with pytest.raises(TypeError) as excinfo:
            AnymailRecipientStatus(["12345"], "sent")
        assert str(excinfo.value) == "Invalid message_id ['12345'] is not scalar type"
        with pytest.raises(TypeError) as excinfo:
            AnymailRecipientStatus({"id": 1}, "sent")
        assert str(excinfo.value) == "Invalid message_id {'id': 1} is not scalar type"


class TestAnymailStatus:
    def test_initial(self):
        status = AnymailStatus()
        assert status.message_id is None
        assert status.status is None
        assert status.recipients == {}
        assert status.esp_response is None
        assert repr(status) == "AnymailStatus<status=None>"

    def test_single_message_id_is_collapsed(self):
        status = AnymailStatus()
        recipients = {
            "one@example.com": AnymailRecipientStatus("12345", "sent"),
            "two@example.com": AnymailRecipientStatus("12345", "queued"),
        }
        status.set_recipient_status(recipients)
        assert status.message_id == "12345"
        assert status.status == {"sent", "queued"}
        assert status.recipients == recipients
        assert status.recipients is not recipients
        assert repr(status) == (
            "AnymailStatus<status={'queued', 'sent'}, message_id='12345', 2 recipients>"
        )

    def test_multiple_message_ids(self):
        status = AnymailStatus()
        status.set_recipient_status(
            {
                "one@example.com": AnymailRecipientStatus("45678", "queued"),
                "two@example.com": AnymailRecipientStatus("12345", "sent"),
            }
        )
        assert status.message_id == {"12345", "45678"}
        assert repr(status) == (
            "AnymailStatus<status={'queued', 'sent'}, message_id={'12345', '45678'},"
            " 2 recipients>"
        )

    def test_repr_sorts_numeric_ids_numerically(self):
        status = AnymailStatus()
        status.set_recipient_status(
            {
                "a@example.com": AnymailRecipientStatus(10, "sent"),
                "b@example.com": AnymailRecipientStatus(2, "sent"),
            }
        )
        assert status.message_id == {2, 10}
        assert repr(status) == (
            "AnymailStatus<status={'sent'}, message_id={2, 10}, 2 recipients>"
        )

    def test_single_recipient_repr(self):
        status = AnymailStatus()
        status.set_recipient_status(
            {"to@example.com": AnymailRecipientStatus("12345", "sent")}
        )
        assert repr(status) == (
            "AnymailStatus<status={'sent'}, message_id='12345', 1 recipients>"
        )

    def test_falsy_message_id_omitted_from_repr(self):
        status = AnymailStatus()
        status.set_recipient_status(
            {"to@example.com": AnymailRecipientStatus(0, "sent")}
        )
        assert status.message_id == 0
        assert repr(status) == "AnymailStatus<status={'sent'}, 1 recipients>"

    def test_empty_recipients(self):
        status = AnymailStatus()
        status.set_recipient_status({})
        assert status.message_id == set()
        assert status.status == set()
        assert status.recipients == {}
        assert repr(status) == "AnymailStatus<status={}>"

    def test_merges_recipients(self):
        status = AnymailStatus()
        status.set_recipient_status(
            {
                "one@example.com": AnymailRecipientStatus("1", "sent"),
                "two@example.com": AnymailRecipientStatus("1", "sent"),
            }
        )
        status.set_recipient_status(
            {
                "two@example.com": AnymailRecipientStatus("2", "rejected"),
                "three@example.com": AnymailRecipientStatus("2", "rejected"),
            }
        )
        assert sorted(status.recipients) == [
            "one@example.com",
            "three@example.com",
            "two@example.com",
        ]
        assert status.recipients["two@example.com"].status == "rejected"
        assert status.status == {"sent", "rejected"}
        assert status.message_id == {"1", "2"}

    def test_none_message_id(self):
        status = AnymailStatus()
        status.set_recipient_status(
            {"to@example.com": AnymailRecipientStatus(None, "failed")}
        )
        assert status.message_id is None
        assert repr(status) == "AnymailStatus<status={'failed'}, 1 recipients>"

    def test_esp_response_not_in_repr(self):
        status = AnymailStatus()
        status.esp_response = {"raw": "response"}
        assert repr(status) == "AnymailStatus<status=None>"
