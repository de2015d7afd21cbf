"""MailerSend webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class MailerSendTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "MailerSend"
    signal = tracking
