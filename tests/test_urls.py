"""Every webhook route and URL name of anymail.urls (spec: URL routing)."""

import subprocess
import sys

import pytest
from django.urls import resolve, reverse

ROUTES = [
    # (path under the include, URL name, module, view class name)
    (
        "amazon_ses/inbound/",
        "amazon_ses_inbound_webhook",
        "amazon_ses",
        "AmazonSESInboundWebhookView",
    ),
    ("brevo/inbound/", "brevo_inbound_webhook", "brevo", "BrevoInboundWebhookView"),
    (
        "mailersend/inbound/",
        "mailersend_inbound_webhook",
        "mailersend",
        "MailerSendInboundWebhookView",
    ),
    (
        "mailgun/inbound/",
        "mailgun_inbound_webhook",
        "mailgun",
        "MailgunInboundWebhookView",
    ),
    (
        "mailjet/inbound/",
        "mailjet_inbound_webhook",
        "mailjet",
        "MailjetInboundWebhookView",
    ),
    (
        "mailtrap/inbound/",
        "mailtrap_inbound_webhook",
        "mailtrap",
        "MailtrapInboundWebhookView",
    ),
    ("postal/inbound/", "postal_inbound_webhook", "postal", "PostalInboundWebhookView"),
    (
        "postmark/inbound/",
        "postmark_inbound_webhook",
        "postmark",
        "PostmarkInboundWebhookView",
    ),
    ("resend/inbound/", "resend_inbound_webhook", "resend", "ResendInboundWebhookView"),
    (
        "sendgrid/inbound/",
        "sendgrid_inbound_webhook",
        "sendgrid",
        "SendGridInboundWebhookView",
    ),
    (
        "sendinblue/inbound/",
        "sendinblue_inbound_webhook",
        "sendinblue",
        "SendinBlueInboundWebhookView",
    ),
    (
        "sparkpost/inbound/",
        "sparkpost_inbound_webhook",
        "sparkpost",
        "SparkPostInboundWebhookView",
    ),
    (
        "amazon_ses/tracking/",
        "amazon_ses_tracking_webhook",
        "amazon_ses",
        "AmazonSESTrackingWebhookView",
    ),
    ("brevo/tracking/", "brevo_tracking_webhook", "brevo", "BrevoTrackingWebhookView"),
    (
        "mailersend/tracking/",
        "mailersend_tracking_webhook",
        "mailersend",
        "MailerSendTrackingWebhookView",
    ),
    (
        "mailgun/tracking/",
        "mailgun_tracking_webhook",
        "mailgun",
        "MailgunTrackingWebhookView",
    ),
    (
        "mailjet/tracking/",
        "mailjet_tracking_webhook",
        "mailjet",
        "MailjetTrackingWebhookView",
    ),
    (
        "mailtrap/tracking/",
        "mailtrap_tracking_webhook",
        "mailtrap",
        "MailtrapTrackingWebhookView",
    ),
    (
        "postal/tracking/",
        "postal_tracking_webhook",
        "postal",
        "PostalTrackingWebhookView",
    ),
    (
        "postmark/tracking/",
        "postmark_tracking_webhook",
        "postmark",
        "PostmarkTrackingWebhookView",
    ),
    (
        "resend/tracking/",
        "resend_tracking_webhook",
        "resend",
        "ResendTrackingWebhookView",
    ),
    (
        "sendgrid/tracking/",
        "sendgrid_tracking_webhook",
        "sendgrid",
        "SendGridTrackingWebhookView",
    ),
    (
        "sendinblue/tracking/",
        "sendinblue_tracking_webhook",
        "sendinblue",
        "SendinBlueTrackingWebhookView",
    ),
    (
        "sparkpost/tracking/",
        "sparkpost_tracking_webhook",
        "sparkpost",
        "SparkPostTrackingWebhookView",
    ),
    (
        "unisender_go/tracking/",
        "unisender_go_tracking_webhook",
        "unisender_go",
        "UnisenderGoTrackingWebhookView",
    ),
    ("mandrill/", "mandrill_webhook", "mandrill", "MandrillCombinedWebhookView"),
    (
        "mandrill/tracking/",
        "mandrill_tracking_webhook",
        "mandrill",
        "MandrillCombinedWebhookView",
    ),
]


@pytest.mark.parametrize(
    "route, name, module, class_name", ROUTES, ids=[r[1] for r in ROUTES]
)
def test_route(route, name, module, class_name):
    import importlib

    view_class = getattr(
        importlib.import_module(f"anymail.webhooks.{module}"), class_name
    )
    assert reverse(f"anymail:{name}") == f"/anymail/{route}"
    match = resolve(f"/anymail/{route}")
    assert match.func.view_class is view_class
    assert match.url_name == name


def test_mailgun_inbound_mime_path_shares_the_name():
    match = resolve("/anymail/mailgun/inbound_mime/")
    assert match.url_name == "mailgun_inbound_webhook"
    assert reverse("anymail:mailgun_inbound_webhook") == "/anymail/mailgun/inbound/"


def test_mandrill_tracking_alias_is_the_combined_view():
    from anymail.webhooks.mandrill import (
        MandrillCombinedWebhookView,
        MandrillTrackingWebhookView,
    )

    assert MandrillTrackingWebhookView is MandrillCombinedWebhookView


@pytest.mark.parametrize(
    "path",
    [
        "unisender_go/inbound/",
        "mandrill/inbound/",
        "scaleway/tracking/",
        "scaleway/inbound/",
    ],
)
def test_no_route(path):
    from django.urls import Resolver404

    with pytest.raises(Resolver404):
        resolve(f"/anymail/{path}")


def test_urls_import_without_optional_packages():
    """anymail.urls imports even when boto3, cryptography and svix are missing."""
    code = (
        "import sys\n"
        "for name in ('boto3', 'botocore', 'cryptography', 'svix', 's3_encryption'):\n"
        "    sys.modules[name] = None\n"
        "import django, os\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings'\n"
        "django.setup()\n"
        "import anymail.urls\n"
        "print(len(anymail.urls.urlpatterns))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(ROUTES)
