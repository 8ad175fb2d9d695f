#!/usr/bin/env bash
# Load benchmark of `warden serve` (release build) beside its floor, on this
# machine, load tool included. The floor is a trivial axum server
# (tests/examples/floor.rs: POST /v1/check parses the body as JSON and answers a
# fixed JSON object, HTTP/1.1 and h2c on one port, same runtime as Warden).
# For each concurrency (1, 16), in the same run:
#   - Warden HTTP POST /v1/check (wrk) and the floor with the same wrk script;
#   - Warden Envoy ext_authz over h2c (h2load, gRPC) and the floor over h2c
#     (h2load POST of the same JSON body as the HTTP check).
# Every request carries the same cached bearer token on an allowed route.
# Three rounds (ROUNDS), Warden and floor interleaved (the order flips each round);
# prints each run, then medians and the ratios the performance issue asks for:
# HTTP c16 requests/s >= 0.8x the floor, HTTP c1 p50 <= 1.2x the floor,
# ext_authz c16 requests/s >= 0.8x the floor over h2c.
# At c1 the latency is bimodal on the 2-core VM (the floor's p50 is about 45 or
# about 85 us from one run to the next, as the scheduler places client and
# server threads): read the per-round ratios beside the medians, or raise ROUNDS.
# Not part of the test suite: run it by hand and copy the figures into
# docs/PERFORMANCE.md. Honours CARGO_TARGET_DIR.
#   [ROUNDS=3] tests/bench/load.sh [SECONDS]        (default 5 s per run; 8 runs a round)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}
rounds=${ROUNDS:-3}
target=${CARGO_TARGET_DIR:-target}
warden_http=127.0.0.1:18181 warden_grpc=127.0.0.1:19191 floor=127.0.0.1:18282

for tool in wrk h2load; do
  command -v "$tool" >/dev/null || {
    echo "installing wrk and h2load (Debian: wrk, nghttp2-client)"
    apt-get install -y -qq --no-install-recommends wrk nghttp2-client >/dev/null
    break
  }
done

cargo build --release --locked -p warden-cli --bin warden -p warden-e2e --example load_setup --example floor
work=$(mktemp -d)
pid='' fpid=''
trap 'kill $pid $fpid 2>/dev/null || true; rm -rf "$work"' EXIT
"$target/release/examples/load_setup" "$work" >/dev/null
"$target/release/warden" serve --policies "$work/policy" --http "$warden_http" --grpc "$warden_grpc" 2>"$work/warden.log" &
pid=$!
"$target/release/examples/floor" "$floor" 2>"$work/floor.log" &
fpid=$!
for _ in $(seq 100); do curl -sf "$warden_http/readyz" >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do curl -s -o /dev/null -d '{}' "$floor/v1/check" && break; sleep 0.1; done
# The check is allowed (and warms the token cache); the floor answers 200.
curl -sf -H 'content-type: application/json' -d @"$work/check.json" "$warden_http/v1/check" | grep -q '"allow":true' || {
  echo "the benchmark request is not allowed"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d @"$work/check.json" "$floor/v1/check")
[ "$code" = 200 ] || { echo "the floor answers $code, not 200"; exit 1; }

results=$work/results
# One wrk run; appends "door who c rps p50_us p99_us bad" to $results.
run_wrk() { # who c url
  local who=$1 c=$2 url=$3 out
  out=$(wrk -t$(( c < 2 ? 1 : 2 )) -c"$c" -d"${secs}s" --latency -s "$work/check.lua" "$url")
  echo "$out" | awk -v who="$who" -v c="$c" '
    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1000000; return v }
    /Requests\/sec/ { rps = $2 }
    /^ +50%/ { p50 = us($2) }
    /^ +99%/ { p99 = us($2) }
    /Non-2xx/ { bad += $NF }
    /Socket errors/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) bad += $i + 0 }
    END { printf "http %s %d %.0f %.0f %.0f %d\n", who, c, rps, p50, p99, bad }' | tee -a "$results"
}
# One h2load run; appends the same fields. Extra arguments: h2load's headers.
run_h2() { # door who c url body [h2load options...]
  local door=$1 who=$2 c=$3 url=$4 body=$5 rps
  shift 5
  rm -f "$work/h2.log"
  rps=$(h2load -D "$secs" -c "$c" -m 1 -t $(( c < 2 ? 1 : 2 )) "$@" -d "$body" --log-file="$work/h2.log" "$url" |
    awk '/^finished in/ { print $4 + 0 }' || true)
  # Per-request log: start (µs), status, duration (µs).
  sort -n -k3 "$work/h2.log" | awk -v door="$door" -v who="$who" -v c="$c" -v rps="${rps:-0}" '
    { d[NR] = $3; if ($2 != 200) bad++ }
    END { printf "%s %s %d %.0f %d %d %d\n", door, who, c, rps, d[int(NR*0.5)], d[int(NR*0.99)], bad+0 }' |
    tee -a "$results"
}
warden_runs() { # c
  run_wrk warden "$1" "http://$warden_http/v1/check"
  run_h2 grpc warden "$1" "http://$warden_grpc/envoy.service.auth.v3.Authorization/Check" "$work/authz.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers'
}
floor_runs() { # c
  run_wrk floor "$1" "http://$floor/v1/check"
  run_h2 h2c floor "$1" "http://$floor/v1/check" "$work/check.json" -H 'content-type: application/json'
}

echo "== runs of ${secs}s: door who concurrency requests/s p50_us p99_us errors (non-2xx, socket) =="
for round in $(seq "$rounds"); do
  for c in 1 16; do
    if (( round % 2 )); then warden_runs "$c"; floor_runs "$c"; else floor_runs "$c"; warden_runs "$c"; fi
  done
done

echo "== medians of $rounds rounds (Warden HTTP and its floor over HTTP/1.1 by wrk; Warden ext_authz and the floor over h2c by h2load) =="
awk '
  function median(s,   n, v, i, j, t) {
    n = split(s, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return v[int((n + 1) / 2)]
  }
  # Line: door who c rps p50 p99 errors; the i-th line of a key is round i.
  { k = $1 " " $2 " " $3; i = ++n[k]; v[k, i, 4] = $4; v[k, i, 5] = $5; v[k, i, 6] = $6; bad[k] += $7 }
  # Median over the rounds of field f of key k (ratio: of k against key o, round by round).
  function med(k, f,   i, s) { for (i = 1; i <= n[k]; i++) s = s " " v[k, i, f]; return median(s) }
  function ratio(k, o, f,   i, s) { for (i = 1; i <= n[k]; i++) s = s " " v[k, i, f] / v[o, i, f]; return median(s) }
  END {
    split("http warden|http floor|grpc warden|h2c floor", rows, "|")
    printf "%-22s %4s %12s %9s %9s %8s\n", "door", "c", "requests/s", "p50 us", "p99 us", "errors"
    for (c = 1; c <= 16; c += 15) for (r = 1; r <= 4; r++) {
      k = rows[r] " " c
      printf "%-22s %4d %12.0f %9.0f %9.0f %8d\n", rows[r], c, med(k, 4), med(k, 5), med(k, 6), bad[k]
    }
    print "== Warden / floor: ratio of the medians; in brackets, the median of the per-round ratios (each Warden run against the floor run beside it) =="
    printf "%-28s %4s %14s %14s %14s\n", "door", "c", "requests/s", "p50", "p99"
    for (c = 1; c <= 16; c += 15) for (d = 1; d <= 2; d++) {
      w = (d == 1 ? "http warden " : "grpc warden ") c; f = (d == 1 ? "http floor " : "h2c floor ") c
      printf "%-28s %4d", (d == 1 ? "HTTP /v1/check vs floor" : "ext_authz vs floor over h2c"), c
      for (x = 4; x <= 6; x++) printf "   %5.2f (%4.2f)", med(w, x) / med(f, x), ratio(w, f, x)
      printf "\n"
    }
    hc16 = med("http warden 16", 4) / med("http floor 16", 4)
    hc1 = med("http warden 1", 5) / med("http floor 1", 5)
    gc16 = med("grpc warden 16", 4) / med("h2c floor 16", 4)
    printf "target HTTP c16 requests/s >= 0.8x floor: %.2f %s\n", hc16, (hc16 >= 0.8 ? "met" : "NOT met")
    printf "target HTTP c1 p50 <= 1.2x floor: %.2f %s\n", hc1, (hc1 <= 1.2 ? "met" : "NOT met")
    printf "target ext_authz c16 requests/s >= 0.8x floor over h2c: %.2f %s\n", gc16, (gc16 >= 0.8 ? "met" : "NOT met")
  }' "$results"

echo "== decisions counted by the server (every one should be an allow) =="
curl -s "$warden_http/metrics" | grep '^warden_decisions_total'
