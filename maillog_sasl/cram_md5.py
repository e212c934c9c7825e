"""cram_md5: the answer to an SMTP `AUTH CRAM-MD5` challenge (RFC 2195), for `cram-md5`.

SUMMARY
    decode_challenge(text) -> challenge bytes      (base64, with or without the server's "334 ")
    response(user, password, challenge) -> the base64 line to send after the server's 334
    digest(password, challenge) -> lower-case hex HMAC-MD5
    looks_like_msg_id(challenge) -> the "<...@host>" form RFC 2195 gives a challenge

DESCRIPTION
    The answer is base64("USER HEXDIGEST"), HEXDIGEST the hex HMAC-MD5 of the decoded challenge
    keyed with the password; no trailing newline is encoded. auth-test uses the same functions.
    The command line (USER and CHALLENGE as arguments or the challenge at a prompt; the password
    from password.py) is in cli.py; its output is that one line on stdout.

DIAGNOSTICS
    ChallengeError (a ValueError) for a challenge that is not base64 or is empty. The command
    makes each of these one line on stderr and exit 2, as it does for an empty user, no
    password, a user or password that is not UTF-8, standard input closed or not UTF-8, and a
    response that cannot be written ("cannot write the response: ..."); Ctrl-C: exit 130.
    Nothing is printed on stdout then, and never a traceback.
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
