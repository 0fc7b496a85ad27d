"""What each position of a code means on its own: the building blocks of every explanation.

RFC 3463 section 2 gives the classes and subjects of enhanced status codes; RFC 5321 section
4.2.1 gives the meaning of each digit of a basic reply code. The wording is mailprobe's own.
A code missing from the table is still explained from these pieces (a "generic" explanation).
"""

from __future__ import annotations

from typing import NamedTuple

from mailprobe.text import is_digits


class Part(NamedTuple):
    """The short name of one code position and what it tells the reader."""

    name: str
    meaning: str


#: Class digit of an enhanced status code (RFC 3463 section 2).
STATUS_CLASSES: dict[int, Part] = {
    2: Part(
        "Success",
        "The action worked; the code only adds detail about what was done.",
    ),
    4: Part(
        "Persistent transient failure",
        "The message itself is acceptable; the sending server keeps it queued and retries, and "
        "bounces it only if the condition lasts until the queue lifetime ends.",
    ),
    5: Part(
        "Permanent failure",
        "Sending the same message again fails the same way until someone changes the address, "
        "the message or the configuration.",
    ),
}

#: Subject digit of an enhanced status code (RFC 3463 section 2 and the IANA registry).
STATUS_SUBJECTS: dict[int, Part] = {
    0: Part("Other or undefined", "The reporting system gave no more specific category."),
    1: Part(
        "Addressing",
        "Something about an address (recipient or sender) in the envelope is wrong.",
    ),
    2: Part(
        "Mailbox",
        "The recipient address is fine, but the mailbox behind it cannot take the message.",
    ),
    3: Part(
        "Mail system",
        "The receiving mail system as a whole has a problem, not one mailbox.",
    ),
    4: Part(
        "Network and routing",
        "The message could not be routed or carried to the next host (DNS, connections, loops, "
        "queue lifetime).",
    ),
    5: Part(
        "Mail delivery protocol",
        "The SMTP conversation itself went wrong: commands, syntax or limits of the protocol.",
    ),
    6: Part(
        "Message content or media",
        "The content of the message (format, encoding, characters) is the problem.",
    ),
    7: Part(
        "Security or policy",
        "A security rule or policy (relay, authentication, SPF/DKIM/DMARC, TLS, blocklists) "
        "stopped the message.",
    ),
}

UNKNOWN_SUBJECT = Part(
    "Unknown subject",
    "RFC 3463 defines subjects 0 to 7 only; this subject is private to the reporting system.",
)

#: First digit of a basic SMTP reply code (RFC 5321 section 4.2.1).
REPLY_CLASSES: dict[int, Part] = {
    2: Part("Positive completion", "The server did what was asked."),
    3: Part(
        "Positive intermediate",
        "The server accepted the command and now waits for more from the client.",
    ),
    4: Part(
        "Transient negative completion",
        "A temporary refusal: the client should try the same thing again later.",
    ),
    5: Part(
        "Permanent negative completion",
        "A refusal that retrying unchanged will not fix.",
    ),
}

#: Second digit of a basic SMTP reply code (RFC 5321 section 4.2.1).
REPLY_CATEGORIES: dict[int, Part] = {
    0: Part("Syntax", "About command syntax, or a command the server does not implement."),
    1: Part("Information", "A reply to a request for information (status, help)."),
    2: Part("Connections", "About the transmission channel (greeting, closing)."),
    3: Part("Unspecified", "Not assigned a category by RFC 5321."),
    4: Part("Unspecified", "Not assigned a category by RFC 5321."),
    5: Part("Mail system", "About the state of the receiving mail system (mailboxes, storage)."),
}

#: How a table source is labelled in output.
SOURCE_LABELS: dict[str, str] = {
    "rfc3463": "RFC 3463",
    "iana": "IANA registry",
    "rfc5321": "SMTP (RFC 5321)",
    "rfc7504": "SMTP (RFC 7504)",
    "exchange2000": "Exchange 2000/2003",
    "exchange2003": "Exchange 2000/2003",
    "exchange-server": "Exchange Server",
    "exchange-online": "Exchange Online",
    "outlook-com": "Outlook.com",
    "generic-smtp": "Generic SMTP",
}

#: Sources that define a code for everyone (as opposed to one product's use of it).
STANDARD_SOURCES = frozenset({"rfc3463", "iana", "rfc5321", "rfc7504"})


def status_subject(subject: int) -> Part:
    """The subject part for a subject number, or ``UNKNOWN_SUBJECT``."""
    return STATUS_SUBJECTS.get(subject, UNKNOWN_SUBJECT)


def source_label(source: str, reference: str = "") -> str:
    """The label shown next to a meaning, e.g. ``IANA registry (RFC 7372)``."""
    label = SOURCE_LABELS.get(source, source)
    if source == "iana" and reference:
        rfcs = [word.rstrip(",;)") for word in reference.replace("(", " ").split()]
        numbers = [n for n in rfcs if is_digits(n)]
        if numbers:
            return f"{label} (RFC {', RFC '.join(dict.fromkeys(numbers))})"
    return label
