"""``mailprobe tls``: the TLS posture of mail servers, enumerated (sslyze) and graded by the
NCSC-NL guidelines (``grade``); ``scan`` runs the enumeration, ``report`` builds the command's
report, ``model`` holds its result types. Nothing here imports sslyze at import time."""
