"""The ESP feature matrix, generated from the backends themselves.

Each cell is found by building (never sending) a payload for a small message
that uses the feature, through that ESP's real backend: if the backend raises
AnymailUnsupportedFeature, the feature is unsupported. So the table can't
drift from the code. Used as a Sphinx extension (it writes
``esps/feature_matrix.inc`` when the build starts) and by the test suite.
"""

import importlib
from datetime import datetime, timezone
from pathlib import Path

#: (display name, backend module) for every ESP, in table order
ESPS = [
    ("Amazon SES", "amazon_ses"),
    ("Brevo", "brevo"),
    ("MailerSend", "mailersend"),
    ("Mailgun", "mailgun"),
    ("Mailjet", "mailjet"),
    ("Mailtrap", "mailtrap"),
    ("Mandrill", "mandrill"),
    ("Postal", "postal"),
    ("Postmark", "postmark"),
    ("Resend", "resend"),
    ("Scaleway TEM", "scaleway"),
    ("SendGrid", "sendgrid"),
    ("SparkPost", "sparkpost"),
    ("Unisender Go", "unisender_go"),
]

TO = "to@example.com"
TEMPLATE_ID = "1234"  # numeric: some ESPs only have numeric template ids


def _amp(message):
    message.attach_alternative(
        "<html amp4email><body>AMP</body></html>", "text/x-amp-html"
    )


#: A template send: the template supplies subject and body
TEMPLATE = {"template_id": TEMPLATE_ID, "subject": "", "body": ""}

#: (column title, variants of the message attributes to set, optional extra
#: message setup); the feature is supported if the backend accepts any variant
FEATURES = [
    ("envelope_sender", [{"envelope_sender": "bounce@example.com"}], None),
    ("metadata", [{"metadata": {"key": "value"}}], None),
    (
        "merge_metadata",
        [
            {"merge_metadata": {TO: {"k": "v"}}},
            {**TEMPLATE, "merge_metadata": {TO: {"k": "v"}}},
        ],
        None,
    ),
    (
        "merge_headers",
        [
            {"merge_headers": {TO: {"X-Custom": "v"}}},
            {**TEMPLATE, "merge_headers": {TO: {"X-Custom": "v"}}},
            # (Unisender Go allows only List-Unsubscribe per recipient)
            {"merge_headers": {TO: {"List-Unsubscribe": "<mailto:u@example.com>"}}},
        ],
        None,
    ),
    (
        "send_at",
        [{"send_at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)}],
        None,
    ),
    ("tags", [{"tags": ["tag"]}], None),
    ("track_clicks", [{"track_clicks": True}], None),
    ("track_opens", [{"track_opens": True}], None),
    ("AMP html", [{}], _amp),
    ("template_id", [TEMPLATE], None),
    ("merge_data", [{**TEMPLATE, "merge_data": {TO: {"name": "Alice"}}}], None),
    ("merge_global_data", [{**TEMPLATE, "merge_global_data": {"name": "Alice"}}], None),
]

#: Settings that let every backend be constructed (dummy values, never sent)
DUMMY_ANYMAIL_SETTINGS = {
    "BREVO_API_KEY": "dummy",
    "MAILERSEND_API_TOKEN": "dummy",
    "MAILGUN_API_KEY": "dummy",
    "MAILJET_API_KEY": "dummy",
    "MAILJET_SECRET_KEY": "dummy",
    "MAILTRAP_API_TOKEN": "dummy",
    "MANDRILL_API_KEY": "dummy",
    "POSTAL_API_KEY": "dummy",
    "POSTAL_API_URL": "https://postal.example.com",
    "POSTMARK_SERVER_TOKEN": "dummy",
    "RESEND_API_KEY": "dummy",
    "SCALEWAY_SECRET_KEY": "dummy",
    "SCALEWAY_PROJECT_ID": "dummy",
    "SENDGRID_API_KEY": "dummy",
    "SPARKPOST_API_KEY": "dummy",
    "UNISENDER_GO_API_KEY": "dummy",
    "UNISENDER_GO_API_URL": "https://go1.unisender.ru/ru/transactional/api/v1/",
}

YES, NO, ONE = "Yes", "No", "1"


def implemented_esps():
    """(name, backend class) for each ESP whose backend module exists."""
    found = []
    for name, module in ESPS:
        try:
            backend_module = importlib.import_module(f"anymail.backends.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"anymail.backends.{module}":
                raise
            continue
        found.append((name, backend_module.EmailBackend))
    return found


def _new_message(attrs, setup):
    from anymail.message import AnymailMessage

    # from_email None: Django's DEFAULT_FROM_EMAIL, which template sends
    # (e.g. SparkPost's) leave to the template
    attrs = dict(attrs)
    subject = attrs.pop("subject", "Subject")
    body = attrs.pop("body", "Body")
    message = AnymailMessage(subject, body, None, [TO], **attrs)
    if setup is not None:
        setup(message)
    return message


def is_supported(backend_class, attrs, setup=None):
    """Whether the backend builds a payload for a message using these attributes."""
    import warnings

    from anymail.exceptions import AnymailUnsupportedFeature

    message = _new_message(attrs, setup)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. SendGrid's not-supported warning
        backend = backend_class()
        try:
            payload = backend.build_message_payload(message, backend.send_defaults)
            finalize_payload(backend, payload)
        except AnymailUnsupportedFeature:
            return False
    return True


def finalize_payload(backend, payload):
    """Run the payload's serialization, where some checks happen (no sending)."""
    if hasattr(payload, "get_request_params"):
        payload.get_request_params(backend.api_url)
    elif hasattr(payload, "get_api_call_data"):
        payload.get_api_call_data()


def feature_cells(backend_class):
    """{column title: "Yes" / "No" / "1"} for one backend."""
    from django.test import override_settings

    with override_settings(
        ANYMAIL=DUMMY_ANYMAIL_SETTINGS, DEFAULT_FROM_EMAIL="from@example.com"
    ):
        return _feature_cells(backend_class)


def _feature_cells(backend_class):
    cells = {}
    for title, variants, setup in FEATURES:
        supported = any(is_supported(backend_class, attrs, setup) for attrs in variants)
        if title == "tags" and supported:
            several = is_supported(backend_class, {"tags": ["one", "two"]})
            cells[title] = YES if several else ONE
        else:
            cells[title] = YES if supported else NO
    return cells


def feature_matrix():
    """[(esp name, {column: cell})] for every implemented ESP."""
    return [(name, feature_cells(backend)) for name, backend in implemented_esps()]


def render_rst(matrix):
    """The matrix as an RST list-table."""
    titles = [title for title, _attrs, _setup in FEATURES]
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        "",
        "   * - ESP",
    ]
    lines += [f"     - {title}" for title in titles]
    for name, cells in matrix:
        lines.append(f"   * - {name}")
        lines += [f"     - {cells[title]}" for title in titles]
    return "\n".join(lines) + "\n"


def configure_django():
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True)
        django.setup()


def write_matrix(app):
    configure_django()
    target = Path(app.srcdir) / "esps" / "feature_matrix.inc"
    text = render_rst(feature_matrix())
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def setup(app):
    app.connect("builder-inited", write_matrix)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
