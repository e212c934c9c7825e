"""Tests of tools.simulate: determinism, line shapes, and a ground truth that an
independent re-reading of the log text (the small reference reader below) reproduces.

The reference reader implements the truth semantics documented in the simulate module
docstring in the most direct way; it is test code, not the analyzer.
"""

import gzip
import io
import json
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from tools import simulate as sim
from tools.simulate import SimConfig, simulate, simulate_to_files

SAMPLE_DIR = Path(__file__).parent.parent / "sample_logs"
SMALL = dict(seed=5, days=2.5, users=12, compromised=2)


def run(**kw):
    buf = io.StringIO()
    truth = simulate(SimConfig(**kw), buf)
    return buf.getvalue(), truth


@pytest.fixture(scope="module")
def small():
    return run(**SMALL)


@pytest.fixture(scope="module")
def central():
    """Traditional timestamps, three hosts, long queue ids: the awkward combination."""
    return run(seed=11, days=3, users=15, compromised=2, hosts=3, timestamps="traditional",
               long_queue_ids=True, start="12-30T20:00", volume=1.5)


@pytest.fixture(scope="module")
def week():
    """The shipped sample's configuration."""
    return run(seed=1, days=7, users=60, compromised=3)


# ---------------------------------------------------------------------------
# line shapes
# ---------------------------------------------------------------------------

RFC = r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d)"
TRAD = r"(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)"
PREFIX_TAIL = r" (?P<host>[a-z0-9]+) (?P<prog>[A-Za-z][\w/-]*?)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)$"

QID = r"(?:[0-9A-F]{10,12}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+)"
CLIENT = r"[\w.-]+\[[0-9a-f.:]+\](?::\d+)?"
DELIVERY = (rf"{QID}: to=<[^>]+>, (?:orig_to=<[^>]+>, )?relay=[^,]+, (?:conn_use=\d+, )?delay=[\d.]+, "
            r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=[245]\.\d\.\d+, status=(?:sent|deferred|bounced) \(.+\)")
SHAPES = {
    "smtpd": [
        rf"connect from {CLIENT}",
        rf"disconnect from {CLIENT}( \w+=\d+(/\d+)?)* commands=\d+(/\d+)?",
        rf"Anonymous TLS connection established from {CLIENT}: TLSv1\.[23] with cipher [\w-]+ "
        r"\(\d+/\d+ bits\)( key-exchange .*)?",
        rf"{QID}: client={CLIENT}(, sasl_method=[\w-]+, sasl_username=[^,]+(, sasl_sender=\S+)?)?",
        rf"(?:NOQUEUE|{QID}): reject: RCPT from {CLIENT}: [45]\d\d [45]\.\d\.\d .+; from=<[^>]*> "
        r"to=<[^>]+> proto=ESMTP helo=<[^>]+>",
        rf"warning: {CLIENT}: SASL [\w-]+ authentication failed: [^,]+(, sasl_username=\S+)?",
        rf"warning: {CLIENT}: SASL [\w-]+ authentication aborted",
        r"warning: SASL authentication failure: Password verification failed",
        rf"lost connection after [A-Z]+ from {CLIENT}",
        rf"warning: non-SMTP command from {CLIENT}: .+",
        r"warning: hostname \S+ does not resolve to address [\d.]+: Name or service not known",
    ],
    "cleanup": [rf"{QID}: message-id=<[^>]+>"],
    "qmgr": [rf"{QID}: from=<[^>]*>, size=\d+, nrcpt=\d+ \(queue active\)",
             rf"{QID}: from=<[^>]*>, status=expired, returned to sender",
             rf"{QID}: removed"],
    "smtp": [DELIVERY, r"connect to \S+\[[\d.]+\]:25: Connection timed out",
             r"(Trusted|Untrusted|Verified) TLS connection established to \S+\[[\d.]+\]:25: .+"],
    "lmtp": [DELIVERY], "local": [DELIVERY], "error": [DELIVERY],
    "bounce": [rf"{QID}: (sender|postmaster) non-delivery notification: {QID}"],
    "pickup": [rf"{QID}: uid=0 from=<root>"],
    "anvil": [r"statistics: max (connection rate|connection count|auth rate|cache size) .*"],
    "scache": [r"statistics: .*"],
    "opendkim": [rf"{QID}: (DKIM-Signature field added \(s=mail, d=[\w.]+\)|DKIM verification successful|"
                 r"no signature data)"],
    "CRON": [r"pam_unix\(cron:session\): session (opened|closed) for user root.*", r"\(root\) CMD \(.+\)"],
    "dovecot": [r"imap-login: Login: user=<[^>]+>, method=PLAIN, rip=\S+, lip=\S+, mpid=\d+, TLS, session=<\S+>",
                r"imap\([^)]+\)<\d+><\S+>: Disconnected: Logged out .*",
                r"imap-login: Disconnected: Connection closed \(auth failed, \d attempts in \d+ secs\): .*"],
    "kernel": [r"\[[\d.]+\] \[UFW BLOCK\] IN=eth0 .*"],
}
COMPILED = {k: [re.compile(p + "$") for p in v] for k, v in SHAPES.items()}


def daemon_of(prog):
    if prog.startswith("postfix"):
        return prog.rsplit("/", 1)[-1]
    return prog


def parse_lines(text, timestamps="rfc3339"):
    head = re.compile("^" + (RFC if timestamps == "rfc3339" else TRAD) + PREFIX_TAIL)
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        m = head.match(line)
        assert m, f"line {n} is not a syslog line: {line!r}"
        prog = m.group("prog")
        daemon = daemon_of(prog)
        msg = m.group("msg")
        assert daemon in COMPILED, f"line {n}: unknown program {prog!r}"
        assert any(p.match(msg) for p in COMPILED[daemon]), f"line {n}: unknown {daemon} shape: {msg!r}"
        out.append((m.group("ts"), m.group("host"), prog, m.group("pid"), msg))
    return out


# ---------------------------------------------------------------------------
# reference reader: the documented truth semantics, straight from the text
# ---------------------------------------------------------------------------

RE_CONNECT = re.compile(r"connect from (?P<name>[^\[]+)\[(?P<ip>[^\]]+)\]")
RE_CLIENT = re.compile(rf"(?P<qid>{QID}): client=(?P<rest>.*)$")
RE_REJECT = re.compile(rf"(?P<qid>NOQUEUE|{QID}): reject: RCPT ")
RE_FAIL = re.compile(r"warning: [^\[]+\[(?P<ip>[^\]]+)\](?::\d+)?: SASL (?P<mech>[\w-]+) "
                     r"authentication (failed|aborted)(?P<rest>.*)$")
RE_DISC = re.compile(r"disconnect from [^\[]+\[(?P<ip>[^\]]+)\](?::\d+)? (?P<counters>.*)$")
RE_DELIV = re.compile(rf"(?P<qid>{QID}): to=<(?P<rcpt>[^>]+)>, .*status=(?P<status>\w+) ")
RE_EXPIRED = re.compile(rf"(?P<qid>{QID}): from=<[^>]*>, status=expired")
RE_REMOVED = re.compile(rf"(?P<qid>{QID}): removed$")


def reference_truth(text, timestamps="rfc3339", year=None):
    users = defaultdict(lambda: {"sessions": 0, "messages": 0, "sent": 0, "bounced": 0, "expired": 0,
                                 "deferred": 0, "rejected": 0, "ips": set(), "methods": set(),
                                 "first_seen": None, "last_seen": None})
    unknown = {"sessions": 0, "rejected": 0}
    failures = defaultdict(lambda: {"attempts": 0, "usernames": set(), "mechanisms": set(),
                                    "first_fail": None})
    success_disc = {}
    sessions = {}
    live = {}          # (host, qid) -> message
    for ts, host, prog, pid, msg in parse_lines(text, timestamps):
        daemon = daemon_of(prog)
        key = (host, prog, pid)
        if daemon == "smtpd":
            if msg.startswith("connect from"):
                m = RE_CONNECT.match(msg)
                sessions[key] = {"ip": m.group("ip"), "start": ts, "user": None, "method": None,
                                 "queued": 0, "noq": 0, "warned": False}
                continue
            s = sessions.get(key)
            if s is None:          # "warning: hostname ... does not resolve" precedes connect
                assert msg.startswith("warning: hostname "), msg
                continue
            m = RE_CLIENT.match(msg)
            if m:
                fields = dict(f.split("=", 1) for f in m.group("rest").split(", ")[1:])
                user = fields.get("sasl_username")
                s["queued"] += 1
                if user is not None:
                    s["user"], s["method"] = user, fields["sasl_method"]
                    users[user]["messages"] += 1
                live[(host, m.group("qid"))] = {"user": user, "rcpt": {}}
                continue
            m = RE_REJECT.match(msg)
            if m:
                if m.group("qid") == "NOQUEUE":
                    s["noq"] += 1
                else:
                    u = live[(host, m.group("qid"))]["user"]
                    if u is not None:
                        users[u]["rejected"] += 1
                continue
            m = RE_FAIL.match(msg)
            if m:
                f = failures[m.group("ip")]
                f["mechanisms"].add(m.group("mech").upper())
                um = re.search(r", sasl_username=(\S+)$", m.group("rest"))
                if um:
                    f["usernames"].add(um.group(1))
                if f["first_fail"] is None:
                    f["first_fail"] = ts
                s["warned"] = True
                continue
            m = RE_DISC.match(msg)
            if m:
                s = sessions.pop(key)
                counters = dict(c.split("=") for c in m.group("counters").split())
                ok, _, tot = counters.get("auth", "0").partition("/")
                ok, tot = int(ok), int(tot or ok)
                if tot > ok:
                    f = failures[s["ip"]]
                    f["attempts"] += tot - ok
                    if not s["warned"] and f["first_fail"] is None:
                        f["first_fail"] = ts
                if ok:
                    success_disc[s["ip"]] = ts
                    if s["queued"] and s["user"] is not None:
                        u = users[s["user"]]
                        u["sessions"] += 1
                        u["rejected"] += s["noq"]
                        u["ips"].add(s["ip"])
                        u["methods"].add(s["method"].upper())
                        u["first_seen"] = u["first_seen"] or s["start"]
                        u["last_seen"] = ts
                    elif not s["queued"]:
                        unknown["sessions"] += 1
                        unknown["rejected"] += s["noq"]
            continue
        m = RE_DELIV.match(msg)
        if m and daemon in ("smtp", "lmtp", "local", "error"):
            msgd = live.get((host, m.group("qid")))
            if msgd is not None:
                msgd["rcpt"][m.group("rcpt")] = m.group("status")
            continue
        if daemon == "qmgr":
            m = RE_EXPIRED.match(msg)
            if m and (host, m.group("qid")) in live:
                r = live[(host, m.group("qid"))]["rcpt"]
                for a, st in r.items():
                    if st == "deferred":
                        r[a] = "expired"
            m = RE_REMOVED.match(msg)
            if m:
                msgd = live.pop((host, m.group("qid")), None)
                if msgd is not None and msgd["user"] is not None:
                    settle(users[msgd["user"]], msgd)
    pending = []
    for (host, qid), msgd in live.items():
        if msgd["user"] is None:
            continue
        settle(users[msgd["user"]], msgd)
        if any(st == "deferred" for st in msgd["rcpt"].values()):
            pending.append({"host": host, "queue_id": qid, "user": msgd["user"]})
    return users, unknown, failures, success_disc, pending


def settle(u, msgd):
    for st in msgd["rcpt"].values():
        u[st] += 1


def ts_key(ts, timestamps, year=2026):
    if timestamps == "rfc3339":
        return datetime.fromisoformat(ts)
    return ts  # only compared for equality below


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------


def test_deterministic_for_a_seed():
    a = run(**SMALL)
    b = run(**SMALL)
    assert a[0] == b[0]
    assert a[1] == b[1]
    c = run(**{**SMALL, "seed": 6})
    assert c[0] != a[0]


def test_every_line_is_a_known_shape_in_time_order(small, central):
    for (text, truth), kind in ((small, "rfc3339"), (central, "traditional")):
        rows = parse_lines(text, kind)
        assert len(rows) == truth["lines"] == text.count("\n")
        if kind == "rfc3339":
            times = [datetime.fromisoformat(r[0]) for r in rows]
            assert times == sorted(times)
            assert truth["period"] == {"first": rows[0][0], "last": rows[-1][0]}
        else:
            first = datetime.fromisoformat(truth["period"]["first"])
            assert rows[0][0] == first.strftime("%b ") + f"{first.day:2d}" + first.strftime(" %H:%M:%S")


def test_truth_is_internally_consistent(small, week):
    for text, truth in (small, week):
        users = truth["users"]
        assert "(unknown user)" in users
        for name, u in users.items():
            assert u["recipients"] == sum(u[k] for k in ("sent", "deferred", "bounced", "expired",
                                                         "rejected")), name
            if name == "(unknown user)":
                assert u["messages"] == 0 and u["methods"] == []
                continue
            assert u["messages"] >= u["sessions"] >= 1
            assert u["ips"] and u["methods"] == sorted(m.upper() for m in u["methods"])
            assert u["first_seen"] <= u["last_seen"]
            assert f"sasl_username={name}" in text
        names = set(users) - {"(unknown user)"}
        compromised = {c["user"] for c in truth["compromised"]}
        assert compromised <= names and not compromised & set(truth["normal"])
        assert len(compromised) == truth["config"]["compromised"]
        assert len(truth["normal"]) == truth["config"]["users"]
        assert set(truth["normal"]) | compromised == names    # everybody sent mail
        for c in truth["compromised"]:
            assert set(c["attacker_ips"]) & set(c["guess_ips"])     # the guesser got in
            assert any(truth["failures"][ip]["later_success"] for ip in c["guess_ips"])
        for p in truth["pending"]:
            assert f" {p['queue_id']}: client=" in text
            assert users[p["user"]]["deferred"] > 0
        assert sum(u["deferred"] > 0 for u in users.values()) <= len(truth["pending"])
        for ip, f in truth["failures"].items():
            assert f["attempts"] > 0 and f["mechanisms"] == sorted(f["mechanisms"])
        assert truth["stats"]["ambiguous_later_success"] == 0


@pytest.mark.parametrize("which", ["small", "central", "week"])
def test_reference_reader_reproduces_truth(which, request):
    text, truth = request.getfixturevalue(which)
    kind = truth["timestamps"]
    users, unknown, failures, success_disc, pending = reference_truth(text, kind)
    got = {}
    for name, u in users.items():
        got[name] = {k: u[k] for k in ("sessions", "messages", "sent", "deferred", "bounced",
                                       "expired", "rejected")}
        got[name]["ips"] = sorted(u["ips"])
        got[name]["methods"] = sorted(u["methods"])
    want = {}
    for name, u in truth["users"].items():
        if name == "(unknown user)":
            continue
        want[name] = {k: u[k] for k in ("sessions", "messages", "sent", "deferred", "bounced",
                                        "expired", "rejected")}
        want[name]["ips"] = sorted(u["ips"])
        want[name]["methods"] = u["methods"]
    assert got == want
    assert unknown == {k: truth["users"]["(unknown user)"][k] for k in ("sessions", "rejected")}
    want_f = {ip: (f["attempts"], f["usernames"], f["mechanisms"]) for ip, f in truth["failures"].items()}
    got_f = {ip: (f["attempts"], sorted(f["usernames"]), sorted(f["mechanisms"]))
             for ip, f in failures.items() if f["attempts"]}
    assert got_f == want_f
    assert sorted(map(str, pending)) == sorted(map(str, truth["pending"]))
    if kind == "rfc3339":
        for name, u in users.items():
            assert (u["first_seen"], u["last_seen"]) == (truth["users"][name]["first_seen"],
                                                         truth["users"][name]["last_seen"])
        for ip, f in failures.items():
            if not f["attempts"]:
                continue
            last = success_disc.get(ip)
            later = last is not None and datetime.fromisoformat(last) > datetime.fromisoformat(f["first_fail"])
            assert later == truth["failures"][ip]["later_success"], ip


def test_log_has_the_required_variety(week):
    text, truth = week
    for needle in ("postfix/submission/smtpd[", "postfix/smtps/smtpd[", "postfix/smtpd[",
                   "sasl_sender=", "auth=1/2", "auth=0/1 ", "auth=0/3", "NOQUEUE: reject: RCPT",
                   "Relay access denied", ": reject: RCPT", "delivery temporarily suspended",
                   "status=expired, returned to sender", "sender non-delivery notification",
                   "from=<>, size=", CYRUS_LINE(), "lost connection after AUTH", "]:", "authentication aborted",
                   "UGFzc3dvcmQ6", "postfix/pickup[", "postfix/anvil[", "CRON[", "dovecot: ", "kernel: ",
                   "opendkim[", "relay=local", "private/dovecot-lmtp", "[2001:db8:", "TLSv1.3 with cipher"):
        assert needle in text, needle
    assert re.search(r"SASL \w+ authentication failed: [^,\n]+\n", text)          # no username
    assert re.search(r"unknown\[[\d.]+\]:\d+: SASL", text)                         # client port
    assert truth["stats"]["qid_reuses"] > 0 and truth["stats"]["expired_messages"] > 0
    assert truth["pending"] and truth["users"]["(unknown user)"]["sessions"] > 0
    # a queue id really is reused: two client= lines for one id
    qids = re.findall(r" ([0-9A-F]{10,12}): client=", text)
    assert len(qids) > len(set(qids))
    # a pid serving several sessions in turn
    pids = re.findall(r" (postfix/[a-z/]*smtpd\[\d+\]): connect from", text)
    assert len(pids) > len(set(pids))


def CYRUS_LINE():
    return sim.CYRUS_LINE


def test_central_syslog_collisions(central):
    text, truth = central
    assert truth["hosts"] == ["mail1", "mail2", "mail3"]
    assert truth["stats"]["cross_host_qid_collisions"] == 0      # long ids are unique
    by_pid = defaultdict(set)
    for ts, host, prog, pid, msg in parse_lines(text, "traditional"):
        if pid:
            by_pid[pid].add(host)
    assert any(len(h) > 1 for h in by_pid.values())
    assert "Dec 31 " in text and "Jan  1 " in text                   # crosses the year
    assert truth["period"]["first"].endswith("+00:00")
    short_text, short_truth = run(seed=3, days=1.5, users=20, compromised=1, hosts=2)
    assert short_truth["stats"]["cross_host_qid_collisions"] > 0
    ids = defaultdict(set)
    for ts, host, prog, pid, msg in parse_lines(short_text):
        m = re.match(rf"({QID}): ", msg)
        if m:
            ids[m.group(1)].add(host)
    assert any(len(h) > 1 for h in ids.values())
    users, unknown, failures, success_disc, pending = reference_truth(short_text)
    assert {n: u["messages"] for n, u in users.items()} == {
        n: u["messages"] for n, u in short_truth["users"].items() if n != "(unknown user)"}


def test_incident_is_visible_and_normal_users_are_not(week):
    text, truth = week
    users = truth["users"]
    comp = {c["user"] for c in truth["compromised"]}
    normal = truth["normal"]
    def nets(name):
        return {ip.rsplit(".", 2)[0] for ip in users[name]["ips"]}

    max_normal_ips = max(len(users[n]["ips"]) for n in normal)
    max_normal_nets = max(len(nets(n)) for n in normal)
    max_normal_rcpt = max(users[n]["recipients"] for n in normal)
    assert max_normal_nets <= 5
    for c in comp:
        assert len(users[c]["ips"]) > max_normal_ips
        assert len(nets(c)) > 3 * max_normal_nets
        assert users[c]["recipients"] > 3 * max_normal_rcpt
        failed = users[c]["recipients"] - users[c]["sent"]
        assert failed > users[c]["sent"]                  # most of it fails


def test_rotation_splits_the_same_log(tmp_path):
    cfg = dict(seed=4, days=2, users=8, compromised=1)
    whole, truth = run(**cfg)
    t2 = simulate_to_files(SimConfig(**cfg), str(tmp_path / "maillog"), rotate=3)
    names = [f["path"] for f in t2["files"]]
    assert [Path(n).name for n in names] == ["maillog.3.gz", "maillog.2.gz", "maillog.1.gz", "maillog"]
    parts = []
    for n in names:
        opener = gzip.open if n.endswith(".gz") else open
        with opener(n, "rt", encoding="utf-8") as fh:
            parts.append(fh.read())
    assert "".join(parts) == whole
    assert [f["lines"] for f in t2["files"]] == [p.count("\n") for p in parts]
    assert {k: v for k, v in t2.items() if k != "files"} == truth
    t3 = simulate_to_files(SimConfig(**cfg), str(tmp_path / "single.log.gz"))
    with gzip.open(tmp_path / "single.log.gz", "rt", encoding="utf-8") as fh:
        assert fh.read() == whole
    assert t3["files"][0]["lines"] == truth["lines"]


def test_cli(tmp_path, capsys):
    out, tr = tmp_path / "m.log", tmp_path / "m.json"
    code = sim.main(["--seed", "2", "--days", "1", "--users", "5", "--compromised", "1",
                     "--timestamps", "traditional", "--year", "2025", "-o", str(out), "--truth", str(tr)])
    assert code == 0
    truth = json.loads(tr.read_text())
    assert truth["lines"] == out.read_text().count("\n")
    assert truth["config"]["year"] == 2025 and truth["timestamps"] == "traditional"
    assert "lines" in capsys.readouterr().err
    for bad in (["--timestamps", "iso"], ["--users", "0"], ["--utc-offset", "9"], ["--start", "02-30"],
                ["--volume", "1", "--target-lines", "5"]):
        with pytest.raises(SystemExit) as e:
            sim.main(bad + ["-o", str(out)])
        assert e.value.code == 2
    code = sim.main(["--days", "0.2", "--users", "3", "-o", str(tmp_path / "no" / "such" / "dir")])
    assert code == 1 and "cannot write" in capsys.readouterr().err


def test_library_config_errors():
    with pytest.raises(ValueError):
        simulate({"days": -1})
    with pytest.raises(ValueError):
        simulate({"no_such_option": 1})
    with pytest.raises(ValueError):
        simulate(SimConfig(start="2025-03-02"), io.StringIO())      # year mismatch
    truth = simulate({"days": 0.5, "users": 3, "compromised": 0})   # no stream: truth only
    assert truth["lines"] > 0 and truth["compromised"] == []


def test_target_lines_scales_volume():
    v = sim.volume_for_lines(SimConfig(days=1, users=10, compromised=1), 20000)
    text, truth = run(days=1, users=10, compromised=1, volume=v)
    assert abs(truth["lines"] - 20000) < 0.2 * 20000


def test_shipped_sample_is_reproducible(week):
    log = SAMPLE_DIR / "maillog-sample.log"
    truth_path = SAMPLE_DIR / "maillog-sample.truth.json"
    if not log.exists():
        pytest.skip("sample not generated")
    text, truth = week
    assert log.read_text(encoding="utf-8") == text
    shipped = json.loads(truth_path.read_text(encoding="utf-8"))
    shipped.pop("files", None)
    assert shipped == json.loads(json.dumps(truth))
    assert log.stat().st_size < 5_000_000
