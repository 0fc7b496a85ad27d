"""Line parsers of mail-server logs: Postfix, Exim, Exchange protocol logs, IIS SMTP (W3C).

``Parser`` detects the format from the content (never the file name) and turns each line into
an ``Event`` (a delivery outcome, a refused client or recipient, a received message), ``None``
for a line of a known format that says nothing to count, or ``UNKNOWN`` for a line that is not
of the detected format. It keeps only a bounded amount of state (the recipient of the current
SMTP sessions of an Exchange send log, at most ``MAX_SESSIONS``).

Formats:

* ``postfix``: syslog or ``maillog_file`` lines of ``postfix/...[pid]:``; smtpd ``reject:``
  (``NOQUEUE: reject: RCPT from host[addr]: 554 5.7.1 ...; from=<> to=<> ...``), delivery agents'
  ``to=<...>, relay=..., dsn=X.Y.Z, status=sent|deferred|bounced|expired (reason)``, qmgr's
  ``from=<...>, size=N, nrcpt=N`` (a received message).
* ``exim``: mainlog lines ``DATE TIME [pid] ID <=|=>|->|**|==`` and ``rejected RCPT|MAIL|...``.
* ``exchange``: Exchange 2007+ SMTP protocol logs (CSV, ``#Fields: date-time,connector-id,
  session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context``); a 4xx/5xx
  reply of the remote server (send logs, event ``<``) is a deferral or bounce, one sent to a
  client (receive logs, event ``>``) a rejection.
* ``w3c``: IIS / Exchange 2000-2003 SMTP logs in W3C extended format (``#Fields:`` with
  ``cs-method``, ``cs-uri-query``, ``sc-status``); a 4xx/5xx ``sc-status`` is a rejection of a
  client, an ``OutboundConnectionResponse`` with a 4xx/5xx reply a deferral or bounce.
"""

from __future__ import annotations

import csv
import re
from typing import Final, Literal, NamedTuple

Status = Literal["received", "sent", "deferred", "bounced", "expired", "rejected"]
Format = Literal["postfix", "exim", "exchange", "w3c"]

#: Sessions of an Exchange send log whose recipient is remembered at once.
MAX_SESSIONS: Final = 4096
#: The longest reason kept from a line (characters).
MAX_REASON: Final = 300


class Event(NamedTuple):
    """One thing a log line says happened (a NamedTuple: millions are made, none kept)."""

    status: Status
    time: str
    #: Queue or message id, Exchange session id ('' when none).
    queue_id: str = ""
    sender: str = ""
    recipient: str = ""
    #: The remote server (relay host of a delivery) or the client (of a rejection).
    host: str = ""
    address: str = ""
    reply_code: str = ""
    status_code: str = ""
    reason: str = ""
    #: Which part of the server wrote it: postfix/smtp, exim, a connector name.
    agent: str = ""


class _Unknown:
    """The marker of a line that is not of the detected format."""


UNKNOWN: Final = _Unknown()
LineResult = Event | None | _Unknown

_STATUS_IN_TEXT = re.compile(r"(?<![0-9A-Za-z.])([245]\.[0-9]{1,3}\.[0-9]{1,3})(?![0-9])")
_REPLY_AT_START = re.compile(r"^\s*([45][0-9][0-9])(?:[ -]|$)")
_REPLY_SAID = re.compile(r"said: ([2-5][0-9][0-9])[ -]")


def status_code_in(text: str) -> str:
    match = _STATUS_IN_TEXT.search(text)
    return match[1] if match else ""


def clip(text: str, limit: int = MAX_REASON) -> str:
    """A reason cut to ``limit`` characters (display cleaning happens in the renderer)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def domain_of(address: str) -> str:
    """The domain of an address, lower case ('' when there is none)."""
    at = address.rfind("@")
    return address[at + 1 :].lower() if at >= 0 else ""


# -- Postfix ----------------------------------------------------------------------------------

_PF_PROGRAM = re.compile(r" (postfix[^\s/\[]*/[^\s\[]+)\[[0-9]+\]: ")
_PF_DELIVERY = re.compile(
    r"(?:([0-9A-Za-z]+): )?to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]*), "
    r".*?dsn=([0-9.]+), status=([a-z]+)(?: \((.*)\))?"
)
_PF_RELAY = re.compile(r"^([^\[]*)(?:\[([^\]]*)\])?")
_PF_REJECT = re.compile(
    r"(?:([0-9A-Za-z]+): )?reject: (\S+) from ([^\[\s]*)\[([^\]]*)\](?::[0-9]+)?: "
    r"([45][0-9][0-9])(?: ([45]\.[0-9]{1,3}\.[0-9]{1,3}))? (.*?)"
    r"(?:; from=<([^>]*)>(?: to=<([^>]*)>)?.*)?$"
)
_PF_EXPIRED = re.compile(r"([0-9A-Za-z]+): from=<([^>]*)>, status=expired, (.*)$")
_PF_FROM = re.compile(r"([0-9A-Za-z]+): from=<([^>]*)>, size=")
_PF_STATUSES: dict[str, Status] = {
    "sent": "sent",
    "deferred": "deferred",
    "bounced": "bounced",
    "expired": "expired",
}


def _time(line: str) -> str:
    """The time stamp at the start of a syslog line (RFC 3164 or RFC 3339)."""
    if line[:1].isdigit():
        end = line.find(" ")
        return line[:end] if end > 0 else ""
    return line[:15]


def parse_postfix(line: str) -> LineResult:
    """One Postfix log line."""
    if "status=" not in line and "reject: " not in line and "nrcpt=" not in line:
        # nothing to count (connect, client=, message-id, removed, ...): a Postfix line or not
        return None if " postfix" in line and "]: " in line else UNKNOWN
    program = _PF_PROGRAM.search(line)
    if program is None:
        return UNKNOWN
    message = line[program.end() :]
    agent = program[1]
    if "status=" in message:
        match = _PF_DELIVERY.match(message)
        if match is None:
            expired = _PF_EXPIRED.match(message)
            if expired:  # qmgr: the queue lifetime ran out
                return Event(
                    "expired", _time(line), expired[1], expired[2], reason=expired[3], agent=agent
                )
            return None
        status = _PF_STATUSES.get(match[5])
        if status is None:
            return None
        reason = match[6] or ""
        relay = _PF_RELAY.match(match[3])
        host, address = (relay[1], relay[2] or "") if relay else (match[3], "")
        said = _REPLY_SAID.search(reason)
        if host == "none" and reason.startswith("connect to "):
            target = _PF_RELAY.match(reason[11:])  # connect to host[addr]:port: why
            if target:
                host, address = target[1], target[2] or ""
        return Event(
            status,
            _time(line),
            match[1] or "",
            "",
            match[2],
            host,
            address,
            said[1] if said else "",
            match[4],
            clip(reason),
            agent,
        )
    if "reject: " in message:
        match = _PF_REJECT.match(message)
        if match is None:
            return None if "reject_warning" in message else _reject_other(line, message, agent)
        return Event(
            "rejected",
            _time(line),
            match[1] or "",
            match[8] or "",
            match[9] or "",
            match[3],
            match[4],
            match[5],
            match[6] or "",
            clip(f"{match[2]}: {match[7]}"),
            agent,
        )
    if "from=<" in message and "nrcpt=" in message:
        received = _PF_FROM.match(message)
        if received:
            return Event("received", _time(line), received[1], received[2], agent=agent)
    return None


def _reject_other(line: str, message: str, agent: str) -> LineResult:
    """A ``reject:`` line of another shape (cleanup header/body checks, ...)."""
    reply = _REPLY_AT_START.search(message[message.find("reject: ") + 8 :])
    return Event(
        "rejected",
        _time(line),
        reply_code=reply[1] if reply else "",
        status_code=status_code_in(message),
        reason=clip(message[message.find("reject: ") + 8 :]),
        agent=agent,
    )


# -- Exim -------------------------------------------------------------------------------------

_EXIM_LINE = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?: [-+][0-9]{4})?) "
    r"(?:\[[0-9]+(?:/[0-9]+)?\] )?(?:([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}) )?(.*)$"
)
_EXIM_HOST = re.compile(r"H=(\(?[^\s\[]*\)?)(?: \([^)]*\))? ?\[([^\]]+)\]")
_EXIM_FROM = re.compile(r"F=<([^>]*)>")
_EXIM_REJECTED = re.compile(
    r"rejected (RCPT|MAIL|EHLO|HELO|DATA|connection|after DATA)\b ?<?([^>:]*)>?:? ?(.*)$"
)
_REPLY_AFTER_COLON = re.compile(r"(?:^|: )([45][0-9][0-9])[ -]")
_EXIM_ARROWS: dict[str, Status] = {"**": "bounced", "==": "deferred", "=>": "sent", "->": "sent"}


def parse_exim(line: str) -> LineResult:
    """One Exim mainlog line."""
    match = _EXIM_LINE.match(line)
    if match is None:
        return UNKNOWN
    time, queue_id, rest = match[1], match[2] or "", match[3]
    flag = rest[:2]
    if queue_id and flag in _EXIM_ARROWS and rest[2:3] == " ":
        status = _EXIM_ARROWS[flag]
        body = rest[3:]
        recipient = body.split(" ", 1)[0].rstrip(":")
        host = _EXIM_HOST.search(body)
        reason = ""
        if status != "sent":
            colon = body.find(": ")
            reason = body[colon + 2 :] if colon >= 0 else body[len(recipient) :].strip()
        reply = _REPLY_AFTER_COLON.search(reason)
        return Event(
            status,
            time,
            queue_id,
            "",
            recipient,
            host[1].strip("()") if host else "",
            host[2] if host else "",
            reply[1] if reply else "",
            status_code_in(reason),
            clip(reason),
            "exim",
        )
    if queue_id and flag == "<=" and rest[2:3] == " ":
        return Event("received", time, queue_id, rest[3:].split(" ", 1)[0], agent="exim")
    if "rejected " in rest:
        rejected = _EXIM_REJECTED.search(rest)
        if rejected:
            host = _EXIM_HOST.search(rest)
            sender = _EXIM_FROM.search(rest)
            reason = rejected[3]
            reply = _REPLY_AT_START.search(reason)
            return Event(
                "rejected",
                time,
                queue_id,
                sender[1] if sender else "",
                rejected[2] if rejected[1] == "RCPT" else "",
                host[1].strip("()") if host else "",
                host[2] if host else "",
                reply[1] if reply else "",
                status_code_in(reason),
                clip(f"{rejected[1]}: {reason}"),
                "exim",
            )
    return None


# -- Exchange 2007+ protocol logs (CSV) ---------------------------------------------------------

EXCHANGE_FIELDS = (
    "date-time",
    "connector-id",
    "session-id",
    "sequence-number",
    "local-endpoint",
    "remote-endpoint",
    "event",
    "data",
    "context",
)
_RCPT_TO = re.compile(r"RCPT TO:\s*<([^>]*)>", re.IGNORECASE)
_ENDPOINT = re.compile(r"^\[?([^\]]*?)\]?(?::[0-9]+)?$")


def _endpoint_address(text: str) -> str:
    match = _ENDPOINT.match(text)
    return match[1] if match else text


class _Exchange:
    def __init__(self, fields: list[str], log_type: str) -> None:
        self.index = {name: i for i, name in enumerate(fields)}
        self.send = "send" in log_type.lower()
        self.receive = "receive" in log_type.lower()
        self.recipients: dict[str, str] = {}

    def _field(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        return row[i] if i is not None and i < len(row) else ""

    def parse(self, line: str) -> LineResult:
        try:
            row = next(csv.reader([line]))
        except (csv.Error, StopIteration):
            return UNKNOWN
        if len(row) < 7:
            return UNKNOWN
        event, data = self._field(row, "event"), self._field(row, "data")
        session = self._field(row, "session-id")
        if event == "-":
            self.recipients.pop(session, None)
            return None
        rcpt = _RCPT_TO.match(data)
        if rcpt:
            if len(self.recipients) >= MAX_SESSIONS and session not in self.recipients:
                self.recipients.pop(next(iter(self.recipients)))
            self.recipients[session] = rcpt[1]
            return None
        reply = _REPLY_AT_START.match(data)
        remote = _endpoint_address(self._field(row, "remote-endpoint"))
        time = self._field(row, "date-time")
        connector = self._field(row, "connector-id")
        # A reply coming in (<) is the remote server's (we are the client: a send log); one
        # going out (>) is ours to a client (a receive log). The header says which when present.
        incoming = event == "<"
        if reply is None:
            if data.startswith("250 2.6.0") and incoming and not self.receive:
                return Event("sent", time, session, "", self.recipients.get(session, ""),
                             remote, remote, "250", "2.6.0", "", connector)  # fmt: skip
            if data.startswith("250 2.6.0") and not incoming and not self.send:
                return Event("received", time, session, agent=connector)
            return None
        code = reply[1]
        as_client = self.send or (incoming and not self.receive)
        if as_client and incoming:
            status: Status = "bounced" if code[0] == "5" else "deferred"
        elif not as_client and not incoming:
            status = "rejected"
        else:
            return None
        return Event(
            status,
            time,
            session,
            "",
            self.recipients.get(session, ""),
            remote,
            remote,
            code,
            status_code_in(data),
            clip(data),
            connector,
        )


# -- IIS / Exchange 2000-2003 SMTP (W3C extended) ----------------------------------------------


_ANGLE = re.compile(r"<([^>]*)>")


class _W3c:
    def __init__(self, fields: list[str]) -> None:
        self.index = {name: i for i, name in enumerate(fields)}
        #: The last RCPT TO of outbound sessions, by remote address.
        self.recipients: dict[str, str] = {}

    def _field(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        value = row[i] if i is not None and i < len(row) else ""
        return "" if value == "-" else value

    def parse(self, line: str) -> LineResult:
        row = line.split()
        if len(row) < 3 or "cs-method" not in self.index:
            return UNKNOWN
        method = self._field(row, "cs-method")
        query = self._field(row, "cs-uri-query").replace("+", " ")
        status = self._field(row, "sc-status")
        time = " ".join(v for v in (self._field(row, "date"), self._field(row, "time")) if v)
        client = self._field(row, "c-ip")
        host = self._field(row, "cs-host") or client
        # Outbound sessions say so in cs-username (the method column is then '-' or a verb).
        user = self._field(row, "cs-username").lower()
        if user.startswith("outbound"):
            method = user
        if method.lower() == "outboundconnectionresponse":
            reply = _REPLY_AT_START.match(query)
            if reply is None:
                return None
            code = reply[1]
            return Event(
                "bounced" if code[0] == "5" else "deferred",
                time,
                "",
                "",
                self.recipients.pop(client, ""),
                host,
                client,
                code,
                status_code_in(query),
                clip(query),
                self._field(row, "s-sitename") or "smtpsvc",
            )
        if method.lower().startswith("outbound"):
            verb = self._field(row, "cs-method").upper()
            if verb == "RCPT":  # remembered for the reply to it (bounded, like Exchange's)
                match = _ANGLE.search(query)
                if len(self.recipients) >= MAX_SESSIONS and client not in self.recipients:
                    self.recipients.pop(next(iter(self.recipients)))
                self.recipients[client] = match[1] if match else ""
            return None
        if status[:1] in ("4", "5") and len(status) == 3 and status.isdigit():
            recipient = ""
            if method.upper() == "RCPT":
                match = _ANGLE.search(query)
                recipient = match[1] if match else ""
            return Event(
                "rejected",
                time,
                "",
                "",
                recipient,
                host,
                client,
                status,
                status_code_in(query),
                clip(f"{method} {query}".strip()),
                self._field(row, "s-sitename") or "smtpsvc",
            )
        return None


# -- detection --------------------------------------------------------------------------------


class Parser:
    """Detects the format on the first line it recognises, then parses every line with it."""

    def __init__(self) -> None:
        self.format: Format | None = None
        self._table: _Exchange | _W3c | None = None
        self._log_type = ""

    def parse(self, line: str) -> LineResult:
        """One line (``self.parse`` becomes the format's own parser once it is known, for
        the formats without headers)."""
        if line[:1] == "#":
            return self._header(line)
        if self.format == "postfix":
            return parse_postfix(line)
        if self.format == "exim":
            return parse_exim(line)
        if self._table is not None:
            return self._table.parse(line)
        for name, parse in (("postfix", parse_postfix), ("exim", parse_exim)):
            result = parse(line)
            if not isinstance(result, _Unknown):
                self.format = name  # type: ignore[assignment]
                self.parse = parse  # type: ignore[method-assign]
                return result
        return UNKNOWN

    def _header(self, line: str) -> LineResult:
        """A ``#`` line: the header of a CSV or W3C log (``#Fields:`` sets the format)."""
        directive, _, value = line[1:].partition(":")
        directive = directive.strip().lower()
        if directive == "log-type":
            self._log_type = value.strip()
        elif directive == "fields":
            value = value.strip()
            if "," in value:
                names = [f.strip().lower() for f in value.split(",")]
                if "event" in names and "data" in names:
                    self.format, self._table = "exchange", _Exchange(names, self._log_type)
                    return None
            else:
                names = value.lower().split()
                if "cs-method" in names:
                    self.format, self._table = "w3c", _W3c(names)
                    return None
            return UNKNOWN
        elif directive in ("software", "version", "date", "remark", "start-date", "end-date"):
            return None
        return None if self._table is not None or directive else UNKNOWN
