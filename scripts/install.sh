#!/bin/bash
# Installs the release build, the default configuration, the site and the systemd
# unit (`make install`; see README "Installing"). Paths come from the environment:
#   DESTDIR     staging root for packages (default: none)
#   BINDIR      programs            (default /usr/local/bin)
#   SYSCONFDIR  configuration       (default /etc/mtcp-swift)
#   WWWDIR      document root       (default /var/www/mtcp-swift)
#   UNITDIR     systemd unit        (default /usr/local/lib/systemd/system)
#   LOGROTATEDIR logrotate snippet  (default /etc/logrotate.d)
#   LOGDIR      the unit's log directory, where the access log goes (default /var/log/mtcp-httpd)
# Configuration files and site files that already exist are kept (an operator's
# edits survive a reinstall); programs and the unit are replaced.
set -euo pipefail
cd "$(dirname "$0")/.."

DESTDIR=${DESTDIR:-}
BINDIR=${BINDIR:-/usr/local/bin}
SYSCONFDIR=${SYSCONFDIR:-/etc/mtcp-swift}
WWWDIR=${WWWDIR:-/var/www/mtcp-swift}
UNITDIR=${UNITDIR:-/usr/local/lib/systemd/system}
LOGROTATEDIR=${LOGROTATEDIR:-/etc/logrotate.d}
LOGDIR=${LOGDIR:-/var/log/mtcp-httpd}

for program in mtcp-httpd mtcp-loadgen; do
    if [ ! -x ".build/release/$program" ]; then
        echo "install: .build/release/$program is missing: run 'make build' first" >&2
        exit 1
    fi
done

# Installs $1 as $2 with mode $3 unless $2 exists.
keep_or_install() {
    if [ -e "$2" ]; then echo "install: kept $2"; else install -D -m "$3" "$1" "$2"; fi
}

install -d "$DESTDIR$BINDIR"
install -m 755 .build/release/mtcp-httpd .build/release/mtcp-loadgen "$DESTDIR$BINDIR/"

for file in mtcp.conf arp.conf route.conf; do
    keep_or_install "conf/$file" "$DESTDIR$SYSCONFDIR/$file" 644
done
# httpd.json with the installed document root, and without HTTPS: its key is made
# or obtained on the machine (README "HTTPS" says how to turn it on).
staged=$(mktemp)
trap 'rm -f "$staged"' EXIT
/usr/bin/python3 - conf/httpd.json "$WWWDIR" >"$staged" <<'PY'
import json, sys
configuration = json.load(open(sys.argv[1]))
configuration["document_root"] = sys.argv[2]
configuration.pop("tls", None)
print(json.dumps(configuration, indent=4))
PY
keep_or_install "$staged" "$DESTDIR$SYSCONFDIR/httpd.json" 644

# The site, without www/bench (fixed-size files for benchmarks).
(cd www && find . -path ./bench -prune -o -type f -print) | while read -r file; do
    keep_or_install "www/$file" "$DESTDIR$WWWDIR/${file#./}" 644
done

fill_in() {
    sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" -e "s|@LOGDIR@|$LOGDIR|g" "$1" >"$staged"
}
fill_in contrib/mtcp-httpd.service.in
install -D -m 644 "$staged" "$DESTDIR$UNITDIR/mtcp-httpd.service"
fill_in contrib/mtcp-httpd.logrotate.in
install -D -m 644 "$staged" "$DESTDIR$LOGROTATEDIR/mtcp-httpd"
echo "install: $DESTDIR$BINDIR, $DESTDIR$SYSCONFDIR, $DESTDIR$WWWDIR, $DESTDIR$UNITDIR/mtcp-httpd.service," \
    "$DESTDIR$LOGROTATEDIR/mtcp-httpd"
