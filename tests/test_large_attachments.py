"""Tests for Base64Bytes: attachment base64 written straight into a JSON body.

serialize_json expands large Base64Bytes markers into the serialized body (a
bytearray) chunk by chunk, and inlines small ones; either way the result must be
exactly the JSON that plain base64 strings in their place would produce.
"""

import array
import base64
import io
import json
from contextlib import redirect_stdout

import pytest
from django.core.mail import get_connection
from django.test import override_settings

from anymail.backends import base as backend_base
from anymail.backends.base import Base64Bytes
from anymail.backends.base_requests import (
    JsonBytesBodyWithSecrets,
    print_api_request,
)
from anymail.exceptions import AnymailSerializationError

from .messages import make_message

BACKEND = "anymail.backends.postmark.EmailBackend"
TOKEN = "test_server_token"
CHUNK = backend_base._BASE64_CHUNK
LIMIT = backend_base.BASE64_INLINE_LIMIT
#: Large enough to take the marker path
LARGE = LIMIT + 1


def postmark_settings(**anymail):
    return override_settings(
        EMAIL_BACKEND=BACKEND,
        ANYMAIL={"POSTMARK_SERVER_TOKEN": TOKEN, **anymail},
    )


def make_payload():
    with postmark_settings():
        backend = get_connection()
        return backend.build_message_payload(make_message(), backend.send_defaults)


def data_bytes(size):
    """Deterministic, non-repeating-ish binary content of `size` bytes."""
    return bytes((i * 7 + i // 251) % 256 for i in range(size))


def plain(data):
    """`data` with every Base64Bytes replaced by its base64 str."""
    if isinstance(data, Base64Bytes):
        return base64.b64encode(data.raw).decode("ascii")
    if isinstance(data, dict):
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [plain(value) for value in data]
    return data


SMALL_SIZES = [0, 1, 2, 3, 4, 5, 100, LIMIT]
LARGE_SIZES = [LIMIT + 1, LIMIT + 2, LIMIT + 3]
LARGE_SIZES += [CHUNK - 1, CHUNK, CHUNK + 1, CHUNK + 2, 2 * CHUNK + 5]


class TestSerializeJson:
    @pytest.mark.parametrize("size", LARGE_SIZES)
    def test_large_content_encodes_like_plain_base64(self, size):
        payload = make_payload()
        data = {"Name": "a.bin", "Content": Base64Bytes(data_bytes(size)), "N": 1}
        body = payload.serialize_json(data)
        assert isinstance(body, bytearray)
        assert json.loads(body) == plain(data)
        assert bytes(body) == json.dumps(plain(data)).encode("ascii")

    @pytest.mark.parametrize("size", SMALL_SIZES)
    def test_small_content_is_inlined(self, size):
        payload = make_payload()
        data = {"Name": "a.bin", "Content": Base64Bytes(data_bytes(size)), "N": 1}
        assert payload.serialize_json(data) == json.dumps(plain(data))

    def test_several_markers_nested_and_repeated(self):
        payload = make_payload()
        shared = Base64Bytes(data_bytes(CHUNK + 10))
        data = [
            {
                "Subject": 'Caf\u00e9 \u2603 \U0001f600 "quoted" \\ back',
                "Attachments": [
                    {"Content": shared},
                    {"Content": Base64Bytes(b"\x00\xff\x10")},
                    {"Content": Base64Bytes(data_bytes(LARGE))},
                ],
            },
            {"Attachments": [{"Content": shared}], "Other": [None, True, 1.5]},
        ]
        body = payload.serialize_json(data)
        assert json.loads(body) == plain(data)
        assert bytes(body) == json.dumps(plain(data)).encode("ascii")

    def test_placeholder_lookalike_text_untouched(self):
        payload = make_payload()
        data = {
            "Text": "anymail-base64-0123456789abcdef0123456789abcdef-0",
            "Content": Base64Bytes(data_bytes(LARGE)),
        }
        body = payload.serialize_json(data)
        assert json.loads(body) == plain(data)

    def test_marker_as_bytearray_and_memoryview_content(self):
        payload = make_payload()
        raw = data_bytes(LARGE)
        for content in (bytearray(raw), memoryview(raw)):
            body = payload.serialize_json({"Content": Base64Bytes(content)})
            assert json.loads(body) == {"Content": base64.b64encode(raw).decode()}

    @pytest.mark.parametrize("inline", [True, False])
    def test_content_with_multibyte_items(self, inline):
        # sizes (and the inline limit) count bytes, not an array's items
        items = array.array("i", range(LIMIT // 8 if inline else LIMIT // 2))
        payload = make_payload()
        body = payload.serialize_json({"Content": Base64Bytes(items)})
        assert isinstance(body, str if inline else bytearray)
        assert json.loads(body) == {"Content": base64.b64encode(items).decode()}

    def test_without_markers_returns_str(self):
        payload = make_payload()
        data = {"a": [1, "b"], "c": {"d": None}}
        assert payload.serialize_json(data) == json.dumps(data)

    def test_serialization_error_unchanged(self):
        payload = make_payload()
        with pytest.raises(AnymailSerializationError) as plain_info:
            payload.serialize_json({"Content": "eA==", "bad": {1, 2}})
        with pytest.raises(AnymailSerializationError) as info:
            payload.serialize_json(
                {"Content": Base64Bytes(data_bytes(LARGE)), "bad": {1, 2}}
            )
        assert str(info.value) == str(plain_info.value)
        assert "not JSON serializable" in str(info.value)

    def test_marker_helpers(self):
        marker = Base64Bytes(b"abcd")
        assert marker.encoded_length == 8
        assert marker.b64str() == "YWJjZA=="
        assert marker == Base64Bytes(b"abcd")
        assert marker != Base64Bytes(b"abc")
        assert "len=4" in repr(marker)


class TestPostmarkBody:
    def test_request_body_is_expected_json(self, requests_mock):
        requests_mock.set_response(
            200,
            {
                "To": "to@example.com",
                "SubmittedAt": "2026-01-05T10:00:00.0000000-05:00",
                "MessageID": "abcdef01-2345-6789-0123-456789abcdef",
                "ErrorCode": 0,
                "Message": "OK",
            },
        )
        content = data_bytes(3 * CHUNK + 1)
        message = make_message()
        message.attach("big.bin", content, "application/octet-stream")
        message.attach("note.txt", "\u00a1text!", "text/plain")
        with postmark_settings():
            message.send()
        body = requests_mock.last_call["data"]
        assert isinstance(body, bytearray)
        expected = {
            "From": "from@example.com",
            "To": "to@example.com",
            "Subject": "Subject",
            "TextBody": "Body",
            "Attachments": [
                {
                    "Name": "big.bin",
                    "Content": base64.b64encode(content).decode("ascii"),
                    "ContentType": "application/octet-stream",
                },
                {
                    "Name": "note.txt",
                    "Content": "wqF0ZXh0IQ==",
                    "ContentType": 'text/plain; charset="utf-8"',
                },
            ],
        }
        assert json.loads(body) == expected
        assert bytes(body) == json.dumps(json.loads(body)).encode("ascii")

    def test_sent_over_http_with_debug_output(self):
        from example.standin import StandIn

        content = data_bytes(CHUNK + 7)
        message = make_message()
        message.attach("big.bin", content, "application/octet-stream")
        with StandIn() as standin:
            with postmark_settings():
                connection = get_connection(
                    api_url=standin.api_url("postmark"), debug_api_requests=True
                )
                output = io.StringIO()
                with redirect_stdout(output):
                    connection.send_messages([message])
            received = standin.last_request
        assert message.anymail_status.status == {"sent"}
        sent = received.json()
        assert sent["Attachments"][0]["Content"] == base64.b64encode(content).decode()
        assert received.header("Content-Length") == str(len(received.body))
        assert base64.b64encode(content).decode() in output.getvalue()


class TestDebugOutput:
    class FakeRequest:
        method = "POST"
        url = "https://api.example.com/send"
        headers = {"Content-Type": "application/json"}

    class FakeResponse:
        status_code = 200
        reason = "OK"
        headers = {}
        text = "{}"

    def print_body(self, body):
        response = self.FakeResponse()
        response.request = self.FakeRequest()
        response.request.body = body
        output = io.StringIO()
        with redirect_stdout(output):
            print_api_request(response)
        return output.getvalue()

    def test_bytearray_body_printed(self):
        output = self.print_body(bytearray(b'{"a": "\\u00e9"}'))
        assert '\n\n{"a": "\\u00e9"}\n\n----- Response\n' in output

    def test_bytes_body_with_secrets_redacted(self):
        body = JsonBytesBodyWithSecrets(b'{"key": "s3cret", "b": 1}', ("key",))
        assert json.loads(body) == {"key": "s3cret", "b": 1}  # sent unchanged
        output = self.print_body(body)
        assert "s3cret" not in output
        assert '{"key": "<redacted>", "b": 1}' in output
