"""The findings catalogue: every finding code mailprobe reports, defined once.

Each entry gives the code (stable, e.g. ``mx.cname-target``), its usual severity, the other
severities it may carry and the rule that picks one, a one-line title, the fix shown when a
check has nothing more specific to say, and whether it is *advisory* (a warning that is shown
but does not change the exit code; see ``mailprobe.outcome``).

``Finding`` refuses a code that is not here, or a severity the entry does not allow, so no
command can emit an undocumented code. ``mailprobe findings`` lists the table and
docs/findings.md is generated from it (``python -m mailprobe.findings > docs/findings.md``).
Fix texts may use ``{domain}``, ``{name}`` and ``{subject}``; ``make`` fills them in.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from mailprobe.model import Severity

if TYPE_CHECKING:
    from mailprobe.model import Finding

OK, INFO, WARN, FAIL = Severity.OK, Severity.INFO, Severity.WARN, Severity.FAIL


@dataclasses.dataclass(frozen=True)
class CatalogueEntry:
    """One finding code: what it means, how bad it usually is, how to fix it."""

    code: str
    severity: Severity
    title: str
    fix: str = ""
    also: tuple[Severity, ...] = ()
    rule: str = ""
    advisory: bool = False

    @property
    def severities(self) -> tuple[Severity, ...]:
        """Every severity this code may carry, the usual one first."""
        return (self.severity, *self.also)

    @property
    def area(self) -> str:
        """The part before the dot: mx, smtp, tls, relay, spf, ..."""
        return self.code.partition(".")[0]

    @property
    def anchor(self) -> str:
        """The anchor of this code on docs/findings.md."""
        return self.code.replace(".", "-")

    @property
    def docs(self) -> str:
        """Where the code is documented."""
        return f"docs/findings.md#{self.anchor}"


def _e(
    code: str,
    severity: Severity,
    title: str,
    fix: str = "",
    *,
    also: tuple[Severity, ...] = (),
    rule: str = "",
    advisory: bool = False,
) -> CatalogueEntry:
    return CatalogueEntry(code, severity, title, fix, also, rule, advisory)


#: What each area of codes is about, in the order ``mailprobe findings`` lists them.
AREAS: dict[str, str] = {
    "mx": "MX records, exchangers and their addresses (mailprobe mx, check)",
    "smtp": "reaching an exchanger and the SMTP conversation (every SMTP command)",
    "tls": "STARTTLS, implicit TLS and certificates (ehlo, check)",
    "ehlo": "the verbs an exchanger advertises (ehlo, check)",
    "auth": "SMTP AUTH (ehlo)",
    "relay": "open relay, spoofing and address enumeration (relay-test, check)",
    "check": "the inbound checklist as a whole (check)",
    "spf": "SPF records (RFC 7208) (check)",
    "dmarc": "DMARC records (RFC 7489) (check)",
    "mtasts": "MTA-STS records and policies (RFC 8461) (check)",
    "tlsrpt": "TLS reporting records (RFC 8460) (check)",
    "dane": "DANE TLSA records (RFC 7672) (check)",
    "dkim": "DKIM key records (RFC 6376) (check)",
    "blocklist": "DNS blocklists of addresses and domains (blocklist, check)",
    "ports": "which mail-related TCP ports answer and what speaks on them (ports)",
    "outbound": "sending mail out from this machine: DNS, port 25, HELO and PTR, smarthost "
    "(outbound)",
    "queue": "mail queues: deferred, held and old messages (queue)",
    "log": "mail-server logs: bounces, deferrals and rejections (log)",
}

_ENTRIES: tuple[CatalogueEntry, ...] = (
    _e(
        "outbound.mx-resolved",
        OK,
        "The configured DNS server resolves an external domain's MX",
    ),
    _e(
        "outbound.mx-failed",
        FAIL,
        "The configured DNS server cannot resolve an external domain's MX",
        "Check the DNS servers this host (or the mail server's DNS setting) uses: they must "
        "resolve Internet names (forwarders or root hints), and UDP and TCP port 53 must be "
        "allowed out.",
    ),
    _e(
        "outbound.null-mx",
        WARN,
        "The test domain accepts no mail (null MX): choose another --to-domain",
        "Run again with --to-domain set to a domain that receives mail.",
    ),
    _e(
        "outbound.resolvers-agree",
        OK,
        "The system resolver gives the same MX answer as the configured DNS server",
    ),
    _e(
        "outbound.resolvers-differ",
        WARN,
        "The system resolver and the configured DNS server give different MX answers",
        "Find out which one is wrong (split DNS, a stale forwarder, a filtering resolver) and "
        "make the mail server use a resolver that gives the Internet's answer.",
    ),
    _e(
        "outbound.system-resolver-failed",
        WARN,
        "The system resolver does not answer the MX question",
        "Check /etc/resolv.conf (or the network settings) of this host: its nameservers must "
        "answer Internet names.",
    ),
    _e(
        "outbound.port25-open",
        OK,
        "Outbound TCP port 25 reaches the test domain's exchangers",
    ),
    _e(
        "outbound.port25-blocked",
        FAIL,
        "Outbound port 25 is probably blocked by the network or the provider",
        "The exchangers answer on other ports but not on 25: a firewall of this network or the "
        "provider blocks outgoing SMTP (common on home, cloud and hosting networks). Ask the "
        "provider to open it, or send through a smarthost on the submission port "
        "(587, with AUTH): mailprobe outbound --smarthost HOST.",
        also=(WARN,),
        rule="fail when several exchangers were tried, warn when only one was (that one "
        "exchanger may simply not listen on 25).",
    ),
    _e(
        "outbound.port25-no-greeting",
        FAIL,
        "Port 25 connects, but no exchanger greets (tarpit, filtering proxy)",
        "The TCP connection works, so port 25 is not blocked; something answers without "
        "passing the greeting on: a proxy or antivirus that intercepts SMTP on this network, "
        "or receivers that tarpit this address (check it with mailprobe blocklist).",
    ),
    _e(
        "outbound.port25-unreachable",
        FAIL,
        "No exchanger of the test domain answers, on port 25 or any other port tried",
        "This host reaches none of them: check its route to the Internet, its default gateway "
        "and any firewall that blocks all outgoing connections.",
    ),
    _e(
        "outbound.helo-ok",
        OK,
        "The HELO name is fully qualified and resolves",
    ),
    _e(
        "outbound.helo-not-fqdn",
        WARN,
        "The HELO name is not a fully qualified host name",
        "Set the name the mail server announces to a fully qualified name that resolves "
        "(Postfix: myhostname / smtp_helo_name; Exchange: the FQDN of the Send connector).",
    ),
    _e(
        "outbound.helo-no-address",
        WARN,
        "The HELO name does not resolve",
        "Publish an A (and AAAA) record for the HELO name, or announce a name that has one: "
        "receivers check it and score down or refuse mail from names that do not resolve.",
    ),
    _e(
        "outbound.source-private",
        INFO,
        "This host sends from a private address (NAT): its public address is what receivers see",
    ),
    _e(
        "outbound.source-unknown",
        INFO,
        "No outbound address could be found, so its PTR was not checked",
    ),
    _e(
        "outbound.ptr-confirmed",
        OK,
        "The outbound address has a PTR name that resolves back to it (forward-confirmed)",
    ),
    _e(
        "outbound.ptr-missing",
        WARN,
        "The outbound address has no PTR record",
        "Ask whoever owns the address (the provider) for a PTR record naming the mail server, "
        "a name whose A record points back to the address.",
    ),
    _e(
        "outbound.ptr-not-confirmed",
        WARN,
        "The outbound address's PTR name does not resolve back to it",
        "Make the PTR name's A (or AAAA) record point to the address, or change the PTR to a "
        "name that does.",
    ),
    _e(
        "outbound.ptr-helo-differs",
        INFO,
        "The HELO name is not the outbound address's PTR name",
    ),
    _e(
        "outbound.smarthost-accepted",
        OK,
        "The smarthost accepts the test sender and recipient (nothing sent)",
    ),
    _e(
        "outbound.smarthost-refused",
        FAIL,
        "The smarthost does not take the test envelope",
        "Read the reason: a refused AUTH needs the right user and password (and TLS first); a "
        "refused sender must be one the account may use; a refused recipient needs relay "
        "permission after AUTH.",
    ),
    _e("queue.empty", OK, "The mail queue is empty"),
    _e(
        "queue.deferred",
        WARN,
        "Messages wait in the queue for a retry: their delivery was deferred",
        "Read the reason of each group and run the command it names (mailprobe mx for DNS "
        "failures, ports/outbound for refused or timed-out connections, blocklist/relay-test "
        "for 4.7.x refusals, tls for TLS failures); the queue empties once the cause is gone.",
    ),
    _e(
        "queue.held",
        WARN,
        "Messages are on hold (Postfix) or frozen (Exim): they are not tried until released",
        "Look at why they were held (a header/body check, a policy, a bounce that could not be "
        "delivered), then release them (postsuper -H ID, exim -Mt ID) or delete them.",
    ),
    _e(
        "queue.old-message",
        WARN,
        "A message has waited in the queue longer than the age limit",
        "Fix the cause of its deferral; a message that cannot be delivered bounces when the "
        "queue lifetime ends (Postfix maximal_queue_lifetime, Exim's retry rules).",
    ),
    _e(
        "queue.in-flight",
        INFO,
        "Messages are being delivered now (active, incoming or maildrop queue)",
        "Nothing to do unless they stay there; run the command again in a few minutes.",
    ),
    _e(
        "blocklist.listed",
        FAIL,
        "The address or domain is on a blocklist: receivers using it refuse its mail",
        "Find and stop the cause first (a compromised account or host, an open relay, a "
        "form that mails anyone), then ask the list for removal.",
    ),
    _e(
        "blocklist.policy-listed",
        WARN,
        "The address is on a policy list of end-user addresses (e.g. Spamhaus PBL)",
        "Normal for a home or office connection that sends through a smarthost; a server that "
        "delivers mail to other servers itself, or an MX, must not be on it: ask the ISP (or "
        "the list, for one address) to take it off, or send through a smarthost.",
    ),
    _e(
        "blocklist.collateral",
        INFO,
        "The address's network or provider is listed, not the address itself",
        "Only the provider can change it; if receivers use the list, ask the provider to act "
        "or move the server to a cleaner network.",
    ),
    _e("blocklist.not-listed", OK, "The address or domain is on none of the lists asked"),
    _e(
        "blocklist.query-refused",
        WARN,
        "A list refused the query (an error code, not a listing): its answer is unknown",
        "Ask through your own resolver rather than a public one (8.8.8.8, 1.1.1.1, 9.9.9.9) "
        "with --server, stay under the list's free-use limits, or use the list's paid data "
        "service (e.g. a Spamhaus DQS key: --zone KEY.zen.dq.spamhaus.net).",
    ),
    _e(
        "blocklist.untrusted",
        WARN,
        "A list does not answer its own test point, so its 'not listed' means nothing",
        "Ask through your own resolver (--server): lists such as Spamhaus answer public "
        "resolvers as if nothing were listed. If it persists, the list may be gone: drop it.",
    ),
    _e(
        "blocklist.lists-everything",
        WARN,
        "A list answers 'listed' for everything (broken, or its domain was taken over)",
        "Do not use this list: remove it from the mail server's configuration and from --zone.",
    ),
    _e(
        "blocklist.unanswered",
        INFO,
        "A list gave no answer (timeout, SERVFAIL, REFUSED): not checked there",
        "Check that the DNS server (--server) can reach the list's name servers; some lists "
        "answer only registered resolvers.",
    ),
    _e(
        "blocklist.no-address",
        WARN,
        "The host or the domain's exchangers have no address to look up",
        "Check the name: it has no A or AAAA record (see mailprobe mx).",
    ),
    _e(
        "auth.failed",
        FAIL,
        "Authentication with the given user name and password failed",
        "Check the user name and password and that the account may send by SMTP; if the server "
        "wants TLS before AUTH (530 'Must issue a STARTTLS command first'), drop --no-starttls "
        "or use --tls on port 465.",
    ),
    _e(
        "auth.no-common-mechanism",
        FAIL,
        "The server offers no AUTH mechanism that mailprobe speaks",
        "Enable LOGIN or PLAIN (over TLS) or CRAM-MD5 on the server, or choose one with "
        "--auth-mech.",
    ),
    _e(
        "auth.not-offered",
        FAIL,
        "The server does not offer SMTP AUTH",
        "Enable SMTP AUTH on this port (submission, 587, usually has it), or connect with "
        "STARTTLS first.",
    ),
    _e("auth.ok", OK, "Authentication succeeded"),
    _e(
        "auth.plaintext",
        WARN,
        "Password AUTH is offered or used without TLS",
        "Use STARTTLS (the default when offered), or port 465 with --tls.",
        also=(INFO,),
        rule=(
            "warn when credentials were sent without TLS, or when password AUTH is offered "
            "before STARTTLS; info for the latter when the expected profile makes STARTTLS "
            "optional"
        ),
    ),
    _e("check.latency", OK, "The exchanger greets (time to connect and to the greeting)"),
    _e(
        "check.no-route-here",
        INFO,
        "This host has no route to the address, so it was not tested",
        "Run the check from a host with IPv6 connectivity to test this address.",
    ),
    _e(
        "check.regressed",
        WARN,
        "Something got worse since the baseline run (check --baseline)",
        "Look at the changes marked as regressions under 'Changes since baseline' (JSON: "
        "results.changes with regression true); undo the change that caused them, or, when it "
        "was intended, keep this run's output as the next baseline.",
    ),
    _e(
        "check.shared-exchanger",
        INFO,
        "The relay battery of this shared exchanger address ran once, for another domain",
    ),
    _e(
        "smtp.throttled",
        INFO,
        "The server asked mailprobe to slow down (421 try later); it waited and went on",
        "Nothing to fix for mail flow: a per-client limit at work. Run large batches with a "
        "lower --connections or --connect-rate, or exempt the scanning host's address.",
    ),
    _e(
        "check.server-guess",
        INFO,
        "The kind of mail server, guessed from its greeting",
        "Give the expected verb profile with --expect PROFILE to compare them.",
    ),
    _e("dane.match", OK, "The certificate matches its TLSA record"),
    _e(
        "dane.mismatch",
        FAIL,
        "The certificate does not match the TLSA records",
        "Update the TLSA records of {subject} to match the certificate it presents (publish the "
        "new record before rolling the key), or roll back the certificate; validating senders "
        "will not deliver to it.",
        also=(INFO,),
        rule=(
            "fail when the TLSA answer is DNSSEC-authenticated; info when it is not, since "
            "senders then ignore the records"
        ),
    ),
    _e(
        "dane.missing",
        INFO,
        "No TLSA (DANE) records for the exchanger",
        "To let DNSSEC-validating senders authenticate {subject}, publish a TLSA record at "
        "_25._tcp.{subject} (e.g. '3 1 1 <sha256 of the public key>') in a signed zone.",
    ),
    _e(
        "dane.not-authenticated",
        INFO,
        "The TLSA records are not DNSSEC-authenticated",
        "The TLSA answer was not DNSSEC-validated (no AD flag), so senders ignore it; sign the "
        "zone, or query through a validating resolver to check.",
    ),
    _e(
        "dane.not-checked",
        INFO,
        "The certificate was not compared with the TLSA records",
        "No certificate from {subject} was available to compare (STARTTLS not checked or failed).",
    ),
    _e(
        "dane.unusable-record",
        WARN,
        "A TLSA record that SMTP senders cannot use",
        "Use TLSA usage 3 (DANE-EE) or 2 (DANE-TA) with selector 0/1 and matching type 0/1/2 and "
        "a digest of the right length; SMTP senders skip other records (RFC 7672).",
    ),
    _e(
        "dkim.bad-key",
        FAIL,
        "The DKIM public key (p=) cannot be read",
        "p= must be the base64 public key (for RSA, the DER SubjectPublicKeyInfo; for ed25519, "
        "the 32-byte key); re-export it from the signing system.",
    ),
    _e(
        "dkim.key-type",
        FAIL,
        "The DKIM key type (k=) is unknown to verifiers",
        "Use k=rsa or k=ed25519; verifiers do not know other key types.",
    ),
    _e(
        "dkim.missing",
        FAIL,
        "No DKIM key record for the selector",
        "Publish the selector's public key as TXT at {name} ('v=DKIM1; k=rsa; p=...'), or check "
        "the selector name used in DKIM-Signature headers (s=).",
    ),
    _e(
        "dkim.multiple",
        WARN,
        "Several TXT records at the DKIM selector",
        "Keep a single key record at {name}; with several, verifiers may pick any of them.",
    ),
    _e(
        "dkim.revoked",
        WARN,
        "The DKIM key is revoked (empty p=)",
        "The key is revoked (empty p=): signatures with this selector fail. Publish the current "
        "key, or stop signing with this selector.",
    ),
    _e(
        "dkim.syntax",
        FAIL,
        "The DKIM key record is invalid",
        "Correct the key record: tags 'name=value' separated by ';', no tag twice, v=DKIM1 first "
        "if present, and a p= tag.",
    ),
    _e(
        "dkim.testing",
        INFO,
        "The DKIM key is marked as testing (t=y)",
        "t=y marks the domain as testing DKIM; remove it once signing works.",
    ),
    _e("dkim.valid", OK, "The DKIM key record is valid"),
    _e(
        "dkim.weak-key",
        WARN,
        "The DKIM RSA key is too short",
        "Use an RSA key of at least 2048 bits (RFC 8301 forbids keys under 1024 bits).",
        also=(FAIL,),
        rule="fail for RSA keys under 1024 bits; warn for keys of 1024 to 2047 bits",
    ),
    _e(
        "dmarc.bad-tag",
        WARN,
        "A DMARC tag has an invalid value",
        "Correct the tag value named above; receivers ignore or mis-read invalid values.",
    ),
    _e(
        "dmarc.bad-uri",
        WARN,
        "A DMARC report address (rua= or ruf=) is invalid",
        "Report addresses must be URIs such as 'mailto:dmarc@{domain}', separated by commas.",
    ),
    _e(
        "dmarc.missing",
        WARN,
        "No DMARC record",
        "Publish a TXT record at _dmarc.{domain}, starting with 'v=DMARC1; p=none; "
        "rua=mailto:dmarc-reports@{domain}', then tighten p= once the reports look right.",
    ),
    _e(
        "dmarc.multiple",
        FAIL,
        "Several DMARC records, so receivers apply none",
        "Keep a single 'v=DMARC1' record at _dmarc.{domain}; with several, receivers apply no "
        "DMARC policy at all.",
    ),
    _e(
        "dmarc.no-policy",
        FAIL,
        "The DMARC record has no policy (p=)",
        "Add the required p= tag (p=none, p=quarantine or p=reject) right after v=DMARC1.",
    ),
    _e(
        "dmarc.no-rua",
        INFO,
        "DMARC asks for no aggregate reports (no rua=)",
        "Add rua=mailto:ADDRESS to receive aggregate reports; without them you cannot see who "
        "sends mail as {domain}.",
    ),
    _e(
        "dmarc.organizational-domain",
        INFO,
        "A parent domain's DMARC policy may apply",
        "Receivers may apply the organisational domain's DMARC policy to {domain}; publish "
        "_dmarc.{domain} to set one explicitly.",
    ),
    _e(
        "dmarc.pct-partial",
        INFO,
        "The DMARC policy covers only part of failing mail (pct=)",
        "pct= below 100 applies the policy to only part of the failing mail; raise it to 100 "
        "when ready.",
    ),
    _e(
        "dmarc.policy-none",
        WARN,
        "The DMARC policy only monitors (p=none)",
        "p=none only monitors: once the aggregate reports show all legitimate mail passing, move "
        "to p=quarantine, then p=reject.",
    ),
    _e("dmarc.policy-quarantine", OK, "The DMARC policy quarantines failing mail (p=quarantine)"),
    _e("dmarc.policy-reject", OK, "The DMARC policy rejects failing mail (p=reject)"),
    _e(
        "dmarc.report-not-authorized",
        WARN,
        "An outside report domain does not accept the DMARC reports",
        "The report destination's domain must publish 'v=DMARC1' at {domain}._report._dmarc.<its "
        "domain> to accept reports for {domain}; otherwise receivers do not send them.",
    ),
    _e(
        "dmarc.subdomain-policy-weaker",
        INFO,
        "The DMARC subdomain policy (sp=) is weaker than p=",
        "sp= is weaker than p=, so forged mail from subdomains is treated more leniently; remove "
        "sp= or raise it once subdomains are covered.",
    ),
    _e(
        "dmarc.syntax",
        FAIL,
        "The DMARC record is invalid",
        "Rewrite the record as 'v=DMARC1; p=...; ...' with 'v=DMARC1' first and tags separated "
        "by semicolons.",
    ),
    _e(
        "dmarc.unknown-tag",
        INFO,
        "The DMARC record has unknown tags",
        "Receivers ignore unknown tags; check the name for a typo.",
    ),
    _e("dmarc.valid", OK, "The DMARC record is valid"),
    _e(
        "ehlo.exchange-sinks-missing",
        FAIL,
        "Exchange's SMTP verbs are missing (event sinks not loaded)",
        "Only the Windows SMTP service answers, without Exchange's SMTP event sinks. Restore "
        "them: on Exchange 2000 SP2 or later run the SMTP Reinstall Tool (smtpreinstall.exe) "
        "from the service pack; otherwise reinstall Exchange over itself and reapply its service "
        "packs.",
    ),
    _e(
        "ehlo.helo-fallback",
        WARN,
        "The server refuses EHLO and answers HELO only",
        "Enable ESMTP on the server; a server answering HELO only is an old or misconfigured "
        "MTA, or a proxy/firewall filtering EHLO.",
    ),
    _e(
        "ehlo.missing-verbs",
        WARN,
        "Extensions the expected profile requires are not advertised",
        "Check the server's configuration for the missing extensions (Exchange: the Receive "
        "connector's settings; Postfix: smtpd_discard_ehlo_keywords), or compare with the right "
        "profile (--expect).",
    ),
    _e(
        "ehlo.unexpected-verbs",
        INFO,
        "The server advertises extensions the profile does not list",
        "Not a fault by itself: check that these extensions are meant to be offered.",
        also=(WARN,),
        rule=(
            "the expected profile decides: info for the built-in profiles, warn for a list "
            "given with --expect-verbs"
        ),
    ),
    _e("ehlo.verbs-match", OK, "The advertised extensions match the expected profile"),
    _e(
        "mtasts.content-type",
        FAIL,
        "The MTA-STS policy is not served as text/plain",
        "Serve the policy with 'Content-Type: text/plain'; senders may refuse other types.",
    ),
    _e(
        "mtasts.fetch-failed",
        FAIL,
        "The MTA-STS policy cannot be fetched",
        "Serve the policy at https://mta-sts.{domain}/.well-known/mta-sts.txt with status 200 "
        "and a certificate valid for mta-sts.{domain}; senders cannot use it otherwise.",
    ),
    _e(
        "mtasts.max-age-small",
        WARN,
        "The MTA-STS max_age is short",
        "Raise max_age to at least a week (604800); RFC 8461 suggests weeks or more so cached "
        "policies protect against downgrade attacks.",
        also=(INFO,),
        rule=(
            "warn when max_age is under one day; info when it is one day or more but under a week"
        ),
    ),
    _e(
        "mtasts.missing",
        INFO,
        "No MTA-STS record",
        "To require authenticated TLS for mail sent to {domain}, publish 'v=STSv1; id=...' at "
        "_mta-sts.{domain} and a policy at https://mta-sts.{domain}/.well-known/mta-sts.txt.",
    ),
    _e("mtasts.mode-enforce", OK, "MTA-STS is in enforce mode"),
    _e(
        "mtasts.mode-none",
        WARN,
        "MTA-STS is in mode none (policy withdrawn)",
        "'mode: none' withdraws the policy: switch to testing or enforce, or remove MTA-STS.",
    ),
    _e(
        "mtasts.mode-testing",
        INFO,
        "MTA-STS is in testing mode",
        "In testing mode senders report TLS failures but still deliver; switch to 'mode: "
        "enforce' (and change the record's id) once reports are clean.",
    ),
    _e(
        "mtasts.multiple",
        FAIL,
        "Several MTA-STS records, so senders ignore MTA-STS",
        "Keep a single 'v=STSv1' record at _mta-sts.{domain}; with several, senders assume there "
        "is no policy.",
    ),
    _e("mtasts.mx-covered", OK, "The exchanger is covered by the MTA-STS policy"),
    _e(
        "mtasts.mx-not-covered",
        FAIL,
        "An exchanger is not covered by the MTA-STS policy",
        "Add an 'mx: {subject}' line (or a matching '*.' pattern) to the policy and change the "
        "id in the _mta-sts record; in enforce mode senders refuse to deliver to this host.",
        also=(WARN,),
        rule="fail when the policy is in enforce mode; warn when it is in testing mode",
    ),
    _e(
        "mtasts.policy-syntax",
        FAIL,
        "The MTA-STS policy file is invalid",
        "Write the policy as lines 'version: STSv1', 'mode: enforce|testing|none', 'mx: <host or "
        "*.domain>' (one per exchanger) and 'max_age: <seconds>'.",
    ),
    _e(
        "mtasts.record-syntax",
        FAIL,
        "The MTA-STS record is invalid",
        "Write the record as 'v=STSv1; id=<1-32 letters or digits>;' (case matters); an invalid "
        "record makes senders ignore MTA-STS.",
    ),
    _e(
        "mtasts.redirect",
        FAIL,
        "The MTA-STS policy URL answers with a redirect",
        "Serve the policy directly with status 200: senders do not follow HTTP redirects (RFC "
        "8461 §3.3).",
    ),
    _e(
        "mtasts.too-large",
        FAIL,
        "The MTA-STS policy file is too large",
        "Keep the policy file small (well under 64 kB); senders refuse larger ones.",
    ),
    _e("mtasts.valid", OK, "The MTA-STS record and policy are valid"),
    _e(
        "mx.banner-host-mismatch",
        INFO,
        "The greeting names another host than the exchanger",
        "Optional: make the greeting name the exchanger's public name (e.g. Exchange receive "
        "connector FQDN, Postfix myhostname).",
    ),
    _e(
        "mx.cname-target",
        WARN,
        "An MX record points at an alias (CNAME)",
        "Point the MX record at the canonical name that {subject} is an alias of, not at the "
        "alias.",
    ),
    _e(
        "mx.domain-nxdomain",
        FAIL,
        "The domain does not exist (NXDOMAIN)",
        "Check the spelling; if the domain is yours, check its registration and delegation (NS "
        "records at the parent zone).",
    ),
    _e(
        "mx.duplicate-exchanger",
        WARN,
        "An exchanger is listed in more than one MX record",
        "Keep one MX record per exchanger; a duplicate adds no redundancy.",
    ),
    _e(
        "mx.ip-literal",
        FAIL,
        "An MX record points at an IP address instead of a host name",
        "Give the exchanger a host name with an A or AAAA record for {subject}, and point the MX "
        "record at that name.",
    ),
    _e(
        "mx.ipv4-mapped",
        WARN,
        "An exchanger has an IPv4-mapped address in an AAAA record",
        "Remove the AAAA record holding {subject}; publish the IPv4 address as an A record of "
        "the exchanger instead.",
    ),
    _e(
        "mx.ipv6-only",
        WARN,
        "An exchanger has IPv6 addresses only",
        "Add an A record for {subject} so that senders without IPv6 can reach it.",
    ),
    _e("mx.load-balanced", INFO, "Several exchangers share the best preference"),
    _e(
        "mx.low-ttl",
        WARN,
        "The MX records have a very low TTL",
        "Use a TTL of an hour or more (e.g. 3600) unless a migration is under way; very low TTLs "
        "make delivery depend on every DNS lookup succeeding.",
    ),
    _e(
        "mx.no-public-exchanger",
        FAIL,
        "No exchanger has a public address",
        "Publish the public address of your mail gateway in external DNS.",
        also=(INFO,),
        rule="fail normally; info with check --allow-private (lab and internal set-ups)",
    ),
    _e(
        "mx.no-route",
        FAIL,
        "The domain has neither MX nor address records",
        "Publish an MX record pointing to a host with A/AAAA records.",
    ),
    _e(
        "mx.non-public-address",
        WARN,
        "An exchanger resolves only to non-public addresses",
        "Publish the public address of the mail gateway in external DNS; keep internal addresses "
        "to internal DNS.",
        also=(INFO,),
        rule="warn normally; info with check --allow-private (lab and internal set-ups)",
    ),
    _e(
        "mx.none",
        WARN,
        "No MX records: senders fall back to the domain's own address",
        "Publish an MX record, e.g. '{domain}. 3600 IN MX 10 mail.{domain}.', or a null MX "
        "('{domain}. IN MX 0 .') if the domain receives no mail.",
    ),
    _e(
        "mx.null",
        WARN,
        "The domain publishes a null MX: it accepts no mail",
        "Nothing to do if the domain should receive no mail; otherwise replace the 'MX 0 .' "
        "record with real exchangers.",
    ),
    _e(
        "mx.null-mixed",
        FAIL,
        "A null MX is mixed with other MX records",
        "A null MX must be the only MX record (RFC 7505 section 3): remove it, or remove the "
        "others.",
    ),
    _e("mx.ok", OK, "The exchangers resolve to public addresses with confirmed reverse DNS"),
    _e(
        "mx.ptr-mismatch",
        WARN,
        "Reverse DNS of an exchanger address is not forward-confirmed",
        "Make the PTR name of {subject} resolve back to it (an A or AAAA record), or change the "
        "PTR to the exchanger's name.",
    ),
    _e(
        "mx.ptr-missing",
        WARN,
        "An exchanger address has no reverse DNS (PTR) record",
        "Ask whoever holds the address block (usually the ISP or hosting provider) to publish a "
        "PTR record for {subject} that names the exchanger.",
    ),
    _e(
        "mx.ptr-unverified",
        WARN,
        "Reverse DNS of an exchanger address could not be checked",
        "Retry later or ask another DNS server (--server).",
    ),
    _e(
        "mx.servers-differ",
        WARN,
        "The DNS servers asked give different answers",
        "Make internal (split-horizon) and external DNS agree, or check that the server senders "
        "on the Internet ask is the one you expect.",
    ),
    _e(
        "mx.single",
        INFO,
        "Only one exchanger: no backup MX",
        "Optional: add a second MX (higher preference) on another host or network so mail is "
        "queued elsewhere during an outage.",
    ),
    _e(
        "mx.target-nodata",
        FAIL,
        "An MX target has no A or AAAA records",
        "Add an A (and AAAA) record for {subject}, or point the MX record at a host that has them.",
    ),
    _e(
        "mx.target-nxdomain",
        FAIL,
        "An MX target does not exist (NXDOMAIN)",
        "Create A/AAAA records for {subject}, or point the MX record at an existing host.",
    ),
    _e(
        "mx.unreachable",
        FAIL,
        "No exchanger answers with an SMTP greeting",
        "Check the mail servers, firewalls and port forwarding for port 25.",
    ),
    _e(
        "relay.accepts-unknown-recipients",
        INFO,
        "The server accepts made-up recipients (catch-all)",
        "Confirm with --send --to ADDRESS; servers that accept everything and discard later are "
        "not relays (Microsoft KB Q304897).",
    ),
    _e(
        "relay.auth-failed",
        WARN,
        "Authentication for the relay test failed",
        "Check the user name and password (and --auth-mechanism).",
    ),
    _e(
        "relay.auth-relay-allowed",
        INFO,
        "Authenticated users may relay",
        also=(OK,),
        rule=(
            "ok when anonymous relaying is not open, as expected; info when anonymous clients "
            "may relay too"
        ),
    ),
    _e(
        "relay.auth-relay-refused",
        INFO,
        "Relaying is refused even after authentication",
        "If users should send through this server, permit authenticated relaying "
        "(permit_sasl_authenticated).",
    ),
    _e("relay.auth-required", INFO, "The server requires authentication (530)"),
    _e("relay.auth-untested", INFO, "The authenticated relay check did not complete"),
    _e("relay.closed", OK, "Relay to outside domains refused (closed)"),
    _e(
        "relay.data-rejected",
        INFO,
        "The recipient was accepted but the message refused at DATA",
        "Reject unwanted recipients at RCPT time so senders get a clear answer early.",
    ),
    _e(
        "relay.expn-enabled",
        INFO,
        "EXPN expands mailing lists for anonymous clients",
        "Disable EXPN if list members should stay private.",
    ),
    _e(
        "relay.inconclusive",
        WARN,
        "The relay test was inconclusive",
        "Run again later (greylisting, rate limits), with fewer --connections, or from another "
        "network; see the transcript (--transcript FILE).",
    ),
    _e(
        "relay.internal-spoofing",
        WARN,
        "Outside clients may send as your own domain",
        "Filter senders of your own domain on Internet-facing servers (Exchange sender "
        "filtering, Postfix check_sender_access or SPF checks), or require AUTH for them.",
        advisory=True,
    ),
    _e(
        "relay.slow-server",
        INFO,
        "The server answered slowly, which slowed the relay test down",
        "A delay on every reply is a tarpit or a slow filter (DNS lookups, content checks); "
        "senders see it too. If the test ran out of time, run it again with a larger "
        "--session-timeout.",
    ),
    _e("relay.not-tested", INFO, "Some relay variants were not tested (MAIL FROM refused)"),
    _e(
        "relay.open",
        FAIL,
        "The server is an open relay",
        "Allow relaying only for authenticated users and trusted networks (Postfix: "
        "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "
        "reject_unauth_destination; Exchange: keep the default relay restrictions).",
    ),
    _e(
        "relay.rcpt-only",
        INFO,
        "Relaying was judged from the RCPT TO reply only",
        "Confirm with --send --to ADDRESS (a mailbox you read).",
    ),
    _e("relay.reconnects", INFO, "The server ended sessions early during the test"),
    _e(
        "relay.send-accepted",
        FAIL,
        "A real test message was accepted for relaying",
        "Close the relay (see relay.open).",
    ),
    _e("relay.send-not-confirmed", INFO, "The test message (--send) could not confirm the verdict"),
    _e(
        "relay.skipped",
        INFO,
        "Some relay variants were skipped",
        "Give --domain to run the variants that need your own domain; variants that need a name "
        "the server did not reveal cannot run.",
    ),
    _e("relay.spoofing-refused", OK, "Outside mail claiming your own domain is refused"),
    _e(
        "relay.spoofing-untested",
        INFO,
        "Internal spoofing could not be judged",
        "Give --domain with a domain this server receives mail for.",
    ),
    _e(
        "relay.temporary-refusal",
        INFO,
        "Relaying is refused with a temporary (4xx) reply",
        "Nothing to do; use reject_unauth_destination for a permanent refusal.",
    ),
    _e(
        "relay.trusted-network",
        INFO,
        "The test probably ran from a trusted network",
        "Repeat the test from a host outside the server's networks to see what the Internet sees.",
    ),
    _e("relay.vrfy-closed", INFO, "VRFY does not reveal user names"),
    _e(
        "relay.vrfy-enumeration",
        INFO,
        "VRFY reveals which user names exist",
        "Disable VRFY (Postfix: disable_vrfy_command = yes) if that matters to you.",
    ),
    _e("smtp.recipient-not-tested", INFO, "No recipient tested besides postmaster (no --to)"),
    _e("spf.fail-all", OK, "SPF ends in -all: unlisted senders fail"),
    _e(
        "spf.include-invalid",
        FAIL,
        "An included SPF record is broken",
        "The included record is broken (syntax error or several records); ask its owner to fix "
        "it or remove the include.",
    ),
    _e(
        "spf.include-missing",
        FAIL,
        "An include or redirect target has no SPF record",
        "The include/redirect target publishes no SPF record, so receivers return permerror: "
        "correct the name or remove the term.",
    ),
    _e(
        "spf.long-record",
        INFO,
        "The SPF record is long (may not fit a UDP DNS reply)",
        "Keep the SPF answer under about 450 bytes so it fits a UDP DNS reply (RFC 7208 §3.4): "
        "move parts into an included record.",
    ),
    _e(
        "spf.lookup-count",
        OK,
        "How many of the 10 allowed DNS lookups SPF needs",
        also=(INFO,),
        rule=(
            "info when 9 or 10 lookups are needed (close to the limit) or the count is "
            "incomplete; ok otherwise"
        ),
    ),
    _e(
        "spf.loop",
        FAIL,
        "The SPF includes form a loop",
        "Break the include/redirect loop: a record must not include itself, directly or through "
        "other records.",
    ),
    _e(
        "spf.missing",
        WARN,
        "No SPF record",
        "Publish one TXT record at {domain} such as 'v=spf1 mx -all', listing every host that "
        "sends mail as {domain}.",
    ),
    _e(
        "spf.multiple",
        FAIL,
        "Several SPF records, so receivers return permerror",
        "Merge the records into a single 'v=spf1 ...' TXT record; with two or more, receivers "
        "return permerror and ignore SPF.",
    ),
    _e(
        "spf.mx-not-evaluated",
        INFO,
        "The SPF result for an exchanger address is unknown",
        "The SPF result for this address could not be determined here; see the reason, and test "
        "with a live message if needed.",
    ),
    _e(
        "spf.mx-not-permitted",
        WARN,
        "SPF does not permit an exchanger address to send",
        "Exchangers send bounces and forwarded mail as {domain}: add their addresses (for "
        "example with 'mx' or ip4:/ip6:) to the SPF record.",
    ),
    _e("spf.mx-permitted", OK, "SPF permits the exchanger address to send"),
    _e(
        "spf.mx-too-many",
        FAIL,
        "An SPF mx term names more than 10 MX hosts",
        "An mx mechanism may use at most 10 MX host names; list the senders with ip4/ip6 instead.",
    ),
    _e(
        "spf.neutral-all",
        WARN,
        "SPF ends in ?all: no protection against forgery",
        "'?all' gives no protection against forgery: end the record with '~all' or '-all'.",
    ),
    _e(
        "spf.no-all",
        WARN,
        "The SPF record has no 'all' and no redirect",
        "End the record with '-all' (or '~all') so that mail from hosts you did not list is "
        "refused; without it the default result is neutral.",
    ),
    _e(
        "spf.pass-all",
        FAIL,
        "SPF ends in +all: any host may send as the domain",
        "'+all' lets every host on the Internet send as {domain}: replace it with '-all'.",
    ),
    _e(
        "spf.ptr-used",
        WARN,
        "The SPF record uses the ptr mechanism",
        "Replace 'ptr' with ip4/ip6 or 'a' terms: it is slow, unreliable and RFC 7208 §5.5 says "
        "not to use it; many receivers skip it.",
    ),
    _e(
        "spf.redirect-ignored",
        INFO,
        "An SPF redirect is ignored because the record has 'all'",
        "A redirect modifier has no effect in a record with an 'all' mechanism: remove one of "
        "them.",
    ),
    _e(
        "spf.softfail-all",
        INFO,
        "SPF ends in ~all: unlisted senders soft-fail",
        "'~all' asks receivers to accept but mark unlisted senders; once every sender is listed, "
        "'-all' is stronger.",
    ),
    _e(
        "spf.syntax",
        FAIL,
        "The SPF record has syntax errors",
        "Correct the terms named above; a single syntax error makes receivers return permerror "
        "for the whole record.",
    ),
    _e(
        "spf.terms-after-all",
        INFO,
        "SPF terms after 'all' never apply",
        "Terms after 'all' are never evaluated: move them before 'all' or remove them.",
    ),
    _e(
        "spf.too-many-lookups",
        FAIL,
        "SPF needs more than 10 DNS lookups",
        "Bring the DNS-querying terms (include, a, mx, ptr, exists, redirect), counted through "
        "every include, down to 10: replace a/mx with ip4/ip6 ranges, remove unused includes, or "
        "flatten large includes.",
    ),
    _e(
        "spf.too-many-void-lookups",
        FAIL,
        "Too many SPF terms point at names without records",
        "Remove terms that point at names with no records (NXDOMAIN or empty answers); more than "
        "2 of them make receivers return permerror.",
    ),
    _e(
        "spf.unknown-modifier",
        INFO,
        "The SPF record has unknown modifiers",
        "Receivers ignore unknown modifiers; check the name for a typo (redirect=, exp=).",
    ),
    _e("spf.valid", OK, "The SPF record is valid"),
    _e(
        "tls.certificate-untrusted",
        FAIL,
        "The certificate is not trusted",
        "Install a certificate from a CA that senders trust, with the full chain; to see the "
        "certificate and test the rest of the session anyway, run again with --insecure (or "
        "--ca-file for a private CA).",
    ),
    _e(
        "tls.expired",
        FAIL,
        "The certificate has expired",
        "Renew the certificate and reload the mail server.",
    ),
    _e(
        "tls.expires-soon",
        WARN,
        "The certificate expires soon",
        "Renew the certificate now (check that automatic renewal works).",
    ),
    _e(
        "tls.name-mismatch",
        WARN,
        "The certificate does not cover the host name",
        "Issue the certificate for the name clients connect to (the MX host name), or connect "
        "with the name the certificate carries.",
    ),
    _e(
        "tls.name-not-checked",
        INFO,
        "Certificate name not checked (probed by IP address)",
        "Probe the host name senders use (the MX name) to check that the certificate matches it.",
    ),
    _e(
        "tls.not-offered",
        WARN,
        "The server does not offer STARTTLS",
        "Install a certificate for the MX host name and enable STARTTLS (Postfix: "
        "smtpd_tls_security_level = may; Exchange: bind a certificate to SMTP).",
        also=(INFO, FAIL),
        rule=(
            "fail when STARTTLS was required (ehlo --starttls); info when the profile the user "
            "expects (--expect) makes STARTTLS optional; warn otherwise"
        ),
    ),
    _e("tls.ok", OK, "TLS works with a trusted certificate for the name"),
    _e(
        "tls.old-version",
        FAIL,
        "The server negotiated TLS 1.0 or 1.1: insufficient by the NCSC-NL guidelines",
        "Enable TLS 1.2 and 1.3 on the server; TLS 1.0/1.1 are deprecated (RFC 8996).",
    ),
    _e(
        "tlsrpt.bad-uri",
        WARN,
        "A TLS-RPT report address (rua=) is invalid",
        "rua= must list mailto: or https: URIs separated by commas.",
    ),
    _e(
        "tlsrpt.missing",
        INFO,
        "No TLS-RPT record",
        "Publish 'v=TLSRPTv1; rua=mailto:tls-reports@{domain}' at _smtp._tls.{domain} to receive "
        "reports of TLS failures from senders.",
    ),
    _e(
        "tlsrpt.multiple",
        FAIL,
        "Several TLS-RPT records, so senders send no reports",
        "Keep a single 'v=TLSRPTv1' record at _smtp._tls.{domain}; with several, senders send no "
        "reports.",
    ),
    _e(
        "tlsrpt.syntax",
        FAIL,
        "The TLS-RPT record is invalid",
        "Write the record as 'v=TLSRPTv1; rua=mailto:ADDRESS' (or an https:// URL).",
    ),
    _e("tlsrpt.valid", OK, "The TLS-RPT record is valid"),
)

#: The failure classes of the SMTP engine (``mailprobe.smtp.failures``) and the envelope
#: probes of ``check``: the same code for the same server behaviour in every command.
_SMTP_ENTRIES: tuple[CatalogueEntry, ...] = (
    _e(
        "smtp.no-address",
        FAIL,
        "The mail server's name has no address",
        "Publish A (and AAAA) records for {subject}, or point the MX at a name that has them.",
    ),
    _e(
        "smtp.connect-refused",
        FAIL,
        "The SMTP port refuses connections",
        "Start the mail server or make it listen on this address and port; if it runs, look "
        "for a firewall rule that rejects the port.",
    ),
    _e(
        "smtp.connect-timeout",
        FAIL,
        "No TCP connection to the SMTP port within the time limit",
        "Make sure the address is right and that firewalls, security groups and port "
        "forwarding let the SMTP port in from the Internet.",
    ),
    _e(
        "smtp.connect-failed",
        FAIL,
        "The address cannot be reached from here",
        "Check the route to this address (no IPv6 route, network unreachable) from the host "
        "running mailprobe, and that the address is right.",
    ),
    _e(
        "smtp.no-banner",
        FAIL,
        "Connected, but the server never greets (tarpit or stalled proxy)",
        "The port is open, so this is not a firewall block: check the MTA's greeting delay or "
        "tarpit settings, whether it is overloaded, or a proxy, load balancer or IPS in front "
        "of it that accepts connections without passing them on.",
    ),
    _e(
        "smtp.greeting-deferred",
        WARN,
        "The server greets with 421 (busy, or too many connections from this client)",
        "Retry later; if it persists, look at the server's connection and rate limits, or at "
        "whether this client's address is throttled.",
    ),
    _e(
        "smtp.greeting-refused",
        FAIL,
        "The server refuses the session in its greeting (5xx)",
        "Senders get the same refusal: check the server's connection filters, client "
        "blocklists and the address mailprobe runs from.",
    ),
    _e(
        "smtp.not-smtp",
        FAIL,
        "What answers on the SMTP port does not speak SMTP",
        "Something other than a mail server owns this port (a web server, a protocol "
        "mismatch, a broken proxy), or the MTA sends garbage: find the process or device "
        "listening on the port.",
    ),
    _e(
        "smtp.dropped",
        FAIL,
        "The server closed the connection in the middle of the session",
        "Look at the server's log for the reason (a crash, a filter or a connection limit "
        "dropping the client).",
    ),
    _e(
        "smtp.reply-timeout",
        FAIL,
        "The server stopped answering in the middle of the session",
        "Look for a slow content or policy filter (milter, DNS lookups) or an overloaded "
        "server; senders give up the same way.",
    ),
    _e(
        "smtp.service-closing",
        WARN,
        "The server ended the session with 421",
        "Read the reply: a connection limit or rate limit (retry later, or raise the limit) "
        "or the server shutting down.",
    ),
    _e(
        "smtp.out-of-step",
        WARN,
        "The server's replies are out of step with the commands",
        "The server sends replies no command asked for (a second greeting, an extra or late "
        "reply): clients that pipeline commands will misread it. Look for a proxy, filter or "
        "load balancer in front of the MTA that injects or repeats lines.",
    ),
    _e(
        "smtp.hello-refused",
        FAIL,
        "The server refuses both EHLO and HELO",
        "Senders cannot start a transaction either: check the server's HELO restrictions and "
        "the name mailprobe gives (--helo).",
    ),
    _e(
        "smtp.postmaster-accepted",
        OK,
        "The exchanger accepts mail for postmaster of the domain",
    ),
    _e(
        "smtp.postmaster-deferred",
        WARN,
        "The exchanger defers mail for postmaster of the domain (4xx)",
        "A 4xx may be greylisting (retry later); otherwise make the server accept mail for "
        "postmaster@{domain}.",
    ),
    _e(
        "smtp.postmaster-rejected",
        FAIL,
        "The exchanger refuses mail for postmaster of the domain",
        "RFC 5321 requires every domain that takes mail to accept postmaster: create the "
        "mailbox or an alias for postmaster@{domain}, and exempt it from filters.",
    ),
    _e(
        "smtp.domain-not-accepted",
        FAIL,
        "The exchanger does not accept mail for the domain at all (relay denied)",
        "Add {domain} to the accepted domains of this server (Exchange accepted domains, "
        "Postfix mydestination or relay_domains, ...), or correct the MX record.",
    ),
    _e(
        "smtp.mail-rejected",
        FAIL,
        "The server refuses the sender (MAIL FROM)",
        "Check that the sender is allowed: its domain exists, SPF and sender restrictions, "
        "authentication required for it; the null sender <> must always be accepted.",
    ),
    _e(
        "smtp.mail-deferred",
        WARN,
        "The server defers the sender (MAIL FROM, 4xx)",
        "A 4xx is temporary (greylisting, a DNS lookup that failed, a rate limit): retry "
        "later and read the reply text.",
    ),
    _e(
        "smtp.rcpt-accepted",
        OK,
        "The server accepts the recipient",
    ),
    _e(
        "smtp.rcpt-rejected",
        WARN,
        "The server refuses a recipient given with --to",
        "Check the address, that the server accepts mail for its domain, and the relay "
        "rules (authenticate to relay to other domains).",
    ),
    _e(
        "smtp.rcpt-deferred",
        WARN,
        "The server defers a recipient given with --to (4xx)",
        "A 4xx is temporary (greylisting, a lookup that failed, a full mailbox): retry later "
        "and read the reply text.",
    ),
    _e(
        "smtp.data-rejected",
        FAIL,
        "The server refuses the test message (DATA)",
        "The message content or a policy was refused: read the reply text.",
    ),
    _e(
        "smtp.data-queued",
        OK,
        "The server accepted the test message for delivery",
    ),
    _e(
        "smtp.data-deferred",
        WARN,
        "The server defers the test message (DATA, 4xx)",
        "A 4xx is temporary: retry later and read the reply text.",
    ),
    _e(
        "tls.starttls-refused",
        FAIL,
        "The server advertises STARTTLS but refuses it",
        "Senders that want TLS get a refusal: check the certificate and key configured for "
        "SMTP and the TLS settings, or stop advertising STARTTLS.",
    ),
    _e(
        "tls.grade-insufficient",
        FAIL,
        "A TLS setting is insufficient by the NCSC-NL TLS guidelines (mailprobe tls)",
        "Change the setting as the fix of that area says (Postfix main.cf or Windows/Exchange).",
    ),
    _e(
        "tls.grade-phase-out",
        WARN,
        "A TLS setting is to be phased out by the NCSC-NL TLS guidelines (mailprobe tls)",
        "Plan to remove it; it still passes the public mail tests, so this does not change the "
        "exit code.",
        advisory=True,
    ),
    _e("tls.grade-ok", OK, "The TLS posture is good or sufficient by the NCSC-NL guidelines"),
    _e(
        "tls.not-tested",
        INFO,
        "Part of the TLS posture could not be tested from here (said, not guessed)",
    ),
    _e(
        "tls.delivery-note",
        INFO,
        "What DANE (TLSA) or an MTA-STS policy in enforce mode means for a certificate change",
    ),
    _e(
        "tls.handshake-failed",
        FAIL,
        "The TLS handshake fails",
        "Check the certificate and key configured for SMTP, the TLS versions and ciphers "
        "offered, and any proxy in front of the server; senders that insist on TLS cannot "
        "deliver.",
    ),
)

_PORTS_ENTRIES: tuple[CatalogueEntry, ...] = (
    _e(
        "ports.pop3-plain",
        WARN,
        "POP3 without TLS (port 110) is open while POP3 over TLS (995) is not",
        "Offer POP3 over TLS on 995 (or STLS on 110 and require it) and close 110 to the "
        "outside once clients have moved: otherwise passwords travel in the clear.",
        also=(INFO,),
        rule="warn when 995 was probed and is not open; info when 995 is open too, or was "
        "not probed.",
    ),
    _e(
        "ports.imap-plain",
        WARN,
        "IMAP without TLS (port 143) is open while IMAP over TLS (993) is not",
        "Offer IMAP over TLS on 993 (or STARTTLS on 143 and require it) and close 143 to the "
        "outside once clients have moved: otherwise passwords travel in the clear.",
        also=(INFO,),
        rule="warn when 993 was probed and is not open; info when 993 is open too, or was "
        "not probed.",
    ),
    _e(
        "ports.smtp-closed",
        INFO,
        "Port 25 (SMTP) does not accept connections",
        "An MX must accept connections on port 25 from the whole Internet: check that the SMTP "
        "service runs and listens on this address, and the firewall and port forwarding.",
        also=(FAIL,),
        rule="fail with --expect-mx (the host is a domain's exchanger); info otherwise.",
    ),
    _e(
        "ports.submission-no-starttls",
        WARN,
        "The submission port (587) answers SMTP without offering STARTTLS",
        "Install a certificate and enable STARTTLS on the submission service (Postfix: "
        "smtpd_tls_security_level = encrypt in master.cf for submission; Exchange: the client "
        "receive connector's certificate), and require it before AUTH.",
    ),
    _e(
        "ports.unexpected-service",
        WARN,
        "An open port answers with another protocol than the one usual there",
        "Check what listens on the port (a proxy, another server, a port forwarding to the "
        "wrong host): clients configured for the usual service will fail.",
    ),
    _e(
        "ports.no-greeting",
        WARN,
        "An open port whose protocol greets first (SMTP, POP3, IMAP, NNTP) says nothing",
        "A hung service, a tarpit, or a firewall or proxy that accepts the connection and "
        "holds it: check the service on the host and anything in front of it.",
    ),
    _e(
        "ports.tls-failed",
        WARN,
        "The TLS handshake fails on a port that wraps its protocol in TLS",
        "Check the certificate bound to the service and its TLS settings, or whether the port "
        "speaks without TLS (then clients set up for TLS cannot connect).",
    ),
    _e(
        "ports.filtered",
        INFO,
        "Ports that gave no answer at all within the time limit (filtered)",
        "A firewall drops the connection attempts: right for ports that must stay inside; for "
        "a service clients need, open the port (a refusal would at least fail fast).",
    ),
    _e(
        "ports.none-open",
        WARN,
        "No port probed is open (they refuse connections, or give no answer)",
        "The host answers but no mail service listens: check the services run and listen on "
        "this address (not only on 127.0.0.1).",
    ),
)

#: ``mailprobe log``: what a mail-server log shows.
_LOG_ENTRIES: tuple[CatalogueEntry, ...] = (
    _e(
        "log.bounced",
        FAIL,
        "The log shows bounced deliveries (permanent failures)",
        "Read each status code's meaning (mailprobe ndr CODE): 5.1.x is a wrong address, "
        "5.7.x a policy refusal (blocklist, SPF, relay: mailprobe blocklist, check), 5.4.x "
        "routing (mailprobe mx DOMAIN).",
    ),
    _e(
        "log.expired",
        FAIL,
        "Messages stayed deferred until the queue lifetime ran out and were returned",
        "Fix the deferral that kept them (see the deferral reasons): the destination was "
        "unreachable or refused for days; check it with mailprobe mx and ehlo.",
    ),
    _e(
        "log.deferred",
        WARN,
        "The log shows deferred deliveries (temporary failures, retried)",
        "Connection refused or timed out: the destination or outbound port 25 is blocked "
        "(mailprobe outbound, ports); DNS failures: mailprobe mx DOMAIN; 4.7.x: greylisting "
        "or a blocklist (mailprobe blocklist).",
    ),
    _e(
        "log.rejected",
        WARN,
        "The server rejected clients or recipients (SMTP 4xx/5xx replies it sent)",
        "Expected for spam and relay attempts; for a legitimate sender, read the code and "
        "reason (mailprobe ndr CODE) and the restriction that matched.",
    ),
    _e(
        "log.unknown-lines",
        INFO,
        "Some lines are not of the log's format (counted, not parsed)",
        "Normal for other programs' lines in a shared syslog file; only the lines of the "
        "detected format are summarised.",
    ),
    _e(
        "log.unknown-format",
        INFO,
        "No line is of a known mail-log format",
        "Give a Postfix or Exim main log, an Exchange SMTP protocol log (CSV with its "
        "#Fields header) or an IIS SMTP log in W3C format (with its #Fields header).",
    ),
    _e("log.long-lines", INFO, "Some lines were longer than 64 kB and were truncated"),
    _e("log.no-failures", OK, "The log shows no bounce, deferral, expiry or rejection"),
)

CATALOGUE: dict[str, CatalogueEntry] = {
    entry.code: entry for entry in (*_ENTRIES, *_SMTP_ENTRIES, *_PORTS_ENTRIES, *_LOG_ENTRIES)
}


class UnknownFindingError(ValueError):
    """A check tried to report a code or severity the catalogue does not define (a bug)."""


def lookup(code: str) -> CatalogueEntry:
    """The catalogue entry of ``code``; ``UnknownFindingError`` when there is none."""
    try:
        return CATALOGUE[code]
    except KeyError:
        raise UnknownFindingError(f"finding code {code!r} is not in the catalogue") from None


def validate(code: str, severity: Severity) -> None:
    """Refuse a code missing from the catalogue, or a severity its entry does not allow."""
    entry = lookup(code)
    if severity not in entry.severities:
        allowed = ", ".join(s.value for s in entry.severities)
        raise UnknownFindingError(
            f"finding {code!r} cannot be {severity.value} (the catalogue allows {allowed})"
        )


def make(
    code: str,
    summary: str,
    *,
    subject: str = "",
    severity: Severity | None = None,
    fix: str | None = None,
    domain: str = "",
    name: str = "",
) -> Finding:
    """A ``Finding`` for ``code``: the catalogue's severity and fix unless given."""
    from mailprobe.model import Finding

    entry = lookup(code)
    text = entry.fix if fix is None else fix
    text = text.replace("{domain}", domain or "the domain").replace("{name}", name or subject)
    text = text.replace("{subject}", subject or "the host")
    return Finding(
        severity=entry.severity if severity is None else severity,
        code=code,
        summary=summary,
        fix=text,
        subject=subject,
    )


def by_area() -> list[tuple[str, list[CatalogueEntry]]]:
    """The catalogue grouped by area, areas in ``AREAS`` order, codes sorted."""
    groups: dict[str, list[CatalogueEntry]] = {area: [] for area in AREAS}
    for entry in sorted(CATALOGUE.values(), key=lambda e: e.code):
        groups.setdefault(entry.area, []).append(entry)
    return [(area, entries) for area, entries in groups.items() if entries]


def markdown() -> str:
    """docs/findings.md, generated from the catalogue."""
    out = [
        "# Findings",
        "",
        "Every finding code mailprobe can report, generated from the catalogue",
        "(`mailprobe/findings.py`; regenerate with `python -m mailprobe.findings >"
        " docs/findings.md`). The same list is in the tool: `mailprobe findings`, and",
        "`mailprobe findings CODE` for one code.",
        "",
        "Severities: **ok** (good news), **info** (worth knowing), **warn** (a problem that",
        "should be fixed), **fail** (broken). A run with any warn or fail finding exits 1,",
        "except for codes marked *advisory*, which are shown but do not change the exit code",
        "(see [the outcome rule](json.md#exit-codes-and-status)).",
        "",
    ]
    for area, entries in by_area():
        out += [f"## {area}", "", AREAS.get(area, "").capitalize() + ".", ""]
        for entry in entries:
            severities = " or ".join(s.value for s in entry.severities)
            out.append(f'<a id="{entry.anchor}"></a>')
            out.append(f"### `{entry.code}`")
            out.append("")
            head = f"**{severities}**" + (" (advisory)" if entry.advisory else "")
            out.append(f"{head}: {entry.title}.")
            if entry.rule:
                out += ["", f"Severity: {entry.rule}"]
            if entry.fix:
                out += ["", f"Fix: {entry.fix}"]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover - the docs generator
    print(markdown(), end="")
