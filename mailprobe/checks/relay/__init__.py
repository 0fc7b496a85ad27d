"""The relay battery of ``mailprobe relay-test``: variants, concurrent sessions, verdict.

The variants live in ``mailprobe/data/relay_variants.toml``; ``build_variants`` fills their
templates from what the battery knows about the server (its own domain, host name and address
literal) and the external test domain. ``check_relay`` runs them on a few concurrent SMTP
sessions (``SmtpSession``), each variant as MAIL FROM then RCPT TO followed by RSET; only the
RCPT reply decides, unless the server accepts any recipient at all (then only ``send=True``
messages can: ``verdict.judge``). DATA is sent only with ``send=True``, to the user's address.

The modules, by responsibility::

    variants   the variant table (relay_variants.toml) and filling in its addresses
    names      the server's names (greeting host name, own domain, address literal), trusted
               network addresses, checks of the domains and addresses the user gives
    model      RelayOptions and the result types: VariantResult, RelayReport, RelayRun, ...
    battery    the engine: concurrent sessions, error budget and reconnects, VRFY/EXPN,
               the authenticated relay check, --send
    verdict    pure rules: a variant's outcome, OPEN/CLOSED/INCONCLUSIVE, several servers
    findings   the results as findings (codes relay.*)
    run        the entry points: check_relay, check_relay_exchangers, check_relay_mx

Every public name is re-exported here: import from ``mailprobe.checks.relay``.

Public API: ``RelayOptions``, ``check_relay(host, options)``, ``check_relay_exchangers(...)``,
``check_relay_mx(...)``, ``combine_reports``, ``report_exit_code``, the pure helpers
``load_templates``, ``build_variants``, ``classify``, ``judge``, ``server_name_from_greeting``,
``parent_domain``, ``address_literal``, ``relay_findings``, and the result types
``RelayRun``, ``RelayReport``, ``VariantResult``, ``EnumerationResult``, ``AuthRelayResult``,
``SendResult``.
"""

from __future__ import annotations

from mailprobe.checks.relay.battery import AUTH_MECHANISMS
from mailprobe.checks.relay.findings import relay_findings
from mailprobe.checks.relay.model import (
    DEFAULT_EXTERNAL,
    DEFAULT_RECIPIENT_USER,
    DEFAULT_SENDER_USER,
    VERDICT_LABELS,
    AuthOutcome,
    AuthRelayResult,
    ConnectionTranscript,
    EnumerationResult,
    Evidence,
    Outcome,
    RelayOptions,
    RelayReport,
    RelayRun,
    SendOutcome,
    SendResult,
    VariantResult,
    Verdict,
    report_exit_code,
)
from mailprobe.checks.relay.names import (
    INSIDE_NETWORKS,
    address_literal,
    check_address,
    check_domain,
    is_inside_address,
    parent_domain,
    server_name_from_greeting,
)
from mailprobe.checks.relay.run import check_relay, check_relay_exchangers, check_relay_mx
from mailprobe.checks.relay.variants import (
    BatteryNames,
    SkippedVariant,
    Variant,
    VariantKind,
    VariantTemplate,
    build_variants,
    fill_template,
    load_templates,
)
from mailprobe.checks.relay.verdict import (
    CLOSED_OUTCOMES,
    PENDING_OUTCOMES,
    classify,
    combine_reports,
    enumeration_from,
    judge,
    routing_domain,
)
from mailprobe.model import Failure as Failure
from mailprobe.model import Finding as Finding
from mailprobe.smtp.session import Reply as Reply

__all__ = [
    "AUTH_MECHANISMS",
    "CLOSED_OUTCOMES",
    "DEFAULT_EXTERNAL",
    "DEFAULT_RECIPIENT_USER",
    "DEFAULT_SENDER_USER",
    "INSIDE_NETWORKS",
    "PENDING_OUTCOMES",
    "VERDICT_LABELS",
    "AuthOutcome",
    "AuthRelayResult",
    "BatteryNames",
    "ConnectionTranscript",
    "EnumerationResult",
    "Evidence",
    "Outcome",
    "RelayOptions",
    "RelayReport",
    "RelayRun",
    "SendOutcome",
    "SendResult",
    "SkippedVariant",
    "Variant",
    "VariantKind",
    "VariantResult",
    "VariantTemplate",
    "Verdict",
    "address_literal",
    "build_variants",
    "check_address",
    "check_domain",
    "check_relay",
    "check_relay_exchangers",
    "check_relay_mx",
    "classify",
    "combine_reports",
    "enumeration_from",
    "fill_template",
    "is_inside_address",
    "judge",
    "load_templates",
    "parent_domain",
    "relay_findings",
    "report_exit_code",
    "routing_domain",
    "server_name_from_greeting",
]

# The JSON Schema (``mailprobe.schema``) names each result type after its module, as in
# ``checks.relay.RelayReport``: the types in the ``--json`` output keep this package as their
# module, so the schema (docs/schema/mailprobe.schema.json) does not depend on the file layout.
# Their annotations are then resolved in this namespace, hence the imports of ``Reply``,
# ``Finding`` and ``Failure`` above.
for _type in (
    AuthRelayResult,
    EnumerationResult,
    RelayReport,
    RelayRun,
    SendResult,
    SkippedVariant,
    VariantResult,
):
    _type.__module__ = __name__
del _type
