"""Expected EHLO verb sets, and advertised verbs compared with them (pure).

``load_profiles()``, ``get_profile(name)``, ``profile_from_verbs("A,B,C")``: expected sets from
``data/verb_profiles.toml``. ``compare_verbs(keywords, profile) -> VerbComparison`` and
``diagnose_verbs(...)``: missing and unexpected verbs, and the guide's "Exchange SMTP event
sinks not loaded" diagnosis.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from mailprobe.checks.ehlo.parse import verb_keyword
from mailprobe.errors import InputError, UsageError
from mailprobe.model import Finding, Severity
from mailprobe.text import has_control_chars

if TYPE_CHECKING:
    from mailprobe.config import Settings


@dataclasses.dataclass(frozen=True)
class VerbProfile:
    """An expected EHLO verb set (see ``data/verb_profiles.toml`` for the field meanings)."""

    name: str
    title: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    unexpected: Severity = Severity.INFO
    starttls: Literal["expected", "optional"] = "expected"
    sinks: tuple[str, ...] = ()
    hint: str = ""
    source: str = ""

    @property
    def required_keywords(self) -> tuple[str, ...]:
        """Distinct keywords of ``required``."""
        return tuple(dict.fromkeys(verb_keyword(v) for v in self.required))

    @property
    def optional_keywords(self) -> tuple[str, ...]:
        """Distinct keywords of ``optional``."""
        return tuple(dict.fromkeys(verb_keyword(v) for v in self.optional))


def _profile_from_table(
    name: str, table: dict[str, Any], seen: tuple[str, ...] = ()
) -> VerbProfile:
    raw = dict(table[name])
    like = raw.pop("like", None)
    if like is not None:
        if like in seen or like not in table:
            raise ValueError(f"verb profile {name}: bad 'like' {like!r}")
        base = dataclasses.asdict(_profile_from_table(like, table, (*seen, name)))
        base.update(raw)
        raw = base
    unexpected = raw.get("unexpected", "info")
    return VerbProfile(
        name=name,
        title=str(raw.get("title", name)),
        required=tuple(raw.get("required", ())),
        optional=tuple(raw.get("optional", ())),
        unexpected=unexpected if isinstance(unexpected, Severity) else Severity(unexpected),
        starttls="optional" if raw.get("starttls") == "optional" else "expected",
        sinks=tuple(verb_keyword(v) for v in raw.get("sinks", ())),
        hint=" ".join(str(raw.get("hint", "")).split()),
        source=str(raw.get("source", "")),
    )


@functools.lru_cache(maxsize=1)
def load_profiles() -> dict[str, VerbProfile]:
    """The built-in profiles by name, read once from ``data/verb_profiles.toml``."""
    import tomllib
    from importlib import resources

    text = resources.files("mailprobe.data").joinpath("verb_profiles.toml").read_text("utf-8")
    table = tomllib.loads(text)["profiles"]
    return {name: _profile_from_table(name, table) for name in table}


def get_profile(name: str) -> VerbProfile:
    """A built-in profile by name (case-insensitive); ``UsageError`` naming the known ones."""
    profiles = load_profiles()
    key = name.strip().lower()
    if key not in profiles:
        known = ", ".join(profiles)
        raise UsageError(f"unknown verb profile {name!r} (known: {known})")
    return profiles[key]


def configured_profile(cfg: Settings) -> VerbProfile | None:
    """The profile named by the ``expect`` setting (None when not set); an unknown name is a
    ``ConfigError`` naming the config file (or the variable) and the key."""
    if not cfg.expect:
        return None
    try:
        return get_profile(cfg.expect)
    except UsageError as exc:
        raise cfg.error("expect", str(exc)) from None


def profile_from_verbs(text: str) -> VerbProfile:
    """A profile from ``--expect-verbs "A,B,C"``: exactly these; anything else is a warning."""
    verbs = [v.strip() for v in text.split(",") if v.strip()]
    if not verbs:
        raise InputError("expect_verbs", "needs a comma-separated list of EHLO keywords")
    for verb in verbs:
        if has_control_chars(verb):
            raise InputError("expect_verbs", "contains a control character (CR, LF, ...)")
    keywords = [verb_keyword(v) for v in verbs]
    return VerbProfile(
        name="custom",
        title="the verbs given",
        required=tuple(verbs),
        unexpected=Severity.WARN,
        starttls="expected" if "STARTTLS" in keywords else "optional",
    )


# -- comparison and diagnosis -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VerbComparison:
    """Advertised keywords against a profile."""

    profile: str
    profile_title: str
    expected: tuple[str, ...]
    advertised: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    complete: bool


def compare_verbs(advertised: Iterable[str], profile: VerbProfile) -> VerbComparison:
    """Missing (required, not advertised) and unexpected (advertised, in neither list) verbs."""
    seen = tuple(dict.fromkeys(verb_keyword(v) for v in advertised))
    required = profile.required_keywords
    known = set(required) | set(profile.optional_keywords)
    missing = tuple(k for k in required if k not in seen)
    unexpected = tuple(k for k in seen if k not in known)
    return VerbComparison(
        profile=profile.name,
        profile_title=profile.title,
        expected=required,
        advertised=seen,
        missing=missing,
        unexpected=unexpected,
        complete=not missing,
    )


SINKS_FIX = (
    "Exchange's own SMTP is not loaded: only the Windows SMTP service answers (the list is the "
    "one a server without Exchange shows), and the IIS metabase may be damaged. Restore the "
    "Exchange verbs: on Exchange 2000 SP2 or later (not on a cluster) run the SMTP Reinstall "
    "Tool, smtpreinstall.exe, from \\Server\\Support\\Utils\\i386 on the service pack CD; "
    "otherwise reapply the latest Windows service pack, reinstall Exchange over itself (files "
    "are replaced, settings kept), then reapply the Exchange service packs and updates."
)


def diagnose_verbs(
    comparison: VerbComparison, profile: VerbProfile, subject: str = ""
) -> tuple[Finding, ...]:
    """Findings for a comparison: the guide's sinks case, other missing verbs, extra verbs."""
    findings: list[Finding] = []
    missing = list(comparison.missing)
    sinks = [k for k in profile.sinks if k in comparison.expected]
    plain_seen = [k for k in comparison.advertised if not k.startswith("X")]
    if sinks and all(k in missing for k in sinks) and plain_seen:
        findings.append(
            Finding(
                Severity.FAIL,
                "ehlo.exchange-sinks-missing",
                "every Exchange X- verb is missing (" + ", ".join(sinks) + "): Exchange's SMTP "
                "event sinks are not loaded and the Windows SMTP service answers alone",
                SINKS_FIX,
                subject,
            )
        )
        missing = [k for k in missing if k not in sinks]
    if missing:
        partial = bool(comparison.advertised)
        summary = (
            f"incomplete verb list for {profile.name}: missing " + ", ".join(missing)
            if partial
            else f"no extension advertised; {profile.name} expects " + ", ".join(missing)
        )
        fix = profile.hint or "Check the server's configuration for the missing extensions."
        findings.append(Finding(Severity.WARN, "ehlo.missing-verbs", summary, fix, subject))
    if comparison.unexpected:
        findings.append(
            Finding(
                profile.unexpected,
                "ehlo.unexpected-verbs",
                f"advertised but not in {profile.name}: " + ", ".join(comparison.unexpected),
                "Not a fault by itself: check that these extensions are meant to be offered.",
                subject,
            )
        )
    if not findings:
        findings.append(
            Finding(
                Severity.OK,
                "ehlo.verbs-match",
                f"all {len(comparison.expected)} verbs expected by {profile.name} are advertised",
                "",
                subject,
            )
        )
    return tuple(findings)
