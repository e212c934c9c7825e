"""e2e_instance: a private Postfix instance in a temporary directory, for the end-to-end tests.

NAME
    e2e_instance - build, start, watch and stop `postfix -c DIR` from Debian's packages.

DESCRIPTION
    PostfixInstance(root, ...) lays out everything under one absolute directory (mode 0755 so the
    unprivileged daemons can traverse it):

        ROOT/etc/        config_directory: main.cf, master.cf, transport, aliases,
                         sasl/smtpd.conf (Cyrus reads it from $config_directory/sasl, whatever
                         cyrus_sasl_config_path says), sasldb2 (root:postfix 0640),
                         cert.pem/key.pem (self-signed, made with openssl)
        ROOT/spool/      queue_directory          ROOT/data/   data_directory
        ROOT/log/maillog maillog_file, written by postlogd
        ROOT/mail/       files that local(8) delivers to (aliases point there)

    It listens only on 127.0.0.1, on three high ports: plain smtpd with AUTH allowed (STARTTLS
    offered, not required), submission (syslog_name postfix/submission, TLS required before AUTH)
    and smtps (syslog_name postfix/smtps, implicit TLS). Every service runs unchrooted. Remote
    domains go through transport_maps to loopback ports; anything else hits the error transport,
    and DNS is off everywhere (smtpd_peername_lookup = no, smtp_dns_support_level = disabled), so
    the instance never sends a packet off the machine. Queue lifetimes are seconds, so deferred
    mail expires while a test watches.

    start() runs `postfix -c ROOT/etc start` and waits until the ports answer; stop() runs
    `postfix stop`, waits for the master to exit, then kills (by pid) any process still running
    with this instance's MAIL_CONFIG. stop() is safe to call twice and after a failed start.

DIAGNOSTICS
    PostfixError (with the command's output) when a postfix command fails or the instance does not
    come up in time; TimeoutError from wait_for_log()/wait_for() with what was awaited.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

POSTFIX_SBIN = ("/usr/sbin", "/usr/lib/postfix/sbin")
HOSTNAME = "mail.harness.test"
LOCAL_DOMAIN = "harness.test"

# Lifetimes, in seconds: a message deferred at t=0 is retried every 4-6 s and expires at the
# first attempt after LIFETIME seconds. qmgr also holds a failed destination "dead" for
# minimal_backoff_time, deferring its mail through postfix/error meanwhile.
LIFETIME = 20
TIMERS = {
    "queue_run_delay": "2s",
    "minimal_backoff_time": "4s",
    "maximal_backoff_time": "6s",
    "maximal_queue_lifetime": f"{LIFETIME}s",
    "bounce_queue_lifetime": f"{LIFETIME}s",
    "delay_warning_time": "8s",     # "sender delay notification" mail shows up too
}


class PostfixError(RuntimeError):
    """A postfix command failed or the instance misbehaved (the message carries its output)."""


def find_postfix() -> str | None:
    """Path of the `postfix` command, or None when Postfix is not installed."""
    found = shutil.which("postfix")
    if found:
        return found
    for d in POSTFIX_SBIN:
        p = Path(d, "postfix")
        if p.exists():
            return str(p)
    return None


_HANDED_OUT = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the kernel's pick), never the same twice."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def listening_ports() -> set:
    """TCP ports in LISTEN state on 127.0.0.1 (from /proc/net/tcp)."""
    ports = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            addr, port = fields[1].split(":")
            if fields[3] == "0A" and addr == "0100007F":
                ports.add(int(port, 16))
    return ports


class PostfixInstance:
    """One private Postfix instance; see the module docstring."""

    def __init__(self, root: Path, users: dict, routes: dict, local_names: list,
                 hostname: str = HOSTNAME, one_at_a_time=()):
        self.root = Path(root).resolve()
        self.etc = self.root / "etc"
        self.spool = self.root / "spool"
        self.data = self.root / "data"
        self.logdir = self.root / "log"
        self.maillog = self.logdir / "maillog"
        self.maildir = self.root / "mail"
        self.hostname = hostname
        self.users = dict(users)          # login -> (realm or None, password)
        self.routes = dict(routes)        # domain -> port
        # Domains delivered through transport "smtp1" (one connection at a time): the first
        # refused connection declares the destination dead at once, so mail queued in the next
        # minimal_backoff_time is deferred by postfix/error ("delivery temporarily suspended").
        self.one_at_a_time = set(one_at_a_time)
        self.local_names = list(local_names)
        self.ports = {
            "smtpd": free_port(),
            "submission": free_port(),
            "smtps": free_port(),
        }
        self.cert = self.etc / "cert.pem"
        self.key = self.etc / "key.pem"
        self.started = False
        self.master_pid = None
        self.env = dict(os.environ)
        self.env["PATH"] = os.pathsep.join([self.env.get("PATH", ""), *POSTFIX_SBIN])
        self.env.pop("MAIL_CONFIG", None)

    # ---------------------------------------------------------------- build
    def _run(self, argv, input=None, check=True):
        proc = subprocess.run(argv, input=input, capture_output=True, text=True, env=self.env,
                              timeout=60)
        if check and proc.returncode != 0:
            raise PostfixError(f"{' '.join(map(str, argv))} exited {proc.returncode}:\n"
                               f"{proc.stdout}{proc.stderr}")
        return proc

    def build(self):
        for d in (self.root, self.etc, self.etc / "sasl", self.spool, self.data, self.logdir):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755)
        self.maildir.mkdir(exist_ok=True)
        os.chmod(self.maildir, 0o1777)       # local(8) writes alias files as default_privs
        self._write_main_cf()
        self._write_master_cf()
        self._write_maps()
        self._write_sasl()
        self._make_certificate()
        # Creates the queue subdirectories with the right owners; `postfix check` needs them.
        self._run(["postfix", "-c", str(self.etc), "set-permissions"], check=False)
        self._run(["postfix", "-c", str(self.etc), "check"])
        return self

    def _main_cf(self) -> dict:
        transport_map = f"hash:{self.etc}/transport"
        aliases = f"hash:{self.etc}/aliases"
        return {
            "compatibility_level": "3.6",
            "queue_directory": str(self.spool),
            "data_directory": str(self.data),
            "meta_directory": "/etc/postfix",
            "shlib_directory": "/usr/lib/postfix",
            "myhostname": self.hostname,
            "mydomain": LOCAL_DOMAIN,
            "myorigin": "$mydomain",
            "mydestination": f"{LOCAL_DOMAIN}, $myhostname, localhost",
            "mynetworks": "127.0.0.1/32",
            "relay_domains": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "smtp_bind_address": "127.0.0.1",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": f"/var, /dev/stdout, {self.root}",
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtputf8_enable": "no",
            "alias_maps": aliases,
            "alias_database": aliases,
            "transport_maps": transport_map,
            # Anything not routed on purpose fails here instead of looking up a real host.
            "default_transport": "error:no route in the test harness",
            "relay_transport": "error:no route in the test harness",
            "smtpd_peername_lookup": "no",
            "smtp_dns_support_level": "disabled",
            "lmtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "smtp_tls_security_level": "none",
            "smtpd_banner": "$myhostname ESMTP harness",
            "smtpd_relay_restrictions":
                "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
            "smtpd_recipient_restrictions": "",
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "cyrus",
            "smtpd_sasl_path": "smtpd",
            "smtpd_sasl_security_options": "noanonymous",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_auth_only": "no",
            "smtpd_tls_cert_file": str(self.cert),
            "smtpd_tls_key_file": str(self.key),
            "smtpd_tls_loglevel": "1",
            "smtp_connect_timeout": "5s",
            "smtp1_initial_destination_concurrency": "1",
            **TIMERS,
        }

    def _write_main_cf(self):
        lines = ["# private instance for maillog-sasl's end-to-end tests (generated)"]
        lines += [f"{k} = {v}" for k, v in self._main_cf().items()]
        (self.etc / "main.cf").write_text("\n".join(lines) + "\n")

    def _write_master_cf(self):
        p = self.ports
        text = f"""\
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:{p['smtpd']} inet n - n - - smtpd
127.0.0.1:{p['submission']} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
127.0.0.1:{p['smtps']} inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
smtp1     unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        (self.etc / "master.cf").write_text(text)

    def _write_maps(self):
        transport = [f"{dom}\t{'smtp1' if dom in self.one_at_a_time else 'smtp'}:"
                     f"[127.0.0.1]:{port}" for dom, port in self.routes.items()]
        (self.etc / "transport").write_text("\n".join(transport) + "\n")
        inbox = self.maildir / "inbox"
        aliases = [f"{name}: {inbox}" for name in self.local_names]
        aliases += [f"postmaster: {inbox}", f"mailer-daemon: {inbox}", f"root: {inbox}"]
        (self.etc / "aliases").write_text("\n".join(aliases) + "\n")
        self._run(["postmap", "-c", str(self.etc), f"hash:{self.etc}/transport"])
        self._run(["postalias", "-c", str(self.etc), f"hash:{self.etc}/aliases"])

    def _write_sasl(self):
        sasldb = self.etc / "sasldb2"
        (self.etc / "sasl" / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            "mech_list: PLAIN LOGIN CRAM-MD5\n"
            f"sasldb_path: {sasldb}\n"
        )
        for login, (realm, password) in self.users.items():
            self._run(["saslpasswd2", "-f", str(sasldb), "-p", "-c", "-u", realm or self.hostname,
                       login], input=password)
        shutil.chown(sasldb, "root", "postfix")
        os.chmod(sasldb, 0o640)

    def _make_certificate(self):
        self._run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", f"/CN={self.hostname}",
            "-addext", f"subjectAltName=DNS:{self.hostname},IP:127.0.0.1",
            "-keyout", str(self.key), "-out", str(self.cert),
        ])
        os.chmod(self.key, 0o600)

    # ---------------------------------------------------------------- run
    def postfix(self, *args, check=True):
        return self._run(["postfix", "-c", str(self.etc), *args], check=check)

    def start(self, timeout=30):
        self.started = True
        self.postfix("start")
        # Wait for the listeners without connecting (a probe would leave sessions in the log).
        want = set(self.ports.values())
        self.wait_for(lambda: want <= listening_ports(), timeout,
                      f"Postfix listening on {sorted(want)}")
        self.master_pid = self._read_master_pid()
        return self

    def _read_master_pid(self):
        try:
            return int((self.spool / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def our_pids(self) -> list:
        """Pids of running processes that belong to this instance (by MAIL_CONFIG or -c ROOT)."""
        pids = []
        mine = str(self.etc).encode()
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            try:
                environ = (d / "environ").read_bytes().split(b"\0")
                cmdline = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if b"MAIL_CONFIG=" + mine in environ or (mine in cmdline and b"postfix" in cmdline):
                pids.append(int(d.name))
        return pids

    def stop(self, timeout=20):
        """Stop the instance and everything it started, and wait until they are gone.

        `postfix stop` first; whatever of ours still runs after `timeout` seconds is killed by
        pid. Never raises."""
        if not self.started:
            return
        self.started = False
        ours = set(self.our_pids())
        try:
            self.postfix("stop", check=False)
        except Exception:  # noqa: BLE001 - cleanup must go on
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ours |= set(self.our_pids())
            if not any(_running(pid) for pid in ours):
                return
            time.sleep(0.2)
        for pid in ours | set(self.our_pids()):
            if _running(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    # ---------------------------------------------------------------- observe
    def log_text(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, predicate, timeout, what, interval=0.25):
        """Poll predicate() until it returns a true value; return that value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s for {what}")
            time.sleep(interval)

    def wait_for_log(self, pattern, timeout, count=1):
        rx = re.compile(pattern, re.M)
        return self.wait_for(lambda: len(rx.findall(self.log_text())) >= count, timeout,
                             f"{count} log line(s) matching {pattern!r}")

    def queue(self) -> list:
        """The queue as `postqueue -j` reports it: a list of dicts (queue_id, queue_name, ...)."""
        proc = self._run(["postqueue", "-c", str(self.etc), "-j"])
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def version(self) -> str:
        return self._run(["postconf", "-c", str(self.etc), "-h", "mail_version"]).stdout.strip()
