"""DNS messages without I/O: building queries and reading responses into ``DnsAnswer`` values.

``_build_query`` writes a query (RD, EDNS0, DO/AD when asked) and its question section;
``_interpret`` reads a dnspython message, following the CNAME chain inside it, and classifies
it (ok, nxdomain, nodata, servfail, refused, error). ``_fast_interpret`` reads responses made
only of common record types (A, AAAA, MX, PTR, CNAME, NS) straight from the wire, without
dnspython, and gives the same answer; ``None`` sends a response to the full parser (which also
reads extended RCODEs such as BADVERS from the OPT record). A CNAME chain that comes back to a
name already in it is an error naming the loop (``CNAME loop: a -> b -> a``), not NODATA.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from mailprobe.dns.answer import DnsAnswer, DnsServer, DnsStatus

_EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: avoids IP fragmentation
_MAX_CNAME_HOPS = 12

RdType = dns.rdatatype.RdataType


# --- queries ---------------------------------------------------------------------------------


def _name_wire(name: str) -> bytes:
    """Uncompressed wire form of a name given as text (absolute; final dot optional)."""
    if name in (".", ""):
        return b"\x00"
    if "\\" in name or not name.isascii():
        encoded = dns.name.from_text(name).to_wire()
        assert encoded is not None
        return encoded
    parts = []
    for label in (name[:-1] if name.endswith(".") else name).split("."):
        if not 0 < len(label) <= 63:
            raise ValueError(f"{name!r}: empty label or label longer than 63 characters")
        parts.append(bytes((len(label),)) + label.encode("ascii"))
    wire = b"".join(parts) + b"\x00"
    if len(wire) > 255:
        raise ValueError(f"{name!r}: longer than 255 octets")
    return wire


_RDTYPES: dict[str, RdType] = {}


def _rdtype(text: str) -> RdType:
    found = _RDTYPES.get(text)
    if found is None:
        found = _RDTYPES[text] = dns.rdatatype.from_text(text)
    return found


def _build_query(name: str, rdtype: int, dnssec: bool) -> tuple[bytes, bytes]:
    """Wire form of a query with id 0 (RD, EDNS0 with our payload size, DO/AD when asked),
    and its question section (to match answers against)."""
    flags = 0x0100 | (0x0020 if dnssec else 0)  # RD, AD
    header = struct.pack("!HHHHHH", 0, flags, 1, 0, 0, 1)
    question = _name_wire(name) + struct.pack("!HH", rdtype, 1)
    opt = b"\x00" + struct.pack("!HHBBHH", 41, _EDNS_PAYLOAD, 0, 0, 0x8000 if dnssec else 0, 0)
    return header + question + opt, question


# --- answers read by dnspython ---------------------------------------------------------------


def _text(name: dns.name.Name) -> str:
    return str(name.to_text(omit_final_dot=True)) or "."


def loop_message(names: tuple[str, ...]) -> str:
    """``CNAME loop: a -> b -> a`` for the names from the query to the repeated one."""
    return "CNAME loop: " + " -> ".join(names)


def _interpret(
    message: dns.message.Message,
    qname: dns.name.Name,
    qtype: RdType,
    server: DnsServer,
) -> tuple[DnsAnswer, bool]:
    """Turn a response into a ``DnsAnswer``, following the CNAME chain inside it; the flag says
    the chain stopped without data and without a SOA (the server did not chase it)."""
    rcode = message.rcode()
    flags = message.flags
    base: dict[str, Any] = {
        "name": _text(qname),
        "rdtype": dns.rdatatype.to_text(qtype),
        "server": server.label,
        "authoritative": bool(flags & dns.flags.AA),
        "authenticated": bool(flags & dns.flags.AD),
        "_server": server,
    }
    chain: list[str] = []
    current = qname
    final = None
    seen = {qname}
    looped = False
    for _hop in range(_MAX_CNAME_HOPS):
        final = _find(message.answer, current, qtype)
        if final is not None or qtype == dns.rdatatype.CNAME:
            break
        cname = _find(message.answer, current, dns.rdatatype.CNAME)
        if cname is None:
            break
        current = cname[0].target
        chain.append(_text(current))
        if current in seen:  # dnspython compares names without regard to case
            looped = True
            break
        seen.add(current)
    if looped and rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        names = (_text(qname), *chain)
        loop = DnsAnswer(status=DnsStatus.ERROR, message=loop_message(names), _loop=names, **base)
        return loop, False
    negative_ttl = _negative_ttl(message)
    if rcode == dns.rcode.NXDOMAIN:
        status = DnsStatus.NXDOMAIN
        return DnsAnswer(status=status, ttl=negative_ttl, cname_chain=tuple(chain), **base), False
    if rcode == dns.rcode.SERVFAIL:
        return DnsAnswer(status=DnsStatus.SERVFAIL, **base), False
    if rcode == dns.rcode.REFUSED:
        return DnsAnswer(status=DnsStatus.REFUSED, **base), False
    if rcode != dns.rcode.NOERROR:
        message_text = f"answer code {dns.rcode.to_text(rcode)}"
        return DnsAnswer(status=DnsStatus.ERROR, message=message_text, **base), False
    if final is None or len(final) == 0:
        open_chain = bool(chain) and negative_ttl is None
        nodata = DnsAnswer(
            status=DnsStatus.NODATA, ttl=negative_ttl, cname_chain=tuple(chain), **base
        )
        return nodata, open_chain
    rdata = tuple(final)
    answer = DnsAnswer(
        status=DnsStatus.OK,
        records=tuple(r.to_text() for r in rdata),
        ttl=final.ttl,
        cname_chain=tuple(chain),
        _rdata=rdata,
        **base,
    )
    return answer, False


def _find(section: list[Any], name: dns.name.Name, rdtype: int) -> Any:
    for rrset in section:
        if rrset.rdtype == rdtype and rrset.name == name:
            return rrset
    return None


def _negative_ttl(message: dns.message.Message) -> int | None:
    for rrset in message.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(min(rrset.ttl, rrset[0].minimum))
    return None


# --- fast path: answers made only of common record types, read without dnspython ----------

_A, _NS, _CNAME, _SOA, _PTR, _MX, _AAAA, _OPT = 1, 2, 5, 6, 12, 15, 28, 41
_FAST_TYPES = frozenset({_A, _NS, _CNAME, _PTR, _MX, _AAAA})
_PLAIN_BYTES = frozenset(range(0x21, 0x7F)) - frozenset(b'"().;\\@$')
_RR_HEADER = struct.Struct("!HHIH")


class _WireError(Exception):
    pass


def _read_name(data: bytes, offset: int) -> tuple[list[bytes], int]:
    """Labels of the (possibly compressed) name at ``offset`` and the offset after it."""
    labels: list[bytes] = []
    end = -1
    hops = 0
    size = len(data)
    while True:
        if offset >= size:
            raise _WireError("name runs past the end")
        length = data[offset]
        if length >= 0xC0:
            if offset + 1 >= size or hops > 32:
                raise _WireError("bad compression pointer")
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            hops += 1
            continue
        if length > 63:
            raise _WireError("unknown label type")
        offset += 1
        if length == 0:
            break
        labels.append(data[offset : offset + length])
        offset += length
    return labels, (end if end >= 0 else offset)


def _label_text(label: bytes) -> str:
    if all(byte in _PLAIN_BYTES for byte in label):
        return label.decode("ascii")
    out = []
    for byte in label:
        if byte in _PLAIN_BYTES:
            out.append(chr(byte))
        elif 0x21 <= byte < 0x7F:
            out.append("\\" + chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


def _name_text(labels: list[bytes]) -> str:
    """Presentation form with the final dot, as dnspython writes it."""
    return ".".join(_label_text(label) for label in labels) + "."


def _rdata_text(data: bytes, rtype: int, start: int, length: int) -> str:
    if rtype == _A:
        if length != 4:
            raise _WireError("bad A record")
        return socket.inet_ntop(socket.AF_INET, data[start : start + 4])
    if rtype == _AAAA:
        if length != 16:
            raise _WireError("bad AAAA record")
        return socket.inet_ntop(socket.AF_INET6, data[start : start + 16])
    if rtype == _MX:
        (preference,) = struct.unpack_from("!H", data, start)
        labels, end = _read_name(data, start + 2)
        if end != start + length:
            raise _WireError("bad MX record")
        return f"{preference} {_name_text(labels)}"
    labels, end = _read_name(data, start)  # NS, CNAME, PTR
    if end != start + length:
        raise _WireError("bad name record")
    return _name_text(labels)


def _fast_interpret(
    data: bytes, qname: str, qtype: RdType, server: DnsServer
) -> tuple[DnsAnswer, bool] | None:
    """Read a response without dnspython when it holds only A, AAAA, MX, PTR, CNAME and NS
    answers (a batch's hot path); ``None`` means: use the full parser."""
    if int(qtype) not in _FAST_TYPES or "\\" in qname:
        return None
    try:
        if len(data) < 12:
            return None
        _qid, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!6H", data)
        offset = 12
        for _ in range(qdcount):
            _labels, offset = _read_name(data, offset)
            offset += 4
        answers: list[tuple[str, int, int, str]] = []
        for _ in range(ancount):
            labels, offset = _read_name(data, offset)
            rtype, _rclass, ttl, rdlength = _RR_HEADER.unpack_from(data, offset)
            offset += 10
            if rtype not in _FAST_TYPES or offset + rdlength > len(data):
                return None
            owner = ".".join(_label_text(label) for label in labels).lower()
            answers.append((owner, rtype, ttl, _rdata_text(data, rtype, offset, rdlength)))
            offset += rdlength
        negative_ttl = None
        for _ in range(nscount):
            _labels, offset = _read_name(data, offset)
            rtype, _rclass, ttl, rdlength = _RR_HEADER.unpack_from(data, offset)
            offset += 10
            if rtype == _SOA:
                _mname, after = _read_name(data, offset)
                _rname, after = _read_name(data, after)
                minimum = struct.unpack_from("!5I", data, after)[4]
                negative_ttl = min(ttl, minimum)
            offset += rdlength
        for _ in range(arcount):
            _labels, offset = _read_name(data, offset)
            rtype, _rclass, ttl, rdlength = _RR_HEADER.unpack_from(data, offset)
            offset += 10
            if rtype == _OPT and ttl >> 24:
                return None  # an extended RCODE (e.g. BADVERS): the full parser reads it whole
            offset += rdlength
    except (_WireError, struct.error, ValueError, OSError):
        return None
    rcode = flags & 0x000F
    name_text = qname
    type_text = dns.rdatatype.to_text(qtype)
    base: dict[str, Any] = {
        "name": name_text,
        "rdtype": type_text,
        "server": server.label,
        "authoritative": bool(flags & 0x0400),
        "authenticated": bool(flags & 0x0020),
        "_server": server,
    }
    chain: list[str] = []
    current = name_text.lower() if name_text != "." else ""
    final: list[tuple[int, str]] = []
    seen = {current}
    looped = False
    for _hop in range(_MAX_CNAME_HOPS):
        final = [
            (ttl, text)
            for owner, rtype, ttl, text in answers
            if owner == current and rtype == qtype
        ]
        if final or qtype == _CNAME:
            break
        alias = next(
            (text for owner, rtype, _t, text in answers if owner == current and rtype == _CNAME),
            None,
        )
        if alias is None:
            break
        chain.append(alias.rstrip(".") or ".")
        current = alias.rstrip(".").lower()
        if current in seen:
            looped = True
            break
        seen.add(current)
    if looped and rcode in (0, 3):
        names = (name_text, *chain)
        loop = DnsAnswer(status=DnsStatus.ERROR, message=loop_message(names), _loop=names, **base)
        return loop, False
    if rcode == 3:
        answer = DnsAnswer(
            status=DnsStatus.NXDOMAIN, ttl=negative_ttl, cname_chain=tuple(chain), **base
        )
        return answer, False
    if rcode == 2:
        return DnsAnswer(status=DnsStatus.SERVFAIL, **base), False
    if rcode == 5:
        return DnsAnswer(status=DnsStatus.REFUSED, **base), False
    if rcode != 0:
        return None  # let the full parser name the code (and read extended codes)
    if not final:
        open_chain = bool(chain) and negative_ttl is None
        nodata = DnsAnswer(
            status=DnsStatus.NODATA, ttl=negative_ttl, cname_chain=tuple(chain), **base
        )
        return nodata, open_chain
    records = tuple(dict.fromkeys(text for _ttl, text in final))
    answer = DnsAnswer(
        status=DnsStatus.OK,
        records=records,
        ttl=min(ttl for ttl, _text_ in final),
        cname_chain=tuple(chain),
        _wire=data,
        _question=(name_text, type_text),
        **base,
    )
    return answer, False
