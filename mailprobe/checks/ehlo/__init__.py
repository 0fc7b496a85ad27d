"""EHLO verbs, expected verb profiles, and the scripted session behind ``mailprobe ehlo``.

Pure parts (no I/O), reusable by ``relay-test`` and ``check``:

- ``parse_extension(line)`` / ``parse_ehlo_reply(lines) -> Advertised``: EHLO keywords with
  their parameters, SIZE in bytes and MB, AUTH mechanisms from ``AUTH X Y`` and ``AUTH=X``.
- ``load_profiles()``, ``get_profile(name)``, ``profile_from_verbs("A,B,C")``: expected sets
  from ``data/verb_profiles.toml``.
- ``compare_verbs(keywords, profile) -> VerbComparison`` and ``diagnose_verbs(...)``: missing
  and unexpected verbs, and the guide's "Exchange SMTP event sinks not loaded" diagnosis.
- ``tls_report(info, ...)`` and ``tls_findings(report, ...)``: what a handshake showed, judged.
- ``classify_reply(command, reply) -> CommandResult``: a reply with its outcome and, when the
  NDR table knows the code, a one-line title.

The session: ``probe_ehlo(request) -> EhloReport`` (one server address) and
``run_ehlo(request, mx_domain=..., all_exchangers=..., resolver=...) -> EhloResults`` (a host,
or the exchangers of a domain). Neither raises ``ProbeError``: a step that cannot complete ends
the probe with ``EhloReport.failure`` set and everything seen so far kept (transcript included).
Secrets never leave: the whole report passes through the session's ``Redactor`` at the end.

The modules, by responsibility::

    parse      the EHLO reply: Extension, Advertised, parse_extension, parse_ehlo_reply,
               verb_keyword
    profiles   expected verb sets (data/verb_profiles.toml) and the comparison with them:
               VerbProfile, load_profiles, get_profile, profile_from_verbs, VerbComparison,
               compare_verbs, diagnose_verbs
    tls        TlsReport, tls_report, tls_findings, name_not_judged, starttls_not_offered
    replies    CommandResult, classify_reply, explain_code
    model      EhloRequest and the result types: EhloReport, EhloResults, AuthResult, Exchanger
    probe      the session: probe_ehlo, run_ehlo; HELO name helpers, the --data message,
               redact_value

Every public name is re-exported here: import from ``mailprobe.checks.ehlo``.
"""

from __future__ import annotations

from typing import Literal as Literal

from mailprobe.checks.ehlo.model import (
    FALLBACK_HELO,
    AuthResult,
    EhloReport,
    EhloRequest,
    EhloResults,
    Exchanger,
)
from mailprobe.checks.ehlo.parse import (
    Advertised,
    Extension,
    parse_ehlo_reply,
    parse_extension,
    verb_keyword,
)
from mailprobe.checks.ehlo.probe import (
    AUTH_PREFERENCE,
    CLEARTEXT_AUTH,
    SUPPORTED_AUTH,
    build_test_message,
    default_helo_name,
    is_helo_name,
    probe_ehlo,
    redact_value,
    run_ehlo,
)
from mailprobe.checks.ehlo.profiles import (
    SINKS_FIX,
    VerbComparison,
    VerbProfile,
    compare_verbs,
    configured_profile,
    diagnose_verbs,
    get_profile,
    load_profiles,
    profile_from_verbs,
)
from mailprobe.checks.ehlo.replies import CommandResult, classify_reply, explain_code
from mailprobe.checks.ehlo.tls import (
    EXPIRES_SOON_DAYS,
    TlsReport,
    name_not_judged,
    starttls_not_offered,
    tls_findings,
    tls_report,
)
from mailprobe.model import Failure as Failure
from mailprobe.model import Finding as Finding
from mailprobe.model import Severity as Severity
from mailprobe.smtp.session import StepTiming as StepTiming
from mailprobe.smtp.session import TranscriptLine as TranscriptLine

__all__ = [
    "AUTH_PREFERENCE",
    "CLEARTEXT_AUTH",
    "EXPIRES_SOON_DAYS",
    "FALLBACK_HELO",
    "SINKS_FIX",
    "SUPPORTED_AUTH",
    "Advertised",
    "AuthResult",
    "CommandResult",
    "EhloReport",
    "EhloRequest",
    "EhloResults",
    "Exchanger",
    "Extension",
    "TlsReport",
    "VerbComparison",
    "VerbProfile",
    "build_test_message",
    "classify_reply",
    "compare_verbs",
    "configured_profile",
    "default_helo_name",
    "diagnose_verbs",
    "explain_code",
    "get_profile",
    "is_helo_name",
    "load_profiles",
    "name_not_judged",
    "parse_ehlo_reply",
    "parse_extension",
    "probe_ehlo",
    "profile_from_verbs",
    "redact_value",
    "run_ehlo",
    "starttls_not_offered",
    "tls_findings",
    "tls_report",
    "verb_keyword",
]

# The JSON Schema (``mailprobe.schema``) names each result type after its module, as in
# ``checks.ehlo.EhloReport``: the types in the ``--json`` output keep this package as their
# module, so the schema (docs/schema/mailprobe.schema.json) does not depend on the file layout.
# Their annotations are then resolved in this namespace, hence the imports of ``Literal``,
# ``Severity``, ``Finding``, ``Failure``, ``TranscriptLine`` and ``StepTiming`` above.
for _type in (
    Advertised,
    AuthResult,
    CommandResult,
    EhloReport,
    EhloResults,
    Exchanger,
    Extension,
    TlsReport,
    VerbComparison,
    VerbProfile,
):
    _type.__module__ = __name__
del _type
