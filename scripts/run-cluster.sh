#!/usr/bin/env bash
# make run-cluster: one chat on two natter nodes through a loopback redis-server of its own, so a
# newcomer sees it with two nc windows (`nc 127.0.0.1 8888`, `nc 127.0.0.1 8889`). Ctrl-C (or
# SIGTERM) stops all three. Arguments go to both nodes (make run-cluster ARGS="--history 20").
# Env: REDIS_PORT (6390), LINE_PORTS ("8888 8889"), IRC_PORTS ("6667 6668"), WEB_PORTS
# ("8080 8081"), NATTER (build/natter).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
natter=${NATTER:-$root/build/natter}
redis_port=${REDIS_PORT:-6390}
read -r -a line_ports <<< "${LINE_PORTS:-8888 8889}"
read -r -a irc_ports <<< "${IRC_PORTS:-6667 6668}"
read -r -a web_ports <<< "${WEB_PORTS:-8080 8081}"
names=(north south)

dir=$(mktemp -d)
pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 0' INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --client-output-buffer-limit 'pubsub 256mb 64mb 60' \
  --daemonize no --loglevel warning &
pids+=($!)
for _ in $(seq 100); do
  if redis-cli -p "$redis_port" ping >/dev/null 2>&1; then break; fi
  sleep 0.05
done
redis-cli -p "$redis_port" ping >/dev/null || { echo "run-cluster: redis-server did not start" >&2; exit 1; }
echo "run-cluster: redis-server on 127.0.0.1:$redis_port" >&2

for i in 0 1; do
  "$natter" --listen "127.0.0.1:${line_ports[$i]}" --listen "irc://127.0.0.1:${irc_ports[$i]}" \
    --listen "http://127.0.0.1:${web_ports[$i]}" --redis "redis://127.0.0.1:$redis_port" \
    --node-name "${names[$i]}" "$@" &
  pids+=($!)
done
echo "run-cluster: nodes north (line ${line_ports[0]}) and south (line ${line_ports[1]});" \
     "Ctrl-C stops all three" >&2
# Until one of the three ends (or Ctrl-C): then the others are stopped too.
wait -n "${pids[@]}" || true
