"""correlate: glue Postfix events into sessions and messages, and hand each on when it is finished.

SUMMARY
    correlate(sources, year=None, zone=None, stats=None, on_batch=None)
        -> iterator of Session | Message
    Correlator().feed(lines, clock) / .end_source() / .finish()  (the same, one batch of
        lines at a time, the end of each input, the end of all; a Correlator can be pickled
        between two batches: `watch` keeps one across runs); .take_finished() -> what it
        finished that may be handed on now
    correlator.read_input(name)   the next lines are of input `name` (`watch` reads several
        logs in turns); correlator.settle_copies(final)   feed the input's lines held back;
        correlator.settle_inputs()   every input's; correlator.saw_last_line()   the period
        read runs to the input's last line fed
    copies_of(lines) -> int; repeat_of(line, line_before) -> (N, line repeated) | None;
        queued_as(delivery event) -> NEWQID or None  (shared with parallel.py's workers)
    account_of(login) -> the account a SASL login names: its name, ASCII in lower case
    fold_accounts(records, merge) -> whether records keyed by spellings of one account were
        merged into its own (a watch state of a version before account_of())
    instance_of(syslog_name) -> the Postfix instance of a queue daemon logging as syslog_name
    untimed_lines(count, last) -> str   what is said of a log's lines whose stamp is no time
        (the reports' Problem, watch's line on stderr)

DESCRIPTION
    Sessions are keyed by (host, syslog_name, pid) and run from `connect from` to
    `disconnect from`. One smtpd process serves many sessions in turn: a `connect` on a key whose
    session is still open means its disconnect line was lost, so the old session is closed as
    incomplete, never glued to the new one (collate.pl's bug). Lines of a session whose connect
    came before the log started open an incomplete session. Only sessions that touch AUTH (a
    SASL failure, a client= with SASL fields, `auth=` in the counters) become Session objects;
    the others are a noted connect line until their disconnect drops them.

    Messages are keyed by (host, queue ID) and run from smtpd's `client=` to qmgr's `removed`
    (and a little after: LATE_LINES, below).
    Only messages that can matter are tracked: those with a SASL username, those from a loopback
    client (a content filter's re-injection, linked to its original when the original's delivery
    says `queued as NEWQID`, or names NEWQID last: from a relay on loopback, or from another
    address within COPY_WITHIN of NEWQID's birth; a filter on another address re-injects from
    it: its copy, born untracked, is followed from the line naming it if one of the last
    BIRTHS_KEPT born so came from the relay's IP, or from its birth if syslog logged that line
    first and the login's message is still open), what local(8) forwarded of a login's mail
    (its delivery line says `forwarded as NEWQID`: Postfix queued the copy with no client= line;
    the alias's recipient is counted where the copy went), and bounce/delay notices of tracked
    messages. What pickup reads is followed for COPY_WITHIN: a pipe(8) content filter re-injects
    through sendmail, and the copy is the login's mail when it has the sender and message-id of
    a login's message piped to a command (`delivered via SERVICE service`) within that, before
    or after (a message removed while its delivery waits is handed on once the copy comes or can
    no longer come). A copy that the deliveries of two messages waiting may have made (no
    Message-ID, so `message-id=<>` or one cleanup made up; or the same), of two logins (two
    accounts, or clients), is paired with neither: their recipients stay sent to the filter
    rather than one login's getting the other's fate (two sending as one address). Only as far
    as the deliveries read tell: copies read before them are taken in order. Lines of every
    other queue ID are dropped after one dict lookup, before their fields are parsed. A
    `client=` on a queue ID that is still open (short IDs are reused) closes the old message as
    lost.

    A message put on hold (smtpd's or cleanup's hold line) is never read by qmgr until released:
    the recipient its hold line names waits, deferred, its reason `held: ` and the line's text.
    smtpd checks on after a HOLD: when it then refuses that recipient, the message stays held
    for the recipients it accepted, which no line names (one with no address stands for them).
    A first `(queue active)` means the message was released: the hold's recipients go, and
    nrcpt and the delivery lines count them. A message Postfix discards (smtpd's or cleanup's
    discard line; the client was told 250, nothing more is logged of it, not even `removed`) is
    refused there, its reason `discard: ` and the line's text; one refused as a whole (at DATA,
    by a milter, by header or body checks) likewise, with the line's reason. Either line gives
    the message its sender if it has none yet, and its recipients not final yet are refused,
    the one the line names among them (one at most: smtpd the RCPT's, cleanup the last it
    read); a line that names none stands for them as one recipient with no address. No line
    names the others: a login's message refused so while its session is open waits on the
    session (Session.refused), and is handed on just before it, with the recipients its
    disconnect counters say it accepted that no line names, where they tell it
    (_release_refused()). smtpd logs a HOLD or DISCARD decided before the queue file existed
    as NOQUEUE: the session keeps it (Session.pending_action) and its next message takes it.

    Under a before-queue content filter (smtpd_proxy_filter) smtpd writes no queue file: a
    login's `NOQUEUE: client=` names its user, and the filter's reply to each of its messages
    decides what the message is. A proxy-accept whose reply names `queued as QID` (amavis
    passing on its next smtpd's answer) makes that queue file, tracked from loopback, the
    login's message, whose deliveries are then the user's. Any other reply makes a message of
    queue ID NOQUEUE, finished at once: refused (proxy-reject, the reply its reason, sender and
    recipient from the line), or accepted without a queue ID Postfix logs more of (PMG's
    `250 2.5.0 OK (its own ID)`): its recipient sent to the filter, the reply its reason. A
    recipient the filter refused at RCPT (`warning: proxy F rejected "RCPT TO:<a>": "REPLY"`)
    is refused before any queue file, as smtpd's own NOQUEUE refusals are (no sender: the
    line names none); under smtpd_proxy_options = speed_adjust, where the filter sees the
    RCPTs only after DATA, it is the recipient of the message the proxy-reject after it
    refuses with the same reply.

    Finished objects are yielded as soon as they are finished: a session at its disconnect, a
    message at its removal (one refused as a whole, at its session's end). What is still open
    when the input ends is yielded last (sessions incomplete, messages `queued`, their
    unfinished recipients `deferred`), so memory holds only what is open, however long the log.
    A central syslog fed over UDP may write a delivery line, or bounce's notice line, after
    qmgr's `removed` of its queue ID: a message removed waits for such lines LATE_LINES lines
    and LATE_WITHIN seconds (any other line of its queue ID, or a new message on it, ends the
    wait), in its place among the objects finished, which wait with it (take_finished()).

    A session whose end was lost is closed as idle when its host has logged SESSION_IDLE without
    a line of it. Whether that happened is looked at when the stamps of a host's Postfix lines
    enter another ten-minute slot (another program's line may be in another clock: a container
    log driver's prefix before Postfix's own line, and the other containers' lines under it),
    and at the end of each input: points fixed by the lines themselves, never by how the input
    was cut into blocks, so that parallel.py, which reads an input in byte ranges, hands on the
    same objects in the same order. A session whose end is stamped before its start (the clock
    went back while it was open) ends at its start; so does a message's life in the queue.

    An input of every line written k times (2 to MOST_COPIES: rsyslog with several actions on
    one file; copies_of()) is read one line of each run. That is told from its first
    DOUBLED_SAMPLE lines, held back until they have come or the input ends: a pipe, or a log
    being written, may give its first lines one at a time, and one line cannot tell. A
    syslog's line for a Postfix line it did not write again (rsyslog's `message repeated N
    times: [ LINE]`, syslog.syslog_repeat()) is read as LINE N times, each a line read, and so
    is a BSD syslogd's `last message repeated N times` after LINE: where the copies of each
    line were collapsed so, that is a log of copies too. What is known of an input (its
    copies, its line before a repeat line, its lines held back) is its own: `watch` reads
    several logs in turns (read_input()).

    Sources are read in the order given (sources.open_sources() orders a rotated set oldest
    first). Each file gets a syslog.Clock anchored on its end (sources.Source.anchor: its last
    line's time when that names its year, else its modification time); with `year`, the
    first file starts in that year and later files carry the year on across New Year.

DIAGNOSTICS
    Never raises on log content. Lines that are not syslog, not Postfix, or Postfix lines not
    used are counted in Stats and skipped; a source none of whose lines has syslog shape gets a
    `problem` (the wrong file was given), like one that failed to read; so does one with lines
    of use whose stamp is no time (Stats.unread_stamps: a month's name of a language not read,
    Feb 30), which are counted and skipped: the problem says how many, and the last stamp.
    A file whose yearless lines ran on past its end (the anchor) was given too late a year: it
    crossed more New Years than the year guessed from its first line allowed (a log of more
    than a year, or one given on standard input or copied late): the problem says so, and
    which --year would place it. So too a file whose yearless lines before a Feb 29 were
    placed in the year guessed, which has none, and those from it on in the leap year before
    (leap_split(): the lines before were stamped when the Feb 29 came, and are not read again).
"""

from __future__ import annotations

import collections
import copy
import datetime as _dt
import heapq
import string
import sys
from sys import intern as _intern
from typing import (
    AbstractSet,
    Any,
    Callable,
    Dict,
    Final,
    Generator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from mypy_extensions import mypyc_attr

from maillog_sasl import events as ev
from maillog_sasl.events import SCANNER_REQUEUE
from maillog_sasl.model import (
    DEFERRED,
    EXPIRED,
    FINAL_OUTCOMES,
    LOST,
    QUEUED,
    REFUSED,
    REJECTED,
    REMOVED,
    SENT,
    Finished,
    Message,
    Recipient,
    Session,
    Stats,
)
from maillog_sasl.sources import END_SLACK, Problem
from maillog_sasl.syslog import (
    _SECONDS,
    LAST_REPEATED,
    NO_HOST,
    REPEAT_CUT,
    REPEATED,
    WIDEST_SEVERITY,
    Clock,
    container_host,
    is_last_repeat,
    last_repeat,
    leap_year_by,
    nested_line,
    parse_program,
    split_line,
    syslog_repeat,
)

DELIVERY_AGENTS = ev.DELIVERY_AGENTS
QUEUE_FILE_DAEMONS = frozenset(("cleanup", "qmgr", "bounce", "postsuper")) | DELIVERY_AGENTS
TAG_CACHE_LIMIT = 1_024
# A session with no line for this long, while its host logs on, is over (smtpd_timeout is 300 s
# by default). A host's open sessions are looked over when its stamps enter another ten-minute
# slot (the stamp up to the tens of minutes: SLOT_TRADITIONAL or SLOT_ISO characters), and all
# of them at the end of an input, at most every SWEEP_EVERY of log time. A stamp with its year
# first ("2013 Jun 16 16:") has hourly slots: telling it from an ISO one on every line cost ISO
# logs 4% of their instructions (one more slice and comparison a line, 690 instructions).
SESSION_IDLE = _dt.timedelta(hours=1)
# The messages refused as a whole a session holds until its end, for its counters to tell their
# recipients (Session.refused): beyond, they are handed on as their lines name them.
REFUSED_HELD: Final = 1000
SWEEP_EVERY = _dt.timedelta(minutes=10)
# How many more noted connects or sessions gone (their disconnect came) than open _close_idle()
# keeps in its heaps before it drops them: amortized, and none in a small log.
GONE_KEPT: Final = 64
# The key under which another program's lines of a host enter their slots (host + it; no host
# name holds a line end): they note their times in the period read, but their stamps may be in
# another clock than the host's Postfix lines (a container log driver's prefix before Postfix's
# own line, and the other containers' lines under it), so they close none of its sessions.
OTHER_CLOCK: Final = "\n"
# A pipe(8) content filter (FILTER_README's simple filter; `spamc -e sendmail -oi -f ${sender}
# ${recipient}`) hands each message back through Postfix's sendmail: pickup reads the copy
# under a new queue ID (`uid=N from=<SENDER>`, nothing naming the original) moments before or
# after pipe's `delivered via SERVICE service` line of the original (the command exits once
# sendmail has queued the copy; pickup reads it when woken). The two are paired by host and
# sender within this of each other.
COPY_WITHIN: Final = _dt.timedelta(minutes=1)
# (Final: compiled, read as constants, not looked up in the module at each delivery line.)
PIPED: Final = "delivered via "
# pipe(8) logs the recipients of one command as it ends, one line each: in one second, or two.
PIPED_TOGETHER: Final = _dt.timedelta(seconds=1)
PIPED_VIA: Final = len("delivered ")  # where PIPED has "via"
# The kind of a message pickup read while it is not told whether it is such a copy.
PICKED: Final = "picked"
# A content filter on another address than loopback (amavisd-new on a box of its own, or on
# this host's own address) re-injects from that address: its copy's client= line, logged just
# before the original's `status=sent (... queued as NEWQID)`, is no line followed. The
# messages of the last this many client= lines not followed are remembered, with the client's
# IP, for the delivery line that names one of them from a relay of that IP
# (Correlator._relayed()). The filter answers as soon as its copy is queued, so the line naming
# it comes within moments, not hundreds of messages later; each kept costs some 300 bytes, in
# this process and in each --jobs piece (1,000 made `--jobs 2` 1 MB larger, near its 60 MB).
# Syslog may log that client= line after the line naming it (two processes' lines race): the
# last this many replies naming a queue ID not born yet are kept too, each for as many births
# after it (Correlator._awaited).
BIRTHS_KEPT: Final = 256
# A central syslog fed over UDP (rsyslog's worker threads, a relay's queue) may write a host's
# lines out of the order Postfix logged them: qmgr's `removed` before the last delivery line of
# its queue ID, or bounce's notice line. A message removed is held this long after its
# `removed` line (Correlator._late), in lines of the input and in seconds of log time, both:
# a delivery or notice line of its queue ID in that window is still its own; it is handed on in
# its place all the same (Correlator.handed_on()). Lines so reordered are seconds apart at most
# (rsyslog hands its workers batches of some hundreds); a queue ID reused (a short one names an
# inode) starts with a client= or pickup line, which ends the wait (message_reborn()). What is
# finished after a message held waits with it: on the benchmark logs 600 objects at most
# (0.3 MB); the count of lines bounds that however busy the log, the seconds a quiet log's.
LATE_LINES: Final = 1_000
LATE_WITHIN: Final = _dt.timedelta(seconds=10)
SLOT_TRADITIONAL, SLOT_ISO = 11, 15  # "Sep 17 12:4", "2024-09-17T12:4"
# What follows `connect from ` in a noted connect's text: the client's address as it named it.
CONNECT_ADDRESS = slice(len("connect from "), None)
LAST_CHARACTER = chr(sys.maxunicode)
# A doubled input (or tripled, ...: MOST_COPIES): the copies of a line come within this many
# lines of it, and the first DOUBLED_SAMPLE lines of an input tell how many copies each line
# has (in a doubled log, half of them are copies; in a tripled one, two thirds).
DOUBLED_WITHIN = 4
DOUBLED_SAMPLE = 2_000
MOST_COPIES = 4
# What became of an smtpd line, for Stats: UNTIMED, of use but for its stamp, which is no time
# (Stats.unread_stamps).
USED, UNUSED, UNTRACKED, UNTIMED = "used", "unused", "untracked", "untimed"
# The stages at which smtpd's NOQUEUE refusal (log_whatsup(): `NOQUEUE: reject: STAGE from`)
# refuses a message attempt of its session: a recipient (RCPT), or the whole transaction (MAIL,
# DATA, BDAT, END-OF-MESSAGE; its recipients unknown). A refusal at CONNECT, EHLO, HELO, VRFY,
# ETRN, ... refuses no message.
MESSAGE_STAGES = ("RCPT", "MAIL", "DATA", "BDAT", "END-OF-MESSAGE")
# The stages past RCPT: a refusal there refuses a message whose recipients were accepted.
WHOLE_MESSAGE_STAGES = MESSAGE_STAGES[2:]
NOQUEUE_REFUSALS = tuple(f"NOQUEUE: {action}: {stage} from "
                         for action in ("reject", "milter-reject") for stage in MESSAGE_STAGES)
# The reason of a recipient of a message on hold, of one discarded: what the line said follows.
HELD = "held: "
DISCARDED = "discard: "


@mypyc_attr(native_class=False)
class _Command(tuple):
    """The program of the postfix command's own tag, `postfix[PID]:` (a Postfix line, not
    used): false as another program's is, so that the one test every line passes (`not
    program`) also looks behind a container's prefix that carries that tag."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False


def repeat_of(line: str, before: Optional[str]) -> Optional[tuple]:
    """(N, LINE) when `line` is a syslog's line for a Postfix program's LINE (or a line that
    holds one behind a container's prefix) that it did not write again N times: rsyslog's
    (syslog.syslog_repeat()) or a BSD syslogd's about `before`, the line before it
    (syslog.last_repeat()); else None."""
    if is_last_repeat(line):
        return _of_postfix(last_repeat(line, before))
    parsed = split_line(line)
    return None if parsed is None else _of_postfix(_rsyslog_repeat(*parsed, lambda: before))


def _rsyslog_repeat(stamp: str, host: str, tag: str, text: str,
                    before: Callable[[], Optional[str]]) -> Optional[tuple]:
    """(N, the line repeated) of an rsyslog repeat line cut into these four; else None.
    rsyslog cuts the line it repeats at REPEAT_CUT characters: a cut one is taken whole from
    the line before it, `before()`, when that is of its host and tag and starts so; else
    None (an attacker's long username must not make a shorter one's attempts)."""
    found = syslog_repeat(text)
    if found is None:
        return None
    times, message = found
    if len(message) >= REPEAT_CUT - 1:  # (rsyslog counts the space the message starts with)
        parsed = split_line(before() or "")
        if parsed is None or parsed[1:3] != (host, tag) or not parsed[3].startswith(message):
            return None
        message = parsed[3]
    return times, f"{stamp} {host} {tag} {message}"


def _of_postfix(repeat: Optional[tuple]) -> Optional[tuple]:
    """`repeat` when the line it repeats is a Postfix program's or holds one (nested_line());
    else None."""
    parsed = split_line(repeat[1]) if repeat is not None else None
    if parsed is None:
        return None
    program = parse_program(parsed[2])
    if not program:
        nested = nested_line(parsed[3])
        program = parse_program(nested[2]) if nested is not None else None
    return repeat if program and program[1] != "postfix" else None


def _repeats(repeat: Optional[tuple], line: str) -> bool:
    """Does `repeat` (repeat_of()'s) repeat `line` (its host, tag and text)?"""
    if repeat is None:
        return False
    repeated, original = split_line(repeat[1]), split_line(line)
    return repeated is not None and original is not None and repeated[1:] == original[1:]


def copies_of(lines: List[str]) -> int:
    """copies_found()'s count."""
    return copies_found(lines)[0]


def copies_found(lines: List[str]) -> Tuple[int, bool]:
    """(How many times each line of an input is written (rsyslog with two or more actions on
    one file), from its first lines: k (MOST_COPIES down to 2) when taking away k - 1 copies
    of each line (undoubled(): each within DOUBLED_WITHIN lines of the one before) takes 80%
    of a log of k copies' share, (k - 1) / k of the lines, and half the different lines or
    more are written a multiple of k times; else 1. Postfix itself logs the same line several
    times now and then (a burst of failed AUTH within a second): a plain log of such bursts
    takes away many lines but has few different lines written twice, and a doubled one as
    many lines as a log of four copies when its bursts are of four, but few of its different
    lines are written a multiple of four times. Or the copies collapsed by rsyslog
    (_collapsed_copies()): then True.)"""
    sample = lines[:DOUBLED_SAMPLE]
    written = collections.Counter(sample)
    if len(written) < 3:  # too few lines to tell
        return 1, False
    for copies in range(MOST_COPIES, 1, -1):
        kept, standing = undoubled(sample, copies, {}, None)
        alike = sum(1 for count in written.values() if count % copies == 0)
        if (standing - len(kept) >= 0.8 * (copies - 1) / copies * standing
                and alike >= 0.5 * len(written)):
            return copies, False
    copies = _collapsed_copies(sample)
    return copies, copies > 1


def _collapsed_copies(sample: List[str]) -> int:
    """k when rsyslog got each line k times and collapsed the copies (a Zimbra host's log,
    darold/sendmailanalyzer#30: each line, then `message repeated 2 times: [ ... ]`): 80% of
    the lines that are no repeat line are followed by one of them that stands for k - 1
    copies, or for 2k - 1, 3k - 1... (lines Postfix logged again); else 1. A plain log whose
    lines are all bursts repeated alike (a grep of failures, bursts of four) cannot be told
    from one."""
    repeats: List[int] = []  # of each line that is no repeat line: how many the next stood for
    before = None
    for line in sample:
        if REPEATED in line and before is not None:  # (both forms hold it)
            repeat = repeat_of(line, before)
            if _repeats(repeat, before):
                assert repeat is not None
                repeats[-1] += repeat[0]
                continue
        repeats.append(0)
        if not is_last_repeat(line):
            before = line
    if len(repeats) < 3:
        return 1
    for copies in range(MOST_COPIES, 1, -1):
        if sum(1 for times in repeats if times and (times + 1) % copies == 0
               ) >= 0.8 * len(repeats):
            return copies
    return 1


def undoubled(lines: List[str], copies: int, awaiting: Dict[str, int],
              before: Optional[str], collapsed: bool = False) -> Tuple[List[str], int]:
    """(`lines` with the copies of each line taken away, how many lines `lines` stand for):
    `copies` (2 or more) of each, one kept. A line Postfix really logged twice in a row comes
    2 x `copies` times, and two are kept. `awaiting`: line -> copies still to come, carried
    from one batch to the next; `before`: the line before the first (no repeat line).

    A syslog's repeat line of a Postfix program (repeat_of()) stands for that many lines: the
    copies still awaited of the line before it first (rsyslog got the copies, and collapsed
    them: a Zimbra host's log), then lines Postfix logged again, `copies` each, which it
    collapsed too (one kept for each, with the repeat line's stamp; so too when none is
    awaited: a BSD syslogd writes a long run's count every 30 seconds); or, when it has
    copies of its own (rsyslog collapsed the lines, then wrote the file with several
    actions: one before it, or within DOUBLED_WITHIN lines after it; near the batch's end,
    when the log is not one of copies `collapsed`), it is a line like another, and the lines
    it stands for are kept with it.
    """
    kept: List[str] = []
    standing = 0
    for index, line in enumerate(lines):
        times, repeated = 1, None
        if REPEATED in line:  # (both forms hold it)
            repeat = repeat_of(line, before)
            if repeat is not None:
                times, repeated = repeat
                about = before if before is not None and _repeats(repeat, before) else ""
                left = awaiting.get(about, 0) if about else 0
                ahead = lines[index + 1:index + 1 + DOUBLED_WITHIN]
                copied = (line in awaiting or line in ahead
                          or (len(ahead) < DOUBLED_WITHIN and not collapsed))
                if about and (left or not copied):
                    standing += times
                    used = min(left, times)
                    if used < left:
                        awaiting[about] = left - used
                    elif left:
                        del awaiting[about]
                    # A line whose copies the next repeat line goes on with (a BSD syslogd
                    # writes a long run's count every 30 seconds) is kept now, its other
                    # copies awaited.
                    rest = times - used
                    kept.extend([repeated] * -(-rest // copies))
                    if rest % copies:
                        awaiting[about] = copies - rest % copies
                    continue
        standing += times
        if repeated is None and not is_last_repeat(line):
            before = line
        awaited = awaiting.get(line)
        if awaited is not None:
            if awaited > 1:
                awaiting[line] = awaited - 1
            else:
                del awaiting[line]
            continue
        awaiting[line] = copies - 1
        if len(awaiting) > DOUBLED_WITHIN:
            del awaiting[next(iter(awaiting))]
        if repeated is None:
            kept.append(line)
        else:
            kept.extend([repeated] * times)
    return kept, standing


def time_aside(clock: Clock, stamp: str) -> Optional[_dt.datetime]:
    """The time of `stamp`, `clock` left as it was: a stamp read only to see how far its host
    has come must not move on the year or the pass through a repeated hour, which follow the
    lines used, in the order they are used."""
    if len(stamp) == 15:
        # A traditional stamp of a minute the clock keeps is read as time() reads it, which
        # moves nothing: no copy. Out of time order most lines enter another slot, and copying
        # the clock for each cost a log pasted from two of its halves half its CPU.
        minute = clock._minutes.get(stamp[:12])
        second = _SECONDS.get(stamp[12:15])
        if minute is not None and second is not None:
            return minute + second
    aside = copy.copy(clock)
    aside._minutes = {}  # its cache is the clock's own: a minute cached aside is in another year
    return aside.time(stamp)


def kept_stamp(clock: Clock, stamp: str) -> str:
    """`stamp` as a noted connect or NOQUEUE line keeps it, to be read when its session turns
    out to matter, lines later. As it is, unless it names no offset and its time is in an hour
    its zone shows twice (the clocks going back): such a stamp reads by the pass the clock is
    in when it is read, which the lines since may have moved on (a connect at 02:59:50 CEST
    read at its login at 02:00:05 CET as 02:59:50 CET, the session starting after it ended),
    and an old stamp read then is well before the latest, which would start the second pass
    early for the lines after it. It is read now, in line order, as every line used is (the
    lines after it are read in the pass it leaves the clock in), and kept as the RFC 3339 stamp
    of that time. Any other stamp moves no clock, as in a zone that shows no hour twice: the
    connect of a session that never matters would move the year of a log's lines (`Dec  2`,
    then `Feb 27`: New Year) in Europe/Berlin and not in UTC."""
    if clock.reads_alike(stamp):
        return stamp
    when = time_aside(clock, stamp)
    if when is None or not clock.shown_twice(when):
        return stamp
    clock.time(stamp)  # as read aside: the clock now in the pass of its line
    return when.isoformat()


def _edge(line: str, clock: Clock) -> tuple:
    """(host, time) of an input's first or last line, by the stamp feed() reads it by (Postfix's
    own line behind a container's prefix: nested_line()); the host None when the line is
    another program's, whose clock may not be its host's Postfix's (a container's log driver's
    prefix); (None, None) when it is no syslog line."""
    parsed = split_line(line)
    if parsed is None:
        return None, None
    host: Optional[str] = parsed[1]
    tag = parsed[2]
    program = parse_program(tag)
    if program is None or program[1] == "postfix":  # as feed(): the postfix command's too
        inner = nested_line(parsed[3])
        if inner is not None and parse_program(inner[2]) is not None:
            host = inner[1] if inner[1] != NO_HOST else container_host(parsed[1], tag)
            parsed = inner
        elif program is None:
            host = None
    return host, time_aside(clock, parsed[0])


def account_of(login: str) -> str:
    """The account a SASL login names, whatever the case it was typed in: one string for it.
    A server that finds accounts whatever their case returns the name as the client typed it,
    and Postfix takes the spellings for one login (reject_sender_login_mismatch compares them
    with strcasecmp_utf8(), check_sasl_access looks them up with folded keys); a thief who
    spread the mail over `Alice` and `ALICE` was two accounts, each under every limit.
    Only ASCII letters are folded, as Postfix folds them without SMTPUTF8 (smtputf8_enable =
    no: casefold(), strcasecmp_utf8()), as Dovecot's %Lu does: `Ärger` is not `ärger` there,
    and a name folded further (str.lower(): `ärger`, `İ` to `i̇`) in the check_sasl_access
    line of `watch --contain reject` was a key no lookup of the login found."""
    return _intern(login.lower() if login.isascii() else login.translate(_ASCII_LOWER))


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def instance_of(syslog_name: str) -> str:
    """The Postfix instance of a queue daemon that logs as `syslog_name`: the name up to its
    first `/`. A master.cf service's `-o syslog_name=postfix/submission` (a cleanup service of
    the submission port's own, with its header_checks) names a service of that instance, which
    postmulti -i does not know: its instances' names have no `/`."""
    slash = syslog_name.find("/")
    return syslog_name if slash < 0 else _intern(syslog_name[:slash])


_Record = TypeVar("_Record")


def fold_accounts(records: Dict[str, _Record], merge: Callable[[_Record, _Record], None]
                  ) -> bool:
    """Merge the values of `records` keyed by spellings of one account (`Alice`, `ALICE`: as a
    version before account_of() kept them) into the one of the account's key (`alice`),
    `merge(kept, other)` taking `other` into `kept`; whether any key was folded."""
    folded_any = False
    for name in sorted(records):
        folded = account_of(name)
        if folded != name:
            other = records.pop(name)
            kept = records.setdefault(folded, other)
            if kept is not other:
                merge(kept, other)
            folded_any = True
    return folded_any


def queued_as(event) -> Optional[str]:
    """NEWQID of a delivery event whose reason says `... queued as NEWQID`, or None."""
    return ev.queued_as_in(event.reason) if event is not None else None


def delivery_attempt(daemon: str, text: str) -> bool:
    """Whether a queue ID's line of `daemon` (`text`: `QID: ...`) is a delivery attempt: a
    delivery agent's, or qmgr's own `QID: to=<...>` (qmgr_event())."""
    return (daemon in DELIVERY_AGENTS
            or daemon == "qmgr" and text.startswith("to=<", text.find(": ") + 2))


def may_come_late(daemon: str, text: str) -> bool:
    """Whether a queue ID's line of `daemon` (`text`: `QID: ...`) may be a late line of a
    message removed (LATE_LINES): a delivery attempt, bounce's notice, or qmgr's expiry line
    (`QID: from=<...>, status=expired, returned to sender`, logged before the notice)."""
    if daemon == "bounce" or delivery_attempt(daemon, text):
        return True
    queue_id, _, body = text.partition(": ")
    return daemon == "qmgr" and isinstance(ev.qmgr_event(queue_id, body), ev.Expired)


def _recipient_limited(event) -> bool:
    """Whether a refusal is anvil's recipient limit's (ev.RCPT_RATE_LIMITED): a RCPT's, or a
    VRFY's."""
    return event.stage == "RCPT" and event.reason.startswith(ev.RCPT_RATE_LIMITED)


def _no_mail_taken(counters_text: str) -> bool:
    """Whether a session's disconnect counters (Postfix >= 3.0) say that no DATA or BDAT of it
    succeeded: `data=0/1`, or no DATA at all. False without counters (older Postfix), and for
    a count it cannot read. Read by searching, not by events.counter() (a cached parse whose
    key is hashed at each call: 1% of a submission log's instructions at every login's
    disconnect), the common `data=1` first."""
    return (_none_ok(counters_text, "data=") and _none_ok(counters_text, "bdat=")
            and "commands=" in counters_text)


def _none_ok(counters_text: str, name: str) -> bool:
    """Whether counter `name` (`data=`) is absent or counts no success: Postfix writes a count
    of 0 as `0` alone, before `/` or the end."""
    at = counters_text.find(name)
    if at < 0 or (at > 0 and counters_text[at - 1] != " "):
        return True
    value_at = at + len(name)
    return value_at < len(counters_text) and counters_text[value_at] == "0"


def _ip_of(client: str) -> str:
    """The IP of a client= line's `NAME[IP]` (or `[IP]`)."""
    bracket = client.find("[")
    return client[bracket + 1:client.find("]", bracket)]


def _address_of(client) -> Optional[str]:
    """NAME[IP] or NAME[IP]:PORT, the text events.split_address() read `client`'s name, IP and
    port from (a Session, or an event that names its client); None when it found no IP there.

    Parsed, a text equal to it gives those three back: a connect or disconnect line that names
    the client so is known to name it without being parsed (tests/test_plain_shapes.py)."""
    if not client.client_ip:
        return None
    port = client.client_port
    if port is None:
        return f"{client.client_name}[{client.client_ip}]"
    return f"{client.client_name}[{client.client_ip}]:{port}"


@mypyc_attr(native_class=False)
class Pending:
    """A session noted at its connect and not (yet) known to matter: its lines, kept raw."""
    __slots__ = ("stamp", "clock", "connect_text", "tls_text", "rejects")

    def __init__(self, stamp: str, clock: Clock, connect_text: str):
        self.stamp = stamp
        self.clock = clock
        self.connect_text = connect_text
        self.tls_text: Optional[str] = None
        # (stamp, clock, text) of its NOQUEUE lines: RCPT rejects, a hold or discard
        self.rejects: Optional[List[tuple]] = None


class _IdleIndex:
    """The open sessions and noted connects of a Correlator by time, for _close_idle(): per
    host, a heap of each with a time at or before its last line's. A log out of time order
    enters another slot at most lines: looking at every open session and noted connect at
    each, a noted connect's stamp read again each time, cost a shuffled log 16 times the CPU of
    its lines in order. Made anew (never kept: the maps it indexes are), and again when the
    maps are others or were reordered (Correlator.open_reordered()): each is then looked at
    once more, in the maps' order."""

    def __init__(self) -> None:
        # Noted connects: key -> (the noted connect, its time); host -> a heap of [time,
        # number, key, noted connect] of those with a time (entries of connects gone stay
        # until popped); the `pending` indexed (None: none yet).
        self.noted_times: Dict[tuple, tuple] = {}
        self.noted_heaps: Dict[str, list] = {}
        self.noted_of: Optional[dict] = None
        # Sessions: id(session) -> [its place in the map's order, key, session]; host -> a heap
        # of [a time at or before its last line's, place, number, key, session]; the
        # `sessions` indexed; and the sessions whose last line was put earlier (a line out of
        # order) since the last look.
        self.places: Dict[int, list] = {}
        self.session_heaps: Dict[str, list] = {}
        self.sessions_of: Optional[dict] = None
        self.earlier: List[Session] = []
        self.place = 0
        self.number = 0  # of entries: two may have one time

    def sessions(self, sessions: Dict[tuple, Session]) -> Dict[str, list]:
        """The heaps of `sessions`, with those opened since the last call (after the last one
        known in the map's order: a session is put in at its end) and those whose last line
        was put earlier."""
        places, heaps = self.places, self.session_heaps
        if self.sessions_of is not sessions:
            places, heaps = self.places, self.session_heaps = {}, {}
            self.sessions_of = sessions
            self.earlier = []
            added = list(sessions.items())
        else:
            added = []
            for key in reversed(sessions):
                session = sessions[key]
                if id(session) in places:
                    break
                added.append((key, session))
            added.reverse()
        for key, session in added:
            self.place += 1
            place = places[id(session)] = [self.place, key, session]
            if session.last_time is not None:
                heapq.heappush(heaps.setdefault(key[0], []),
                               self.session_entry(session.last_time, place))
        for moved in self.earlier:
            known = places.get(id(moved))
            if known is not None and sessions.get(known[1]) is moved:
                heapq.heappush(heaps.setdefault(known[1][0], []),
                               self.session_entry(moved.last_time, known))
        self.earlier = []
        if len(places) > 2 * len(sessions) + GONE_KEPT:
            places = self.places = {number: place for number, place in places.items()
                                    if sessions.get(place[1]) is place[2]}
            heaps = self.session_heaps = {}
            for place in places.values():
                if place[2].last_time is not None:
                    heaps.setdefault(place[1][0], []).append(
                        self.session_entry(place[2].last_time, place))
            for heap in heaps.values():
                heapq.heapify(heap)
        return heaps

    def session_entry(self, when: _dt.datetime, place: list) -> list:
        self.number += 1
        return [when, place[0], self.number, place[1], place[2]]

    def noted(self, pending: dict) -> Dict[str, list]:
        """The heaps of `pending`, with the connects noted since the last call (after the last
        one known in the map's order, as a connect is noted at its end). Each stamp is read
        once, when first looked at."""
        times, heaps = self.noted_times, self.noted_heaps
        if self.noted_of is not pending:
            times, heaps = self.noted_times, self.noted_heaps = {}, {}
            self.noted_of = pending
            keys: Any = list(pending)
        else:
            keys = reversed(pending)
        for key in keys:
            noted = pending[key]
            known = times.get(key)
            if known is not None and known[0] is noted:
                break
            when = time_aside(noted.clock, noted.stamp)
            times[key] = (noted, when)
            if when is not None:
                heapq.heappush(heaps.setdefault(key[0], []), self.noted_entry(key, noted, when))
        if len(times) > 2 * len(pending) + GONE_KEPT:
            times = self.noted_times = {key: known for key, known in times.items()
                                        if pending.get(key) is known[0]}
            heaps = self.noted_heaps = {}
            for key, (noted, when) in times.items():
                if when is not None:
                    heaps.setdefault(key[0], []).append(self.noted_entry(key, noted, when))
            for heap in heaps.values():
                heapq.heapify(heap)
        return heaps

    def noted_entry(self, key: tuple, noted: Pending, when: _dt.datetime) -> list:
        self.number += 1
        return [when, self.number, key, noted]


# The attributes of a Correlator that watch's state keeps (__getstate__): all that __init__
# sets but the bound handlers. Named here, as a class compiled by mypyc (setup.py) has no
# __dict__ to take them from; the pickled form is the one a plain class's __dict__ gave.
KEPT = ("stats", "sessions", "pending", "messages", "finished", "_serial", "_tags", "_copies",
        "_awaiting", "_host_clock", "_next_sweep", "_slots", "edges", "_last_line", "_collapsed",
        "_held", "_held_clock", "_told_from", "_input", "_inputs", "_piped", "_picked",
        "_copy_order", "_read_first", "_read_last", "_jump", "_births",
        "_birth_count", "_awaited", "_awaited_count", "_late", "_lines_fed")


def _new_input() -> tuple:
    """Correlator._input_state() of an input of which nothing is read yet."""
    return None, False, {}, None, [], None, [], None, None, None


class Correlator:
    """State of one pass over a log; see the module docstring."""

    def __init__(self, stats: Optional[Stats] = None):
        self.stats = stats if stats is not None else Stats()
        self.sessions: Dict[tuple, Session] = {}
        self.pending: Dict[tuple, Pending] = {}
        self.messages: Dict[tuple, Message] = {}
        self.finished: List[Finished] = []
        self._serial = 0
        # tag -> its program: a tuple, or a _Command; typed Any, as compiled code (setup.py)
        # would test `not program` of a tuple by its length, not by _Command.__bool__.
        self._tags: Dict[str, Any] = {}
        # How many times the source being read has every line (None: not known yet), and the
        # lines still waiting for copies: line -> how many.
        self._copies: Optional[int] = None
        self._awaiting: Dict[str, int] = {}
        # The input's last line fed that is no BSD syslogd's repeat line (the line one at the
        # start of a batch repeats).
        self._last_line: Optional[str] = None
        self._collapsed = False  # rsyslog collapsed the copies (copies_found())
        # The input's first lines, held back until they tell how many copies it has, and the
        # clock they are read with.
        self._held: List[str] = []
        self._held_clock: Optional[Clock] = None
        # The lines fed since the copies were told from fewer lines than DOUBLED_SAMPLE (watch
        # tells them sooner), told again with each batch until there are as many (_tell_again).
        self._told_from: List[str] = []
        # The name of the input being read (read_input(); None: the one input), and what is
        # known of the others read before (_input_state()).
        self._input: Optional[str] = None
        self._inputs: Dict[str, tuple] = {}
        self._host_clock: Dict[str, _dt.datetime] = {}  # host -> the latest time it logged
        self._next_sweep: Optional[_dt.datetime] = None
        self._slots: Dict[str, str] = {}  # host -> the ten-minute slot of its latest stamp
        # A pipe(8) content filter's copies (COPY_WITHIN), by (host, sender): a login's mail
        # piped to a command, each [its number in `_copy_order`, the time, the message, its
        # recipients piped then, how many copies it took], kept while a copy may still come
        # (a command each, for several recipients at once); and the copies pickup read that no
        # such delivery took yet, each [the time, the message].
        self._piped: Dict[tuple, List[list]] = {}
        self._picked: Dict[tuple, List[list]] = {}
        self._copy_order = 0
        # Messages born untracked: (host, queue ID) -> (its client= line's text, its number
        # among them), those of the last BIRTHS_KEPT and some before (_birth_ip()); how many
        # so far.
        self._births: Dict[tuple, tuple] = {}
        self._birth_count = 0
        # Queue IDs a login's delivery named from a relay not on loopback before they were
        # born: (host, queue ID) -> [its message's key, the keys of the recipients the replies
        # named, its number among them, _birth_count then, its message's `queued`: a later
        # message on the key is another] (_await()); how many so far.
        self._awaited: Dict[tuple, list] = {}
        self._awaited_count = 0
        # The messages removed that are held for their late lines (LATE_LINES): key -> the
        # last line of the input (counted as _lines_fed counts them) that may be one. Each is in
        # `messages` (its state REMOVED) and in `finished`, whose hand-off waits for it.
        self._late: Dict[tuple, int] = {}
        self._lines_fed = 0  # the lines fed so far, of every input (none handed back)
        # (host, time) of the first and last line of the input being read, each read when it
        # came: its period and its hosts' clocks, noted at its end.
        self.edges: List[Optional[tuple]] = [None, None]
        # The earliest and latest time of the input being read, so far (_seen(): whether it
        # runs backwards).
        self._read_first: Optional[_dt.datetime] = None
        self._read_last: Optional[_dt.datetime] = None
        # Where the input's time went back before its first line, and more than JOINED_BACK
        # before its latest: [that latest, the time it went back to, the first line's, the
        # latest time read since that is before the first line's, or None once a line came
        # well after the first line's, until the time goes back so again] (_seen(),
        # joined_newest_first()).
        self._jump: Optional[list] = None
        self._smtpd_handlers = self._handlers()
        # The open sessions and noted connects by time (_close_idle()): made anew, not kept.
        self._idle = _IdleIndex()

    def _handlers(self) -> dict:
        return {
            ev.CONNECT: self._on_connect, ev.DISCONNECT: self._on_disconnect,
            ev.AUTH_FAILURE: self._on_auth_failure, ev.TLS: self._on_tls,
            ev.CLIENT: self._on_client, ev.REJECT: self._on_reject,
            ev.SIZE_LIMIT: self._on_size_limit, ev.ACTION: self._on_action,
            ev.PROXY_CLIENT: self._on_proxy_client, ev.PROXY_REPLY: self._on_proxy_reply,
            ev.PROXY_REFUSAL: self._on_proxy_refusal, ev.RATE_LIMIT: self._on_rate_limit,
        }

    def __getstate__(self) -> dict:
        """What pickle keeps of a Correlator between two runs of `watch` (state.py): all but
        the bound handlers and the tag cache, which are made anew."""
        state = {name: getattr(self, name) for name in KEPT}
        state["_tags"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        # A state written before slots and edges existed starts them empty; one written when
        # only doubled logs were undoubled said whether the log was, and awaited one copy.
        state = {"_slots": {}, "edges": [None, None], "_last_line": None, "_collapsed": False,
                 "_held": [], "_held_clock": None, "_told_from": [], "_input": None, "_inputs": {},
                 "_piped": {}, "_picked": {}, "_copy_order": 0, "_read_first": None,
                 "_read_last": None, "_jump": None, "_births": {}, "_birth_count": 0,
                 "_awaited": {}, "_awaited_count": 0, "_late": {}, "_lines_fed": 0, **state}
        if "_doubled" in state:
            doubled = state.pop("_doubled")
            state["_copies"] = None if doubled is None else 2 if doubled else 1
            state["_awaiting"] = dict.fromkeys(state["_awaiting"], 1)
        # The inputs put aside by a version before _told_from (nothing of theirs to tell again)
        # or before their times were their own (none read yet).
        state["_inputs"] = {name: (*kept, *_new_input()[len(kept):])
                            for name, kept in state["_inputs"].items()}
        # The replies kept by a version that did not keep their message's time: that of the
        # message open on its key (one closed is let go by the next sweep).
        messages = state["messages"]
        state["_awaited"] = {key: awaited if len(awaited) > 4 else [
            *awaited, getattr(messages.get(awaited[0]), "queued", None)]
            for key, awaited in state["_awaited"].items()}
        for name in KEPT:
            setattr(self, name, state[name])
        self._smtpd_handlers = self._handlers()
        self._idle = _IdleIndex()

    # -- the hot loop ------------------------------------------------------------------------

    def feed(self, lines: List[str], clock: Clock, handed_back: bool = False,
             place: int = -1) -> None:
        """Apply a batch of lines; finished objects accumulate in `self.finished`.

        Only the skipped lines are counted as they go: every other line was used. Lines
        `handed_back` by a parallel.py worker (or that a syslog's repeat line stands for:
        _apply_repeat()) are not the input's first or last, their ten-minute slots are not
        looked at (the worker has noted both for its chunk) and they are no copies (a worker
        hands back lines of inputs cut in chunks, which are of one copy each; the lines a
        repeat line stands for are the lines Postfix wrote). A line handed back with its
        `place` in the worker's chunk (chunk.Placed) is that far after the lines fed before the
        chunk (_late).
        """
        stats = self.stats
        tags = self._tags
        messages = self.messages
        recognizers = ev.RECOGNIZERS
        plain_peek = ev.PLAIN_PEEK.match
        outcomes = ev.STATUS_OUTCOMES
        read_trimmed = ev.read_trimmed
        qmgr_event = ev.qmgr_event
        cleanup_event = ev.cleanup_event
        cleanup_message_id = ev.cleanup_message_id
        message_id_prefix, message_id_value = ev.MESSAGE_ID, ev.MESSAGE_ID_VALUE
        message_id_strip = ev.MESSAGE_ID_STRIP
        plain_queue_active = ev.PLAIN_QUEUE_ACTIVE.fullmatch
        smtpd_kind = ev.smtpd_kind
        handlers = self._smtpd_handlers
        not_syslog = other = unused = untracked = 0
        untimed_before = stats.unread_stamps
        copies = self._copies
        if copies is None and not handed_back:
            # How many copies an input has is told by its first DOUBLED_SAMPLE lines, which a
            # pipe or a growing file may give a few at a time: held back until they are all
            # here, or the input ends (settle_copies()).
            held = self._held
            held += lines
            self._held_clock = clock
            if len(held) < DOUBLED_SAMPLE:
                return
            self._held, self._held_clock = [], None
            lines = held
            copies, self._collapsed = copies_found(lines)
            self._copies = copies
        elif self._told_from and not handed_back:
            copies = self._tell_again(lines)
        if copies is not None and copies > 1 and not handed_back:
            lines, read = undoubled(lines, copies, self._awaiting, self._last_line,
                                    self._collapsed)
        else:
            read = len(lines)
        repeated = read - len(lines)
        self._batch, self._scanned, self._resolved = lines, 0, (-1, None)
        slots = not handed_back
        if lines and self.edges[0] is None and slots:
            self.edges[0] = _edge(lines[0], clock)
        orphan = self._orphan  # None but in a parallel.py worker
        # Where the batch's lines are in the input (_late), for lines not handed back.
        # (Lines handed back with no place: negative places, whatever their index.)
        base = (self._lines_fed if not handed_back else self._lines_fed + place if place >= 0
                else -len(lines) - 1)
        dropped = self._dropped
        slot_line = self._slot_line
        # The ten-minute slot of the line before, and the first string after every one that
        # starts with it: a line of that slot sorts between the two (no slice of the line).
        last_slot = slot_end = last_host = ""
        iso_slot = iso_end = ""  # the same for the stamps of the second inline shape
        other_slot = other_host = ""  # the slot and host of the last other program's line
        for index, line in enumerate(lines):
            # split_line()'s two common cases inline, `prog[pid]:` after a traditional stamp or
            # after one of a digit first (RFC 3339): one call less for each line; every other
            # shape goes through split_line() itself. Every tag cached is one split_line() gave
            # (of a line or of a nested one), which ends with `:` (or `]`, rsyslog's, only of
            # these two shapes): a tag found needs no look at its shape, and the inline cut is
            # then split_line()'s.
            # (line[15] rather than line[15:16]: no slice object; a line too short for it has
            # no traditional stamp. line[16:], what follows the stamp and its space, with its
            # ends written out: compiled, it is cut directly, where a slice object made once
            # went through the generic subscript. The fields in a list typed as one: compiled,
            # unpacking it then reads its items, where an untyped value is unpacked through an
            # iterator: 360 instructions a line. A line of neither shape has no tag without
            # an exception, which compiled code builds a traceback for (one of a digit first
            # and too few fields raises one: garbage); no tag cached is "".
            # Every field is set on every way out: compiled, a local that may be unset is
            # checked at each read, 0.4% of the instructions of a traditional log.)
            try:
                if line[15] == " ":
                    after_stamp: List[str] = line[16:].split(" ", 2)
                    host, tag, text = after_stamp
                    stamp = ""  # line[:15], cut below only for the lines used
                elif line[:1].isdigit():
                    fields_of_line: List[str] = line.split(" ", 3)
                    stamp, host, tag, text = fields_of_line
                    if host == WIDEST_SEVERITY:  # boky/postfix's: no host (split_line())
                        tag = ""
                else:
                    tag = stamp = host = text = ""
            except (IndexError, ValueError):
                tag = stamp = host = text = ""
            program = tags.get(tag)
            # The stamp and host are the line's first words as cut above (a tag cached), not
            # what split_line() or a nested line gave.
            cut = True
            if program is None:
                cut = False
                parsed = split_line(line)
                if parsed is None:
                    # A BSD syslogd's repeat line has no tag.
                    if not (LAST_REPEATED in line and self._apply_repeat(
                            self._last_repeat(line), clock) is USED):
                        not_syslog += 1
                    continue
                stamp, host, tag, text = parsed
                program = tags.get(tag)
                if program is None:
                    program = self._program(tag)
            if not program:  # another program's tag, or the postfix command's (_Command)
                # Postfix's line behind a container's prefix starts with a stamp of its own:
                # a traditional one, or one of four digits first (syslog.has_stamp(), which
                # nested_line() asks too: a queue ID's digit alone is no stamp).
                parsed = (nested_line(text) if text[15:16] == " " or text[:4].isdigit()
                          else None)
                nested: Any = self._program(parsed[2]) if parsed is not None else ()
                if parsed is not None and len(nested):
                    program = nested
                    outer_tag = tag
                    stamp, inner_host, tag, text = parsed
                    host = (inner_host if inner_host != NO_HOST
                            else container_host(host, outer_tag))
                    cut = False
                elif not len(program):
                    if slots:
                        # Its time counts in the input's period (where it went back: logs
                        # joined newest first) but moves no host's clock, under a key of its
                        # own (OTHER_CLOCK).
                        slot = (stamp[:SLOT_TRADITIONAL if stamp[3:4] == " " else SLOT_ISO]
                                if stamp else line[:SLOT_TRADITIONAL])
                        if slot != other_slot or host != other_host:
                            other_slot, other_host = slot, host
                            slot_line(host + OTHER_CLOCK, slot, stamp or line[:15], clock)
                    # Or the repeat line of a container's prefix, for the lines it holds; or
                    # MailScanner's line for a message it wrote back under a new queue ID.
                    if not (text.startswith(REPEATED) and self._repeated(
                            line, stamp or line[:15], host, tag, text, clock) is USED
                            or text.startswith(SCANNER_REQUEUE) and self._rescanned(
                                line, stamp or line[:15], host, text, clock) is USED):
                        other += 1
                    continue
            # A host's clock moves by its Postfix lines alone, each by the stamp it is read
            # by: behind a container's prefix, Postfix's own, whose clock may be hours from the
            # prefix's (the container logging in another zone than its host's syslog daemon),
            # as the other containers' lines under that prefix are; either clock would close
            # the sessions of the other as idle.
            if slots and cut:
                # Most lines share their host and slot with the line before. A slot is the
                # line's first characters (a stamp of a digit first: when it has SLOT_ISO or
                # more, without a space), so a line that starts with the last one is in it.
                # Each shape keeps its own: a traditional slot is a line's first 11 characters
                # whatever they are (`2026-03-02T` too), and a host's slot is the last one
                # checked, of either shape, so each check clears the other's end.
                if not stamp:
                    if not (last_slot <= line < slot_end and host == last_host):
                        last_slot, last_host = line[:SLOT_TRADITIONAL], host
                        slot_end, iso_end = last_slot + LAST_CHARACTER, ""
                        slot_line(host, last_slot, line[:15], clock)
                elif not (iso_slot <= line < iso_end and host == last_host):
                    iso_slot, last_host = stamp[:SLOT_ISO], host
                    iso_end = iso_slot + LAST_CHARACTER if len(iso_slot) == SLOT_ISO else ""
                    slot_end = ""
                    slot_line(host, iso_slot, stamp, clock)
            elif slots:
                slot_end = iso_end = ""
                slot_line(host, stamp[:SLOT_TRADITIONAL if stamp[3:4] == " " else SLOT_ISO],
                          stamp, clock)
            # Typed from here on (a _Command is a tuple too): compiled, its fields are then read
            # as a tuple's, not through the generic subscript.
            fields: tuple = program
            daemon = fields[1]
            if daemon == "smtpd":
                stamp = stamp or line[:15]
                kind = smtpd_kind(text)
                if kind is not None:
                    outcome = handlers[kind]((host, tag), program, stamp, clock, text)
                elif text.startswith(REPEATED) or text.startswith(LAST_REPEATED):
                    # (Two tests of one string each: compiled, a test of a tuple of them is a
                    # generic call, 7% of the instructions of a log of unused lines where the
                    # two cost 3.6%; a search for REPEATED, which both hold, 5.7%.)
                    outcome = self._repeated(line, stamp, host, tag, text, clock)
                else:
                    outcome = UNUSED
                if outcome is not USED:
                    if outcome is UNTRACKED:
                        untracked += 1
                    elif outcome is UNTIMED:
                        self._untimed(stamp)
                    else:
                        unused += 1
                continue
            if daemon not in QUEUE_FILE_DAEMONS:
                if daemon == "pickup" and (" orig_id=" in text or text.endswith(">")):
                    if " orig_id=" in text:
                        outcome = self._picked_up(line, stamp or line[:15], host, text, clock)
                    else:
                        outcome = self._pickup(line, stamp or line[:15], host, text, clock)
                    if outcome is UNTRACKED:
                        untracked += 1
                    elif outcome is UNTIMED:
                        self._untimed(stamp or line[:15])
                    elif outcome is not USED:
                        unused += 1
                    continue
                if not ((text.startswith(REPEATED) or text.startswith(LAST_REPEATED))
                        and self._repeated(line, stamp or line[:15], host, tag, text,
                                           clock) is USED):
                    unused += 1
                continue
            # The cheapest test first: is this queue ID one we track? (partition() costs less
            # than find() and a slice; a text without ": " keys what text[:text.find(": ")]
            # gave, a key that is simply not there.)
            queue_id, colon, body = text.partition(": ")
            key = (host, queue_id if colon else text[:-1])
            message = messages.get(key)
            if message is not None and message.state == REMOVED and not self._late_line(
                    message, key, daemon, text, stamp or line[:15], clock, base + index):
                message = None  # (its hold ended: the line is another's)
            if message is None:
                if not colon or " " in queue_id or queue_id == "warning":
                    # No queue ID: smtp's `connect to HOST[IP]:25: ...`, `... TLS connection
                    # established to ...`, a daemon's warning. (Looked at only here: most lines
                    # that come here are an untracked message's.) Or a syslog's line for one
                    # it did not write again.
                    if queue_id == "warning" and daemon == "bounce":
                        outcome = self._notice_failed(line, stamp or line[:15], host, text,
                                                      body, clock)
                        if outcome is USED:
                            continue
                        if outcome is UNTRACKED:
                            untracked += 1
                            continue
                        if outcome is UNTIMED:
                            self._untimed(stamp or line[:15])
                            continue
                    if not ((text.startswith(REPEATED) or text.startswith(LAST_REPEATED))
                            and self._repeated(line, stamp or line[:15], host, tag, text,
                                               clock) is USED):
                        unused += 1
                elif orphan is None or key in dropped:
                    untracked += 1
                    if body == "removed":
                        # A filter's copy gone before the reply naming it: what it carried is
                        # not known, and it is no longer queued (_relayed()).
                        self._births.pop(key, None)
                else:
                    orphan(line, stamp or line[:15], key, daemon, text, base + index)
                continue
            if daemon in DELIVERY_AGENTS:
                # delivery_peek()'s common case inline: its match, a status word that is an
                # outcome. Any other line goes through delivery_peek() itself.
                plain = plain_peek(text)
                if plain is not None:
                    address, orig_to, status = plain.groups()
                    status = outcomes.get(status)
                    if status is not None:
                        answer_at = -1
                        if status == SENT:  # to a content filter that then refused it?
                            answer_at = plain.end() + 2
                            status = ev.sent_outcome(text, answer_at)
                        when = clock.time(stamp or line[:15])
                        if when is None:
                            self._untimed(stamp or line[:15])
                            continue
                        self._delivery(address, orig_to, status, text, message, host, when,
                                       answer_at)
                        continue
                outcome = self._peeked(text, message, host, stamp or line[:15], clock)
                if outcome is UNTIMED:
                    self._untimed(stamp or line[:15])
                elif outcome is not USED:
                    unused += 1
                continue
            # qmgr's and cleanup's lines are read from where they were cut above, as their
            # recognizers would cut them. Their lines of every message (its removal, its
            # first `(queue active)`, its message-id) are applied here as read, no event made;
            # the last two give it its instance, their tag's syslog_name (model.Message).
            if daemon == "qmgr":
                if body == "removed":
                    when = clock.time(stamp or line[:15])
                    if when is None:
                        self._untimed(stamp or line[:15])
                        continue
                    self._removed(message, key, when, base + index)
                    continue
                if body.startswith("to=<"):
                    # qmgr's own delivery line (qmgr_event()): read as an agent's (before the
                    # test of a retry's end: its reason is a remote server's text).
                    outcome = self._peeked(text, message, host, stamp or line[:15], clock)
                    if outcome is UNTIMED:
                        self._untimed(stamp or line[:15])
                    elif outcome is not USED:
                        unused += 1
                    continue
                if message.nrcpt is not None:
                    if text.endswith("(queue active)"):
                        # Another retry of a message whose sender and size are known already.
                        continue
                else:
                    plain = plain_queue_active(body)
                    if plain is not None:
                        when = clock.time(stamp or line[:15])
                        if when is None:
                            self._untimed(stamp or line[:15])
                            continue
                        sender, size, nrcpt = plain.groups()
                        self._queue_active(message, sender, int(size), int(nrcpt), when)
                        message.instance = instance_of(fields[0])
                        continue
                event = qmgr_event(queue_id, body)
            elif daemon == "cleanup":
                # The queue ID of a message tracked is one cleanup_message_id() takes, as
                # smtpd_kind() matched it in its client= line; but a notice's (bounce's line
                # named it): its message-id is read by that test.
                if not body.startswith(message_id_prefix):
                    message_id = None
                elif message.kind != "notice":
                    message_id = body[message_id_value].strip(message_id_strip)
                else:
                    message_id = cleanup_message_id(queue_id, body)
                if message_id is not None:
                    when = clock.time(stamp or line[:15])
                    if when is None:
                        self._untimed(stamp or line[:15])
                        continue
                    self._seen(when)
                    message.last_time = when
                    message.message_id = message_id
                    message.instance = instance_of(fields[0])
                    if message.kind == PICKED:
                        self._copy_named(message, line, stamp or line[:15])
                    continue
                event = cleanup_event(queue_id, body)
            else:
                event = recognizers[daemon](text)
            if event is None:
                event = read_trimmed(recognizers[daemon], text)
            if event is None:
                unused += 1
                continue
            when = clock.time(stamp or line[:15])
            if when is None:
                self._untimed(stamp or line[:15])
                continue
            self._queue_file(event, message, host, when)
        if lines and slots:
            self.edges[1] = _edge(lines[-1], clock)
            for line in reversed(lines):
                if not is_last_repeat(line):
                    self._last_line = line
                    break
        if not handed_back:
            self._lines_fed += len(lines)
            self._end_late()
        stats.lines_read += read
        stats.lines_used += (read - not_syslog - other - unused - untracked - repeated
                             - (stats.unread_stamps - untimed_before))
        stats.not_syslog += not_syslog
        stats.other_programs += other
        stats.postfix_unused += unused
        stats.untracked_queue_lines += untracked
        stats.repeated_lines += repeated

    def _untimed(self, stamp: str) -> None:
        """A Postfix line of use not used: its stamp, `stamp`, gives no time."""
        self.stats.untimed(stamp)

    def _repeated(self, line: str, stamp: str, host: str, tag: str, text: str,
                  clock: Clock) -> str:
        """A Postfix program's `line` (cut into the other four; behind a container's prefix,
        the line it holds), or a container's, whose text starts with REPEATED or
        LAST_REPEATED: _apply_repeat() of what it stands for, if it is a repeat line. (A
        method: a function made in feed() would make its locals a closure's, compiled.)"""
        if text.startswith(LAST_REPEATED):
            return self._apply_repeat(self._last_repeat(line), clock)
        return self._apply_repeat(_of_postfix(_rsyslog_repeat(
            stamp, host, tag, text, lambda: self._line_before(line))), clock)

    def _last_repeat(self, line: str) -> Optional[tuple]:
        """repeat_of() a BSD syslogd's repeat line of the batch being fed."""
        return repeat_of(line, self._line_before(line))

    def _line_before(self, line: str) -> Optional[str]:
        """The line before `line` (of the batch being fed) that is no BSD syslogd's repeat
        line: the line that one repeats, and a cut rsyslog one continues."""
        batch = self._batch
        try:
            at = batch.index(line, self._scanned)  # (a line equal to it before: read)
        except ValueError:  # (every line asked of is the batch's: no line before is better)
            return None
        self._scanned = at + 1
        found = self._last_line
        for index in range(at - 1, -1, -1):
            there = batch[index]
            if not is_last_repeat(there):
                found = there
                break
            if index == self._resolved[0]:  # a run of repeat lines: not looked over again
                found = self._resolved[1]
                break
        self._resolved = (at, found)
        return found

    def _apply_repeat(self, repeat: Optional[tuple], clock: Clock) -> str:
        """A syslog's line for LINE that it did not write again N times (repeat_of()'s (N,
        LINE)): LINE applied N times, each counted as a line read (the repeat line itself is
        not); UNUSED for None. Its ten-minute slot was the repeat line's."""
        if repeat is None or self._repeating:
            # (One within the lines another stands for: attacker text, N upon N lines.)
            return UNUSED
        times, repeated = repeat
        batch, scanned, resolved = self._batch, self._scanned, self._resolved
        self._repeating = True
        try:
            self.feed([repeated] * times, clock, handed_back=True)
        finally:
            self._repeating = False
        self._batch, self._scanned, self._resolved = batch, scanned, resolved
        # The caller counts the repeat line as used: it is the lines it stands for instead.
        self.stats.lines_read -= 1
        self.stats.lines_used -= 1
        return USED

    def settle_copies(self, final: bool = True) -> None:
        """Feed the lines held back while the input's copies were not known, telling them from
        those lines; unless `final` (the input has ended), only when they can tell: three
        different lines or more (`watch` keeps the others for its next read), and then told
        again with the lines that come next (_tell_again())."""
        held, clock = self._held, self._held_clock
        if not held or clock is None or not (final or len(set(held)) >= 3):
            return
        self._held, self._held_clock = [], None
        self._copies, self._collapsed = copies_found(held)
        self.feed(held, clock)
        if not final and len(held) < DOUBLED_SAMPLE:
            self._told_from = held

    def _tell_again(self, lines: List[str]) -> int:
        """The input's copies told again, before `lines` are fed, from the lines fed since they
        were told from fewer than DOUBLED_SAMPLE and `lines`: copies written in groups (`a b c
        a b c`) whose first read ended between two groups looked like lines of one copy. When
        the count changes, the copies awaited are those that the lines fed so far would have
        left awaited had it been known (the first of each is already read)."""
        told = self._told_from
        sample = told + lines[:DOUBLED_SAMPLE - len(told)]
        copies, collapsed = copies_found(sample)
        if (copies, collapsed) != (self._copies, self._collapsed):
            awaiting: Dict[str, int] = {}
            if copies > 1:
                undoubled(told, copies, awaiting, None, collapsed)
            self._copies, self._collapsed, self._awaiting = copies, collapsed, awaiting
        self._told_from = sample if len(sample) < DOUBLED_SAMPLE else []
        return copies

    def settle_inputs(self) -> None:
        """settle_copies() of every input: the one being read, and those read in turns."""
        self.settle_copies()
        for name in list(self._inputs):
            self.read_input(name)
            self.settle_copies()

    def read_input(self, name: str) -> None:
        """The next lines are of input `name`: what is known of the input read before (its
        copies, its line before a repeat line, its lines held back) is put aside for its next
        lines, and `name`'s taken back (none yet: as at a new_source()). `watch` reads several
        logs in turns, each on its own."""
        current = self._input
        if name == current:
            return
        self._input = name
        if current is None:  # (a state kept before inputs were told apart: its one input's)
            return
        self._inputs[current] = self._input_state()
        self._set_input_state(self._inputs.pop(name, ()) or _new_input())

    def _input_state(self) -> tuple:
        """What is known of the input being read, which another input's lines must not
        change: its earliest and latest time too (a log whose host logs an hour behind
        another's, read in turns with it, went back before each first line that other's
        rotation read, and was told to run backwards)."""
        return (self._copies, self._collapsed, self._awaiting, self._last_line, self._held,
                self._held_clock, self._told_from, self._read_first, self._read_last,
                self._jump)

    def _set_input_state(self, state: tuple) -> None:
        (self._copies, self._collapsed, self._awaiting, self._last_line, self._held,
         self._held_clock, self._told_from, self._read_first, self._read_last,
         self._jump) = state

    def new_source(self) -> None:
        """The next lines come from another input: how many copies it has is found anew (the
        lines the one before held back fed first: `watch` goes on to a log's next file)."""
        self.settle_copies()
        self._set_input_state(_new_input())

    def _program(self, tag: str) -> Any:
        """parse_program(tag), or () for a program that is not Postfix; cached (split_line()
        gives only tags that end with `:`, or with `]` cut as feed() cuts, which feed() counts
        on). The postfix command's is a _Command."""
        found = self._tags.get(tag)
        if found is None:
            if len(self._tags) > TAG_CACHE_LIMIT:
                self._tags.clear()
            found = parse_program(tag) or ()
            if found and found[1] == "postfix":
                found = _Command(found)
            self._tags[tag] = found
        return found

    # Set in a parallel.py worker: where the lines of queue IDs it does not hold go (with their
    # place in the input, -1 if not told), and the queue IDs it saw born untracked (their lines
    # are dropped, as here).
    _orphan: Optional[Callable[[str, str, tuple, str, str, int], None]] = None
    _dropped: AbstractSet[tuple] = frozenset()
    # True while the lines a repeat line stands for are fed (_apply_repeat()); the batch being
    # fed, and how far _line_before() has looked in it (set by feed(), never kept).
    _repeating = False
    _batch: Sequence[str] = ()
    _scanned = 0
    # The last line _line_before() was asked of, by its place in the batch, and its answer.
    _resolved: tuple = (-1, None)

    def _slot_line(self, host: str, slot: str, stamp: str, clock: Clock) -> None:
        """A line of `host` in ten-minute `slot`: when the host enters another slot, its
        sessions left idle are closed."""
        if self._slots.get(host) == slot:
            return
        self._slots[host] = slot
        when = time_aside(clock, stamp)
        if when is not None:
            self.slot_changed(host, when)

    def slot_changed(self, host: str, when: _dt.datetime) -> None:
        self._seen(when)
        self._close_idle({host: when})
        self._sweep_copies({host: when})

    def saw_last_line(self) -> None:
        """The input's last line fed so far counts in the period read (stats.last_time), as
        end_source() counts it where the input ends, which a followed log (`watch`) never
        does; no host's clock moves with it, nor the input's bounds (whose moves count once
        per line, however the input comes in batches)."""
        edge = self.edges[1]
        if edge is not None and edge[1] is not None:
            self._in_period(edge[1])

    def span(self) -> tuple:
        """(earliest, latest) time of the input read, None before its first; and (latest,
        then) where its time went back before its start (_seen()), or None."""
        return self._read_first, self._read_last, joined_newest_first(self._jump)

    def end_source(self) -> None:
        """The input has ended: the lines held back are fed; its first and last lines tell the
        period it covers and each host's clock; the sessions those clocks show idle are
        closed."""
        self.settle_copies()
        for host, when in filter(None, self.edges):
            if when is not None:
                self._seen(when)
                if host is None:  # another program's line: its clock may not be Postfix's
                    continue
                known = self._host_clock.get(host)
                if known is None or when > known:
                    self._host_clock[host] = when
        self.edges = [None, None]
        clocks = self._host_clock
        if clocks and (self._next_sweep is None or max(clocks.values()) >= self._next_sweep):
            self._next_sweep = max(clocks.values()) + SWEEP_EVERY
            self._close_idle(clocks)
            self._sweep_copies(clocks)

    def _close_idle(self, clocks: Dict[str, _dt.datetime]) -> None:
        """Close the sessions whose host has logged SESSION_IDLE without a line of theirs, by
        `clocks` (host -> its time now): smtpd gives up on a silent client long before
        (smtpd_timeout), so their end was lost. Memory then follows what is open, not how many
        disconnect lines were lost."""
        limits = {host: when - SESSION_IDLE for host, when in clocks.items()}
        sessions, heaps = self.sessions, self._idle.sessions(self.sessions)
        idle_sessions: Dict[int, tuple] = {}  # place -> key: closed in `sessions`' order
        session: Session
        for host, limit in limits.items():
            heap = heaps.get(host)
            while heap and heap[0][0] < limit:
                entry = heapq.heappop(heap)
                place, key, session = entry[1], entry[3], entry[4]
                if sessions.get(key) is session and session.last_time is not None:
                    if session.last_time < limit:
                        idle_sessions[place] = key
                    else:  # a line of it came since
                        heapq.heappush(heap, self._idle.session_entry(session.last_time,
                                                                      [place, key, session]))
        for place in sorted(idle_sessions):
            self.stats.sessions_idle += 1
            self._finish_session(sessions.pop(idle_sessions[place]))
        pending = self.pending
        heaps = self._idle.noted(pending)
        idle = []
        for host, limit in limits.items():
            heap = heaps.get(host)
            while heap and heap[0][0] < limit:
                _, _, key, noted = heapq.heappop(heap)
                if pending.get(key) is noted:
                    idle.append(key)
        for key in idle:
            del pending[key]
            self.stats.sessions_idle += 1
            self.stats.sessions_incomplete += 1

    def open_reordered(self) -> None:
        """`sessions` or `pending` is another dict, or their keys were put in another order
        (parallel.py's merge of a worker's): _close_idle() looks at every one again."""
        self._idle = _IdleIndex()

    def _sweep_copies(self, clocks: Dict[str, _dt.datetime]) -> None:
        """After _close_idle(): the deliveries and copies that can no longer pair by `clocks`
        are forgotten (_forget_copies())."""
        if self._piped or self._picked:
            self._forget_copies(clocks)

    def finish(self) -> None:
        """End of input: whatever is still open is handed on as it stands (the lines held back
        fed first: settle_inputs()), the sessions the hosts' clocks show idle closed as such
        first: end_source() looks only every SWEEP_EVERY, and a last input shorter than that
        (a rotated set's maillog) would leave them for what is open at the end, which the same
        lines in one file close idle."""
        self.settle_inputs()
        if self._host_clock:
            self._close_idle(self._host_clock)
        self._forget_copies(None)
        for key in list(self._late):
            self._let_go(key)
        self.stats.sessions_incomplete += len(self.pending)
        self.pending.clear()
        for session in self.sessions.values():
            self._finish_session(session)
        self.sessions.clear()
        for message in self.messages.values():
            message.state = QUEUED
            self.stats.messages_open_at_end += 1
            self._finish_message(message)
        self.messages.clear()

    # -- smtpd -------------------------------------------------------------------------------
    #
    # Most smtpd sessions are inbound mail that never tries AUTH. A connect is only noted
    # (raw stamp and text, in `pending`); the Session object is built when the session turns
    # out to matter: a SASL failure, a client= line with SASL fields, or `auth=` in the
    # disconnect counters. Until then its TLS line and NOQUEUE rejects are kept raw too.

    def _on_connect(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        pending = self.pending
        if key in pending or key in self.sessions:  # (most keys' session ended logged)
            self.session_reborn(key)
        pending[key] = Pending(kept_stamp(clock, stamp), clock, text)
        return USED

    def session_reborn(self, key: tuple) -> None:
        """A connect on `key`: the session still open there lost its disconnect line."""
        session = self.sessions.pop(key, None)
        if session is not None:
            self._finish_session(session)
        elif self.pending.pop(key, None) is not None:
            self.stats.sessions_incomplete += 1

    def _on_disconnect(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        sessions = self.sessions
        session = sessions.get(key)
        if session is not None:
            address, _, counters_text = text[16:].partition(" ")
            # Most name the client as the session has it: the address is parsed only otherwise.
            if (address != _address_of(session)
                    and session.client_ip != ev.split_address(address)[1]):
                # Another client's end: the open session's own was not logged.
                del sessions[key]
                self._finish_session(session)
                session = None
        if session is None:
            if " auth=" not in text:  # most sessions, that never tried AUTH: only counted
                if self.pending.pop(key, None) is None:
                    self.stats.sessions_incomplete += 1
                return USED
            address, _, counters_text = text[16:].partition(" ")
        # The session (or its noted connect) is taken only once the line's time is read: a
        # line whose stamp cannot be read is not used, and leaves it open where it is (to end
        # as incomplete, in the order of one process and of --jobs alike), not dropped with
        # the login it holds.
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        if session is None:
            client = ev.Connect(*ev.split_address(address))
            session = self._materialize(key, program, self.pending.pop(key, None), client, when)
        else:
            del sessions[key]
        if session.proxied_since is not None and ev.counter(counters_text, "xclient"):
            # The connect before its first line was the proxy's, and is the session's.
            session.start = session.proxied_since
            session.proxied_since = None
            session.connected = True
            self._seen(session.start)
        session.complete = session.connected
        session.end = session.last_time = when
        session.counters_text = counters_text
        session.auth = ev.counter(counters_text, "auth")
        if session.rejects:
            self._drop_refused_vrfy(session)
        if session.sasl_username is None and session.auth is not None and session.auth[0] > 0:
            self._claimed_login(session)
        if session.queue_ids and _no_mail_taken(counters_text):
            self._canceled(session, when)
        self._finish_session(session)
        return USED

    @staticmethod
    def _drop_refused_vrfy(session: Session) -> None:
        """Of `session`'s refusals, drop those of anvil's recipient limit its counters say were
        a VRFY's (ev.RCPT_RATE_LIMITED: the warning names no command): a VRFY is no message
        attempt. They are those beyond the failed RCPTs (`rcpt=0/1 vrfy=2/3`, two warnings: one
        each) that no other refusal's line names, as many as VRFY failed at most. A RCPT that
        failed with no line (`503 5.5.1 Error: need MAIL command`, pipelined after a refused
        MAIL) leaves a VRFY's counted as a RCPT's. No line tells which warnings they were: the
        earliest go."""
        counters_text = session.counters_text
        vrfy = ev.counter(counters_text, "vrfy")
        if vrfy is None or vrfy[0] == vrfy[1]:
            return
        rejects = session.rejects
        limited = sum(map(_recipient_limited, (event for _, event in rejects)))
        named = sum(event.stage == "RCPT" for _, event in rejects) - limited
        rcpt = ev.counter(counters_text, "rcpt")
        unnamed = (rcpt[1] - rcpt[0] if rcpt is not None else 0) - named - session.queued_rejects
        dropped = min(vrfy[1] - vrfy[0], limited - max(unnamed, 0))
        if dropped <= 0:
            return
        kept = []
        for item in rejects:
            if dropped and _recipient_limited(item[1]):
                dropped -= 1
            else:
                kept.append(item)
        session.rejects = kept

    def _canceled(self, session: Session, when: _dt.datetime) -> None:
        """`session` ended at `when` and its counters say no DATA (or BDAT) of it succeeded:
        a queue file its smtpd opened (`QID: client=...`) that qmgr never read was never
        committed, and Postfix removed it. The client left or timed out in DATA (`timeout
        after DATA`), the queue file could not be written (`cleanup: warning: QID: write
        queue file: No space left on device`), or it quit before DATA. Postfix 3.10 logs
        that end (`QID: removed (canceled)`, read as any removal); before, nothing did, and
        the message stayed "still queued" for ever. It ends here as 3.10's line would end
        it: removed, nothing sent."""
        for queue_id in session.queue_ids:
            key = (session.host, queue_id)
            message = self.messages.get(key)
            if message is not None and message.session is session and message.nrcpt is None:
                self._removed(message, key, when)

    @staticmethod
    def _claimed_login(session: Session) -> None:
        """The login of `session`, which its counters say logged in, from a refusal that names
        it (Postfix 3.10's fields, a forged sender's events.NOT_OWNED, check_sasl_access's
        events.SASL_REJECTED): nothing else names it when nothing was queued. Only so: a client
        that did not log in can spell a refusal's words in its own addresses, and have a syslog
        daemon cut the line after them."""
        for _, event in session.rejects:
            if event.sasl_username is not None:
                session.sasl_username = account_of(event.sasl_username)
                return

    def _on_auth_failure(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        event = ev.auth_failure_event(text)
        if event is None:
            return UNUSED
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        session = self._session(key, program, event, when)
        session.auth_failures.append((when, event))
        return USED

    def _on_reject(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        if text[:1] == "N":
            return self._on_noqueue_reject(key, stamp, clock, text)
        return self._on_message_line(key, program, stamp, clock, text, ev.smtpd_reject_event)

    def _on_action(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        if text[:1] == "N":
            return self._noqueue(key, stamp, clock, text)
        return self._on_message_line(key, program, stamp, clock, text, ev.smtpd_action_event)

    def _on_message_line(self, key: tuple, program, stamp: str, clock: Clock, text: str, parse):
        """A reject, hold or discard naming a queue ID, read by `parse`: applied to its message
        (a reject to its session too) when the message is tracked."""
        message = self._open((key[0], text[:text.find(": ")]))
        if message is None:
            return UNTRACKED
        parsed = self._parsed(parse, text, stamp, clock)
        if isinstance(parsed, str):
            return parsed
        event, when = parsed
        if event.kind != "reject":
            self._queue_file(event, message, key[0], when)  # a hold or discard, as cleanup's
            return USED
        return self._reject((when, event), self._session(key, program, event, when), key[0])

    @staticmethod
    def _parsed(parse, text: str, stamp: str, clock: Clock):
        """(event, time) of the line `text` of `stamp`, read by `parse`; else what the line
        was (UNUSED: of a shape not read; UNTIMED)."""
        event = parse(text)
        if event is None:
            return UNUSED
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        return event, when

    def _on_size_limit(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        event = ev.size_limit_event(text)
        message = self._open((key[0], event.queue_id)) if event is not None else None
        if message is None:
            return UNTRACKED
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        self._queue_file(event, message, key[0], when)  # a ContentReject, as cleanup's
        return USED

    def _on_noqueue_reject(self, key: tuple, stamp: str, clock: Clock, text: str):
        # Only message attempts refused before any queue file are reported; a session refused
        # at HELO tried none.
        if not text.startswith(NOQUEUE_REFUSALS):
            return UNUSED
        return self._noqueue(key, stamp, clock, text)

    def _on_rate_limit(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        """anvil's limit refused a MAIL or RCPT (events.RATE_LIMITS): as a NOQUEUE refusal."""
        if ev.rate_limit_event(text) is None:
            return UNUSED
        return self._noqueue(key, stamp, clock, text)

    def _noqueue(self, key: tuple, stamp: str, clock: Clock, text: str):
        """A NOQUEUE line: applied to the open session, kept raw with a noted one."""
        session = self.sessions.get(key)
        if session is not None:
            return self._noqueue_line(session, stamp, clock, text)
        noted = self.pending.get(key)
        if noted is None:
            return UNTRACKED
        if noted.rejects is None:
            noted.rejects = []
        noted.rejects.append((kept_stamp(clock, stamp), clock, text))
        return USED

    def _on_tls(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        # Most TLS lines come before AUTH, when the session is only noted. (A key is noted or
        # open, never both: a session is built from its noted connect, which it takes.)
        noted = self.pending.get(key)
        if noted is not None:
            noted.tls_text = text
            return USED
        session = self.sessions.get(key)
        if session is None:
            return UNUSED
        session.tls_line = text
        return USED

    @staticmethod
    def _may_track(text: str) -> bool:
        # Inbound mail is most client= lines: only SASL logins, re-injections and loopback
        # clients (a content filter's) are parsed and tracked.
        return (", sasl_username=" in text or ", orig_queue_id=" in text
                or ev.names_loopback(text))

    def _on_client(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        login = ev.plain_login(text) if ", sasl_username=" in text else None
        if login is None and not self._may_track(text):
            return self._untracked_client((key[0], text[:text.find(": ")]), text)
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        if login is not None:
            # Most client= lines tracked are a login's, of the plain shape, on a session open
            # or noted at a connect that named its client as this line does: read by one
            # cut (events.plain_login()), no event made, the connect not parsed. Any other goes
            # the general way.
            queue_id, address, name, ip, port, method, username, sender = login
            session = self.sessions.get(key)
            if session is None:
                noted = self.pending.get(key)
                if noted is not None and noted.connect_text[CONNECT_ADDRESS] == address:
                    del self.pending[key]
                    session = self.sessions[key] = self._new_session(key, program, noted, name,
                                                                     ip, port, when)
            elif session.client_ip != ip:
                session = None
            if session is not None:
                self._seen_in(session, when)
                self._queued(session, key[0], when, queue_id, name, ip, method, username,
                             sender, None)
                return USED
        event = ev.smtpd_client_event(text)
        return self._client(event, self._session(key, program, event, when), key[0], when)

    def _session(self, key: tuple, program, event, when: _dt.datetime) -> Session:
        """The open session on `key`, built now from its noted connect if need be.

        A line that names another client than the open session's starts a session of its own:
        one smtpd process serves one client at a time, so the open one ended unlogged (a log
        that starts mid-session, lines dropped by journald, a grep of the warnings).
        """
        session = self.sessions.get(key)
        if session is not None and event.client_ip and session.client_ip != event.client_ip:
            del self.sessions[key]
            self._finish_session(session)
            session = None
        if session is None:
            session = self._materialize(key, program, self.pending.pop(key, None), event, when)
            self.sessions[key] = session
        self._seen_in(session, when)
        return session

    def _materialize(self, key: tuple, program, noted: Optional[Pending], event,
                     when: _dt.datetime) -> Session:
        connect = event
        proxy = None
        # Most lines name their client as the connect did (a reject names its IP alone): the
        # connect's fields are then the line's, and the connect is not parsed.
        if noted is not None and (event.kind == "reject"
                                  or noted.connect_text[CONNECT_ADDRESS] != _address_of(event)):
            connect = ev.connect_event(noted.connect_text)
            if event.client_ip and connect.client_ip != event.client_ip:
                # The noted connect was another client's (_after_proxy()).
                proxy, noted = noted, None
        if noted is None:
            # Its connect was before the log started (or lost): it is known from this line on.
            session = self._new_session(key, program, None, getattr(event, "client_name", ""),
                                        event.client_ip, getattr(event, "client_port", None),
                                        when)
            if proxy is not None:
                self._after_proxy(session, proxy)
            return session
        return self._new_session(key, program, noted, connect.client_name, connect.client_ip,
                                 connect.client_port, when)

    def _after_proxy(self, session: Session, proxy: Pending) -> None:
        """`session` begins after `proxy`, a connect noted on its key that named another
        client: a proxy's that gave this client's address with XCLIENT (Mailu's front, nginx's
        mail proxy; Postfix logs nothing of the command), or one whose session ended unlogged.
        Only this session's disconnect tells which (_on_disconnect()): the connect's time is
        kept until then, and the other session's end counted at this one's if it was not the
        proxy's. The lines noted since that name this client are this session's: NOQUEUE
        lines (the first of them its start until then), a STARTTLS after the XCLIENT."""
        session.proxied_since = proxy.clock.time(proxy.stamp)
        if session.proxied_since is None:
            self.stats.sessions_incomplete += 1
        ip = session.client_ip
        first = None
        for stamp, clock, text in proxy.rejects or ():
            if self._noqueue_ip(text) == ip:
                self._noqueue_line(session, stamp, clock, text)
                first = first or clock.time(stamp)
        if first is not None and first < session.start:
            session.start = first
            self._seen(first)
        tls = ev.tls_event(proxy.tls_text) if proxy.tls_text is not None else None
        if tls is not None and tls.client_ip == ip:
            session.tls_line = proxy.tls_text

    def _new_session(self, key: tuple, program, noted: Optional[Pending], name, ip, port,
                     when: _dt.datetime) -> Session:
        """The session on `key` of client NAME[IP]:PORT, built at a line of `when`: from its
        noted connect, or from that line when none was noted."""
        self._serial += 1
        session = Session(self._serial, key[0], program[0], program[2], name, ip, port,
                          when if noted is None else noted.clock.time(noted.stamp) or when)
        if noted is not None:
            session.connected = True
            session.tls_line = noted.tls_text
            for stamp, clock, text in noted.rejects or ():
                self._noqueue_line(session, stamp, clock, text)
        self._seen(session.start)
        return session

    @staticmethod
    def _noqueue_ip(text: str) -> str:
        """The client IP of a NOQUEUE line or a rate limit's warning, as a noted session keeps
        it (a client's name and address hold no space)."""
        if text[:1] == "w":
            words = text.rsplit(" ", 4)  # ...: N from NAME[IP](:PORT) for service S
            return ev.split_address(words[1])[1] if len(words) == 5 else ""
        words = text.split(" ", 5)  # NOQUEUE: reject: RCPT from NAME[IP](:PORT): ...
        return ev.split_address(words[4][:-1])[1] if len(words) == 6 else ""

    @staticmethod
    def _noqueue_reject(stamp: str, clock: Clock, text: str):
        event = (ev.rate_limit_event(text) if text[:1] == "w"
                 else ev.reject_event(None, text[9:]))
        return clock.time(stamp), event

    def _noqueue_line(self, session: Session, stamp: str, clock: Clock, text: str):
        """A NOQUEUE line of `session`: a refused message attempt (NOQUEUE_REFUSALS, a rate
        limit's warning), or a hold or discard the session's next message takes
        (session.pending_action)."""
        if text[:1] == "w" or text.startswith(NOQUEUE_REFUSALS):
            return self._reject(self._noqueue_reject(stamp, clock, text), session, session.host)
        event = ev.smtpd_action_event(text)
        if event is None:
            return UNUSED
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        self._seen_in(session, when)
        waiting = session.pending_action
        # With both flags on a transaction Postfix discards it: a hold leaves a discard waiting.
        if waiting is None or waiting[1].kind != "discard":
            session.pending_action = (when, event)
        return USED

    @staticmethod
    def _tracked(event) -> bool:
        """Is the message of this client= line one to follow?"""
        return (event.sasl_username is not None or event.orig_queue_id is not None
                or ev.is_loopback(event.client_ip))

    def _client(self, event, session: Session, host: str, when: _dt.datetime):
        if event.sasl_username is None and not self._tracked(event):
            return self._untracked_client((host, event.queue_id), f"[{event.client_ip}]")
        self._queued(session, host, when, event.queue_id, event.client_name, event.client_ip,
                     event.sasl_method, event.sasl_username, event.sasl_sender,
                     event.orig_queue_id)
        return USED

    def _queued(self, session: Session, host: str, when: _dt.datetime, queue_id: str, name, ip,
                method, username, sender, orig_queue_id) -> None:
        """A message tracked from its client= line (its fields), queued by `session`."""
        # A message may wait in the queue for days: the names it shares with thousands of
        # others (the host, the mechanism, the user) are kept once each.
        host = _intern(host)
        if username is not None:
            username = account_of(username)
        key = (host, queue_id)
        messages = self.messages
        if key in messages:
            self.message_reborn(key)
        self._serial += 1
        message = messages[key] = Message(self._serial, host, queue_id, "submission", when)
        message.session = session
        message.client_name = name
        message.client_ip = ip
        message.sasl_method = _intern(method) if method is not None else None
        message.sasl_username = username
        message.sasl_sender = sender
        if username is not None:
            session.sasl_username = username
            session.sasl_method = method
            session.queue_ids.append(queue_id)
        if session.pending_action is not None:
            # The transaction's HOLD or DISCARD, logged before its queue file existed.
            when, action = session.pending_action
            session.pending_action = None
            self._act(message, action, when)
        if orig_queue_id is not None:
            original = self._open((host, orig_queue_id))
            if original is not None and original.sasl_username is not None and username is None:
                message.inherit_from(original, "reinjected")
                original.reinjected_as = [*original.reinjected_as, queue_id]

    def _reject(self, timed_event, session: Session, host: str):
        when, event = timed_event
        if event is None:
            return UNUSED
        if when is None:
            return UNTIMED
        if event.queue_id is None:
            if event.stage in WHOLE_MESSAGE_STAGES and session.sasl_username is not None:
                # Under a before-queue filter smtpd writes no queue file: the message of the
                # recipients it accepted refused, as the filter's own refusal of it is
                # (_on_proxy_reply()), not one more recipient.
                self._seen_in(session, when)
                refused = self._noqueue_message(session, event.sender, when)
                self._refuse_message(refused, event.recipient or "", event.dsn, event.reason,
                                     when)
                return USED
            if event.stage != "RCPT":
                # The whole transaction refused: whose recipients, if any, are unknown (a
                # refusal at DATA of a session with no login name names the last one given,
                # not the others).
                event = event._replace(recipient="")
            if event.stage in MESSAGE_STAGES and event.recipient is not None:
                session.rejects.append((when, event))
                self._seen_in(session, when)
                waiting = session.pending_action
                if (waiting is not None and waiting[1].kind == "hold"
                        and waiting[1].recipient == event.recipient):
                    # Postfix checks on after a HOLD: the recipient that triggered it refused,
                    # the transaction stays held, for the recipients it accepts (unnamed).
                    session.pending_action = (waiting[0], waiting[1]._replace(recipient=None))
                return USED
            return UNUSED
        message = self._open((host, event.queue_id))
        if message is None:
            return UNTRACKED
        message.last_time = when
        if message.sender is None:
            # A message refused before qmgr read it has no other line that names its sender.
            message.sender = event.sender
        if event.stage == "RCPT":
            session.queued_rejects += 1
            address = event.recipient or ""
            hold = self._hold_of(message.recipients.get(address))
            self._refuse(message, address, event.dsn, event.reason, when)
            if hold and not any(map(self._hold_of, message.recipients.values())):
                # Postfix checks on after a HOLD: the recipient that triggered it refused, the
                # message stays held, for the recipients it accepted (no line names them).
                message.recipient("").set_details("", "", hold)
        else:
            self._refuse_message(message, event.recipient, event.dsn, event.reason, when)
        return USED

    # -- a before-queue content filter (smtpd_proxy_filter) -----------------------------------
    #
    # smtpd writes no queue file: it passes the message to the filter as it comes, and the
    # filter's own SMTP client hands it on to another smtpd (from loopback, a message tracked
    # as any filter's re-injection) or keeps it. The session logs `NOQUEUE: client=` (with the
    # SASL fields of a login) and, at the end of each message, the filter's reply.

    def _on_proxy_client(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        if ", sasl_username=" not in text:
            return UNUSED  # inbound mail: nothing of it is reported
        event = ev.smtpd_client_event(text)
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        session = self._session(key, program, event, when)
        session.sasl_username = account_of(event.sasl_username)
        session.sasl_method = event.sasl_method
        return USED

    def _on_proxy_reply(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        """The filter's reply to a logged-in client's message. A proxy-accept whose reply names
        the queue ID the filter's next smtpd gave it (`queued as QID`, from loopback: a
        tracked message) makes that queue file the login's message. Any other reply makes one
        of queue ID NOQUEUE: refused (proxy-reject), or accepted without a queue ID Postfix
        logs more of (PMG's `250 2.5.0 OK (its own ID)`, or one no longer open): sent to the
        filter, its reply the reason."""
        found = self._filter_line(key, stamp, clock, text, ev.proxy_reply_event)
        if isinstance(found, str):
            return found
        session, event, when = found
        queue_id = event.queued_as if event.accepted else None
        queued = self._open((key[0], queue_id)) if queue_id is not None else None
        if queued is not None and queued.parent is None and queued.sasl_username is None:
            self._sent_by(queued, session)
            # Its nrcpt, if qmgr has read it already; else the session gets it then.
            session.queued_recipients += queued.nrcpt or 0
            return USED
        message = self._noqueue_message(session, event.sender, when)
        if not event.accepted:
            # Under smtpd_proxy_options = speed_adjust smtpd passes the transaction on after
            # DATA: the filter's refusal of a recipient (_on_proxy_refusal(), just before) then
            # refuses the message with its reply, and is the message's recipient, not one
            # refused at RCPT.
            rejects = session.rejects
            while rejects and rejects[-1][1].sender is None and rejects[-1][1].reason == (
                    event.reply):
                message.recipient(rejects.pop()[1].recipient or "")
            self._refuse_message(message, event.recipient or "", event.dsn, event.reply, when)
            return USED
        session.queued_recipients += 1  # the one the line names stands for the others
        recipient = message.recipient(event.recipient or "")
        recipient.status = SENT
        recipient.attempts = 1
        recipient.set_details(event.dsn, "", event.reply)
        recipient.last_attempt = when
        message.end = when
        message.state = REMOVED
        self._finish_message(message)
        return USED

    def _on_proxy_refusal(self, key: tuple, program, stamp: str, clock: Clock, text: str):
        """The filter refused a recipient of a logged-in client (`warning: proxy F rejected
        "RCPT TO:<a>": "REPLY"`): smtpd gave the client the filter's reply and logs nothing
        more of it, so it is refused there, as smtpd's own NOQUEUE refusal at RCPT is."""
        found = self._filter_line(key, stamp, clock, text, ev.proxy_refusal_event)
        if isinstance(found, str):
            return found
        session, event, when = found
        return self._reject((when, event._replace(client_ip=session.client_ip)), session,
                            key[0])

    def _filter_line(self, key: tuple, stamp: str, clock: Clock, text: str, parse):
        """(session, event, time) of a before-queue filter's line `text` (read by `parse`) of
        the logged-in session on `key`, its time seen; else what the line was (UNUSED: of no
        such session, or of a shape not read; UNTIMED)."""
        session = self.sessions.get(key)
        if session is None or session.sasl_username is None:
            return UNUSED
        parsed = self._parsed(parse, text, stamp, clock)
        if isinstance(parsed, str):
            return parsed
        event, when = parsed
        self._seen(when)
        self._seen_in(session, when)
        return session, event, when

    def _noqueue_message(self, session: Session, sender, when: _dt.datetime) -> Message:
        """A message of the logged-in `session` that no queue file holds (queue ID NOQUEUE)."""
        self._serial += 1
        message = Message(self._serial, session.host, "NOQUEUE", "submission", when)
        self._sent_by(message, session)
        message.sender = sender
        return message

    def _seen_in(self, session: Session, when: _dt.datetime) -> None:
        """A line of `session` at `when`: its last so far, if it ends unlogged."""
        if when < session.last_time:
            self._idle.earlier.append(session)
        session.last_time = when

    @staticmethod
    def _sent_by(message: Message, session: Session) -> None:
        """`message` is the logged-in `session`'s: its client, its login."""
        message.session = session
        message.client_name, message.client_ip = session.client_name, session.client_ip
        message.sasl_method, message.sasl_username = session.sasl_method, session.sasl_username
        session.queue_ids.append(message.queue_id)

    # -- queue file lines --------------------------------------------------------------------

    def _queue_file(self, event, message: Message, host: str, when: _dt.datetime) -> None:
        kind = event.kind
        if kind == "queue_active":
            self._queue_active(message, event.sender, event.size, event.nrcpt, when)
            return
        if kind == "removed":
            self._removed(message, (host, message.queue_id), when)
            return
        self._seen(when)
        message.last_time = when
        if kind == "message_id":
            message.message_id = event.message_id
        elif kind == "expired":
            message.expired = True
            for recipient in message.recipients.values():
                if recipient.status not in FINAL_OUTCOMES:
                    recipient.status = EXPIRED
        elif kind == "notice":
            self._notice(event, message, host, when)
        elif kind == "content_reject":
            # smtpd's size-limit warning, its only line: no sender, no recipient.
            self._refuse_message(message, None, "", event.reason, when)
        elif kind == "hold" or kind == "discard" or kind == "reject":
            self._act(message, event, when)  # smtpd's hold and discard, cleanup's every action

    def _queue_active(self, message: Message, sender, size, nrcpt, when: _dt.datetime) -> None:
        """qmgr reads the message: its sender, size and number of recipients."""
        self._seen(when)
        message.last_time = when
        if message.nrcpt is None:
            session = message.session
            if session is not None and session.end is None:
                session.queued_recipients += nrcpt or 0
            if message.recipients:
                self._released(message)
        message.sender, message.size, message.nrcpt = sender, size, nrcpt

    def _removed(self, message: Message, key: tuple, when: _dt.datetime,
                 position: int = -1) -> None:
        """qmgr removes the message (`key` its key): it is finished. One handed on is held
        for its late lines (LATE_LINES) when its line is at `position` of the input."""
        self._seen(when)
        message.last_time = when
        message.end = when
        message.state = REMOVED
        messages = self.messages
        if self._piped and self._waits(message):
            messages.pop(key, None)
            return  # finished once its copy comes, or can no longer come (_forget_copies())
        # Not List[Finished]: a parallel.py worker's holds its other events too (chunk.py's
        # events), which compiled code would refuse as the last of them.
        finished: list = self.finished
        self._finish_message(message)
        if position >= 0 and finished and finished[-1] is message and messages.get(
                key) is message:
            self._late[key] = position + LATE_LINES
        else:
            messages.pop(key, None)

    def _late_line(self, message: Message, key: tuple, daemon: str, text: str, stamp: str,
                   clock: Clock, position: int) -> bool:
        """Whether a line of `message`, removed and held (_late), is one of its late lines: a
        delivery or a notice (bounce's) at `position` of the input (negative: handed back,
        not read in its place) within LATE_LINES and LATE_WITHIN of its removal. Any other ends
        its hold, and is not its own."""
        if 0 <= position <= self._late.get(key, -1) and may_come_late(daemon, text):
            when = clock.time(stamp)
            end = message.end
            if when is not None and end is not None and when <= end + LATE_WITHIN:
                return True
        self._let_go(key)
        return False

    def _end_late(self, fed: int = -1) -> None:
        """The messages held for their late lines (_late) whose window has passed once `fed`
        lines are fed (-1: _lines_fed) are let go (in the order held, that of their windows'
        ends)."""
        late = self._late
        if not late:
            return
        fed = self._lines_fed if fed < 0 else fed
        over = []
        for key, until in late.items():
            if until >= fed:
                break
            over.append(key)
        for key in over:
            self._let_go(key)

    def end_late_before(self, latest: Optional[_dt.datetime]) -> None:
        """The messages held whose LATE_WITHIN has passed by `latest`, the newest time read,
        are let go: `watch` hands on what it can at the end of each read of a followed log,
        whose next lines may come hours later (a line later than LATE_WITHIN is no late line;
        one that came out of order by more than that is read as one, or not, by how the
        reads fell)."""
        if latest is None or not self._late:
            return
        messages = self.messages
        for key in [key for key in self._late
                    if (messages[key].end or latest) + LATE_WITHIN < latest]:
            self.late_over(key)

    def late_over(self, key: tuple) -> None:
        """The late lines of the message held on `key` can no longer come (chunk.LateOver)."""
        if key in self._late:
            self._let_go(key)

    def _let_go(self, key: tuple) -> None:
        """The message removed on `key` is no longer held for its late lines (_late): a later
        line of its queue ID is another's. (Handed on already: only no longer followed.)"""
        self._late.pop(key, None)
        self.messages.pop(key, None)

    def late_keys(self) -> AbstractSet[tuple]:
        """The keys of the messages held for their late lines (_late)."""
        return self._late.keys()

    def pass_lines(self, fed: int) -> None:
        """A parallel.py worker's chunk of `fed` lines is about to be applied, and none of its
        lines is a late line of a message held here (parallel._Merge.why_not()): those whose
        window ends in the chunk are let go."""
        self._end_late(self._lines_fed + fed)

    def add_late(self, late: Dict[tuple, int], fed: int) -> None:
        """A parallel.py worker's chunk of `fed` lines is applied: its messages held at its
        end (`late`, by its own count of lines, from 0) are held here, and the lines count."""
        start = self._lines_fed
        for key, until in late.items():
            self._late[key] = start + until
        self._lines_fed = start + fed
        self._end_late()

    def handed_on(self, also: AbstractSet[tuple] = frozenset()) -> int:
        """How many of `finished`, from its start, may be handed on now: a message held for its
        late lines (_late; or whose key is in `also`) waits, and what was finished after it
        waits with it, in its order."""
        finished = self.finished
        if self._late or also:
            for index, item in enumerate(finished):
                if self._held_late(item, also):
                    return index
        return len(finished)

    def _held_late(self, item: Finished, also: AbstractSet[tuple] = frozenset()) -> bool:
        """Whether `item` is a message held for its late lines (or whose key is in `also`)."""
        if not isinstance(item, Message) or item.state != REMOVED:
            return False
        key = (item.host, item.queue_id)
        # (`also` tested only when it holds any: most calls pass none, and a test of the
        # empty set costs as much as that of _late.)
        return key in self._late or (bool(also) and key in also)

    def take_finished(self, alone: bool = False) -> List[Finished]:
        """What handed_on() lets go, taken out of `finished`. `alone`: all but the messages
        held, which wait alone (`watch`: its Activity takes what it is handed in any order, as
        a log finishes messages days after they began, and the last sessions of a read are
        not kept from it until the next)."""
        finished = self.finished
        cut = self.handed_on()
        taken = finished[:cut]
        del finished[:cut]
        if alone and finished:
            held: List[Finished] = []
            for item in finished:  # (each item tested once)
                if self._held_late(item):
                    held.append(item)
                else:
                    taken.append(item)
            finished[:] = held
        return taken

    def open_messages(self) -> List[Message]:
        """The messages still in the queue: those followed but the ones removed and held for
        their late lines (_late)."""
        return [message for message in self.messages.values() if message.state != REMOVED]

    def _open(self, key: tuple) -> Optional[Message]:
        """The message open on `key`: not one removed that is held for its late lines."""
        message = self.messages.get(key)
        return None if message is None or key in self._late else message

    def _peeked(self, text: str, message: Message, host: str, stamp: str, clock: Clock) -> str:
        """A delivery line of `message` not of the plain shape, or whose status is no outcome:
        a probe's (address verification: it changes nothing), or a word not known (counted,
        and taken as deferred); or qmgr's own delivery line."""
        peek = ev.delivery_peek(text)
        if peek is None:
            return UNUSED
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        address, orig_to, status = peek
        if status in ev.PROBE_STATUSES:
            return USED
        if status is ev.UNKNOWN_STATUS:
            self.stats.unknown_statuses += 1
            status = DEFERRED
        answer_at = -1
        if status == SENT:
            answer_at = ev.sent_answer_at(text)
            status = ev.sent_outcome(text, answer_at)
        self._delivery(address, orig_to, status, text, message, host, when, answer_at)
        return USED

    def _delivery(self, address, orig_to, status: str, text: str, message: Message, host: str,
                  when: _dt.datetime, answer_at: int) -> None:
        """A delivery attempt of `message` (`status` an outcome; a line of status sent has its
        answer at `answer_at`)."""
        message.last_time = when
        last, first = self._read_last, self._read_first
        if last is None or first is None or when > last or when < first:
            self._seen(when)
        # message.recipient() inline: every delivery line comes here.
        key = address if orig_to is None else (address, orig_to)
        recipient = message.recipients.get(key)
        if recipient is None:
            recipient = message.recipients[key] = Recipient(address, orig_to)
        recipient.attempted(status, text, when, 1, when if status == DEFERRED else None)
        if status != SENT or message.sasl_username is None:
            return
        if "queued as " in text:
            if message.reinjected_as:
                # A filter whose re-injection named this message (orig_queue_id), on loopback
                # or not, and whether its copy is still queued or already gone.
                new_id = queued_as(ev.delivery_event(text))
                if new_id in message.reinjected_as:
                    recipient.handed_to = new_id
            elif ev.names_loopback(text):
                # Most "queued as" come from remote MXs; only a relay on loopback can be the
                # content filter, and its address is in the line.
                event = ev.delivery_event(text)
                self._follow_reinjection(event, queued_as(event), message, recipient, host)
            else:
                self._relayed(text, message, recipient, host)
        elif 0 <= answer_at < len(text) and text[answer_at] == "f":
            # (Its first letter, not a search of the line: most lines of a login's mail that
            # reach here are local deliveries, and a search cost each 240 instructions.)
            new_id = ev.forwarded_as(text)
            if new_id is not None:
                self._forwarded(message, recipient, new_id, host)
        elif (0 <= answer_at < len(text) - PIPED_VIA and text[answer_at + PIPED_VIA] == "v"
              and text.startswith(PIPED, answer_at)):
            # (`delivered via`, not local's `delivered to`, told by one letter first: a
            # compiled startswith() with a start is a generic call, 80 instructions a line.)
            # Not a late line of a message removed (_late): it was handed on at its removal,
            # and a copy would finish it again (_copy_named(), _forget_copies()).
            if message.state != REMOVED:
                self._piped_to_filter(message, recipient, host, when)
        elif ev.names_loopback(text):
            # A filter may name its next smtpd's queue ID otherwise: as its reply's last word.
            # (The relay on loopback first: most replies that reach here are remote MXs'.)
            new_id = ev.named_last(text)
            if new_id is not None:
                self._follow_reinjection(ev.delivery_event(text), new_id, message, recipient,
                                         host)

    def _forwarded(self, message: Message, recipient: Recipient, new_id: str,
                   host: str) -> None:
        """local(8) forwarded `recipient` of a login's `message` (an alias, a .forward):
        Postfix queued new message `new_id` for the addresses it names, logged with no client=
        line (cleanup's message-id came before this line). The login's mail goes on there, kind
        `forwarded`, its recipients counted there, as a content filter's re-injection's are;
        several recipients forwarded at once share it. A bounce notice's copy stays a notice
        of the message it is about (not the login's mail), as a requeued one does."""
        key = (host, new_id)
        shared = any(other.handed_to == new_id for other in message.recipients.values())
        if not shared or key not in self.messages:
            self.message_reborn(key)
            self._serial += 1
            child = self.messages[key] = Message(self._serial, host, new_id, "forwarded",
                                                 message.queued)
            self._carried_on(message, child, "forwarded")
            child.sender, child.message_id = message.sender, message.message_id
        recipient.handed_to = new_id

    @staticmethod
    def _carried_on(message: Message, child: Message, kind: str) -> None:
        """`child` carries a login's `message` on (kind `kind`); a bounce notice's copy stays a
        notice of the message it is about (not the login's mail), as a requeued one does."""
        about = message.parent if message.kind == "notice" else None
        if about is None:
            child.inherit_from(message, kind)
        else:
            child.inherit_from(about, "notice")

    def _piped_to_filter(self, message: Message, recipient: Recipient, host: str,
                         when: _dt.datetime) -> None:
        """pipe(8) handed `recipient` of a login's `message` to a command: a content filter
        re-injects it through sendmail, and the mail goes on as the copy pickup reads
        (COPY_WITHIN, same_mail()); a command that delivers (dovecot-lda) makes none. It
        takes the oldest such copy read before (its own lines may have come first: the
        command may linger once sendmail is done), unless another login's delivery waits
        that may have made it (same_login()): nothing tells which mail is whose. (Copies read
        before any delivery of theirs are taken in order: whether another login's will come is
        not known yet.) Else the copy another recipient
        of the same delivery took (one command for them all, or a command each at once: a copy
        of each may still come); else it waits for its copy (_copy_named()), and so does the
        message if it is removed meanwhile (_removed()), until that can no longer come
        (_forget_copies())."""
        sender = message.sender
        if sender is None:
            return
        key = (host, sender)
        waiting = self._piped.setdefault(key, [])
        delivery = next((delivery for delivery in waiting if delivery[2] is message
                         and abs(when - delivery[1]) <= PIPED_TOGETHER), None)
        if delivery is None:
            self._copy_order += 1
            delivery = [self._copy_order, when, message, [], 0]
            waiting.append(delivery)
        delivery[3].append(recipient)
        for picked_at, picked in self._picked.get(key, ()):
            if (picked_at >= when - COPY_WITHIN and picked.state != LOST
                    and same_mail(message, picked)):
                if self._other_original(key, message, picked):
                    break  # another login's delivery may have made it too: nothing tells whose
                self._paired(key, picked)
                delivery[4] += 1
                self._adopt(message, [recipient], picked)
                return
        if delivery[4]:
            recipient.handed_to = delivery[3][0].handed_to

    def _pickup(self, line: str, stamp: str, host: str, text: str, clock: Clock) -> str:
        """pickup's line of a message from the maildrop: it may be a content filter's copy of
        a login's message (_piped_to_filter()), and is followed until that is told
        (_copy_named()) or can no longer be (_forget_copies())."""
        event = ev.pickup_event(text)
        if event is None:
            return UNUSED
        when = clock.time(stamp)
        if when is None:
            return UNUSED  # (of no use but to pair a copy, which takes its time)
        new_id, sender = event
        picked = self._new_copy((host, new_id), sender, when, line)
        self._picked.setdefault((host, sender), []).append([when, picked])
        return USED

    def _new_copy(self, key: tuple, sender: str, when: _dt.datetime, line: str) -> Message:
        # (`line`, pickup's: for a parallel.py worker, which may hand it back.)
        self.message_reborn(key)
        self._serial += 1
        picked = self.messages[key] = Message(self._serial, key[0], key[1], PICKED, when)
        picked.sender = sender
        return picked

    def _copy_named(self, picked: Message, line: str, stamp: str) -> None:
        """cleanup named the message-id of a message pickup read (_pickup()) in `line`: the
        copy of the oldest delivery to a command waiting for it (_piped_to_filter()), if any;
        else of the oldest that took fewer copies than it piped recipients (a command each).
        Of none when that is so of another login's delivery as well (same_login()): nothing
        tells whose."""
        key = (picked.host, picked.sender)
        waiting = self._piped.get(key)
        if not waiting:
            return
        pairs = [delivery for delivery in waiting
                 if delivery[4] < len(delivery[3])
                 and abs(delivery[1] - picked.queued) <= COPY_WITHIN
                 and same_mail(delivery[2], picked)]
        if not pairs:
            return
        delivery = min(pairs, key=lambda delivery: (delivery[4] > 0, delivery[0]))
        message = delivery[2]
        if any(other[2] is not message and (not other[4] or delivery[4])
               and not same_login(other[2], message) for other in pairs):
            return  # another login's delivery may be its original as well (same_mail())
        self._paired(key, picked)
        delivery[4] += 1
        if delivery[4] > 1:
            self._adopt(message, [], picked)  # (its recipients told already)
            return
        self._adopt(message, delivery[3], picked)
        if message.state == REMOVED and not self._waits(message):
            self._finish_message(message)

    def _adopt(self, message: Message, recipients: List[Recipient], picked: Message) -> None:
        """`picked`, a message pickup read, is a pipe(8) filter's copy of `recipients` of a
        login's `message`: the login's mail goes on there (kind `reinjected`), its recipients
        counted there; a copy already removed (its own lines came first) is handed on now."""
        self._carried_on(message, picked, "reinjected")
        for recipient in recipients:
            recipient.handed_to = picked.queue_id
        for notice in self._notices_of(picked):  # (the copy bounced before pipe's line)
            notice.inherit_from(picked, "notice")
        if picked.state == REMOVED:
            self._finish_message(picked)

    def _other_original(self, key: tuple, message: Message, picked: Message) -> bool:
        """Whether a delivery to a command of another login's message than `message` (`key`
        their host and sender) waits for a copy and may be that of `picked` (same_mail())."""
        return any(delivery[2] is not message and not delivery[4]
                   and abs(delivery[1] - picked.queued) <= COPY_WITHIN
                   and same_mail(delivery[2], picked) and not same_login(delivery[2], message)
                   for delivery in self._piped.get(key, ()))

    def _paired(self, key: tuple, picked: Message) -> None:
        """`picked` is paired: no other delivery takes it."""
        copies = self._picked[key]
        copies[:] = [pair for pair in copies if pair[1] is not picked]
        if not copies:
            del self._picked[key]

    def _waits(self, message: Message) -> bool:
        """Whether a delivery of `message` to a command waits for its copy (_piped)."""
        waiting = self._piped.get((message.host, message.sender))
        return waiting is not None and any(delivery[2] is message and not delivery[4]
                                           for delivery in waiting)

    def _forget_copies(self, clocks: Optional[Dict[str, _dt.datetime]]) -> None:
        """The deliveries to a command and the copies pickup read that found no pair within
        COPY_WITHIN by their host's clock in `clocks` (host -> its time now; None: all of them,
        at the end): a message removed meanwhile is finished as it stands (its command
        delivered, or dropped the mail), in the order they were piped; a copy is no longer
        followed (_untrack_copy())."""
        forgotten: List[list] = []
        for pairs, at in ((self._piped, 1), (self._picked, 0)):  # (where a pair has its time)
            for key in list(pairs):
                if clocks is not None and key[0] not in clocks:
                    continue
                since = None if clocks is None else clocks[key[0]] - COPY_WITHIN
                kept: List[list] = []
                for pair in pairs[key]:
                    if since is not None and pair[at] >= since:
                        kept.append(pair)
                    elif at == 1:
                        if not pair[4]:  # (one that took a copy handed its message on)
                            forgotten.append(pair)
                    else:
                        self._untrack_copy(pair[1])
                if kept:
                    pairs[key] = kept
                else:
                    del pairs[key]
        forgotten.sort(key=lambda delivery: delivery[0])
        finished: set = set()
        for delivery in forgotten:
            message = delivery[2]
            if (message.state == REMOVED and id(message) not in finished
                    and not self._waits(message)):
                finished.add(id(message))
                self._finish_message(message)

    def _untrack_copy(self, picked: Message) -> None:
        """A message pickup read is no content filter's copy: its lines, and those of the
        notices it caused, are no longer read."""
        key = (picked.host, picked.queue_id)
        if self.messages.get(key) is picked:
            self._unfollow(key)
        for notice in self._notices_of(picked):
            self._unfollow((notice.host, notice.queue_id))

    def _notices_of(self, message: Message) -> List[Message]:
        """The bounce and delay notices of `message` still followed (a notice's queue ID named
        twice, once)."""
        found = (self.messages.get((message.host, queue_id))
                 for queue_id in dict.fromkeys(message.notices))
        return [notice for notice in found if notice is not None and notice.parent is message]

    def _unfollow(self, key: tuple) -> None:
        del self.messages[key]

    def _follow_reinjection(self, event, new_id: Optional[str], message: Message,
                            recipient: Recipient, host: str) -> None:
        # A content filter on loopback answers "250 2.0.0 Ok: queued as NEWQID" (or names
        # NEWQID last): the mail goes on as NEWQID, whose client= line (from 127.0.0.1, no
        # SASL) came just before this one.
        if new_id is None or not ev.is_loopback(ev.split_address(event.relay)[1]):
            return
        child = self._open((host, new_id))
        if child is None:
            return
        if child.parent is None and child.sasl_username is None:
            child.inherit_from(message, "reinjected")
        if child.parent is message:
            recipient.handed_to = new_id
            if child.nrcpt is not None and len(message.recipients) > child.nrcpt:
                handed = sum(other.handed_to == new_id for other in message.recipients.values())
                if handed > child.nrcpt:
                    self._split_copies(message, child)

    def _split_copies(self, message: Message, named: Message) -> None:
        """A filter handed `message`'s recipients back in more copies than the one its reply
        named: amavisd-new re-injects a message once per group of recipients its policies
        treat alike, and answers the one SMTP transaction with the first copy's queue ID for
        every recipient (`queued as NAMED`, whose qmgr line counts fewer). The others came
        from the filter just before, with the same message-id and sender and no parent: each
        carries the login's mail on (its recipients counted there, as `named`'s are). Only the
        messages queued since `message` are looked at (newest first, until `message`)."""
        for other in reversed(self.messages.values()):
            if other is message:
                break
            if (other.parent is None and other.sasl_username is None and other is not named
                    and other.host == message.host and other.message_id is not None
                    and other.message_id == named.message_id and other.sender == named.sender
                    and ev.is_loopback(other.client_ip)):
                other.inherit_from(message, "reinjected")

    def _picked_up(self, line: str, stamp: str, host: str, text: str, clock: Clock) -> str:
        """pickup's line for a message `postsuper -r` requeued (an admin's `postsuper -r ALL`
        once a relay or a filter is mended): its queue file was moved to the maildrop, not
        removed, and pickup read it into a new one (_requeued())."""
        event = ev.requeued_event(text)
        return UNUSED if event is None else self._requeued(event, line, host, stamp, clock)

    def _notice_failed(self, line: str, stamp: str, host: str, text: str, body: str,
                       clock: Clock) -> str:
        """bounce's `warning: QID: sender notification failed to ADDR: REASON` (Postfix >=
        3.11, `body` the text after `warning: `): the notice of QID that bounce named a line
        before was refused by cleanup, never queued. It ends there, refused, rather than stay
        "still queued" (and, for `watch`, in its state) for ever."""
        queue_id = ev.notice_failure_of(body)
        if queue_id is None:
            return UNUSED
        key = (host, queue_id)
        message = self._open(key)
        if message is None:
            if self._orphan is None or key in self._dropped:
                return UNTRACKED
            self._orphan(line, stamp, key, "bounce", text, -1)  # (the parent's message?)
            return USED
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        self._seen(when)
        message.last_time = when
        notice = self._open((host, message.notices[-1])) if message.notices else None
        # Only the notice just named: one qmgr has read was queued (a log cut before the
        # notice's lines, a warning repeated).
        if notice is not None and notice.parent is message and notice.nrcpt is None:
            del self.messages[(host, notice.queue_id)]
            notice.end = when
            notice.state = REFUSED
            self._finish_message(notice)
        return USED

    def _rescanned(self, line: str, stamp: str, host: str, text: str, clock: Clock) -> str:
        """MailScanner's `Requeue: OLDQID.NNNNN to NEWQID`: beside Postfix it takes each
        message Postfix put on hold for it (header_checks `/^Received:/ HOLD`), scans it,
        writes it back under a new queue ID and deletes the held file, of which Postfix logs
        nothing more (_requeued())."""
        event = ev.scanner_requeue_event(text)
        return UNUSED if event is None else self._requeued(event, line, host, stamp, clock)

    def _requeued(self, event, line: str, host: str, stamp: str, clock: Clock) -> str:
        """The message of `event.orig_id` goes on under `event.queue_id`, with no line of its
        old queue ID after: the old one is finished, and the new one carries its client and
        login (`requeued`; a notice stays a notice of the message it is about) and each
        recipient still to deliver, its attempts so far with it (the old one's is handed_to
        the new queue ID, counted there). (`line`, whose event it is, for a worker to hand
        back: chunk.py.)"""
        original = self._open((host, event.orig_id))
        if original is None:
            return UNTRACKED
        if event.queue_id == event.orig_id:
            return UNUSED
        when = clock.time(stamp)
        if when is None:
            return UNTIMED
        key = (host, event.queue_id)
        if key in self.messages:
            self.message_reborn(key)
        self._serial += 1
        moved = self.messages[key] = Message(self._serial, host, event.queue_id, "requeued",
                                             original.queued)
        if original.kind == "notice" and original.parent is not None:
            moved.inherit_from(original.parent, "notice")
        else:
            moved.inherit_from(original, "requeued")
        moved.sender, moved.message_id = original.sender, original.message_id
        session = moved.session
        if session is not None and session.end is None:
            session.queue_ids.append(event.queue_id)  # (its end lets go of the message too)
        accepted = 0
        for address, recipient in original.recipients.items():
            accepted += recipient.status != REJECTED
            if recipient.status not in FINAL_OUTCOMES:
                moved.recipients[address] = copy.copy(recipient)
                recipient.handed_to = event.queue_id
        if original.nrcpt is not None:
            # Those qmgr counted and no agent tried yet go on too; and qmgr's line for the new
            # file, which counts the same, is then read as a retry's. (A message qmgr never
            # read, held, has only its hold lines' recipients: qmgr counts the new file's.)
            moved.nrcpt = len(moved.recipients) + max(original.nrcpt - accepted, 0)
        self._removed(original, (host, original.queue_id), when)
        return USED

    def _notice(self, event, message: Message, host: str, when: _dt.datetime) -> None:
        key = (host, event.notice_queue_id)
        self.message_reborn(key, message)
        self._serial += 1
        notice = Message(self._serial, host, event.notice_queue_id, "notice", when)
        notice.inherit_from(message, "notice")
        message.notices = [*message.notices, event.notice_queue_id]
        self.messages[key] = notice

    def _untracked_client(self, key: tuple, client: str) -> str:
        """The client= line of a message not followed, its text `client` (or `[IP]`): kept,
        not parsed (BIRTHS_KEPT)."""
        count = self._birth_count = self._birth_count + 1
        births = self._births
        births[key] = (client, count)
        if len(births) > 2 * BIRTHS_KEPT:
            self._trim_births()
        outcome = self._born_untracked(key)
        if self._awaited:
            awaited = self._awaited.pop(key, None)
            if awaited is not None and self._copy_born(key, awaited, _ip_of(client)):
                return USED
        return outcome

    def _trim_births(self) -> None:
        since = self._birth_count - BIRTHS_KEPT
        self._births = {key: born for key, born in self._births.items() if born[1] > since}

    def _birth_ip(self, key: tuple) -> Optional[str]:
        """The client IP of the message born untracked on `key`, if it is of the last
        BIRTHS_KEPT born so; else None. (Counted, not trimmed each time: a worker of
        parallel.py, whose count starts at its chunk, keeps the same ones from there on.)"""
        born = self._births.get(key)
        if born is None or born[1] <= self._birth_count - BIRTHS_KEPT:
            return None
        return _ip_of(born[0])

    def add_births(self, births: Dict[tuple, tuple], count: int, awaited: Dict[tuple, list],
                   awaited_count: int) -> None:
        """`count` messages born untracked after those counted (`births`, numbered from 1:
        a parallel.py worker's), and `awaited_count` replies that named a queue ID not born
        yet (`awaited`, numbered so too)."""
        before = self._birth_count
        for key, (client, number) in births.items():
            self._births[key] = (client, before + number)
        for key, (original, recipients, number, births_then, queued) in awaited.items():
            self._awaited[key] = [original, recipients, self._awaited_count + number,
                                  before + births_then, queued]
        self._birth_count = before + count
        self._awaited_count += awaited_count
        if len(self._births) > 2 * BIRTHS_KEPT:
            self._trim_births()
        self.trim_awaited()

    def _relayed(self, text: str, message: Message, recipient: Recipient, host: str) -> None:
        """A login's `recipient` was sent to a relay that answered `queued as NEWQID` (`text`,
        no loopback in it): most are remote MXs, whose queue this log never shows. When this
        host queued NEWQID a moment ago from the relay's own IP (BIRTHS_KEPT), the relay is a
        content filter that re-injected the message here, and the login's mail goes on there,
        kind `reinjected`, as a filter's on loopback does. Its lines before this one (cleanup's,
        qmgr's) were not read: its sender and message-id are the original's, and it counts the
        recipients handed to it until qmgr reads it again. A filter on this host's own address
        may re-inject on loopback: a copy this host queued from loopback within COPY_WITHIN
        before, of no login and no other message's copy, carries the mail so too (a remote MX's
        queue ID names a message born here a moment ago only by chance, seldom one on
        loopback)."""
        new_id = ev.queued_as_in(text)
        key = (host, new_id)
        child = self.messages.get(key)
        if child is not None:
            if (child.parent is None and child.sasl_username is None
                    and child.kind == "submission" and ev.is_loopback(child.client_ip)
                    and message.last_time - child.queued <= COPY_WITHIN):
                child.inherit_from(message, "reinjected")
        else:
            client_ip = self._birth_ip(key)
            if client_ip is None:
                self._await(key, message, recipient)
                return
            event = ev.delivery_event(text)
            if event is None or ev.split_address(event.relay)[1] != client_ip:
                return
            child = self._copy_relayed(message, key)
        if child.parent is message:
            recipient.handed_to = new_id

    def _await(self, key: tuple, message: Message, recipient: Recipient) -> None:
        """The reply to `recipient` of `message` named queue ID `key` not born (of the last
        BIRTHS_KEPT born): syslog may log a filter's copy's client= line after it
        (_copy_born())."""
        original = (message.host, message.queue_id)
        named = recipient.address if recipient.orig_to is None else (recipient.address,
                                                                     recipient.orig_to)
        kept = self._awaited
        awaited = kept.get(key)
        if awaited is not None and awaited[0] == original and self._awaits(awaited):
            awaited[1].append(named)  # (one line a recipient)
            return
        count = self._awaited_count = self._awaited_count + 1
        kept[key] = [original, [named], count, self._birth_count, message.queued]
        # Most are remote MXs', their message removed a moment after, and only the last
        # BIRTHS_KEPT can be a copy's (_awaits(), asked when one is born): those that can no
        # longer be are let go once twice as many are kept (each is 300 bytes): a sweep every
        # 32 cost a login's every remote delivery nine tests of the kept.
        if len(kept) > 2 * BIRTHS_KEPT:
            self.trim_awaited()

    def trim_awaited(self) -> None:
        """Let go of the replies kept (_await()) that can no longer name a copy (_awaits()):
        also before a parallel.py worker hands them on (those of its closed messages are no
        copy's for the parent), and once they are merged (add_births())."""
        self._awaited = {key: awaited for key, awaited in self._awaited.items()
                         if self._awaits(awaited)}

    def _awaits(self, awaited: list) -> bool:
        """Whether a reply kept (_await()) is of the last BIRTHS_KEPT kept and BIRTHS_KEPT
        births, and its message still open: it may be a filter's whose copy is born now.
        (Counted, as _birth_ip() is. Its message is told by the time it was queued too: its
        queue ID may be reused while the reply is kept, and the sweep that lets go of a
        reply whose message is closed comes only when many are kept.)"""
        if (awaited[2] <= self._awaited_count - BIRTHS_KEPT
                or awaited[3] < self._birth_count - BIRTHS_KEPT):
            return False
        message = self.messages.get(awaited[0])
        return message is not None and message.queued == awaited[4]

    def awaits(self, key: tuple) -> bool:
        """Whether a message born untracked on `key` now may be the copy of a reply kept
        (_await()): for parallel.py, of a worker's birth."""
        awaited = self._awaited.get(key)
        return awaited is not None and self._awaits(awaited)

    def _copy_born(self, key: tuple, awaited: list, client_ip: str) -> bool:
        """Whether the message born untracked on `key`, from `client_ip`, is the copy the
        reply kept (`awaited`, _await()) named before it was born: the relay's IP is the
        client's, and the login's message is still open. Followed from here, as _relayed()
        follows one born before (its own lines from here on read)."""
        if not self._awaits(awaited):
            return False
        message = self.messages[awaited[0]]
        recipients = [recipient for recipient in map(message.recipients.get, awaited[1])
                      if recipient is not None and recipient.status == SENT
                      and recipient.handed_to is None]
        if not recipients or ev.split_address(recipients[0].relay)[1] != client_ip:
            return False
        self._copy_relayed(message, key)
        for recipient in recipients:
            recipient.handed_to = key[1]
        return True

    def _copy_relayed(self, message: Message, key: tuple) -> Message:
        """The message born untracked on `key` that a content filter re-injected of `message`
        (_relayed()), followed from now on."""
        self._serial += 1
        child = self.messages[key] = Message(self._serial, key[0], key[1], "reinjected",
                                             message.queued)
        child.inherit_from(message, "reinjected")
        child.sender, child.message_id = message.sender, message.message_id
        child.instance = message.instance  # re-injected into the same Postfix
        return child

    def _born_untracked(self, key: tuple) -> str:
        """A message not followed is born on queue ID `key`: one still open there lost its
        end (a session that died in DATA before Postfix 3.10 logged none; a `removed` line
        dropped), and the new one's lines are not its own."""
        if key in self.messages:
            self.message_reborn(key)
        return UNTRACKED

    def message_reborn(self, key: tuple, keep: Optional[Message] = None) -> None:
        """A new message on queue ID `key`: the one still open there (unless `keep`) lost its
        removal line (short queue IDs are reused)."""
        previous = self.messages.pop(key, None)
        if previous is not None and self._late.pop(key, None) is not None:
            return  # removed, and handed on then: its late lines are over
        if previous is not None and previous.kind == PICKED:
            previous.state = LOST  # (no login's mail: not counted)
        elif previous is not None and previous is not keep:
            previous.state = LOST
            self.stats.messages_lost += 1
            self._finish_message(previous)

    def _act(self, message: Message, event, when: _dt.datetime) -> None:
        """Postfix put the message on hold (an access table's or a milter's HOLD, header or
        body checks): the recipient its line names waits, `held: ...` its reason, until qmgr
        reads the message (after `postsuper -H`; _released). Or it discards the message (an
        access table's or a milter's DISCARD, header or body checks): refused, `discard: ...`
        its reason. Or it refuses the whole message (cleanup's Reject: a milter, header or body
        checks). The line's sender is the message's if it has none yet."""
        if message.sender is None:
            message.sender = event.sender
        kind = event.kind
        if kind == "hold":
            recipient = self._named(message, event.recipient or "")
            if recipient.status == DEFERRED and recipient.attempts == 0:
                recipient.set_details("", "", HELD + event.reason)
        elif kind == "discard":
            self._refuse_message(message, event.recipient, "", DISCARDED + event.reason, when)
        else:
            self._refuse_message(message, event.recipient, event.dsn, event.reason, when)

    @staticmethod
    def _named(message: Message, address: str) -> Recipient:
        """The recipient `address` of `message`, named by a line that holds or refuses it: it
        takes the place of the one with no address that stood for the message's recipients
        (a hold at MAIL FROM, before any was named)."""
        recipients = message.recipients
        if address and address not in recipients:
            unnamed = recipients.get("")
            if unnamed is not None and unnamed.status not in FINAL_OUTCOMES:
                del recipients[""]
        return message.recipient(address)

    @staticmethod
    def _hold_of(recipient: Optional[Recipient]) -> str:
        """The reason of a recipient on hold, never tried since (`held: ...`); '' for any
        other, or none."""
        if (recipient is not None and recipient.attempts == 0 and recipient.status == DEFERRED
                and recipient.reason.startswith(HELD)):
            return recipient.reason
        return ""

    @classmethod
    def _released(cls, message: Message) -> None:
        """qmgr reads a message the first time: a held one was released, and its recipients
        are counted from now on as any others' (nrcpt, then their delivery lines)."""
        for key, recipient in list(message.recipients.items()):
            if cls._hold_of(recipient):
                del message.recipients[key]

    def _refuse(self, message: Message, address, dsn, reason, when: _dt.datetime) -> None:
        recipient = message.recipient(address)
        recipient.status = REJECTED
        recipient.set_details(dsn, "", reason)
        recipient.last_attempt = when

    def _refuse_message(self, message: Message, address, dsn, reason,
                        when: _dt.datetime) -> None:
        """The whole message was refused or discarded (at DATA, by a milter, by header checks,
        an access table's DISCARD): each recipient not final yet, the one its line names
        (`address`, if any) among them. A line names one recipient at most (smtpd the RCPT's,
        cleanup the last it read); the others accepted are not logged one by one."""
        if address:
            self._named(message, address)
        refused = 0
        last = None
        for recipient in message.recipients.values():
            if recipient.status not in FINAL_OUTCOMES:
                recipient.status = REJECTED
                recipient.set_details(dsn, recipient.relay, reason)
                recipient.last_attempt = when  # as a recipient refused at RCPT
                refused += 1
                last = recipient
        if last is None:
            # The refusal stands for its recipients, beside any refused earlier at RCPT.
            self._refuse(message, "", dsn, reason, when)
            refused = 1
            last = message.recipients[""]
        self.messages.pop((message.host, message.queue_id), None)
        message.end = when
        message.state = REFUSED
        session = message.session
        if message.nrcpt is None and session is not None and session.end is None:
            # Accepted at RCPT, then refused: the session's recipients, for a log without
            # disconnect counters, as qmgr's nrcpt counts those of a queued message.
            session.queued_recipients += refused
            if message.kind == "submission" and message.sasl_username is not None:
                # Its other recipients are known, if ever, at the session's end. It no longer
                # needs its session (nor holds it: a session holding it is no cycle to pickle).
                message.session = None
                held = session.refused
                if not isinstance(held, list):
                    session.refused = [(message, last)]
                    return
                if len(held) < REFUSED_HELD:
                    held.append((message, last))  # (not copied: a session may hold thousands)
                    return
                # A client that keeps sending, every message refused, would hold memory without
                # end (60,000: 106 MB): those held go on as their lines name them, and the
                # counters, which must then cover messages no longer held, tell nothing more.
                session.refused = ()
                for waiting, _ in held:
                    self._finish_message(waiting)
        self._finish_message(message)

    # -- hand-off ----------------------------------------------------------------------------

    def _finish_session(self, session: Session) -> None:
        stats = self.stats
        end = session.end
        if end is None:
            end = session.end = session.last_time
        if end is not None and end < session.start:
            # The clock stepped back while it was open (an NTP step, a resumed VM): a session
            # ending before it began put its user's last_seen before first_seen, and --since
            # judged it by that end alone, dropping a login made after SINCE.
            session.end = session.start
        if session.refused:
            self._release_refused(session)
        # Its messages wait in the queue for days, and no longer need it (a message asks its
        # session only while the session is open): it goes with the reports, not with them.
        # (Not one removed and held for its late lines: handed on, it keeps it, as in order.)
        for queue_id in session.queue_ids:
            message = self._open((session.host, queue_id))
            if message is not None and message.session is session:
                message.session = None
        if not session.complete:
            stats.sessions_incomplete += 1
        if session.proxied_since is not None:
            stats.sessions_incomplete += 1  # the other client's of its noted connect
        if session.auth is None and not session.auth_failures and session.sasl_username is None:
            return
        if session.auth_succeeded:
            stats.sessions += 1
        self.finished.append(session)

    def _release_refused(self, session: Session) -> None:
        """The messages of `session` refused as a whole, handed on at its end (before it) with
        the recipients its counters say it accepted that no line names (_unnamed_refused()):
        those of each message are its recipient with no address, made with the refusal's
        reason if the line named one, as many times as its nrcpt counts. Several such
        messages share them evenly (the earlier ones one more), the session's total exact: no
        line tells how many each had."""
        held = session.refused
        session.refused = ()
        share, more = divmod(self._unnamed_refused(session, held), len(held))
        for index, (message, refusal) in enumerate(held):
            given = share + (index < more)
            if given:
                recipients = message.recipients
                message.nrcpt = len(recipients) + given
                if "" not in recipients:
                    unnamed = message.recipient("")
                    unnamed.status = REJECTED
                    unnamed.set_details(refusal.dsn, "", refusal.reason)
                    unnamed.last_attempt = refusal.last_attempt
            self._finish_message(message)

    def _unnamed_refused(self, session: Session, held: Sequence[tuple]) -> int:
        """How many recipients `session` accepted that no line names, all of them of its
        messages refused as a whole (`held`), as far as its counters tell (Postfix >= 3.0);
        else 0. They tell it when every MAIL accepted came to DATA (no BDAT), each DATA is one
        of `held` (a transaction before the login is not; nor is a queued message: qmgr's
        nrcpt is not its RCPT count, cleanup drops a duplicate recipient and adds a bcc), and
        as many DATA failed as messages were refused (discards got 250)."""
        text = session.counters_text
        rcpt, mail, data = (ev.counter(text, name) for name in ("rcpt", "mail", "data"))
        queue_ids = session.queue_ids
        if (rcpt is None or mail is None or data is None or ev.counter(text, "bdat")
                or not mail[0] == data[1] == len(queue_ids)
                or data[1] - data[0] != sum(not refusal.reason.startswith(DISCARDED)
                                            for _, refusal in held)
                or sorted(queue_ids) != sorted(message.queue_id for message, _ in held)):
            return 0
        return max(rcpt[0] - session.queued_recipients, 0)

    def _finish_message(self, message: Message) -> None:
        if message.sasl_username is None and (message.parent is None or message.kind == "notice"):
            return  # (a notice of local mail pickup read, no filter's copy: nobody's)
        queued = message.queued
        # As a session's (_finish_session()): no life in the queue ends before it began.
        if message.end is not None and message.end < queued:
            message.end = queued
        if message.last_time < queued:
            message.last_time = queued
        if message.kind == "submission":
            # Only notices and re-injections have a parent: a submission got here by its username.
            assert message.sasl_username is not None
            self.stats.messages += 1
            self.stats.usernames.add(message.sasl_username)
        self.finished.append(message)

    def _seen(self, when: _dt.datetime) -> None:
        stats = self.stats
        # A log is read in order: a time is most often its input's latest or one already seen.
        # (Only here are the bounds set: both at the first time seen, the first never after
        # the last; the whole run's hold its inputs', and saw_last_line() moves them alone.)
        last, first = self._read_last, self._read_first
        jump = self._jump
        if jump is not None and last is not None:
            _after_jump(jump, when, last)
        if last is None or first is None:
            self._read_first = self._read_last = when
        elif when > last:
            self._read_last = when
            stats.latest_moves += 1
        elif when < first:
            # Before the input's first line, and a day before its latest: logs joined newest
            # first (`zcat -f maillog*`)? Not a host's clock behind another's.
            if jump is None and last - when > JOINED_BACK and last - first > JOINED_RUN:
                self._jump = [last, when, first, when]
            self._read_first = when
            stats.earliest_moves += 1
        else:
            return
        self._in_period(when)

    def _in_period(self, when: _dt.datetime) -> None:
        """The period read (stats.first_time .. last_time) takes in `when`."""
        stats = self.stats
        last, first = stats.last_time, stats.first_time
        if last is None or first is None:
            stats.first_time = stats.last_time = when
        elif when > last:
            stats.last_time = when
        elif when < first:
            stats.first_time = when


def same_mail(message: Message, picked: Message) -> bool:
    """Whether `picked`, a message pickup read, can be a content filter's copy of `message`
    (same_ids())."""
    return same_ids(message.message_id, picked.message_id, picked.queue_id)


def same_login(message: Message, other: Message) -> bool:
    """Whether two messages are of one account's login from one client: which of them a
    content filter's copy carries on changes no user's or client's figures."""
    return (message.sasl_username == other.sasl_username
            and message.client_ip == other.client_ip)


def same_ids(original: Optional[str], copy: Optional[str], copy_queue_id: str) -> bool:
    """Whether a message pickup read with message-id `copy`, under `copy_queue_id`, can be a
    content filter's copy of one whose message-id is `original`: the same message-id (a
    filter keeps the headers), or none of the original's and the one cleanup made up for the
    copy (it holds its queue ID), or none either (`message-id=<>`: FILTER_README's filter
    re-injects with `sendmail -G`, whose mail cleanup gives no missing header)."""
    if original:
        return copy == original
    return copy is not None and (not copy or copy_queue_id in copy)


def source_clock(source, year: Optional[int], zone, previous: Optional[Clock],
                 kind: type = Clock, before=None) -> Clock:
    """The Clock of `source`'s stamps, `previous` the clock of the source read before it
    (`before`): with `year`, the first source starts in that year and later ones carry it on
    across New Year; a file of the log `before` is of (its rotated set) reads on in the pass
    through a repeated hour where it ended."""
    clock = kind(year=year if previous is None else None, tz=zone, anchor=source.anchor)
    if year is not None and previous is not None:
        clock.continue_from(previous)
    elif year is None and source.leap_start is not None:
        clock.start_in(*source.leap_start)
    if previous is not None and before is not None and before.log == source.log:
        clock.continue_stream(previous)
    return clock


def counted_before(stats: Stats) -> tuple:
    """What source_read() compares `stats` with once the next source is read."""
    return (stats.lines_read - stats.repeated_lines, stats.not_syslog, stats.unread_stamps,
            stats.earliest_moves, stats.latest_moves)


def source_read(source, stats: Stats, before: tuple, problems: Optional[List[Problem]],
                clock: Optional[Clock] = None, span: tuple = (None, None, None)) -> None:
    """`source` has been read, `before` being counted_before() it: its problem, or `not a
    syslog file` when none of its lines had syslog shape, goes to `problems`; and the lines of
    use it had that were not used for their stamp, which is no time (a month's name of a
    language not read), with the last such stamp: such a log would else give an empty report
    and no word of why; and a log whose times run backwards (`tac`, `journalctl -r`), which
    would else give a report of logins that sent nothing and never ended; and one whose
    yearless lines, read with `clock`, ran past its end (late_year()) or were split by a Feb
    29 (leap_split()), `span` its earliest and latest time; and one whose time went back
    before its start (`span`'s third: logs joined newest first, whose logins and messages
    across them were read out of order)."""
    read = stats.lines_read - stats.repeated_lines - before[0]
    if read and stats.not_syslog - before[1] == read and source.problem is None:
        # Not one line of syslog shape: the wrong file, not a log with some noise in it.
        source.problem = Problem(source.name, f"not a syslog file: none of its {read} lines "
                                              "has a timestamp, host and program")
    if source.problem is not None and problems is not None:
        problems.append(source.problem)
    unread = stats.unread_stamps - before[2]
    if unread and problems is not None:
        problems.append(Problem(source.name, untimed_lines(unread, stats.unread_stamp)))
    backwards = runs_backwards(stats.earliest_moves - before[3], stats.latest_moves - before[4])
    if problems is not None and backwards:
        problems.append(Problem(source.name, f"{BACKWARDS_TOLD}: the reports need the oldest "
                                             "line first"))
    elif problems is not None and span[2] is not None and source.problem is None:
        problems.append(Problem(source.name, f"{joined_told(span[2])}; give maillog-sasl the "
                                             "files, which it puts in order, or join them "
                                             "oldest first (ls -rt)"))
    late = late_year(clock, span[0]) or leap_split(clock, span[0])
    if late and problems is not None:
        problems.append(Problem(source.name, late))


# How far past a log's end its yearless lines may run before they are said to be a year late:
# one host of a central syslog whose clock is days ahead logs `Jan  2` before the others' New
# Year (its lines rightly in the next year), while a New Year too many puts the log's last
# lines about a year past its end (less the time between its last line and its copy).
AHEAD_SLACK: Final = _dt.timedelta(days=60)
# A line before its input's first one, and more than JOINED_BACK before its latest, says that
# logs were joined newest first: a central syslog's hosts' clocks differ by minutes, a host's
# set to another zone by hours, while the log rotated before the one read first began at least
# a day before the end of that one (daily rotation; weekly, a week). JOINED_RUN: the input has
# run on that long before (a first line whose clock was wrong by days says nothing of it), and
# after (an older log, not a line or two of a host whose clock is off by days).
JOINED_BACK: Final = _dt.timedelta(days=1)
JOINED_RUN: Final = _dt.timedelta(hours=1)


def _after_jump(jump: list, when: _dt.datetime, latest: _dt.datetime) -> None:
    """A time read after the input went back in time (Correlator._jump), `latest` the input's
    latest before it."""
    if jump[3] is None:
        # Where it went back was lines out of order (a host's clock days behind): where it goes
        # back again, before the first line and a day before the latest, may be older logs.
        if when < jump[2] and latest - when > JOINED_BACK:
            jump[:] = [latest, when, jump[2], when]
        return
    if when > jump[2] + JOINED_RUN:
        jump[3] = None  # past the first line's time: lines out of order, not older logs
    elif jump[3] < when < jump[2]:
        jump[3] = when


def joined_told(where: tuple) -> str:
    """What is said of a log whose time went back (joined_newest_first()'s `where`), before
    the reports' or watch's advice."""
    latest, then = (f"{when:%Y-%m-%d %H:%M:%S}" for when in where)
    return (f"its lines go back in time from {latest} to {then}, before its first line: logs "
            "joined newest first (zcat -f maillog*?), so a login or message logged across two "
            "of them was read out of order")


def joined_newest_first(jump: Optional[list]) -> Optional[tuple]:
    """(latest, then) where an input went back in time (Correlator._jump) when it is logs
    joined newest first: the lines after it run on for more than JOINED_RUN, up to less than
    JOINED_BACK before the input's first line, as an older rotated log ends where the next
    began, and none well after that line (lines that other projects collected for their tests,
    days apart in no order, are not told so; nor a line or two of a host whose clock is a day
    or more behind, at a log's end, or a few seconds behind, in a log of less than an hour)."""
    if (jump is None or jump[3] is None or jump[2] - jump[3] > JOINED_BACK
            or jump[3] - jump[1] <= JOINED_RUN):
        return None
    return jump[0], jump[1]


def late_year(clock: Optional[Clock], first: Optional[_dt.datetime]) -> str:
    """What is said of a log read with `clock` from `first` when its yearless lines ran on
    past its end (the clock's anchor: the file's last line or time, or now) into a later
    year: '' when they did not. The year of its first line was guessed as the latest that put
    that line before the end; a log that crosses New Year once more than that allows (longer
    than a year, or copied long after it ended) has every time a year late, or more. (Lines
    with their year, and a host's clock days or weeks ahead, AHEAD_SLACK, say nothing of it.)"""
    if clock is None or clock.year is None or clock.forced or first is None:
        return ""  # no yearless line, or the admin's --year
    end = clock.anchor or _dt.datetime.now(_dt.timezone.utc)
    last = clock.latest
    if (last is None or last <= end + AHEAD_SLACK
            or clock.year <= end.astimezone(clock.zone).year):
        return ""
    late = last.year - end.year
    if _one_year_back(last, late) > end + END_SLACK:
        late += 1
    shown = end.astimezone(last.tzinfo)
    years = "a year" if late == 1 else f"{late} years"
    return (f"its lines without a year were placed up to {last:%Y-%m-%d}, after the log can "
            f"end ({shown:%Y-%m-%d}): it crosses New Year more often than its first line's "
            f"year allows (more than a year of log?), so every time is {years} late or more; "
            f"give --year {first.year - late}, the year of its first line")


def leap_split(clock: Optional[Clock], first: Optional[_dt.datetime]) -> str:
    """What is said of a log read with `clock` from `first` (its earliest time) when a Feb 29
    moved the year guessed for its yearless lines back to the leap year before
    (syslog.Clock), after lines before it were placed in the guessed year: '' when none was.
    Those lines keep their times, which end years after the Feb 29's (the clock's latest time
    stays theirs: the year advances in line order, and it alone moves back): each report would
    show one log split years apart. (A log of more than a year after that Feb 29, which runs
    past them, says nothing of it.)"""
    if clock is None or clock.year is None or clock.forced:
        return ""
    last = clock.latest
    if last is None or clock.last_month is None or last.year <= clock.year:
        return ""
    leap = leap_year_by(last.year - 1)
    if first is None or not _dt.date(leap, 2, 29) <= first.date() <= _dt.date(leap, 12, 31):
        # No line read in that year from its Feb 29 on: the latest time is of lines that carry
        # a later year than the yearless ones' (a template changed at New Year).
        return ""
    return leap_told(clock, last, leap)


def leap_told(clock: Clock, last: _dt.datetime, leap: int) -> str:
    """What is said of a log read with `clock` whose Feb 29 moved the year of its yearless
    lines back to `leap` after those before it were placed up to `last` (leap_split(); watch
    tells it as the year moves)."""
    end = (clock.anchor or _dt.datetime.now(_dt.timezone.utc)).astimezone(last.tzinfo)
    late = last.year - leap
    years = "a year" if late == 1 else f"{late} years"
    return (f"its lines without a year before a Feb 29 were placed up to {last:%Y-%m-%d} (the "
            f"latest year before the log's end, {end:%Y-%m-%d}), and those from the Feb 29 on "
            f"in {leap}, the leap year before: every time before it is {years} late; give "
            f"--year {leap}, the year of its first line ({leap - 1} if it starts before "
            "New Year)")


def _one_year_back(moment: _dt.datetime, years: int) -> _dt.datetime:
    """`moment` `years` calendar years earlier (Feb 29 to Feb 28)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


# How many times a log's earliest time must move back, at the least, before it is said to run
# backwards: a log read in order moves it back only where hosts' clocks differ a little, near
# its start, while its latest time moves on at every new second.
BACKWARD_MOVES: Final = 10
BACKWARDS_TOLD: Final = "its lines run backwards in time, newest first (tac, journalctl -r?)"


def runs_backwards(earliest_moves: int, latest_moves: int) -> bool:
    """Whether a log whose earliest time moved back `earliest_moves` times, and its latest on
    `latest_moves` times, runs newest line first."""
    return earliest_moves >= BACKWARD_MOVES and earliest_moves > 2 * latest_moves


def untimed_lines(count: int, last: Optional[str]) -> str:
    """What is said of `count` Postfix lines of one log not used for their stamp, `last` the
    last such stamp (the reports' Problem, watch's line on stderr)."""
    lines = "1 Postfix line" if count == 1 else f"{count} Postfix lines"
    told = f"{lines} not used: no date and time known in the timestamp (the last: {last!r})"
    if last is not None and last.split()[:2] == ["Feb", "29"]:
        # A guessed year moves to a leap year for Feb 29 (syslog.Clock): only --year, or a
        # stamp's own year, leaves it without a date, which the admin would not see alone.
        told += ": Feb 29 in a year that is not a leap year (is --year the log's year?)"
    return told


def correlate(sources, year: Optional[int] = None, zone=None, stats: Optional[Stats] = None,
              on_batch=None, problems: Optional[List[Problem]] = None,
              ) -> Generator[Finished, None, None]:
    """Sessions and messages from `sources` (sources.Source objects, read in the order given).

    `on_batch(source, stats)`, when given, is called after each block of lines (a progress bar).
    The problem of a source that failed part way or held no syslog line is appended to
    `problems` when the source has been read.
    """
    correlator = Correlator(stats)
    clock = last_source = None
    for source in sources:
        correlator.stats.sources.append(source.name)
        clock = source_clock(source, year, zone, clock, before=last_source)
        last_source = source
        stats = correlator.stats
        before = counted_before(stats)
        correlator.new_source()
        for batch in source.batches():
            correlator.feed(batch, clock)
            if on_batch is not None:
                on_batch(source, correlator.stats)
            if correlator.finished:
                yield from correlator.take_finished()
        correlator.end_source()
        stats.lines_cut += source.lines_cut
        source_read(source, stats, before, problems, clock, correlator.span())
    correlator.finish()
    yield from correlator.finished
    correlator.finished.clear()
