"""Tests for the built-in IDNA encoders in anymail._idna (core-sending §2.6)."""

import importlib.util
import sys
import types

import pytest

from anymail import _idna
from anymail._idna import idna2003, idna2008, none, uts46
from anymail.exceptions import AnymailConfigurationError, AnymailImproperlyInstalled

DHIVEHI = (
    "idna2008.\u0789\u07a8\u0790\u07a7\u078d\u07aa.example"  # idna2008.މިސާލު.example
)

UTS46_MISSING_TEXT = (
    'The uts46 package isn\'t installed but is needed for IDNA_ENCODER="uts46".\n'
    '(Be sure to use `pip install "django-anymail[<your-esp>,uts46]"`.)'
)


def test_builtin_names():
    for name in ("idna2003", "idna2008", "uts46", "none"):
        assert callable(getattr(_idna, name))


@pytest.mark.parametrize(
    "domain, expected",
    [
        ("faß.example", "xn--fa-hia.example"),
        (DHIVEHI, "idna2008.xn--qqbii6gdp.example"),
        ("exämple.com", "xn--exmple-cua.com"),
        ("EXÄMPLE.com", "xn--exmple-cua.com"),  # UTS46 mapping lowercases
        ("example.com", "example.com"),
    ],
)
def test_idna2008(domain, expected):
    result = idna2008(domain)
    assert result == expected
    assert type(result) is str


@pytest.mark.parametrize("domain", ["✉.example", "✉ß.example"])
def test_idna2008_rejects_emoji(domain):
    with pytest.raises(ValueError):
        idna2008(domain)


@pytest.mark.parametrize(
    "domain, expected",
    [
        ("faß.example", "fass.example"),
        ("✉.example", "xn--4bi.example"),
        ("✉ß.example", "xn--ss-ufy.example"),
        ("exämple.com", "xn--exmple-cua.com"),
        ("example.com", "example.com"),
    ],
)
def test_idna2003(domain, expected):
    result = idna2003(domain)
    assert result == expected
    assert type(result) is str


def test_idna2003_rejects_idna2008_only_names():
    with pytest.raises(ValueError):
        idna2003(DHIVEHI)


@pytest.mark.parametrize("domain", ["faß.example", "✉.example", DHIVEHI, "a.example"])
def test_none(domain):
    assert none(domain) == domain


@pytest.mark.parametrize(
    "domain, expected",
    [
        ("faß.example", "xn--fa-hia.example"),
        ("✉.example", "xn--4bi.example"),
        ("✉ß.example", "xn--zca356q.example"),
        ("example.com", "example.com"),
    ],
)
def test_uts46_installed(domain, expected):
    result = uts46(domain)
    assert result == expected
    assert type(result) is str


def test_uts46_installed_rejects_invalid():
    with pytest.raises(ValueError):
        uts46("a..example")


def load_idna_module():
    """A fresh, private copy of anymail._idna (not registered in sys.modules)."""
    spec = importlib.util.find_spec("anymail._idna")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_uts46_missing_fails_only_at_use(monkeypatch):
    monkeypatch.setitem(sys.modules, "uts46", None)  # makes `import uts46` fail
    module = load_idna_module()  # importing succeeds
    with pytest.raises(AnymailImproperlyInstalled) as excinfo:
        module.uts46("faß.example")
    err = excinfo.value
    assert str(err) == UTS46_MISSING_TEXT
    assert isinstance(err, AnymailConfigurationError)
    assert isinstance(err, ImportError)
    # not a ValueError, so an encode-error wrapper won't swallow it
    assert not isinstance(err, ValueError)
    # the other encoders are unaffected
    assert module.idna2008("faß.example") == "xn--fa-hia.example"


def test_uts46_uses_package_encode(monkeypatch):
    calls = []

    def encode(domain):
        calls.append(domain)
        return b"xn--encoded.example"

    fake = types.ModuleType("uts46")
    fake.encode = encode
    monkeypatch.setitem(sys.modules, "uts46", fake)
    module = load_idna_module()
    result = module.uts46("ënçoded.example")
    assert result == "xn--encoded.example"
    assert type(result) is str
    assert calls == ["ënçoded.example"]
