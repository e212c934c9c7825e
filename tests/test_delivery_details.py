"""A delivery line's dsn and relay are what splitting its fields on ", " gives (the last field
of each kind), whatever the fields, their order and the text inside them: the fast reading of
events.delivery_details against that definition, on lines built from attacker-chosen pieces.
The recipient is written bare, as Postfix < 3.5 writes every local part; one Postfix quotes is
read to its closing quote (tests/test_quoted_addresses.py)."""

from hypothesis import given
from hypothesis import strategies as st

from maillog_sasl.events import delivery_details, delivery_event

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
