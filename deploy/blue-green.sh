#!/usr/bin/env bash
# Blue-green switch for aicr-server: bring up the idle colour, smoke-check it, send the
# traffic to it, check again through the live path, and go back if anything fails.
#
# One flow, two places the colours live:
#
#   blue-green.sh kubectl [--namespace NS] [--image IMAGE] [--timeout SECONDS]
#       deploy/kubernetes: Deployments aicr-blue and aicr-green, Service `aicr` selects
#       the live colour, `aicr-preview` the idle one, the HPA scales the live one. Deploy
#       = set the idle Deployment's image (if given) and scale it to the live replica
#       count; switch = swap the two Services' `colour` selectors and move the HPA.
#       Smoke checks go through `kubectl port-forward` to the Services.
#
#   blue-green.sh haproxy --socket PATH --map PATH --preview URL --live URL [--timeout SECONDS]
#       deploy/haproxy/blue-green.cfg: backends `blue` and `green`, the live frontend
#       routes by the map's `live` key, the preview frontend by its `preview` key. The
#       idle colour's servers are yours to start (a process manager, systemd); deploy =
#       wait for them to answer through the preview frontend; switch = `set map` on
#       HAProxy's runtime API (no reload, no dropped connection) and the map file
#       rewritten, so a reload keeps the colour.
#
# Smoke check (the same code for both): /health 200, /ready 200, and a recipe
# (SMOKE_QUERY, default service=eks&accelerator=h100&intent=training) 200 with a
# RecipeResult body, after waiting up to --timeout seconds for /ready.
#
# Exit status: 0 switched; 1 the idle colour failed its smoke check (nothing switched, the
# idle colour put back as it was); 2 the live path failed after the switch (switched back,
# the old colour re-checked); 3 usage or a missing tool; 4 a rollback failed (look now).
set -euo pipefail

SMOKE_QUERY=${SMOKE_QUERY:-service=eks&accelerator=h100&intent=training}
TIMEOUT=120

say() { printf 'blue-green: %s\n' "$*" >&2; }
die() { say "$2"; exit "$1"; }
need() { command -v "$1" >/dev/null || die 3 "needs \`$1\` on PATH"; }
other() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }

# smoke BASE_URL: waits for /ready, then checks /health, /ready and one recipe.
smoke() {
    local base=$1 deadline=$((SECONDS + TIMEOUT)) code body
    until code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/ready") && [ "$code" = 200 ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "smoke $base: /ready did not answer 200 within ${TIMEOUT}s (last: ${code:-no answer})"
            return 1
        fi
        sleep 1
    done
    for path in /health /ready; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base$path") || true
        [ "$code" = 200 ] || { say "smoke $base: $path answered ${code:-nothing}, not 200"; return 1; }
    done
    body=$(curl -s -w '\n%{http_code}' --max-time 10 "$base/v1/recipe?$SMOKE_QUERY") || true
    code=${body##*$'\n'}
    if [ "$code" != 200 ] || ! grep -q '"kind":"RecipeResult"' <<<"${body%$'\n'*}"; then
        say "smoke $base: /v1/recipe?$SMOKE_QUERY answered ${code:-nothing}: $(head -c 300 <<<"${body%$'\n'*}")"
        return 1
    fi
    say "smoke $base: /health, /ready and a recipe answered"
}

# ---- kubectl ------------------------------------------------------------------------

NAMESPACE=aicr
IMAGE=

k() { kubectl --namespace "$NAMESPACE" "$@"; }

k_live() { k get service aicr -o 'jsonpath={.spec.selector.colour}'; }

# k_smoke SERVICE: smoke-checks a Service through a port-forward on a free local port.
k_smoke() {
    local log pid port="" ok=0
    log=$(mktemp)
    # kubectl itself in the background (not through `k`), so $! is the process to stop.
    kubectl --namespace "$NAMESPACE" port-forward "service/$1" :80 >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -n1)
        [ -n "$port" ] && break
        sleep 0.2
    done
    if [ -z "$port" ]; then
        say "port-forward to service/$1 did not start: $(cat "$log")"
    elif smoke "http://127.0.0.1:$port"; then
        ok=1
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$log"
    [ "$ok" = 1 ]
}

# k_point LIVE: the Services and the HPA as they are when LIVE is the live colour.
k_point() {
    local live=$1 idle
    idle=$(other "$1")
    k patch service aicr --type merge -p "{\"spec\":{\"selector\":{\"colour\":\"$live\"}}}" >/dev/null &&
        k patch service aicr-preview --type merge -p "{\"spec\":{\"selector\":{\"colour\":\"$idle\"}}}" >/dev/null &&
        k patch hpa aicr --type merge -p "{\"spec\":{\"scaleTargetRef\":{\"name\":\"aicr-$live\"}}}" >/dev/null
}

run_kubectl() {
    need kubectl
    need curl
    local live idle replicas old_image old_replicas
    live=$(k_live) || die 3 "cannot read service/aicr in namespace $NAMESPACE"
    case $live in blue | green) ;; *) die 3 "service/aicr selects colour '$live', not blue or green" ;; esac
    idle=$(other "$live")
    replicas=$(k get deployment "aicr-$live" -o 'jsonpath={.spec.replicas}')
    old_image=$(k get deployment "aicr-$idle" -o 'jsonpath={.spec.template.spec.containers[0].image}')
    old_replicas=$(k get deployment "aicr-$idle" -o 'jsonpath={.spec.replicas}')
    say "live: $live ($replicas replicas); deploying $idle${IMAGE:+ with $IMAGE}"

    restore_idle() {
        if ! k set image "deployment/aicr-$idle" "server=$old_image" >/dev/null ||
            ! k scale "deployment/aicr-$idle" --replicas="$old_replicas" >/dev/null; then
            die 4 "could not put aicr-$idle back to $old_image x$old_replicas"
        fi
    }
    if [ -n "$IMAGE" ]; then
        k set image "deployment/aicr-$idle" "server=$IMAGE" >/dev/null
    fi
    k scale "deployment/aicr-$idle" --replicas="$replicas" >/dev/null
    if ! k rollout status "deployment/aicr-$idle" --timeout="${TIMEOUT}s" >&2 ||
        ! k_smoke aicr-preview; then
        restore_idle
        die 1 "$idle failed before the switch; $live keeps the traffic, aicr-$idle is back to $old_image x$old_replicas"
    fi
    say "switching service/aicr and the HPA to $idle"
    k_point "$idle" || { k_point "$live" || die 4 "a half-done switch could not be undone"; die 2 "the switch failed; back on $live"; }
    if ! k_smoke aicr; then
        say "live path failed on $idle: rolling back to $live"
        k_point "$live" || die 4 "could not switch back to $live"
        k_smoke aicr || die 4 "switched back to $live, but it fails its smoke check too"
        die 2 "rolled back to $live"
    fi
    say "done: $idle is live; $live still runs for a quick switch back (blue-green.sh again), scale it down when sure"
}

# ---- haproxy ------------------------------------------------------------------------

SOCKET=
MAP=
PREVIEW=
LIVE=

hap() { printf '%s\n' "$1" | socat -t 5 stdio "unix-connect:$SOCKET"; }

h_live() { hap "show map $MAP" | awk '$2 == "live" { print $3 }'; }

# h_point LIVE: the runtime map and the map file as they are when LIVE is the live colour.
h_point() {
    local live=$1 idle tmp answer
    idle=$(other "$1")
    for entry in "live $live" "preview $idle"; do
        answer=$(hap "set map $MAP $entry") || return 1
        [ -z "$(tr -d '[:space:]' <<<"$answer")" ] || { say "set map $MAP $entry: $answer"; return 1; }
    done
    tmp=$(mktemp "$MAP.XXXXXX")
    printf 'live %s\npreview %s\n' "$live" "$idle" >"$tmp"
    mv "$tmp" "$MAP"
}

run_haproxy() {
    need socat
    need curl
    if [ -z "$SOCKET" ] || [ -z "$MAP" ] || [ -z "$PREVIEW" ] || [ -z "$LIVE" ]; then
        die 3 "haproxy needs --socket, --map, --preview and --live"
    fi
    local live idle
    live=$(h_live) || die 3 "cannot read map $MAP through $SOCKET"
    case $live in blue | green) ;; *) die 3 "map $MAP has live '$live', not blue or green" ;; esac
    idle=$(other "$live")
    say "live: $live; checking $idle through $PREVIEW"
    smoke "$PREVIEW" || die 1 "$idle failed before the switch; $live keeps the traffic"
    say "switching $LIVE to $idle"
    h_point "$idle" || { h_point "$live" || die 4 "a half-done switch could not be undone"; die 2 "the switch failed; back on $live"; }
    if ! smoke "$LIVE"; then
        say "live path failed on $idle: rolling back to $live"
        h_point "$live" || die 4 "could not switch back to $live"
        smoke "$LIVE" || die 4 "switched back to $live, but it fails its smoke check too"
        die 2 "rolled back to $live"
    fi
    say "done: $idle is live; $live's servers can be stopped or kept for a quick switch back"
}

# ---- arguments ----------------------------------------------------------------------

usage() {
    sed -n '/^#   blue-green.sh/p' "$0" | sed 's/^#   /usage: /' >&2
    exit 3
}

[ $# -ge 1 ] || usage
mode=$1
shift
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
    --namespace) NAMESPACE=$2 ;;
    --image) IMAGE=$2 ;;
    --timeout) TIMEOUT=$2 ;;
    --socket) SOCKET=$2 ;;
    --map) MAP=$2 ;;
    --preview) PREVIEW=${2%/} ;;
    --live) LIVE=${2%/} ;;
    *) usage ;;
    esac
    shift 2
done
case $TIMEOUT in '' | *[!0-9]*) die 3 "--timeout takes whole seconds, not '$TIMEOUT'" ;; esac

case $mode in
kubectl) run_kubectl ;;
haproxy) run_haproxy ;;
*) usage ;;
esac
