"""events: recognise the Postfix log lines maillog-sasl uses and take their fields apart.

SUMMARY
    smtpd_kind(text) -> CONNECT | DISCONNECT | AUTH_FAILURE | TLS | CLIENT | REJECT | SIZE_LIMIT
                        | ACTION | PROXY_CLIENT | PROXY_REPLY | None
    recognize(daemon, text) -> event | None
    read_trimmed(parser, text) -> parser(text without whitespace after its end) | None
    queue_id_of(text) -> str | None
    queued_as_in(reply) -> NEWQID | None  (`... queued as NEWQID`)
    named_last(text) -> NEWQID | None  (a delivery's reply whose last word is a queue ID)
    is_loopback(ip), names_loopback(text)  (a content filter's address; named in a line)
    qmgr_event(queue_id, body), cleanup_event(queue_id, body) -> event | None  (a line cut at
        its first ": ", as the correlator cuts it)
    requeued_event(text) -> Requeued(queue_id, orig_id) | None  (pickup reading a message
        `postsuper -r` requeued)
    pickup_event(text) -> (queue_id, sender) | None  (pickup reading what sendmail queued)
    scanner_requeue_event(text) -> Requeued | None  (MailScanner writing a held message back)
    notice_failure_of(body) -> QID | None  (bounce's warning that QID's notice was not queued)
    cleanup_message_id(queue_id, body) -> str | None  (cleanup_event()'s MessageId, no event;
        MESSAGE_ID, MESSAGE_ID_VALUE and MESSAGE_ID_STRIP read it)
    delivery_peek(text) -> (recipient, orig_to, status) | None
    PLAIN_QUEUE_ACTIVE, PLAIN_PEEK, STATUS_OUTCOMES  (the common shapes the correlator reads
        inline, as qmgr_event() and delivery_peek() read them)
    plain_login(text) -> (queue_id, address, name, ip, port, method, username, sender) | None
        (a login's client= line of the plain shape, as smtpd_client_event() reads it)
    OUTCOMES: sent, deferred, bounced, expired, rejected (SENT, DEFERRED, ... as constants)

DESCRIPTION
    Input is a Postfix daemon's name and the message text of one of its lines (syslog.py cut
    them out). One function per line shape, each following the format string Postfix writes it
    with (docs/postfix-log-reference.md §1, §2, §5): smtpd's connect, disconnect (counters as
    key=value), TLS, `client=` (split on its known `, key=` markers, never on \\S+, so a
    username followed by `, sasl_sender=` keeps no comma), SASL failures (and anvil's refusal of
    an AUTH, `warning: AUTH command rate limit exceeded: ...`, one of no mechanism), rejects,
    the refusal of a message over message_size_limit, anvil's rate limits (`warning: Message
    delivery request rate limit exceeded: ...`, a Reject at MAIL or RCPT of no sender and an
    empty recipient, the reply smtpd gave its reason), holds and discards (an access table's
    or a milter's HOLD or DISCARD, NOQUEUE or with the queue ID: a Hold or a Discard event, its
    recipient the line's `to=`, its reason the text), and under a before-queue filter
    (smtpd_proxy_filter) its `NOQUEUE: client=` (a Client of queue ID NOQUEUE) and the filter's
    reply to a message (`proxy-accept: ` or `proxy-reject: `, a ProxyReply: the reply, its
    envelope, the queue ID it names as `queued as QID`) and its refusal of a recipient
    (`warning: proxy F rejected "RCPT TO:<a>": "REPLY"`, a Reject of no client and no sender);
    cleanup's message-id, and its holds, discards and refusals of a whole message
    (header/body_checks, a milter's, milter_header_checks: a Hold, a Discard or a Reject, with the
    sender and the one recipient the line names, the reason what matched and the text); qmgr's
    `from=` (queue active), expiry and removal; every delivery agent's `to=..., status=` line, and
    qmgr's own; bounce's notification links; pickup's line for a message `postsuper -r` requeued,
    which names the queue ID it had. Output: events, small named tuples whose `kind` names them.

    smtpd_kind() is the one dispatcher of smtpd lines: the correlator asks it first and parses
    only the lines of sessions it tracks (SMTPD_PARSERS has the parser of each kind);
    recognize() parses through the same dispatch. A new smtpd line shape is added here, and the
    annotated corpus (tests/corpus) tests it on the path the correlator runs.

    The daemon is the last component of the syslog program name (smtpd from
    postfix/submission/smtpd): syslog_name is the admin's choice and never hard-coded.

    The correlator looks first at the queue ID alone (most queue-file lines belong to messages
    it does not track, and are dropped before any field is parsed; qmgr's and cleanup's lines
    of the messages it tracks are read from that cut), and follows delivery retries with
    delivery_peek(), reading the rest of a delivery line (delivery_details) only
    when a report asks for its details.

    Whitespace after a line's end (an edited log, a relay's template) is not the line's: the
    last field of cleanup's message-id and actions, of a delivery line's text, of smtpd's
    rejects, holds, discards and size-limit warning leaves it out, and read_trimmed() reads a
    line its parser did not know again without it (qmgr's `removed`, bounce's notices), so that
    no other line pays for a test. So do smtpd's SASL failure line (its reason and the username
    after it) and client= line (the username, sasl_sender or orig_client last: the plain-shape
    match declines a line that ends in whitespace, and client_event() reads it without): an
    account name a SASL server accepts holds no blank (Dovecot's auth_username_chars), and one
    user must not be two for a relay's trailing space.

    PLAIN_PEEK, _PLAIN_DELIVERY and _PLAIN_AUTH_FAILURE write an optional part `(?:X|)`, not
    `(?:X)?`: the same match, tried in the same order, but sre runs a `?` over a group through
    its repeat machinery, 100-200 instructions more a line for each (benchmarks/README.md).
    (_PLAIN_CLIENT, whose parts the tests' oracle of plain_login() shares, is not measured so
    yet, and keeps `?`.)

DIAGNOSTICS
    Pure functions of a line. A line of a known daemon in a shape not listed here (or cut short)
    gives None, and is counted as unused by the caller; nothing here raises on input.
"""

from __future__ import annotations

import functools
import re
from typing import Final, List, NamedTuple, Optional, Tuple

from mypy_extensions import mypyc_attr

# The recipients qmgr counts are reported one by one until an agent logs them, so a corrupt
# nrcpt must not set the run time: smtpd takes 1,000 per message by default
# (smtpd_recipient_limit), and a count of more than six digits is taken for no count at all.
NRCPT_DIGITS = 6
# A count or size Postfix logs has at most this many digits. A longer field is attacker text or
# damage, read as no number: int() refuses more than 4,300 digits (Python 3.11, and 3.9 and
# 3.10 since their security releases), and a traceback is no answer to a line.
NUMBER_DIGITS = 18

# A recipient's outcome: the status words Postfix logs for a delivery attempt, and `rejected`
# (refused at RCPT, or with its whole message). Every stage names outcomes by these constants.
SENT, DEFERRED, BOUNCED, EXPIRED, REJECTED = "sent", "deferred", "bounced", "expired", "rejected"
OUTCOMES = (SENT, DEFERRED, BOUNCED, EXPIRED, REJECTED)
# Outcomes no later line changes (deferred is retried).
FINAL_OUTCOMES = frozenset((SENT, BOUNCED, EXPIRED, REJECTED))

DELIVERY_AGENTS = frozenset(("smtp", "lmtp", "local", "virtual", "pipe", "error", "retry",
                             "discard"))
# Status words of address verification probes, which are not real mail.
PROBE_STATUSES = frozenset(("deliverable", "undeliverable", "undeliverable-but-not-cached"))
# The outcome of each status word a delivery line can carry. SOFTBOUNCE is what Postfix logs
# for a bounce under soft_bounce=yes: the mail stays in the queue, deferred. The values are the
# constants above: one string object per outcome, however many recipients keep one.
STATUS_OUTCOMES = {SENT: SENT, DEFERRED: DEFERRED, BOUNCED: BOUNCED, EXPIRED: EXPIRED,
                   "SOFTBOUNCE": DEFERRED}
# A status word we do not know (a newer Postfix, a line cut inside the word): the recipient is
# counted as still deferred, and its reason names the word.
UNKNOWN_STATUS = "unknown status"


# Each event is a named tuple (its fields) under a subclass that adds the class attribute `kind`.
# Type checkers accept only fields and methods in a NamedTuple body, and an annotated `kind`
# there would become a field. The subclass keeps `event.kind` a plain class attribute (no call
# per access, readable on the class too), adds no field to _asdict(), and with empty __slots__
# keeps each event as small as a bare tuple.
class _ConnectFields(NamedTuple):
    client_name: str
    client_ip: str
    client_port: Optional[str]


@mypyc_attr(native_class=False)
class Connect(_ConnectFields):
    __slots__ = ()
    kind = "connect"


class _DisconnectFields(NamedTuple):
    client_name: str
    client_ip: str
    counters: dict  # name -> (ok, total), e.g. {"auth": (1, 2)}


@mypyc_attr(native_class=False)
class Disconnect(_DisconnectFields):
    __slots__ = ()
    kind = "disconnect"


class _TlsFields(NamedTuple):
    client_ip: str
    protocol: str
    cipher: str


@mypyc_attr(native_class=False)
class Tls(_TlsFields):
    __slots__ = ()
    kind = "tls"


class _AuthFailureFields(NamedTuple):
    client_name: str
    client_ip: str
    client_port: Optional[str]
    mechanism: str
    reason: str
    username: Optional[str]


@mypyc_attr(native_class=False)
class AuthFailure(_AuthFailureFields):
    __slots__ = ()
    kind = "auth_failure"


class _ClientFields(NamedTuple):
    queue_id: str
    client_name: str
    client_ip: str
    client_port: Optional[str]
    sasl_method: Optional[str]
    sasl_username: Optional[str]
    sasl_sender: Optional[str]
    orig_queue_id: Optional[str]
    orig_client: Optional[str]


@mypyc_attr(native_class=False)
class Client(_ClientFields):
    __slots__ = ()
    kind = "client"


class _RejectFields(NamedTuple):
    queue_id: Optional[str]  # None for NOQUEUE
    stage: str  # RCPT, MAIL, DATA, END-OF-MESSAGE, ...
    client_ip: str
    code: str
    dsn: str
    reason: str
    sender: Optional[str]
    recipient: Optional[str]
    sasl_username: Optional[str]  # Postfix >= 3.10 appends it


@mypyc_attr(native_class=False)
class Reject(_RejectFields):
    __slots__ = ()
    kind = "reject"


class _ActionFields(NamedTuple):
    queue_id: Optional[str]  # None for NOQUEUE
    sender: Optional[str]
    recipient: Optional[str]  # the one the line names (Postfix logs one per message and action)
    reason: str  # the log's text: `<a@b>: SASL login name compromised account`, ...


@mypyc_attr(native_class=False)
class Hold(_ActionFields):
    __slots__ = ()
    kind = "hold"


@mypyc_attr(native_class=False)
class Discard(_ActionFields):
    __slots__ = ()
    kind = "discard"


class _ProxyReplyFields(NamedTuple):
    accepted: bool  # proxy-accept; proxy-reject: the message was refused
    stage: str  # END-OF-MESSAGE
    dsn: str
    reply: str  # the filter's reply as smtpd logged it: `250 2.0.0 Ok: queued as 1FEB7E00C4`
    sender: Optional[str]
    recipient: Optional[str]  # the transaction's first (Postfix logs one)
    queued_as: Optional[str]  # the Postfix queue ID a proxy-accept's reply names


@mypyc_attr(native_class=False)
class ProxyReply(_ProxyReplyFields):
    __slots__ = ()
    kind = "proxy_reply"


class _MessageIdFields(NamedTuple):
    queue_id: str
    message_id: str


@mypyc_attr(native_class=False)
class MessageId(_MessageIdFields):
    __slots__ = ()
    kind = "message_id"


class _QueueActiveFields(NamedTuple):
    queue_id: str
    sender: str
    size: Optional[int]
    nrcpt: Optional[int]


@mypyc_attr(native_class=False)
class QueueActive(_QueueActiveFields):
    __slots__ = ()
    kind = "queue_active"


class _ExpiredFields(NamedTuple):
    queue_id: str
    sender: str


@mypyc_attr(native_class=False)
class Expired(_ExpiredFields):
    __slots__ = ()
    kind = "expired"


class _RemovedFields(NamedTuple):
    queue_id: str


@mypyc_attr(native_class=False)
class Removed(_RemovedFields):
    __slots__ = ()
    kind = "removed"


class _RequeuedFields(NamedTuple):
    queue_id: str
    orig_id: str


@mypyc_attr(native_class=False)
class Requeued(_RequeuedFields):
    __slots__ = ()
    kind = "requeued"


class _DeliveryFields(NamedTuple):
    queue_id: str
    recipient: str
    orig_to: Optional[str]
    relay: str
    delay: Optional[str]
    dsn: str
    status: str
    reason: str


@mypyc_attr(native_class=False)
class Delivery(_DeliveryFields):
    __slots__ = ()
    kind = "delivery"


class _NoticeFields(NamedTuple):
    queue_id: str
    notice_queue_id: str
    notice: str  # "sender non-delivery", "sender delay", "postmaster non-delivery", ...


@mypyc_attr(native_class=False)
class Notice(_NoticeFields):
    __slots__ = ()
    kind = "notice"


class _ContentRejectFields(NamedTuple):
    queue_id: str
    action: str  # reject
    reason: str


@mypyc_attr(native_class=False)
class ContentReject(_ContentRejectFields):
    __slots__ = ()
    kind = "content_reject"


# The events the correlator makes by the thousand are built with tuple.__new__ itself: a named
# tuple's own __new__ is a Python function around it, and costs as much again.
_event = tuple.__new__


def queue_id_of(text: str) -> Optional[str]:
    """`A4FCE204384E: to=<...` -> `A4FCE204384E`; None when the text has no queue ID prefix."""
    colon = text.find(": ", 5, 24)
    if colon < 0:
        return None
    queue_id = text[:colon]
    # ASCII only: str.isalnum() takes "ＡＢ１２３" too, which postsuper would not.
    if not (queue_id.isascii() and queue_id.isalnum()) or queue_id == "NOQUEUE":
        return None
    return queue_id


def is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1"


def names_loopback(text: str) -> bool:
    """Whether a line's text names a loopback address in brackets (`localhost[127.0.0.1]`,
    `relay=127.0.0.1[127.0.0.1]:10024`, `[::1]`): a content filter's client or relay, told
    without parsing the line (it may name another address too; the caller parses then)."""
    return "[127." in text or "[::1]" in text


def split_address(address: str) -> Tuple[str, str, Optional[str]]:
    """`name[ip]` or `name[ip]:port` -> (name, ip, port)."""
    open_bracket = address.find("[")
    close_bracket = address.rfind("]")
    if open_bracket < 0 or close_bracket < open_bracket:
        return address, "", None
    port = (address[close_bracket + 2:]
            if address[close_bracket + 1:close_bracket + 2] == ":" else None)
    return address[:open_bracket], address[open_bracket + 1:close_bracket], port or None


# A disconnect's counters read for one counter: a server's sessions log a few hundred texts
# over and over (`ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8`), and a
# text read before is looked up, 9x cheaper than reading it again. Only texts this short are
# kept: a forged line's 64 kB text, a thousand of them, would hold 64 MB for a watch's life.
COUNTERS_KEPT = 1_024
COUNTERS_TEXT_KEPT = 256


def counter(text: str, name: str) -> Optional[Tuple[int, int]]:
    """One counter (ok, total) out of the counters text, without reading the others."""
    if len(text) > COUNTERS_TEXT_KEPT:
        return _read_counter(text, name)
    return _kept_counter(text, name)


def _read_counter(text: str, name: str) -> Optional[Tuple[int, int]]:
    at = (" " + text).find(" " + name + "=")
    if at < 0:
        return None
    value = text[at + len(name) + 1:].split(" ", 1)[0]
    ok, slash, total = value.partition("/")
    if not _count(ok) or (slash and not _count(total)):
        return None
    return int(ok), int(total) if slash else int(ok)


def _count(digits: str) -> bool:
    return digits.isdecimal() and len(digits) <= NUMBER_DIGITS


_kept_counter = functools.lru_cache(maxsize=COUNTERS_KEPT)(_read_counter)


def parse_counters(text: str) -> dict:
    """`ehlo=1 auth=0/3 quit=1 commands=2/5` -> {"ehlo": (1, 1), "auth": (0, 3), ...}: read as
    key=value pairs, never by position; `notes=bare_lf` and the like are not counters."""
    counters = {}
    for word in text.split(" "):
        name, equals, value = word.partition("=")
        if not equals:
            continue
        ok, slash, total = value.partition("/")
        if _count(ok) and (not slash or _count(total)):
            counters[name] = (int(ok), int(total) if slash else int(ok))
    return counters


# What an smtpd line is, told apart by its first characters; each is parsed by the function of
# the same name below (SMTPD_PARSERS). The correlator asks smtpd_kind() first and parses only
# the lines of sessions it tracks; recognize() parses every line: both dispatch here alone.
CONNECT, DISCONNECT, AUTH_FAILURE, TLS, CLIENT, REJECT, SIZE_LIMIT, ACTION = (
    "connect", "disconnect", "auth_failure", "tls", "client", "reject", "size_limit", "action")
# A before-queue content filter (smtpd_proxy_filter): smtpd opens no queue file, and logs its
# client= line as NOQUEUE (smtpd.c, "%s: client=%s..." with "NOQUEUE" for no queue ID) and the
# filter's answer to the message as `proxy-accept: ` or `proxy-reject: ` (smtpd.c,
# "proxy-%s: %s: %s;%s").
PROXY_CLIENT, PROXY_REPLY = "proxy_client", "proxy_reply"
_PROXY_CLIENT_PREFIX = "NOQUEUE: client="
_PROXY_REPLY_PREFIXES = ("proxy-accept: ", "proxy-reject: ")
# The filter's refusal of a command smtpd passed on to it (smtpd_proxy.c's
# smtpd_proxy_cmd_warn(), `proxy %s rejected "%s": "%s"`: the filter, the command as the
# client sent it, the filter's reply), which smtpd then gives the client: of a RCPT, the
# recipient refused; it has no other line.
PROXY_REFUSAL = "proxy_refusal"
_PROXY_REFUSAL_PREFIX = "warning: proxy "
# anvil's limits per client (smtpd_client_message_rate_limit, smtpd_client_recipient_rate_limit):
# smtpd refuses the MAIL or RCPT with `450 4.7.1 Error: too much mail from IP` (`too many
# recipients from IP`) and logs only a warning, `%s rate limit exceeded: %d from %s for service
# %s` (smtpd.c mail_cmd(), rcpt_cmd(); NAME[IP], with smtpd_client_port_logging NAME[IP]:PORT):
# the stage, and the reply the client got (to its IP), by the warning's words. vrfy_cmd()
# checks the recipient limit too, with the same reply and warning: no word of it names the
# command (correlate.py tells a VRFY's by the session's counters).
RATE_LIMIT = "rate_limit"
RCPT_RATE_LIMITED: Final = "450 4.7.1 Error: too many recipients from "
RATE_LIMITS: Final = {
    "warning: Message delivery request rate limit exceeded: ": (
        "MAIL", "450 4.7.1 Error: too much mail from "),
    "warning: Recipient address rate limit exceeded: ": ("RCPT", RCPT_RATE_LIMITED),
}
_RATE_LIMIT_PREFIXES = tuple(RATE_LIMITS)
# smtpd_client_auth_rate_limit (Postfix >= 3.1, smtpd.c smtpd_sasl_auth_cmd_wrapper()) refuses
# an AUTH before the SASL server sees it, `450 4.7.1 Error: too many AUTH commands from IP`,
# with the same warning: a failed AUTH (the disconnect's `auth=0/N` counts it failed) of no
# mechanism or username logged, the reply its reason, an AuthFailure as the SASL warnings are.
# The limits at CONNECT (`Connection concurrency limit exceeded`, `Connection rate limit
# exceeded`) and at the TLS handshake (`New TLS session rate limit exceeded`) end a session
# before any AUTH: like a `NOQUEUE: reject: CONNECT`, no login's and not read.
AUTH_RATE_LIMIT: Final = "warning: AUTH command rate limit exceeded: "
AUTH_RATE_LIMIT_REASON: Final = "450 4.7.1 Error: too many AUTH commands from "
TLS_MARKER = " TLS connection established from "
_TLS_MARKER_FIRST = TLS_MARKER[1:]
_REJECT_PREFIXES = ("reject: ", "milter-reject: ")
_NOQUEUE_REJECT_PREFIXES = ("NOQUEUE: reject: ", "NOQUEUE: milter-reject: ")
# An access table's HOLD or DISCARD (smtpd_check.c) or a milter's (smtpd_milter): the client is
# told 250 and the transaction goes on. NOQUEUE when the queue file is not open yet
# (smtpd_delay_open_until_valid_rcpt=yes, the action at the first RCPT).
_DISCARD_PREFIXES = ("discard: ", "milter-discard: ")
_ACTION_PREFIXES = ("hold: ", "milter-hold: ", *_DISCARD_PREFIXES)
_NOQUEUE_ACTION_PREFIXES = tuple(f"NOQUEUE: {prefix}" for prefix in _ACTION_PREFIXES)
# smtpd's warning when a message outgrows message_size_limit in DATA or BDAT (smtpd.c): it
# replies 552 5.3.4 and logs nothing else of that message, so this is its outcome.
SIZE_LIMIT_WARNING = ": queue file size limit exceeded"


# The kinds of line that start with a queue ID (what queue_id_of() takes: 5 to 22 ASCII letters
# and digits, then `: `), by the words after it: one match reads both.
_QUEUE_ID_LINE_KINDS = {"client=": CLIENT, **dict.fromkeys(_REJECT_PREFIXES, REJECT),
                        **dict.fromkeys(_ACTION_PREFIXES, ACTION)}
_QUEUE_ID_LINE = re.compile(r"[0-9A-Za-z]{5,22}: (%s)"
                            % "|".join(map(re.escape, _QUEUE_ID_LINE_KINDS)))


def smtpd_kind(text: str) -> Optional[str]:
    """The kind of smtpd line `text` is (CONNECT, DISCONNECT, ...), or None for one we never use.

    Prefix tests, one substring search and one short match: every smtpd line comes through here.
    """
    first = text[0] if text else ""  # (an index: no slice object, as text[:1] makes)
    if first == "c" and text.startswith("connect from "):
        return CONNECT
    if first == "d" and text.startswith("disconnect from "):
        return DISCONNECT
    if first == "w":
        # `warning: NAME[IP]: SASL `: no space before `: SASL ` (sasl_failure_at(), which
        # auth_failure_event() asks, reads the client's part).
        if text.startswith(": SASL ", text.find(" ", 9) - 1):
            return AUTH_FAILURE
        if text.startswith(_PROXY_REFUSAL_PREFIX):
            return PROXY_REFUSAL
        if text.startswith(_RATE_LIMIT_PREFIXES):
            return RATE_LIMIT
        if text.startswith(AUTH_RATE_LIMIT):
            return AUTH_FAILURE
        return SIZE_LIMIT if text.rstrip().endswith(SIZE_LIMIT_WARNING) else None
    if first == "N":
        if text.startswith(_NOQUEUE_REJECT_PREFIXES):
            return REJECT
        if text.startswith(_NOQUEUE_ACTION_PREFIXES):
            return ACTION
        return PROXY_CLIENT if text.startswith(_PROXY_CLIENT_PREFIX) else None
    # `Anonymous TLS connection established from ...` (Untrusted, Trusted, Verified; Postfix
    # 2.x starts with `TLS`): the marker after the first word. Anywhere else it is a client's
    # text (a recipient of a `QID: reject:` line, a proxy filter's reply), which made those
    # lines TLS lines.
    marker = text.find(_TLS_MARKER_FIRST)  # (one search, as `in` made: most lines have none)
    if marker >= 0 and (marker == 0 or marker == text.find(" ") + 1):
        return TLS
    queue_line = _QUEUE_ID_LINE.match(text)
    if queue_line is not None:
        return _QUEUE_ID_LINE_KINDS[queue_line[1]]
    # (A text with a queue ID does not start with these: `-` is no queue ID's.)
    return PROXY_REPLY if text.startswith(_PROXY_REPLY_PREFIXES) else None


def smtpd_event(text: str):
    """Any smtpd line we use -> its event, or None."""
    kind = smtpd_kind(text)
    return SMTPD_PARSERS[kind](text) if kind is not None else None


def connect_event(text: str):
    # "connect from NAME[IP]"
    return _event(Connect, split_address(text[13:]))


def disconnect_event(text: str):
    # "disconnect from NAME[IP] ehlo=2 starttls=1 auth=1 quit=1 commands=5"
    address, _, counters = text[16:].partition(" ")
    name, ip, _port = split_address(address)
    return Disconnect(name, ip, parse_counters(counters))


def tls_event(text: str):
    # "Anonymous TLS connection established from NAME[IP]: TLSv1.2 with cipher X (256/256 bits)",
    # with smtpd_client_port_logging "... from NAME[IP]:PORT: TLSv1.3 ..."
    start = text.find(" from ") + 6
    close = text.find("]", start)
    end = text.find(": ", close) if close >= 0 else -1
    if end < 0:
        return None
    ip = split_address(text[start:end])[1]
    words = text[end + 2:].split(" ")
    if len(words) < 4 or words[1] != "with" or words[2] != "cipher":
        return None
    return Tls(ip, words[0], words[3])


# The shape of nearly every SASL failure: NAME[IP] with no bracket or space in them and no
# port, `failed: `, a reason with no comma, not starting with whitespace, a colon or
# `sasl_username=`, then the username the client chose or none; no whitespace at the end.
# auth_failure_event() reads such a line as this one match does (tests/test_plain_shapes.py
# holds the two equal).
_PLAIN_AUTH_FAILURE = re.compile(r"warning: ([^\s\[\]]*)\[([^\s\[\]]*)\]: SASL ([^ ]*) "
                                 r"authentication failed: ((?!sasl_username=)[^\s:,][^,]*)"
                                 r"(?:, sasl_username=(.*)|)(?<!\s)", re.DOTALL)


# What smtpd_sasl_glue.c writes after `sasl_username=` when the SASL server names no username
# (Postfix >= 3.9, and 3.5.22, 3.6.12, 3.7.8, 3.8.3): no name was tried.
NO_USERNAME: Final = "(unavailable)"


def sasl_failure_at(text: str) -> int:
    """Where `: SASL ` stands in `warning: NAME[IP]: SASL ...` (or `NAME[IP]:PORT: SASL ...`),
    or -1 when the text is not of that shape. A client's name is a hostname or `unknown` and
    holds no space, nor does its address: the first space after `warning: ` is the one before
    `SASL`. A warning that quotes the client (`non-SMTP command from NAME[IP]: TEXT`, `Illegal
    address syntax from NAME[IP] in MAIL command: TEXT`) holds `]: SASL ` only later: read as a
    SASL failure, it made failures the client never tried, from addresses of its choosing."""
    space = text.find(" ", 9)
    if space < 0 or text[space - 1] != ":" or not text.startswith("SASL ", space + 1):
        return -1
    close = text.rfind("]", 9, space)
    if close < 0 or "[" not in text[9:close]:
        return -1
    port = text[close + 1:space - 1]  # (`:unknown`: XCLIENT PORT=[UNAVAILABLE])
    return (space - 1 if not port or port[0] == ":" and (port[1:].isdigit() or port == ":unknown")
            else -1)


def auth_failure_event(text: str):
    """`warning: NAME[IP](:PORT)?: SASL MECH authentication failed: REASON(, sasl_username=U)?`
    -> AuthFailure (or anvil's AUTH_RATE_LIMIT warning, of no mechanism). A line of the plain
    shape is read by one match, 2x faster."""
    plain = _PLAIN_AUTH_FAILURE.fullmatch(text)
    if plain is not None:
        name, ip, mechanism, reason, username = plain.groups()
        return _event(AuthFailure, (name, ip, None, mechanism, reason,
                                    None if username == NO_USERNAME else username))
    client_end = sasl_failure_at(text)
    if client_end < 0:
        return _auth_rate_limit_event(text)
    name, ip, port = split_address(text[9:client_end])
    rest = text[client_end + 7:]
    mechanism, _, outcome = rest.partition(" ")
    if outcome.startswith("authentication failed"):
        reason = outcome[21:].lstrip(":").strip()
    elif outcome.startswith("authentication aborted"):
        reason = "aborted"
    else:
        return None
    username = None
    # Postfix writes `, sasl_username=` once, after the SASL library's reason: the first one
    # ends the reason, and everything after it is the name the client chose, commas and all.
    cut = reason.find(", sasl_username=")
    if cut >= 0:
        reason, username = reason[:cut], reason[cut + 16:]
    elif reason.startswith("sasl_username="):
        reason, username = "", reason[14:]
    return AuthFailure(name, ip, port, mechanism, reason,
                       None if username == NO_USERNAME else username)


def _auth_rate_limit_event(text: str):
    """`warning: AUTH command rate limit exceeded: N from NAME[IP] for service S` -> the
    AuthFailure of that refused AUTH (AUTH_RATE_LIMIT); None for a line of another shape."""
    client = (_rate_limited_client(text, AUTH_RATE_LIMIT) if text.startswith(AUTH_RATE_LIMIT)
              else None)
    if client is None:
        return None
    name, ip, port = client
    return AuthFailure(name, ip, port, "", AUTH_RATE_LIMIT_REASON + ip, None)


# What may follow a client= line's username (smtpd.c writes the keys in this order).
_AFTER_USERNAME = (", sasl_sender=", ", orig_queue_id=", ", orig_client=")


def client_event(queue_id: str, body: str):
    # client=NAME[IP](:PORT), sasl_method=M, sasl_username=U, sasl_sender=S, orig_queue_id=Q,
    # orig_client=C, each after the address when set, in this order (smtpd.c). The login's
    # method and username follow the address: the username is an account's, which a login
    # names. The sender is the client's `AUTH=` parameter of MAIL FROM, which any client may
    # send, logged in or not (smtpd_sasl_mail_opt()), one SMTP token that holds spaces inside
    # <...> or "...": text that may spell any key, a whole login after an address. So the keys
    # are read from the left, the sender cut where Postfix's tokenizer cut it. Whitespace
    # after the line's end (an edited log, a relay's template) is not the last value's.
    body = body[7:].rstrip()
    address_end = body.find("]") + 1
    if address_end == 0:
        address_end = len(body)
    elif body.startswith(":", address_end):
        # smtpd_client_port_logging: `:PORT`, or `:unknown` (XCLIENT PORT=[UNAVAILABLE]).
        address_end = body.find(", ", address_end)
        if address_end < 0:
            address_end = len(body)
    name, ip, port = split_address(body[:address_end])
    rest = body[address_end:]
    method = username = sender = orig_queue_id = orig_client = None
    if rest.startswith(", sasl_method="):
        cut = rest.find(", sasl_username=", 14)
        if cut >= 0:
            method = rest[14:cut]
            username, rest = _username_and_rest(rest, cut + 16)
    if rest.startswith(", sasl_sender="):
        end = token_end(rest, 14)
        sender, rest = rest[14:end], rest[end:]
    if rest.startswith(", orig_queue_id="):
        end = rest.find(", orig_client=", 16)
        end = len(rest) if end < 0 else end
        orig_queue_id, rest = rest[16:end], rest[end:]
    if rest.startswith(", orig_client="):
        orig_client = rest[14:]
    return _event(Client, (queue_id, name, ip, port, method, username, sender, orig_queue_id,
                           orig_client))


def _username_and_rest(rest: str, start: int) -> Tuple[str, str]:
    """The username that starts at rest[start] and what follows it (`, sasl_sender=...`,
    `, orig_...`). It runs to the first key after it; a name that holds `, sasl_sender=` (an
    account named so: the name is a login's) runs to the one after which the sender is one
    token followed by nothing else Postfix writes."""
    end = len(rest)
    for key in _AFTER_USERNAME:
        found = rest.find(key, start, end)
        if found >= 0:
            end = found
    sender = end
    while rest.startswith(", sasl_sender=", sender):
        after = token_end(rest, sender + 14)
        if after == len(rest) or rest.startswith((", orig_queue_id=", ", orig_client="), after):
            return rest[start:sender], rest[sender:]
        sender = rest.find(", sasl_sender=", sender + 14)
    return rest[start:end], rest[end:]


def token_end(text: str, start: int) -> int:
    """Where the SMTP command token that starts at `start` ends in `text`, as smtpd_token.c
    cut it: at whitespace, but not inside <...> or "..." (nested, `\\` escaping a character),
    or at the text's end (a quote never closed runs to the end). The index of the `,` that
    Postfix's `, ` put after it."""
    closing: List[str] = []
    index, length = start, len(text)
    while index < length:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if closing:
            if char == closing[-1]:
                closing.pop()
            elif char == '"' or (char == "<" and closing[-1] == ">"):
                closing.append('"' if char == '"' else ">")
        elif char == " ":
            return index - 1 if text[index - 1] == "," else index
        elif char == "<" or char == '"':
            closing.append(">" if char == "<" else '"')
        index += 1
    return length


# The shape of nearly every client= line the correlator parses: NAME[IP], a port or none, and
# the SASL method and username with a sasl_sender or without, or none of these three; no comma
# in any value, no space in the sender (one SMTP token: client_event() cuts it at one), no
# bracket in the name, no `]` in the address, no whitespace at the end (such a line is read by
# client_event(), which leaves it out). client_event() reads such a line as this one match
# does (tests/test_plain_shapes.py holds the two equal).
# (Not possessive, though no class takes the character after it: Python before 3.11, which
# the package supports, has no possessive repeats.)
_PLAIN_ADDRESS = r"([^\[\],]*)\[([^\],]*)\](?::([0-9]+))?"
_PLAIN_SASL = r", sasl_method=([^,]*), sasl_username=([^,]*)(?:, sasl_sender=([^,\s]*))?"
_PLAIN_CLIENT = re.compile(r"([^:]+): client=%s(?:%s)?(?<!\s)" % (_PLAIN_ADDRESS, _PLAIN_SASL))
# A login's client= line of that shape, its fields: queue ID, address (NAME[IP] or
# NAME[IP]:PORT: what the correlator compares with its connect's text), name, IP, port, method,
# username, sender.
PlainLogin = Tuple[str, str, str, str, Optional[str], str, str, Optional[str]]


def plain_login(text: str) -> Optional[PlainLogin]:
    """A login's client= line of the plain shape (_PLAIN_CLIENT's, with its SASL fields) ->
    its fields, else None: what the one match of that shape, the address a group of its own,
    reads (tests/test_plain_shapes.py holds the two equal). The correlator reads every login's
    line so: cut by hand, compiled, 4,300 instructions a line, where the match and its groups()
    took 7,600. Each value ends at the first character its class leaves out, so no cut has
    another place: the queue ID at the first colon, the name at the first `[`, the IP at the
    first `]`, the method and the username at the first comma after them. (A slice compared
    with each key, not the bounded find(), measured the same: the string it makes is freed.)"""
    colon = text.find(":")
    if colon <= 0 or text.find(": client=", colon, colon + 9) != colon:
        return None
    start = colon + 9
    opening = text.find("[", start)
    closing = text.find("]", start)
    comma = text.find(",", start)
    # No `]` in the name, no comma in the name or the IP, then `, sasl_method=`.
    if (opening < 0 or closing < opening or comma < closing
            or text.find(", sasl_method=", comma, comma + 14) != comma):
        return None
    port: Optional[str] = None
    if comma > closing + 1:
        if comma == closing + 2 or ord(text[closing + 1]) != 58:  # `:` and a digit or more
            return None
        for index in range(closing + 2, comma):
            if not 48 <= ord(text[index]) <= 57:  # [0-9]: ASCII digits alone
                return None
        port = text[closing + 2:comma]
    method_end = text.find(",", comma + 14)
    if (method_end < 0
            or text.find(", sasl_username=", method_end, method_end + 16) != method_end):
        return None
    username_end = text.find(",", method_end + 16)
    sender: Optional[str] = None
    if username_end < 0:
        username_end = len(text)
        last = ord(text[username_end - 1])  # not whitespace: `(?<!\s)`
        if (last <= 32 or last >= 128) and text[username_end - 1].isspace():
            return None
    else:
        if text.find(", sasl_sender=", username_end, username_end + 14) != username_end:
            return None
        # One token to the end: no comma, no whitespace (`\s`: what str.isspace() tells).
        for index in range(username_end + 14, len(text)):
            char = ord(text[index])
            if char == 44 or ((char <= 32 or char >= 128) and text[index].isspace()):
                return None
        sender = text[username_end + 14:]
    return (text[:colon], text[start:comma], text[start:opening], text[opening + 1:closing],
            port, text[comma + 14:method_end], text[method_end + 16:username_end], sender)


# The fields of a client= line the plain shape never has: orig_queue_id, orig_client.
_NO_ORIGIN = (None, None)


def smtpd_client_event(text: str):
    """`QID: client=...` -> Client. A line of the plain shape is read by one match, 3x faster
    (on the incident's log, every authenticated message has one)."""
    plain = _PLAIN_CLIENT.fullmatch(text)
    if plain is not None:
        return _event(Client, plain.groups() + _NO_ORIGIN)
    queue_id = text[:text.find(": ")]
    return client_event(queue_id, text[len(queue_id) + 2:])


def smtpd_reject_event(text: str):
    """`NOQUEUE: reject: ...` or `QID: reject: ...` (or milter-reject) -> Reject."""
    queue_id = text[:text.find(": ")]
    return reject_event(None if queue_id == "NOQUEUE" else queue_id, text[len(queue_id) + 2:])


def smtpd_action_event(text: str):
    """`NOQUEUE: hold: ...` or `QID: hold: ...` (or milter-hold) -> Hold; the same of discard
    -> Discard."""
    queue_id = text[:text.find(": ")]
    return action_event(None if queue_id == "NOQUEUE" else queue_id, text[len(queue_id) + 2:])


def size_limit_event(text: str):
    """`warning: QID: queue file size limit exceeded` -> ContentReject: the whole message was
    refused. NOQUEUE (a before-queue proxy filter) names no message: None."""
    queue_id = queue_id_of(text[9:])
    if queue_id is None:
        return None
    return ContentReject(queue_id, "reject", SIZE_LIMIT_WARNING[2:])


def proxy_reply_event(text: str):
    # "proxy-accept: END-OF-MESSAGE: 250 2.0.0 Ok: queued as 1FEB7E00C4; from=<a> to=<b>
    #  proto=ESMTP helo=<h>" (one line in the log; after a login, since Postfix 3.2,
    #  ` sasl_username=<u>`: smtpd.c's smtpd_whatsup()).
    # The reply is the filter's own: amavis passes on the next smtpd's "queued as", PMG's says
    # "250 2.5.0 OK (its own ID)".
    stage, colon, rest = text[14:].partition(": ")
    if not colon:
        return None
    # The first `; from=<`: the reply is the filter's text, and the envelope's quoted addresses
    # after it are the client's (`from=<"x; from=<y>"@z>` must not stand for the envelope).
    envelope_at = rest.find("; from=<")
    reply, envelope = (rest[:envelope_at], rest[envelope_at + 2:]) if envelope_at >= 0 else (
        rest.rstrip(";"), "")
    queued_as = queued_as_in(reply)
    sender, recipient, _ = _envelope(envelope)
    return ProxyReply(text[6:12] == "accept", stage, _reply_dsn(reply), reply, sender, recipient,
                      queued_as if queued_as is not None and queued_as.isascii()
                      and queued_as.isalnum() else None)


def proxy_refusal_event(text: str):
    """`warning: proxy FILTER rejected "RCPT TO:<ADDR> PARAMS": "REPLY"` -> Reject of ADDR at
    RCPT, of queue ID NOQUEUE, the reply its reason (no client IP nor sender: the line names
    neither); None for another command's refusal, or a line of another shape.

    The command is the client's text, the reply the filter's. ADDR is read to the `>` after
    its quotes (address_end(): a quoted local part may spell `": "`), the reply after the
    first `": "` after ADDR, and it must open with a reply code."""
    rejected = text.find(' rejected "', len(_PROXY_REFUSAL_PREFIX))
    if rejected < 0 or " " in text[len(_PROXY_REFUSAL_PREFIX):rejected] or text[-1:] != '"':
        return None
    command = rejected + 11
    verb, _, argument = text[command:command + 8].partition(" ")
    if verb.upper() != "RCPT" or argument.upper() != "TO:":
        return None
    begin = command + 8
    while text[begin:begin + 1] == " ":
        begin += 1
    if text[begin:begin + 1] == "<":
        close = address_end(text, begin + 1, ">")
        if close < 0:
            return None
        recipient, after = text[begin + 1:close], close + 1
    else:
        # Without brackets (strict_rfc821_envelopes = no): to a space, or the command's end.
        after = min((end for end in (text.find(" ", begin), text.find('"', begin)) if end >= 0),
                    default=-1)
        recipient = text[begin:after]
    separator = text.find('": "', after) if after >= 0 else -1
    reply = text[separator + 4:-1] if separator >= 0 else ""
    code = reply[:3]
    if len(code) != 3 or not code.isdigit() or code[0] not in "45":
        return None
    return Reject(None, "RCPT", "", code, _reply_dsn(reply), reply, None, recipient, None)


def rate_limit_event(text: str):
    """`warning: Message delivery request rate limit exceeded: N from NAME[IP] for service S`
    (or `Recipient address ...`) -> Reject at MAIL (RCPT) of queue ID NOQUEUE, the reply smtpd
    gave the client its reason, no sender and an empty recipient (the line names neither);
    None for a line of another shape."""
    prefix = next((prefix for prefix in _RATE_LIMIT_PREFIXES if text.startswith(prefix)), None)
    if prefix is None:
        return None
    client = _rate_limited_client(text, prefix)
    if client is None:
        return None
    stage, reply = RATE_LIMITS[prefix]
    ip = client[1]
    return Reject(None, stage, ip, "450", "4.7.1", reply + ip, None, "", None)


def _rate_limited_client(text: str, prefix: str) -> Optional[Tuple[str, str, Optional[str]]]:
    """(name, ip, port) of anvil's warning `PREFIX N from NAME[IP] for service S`, or None."""
    fields = text[len(prefix):].rstrip().split(" ")
    if (len(fields) != 6 or not fields[0].isdigit() or fields[1] != "from"
            or fields[3:5] != ["for", "service"]):
        return None
    client = split_address(fields[2])
    return client if client[1] else None


# local(8)'s answer for a recipient it forwarded (an alias or a .forward naming other
# addresses): it queued a new message for them through cleanup, with no client= line
# (local/forward.c: "forwarded as %s").
FORWARDED_AS: Final = "forwarded as "
_SENT_ANSWER: Final = ", status=sent ("
_LOCAL_RELAY: Final = ", relay=local, "


def forwarded_as(text: str) -> Optional[str]:
    """NEWQID of local(8)'s delivery line `QID: to=<a>, relay=local, ..., status=sent
    (forwarded as NEWQID)`, its relay and answer read after the recipients (a quoted local part
    may spell either); None for any other line (another agent's: a transport's own text)."""
    if not text.endswith(")"):
        return None
    found = _recipient_fields(text, text.find(": to=") + 5)
    if found is None or not text.startswith(_LOCAL_RELAY, found[2]):
        return None
    answer_at = found[3] + len(_SENT_ANSWER)
    if not (text.startswith(_SENT_ANSWER, found[3]) and text.startswith(FORWARDED_AS, answer_at)):
        return None
    new_id = text[answer_at + len(FORWARDED_AS):-1]
    return new_id if new_id.isascii() and new_id.isalnum() else None


# A Postfix queue ID (global/mail_queue.h): the short form in upper-case hex, at least five
# digits of microseconds and the inode's; the long form (enable_long_queue_ids) ten characters
# of time, `z`, then the inode, in digits and consonants only.
_QUEUE_ID_SHAPE = re.compile(r"[0-9A-F]{6,20}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]{10}z"
                             r"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]{1,11}")


def named_last(text: str) -> Optional[str]:
    """The queue ID a delivery line's reply names as its last word (`status=sent (250 OK, sent
    48A8F422_13987_12168_1 6B1B62259)`: a content filter that tells its next smtpd's queue ID
    so, not as `queued as`), or None when its last word has no queue ID's shape."""
    if not text.endswith(")"):
        return None
    word = text[text.rfind(" ") + 1:-1]
    return word if _QUEUE_ID_SHAPE.fullmatch(word) is not None else None


def queued_as_in(reply: str) -> Optional[str]:
    """NEWQID of a reply that says `... queued as NEWQID` (a delivery's text, a before-queue
    filter's reply), as it stands there; None when it says none."""
    marker = reply.rfind("queued as ")
    if marker < 0:
        return None
    return reply[marker + 10:].split(" ", 1)[0].rstrip(")")


# Postfix >= 3.5 logs an address whose local part is not a dot-atom as SMTP writes it
# (info_log_address_format = external, the default): the local part in double quotes, a `"` or
# `\\` in it after a `\\`. That text is the client's, and may hold what a line's fields look like:
# `to=<"x>, relay=..., dsn=2.0.0, status=sent (y"@example.com>, relay=...` (tests/e2e's
# test_quoted_postfix.py has a real Postfix write it). smtpd takes a domain only as a host name or
# an address literal, so the address ends at the first `>` after the quotes.
_QUOTED_ADDRESS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"(?:@[^"<>\s]*)?>', re.DOTALL)


def address_end(text: str, begin: int, close: str) -> int:
    """Where the `>` that closes the address beginning at text[begin] (after its `<`) is: after
    a quoted local part (_QUOTED_ADDRESS) when `close` (`>, ` before the next field of a qmgr
    line, `>` in an envelope) begins there, else at the first `close`; -1 when there is none.
    An older Postfix (or info_log_address_format = internal) writes the local part unquoted,
    a `"` or a `>` in it as they are: that is read to its first `close`, as any reading
    would."""
    if text[begin:begin + 1] == '"':
        quoted = _QUOTED_ADDRESS.match(text, begin)
        if quoted is not None and text.startswith(close, quoted.end() - 1):
            return quoted.end() - 1
    return text.find(close, begin)


# An address as Postfix >= 3.5 writes it in an envelope, from after its `<`: quoted, or a
# dot-atom, which holds no `<`, `>` or `"`.
_STRICT_ADDRESS = re.compile(_QUOTED_ADDRESS.pattern + r'|[^"<>]*>', re.DOTALL)


def _strict_envelope_end(text: str, begin: int) -> int:
    """Where the addresses of an envelope whose `from=<` value starts at text[begin] end (at the
    `>` of its `to=` or, without one, of its sender), each read as _STRICT_ADDRESS; -1 when
    one is not."""
    sender = _STRICT_ADDRESS.match(text, begin)
    if sender is None:
        return -1
    close = sender.end() - 1
    if not text.startswith(" to=<", close + 1):
        return close
    recipient = _STRICT_ADDRESS.match(text, close + 6)
    return recipient.end() - 1 if recipient is not None else -1


def _envelope(envelope: str) -> Tuple[Optional[str], Optional[str], int]:
    """(sender, recipient, where they end) of the envelope `from=<a> to=<b> proto=ESMTP
    helo=<h>` that smtpd's and cleanup's lines end with (smtpd_check.c's log_whatsup(), the
    `to=` only once a recipient is known), None for a field it lacks. The `to=` is the one
    right after the sender: the HELO after them is the client's text too."""
    if not envelope.startswith("from=<"):
        return None, None, 0
    close = address_end(envelope, 6, ">")
    if close < 0:
        return envelope[6:], None, len(envelope)
    if envelope[close + 1:close + 2] not in ("", " "):
        # A bare sender (Postfix < 3.5) may hold a `>`, and start with a `"`: one that goes on
        # after it runs to the `>` before ` to=<`, if one follows.
        to_at = envelope.find("> to=<", close)
        if to_at >= 0:
            close = to_at
    sender = envelope[6:close]
    if not envelope.startswith(" to=<", close + 1):
        return sender, None, close
    end = address_end(envelope, close + 6, ">")
    if end < 0:
        return sender, envelope[close + 6:], len(envelope)
    return sender, envelope[close + 6:end], end


def _action_parts(body: str):
    """(stage, client IP, reason, envelope) of `ACTION: STAGE from NAME[IP]: REASON; from=<a>
    to=<b> proto=ESMTP helo=<h>` (smtpd's reject, hold and discard, a milter's action in
    cleanup), or None. The envelope is "" when the line has none; whitespace after the line's
    end is not read. The client is the word after `from` (NAME[IP]: or NAME[IP]:PORT: with
    smtpd_client_port_logging; a name and an address hold no space): the first `]: ` may be
    in the reason, in a recipient's quoted local part (`"x]: y"@example.com`)."""
    words = body.split(" ", 4)
    if len(words) < 4 or words[2] != "from":
        return None
    stage = words[1]
    client = words[3]
    rest = words[4].rstrip() if len(words) > 4 else ""
    ip = split_address(client[:-1] if client.endswith(":") else client)[1]
    envelope_at = _envelope_at(rest)
    if envelope_at < 0:
        reason, envelope = rest, ""
    else:
        reason, envelope = rest[:envelope_at], rest[envelope_at + 2:]
    return stage, ip, reason, envelope


# How many `; from=<` of a line _envelope_at() tries: a real line holds one or two, a client's
# text thousands at most (a line is cut at 64 KiB), which must not cost thousands of tries.
ENVELOPE_CANDIDATES: Final = 16


def _envelope_at(text: str) -> int:
    """Where the `; from=<` that starts the envelope of an smtpd or cleanup line is, or -1.

    The reason before it may hold one (smtpd's reply names the recipient, unquoted; a header
    check's the header; a milter's reply any text), and so may the envelope's own quoted
    addresses: of several, the first whose addresses, as Postfix >= 3.5 writes them
    (_strict_envelope_end()), end right before the line's last ` proto=` (smtpd writes one
    always, cleanup when it knows the protocol; after it come only the HELO, whose spaces
    smtpd writes as `?`, and the session's SASL fields), of the first ENVELOPE_CANDIDATES.
    Else, as when there is no ` proto=` (or Postfix wrote an address bare, before 3.5), the
    last one."""
    last = text.rfind("; from=<")
    proto = text.rfind(" proto=")
    if last < 0 or proto < last or text.count("; from=<") == 1:
        return last
    at = text.find("; from=<")
    for _ in range(ENVELOPE_CANDIDATES):
        if not 0 <= at < proto:
            break
        if _strict_envelope_end(text, at + 8) == proto - 1:
            return at
        at = text.find("; from=<", at + 1)
    return last


def reject_event(queue_id: Optional[str], body: str):
    # "reject: RCPT from NAME[IP]: 550 5.1.1 <x>: Recipient address rejected: ...;
    #  from=<a> to=<b> proto=ESMTP helo=<h>"  (one line in the log)
    parts = _action_parts(body)
    if parts is None:
        return None
    stage, ip, reason, envelope = parts
    code = reason.split(" ", 1)[0]
    sender, recipient, _ = _envelope(envelope)
    login = None
    if (" sasl_" in envelope or NOT_OWNED in reason or SASL_REJECTED in reason) and (
            len(queue_id or "NOQUEUE") + 2 + len(body.encode()) < RECORD_LIMIT):
        if " sasl_" in envelope:
            login = _envelope_login(f"{reason}; {envelope}")
        if login is None and body.startswith("reject: "):  # (a milter's reply is its own)
            login = _reply_login(reason, sender, envelope)
    return Reject(queue_id, stage, ip, code, _reply_dsn(reason), reason, sender, recipient,
                  login)


# Before Postfix 3.10 (which names the login on every refusal) two of smtpd's own replies
# (smtpd_check.c) are the only lines that name the login U of a session that queued nothing.
# reject_sender_login_mismatch's to a client logged in as U whose MAIL FROM is not one of U's
# (docker-mailserver's SPOOF_PROTECTION, mailcow: an attacker's forged senders refused):
# `553 5.7.1 <ADDR>: Sender address rejected: not owned by user U` (a client not logged in is
# told `not logged in`). check_sasl_access's REJECT, DEFER, DEFER_IF_PERMIT, DEFER_IF_REJECT or
# `4xx/5xx TEXT` for U (`contain --reject`'s table: the stolen password's further logins):
# `554 5.7.1 <U>: SASL login name rejected: TEXT`, TEXT the table's (or Postfix's `Access
# denied`); its HOLD and DISCARD are logged as actions, the message then queued as U's.
NOT_OWNED: Final = ">: Sender address rejected: not owned by user "
SASL_REJECTED: Final = ">: SASL login name rejected: "
# How smtpd_check_reject() begins a reply: the code and the enhanced status code; then
# `<%s>: %s rejected: %s` opens with the name it refuses.
_REPLY_HEAD = re.compile(r"[45][0-9][0-9] [45]\.[0-9]{1,3}\.[0-9]{1,3} <")
# Postfix cuts each log record's text at 2,000 bytes (msg_syslog.c, msg_logger.c): the end of a
# record so cut may be a client's text, Postfix's own words and envelope cut away. A refusal's
# login (Reject.sasl_username) is read only from a shorter one, and is a claim still: the
# correlator takes it for a session whose disconnect counted a successful AUTH.
RECORD_LIMIT: Final = 2000


def _reply_login(reason: str, sender: Optional[str], envelope: str) -> Optional[str]:
    """The login U that smtpd's reply `reason` names (NOT_OWNED's, SASL_REJECTED's), or None;
    `sender` the envelope's.

    The reply's name and the words after it may be the client's text: `<ADDR>` of another
    class's refusal (`<x>: SASL login name rejected: y@z>: Recipient address rejected: ...`
    from RCPT TO:<"x>: SASL login name rejected: y"@z>), a RCPT address that spells them, a
    fake envelope in it. So U is read only where the last of the words is Postfix's (none of
    its reply's `>: ` follows: every `<%s>: %s rejected: ` refusal of a client's name puts one
    after it), the reply opens as smtpd_check_reject() opens a `<%s>: ` one (a DNSBL's TXT
    record is not), and the envelope reads strictly to the line's end (a syslog daemon that
    cuts lines shorter than Postfix does, musl's syslog() at 1,024 bytes, BusyBox's syslogd at
    256, can be made to cut right after a fake one: a logged-in client can size its address
    for that cut, a risk the README names), and only from a line with one `; from=<`: an address
    Postfix writes bare (before 3.5, or info_log_address_format = internal) can hold a fake
    envelope that reads strictly from the reply to the line's end, so that the reply read is
    cut short of Postfix's words (a recipient whose local part is `erin>: SASL login name
    rejected: x; from=<s> to=<"`, refused as `<erin>: SASL login name rejected: x; from=<s>
    to=<"@d>: Recipient address rejected: ...; from=<bob> to=<erin>: ...; from=<s> to=<"@d>
    proto=...`, a session bob logged in to). ADDR is the envelope's sender (a sender's refusal
    names it; Postfix drops a quoted local part's quotes in the reply only). A SASL_REJECTED U
    is Postfix's printable() of the login: `_` for a byte it does not print, where the
    `client=` line has `?`."""
    head = _REPLY_HEAD.match(reason)
    owned_at, sasl_at = reason.rfind(NOT_OWNED), reason.rfind(SASL_REJECTED)
    if (head is None or owned_at == sasl_at  # (neither: a 3.10 line whose fields did not read)
            or "; from=<" in reason or "; from=<" in envelope):
        return None
    if owned_at > sasl_at:
        login = reason[owned_at + len(NOT_OWNED):]
        address = reason[head.end():owned_at]
        if sender is None or address != sender.replace('"', ""):
            return None
    else:
        login, words = reason[head.end():sasl_at], reason[sasl_at + len(SASL_REJECTED):]
        if ">: " in words:
            return None
    if not login or ">: " in login:
        return None
    end = _strict_envelope_end(envelope, 6) if envelope.startswith("from=<") else -1
    return login if end >= 0 and _PLAIN_TAIL.fullmatch(envelope, end + 1) else None


# What ends smtpd's envelope of a refusal before Postfix 3.10 (log_whatsup()).
_PLAIN_TAIL = re.compile(r" proto=[^ ]* helo=<[^ <>]*>")


# What follows an envelope's addresses, each part when set (smtpd_check.c's log_whatsup(),
# smtpd.c's smtpd_whatsup(); cleanup's header checks end with `: TEXT`).
_ENVELOPE_TAIL = re.compile(r" proto=[^ ]*(?: helo=<[^ <>]*>)?(?:( sasl_method=[^ ]* "
                            r"sasl_username=)| sasl_username=<([^<>]*)>$| sasl_sender=|: |$)")
# What an account's name never holds, and an envelope spelled in a client's text does.
_NOT_IN_USERNAME = ("; from=<", " proto=", " helo=<", " sasl_method=", " sasl_username=")


def _envelope_login(text: str) -> Optional[str]:
    """The SASL username of the session whose smtpd line ends with `text` (`REASON; from=<a>
    to=<b> proto=P helo=<h> ...`), or None. Postfix >= 3.10 writes ` sasl_method=M
    sasl_username=U sasl_sender=S` after the HELO (log_whatsup(), each when set), a milter's
    reply ` sasl_username=<U>` (smtpd_whatsup(), 3.2). U is an account's name, which a login
    names (it runs to ` sasl_sender=` or the end: a name may hold a space); S is the client's
    AUTH= parameter of MAIL FROM, sent with or without a login, one SMTP token that holds
    spaces inside <...>; the addresses and the reply before them (which names the recipient)
    are the client's text too, and smtpd writes the HELO's spaces and `<>` as `?`. So the
    login is read only from a line with one `; from=<`, whose addresses read strictly
    (_strict_envelope_end()) and are followed by these fields in this order, S one token to
    the line's end. Where the client's text spells another (in the reply, in S), which is
    Postfix's cannot be told: Postfix's may not read strictly (a bare address before 3.5, a
    record cut at 2,000 bytes), and the client's may. No login is read then: a client cannot
    name an account it did not log in as (its own session loses its name at worst)."""
    at = text.find("; from=<")
    if at < 0 or text.find("; from=<", at + 1) >= 0:
        return None
    end = _strict_envelope_end(text, at + 8)
    tail = _ENVELOPE_TAIL.match(text, end + 1) if end >= 0 else None
    if tail is None:
        return None
    username, sender = tail[2], -1
    if tail[1] is not None:
        sender = text.find(" sasl_sender=", tail.end())
        username = text[tail.end():sender if sender >= 0 else len(text)]
    elif text.endswith(" sasl_sender=", 0, tail.end()):
        sender = tail.end() - 13
    if not username or any(marker in username for marker in _NOT_IN_USERNAME):
        return None
    return username if sender < 0 or token_end(text, sender + 13) == len(text) else None


def _reply_dsn(reply: str) -> str:
    """The enhanced status code of a reply as logged: after the reply code (smtpd's `550 5.1.1
    <x>: ...`), or first (cleanup drops the reply code: `5.7.1 message content rejected`)."""
    first, _, rest = reply.partition(" ")
    if len(first) == 3 and first.isdigit():
        return rest.split(" ", 1)[0] if rest[:1].isdigit() else ""
    return first if first[:1].isdigit() and first.count(".") == 2 else ""


def action_event(queue_id: Optional[str], body: str):
    # "hold: RCPT from NAME[IP]: <a@b>: SASL login name compromised account; from=<a@b>
    #  to=<c@d> proto=ESMTP helo=<h>", "discard: RCPT from ..." the same, and "milter-hold:
    #  END-OF-MESSAGE from NAME[IP]: milter triggers HOLD action; from=<a@b> to=<c@d> ..."
    #  (smtpd, cleanup)
    parts = _action_parts(body)
    if parts is None:
        return None
    envelope = parts[3]
    action = Discard if body.startswith(_DISCARD_PREFIXES) else Hold
    sender, recipient, _ = _envelope(envelope)
    return action(queue_id, sender, recipient, parts[2])


def _content_action_parts(body: str):
    """(stage, client IP, sender, recipient, reason, text) of cleanup's header/body_checks
    action (cleanup_act_log, and a milter's header checks: cleanup_milter_hbc_log): `hold:
    header Subject: hold me from NAME[IP]; from=<a@b> to=<c@d> proto=ESMTP helo=<h>: optional
    text` (one line in the log), or None. The stage is what matched (header, body), the reason
    that and the text, `header Subject: hold me: optional text`. The header is the sender's:
    the envelope is where _envelope_at() finds it, and the client the last ` from ` before
    it."""
    envelope_at = _envelope_at(body)
    if envelope_at < 0:
        return None
    what, envelope = body[body.find(": ") + 2:envelope_at], body[envelope_at + 2:]
    ip = ""
    client_at = what.rfind(" from ")
    if client_at >= 0:
        what, ip = what[:client_at], split_address(what[client_at + 6:])[1]
    sender, recipient, end = _envelope(envelope)
    text_at = envelope.find(">: ", end)
    text = envelope[text_at + 3:] if text_at >= 0 else ""
    return (what.split(" ", 1)[0], ip, sender, recipient, f"{what}: {text}" if text else what,
            text)


def _milter_action_parts(body: str):
    """(stage, client IP, sender, recipient, reason, text) of a milter's reply at the end of
    the message (cleanup_milter.c): `milter-reject: END-OF-MESSAGE from NAME[IP]: 5.7.1 text;
    from=<a> to=<b> ...`, smtpd's shape; its reason is the text. None for another shape."""
    parts = _action_parts(body)
    if parts is None:
        return None
    stage, ip, reason, envelope = parts
    sender, recipient, _ = _envelope(envelope)
    return stage, ip, sender, recipient, reason, reason


# cleanup's lines that hold, discard or refuse a message, by the word before their first ": ",
# each read by the parser of its shape (cleanup_message.c's header/body_checks actions,
# cleanup_milter.c's milter replies and milter_header_checks actions).
_CLEANUP_ACTIONS = {
    **{action: _content_action_parts for action in ("reject", "discard", "hold")},
    **{f"milter-{action}": _milter_action_parts for action in ("reject", "discard", "hold")},
    **{f"milter-{where}-{action}": _content_action_parts for where in ("header", "body")
       for action in ("reject", "discard", "hold")},
}


def _cleanup(text: str):
    queue_id, _, body = text.partition(": ")
    return cleanup_event(queue_id, body)


def _cleanup_queue_id(queue_id: str) -> bool:
    """Whether queue_id_of() would read `queue_id` in cleanup's line cut at its first ": "
    (that ": " is where queue_id_of() looks)."""
    return (4 < len(queue_id) < 23 and queue_id.isascii() and queue_id.isalnum()
            and queue_id != "NOQUEUE")


# cleanup's `message-id=<ID>`: the ID is what follows the prefix, the brackets and the spaces
# and tabs after the line's end stripped in one call.
MESSAGE_ID = "message-id="
MESSAGE_ID_VALUE = slice(len(MESSAGE_ID), None)
MESSAGE_ID_STRIP = "<> \t"


def cleanup_message_id(queue_id: str, body: str) -> Optional[str]:
    """The message-id of cleanup's line `queue_id: body` (cut at its first ": "), or None for
    any other line: cleanup_event()'s MessageId, without the event. (The correlator reads the
    line of a message it tracks inline, from the three constants above.)"""
    if body.startswith(MESSAGE_ID) and _cleanup_queue_id(queue_id):
        return body[MESSAGE_ID_VALUE].strip(MESSAGE_ID_STRIP)
    return None


# Postfix >= 3.10: cleanup removes a queue file whose transaction did not end (the client went
# away in DATA, a milter or a content check refused it: `canceled`) or that it discards
# (`discarded`), and says so (cleanup_api.c). Before 3.10 such a message just stops in the log.
CLEANUP_REMOVALS: Final = ("removed (canceled)", "removed (discarded)")


def cleanup_event(queue_id: str, body: str):
    """cleanup's line `queue_id: body` (cut at its first ": ") -> MessageId, Hold, Discard,
    Reject, Removed, or None; None too when queue_id_of() would read no queue ID in the line
    (its first ": " is where queue_id_of() looks, or there is none it takes). The correlator
    has cut the line so already, to look its queue ID up."""
    message_id = cleanup_message_id(queue_id, body)
    if message_id is not None:
        return _event(MessageId, (queue_id, message_id))
    if not _cleanup_queue_id(queue_id):
        return None
    body = body.rstrip()  # whitespace after the line's end is not the reason's
    if body in CLEANUP_REMOVALS:
        return _event(Removed, (queue_id,))
    action, colon, rest = body.partition(": ")
    parse = _CLEANUP_ACTIONS.get(action) if colon else None
    if parse is None:
        return None
    parts = parse(body)
    if parts is None:
        if action.endswith("hold"):
            return None
        # A refusal in a shape not known still ends the message, its reason the whole text.
        parts = "", "", None, None, rest, rest
    stage, ip, sender, recipient, reason, reply = parts
    if action.endswith("reject"):
        # cleanup drops the reply code (the client is told it by smtpd): none here.
        return Reject(queue_id, stage, ip, "", _reply_dsn(reply), reason, sender, recipient,
                      None)
    return (Discard if action.endswith("discard") else Hold)(queue_id, sender, recipient, reason)


# qmgr's first `(queue active)` of a message in the shape nearly all have: a sender without
# `>`, a size and a count of at most NRCPT_DIGITS digits. The rest of qmgr_event() reads such
# a text as this one match does (tests/test_plain_shapes.py holds the two equal).
PLAIN_QUEUE_ACTIVE = re.compile(r"from=<([^>]*)>, size=([0-9]{1,%d}), nrcpt=([0-9]{1,%d}) "
                                r"\(queue active\)" % (NUMBER_DIGITS, NRCPT_DIGITS))


def _qmgr(text: str):
    queue_id, colon, body = text.partition(": ")
    return qmgr_event(queue_id, body) if colon and queue_id else None


def qmgr_event(queue_id: str, body: str):
    """qmgr's line `queue_id: body` (cut at its first ": ") -> Removed, QueueActive, Expired,
    Delivery, or None: the correlator has cut the line so already, to look its queue ID up. One
    line for each message removed, one for each delivery round of a message; and a delivery
    line of qmgr's own for each recipient it defers itself, in the delivery agents' shape
    (qmgr_defer_recipient(): a transport and the retry(8) service that would have logged it
    both unavailable, `status=deferred (mail transport unavailable)`)."""
    if body == "removed":
        return _event(Removed, (queue_id,))
    if body.startswith("to=<"):
        return delivery_event(queue_id + ": " + body)
    plain = PLAIN_QUEUE_ACTIVE.fullmatch(body)
    if plain is not None:
        sender, size, nrcpt = plain.groups()
        return _event(QueueActive, (queue_id, sender, int(size), int(nrcpt)))
    if not body.startswith("from=<"):
        return None
    close = address_end(body, 6, ">, ")
    if close < 0:
        return None
    sender = body[6:close]
    at = close + 3
    # "status=force-expired, returned to sender": postsuper -e / postqueue -f expired it.
    if body.startswith(("status=expired", "status=force-expired"), at):
        return Expired(queue_id, sender)
    # "size=566, nrcpt=1 (queue active)"
    if not body.endswith(" (queue active)") or not body.startswith("size=", at):
        return None
    size, _, nrcpt = body[at + 5:-15].partition(", nrcpt=")
    return _event(QueueActive, (queue_id, sender, int(size) if _count(size) else None,
                                int(nrcpt) if nrcpt.isdecimal() and len(nrcpt) <= NRCPT_DIGITS
                                else None))


# pickup reads a message `postsuper -r` requeued (its queue file moved to the maildrop) into a
# new queue file: `NEWQID: uid=N from=<SENDER> orig_id=OLDQID` (pickup.c logs orig_id for the
# files of $mail_owner, which postsuper's are; other files' lines have none). The sender is the
# client's text: the line's last `orig_id=` is pickup's.
_REQUEUED = re.compile(r"([0-9A-Za-z]{5,22}): uid=-?[0-9]+ from=<.*> orig_id=([0-9A-Za-z]{5,22})")


# pickup reading what Postfix's sendmail put in the maildrop: `QID: uid=N from=<SENDER>` (a
# pipe(8) content filter's copy, re-injected by `sendmail -f ${sender}`, among local mail).
_PICKED_UP = re.compile(r"([0-9A-Za-z]{5,22}): uid=-?[0-9]+ from=<(.*)>")


def pickup_event(text: str) -> Optional[Tuple[str, str]]:
    """(queue ID, sender) of pickup's line for a message from the maildrop; None for any other
    (a requeued message's, which ends in `orig_id=`, is requeued_event()'s)."""
    found = _PICKED_UP.fullmatch(text)
    return (found[1], found[2]) if found is not None else None


def requeued_event(text: str) -> Optional[Requeued]:
    """pickup's line for a requeued message: its new queue ID and the one it had; None for any
    other pickup line."""
    found = _REQUEUED.fullmatch(text)
    return Requeued(found[1], found[2]) if found is not None else None


# MailScanner (its Postfix queue module, PFDiskStore.pm: InfoLog("Requeue: %s to %s",
# $message->{id}, $hdoutfile)) writes a message Postfix held for it back under a new queue ID:
# `Requeue: BA166C00C0.A9BEF to 0921EC00A8`, its own message ID being the held file's queue ID
# and a part of its own after a dot.
SCANNER_REQUEUE: Final = "Requeue: "
_SCANNER_REQUEUE = re.compile(r"Requeue: ([0-9A-Za-z]{5,22})(?:\.[0-9A-Za-z]+)? to "
                              r"([0-9A-Za-z]{5,22})")


def scanner_requeue_event(text: str) -> Optional[Requeued]:
    """MailScanner's line for a message it wrote back: the new queue ID and the held one."""
    found = _SCANNER_REQUEUE.fullmatch(text)
    return Requeued(found[2], found[1]) if found is not None else None


def known_status(word: str) -> bool:
    """True for a status word delivery_peek() maps to an outcome of its own."""
    return word in STATUS_OUTCOMES


def _delivery_parts(text: str):
    """(where the queue ID ends, where the fields after the recipients start, where `, status=`
    begins, recipient, orig_to, status word, reason, dsn, relay) of a delivery line, or None:
    the reading of the line's shape that delivery_event() and delivery_details() share
    (delivery_details() tries the one match of _PLAIN_DELIVERY first, which reads a line of
    the common shape as this does)."""
    # "QID: to=<R>, orig_to=<O>, relay=X, conn_use=N, delay=D, delays=a/b/c/d, tls=.., dsn=X,
    #  status=WORD (text)"  (one line in the log)
    colon = text.find(": ")
    if colon < 1 or not text.startswith("to=", colon + 2):
        return None
    found = _recipient_fields(text, colon + 5)
    if found is None:
        return None
    recipient, orig_to, fields_at, status_at = found
    status, _, reason = text[status_at + 9:].partition(" ")
    return (colon, fields_at, status_at, recipient, orig_to, status, _unwrapped(reason),
            _last_field(text, ", dsn", 4, fields_at, status_at),
            _last_field(text, ", rel", 6, fields_at, status_at))


def _recipient_fields(text: str, at: int):
    """(recipient, orig_to or None, where the `, ` after them is, where `, status=` begins) of
    a delivery line whose `to=` value starts at text[at], or None when no `, status=` follows
    them. Each address is read by _field_address(): the client wrote them, and a quoted local
    part may hold `>, ` and any field of the line, the status among them."""
    recipient, end = _field_address(text, at)
    orig_to = None
    if end >= 0 and text.startswith(", orig_to=", end):
        orig_to, end = _field_address(text, end + 10)
    status_at = text.find(", status=", end) if end >= 0 else -1
    return (recipient, orig_to, end, status_at) if status_at >= 0 else None


def _field_address(text: str, at: int) -> Tuple[str, int]:
    """(address, where the `, ` after it is, or -1) of a `to=` or `orig_to=` value at text[at]:
    in angle brackets, to the `>` after its quotes (address_end()) or, unquoted, before the
    first `, `; else (a line some agent wrote without them) up to the first `, `."""
    if text[at:at + 2] == '<"':
        close = address_end(text, at + 1, ">, ")
        if close >= 0 and text.startswith(", ", close + 1):
            return text[at + 1:close], close + 1
    end = text.find(", ", at)
    if text[at:at + 1] == "<" and text[end - 1:end] == ">":
        return text[at + 1:end - 1], end
    return text[at:end], end


def _unwrapped(reason: str) -> str:
    """A delivery line's text after its status word, out of its parentheses: whitespace after
    the line's end kept them from the one match of _PLAIN_DELIVERY."""
    reason = reason.rstrip()
    return reason[1:-1] if reason[:1] == "(" and reason[-1:] == ")" else reason


def _last_field(text: str, marker: str, skip: int, start: int, end: int) -> str:
    """field[skip:] of the last field of text[start:end].split(", ")[1:] that starts with
    marker[2:] ("" when none does), found from the right without the list: every `, ` in the
    text is a place the split cuts (two cannot overlap). Each field is told apart by its first
    letters: the line has as many shapes as Postfix versions and agents."""
    at = text.rfind(marker, start, end)
    if at < 0:
        return ""
    field_end = text.find(", ", at + 2, end)
    return text[at + 2 + skip:field_end if field_end >= 0 else end]


def delivery_event(text: str):
    """A delivery agent's `to=..., status=` line -> Delivery, or None."""
    parts = _delivery_parts(text)
    if parts is None:
        return None
    colon, fields_at, status_at, recipient, orig_to, status, reason, dsn, relay = parts
    delay = None
    for field in text[fields_at + 2:status_at].split(", "):
        if field.startswith("delay="):
            delay = field[6:]
    return Delivery(text[:colon], recipient, orig_to, relay, delay, dsn, status, reason)


# The shape of nearly every delivery line: these fields in this order, none holding a comma
# (smtp's and lmtp's `tls=` from Postfix 3.11 on, whose smtp_log_tls_feature_status = yes
# writes it in every line: global/log_adhoc.c, pol_stats.c), the recipient not quoted (a
# quoted local part may hold the fields' text: _delivery_parts()).
# _delivery_parts() reads such a line as this one match does: its first ": " ends the queue ID,
# its first ", status=" is the one here, and each ", " of its fields is one written below.
_PLAIN_DELIVERY = re.compile(r"[^:]+: to=(?!<\")[^,]*, relay=([^,]*), delay=[^,]*, "
                             r"delays=[^,]*, (?:tls=[^,]*, |)dsn=([^,]*), "
                             r"status=([^ ]*)(?: \((.*)\)| (.*)|)",
                             re.DOTALL)


def delivery_details(text: str):
    """(dsn, relay, status word, reason) of a delivery line, exactly as delivery_event() reads
    them, or None where it gives None: what a report row needs of a recipient's last line,
    without the fields it does not (the address, orig_to, delay) nor an event object. A line
    of the plain shape is read by one match, 2x faster (a messages CSV reads millions)."""
    plain = _PLAIN_DELIVERY.fullmatch(text)
    if plain is not None:
        relay, dsn, status, in_parentheses, reason = plain.groups("")
        return dsn, relay, status, in_parentheses or _unwrapped(reason)
    parts = _delivery_parts(text)
    if parts is None:
        return None
    return parts[7], parts[8], parts[5], parts[6]


# An after-queue content filter (content_filter = smtp-amavis:[127.0.0.1]:10024) that answers
# 250 for a message it then does not pass on: Postfix logs the recipient `sent`, to the filter.
# amavisd-new's answers, over SMTP (amavisd: one_response_for_all(), and the response of a
# blocked recipient when every one is dropped):
#   `250 2.7.0 Ok, discarded, id=07554-01 - INFECTED: Eicar-Test-Signature`: dropped (the code
#       follows the blocking category's: 2.7.1, 2.6.0, 2.3.4; one digit each, as sent_outcome()
#       expects);
#   `250 2.5.0 Ok, id=18438-02, BOUNCE`: refused, and amavisd sent the sender a notice itself;
#   `250 2.5.0 Ok, id=03164-18, DISCARD(bounce.suppressed)`: refused, no notice; with several
#       recipients of different verdicts and none passed, each counted: `..., 1 REJECT, and 1
#       BOUNCE`; with one passed, `..., but 1 BOUNCE` after the pass's answer (one answer for
#       every recipient, naming none of them: they stay sent);
# over LMTP, one answer per recipient (amavisd's LMTP response): `250 2.5.0 Ok <r@example>, DSN
# was sent (554 5.7.0 Bounce, id=11707-01 - spam)`: refused with a notice; `..., DSN
# suppressed (...)` and `DSN suppressed_2 (...)`: refused, no notice.
# ClamSMTP's (clamsmtpd, its action `drop`): `250 Virus Detected; Discarded Email`.
_VERDICT = r"(?:[0-9]+ )?(?:REJECT|BOUNCE|DISCARD\(bounce\.suppressed\)|DISCARD)"
_FILTER_REFUSAL = re.compile(
    r"250 (?:2\.[0-9]\.[0-9] Ok, discarded(?:,.*)?"
    r"|Virus Detected; Discarded Email"
    rf"|2\.5\.0 Ok, id=[^ ,]+, (?P<verdicts>{_VERDICT}(?:, and {_VERDICT})*)"
    r"|2\.5\.0 Ok <[^>]*>, DSN (?P<notice>was sent|suppressed|suppressed_2) \(.*\))",
    re.DOTALL)


def sent_outcome(text: str, answer_at: int) -> str:
    """The outcome of a delivery line whose status word is sent, its answer starting at
    `answer_at`: SENT, or BOUNCED or REJECTED where that answer is a content filter's on
    loopback that bounced or dropped the message (_FILTER_REFUSAL).

    Every sent line comes here: only an answer with amavisd's `Ok, ` or `Ok <` after its
    code (`250 2.5.0 Ok, `; a mail server's `250 2.0.0 Ok: queued as ...` has a colon there)
    or ClamSMTP's `V` (`250 Virus ...`) is read further. Characters, not startswith(): the
    compiled build calls a method with a start for each, some 1,500 instructions."""
    mark = answer_at + 11  # the `k` of `250 2.5.0 Ok, `
    if mark + 1 < len(text) and (
            (text[mark] == "k" and text[mark - 1] == "O" and text[mark + 1] in ", ")
            or text[answer_at + 4] == "V"):
        return filter_refusal(text) or SENT
    return SENT


def filter_refusal(text: str) -> Optional[str]:
    """BOUNCED or REJECTED when `text`, a delivery line of status sent, is a content filter on
    loopback answering that it bounced or dropped the message (_FILTER_REFUSAL); else None.
    The relay, the status and the answer are read as every reading of a delivery line reads
    them (delivery_details(): after the recipients, whose quoted text cannot pass for them).
    A remote server's answer is never a filter's."""
    found = delivery_details(text)
    if found is None or not is_loopback(split_address(found[1])[1]):
        return None
    refusal = _FILTER_REFUSAL.fullmatch(found[3])
    if refusal is None:
        return None
    if refusal["notice"] == "was sent" or refusal["verdicts"] == "BOUNCE":
        return BOUNCED  # every recipient's notice went to the sender
    return REJECTED


def sent_answer_at(text: str) -> int:
    """Where the answer of a delivery line that delivery_peek() read as sent starts (after the
    `, status=sent (` that follows its recipients; PLAIN_PEEK's match, where it matches, ends
    at that word)."""
    found = _recipient_fields(text, text.find(": to=") + 5)
    return (found[3] if found is not None else text.find(", status=")) + 15


# The first fields of nearly every delivery line: the recipient and orig_to in angle brackets,
# then the fields up to the status word in the order Postfix writes them, none holding a comma,
# the addresses not quoted (one that starts with `"`: a quoted local part may hold a line's
# fields, and is read by _recipient_fields()). delivery_peek() reads such a line as this one
# match does: its first ": to=" ends the queue ID, its first ">, " after it closes the
# recipient, and its first ", status=" after the recipients is the one here
# (tests/test_plain_shapes.py holds the two readings equal).
PLAIN_PEEK = re.compile(r"[^:]*: to=<(?!\")([^,]*)>, (?:orig_to=<(?!\")([^,]*)>, |)"
                        r"relay=[^,]*, "
                        r"(?:conn_use=[^,]*, |)delay=[^,]*, delays=[^,]*, (?:tls=[^,]*, |)"
                        r"dsn=[^,]*, status=([^ ]*)")


def delivery_peek(text: str):
    """The first look at a delivery line: (recipient, orig_to, outcome), or None.

    The outcome is one of OUTCOMES, a probe's status word (PROBE_STATUSES), or UNKNOWN_STATUS.

    A deferred message is retried for days and most of a busy log can be its retries; the
    correlator needs only these three to follow them, and a report reads the rest of the line
    (delivery_details) once, for the last attempt of each recipient. A line of the plain shape
    is read by one match, 2x faster.
    """
    plain = PLAIN_PEEK.match(text)
    if plain is not None:
        recipient, orig_to, word = plain.groups()
    else:
        start = text.find(": to=")
        if start < 0:
            return None
        found = _recipient_fields(text, start + 5)
        if found is None:
            return None
        recipient, orig_to, _, status_at = found
        word = text[status_at + 9:].partition(" ")[0]
    status = STATUS_OUTCOMES.get(word)
    if status is None:
        status = word if word in PROBE_STATUSES else UNKNOWN_STATUS
    return recipient, orig_to, status


def _bounce(text: str):
    # "QID: sender non-delivery notification: NEWQID"
    queue_id = queue_id_of(text)
    if queue_id is None:
        return None
    body = text[len(queue_id) + 2:]
    label, colon, notice_id = body.rpartition(" notification: ")
    if not colon or not (notice_id.isascii() and notice_id.isalnum()):
        return None
    return Notice(queue_id, notice_id, label)


# What cleanup_strerror() can say of a notice that cleanup did not queue (global/
# cleanup_strerror.c: a closed list; the address before it is the sender's, any text).
CLEANUP_REFUSALS: Final = frozenset((
    "service unavailable", "queue file write error", "internal protocol error",
    "no recipients specified", "too many hops", "message file too big",
    "message content rejected", "service denied", "bare <LF> received"))
_NOTICE_FAILURES: Final = (" sender notification failed to ", " postmaster notification failed: ")


def notice_failure_of(body: str) -> Optional[str]:
    """The queue ID of bounce's `warning: QID: sender notification failed to ADDR: REASON` or
    `warning: QID: postmaster notification failed: REASON` (`body`: the text after
    `warning: `), else None. Postfix >= 3.11 logs the notice's `... notification: NEWQID` line
    before cleanup has queued it, and this warning when cleanup then refused it (REASON one of
    CLEANUP_REFUSALS): NEWQID never reaches the queue. Without a reason no notice was begun
    (none was named)."""
    queue_id = queue_id_of(body)
    if queue_id is None:
        return None
    failure = body[len(queue_id) + 1:]
    if not failure.startswith(_NOTICE_FAILURES):
        return None
    reason = failure.rpartition(": ")[2]
    return queue_id if reason in CLEANUP_REFUSALS else None


def _postsuper(text: str):
    # postsuper -d logs "QID: removed" like qmgr does.
    queue_id = queue_id_of(text)
    if queue_id is not None and text.endswith(": removed"):
        return Removed(queue_id)
    return None


SMTPD_PARSERS = {
    CONNECT: connect_event,
    DISCONNECT: disconnect_event,
    AUTH_FAILURE: auth_failure_event,
    TLS: tls_event,
    CLIENT: smtpd_client_event,
    REJECT: smtpd_reject_event,
    SIZE_LIMIT: size_limit_event,
    ACTION: smtpd_action_event,
    PROXY_CLIENT: smtpd_client_event,
    PROXY_REPLY: proxy_reply_event,
    PROXY_REFUSAL: proxy_refusal_event,
    RATE_LIMIT: rate_limit_event,
}

RECOGNIZERS = {
    "smtpd": smtpd_event,
    "cleanup": _cleanup,
    "qmgr": _qmgr,
    "bounce": _bounce,
    "postsuper": _postsuper,
    "pickup": requeued_event,
}
RECOGNIZERS.update((agent, delivery_event) for agent in DELIVERY_AGENTS)


def recognize(daemon: str, text: str):
    """The event a Postfix daemon's message text carries, or None when we do not use it."""
    parser = RECOGNIZERS.get(daemon)
    if parser is None:
        return None
    event = parser(text)
    return event if event is not None else read_trimmed(parser, text)


def read_trimmed(parser, text: str):
    """What `parser` makes of `text` without the whitespace after its end (an edited log, a
    relay's template), when `text` has some; else None. Asked only of a line its parser did not
    know, so that no other line pays for it."""
    return parser(text.rstrip()) if text[-1:].isspace() else None
