"""The SMTP engine: one session type (``session``), the failure classes every command shares
(``failures``)."""
