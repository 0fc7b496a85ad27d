"""What a reply's text says beyond its code: the reply-text rules every command shares."""

from __future__ import annotations

import re

# "Relay access denied" (Postfix), "relay not permitted" (Exim), "Unable to relay" (Exchange),
# "Relaying denied" (Sendmail), "relay not allowed", "we do not relay" ...
_RELAY_DENIED = re.compile(
    r"relay(ing)?\s+(access\s+)?(denied|not\s+(permitted|allowed)|prohibited|refused)"
    r"|(unable|not\s+(permitted|allowed))\s+to\s+relay|do(es)?\s+not\s+relay|no\s+relay",
    re.IGNORECASE,
)


def says_relay_denied(text: str) -> bool:
    """Whether a refusal says the server does not relay for this recipient's domain."""
    return _RELAY_DENIED.search(text) is not None
