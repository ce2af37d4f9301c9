#!/usr/bin/env bash
# A real S3 server for the sync tests and benchmarks: Ceph's radosgw on a single in-memory
# node (one ceph-mon, one memstore ceph-osd), listening on 127.0.0.1 only: plain HTTP on PORT,
# and TLS on PORT+2 with a certificate for "localhost" signed by a certificate authority made
# at start (DIR/tls/ca.pem; DIR/tls/other-ca.pem is a second one that signed nothing, for the
# tests of a wrong CA).
#
#   scripts/s3-server.sh start DIR [PORT]   # prints KEY=VALUE lines (endpoint, keys, bucket)
#   scripts/s3-server.sh stop DIR
#   scripts/s3-server.sh restart-rgw DIR    # radosgw only (the data stays in the osd)
#   scripts/s3-server.sh stop-rgw DIR
#
# Everything lives in DIR (config, keyrings, logs, pids); nothing is written to /etc/ceph.
# Installs the Debian packages when they are missing (root, apt).
set -euo pipefail

cmd=${1:?usage: s3-server.sh start|stop|restart-rgw|stop-rgw DIR [PORT]}
dir=${2:?usage: s3-server.sh $cmd DIR [PORT]}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/ceph.conf"

ACCESS_KEY=chairsidetest
SECRET_KEY=chairside-test-secret-0123456789
BUCKET=chairside-test

install_packages() {
    if ! command -v radosgw >/dev/null || ! command -v ceph-osd >/dev/null || ! command -v ceph-mon >/dev/null \
        || ! command -v radosgw-admin >/dev/null || ! command -v ceph >/dev/null || ! command -v openssl >/dev/null; then
        echo "s3-server: installing radosgw, ceph-mon, ceph-osd, openssl (Debian packages)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq radosgw ceph-mon ceph-osd ceph-common openssl >/dev/null
    fi
}

ceph_() { timeout 30 ceph -c "$conf" --name client.admin "$@"; }

# Waits (bounded) until "$@" succeeds.
wait_for() {
    local what=$1 tries=$2
    shift 2
    for _ in $(seq "$tries"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    echo "s3-server: $what did not come up; logs in $dir" >&2
    return 1
}

frontends() {
    local port=$1
    echo "beast endpoint=127.0.0.1:$port ssl_endpoint=127.0.0.1:$((port + 2)) ssl_certificate=$dir/tls/server.pem ssl_private_key=$dir/tls/server.key"
}

start_rgw() {
    local port
    port=$(cat "$dir/port")
    radosgw -c "$conf" -n client.rgw.a --pid-file "$dir/rgw.pid" --log-file "$dir/rgw.log" \
        --rgw-frontends "$(frontends "$port")" >/dev/null 2>&1
    wait_for radosgw 120 curl -sf -o /dev/null "http://127.0.0.1:$port/"
    wait_for "radosgw (TLS)" 60 curl -sf -o /dev/null --cacert "$dir/tls/ca.pem" "https://localhost:$((port + 2))/"
}

# A certificate authority of this server's own, its certificate for localhost (and nothing
# else, so https://127.0.0.1 is a wrong host name), and a second authority that signed nothing.
make_tls() {
    local t="$dir/tls"
    mkdir -p "$t"
    for ca in ca other-ca; do
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Chairside test $ca" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout "$t/$ca.key" -out "$t/$ca.pem" 2>/dev/null
    done
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$t/server.ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -days 30 \
        -extfile "$t/server.ext" -out "$t/server.pem" 2>/dev/null
}

stop_pidfile() {
    local f=$1
    if [ -f "$f" ]; then
        local pid
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$f"
    fi
}

case $cmd in
start)
    install_packages
    port=${3:-7480}
    echo "$port" >"$dir/port"
    mon_port=$((port + 1))
    make_tls
    fsid=$(cat /proc/sys/kernel/random/uuid)
    cat >"$conf" <<EOF
[global]
fsid = $fsid
mon initial members = a
mon host = v2:127.0.0.1:$mon_port
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
# A test server: do not refuse to start on a nearly full build disk.
mon data avail crit = 1
mon data avail warn = 2
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
run dir = $dir/run
log file = $dir/\$name.log
admin socket = $dir/run/\$name.asok
mon data = $dir/mon-\$id
osd data = $dir/osd-\$id
osd objectstore = memstore
# In memory: 4 GB unless the caller needs more (bench-sync uploads 6 × 800 MB).
memstore device bytes = ${S3_MEMSTORE_BYTES:-4294967296}
osd max object size = 134217728
rgw data = $dir/rgw
rgw lc debug interval = 10
rgw dns name = localhost
mgr initial modules =

[client.rgw.a]
rgw frontends = $(frontends "$port")
EOF
    mkdir -p "$dir/run" "$dir/mon-a" "$dir/osd-0" "$dir/rgw"
    ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool "$dir/keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$dir/keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
    monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$dir/monmap" >/dev/null
    ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >/dev/null 2>&1
    ceph-mon -c "$conf" -i a --pid-file "$dir/mon.pid"
    wait_for ceph-mon 60 ceph_ -s
    # client.rgw.a is in the mon keyring at mkfs; register it explicitly in case.
    ceph_ auth import -i "$dir/keyring" >/dev/null 2>&1 || true
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    osd_id=$(ceph_ osd new "$osd_uuid")
    ceph-authtool "$dir/keyring" --gen-key -n "osd.$osd_id" --cap mon 'allow profile osd' --cap osd 'allow *' \
        --cap mgr 'allow profile osd' >/dev/null
    ceph_ auth import -i "$dir/keyring" >/dev/null
    ceph-osd -c "$conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
    ceph-osd -c "$conf" -i "$osd_id" --pid-file "$dir/osd.pid"
    wait_for ceph-osd 120 sh -c "timeout 10 ceph -c '$conf' --name client.admin osd stat | grep -q '1 up'"
    start_rgw
    timeout 60 radosgw-admin -c "$conf" --name client.admin user create --uid chairside --display-name Chairside \
        --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" >/dev/null
    # The storage classes a lifecycle rule names (radosgw accepts them once placed).
    for class in STANDARD_IA GLACIER DEEP_ARCHIVE; do
        timeout 60 radosgw-admin -c "$conf" --name client.admin zonegroup placement add \
            --rgw-zonegroup default --placement-id default-placement --storage-class "$class" >/dev/null
        timeout 60 radosgw-admin -c "$conf" --name client.admin zone placement add --rgw-zone default \
            --placement-id default-placement --storage-class "$class" \
            --data-pool default.rgw.buckets.data >/dev/null
    done
    stop_pidfile "$dir/rgw.pid"
    start_rgw
    # The test bucket (a signed PUT; python3 is on every Debian).
    python3 "$(dirname "$0")/s3-mkbucket.py" "http://127.0.0.1:$port" "$ACCESS_KEY" "$SECRET_KEY" "$BUCKET"
    cat <<EOF | tee "$dir/env"
S3_ENDPOINT=http://127.0.0.1:$port
S3_ACCESS_KEY=$ACCESS_KEY
S3_SECRET_KEY=$SECRET_KEY
S3_BUCKET=$BUCKET
S3_REGION=default
S3_TLS_ENDPOINT=https://localhost:$((port + 2))
S3_CA_CERT=$dir/tls/ca.pem
S3_OTHER_CA_CERT=$dir/tls/other-ca.pem
EOF
    ;;
stop)
    stop_pidfile "$dir/rgw.pid"
    stop_pidfile "$dir/osd.pid"
    stop_pidfile "$dir/mon.pid"
    ;;
restart-rgw)
    stop_pidfile "$dir/rgw.pid"
    start_rgw
    ;;
stop-rgw)
    stop_pidfile "$dir/rgw.pid"
    ;;
*)
    echo "usage: s3-server.sh start|stop|restart-rgw|stop-rgw DIR [PORT]" >&2
    exit 2
    ;;
esac
