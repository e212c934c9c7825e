"""`maillog-sasl cram-md5`: the answer to an SMTP `AUTH CRAM-MD5` challenge (RFC 2195).

What it does: decodes the server's base64 challenge and answers it with
base64("USER HEXDIGEST"), where HEXDIGEST is the lower-case hex HMAC-MD5 of the decoded
challenge keyed with the password; no trailing newline is encoded.
Input: USER and the challenge as arguments, or the challenge pasted at a prompt on stdin (with or
without the server's leading "334 "); the password from maillog_sasl.password (prompt,
--password-stdin, MAILLOG_SASL_PASSWORD). `response()` and `decode_challenge()` are also used by
auth-test.
Output: one line on stdout, the response to send after the server's 334 line.
How it fails: a challenge that is not base64 (or is empty), an empty user, or no password: one
line on stderr, exit 2. Ctrl-C at a prompt: exit 130. Nothing is printed on stdout then.
"""
import base64
import binascii
import hashlib
import hmac
import re
import sys

from maillog_sasl.password import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PASSWORD_HELP,
    CommandParser,
    PasswordError,
    add_password_option,
    read_password,
)

PROG = "maillog-sasl cram-md5"
CHALLENGE_PROMPT = "Challenge (the base64 text after 334): "

EPILOG = f"""\
example (the test vector of the incident write-up this project starts from):
  $ {PROG} centos7@phoenixknight.jp \\
      PDA3Nzg3NTMyMDgxMzMwMDAuMTUzNzE1MTM2NEBpazEtMzMxLTI1NjQ5LnZzLnNha3VyYS5uZS5qcD4=
  Password:
  Y2VudG9zN0BwaG9lbml4a25pZ2h0LmpwIDFjODg0OGZjZjczNGRkNTI4YjkxOWVhNzUzYzEzNzRi

Send the printed line as the answer to the server's "334 ..." line. It encodes
"USER HEXDIGEST" and nothing else: the encoded trailing newline that an
`echo ... | base64` script adds (an answer ending in "Cg==") is not needed;
RFC 2195 does not ask for it.

{PASSWORD_HELP}

exit status:
  0    the response was printed
  2    usage error: challenge not base64, empty user, no password
  130  interrupted (Ctrl-C)
"""


class ChallengeError(ValueError):
    """The text given as a CRAM-MD5 challenge is not a usable base64 challenge."""


def decode_challenge(text):
    """Return the decoded challenge bytes from `text` (base64, optionally after "334 ")."""
    encoded = text.strip()
    if encoded.startswith("334 "):
        encoded = encoded[4:].strip()
    if not encoded or encoded == "334":
        raise ChallengeError("the challenge is empty")
    try:
        challenge = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        # Not echoed: a password typed in the wrong place must not end up on the screen.
        hint = "the base64 text after the server's 334"
        if encoded.startswith("<"):
            hint = "this looks decoded: give " + hint
        raise ChallengeError(f"the challenge is not base64 ({hint})") from None
    if not challenge:
        raise ChallengeError("the challenge is empty")
    return challenge


def looks_like_msg_id(challenge):
    """True for the "<...@...>" form RFC 2195 gives the challenge (what Cyrus SASL sends)."""
    return re.fullmatch(rb"<[\x21-\x7e]+@[\x21-\x7e]+>", challenge) is not None


def digest(password, challenge):
    """Hex HMAC-MD5 of the challenge bytes, keyed with the password (UTF-8)."""
    return hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()


def response(user, password, challenge):
    """The base64 CRAM-MD5 response for `user` to the decoded `challenge` bytes."""
    answer = f"{user} {digest(password, challenge)}"
    return base64.b64encode(answer.encode("utf-8")).decode("ascii")


def _build_parser():
    parser = CommandParser(
        prog=PROG,
        description="Print the base64 response to an SMTP AUTH CRAM-MD5 challenge (RFC 2195).",
        epilog=EPILOG,
    )
    parser.add_argument("user", metavar="USER", help="the SASL user name, e.g. alice@example.com")
    parser.add_argument(
        "challenge",
        metavar="CHALLENGE",
        nargs="?",
        help='the base64 challenge from the server\'s "334 ..." line; asked for when omitted',
    )
    add_password_option(parser)
    return parser


def _prompt_challenge():
    sys.stderr.write(CHALLENGE_PROMPT)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise ChallengeError("no challenge given")
    return line


def _usage_error(message):
    print(f"{PROG}: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv):
    """Run `maillog-sasl cram-md5 ARGV`; return the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code
    if not args.user:
        return _usage_error("USER is empty")
    if args.challenge is None and args.password_stdin:
        return _usage_error("--password-stdin reads standard input: give CHALLENGE as an argument")
    try:
        text = _prompt_challenge() if args.challenge is None else args.challenge
        challenge = decode_challenge(text)
        if not looks_like_msg_id(challenge):
            print(f"{PROG}: warning: the decoded challenge is not of the form <...@host>;"
                  " is it really the server's 334 text?", file=sys.stderr)
        password = read_password(args.password_stdin)
    except (ChallengeError, PasswordError) as exc:
        return _usage_error(exc)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(response(args.user, password, challenge))
    return 0
