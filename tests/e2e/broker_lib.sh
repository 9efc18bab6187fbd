# Helpers for the broker tests (sourced, not run; sources tests/lib.sh): a state directory
# like deploy-broker's (test CA + server certificate for 127.0.0.1, random tokens) or one
# made by deploy-broker itself, brokers and etcd started on free loopback ports and ended
# by PID, and curl + jq wrappers. The caller sets T (its temp dir) and calls brk_cleanup
# from its EXIT trap.
T_NAME=${T_NAME:-broker}
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

BIN=${BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/subagent}
BRK_PIDS=()
not_grep() { ! grep -qs "$@"; }

# Ends what the test started (a sanitizer build checks for leaks at its SIGTERM exit).
brk_cleanup() {
	local p
	for p in "${BRK_PIDS[@]}"; do stop_pid "$p"; done
	BRK_PIDS=()
}


# mkstate DIR STORE [GLOBALNET_JSON] [EXTRA_JSON]: a broker state directory.
mkstate() {
	local d=$1 store=$2 gn=${3:-'{"enabled":false,"cidrRange":"242.0.0.0/8","clusterSize":65536}'}
	local extra=${4:-}
	mkdir -p "$d"
	if [ ! -e "$T/ca.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$T/ca-key.pem" -out "$T/ca.pem" -days 2 -subj /CN=sbs-test-ca 2>/dev/null
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/tls-key.pem" \
			-out "$T/tls.csr" -subj /CN=sbs-broker 2>/dev/null
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$T/san.ext"
		openssl x509 -req -in "$T/tls.csr" -CA "$T/ca.pem" -CAkey "$T/ca-key.pem" \
			-CAcreateserial -out "$T/tls.pem" -days 2 -extfile "$T/san.ext" 2>/dev/null
		head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/admin.token"
		head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/join.token"
	fi
	cp "$T/ca.pem" "$T/tls.pem" "$d/"
	install -m 0600 "$T/ca-key.pem" "$T/tls-key.pem" "$T/admin.token" "$T/join.token" "$d/"
	if [ "${store#etcd://}" != "$store" ]; then	# etcd over TLS: the broker's client files
		cp "$T/etcd-pki/ca.pem" "$d/etcd-ca.pem"
		cp "$T/etcd-pki/client.pem" "$d/etcd-client.pem"
		install -m 0600 "$T/etcd-pki/client-key.pem" "$d/etcd-client-key.pem"
	fi
	printf '{"listen":"127.0.0.1:8443","store":"%s","urls":["https://127.0.0.1:8443"],"globalnet":%s%s}\n' \
		"$store" "$gn" "$extra" >"$d/config.json"
	ADMIN=$(cat "$d/admin.token")
	JOIN=$(cat "$d/join.token")
	CA=$d/ca.pem
}

# brk_start DIR PORT [ARGS...]: starts a broker, sets BRK_PID, waits for /healthz.
brk_start() {
	local d=$1 port=$2; shift 2
	"$BIN" broker --dir "$d" --listen "127.0.0.1:$port" "$@" >>"$d/broker.log" 2>&1 &
	BRK_PID=$!
	BRK_PIDS+=("$BRK_PID")
	wait_healthy "$port" "$BRK_PID"
}

wait_healthy() {
	local port=$1 pid=$2 deadline=$((SECONDS + 15))
	while [ $SECONDS -lt $deadline ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		curl -sf --max-time 2 --cacert "$CA" "https://127.0.0.1:$port/healthz" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# req METHOD URL_PATH TOKEN [BODY]: sets CODE; the body is in $T/out.
req() {
	local m=$1 path=$2 tok=$3 body=${4-}
	local args=(-sS --max-time 10 --cacert "$CA" -o "$T/out" -w '%{http_code}' -X "$m")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	if [ -n "$body" ]; then
		printf '%s' "$body" >"$T/body"
		args+=(-H 'Content-Type: application/json' --data-binary "@$T/body")
	fi
	CODE=$(curl "${args[@]}" "$URL$path" 2>"$T/curl.err") || CODE=000
}
out() { jq -r "$1" "$T/out" 2>/dev/null; }
# says CODE TEXT: the last answer had that code and its message holds TEXT (fixed string).
says() { [ "$CODE" = "$1" ] && out .message | grep -qF -- "$2"; }

API=/apis/subagent.io/v1

cluster_json() {	# ID CLUSTERCIDR SERVICECIDR [GLOBALCIDRS_JSON]
	printf '{"apiVersion":"subagent.io/v1","kind":"Cluster","metadata":{"name":"%s"},"spec":{"clusterID":"%s","clusterCIDRs":["%s"],"serviceCIDRs":["%s"],"globalCIDRs":%s,"cableDriver":"ipsec"}}' \
		"$1" "$1" "$2" "$3" "${4:-[]}"
}
# Object names are "<cluster>.<name>"; cluster cN registers 10.N.0.0/16, and its Endpoint
# claims that.
endpoint_json() {	# CLUSTER HOST PRIVATEIP [RV] [EPOCH]
	local rv=${4:+,\"resourceVersion\":\"$4\"} n=${1//[!0-9]/}
	printf '{"apiVersion":"subagent.io/v1","kind":"Endpoint","metadata":{"name":"%s.%s"%s},"spec":{"clusterID":"%s","hostname":"%s","privateIP":"%s","publicIP":"198.51.100.7","natTPort":4500,"subnets":["10.%s.0.0/16"],"cableDriver":"ipsec","healthCheckIP":"10.%s.0.1","epoch":%s,"backend":{"ikeID":"x"}}}' \
		"$1" "$2" "$rv" "$1" "$2" "$3" "${n:-1}" "${n:-1}" "${5:-1}"
}
gws_json() {	# CLUSTER HOST
	printf '{"metadata":{"name":"%s.%s"},"spec":{"clusterID":"%s","hostname":"%s","haStatus":"active","connections":[{"cluster":"other","remoteIP":"192.0.2.1","status":"connected","rttAvgNs":12345}]}}' \
		"$1" "$2" "$1" "$2"
}

# watch_start NAME RESOURCE TOKEN RV: a background watch writing lines to $T/NAME.watch.
watch_start() {
	local name=$1 res=$2 tok=$3 rv=$4
	: >"$T/$name.watch"
	curl -sSN --max-time 120 --cacert "$CA" -H "Authorization: Bearer $tok" \
		"$URL$API/$res?watch=1&resourceVersion=$rv" >"$T/$name.watch" 2>/dev/null &
	WATCH_PID=$!
	BRK_PIDS+=("$WATCH_PID")
}
# wait_for FILE JQ_EXPR [SECONDS]: until some line of FILE satisfies the jq expression.
wait_for() {
	local f=$1 expr=$2 deadline=$((SECONDS + ${3:-10}))
	while [ $SECONDS -lt $deadline ]; do
		[ -s "$f" ] && jq -e "select($expr)" "$f" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# count_rv RESOURCE: "<items> <resourceVersion>" of a list, as admin.
list_state() {
	req GET "$API/$1" "$ADMIN"
	echo "$(out '.items | length') $(out '.metadata.resourceVersion')"
}

# api_suite TAG: the API contract, against the broker at $URL (fresh store).
api_suite() {
	local tag=$1 tok1 tok2 rv rv2 before

	req GET /healthz ""
	check "$tag:healthz" [ "$CODE" = 200 -a "$(cat "$T/out")" = ok ]

	# ---- authentication
	req GET "$API/whoami" ""
	check "$tag:no-token-401" [ "$CODE" = 401 -a "$(out .reason)" = Unauthorized -a "$(out .kind)" = Status ]
	req GET "$API/endpoints" "0000$ADMIN"
	check "$tag:bad-token-401" [ "$CODE" = 401 ]
	req GET "$API/whoami" "$ADMIN"
	check "$tag:whoami-admin" [ "$CODE" = 200 -a "$(out .identity)" = admin -a "$(out .remoteAddr)" = 127.0.0.1 ]
	req GET "$API/whoami" "$JOIN"
	check "$tag:whoami-join" [ "$CODE" = 200 -a "$(out .identity)" = join ]

	# ---- registration
	req POST "$API/clusters" "$JOIN" "$(cluster_json c1 10.1.0.0/16 10.96.0.0/16)"
	tok1=$(out .credential.token)
	check "$tag:register-201" [ "$CODE" = 201 -a "${#tok1}" = 64 -a "$(out .kind)" = Cluster \
		-a -n "$(out .metadata.uid)" -a -n "$(out .metadata.creationTimestamp)" \
		-a "$(out .metadata.resourceVersion)" != null ]
	req GET "$API/clusters/c1" "$ADMIN"
	check "$tag:register-token-not-returned-again" [ "$CODE" = 200 -a "$(out .credential)" = null ]
	check "$tag:register-token-not-stored" not_grep -r "$tok1" "$STATE_DIR"
	req POST "$API/clusters" "$JOIN" "$(cluster_json c1 10.5.0.0/16 10.97.0.0/16)"
	check "$tag:reregister-409" [ "$CODE" = 409 -a "$(out .reason)" = AlreadyExists ]
	before=$(list_state clusters)
	req POST "$API/clusters" "$JOIN" "$(cluster_json c2 10.1.128.0/17 10.98.0.0/16)"
	check "$tag:register-overlap-422" [ "$CODE" = 422 -a "$(out .reason)" = Invalid ]
	check "$tag:register-overlap-names-other" grep -q 'cluster c1' "$T/out"
	check "$tag:register-overlap-changes-nothing" [ "$(list_state clusters)" = "$before" ]
	req POST "$API/clusters" "$JOIN" "$(cluster_json c2 10.2.0.0/16 10.98.0.0/16)"
	tok2=$(out .credential.token)
	check "$tag:register-second" [ "$CODE" = 201 -a "${#tok2}" = 64 -a "$tok2" != "$tok1" ]
	req GET "$API/whoami" "$tok1"
	check "$tag:whoami-cluster" [ "$(out .identity)" = cluster:c1 ]

	# ---- authorization
	req GET "$API/clusters" "$JOIN"
	check "$tag:join-cannot-list-403" [ "$CODE" = 403 -a "$(out .reason)" = Forbidden ]
	req POST "$API/endpoints" "$JOIN" "$(endpoint_json c1 gw 10.1.0.5)"
	check "$tag:join-cannot-write-403" [ "$CODE" = 403 ]
	req POST "$API/clusters" "$tok1" "$(cluster_json c3 10.3.0.0/16 10.99.0.0/16)"
	check "$tag:cluster-cannot-register-403" [ "$CODE" = 403 ]
	req POST "$API/endpoints" "$tok1" "$(endpoint_json c2 gw 10.2.0.5)"
	check "$tag:write-foreign-403" [ "$CODE" = 403 ]

	# ---- CRUD
	req POST "$API/endpoints" "$tok1" "$(endpoint_json c1 gw 10.1.0.5)"
	rv=$(out .metadata.resourceVersion)
	check "$tag:create-201" [ "$CODE" = 201 -a "$(out .metadata.name)" = c1.gw -a "$(out .spec.natTPort)" = 4500 ]
	req POST "$API/endpoints" "$tok1" "$(endpoint_json c1 gw 10.1.0.5)"
	check "$tag:create-dup-409" [ "$CODE" = 409 -a "$(out .reason)" = AlreadyExists ]
	req GET "$API/endpoints/c1.gw" "$tok2"
	check "$tag:get-other-cluster" [ "$CODE" = 200 -a "$(out .metadata.resourceVersion)" = "$rv" ]
	req GET "$API/endpoints/nope" "$ADMIN"
	check "$tag:get-404" [ "$CODE" = 404 -a "$(out .reason)" = NotFound ]
	req PUT "$API/endpoints/c1.gw" "$tok2" "$(endpoint_json c1 gw 10.1.0.6 "$rv")"
	check "$tag:update-foreign-403" [ "$CODE" = 403 ]
	req DELETE "$API/endpoints/c1.gw" "$tok2"
	check "$tag:delete-foreign-403" [ "$CODE" = 403 ]
	req PUT "$API/endpoints/c1.gw" "$tok1" "$(endpoint_json c1 gw 10.1.0.6 "$rv" 2)"
	rv2=$(out .metadata.resourceVersion)
	check "$tag:update-200" [ "$CODE" = 200 -a "$(out .spec.privateIP)" = 10.1.0.6 -a "$rv2" -gt "$rv" ]
	req PUT "$API/endpoints/c1.gw" "$tok1" "$(endpoint_json c1 gw 10.1.0.7 "$rv")"
	check "$tag:update-stale-409" [ "$CODE" = 409 -a "$(out .reason)" = Conflict ]
	req PUT "$API/endpoints/c1.gw" "$tok1" "$(endpoint_json c1 gw 10.1.0.7)"
	check "$tag:update-no-rv-422" [ "$CODE" = 422 ]
	req GET "$API/endpoints/c1.gw" "$ADMIN"
	check "$tag:failed-updates-change-nothing" [ "$(out .spec.privateIP)" = 10.1.0.6 \
		-a "$(out .metadata.resourceVersion)" = "$rv2" ]
	req POST "$API/gatewaystatuses" "$tok1" "$(gws_json c1 gw)"
	check "$tag:create-gatewaystatus" [ "$CODE" = 201 -a "$(out .kind)" = GatewayStatus ]
	req POST "$API/endpoints" "$tok2" "$(endpoint_json c2 gw 10.2.0.5)"
	req GET "$API/endpoints" "$tok1"
	check "$tag:list" [ "$CODE" = 200 -a "$(out .kind)" = EndpointList -a "$(out '.items|length')" = 2 \
		-a "$(out .metadata.resourceVersion)" -ge "$rv2" ]
	req PUT "$API/clusters/c1" "$tok1" "$(cluster_json c1 10.1.0.0/16 10.96.0.0/16 | jq -c \
		".metadata.resourceVersion = \"$(req GET "$API/clusters/c1" "$tok1"; out .metadata.resourceVersion)\"")"
	check "$tag:rejoin-put-own-cluster" [ "$CODE" = 200 ]
	req PUT "$API/clusters/c2" "$tok1" "$(cluster_json c2 10.2.0.0/16 10.98.0.0/16 | jq -c '.metadata.resourceVersion="1"')"
	check "$tag:put-foreign-cluster-403" [ "$CODE" = 403 ]

	# ---- claims: a cluster's token cannot take another cluster's traffic (issue 11: both
	# of these were 201 Created, and every gateway routed them)
	before=$(list_state endpoints)
	req POST "$API/endpoints" "$tok2" "$(endpoint_json c2 thief 10.2.0.66 | jq -c '.spec.subnets=["10.1.0.0/16"]')"
	check "$tag:claim-other-clusters-cidr-422" [ "$CODE" = 422 -a "$(out .reason)" = Invalid ]
	check "$tag:claim-422-says-why" says 422 'spec.subnets[0]: 10.1.0.0/16 is outside the cluster and service CIDRs of cluster c2 (10.2.0.0/16, 10.98.0.0/16)'
	req POST "$API/endpoints" "$tok2" "$(endpoint_json c2 thief 10.2.0.66 | jq -c '.spec.subnets=["0.0.0.0/1","128.0.0.0/1"]')"
	check "$tag:claim-everything-422" says 422 'spec.subnets[0]: 0.0.0.0/1 is outside'
	req POST "$API/endpoints" "$ADMIN" "$(endpoint_json c2 thief 10.2.0.66 | jq -c '.spec.subnets=["10.2.0.0/16","10.1.5.0/24"]')"
	check "$tag:claim-checked-for-admin-too-422" says 422 'spec.subnets[1]: 10.1.5.0/24'
	req POST "$API/endpoints" "$tok2" "$(endpoint_json c2 thief 10.2.0.66 | jq -c '.spec.healthCheckIP="10.1.0.1"')"
	check "$tag:claim-health-ip-422" says 422 'spec.healthCheckIP: 10.1.0.1 is outside'
	req GET "$API/endpoints/c2.gw" "$tok2" 2>/dev/null
	if [ "$CODE" = 200 ]; then
		req PUT "$API/endpoints/c2.gw" "$tok2" "$(jq -c '.spec.subnets=["0.0.0.0/1","128.0.0.0/1"]' "$T/out")"
		check "$tag:claim-by-update-422" says 422 'spec.subnets[0]: 0.0.0.0/1 is outside'
	fi
	req POST "$API/endpoints" "$tok2" "$(endpoint_json c2 sub 10.2.0.67 | jq -c '.spec.subnets=["10.2.128.0/17","10.98.0.0/24"]')"
	check "$tag:claim-inside-own-201" [ "$CODE" = 201 ]
	req DELETE "$API/endpoints/c2.sub" "$tok2"
	check "$tag:bad-claims-change-nothing" [ "$(list_state endpoints | cut -d' ' -f1)" = "${before% *}" ]

	# ---- names: the owner is the first label ("prod" could squat "prod-eu-gw" under the
	# old "<cluster>-" rule and prod-eu's gateway then got 409)
	local tokp tokpe
	req POST "$API/clusters" "$JOIN" "$(cluster_json prod 10.30.0.0/16 10.31.0.0/16)"
	tokp=$(out .credential.token)
	req POST "$API/clusters" "$JOIN" "$(cluster_json prod-eu 10.32.0.0/16 10.33.0.0/16)"
	tokpe=$(out .credential.token)
	req POST "$API/endpoints" "$tokp" "$(endpoint_json prod eu-gw 10.30.0.5 | jq -c '.metadata.name="prod-eu-gw" | .spec.subnets=["10.30.0.0/16"] | .spec.healthCheckIP="10.30.0.1"')"
	check "$tag:name-squat-422" says 422 'must be "prod.<name>"'
	req POST "$API/endpoints" "$tokp" "$(endpoint_json prod eu-gw 10.30.0.5 | jq -c '.spec.subnets=["10.30.0.0/16"] | .spec.healthCheckIP="10.30.0.1"')"
	check "$tag:name-own-prefix-201" [ "$CODE" = 201 -a "$(out .metadata.name)" = prod.eu-gw ]
	req POST "$API/endpoints" "$tokpe" "$(endpoint_json prod-eu gw 10.32.0.5 | jq -c '.spec.subnets=["10.32.0.0/16"] | .spec.healthCheckIP="10.32.0.1"')"
	check "$tag:name-no-collision-201" [ "$CODE" = 201 -a "$(out .metadata.name)" = prod-eu.gw ]
	req DELETE "$API/clusters/prod" "$ADMIN"
	req DELETE "$API/clusters/prod-eu" "$ADMIN"

	# ---- validation: every bad write is refused and changes nothing
	before=$(list_state endpoints)
	req POST "$API/endpoints" "$tok1" '{"metadata":{"name":"c1.x"},"spec":{'
	check "$tag:malformed-json-400" [ "$CODE" = 400 -a "$(out .reason)" = BadRequest ]
	req POST "$API/endpoints" "$tok1" '[1,2]'
	check "$tag:not-object-400" [ "$CODE" = 400 ]
	req GET "$API/widgets" "$ADMIN"
	check "$tag:unknown-resource-404" [ "$CODE" = 404 ]
	head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' >"$T/big"
	CODE=$(curl -sS --max-time 20 --cacert "$CA" -o "$T/out" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $tok1" --data-binary @"$T/big" "$URL$API/endpoints") || CODE=000
	check "$tag:oversized-413" [ "$CODE" = 413 -a "$(out .reason)" = RequestEntityTooLarge ]
	CODE=$(curl -sS --max-time 20 --cacert "$CA" -o "$T/out" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $tok1" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" \
		"$URL$API/endpoints") || CODE=000
	check "$tag:oversized-chunked-413" [ "$CODE" = 413 ]
	local bad
	for bad in \
		'privateIP:"10.1.0.300"' 'privateIP:"10.01.0.3"' 'subnets:["10.1.0.1/16"]' \
		'subnets:"10.0.0.0/8"' 'natTPort:70000' 'natTPort:"4500"' 'epoch:-1' \
		'cableDriver:"wireguard"' 'hostname:"a b"' 'backend:{"k":1}' 'privateIP:null'; do
		local k=${bad%%:*} v=${bad#*:}
		req POST "$API/endpoints" "$tok1" "$(endpoint_json c1 bad 10.1.0.9 | jq -c ".spec.$k = $v")"
		[ "$CODE" = 422 ] && [ "$(out .reason)" = Invalid ] || { t_fail "$tag:invalid-$k" "$bad -> $CODE"; continue; }
	done
	t_pass "$tag:invalid-fields-422"
	req POST "$API/endpoints" "$tok1" "$(endpoint_json c1 bad 10.1.0.9 | jq -c '.metadata.name="C1-Bad"')"
	check "$tag:invalid-name-422" [ "$CODE" = 422 ]
	req POST "$API/endpoints" "$tok1" "$(endpoint_json c1 bad 10.1.0.9 | jq -c '.metadata.name="c2.bad"')"
	check "$tag:name-not-owner-prefix-422" [ "$CODE" = 422 ]
	req POST "$API/endpoints" "$tok1" "$(endpoint_json c1 bad 10.1.0.9 | jq -c '.kind="Cluster"')"
	check "$tag:wrong-kind-422" [ "$CODE" = 422 ]
	req POST "$API/endpoints" "$tok1" '{"metadata":{"name":"c1.x"}}'
	check "$tag:missing-spec-422" [ "$CODE" = 422 ]
	req POST "$API/endpoints" "$ADMIN" "$(endpoint_json c9 gw 10.9.0.1)"
	check "$tag:unregistered-owner-422" [ "$CODE" = 422 ]
	req POST "$API/clusters" "$JOIN" "$(cluster_json Bad_ID 10.7.0.0/16 10.97.0.0/16)"
	check "$tag:register-bad-id-422" [ "$CODE" = 422 ]
	req POST "$API/clusters" "$JOIN" "$(cluster_json c7 10.7.0.0/16 10.7.0.0/24)"
	check "$tag:register-self-overlap-422" [ "$CODE" = 422 ]
	check "$tag:bad-requests-change-nothing" [ "$(list_state endpoints)" = "$before" ]

	# ---- watch: replay from a resourceVersion, live events, resume, bookmarks
	req GET "$API/endpoints" "$ADMIN"
	local lrv; lrv=$(out .metadata.resourceVersion)
	watch_start w1 endpoints "$tok2" "$lrv"
	local w1=$WATCH_PID
	req POST "$API/endpoints" "$tok1" "$(endpoint_json c1 n2 10.1.0.8)"
	local crv; crv=$(out .metadata.resourceVersion)
	req PUT "$API/endpoints/c1.n2" "$tok1" "$(endpoint_json c1 n2 10.1.0.9 "$crv" 5)"
	local mrv; mrv=$(out .metadata.resourceVersion)
	req DELETE "$API/endpoints/c1.n2" "$tok1"
	check "$tag:delete-200" [ "$CODE" = 200 -a "$(out .metadata.name)" = c1.n2 ]
	req DELETE "$API/endpoints/c1.n2" "$tok1"
	check "$tag:delete-again-404" [ "$CODE" = 404 ]
	check "$tag:watch-events" wait_for "$T/w1.watch" '.type=="DELETED" and .object.metadata.name=="c1.n2"'
	check "$tag:watch-order" [ "$(jq -r 'select(.type!="BOOKMARK") | .type' "$T/w1.watch" | tr '\n' ' ')" = "ADDED MODIFIED DELETED " ]
	check "$tag:watch-rv" [ "$(jq -r 'select(.type=="MODIFIED") | .object.metadata.resourceVersion' "$T/w1.watch")" = "$mrv" ]
	check "$tag:watch-only-resource" [ "$(jq -r 'select(.type!="BOOKMARK") | .object.kind' "$T/w1.watch" | sort -u)" = Endpoint ]
	check "$tag:watch-bookmark" wait_for "$T/w1.watch" '.type=="BOOKMARK" and (.object.metadata.resourceVersion|tonumber) >= '"$mrv" 15
	kill "$w1" 2>/dev/null
	watch_start w2 endpoints "$ADMIN" "$crv"
	check "$tag:watch-resume" wait_for "$T/w2.watch" '.type=="DELETED"'
	check "$tag:watch-resume-skips-older" [ "$(jq -r 'select(.type!="BOOKMARK") | .type' "$T/w2.watch" | tr '\n' ' ')" = "MODIFIED DELETED " ]
	kill "$WATCH_PID" 2>/dev/null
	watch_start w3 endpoints "$ADMIN" 0
	check "$tag:watch-from-current-state" wait_for "$T/w3.watch" '.type=="ADDED" and .object.metadata.name=="c2.gw"'
	kill "$WATCH_PID" 2>/dev/null
	watch_start w4 clusters "$ADMIN" "$(list_state clusters | cut -d' ' -f2)"
	local w4=$WATCH_PID
	watch_start w5 gatewaystatuses "$ADMIN" "$(list_state gatewaystatuses | cut -d' ' -f2)"
	local w5=$WATCH_PID
	watch_start w6 endpoints "$ADMIN" "$(list_state endpoints | cut -d' ' -f2)"
	local w6=$WATCH_PID
	sleep 0.3

	# ---- cluster delete: cascade and revocation
	req DELETE "$API/clusters/c1" "$tok2"
	check "$tag:delete-foreign-cluster-403" [ "$CODE" = 403 ]
	req DELETE "$API/clusters/c1" "$tok1"
	check "$tag:delete-own-cluster" [ "$CODE" = 200 ]
	req GET "$API/endpoints/c1.gw" "$ADMIN"
	check "$tag:cascade-endpoint" [ "$CODE" = 404 ]
	req GET "$API/gatewaystatuses/c1.gw" "$ADMIN"
	check "$tag:cascade-gatewaystatus" [ "$CODE" = 404 ]
	req GET "$API/endpoints/c2.gw" "$ADMIN"
	check "$tag:cascade-spares-others" [ "$CODE" = 200 ]
	req GET "$API/whoami" "$tok1"
	check "$tag:token-revoked-401" [ "$CODE" = 401 ]
	check "$tag:cascade-watch-cluster" wait_for "$T/w4.watch" '.type=="DELETED" and .object.metadata.name=="c1"'
	check "$tag:cascade-watch-gws" wait_for "$T/w5.watch" '.type=="DELETED" and .object.metadata.name=="c1.gw"'
	check "$tag:cascade-watch-endpoint" wait_for "$T/w6.watch" '.type=="DELETED" and .object.metadata.name=="c1.gw"'
	kill "$w4" "$w5" "$w6" 2>/dev/null
	req POST "$API/clusters" "$JOIN" "$(cluster_json c1 10.1.0.0/16 10.96.0.0/16)"
	check "$tag:reregister-after-delete" [ "$CODE" = 201 ]

	# ---- paged lists (limit/continue): the pages hold every item once, and report the
	# revision of the first page
	local all pages="" cont="" first_rv="" n=0 tok
	for i in 1 2 3 4 5; do req POST "$API/endpoints" "$ADMIN" "$(endpoint_json c2 pg$i 10.2.0.$((100 + i)))"; done
	req GET "$API/endpoints" "$ADMIN"
	all=$(out '[.items[].metadata.name]|join(",")')
	while :; do
		req GET "$API/endpoints?limit=2${cont:+&continue=$cont}" "$tok2"
		[ "$CODE" = 200 ] || break
		[ -z "$first_rv" ] && first_rv=$(out .metadata.resourceVersion)
		[ "$(out .metadata.resourceVersion)" = "$first_rv" ] || { pages="rv-changed"; break; }
		pages="$pages${pages:+,}$(out '[.items[].metadata.name]|join(",")')"
		n=$((n + 1))
		cont=$(out '.metadata.continue // empty')
		[ -n "$cont" ] && [ "$n" -lt 20 ] || break
	done
	check "$tag:paged-list-complete" [ "$pages" = "$all" -a "$n" -ge 3 ]
	req GET "$API/endpoints?limit=2" "$ADMIN"
	tok=$(out .metadata.continue)
	# one character inside the token changed (its last one may only carry padding bits, and
	# replacing it blindly left the token as it was whenever it already was that letter)
	[ "${tok:5:1}" = A ] && ch=B || ch=A
	req GET "$API/endpoints?limit=2&continue=${tok:0:5}$ch${tok:6}" "$ADMIN"
	check "$tag:paged-forged-token-400" says 400 'continue token is not valid'
	req GET "$API/clusters?limit=2&continue=$tok" "$ADMIN"
	check "$tag:paged-token-other-resource-400" [ "$CODE" = 400 ]
	req GET "$API/endpoints?limit=0" "$ADMIN"
	check "$tag:paged-limit-0-400" [ "$CODE" = 400 ]
	req GET "$API/endpoints?limit=100000" "$ADMIN"
	check "$tag:paged-large-limit-lowered" [ "$CODE" = 200 -a "$(out '.items|length')" = "$(tr ',' '\n' <<<"$all" | wc -l)" ]
	for i in 1 2 3 4 5; do req DELETE "$API/endpoints/c2.pg$i" "$ADMIN"; done

	# ---- plain HTTP gets nothing
	local port=${URL##*:}
	curl -s --max-time 5 -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$port$API/clusters" >"$T/plain" 2>/dev/null
	check "$tag:plain-http-refused" not_grep c2 "$T/plain"
}

# etcd_pki: a CA, etcd's server certificate (127.0.0.1) and the broker's client certificate
# in $T/etcd-pki, made once per test with openssl.
etcd_pki() {
	local d=$T/etcd-pki
	[ -e "$d/client.pem" ] && return 0
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca-key.pem" \
		-out "$d/ca.pem" -days 2 -subj /CN=sbs-etcd-ca 2>/dev/null || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/server-key.pem" \
		-out "$d/server.csr" -subj /CN=sbs-etcd 2>/dev/null || return 1
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
		-out "$d/server.pem" -days 2 -extfile "$d/server.ext" 2>/dev/null || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/client-key.pem" \
		-out "$d/client.csr" -subj /CN=sbs-broker 2>/dev/null || return 1
	printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
		-out "$d/client.pem" -days 2 -extfile "$d/client.ext" 2>/dev/null
}
# etcd_curl ARGS...: curl to etcd with the broker's client certificate.
etcd_curl() {
	local d=$T/etcd-pki
	curl --cacert "$d/ca.pem" --cert "$d/client.pem" --key "$d/client-key.pem" "$@"
}

# start_etcd DATADIR [CLIENT_PORT PEER_PORT]: a single-member etcd on (free) loopback
# ports that clients reach over TLS with a client certificate (--client-cert-auth); sets
# ETCD_PID, ETCD_EP, ETCD_PORTS.
start_etcd() {
	local d=$1 cp=${2:-} pp=${3:-} deadline=$((SECONDS + 20)) k=$T/etcd-pki
	etcd_pki || return 1
	if [ -z "$cp" ]; then
		cp=$(free_port) pp=$(free_port)
		[ "$cp" = "$pp" ] && pp=$(free_port)
	fi
	ETCD_PORTS="$cp $pp"
	etcd --name sbs-etcd --data-dir "$d" --listen-client-urls "https://127.0.0.1:$cp" \
		--advertise-client-urls "https://127.0.0.1:$cp" --listen-peer-urls "http://127.0.0.1:$pp" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		--initial-cluster "sbs-etcd=http://127.0.0.1:$pp" \
		--cert-file "$k/server.pem" --key-file "$k/server-key.pem" \
		--trusted-ca-file "$k/ca.pem" --client-cert-auth >"$d.log" 2>&1 &
	ETCD_PID=$!
	BRK_PIDS+=("$ETCD_PID")
	ETCD_EP=127.0.0.1:$cp
	while [ $SECONDS -lt $deadline ]; do
		kill -0 "$ETCD_PID" 2>/dev/null || return 1
		etcd_curl -sf --max-time 2 "https://$ETCD_EP/health" 2>/dev/null | grep -q true && return 0
		sleep 0.2
	done
	return 1
}
etcd_compact() {	# compacts etcd at its current revision
	local rev
	rev=$(etcd_curl -sf "https://$ETCD_EP/v3/kv/range" -d '{"key":"AA=="}' | jq -r .header.revision)
	etcd_curl -sf "https://$ETCD_EP/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null
}

# has_broker: 0 when this build has the `subagent broker` command.
has_broker() {
	"$BIN" --help 2>/dev/null | grep -qE '^[[:space:]]+broker[[:space:]]'
}

# brk_start_dir DIR [ARGS...]: a broker on a directory made by deploy-broker; starts the broker on DIR, waits (10 s deadline) for /healthz.
brk_start_dir() {
	local dir=$1; shift
	local url
	url=$(jq -r '.urls[0]' "$dir/config.json")
	"$BIN" broker --dir "$dir" "$@" >>"$dir/broker.log" 2>&1 &
	BRK_PID=$!
	BRK_PIDS+=("$BRK_PID")
	for _ in $(seq 1 100); do
		if curl -fsS --max-time 1 --cacert "$dir/ca.pem" "$url/healthz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$BRK_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "broker on $dir did not come up; its log:" >&2
	tail -n 20 "$dir/broker.log" >&2
	return 1
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
