"""How tests/reallogs/lightmeter-sample/mail.log.1 and mail.log were cut from the upstream
files of the same names (complete.tar.gz): whole lines, byte-exact, in their order.

Kept: every smtpd session (connect .. disconnect on one syslog name and pid) that is chosen
below, every line naming a queue ID of a message of those sessions, recursively every queue
ID such a line says the message was re-injected as (`queued as ID`) or its bounce notice
is (`sender non-delivery notification: ID`), the localhost smtpd sessions that re-injected
them, and one in 60 of the lines of dovecot, postscreen, anvil and
dnsblog that name no queue ID.
Chosen sessions: in mail.log.1 the submission logins of h-cff5713 (PLAIN), the six sessions
one after another on submission/smtpd[9247], the PLAIN login from 187.23.192.155, and the
first three port-25 sessions that logged in and sent nothing; in mail.log every session that
logged in.
"""
import re
import sys
from collections import defaultdict

STAMP = re.compile(rb'^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ (\S+?)(?:\[(\d+)\])?: (.*)$')
QID = re.compile(rb'\b([0-9A-F]{10,12})\b')
CLIENT = re.compile(rb': ([0-9A-F]{10,12}): client=')
NOISE = (b'dovecot', b'postfix/postscreen', b'postfix/anvil', b'postfix/dnsblog')


def read(path):
    data = open(path, 'rb').read()
    lines = data.split(b'\n')
    if lines[-1] == b'':
        lines.pop()
    return lines


def choose(origin, body):
    text = b'\n'.join(body)
    if origin == 'mail.log':
        return b'sasl_username=' in text or b' auth=1 ' in text
    if (b'sasl_username=h-cff5713' in text or b'submission/smtpd[9247]' in text
            or b'[187.23.192.155]' in text):
        return True
    if b' auth=1 ' in text and b'sasl_username' not in text:
        choose.port25 += 1
        return choose.port25 <= 3
    return False


choose.port25 = 0


def main(upstream_dir, out_dir):
    rows = []  # (origin, line)
    for origin in ('mail.log.1', 'mail.log'):
        rows += [(origin, line) for line in read(f'{upstream_dir}/{origin}')]
    sessions, open_sessions = [], {}
    for index, (_origin, line) in enumerate(rows):
        match = STAMP.match(line)
        if not match or not match.group(1).endswith(b'/smtpd'):
            continue
        key, message = (match.group(1), match.group(2)), match.group(3)
        if message.startswith(b'connect from'):
            open_sessions[key] = [index]
        elif key in open_sessions:
            open_sessions[key].append(index)
            if message.startswith(b'disconnect from'):
                sessions.append(open_sessions.pop(key))
    by_qid = defaultdict(list)
    for index, (_origin, line) in enumerate(rows):
        for qid in set(QID.findall(line)):
            by_qid[qid].append(index)
    keep, wanted = set(), set()
    for session in sessions:
        origin = rows[session[0]][0]
        body = [rows[i][1] for i in session]
        if choose(origin, body):
            keep.update(session)
            wanted.update(m.group(1) for m in map(CLIENT.search, body) if m)
    todo = list(wanted)
    while todo:
        for index in by_qid[todo.pop()]:
            keep.add(index)
            match = re.search(rb'(?:queued as|notification:) ([0-9A-F]{10,12})', rows[index][1])
            if match and match.group(1) not in wanted:
                wanted.add(match.group(1))
                todo.append(match.group(1))
    for session in sessions:
        body = [rows[i][1] for i in session]
        if any(m and m.group(1) in wanted for m in map(CLIENT.search, body)):
            keep.update(session)
    count = 0
    for index, (_origin, line) in enumerate(rows):
        match = STAMP.match(line)
        if match and match.group(1) in NOISE and not QID.search(line):
            count += 1
            if count % 60 == 0:
                keep.add(index)
    for origin in ('mail.log.1', 'mail.log'):
        with open(f'{out_dir}/{origin}', 'wb') as out:
            out.writelines(rows[i][1] + b'\n' for i in sorted(keep) if rows[i][0] == origin)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
