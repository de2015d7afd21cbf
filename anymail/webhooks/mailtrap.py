"""Mailtrap webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class MailtrapTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Mailtrap"
    signal = tracking
