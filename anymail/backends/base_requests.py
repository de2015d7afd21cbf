"""Base for ESP backends that call an HTTP API with requests."""

import functools
import json
import os
import re
import secrets
from urllib.parse import urljoin, urlsplit

import requests
from requests.auth import AuthBase
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies, get_netrc_auth

from .._version import __version__
from ..exceptions import AnymailAPIError, AnymailRequestsAPIError
from ..utils import get_anymail_setting
from .base import AnymailBaseBackend, BasePayload

DEFAULT_REQUESTS_TIMEOUT = 30

# Request headers whose values are credentials, never printed by DEBUG_API_REQUESTS
# (matched case-insensitively; a header whose name contains any of the
# SECRET_HEADER_WORDS counts too)
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie"}
SECRET_HEADER_WORDS = ("token", "key", "secret", "password", "signature")
REDACTED = "<redacted>"

JSON_MEDIA_TYPE = "application/json"


def json_api_headers(credentials, accept_json=True):
    """Request headers for a JSON API call: Content-Type (and unless accept_json
    is false, Accept) application/json, plus the ESP's `credentials` headers."""
    headers = {"Content-Type": JSON_MEDIA_TYPE}
    if accept_json:
        headers["Accept"] = JSON_MEDIA_TYPE
    headers.update(credentials)
    return headers


def is_json_response(response):
    """True if the response's Content-Type is application/json (any parameters)."""
    content_type = response.headers.get("Content-Type") or ""
    return content_type.split(";")[0].strip().lower() == JSON_MEDIA_TYPE


class AnymailRequestsBackend(AnymailBaseBackend):
    """An Anymail backend that sends through one requests.Session per connection."""

    def __init__(self, api_url, **kwargs):
        self.api_url = api_url
        if "timeout" in kwargs:
            kwargs.pop("requests_timeout", None)
            self.timeout = kwargs.pop("timeout")
        else:
            self.timeout = get_anymail_setting(
                "requests_timeout", kwargs=kwargs, default=DEFAULT_REQUESTS_TIMEOUT
            )
        super().__init__(**kwargs)
        self.session = None

    def get_api_url_setting(self, kwargs, default):
        """The <ESP>_API_URL setting (api_url kwarg), ending with "/" so
        endpoints join onto it."""
        api_url = get_anymail_setting(
            "api_url", esp_name=self.esp_name, kwargs=kwargs, default=default
        )
        return api_url if api_url.endswith("/") else api_url + "/"

    def open(self):
        if self.session is not None:
            return False
        try:
            self.session = self.create_session()
        except Exception:
            if not self.fail_silently:
                raise
        return True

    def close(self):
        if self.session is None:
            return
        try:
            self.session.close()
        except requests.RequestException:
            if not self.fail_silently:
                raise
        finally:
            self.session = None

    def create_session(self):
        """A new requests.Session for this connection. Override to add adapters."""
        session = AnymailSession()
        default_agent = session.headers["User-Agent"]
        session.headers["User-Agent"] = (
            f"django-anymail/{__version__}-{self.esp_name.lower()} {default_agent}"
        )
        if self.debug_api_requests:
            session.hooks["response"].append(print_api_request)
        return session

    def post_to_esp(self, payload, message):
        """Make the API call for `payload`; returns the requests.Response."""
        if self.session is None:
            if self.fail_silently:
                raise AnymailAPIError(
                    f"No {self.esp_name} API session is open", backend=self
                )
            raise RuntimeError(
                "Session not open: send through send_messages() or call open() first"
            )
        params = payload.get_request_params(self.api_url)
        params.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(**params)
        except requests.RequestException as err:
            error_class = _requests_api_error_class(type(err))
            raise error_class(
                f"Error posting to {params['url']}:",
                email_message=message,
                payload=payload,
            ) from err
        self.raise_for_status(response, payload, message)
        return response

    def raise_for_status(self, response, payload, message):
        """Raise AnymailRequestsAPIError for a non-2xx response."""
        if not 200 <= response.status_code < 300:
            raise AnymailRequestsAPIError(
                email_message=message, payload=payload, response=response, backend=self
            )

    def api_error(self, text, response, payload, message):
        """An AnymailRequestsAPIError about this ESP's response (to raise).

        With text None, the error describes just the response.
        """
        return AnymailRequestsAPIError(
            *(() if text is None else (text,)),
            email_message=message,
            payload=payload,
            response=response,
            backend=self,
        )

    def invalid_response_format(self, response, payload, message):
        """The error for a response that isn't shaped as the ESP documents."""
        return self.api_error(
            f"Invalid {self.esp_name} API response format", response, payload, message
        )

    def deserialize_json_response(self, response, payload, message):
        """The response's parsed JSON, or AnymailRequestsAPIError if it isn't JSON."""
        try:
            return response.json()
        except ValueError as err:
            raise self.api_error(
                f"Invalid JSON in {self.esp_name} API response",
                response,
                payload,
                message,
            ) from err


@functools.cache
def _requests_api_error_class(requests_error_class):
    """An AnymailRequestsAPIError that is also an instance of requests_error_class."""
    return type(
        "AnymailRequestsAPIError",
        (AnymailRequestsAPIError, requests_error_class),
        {"__module__": AnymailRequestsAPIError.__module__},
    )


def is_secret_header(name):
    name = name.lower()
    return name in SECRET_HEADERS or any(word in name for word in SECRET_HEADER_WORDS)


class JsonBodyWithSecrets(str):
    """A JSON request body (str) with credentials in some top-level fields.

    It is sent unchanged; DEBUG_API_REQUESTS prints redacted() instead.
    """

    def __new__(cls, body, secret_fields):
        self = super().__new__(cls, body)
        self.secret_fields = secret_fields
        return self

    def redacted(self):
        return _redact_json(self, self.secret_fields)


class JsonBytesBodyWithSecrets(bytearray):
    """Like JsonBodyWithSecrets, for a (UTF-8) bytes or bytearray JSON body."""

    def __init__(self, body, secret_fields):
        super().__init__(body)
        self.secret_fields = secret_fields

    def redacted(self):
        return _redact_json(self, self.secret_fields)


def _redact_json(body, secret_fields):
    data = json.loads(body)
    if isinstance(data, dict):
        data.update((name, REDACTED) for name in secret_fields if name in data)
    return json.dumps(data)


def print_api_request(response, *args, **kwargs):
    """requests response hook for DEBUG_API_REQUESTS: print the whole exchange.

    Credentials in request headers, and secret fields of a JSON body, are redacted.
    """
    request = response.request
    lines = ["", "===== Anymail API request", f"{request.method} {request.url}"]
    lines.extend(
        f"{name}: {REDACTED if is_secret_header(name) else value}"
        for name, value in request.headers.items()
    )
    lines.append("")
    if request.body is not None:
        body = request.body
        if isinstance(body, (JsonBodyWithSecrets, JsonBytesBodyWithSecrets)):
            body = body.redacted()
        if isinstance(body, (bytes, bytearray)):
            body = bytes(body).decode("utf-8", errors="replace")
        lines.append(body.replace("\r\n", "\n"))
    lines.extend(
        ["", "----- Response", f"HTTP {response.status_code} {response.reason}"]
    )
    lines.extend(f"{name}: {value}" for name, value in response.headers.items())
    lines.extend(["", response.text])
    print("\n".join(lines))


class RequestsPayload(BasePayload):
    """A payload for an HTTP API call: method, params, data, headers, files, auth."""

    #: Top-level fields of a JSON (str) request body that hold credentials, for
    #: APIs that authenticate in the body: DEBUG_API_REQUESTS redacts them
    secret_body_fields = ()

    def __init__(
        self,
        message,
        defaults,
        backend,
        method="POST",
        params=None,
        data=None,
        headers=None,
        files=None,
        auth=None,
    ):
        self.method = method
        self.params = params
        self.data = data
        self.headers = headers
        self.files = files
        self.auth = auth
        super().__init__(message, defaults, backend)

    def get_api_endpoint(self):
        """The endpoint relative to the backend's api_url (None: api_url itself)."""
        return None

    def serialize_data(self):
        """The request body. JSON ESPs return self.serialize_json(self.data)."""
        return self.data

    def get_request_params(self, api_url):
        """Keyword arguments for requests.Session.request."""
        data = self.serialize_data()
        if self.secret_body_fields and self.backend.debug_api_requests:
            if isinstance(data, str):
                data = JsonBodyWithSecrets(data, self.secret_body_fields)
            elif isinstance(data, (bytes, bytearray)):
                data = JsonBytesBodyWithSecrets(data, self.secret_body_fields)
        endpoint = self.get_api_endpoint()
        return {
            "method": self.method,
            "url": api_url if endpoint is None else _endpoint_url(api_url, endpoint),
            "params": self.params,
            "data": data,
            "headers": self.headers,
            "files": self.files,
            "auth": self.auth,
        }


class AnymailSession(requests.Session):
    """A requests.Session that does less work per request.

    - It encodes multipart/form-data bodies itself. Callers still pass
      ``data=`` and ``files=`` to request(), as with any Session; the body is
      then built by encode_multipart_formdata, with a single copy of each part,
      rather than by requests (whose encoder writes to a growing buffer and
      copies it, costing time and ~1.1x the attachments' size in memory). The
      bytes on the wire are the same, apart from the random boundary.
    - It reads proxy and CA bundle settings from the environment, and
      credentials from ~/.netrc, once per scheme and host, rather than for
      every request (requests scans os.environ several times per request,
      ~0.1 ms, and checks for a .netrc file). A session lasts for one
      connection's messages, so changes to those apply from the next
      connection on.
    """

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        # (requests.Session's own, with the environment lookups remembered)
        if self.trust_env:
            no_proxy = proxies.get("no_proxy") if proxies is not None else None
            env_proxies, ca_bundle = self._environment_settings(url, no_proxy)
            if proxies is not None:
                for name, value in env_proxies.items():
                    proxies.setdefault(name, value)
            if verify is True or verify is None:
                verify = ca_bundle or verify
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }

    def _environment_settings(self, url, no_proxy):
        """(proxies, CA bundle path) from the environment, for url's scheme and host."""
        cache = self.__dict__.setdefault("_environment_cache", {})
        key = (*urlsplit(url)[:2], no_proxy)
        if key not in cache:
            cache[key] = (
                get_environ_proxies(url, no_proxy=no_proxy),
                os.environ.get("REQUESTS_CA_BUNDLE")
                or os.environ.get("CURL_CA_BUNDLE"),
            )
        return cache[key]

    def prepare_request(self, request):
        if request.files:
            body, content_type = encode_multipart_formdata(request.data, request.files)
            headers = {
                name: value
                for name, value in (request.headers or {}).items()
                if name.lower() != "content-type"
            }
            headers["Content-Type"] = content_type
            request.data, request.files, request.headers = body, None, headers
        if self.trust_env and not request.auth and not self.auth:
            # (requests would look in ~/.netrc for every request)
            request.auth = self._netrc_auth(request.url)
        return super().prepare_request(request)

    def _netrc_auth(self, url):
        """requests' ~/.netrc credentials for url's host, looked up once.

        Without any: _NO_AUTH (so requests doesn't look again), or None when
        the URL has user:password@ (requests falls back to those).
        """
        cache = self.__dict__.setdefault("_netrc_cache", {})
        scheme, netloc = urlsplit(url)[:2]
        key = (scheme, netloc)
        if key not in cache:
            credentials = get_netrc_auth(url)
            if credentials is None and "@" not in netloc:
                credentials = _NO_AUTH
            cache[key] = credentials
        return cache[key]


class _NoAuth(AuthBase):
    """An auth that changes nothing: "no credentials here", so that requests
    doesn't look them up again."""

    def __call__(self, request):
        return request


_NO_AUTH = _NoAuth()


def encode_multipart_formdata(fields, files, boundary=None):
    """A multipart/form-data body for `fields` and `files`.

    Returns (body, content_type): body is bytes, joined once from the parts
    (each file's content is copied into it once, nothing is built up
    incrementally), content_type is "multipart/form-data; boundary=...".

    The encoding is what requests (with urllib3 2) produces for
    ``request(data=fields, files=files)``, except for the boundary:

    - fields: a dict (or iterable of (name, value) pairs); a value that is a list
      (or other non-string iterable) makes one part per item; None values are
      skipped; other non-bytes values are sent as str(value), UTF-8 encoded.
    - files: (name, (filename, content)) or (name, (filename, content,
      content_type)) pairs, after all the fields; content is bytes-like (or str,
      UTF-8 encoded). A None filename or content_type leaves that out.
    - name and filename parameters are quoted as the WHATWG HTML standard says
      (raw UTF-8, with CR, LF and '"' percent-encoded; never RFC 2231 ``name*=``).

    The boundary is random (128 bits) and checked not to occur in any part;
    an explicit boundary that occurs in a part is a ValueError.
    """
    parts = [(_part_headers(name), value) for name, value in _form_pairs(fields)]
    for name, file in files or ():
        filename, content, *rest = file
        content_type = rest[0] if rest else None
        if isinstance(content, str):
            content = content.encode("utf-8")
        parts.append((_part_headers(name, filename, content_type), content))

    if boundary is None:
        boundary = secrets.token_hex(16)
        while _occurs_in(boundary.encode("ascii"), parts):  # (never, in practice)
            boundary = secrets.token_hex(16)
    elif _occurs_in(boundary.encode("ascii"), parts):
        raise ValueError(f"multipart boundary {boundary!r} occurs in the content")
    delimiter = f"--{boundary}\r\n".encode("ascii")
    pieces = []
    for headers, content in parts:
        pieces += (delimiter, headers, content, b"\r\n")
    pieces.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(pieces), f"multipart/form-data; boundary={boundary}"


def _form_pairs(fields):
    """(name, value bytes) for each form field value, as requests expands them."""
    items = fields.items() if hasattr(fields, "items") else fields or ()
    for name, values in items:
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        for value in values:
            if value is None:
                continue
            if not isinstance(value, bytes):
                value = str(value).encode("utf-8")
            yield name, value


@functools.lru_cache(maxsize=512)
def _part_headers(name, filename=None, content_type=None):
    """A form-data part's header lines, and the blank line ending them.

    Cached: an ESP's field names recur in every message.
    """
    disposition = f"form-data; {_header_param('name', name)}"
    if filename is not None:
        disposition += f"; {_header_param('filename', filename)}"
    headers = f"Content-Disposition: {disposition}\r\n"
    if content_type:
        headers += f"Content-Type: {content_type}\r\n"
    return (headers + "\r\n").encode("utf-8")


_HEADER_PARAM_ESCAPES = {10: "%0A", 13: "%0D", 34: "%22"}  # LF, CR, '"'


def _header_param(name, value):
    """name="value" for a form-data header (urllib3's format_multipart_header_param)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return f'{name}="{value.translate(_HEADER_PARAM_ESCAPES)}"'


def _occurs_in(needle, parts):
    """True if `needle` (bytes) occurs in any part's headers or content."""
    for headers, content in parts:
        if needle in headers:
            return True
        if isinstance(content, (bytes, bytearray)):
            if needle in content:
                return True
        elif re.search(re.escape(needle), content):  # (other bytes-likes)
            return True
    return False


@functools.lru_cache(maxsize=256)
def _endpoint_url(api_url, endpoint):
    """urljoin(api_url, endpoint), cached: a backend uses a handful of endpoints."""
    return urljoin(api_url, endpoint)
