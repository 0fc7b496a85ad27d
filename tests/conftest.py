"""Shared pytest set-up: fixtures of tests/support/ are registered as plugins.

Loopback addresses are split between test areas so servers never collide:
127.0.1.x mx/DNS, 127.0.2.x ehlo, 127.0.3.x relay-test, 127.0.4.x check, 127.0.5.x policy,
127.0.9.x the Exim (.1-.4) and Haraka (.11-.14) instances, 127.0.12.x the MSP-scale lab
(tests/support/msp_lab.py), 127.0.14.x the blocklist servers (tests/support/rbldnsd.py),
127.0.16.x the TLS test servers (tests/support/tls_servers.py), 127.0.18.x the `ports`
listeners (tests/integration/test_cli_ports.py), 127.0.23.x the `queue` Postfix instances
(tests/integration/test_cli_queue.py), 127.0.19.x `outbound` (DNS, Postfix exchanger and
smarthosts, listeners; tests/integration/test_cli_outbound.py), 127.0.21.x `log` (a Postfix
instance, an unreachable destination and a scripted peer; tests/integration/test_cli_log.py).
"""

from __future__ import annotations

import importlib.util
import os

from hypothesis import settings

# CI runs every property test on a fixed set of examples (reproducible, no example database);
# a developer's runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

_SUPPORT = (
    "tests.support.dnsserver",
    "tests.support.postfix",
    "tests.support.exim",
    "tests.support.haraka",
    "tests.support.peers",
    "tests.support.certs",
    "tests.support.https",
    "tests.support.msp_lab",
    "tests.support.rbldnsd",
    "tests.support.tls_servers",  # after peers and certs, which it imports
)

pytest_plugins = [name for name in _SUPPORT if importlib.util.find_spec(name) is not None]
