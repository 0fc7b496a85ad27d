"""The whole inbound mail-flow checklist of one domain: ``run_check(domain, resolver, options)``.

Steps, each a section of findings in the ``CheckReport``:

1. ``dns``: everything ``mailprobe mx`` checks (``checks.mx.check_mx``), PTR and FCrDNS included.
2. ``reachability``: every exchanger address on the SMTP port, concurrently: banner, latency.
3. ``smtp``: per exchanger, on the connection opened in step 2: EHLO verbs against a profile
   (``--expect`` or guessed from the banner), STARTTLS offered and working, certificate trusted
   and naming the exchanger, ``postmaster@DOMAIN`` accepted at RCPT (RFC 5321 section 4.5.1),
   a chosen recipient accepted; then RSET and QUIT. DATA is never sent.
4. ``relay``: the relay-test battery (``checks.relay.check_relay``) against each exchanger.
5. ``policy``: SPF, DMARC, MTA-STS, TLS-RPT, DANE (TLSA matched against the certificate step 3
   saw) and DKIM (``checks.policy``).
6. the ``summary``: counts per severity, the three most important fixes, the exit code.

How the steps overlap: the exchangers and their addresses are read from the same resolver
(and cache) the DNS step uses, so reachability, SMTP, relay and the policy lookups start as soon
as the addresses are known, while the DNS step still checks reverse DNS. Exchangers run in
parallel; the relay battery of an exchanger starts once its banner arrived, alongside the SMTP
script. DANE waits for the certificate of its exchanger; the TLSA lookup itself is started
early and answered from the cache.

A step that depends on a step that failed is *skipped* (with the reason), not failed: an
exchanger that cannot be reached gets the finding of its failure class (``smtp.no-banner``,
``smtp.connect-refused``, ...: ``mailprobe.smtp.failures``, the same in every command) and a
``Failure``, and its SMTP and relay parts are skipped while everything else is still reported.

Finding codes, with their severities and fixes, are in the catalogue (``mailprobe.findings``).

The modules, by responsibility::

    model     CheckOptions and the result types: StepResult, Target, Reachability, SmtpCheck,
              Summary, CheckReport, Change (--baseline); STEPS (the checklist in report
              order), StepName, StepStatus
    steps     pure rules: make_step, step_status, summarize (the top fixes), soften_private,
              PRIVATE_CODES, and how findings name an exchanger address
    exchange  one exchanger on the wire: reachability of its addresses (step 2), the SMTP
              script (step 3), the start of its relay battery; exchangers sharing addresses
    policy    the policy step (5): its lookups, started early, and the DANE finish
    run       run_check: the steps overlapping, skipping, and the report (with Progress)
    baseline  --baseline: read an earlier run's JSON, diff a domain's results with it (Change),
              the regression finding and the "Changes since baseline" step

Every public name is re-exported here: import from ``mailprobe.checks.check``.
"""

from __future__ import annotations

# ``_no_local_route``, ``ServerGuess`` and ``guess_server`` are imported from here by tests
# (the last two live in mailprobe.smtp.servers).
from mailprobe.checks.check.exchange import _no_local_route as _no_local_route
from mailprobe.checks.check.model import (
    STEPS,
    Change,
    ChangeArea,
    ChangeKind,
    CheckOptions,
    CheckReport,
    Reachability,
    SmtpCheck,
    StepName,
    StepResult,
    StepStatus,
    Summary,
    Target,
)
from mailprobe.checks.check.run import Progress, run_check
from mailprobe.checks.check.shared import ExchangerCache as ExchangerCache
from mailprobe.checks.check.steps import (
    PRIVATE_CODES,
    make_step,
    soften_private,
    step_status,
    summarize,
)
from mailprobe.model import Failure as Failure
from mailprobe.model import Finding as Finding
from mailprobe.smtp.servers import ServerGuess as ServerGuess
from mailprobe.smtp.servers import guess_server as guess_server
from mailprobe.smtp.session import TranscriptLine as TranscriptLine

__all__ = [
    "PRIVATE_CODES",
    "STEPS",
    "Change",
    "ChangeArea",
    "ChangeKind",
    "CheckOptions",
    "CheckReport",
    "ExchangerCache",
    "Progress",
    "Reachability",
    "SmtpCheck",
    "StepName",
    "StepResult",
    "StepStatus",
    "Summary",
    "Target",
    "make_step",
    "run_check",
    "soften_private",
    "step_status",
    "summarize",
]

# The JSON Schema (``mailprobe.schema``) names each result type after its module, as in
# ``checks.check.CheckReport``: the types in the ``--json`` output keep this package as their
# module, so the schema (docs/schema/mailprobe.schema.json) does not depend on the file layout.
# Their annotations are then resolved in this namespace, hence the imports of ``StepStatus``,
# ``ServerGuess``, ``Finding``, ``Failure`` and ``TranscriptLine`` above.
for _type in (Change, CheckReport, Reachability, SmtpCheck, StepResult, Summary, Target):
    _type.__module__ = __name__
del _type
