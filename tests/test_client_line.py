"""How smtpd's lines name their client, read the fast way and the general way, on lines built
from attacker-chosen values holding commas, brackets, colons and the keys themselves: the
client= line read by one match where it has the plain shape (events._PLAIN_CLIENT) gives the
Client that client_event() gives; a text equal to the NAME[IP]:PORT rebuilt from a client's
fields (correlate._address_of, which spares parsing a connect or disconnect line again) gives
back those fields."""

from hypothesis import example, given
from hypothesis import strategies as st

from maillog_sasl.correlate import _address_of
from maillog_sasl.events import (
    _PLAIN_CLIENT,
    Connect,
    client_event,
    smtpd_client_event,
    split_address,
)

# Plain values half of the time, so that the match is taken often enough to be tested.
VALUES = (st.text(alphabet=st.sampled_from("a0.@"), max_size=5)
          | st.text(alphabet=st.sampled_from("a0.:[], =_\t"), max_size=6)
          | st.sampled_from([", sasl_username=", ", sasl_sender=", ", orig_queue_id=",
                             ", sasl_method=", "]:", "["]))
PORTS = st.none() | st.text(alphabet=st.sampled_from("0123456789"), min_size=1) | VALUES
SASL = st.tuples(VALUES, VALUES, st.none() | VALUES) | st.none()


def general(text: str):
    queue_id = text[:text.find(": ")]
    return client_event(queue_id, text[len(queue_id) + 2:])


@given(VALUES, VALUES, VALUES, PORTS, SASL)
@example("1A2B", "mail.example", "192.0.2.1", None, ("PLAIN", "alice", None))
@example("1A2B", "unknown", "2001:db8::1", "25", ("LOGIN", "bob@example", "bob@example"))
@example("1A2B", "localhost", "127.0.0.1", None, None)
def test_the_plain_shape_reads_as_client_event(queue_id, name, ip, port, sasl):
    text = f"{queue_id}: client={name}[{ip}]" + (f":{port}" if port is not None else "")
    if sasl is not None:
        method, username, sender = sasl
        text += f", sasl_method={method}, sasl_username={username}"
        if sender is not None:
            text += f", sasl_sender={sender}"
    assert tuple(smtpd_client_event(text)) == tuple(general(text))


def test_the_common_lines_take_the_match():
    for text in ("57CAF17DB1: client=h.example[198.18.6.155], sasl_method=LOGIN, "
                 "sasl_username=dave@corp.example",
                 "BE8FC14E7B: client=unknown[198.18.0.199]:57483, sasl_method=PLAIN, "
                 "sasl_username=x, sasl_sender=x@corp.example",
                 "BE8FC14E7B: client=localhost[127.0.0.1]"):
        assert _PLAIN_CLIENT.fullmatch(text) is not None


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
