#!/usr/bin/env bash
# pg_tls_fixture.sh - the throwaway PostgreSQL clusters of tests/test_tls.c.
#
#   tests/pg_tls_fixture.sh start|stop|env BUILD_DIR [TLS_PORT [PLAIN_PORT]]
#
# Everything lives in /tmp/txq-pgtls-<first 8 hex of md5(BUILD_DIR)>, as in
# tests/pg_fixture.sh; CMakeLists.txt computes the same directory and ports.
# TLS_PORT defaults to 21000 + 2 * ((hex digits 9-12 of that md5) mod 1000),
# PLAIN_PORT to TLS_PORT + 1: below Linux's ephemeral range, so that no
# outgoing connection holds them.
#
#   start  wipe any old directory there; make a CA and certificates with
#          openssl; initdb; start two clusters on 127.0.0.1 only:
#            TLS_PORT   ssl = on, pg_hba.conf has hostssl lines only:
#                       postgres      cert (client certificate CN=postgres)
#                       txq_tls_pw    scram-sha-256
#                       txq_tls_cert  cert clientcert=verify-full
#                       no unix socket at all
#            PLAIN_PORT ssl = off: host txq_tls_pw scram-sha-256 (and the
#                       superuser on a unix socket in the directory, for
#                       this script's set-up only)
#          and create the login roles txq_tls_pw (a random password) and
#          txq_tls_cert on both, with CREATE on the database (what txq
#          migrate needs of a role that is not superuser)
#   stop   stop both (fast) and remove the directory
#   env    print `export ...=` lines: the superuser's verify-full DSN
#          (TXQ_TEST_DSN) and TXQ_TLS_DIR/TXQ_TLS_PORT/TXQ_TLS_PLAIN_PORT
#
# The directory, 0700 and owned by the server's user:
#   ca/      ca.key ca.crt (the CA); other-ca.key other-ca.crt (a CA that
#            signed nothing the server shows)
#   server/  ca.crt; server.crt/.key (CN and DNS name localhost, IP
#            127.0.0.1); wrong.crt/.key (CN and DNS name wrong.example)
#   client/  ca.crt other-ca.crt; postgres.crt/.key; txq_tls_cert.crt/.key;
#            txq_tls_cert.enc.key (the same key encrypted with the pass
#            phrase in sslpassword); password (txq_tls_pw's)
#   tls/ plain/  the clusters' data; sock/ the plain one's socket
# Keys are 0600 and owned by who uses them: the server's user (postgres
# when run as root) for server/, the caller for client/ (libpq refuses a
# client key that group or others may read).
# Any failure exits non-zero with a message: a test is never skipped.
set -euo pipefail

die() {
    echo "pg_tls_fixture: error: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start|stop|env BUILD_DIR [TLS_PORT [PLAIN_PORT]]" >&2
    exit 2
}

[[ $# -ge 2 && $# -le 4 ]] || usage
cmd=$1
build_dir=$2
[[ -n $build_dir ]] || usage

hash=$(printf '%s' "$build_dir" | md5sum | cut -c1-32)
dir=/tmp/txq-pgtls-${hash:0:8}
port=${3:-$((21000 + 2 * (16#${hash:8:4} % 1000)))}
plain_port=${4:-$((port + 1))}
[[ $port =~ ^[0-9]+$ ]] || die "TLS_PORT must be a number, got '$port'"
[[ $plain_port =~ ^[0-9]+$ ]] || die "PLAIN_PORT must be a number, got '$plain_port'"

superuser_dsn() {
    printf '%s' "host=localhost port=$port user=postgres dbname=postgres" \
        " sslmode=verify-full sslrootcert=$dir/client/ca.crt" \
        " sslcert=$dir/client/postgres.crt sslkey=$dir/client/postgres.key"
}

print_env() {
    cat <<EOF
export TXQ_TEST_DSN='$(superuser_dsn)'
export TXQ_TLS_DIR=$dir
export TXQ_TLS_PORT=$port
export TXQ_TLS_PLAIN_PORT=$plain_port
EOF
}

case $cmd in
env)
    print_env
    exit 0
    ;;
start | stop) ;;
*) usage ;;
esac

# find_bindir, require_server, as_owner, initdb_locale
# shellcheck source=tests/pg_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/pg_common.sh"

require_server
command -v openssl >/dev/null 2>&1 ||
    die "openssl not found (install the openssl package)"

# The postgres user may not be able to enter the caller's directory.
cd /

stop_one() {
    local data=$1 mode=$2
    if [[ -f $data/PG_VERSION ]] &&
        as_owner "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; then
        as_owner "$bindir/pg_ctl" stop -D "$data" -m "$mode" -w -t 60 \
            >/dev/null || die "pg_ctl stop failed for $data"
    fi
}

stop_all() {
    local mode=$1
    stop_one "$dir/tls" "$mode"
    stop_one "$dir/plain" "$mode"
    if [[ -e $dir || -L $dir ]]; then
        rm -rf "$dir" || die "cannot remove $dir"
    fi
}

# make_key NAME: an EC P-256 key, 0600.
make_key() {
    (umask 077 && openssl genpkey -algorithm EC \
        -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null) ||
        die "openssl genpkey $1 failed"
}

# sign CA NAME CN EXTENSIONS SERIAL: NAME.crt for NAME.key, signed by
# CA.crt/CA.key with the EXTENSIONS section of ca/openssl.cnf.
sign() {
    local ca=$1 name=$2 cn=$3 ext=$4 serial=$5
    openssl req -new -key "$name.key" -subj "/CN=$cn" \
        -config "$dir/ca/openssl.cnf" -out "$name.csr" 2>/dev/null &&
        openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" \
            -set_serial "$serial" -days 2 -extfile "$dir/ca/openssl.cnf" \
            -extensions "$ext" -out "$name.crt" 2>/dev/null ||
        die "openssl: cannot make the certificate $name.crt (CN=$cn)"
    rm -f "$name.csr"
}

make_certs() {
    local ca=$dir/ca server=$dir/server client=$dir/client
    mkdir -m 0700 "$ca" "$server" "$client" || die "cannot create in $dir"
    cat >"$ca/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[wrong]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
    local c
    for c in ca other-ca; do
        make_key "$ca/$c.key"
        openssl req -new -x509 -key "$ca/$c.key" -subj "/CN=txq test $c" \
            -days 2 -config "$ca/openssl.cnf" -extensions v3_ca \
            -out "$ca/$c.crt" 2>/dev/null ||
            die "openssl: cannot make the certificate $c.crt"
    done

    make_key "$server/server.key"
    sign "$ca/ca" "$server/server" localhost server 1
    make_key "$server/wrong.key"
    sign "$ca/ca" "$server/wrong" wrong.example wrong 2
    cp "$ca/ca.crt" "$server/ca.crt"

    make_key "$client/postgres.key"
    sign "$ca/ca" "$client/postgres" postgres client 3
    make_key "$client/txq_tls_cert.key"
    sign "$ca/ca" "$client/txq_tls_cert" txq_tls_cert client 4
    cp "$ca/ca.crt" "$ca/other-ca.crt" "$client/"

    (umask 077 && openssl rand -hex 16 >"$client/password" &&
        openssl rand -hex 16 >"$client/sslpassword") ||
        die "openssl rand failed"
    (umask 077 && openssl pkey -in "$client/txq_tls_cert.key" -aes-256-cbc \
        -passout "file:$client/sslpassword" \
        -out "$client/txq_tls_cert.enc.key" 2>/dev/null) ||
        die "openssl: cannot encrypt txq_tls_cert.key"

    if [[ $(id -u) -eq 0 ]]; then
        chown -R postgres:postgres "$server" ||
            die "cannot chown $server to postgres"
    fi
}

# start_cluster DATA LOG
start_cluster() {
    if ! as_owner "$bindir/pg_ctl" start -D "$1" -l "$2" -w -t 60 \
        >/dev/null; then
        tail -n 50 "$2" >&2 || true
        die "PostgreSQL did not start (data $1, log $2)"
    fi
}

case $cmd in
stop)
    stop_all fast
    echo "pg_tls_fixture: stopped and removed $dir"
    ;;
start)
    stop_all immediate
    mkdir -m 0700 "$dir" || die "cannot create $dir"
    make_certs
    mkdir -m 0700 "$dir/sock" || die "cannot create $dir/sock"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "$dir" "$dir/sock" ||
            die "cannot chown $dir to postgres"
    fi

    if ! as_owner "$bindir/initdb" -D "$dir/tls" --auth=reject -U postgres \
        --encoding=UTF8 --locale="$(initdb_locale)" >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2 || true
        die "initdb failed in $dir/tls"
    fi
    # The plaintext cluster: a copy, made before either has run.
    as_owner cp -a "$dir/tls" "$dir/plain" || die "cannot copy $dir/tls"

    common="fsync = off
max_connections = 50
shared_buffers = 16MB
log_min_messages = warning
listen_addresses = '127.0.0.1'
password_encryption = 'scram-sha-256'"
    cat >>"$dir/tls/postgresql.conf" <<EOF

# txq TLS test fixture (tests/pg_tls_fixture.sh)
$common
port = $port
unix_socket_directories = ''
ssl = on
ssl_cert_file = '$dir/server/server.crt'
ssl_key_file = '$dir/server/server.key'
ssl_ca_file = '$dir/server/ca.crt'
EOF
    cat >"$dir/tls/pg_hba.conf" <<EOF
# txq TLS test fixture: TLS only, and a client certificate or a password.
# TYPE  DATABASE  USER          ADDRESS       METHOD
hostssl all       postgres      127.0.0.1/32  cert
hostssl all       txq_tls_pw    127.0.0.1/32  scram-sha-256
hostssl all       txq_tls_cert  127.0.0.1/32  cert clientcert=verify-full
EOF
    cat >>"$dir/plain/postgresql.conf" <<EOF

# txq TLS test fixture, the plaintext server (tests/pg_tls_fixture.sh)
$common
port = $plain_port
unix_socket_directories = '$dir/sock'
ssl = off
EOF
    cat >"$dir/plain/pg_hba.conf" <<EOF
# txq TLS test fixture: a server without TLS.
# TYPE  DATABASE  USER          ADDRESS       METHOD
local   all       postgres                    trust
host    all       txq_tls_pw    127.0.0.1/32  scram-sha-256
EOF
    start_cluster "$dir/tls" "$dir/tls.log"
    start_cluster "$dir/plain" "$dir/plain.log"

    pw=$(cat "$dir/client/password")
    roles="create role txq_tls_pw login password '$pw';
create role txq_tls_cert login;
grant create on database postgres to txq_tls_pw, txq_tls_cert;"
    if ! out=$("$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 \
        "$(superuser_dsn)" -c "$roles" \
        -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' \
        2>&1) || [[ $out != t ]]; then
        echo "$out" >&2
        tail -n 50 "$dir/tls.log" >&2 || true
        die "the TLS server does not answer the superuser's verify-full" \
            "connection on localhost port $port"
    fi
    if ! out=$("$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h "$dir/sock" -p "$plain_port" -U postgres -d postgres \
        -c "$roles" 2>&1); then
        echo "$out" >&2
        tail -n 50 "$dir/plain.log" >&2 || true
        die "the plaintext server does not answer on $dir/sock port $plain_port"
    fi
    echo "pg_tls_fixture: PostgreSQL" \
        "$("$bindir/pg_ctl" --version | awk '{print $3}') up in $dir:" \
        "TLS on 127.0.0.1:$port, plaintext on 127.0.0.1:$plain_port"
    ;;
esac
