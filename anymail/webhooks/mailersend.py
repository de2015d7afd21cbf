"""MailerSend webhooks: STUB, being written (replace this whole file)."""

from ..signals import inbound, tracking
from .base import AnymailBaseWebhookView


class MailerSendTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "MailerSend"
    signal = tracking


class MailerSendInboundWebhookView(AnymailBaseWebhookView):
    esp_name = "MailerSend"
    signal = inbound
