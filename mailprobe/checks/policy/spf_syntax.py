"""SPF record syntax (RFC 7208 §4.5, §4.6, §5, §6, §7): parsing without any DNS.

``parse_spf`` turns record text into an ``SpfRecord`` and never raises: every problem is an
error text on the term (or on the record), because a receiver meeting any syntax error
returns permerror for the whole record (§4.6), and the user needs to see which term it was.
Macro expansion (§7) lives here too, as it is pure text work.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import urllib.parse

from mailprobe.checks.policy._text import shown
from mailprobe.text import is_digits

#: Mechanisms and modifiers that make a receiver query the DNS (§4.6.4): limited to 10.
LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})
MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
LOOKUP_LIMIT = 10
VOID_LOOKUP_LIMIT = 2

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9\-_.]*")
_CIDR_SUFFIX = re.compile(r"(?P<spec>.*?)(?:/(?P<c4>[0-9]+))?(?://(?P<c6>[0-9]+))?", re.S)
_CIDR_NUMBER = re.compile(r"0|[1-9][0-9]{0,2}")
_TOPLABEL = re.compile(
    r"(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])", re.A
)
_DOMAIN_MACRO_LETTERS = frozenset("slodiphv")
_EXP_MACRO_LETTERS = frozenset("slodiphvcrt")
_DELIMITERS = frozenset(".-+,/_=")


@dataclasses.dataclass(frozen=True)
class SpfTerm:
    """One term of an SPF record, as written and as understood.

    ``kind`` is ``mechanism`` or ``modifier``; ``name`` is the lower-cased mechanism or
    modifier name; ``qualifier`` one of ``+ - ~ ?`` (``+`` when omitted; empty for
    modifiers); ``value`` the domain-spec or network after ``:``/``=`` (empty when absent);
    ``cidr4``/``cidr6`` the prefix lengths given; ``error`` empty when the term is valid.
    """

    text: str
    kind: str
    name: str
    qualifier: str = ""
    value: str = ""
    cidr4: int | None = None
    cidr6: int | None = None
    error: str = ""

    @property
    def counts_lookup(self) -> bool:
        """True for terms that cost one of the 10 DNS lookups."""
        return self.name in LOOKUP_TERMS and not self.error

    @property
    def has_macro(self) -> bool:
        """True when the value contains a macro (its target depends on the message)."""
        return "%" in self.value


@dataclasses.dataclass(frozen=True)
class SpfRecord:
    """A parsed SPF record: its text, its terms in order, and record-level errors."""

    text: str
    terms: tuple[SpfTerm, ...]
    errors: tuple[str, ...]

    @property
    def valid(self) -> bool:
        """True when a receiver would evaluate the record (no syntax error anywhere)."""
        return not self.errors and not any(t.error for t in self.terms)

    @property
    def all_errors(self) -> tuple[str, ...]:
        """Record-level errors followed by every term error, each naming its term."""
        return self.errors + tuple(
            f"{shown(t.text, 60, quote=False)}: {t.error}" for t in self.terms if t.error
        )

    @property
    def mechanisms(self) -> tuple[SpfTerm, ...]:
        return tuple(t for t in self.terms if t.kind == "mechanism")

    def modifier(self, name: str) -> SpfTerm | None:
        """The first modifier called ``name`` (``redirect``, ``exp``), if any."""
        return next((t for t in self.terms if t.kind == "modifier" and t.name == name), None)

    @property
    def all_term(self) -> SpfTerm | None:
        """The first ``all`` mechanism: evaluation never goes past it."""
        return next((t for t in self.terms if t.kind == "mechanism" and t.name == "all"), None)

    @property
    def lookup_terms(self) -> tuple[SpfTerm, ...]:
        """Terms of this record (not of includes) that cost a DNS lookup."""
        return tuple(t for t in self.terms if t.counts_lookup)


def is_spf_record(text: str) -> bool:
    """True when a TXT string is an SPF version 1 record: ``v=spf1`` then a space or the end
    (§4.5; compared without regard to case, as ABNF literals are)."""
    return text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " ")


def parse_spf(text: str) -> SpfRecord:
    """Parse SPF record text; never raises. Errors are reported on the record or its terms."""
    if not is_spf_record(text):
        return SpfRecord(text, (), (f"not an SPF record (must start with v=spf1): {shown(text)}",))
    terms = tuple(_parse_term(raw) for raw in text[6:].split(" ") if raw)
    errors: list[str] = []
    for name in ("redirect", "exp"):
        if sum(1 for t in terms if t.kind == "modifier" and t.name == name) > 1:
            errors.append(f"the {name} modifier appears more than once (RFC 7208 §6)")
    return SpfRecord(text, terms, tuple(errors))


def _parse_term(raw: str) -> SpfTerm:
    bad = next((ch for ch in raw if not 0x21 <= ord(ch) <= 0x7E), None)
    if bad is not None:
        return SpfTerm(raw, "mechanism", "", error=f"invalid character U+{ord(bad):04X}")
    qualifier = ""
    body = raw
    if body[0] in QUALIFIERS:
        qualifier, body = body[0], body[1:]
    match = _NAME.match(body)
    if match is None:
        return SpfTerm(raw, "mechanism", "", qualifier or "+", error="not a mechanism or modifier")
    name, rest = match.group(0).lower(), body[match.end() :]
    if rest.startswith("=") and not qualifier:
        return _parse_modifier(raw, name, rest[1:])
    if name not in MECHANISMS:
        return SpfTerm(raw, "mechanism", name, qualifier or "+", error="unknown mechanism")
    return _parse_mechanism(raw, name, qualifier or "+", rest)


def _parse_modifier(raw: str, name: str, value: str) -> SpfTerm:
    if name in ("redirect", "exp"):
        error = domain_spec_error(value)
    else:
        error = macro_string_error(value, _DOMAIN_MACRO_LETTERS)
    return SpfTerm(raw, "modifier", name, "", value, error=error)


def _parse_mechanism(raw: str, name: str, qualifier: str, rest: str) -> SpfTerm:
    term = SpfTerm(raw, "mechanism", name, qualifier)
    if name == "all":
        return term if not rest else dataclasses.replace(term, error="all takes no argument")
    if name in ("include", "exists"):
        if not rest.startswith(":") or len(rest) == 1:
            return dataclasses.replace(
                term, error=f"{name} needs a domain (e.g. {name}:example.org)"
            )
        value = rest[1:]
        return dataclasses.replace(term, value=value, error=domain_spec_error(value))
    if name == "ptr":
        if not rest:
            return term
        if not rest.startswith(":") or len(rest) == 1:
            return dataclasses.replace(term, error="ptr takes an optional :domain")
        value = rest[1:]
        return dataclasses.replace(term, value=value, error=domain_spec_error(value))
    if name in ("ip4", "ip6"):
        return _parse_ip(term, rest)
    # a and mx: [":" domain-spec] [ip4-cidr] ["//" ip6-cidr]
    match = _CIDR_SUFFIX.fullmatch(rest)
    assert match is not None  # the pattern matches any text
    spec, c4, c6 = match.group("spec"), match.group("c4"), match.group("c6")
    error = ""
    cidr4 = cidr6 = None
    if c4 is not None:
        cidr4, error = _cidr(c4, 32)
    if c6 is not None and not error:
        cidr6, error = _cidr(c6, 128)
    value = ""
    if spec:
        if not spec.startswith(":") or len(spec) == 1:
            error = error or f"{name} takes an optional :domain and /prefix lengths"
        else:
            value = spec[1:]
            error = error or domain_spec_error(value)
    return dataclasses.replace(term, value=value, cidr4=cidr4, cidr6=cidr6, error=error)


def _parse_ip(term: SpfTerm, rest: str) -> SpfTerm:
    if not rest.startswith(":") or len(rest) == 1:
        return dataclasses.replace(term, error=f"{term.name} needs an address")
    network, slash, length = rest[1:].partition("/")
    limit = 32 if term.name == "ip4" else 128
    cidr: int | None = None
    error = ""
    if slash:
        cidr, error = _cidr(length, limit)
    try:
        if "%" in network:
            raise ValueError(network)
        address = ipaddress.ip_address(network)
    except ValueError:
        error = error or f"not an IPv{4 if limit == 32 else 6} address: {shown(network, 60)}"
    else:
        if address.version != (4 if limit == 32 else 6):
            error = error or f"{term.name} needs an IPv{4 if limit == 32 else 6} address"
    field = {"cidr4": cidr} if limit == 32 else {"cidr6": cidr}
    return dataclasses.replace(term, value=network, error=error, **field)  # type: ignore[arg-type]


def _cidr(text: str, limit: int) -> tuple[int | None, str]:
    if not _CIDR_NUMBER.fullmatch(text) or int(text) > limit:
        return (
            None,
            f"prefix length must be 0-{limit} without leading zeros: "
            f"/{shown(text, 20, quote=False)}",
        )
    return int(text), ""


def macro_string_error(text: str, letters: frozenset[str] = _DOMAIN_MACRO_LETTERS) -> str:
    """Empty when ``text`` is a valid macro-string (§7.1), else what is wrong."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "%":
            if not 0x21 <= ord(ch) <= 0x7E:
                return f"invalid character U+{ord(ch):04X}"
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in ("%", "_", "-"):
            i += 2
            continue
        if nxt != "{":
            return "a % must start a macro (%{x}, %%, %_ or %-)"
        end = text.find("}", i)
        if end < 0:
            return "unterminated macro (missing })"
        error = _macro_body_error(text[i + 2 : end], letters)
        if error:
            return error
        i = end + 1
    return ""


def _macro_body_error(body: str, letters: frozenset[str]) -> str:
    if not body or body[0].lower() not in letters:
        return f"unknown macro letter in %{{{shown(body, 20, quote=False)}}}"
    rest = body[1:]
    digits = 0
    while digits < len(rest) and is_digits(rest[digits]):
        digits += 1
    if digits and int(rest[:digits]) == 0:
        return "a macro cannot keep zero labels"
    rest = rest[digits:]
    if rest[:1] in ("r", "R"):
        rest = rest[1:]
    if any(ch not in _DELIMITERS for ch in rest):
        return f"bad macro transformer in %{{{shown(body, 20, quote=False)}}}"
    return ""


def domain_spec_error(value: str) -> str:
    """Empty when ``value`` is a valid domain-spec (§7.1): a macro-string ending in a macro
    or in ``.`` and a top label that is not all digits."""
    if not value:
        return "empty domain"
    error = macro_string_error(value)
    if error:
        return error
    if value.endswith("}") or value[-2:] in ("%%", "%_", "%-"):
        return ""
    literal = value[:-1] if value.endswith(".") else value
    _head, dot, top = literal.rpartition(".")
    if not dot or not top or not _TOPLABEL.fullmatch(top):
        return f"not a domain name: {shown(value, 60)}"
    if "%" not in value:  # without macros the name is final: it must be usable in the DNS
        labels = literal.split(".")
        if any(not label for label in labels):
            return f"empty label in {shown(value, 60)}"
        if any(len(label) > 63 for label in labels) or len(literal) > 253:
            return f"label over 63 or name over 253 characters: {shown(value, 60)}"
    return ""


# --- macro expansion (§7.3, §7.4) ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MacroContext:
    """The values macros expand to while evaluating one client address."""

    sender: str  # <sender>: local-part@domain
    domain: str  # <domain> currently being evaluated
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    helo: str

    def value(self, letter: str) -> str:
        local, _, sender_domain = self.sender.rpartition("@")
        if letter == "s":
            return self.sender
        if letter == "l":
            return local or "postmaster"
        if letter == "o":
            return sender_domain
        if letter == "d":
            return self.domain
        if letter == "i":
            if self.ip.version == 4:
                return str(self.ip)
            return ".".join(self.ip.exploded.replace(":", ""))
        if letter == "v":
            return "in-addr" if self.ip.version == 4 else "ip6"
        if letter == "h":
            return self.helo
        if letter == "c":
            return str(self.ip)
        if letter == "r":
            return "unknown"
        if letter == "t":
            return "0"
        return "unknown"  # p: a validated name needs a PTR walk; the RFC allows "unknown"


def expand_macros(text: str, context: MacroContext, *, domain: bool = True) -> str:
    """Expand the macros of a (valid) macro-string; with ``domain`` the result is cut from
    the left to at most 253 characters, as §7.3 asks for domain names."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "%":
            out.append("%")
        elif nxt == "_":
            out.append(" ")
        elif nxt == "-":
            out.append("%20")
        elif nxt == "{":
            end = text.find("}", i)
            if end < 0:
                break
            out.append(_expand_one(text[i + 2 : end], context))
            i = end + 1
            continue
        i += 2
    result = "".join(out)
    if domain:
        while len(result) > 253 and "." in result:
            result = result.split(".", 1)[1]
    return result


def _expand_one(body: str, context: MacroContext) -> str:
    if not body:
        return ""
    letter = body[0]
    value = context.value(letter.lower())
    rest = body[1:]
    digits = ""
    while is_digits(rest[:1]):
        digits, rest = digits + rest[0], rest[1:]
    reverse = rest[:1] in ("r", "R")
    if reverse:
        rest = rest[1:]
    delimiters = rest or "."
    parts = re.split("[" + re.escape(delimiters) + "]", value)
    if reverse:
        parts.reverse()
    if digits and int(digits) > 0:
        parts = parts[-int(digits) :]
    expanded = ".".join(parts)
    if letter.isupper():
        expanded = urllib.parse.quote(expanded, safe="")
    return expanded
