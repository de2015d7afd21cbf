"""Shared helpers for building (and sending) test messages."""

import copy

from anymail.message import AnymailMessage


def make_message(**kwargs):
    """An AnymailMessage with simple defaults; kwargs override them.

    Defaults: subject "Subject", body "Body", from_email "from@example.com",
    to ["to@example.com"].
    """
    kwargs.setdefault("subject", "Subject")
    kwargs.setdefault("body", "Body")
    kwargs.setdefault("from_email", "from@example.com")
    kwargs.setdefault("to", ["to@example.com"])
    return AnymailMessage(**kwargs)


def message_factory(**defaults):
    """A make_message with other defaults, for modules that need them.

    E.g. make_message = message_factory(body="Text Body"). The returned
    function takes the same kwargs as make_message (which override defaults).
    """

    def factory(**kwargs):
        return make_message(**{**copy.deepcopy(defaults), **kwargs})

    return factory


def send(message=None, **kwargs):
    """Send message (or a make_message(**kwargs)); returns the message."""
    if message is None:
        message = make_message(**kwargs)
    message.send()
    return message


def sent_data(api, message=None, **kwargs):
    """Send, and return the JSON body the ESP received."""
    send(message, **kwargs)
    return api.last_json()
