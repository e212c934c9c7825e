"""The lines the correlator reads by the thousand, read by one match where they have their plain
shape, give what the general reading gives: smtpd's client= line (events._PLAIN_CLIENT) and
qmgr's `(queue active)` (events.PLAIN_QUEUE_ACTIVE), each read with its match and with the
match never taken, on lines built from attacker-chosen values holding commas, brackets, colons,
spaces and the keys themselves; and a login's client= line cut by hand (events.plain_login())
reads as its match does. And a text equal to the NAME[IP]:PORT rebuilt from a client's
fields (correlate._address_of, which spares parsing a connect or disconnect line again) gives
back those fields. And smtpd_kind() tells a line that starts with a queue ID by one match, as
queue_id_of() reads the queue ID."""

import re
from unittest import mock

from hypothesis import example, given
from hypothesis import strategies as st

from maillog_sasl import events
from maillog_sasl.correlate import _address_of
from maillog_sasl.events import _PLAIN_CLIENT, Connect, smtpd_client_event, split_address

NEVER = re.compile("(?!)")


def without_match(pattern: str, parse, text: str):
    """What `parse` reads of `text` with its plain-shape match (events.`pattern`) never taken."""
    with mock.patch.object(events, pattern, NEVER):
        return parse(text)


def values(*keys: str):
    """Plain values three times in five (a line is plain only when all of its values are), and
    values holding the characters and the `keys` the general reading cuts on."""
    plain = st.text(alphabet=st.sampled_from("a0.@-"), min_size=1, max_size=5)
    return st.one_of(plain, plain, plain,
                     st.text(alphabet=st.sampled_from("a0:[]<>, =\t"), max_size=6),
                     st.sampled_from(["", *keys]))


VALUES = values(", sasl_username=", ", sasl_sender=", ", orig_queue_id=", ", sasl_method=", "]:",
                "[")
PORTS = st.none() | st.text(alphabet=st.sampled_from("0123456789"), min_size=1) | VALUES
SASL = st.tuples(VALUES, VALUES, st.none() | VALUES) | st.none()


@given(VALUES, VALUES, VALUES, PORTS, SASL)
@example("1A2B", "mail.example", "192.0.2.1", None, ("PLAIN", "alice", None))
@example("1A2B", "unknown", "2001:db8::1", "25", ("LOGIN", "bob@example", "bob@example"))
@example("1A2B", "localhost", "127.0.0.1", None, None)
def test_a_plain_client_line_reads_as_the_general_reading(queue_id, name, ip, port, sasl):
    text = f"{queue_id}: client={name}[{ip}]" + (f":{port}" if port is not None else "")
    if sasl is not None:
        method, username, sender = sasl
        text += f", sasl_method={method}, sasl_username={username}"
        if sender is not None:
            text += f", sasl_sender={sender}"
    assert smtpd_client_event(text) == without_match("_PLAIN_CLIENT", smtpd_client_event, text)


# A login's client= line of the plain shape read by one match: events.plain_login() cuts it by
# hand and must read what this reads (events._PLAIN_CLIENT's parts, its address a group of its
# own, its SASL fields not optional).
PLAIN_LOGIN = re.compile(r"([^:]+): client=(%s)%s(?<!\s)" % (events._PLAIN_ADDRESS,
                                                              events._PLAIN_SASL))
# What a hand cut may miss: whitespace `\s` takes beyond ASCII's (and the ASCII separators
# \x1c-\x1f), digits `[0-9]` leaves out, a line's end inside a value.
LOGIN_VALUES = values(", sasl_username=", ", sasl_sender=", ", sasl_method=", ": client=",
                      "]:", "[", ":1") | st.text(
    alphabet=st.sampled_from("a0:[], \x1c\x1f\u2028\xa0\x85\n\u0663"), max_size=4)


@given(LOGIN_VALUES, LOGIN_VALUES, LOGIN_VALUES, st.none() | LOGIN_VALUES | PORTS,
       LOGIN_VALUES, LOGIN_VALUES, st.none() | LOGIN_VALUES,
       st.sampled_from(["", " ", "\t", "\x1c", "\u2028", "\xa0", ",", "a", ", sasl_sender="]))
@example("1A2B", "unknown", "2001:db8::1", "587", "PLAIN", "alice", "alice@corp.example", "")
@example("1A2B", "h", "a:1", "2", "LOGIN", "bob", None, "")  # a `:` in the IP, and a port
@example("1A2B", "h", "192.0.2.1", "", "PLAIN CRAM", "a[b]", "", "")  # `:` and no digit
@example("1A2B", "h", "192.0.2.1", "\u0663", "PLAIN", "alice", None, "")
@example("1A2B", "h", "192.0.2.1", None, "PLAIN", "alice", None, "\x1c")
@example("1A2B", "h", "192.0.2.1", None, "PLAIN", "", None, "")
@example("1A2B", "h", "192.0.2.1", None, "PLAIN", "alice", "a\xa0b", "")
@example("1A2B", "h", "192.0.2.1", None, "PLAIN", "alice", "a", ",b")
@example("1A2B", "a]b", "192.0.2.1", None, "PLAIN", "alice", None, "")
@example("1A2B", "a", "192.0.2.1", None, "PLAIN", "alice", "", "")
def test_a_login_line_cut_by_hand_reads_as_its_match(queue_id, name, ip, port, method,
                                                      username, sender, tail):
    text = (f"{queue_id}: client={name}[{ip}]" + (f":{port}" if port is not None else "")
            + f", sasl_method={method}, sasl_username={username}"
            + (f", sasl_sender={sender}" if sender is not None else "") + tail)
    login = PLAIN_LOGIN.fullmatch(text)
    assert events.plain_login(text) == (None if login is None else login.groups())


# Lines of any order of the pieces the cut looks for: a key or a bracket in a place the
# template above never puts it (the SASL keys inside the address, a `]` before the `[`).
LOGIN_PIECES = st.sampled_from(["1A2B", ": client=", "h", "[", "]", ":", "25", ", sasl_method=",
                                ", sasl_username=", ", sasl_sender=", "a", ",", " ", "\x1c",
                                "\u2028", "\u0663"])


@given(st.lists(LOGIN_PIECES, max_size=12).map("".join))
@example("1A2B: client=h[1, sasl_method=M, sasl_username=U]")
@example("1A2B: client=a]:1, sasl_method=M, sasl_username=U[x]")
def test_any_order_of_a_login_line_s_pieces_is_cut_as_its_match_reads_it(text):
    login = PLAIN_LOGIN.fullmatch(text)
    assert events.plain_login(text) == (None if login is None else login.groups())


def test_the_common_client_lines_take_the_match():
    for text in ("57CAF17DB1: client=h.example[198.18.6.155], sasl_method=LOGIN, "
                 "sasl_username=dave@corp.example",
                 "BE8FC14E7B: client=unknown[198.18.0.199]:57483, sasl_method=PLAIN, "
                 "sasl_username=x, sasl_sender=x@corp.example",
                 "BE8FC14E7B: client=localhost[127.0.0.1]"):
        assert _PLAIN_CLIENT.fullmatch(text) is not None
        if ", sasl_username=" in text:
            assert events.plain_login(text) is not None


FAILURE_VALUES = values(", sasl_username=", "sasl_username=", "]: SASL ", ": SASL ", " ", ":",
                        "\t", "[", "]")


@given(FAILURE_VALUES, FAILURE_VALUES, st.none() | FAILURE_VALUES, FAILURE_VALUES,
       st.sampled_from(["failed: ", "failed:: ", "failed:", "failed", "aborted", "faile: "]),
       FAILURE_VALUES, st.none() | FAILURE_VALUES)
@example("mail.example", "192.0.2.1", None, "LOGIN", "failed: ", "authentication failure",
         "walterk")
@example("unknown", "2001:db8::1", "587", "plain", "failed: ", "UGFzc3dvcmQ6", None)
@example("h", "192.0.2.1", None, "LOGIN", "failed: ", "x", "a, sasl_username=b ")
def test_a_plain_auth_failure_reads_as_the_general_reading(name, ip, port, mechanism, outcome,
                                                           reason, username):
    text = (f"warning: {name}[{ip}]" + (f":{port}" if port is not None else "")
            + f": SASL {mechanism} authentication {outcome}{reason}"
            + (f", sasl_username={username}" if username is not None else ""))
    assert (events.auth_failure_event(text)
            == without_match("_PLAIN_AUTH_FAILURE", events.auth_failure_event, text))


def test_the_common_auth_failures_take_the_match():
    for text in ("warning: 1-95-148-106.dyn.example[1.95.148.106]: SASL LOGIN authentication "
                 "failed: authentication failure, sasl_username=mail@shop.example",
                 "warning: unknown[2001:db8::1]: SASL PLAIN authentication failed: "
                 "UGFzc3dvcmQ6"):
        assert events._PLAIN_AUTH_FAILURE.fullmatch(text) is not None


@given(st.text(alphabet=st.sampled_from("a0.:[] "), max_size=12))
@example("mail.example[192.0.2.1]")
@example("unknown[2001:db8::1]:587")
@example("a[b]c]:x]")
@example("x[")
def test_a_text_equal_to_the_rebuilt_address_names_the_same_client(address):
    fields = split_address(address)
    rebuilt = _address_of(Connect(*fields))
    if not fields[1]:
        assert rebuilt is None
        return
    assert rebuilt is not None and split_address(rebuilt) == fields
    # A session built at a reject knows its client's IP alone.
    ip_alone = _address_of(Connect("", fields[1], None))
    assert ip_alone is not None and split_address(ip_alone)[1] == fields[1]


WORDS = values(">", ">, ", ", size=", ", nrcpt=", "status=expired")
NUMBERS = (st.text(alphabet=st.sampled_from("0123456789"), min_size=1, max_size=8)
           | st.text(alphabet=st.sampled_from("01 ,x"), max_size=3))


@given(WORDS, WORDS, NUMBERS, NUMBERS, st.sampled_from([" (queue active)", " (queue activ)", ""]))
@example("1A2B", "alice@example.org", "5026742", "1", " (queue active)")
@example("1A2B", "", "100", "1234567", " (queue active)")
@example("1A2B", "a>, size=1", "2", "3", " (queue active)")
def test_a_plain_queue_active_reads_as_the_general_reading(queue_id, sender, size, nrcpt, tail):
    text = f"{queue_id}: from=<{sender}>, size={size}, nrcpt={nrcpt}{tail}"
    assert events._qmgr(text) == without_match("PLAIN_QUEUE_ACTIVE", events._qmgr, text)


QUEUE_ID_BODIES = ["client=", "reject: ", "milter-reject: ", "hold: ", "milter-hold: ",
                   "discard: ", "milter-discard: ", "proxy-accept: ", "proxy-reject: ",
                   "clien", "x", ""]


@given(st.text(alphabet=st.sampled_from("aZ09:- é"), max_size=26),
       st.sampled_from(QUEUE_ID_BODIES), st.sampled_from(QUEUE_ID_BODIES))
@example("1A2B3", ": ", "client=")
@example("1A2B3C4D5E6F7A8B9C0D1E", ": ", "reject: ")
@example("1A2B3C4D5E6F7A8B9C0D1E2", ": ", "reject: ")
@example("1A2", ": x: ", "client=")
def test_a_queue_id_line_is_told_by_its_queue_id_and_the_words_after_it(head, body, more):
    """smtpd_kind() reads a queue ID line with one match (events._QUEUE_ID_LINE): as
    queue_id_of() takes the queue ID, and the words after it."""
    text = head + body + more
    if text[:1] in "cdwN" or events.TLS_MARKER in text:
        return  # told apart before any queue ID is looked for
    queue_id = events.queue_id_of(text)
    expected = None
    if queue_id is None:
        if text.startswith(("proxy-accept: ", "proxy-reject: ")):
            expected = events.PROXY_REPLY
    else:
        after = text[len(queue_id) + 2:]
        if after.startswith("client="):
            expected = events.CLIENT
        elif after.startswith(("reject: ", "milter-reject: ")):
            expected = events.REJECT
        elif after.startswith(("hold: ", "milter-hold: ", "discard: ", "milter-discard: ")):
            expected = events.ACTION
    assert events.smtpd_kind(text) == expected


ADDRESSES = values(">, ", ", status=", ", orig_to=<", ": to=<", ">")
FIELDS = values(", status=", ", relay=", ", delay=", ", dsn=", "status=")
STATUS_WORDS = st.sampled_from(["sent", "deferred", "bounced", "expired", "SOFTBOUNCE",
                                "deliverable", "undeliverable", "sen", ""]) | VALUES


@given(WORDS, ADDRESSES, st.none() | ADDRESSES, st.booleans(), FIELDS, st.none() | FIELDS,
       st.none() | FIELDS, FIELDS, STATUS_WORDS,
       st.sampled_from(["", " (250 ok)", " (a, status=sent)", "\t"]))
@example("1A2B", "bob@example.org", None, True, "mx.example[192.0.2.1]:25", None, None, "4.4.1",
         "deferred", " (connect to mx.example: Connection timed out)")
@example("1A2B", "bob@example.org", "alias@example.org", True, "local", "2", None, "2.0.0",
         "sent", " (delivered to mailbox)")
@example("1A2B", "", None, False, "none", None, "may?", "5.1.1", "bounced", "")
def test_a_plain_delivery_line_peeks_as_the_general_reading(queue_id, to, orig_to, brackets,
                                                            relay, conn_use, tls, field, word,
                                                            tail):
    def address(value):
        return f"<{value}>" if brackets else value
    text = (f"{queue_id}: to={address(to)}"
            + (f", orig_to={address(orig_to)}" if orig_to is not None else "")
            + f", relay={relay}" + (f", conn_use={conn_use}" if conn_use is not None else "")
            + f", delay={field}, delays={field}" + (f", tls={tls}" if tls is not None else "")
            + f", dsn={field}, status={word}{tail}")
    assert (events.delivery_peek(text)
            == without_match("PLAIN_PEEK", events.delivery_peek, text))


def test_the_common_delivery_lines_take_the_match():
    for text in ("657AC20400E5: to=<noor@oldpartner.example>, relay=none, delay=159876, "
                 "delays=159846/0.02/30/0, dsn=4.4.1, status=deferred (connect to "
                 "mx1.oldpartner.example[198.19.99.207]:25: Connection timed out)",
                 "1A2B: to=<a@corp.example>, orig_to=<b@corp.example>, relay=mail.corp.example"
                 "[private/dovecot-lmtp], conn_use=2, delay=0.39, delays=0.25/0.02/0/0.11, "
                 "dsn=2.0.0, status=sent (250 2.0.0 Ok)"):
        assert events.PLAIN_PEEK.match(text) is not None


@given(st.text(alphabet=st.sampled_from("aA0: \u00e9\uff21"), max_size=30),
       st.sampled_from(["message-id=<a@b>", "hold: header X: y from a[1.2.3.4]; from=<a> to=<b>",
                        ""]))
@example("NOQUEUE", "message-id=<a@b>")
@example("1A2B3C4D5E6F7A8B9C0D1E2F", "message-id=<a@b>")
def test_cleanup_cut_at_its_first_colon_names_the_queue_id_queue_id_of_reads(head, body):
    """cleanup_event() is given the line cut at its first ": " (the correlator's cut): it reads
    a queue ID there exactly where queue_id_of() reads one in the whole line."""
    text = f"{head}: {body}"
    queue_id, _, rest = text.partition(": ")
    event = events.cleanup_event(queue_id, rest)
    if events.queue_id_of(text) is None:
        assert event is None
    else:
        assert events.queue_id_of(text) == queue_id
