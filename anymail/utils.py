"""Public helpers shared by Anymail's backends and webhooks."""

import base64
import binascii
import email.policy
import functools
import inspect
import mimetypes
import operator
import re
from collections.abc import Mapping, MutableMapping
from copy import deepcopy
from email.charset import Charset
from email.errors import HeaderParseError, InvalidHeaderDefect
from email.header import decode_header
from email.headerregistry import Address
from email.message import Message
from email.utils import formatdate, getaddresses, parsedate_to_datetime

from django.conf import settings
from django.utils.functional import Promise
from requests.structures import CaseInsensitiveDict

from .exceptions import (
    AnymailConfigurationError,
    AnymailInvalidAddress,
    AnymailInvalidMailer,
)

BASIC_NUMERIC_TYPES = (int, float)

#: Default size of the pieces in which inbound views stream raw messages.
DEFAULT_DOWNLOAD_CHUNK_SIZE = 65536

RFC5322_SPECIALS = set('()<>@,:;."[]\\')

#: Email policy for SMTP with 7-bit transfer encoding (CRLF line endings)
SMTP7BIT = email.policy.SMTP.clone(cte_type="7bit")


class UNSET:
    """Sentinel for "not specified" (distinct from None, which means "nothing").

    A module-level class pickles by reference, so identity survives pickle,
    copy and deepcopy.
    """

    def __init__(self):  # pragma: no cover - never instantiated
        raise TypeError("UNSET is a sentinel, not a class to instantiate")


# ---------------------------------------------------------------------------
# Combining message attributes with send defaults


def _fold(values, start, add):
    """Combine `values` into a new result: UNSET values are skipped, a None
    discards everything before it, and each other value is added with
    add(result, value) to a result that begins as start(). UNSET if nothing
    is left."""
    result = UNSET
    for value in values:
        if value is None:
            result = UNSET
        elif value is not UNSET:
            result = add(start() if result is UNSET else result, value)
    return result


def concat_lists(*args):
    """Concatenate iterables into a new list (UNSET and None as _fold)."""
    return _fold(args, list, lambda result, value: result + list(value))


def merge_dicts_shallow(*args):
    """Merge mappings into a new dict (later keys win)."""
    return _fold(args, dict, _update_shallow)


def merge_dicts_deep(*args):
    """Recursively merge mappings into a new dict; non-mappings are replaced."""
    return _fold(args, dict, _update_deep_copy)


def merge_dicts_one_level(*args):
    """Merge dicts of dicts: the inner dicts for each key are shallow-merged."""
    return _fold(args, dict, _update_one_level)


def _update_shallow(result, value):
    result.update(value)
    return result


def _update_deep_copy(result, value):
    update_deep(result, deepcopy(value))
    return result


def _update_one_level(result, value):
    for key, inner in value.items():
        merged = dict(result.get(key, {}))
        merged.update(inner)
        result[key] = merged
    return result


def last(*args):
    """The last argument that is not UNSET; a None found first gives UNSET."""
    for value in reversed(args):
        if value is None:
            return UNSET
        if value is not UNSET:
            return value
    return UNSET


def update_deep(dct, other):
    """Update MutableMapping `dct` from Mapping `other`, recursing into mappings.

    Sequences and other values are replaced, not merged. Returns None.
    """
    for key, value in other.items():
        if (
            key in dct
            and isinstance(dct[key], MutableMapping)
            and isinstance(value, Mapping)
        ):
            update_deep(dct[key], value)
        else:
            dct[key] = value


def getfirst(dct, keys, default=UNSET):
    """The value of the first of `keys` present in `dct`."""
    for key in keys:
        try:
            return dct[key]
        except KeyError:
            pass
    if default is UNSET:
        raise KeyError("None of %s found in dict" % ", ".join(keys))
    return default


# ---------------------------------------------------------------------------
# Lazy strings


def is_lazy(obj):
    """True for Django lazy objects (gettext_lazy, format_lazy)."""
    return isinstance(obj, Promise)


def force_non_lazy(obj):
    """Lazy objects become str; anything else is returned unchanged."""
    return str(obj) if isinstance(obj, Promise) else obj


def force_non_lazy_list(obj):
    """A new list with each item forced to non-lazy."""
    try:
        return [force_non_lazy(item) for item in obj]
    except TypeError:  # not iterable
        return force_non_lazy(obj)


def force_non_lazy_dict(obj):
    """A recursive plain-dict copy of `obj` with every value forced to non-lazy."""
    if isinstance(obj, Mapping):
        return {
            key: value if type(value) in _PLAIN_TYPES else force_non_lazy_dict(value)
            for key, value in obj.items()
        }
    return force_non_lazy(obj)


#: Types that are neither lazy nor mappings (the common metadata values)
_PLAIN_TYPES = frozenset([str, int, float, bool, type(None)])


# ---------------------------------------------------------------------------
# Email addresses


def has_specials(text):
    """True if `text` contains any RFC 5322 special character."""
    return not RFC5322_SPECIALS.isdisjoint(text)


def quote_string(name, force=False):
    """Wrap `name` in double quotes (escaping \\ and ") if it has specials."""
    if force or has_specials(name):
        return '"%s"' % name.replace("\\", "\\\\").replace('"', '\\"')
    return name


def unquote_string(name):
    """Undo quote_string: strip surrounding double quotes and unescape."""
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace("\\\\", "\\").replace('\\"', '"')
    return name


def angle_wrap(s):
    """Add a leading < and trailing > where missing ("" stays "")."""
    if not s:
        return s
    if not s.startswith("<"):
        s = "<" + s
    if not s.endswith(">"):
        s = s + ">"
    return s


class EmailAddress(Address):
    """A parsed email address, with helpers for the formats ESP APIs want."""

    def __init__(self, display_name="", addr_spec=None, *, username="", domain=None):
        display_name = display_name or ""
        if addr_spec is not None and not addr_spec.isascii():
            # The stdlib parser rejects non-ASCII (EAI/IDN) addresses: split it here.
            if "@" not in addr_spec:
                raise AnymailInvalidAddress(
                    f"Invalid email address '{addr_spec}': missing @domain part"
                )
            username, _, domain = addr_spec.rpartition("@")
            username = unquote_string(username)
            addr_spec = None
        try:
            super().__init__(
                display_name, username=username, domain=domain, addr_spec=addr_spec
            )
        except (HeaderParseError, InvalidHeaderDefect, IndexError, ValueError) as err:
            message = f"Invalid email address {addr_spec!r}"
            if display_name:
                message += f" display_name={display_name!r}"
            raise AnymailInvalidAddress(message) from err
        # (immutable: computed once, as ESP payloads ask for them again and again)
        self._addr_spec = super().addr_spec
        self._has_idn_domain = bool(self.domain) and not self.domain.isascii()
        self._address = self._format(self.display_name)

    # (read-only; attrgetter reads them without a Python-level call)
    addr_spec = property(
        operator.attrgetter("_addr_spec"), doc="The addr-spec, e.g. `john@example.com`."
    )
    address = property(
        operator.attrgetter("_address"),
        doc='The full formatted address, e.g. `"Smith, John" <john@example.com>`.',
    )

    @property
    def uses_eai(self):
        """True if the local part is non-ASCII (needs SMTPUTF8 / EAI)."""
        return not self.username.isascii()

    def __str__(self):
        return self._address

    def __repr__(self):
        return f"EmailAddress({self.display_name!r}, {self._addr_spec!r})"

    def format_display_name(self, *, use_rfc2047=False, use_quotes=False):
        """The display name, optionally RFC 2047 encoded or quoted."""
        name = self.display_name
        if use_rfc2047 == "force" or (use_rfc2047 and not name.isascii()):
            return rfc2047_encode(name)
        if use_quotes:
            return quote_string(name, force=use_quotes == "force")
        return name

    def format_addr_spec(self, *, idna_encode=None):
        """The addr-spec, with a non-ASCII domain passed through `idna_encode`."""
        if not idna_encode or not self._has_idn_domain:
            return self._addr_spec
        local_part = self._addr_spec[: -len(self.domain) - 1]
        return f"{local_part}@{idna_encode(self.domain)}"

    def format(self, *, use_rfc2047=False, idna_encode=None):
        """The full address: display name (quoted if needed) and <addr-spec>."""
        if not (idna_encode and self._has_idn_domain) and (
            not use_rfc2047 or (use_rfc2047 != "force" and self.display_name.isascii())
        ):
            return self._address  # (the common case, formatted once)
        return self._format(
            self.format_display_name(use_rfc2047=use_rfc2047),
            self.format_addr_spec(idna_encode=idna_encode),
        )

    def _format(self, name, addr_spec=None):
        addr_spec = self._addr_spec if addr_spec is None else addr_spec
        if not name:
            return addr_spec
        return f"{quote_string(name)} <{addr_spec}>"

    def as_dict(
        self,
        *,
        name="name",
        email="email",
        use_rfc2047=False,
        quote_name=False,
        idna_encode=None,
    ):
        """A dict like {"email": ..., "name": ...}; "name" only if there is one."""
        result = {email: self.format_addr_spec(idna_encode=idna_encode)}
        if self.display_name:
            result[name] = self.format_display_name(
                use_rfc2047=use_rfc2047, use_quotes=quote_name
            )
        return result


def _getaddresses_non_strict():
    """getaddresses with the lenient (pre-CVE-2023-27043) parsing on every Python.

    Each address it yields is validated by EmailAddress afterwards, so the
    lenient split only decides where the pieces are, identically everywhere.
    """
    if "strict" in inspect.signature(getaddresses).parameters:
        return lambda fieldvalues: getaddresses(fieldvalues, strict=False)
    return getaddresses  # pragma: no cover - Python without the strict option


_getaddresses = _getaddresses_non_strict()


#: Addresses simple enough to split without the stdlib parser: `local@domain` or
#: `Display Name <local@domain>`, plain ASCII atoms only (anything else, including
#: surrounding whitespace, takes the full parse)
_SIMPLE_ADDRESS = re.compile(
    r"(?:([A-Za-z0-9]+(?: [A-Za-z0-9]+)*) <)?"
    r"([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*)"
    r"@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
    r"(?(1)>)",
    re.ASCII,
)


def _simple_addresses(item):
    """EmailAddresses for a list of only simple addresses, else None.

    Without quotes or comments, commas can only separate addresses, so each
    piece can take the fast path.
    """
    pieces = [item]
    if "," in item:
        if '"' in item or "(" in item:
            return None
        pieces = [piece.strip() for piece in item.split(",")]
    matches = [_SIMPLE_ADDRESS.fullmatch(piece) for piece in pieces]
    if not all(matches):
        return None
    return [
        EmailAddress(name or "", username=username, domain=domain)
        for name, username, domain in (match.groups() for match in matches)
    ]


@functools.lru_cache(maxsize=1024)
def _parse_address_item(item):
    """The EmailAddresses (a tuple) for one str item of parse_address_list.

    Cached: the same From and recipient strings recur message after message,
    and EmailAddress objects are immutable.
    """
    simple = _simple_addresses(item)
    if simple is not None:
        return tuple(simple)
    pairs = _getaddresses([item]) or [("", "")]
    return tuple(EmailAddress(name, addr) for name, addr in pairs)


def parse_address_list(address_list, field=None):
    """Parse a str or list of str into a list of EmailAddress.

    A comma inside one item splits it into several addresses (as Django does).
    Raises AnymailInvalidAddress naming `field` for anything unparseable.
    """
    if address_list is None or isinstance(address_list, (str, Promise)):
        address_list = [address_list]
    elif not isinstance(address_list, (list, tuple)):
        address_list = list(address_list)  # (e.g. a generator: read twice on errors)
    parsed = []
    try:
        for item in address_list:
            if item is not None:
                parsed.extend(_parse_address_item(force_non_lazy(item)))
    except AnymailInvalidAddress as err:
        strings = [force_non_lazy(item) for item in address_list if item is not None]
        message = err.args[0]
        if field:
            message += f" in `{field}`"
        message += f" parsed from {', '.join(strings)!r}"
        if any("," in item for item in strings):
            message += " (maybe missing quotes around a display-name?)"
        raise AnymailInvalidAddress(message, *err.args[1:]) from err
    return parsed


def parse_single_address(address, field=None):
    """Parse exactly one email address into an EmailAddress."""
    parsed = parse_address_list([address], field=field)
    if len(parsed) != 1:
        where = f" in `{field}`" if field else ""
        raise AnymailInvalidAddress(
            "Only one email address is allowed; found "
            f"{len(parsed)} in '{force_non_lazy(address)}'{where}."
        )
    return parsed[0]


# ---------------------------------------------------------------------------
# Header and date encoding


def rfc2047_encode(text):
    """Encode `text` as an RFC 2047 UTF-8 encoded-word (the shorter of Q and B)."""
    if not text:
        return ""
    return Charset("utf-8").header_encode(text)


def rfc2047_decode(encoded):
    """Decode any RFC 2047 encoded-words in `encoded` to a str."""
    # decode_header yields (bytes, charset) runs; the plain (possibly 8-bit)
    # text between encoded-words comes back as raw-unicode-escape bytes with
    # charset None, keeping its own whitespace.
    decoded = []
    for part, charset in decode_header(encoded):
        if isinstance(part, bytes):
            try:
                part = part.decode(charset or "raw-unicode-escape", "replace")
            except LookupError:  # unknown charset
                part = part.decode("utf-8", "replace")
        decoded.append(part)
    return "".join(decoded)


#: A line break followed by whitespace: a folded header line (CRLF, CR or LF,
#: as the email parser reads them); and any line break
_FOLDING_LINE_BREAK = re.compile(r"(?:\r\n|\r|\n)(?=[ \t])")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def unfold_header_value(value):
    """A header value on one line: folds are unfolded, other line breaks become spaces.

    (So the value can't smuggle in another header.)
    """
    return _LINE_BREAK.sub(" ", _FOLDING_LINE_BREAK.sub("", value))


def rfc2822date(dt):
    """An RFC 2822 date string in GMT. Naive datetimes are system local time."""
    return formatdate(dt.timestamp(), usegmt=True)


def parse_rfc2822date(s):
    """Parse an RFC 2822 date; None for anything unparseable."""
    try:
        return parsedate_to_datetime(s)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# ---------------------------------------------------------------------------
# Attachments


class Attachment:
    """A normalized message attachment.

    Accepts a (filename, content, mimetype) tuple (or Django's EmailAttachment)
    or a MIME part (e.g. from attach_inline_image).
    """

    def __init__(self, attachment):
        self.inline = False
        self.content_id = None
        self.cid = ""
        self.charset = None
        if isinstance(attachment, Message):
            self._init_from_mime(attachment)
        else:
            self._init_from_tuple(*attachment)
        self._apply_text_charset()

    def _init_from_tuple(self, name, content, mimetype):
        self.name = force_non_lazy(name)
        content = force_non_lazy(content)
        if not isinstance(content, (str, bytes)):
            content, mimetype = _forwarded_message_content(content, mimetype)
        if mimetype is None:
            mimetype = (
                mimetypes.guess_type(self.name)[0] if self.name else None
            ) or "application/octet-stream"
        self.content = content
        self.mimetype = mimetype
        self.content_type = mimetype

    def _init_from_mime(self, part):
        self.name = part.get_filename()
        self.mimetype = part.get_content_type()
        self.charset = part.get_content_charset()
        if part.is_multipart():
            self.content = part.as_bytes()  # (also sets a missing boundary)
        elif hasattr(part, "get_content"):  # modern email.message.MIMEPart
            self.content = part.get_content()
            if isinstance(self.content, Message):
                self.content = _serialize_forwarded_message(self.content)
        else:  # legacy (compat32) MIMEBase
            self.content = part.get_payload(decode=True)
        self.content_type = str(part["Content-Type"] or self.mimetype)
        disposition = part.get_content_disposition()
        content_id = part["Content-ID"]
        self.inline = disposition == "inline" or (
            disposition is None and content_id is not None
        )
        if self.inline and content_id:
            self.content_id = str(content_id)
            self.cid = self.content_id.strip().removeprefix("<").removesuffix(">")

    def _apply_text_charset(self):
        maintype = self.maintype
        if maintype != "text" and not isinstance(self.content, str):
            return
        if self.charset is None:
            self.charset = settings.DEFAULT_CHARSET
        if "charset=" not in self.content_type.lower():
            self.content_type = f'{self.mimetype}; charset="{self.charset}"'
        if maintype == "text" and isinstance(self.content, bytes):
            try:
                self.content = self.content.decode(self.charset)
            except (UnicodeDecodeError, LookupError):
                pass  # keep the bytes as given

    @property
    def maintype(self):
        return self.mimetype.partition("/")[0]

    @property
    def subtype(self):
        return self.mimetype.partition("/")[2]

    @property
    def content_bytes(self):
        """The content as bytes, in the attachment's own charset."""
        if isinstance(self.content, str):
            return self.content.encode(self.charset or "utf-8")
        return self.content

    @property
    def content_utf8_bytes(self):
        """The content as bytes, with text re-encoded to UTF-8."""
        if isinstance(self.content, str):
            return self.content.encode("utf-8")
        return self.content

    @property
    def b64content(self):
        """Base64 (ASCII str) of content_bytes."""
        return base64.b64encode(self.content_bytes).decode("ascii")

    @property
    def b64content_utf8(self):
        """Base64 (ASCII str) of content_utf8_bytes."""
        return base64.b64encode(self.content_utf8_bytes).decode("ascii")

    def __repr__(self):
        details = [self.mimetype, f"len={len(self.content)}"]
        if self.name:
            details.append(f"name={self.name!r}")
        if self.inline:
            details.insert(0, "inline")
            details.append(f"content_id={self.content_id!r}")
        return "Attachment<%s>" % ", ".join(details)


def _forwarded_message_content(content, mimetype):
    """(content, mimetype) for attachment content that may be an email message
    (Django's or a MIME object): serialized, as message/rfc822 by default."""
    if _is_django_email_message(content):
        content = _django_message_as_mime(content)
        mimetype = mimetype or "message/rfc822"
    if isinstance(content, Message):
        content = _serialize_forwarded_message(content)
        mimetype = mimetype or "message/rfc822"
    return content, mimetype


def _is_django_email_message(obj):
    from django.core.mail import EmailMessage

    return isinstance(obj, EmailMessage)


def _django_message_as_mime(django_message):
    """A Django EmailMessage as serialized bytes (Django < 6) or a MIME object."""
    mime = django_message.message()
    if not isinstance(mime, email.message.EmailMessage):
        # Django < 6.0's legacy MIME class: serialize it with its own as_bytes
        return mime.as_bytes(linesep="\r\n")
    return mime


def _serialize_forwarded_message(message):
    return message.as_bytes(policy=SMTP7BIT)


# ---------------------------------------------------------------------------
# Settings


def get_anymail_setting(
    name, default=UNSET, esp_name=None, kwargs=None, allow_bare=False
):
    """Look up an Anymail setting.

    Order: backend kwargs (the key is removed from kwargs), ANYMAIL["<SETTING>"],
    ANYMAIL_<SETTING>, the bare root-level <SETTING> (only if allow_bare), then
    `default`. Raises AnymailConfigurationError (or AnymailInvalidMailer for
    backends built from Django's MAILERS) when a required setting is missing.
    """
    if kwargs is not None and name in kwargs:
        value = kwargs.pop(name)
        if value is not None or name not in ("username", "password"):
            return value

    setting = name.upper()
    if esp_name is not None:
        setting = "{}_{}".format(esp_name.upper().replace(" ", "_"), setting)

    anymail_settings = getattr(settings, "ANYMAIL", None) or {}
    if setting in anymail_settings:
        return anymail_settings[setting]
    if hasattr(settings, "ANYMAIL_" + setting):
        return getattr(settings, "ANYMAIL_" + setting)
    if allow_bare and hasattr(settings, setting):
        return getattr(settings, setting)
    if default is not UNSET:
        return default

    if kwargs is not None and "alias" in kwargs:
        raise AnymailInvalidMailer(
            f"OPTIONS must define '{name}'", alias=kwargs["alias"]
        )
    raise missing_setting_error(setting, allow_bare=allow_bare)


def missing_setting_error(setting, allow_bare=False):
    """The AnymailConfigurationError for a required setting (its full name) left unset.

    It names the places the setting can go: the ANYMAIL dict, ANYMAIL_<SETTING>,
    and (if allow_bare) the bare <SETTING>.
    """
    message = f"You must set ANYMAIL = {{'{setting}': ...}} or ANYMAIL_{setting}"
    if allow_bare:
        message += f" or {setting}"
    return AnymailConfigurationError(message + " in your Django settings")


# ---------------------------------------------------------------------------
# Streaming: pieces to feed AnymailInboundMessage.parse_raw_mime_chunks

#: Characters b64decode skips (it ignores anything outside the alphabet)
_NON_BASE64 = re.compile(r"[^A-Za-z0-9+/=]+")
#: Base64 data after padding (which b64decode handles in its own way)
_PADDING_BEFORE_DATA = re.compile(r"=[^A-Za-z0-9+/]*[A-Za-z0-9+/]")


def utf8_encoded_chunks(text, size=DEFAULT_DOWNLOAD_CHUNK_SIZE, errors="surrogatepass"):
    """The UTF-8 encoding of text, in pieces of `size` characters.

    A lone surrogate (which JSON can carry) never fails: by default it is
    passed through as its raw bytes, for the lenient MIME parser to replace;
    errors="replace" makes it "?" instead.
    """
    for start in range(0, len(text), size):
        yield text[start : start + size].encode("utf-8", errors)


def base64_decoded_chunks(text, size=DEFAULT_DOWNLOAD_CHUNK_SIZE):
    """base64.b64decode(text), in pieces (decoding `size` characters at a time).

    Like b64decode, characters outside the base64 alphabet (e.g. line breaks)
    are skipped, and bad padding raises binascii.Error (a ValueError). Base64
    padded only at its end decodes the same in groups of four characters;
    anything odder is decoded in one go, as b64decode would.
    """
    if _PADDING_BEFORE_DATA.search(text):
        yield base64.b64decode(text)
        return
    pending = ""
    for start in range(0, len(text), size):
        pending += _NON_BASE64.sub("", text[start : start + size])
        complete = len(pending) - len(pending) % 4
        if complete:
            yield base64.b64decode(pending[:complete])
            pending = pending[complete:]
    if pending.strip("="):
        yield base64.b64decode(pending)


# ---------------------------------------------------------------------------
# Misc


class CaseInsensitiveCasePreservingDict(CaseInsensitiveDict):
    """A case-insensitive dict that keeps the first spelling of each key."""

    def __setitem__(self, key, value):
        existing = self._store.get(key.lower())
        spelling = existing[0] if existing else key
        self._store[key.lower()] = (spelling, value)

    def copy(self):
        return type(self)(self._store.values())


def querydict_getfirst(qdict, field, default=UNSET):
    """The first value of a multi-valued QueryDict field."""
    values = qdict.getlist(field)
    if values:
        return values[0]
    if default is UNSET:
        raise KeyError(f"Missing required field {field!r}")
    return default


def get_request_basic_auth(request):
    """'user:pass' from the request's HTTP Basic Authorization header, or None."""
    tokens = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(tokens) != 2 or tokens[0].lower() != "basic":
        return None
    try:
        return base64.b64decode(tokens[1], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def get_request_uri(request):
    """The request's absolute URI, with user:pass@ if Basic auth was sent."""
    url = request.build_absolute_uri()
    basic_auth = get_request_basic_auth(request)
    if basic_auth is not None:
        scheme, sep, rest = url.partition("://")
        url = f"{scheme}{sep}{basic_auth}@{rest}"
    return url


def collect_all_methods(cls, method_name):
    """The distinct `method_name` attributes along cls's MRO, in MRO order."""
    methods = []
    for klass in cls.__mro__:
        method = klass.__dict__.get(method_name)
        if method is not None and method not in methods:
            methods.append(method)
    return methods
