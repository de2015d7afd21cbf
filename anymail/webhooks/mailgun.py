"""Mailgun webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class MailgunTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Mailgun"
    signal = tracking
