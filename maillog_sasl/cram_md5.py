"""`maillog-sasl cram-md5`: the answer to an SMTP `AUTH CRAM-MD5` challenge (RFC 2195).

What it does: decodes the server's base64 challenge and answers it with
base64("USER HEXDIGEST"), where HEXDIGEST is the lower-case hex HMAC-MD5 of the decoded
challenge keyed with the password; no trailing newline is encoded.
Input: USER and the challenge as arguments, or the challenge pasted at a prompt on stdin (with or
without the server's leading "334 "); the password from maillog_sasl.password (prompt,
--password-stdin, MAILLOG_SASL_PASSWORD). `response()` and `decode_challenge()` are also used by
auth-test.
Output: one line on stdout, the response to send after the server's 334 line.
How it fails: a challenge that is not base64 (or is empty), an empty user, or no password; a
user or password that is not UTF-8 text; standard input closed (`<&-`) or not UTF-8 where the
challenge or the password is read from it: one line on stderr, exit 2. A response that cannot be
written (a full disk, a reader that went away, stdout closed with `>&-`) is a local failure, also
one line ("cannot write the response: ...") and exit 2. Ctrl-C at a prompt: exit 130. Nothing is
printed on stdout then. Never a traceback for these.
"""
import base64
import binascii
import re


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
    # Imported here: hashlib loads OpenSSL's libcrypto, 2 MB of memory that the report
    # command, which shares the process image, never uses.
    import hashlib
    import hmac

    return hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()


def response(user, password, challenge):
    """The base64 CRAM-MD5 response for `user` to the decoded `challenge` bytes."""
    answer = f"{user} {digest(password, challenge)}"
    return base64.b64encode(answer.encode("utf-8")).decode("ascii")
