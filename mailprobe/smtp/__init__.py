"""The SMTP engine shared by ``ehlo``, ``relay-test``, ``mx --connect`` and ``check``.

The modules, by responsibility::

    session    SmtpSession, one recorded conversation on aiosmtplib; Reply, reply_category,
               TranscriptLine, StepTiming, CertificateRejected, check_argument
    tls        TlsInfo, what a TLS handshake showed: the certificate decoded
               (decode_der_certificate), summarised (tls_info_from_cert) and checked by name
               (name_matches_certificate)
    redact     Redactor and REDACTED: secrets kept out of transcripts and reports; the
               run's redactor (run_redactor) and redact_tree, the CLI's output boundary
    failures   the failure classes every command shares (kind, wording, finding, exit code)
    replies    what a reply's text says beyond its code (relay denied, ...)
    servers    which mail server software a banner points to (data/server_guesses.toml)

This package imports none of them (import from the modules), so importing a light one such as
``failures`` or ``replies`` loads nothing else; aiosmtplib is imported only when a session
connects.
"""
