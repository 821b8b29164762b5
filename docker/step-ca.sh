#!/bin/sh
# The lab's CA as smallstep step-ca (the `step-ca` target of Dockerfile, the
# binary built from Debian's sources by scripts/build-step-ca.sh), with an
# ACME provisioner "acme": https://<name>:<port>/acme/acme/directory.
# Environment:
#   GVOS_CA_LISTEN  listen address                        [127.0.0.1:9000]
#   GVOS_CA_NAMES   the TLS certificate's names: the CA host's name(s) and
#                   address(es), comma-separated          [localhost,127.0.0.1]
#   GVOS_CA_DNS     resolver for the boxes' names (http-01), ip:port; empty:
#                   the container's (/etc/hosts, the host's DNS)
# The PKI (a root and an intermediate, made with openssl at the first start,
# keys 0600) and the database stay in /var/lib/gvos-ca (the volume); the
# names are written into ca.json at every start, so a change takes effect
# on restart. ca-root.pem (the root, 0644) is the file other machines need.
set -eu
dir=/var/lib/gvos-ca
listen=${GVOS_CA_LISTEN:-127.0.0.1:9000}
# The listen address is always named: the health check reaches the CA there.
names="${GVOS_CA_NAMES:-localhost,127.0.0.1},${listen%:*}"
umask 077
if [ ! -s "$dir/intermediate_ca.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/root_ca_key" -out "$dir/root_ca.crt" -days 3650 -subj "/CN=gvos-sim lab CA Root" \
    -addext basicConstraints=critical,CA:TRUE,pathlen:1 -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/intermediate_ca_key" -out "$dir/intermediate.csr" -subj "/CN=gvos-sim lab CA Intermediate" 2>/dev/null
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$dir/intermediate.ext"
  openssl x509 -req -in "$dir/intermediate.csr" -CA "$dir/root_ca.crt" -CAkey "$dir/root_ca_key" \
    -CAcreateserial -days 3650 -extfile "$dir/intermediate.ext" -out "$dir/intermediate_ca.crt" 2>/dev/null
fi
dns_names=$(echo "$names" | tr ',' '\n' | sed '/^$/d; s/.*/"&"/' | paste -sd, -)
cat >"$dir/ca.json" <<JSON
{
  "root": "$dir/root_ca.crt",
  "crt": "$dir/intermediate_ca.crt",
  "key": "$dir/intermediate_ca_key",
  "address": "$listen",
  "dnsNames": [$dns_names],
  "logger": {"format": "text"},
  "db": {"type": "badgerv2", "dataSource": "$dir/db"},
  "authority": {"provisioners": [{"type": "ACME", "name": "acme"}]},
  "tls": {
    "cipherSuites": ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
    "minVersion": 1.2, "maxVersion": 1.3, "renegotiation": false
  }
}
JSON
cp "$dir/root_ca.crt" "$dir/ca-root.pem"
chmod 0644 "$dir/ca-root.pem"
echo "step-ca: TLS names $names; directory https://$listen/acme/acme/directory; CA root $dir/ca-root.pem"
set -- "$dir/ca.json"
[ -z "${GVOS_CA_DNS:-}" ] || set -- "$@" --resolver "$GVOS_CA_DNS"
exec step-ca "$@"
