#!/usr/bin/python3
"""Strict offline validation of Kubernetes manifests (no API server needed).

Every document of every file given is checked against the API models of the Kubernetes
Python client (Debian's python3-kubernetes): each object is walked recursively along the
models' `openapi_types` / `attribute_map`, so that

  - a field the API does not have is an error (the API server would drop it silently, or
    reject it with strict field validation),
  - a value of the wrong type is an error (a string where an integer belongs, a map where a
    list belongs, ...),
  - a missing required field is an error (the models' setters say which ones are),
  - apiVersion/kind must name a kind the API serves in that group and version, and the
    object must be namespaced or not as the kind is.

On top of the schema, a few rules the API server (or a kubelet) enforces and a schema
cannot express, and consistency between the objects of one set of files:

  - names and labels are valid DNS-1123 names / label values; known enums have known values;
    quantities (cpu, memory, storage) parse;
  - a workload's selector matches its pod template's labels;
  - containers have unique names, every volumeMount names a declared volume, every
    $(VAR) in command/args/env names a variable declared before it in that container
    (Kubernetes leaves an unknown one as literal text), a probe's named port is one of the
    container's ports;
  - allowPrivilegeEscalation: false together with privileged or CAP_SYS_ADMIN is refused,
    and so is Bidirectional mount propagation without privileged (both API server rules);
  - within the set: objects are not defined twice, namespaced objects live in a Namespace
    of the set, Services/PDBs/NetworkPolicies select some pod template of the set,
    serviceAccountName and persistentVolumeClaim names resolve to objects of the set;
  - Secrets and ConfigMaps: keys are valid ([-._a-zA-Z0-9]+), a Secret's `data` values are
    base64 (the API server decodes them), no key is both in data and stringData; a secret
    volume's items and a secretKeyRef that name a Secret of the set name keys it has (unless
    optional); with --require-secrets every Secret a pod template mounts or refers to
    (not optional) must be in the set.

Usage: k8s_validate.py [--require-secrets] FILE...   (all files form one set; exit 0 when
all are valid)
Prints one line per object; errors as "FILE: doc N KIND/NAME: PATH: MESSAGE".
"""
import base64
import binascii
import datetime
import difflib
import inspect
import re
import sys

import yaml
from kubernetes import client
from kubernetes.client import models

CFG = client.Configuration()
CFG.client_side_validation = True

# apiVersion group -> the prefix of the client's API classes (CoreV1Api, AppsV1Api, ...)
GROUPS = {
    "": "Core", "apps": "Apps", "batch": "Batch", "policy": "Policy",
    "autoscaling": "Autoscaling", "networking.k8s.io": "Networking",
    "rbac.authorization.k8s.io": "RbacAuthorization", "storage.k8s.io": "Storage",
    "scheduling.k8s.io": "Scheduling", "coordination.k8s.io": "Coordination",
    "discovery.k8s.io": "Discovery", "node.k8s.io": "Node",
    "apiextensions.k8s.io": "Apiextensions",
    "admissionregistration.k8s.io": "Admissionregistration",
    "certificates.k8s.io": "Certificates",
}

# Fields the client types as `object` that are IntOrString in the API.
INT_OR_STRING = {"port", "target_port", "max_unavailable", "max_surge", "min_available"}

# Enums the API server checks and the 1.22 client models do not: (model, attribute).
ENUMS = {
    ("V1ContainerPort", "protocol"): {"TCP", "UDP", "SCTP"},
    ("V1ServicePort", "protocol"): {"TCP", "UDP", "SCTP"},
    ("V1NetworkPolicyPort", "protocol"): {"TCP", "UDP", "SCTP"},
    ("V1Container", "image_pull_policy"): {"Always", "IfNotPresent", "Never"},
    ("V1Container", "termination_message_policy"): {"File", "FallbackToLogsOnError"},
    ("V1PodSpec", "restart_policy"): {"Always", "OnFailure", "Never"},
    ("V1PodSpec", "dns_policy"): {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"},
    ("V1PodSpec", "preemption_policy"): {"PreemptLowerPriority", "Never"},
    ("V1DeploymentStrategy", "type"): {"Recreate", "RollingUpdate"},
    ("V1DaemonSetUpdateStrategy", "type"): {"OnDelete", "RollingUpdate"},
    ("V1StatefulSetUpdateStrategy", "type"): {"OnDelete", "RollingUpdate"},
    ("V1StatefulSetSpec", "pod_management_policy"): {"OrderedReady", "Parallel"},
    ("V1HostPathVolumeSource", "type"): {"", "DirectoryOrCreate", "Directory", "FileOrCreate",
                                         "File", "Socket", "CharDevice", "BlockDevice"},
    ("V1ServiceSpec", "type"): {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"},
    ("V1ServiceSpec", "external_traffic_policy"): {"Cluster", "Local"},
    ("V1ServiceSpec", "session_affinity"): {"ClientIP", "None"},
    ("V1NodeSelectorRequirement", "operator"): {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"},
    ("V1LabelSelectorRequirement", "operator"): {"In", "NotIn", "Exists", "DoesNotExist"},
    ("V1Toleration", "operator"): {"Exists", "Equal"},
    ("V1Toleration", "effect"): {"NoSchedule", "PreferNoSchedule", "NoExecute"},
    ("V1SeccompProfile", "type"): {"RuntimeDefault", "Unconfined", "Localhost"},
    ("V1VolumeMount", "mount_propagation"): {"None", "HostToContainer", "Bidirectional"},
    ("V1EmptyDirVolumeSource", "medium"): {"", "Memory", "HugePages"},
    ("V1HTTPGetAction", "scheme"): {"HTTP", "HTTPS"},
    ("V1PersistentVolumeClaimSpec", "volume_mode"): {"Filesystem", "Block"},
    ("V1ObjectFieldSelector", "field_path"): {
        "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
        "spec.serviceAccountName", "status.hostIP", "status.podIP", "status.podIPs"},
}
ENUM_LISTS = {
    ("V1PersistentVolumeClaimSpec", "access_modes"): {"ReadWriteOnce", "ReadOnlyMany",
                                                      "ReadWriteMany", "ReadWriteOncePod"},
    ("V1NetworkPolicySpec", "policy_types"): {"Ingress", "Egress"},
}

QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
ENV_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
WORKLOADS = {"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"}
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class Errors:
    def __init__(self):
        self.list = []

    def add(self, where, msg):
        self.list.append("%s: %s" % (where, msg))

    def __len__(self):
        return len(self.list)


_required_cache = {}


def required_attrs(cls):
    """The attributes whose setter refuses None: the model's required fields."""
    if cls not in _required_cache:
        req = set()
        for attr in cls.openapi_types:
            prop = getattr(cls, attr, None)
            if isinstance(prop, property) and prop.fset is not None:
                if "must not be `None`" in inspect.getsource(prop.fset):
                    req.add(attr)
        _required_cache[cls] = req
    return _required_cache[cls]


def type_name(v):
    return {dict: "a map", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def check(value, typ, path, errs, owner=None, attr=None):
    """Checks value against the client type string typ; returns a model object or plain
    value for the parent's constructor."""
    if value is None:
        errs.add(path, "null value (omit the field instead)")
        return None
    m = re.match(r"^list\[(.*)\]$", typ)
    if m:
        if not isinstance(value, list):
            errs.add(path, "want a list, got %s" % type_name(value))
            return None
        allowed = ENUM_LISTS.get((owner, attr))
        out = []
        for i, v in enumerate(value):
            if allowed is not None and v not in allowed:
                errs.add("%s[%d]" % (path, i), "%r is not one of %s" % (v, sorted(allowed)))
            out.append(check(v, m.group(1), "%s[%d]" % (path, i), errs))
        return out
    m = re.match(r"^dict\(([^,]+), (.*)\)$", typ)
    if m:
        if not isinstance(value, dict):
            errs.add(path, "want a map, got %s" % type_name(value))
            return None
        out = {}
        quantities = (owner, attr) in {("V1ResourceRequirements", "limits"),
                                      ("V1ResourceRequirements", "requests")}
        for k, v in value.items():
            if not isinstance(k, str):
                errs.add(path, "key %r is not a string" % (k,))
                continue
            if quantities:
                out[k] = check_quantity(v, "%s.%s" % (path, k), errs)
            else:
                out[k] = check(v, m.group(2), "%s.%s" % (path, k), errs)
        return out
    if typ == "str":
        if (owner, attr) in {("V1EmptyDirVolumeSource", "size_limit")}:
            return check_quantity(value, path, errs)
        if not isinstance(value, str):
            errs.add(path, "want a string, got %s %r" % (type_name(value), value))
            return None
        allowed = ENUMS.get((owner, attr))
        if allowed is not None and value not in allowed:
            errs.add(path, "%r is not one of %s" % (value, sorted(allowed)))
        return value
    if typ == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            errs.add(path, "want an integer, got %s %r" % (type_name(value), value))
            return None
        return value
    if typ == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errs.add(path, "want a number, got %s %r" % (type_name(value), value))
            return None
        return value
    if typ == "bool":
        if not isinstance(value, bool):
            errs.add(path, "want true or false, got %s %r" % (type_name(value), value))
            return None
        return value
    if typ in ("datetime", "date"):
        if not isinstance(value, (str, datetime.date)):
            errs.add(path, "want a timestamp, got %s" % type_name(value))
        return value
    if typ == "object":
        if attr in INT_OR_STRING:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                errs.add(path, "want an integer or a string, got %s %r" % (type_name(value), value))
                return None
            if isinstance(value, str) and not (re.match(r"^\d+%$", value) or
                                               LABEL_NAME.match(value)):
                errs.add(path, "%r is neither a port name nor a percentage" % value)
        return value
    cls = getattr(models, typ, None)
    if cls is None:
        errs.add(path, "internal: unknown model type %s" % typ)
        return None
    if not isinstance(value, dict):
        errs.add(path, "want a map (%s), got %s %r" % (typ, type_name(value), value))
        return None
    by_json = {j: a for a, j in cls.attribute_map.items()}
    before = len(errs)
    kwargs = {}
    for k, v in value.items():
        a = by_json.get(k)
        if a is None:
            close = difflib.get_close_matches(str(k), list(by_json), n=1)
            errs.add("%s.%s" % (path, k), "unknown field for %s%s" % (
                typ, " (did you mean %s?)" % close[0] if close else ""))
            continue
        kwargs[a] = check(v, cls.openapi_types[a], "%s.%s" % (path, k), errs, typ, a)
    for a in sorted(required_attrs(cls)):
        if a not in value and cls.attribute_map[a] not in value:
            errs.add(path, "missing required field %s (%s)" % (cls.attribute_map[a], typ))
    if len(errs) != before:
        return None
    try:
        return cls(local_vars_configuration=CFG, **kwargs)
    except (ValueError, TypeError) as e:
        errs.add(path, "%s: %s" % (typ, e))
        return None


def check_quantity(v, path, errs):
    if isinstance(v, bool) or not isinstance(v, (int, float, str)) or not QUANTITY.match(str(v)):
        errs.add(path, "%r is not a quantity" % (v,))
    return str(v)


def kind_info(api_version, kind):
    """(model class, namespaced) for apiVersion/kind, or raises ValueError."""
    group, _, version = api_version.rpartition("/")
    if group not in GROUPS:
        raise ValueError("unknown API group %r" % group)
    if not re.match(r"^v\d+((alpha|beta)\d+)?$", version):
        raise ValueError("bad API version %r" % version)
    api = getattr(client, "%s%sApi" % (GROUPS[group], version.capitalize()), None)
    if api is None:
        raise ValueError("the API has no %s" % api_version)
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()
    if hasattr(api, "create_namespaced_" + snake):
        namespaced = True
    elif hasattr(api, "create_" + snake):
        namespaced = False
    else:
        raise ValueError("%s has no kind %r" % (api_version, kind))
    cls = getattr(models, version.capitalize() + kind, None)
    if cls is None:
        raise ValueError("no model for %s %s" % (api_version, kind))
    return cls, namespaced


def label_errors(labels, where, errs):
    for k, v in (labels or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            continue  # the schema walk reported it
        prefix, _, name = k.rpartition("/")
        if (prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix))) or \
                len(name) > 63 or not LABEL_NAME.match(name):
            errs.add(where, "bad label key %r" % k)
        if len(v) > 63 or not LABEL_VALUE.match(v):
            errs.add(where, "bad label value %r for %s" % (v, k))


def selector_matches(sel, labels):
    """A LabelSelector (dict form) against a label map."""
    if not isinstance(sel, dict):
        return False
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def pod_template(obj):
    spec = obj.get("spec") or {}
    if obj.get("kind") in WORKLOADS:
        return spec.get("template") or {}
    if obj.get("kind") == "Pod":
        return obj
    return None


def check_pod_spec(ps, where, errs, claim_templates=()):
    ps = ps or {}
    vols = [v.get("name") for v in ps.get("volumes") or []]
    for n in set(vols):
        if vols.count(n) > 1:
            errs.add(where + ".volumes", "volume %r defined twice" % n)
    vols += list(claim_templates)  # a StatefulSet's claims are volumes too
    containers = (ps.get("initContainers") or []) + (ps.get("containers") or [])
    names = [c.get("name") for c in containers]
    for n in set(names):
        if names.count(n) > 1:
            errs.add(where, "container name %r used twice" % n)
    for c in containers:
        cw = "%s.containers[%s]" % (where, c.get("name"))
        for vm in c.get("volumeMounts") or []:
            if vm.get("name") not in vols:
                errs.add(cw, "volumeMount %r names no volume of the pod" % vm.get("name"))
        # $(VAR): only variables declared earlier in env are expanded
        declared = []
        for e in c.get("env") or []:
            for ref in ENV_REF.findall(str(e.get("value", ""))):
                if ref not in declared:
                    errs.add(cw, "env %s refers to $(%s), not declared before it" % (e.get("name"), ref))
            declared.append(e.get("name"))
        for field in ("command", "args"):
            for s in c.get(field) or []:
                for ref in ENV_REF.findall(str(s)):
                    if ref not in declared:
                        errs.add(cw, "%s refers to $(%s), which is not in env" % (field, ref))
        port_names = [p.get("name") for p in c.get("ports") or [] if p.get("name")]
        for pr in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.get(pr) or {}
            for act in ("httpGet", "tcpSocket"):
                port = (probe.get(act) or {}).get("port")
                if isinstance(port, str) and port not in port_names:
                    errs.add(cw, "%s port %r is not a named port of the container" % (pr, port))
        for p in c.get("ports") or []:
            if ps.get("hostNetwork") and "hostPort" in p and p["hostPort"] != p.get("containerPort"):
                errs.add(cw, "hostNetwork: hostPort must equal containerPort")
        sc = c.get("securityContext") or {}
        caps = [str(x).upper().replace("CAP_", "") for x in (sc.get("capabilities") or {}).get("add") or []]
        if sc.get("allowPrivilegeEscalation") is False and (sc.get("privileged") or "SYS_ADMIN" in caps):
            errs.add(cw, "allowPrivilegeEscalation: false is refused together with privileged or SYS_ADMIN")
        for vm in c.get("volumeMounts") or []:
            if vm.get("mountPropagation") == "Bidirectional" and not sc.get("privileged"):
                errs.add(cw, "Bidirectional mount propagation needs a privileged container")
    if ps.get("dnsPolicy") == "ClusterFirstWithHostNet" and not ps.get("hostNetwork"):
        errs.add(where, "dnsPolicy ClusterFirstWithHostNet without hostNetwork")


def check_data_keys(d, where, errs):
    """Secret/ConfigMap keys and a Secret's base64 values."""
    keys = {}
    for field in ("data", "stringData", "binaryData"):
        for k, v in (d.get(field) or {}).items():
            if len(k) > 253 or not CONFIG_KEY.match(k) or k in (".", ".."):
                errs.add(where, "%s key %r is not a valid key ([-._a-zA-Z0-9]+)" % (field, k))
            if k in keys:
                errs.add(where, "key %r is both in %s and %s" % (k, keys[k], field))
            keys[k] = field
            if field in ("binaryData",) or (field == "data" and d.get("kind") == "Secret"):
                try:
                    base64.b64decode(v, validate=True)
                except (binascii.Error, ValueError, TypeError):
                    errs.add(where, "%s.%s is not base64" % (field, k))


def secret_refs(ps):
    """(secretName, [keys], optional, what) for every Secret a pod spec refers to."""
    refs = []
    for v in ps.get("volumes") or []:
        sv = v.get("secret")
        if isinstance(sv, dict) and sv.get("secretName"):
            refs.append((sv["secretName"], [it.get("key") for it in sv.get("items") or []],
                         bool(sv.get("optional")), "volume %s" % v.get("name")))
    for c in (ps.get("initContainers") or []) + (ps.get("containers") or []):
        for e in c.get("env") or []:
            ref = ((e.get("valueFrom") or {}).get("secretKeyRef")) or None
            if isinstance(ref, dict) and ref.get("name"):
                refs.append((ref["name"], [ref.get("key")], bool(ref.get("optional")),
                             "container %s env %s" % (c.get("name"), e.get("name"))))
        for ef in c.get("envFrom") or []:
            ref = ef.get("secretRef")
            if isinstance(ref, dict) and ref.get("name"):
                refs.append((ref["name"], [], bool(ref.get("optional")),
                             "container %s envFrom" % c.get("name")))
    return refs


def validate(files, require_secrets=False):
    errs = Errors()
    objs = []  # (file, index, dict)
    for f in files:
        try:
            with open(f) as fh:
                docs = list(yaml.safe_load_all(fh))
        except (OSError, yaml.YAMLError) as e:
            errs.add(f, "cannot parse: %s" % e)
            continue
        n = 0
        for i, d in enumerate(docs):
            if d is None:
                continue
            n += 1
            objs.append((f, i + 1, d))
        if n == 0:
            errs.add(f, "no objects")

    seen = {}
    sound = []  # the objects that passed the schema walk: the rules below rely on it
    namespaces = {d.get("metadata", {}).get("name") for _, _, d in objs
                  if isinstance(d, dict) and d.get("kind") == "Namespace"}
    for f, i, d in objs:
        where = "%s: doc %d" % (f, i)
        if not isinstance(d, dict):
            errs.add(where, "not a map")
            continue
        kind, av = d.get("kind"), d.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(av, str):
            errs.add(where, "missing apiVersion or kind")
            continue
        meta = d.get("metadata") if isinstance(d.get("metadata"), dict) else {}
        name = meta.get("name")
        where = "%s: doc %d %s/%s" % (f, i, kind, name)
        try:
            cls, namespaced = kind_info(av, kind)
        except ValueError as e:
            errs.add(where, str(e))
            continue
        before = len(errs)
        check(d, cls.__name__, where + " ", errs)
        if len(errs) != before:
            continue
        if not isinstance(name, str) or not name:
            errs.add(where, "metadata.name is required")
            continue
        sound.append((f, i, d))
        rule = DNS1123_LABEL if kind in ("Namespace", "Service") else DNS1123_SUBDOMAIN
        if len(name) > (63 if rule is DNS1123_LABEL else 253) or not rule.match(name):
            errs.add(where, "metadata.name %r is not a valid DNS-1123 name" % name)
        ns = meta.get("namespace")
        if namespaced and not ns:
            errs.add(where, "namespaced kind without metadata.namespace")
        if not namespaced and ns:
            errs.add(where, "cluster-scoped kind with metadata.namespace")
        if namespaced and ns and ns not in namespaces:
            errs.add(where, "namespace %r is not created by this set of manifests" % ns)
        key = (av.rpartition("/")[0], kind, ns, name)
        if key in seen:
            errs.add(where, "defined twice (first in %s)" % seen[key])
        seen[key] = "%s doc %d" % (f, i)
        label_errors(meta.get("labels"), where + " metadata.labels", errs)
        if kind in ("Secret", "ConfigMap"):
            check_data_keys(d, where, errs)
        tpl = pod_template(d)
        if tpl is not None and isinstance(tpl, dict):
            tmeta = tpl.get("metadata") or {}
            label_errors(tmeta.get("labels"), where + " template labels", errs)
            claims = [(t.get("metadata") or {}).get("name")
                      for t in (d.get("spec") or {}).get("volumeClaimTemplates") or []
                      if isinstance(t, dict)] if kind == "StatefulSet" else []
            check_pod_spec(tpl.get("spec"), where + " pod", errs, claims)
            sel = (d.get("spec") or {}).get("selector")
            if kind in WORKLOADS and not selector_matches(sel, tmeta.get("labels")):
                errs.add(where, "spec.selector does not match the pod template's labels")

    # references between the objects of the set
    def in_ns(kind, ns):
        return [(d, f) for f, _, d in sound if d.get("kind") == kind and
                (d.get("metadata") or {}).get("namespace") == ns]

    templates = [(d, pod_template(d)) for _, _, d in sound if pod_template(d) is not None]
    for f, i, d in sound:
        kind = d.get("kind")
        meta = d.get("metadata") or {}
        ns = meta.get("namespace")
        where = "%s: doc %d %s/%s" % (f, i, kind, meta.get("name"))
        spec = d.get("spec") or {}
        pods_here = [(w, t) for w, t in templates if (w.get("metadata") or {}).get("namespace") == ns]
        if kind == "Service" and spec.get("selector"):
            if not any(selector_matches({"matchLabels": spec["selector"]},
                                        (t.get("metadata") or {}).get("labels")) for _, t in pods_here):
                errs.add(where, "selector matches no pod template of this set")
            for p in spec.get("ports") or []:
                tp = p.get("targetPort")
                if isinstance(tp, str):
                    ok = any(tp in [cp.get("name") for c in (t.get("spec") or {}).get("containers") or []
                                    for cp in c.get("ports") or []]
                             for _, t in pods_here if selector_matches(
                                 {"matchLabels": spec["selector"]}, (t.get("metadata") or {}).get("labels")))
                    if not ok:
                        errs.add(where, "targetPort %r is no named port of the selected pods" % tp)
        if kind == "PodDisruptionBudget" or kind == "NetworkPolicy":
            sel = spec.get("selector") if kind == "PodDisruptionBudget" else spec.get("podSelector")
            if not any(selector_matches(sel, (t.get("metadata") or {}).get("labels")) for _, t in pods_here):
                errs.add(where, "selector matches no pod template of this set")
        tpl = pod_template(d)
        if tpl is not None and isinstance(tpl, dict):
            ps = tpl.get("spec") or {}
            sa = ps.get("serviceAccountName")
            if sa and sa not in [(x.get("metadata") or {}).get("name") for x, _ in in_ns("ServiceAccount", ns)]:
                errs.add(where, "serviceAccountName %r is not a ServiceAccount of this set" % sa)
            claims = [(x.get("metadata") or {}).get("name") for x, _ in in_ns("PersistentVolumeClaim", ns)]
            claims += [(t.get("metadata") or {}).get("name") for t in spec.get("volumeClaimTemplates") or []]
            for v in ps.get("volumes") or []:
                pvc = (v.get("persistentVolumeClaim") or {}).get("claimName")
                if pvc and pvc not in claims:
                    errs.add(where, "claimName %r is not a PersistentVolumeClaim of this set" % pvc)
            secrets = {(x.get("metadata") or {}).get("name"): x for x, _ in in_ns("Secret", ns)}
            for sname, keys, optional, what in secret_refs(ps):
                sec = secrets.get(sname)
                if sec is None:
                    if require_secrets and not optional:
                        errs.add(where, "%s: Secret %r is not in this set" % (what, sname))
                    continue
                have = set(sec.get("data") or {}) | set(sec.get("stringData") or {})
                for k in keys:
                    if k not in have and not optional:
                        errs.add(where, "%s: Secret %r has no key %r" % (what, sname, k))
            if kind == "StatefulSet":
                svc = spec.get("serviceName")
                if svc and svc not in [(x.get("metadata") or {}).get("name") for x, _ in in_ns("Service", ns)]:
                    errs.add(where, "serviceName %r is not a Service of this set" % svc)
    return objs, errs


def main(argv):
    require = len(argv) > 1 and argv[1] == "--require-secrets"
    files = argv[2:] if require else argv[1:]
    if not files or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 2
    objs, errs = validate(files, require)
    errors = errs.list
    for f, i, d in objs:
        if isinstance(d, dict):
            print("checked %s: doc %d %s %s/%s" % (f, i, d.get("apiVersion"), d.get("kind"),
                                                  (d.get("metadata") or {}).get("name")))
    for e in errors:
        print("error: " + e)
    print("%d objects, %d errors" % (len(objs), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
