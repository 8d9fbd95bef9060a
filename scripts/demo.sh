#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root), builds Warren, starts warren-broker on a loopback
# port and runs the seed's worker pattern against it: a durable direct exchange, persistent
# messages, server-named exclusive queues, prefetch 1 and manual acks, with pika unchanged.
# Then Warren's worker framework: the task worker (retries, dead letters) and the pipeline on
# the embedded broker, and an RPC round between two programs through warren-broker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target warren-broker example_task_worker example_rpc_server \
    example_rpc_client example_pipeline
broker=build/release/services/warren-broker/warren-broker
port=${WARREN_PORT:-5672}
log=$(mktemp -t warren-demo.XXXXXX.log)
"$broker" --port "$port" --bind 127.0.0.1 >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; echo "== broker log ($log):"; cat "$log"' EXIT
for _ in $(seq 100); do
    (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.1
done
echo "== warren-broker is listening on 127.0.0.1:$port (pid $pid)"
export AMQP_HOST=127.0.0.1 AMQP_PORT=$port
/usr/bin/python3 examples/python-seed/demo.py

examples=build/release/examples
echo
echo "== the worker framework: a task worker on the embedded broker (retries, then the DLQ)"
"$examples/example_task_worker"
echo
echo "== a three-stage pipeline on the embedded broker (each stage acks after its output is confirmed)"
"$examples/example_pipeline"
echo
echo "== an RPC round on the embedded broker: example_rpc_server serves, a client calls it"
"$examples/example_rpc_server"
echo
echo "== an RPC round through warren-broker: example_rpc_server and example_rpc_client, 1,000 calls"
uri="amqp://guest:guest@127.0.0.1:$port/%2F"
"$examples/example_rpc_server" --uri "$uri" &
server=$!
"$examples/example_rpc_client" --uri "$uri" --calls 1000 --concurrency 100
kill -TERM "$server"
wait "$server"
