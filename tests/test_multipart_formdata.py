"""encode_multipart_formdata (anymail.backends.base_requests): requests' own
multipart/form-data encoding, with one copy of each part."""

import email.parser
import email.policy
import tracemalloc
from unittest import mock

import pytest
import requests

from anymail.backends.base_requests import encode_multipart_formdata

BOUNDARY = "0123456789abcdef0123456789abcdef"


def requests_body(fields, files, boundary=BOUNDARY):
    """What requests sends for Request(data=fields, files=files), with `boundary`."""
    with mock.patch("urllib3.filepost.choose_boundary", return_value=boundary):
        prepared = requests.Request(
            "POST", "https://api.example.com/", data=fields, files=files
        ).prepare()
    assert prepared.headers["Content-Type"] == (
        f"multipart/form-data; boundary={boundary}"
    )
    return prepared.body


def parse(body, content_type):
    """The parts of a multipart body, by the stdlib email parser."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + bytes(body)
    )
    assert message.is_multipart()
    assert message.defects == []
    return list(message.iter_parts())


@pytest.mark.parametrize(
    "fields, files",
    [
        pytest.param(
            {"from": ["a@example.com"], "subject": "Hi"},
            [("attachment", ("a.txt", b"text", "text/plain"))],
            id="simple",
        ),
        pytest.param(
            {
                "to": ["one@example.com", "Two <two@example.com>"],
                "o:tag": ("a", "b"),
                "subject": "Ünïcode ✓",
                "v:count": 3,
                "v:ratio": 1.5,
                "skipped": None,
                "partly": ["x", None, "y"],
                "raw": b"\xff\x00bytes",
                "empty": "",
                "none-at-all": [],
            },
            [
                ("inline", ("cid@example", b"\x89PNG\r\n\x1a\n", "image/png")),
                (
                    "attachment",
                    ("latin.txt", b"\xa1text!", 'text/plain; charset="iso-8859-1"'),
                ),
                ("attachment", ("Résumé ✓.txt", b"", "text/plain")),
                ("attachment", ('quo"te\r\nnew.txt', b"q", "text/plain")),
                ("attachment", ("no-type.bin", b"\x00\x01")),
                ("attachment", ("none-type.bin", b"\x02", None)),
                ("attachment", (None, b"no filename", "text/plain")),
                ("attachment", ("string.txt", "str content ✓", "text/plain")),
                ("attachment", ("array.bin", bytearray(b"\x03\x04"), "x/y")),
            ],
            id="everything",
        ),
        pytest.param(
            [("b", "2"), ("a", "1"), ("b", "3")],
            [("f", ("f.txt", b"f", "text/plain"))],
            id="pairs",
        ),
        pytest.param(
            {},
            [("f", ("f.txt", b"--" + BOUNDARY.encode()[:-1], "text/plain"))],
            id="files-only",
        ),
    ],
)
def test_same_bytes_as_requests(fields, files):
    body, content_type = encode_multipart_formdata(fields, files, boundary=BOUNDARY)
    assert content_type == f"multipart/form-data; boundary={BOUNDARY}"
    assert type(body) is bytes
    assert body == requests_body(fields, files)


def test_memoryview_content():
    content = memoryview(bytearray(b"view content"))
    body, _ = encode_multipart_formdata({}, [("f", ("f.bin", content))], BOUNDARY)
    assert bytes(body) == requests_body({}, [("f", ("f.bin", bytes(content)))])


def test_parses_back():
    fields = {"to": ["one@example.com", "two@example.com"], "subject": "Ünïcode ✓"}
    text_type = 'text/plain; charset="utf-8"'
    files = [
        ("attachment", ("Résumé ✓.txt", "¡Hola!".encode(), text_type)),
        ("inline", ("logo@example", b"\x89PNG\r\n\x1a\n\x00", "image/png")),
    ]
    body, content_type = encode_multipart_formdata(fields, files)
    parts = parse(body, content_type)
    assert [
        (
            part.get_param("name", header="content-disposition"),
            part.get_filename(),
            part.get("Content-Type"),
            part.get_payload(decode=True),
        )
        for part in parts
    ] == [
        ("to", None, None, b"one@example.com"),
        ("to", None, None, b"two@example.com"),
        ("subject", None, None, "Ünïcode ✓".encode()),
        ("attachment", "Résumé ✓.txt", text_type, b"\xc2\xa1Hola!"),
        ("inline", "logo@example", "image/png", b"\x89PNG\r\n\x1a\n\x00"),
    ]
    # raw UTF-8 filename (as requests/urllib3 send it), not RFC 2231
    assert 'filename="Résumé ✓.txt"'.encode() in body
    assert b"filename*=" not in body


def test_peak_memory_is_the_body():
    content = bytes(range(256)) * 4096  # 1 MB
    files = [("attachment", ("big.bin", content, "x/y"))]
    tracemalloc.start()
    try:
        body, _ = encode_multipart_formdata({"subject": "Big"}, files)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(body) <= peak < len(body) + 20_000


def test_random_boundary():
    files = [("f", ("f.txt", b"f", "text/plain"))]
    first = encode_multipart_formdata({}, files)[1]
    second = encode_multipart_formdata({}, files)[1]
    assert first != second
    for content_type in first, second:
        prefix, boundary = content_type.split("=")
        assert prefix == "multipart/form-data; boundary"
        assert len(boundary) == 32 and int(boundary, 16) >= 0


@pytest.mark.parametrize(
    "fields, files",
    [
        ({"a": f"x{'a' * 32}x"}, [("f", ("f.txt", b"f", "text/plain"))]),
        ({}, [("f", ("f.txt", memoryview(b"x" + b"a" * 32), "text/plain"))]),
        ({}, [("f", (f"{'a' * 32}.txt", b"f", "text/plain"))]),
    ],
)
def test_boundary_not_in_content(fields, files):
    colliding, fresh = "a" * 32, "b" * 32
    with mock.patch("secrets.token_hex", side_effect=[colliding, fresh]):
        body, content_type = encode_multipart_formdata(fields, files)
    assert content_type == f"multipart/form-data; boundary={fresh}"
    assert bytes(body) == requests_body(
        fields, [(n, (fn, bytes(c), t)) for n, (fn, c, t) in files], fresh
    )
    with pytest.raises(ValueError, match="occurs in the content"):
        encode_multipart_formdata(fields, files, boundary=colliding)


class TestAnymailSession:
    """The backends' session builds multipart bodies with the encoder above,
    while callers (and anything patching Session.request) see the usual
    data= and files= arguments."""

    def prepare(self, **kwargs):
        from anymail.backends.base_requests import AnymailSession

        request = requests.Request("POST", "https://api.example.com/", **kwargs)
        return AnymailSession().prepare_request(request)

    def test_files_encoded_by_anymail(self):
        fields = {"to": ["a@example.com", "b@example.com"], "subject": "Hi"}
        files = [("attachment", ("a.txt", b"content", "text/plain"))]
        with mock.patch(
            "requests.models.encode_multipart_formdata",
            side_effect=AssertionError("requests' own encoder used"),
        ):
            prepared = self.prepare(
                data=fields, files=files, headers={"content-type": "text/plain"}
            )
        content_type = prepared.headers["Content-Type"]
        boundary = content_type.split("boundary=", 1)[1]
        assert prepared.body == requests_body(fields, files, boundary)
        assert prepared.headers["Content-Length"] == str(len(prepared.body))

    def test_form_without_files_left_to_requests(self):
        prepared = self.prepare(data={"subject": "Hi"})
        assert prepared.body == "subject=Hi"
        assert prepared.headers["Content-Type"] == "application/x-www-form-urlencoded"

    def test_backends_use_it(self):
        from anymail.backends.base_requests import AnymailSession
        from anymail.backends.mailgun import EmailBackend

        backend = EmailBackend(api_key="k")
        backend.open()
        try:
            assert isinstance(backend.session, AnymailSession)
        finally:
            backend.close()
