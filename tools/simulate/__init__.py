"""simulate: realistic Postfix mail logs with their ground truth (tests, sample, benchmarks).

NAME
     tools.simulate - deterministic Postfix 3.x mail log generator with ground truth

SYNOPSIS
     python -m tools.simulate [--seed N] [--days D] [--users N]
            [--compromised N] [--timestamps rfc3339|traditional] [--year Y]
            [--start MM-DD[THH:MM[:SS]]] [--utc-offset +HH:MM] [--hosts N]
            [--long-queue-ids] [--inbound-per-user N] [--volume X | --target-lines N]
            -o FILE [--truth FILE.json] [--rotate N]

     Run from the repository root: tools/ is not installed with maillog_sasl (the tests put
     the root on sys.path in tests/conftest.py).

     from tools.simulate import SimConfig, simulate, simulate_to_files
     truth = simulate(SimConfig(seed=1, days=7), out_stream)
     truth = simulate_to_files(SimConfig(seed=1), "maillog", rotate=6)

DESCRIPTION
     Simulates one (or, with --hosts, several) Postfix 3.x mail servers for a
     number of days and writes the syslog lines they would have produced, in
     time order, interleaved with the usual noise of other programs.  The same
     seed and options always give byte-identical output.

     The simulated server (syslog name "mail", or mail1..mailN) hosts the
     domains corp.example and shop.example; its local zone is --utc-offset
     and --start is a local time.  There are --users normal accounts plus
     --compromised accounts (60 + 3 by default).  --volume multiplies every
     kind of traffic (users' mail, inbound mail, attacks, brute force, noise;
     not the population); --target-lines picks the volume for a line count.
     Its traffic:

     o   Normal users (--users) with habits: one or two home networks whose
         dynamic address changes now and then, an office NAT address shared
         by several accounts, mobile phones on carrier NAT pools, some users
         travelling; a few to a few dozen recipients a day; submission (587,
         STARTTLS) or smtps (465, wrapper TLS); the odd bounce, the odd
         mistyped password (auth=1/2), the odd unknown local recipient
         refused at RCPT, some sessions that log in and send nothing.
     o   Compromised accounts (--compromised, in addition to the normal
         users; they behave normally until they are broken into): password
         guessing from a few attacker addresses, a successful login from one
         of them (the moment the account "went bad"), a test message, then
         bursts of spam from a botnet spread over many networks and
         countries, hundreds of recipients an hour, most of them failing
         (refused at RCPT, bounced, deferred, retried for days, expired), so
         the queue fills.  The first compromised account gets its password
         reset after its last burst; the botnet keeps trying and fails.
     o   Brute-force campaigns: failed AUTH with and without ", sasl_username=",
         with and without a client port (the smtps service logs ports), the
         Cyrus "Password verification failed" line, AUTH before STARTTLS
         (only "auth=0/1" in the counters), AUTH on port 25, aborted AUTH,
         "lost connection after AUTH".
     o   Inbound mail on port 25 to local users, unknown-user, DNSBL and
         relay-access rejects, scanners, one IPv6 partner.
     o   Queue behaviour: deferred mail retried with Postfix's backoff
         (minimal 300 s, maximal 4000 s, queue scans every 300 s), dead
         destinations ("delivery temporarily suspended" from postfix/error),
         expiry after maximal_queue_lifetime (5 days) with a non-delivery
         notice, bounce notices (from=<>) with their own deliveries, double
         bounces to the postmaster, messages already deferred when the log
         starts, messages still deferred when it ends.  Short hex queue ids
         (10-12 characters) are reused after removal; --long-queue-ids gives
         Postfix long queue ids instead.  With --hosts N, process ids and
         queue ids collide across hosts.
     o   Noise: dovecot (IMAP logins, IMAP auth failures), opendkim, CRON with
         pam_unix, kernel firewall lines, postfix/anvil and postfix/scache
         statistics, postfix/pickup with local mail from cron.

     Every line has the shape "TIMESTAMP HOST PROGRAM[PID]: TEXT" (dovecot and
     kernel lines have no [PID]), the Postfix texts being exactly those of
     Postfix 3.x (smtpd, cleanup, qmgr, smtp, lmtp, local, error, bounce,
     pickup, anvil, scache).

     Sessions start no later than 15 minutes before the end of the period and
     finish before it, so every queued message has had its first delivery
     attempt; later retries may fall after the end and are then missing, as
     in a real log file.

INPUT
     Only the options (or the SimConfig given to simulate()).  Nothing is
     read from disk or the network.

OUTPUT
     The log: to -o FILE (gzip-compressed when FILE ends in .gz; "-" is
     standard output).  With --rotate N the period is cut into N+1 equal
     parts written, oldest first, to FILE.N.gz ... FILE.1.gz and FILE (the
     newest part, uncompressed unless FILE ends in .gz), as logrotate leaves
     them.

     The ground truth: a JSON object, returned by simulate() and written to
     --truth FILE.json.  Times are ISO 8601 with offset, exactly the instant
     of the corresponding log line: with rfc3339 timestamps they carry the
     configured offset and microseconds (they equal the line's timestamp);
     with traditional timestamps the log is written in UTC wall-clock time
     (as from a syslog daemon running with TZ=UTC) and truth times are UTC,
     whole seconds, "+00:00".  Keys:

     users       {username: {...}} for every SASL username that queued mail:
                 sessions   that user's authenticated sessions (connect ..
                            disconnect on one smtpd process) that queued >= 1
                            message;
                 messages   queued messages (client= lines with that
                            sasl_username);
                 recipients sent+deferred+bounced+expired+rejected;
                 sent, bounced, expired, deferred, rejected
                            each recipient's final outcome: sent; bounced;
                            expired (the message expired while the recipient
                            was still deferred); deferred (not final when the
                            log ends); rejected (refused at RCPT in that
                            user's session; a NOQUEUE reject counts for the
                            user only if the same session also queued a
                            message with the username);
                 ips        sorted distinct client IPs of those sessions;
                 methods    sorted distinct sasl_method values, upper case;
                 first_seen earliest connect time of those sessions;
                 last_seen  latest disconnect time of those sessions.
                 The entry "(unknown user)" has the same keys: sessions =
                 successful logins (auth ok >= 1 in the disconnect counters)
                 that queued nothing, rejected = the NOQUEUE rejects in those
                 sessions, ips/first_seen/last_seen of those sessions,
                 methods = [] and zero for the other counts.
     failures    {ip: {...}} for every client IP with failed AUTH commands:
                 attempts      sum over its sessions of auth total minus auth
                               ok from the disconnect counters;
                 usernames     sorted sasl_username= values of its failure lines;
                 mechanisms    sorted mechanisms of its failure lines, upper case;
                 later_success true when a session from that IP with auth ok
                               >= 1 disconnected after the IP's first failure
                               (the first failure line, or, for a session whose
                               failures left no line, its disconnect).
     compromised [{user, compromised_at, attacker_ips, guess_ips}] sorted by
                 user: compromised_at is the connect time of the attacker's
                 first successful session; attacker_ips the IPs from which the
                 attacker logged in successfully as that user; guess_ips the
                 IPs that guessed its password.
     normal      sorted usernames of the never-compromised accounts (with a
                 period too short for an attack to complete, a would-be
                 compromised account stays normal).
     pending     [{host, queue_id, user}] for authenticated users' messages
                 with recipients still deferred at the end of the log (not
                 removed, not expired); sorted by host, queue id.  Bounce
                 notices are not authenticated messages: they are in neither
                 users nor pending, nor are messages whose client= line is
                 before the start of the log.
     lines       total number of lines written.
     period      {first, last}: timestamps of the first and last line.
     files       [{path, lines, first, last}] oldest first (simulate_to_files).
     hosts       the syslog host names; timestamps; utc_offset; config (the
                 SimConfig fields); truth_version; generator (still
                 "maillog_sasl.simulate", the name the generator had when the shipped
                 sample was made).
     stats       extra counters (messages, auth_messages, bounce_notices,
                 expired_messages, carryover_messages, qid_reuses,
                 cross_host_qid_collisions, delivery_attempts, ...),
                 informational.  ambiguous_later_success counts IPs for which
                 "a success after the first failure" would differ had success
                 been dated by connect instead of disconnect; it is 0 for the
                 shipped sample.

DIAGNOSTICS
     Invalid options: argparse usage message, exit status 2.  Invalid
     SimConfig values: ValueError from simulate().  A file that cannot be
     written: "simulate: cannot write FILE: reason" on standard error, exit
     status 1; from the library, OSError.  A program bug that would break
     time order raises RuntimeError rather than write a disordered log.

PERFORMANCE
     Lines are generated by an event heap and streamed to the output in
     chunks; memory is bounded by the number of concurrent sessions and of
     messages in the simulated queue, not by the size of the log (about
     40 MB resident at 1.5 M lines, 165 MB at 14 M lines, where the queue
     holds ~10,000 deferred messages).  About 100,000 lines per second on one
     unloaded core: 1.46 M lines in 13.5 s; --target-lines adds about 6 s of
     calibration and lands within about 5% of the target.

FILES
     One module a job, the parts of one Simulation object (simulation.py):
     config.py      SimConfig, its checks, the start instant
     names.py       the made-up world's vocabulary
     postfix.py     Postfix's constants, replies and text formats
     sinks.py       where the lines go: a stream, rotated files, nowhere
     hosts.py       Postfix instances: process pools, pids, queue ids
     engine.py      the event heap and clock: actors' lines in time order
     population.py  networks, domains, users and devices, the botnet
     sessions.py    smtpd's lines of one SMTP session, from a list of steps
     delivery.py    the queue: deliveries, retries, notices, expiry, removal
     users.py       the normal users' traffic
     attacks.py     compromised accounts, spam bursts, brute-force campaigns
     inbound.py     mail and strangers on port 25
     noise.py       cron, pickup, dovecot, kernel, anvil, scache
     truth.py       the ground truth, counted as lines are written
     simulation.py  the Simulation and the library functions
     cli.py         the command line (__main__.py runs it)

EXAMPLES
     python -m tools.simulate --seed 1 --days 7 --users 60 \\
         --compromised 3 --timestamps rfc3339 --year 2026 \\
         -o maillog --truth maillog.truth.json
     python -m tools.simulate --target-lines 1500000 -o big.log
     python -m tools.simulate --hosts 3 --rotate 6 -o /tmp/logs/maillog
"""

from tools.simulate.cli import build_parser, main
from tools.simulate.config import SimConfig
from tools.simulate.postfix import CYRUS_LINE
from tools.simulate.simulation import simulate, simulate_to_files, volume_for_lines
from tools.simulate.truth import TRUTH_VERSION

__all__ = ["SimConfig", "simulate", "simulate_to_files", "volume_for_lines", "main",
           "build_parser", "TRUTH_VERSION", "CYRUS_LINE"]
