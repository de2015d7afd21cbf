"""Tests for the public helpers in anymail.utils (and the package version)."""

import base64
import copy
import email.policy
import os
import pickle
import time
from datetime import datetime, timedelta, timezone
from email.headerregistry import Address
from types import MappingProxyType
from unittest import mock

import pytest
from django.http import QueryDict
from django.test import RequestFactory, override_settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

import anymail
from anymail import utils
from anymail._idna import idna2008
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailInvalidMailer,
)
from anymail.utils import (
    BASIC_NUMERIC_TYPES,
    DEFAULT_DOWNLOAD_CHUNK_SIZE,
    RFC5322_SPECIALS,
    SMTP7BIT,
    UNSET,
    CaseInsensitiveCasePreservingDict,
    EmailAddress,
    angle_wrap,
    base64_decoded_chunks,
    collect_all_methods,
    concat_lists,
    force_non_lazy,
    force_non_lazy_dict,
    force_non_lazy_list,
    get_anymail_setting,
    get_request_basic_auth,
    get_request_uri,
    getfirst,
    has_specials,
    is_lazy,
    last,
    merge_dicts_deep,
    merge_dicts_one_level,
    merge_dicts_shallow,
    missing_setting_error,
    parse_address_list,
    parse_rfc2822date,
    parse_single_address,
    querydict_getfirst,
    quote_string,
    rfc2047_decode,
    rfc2047_encode,
    rfc2822date,
    unfold_header_value,
    unquote_string,
    update_deep,
    utf8_encoded_chunks,
)

try:
    from django.core.mail import InvalidMailer as DjangoInvalidMailer
except ImportError:  # Django < 6.1
    DjangoInvalidMailer = None


# ---------------------------------------------------------------------------
# Version (changes-15.2 §1) and module constants


def test_version():
    assert anymail.__version__ == "15.2"
    assert anymail.VERSION == ["15.2"]


def test_constants():
    assert DEFAULT_DOWNLOAD_CHUNK_SIZE == 65536
    assert (int, float) == BASIC_NUMERIC_TYPES
    assert set('()<>@,:;."[]\\') == RFC5322_SPECIALS
    assert len(RFC5322_SPECIALS) == 13


def test_smtp7bit_policy():
    assert isinstance(SMTP7BIT, email.policy.EmailPolicy)
    assert SMTP7BIT.cte_type == "7bit"
    assert SMTP7BIT.linesep == "\r\n"


# ---------------------------------------------------------------------------
# UNSET


def test_unset_is_distinct_sentinel():
    assert UNSET is not None
    for other in (None, False, 0, "", [], {}):
        assert other != UNSET
    assert UNSET == UNSET


def test_unset_repr():
    assert "UNSET" in repr(UNSET)
    assert repr(UNSET) == "<class 'anymail.utils.UNSET'>"


def test_unset_survives_pickle_and_copy():
    assert pickle.loads(pickle.dumps(UNSET)) is UNSET
    assert copy.copy(UNSET) is UNSET
    assert copy.deepcopy(UNSET) is UNSET
    assert copy.deepcopy({"a": [UNSET]})["a"][0] is UNSET


# ---------------------------------------------------------------------------
# Combiners


def test_concat_lists():
    assert concat_lists([1, 2], [3]) == [1, 2, 3]
    assert concat_lists(UNSET, [1], UNSET) == [1]
    assert concat_lists([1], None, [2]) == [2]
    assert concat_lists([1], [], [2, 3]) == [1, 2, 3]
    assert concat_lists([]) == []
    assert concat_lists((1, 2), {3}) == [1, 2, 3]
    assert concat_lists([1, [11, 12]], [2]) == [1, [11, 12], 2]


def test_concat_lists_nothing_left():
    assert concat_lists() is UNSET
    assert concat_lists(UNSET) is UNSET
    assert concat_lists(UNSET, UNSET) is UNSET
    assert concat_lists([1], None) is UNSET
    assert concat_lists(None) is UNSET
    assert concat_lists([1], None, UNSET) is UNSET


def test_concat_lists_returns_new_list():
    first = [1]
    second = [2]
    result = concat_lists(first, second)
    assert result == [1, 2]
    result.append(3)
    assert first == [1]
    assert second == [2]
    only = [1, 2]
    alone = concat_lists(only)
    assert alone == [1, 2]
    assert alone is not only


def test_merge_dicts_shallow():
    defaults = {"a": 1, "b": 2, "nested": {"x": 1}}
    message = {"b": 3, "c": 4, "nested": {"y": 2}}
    result = merge_dicts_shallow(defaults, message)
    assert result == {"a": 1, "b": 3, "c": 4, "nested": {"y": 2}}
    assert defaults == {"a": 1, "b": 2, "nested": {"x": 1}}
    assert message == {"b": 3, "c": 4, "nested": {"y": 2}}
    assert result is not defaults
    assert merge_dicts_shallow(defaults) is not defaults
    assert merge_dicts_shallow({}) == {}


def test_merge_dicts_shallow_unset_and_none():
    assert merge_dicts_shallow() is UNSET
    assert merge_dicts_shallow(UNSET, UNSET) is UNSET
    assert merge_dicts_shallow({}, None) is UNSET
    assert merge_dicts_shallow({"a": 1}, None, {"b": 2}) == {"b": 2}
    assert merge_dicts_shallow(UNSET, {"a": 1}, UNSET) == {"a": 1}


def test_merge_dicts_deep():
    defaults = {"k": {"d1": 1, "d2": 2}, "l": [1], "top": "t"}
    message = {"k": {"d2": 22, "d3": 3}, "l": [2]}
    result = merge_dicts_deep(defaults, message)
    assert result == {"k": {"d1": 1, "d2": 22, "d3": 3}, "l": [2], "top": "t"}
    # inputs untouched, result is a deep copy
    assert defaults == {"k": {"d1": 1, "d2": 2}, "l": [1], "top": "t"}
    assert message == {"k": {"d2": 22, "d3": 3}, "l": [2]}
    result["k"]["d1"] = "changed"
    result["l"].append(99)
    assert defaults["k"]["d1"] == 1
    assert message["l"] == [2]
    alone = merge_dicts_deep(defaults)
    alone["k"]["d1"] = "changed"
    assert defaults["k"]["d1"] == 1


def test_merge_dicts_deep_unset_and_none():
    assert merge_dicts_deep() is UNSET
    assert merge_dicts_deep({"a": 1}, None) is UNSET
    assert merge_dicts_deep({"a": 1}, None, {"b": {"c": 1}}) == {"b": {"c": 1}}
    assert merge_dicts_deep(UNSET, {"a": {"b": 1}}) == {"a": {"b": 1}}


def test_merge_dicts_one_level():
    first = {"a": {"a1": 1, "a3": {"x": 1}}, "z": {"z1": 1}}
    second = {"a": {"a2": 2, "a3": {"b": 2}}, "new": {"n": 1}}
    result = merge_dicts_one_level(first, second)
    assert result == {
        "a": {"a1": 1, "a2": 2, "a3": {"b": 2}},
        "z": {"z1": 1},
        "new": {"n": 1},
    }
    assert first == {"a": {"a1": 1, "a3": {"x": 1}}, "z": {"z1": 1}}
    assert second == {"a": {"a2": 2, "a3": {"b": 2}}, "new": {"n": 1}}
    assert merge_dicts_one_level() is UNSET
    assert merge_dicts_one_level(first, None) is UNSET
    assert merge_dicts_one_level(UNSET, {"r": {"k": 1}}) == {"r": {"k": 1}}


def test_last():
    assert last(1, 2) == 2
    assert last(1, UNSET) == 1
    assert last(None, 2) == 2
    assert last(1, "") == ""
    assert last(1, False) is False
    assert last(1, 0) == 0
    assert last(1, []) == []
    assert last(1, None) is UNSET
    assert last(1, None, UNSET) is UNSET
    assert last() is UNSET
    assert last(UNSET, UNSET) is UNSET


def test_update_deep():
    dct = {"a": {"a1": 1, "a2": [1, 2]}, "b": 1}
    result = update_deep(dct, {"a": {"a2": [3], "a3": 3}, "c": {"x": 1}})
    assert result is None
    assert dct == {"a": {"a1": 1, "a2": [3], "a3": 3}, "b": 1, "c": {"x": 1}}
    # a non-mapping value is replaced by a mapping (and vice versa)
    update_deep(dct, {"b": {"now": "dict"}, "a": "now str"})
    assert dct == {"a": "now str", "b": {"now": "dict"}, "c": {"x": 1}}
    # other may be any (read-only) Mapping
    update_deep(dct, MappingProxyType({"c": MappingProxyType({"y": 2})}))
    assert dct["c"] == {"x": 1, "y": 2}


def test_getfirst():
    dct = {"a": 1, "b": 2, "n": None}
    assert getfirst(dct, ["b", "a"]) == 2
    assert getfirst(dct, ["missing", "a"]) == 1
    assert getfirst(dct, ["n", "a"]) is None
    assert getfirst(dct, ["x", "y"], default="dflt") == "dflt"
    assert getfirst(dct, ["x", "y"], default=None) is None
    with pytest.raises(KeyError) as excinfo:
        getfirst(dct, ["x", "y"])
    assert excinfo.value.args == ("None of x, y found in dict",)


# ---------------------------------------------------------------------------
# Lazy-string helpers


def test_is_lazy():
    assert is_lazy(gettext_lazy("text")) is True
    assert is_lazy(format_lazy("{}-{}", "a", "b")) is True
    for value in ("text", b"bytes", None, 1, [gettext_lazy("x")], {"a": 1}):
        assert is_lazy(value) is False


def test_force_non_lazy():
    result = force_non_lazy(gettext_lazy("text"))
    assert result == "text"
    assert type(result) is str
    assert force_non_lazy(format_lazy("{}-{}", "a", "b")) == "a-b"
    data = b"bytes"
    assert force_non_lazy(data) is data
    assert force_non_lazy(None) is None
    items = [gettext_lazy("x")]
    assert force_non_lazy(items) is items  # not recursive


def test_force_non_lazy_list():
    source = [gettext_lazy("a"), "b", 1, None]
    result = force_non_lazy_list(source)
    assert result == ["a", "b", 1, None]
    assert type(result) is list
    assert type(result[0]) is str
    assert result is not source
    assert force_non_lazy_list(("x", gettext_lazy("y"))) == ["x", "y"]
    assert force_non_lazy_list(5) == 5
    assert force_non_lazy_list(None) is None


def test_force_non_lazy_dict():
    source = {
        "a": gettext_lazy("x"),
        "b": {"c": gettext_lazy("y"), "d": [1]},
        "e": MappingProxyType({"f": gettext_lazy("z")}),
    }
    result = force_non_lazy_dict(source)
    assert result == {"a": "x", "b": {"c": "y", "d": [1]}, "e": {"f": "z"}}
    assert type(result["a"]) is str
    assert type(result["b"]["c"]) is str
    assert type(result["e"]) is dict
    assert result["b"] is not source["b"]
    assert force_non_lazy_dict(gettext_lazy("s")) == "s"
    assert force_non_lazy_dict(3) == 3


# ---------------------------------------------------------------------------
# Header/encoding helpers


@pytest.mark.parametrize("char", sorted('()<>@,:;."[]\\'))
def test_has_specials_true(char):
    assert has_specials(f"a{char}b") is True


@pytest.mark.parametrize(
    "text",
    ["John Smith", "O'Brien", "a&b$c%d=e*f+g_h^i#j!k", "tab\there", "Lopéz ✉", ""],
)
def test_has_specials_false(text):
    assert has_specials(text) is False


def test_quote_string():
    assert quote_string("John Smith") == "John Smith"
    assert quote_string("Smith, John") == '"Smith, John"'
    assert quote_string('A "quoted" name') == '"A \\"quoted\\" name"'
    assert quote_string("back\\slash") == '"back\\\\slash"'
    assert quote_string("John", force=True) == '"John"'
    assert quote_string("", force=True) == '""'
    assert quote_string("Lopéz") == "Lopéz"


def test_unquote_string():
    assert unquote_string('"Smith, John"') == "Smith, John"
    assert unquote_string('"A \\"q\\" \\\\ x"') == 'A "q" \\ x'
    assert unquote_string('"<foo@bar>"') == "<foo@bar>"
    assert unquote_string("<foo@bar>") == "<foo@bar>"
    assert unquote_string("no quotes") == "no quotes"
    assert unquote_string('"only at start') == '"only at start'
    assert unquote_string('only at end"') == 'only at end"'
    assert unquote_string('"') == ""
    assert unquote_string('""') == ""
    assert unquote_string("") == ""


def test_unquote_string_sequential_replacements():
    # \\ is replaced first, then \" (so `a\\"b` becomes `a"b`)
    assert unquote_string('"a\\\\"b"') == 'a"b'


def test_quote_unquote_round_trip():
    for name in ['A "q" \\ x', "Smith, John", "plain"]:
        assert unquote_string(quote_string(name, force=True)) == name


def test_angle_wrap():
    assert angle_wrap("") == ""
    assert angle_wrap("abc@example") == "<abc@example>"
    assert angle_wrap("<abc@example") == "<abc@example>"
    assert angle_wrap("abc@example>") == "<abc@example>"
    assert angle_wrap("<abc@example>") == "<abc@example>"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ascii text", "=?utf-8?q?ascii_text?="),
        ("Café", "=?utf-8?b?Q2Fmw6k=?="),
        ("Café Florence", "=?utf-8?q?Caf=C3=A9_Florence?="),
        ("こんにちは", "=?utf-8?b?44GT44KT44Gr44Gh44Gv?="),
        ("Hello, World!", "=?utf-8?q?Hello=2C_World!?="),
        ("", ""),
    ],
)
def test_rfc2047_encode(text, expected):
    assert rfc2047_encode(text) == expected


@pytest.mark.parametrize(
    "encoded, expected",
    [
        ("=?utf-8?q?Caf=C3=A9?= Florence", "Café Florence"),
        ("=?utf-8?q?Caf=C3=A9?= =?utf-8?q?_Florence?=", "Café Florence"),
        ("=?utf-8?q?Caf=C3=A9?=   =?utf-8?b?IEZsb3JlbmNl?=", "Café Florence"),
        ("=?utf-8?q?Caf=C3=A9?= =?iso-8859-1?q?_na=EFve?=", "Café naïve"),
        ("Re: =?utf-8?q?Caf=C3=A9?= today", "Re: Café today"),
        ("=?utf-8?b?44GT44KT44Gr44Gh44Gv?=", "こんにちは"),
        ("plain text", "plain text"),
        ("8-bit Café text", "8-bit Café text"),
        ("Café =?utf-8?q?Florence?=", "Café Florence"),
        ("", ""),
    ],
)
def test_rfc2047_decode(encoded, expected):
    assert rfc2047_decode(encoded) == expected


def test_rfc2047_round_trip():
    for text in ["Café Florence", "こんにちは", "Hello, World!"]:
        assert rfc2047_decode(rfc2047_encode(text)) == text


@pytest.fixture
def pacific_local_time():
    """Make the process's local time zone US Pacific for the test."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


def test_rfc2822date():
    aware = datetime(2017, 10, 24, 10, 11, 35, tzinfo=timezone(timedelta(hours=-7)))
    assert rfc2822date(aware) == "Tue, 24 Oct 2017 17:11:35 GMT"
    utc = datetime(2017, 10, 24, 17, 11, 35, tzinfo=timezone.utc)
    assert rfc2822date(utc) == "Tue, 24 Oct 2017 17:11:35 GMT"


def test_rfc2822date_naive_is_local_time(pacific_local_time):
    # 10:11:35 PDT (UTC-7) is 17:11:35 GMT
    assert rfc2822date(datetime(2017, 10, 24, 10, 11, 35)) == (
        "Tue, 24 Oct 2017 17:11:35 GMT"
    )


def test_parse_rfc2822date_aware():
    parsed = parse_rfc2822date("Tue, 24 Oct 2017 10:11:35 -0700")
    assert parsed == datetime(
        2017, 10, 24, 10, 11, 35, tzinfo=timezone(timedelta(hours=-7))
    )
    assert parsed.utcoffset() == timedelta(hours=-7)
    parsed = parse_rfc2822date("Tue, 24 Oct 2017 17:11:35 +0000")
    assert parsed.utcoffset() == timedelta(0)
    assert parsed == datetime(2017, 10, 24, 17, 11, 35, tzinfo=timezone.utc)


def test_parse_rfc2822date_naive():
    for text in ["Tue, 24 Oct 2017 10:11:35 -0000", "Tue, 24 Oct 2017 10:11:35"]:
        parsed = parse_rfc2822date(text)
        assert parsed == datetime(2017, 10, 24, 10, 11, 35)
        assert parsed.tzinfo is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "garbage",
        "Tue, 24 Oct",
        "Tue, 24 Oct 2017",
        "Tue, 24 Foo 2017 10:11:35 +0000",
        "Tue, 32 Oct 2017 10:11:35 +0000",
        "Tue, 24 Oct 2017 25:11:35 +0000",
        "Tue, 24 Oct 2017 10:11:35 +9999",
    ],
)
def test_parse_rfc2822date_invalid(text):
    assert parse_rfc2822date(text) is None


# ---------------------------------------------------------------------------
# EmailAddress


def test_email_address_basics():
    addr = EmailAddress("John Smith", "john@example.com")
    assert isinstance(addr, Address)
    assert addr.display_name == "John Smith"
    assert addr.addr_spec == "john@example.com"
    assert addr.username == "john"
    assert addr.domain == "example.com"
    assert addr.address == "John Smith <john@example.com>"
    assert str(addr) == "John Smith <john@example.com>"
    assert repr(addr) == "EmailAddress('John Smith', 'john@example.com')"
    assert addr.uses_eai is False


def test_email_address_keyword_parts():
    addr = EmailAddress("Name", username="user", domain="example.com")
    assert addr.addr_spec == "user@example.com"
    assert addr.address == "Name <user@example.com>"


def test_email_address_no_display_name():
    for name in ("", None):
        addr = EmailAddress(name, "user@example.com")
        assert addr.display_name == ""
        assert addr.address == "user@example.com"
        assert repr(addr) == "EmailAddress('', 'user@example.com')"


def test_email_address_read_only():
    addr = EmailAddress("Name", "user@example.com")
    for attr in ("display_name", "addr_spec", "username", "domain", "address"):
        with pytest.raises(AttributeError):
            setattr(addr, attr, "changed")
    assert addr.address == "Name <user@example.com>"


def test_email_address_equality():
    assert EmailAddress("A", "a@example.com") == EmailAddress("A", "a@example.com")
    assert EmailAddress("A", "a@example.com") == Address("A", addr_spec="a@example.com")
    assert EmailAddress("A", "a@example.com") != EmailAddress("B", "a@example.com")
    assert EmailAddress("A", "a@example.com") != EmailAddress("A", "b@example.com")


def test_email_address_quoting():
    assert EmailAddress("Smith, John", "john@example.com").address == (
        '"Smith, John" <john@example.com>'
    )
    assert EmailAddress('A "quoted" \\ name', "a@example.com").address == (
        '"A \\"quoted\\" \\\\ name" <a@example.com>'
    )
    assert EmailAddress("O'Brien & Co", "a@example.com").address == (
        "O'Brien & Co <a@example.com>"
    )


def test_email_address_unicode_kept():
    addr = EmailAddress("Juan Lopéz", "juan@éxample.com")
    assert addr.address == "Juan Lopéz <juan@éxample.com>"
    assert addr.username == "juan"
    assert addr.domain == "éxample.com"
    assert addr.uses_eai is False
    assert EmailAddress("", "user@exämple.com").address == "user@exämple.com"


def test_email_address_eai():
    addr = EmailAddress("", "üser@exämple.com")
    assert addr.username == "üser"
    assert addr.domain == "exämple.com"
    assert addr.addr_spec == "üser@exämple.com"
    assert addr.uses_eai is True


def test_email_address_eai_quoted_local_part():
    addr = EmailAddress("", '"quoted üser"@exämple.com')
    assert addr.username == "quoted üser"
    assert addr.domain == "exämple.com"
    assert addr.addr_spec == '"quoted üser"@exämple.com'
    # split at the last @
    addr = EmailAddress("", '"a@b"@exämple.com')
    assert addr.username == "a@b"
    assert addr.domain == "exämple.com"


def test_email_address_long_name_not_folded():
    name = "Very Long Display Name " * 8
    addr = EmailAddress(name.strip(), "a@example.com")
    assert addr.address == f"{name.strip()} <a@example.com>"
    assert "\n" not in addr.address


def test_email_address_non_ascii_missing_domain():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        EmailAddress("", "✉")
    assert str(excinfo.value) == "Invalid email address '✉': missing @domain part"


def test_email_address_cr_lf_in_display_name():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        EmailAddress("Potential\nInjection", "addr@example.com")
    assert str(excinfo.value) == (
        "Invalid email address 'addr@example.com' display_name='Potential\\nInjection'"
        "\nValueError: invalid arguments; address parts cannot contain CR or LF"
    )
    assert isinstance(excinfo.value.__cause__, ValueError)


def test_email_address_cr_lf_in_addr_spec():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        EmailAddress("", "addr@example.com\r")
    assert str(excinfo.value) == (
        "Invalid email address 'addr@example.com\\r'"
        "\nValueError: invalid arguments; address parts cannot contain CR or LF"
    )


def test_email_address_non_ascii_failure_shows_none():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        EmailAddress("Näme", "user\n@exämple.com")
    assert str(excinfo.value) == (
        "Invalid email address None display_name='Näme'"
        "\nValueError: invalid arguments; address parts cannot contain CR or LF"
    )


def test_email_address_invalid_is_chained():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        EmailAddress("", "webmaster")
    assert str(excinfo.value) == (
        "Invalid email address 'webmaster'"
        "\nemail.errors.InvalidHeaderDefect: addr-spec local part with no domain"
    )


def test_format_display_name():
    juan = EmailAddress("Juan Lopéz", "juan@example.com")
    assert juan.format_display_name() == "Juan Lopéz"
    assert juan.format_display_name(use_rfc2047=True) == "=?utf-8?q?Juan_Lop=C3=A9z?="
    lopez = EmailAddress("Lopéz, Juan Carlo", "juan@example.com")
    assert lopez.format_display_name(use_rfc2047=True, use_quotes=True) == (
        "=?utf-8?q?Lop=C3=A9z=2C_Juan_Carlo?="
    )
    assert lopez.format_display_name(use_quotes=True) == '"Lopéz, Juan Carlo"'
    assert lopez.format_display_name() == "Lopéz, Juan Carlo"
    john = EmailAddress("John Smith", "john@example.com")
    assert john.format_display_name(use_rfc2047=True) == "John Smith"
    assert john.format_display_name(use_rfc2047="force") == "=?utf-8?q?John_Smith?="
    assert john.format_display_name(use_quotes=True) == "John Smith"
    assert john.format_display_name(use_quotes="force") == '"John Smith"'
    smith = EmailAddress("Smith, John", "john@example.com")
    assert smith.format_display_name(use_quotes=True) == '"Smith, John"'
    assert smith.format_display_name(use_rfc2047=True) == "Smith, John"
    nobody = EmailAddress("", "john@example.com")
    assert nobody.format_display_name() == ""
    assert nobody.format_display_name(use_quotes="force") == '""'


def test_format_addr_spec():
    addr = EmailAddress("", "üser@exämple.com")
    assert addr.format_addr_spec() == "üser@exämple.com"
    assert addr.format_addr_spec(idna_encode=idna2008) == "üser@xn--exmple-cua.com"
    quoted = parse_single_address('"user@example.net"@example.com')
    assert quoted.format_addr_spec() == '"user@example.net"@example.com'
    quoted_idn = parse_single_address('"user@example.net"@exämple.com')
    assert quoted_idn.format_addr_spec(idna_encode=idna2008) == (
        '"user@example.net"@xn--exmple-cua.com'
    )


def test_format_addr_spec_ascii_domain_not_encoded():
    def fail(domain):
        raise AssertionError(f"encoder called for {domain!r}")

    addr = EmailAddress("Name", "üser@example.com")
    assert addr.format_addr_spec(idna_encode=fail) == "üser@example.com"
    assert addr.format(idna_encode=fail) == "Name <üser@example.com>"
    assert addr.as_dict(idna_encode=fail) == {
        "email": "üser@example.com",
        "name": "Name",
    }


def test_format():
    assert EmailAddress("Juan Lopéz", "user@exämple.com").format(
        use_rfc2047=True, idna_encode=idna2008
    ) == ("=?utf-8?q?Juan_Lop=C3=A9z?= <user@xn--exmple-cua.com>")
    assert EmailAddress("Lopéz, Juan", "juan@example.com").format() == (
        '"Lopéz, Juan" <juan@example.com>'
    )
    assert EmailAddress("John Smith", "user@exämple.com").format(
        idna_encode=idna2008
    ) == ("John Smith <user@xn--exmple-cua.com>")
    john = EmailAddress("John Smith", "john@example.com")
    assert john.format(use_rfc2047=True) == "John Smith <john@example.com>"
    assert john.format(use_rfc2047="force") == (
        "=?utf-8?q?John_Smith?= <john@example.com>"
    )
    assert EmailAddress("Smith, John", "john@example.com").format(use_rfc2047=True) == (
        '"Smith, John" <john@example.com>'
    )
    assert EmailAddress("Lopéz, Juan Carlo", "juan@example.com").format(
        use_rfc2047=True
    ) == ("=?utf-8?q?Lop=C3=A9z=2C_Juan_Carlo?= <juan@example.com>")
    assert EmailAddress("Lopéz, Juan", "juan@example.com").format(use_rfc2047=True) == (
        "=?utf-8?b?TG9ww6l6LCBKdWFu?= <juan@example.com>"
    )
    assert EmailAddress("", "user@exämple.com").format(idna_encode=idna2008) == (
        "user@xn--exmple-cua.com"
    )


def test_as_dict():
    assert EmailAddress("Smith, John", "john@example.com").as_dict(quote_name=True) == {
        "name": '"Smith, John"',
        "email": "john@example.com",
    }
    assert EmailAddress("Smith, John", "john@example.com").as_dict() == {
        "name": "Smith, John",
        "email": "john@example.com",
    }
    assert EmailAddress("John Smith", "john@exämple.com").as_dict(
        quote_name="force", idna_encode=idna2008
    ) == {"name": '"John Smith"', "email": "john@xn--exmple-cua.com"}
    assert EmailAddress("Juan Lopéz", "juan@éxample.com").as_dict(
        idna_encode=idna2008
    ) == {"name": "Juan Lopéz", "email": "juan@xn--xample-9ua.com"}
    assert EmailAddress("Juan Lopéz", "juan@example.com").as_dict(use_rfc2047=True) == {
        "name": "=?utf-8?q?Juan_Lop=C3=A9z?=",
        "email": "juan@example.com",
    }
    assert EmailAddress("", "john@example.com").as_dict() == {
        "email": "john@example.com"
    }
    assert EmailAddress("", "john@example.com").as_dict(quote_name="force") == {
        "email": "john@example.com"
    }


def test_as_dict_custom_keys():
    result = EmailAddress("John", "john@example.com").as_dict(
        name="Name", email="Address"
    )
    assert result == {"Name": "John", "Address": "john@example.com"}


# ---------------------------------------------------------------------------
# parse_address_list / parse_single_address


def test_parse_address_list_single_string():
    parsed = parse_address_list("one@example.com")
    assert parsed == [EmailAddress("", "one@example.com")]
    assert isinstance(parsed[0], EmailAddress)
    parsed = parse_address_list('"Smith, John" <john@example.com>')
    assert len(parsed) == 1
    assert parsed[0].display_name == "Smith, John"
    assert parsed[0].addr_spec == "john@example.com"
    assert parsed[0].address == '"Smith, John" <john@example.com>'


def test_parse_address_list_list():
    parsed = parse_address_list(["a@example.com", "Bee <b@example.com>"])
    assert [addr.address for addr in parsed] == [
        "a@example.com",
        "Bee <b@example.com>",
    ]
    parsed = parse_address_list(("a@example.com",))
    assert [addr.address for addr in parsed] == ["a@example.com"]
    parsed = parse_address_list(item for item in ["g@example.com"])
    assert [addr.address for addr in parsed] == ["g@example.com"]
    assert parse_address_list([]) == []


def test_parse_address_list_splits_commas():
    parsed = parse_address_list(["a@example.com, Bee <b@example.com>", "c@example.com"])
    assert [addr.address for addr in parsed] == [
        "a@example.com",
        "Bee <b@example.com>",
        "c@example.com",
    ]


def test_parse_address_list_never_merges_items():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list(['"Smith', 'John" <j@example.com>'])
    assert str(excinfo.value).startswith("Invalid email address 'Smith' parsed from ")


def test_parse_address_list_none():
    assert parse_address_list(None) == []
    assert parse_address_list([None]) == []


def test_parse_address_list_lazy():
    parsed = parse_address_list(gettext_lazy("Lazy <lazy@example.com>"))
    assert parsed == [EmailAddress("Lazy", "lazy@example.com")]
    assert type(parsed[0].display_name) is str
    parsed = parse_address_list([gettext_lazy("x@example.com"), "y@example.com"])
    assert [addr.addr_spec for addr in parsed] == ["x@example.com", "y@example.com"]


def test_parse_address_list_unicode():
    parsed = parse_address_list(
        ["відправник@example.com", "Juan Lopéz <j@éxample.com>"]
    )
    assert parsed[0].addr_spec == "відправник@example.com"
    assert parsed[0].uses_eai is True
    assert parsed[1].display_name == "Juan Lopéz"
    assert parsed[1].domain == "éxample.com"


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "localonly",
        "localonly@",
        "@domainonly",
        "<localonly@>",
        "<@domainonly>",
        "webmaster",
        "✉",
        '"Display Name"',
    ],
)
def test_parse_address_list_rejects(value):
    with pytest.raises(AnymailInvalidAddress):
        parse_address_list([value])
    with pytest.raises(AnymailInvalidAddress):
        parse_single_address(value)


@pytest.mark.parametrize(
    "value, reported",
    [
        ("", "''"),
        (" ", "''"),
        ("localonly", "'localonly'"),
        ("localonly@", "''"),
        ("@domainonly", "'@domainonly'"),
        ("<localonly@>", "''"),
        ("<@domainonly>", "''"),
        ('"Display Name"', "'Display Name'"),
    ],
)
def test_parse_address_list_error_text(value, reported):
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list([value], field="to")
    lines = str(excinfo.value).split("\n")
    assert lines[0] == f"Invalid email address {reported} in `to` parsed from {value!r}"
    assert lines[1] == (
        f"anymail.exceptions.AnymailInvalidAddress: Invalid email address {reported}"
    )
    assert len(lines) == 3
    assert isinstance(excinfo.value.__cause__, AnymailInvalidAddress)


def test_parse_address_list_error_chain():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list(["webmaster"], field="to")
    assert str(excinfo.value) == (
        "Invalid email address 'webmaster' in `to` parsed from 'webmaster'\n"
        "anymail.exceptions.AnymailInvalidAddress: Invalid email address 'webmaster'\n"
        "email.errors.InvalidHeaderDefect: addr-spec local part with no domain"
    )
    err = excinfo.value
    assert isinstance(err, AnymailError)
    assert isinstance(err, ValueError)
    assert err.args == (
        "Invalid email address 'webmaster' in `to` parsed from 'webmaster'",
    )


def test_parse_address_list_error_without_field():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list("")
    assert str(excinfo.value).split("\n")[0] == (
        "Invalid email address '' parsed from ''"
    )


def test_parse_address_list_error_from_email_field():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list([""], field="from_email")
    assert str(excinfo.value).split("\n")[0] == (
        "Invalid email address '' in `from_email` parsed from ''"
    )


def test_parse_address_list_error_non_ascii():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list("✉", field="to")
    assert str(excinfo.value) == (
        "Invalid email address '✉': missing @domain part in `to` parsed from '✉'\n"
        "anymail.exceptions.AnymailInvalidAddress: "
        "Invalid email address '✉': missing @domain part"
    )


def test_parse_address_list_maybe_missing_quotes():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list(["ok@example.com, oops"], field="to")
    assert str(excinfo.value).split("\n")[0] == (
        "Invalid email address 'oops' in `to` parsed from 'ok@example.com, oops'"
        " (maybe missing quotes around a display-name?)"
    )
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list("Mail, Inc. <mail@example.com>")
    assert str(excinfo.value).split("\n")[0] == (
        "Invalid email address 'Mail' parsed from 'Mail, Inc. <mail@example.com>'"
        " (maybe missing quotes around a display-name?)"
    )


def test_parse_address_list_error_uses_repr():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list(["O'Brien, x <a@b.com>"], field="to")
    assert str(excinfo.value).split("\n")[0] == (
        'Invalid email address "O\'Brien" in `to` parsed from '
        '"O\'Brien, x <a@b.com>" (maybe missing quotes around a display-name?)'
    )


def test_parse_address_list_error_joins_inputs():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list(["ok@example.com", "bad"], field="cc")
    # (no "maybe missing quotes" hint: no input string contains a comma)
    assert str(excinfo.value).split("\n")[0] == (
        "Invalid email address 'bad' in `cc` parsed from 'ok@example.com, bad'"
    )
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list(["ok@example.com", "", "x@example.com"])
    assert str(excinfo.value).split("\n")[0] == (
        "Invalid email address '' parsed from 'ok@example.com, , x@example.com'"
    )
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list(["a@example.com, b@example.com", "bad"])
    assert str(excinfo.value).split("\n")[0] == (
        "Invalid email address 'bad' parsed from 'a@example.com, b@example.com, bad'"
        " (maybe missing quotes around a display-name?)"
    )


def test_parse_single_address():
    addr = parse_single_address("Name <name@example.com>")
    assert addr == EmailAddress("Name", "name@example.com")
    assert isinstance(addr, EmailAddress)
    assert parse_single_address(gettext_lazy("lazy@example.com")).addr_spec == (
        "lazy@example.com"
    )
    assert parse_single_address('"Smith, John" <j@example.com>').display_name == (
        "Smith, John"
    )


def test_parse_single_address_invalid():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_single_address(" ")
    assert (
        str(excinfo.value).split("\n")[0] == "Invalid email address '' parsed from ' '"
    )
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_single_address("bad", field="envelope_sender")
    assert str(excinfo.value).split("\n")[0] == (
        "Invalid email address 'bad' in `envelope_sender` parsed from 'bad'"
    )


def test_parse_single_address_multiple():
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_single_address(
            "one@example.com, two@example.com", field="envelope_sender"
        )
    assert str(excinfo.value) == (
        "Only one email address is allowed; found 2 in "
        "'one@example.com, two@example.com' in `envelope_sender`."
    )
    assert excinfo.value.__cause__ is None
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_single_address("a@example.com, b@example.com, c@example.com")
    assert str(excinfo.value) == (
        "Only one email address is allowed; found 3 in "
        "'a@example.com, b@example.com, c@example.com'."
    )


# ---------------------------------------------------------------------------
# get_anymail_setting


def test_setting_from_kwargs_is_consumed():
    kwargs = {"api_key": "from-kwargs", "other": 1}
    with override_settings(
        ANYMAIL={"MAILGUN_API_KEY": "from-dict"},
        ANYMAIL_MAILGUN_API_KEY="from-flat",
        MAILGUN_API_KEY="from-bare",
    ):
        value = get_anymail_setting(
            "api_key", esp_name="Mailgun", kwargs=kwargs, allow_bare=True
        )
    assert value == "from-kwargs"
    assert kwargs == {"other": 1}


def test_setting_kwargs_lookup_by_presence():
    for falsy in (None, "", False, 0):
        kwargs = {"api_key": falsy}
        with override_settings(ANYMAIL={"MAILGUN_API_KEY": "from-dict"}):
            value = get_anymail_setting("api_key", esp_name="Mailgun", kwargs=kwargs)
        assert value is falsy
        assert kwargs == {}


@pytest.mark.parametrize("name", ["username", "password"])
def test_setting_username_password_none_kwarg_ignored(name):
    kwargs = {name: None, "alias": "default"}
    with override_settings(ANYMAIL={f"POSTAL_{name.upper()}": "from-dict"}):
        value = get_anymail_setting(name, esp_name="Postal", kwargs=kwargs)
    assert value == "from-dict"
    assert kwargs == {"alias": "default"}
    # but a non-None value still wins
    kwargs = {name: "from-kwargs"}
    with override_settings(ANYMAIL={f"POSTAL_{name.upper()}": "from-dict"}):
        value = get_anymail_setting(name, esp_name="Postal", kwargs=kwargs)
    assert value == "from-kwargs"
    assert kwargs == {}


def test_setting_username_none_kwarg_falls_back_to_default():
    kwargs = {"username": None}
    assert get_anymail_setting("username", default="dflt", kwargs=kwargs) == "dflt"
    assert kwargs == {}


def test_setting_from_anymail_dict_before_flat():
    with override_settings(
        ANYMAIL={"MAILGUN_API_KEY": "from-dict"}, ANYMAIL_MAILGUN_API_KEY="from-flat"
    ):
        assert get_anymail_setting("api_key", esp_name="Mailgun") == "from-dict"
        assert get_anymail_setting("api_key", esp_name="Mailgun", kwargs={}) == (
            "from-dict"
        )


def test_setting_from_flat():
    with override_settings(
        ANYMAIL={"OTHER": 1}, ANYMAIL_MAILGUN_API_KEY="from-flat", MAILGUN_API_KEY="b"
    ):
        assert get_anymail_setting("api_key", esp_name="Mailgun") == "from-flat"
        assert get_anymail_setting("api_key", esp_name="Mailgun", allow_bare=True) == (
            "from-flat"
        )


def test_setting_bare_only_if_allowed():
    with override_settings(MAILGUN_API_KEY="from-bare"):
        assert get_anymail_setting("api_key", esp_name="Mailgun", allow_bare=True) == (
            "from-bare"
        )
        with pytest.raises(AnymailConfigurationError):
            get_anymail_setting("api_key", esp_name="Mailgun")
        assert get_anymail_setting("api_key", esp_name="Mailgun", default="d") == "d"


def test_setting_presence_not_truthiness():
    with override_settings(ANYMAIL={"MAILGUN_API_KEY": None}):
        assert get_anymail_setting("api_key", esp_name="Mailgun", default="d") is None
    with override_settings(
        ANYMAIL={"MAILGUN_API_KEY": ""}, ANYMAIL_MAILGUN_API_KEY="x"
    ):
        assert get_anymail_setting("api_key", esp_name="Mailgun") == ""
    with override_settings(ANYMAIL_MAILGUN_API_KEY=None, MAILGUN_API_KEY="bare"):
        assert (
            get_anymail_setting("api_key", esp_name="Mailgun", allow_bare=True) is None
        )
    with override_settings(MAILGUN_API_KEY=None):
        assert (
            get_anymail_setting(
                "api_key", esp_name="Mailgun", allow_bare=True, default="d"
            )
            is None
        )


def test_setting_default():
    assert get_anymail_setting("api_key", esp_name="Mailgun", default="d") == "d"
    assert get_anymail_setting("api_key", esp_name="Mailgun", default=None) is None
    assert get_anymail_setting("ignore_recipient_status", default=False) is False


def test_setting_name_without_esp():
    with override_settings(ANYMAIL={"SEND_DEFAULTS": {"tags": ["x"]}}):
        assert get_anymail_setting("send_defaults") == {"tags": ["x"]}
    with override_settings(ANYMAIL_IDNA_ENCODER="idna2003"):
        assert get_anymail_setting("idna_encoder") == "idna2003"


def test_setting_esp_name_with_space():
    with override_settings(ANYMAIL={"AMAZON_SES_CLIENT_PARAMS": {"region": "x"}}):
        assert get_anymail_setting("client_params", esp_name="Amazon SES") == {
            "region": "x"
        }
    with override_settings(ANYMAIL_UNISENDER_GO_API_KEY="key"):
        assert get_anymail_setting("api_key", esp_name="Unisender Go") == "key"


def test_setting_other_kwargs_untouched():
    kwargs = {"other": "x", "alias": "default"}
    with override_settings(ANYMAIL={"MAILGUN_API_KEY": "from-dict"}):
        assert get_anymail_setting("api_key", esp_name="Mailgun", kwargs=kwargs) == (
            "from-dict"
        )
    assert kwargs == {"other": "x", "alias": "default"}


def test_setting_missing_error():
    with pytest.raises(AnymailConfigurationError) as excinfo:
        get_anymail_setting("api_key", esp_name="Mailgun", kwargs={"other": 1})
    err = excinfo.value
    assert str(err) == (
        "You must set ANYMAIL = {'MAILGUN_API_KEY': ...} or ANYMAIL_MAILGUN_API_KEY"
        " in your Django settings"
    )
    assert not isinstance(err, AnymailError)
    assert not isinstance(err, AnymailInvalidMailer)


def test_setting_missing_error_allow_bare():
    with pytest.raises(AnymailConfigurationError) as excinfo:
        get_anymail_setting("api_key", esp_name="Mailgun", allow_bare=True)
    assert str(excinfo.value) == (
        "You must set ANYMAIL = {'MAILGUN_API_KEY': ...} or ANYMAIL_MAILGUN_API_KEY"
        " or MAILGUN_API_KEY in your Django settings"
    )


def test_setting_missing_error_without_esp():
    with pytest.raises(AnymailConfigurationError) as excinfo:
        get_anymail_setting("sample_setting")
    assert str(excinfo.value) == (
        "You must set ANYMAIL = {'SAMPLE_SETTING': ...} or ANYMAIL_SAMPLE_SETTING"
        " in your Django settings"
    )


def test_missing_setting_error():
    err = missing_setting_error("ESP_WEBHOOK_KEY")
    assert isinstance(err, AnymailConfigurationError)
    assert str(err) == (
        "You must set ANYMAIL = {'ESP_WEBHOOK_KEY': ...} or ANYMAIL_ESP_WEBHOOK_KEY"
        " in your Django settings"
    )
    assert str(missing_setting_error("ESP_WEBHOOK_KEY", allow_bare=True)) == (
        "You must set ANYMAIL = {'ESP_WEBHOOK_KEY': ...} or ANYMAIL_ESP_WEBHOOK_KEY"
        " or ESP_WEBHOOK_KEY in your Django settings"
    )


def test_setting_missing_with_alias_raises_invalid_mailer():
    kwargs = {"alias": "default", "other": 1}
    with pytest.raises(AnymailInvalidMailer) as excinfo:
        get_anymail_setting("sample_setting", esp_name="Test", kwargs=kwargs)
    err = excinfo.value
    assert isinstance(err, AnymailConfigurationError)
    if DjangoInvalidMailer is not None:
        assert isinstance(err, DjangoInvalidMailer)
        assert str(err) == "MAILERS['default']: OPTIONS must define 'sample_setting'"
    else:
        assert str(err) == "OPTIONS must define 'sample_setting'"
    assert kwargs == {"alias": "default", "other": 1}


def test_setting_with_alias_found_or_default():
    kwargs = {"alias": "default"}
    with override_settings(ANYMAIL={"TEST_SAMPLE_SETTING": "found"}):
        assert get_anymail_setting(
            "sample_setting", esp_name="Test", kwargs=kwargs
        ) == ("found")
    assert (
        get_anymail_setting("x", esp_name="Test", kwargs=kwargs, default=None) is None
    )


# ---------------------------------------------------------------------------
# CaseInsensitiveCasePreservingDict


def test_case_insensitive_case_preserving_dict():
    headers = CaseInsensitiveCasePreservingDict()
    headers["Accept"] = "a"
    headers["accEPT"] = "b"
    assert list(headers.keys()) == ["Accept"]
    assert headers["ACCEPT"] == "b"
    assert headers["accept"] == "b"
    assert dict(headers) == {"Accept": "b"}
    assert "aCcEpT" in headers
    assert len(headers) == 1


def test_case_insensitive_case_preserving_dict_init_and_delete():
    headers = CaseInsensitiveCasePreservingDict({"X-One": "1", "x-ONE": "2"})
    assert list(headers.items()) == [("X-One", "2")]
    del headers["X-ONE"]
    assert len(headers) == 0
    headers["x-one"] = "3"
    assert list(headers.items()) == [("x-one", "3")]


def test_case_insensitive_case_preserving_dict_copy():
    headers = CaseInsensitiveCasePreservingDict({"Reply-To": "a", "X-Tag": "t"})
    dup = headers.copy()
    assert type(dup) is CaseInsensitiveCasePreservingDict
    assert list(dup.items()) == [("Reply-To", "a"), ("X-Tag", "t")]
    dup["REPLY-TO"] = "changed"
    assert headers["reply-to"] == "a"
    assert list(dup.items()) == [("Reply-To", "changed"), ("X-Tag", "t")]
    assert dup == {"reply-to": "changed", "x-tag": "t"}


# ---------------------------------------------------------------------------
# Request helpers


def test_querydict_getfirst():
    qdict = QueryDict("a=one&a=two&b=&c=three")
    assert querydict_getfirst(qdict, "a") == "one"
    assert querydict_getfirst(qdict, "b") == ""
    assert querydict_getfirst(qdict, "c") == "three"
    assert querydict_getfirst(qdict, "missing", "dflt") == "dflt"
    assert querydict_getfirst(qdict, "missing", default=None) is None
    with pytest.raises(KeyError) as excinfo:
        querydict_getfirst(qdict, "missing_field")
    assert "missing_field" in str(excinfo.value)


def test_querydict_getfirst_as_bound_method():
    qdict = QueryDict("a=one&a=two")
    qdict.getfirst = querydict_getfirst.__get__(qdict)
    assert qdict.getfirst("a") == "one"
    assert qdict.getfirst("b", None) is None
    with pytest.raises(KeyError):
        qdict.getfirst("b")


def basic_auth(credentials):
    if isinstance(credentials, str):
        credentials = credentials.encode("utf-8")
    return "Basic " + base64.b64encode(credentials).decode("ascii")


@pytest.mark.parametrize(
    "authorization, expected",
    [
        (basic_auth("user:pass"), "user:pass"),
        (basic_auth("user:pa:ss"), "user:pa:ss"),
        (basic_auth("üser:päss"), "üser:päss"),
        ("basic " + base64.b64encode(b"u:p").decode(), "u:p"),
        ("BASIC " + base64.b64encode(b"u:p").decode(), "u:p"),
        ("Basic\t" + base64.b64encode(b"u:p").decode(), "u:p"),
        ("Basic  " + base64.b64encode(b"u:p").decode(), "u:p"),
        ("Bearer abcde12345", None),
        ("Basic", None),
        ("Basic ", None),
        ("Basic not!base64", None),
        ("Basic " + base64.b64encode(b"u:p").decode() + " extra", None),
        (basic_auth(b"\xff\xfe:pass"), None),
        ("", None),
    ],
)
def test_get_request_basic_auth(authorization, expected):
    request = RequestFactory().post("/path/", HTTP_AUTHORIZATION=authorization)
    assert get_request_basic_auth(request) == expected


def test_get_request_basic_auth_missing():
    request = RequestFactory().post("/path/")
    assert get_request_basic_auth(request) is None


@override_settings(ALLOWED_HOSTS=["www.example.com"])
def test_get_request_uri():
    factory = RequestFactory()
    request = factory.post("/path/to/?query", HTTP_HOST="www.example.com")
    assert get_request_uri(request) == "http://www.example.com/path/to/?query"
    request = factory.post(
        "/path/to/?query",
        HTTP_HOST="www.example.com",
        HTTP_AUTHORIZATION=basic_auth("user:pass"),
    )
    assert get_request_uri(request) == "http://user:pass@www.example.com/path/to/?query"


@override_settings(
    ALLOWED_HOSTS=["www.example.com"],
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    USE_X_FORWARDED_HOST=True,
)
def test_get_request_uri_behind_proxy():
    request = RequestFactory().post(
        "/path/to/?query",
        HTTP_HOST="internal-host",
        HTTP_X_FORWARDED_HOST="www.example.com",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_AUTHORIZATION=basic_auth("user:pass"),
    )
    assert get_request_uri(request) == (
        "https://user:pass@www.example.com/path/to/?query"
    )


# ---------------------------------------------------------------------------
# collect_all_methods


def test_collect_all_methods():
    class Base:
        def validate(self):
            pass

    class Mixin:
        def validate(self):
            pass

    class Plain(Base):
        pass

    class Child(Mixin, Plain):
        def validate(self):
            pass

    class Unrelated:
        pass

    assert collect_all_methods(Child, "validate") == [
        Child.__dict__["validate"],
        Mixin.__dict__["validate"],
        Base.__dict__["validate"],
    ]
    assert collect_all_methods(Plain, "validate") == [Base.__dict__["validate"]]
    assert collect_all_methods(Unrelated, "validate") == []


def test_collect_all_methods_deduplicates():
    def shared(self):
        pass

    class A:
        validate = shared

    class B(A):
        validate = shared

    class C(B):
        pass

    assert collect_all_methods(C, "validate") == [shared]


# parse_address_list's fast path for simple addresses must give exactly what the
# full (stdlib) parse gives
FAST_PATH_INPUTS = [
    "alice@example.com",
    "Alice <alice@example.com>",
    "Alice Smith <alice.smith+tag@mail.example.com>",
    "A1 B2 C3 <a_b-c@x-y.example>",
    "user@localhost",
    "a@-x.com",
    "UPPER@EXAMPLE.COM",
    "Alice  Smith <alice@example.com>",
    " alice@example.com",
    "alice@example.com ",
    "<alice@example.com>",
    "Alice<alice@example.com>",
    "Alice <alice@example.com",
    "alice@example.com>",
    '"Smith, Alice" <alice@example.com>',
    "Alice (comment) <alice@example.com>",
    "alice..x@example.com",
    ".alice@example.com",
    "alice.@example.com",
    "alice@example..com",
    "alice@example.com.",
    "alice@[127.0.0.1]",
    "alice@ex_ample.com",
    "alice@example.com, bob@example.com",
    "Jos\u00e9 <jose@example.com>",
    "jos\u00e9@example.com",
    "a!#$%&'*/=?^`{|}~@example.com",
    "=?utf-8?q?Alice?= <alice@example.com>",
    "Alice.Smith <alice@example.com>",
    "alice@example.com\n",
]


def _slow_parse(item):
    pairs = utils._getaddresses([item]) or [("", "")]
    return [utils.EmailAddress(name, addr) for name, addr in pairs]


@pytest.mark.parametrize("item", FAST_PATH_INPUTS)
def test_parse_address_fast_path_matches_full_parse(item):
    try:
        expected = _slow_parse(item)
    except AnymailInvalidAddress:
        with pytest.raises(AnymailInvalidAddress):
            utils._parse_address_item(item)
        return
    actual = list(utils._parse_address_item(item))
    assert actual == expected
    assert [a.address for a in actual] == [a.address for a in expected]
    assert [(a.display_name, a.username, a.domain, a.addr_spec) for a in actual] == [
        (a.display_name, a.username, a.domain, a.addr_spec) for a in expected
    ]


@pytest.mark.parametrize(
    "item", ["alice@example.com", "Alice Smith <alice.smith+tag@mail.example.com>"]
)
def test_parse_address_fast_path_used(item):
    with mock.patch.object(utils, "_getaddresses") as slow:
        utils._parse_address_item(item)
    slow.assert_not_called()


@pytest.mark.parametrize(
    "value",
    [
        "a@example.com, Bob Example <bob@example.com>",
        "a@example.com,b@example.com",
        " a@example.com ,  c@example.com ",
        "a@example.com,,b@example.com",
        "Bob <bob@example.com>, Group: c@example.com;",
    ],
)
def test_comma_list_fast_path_matches_full_parse(value):
    from anymail import utils

    def parse(value):
        try:
            return [
                (e.display_name, e.addr_spec) for e in utils.parse_address_list(value)
            ]
        except utils.AnymailInvalidAddress:
            return "invalid"

    fast = parse(value)
    utils._parse_address_item.cache_clear()
    with mock.patch.object(utils, "_simple_addresses", return_value=None) as patched:
        full = parse(value)
    utils._parse_address_item.cache_clear()
    assert patched.called
    assert fast == full


# ---------------------------------------------------------------------------
# Header unfolding


@pytest.mark.parametrize(
    "value, expected",
    [
        ("no breaks", "no breaks"),
        ("folded\r\n line", "folded line"),
        ("folded\n\ttab", "folded\ttab"),
        ("lone CR\r fold", "lone CR fold"),
        ("innocent\r\nBcc: spy@example.net", "innocent Bcc: spy@example.net"),
        ("a\rb\nc\r\nd", "a b c d"),
        ("trailing\r\n", "trailing "),
    ],
)
def test_unfold_header_value(value, expected):
    assert unfold_header_value(value) == expected


# ---------------------------------------------------------------------------
# Streaming chunks

MIME_TEXT = "Subject: Zoë ✓ 😀\r\n\r\n" + "Body line ✓\r\n" * 50


def base64_lines(data, width=60):
    """Base64 wrapped in lines, as ESPs send it."""
    encoded = base64.b64encode(data).decode("ascii")
    return "".join(encoded[i : i + width] + "\n" for i in range(0, len(encoded), width))


@pytest.mark.parametrize("size", [1, 2, 5, 64, DEFAULT_DOWNLOAD_CHUNK_SIZE])
def test_utf8_encoded_chunks(size):
    chunks = list(utf8_encoded_chunks(MIME_TEXT, size))
    assert b"".join(chunks) == MIME_TEXT.encode("utf-8")
    assert all(len(chunk.decode("utf-8")) <= size for chunk in chunks)


def test_utf8_encoded_chunks_pass_lone_surrogates():
    assert b"".join(utf8_encoded_chunks("a\ud800b", 2)) == b"a\xed\xa0\x80b"
    assert list(utf8_encoded_chunks("")) == []


def test_utf8_encoded_chunks_errors():
    chunks = utf8_encoded_chunks("a\ud800b\u00e9", 2, errors="replace")
    assert b"".join(chunks) == b"a?b\xc3\xa9"


@pytest.mark.parametrize("size", [1, 3, 4, 5, 7, 61, 64, 1000])
def test_base64_decoded_chunks_match_whole_decode(size):
    data = MIME_TEXT.encode("utf-8")
    text = base64_lines(data)
    chunks = list(base64_decoded_chunks(text, size))
    assert b"".join(chunks) == base64.b64decode(text) == data
    assert all(chunks)
    if size < len(text):
        assert len(chunks) > 1


@pytest.mark.parametrize(
    "text",
    [
        "QUJD",
        "QUI=",
        "QQ==\n",
        "QQ==QUJD",  # data after padding: b64decode stops at the padding
        "QUJD=QUJD",
        "Q U J D",
        "",
        "==",
    ],
)
def test_base64_decoded_chunks_odd_padding_like_b64decode(text):
    assert b"".join(base64_decoded_chunks(text, 4)) == base64.b64decode(text)


@pytest.mark.parametrize("text", ["QUJDRA", "Q", "QUJDR", "QQ=QUJD"])
def test_base64_decoded_chunks_bad_padding(text):
    with pytest.raises(ValueError):
        b"".join(base64_decoded_chunks(text, 4))


def test_parse_address_list_error_names_every_item_of_an_iterator():
    items = iter(["ok@example.com", "not an address", "other@example.com"])
    with pytest.raises(AnymailInvalidAddress) as excinfo:
        parse_address_list(items, field="to")
    assert "parsed from 'ok@example.com, not an address, other@example.com'" in str(
        excinfo.value
    )
