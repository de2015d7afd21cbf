"""Postmark webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class PostmarkTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Postmark"
    signal = tracking
