# shellcheck shell=bash
# Shared by the broker e2e tests (sourced): start a real `subagent broker` on loopback.
# Callers set S (the subagent binary) and T (a temp dir) and trap broker_cleanup EXIT.

BROKER_PIDS=()

# has_broker: 0 when this build has the `subagent broker` command.
has_broker() {
	"$S" --help 2>/dev/null | grep -qE '^[[:space:]]+broker[[:space:]]'
}

# free_port: prints a loopback TCP port nobody listens on.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		if ! ss -Hltn "sport = :$p" | grep -q .; then echo "$p"; return 0; fi
	done
	return 1
}

# start_broker DIR [ARGS...]: starts the broker on DIR, waits (10 s deadline) for /healthz.
start_broker() {
	local dir=$1; shift
	local url
	url=$(jq -r '.urls[0]' "$dir/config.json")
	"$S" broker --dir "$dir" "$@" >>"$dir/broker.log" 2>&1 &
	BROKER_PIDS+=($!)
	BROKER_PID=$!
	for _ in $(seq 1 100); do
		if curl -fsS --max-time 1 --cacert "$dir/ca.pem" "$url/healthz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$BROKER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "broker on $dir did not come up; its log:" >&2
	tail -n 20 "$dir/broker.log" >&2
	return 1
}

# stop_broker PID: SIGTERM, then SIGKILL after 5 s.
stop_broker() {
	local pid=$1
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

broker_cleanup() {
	for pid in "${BROKER_PIDS[@]}"; do stop_broker "$pid"; done
	[ -n "${T:-}" ] && rm -rf "$T"
}

# api DIR TOKEN METHOD PATH [BODY]: curl against the broker of DIR; prints the body and
# the HTTP code on a last line of its own.
api() {
	local dir=$1 token=$2 method=$3 path=$4 body=${5:-}
	local url
	url=$(jq -r '.urls[0]' "$dir/config.json")
	if [ -n "$body" ]; then
		curl -sS --max-time 10 --cacert "$dir/ca.pem" -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/json' -X "$method" -d "$body" \
			-w '\n%{http_code}\n' "$url$path"
	else
		curl -sS --max-time 10 --cacert "$dir/ca.pem" -H "Authorization: Bearer $token" \
			-X "$method" -w '\n%{http_code}\n' "$url$path"
	fi
}
