"""Mailjet webhooks: STUB, being written (replace this whole file)."""

from ..signals import inbound, tracking
from .base import AnymailBaseWebhookView


class MailjetTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "Mailjet"
    signal = tracking


class MailjetInboundWebhookView(AnymailBaseWebhookView):
    esp_name = "Mailjet"
    signal = inbound
