"""postfix: what Postfix 3.x writes, as the generator needs it: constants, replies, formats.

SUMMARY
    TLS_SERVER, TLS13_SUFFIX     TLS protocols and ciphers of the TLS lines
    SERVICE_TAG                  smtpd's syslog name by master.cf service
    CYRUS_LINE                   the Cyrus SASL line before some authentication failures
    LIFETIME, MIN_BACKOFF, MAX_BACKOFF, QUEUE_RUN    queue timing (Postfix's defaults)
    DEFERRALS, BOUNCES, NOT_FOUND                    remote servers' refusals, as templates
    user_unknown(addr) -> text   smtpd's refusal of an unknown local recipient
    fmt_delay(seconds) -> text   delay=, delays= as Postfix formats them
    counters_text(cnt) -> text   the command counters of smtpd's `disconnect from` line
    traditional_stamp(tm) -> text    "Mar  2 00:15:03" (also anvil's "at" times)

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


# A remote server's refusal, (dsn, reply), after "host MX[IP] said: ": deferrals by the class of
# the recipient's domain, bounces by the recipient's fate; None for any other. The reply is a
# str.format template of {rcpt}, {route} (the recipient's domain) and {our_ip}.
DEFERRALS = {
    "greylist": ("4.7.1", "450 4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, see "
                          "http://postgrey.example/help/{route}.html (in reply to RCPT TO command)"),
    "ratelimit": ("4.7.0", "421 4.7.0 Too many messages from {our_ip}, try again later "
                           "(in reply to MAIL FROM command)"),
    None: ("4.3.0", "451 4.3.0 Temporary lookup failure (in reply to RCPT TO command)"),
}
BOUNCES = {
    "bounce:nouser": ("5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in "
                               "virtual mailbox table (in reply to RCPT TO command)"),
    "bounce:spam": ("5.7.1", "554 5.7.1 Message rejected as spam by content filter (in reply to "
                             "end of DATA command)"),
    None: ("5.7.1", "550 5.7.1 Message rejected due to sender reputation (in reply to MAIL FROM "
                    "command)"),
}
# The smtp client's own bounce for a domain that does not exist (dsn 5.4.4); {route}: the domain.
NOT_FOUND = "Host or domain name not found. Name service error for name={route} type=A: Host not found"


def user_unknown(addr: str) -> str:
    """smtpd's refusal at RCPT of a local recipient that does not exist."""
    return (f"550 5.1.1 <{addr}>: Recipient address rejected: User unknown in virtual mailbox "
            "table")


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


def traditional_stamp(tm) -> str:
    """A time.struct_time as a traditional syslog stamp, 'Mar  2 00:15:03' (no year)."""
    return "%s %2d %02d:%02d:%02d" % (MONTHS[tm[1] - 1], tm[2], tm[3], tm[4], tm[5])
