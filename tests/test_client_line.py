"""smtpd's client= line read by one match where it has the plain shape (events._PLAIN_CLIENT)
gives the Client that client_event(), the general reading, gives: on lines built from
attacker-chosen values holding commas, brackets, colons and the keys themselves."""

from hypothesis import example, given
from hypothesis import strategies as st

from maillog_sasl.events import _PLAIN_CLIENT, client_event, smtpd_client_event

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
