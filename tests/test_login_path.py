"""The correlator's short way through a login (a client= line of the plain shape cut by hand,
events.plain_login(), its session taken from the connect without parsing it; the
message-id of a message it tracks read inline) gives what the general way gives: the same
sessions and messages, field by field, on logs whose connects name the client otherwise, name
another client, or are missing, and whose client= lines are of other shapes."""

import importlib
from unittest import mock

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from maillog_sasl import events
from maillog_sasl.correlate import Correlator
from maillog_sasl.model import (
    MESSAGE_FIELDS,
    RECIPIENT_FIELDS,
    SESSION_FIELDS,
    STATS_FIELDS,
    Message,
    Session,
)
from maillog_sasl.syslog import Clock

from support import COMPILED

# The module (the package's `correlate` is its function of that name).
correlate = importlib.import_module("maillog_sasl.correlate")
NAMES = st.sampled_from(["unknown", "h.example", "a,b", "x[y", ""])
IPS = st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1", "127.0.0.1", ""])
PORTS = st.sampled_from([None, "587", "x"])
ADDRESS = st.tuples(NAMES, IPS, PORTS)
LOGIN = st.tuples(st.sampled_from(["PLAIN", "LOGIN", ""]),
                  st.sampled_from(["alice", "bob@corp.example", "a, b", "", "c "]),
                  st.none() | st.sampled_from(["alice@corp.example", "x,y"]))


def address_text(address) -> str:
    name, ip, port = address
    return f"{name}[{ip}]" + (f":{port}" if port is not None else "")


def snapshot(item):
    """Every field of a finished session or message; the objects it points to by serial."""
    if isinstance(item, Session):
        return ("session", *(getattr(item, name) for name in SESSION_FIELDS))
    fields = []
    for name in MESSAGE_FIELDS:
        value = getattr(item, name)
        if name == "recipients":
            value = {key: tuple(getattr(recipient, field) for field in RECIPIENT_FIELDS)
                     for key, recipient in value.items()}
        elif isinstance(value, (Session, Message)):
            value = value.serial
        fields.append(value)
    return ("message", *fields)


def correlated(lines):
    correlator = Correlator()
    correlator.feed(lines, Clock(year=2024))
    correlator.end_source()
    correlator.finish()
    return [snapshot(item) for item in correlator.finished], correlator.stats


def both_ways(lines):
    with mock.patch.object(events, "plain_login", lambda text: None):
        general = correlated(lines)
    short = correlated(lines)
    assert short[0] == general[0]
    assert ({name: getattr(short[1], name) for name in STATS_FIELDS}
            == {name: getattr(general[1], name) for name in STATS_FIELDS})
    return short[0]


@pytest.mark.skipif(COMPILED, reason="a compiled module calls another's function directly, past "
                    "the mock; the pure-Python suite runs it")
@given(st.none() | ADDRESS, st.lists(st.tuples(ADDRESS, LOGIN, st.booleans()), min_size=1,
                                     max_size=3),
       st.booleans(), st.booleans())
@example(("unknown", "192.0.2.1", None), [(("unknown", "192.0.2.1", None),
                                          ("PLAIN", "alice", None), False)], True, True)
@example(("unknown", "192.0.2.1", "587"), [(("unknown", "192.0.2.1", None),
                                           ("PLAIN", "alice", None), False)], False, True)
@example(("unknown", "192.0.2.2", None), [(("unknown", "192.0.2.1", None),
                                          ("PLAIN", "alice", None), False)], True, True)
@example(("unknown", "192.0.2.1", None), [(("unknown", "192.0.2.1", None),
                                          ("PLAIN", "alice", None), False),
                                         (("unknown", "192.0.2.2", None),
                                          ("PLAIN", "bob", None), False)], True, True)
def test_a_login_reads_as_the_general_way(connect, logins, tls, disconnect):
    prefix = "Mar  1 10:00:0{} mail postfix/submission/smtpd[42]: "
    lines = []
    if connect is not None:
        lines.append(prefix.format(0) + f"connect from {address_text(connect)}")
        if tls:
            lines.append(prefix.format(1) + "Anonymous TLS connection established from "
                         f"{address_text(connect)}: TLSv1.3 with cipher X (256/256 bits)")
    for number, (client, (method, username, sender), trailing) in enumerate(logins):
        queue_id = f"1A2B3C{number}"
        lines.append(prefix.format(2) + f"{queue_id}: client={address_text(client)}, "
                     f"sasl_method={method}, sasl_username={username}"
                     + (f", sasl_sender={sender}" if sender is not None else "")
                     + (" " if trailing else ""))
        lines.append(f"Mar  1 10:00:03 mail postfix/cleanup[7]: {queue_id}: "
                     f"message-id=<{number}@corp.example> ")
        lines.append(f"Mar  1 10:00:04 mail postfix/qmgr[8]: {queue_id}: removed")
    if disconnect:
        lines.append(prefix.format(5) + f"disconnect from {address_text(logins[0][0])} ehlo=1 "
                     "auth=1 quit=1 commands=3")
    both_ways(lines)


@pytest.mark.skipif(COMPILED, reason="a compiled module calls another's function directly, past "
                    "the mock; the pure-Python suite runs it")
def test_the_common_login_takes_the_short_way():
    lines = ["Mar  1 10:00:00 mail postfix/submission/smtpd[42]: connect from "
             "unknown[192.0.2.1]",
             "Mar  1 10:00:01 mail postfix/submission/smtpd[42]: 1A2B3C4D: "
             "client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=alice"]
    with mock.patch.object(events, "smtpd_client_event", side_effect=AssertionError):
        finished = correlated(lines)[0]
    assert [item[0] for item in finished] == ["session", "message"]
    assert finished == both_ways(lines)


def test_a_notice_with_a_queue_id_cleanup_does_not_take_keeps_no_message_id():
    """A bounce notice's queue ID is read from bounce's line: one that cleanup_message_id()
    does not take (four characters) has its message-id line unused, as cleanup_event() has."""
    lines = ["Mar  1 10:00:00 mail postfix/submission/smtpd[42]: connect from "
             "unknown[192.0.2.1]",
             "Mar  1 10:00:01 mail postfix/submission/smtpd[42]: 1A2B3C4D: "
             "client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=alice",
             "Mar  1 10:00:02 mail postfix/bounce[9]: 1A2B3C4D: sender non-delivery "
             "notification: ABCD",
             "Mar  1 10:00:03 mail postfix/cleanup[7]: ABCD: message-id=<n@corp.example>"]
    correlator = Correlator()
    correlator.feed(lines, Clock(year=2024))
    correlator.end_source()  # (an input's first lines wait to tell how many copies it has)
    notice = correlator.messages[("mail", "ABCD")]
    assert notice.kind == "notice" and notice.message_id is None
    assert correlator.stats.postfix_unused == 1


TEXTS = st.text(alphabet=st.sampled_from("a0.:[], =\t"), max_size=6) | st.sampled_from(
    ["", "a", ", sasl_username=", ", sasl_sender=", ", sasl_method=", "]:", "["])


@given(TEXTS, TEXTS, TEXTS, st.none() | TEXTS, TEXTS, TEXTS, st.none() | TEXTS)
@example("1A2B", "unknown", "192.0.2.1", "587", "PLAIN", "alice", "alice@corp.example")
def test_a_plain_login_reads_the_client_event_and_its_address(
        queue_id, name, ip, port, method, username, sender):
    address = f"{name}[{ip}]" + (f":{port}" if port is not None else "")
    text = (f"{queue_id}: client={address}, sasl_method={method}, sasl_username={username}"
            + (f", sasl_sender={sender}" if sender is not None else ""))
    fields = events.plain_login(text)
    if fields is None:
        return
    assert fields[1] == address
    assert (*fields[:1], *fields[2:], None, None) == events.smtpd_client_event(text)
