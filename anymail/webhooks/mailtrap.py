"""Mailtrap webhooks: STUB, being written (replace this whole file)."""

from ..signals import inbound, tracking
from .base import AnymailBaseWebhookView


class MailtrapTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Mailtrap"
    signal = tracking


class MailtrapInboundWebhookView(AnymailBaseWebhookView):
    esp_name = "Mailtrap"
    signal = inbound
