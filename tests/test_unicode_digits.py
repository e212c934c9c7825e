"""Numbers Postfix writes (qmgr's size= and nrcpt=, the disconnect counters) read from a damaged
line: a character str.isdigit() accepts and int() does not (a superscript, a circled digit)
is no number, never a traceback; a decimal digit of another script is the number it is, as
int() reads it.

The log is one submission written in Postfix's formats, those fields damaged.
"""

import json

import pytest

LOG = """\
Mar  1 15:01:50 mail postfix/submission/smtpd[1459]: connect from a.example[198.18.121.173]
Mar  1 15:01:52 mail postfix/submission/smtpd[1459]: 058482048337: client=a.example[198.18.121.173], sasl_method=PLAIN, sasl_username=bob
Mar  1 15:01:52 mail postfix/qmgr[1370]: 058482048337: from=<bob@example.test>, size={size}, nrcpt={nrcpt} (queue active)
Mar  1 15:01:53 mail postfix/smtp[1480]: 058482048337: to=<ann@remote.test>, relay=mx.remote.test[203.0.113.5]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Mar  1 15:01:53 mail postfix/qmgr[1370]: 058482048337: removed
Mar  1 15:01:54 mail postfix/submission/smtpd[1459]: disconnect from a.example[198.18.121.173] ehlo=1 auth={auth} mail=1 rcpt=1 data=1 quit=1 commands=5
"""


@pytest.mark.parametrize("damaged", ["\u00b2", "1\u00b22", "\u2460", "\u00b2/1"])
def test_digits_int_cannot_read_are_no_number(tmp_path, cli, damaged):
    log = tmp_path / "maillog"
    log.write_text(LOG.format(size=damaged, nrcpt=damaged, auth=damaged), encoding="utf-8")
    for report in ("users", "sessions", "messages"):
        result = cli("--report", report, "--format", "json", "--year", "2026", log)
        assert result.code == 0, result.err
        assert "Traceback" not in result.err
    [session] = json.loads(cli("-r", "sessions", "-f", "json", "--year", "2026", log).out)
    assert session["sasl_username"] == "bob"
    assert session["auth"] in ("", None)  # no counter read from it


def test_decimal_digits_of_another_script_are_read(tmp_path, cli):
    # U+0661..U+0663: ARABIC-INDIC DIGIT ONE..THREE, decimal digits int() reads.
    log = tmp_path / "maillog"
    log.write_text(LOG.format(size="\u0661\u0662", nrcpt="\u0661", auth="\u0661/\u0662"),
                   encoding="utf-8")
    [session] = json.loads(cli("-r", "sessions", "-f", "json", "--year", "2026", log).out)
    assert session["auth"] == "1/2"
    [row] = json.loads(cli("-r", "messages", "-f", "json", "--year", "2026", log).out)
    assert (row["recipient"], row["status"]) == ("ann@remote.test", "sent")
