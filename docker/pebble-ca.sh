#!/bin/sh
# The lab's shared ACME CA in a container (the `ca` target of Dockerfile):
# Debian's Pebble with a TLS certificate for the CA host's names, so boxes
# on other machines verify it. Environment:
#   GVOS_CA_LISTEN        ACME directory address        [127.0.0.1:14000]
#   GVOS_CA_MGMT_LISTEN   Pebble's management API       [127.0.0.1:15000]
#   GVOS_CA_NAMES         the TLS certificate's names: the CA host's name(s)
#                         and address(es), comma-separated [localhost,127.0.0.1]
#   GVOS_CA_HTTP_PORT     port Pebble dials for http-01 [80]
#   GVOS_CA_TLS_PORT      port Pebble dials for tls-alpn-01 [443]
#   GVOS_CA_VALIDITY_HOURS lifetime of issued certificates [2160]
#   GVOS_CA_DNS           resolver for the boxes' names, ip:port; empty: the
#                         container's (/etc/hosts, extra_hosts, the host's DNS)
# Writes into /var/lib/gvos-ca (the volume): tls-root.pem (made once and kept,
# so copies on other machines stay valid), issuing-root.pem (Pebble makes a
# new one at every start) and ca-root.pem, both in one file: the file the
# joining machines mount as their CA root.
set -eu
dir=/var/lib/gvos-ca
listen=${GVOS_CA_LISTEN:-127.0.0.1:14000}
mgmt=${GVOS_CA_MGMT_LISTEN:-127.0.0.1:15000}
# The management address is always named: this script fetches the issuing root from it.
names="${GVOS_CA_NAMES:-localhost,127.0.0.1},${mgmt%:*}"
umask 077
rm -f "$dir/ca-root.pem" "$dir/issuing-root.pem"

if [ ! -s "$dir/tls-root.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/tls-root.key" -out "$dir/tls-root.pem" -days 3650 \
    -subj "/CN=gvos-sim lab CA TLS root" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
fi
# The listener certificate is made at every start, so a change of GVOS_CA_NAMES takes effect.
san=""
first=""
for n in $(echo "$names" | tr ',' ' '); do
  case "$n" in
    *[!0-9.]*) case "$n" in *:*) entry="IP:$n" ;; *) entry="DNS:$n" ;; esac ;;
    *) entry="IP:$n" ;;
  esac
  san="${san:+$san,}$entry"
  [ -n "$first" ] || first=$n
done
printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$san" >"$dir/listener.ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$dir/listener.key" -out "$dir/listener.csr" -subj "/CN=$first" 2>/dev/null
openssl x509 -req -in "$dir/listener.csr" -CA "$dir/tls-root.pem" -CAkey "$dir/tls-root.key" \
  -CAcreateserial -days 825 -extfile "$dir/listener.ext" -out "$dir/listener.pem" 2>/dev/null
echo "pebble-ca: TLS certificate for $san"

cat >"$dir/pebble.json" <<JSON
{"pebble": {
  "listenAddress": "$listen",
  "managementListenAddress": "$mgmt",
  "certificate": "$dir/listener.pem",
  "privateKey": "$dir/listener.key",
  "httpPort": ${GVOS_CA_HTTP_PORT:-80},
  "tlsPort": ${GVOS_CA_TLS_PORT:-443},
  "ocspResponderURL": "",
  "externalAccountBindingRequired": false,
  "certificateValidityPeriod": $((${GVOS_CA_VALIDITY_HOURS:-2160} * 3600))
}}
JSON

set -- -config "$dir/pebble.json" -strict=false
[ -z "${GVOS_CA_DNS:-}" ] || set -- "$@" -dnsserver "$GVOS_CA_DNS"
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 pebble "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT

# The issuing root exists once Pebble serves its management API.
tries=0
until node -e '
  const https = require("node:https");
  const fs = require("node:fs");
  https.get(process.argv[1], { ca: fs.readFileSync(process.argv[2]), servername: "" }, (res) => {
    let b = "";
    res.on("data", (d) => (b += d));
    res.on("end", () => {
      if (res.statusCode !== 200 || !b.includes("BEGIN CERTIFICATE")) process.exit(1);
      fs.writeFileSync(process.argv[3], b, { mode: 0o644 });
    });
  }).on("error", () => process.exit(1));
' "https://$mgmt/roots/0" "$dir/tls-root.pem" "$dir/issuing-root.pem" 2>/dev/null; do
  tries=$((tries + 1))
  if [ "$tries" -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "pebble-ca: Pebble did not serve https://$mgmt/roots/0" >&2
    kill -TERM "$pid" 2>/dev/null || true
    exit 1
  fi
  sleep 0.3
done
cat "$dir/tls-root.pem" "$dir/issuing-root.pem" >"$dir/ca-root.pem.tmp"
chmod 0644 "$dir/ca-root.pem.tmp"
mv "$dir/ca-root.pem.tmp" "$dir/ca-root.pem"
echo "pebble-ca: directory https://$listen/dir; CA root (TLS root + issuing root): $dir/ca-root.pem"
wait "$pid" || true
trap - TERM INT
wait "$pid" 2>/dev/null || true
