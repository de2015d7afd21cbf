"""Deprecated: SendinBlue is now Brevo. Use anymail.backends.brevo instead."""

import warnings

from ..exceptions import AnymailDeprecationWarning
from .brevo import BrevoPayload
from .brevo import EmailBackend as BrevoEmailBackend

# The old name of the payload class
SendinBluePayload = BrevoPayload


class EmailBackend(BrevoEmailBackend):
    """Deprecated alias of the Brevo backend, using SENDINBLUE_* settings."""

    esp_name = "SendinBlue"

    def __init__(self, **kwargs):
        warnings.warn(
            "`anymail.backends.sendinblue.EmailBackend` has been renamed"
            " `anymail.backends.brevo.EmailBackend`.",
            AnymailDeprecationWarning,
            stacklevel=2,
        )
        super().__init__(**kwargs)
