"""SendinBlue webhooks: STUB, being written (replace this whole file)."""

from ..signals import tracking
from .base import AnymailBaseWebhookView


class SendinBlueTrackingWebhookView(AnymailBaseWebhookView):
    esp_name = "SendinBlue"
    signal = tracking
