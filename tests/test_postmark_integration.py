"""The Postmark backend over real HTTP, against example.standin's local Postmark API."""

import socket
import uuid

import pytest
import requests
from django.core.mail import get_connection
from django.test import override_settings

from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError
from anymail.message import AnymailMessage
from example.standin import StandIn

from .messages import make_message

BACKEND = "anymail.backends.postmark.EmailBackend"
TOKEN = "standin_server_token"


@pytest.fixture
def standin():
    with StandIn() as server:
        with postmark_settings(server.api_url("postmark")):
            yield server
        assert server.errors == []


def postmark_settings(api_url, **anymail):
    return override_settings(
        EMAIL_BACKEND=BACKEND,
        ANYMAIL={
            "POSTMARK_SERVER_TOKEN": TOKEN,
            "POSTMARK_API_URL": api_url,
            **anymail,
        },
    )


def is_uuid(value):
    try:
        return str(uuid.UUID(value)) == value
    except (TypeError, ValueError):
        return False


def test_send(standin):
    message = make_message(to=["Recipient <to@example.com>"], tags=["welcome"])
    message.attach("notes.txt", "¡Hola!", "text/plain")
    assert message.send() == 1

    request = standin.last_request
    assert request.method == "POST"
    assert request.endpoint == "email"
    assert request.header("X-Postmark-Server-Token") == TOKEN
    assert request.header("User-Agent").startswith("django-anymail/15.2-postmark ")
    assert request.content_type == "application/json"
    assert request.header("Accept") == "application/json"
    assert request.json() == {
        "From": "from@example.com",
        "To": "Recipient <to@example.com>",
        "Subject": "Subject",
        "TextBody": "Body",
        "Tag": "welcome",
        "Attachments": [
            {
                "Name": "notes.txt",
                "Content": "wqFIb2xhIQ==",
                "ContentType": 'text/plain; charset="utf-8"',
            }
        ],
    }
    status = message.anymail_status
    assert status.status == {"sent"}
    assert is_uuid(status.message_id)
    assert status.recipients["to@example.com"].message_id == status.message_id


def test_connection_reused_across_messages(standin):
    messages = [make_message(to=[f"to{n}@example.com"]) for n in range(3)]
    connection = get_connection()
    assert connection.send_messages(messages) == 3
    assert len(standin.requests) == 3
    assert len({request.connection_id for request in standin.requests}) == 1
    assert [request.json()["To"] for request in standin.requests] == [
        "to0@example.com",
        "to1@example.com",
        "to2@example.com",
    ]
    message_ids = {message.anymail_status.message_id for message in messages}
    assert len(message_ids) == 3
    assert all(is_uuid(message_id) for message_id in message_ids)


def test_batch_with_template(standin):
    message = AnymailMessage(
        from_email="from@example.com",
        to=["alice@example.com", "Bob <bob@example.com>"],
        template_id=1234,
        merge_data={"alice@example.com": {"name": "Alice"}},
    )
    assert message.send() == 1
    request = standin.last_request
    assert request.endpoint == "email/batchWithTemplates"
    assert [entry["To"] for entry in request.json()["Messages"]] == [
        "alice@example.com",
        "Bob <bob@example.com>",
    ]
    recipients = message.anymail_status.recipients
    assert recipients["alice@example.com"].status == "sent"
    assert recipients["bob@example.com"].status == "sent"
    assert recipients["alice@example.com"].message_id != (
        recipients["bob@example.com"].message_id
    )


def test_bulk(standin):
    message = make_message(to=["a@example.com", "b@example.com"], cc=["c@example.com"])
    with postmark_settings(standin.api_url("postmark"), POSTMARK_USE_BULK_API=True):
        assert message.send() == 1
    request = standin.last_request
    assert request.endpoint == "email/bulk"
    sent_ids = [entry["Metadata"]["anymail_id"] for entry in request.json()["Messages"]]
    recipients = message.anymail_status.recipients
    assert [
        recipients[addr].message_id for addr in ("a@example.com", "b@example.com")
    ] == (sent_ids)
    assert recipients["a@example.com"].status == "queued"
    assert recipients["c@example.com"].status == "unknown"


def test_timeout(standin):
    standin.respond_next(200, {"ErrorCode": 0, "Message": "OK"}, delay=2.0)
    message = make_message()
    with (
        postmark_settings(standin.api_url("postmark"), REQUESTS_TIMEOUT=0.2),
        pytest.raises(AnymailRequestsAPIError) as excinfo,
    ):
        message.send()
    error = excinfo.value
    assert isinstance(error, requests.Timeout)
    assert str(error).startswith(
        f"Error posting to {standin.api_url('postmark')}email:"
    )
    assert message.anymail_status.status is None


def test_http_error_body(standin):
    standin.respond_next(
        401,
        {
            "ErrorCode": 10,
            "Message": "The Server Token you provided in the X-Postmark-Server-Token"
            " request header was invalid.",
        },
    )
    with pytest.raises(AnymailAPIError) as excinfo:
        make_message().send()
    error = excinfo.value
    assert error.status_code == 401
    assert "Postmark API response 401" in str(error)
    assert "The Server Token you provided" in str(error)
    assert TOKEN not in str(error)


def test_connection_refused():
    with socket.socket() as sock:  # find a port nothing is listening on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api_url = f"http://127.0.0.1:{port}/postmark/"
    with (
        postmark_settings(api_url),
        pytest.raises(AnymailRequestsAPIError) as excinfo,
    ):
        make_message().send()
    error = excinfo.value
    assert isinstance(error, requests.ConnectionError)
    assert "Error posting to" in str(error)
    assert f"{api_url}email" in str(error)


def test_debug_api_requests_redacts_token(standin, capsys):
    with postmark_settings(standin.api_url("postmark"), DEBUG_API_REQUESTS=True):
        make_message().send()
    output = capsys.readouterr().out
    assert "===== Anymail API request" in output
    assert f"POST {standin.api_url('postmark')}email" in output
    assert "X-Postmark-Server-Token: <redacted>" in output
    assert TOKEN not in output
    assert "HTTP 200 OK" in output
