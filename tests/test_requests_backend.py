"""The requests-based backend base (spec 7), with a tiny in-test JSON ESP."""

import io
import json
import sys
import warnings
from contextlib import redirect_stdout
from decimal import Decimal
from unittest import mock

import pytest
import requests
from django.test import override_settings
from requests.structures import CaseInsensitiveDict

from anymail.backends.base_requests import AnymailRequestsBackend, RequestsPayload
from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailRequestsAPIError,
    AnymailSerializationError,
)
from anymail.message import AnymailRecipientStatus
from anymail.utils import get_anymail_setting

from .messages import make_message

DEMO_API_URL = "https://api.demo.example/v1/"
DEMO_ENDPOINT_URL = "https://api.demo.example/v1/messages/send"
USER_AGENT = f"django-anymail/15.2-demo esp python-requests/{requests.__version__}"


class DemoPayload(RequestsPayload):
    """A JSON payload for the demo ESP."""

    def __init__(self, message, defaults, backend, **kwargs):
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Demo-Api-Key": backend.api_key,
        }
        kwargs.setdefault("headers", headers)
        super().__init__(message, defaults, backend, **kwargs)

    def get_api_endpoint(self):
        return self.backend.endpoint

    def init_payload(self):
        self.data = {}
        self.pieces_seen_in_init = (self.method, self.headers, self.params)

    def serialize_data(self):
        if self.data is None:
            return None
        return self.serialize_json(self.data)

    def set_from_email(self, email):
        self.data["from"] = email.address

    def add_recipient(self, recipient_type, email):
        self.data.setdefault(recipient_type, []).append(email.address)

    def set_subject(self, subject):
        self.data["subject"] = subject

    def set_text_body(self, body):
        self.data["text"] = body

    def set_html_body(self, body):
        self.data["html"] = body

    def add_attachment(self, attachment):
        self.data.setdefault("attachments", []).append(attachment.name)

    def set_tags(self, tags):
        self.data["tags"] = tags

    def set_metadata(self, metadata):
        self.data["metadata"] = metadata

    def set_esp_extra(self, extra):
        self.data.update(extra)


class DemoBackend(AnymailRequestsBackend):
    """A JSON ESP with a space in its name."""

    esp_name = "Demo ESP"
    payload_class = DemoPayload
    endpoint = "messages/send"

    def __init__(self, **kwargs):
        esp_name = self.esp_name
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=kwargs, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url", esp_name=esp_name, kwargs=kwargs, default=DEMO_API_URL
        )
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message, defaults):
        return self.payload_class(message, defaults, self)

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        return {
            email: AnymailRecipientStatus(parsed["id"], "queued")
            for email in message.recipients()
        }


def make_backend(**kwargs):
    kwargs.setdefault("api_key", "test-api-key")
    if kwargs.get("fail_silently"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return DemoBackend(**kwargs)
    return DemoBackend(**kwargs)


@pytest.fixture
def api(requests_mock):
    requests_mock.set_response(200, {"id": "msg-1"})
    return requests_mock


@pytest.fixture
def close_spy():
    with mock.patch.object(
        requests.Session, "close", autospec=True, side_effect=requests.Session.close
    ) as spy:
        yield spy


def session_of_call(requests_mock, index):
    """The Session object used for the index-th Session.request call."""
    return requests_mock.mock.call_args_list[index].args[0]


# ---------------------------------------------------------------------------
# Session and connection


class TestSession:
    def test_no_session_until_open(self):
        backend = make_backend()
        assert backend.session is None

    def test_open_and_close(self, close_spy):
        backend = make_backend()
        assert backend.open() is True
        session = backend.session
        assert isinstance(session, requests.Session)
        assert backend.open() is False
        assert backend.session is session
        backend.close()
        assert backend.session is None
        assert close_spy.call_count == 1
        assert close_spy.call_args.args[0] is session
        backend.close()  # no-op without a session
        assert close_spy.call_count == 1

    def test_user_agent(self):
        backend = make_backend()
        backend.open()
        assert backend.session.headers["User-Agent"] == USER_AGENT
        backend.close()

    def test_user_agent_sent(self, api):
        make_backend().send_messages([make_message()])
        session = session_of_call(api, 0)
        assert session.headers["User-Agent"] == USER_AGENT

    def test_create_session_override(self, api):
        sessions = []

        class RetryingBackend(DemoBackend):
            def create_session(self):
                session = super().create_session()
                session.mount("https://", requests.adapters.HTTPAdapter(max_retries=2))
                sessions.append(session)
                return session

        backend = RetryingBackend(api_key="key")
        backend.send_messages([make_message(), make_message()])
        assert len(sessions) == 1
        assert session_of_call(api, 0) is sessions[0]
        assert session_of_call(api, 1) is sessions[0]
        assert sessions[0].headers["User-Agent"] == USER_AGENT

    def test_one_session_per_send_messages(self, api, close_spy):
        backend = make_backend()
        assert backend.send_messages([make_message(), make_message()]) == 2
        assert api.call_count == 2
        assert session_of_call(api, 0) is session_of_call(api, 1)
        assert close_spy.call_count == 1
        assert close_spy.call_args.args[0] is session_of_call(api, 0)
        assert backend.session is None

        backend.send_messages([make_message()])
        assert session_of_call(api, 2) is not session_of_call(api, 0)
        assert close_spy.call_count == 2

    def test_caller_opened_session_kept(self, api, close_spy):
        backend = make_backend()
        backend.open()
        session = backend.session
        backend.send_messages([make_message()])
        backend.send_messages([make_message()])
        assert backend.session is session
        assert session_of_call(api, 0) is session
        assert session_of_call(api, 1) is session
        assert close_spy.call_count == 0
        backend.close()
        assert close_spy.call_count == 1

    def test_caller_opened_session_kept_after_error(self, api, close_spy):
        backend = make_backend()
        backend.open()
        session = backend.session
        api.set_response(500, "Server error")
        with pytest.raises(AnymailRequestsAPIError):
            backend.send_messages([make_message()])
        assert backend.session is session
        assert close_spy.call_count == 0
        backend.close()

    def test_closed_after_error(self, api, close_spy):
        backend = make_backend()
        api.set_response(400, {"message": "bad"})
        with pytest.raises(AnymailRequestsAPIError):
            backend.send_messages([make_message()])
        assert close_spy.call_count == 1
        assert backend.session is None

    def test_closed_after_suppressed_error(self, api, close_spy):
        backend = make_backend(fail_silently=True)
        api.set_response(400, {"message": "bad"})
        assert backend.send_messages([make_message(), make_message()]) == 0
        assert api.call_count == 2
        assert close_spy.call_count == 1
        assert backend.session is None

    def test_closed_after_non_anymail_error(self, api, close_spy):
        backend = make_backend()
        message = make_message()
        message.reply_to = "bare string"
        with pytest.raises(TypeError):
            backend.send_messages([message])
        assert close_spy.call_count == 1
        assert api.call_count == 0

    def test_nothing_to_send_opens_nothing(self, api):
        backend = make_backend()
        with mock.patch.object(DemoBackend, "create_session") as create_session:
            assert backend.send_messages([]) == 0
        create_session.assert_not_called()

    def test_session_creation_failure(self):
        backend = make_backend()
        with mock.patch.object(
            DemoBackend, "create_session", side_effect=RuntimeError("no session")
        ):
            with pytest.raises(RuntimeError, match="no session"):
                backend.open()
            with pytest.raises(RuntimeError, match="no session"):
                backend.send_messages([make_message()])
        assert backend.session is None

    def test_session_creation_failure_fail_silently(self, api):
        backend = make_backend(fail_silently=True)
        with mock.patch.object(
            DemoBackend, "create_session", side_effect=ValueError("no session")
        ):
            assert backend.open() is True
            assert backend.session is None
            backend.close()  # no-op
            message = make_message()
            assert backend.send_messages([message, make_message()]) == 0
        assert api.call_count == 0
        assert message.anymail_status.status is None

    def test_missing_session_is_runtime_error(self, api):
        backend = make_backend()
        message = make_message()
        payload = backend.build_message_payload(message, {})
        with pytest.raises(RuntimeError):
            backend.post_to_esp(payload, message)
        assert api.call_count == 0

    def test_close_errors(self):
        backend = make_backend()
        backend.open()
        with (
            mock.patch.object(
                backend.session, "close", side_effect=requests.ConnectionError("close")
            ),
            pytest.raises(requests.ConnectionError),
        ):
            backend.close()
        assert backend.session is None

    def test_close_errors_fail_silently(self):
        backend = make_backend(fail_silently=True)
        backend.open()
        with mock.patch.object(
            backend.session, "close", side_effect=requests.ConnectionError("close")
        ):
            backend.close()
        assert backend.session is None

    def test_close_non_requests_errors_propagate(self):
        backend = make_backend(fail_silently=True)
        backend.open()
        with (
            mock.patch.object(backend.session, "close", side_effect=KeyError("bug")),
            pytest.raises(KeyError),
        ):
            backend.close()
        assert backend.session is None

    def test_debug_hook_only_when_enabled(self):
        backend = make_backend()
        backend.open()
        assert backend.session.hooks["response"] == []
        backend.close()
        backend = make_backend(debug_api_requests=True)
        backend.open()
        assert len(backend.session.hooks["response"]) == 1
        backend.close()


# ---------------------------------------------------------------------------
# The API call


class TestApiCall:
    def test_request_kwargs(self, api):
        message = make_message(tags=["tag"])
        assert make_backend().send_messages([message]) == 1
        assert api.call_count == 1
        call = api.last_call
        assert set(call) == {
            "method",
            "url",
            "params",
            "data",
            "headers",
            "files",
            "auth",
            "timeout",
        }
        assert call["method"] == "POST"
        assert call["url"] == DEMO_ENDPOINT_URL
        assert call["params"] is None
        assert call["headers"] == {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Demo-Api-Key": "test-api-key",
        }
        assert call["files"] is None
        assert call["auth"] is None
        assert call["timeout"] == 30
        assert isinstance(call["data"], str)
        assert json.loads(call["data"]) == {
            "from": "from@example.com",
            "to": ["to@example.com"],
            "subject": "Subject",
            "text": "Body",
            "tags": ["tag"],
        }

    def test_status(self, api):
        api.set_response(200, {"id": "abc-123"})
        message = make_message(cc=["cc@example.com"])
        make_backend().send_messages([message])
        status = message.anymail_status
        assert status.message_id == "abc-123"
        assert status.status == {"queued"}
        assert isinstance(status.esp_response, requests.Response)
        assert status.esp_response.json() == {"id": "abc-123"}

    def test_2xx_other_than_200(self, api):
        api.set_response(202, {"id": "accepted"})
        message = make_message()
        assert make_backend().send_messages([message]) == 1
        assert message.anymail_status.message_id == "accepted"

    @pytest.mark.parametrize(
        "settings_kwargs,expected",
        [
            ({}, 30),
            ({"ANYMAIL": {"REQUESTS_TIMEOUT": 5}}, 5),
            ({"ANYMAIL_REQUESTS_TIMEOUT": 7.5}, 7.5),
            ({"ANYMAIL": {"REQUESTS_TIMEOUT": (3.05, 27)}}, (3.05, 27)),
            ({"ANYMAIL": {"REQUESTS_TIMEOUT": None}}, None),
        ],
    )
    def test_timeout_settings(self, api, settings_kwargs, expected):
        with override_settings(**settings_kwargs):
            backend = make_backend()
        backend.send_messages([make_message()])
        assert api.last_call["timeout"] == expected
        assert backend.timeout == expected

    @pytest.mark.parametrize(
        "kwargs,expected",
        [
            ({"requests_timeout": 12}, 12),
            ({"timeout": 9}, 9),
            ({"timeout": 9, "requests_timeout": 12}, 9),
            ({"timeout": None}, None),
            ({"requests_timeout": None}, None),
        ],
    )
    def test_timeout_kwargs(self, api, kwargs, expected):
        with override_settings(ANYMAIL={"REQUESTS_TIMEOUT": 99}):
            backend = make_backend(**kwargs)
        backend.send_messages([make_message()])
        assert api.last_call["timeout"] == expected

    def test_payload_supplied_timeout_kept(self, api):
        class TimeoutPayload(DemoPayload):
            def get_request_params(self, api_url):
                params = super().get_request_params(api_url)
                params["timeout"] = 1.5
                return params

        class TimeoutBackend(DemoBackend):
            payload_class = TimeoutPayload

        TimeoutBackend(api_key="key").send_messages([make_message()])
        assert api.last_call["timeout"] == 1.5

    @pytest.mark.parametrize(
        "api_url,endpoint,expected",
        [
            ("https://api.demo.example/v1/", "messages/send", DEMO_ENDPOINT_URL),
            ("https://api.demo.example/v1/", None, "https://api.demo.example/v1/"),
            ("https://api.demo.example/v1", "send", "https://api.demo.example/send"),
            ("https://api.demo.example/v1/", "/root", "https://api.demo.example/root"),
            (
                "https://api.demo.example/v1/",
                "https://other.example/x",
                "https://other.example/x",
            ),
            (
                "https://api.demo.example/v1/",
                "domains/ex%C3%A4mple.com/messages",
                "https://api.demo.example/v1/domains/ex%C3%A4mple.com/messages",
            ),
        ],
    )
    def test_url_join(self, api, api_url, endpoint, expected):
        class EndpointBackend(DemoBackend):
            pass

        EndpointBackend.endpoint = endpoint
        backend = EndpointBackend(api_key="key", api_url=api_url)
        backend.send_messages([make_message()])
        assert api.last_call["url"] == expected

    def test_request_pieces(self, api):
        class CustomPayload(DemoPayload):
            def __init__(self, message, defaults, backend):
                super().__init__(
                    message,
                    defaults,
                    backend,
                    method="PUT",
                    params={"q": "1"},
                    headers={"X-Custom": "yes"},
                    files=[("file", ("a.txt", b"abc", "text/plain"))],
                    auth=("user", "pass"),
                )

        class CustomBackend(DemoBackend):
            payload_class = CustomPayload

        CustomBackend(api_key="key").send_messages([make_message()])
        call = api.last_call
        assert call["method"] == "PUT"
        assert call["params"] == {"q": "1"}
        assert call["headers"] == {"X-Custom": "yes"}
        assert call["files"] == [("file", ("a.txt", b"abc", "text/plain"))]
        assert call["auth"] == ("user", "pass")

    def test_pieces_stored_before_init_payload(self):
        backend = make_backend()
        payload = DemoPayload(make_message(), {}, backend, method="PATCH", params={})
        assert payload.pieces_seen_in_init == (
            "PATCH",
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-Demo-Api-Key": "test-api-key",
            },
            {},
        )

    def test_get_request_params(self):
        backend = make_backend()
        payload = DemoPayload(make_message(), {}, backend)
        params = payload.get_request_params("https://api.demo.example/v2/")
        assert params == {
            "method": "POST",
            "url": "https://api.demo.example/v2/messages/send",
            "params": None,
            "data": payload.serialize_json(payload.data),
            "headers": payload.headers,
            "files": None,
            "auth": None,
        }

    def test_base_payload_defaults(self):
        class BarePayload(DemoPayload):
            def get_api_endpoint(self):
                return RequestsPayload.get_api_endpoint(self)

            def serialize_data(self):
                return RequestsPayload.serialize_data(self)

        payload = BarePayload(make_message(), {}, make_backend())
        assert payload.get_api_endpoint() is None
        assert payload.serialize_data() is payload.data
        params = payload.get_request_params(DEMO_API_URL)
        assert params["url"] == DEMO_API_URL
        assert params["data"] is payload.data
        assert params["method"] == "POST"

    def test_case_insensitive_dicts_serialize_as_objects(self, api):
        message = make_message(
            esp_extra={"headers": CaseInsensitiveDict({"X-Thing": "value"})}
        )
        make_backend().send_messages([message])
        assert api.last_json()["headers"] == {"X-Thing": "value"}


# ---------------------------------------------------------------------------
# Errors


class TestErrors:
    @pytest.mark.parametrize(
        "error_class,qualname",
        [
            (requests.ConnectionError, "requests.exceptions.ConnectionError"),
            (requests.exceptions.SSLError, "requests.exceptions.SSLError"),
            (requests.Timeout, "requests.exceptions.Timeout"),
            (requests.exceptions.ConnectTimeout, "requests.exceptions.ConnectTimeout"),
            (requests.exceptions.ReadTimeout, "requests.exceptions.ReadTimeout"),
            (requests.exceptions.MissingSchema, "requests.exceptions.MissingSchema"),
            (requests.exceptions.InvalidURL, "requests.exceptions.InvalidURL"),
            (requests.RequestException, "requests.exceptions.RequestException"),
        ],
    )
    def test_requests_exception(self, api, error_class, qualname):
        original = error_class("Something bad")
        api.set_exception(original)
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            make_backend().send_messages([message])
        error = excinfo.value
        assert isinstance(error, error_class)
        assert isinstance(error, AnymailAPIError)
        assert isinstance(error, AnymailError)
        assert isinstance(error, requests.HTTPError)
        assert type(error).__name__ == "AnymailRequestsAPIError"
        assert error.__cause__ is original
        assert error.args == (f"Error posting to {DEMO_ENDPOINT_URL}:",)
        assert str(error) == (
            f"Error posting to {DEMO_ENDPOINT_URL}:\n{qualname}: Something bad"
        )
        assert error.status_code is None
        assert error.esp_name is None
        assert message.anymail_status.esp_response is None
        assert message.anymail_status.status is None

    def test_requests_exception_catchable_as_original(self, api):
        api.set_exception(requests.exceptions.SSLError("bad cert"))
        with pytest.raises(requests.exceptions.SSLError):
            make_backend().send_messages([make_message()])

    def test_requests_exception_fail_silently(self, api, close_spy):
        api.set_exception(requests.ConnectionError("down"))
        backend = make_backend(fail_silently=True)
        assert backend.send_messages([make_message(), make_message()]) == 0
        assert api.call_count == 2
        assert close_spy.call_count == 1

    def test_error_json_response(self, api):
        api.set_response(400, {"message": "Helpful explanation from your ESP"})
        backend = make_backend()
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            backend.send_messages([message])
        error = excinfo.value
        assert error.args == ()
        assert error.status_code == 400
        assert error.response.status_code == 400
        assert error.backend is backend
        assert error.email_message is message
        assert isinstance(error.payload, DemoPayload)
        assert error.esp_name == "Demo ESP"
        assert error.request is error.response.request
        assert str(error) == (
            "Demo ESP API response 400 (BAD REQUEST):\n"
            "{\n"
            '  "message": "Helpful explanation from your ESP"\n'
            "}"
        )
        assert message.anymail_status.esp_response is None

    def test_error_text_response(self, api):
        api.set_response(500, "Invalid API key", reason="Internal Server Error")
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            make_backend().send_messages([make_message()])
        assert str(excinfo.value) == (
            "Demo ESP API response 500 (Internal Server Error): 'Invalid API key'"
        )

    @pytest.mark.parametrize("status_code", [199, 300, 302, 404, 429, 503])
    def test_non_2xx_statuses(self, api, status_code):
        api.set_response(status_code, {"id": "ignored"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            make_backend().send_messages([make_message()])
        assert excinfo.value.status_code == status_code

    def test_error_response_doesnt_leak_addresses(self, api):
        api.set_response(400, {"message": "bad"})
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            make_backend().send_messages([make_message(to=["secret-to@example.com"])])
        assert "secret-to" not in str(excinfo.value)
        assert "from@example.com" not in str(excinfo.value)

    def test_invalid_json_response(self, api):
        api.set_response(200, "this isn't json")
        message = make_message()
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            make_backend().send_messages([message])
        error = excinfo.value
        assert error.args == ("Invalid JSON in Demo ESP API response",)
        assert isinstance(error.__cause__, ValueError)
        assert error.status_code == 200
        assert str(error) == (
            "Invalid JSON in Demo ESP API response\n"
            "requests.exceptions.JSONDecodeError: Expecting value: "
            "line 1 column 1 (char 0)\n"
            'Demo ESP API response 200 (OK): "this isn\'t json"'
        )
        # esp_response is already set; the rest is still initial
        assert isinstance(message.anymail_status.esp_response, requests.Response)
        assert message.anymail_status.status is None
        assert message.anymail_status.recipients == {}

    def test_serialization_error(self, api):
        message = make_message(tags=[Decimal("19.99")])
        with pytest.raises(AnymailSerializationError) as excinfo:
            make_backend().send_messages([message])
        error = excinfo.value
        assert isinstance(error, TypeError)
        assert str(error) == (
            "Don't know how to send this data to Demo ESP. "
            "Try converting it to a string or number first.\n"
            "Object of type 'Decimal' is not JSON serializable"
        )
        assert error.__cause__ is None
        assert error.__suppress_context__ is True
        assert error.email_message is message
        assert isinstance(error.payload, DemoPayload)
        assert api.call_count == 0
        assert message.anymail_status.esp_response is None

    def test_serialization_error_fail_silently(self, api):
        message = make_message(metadata={"price": Decimal("1.5")})
        backend = make_backend(fail_silently=True)
        assert backend.send_messages([message]) == 0
        assert api.call_count == 0


# ---------------------------------------------------------------------------
# DEBUG_API_REQUESTS (real HTTP against a local server)


@pytest.fixture
def standin():
    from example.standin import StandIn

    with StandIn() as server:
        yield server


def capture_stdout(func, *args):
    output = io.StringIO()
    with redirect_stdout(output):
        result = func(*args)
    return result, output.getvalue()


def expected_debug_output(response, body, redacted=()):
    request = response.request
    lines = ["", "===== Anymail API request", f"{request.method} {request.url}"]
    for name, value in request.headers.items():
        lines.append(f"{name}: {'<redacted>' if name in redacted else value}")
    lines.append("")
    if body is not None:
        lines.append(body)
    lines += ["", "----- Response", f"HTTP {response.status_code} {response.reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    lines += ["", response.text]
    return "\n".join(lines) + "\n"


class TestDebugApiRequests:
    def test_output(self, standin):
        standin.respond_next(200, {"id": "debug-1"})
        backend = make_backend(api_url=standin.api_url("demo"), debug_api_requests=True)
        message = make_message()
        sent, output = capture_stdout(backend.send_messages, [message])
        assert sent == 1
        response = message.anymail_status.esp_response
        body = json.dumps(
            {
                "from": "from@example.com",
                "to": ["to@example.com"],
                "subject": "Subject",
                "text": "Body",
            }
        )
        assert output == expected_debug_output(
            response, body, redacted={"X-Demo-Api-Key"}
        )
        assert output.startswith(
            "\n===== Anymail API request\n"
            f"POST {standin.api_url('demo')}messages/send\n"
        )
        assert f"\nUser-Agent: {USER_AGENT}\n" in output
        assert "\nContent-Type: application/json\n" in output
        assert "\nX-Demo-Api-Key: <redacted>\n" in output
        assert "test-api-key" not in output
        assert f"\n\n{body}\n\n----- Response\n" in output
        assert "\nHTTP 200 OK\n" in output
        assert output.endswith('\n\n{"id": "debug-1"}\n')

    def test_output_goes_to_current_stdout(self, standin, monkeypatch):
        standin.respond_next(200, {"id": "x"})
        backend = make_backend(api_url=standin.api_url("demo"), debug_api_requests=True)
        backend.open()  # session (and hook) created before stdout is swapped
        replacement = io.StringIO()
        monkeypatch.setattr(sys, "stdout", replacement)
        backend.send_messages([make_message()])
        backend.close()
        assert "===== Anymail API request" in replacement.getvalue()

    def test_setting(self, standin):
        standin.respond_next(200, {"id": "x"})
        with override_settings(ANYMAIL={"DEBUG_API_REQUESTS": True}):
            backend = make_backend(api_url=standin.api_url("demo"))
        assert backend.debug_api_requests is True
        _, output = capture_stdout(backend.send_messages, [make_message()])
        assert "===== Anymail API request" in output

    def test_no_body(self, standin):
        class NoBodyPayload(DemoPayload):
            def __init__(self, message, defaults, backend):
                super().__init__(message, defaults, backend, method="GET", headers={})

            def serialize_data(self):
                return None

        class NoBodyBackend(DemoBackend):
            payload_class = NoBodyPayload

        standin.respond_next(200, {"id": "x"})
        backend = NoBodyBackend(
            api_key="k", api_url=standin.api_url("demo"), debug_api_requests=True
        )
        message = make_message()
        _, output = capture_stdout(backend.send_messages, [message])
        response = message.anymail_status.esp_response
        assert response.request.body is None
        assert output == expected_debug_output(response, None)
        assert output.startswith("\n===== Anymail API request\nGET ")
        last_header = list(response.request.headers.items())[-1]
        assert f"{last_header[0]}: {last_header[1]}\n\n\n----- Response\n" in output

    def test_error_response_printed(self, standin):
        standin.respond_next(400, {"message": "Nope"})
        backend = make_backend(api_url=standin.api_url("demo"), debug_api_requests=True)
        output = io.StringIO()
        with redirect_stdout(output), pytest.raises(AnymailRequestsAPIError):
            backend.send_messages([make_message()])
        assert "\nHTTP 400 Bad Request\n" in output.getvalue()
        assert output.getvalue().endswith('\n\n{"message": "Nope"}\n')

    def test_bytes_body_with_crlf(self, standin):
        class BytesPayload(DemoPayload):
            def serialize_data(self):
                return "line one\r\nline two \u2713".encode()

        class BytesBackend(DemoBackend):
            payload_class = BytesPayload

        standin.respond_next(200, {"id": "x"})
        backend = BytesBackend(
            api_key="k", api_url=standin.api_url("demo"), debug_api_requests=True
        )
        _, output = capture_stdout(backend.send_messages, [make_message()])
        assert "\n\nline one\nline two \u2713\n\n----- Response\n" in output

    def test_secrets_redacted(self, standin):
        secrets = {
            "Authorization": None,  # from auth=
            "X-Server-Token": "SECRET-token-1",
            "X-API-KEY": "SECRET-key-2",
            "X-Webhook-Secret": "SECRET-secret-3",
            "X-Password": "SECRET-password-4",
            "X-Signature": "SECRET-signature-5",
            "x-demo-access-token": "SECRET-token-6",
        }

        class SecretPayload(DemoPayload):
            def __init__(self, message, defaults, backend):
                headers = {name: v for name, v in secrets.items() if v is not None}
                headers["X-Harmless"] = "visible-value"
                super().__init__(
                    message,
                    defaults,
                    backend,
                    headers=headers,
                    auth=("api", "SECRET-password-7"),
                )

        class SecretBackend(DemoBackend):
            payload_class = SecretPayload

        standin.respond_next(200, {"id": "x"})
        backend = SecretBackend(
            api_key="SECRET-api-key-8",
            api_url=standin.api_url("demo"),
            debug_api_requests=True,
        )
        message = make_message()
        _, output = capture_stdout(backend.send_messages, [message])
        assert "SECRET" not in output
        for name in secrets:
            assert f"\n{name}: <redacted>\n" in output
        assert "\nX-Harmless: visible-value\n" in output
        assert output == expected_debug_output(
            message.anymail_status.esp_response,
            message.anymail_status.esp_response.request.body,
            redacted=set(secrets),
        )

    def test_nothing_printed_when_off(self, standin):
        standin.respond_next(200, {"id": "x"})
        backend = make_backend(api_url=standin.api_url("demo"))
        sent, output = capture_stdout(backend.send_messages, [make_message()])
        assert sent == 1
        assert output == ""

    def test_nothing_printed_for_connection_error(self, standin):
        standin.respond_next(drop=True)
        backend = make_backend(api_url=standin.api_url("demo"), debug_api_requests=True)
        output = io.StringIO()
        with redirect_stdout(output), pytest.raises(AnymailRequestsAPIError) as excinfo:
            backend.send_messages([make_message()])
        assert isinstance(excinfo.value, requests.ConnectionError)
        assert output.getvalue() == ""


class TestRealConnections:
    def test_connection_reused_within_send_messages(self, standin):
        standin.set_handler("demo", lambda request: _ok_response())
        backend = make_backend(api_url=standin.api_url("demo"))
        assert backend.send_messages([make_message(), make_message()]) == 2
        assert backend.send_messages([make_message()]) == 1
        connection_ids = [request.connection_id for request in standin.requests]
        assert len(connection_ids) == 3
        assert connection_ids[0] == connection_ids[1]
        assert connection_ids[2] != connection_ids[0]
        request = standin.requests[0]
        assert request.method == "POST"
        assert request.endpoint == "messages/send"
        assert request.header("User-Agent") == USER_AGENT
        assert request.header("X-Demo-Api-Key") == "test-api-key"
        assert request.json()["subject"] == "Subject"

    def test_caller_opened_connection(self, standin):
        standin.set_handler("demo", lambda request: _ok_response())
        backend = make_backend(api_url=standin.api_url("demo"))
        with backend:  # BaseEmailBackend context manager: open/close
            backend.send_messages([make_message()])
            backend.send_messages([make_message()])
        connection_ids = {request.connection_id for request in standin.requests}
        assert len(connection_ids) == 1
        assert backend.session is None

    def test_timeout(self, standin):
        standin.respond_next(200, {"id": "slow"}, delay=0.4)
        backend = make_backend(api_url=standin.api_url("demo"), timeout=0.1)
        with pytest.raises(AnymailRequestsAPIError) as excinfo:
            backend.send_messages([make_message()])
        assert isinstance(excinfo.value, requests.Timeout)


def _ok_response():
    from example.standin import Response

    return Response(200, {"id": "ok"})


class TestSessionEnvironment:
    """AnymailSession reads proxy and CA bundle settings from the environment
    once per scheme and host, with the same results as requests.Session."""

    URL = "https://api.example.com/v1/send"
    ENVIRONMENTS = [
        {},
        {"HTTPS_PROXY": "http://proxy.example:3128"},
        {"https_proxy": "http://p:3128", "NO_PROXY": "api.example.com"},
        {"ALL_PROXY": "socks5://p:1080", "no_proxy": ".other.example"},
        {"REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"},
        {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"},
    ]
    ARGUMENTS = [
        # (proxies, stream, verify, cert), as Session.request passes them
        ({}, None, None, None),
        ({}, True, False, "client.pem"),
        ({"https": "http://explicit:8080"}, None, True, None),
        ({"no_proxy": "api.example.com"}, None, "/my/ca.pem", None),
    ]

    @pytest.fixture
    def environ(self, monkeypatch):
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
            for variant in (name, name.lower()):
                monkeypatch.delenv(variant, raising=False)
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(name, raising=False)
        return monkeypatch

    @pytest.mark.parametrize("env", ENVIRONMENTS)
    @pytest.mark.parametrize("arguments", ARGUMENTS)
    @pytest.mark.parametrize("trust_env", [True, False])
    def test_same_settings_as_requests(self, environ, env, arguments, trust_env):
        from anymail.backends.base_requests import AnymailSession

        for name, value in env.items():
            environ.setenv(name, value)
        ours, theirs = AnymailSession(), requests.Session()
        ours.trust_env = theirs.trust_env = trust_env
        proxies, stream, verify, cert = arguments
        for _ in range(2):  # (the second time from the remembered environment)
            our_proxies, their_proxies = dict(proxies), dict(proxies)
            assert ours.merge_environment_settings(
                self.URL, our_proxies, stream, verify, cert
            ) == theirs.merge_environment_settings(
                self.URL, their_proxies, stream, verify, cert
            )
            assert our_proxies == their_proxies  # (both fill in the caller's dict)

    def test_environment_read_once_per_session(self, environ):
        from anymail.backends.base_requests import AnymailSession

        session = AnymailSession()
        first = session.merge_environment_settings(self.URL, {}, None, None, None)
        assert first["proxies"] == {}
        environ.setenv("HTTPS_PROXY", "http://proxy.example:3128")
        environ.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
        again = session.merge_environment_settings(self.URL, {}, None, None, None)
        assert again == first
        # ... per scheme and host
        other = session.merge_environment_settings(
            "https://other.example.com/", {}, None, None, None
        )
        assert other["proxies"]["https"] == "http://proxy.example:3128"
        # a new session (the next connection) reads the environment again
        fresh = AnymailSession().merge_environment_settings(
            self.URL, {}, None, None, None
        )
        assert fresh["proxies"]["https"] == "http://proxy.example:3128"
        assert fresh["verify"] == "/etc/ssl/bundle.pem"

    def test_proxy_from_environment_used(self, environ, standin):
        # real HTTP: the stand-in plays the proxy, and sees the absolute URL
        standin.respond_next(200, {"id": "via-proxy"})
        environ.setenv("HTTP_PROXY", standin.url)
        environ.setenv("NO_PROXY", "")
        backend = make_backend(api_url="http://esp.example.invalid/demo/")
        message = make_message()
        assert backend.send_messages([message]) == 1
        assert message.anymail_status.message_id == "via-proxy"
        assert standin.last_request.path == (
            "http://esp.example.invalid/demo/messages/send"
        )

    def prepared(self, session, **kwargs):
        request = requests.Request("POST", self.URL, data="{}", **kwargs)
        return session.prepare_request(request)

    @pytest.mark.parametrize("netrc_host", [None, "api.example.com", "other.example"])
    @pytest.mark.parametrize("auth", [None, ("user", "pass")])
    @pytest.mark.parametrize("trust_env", [True, False])
    def test_netrc_like_requests(self, environ, tmp_path, netrc_host, auth, trust_env):
        from anymail.backends.base_requests import AnymailSession

        netrc = tmp_path / "netrc"
        if netrc_host:
            netrc.write_text(f"machine {netrc_host} login nu password secret\n")
        environ.setenv("NETRC", str(netrc))
        ours, theirs = AnymailSession(), requests.Session()
        ours.trust_env = theirs.trust_env = trust_env
        for _ in range(2):  # (the second time from the remembered lookup)
            our_request = self.prepared(ours, auth=auth)
            their_request = self.prepared(theirs, auth=auth)
            assert our_request.headers == their_request.headers
            assert our_request.url == their_request.url
            assert our_request.body == their_request.body
        if netrc_host == "api.example.com" and trust_env and not auth:
            assert our_request.headers["Authorization"].startswith("Basic ")

    def test_netrc_read_once_per_session(self, environ, tmp_path):
        from anymail.backends.base_requests import AnymailSession

        netrc = tmp_path / "netrc"
        environ.setenv("NETRC", str(netrc))
        session = AnymailSession()
        assert "Authorization" not in self.prepared(session).headers
        netrc.write_text("machine api.example.com login nu password secret\n")
        assert "Authorization" not in self.prepared(session).headers
        assert "Authorization" in self.prepared(AnymailSession()).headers

    @pytest.mark.parametrize("netrc_entry", [False, True])
    def test_credentials_in_url_like_requests(self, environ, tmp_path, netrc_entry):
        from anymail.backends.base_requests import AnymailSession

        netrc = tmp_path / "netrc"
        if netrc_entry:  # (requests prefers .netrc's)
            netrc.write_text("machine api.example.com login nu password secret\n")
        environ.setenv("NETRC", str(netrc))
        url = "https://user:pw@api.example.com/v1/send"
        for _ in range(2):
            ours, theirs = (
                session.prepare_request(requests.Request("POST", url, data="{}"))
                for session in (AnymailSession(), requests.Session())
            )
            assert ours.headers["Authorization"] == theirs.headers["Authorization"]
