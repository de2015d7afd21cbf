"""Mailjet webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class MailjetTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Mailjet"
    signal = tracking
