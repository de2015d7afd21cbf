"""Minimal Django settings for the Anymail demo (``python -m example.demo``).

The demo sends to a local stand-in of the ESP APIs (example/standin.py), never to
a real ESP. The stand-in listens on a port chosen at run time, so the API URLs are
not set here: demo.py passes ``api_url=...`` to ``get_connection()`` instead.
"""

SECRET_KEY = "demo-only-not-a-secret"  # demo settings: not a secret

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "anymail",
]
DATABASES = {}
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "example.urls"  # Anymail's webhook URLs, under /anymail/

DEFAULT_FROM_EMAIL = "Demo Shop <shop@example.com>"
EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"

# DEMO-ONLY FAKE CREDENTIALS. These are not secrets: the local stand-in accepts any
# value. Real deployments read their tokens from the environment or a secrets store.
ANYMAIL = {
    "POSTMARK_SERVER_TOKEN": "demo-postmark-server-token",
    "MAILGUN_API_KEY": "demo-mailgun-api-key",
    "MAILGUN_SENDER_DOMAIN": "mg.example.com",
    # webhooks: the stand-in sends these HTTP Basic credentials with every event,
    # and signs its Mailgun events with this key
    "WEBHOOK_SECRET": "demo-webhook-user:demo-webhook-password",
    "MAILGUN_WEBHOOK_SIGNING_KEY": "demo-mailgun-webhook-signing-key",
}
