# Shared by the HTTP benches (scripts/bench/mirror.sh, scripts/bench/serve.sh); sourced, not run.

# bench_binary TOOL...: checks the tools, then prints the swtorrent binary to run (BENCH_BIN, or a release build of
# this tree).
bench_binary() {
    scripts/install-deps.sh --bench >&2 || true
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$0: $tool is missing: run scripts/install-deps.sh --bench" >&2; exit 1; }
    done
    if [[ -n ${BENCH_BIN:-} ]]; then
        echo "$BENCH_BIN"
    else
        swift build -c release --product swtorrent >&2
        echo "$(swift build -c release --show-bin-path)/swtorrent"
    fi
}

freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# write_payload DIR MIB LABEL BIN: MIB MiB of pseudo-random bytes (AES-CTR keyed by LABEL) in DIR/www/payload.bin,
# its torrent (1 MiB pieces) in DIR/t.torrent made by BIN, the file read once into the page cache, and the tree
# readable by nginx's unprivileged workers (they run as another user when nginx is started as root).
write_payload() {
    local dir=$1 mib=$2 label=$3 bin=$4
    echo "$0: writing $mib MiB of random data under $dir" >&2
    mkdir -p "$dir/www"
    (openssl enc -aes-128-ctr -nosalt -pass "pass:$label" -in /dev/zero 2>/dev/null || true) |
        head -c $((mib << 20)) >"$dir/www/payload.bin"
    "$bin" make "$dir/www/payload.bin" --piece-length 1M --no-date -o "$dir/t.torrent" >/dev/null
    cat "$dir/www/payload.bin" >/dev/null
    chmod -R go+rX "$dir"
}

# start_nginx DIR ROOT PORT...: nginx in the foreground (its master's pid, in nginx_pid, is the caller's to stop)
# with one server on 127.0.0.1:PORT over ROOT for each PORT; its config and logs under DIR/nginx.
start_nginx() {
    local dir=$1 root=$2 servers="" port
    shift 2
    for port in "$@"; do servers+="    server { listen 127.0.0.1:$port; root $root; }"$'\n'; done
    mkdir -p "$dir/nginx"
    cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path $dir/nginx/body;
    proxy_temp_path $dir/nginx/proxy;
    fastcgi_temp_path $dir/nginx/fastcgi;
    uwsgi_temp_path $dir/nginx/uwsgi;
    scgi_temp_path $dir/nginx/scgi;
    default_type application/octet-stream;
$servers}
EOF
    nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -g 'daemon off;' 2>"$dir/nginx/stderr" &
    nginx_pid=$!
}
