"""Every finding code the policy checks emit, with its usual severity and the fix to show.

One table, so the codes stay stable, docs/policy.md can be checked against it, and no fix
text hides in an ``if`` chain. A check may raise or lower the severity of a code when the
context calls for it (e.g. ``dane.mismatch`` is only informational without DNSSEC); the
table gives the usual one.
"""

from __future__ import annotations

from mailprobe.model import Finding, Severity

OK, INFO, WARN, FAIL = Severity.OK, Severity.INFO, Severity.WARN, Severity.FAIL

#: code -> (usual severity, fix). Fixes may use {domain}, {name} and {subject}.
CATALOG: dict[str, tuple[Severity, str]] = {
    # --- SPF (RFC 7208) ---
    "spf.valid": (OK, ""),
    "spf.missing": (
        WARN,
        "Publish one TXT record at {domain} such as 'v=spf1 mx -all', listing every host "
        "that sends mail as {domain}.",
    ),
    "spf.multiple": (
        FAIL,
        "Merge the records into a single 'v=spf1 ...' TXT record; with two or more, receivers "
        "return permerror and ignore SPF.",
    ),
    "spf.syntax": (
        FAIL,
        "Correct the terms named above; a single syntax error makes receivers return permerror "
        "for the whole record.",
    ),
    "spf.too-many-lookups": (
        FAIL,
        "Bring the DNS-querying terms (include, a, mx, ptr, exists, redirect), counted through "
        "every include, down to 10: replace a/mx with ip4/ip6 ranges, remove unused includes, "
        "or flatten large includes.",
    ),
    "spf.lookup-count": (OK, ""),
    "spf.too-many-void-lookups": (
        FAIL,
        "Remove terms that point at names with no records (NXDOMAIN or empty answers); more "
        "than 2 of them make receivers return permerror.",
    ),
    "spf.include-missing": (
        FAIL,
        "The include/redirect target publishes no SPF record, so receivers return permerror: "
        "correct the name or remove the term.",
    ),
    "spf.include-invalid": (
        FAIL,
        "The included record is broken (syntax error or several records); ask its owner to "
        "fix it or remove the include.",
    ),
    "spf.loop": (
        FAIL,
        "Break the include/redirect loop: a record must not include itself, directly or "
        "through other records.",
    ),
    "spf.mx-too-many": (
        FAIL,
        "An mx mechanism may use at most 10 MX host names; list the senders with ip4/ip6 instead.",
    ),
    "spf.no-all": (
        WARN,
        "End the record with '-all' (or '~all') so that mail from hosts you did not list is "
        "refused; without it the default result is neutral.",
    ),
    "spf.fail-all": (OK, ""),
    "spf.softfail-all": (
        INFO,
        "'~all' asks receivers to accept but mark unlisted senders; once every sender is "
        "listed, '-all' is stronger.",
    ),
    "spf.neutral-all": (
        WARN,
        "'?all' gives no protection against forgery: end the record with '~all' or '-all'.",
    ),
    "spf.pass-all": (
        FAIL,
        "'+all' lets every host on the Internet send as {domain}: replace it with '-all'.",
    ),
    "spf.redirect-ignored": (
        INFO,
        "A redirect modifier has no effect in a record with an 'all' mechanism: remove one "
        "of them.",
    ),
    "spf.terms-after-all": (
        INFO,
        "Terms after 'all' are never evaluated: move them before 'all' or remove them.",
    ),
    "spf.ptr-used": (
        WARN,
        "Replace 'ptr' with ip4/ip6 or 'a' terms: it is slow, unreliable and RFC 7208 §5.5 "
        "says not to use it; many receivers skip it.",
    ),
    "spf.unknown-modifier": (
        INFO,
        "Receivers ignore unknown modifiers; check the name for a typo (redirect=, exp=).",
    ),
    "spf.long-record": (
        INFO,
        "Keep the SPF answer under about 450 bytes so it fits a UDP DNS reply (RFC 7208 "
        "§3.4): move parts into an included record.",
    ),
    "spf.mx-permitted": (OK, ""),
    "spf.mx-not-permitted": (
        WARN,
        "Exchangers send bounces and forwarded mail as {domain}: add their addresses (for "
        "example with 'mx' or ip4:/ip6:) to the SPF record.",
    ),
    "spf.mx-not-evaluated": (
        INFO,
        "The SPF result for this address could not be determined here; see the reason, and "
        "test with a live message if needed.",
    ),
    # --- DMARC (RFC 7489) ---
    "dmarc.valid": (OK, ""),
    "dmarc.missing": (
        WARN,
        "Publish a TXT record at _dmarc.{domain}, starting with 'v=DMARC1; p=none; "
        "rua=mailto:dmarc-reports@{domain}', then tighten p= once the reports look right.",
    ),
    "dmarc.multiple": (
        FAIL,
        "Keep a single 'v=DMARC1' record at _dmarc.{domain}; with several, receivers apply "
        "no DMARC policy at all.",
    ),
    "dmarc.syntax": (
        FAIL,
        "Rewrite the record as 'v=DMARC1; p=...; ...' with 'v=DMARC1' first and tags "
        "separated by semicolons.",
    ),
    "dmarc.no-policy": (
        FAIL,
        "Add the required p= tag (p=none, p=quarantine or p=reject) right after v=DMARC1.",
    ),
    "dmarc.bad-tag": (
        WARN,
        "Correct the tag value named above; receivers ignore or mis-read invalid values.",
    ),
    "dmarc.unknown-tag": (
        INFO,
        "Receivers ignore unknown tags; check the name for a typo.",
    ),
    "dmarc.policy-none": (
        WARN,
        "p=none only monitors: once the aggregate reports show all legitimate mail passing, "
        "move to p=quarantine, then p=reject.",
    ),
    "dmarc.policy-quarantine": (
        OK,
        "",
    ),
    "dmarc.policy-reject": (OK, ""),
    "dmarc.subdomain-policy-weaker": (
        INFO,
        "sp= is weaker than p=, so forged mail from subdomains is treated more leniently; "
        "remove sp= or raise it once subdomains are covered.",
    ),
    "dmarc.pct-partial": (
        INFO,
        "pct= below 100 applies the policy to only part of the failing mail; raise it to "
        "100 when ready.",
    ),
    "dmarc.no-rua": (
        INFO,
        "Add rua=mailto:ADDRESS to receive aggregate reports; without them you cannot see "
        "who sends mail as {domain}.",
    ),
    "dmarc.bad-uri": (
        WARN,
        "Report addresses must be URIs such as 'mailto:dmarc@{domain}', separated by commas.",
    ),
    "dmarc.report-not-authorized": (
        WARN,
        "The report destination's domain must publish 'v=DMARC1' at "
        "{domain}._report._dmarc.<its domain> to accept reports for {domain}; otherwise "
        "receivers do not send them.",
    ),
    "dmarc.organizational-domain": (
        INFO,
        "Receivers may apply the organisational domain's DMARC policy to {domain}; publish "
        "_dmarc.{domain} to set one explicitly.",
    ),
    # --- MTA-STS (RFC 8461) ---
    "mtasts.valid": (OK, ""),
    "mtasts.missing": (
        INFO,
        "To require authenticated TLS for mail sent to {domain}, publish 'v=STSv1; id=...' at "
        "_mta-sts.{domain} and a policy at https://mta-sts.{domain}/.well-known/mta-sts.txt.",
    ),
    "mtasts.multiple": (
        FAIL,
        "Keep a single 'v=STSv1' record at _mta-sts.{domain}; with several, senders assume "
        "there is no policy.",
    ),
    "mtasts.record-syntax": (
        FAIL,
        "Write the record as 'v=STSv1; id=<1-32 letters or digits>;' (case matters); an "
        "invalid record makes senders ignore MTA-STS.",
    ),
    "mtasts.fetch-failed": (
        FAIL,
        "Serve the policy at https://mta-sts.{domain}/.well-known/mta-sts.txt with status "
        "200 and a certificate valid for mta-sts.{domain}; senders cannot use it otherwise.",
    ),
    "mtasts.redirect": (
        FAIL,
        "Serve the policy directly with status 200: senders do not follow HTTP redirects "
        "(RFC 8461 §3.3).",
    ),
    "mtasts.content-type": (
        FAIL,
        "Serve the policy with 'Content-Type: text/plain'; senders may refuse other types.",
    ),
    "mtasts.too-large": (
        FAIL,
        "Keep the policy file small (well under 64 kB); senders refuse larger ones.",
    ),
    "mtasts.policy-syntax": (
        FAIL,
        "Write the policy as lines 'version: STSv1', 'mode: enforce|testing|none', "
        "'mx: <host or *.domain>' (one per exchanger) and 'max_age: <seconds>'.",
    ),
    "mtasts.mode-enforce": (OK, ""),
    "mtasts.mode-testing": (
        INFO,
        "In testing mode senders report TLS failures but still deliver; switch to 'mode: "
        "enforce' (and change the record's id) once reports are clean.",
    ),
    "mtasts.mode-none": (
        WARN,
        "'mode: none' withdraws the policy: switch to testing or enforce, or remove MTA-STS.",
    ),
    "mtasts.max-age-small": (
        WARN,
        "Raise max_age to at least a week (604800); RFC 8461 suggests weeks or more so "
        "cached policies protect against downgrade attacks.",
    ),
    "mtasts.mx-covered": (OK, ""),
    "mtasts.mx-not-covered": (
        FAIL,
        "Add an 'mx: {subject}' line (or a matching '*.' pattern) to the policy and change the "
        "id in the _mta-sts record; in enforce mode senders refuse to deliver to this host.",
    ),
    # --- TLS-RPT (RFC 8460) ---
    "tlsrpt.valid": (OK, ""),
    "tlsrpt.missing": (
        INFO,
        "Publish 'v=TLSRPTv1; rua=mailto:tls-reports@{domain}' at _smtp._tls.{domain} to "
        "receive reports of TLS failures from senders.",
    ),
    "tlsrpt.multiple": (
        FAIL,
        "Keep a single 'v=TLSRPTv1' record at _smtp._tls.{domain}; with several, senders "
        "send no reports.",
    ),
    "tlsrpt.syntax": (
        FAIL,
        "Write the record as 'v=TLSRPTv1; rua=mailto:ADDRESS' (or an https:// URL).",
    ),
    "tlsrpt.bad-uri": (
        WARN,
        "rua= must list mailto: or https: URIs separated by commas.",
    ),
    # --- DANE (RFC 6698, RFC 7672) ---
    "dane.missing": (
        INFO,
        "To let DNSSEC-validating senders authenticate {subject}, publish a TLSA record at "
        "_25._tcp.{subject} (e.g. '3 1 1 <sha256 of the public key>') in a signed zone.",
    ),
    "dane.not-authenticated": (
        INFO,
        "The TLSA answer was not DNSSEC-validated (no AD flag), so senders ignore it; sign "
        "the zone, or query through a validating resolver to check.",
    ),
    "dane.unusable-record": (
        WARN,
        "Use TLSA usage 3 (DANE-EE) or 2 (DANE-TA) with selector 0/1 and matching type 0/1/2 "
        "and a digest of the right length; SMTP senders skip other records (RFC 7672).",
    ),
    "dane.match": (OK, ""),
    "dane.mismatch": (
        FAIL,
        "Update the TLSA records of {subject} to match the certificate it presents (publish "
        "the new record before rolling the key), or roll back the certificate; validating "
        "senders will not deliver to it.",
    ),
    "dane.not-checked": (
        INFO,
        "No certificate from {subject} was available to compare (STARTTLS not checked or failed).",
    ),
    # --- DKIM (RFC 6376, RFC 8463) ---
    "dkim.valid": (OK, ""),
    "dkim.missing": (
        FAIL,
        "Publish the selector's public key as TXT at {name} ('v=DKIM1; k=rsa; p=...'), or "
        "check the selector name used in DKIM-Signature headers (s=).",
    ),
    "dkim.multiple": (
        WARN,
        "Keep a single key record at {name}; with several, verifiers may pick any of them.",
    ),
    "dkim.syntax": (
        FAIL,
        "Correct the key record: tags 'name=value' separated by ';', no tag twice, v=DKIM1 "
        "first if present, and a p= tag.",
    ),
    "dkim.revoked": (
        WARN,
        "The key is revoked (empty p=): signatures with this selector fail. Publish the "
        "current key, or stop signing with this selector.",
    ),
    "dkim.bad-key": (
        FAIL,
        "p= must be the base64 public key (for RSA, the DER SubjectPublicKeyInfo; for "
        "ed25519, the 32-byte key); re-export it from the signing system.",
    ),
    "dkim.key-type": (
        FAIL,
        "Use k=rsa or k=ed25519; verifiers do not know other key types.",
    ),
    "dkim.weak-key": (
        WARN,
        "Use an RSA key of at least 2048 bits (RFC 8301 forbids keys under 1024 bits).",
    ),
    "dkim.testing": (
        INFO,
        "t=y marks the domain as testing DKIM; remove it once signing works.",
    ),
}


def finding(
    code: str,
    summary: str,
    *,
    subject: str = "",
    severity: Severity | None = None,
    domain: str = "",
    name: str = "",
    fix: str | None = None,
) -> Finding:
    """A Finding for ``code`` with the catalogue's severity and fix unless overridden."""
    usual, template = CATALOG[code]
    text = template if fix is None else fix
    text = text.replace("{domain}", domain or "the domain").replace("{name}", name or subject)
    text = text.replace("{subject}", subject or "the host")
    return Finding(
        severity=usual if severity is None else severity,
        code=code,
        summary=_printable(summary, SUMMARY_MAX),
        fix=text,
        subject=_printable(subject, 300),
    )


#: Longest summary kept; records quoted in summaries are already shortened.
SUMMARY_MAX = 600


def _printable(text: str, limit: int) -> str:
    """Summaries quote DNS and HTTP data: no control characters (terminal escapes), bounded."""
    flat = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
