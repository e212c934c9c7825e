#!/usr/bin/env bash
# install-postfix.sh - install Debian's Postfix and Cyrus SASL for the end-to-end tests.
#
# Idempotent and non-interactive. debconf is told "No configuration", so the packaged default
# instance stays unconfigured and is not started: the tests build their own private instance
# with `postfix -c DIR` in a temporary directory (tests/e2e/harness.py).
#
# Fails (exit non-zero) when not root or when apt cannot install the packages.
set -euo pipefail

PACKAGES=(postfix sasl2-bin libsasl2-modules libsasl2-modules-db openssl)

if [ "$(id -u)" -ne 0 ]; then
    echo "install-postfix.sh: must run as root" >&2
    exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-postfix.sh: already installed: ${PACKAGES[*]}"
else
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    echo "postfix postfix/mailname string localhost.localdomain" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The package's postinst may start the default instance on some systems; the tests never use it.
# With "No configuration" there is no main.cf and nothing runs, but make sure anyway.
if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then
    postfix stop >/dev/null 2>&1 || true
fi

command -v postfix >/dev/null || PATH="$PATH:/usr/sbin"
postconf -d mail_version
