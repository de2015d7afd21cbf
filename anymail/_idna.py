"""Built-in IDNA encoders, selectable by name with the IDNA_ENCODER setting.

Each takes a (non-ASCII) domain str and returns its ASCII form, raising
ValueError (or a subclass) when the domain cannot be encoded.
"""

import idna as _idna_package

from .exceptions import AnymailImproperlyInstalled, _LazyError

try:
    import uts46 as _uts46_package
except ImportError:
    _uts46_package = _LazyError(
        AnymailImproperlyInstalled(
            missing_package="uts46",
            install_extra="<your-esp>,uts46",
            feature='IDNA_ENCODER="uts46"',
        )
    )


def idna2008(domain):
    """IDNA 2008 with UTS #46 preprocessing (the default)."""
    return _idna_package.encode(domain, uts46=True).decode("ascii")


def idna2003(domain):
    """IDNA 2003, using Python's built-in codec (as Django's SMTP backend does)."""
    return domain.encode("idna").decode("ascii")


def uts46(domain):
    """Full UTS #46 non-transitional processing (needs the `uts46` package)."""
    return _uts46_package.encode(domain).decode("ascii")


def none(domain):
    """No encoding: the Unicode domain goes to the ESP as-is."""
    return domain
