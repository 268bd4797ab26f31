#!/usr/bin/env bash
# live-shopper quickstart, without Docker: brings up a redis-server and a tansu broker (Kafka
# protocol) on free loopback ports, builds live-shopper, generates a synthetic shop into the
# topic `snowplow-enriched-good` (4 partitions), runs the job over it with 2 workers until the
# end of the topic, and shows some of the features it wrote to Redis.
#
# Missing pieces are installed: Debian's redis-server with apt-get (as root, or with sudo), and
# tansu with `cargo install --locked tansu --version 0.6.0 --features dynostore`, which builds
# for about 10-15 minutes the first time (it is cached in ~/.cargo/bin afterwards).
#
# Environment:
#   EVENTS=100000 USERS=2000   size of the generated shop
#   WORKERS=2                  worker threads of the job
#   KEEP_SERVICES=1            leave redis-server and tansu running at the end (default: stop them)
#   TANSU=/path/to/tansu       use this tansu binary
set -euo pipefail

cd "$(dirname "$0")/.."
EVENTS="${EVENTS:-100000}"
USERS="${USERS:-2000}"
WORKERS="${WORKERS:-2}"
KEEP_SERVICES="${KEEP_SERVICES:-0}"
TOPIC="snowplow-enriched-good"
WORKDIR="$(mktemp -d -t live-shopper-quickstart.XXXXXX)"
PIDS=()

say() { printf '\n==> %s\n' "$*"; }

cleanup() {
    local status=$?
    if [ "${#PIDS[@]}" -gt 0 ]; then
        if [ "$KEEP_SERVICES" = "1" ] && [ "$status" -eq 0 ]; then
            say "services left running (KEEP_SERVICES=1); stop them with: kill ${PIDS[*]}"
        else
            kill "${PIDS[@]}" 2>/dev/null || true
            wait "${PIDS[@]}" 2>/dev/null || true
            echo "stopped redis-server and tansu (logs in $WORKDIR)"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port that nothing accepts connections on.
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$(( (RANDOM % 20000) + 30000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

wait_for_port() {
    local port=$1 name=$2 log=$3
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "$name did not start on port $port; its log ($log):" >&2
    cat "$log" >&2 || true
    return 1
}

as_root() {
    if [ "$(id -u)" = "0" ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root for: $* (install redis-server yourself and rerun)" >&2
        return 1
    fi
}

# --- tools -----------------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust from https://rustup.rs and rerun" >&2
    exit 1
fi

if ! command -v redis-server >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        say "installing redis-server (apt-get)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
    else
        echo "redis-server is missing and apt-get is not available: install Redis and rerun" >&2
        exit 1
    fi
fi
REDIS_CLI="$(command -v redis-cli || true)"

TANSU="${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}"
if [ ! -x "$TANSU" ]; then
    say "installing the tansu broker: cargo install --locked tansu --version 0.6.0 --features dynostore"
    echo "    (this builds for about 10-15 minutes the first time; it is cached afterwards)"
    cargo install --locked tansu --version 0.6.0 --features dynostore
    TANSU="$HOME/.cargo/bin/tansu"
fi

say "building live-shopper (release)"
cargo build --release --bin live-shopper
LIVE_SHOPPER="$PWD/target/release/live-shopper"

# --- services --------------------------------------------------------------------------------
REDIS_PORT="$(free_port)"
say "starting redis-server on 127.0.0.1:$REDIS_PORT"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$WORKDIR" >"$WORKDIR/redis.log" 2>&1 &
PIDS+=("$!")
wait_for_port "$REDIS_PORT" redis-server "$WORKDIR/redis.log"

KAFKA_PORT="$(free_port)"
while [ "$KAFKA_PORT" = "$REDIS_PORT" ]; do KAFKA_PORT="$(free_port)"; done
BROKERS="127.0.0.1:$KAFKA_PORT"
say "starting tansu (Kafka protocol, in-memory storage) on $BROKERS"
"$TANSU" broker --listener-url "tcp://$BROKERS" --advertised-listener-url "tcp://$BROKERS" \
    --storage-engine memory://tansu/ >"$WORKDIR/tansu.log" 2>&1 &
PIDS+=("$!")
wait_for_port "$KAFKA_PORT" tansu "$WORKDIR/tansu.log"

# --- data and job ----------------------------------------------------------------------------
say "generating a shop of $EVENTS events by $USERS users into topic $TOPIC (4 partitions)"
"$LIVE_SHOPPER" generate --to-kafka --brokers "$BROKERS" --topic "$TOPIC" --partitions 4 \
    --events "$EVENTS" --users "$USERS" --malformed-rate 0.001

say "running the job: $WORKERS workers, to the end of the topic"
"$LIVE_SHOPPER" run --bounded --progress -w "$WORKERS" \
    --set "kafka.properties.bootstrap.servers=$BROKERS" \
    --set "kafka.topic=$TOPIC" \
    --set "redis.url=redis://127.0.0.1:$REDIS_PORT" \
    --set "checkpoint.dir=$WORKDIR/checkpoints"

# --- what is in Redis ------------------------------------------------------------------------
say "features in Redis (127.0.0.1:$REDIS_PORT)"
if [ -n "$REDIS_CLI" ]; then
    echo "keys: $("$REDIS_CLI" -p "$REDIS_PORT" DBSIZE)"
    # (`|| true`: head closing the pipe early is fine.)
    user_key="$("$REDIS_CLI" -p "$REDIS_PORT" --scan --pattern 'user:*:product_views_1h' | head -n 1 || true)"
    session_key="$("$REDIS_CLI" -p "$REDIS_PORT" --scan --pattern 'session:*:session_page_count' | head -n 1 || true)"
    examples=()
    if [ -n "$user_key" ]; then
        user="${user_key%:product_views_1h}"
        while IFS= read -r key; do examples+=("$key"); done \
            < <("$REDIS_CLI" -p "$REDIS_PORT" --scan --pattern "$user:*" | sort | head -n 8 || true)
    fi
    if [ -n "$session_key" ]; then
        session="${session_key%:session_page_count}"
        while IFS= read -r key; do examples+=("$key"); done \
            < <("$REDIS_CLI" -p "$REDIS_PORT" --scan --pattern "$session:*" | sort | head -n 6 || true)
    fi
    for key in "${examples[@]}"; do
        printf '  %-70s %s\n' "$key" "$("$REDIS_CLI" -p "$REDIS_PORT" GET "$key")"
    done
    echo
    echo "try (while the services run):"
    for key in "${examples[@]:0:4}"; do
        echo "  redis-cli -p $REDIS_PORT GET '$key'"
    done
    echo "  redis-cli -p $REDIS_PORT --scan --pattern 'user:*' | head"
else
    echo "(redis-cli is not installed; install redis-tools to look at the keys)"
fi
if [ "$KEEP_SERVICES" != "1" ]; then
    echo
    echo "the services stop now; rerun with KEEP_SERVICES=1 to keep them (and the features) up"
fi
