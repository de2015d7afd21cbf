"""AnymailInboundMessage: parsing, convenience properties, construct()."""

import warnings
from datetime import datetime, timedelta, timezone
from email.errors import MultipartInvariantViolationDefect, NoBoundaryInMultipartDefect

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from anymail.exceptions import AnymailDeprecationWarning, AnymailInvalidAddress
from anymail.inbound import AnymailInboundMessage
from anymail.utils import EmailAddress

M = AnymailInboundMessage

MULTIPART = b"""\
From: "Sender, Inc." <sender@example.com>
To: =?ISO-8859-1?Q?Andr=E9?= "Pirard, Jr." <p@example.com>, two@example.com
Cc: cc@xn--th-e0a.example.com
Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=
 =?utf-8?q?u_understand_the_example=2E?=
Date: Tue, 20 Nov 2026 10:11:12 -0700
X-Broken: =?utf-8?q?Not_a_char:_=88.?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/related; boundary="related"

--related
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset="iso-8859-3"
Content-Transfer-Encoding: 8bit

\xd8i estas retpo\xfeto.\r

--alt
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<p>=C4=9Ci estas</p>
--alt--
--related
Content-Type: image/png; name="pixel.png"
Content-Disposition: inline
Content-ID: <img1@example.com>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--related--
--outer
Content-Type: text/csv; charset="utf-8"
Content-Disposition: attachment; filename*=iso-8859-1''Une%20pi%E8ce%20jointe%2Etxt
Content-Transfer-Encoding: base64

UHJvZHVjdCxQcmljZQ0KV2lkZ2V0LDMzLjIw
--outer
Content-Type: message/rfc822
Content-Disposition: attachment

From: inner@example.com
Subject: Forwarded

Inner body.

--outer--
"""


@pytest.fixture
def multipart():
    return M.parse_raw_mime_bytes(MULTIPART)


class TestHeaders:
    def test_decoded_headers(self, multipart):
        assert multipart.subject == "If you can read this you understand the example."
        assert multipart["X-Broken"] == "Not a char: \ufffd."
        assert multipart.defects == []

    def test_addresses(self, multipart):
        assert multipart.from_email == EmailAddress(
            "Sender, Inc.", "sender@example.com"
        )
        assert str(multipart.from_email) == '"Sender, Inc." <sender@example.com>'
        assert multipart.from_email.display_name == "Sender, Inc."
        assert [str(a) for a in multipart.to] == [
            '"André Pirard, Jr." <p@example.com>',
            "two@example.com",
        ]
        assert multipart.cc[0].domain == "xn--th-e0a.example.com"
        assert multipart.bcc == []

    def test_date_aware_with_offset(self, multipart):
        assert multipart.date == datetime(
            2026, 11, 20, 10, 11, 12, tzinfo=timezone(timedelta(hours=-7))
        )

    @pytest.mark.parametrize(
        "header, expected",
        [
            (
                "Date: Tue, 20 Nov 2026 10:11:12 -0000\n",
                datetime(2026, 11, 20, 10, 11, 12),
            ),
            ("Date: Tue, 20 Nov 2026 10:11:12\n", datetime(2026, 11, 20, 10, 11, 12)),
            ("Date: garbage\n", None),
            ("Date: Tue, 45 Nov 2026 10:11:12 +0000\n", None),
            ("", None),
        ],
    )
    def test_naive_or_missing_dates(self, header, expected):
        assert M.parse_raw_mime(header + "Subject: x\n\nbody").date == expected

    @pytest.mark.parametrize("line_ending", ["\n", "\r", "\r\n"])
    def test_folding_with_any_line_ending(self, line_ending):
        raw = line_ending.join(
            ["Subject: This subject uses", " header folding", "", "body", ""]
        )
        msg = M.parse_raw_mime(raw)
        assert msg.subject == "This subject uses header folding"
        assert msg.defects == []

    def test_multiple_from_is_a_list(self):
        msg = M.parse_raw_mime("From: a@x.com, b@x.com\n\n")
        assert msg.from_email == [
            EmailAddress("", "a@x.com"),
            EmailAddress("", "b@x.com"),
        ]

    @pytest.mark.parametrize("value", ["", "   "])
    def test_blank_address_headers(self, value):
        msg = M.parse_raw_mime(f"From: {value}\nTo: {value}\n\n")
        assert msg.from_email is None
        assert msg.to == []

    @pytest.mark.parametrize(
        "value", ["not an address", "<>", "undisclosed-recipients:;"]
    )
    def test_unparseable_address_raises(self, value):
        msg = M.parse_raw_mime(f"To: {value}\n\n")
        with pytest.raises(AnymailInvalidAddress):
            msg.to  # noqa: B018

    def test_get_address_header_combines_instances(self):
        msg = M.parse_raw_mime("To: a@x.com\nTo: b@x.com, c@x.com\n\n")
        assert [a.addr_spec for a in msg.get_address_header("to")] == [
            "a@x.com",
            "b@x.com",
            "c@x.com",
        ]

    def test_envelope_attributes_default_none(self, multipart):
        for name in (
            "envelope_sender",
            "envelope_recipient",
            "stripped_text",
            "stripped_html",
            "spam_detected",
            "spam_score",
        ):
            assert getattr(multipart, name) is None
            assert getattr(multipart.get_payload(0), name) is None


class TestBodies:
    def test_text_and_html(self, multipart):
        # the CRLF in the 8bit ISO-8859-3 part becomes \n; the raw bytes keep it
        assert multipart.text == "Ĝi estas retpoŝto.\n"
        assert multipart.html == "<p>Ĝi estas</p>"
        plain = multipart.get_payload(0).get_payload(0).get_payload(0)
        assert plain.get_content_bytes() == b"\xd8i estas retpo\xfeto.\r\n"

    def test_no_content_type_is_plain_text(self):
        assert (
            M.parse_raw_mime("Subject: x\n\nHello\r\nthere\r").text == "Hello\nthere\n"
        )

    def test_text_attachment_is_not_body(self):
        raw = (
            "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
            "Content-Type: text/plain\nContent-Disposition: attachment\n\n"
            "not body\n--b--\n"
        )
        assert M.parse_raw_mime(raw).text is None

    def test_body_found_in_attached_message(self):
        raw = (
            "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
            "Content-Type: message/rfc822\nContent-Disposition: attachment\n\n"
            "Subject: inner\n\ninner body\n--b--\n"
        )
        assert M.parse_raw_mime(raw).text == "inner body"

    def test_empty_message(self):
        msg = M()
        assert msg.text is None
        assert msg.html is None
        assert msg.attachments == []
        assert msg.content_id_map == {}

    def test_missing_charset_replaces_8bit(self):
        msg = M.parse_raw_mime_bytes(b"Subject: x\n\ncaf\xe9\n")
        assert msg.text == "caf\ufffd\n"

    def test_unknown_charset_raises_lookup_error(self):
        msg = M.parse_raw_mime("Content-Type: text/plain; charset=x-unknown\n\nhi\n")
        with pytest.raises(LookupError):
            msg.text  # noqa: B018

    def test_get_content_text_options(self):
        part = M.parse_raw_mime_bytes(b"Content-Type: text/plain\n\ncaf\xc3\xa9\n")
        assert part.get_content_text() == "caf\ufffd\ufffd\n"
        assert part.get_content_text(charset="utf-8") == "café\n"
        assert part.get_content_text(errors="ignore") == "caf\n"
        with pytest.raises(UnicodeDecodeError):
            part.get_content_text(errors="strict")

    def test_multipart_content_errors(self, multipart):
        with pytest.raises(ValueError, match=r"perhaps you want as_bytes\(\)\?"):
            multipart.get_content_bytes()
        with pytest.raises(ValueError, match=r"perhaps you want as_string\(\)\?"):
            multipart.get_content_text()

    def test_missing_boundary_is_lenient(self):
        msg = M.parse_raw_mime("Content-Type: multipart/mixed\n\nraw body\n")
        assert msg.text is None
        assert msg.get_payload() == "raw body\n"
        defect_types = {type(d) for d in msg.defects}
        assert defect_types == {
            NoBoundaryInMultipartDefect,
            MultipartInvariantViolationDefect,
        }

    def test_truncated_multipart_keeps_parts(self):
        raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
        raw += "Content-Type: text/plain\n\nhalf"
        msg = M.parse_raw_mime(raw)
        assert msg.text == "half"
        assert msg.defects  # the missing close boundary is recorded


class TestAttachments:
    def test_attachments_inlines_and_content_ids(self, multipart):
        csv, forwarded = multipart.attachments
        assert csv.get_filename() == "Une pièce jointe.txt"
        assert csv.get_content_text() == "Product,Price\nWidget,33.20"
        assert csv.get_content_bytes() == b"Product,Price\r\nWidget,33.20"
        assert forwarded.get_content_type() == "message/rfc822"
        assert forwarded.get_payload(0).subject == "Forwarded"
        assert forwarded.get_content_text() == (
            "From: inner@example.com\nSubject: Forwarded\n\nInner body.\n"
        )
        (image,) = multipart.inlines
        assert multipart.content_id_map == {"img1@example.com": image}
        assert image.get_content_bytes() == b"\x89PNG\r\n\x1a\n"
        assert isinstance(image, M)

    def test_as_uploaded_file(self, multipart):
        image = multipart.inlines[0]
        uploaded = image.as_uploaded_file()
        assert isinstance(uploaded, SimpleUploadedFile)
        assert uploaded.name == "pixel.png"  # from the Content-Type name param
        assert uploaded.content_type == "image/png"
        assert uploaded.read() == b"\x89PNG\r\n\x1a\n"
        assert multipart.get_payload(0).as_uploaded_file() is None

    def test_uploaded_file_name_is_sanitized(self):
        att = M.construct_attachment("text/plain", "x", filename="../static/index.html")
        assert att.as_uploaded_file().name == "index.html"

    def test_deprecated_aliases(self, multipart):
        image = multipart.inlines[0]
        with pytest.warns(AnymailDeprecationWarning, match="renamed to content_id_map"):
            assert multipart.inline_attachments == {"img1@example.com": image}
        with pytest.warns(AnymailDeprecationWarning, match="renamed to is_inline"):
            assert image.is_inline_attachment() is True

    def test_content_id_without_disposition_is_neither(self):
        raw = (
            "Content-Type: multipart/related; boundary=b\n\n--b\n"
            "Content-Type: image/png\nContent-ID: <x>\n\nabc\n--b--\n"
        )
        msg = M.parse_raw_mime(raw)
        assert msg.inlines == []
        assert msg.attachments == []
        assert msg.content_id_map == {}


class TestParsing:
    def test_parse_raw_mime_reinterprets_str_as_utf8(self):
        msg = M.parse_raw_mime(
            "Content-Type: text/plain; charset=iso-8859-1\n"
            "Content-Transfer-Encoding: 8bit\n\né"
        )
        assert msg.text == "Ã©"

    def test_parse_raw_mime_rejects_bytes(self):
        with pytest.raises(TypeError):
            M.parse_raw_mime(b"Subject: x\n\n")

    def test_chunks_equal_whole_even_split_mid_line_and_crlf(self):
        raw = MULTIPART.replace(b"\n", b"\r\n")
        whole = M.parse_raw_mime_bytes(raw)
        pieces = [raw[i : i + 7] for i in range(0, len(raw), 7)]
        pieces[3:3] = [b"", None]
        chunked = M.parse_raw_mime_chunks(iter(pieces))
        assert chunked.as_bytes() == whole.as_bytes()
        assert chunked.text == whole.text
        assert chunked.text.startswith("Ĝi estas retpoŝto.\n")
        assert [a.get_filename() for a in chunked.attachments] == [
            "Une pièce jointe.txt",
            None,
        ]

    def test_chunks_empty(self):
        assert list(M.parse_raw_mime_chunks([]).keys()) == []

    def test_chunk_errors_propagate(self):
        def failing():
            yield b"Subject: x\n"
            raise OSError("download failed")

        with pytest.raises(OSError, match="download failed"):
            M.parse_raw_mime_chunks(failing())

    def test_every_part_is_the_class(self, multipart):
        assert all(isinstance(part, M) for part in multipart.walk())

    def test_parse_raw_mime_file_was_removed(self):
        assert not hasattr(M, "parse_raw_mime_file")


class TestConstruct:
    def test_structure(self):
        msg = M.construct(text="T", html="H")
        (related,) = msg.get_payload()
        (alternative,) = related.get_payload()
        plain, html = alternative.get_payload()
        assert msg.get_content_type() == "multipart/mixed"
        assert related.get_content_type() == "multipart/related"
        assert alternative.get_content_type() == "multipart/alternative"
        assert plain["Content-Type"] == 'text/plain; charset="utf-8"'
        assert plain["Content-Transfer-Encoding"] == "base64"
        assert (msg.text, msg.html) == ("T", "H")
        assert msg.defects == []

    def test_empty_alternative_and_empty_strings(self):
        assert M.construct().get_payload(0).get_payload(0).get_payload() == []
        assert M.construct(text="").text == ""

    def test_line_endings_normalized(self):
        msg = M.construct(text="a\r\nb\rc\n", html="<p>x</p>\r\n")
        assert (msg.text, msg.html) == ("a\nb\nc\n", "<p>x</p>\n")

    def test_latin1_is_quoted_printable(self):
        plain = (
            M.construct(text="é", text_charset="iso-8859-1")
            .get_payload(0)
            .get_payload(0)
            .get_payload(0)
        )
        assert plain["Content-Transfer-Encoding"] == "quoted-printable"
        assert plain.get_content_text() == "é"

    def test_headers_override_and_append(self):
        msg = M.construct(
            raw_headers=(
                "Received: one\nSubject: raw\nContent-Type: text/plain\n\nignored"
            ),
            from_email='"Sender" <s@example.com>',
            to="",
            subject="explicit",
            headers=[("Received", "two"), ["X-Extra", "yes"]],
        )
        assert msg.get_all("Received") == ["one", "two"]
        assert msg.get_all("Subject") == ["explicit"]
        assert msg["X-Extra"] == "yes"
        assert msg["To"] == ""
        assert msg.to == []
        assert msg.from_email.addr_spec == "s@example.com"
        assert msg.get_all("Content-Type") == ["multipart/mixed"]
        assert msg["MIME-Version"] == "1.0"
        assert msg.defects == []

    def test_headers_mapping(self):
        assert M.construct(headers={"X-A": "1"})["X-A"] == "1"

    def test_attachments_placed_and_identical(self):
        csv = M.construct_attachment("text/csv", "a,b", filename="test.csv")
        png = M.construct_attachment("image/png", b"\x89PNG", content_id="abc123")
        msg = M.construct(attachments=[csv, png])
        related, placed_csv = msg.get_payload()
        assert placed_csv is csv
        assert related.get_payload()[1] is png
        assert msg.attachments == [csv]
        assert msg.content_id_map == {"abc123": png}


class TestConstructAttachment:
    def test_text_with_charset(self):
        att = M.construct_attachment(
            "text/csv", "Product,Price", charset="latin_1", filename="test.csv"
        )
        assert att["Content-Type"] == 'text/csv; name="test.csv"; charset="iso-8859-1"'
        assert att["Content-Disposition"] == 'attachment; filename="test.csv"'
        assert att["MIME-Version"] == "1.0"
        assert att.get_content_text() == "Product,Price"

    def test_unicode_round_trip_and_rfc2231_filename(self):
        att = M.construct_attachment(
            "text/plain", "Unicode ✓", charset="UTF-8", filename="Une pièce.txt"
        )
        assert 'charset="utf-8"' in att["Content-Type"]
        assert "filename*=utf-8''Une%20pi%C3%A8ce.txt" in att.as_string()
        assert att.get_filename() == "Une pièce.txt"
        assert att.get_content_text() == "Unicode ✓"

    def test_binary_without_charset_is_byte_exact(self):
        content = bytes(range(256))
        att = M.construct_attachment("application/octet-stream", content)
        assert att.get_content_bytes() == content
        assert "MIME-Version" not in att
        assert "Content-Transfer-Encoding" not in att

    def test_inline_content_id_and_base64(self):
        att = M.construct_attachment(
            "image/png", "iVBORw0KGgo=", content_id="<cid@x>", base64=True
        )
        assert att["Content-ID"] == "<cid@x>"
        assert att.is_inline() and not att.is_attachment()
        assert att.get_content_bytes() == b"\x89PNG\r\n\x1a\n"
        assert (
            M.construct_attachment("image/png", b"", content_id="")[
                "Content-Disposition"
            ]
            == "inline"
        )

    def test_filename_newlines_become_spaces(self):
        att = M.construct_attachment("text/plain", "x", filename="a\r\n\nb.txt")
        assert att.get_filename() == "a b.txt"

    def test_message_rfc822(self):
        source = "From: a@example.com\nSubject: Inner\n\nInner body\n"
        att = M.construct_attachment("message/rfc822", source.encode("utf-8"))
        assert att.get_content_type() == "message/rfc822"
        assert att.is_attachment()
        assert isinstance(att.get_payload(0), M)
        assert att.get_payload(0).subject == "Inner"
        assert att.get_content_text() == source

    def test_from_uploaded_file(self):
        upload = SimpleUploadedFile("data.txt", b"hello", content_type="text/plain")
        att = M.construct_attachment_from_uploaded_file(upload, content_id="c1")
        assert att.get_content_bytes() == b"hello"
        assert att.get_filename() == "data.txt"
        assert att["Content-ID"] == "<c1>"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert att.is_inline()


class TestConstructRobustHeaders:
    """ESP-reported headers never make construct() fail."""

    def test_repeated_unique_headers_kept(self):
        msg = M.construct(
            headers=[("Subject", "one"), ("Subject", "two"), ("Date", "x")]
        )
        assert msg.get_all("Subject") == ["one", "two"]
        assert msg.date is None

    def test_line_breaks_unfolded(self):
        msg = M.construct(headers={"X-Folded": "a\r\n b\nc"}, subject="s\r\nt")
        assert msg["X-Folded"] == "a b c"
        assert msg.subject == "s t"
        assert b"\nc" not in msg.as_bytes()

    def test_unparseable_value_kept_as_readable_text(self):
        msg = M.construct(headers=[("Message-ID", "<<<>>>")], text="body")
        assert msg.text == "body"
        assert msg["Message-ID"] == "<<<>>>"
        assert b"Message-ID: <<<>>>" in msg.as_bytes()

    def test_non_ascii_values_serialize(self):
        msg = M.construct(from_email="Jörg <j@example.com>", subject="Grüße")
        assert msg.from_email.display_name == "Jörg"
        assert b"=?utf-8?" in msg.as_bytes()

    def test_none_header_values_skipped(self):
        assert "X-None" not in M.construct(headers={"X-None": None})

    @pytest.mark.parametrize(
        "name", ["Bad Name", "Bad:Name", "", "X-Line\nBreak", "X-Trailing\n", "Ré"]
    )
    def test_invalid_header_names_skipped(self, name):
        msg = M.construct(headers=[(name, "dropped"), ("X-After", "kept")])
        assert msg.keys() == ["X-After", "MIME-Version", "Content-Type"]
        assert b"dropped" not in msg.as_bytes()

    def test_lone_cr_is_a_line_break_too(self):
        msg = M.construct(headers={"X-Folded": "a\r b", "X-Break": "c\rd"})
        assert msg["X-Folded"] == "a b"
        assert msg["X-Break"] == "c d"

    def test_lone_surrogate_in_unparseable_value(self):
        # JSON can carry lone surrogates: they become U+FFFD
        msg = M.construct(headers=[("To", "\ud800 <<@")])
        assert msg["To"] == "\ufffd <<@"
        msg.as_bytes()  # serializes

    def test_append_raw_header(self):
        msg = M()
        msg.append_raw_header("Subject", "one")
        msg.append_raw_header("Subject", "two\r\n folded")
        msg.append_raw_header("Bad Name", "skipped")
        assert msg.get_all("Subject") == ["one", "two folded"]
        assert msg.keys() == ["Subject", "Subject"]


def test_attached_message_bytes_need_not_be_utf8():
    source = (
        b"Subject: caf\xe9\nContent-Type: text/plain; charset=latin-1\n\nd\xe9j\xe0\n"
    )
    att = M.construct_attachment("message/rfc822", source)
    assert att.get_payload(0).text == "déjà\n"


@pytest.mark.parametrize("line_ending", [b"\n", b"\r\n", b"\r"])
def test_parse_raw_mime_bytes_matches_stdlib_bytes_parser(line_ending):
    from email.parser import BytesParser
    from email.policy import default

    raw = MULTIPART.replace(b"\n", line_ending)
    raw = raw.replace(b"Inner body.", b"Inner body. " + b"x" * 200_000)
    expected = BytesParser(M, policy=default).parsebytes(raw)
    parsed = M.parse_raw_mime_bytes(raw)
    assert parsed.as_bytes() == expected.as_bytes()
    assert [type(d) for d in parsed.defects] == [type(d) for d in expected.defects]
    assert parsed.text == expected.text
