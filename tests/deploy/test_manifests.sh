#!/bin/bash
# Strict offline validation of deploy/kubernetes/*.yaml (there is no API server here):
# tests/deploy/k8s_validate.py walks every object against the Kubernetes API models of
# Debian's python3-kubernetes (unknown fields, wrong types, missing required fields, unknown
# kinds) plus API-server rules and references within a set of files. Self-tests first: a
# manifest with one defect each must be rejected for that defect, so the validator cannot
# pass vacuously. Then: every flag the manifests pass to subagent exists in its --help, and
# the image they name is the one `make image` builds.
set -eu
source "$(dirname "$0")/../lib.sh"
T_NAME=manifests
PY=/usr/bin/python3	# Debian's python, where python3-kubernetes lives
VALIDATE=$ROOT/tests/deploy/k8s_validate.py
K8S=$ROOT/deploy/kubernetes
TMP=$(mktemp -d /tmp/sadep-manifests.XXXXXX)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

if ! $PY -c 'import kubernetes.client, yaml' 2>/dev/null; then
	t_skip validator "python3-kubernetes or python3-yaml missing: run make deps"
	t_done
fi

# ---- self-tests ----
cat >"$TMP/ns.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: selftest
EOF
# good.yaml: a small, valid Deployment + Service; each bad case is one edit of it.
cat >"$TMP/good.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: selftest
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: example/web:1
          args: ["--node", "$(NODE_NAME)"]
          env:
            - name: NODE_NAME
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
          volumeMounts:
            - name: data
              mountPath: /data
      volumes:
        - name: data
          emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: selftest
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: http
EOF

# selftest NAME EXPECTED-MESSAGE SED-EXPRESSION: good.yaml edited by the sed expression must
# be rejected with a message containing EXPECTED-MESSAGE.
selftest() {
	local name=$1 want=$2 edit=$3 out
	sed -e "$edit" "$TMP/good.yaml" >"$TMP/$name.yaml"
	if cmp -s "$TMP/good.yaml" "$TMP/$name.yaml"; then
		t_fail "selftest_$name" "the edit changed nothing"
		return
	fi
	if out=$($PY "$VALIDATE" "$TMP/ns.yaml" "$TMP/$name.yaml" 2>&1); then
		t_fail "selftest_$name" "accepted"
		echo "$out" >&2
	elif grep -q -- "$want" <<<"$out"; then
		t_pass "selftest_$name"
	else
		t_fail "selftest_$name" "rejected, but not for '$want'"
		echo "$out" >&2
	fi
}

if out=$($PY "$VALIDATE" "$TMP/ns.yaml" "$TMP/good.yaml" 2>&1); then
	t_pass selftest_valid_accepted
else
	t_fail selftest_valid_accepted
	echo "$out" >&2
fi
selftest unknown_field "unknown field for V1Container" 's/^          image: example\/web:1/&\n          imagePullPolicyy: Always/'
selftest unknown_top_field "unknown field for V1Deployment" 's/^spec:$/specs:\n  paused: false\nspec:/'
selftest wrong_type_int "want an integer, got a string" 's/replicas: 2/replicas: "2"/'
selftest wrong_type_list "want a list, got a map" 's/^      containers:$/      containers:\n        not: a-list\n      initContainers:/'
selftest wrong_type_bool "want true or false" 's/^      volumes:$/      hostNetwork: "yes"\n      volumes:/'
selftest missing_required "missing required field name (V1Container)" 's/^        - name: web$/        - tty: false/'
selftest missing_selector "missing required field selector" '/^  selector:$/,/^      app: web$/d'
selftest unknown_kind "apps/v1 has no kind" 's/^kind: Deployment/kind: Deploymnet/'
selftest wrong_group "has no kind 'Service'" '0,/^apiVersion: v1$/s//apiVersion: apps\/v1/'
selftest bad_enum "is not one of" 's/^          image: example\/web:1/&\n          imagePullPolicy: Sometimes/'
selftest bad_quantity "is not a quantity" 's/memory: 16Mi/memory: 16 megs/'
selftest selector_mismatch "does not match the pod template" '0,/      app: web/s//      app: webb/'
selftest undefined_env_ref "refers to \$(NODE_IP)" 's/\$(NODE_NAME)/$(NODE_IP)/'
selftest missing_volume "names no volume" 's/- name: data$/- name: other/; s/^        - name: other$/        - name: data/'
selftest probe_port "is not a named port" 's/port: http$/port: metrics/'
selftest service_selector "matches no pod template" 's/^    app: web$/    app: nothing/'
selftest bad_name "not a valid DNS-1123 name" '0,/name: web$/s//name: Web_1/'
selftest no_namespace "namespaced kind without metadata.namespace" '0,/^  namespace: selftest$/{/^  namespace: selftest$/d}'
selftest escalation_sys_admin "allowPrivilegeEscalation: false is refused" \
	's/^          image: example\/web:1/&\n          securityContext:\n            allowPrivilegeEscalation: false\n            capabilities:\n              add: [SYS_ADMIN]/'
selftest null_value "null value" 's/replicas: 2/replicas:/'

# A defect in one document of a multi-document file is found (not only in the first).
sed 's/targetPort: http/targetPort: [http]/' "$TMP/good.yaml" >"$TMP/second_doc.yaml"
if $PY "$VALIDATE" "$TMP/ns.yaml" "$TMP/second_doc.yaml" >"$TMP/out" 2>&1; then
	t_fail selftest_second_document "accepted"
elif grep -q 'Service/web.*want an integer or a string' "$TMP/out"; then
	t_pass selftest_second_document
else
	t_fail selftest_second_document "wrong message"; cat "$TMP/out" >&2
fi

# ---- the real manifests: each file with the namespace, as an operator applies them ----
for f in "$K8S"/*.yaml; do
	[ "$(basename "$f")" = namespace.yaml ] && continue
	n=$(basename "$f" .yaml)
	if $PY "$VALIDATE" "$K8S/namespace.yaml" "$f" >"$TMP/$n.out" 2>&1; then
		t_pass "valid_$n ($(tail -n1 "$TMP/$n.out"))"
	else
		t_fail "valid_$n"
		cat "$TMP/$n.out" >&2
	fi
done
# the two brokers are alternatives: applied together they would collide
if $PY "$VALIDATE" "$K8S/namespace.yaml" "$K8S/broker-sqlite.yaml" "$K8S/broker-etcd.yaml" \
	>"$TMP/both.out" 2>&1; then
	t_fail brokers_are_alternatives "sqlite and etcd variants applied together were accepted"
elif grep -q 'defined twice' "$TMP/both.out"; then
	t_pass brokers_are_alternatives
else
	t_fail brokers_are_alternatives; cat "$TMP/both.out" >&2
fi

# ---- what the manifests ask of the binary and the image ----
# Every --flag in the args of a subagent container must be in that subcommand's --help.
# Flags another change adds are listed in PENDING: reported as SKIP until the binary
# has them, then checked like the rest.
PENDING=""
if [ -x "$SUBAGENT" ]; then
	$PY - "$K8S"/*.yaml >"$TMP/flags" <<-'EOF'
		import sys, yaml
		for f in sys.argv[1:]:
		    for d in yaml.safe_load_all(open(f)):
		        spec = ((d or {}).get("spec") or {}).get("template", {}).get("spec") or {}
		        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
		            if not str(c.get("image", "")).startswith("localhost/subagent:") or c.get("command"):
		                continue
		            args = c.get("args") or []
		            for a in args[1:]:
		                if a.startswith("--"):
		                    print(args[0], a, f.rsplit("/", 1)[-1][:-5] + "_" + d["metadata"]["name"])
	EOF
	while read -r sub flag obj; do
		if "$SUBAGENT" "$sub" --help 2>&1 | grep -qE -- "(^|[^a-z-])$flag([^a-z-]|\$)"; then
			t_pass "flag_${obj}_${sub}_${flag#--}"
		elif [[ " $PENDING " == *" $flag "* ]]; then
			t_skip "flag_${obj}_${sub}_${flag#--}" "'subagent $sub' has no $flag yet; another change adds it"
		else
			t_fail "flag_${obj}_${sub}_${flag#--}" "'subagent $sub --help' does not know $flag"
		fi
	done <"$TMP/flags"
	version=$("$SUBAGENT" version | awk '{print $2; exit}')
	bad=$(grep -ho 'image: localhost/subagent:[^ ]*' "$K8S"/*.yaml | sort -u |
		grep -v "image: localhost/subagent:$version\$" || true)
	if [ -z "$bad" ]; then
		t_pass "image_tag_is_version_$version"
	else
		t_fail "image_tag_is_version_$version" "manifests name $bad"
	fi
else
	t_skip flags "build/subagent not built"
fi
t_done
