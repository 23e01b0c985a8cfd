#!/usr/bin/env bash
# Make the TLS material of a dreg/Dask cluster with openssl:
#
#   DIR/ca.crt   the cluster's own certificate authority (give to every member)
#   DIR/ca.key   its private key: keep it OFFLINE; it is never mounted anywhere
#   DIR/tls.crt  one certificate for the cluster (scheduler, workers and the dreg job),
#   DIR/tls.key  signed by that CA, for serverAuth and clientAuth (Dask uses mutual TLS)
#
# Usage:
#   deploy/make-certs.sh [DIR]            # DIR defaults to deploy/certs
#
# Environment:
#   EXTRA_SANS  more subjectAltNames, comma separated, e.g.
#               "DNS:*.dreg.svc,DNS:*.dreg.svc.cluster.local"   (Kubernetes namespace dreg)
#   DAYS        validity of tls.crt in days (default 365; the CA gets 10 years)
#   KEY_MODE    file mode of tls.key (default 0600).  Compose bind-mounts DIR into
#               containers that run as uid 10001: on a single-user development
#               machine use KEY_MODE=0644 so that uid can read it (see deploy/README.md).
#   FORCE=1     overwrite existing files
#
# Dask checks that a peer's certificate chains to the CA given by --tls-ca-file
# (both directions), not that its name matches the host: holding a certificate
# signed by this CA is what admits a process to the cluster.  The SANs below
# (DNS:scheduler, DNS:localhost, IP:127.0.0.1, plus EXTRA_SANS) keep the
# certificate valid for tools that do check names.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-"$here/certs"}
days=${DAYS:-365}
key_mode=${KEY_MODE:-0600}
sans="DNS:scheduler,DNS:localhost,IP:127.0.0.1${EXTRA_SANS:+,$EXTRA_SANS}"

command -v openssl >/dev/null || { echo "make-certs.sh: openssl is required" >&2; exit 1; }
mkdir -p "$dir"
chmod 0700 "$dir"
for f in ca.crt ca.key tls.crt tls.key; do
    if [ -e "$dir/$f" ] && [ "${FORCE:-0}" != "1" ]; then
        echo "make-certs.sh: $dir/$f exists; set FORCE=1 to replace the cluster's certificates" >&2
        exit 1
    fi
done

umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. the certificate authority
openssl req -x509 -new -nodes -newkey rsa:3072 -sha256 -days 3650 \
    -subj "/CN=dreg-dask-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null

# 2. the cluster's key and certificate signing request
openssl req -new -nodes -newkey rsa:3072 -sha256 \
    -subj "/CN=dreg-dask-cluster" \
    -keyout "$dir/tls.key" -out "$tmp/tls.csr" 2>/dev/null

# 3. the cluster certificate, signed by the CA
cat >"$tmp/ext.cnf" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$sans
EOF
openssl x509 -req -sha256 -days "$days" \
    -in "$tmp/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -CAserial "$tmp/ca.srl" -extfile "$tmp/ext.cnf" \
    -out "$dir/tls.crt" 2>/dev/null

chmod 0644 "$dir/ca.crt" "$dir/tls.crt"
chmod 0600 "$dir/ca.key"
chmod "$key_mode" "$dir/tls.key"
# the folder must be traversable for the container user when the key is meant to be read
if [ "$key_mode" != "0600" ] && [ "$key_mode" != "600" ]; then chmod 0755 "$dir"; fi

openssl verify -CAfile "$dir/ca.crt" "$dir/tls.crt" >/dev/null
echo "make-certs.sh: wrote $dir/{ca.crt,ca.key,tls.crt,tls.key} (SAN $sans, $days days)"
echo "make-certs.sh: keep $dir/ca.key offline; mount only ca.crt, tls.crt and tls.key"
