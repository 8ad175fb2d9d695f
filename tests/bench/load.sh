#!/usr/bin/env bash
# Load benchmark of `warden serve` (release build) on this machine, load tool
# included: wrk against POST /v1/check and h2load against Envoy ext_authz
# (gRPC), both with a cached bearer token on an allowed route, at concurrency 1
# and 16. Prints requests/s and p50/p99 latency. Not part of the test suite:
# run it by hand and copy the figures into docs/PERFORMANCE.md.
#   tests/bench/load.sh [SECONDS]        (default 10 s per run)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}

for tool in wrk h2load; do
  command -v "$tool" >/dev/null || {
    echo "installing wrk and h2load (Debian: wrk, nghttp2-client)"
    apt-get install -y -qq --no-install-recommends wrk nghttp2-client >/dev/null
    break
  }
done

cargo build --release --locked -p warden-cli --bin warden -p warden-e2e --example load_setup
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/examples/load_setup "$work" >/dev/null
target/release/warden serve --policies "$work/policy" --http 127.0.0.1:18181 --grpc 127.0.0.1:19191 2>"$work/warden.log" &
pid=$!
for _ in $(seq 100); do curl -sf localhost:18181/readyz >/dev/null && break; sleep 0.1; done
# The check is allowed (and warms the token cache).
curl -sf -d @"$work/check.json" localhost:18181/v1/check | grep -q '"allow":true' || {
  echo "the benchmark request is not allowed"; exit 1; }

echo "== HTTP POST /v1/check (wrk) =="
for c in 1 16; do
  threads=$(( c < 2 ? 1 : 2 ))
  echo "-- concurrency $c"
  wrk -t"$threads" -c"$c" -d"${secs}s" --latency -s "$work/check.lua" http://127.0.0.1:18181/v1/check |
    grep -E "Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors"
done

echo "== gRPC envoy.service.auth.v3.Authorization/Check (h2load) =="
for c in 1 16; do
  echo "-- concurrency $c (streams per connection 1)"
  rm -f "$work/h2.log"
  h2load -D "$secs" -c "$c" -m 1 -t $(( c < 2 ? 1 : 2 )) \
    -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/authz.bin" \
    --log-file="$work/h2.log" http://127.0.0.1:19191/envoy.service.auth.v3.Authorization/Check |
    grep -E "^finished in|requests: " || true
  # Per-request log: start (µs), status, duration (µs).
  sort -n -k3 "$work/h2.log" | awk '{d[NR]=$3; if ($2 != 200) bad++} END {
    printf "requests %d, non-200 %d, p50 %d us, p99 %d us\n", NR, bad+0, d[int(NR*0.5)], d[int(NR*0.99)] }'
done

echo "== decisions counted by the server (every one should be an allow) =="
curl -s localhost:18181/metrics | grep '^warden_decisions_total'
