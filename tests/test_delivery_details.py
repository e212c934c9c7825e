"""A delivery line's dsn and relay are what splitting its fields on ", " gives (the last field
of each kind), whatever the fields, their order and the text inside them: the fast reading of
events.delivery_details against that definition, on lines built from attacker-chosen pieces.
The recipient is written bare, as Postfix < 3.5 writes every local part; one Postfix quotes is
read to its closing quote (tests/test_quoted_addresses.py). A recipient keeps its line from
`relay=` on, and reads from it what the whole line gives."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from maillog_sasl.events import delivery_details, delivery_event
from maillog_sasl.model import DEFERRED, Recipient

PIECES = st.sampled_from(["dsn=2.0.0", "dsn", "dsnx=1", "relay=mx[192.0.2.1]:25", "relay=",
                          "rel", "delay=1", "delays=0/0/0/1", "conn_use=2", "orig_to=<o@x>",
                          "tls=yes", "", "a,b", ", ", "x, dsn=9.9.9", "x, relay=evil"])


def by_split(text: str):
    """(dsn, relay) as the fields split on ", " read: the last of each kind, or ""."""
    colon = text.find(": ")
    status_at = text.find(", status=", colon)
    found = {"dsn": "", "rel": ""}
    for field in text[colon + 5:status_at].split(", ")[1:]:
        if field[:3] in found:
            found[field[:3]] = field[4:] if field[:3] == "dsn" else field[6:]
    return found["dsn"], found["rel"]


@given(st.text(max_size=12).filter(lambda address: not address.startswith('"')),
       st.lists(PIECES, max_size=6), st.sampled_from(["sent (ok)", "x"]))
def test_dsn_and_relay_are_the_last_fields_of_their_kind(address, fields, status):
    text = "QID: to=<" + address + ">" + "".join(", " + field for field in fields)
    text += ", status=" + status
    found = delivery_details(text)
    if ", status=" in address:
        return  # the status is then read inside the address, as Postfix's line shape allows
    assert found is not None
    assert found[:2] == by_split(text)


VALUES = st.text(alphabet=st.sampled_from("a0.=<>[]:()/, -\t\n"), max_size=8)


@given(st.tuples(VALUES, VALUES, VALUES, VALUES, VALUES, VALUES, VALUES, VALUES))
def test_the_plain_shape_reads_as_delivery_event(values):
    """A line of the plain shape (to, relay, delay, delays, dsn, status), whose values may
    hold commas, parentheses, spaces and line ends: delivery_details gives what
    delivery_event reads, and None where it gives None."""
    queue_id, to, relay, delay, delays, dsn, status, reason = values
    text = (f"{queue_id}: to={to}, relay={relay}, delay={delay}, delays={delays}, dsn={dsn}, "
            f"status={status}{reason}")
    event = delivery_event(text)
    expected = None if event is None else (event.dsn, event.relay, event.status, event.reason)
    assert delivery_details(text) == expected


WHEN = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)


def kept_and_whole(text: str):
    """The details of a recipient whose last line is `text`, as it keeps it, and as a watch
    state of older versions holds it (whole); and what it kept."""
    kept, whole = Recipient("r@example.org", None), Recipient("r@example.org", None)
    for recipient in (kept, whole):
        recipient.attempted(DEFERRED, text, WHEN, 1, WHEN)
    whole.last_line = text
    return kept.details(), whole.details(), kept.last_line


ADDRESSES = st.one_of(st.text(max_size=12), st.sampled_from(
    ["a, relay=b", '"q, relay=x"@y', '"a"@b', "a: b", "x, status=y", "a>, orig_to=<b"]))


@given(ADDRESSES, st.lists(PIECES, max_size=6),
       st.sampled_from(["sent (ok)", "x", "deferred (a, relay=b)", "bounced"]))
def test_a_recipient_reads_what_it_kept_of_its_line_as_the_whole_line(address, fields, status):
    text = "QID: to=<" + address + ">" + "".join(", " + field for field in fields)
    text += ", status=" + status
    kept, whole, line = kept_and_whole(text)
    assert kept == whole


def test_a_recipient_keeps_its_line_from_relay_on_unless_a_quote_comes_before():
    text = ("9C8A2E2DAA: to=<alice@example.org>, relay=mx.example.net[192.0.2.7]:25, "
            "delay=9, delays=0.1/0/5/3.9, dsn=4.4.2, status=deferred (lost connection)")
    kept, whole, line = kept_and_whole(text)
    assert line == text[text.index("relay="):]
    assert kept == whole == ("4.4.2", "mx.example.net[192.0.2.7]:25", "lost connection")
    quoted = 'QID: to=<"a, relay=evil"@example.org>, relay=none, dsn=5.1.1, status=bounced (x)'
    kept, whole, line = kept_and_whole(quoted)
    assert line == quoted
    assert kept == whole == ("5.1.1", "none", "x")
