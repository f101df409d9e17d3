#!/usr/bin/env bash
# Makes the TLS certificate and key of mtcp-httpd in DIR (default conf/tls):
#   DIR/server.crt  self-signed X.509, ECDSA P-256, valid 825 days, CN=mtcp-httpd,
#                   subjectAltName IP:198.18.0.1 (the appliance in the default
#                   topology), DNS:localhost, IP:127.0.0.1
#   DIR/server.key  its private key (PKCS#8 PEM, unencrypted), mode 0600
# When both files exist it changes nothing and says so; when only one exists it
# replaces both (a certificate is useless without its key, and the other way round).
# Clients trust it with `curl -k` / `openssl s_client` (which does not verify by
# default), or with `curl --cacert DIR/server.crt`.
# The key is a secret of this machine: conf/tls/ is in .gitignore. Safe to run again.
set -euo pipefail

dir=${1:-conf/tls}
crt=$dir/server.crt
key=$dir/server.key

if [ -f "$crt" ] && [ -f "$key" ]; then
    echo "make-cert: $crt and $key exist; nothing to do"
    exit 0
fi
for f in "$crt" "$key"; do
    if [ -f "$f" ]; then
        echo "make-cert: $f exists but its partner does not; replacing both"
    fi
done

command -v openssl >/dev/null || { echo "make-cert: openssl not found (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"

# Everything is written to a private scratch directory in DIR and renamed into
# place, so an interrupted run leaves no half-written key or certificate behind.
umask 077
tmp=$(mktemp -d "$dir/.make-cert.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# An explicit configuration, so that the system's openssl.cnf (whose v3_ca section
# would make this a CA certificate) does not decide the extensions.
cat >"$tmp/req.cnf" <<'CNF'
[req]
distinguished_name = dn
x509_extensions = server
prompt = no

[dn]
CN = mtcp-httpd

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = IP:198.18.0.1, DNS:localhost, IP:127.0.0.1
CNF

openssl req -x509 -config "$tmp/req.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -nodes -sha256 -days 825 -keyout "$tmp/server.key" -out "$tmp/server.crt" 2>"$tmp/openssl.log" || {
    cat "$tmp/openssl.log" >&2
    echo "make-cert: openssl req failed" >&2
    exit 1
}
chmod 0600 "$tmp/server.key"
chmod 0644 "$tmp/server.crt"
mv -f "$tmp/server.key" "$key"
mv -f "$tmp/server.crt" "$crt"

echo "make-cert: wrote $crt (self-signed ECDSA P-256, 825 days, CN=mtcp-httpd," \
     "subjectAltName IP:198.18.0.1, DNS:localhost, IP:127.0.0.1)"
echo "make-cert: wrote $key (mode 0600)"
echo "make-cert: $(openssl x509 -in "$crt" -noout -fingerprint -sha256)"
