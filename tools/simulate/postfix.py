"""postfix: what Postfix 3.x writes, as the generator needs it: constants, replies, formats.

SUMMARY
    TLS_SERVER, TLS13_SUFFIX     TLS protocols and ciphers of the TLS lines
    SERVICE_TAG                  smtpd's syslog name by master.cf service
    CYRUS_LINE                   the Cyrus SASL line before some authentication failures
    LIFETIME, MIN_BACKOFF, MAX_BACKOFF, QUEUE_RUN    queue timing (Postfix's defaults)
    fmt_delay(seconds) -> text   delay=, delays= as Postfix formats them
    counters_text(cnt) -> text   the command counters of smtpd's `disconnect from` line
    MONTHS                       month names of traditional syslog stamps

INPUT
    None: constants and pure functions of their arguments.

OUTPUT
    Texts exactly as Postfix 3.x logs them; the other modules put them into lines.

DIAGNOSTICS
    None.
"""

TLS_SERVER = (("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256), ("TLSv1.3", "TLS_AES_128_GCM_SHA256", 128),
              ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", 256),
              ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 256),
              ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 128))
TLS13_SUFFIX = " key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SERVICE_TAG = {"smtpd": "postfix/smtpd", "submission": "postfix/submission/smtpd",
               "smtps": "postfix/smtps/smtpd"}
CYRUS_LINE = "warning: SASL authentication failure: Password verification failed"
LIFETIME = 5 * 86400          # maximal_queue_lifetime = bounce_queue_lifetime = 5d
MIN_BACKOFF, MAX_BACKOFF, QUEUE_RUN = 300.0, 4000.0, 300.0
COUNTER_ORDER = ("helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail", "rcpt",
                 "data", "bdat", "rset", "noop", "vrfy", "etrn", "quit", "help", "unknown")


def fmt_delay(x: float) -> str:
    """Postfix's delay formatting: two significant digits below 10 s, integer above."""
    if x >= 10:
        return str(int(x))
    if x >= 1:
        s = f"{x:.1f}"
    elif x < 0.005:
        return "0"
    else:
        s = f"{x:.2f}"
    s = s.rstrip("0").rstrip(".")
    return s or "0"


def counters_text(cnt: dict) -> str:
    """{'ehlo': [2, 2], 'auth': [0, 3]} -> 'ehlo=2 auth=0/3 commands=2/5'."""
    parts = []
    ok_sum = tot_sum = 0
    for name in COUNTER_ORDER:
        v = cnt.get(name)
        if v is None:
            continue
        ok, tot = v
        ok_sum += ok
        tot_sum += tot
        parts.append(f"{name}={ok}" if ok == tot else f"{name}={ok}/{tot}")
    parts.append(f"commands={ok_sum}" if ok_sum == tot_sum and tot_sum else
                 f"commands={ok_sum}/{tot_sum}")
    return " ".join(parts)
