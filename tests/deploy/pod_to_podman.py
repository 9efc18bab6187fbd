#!/usr/bin/python3
"""Translates one container of a Kubernetes pod template into `podman run` arguments, the
way a kubelet would run it on a node whose network namespace is NETNS.

Used by tests/deploy/podman_kubelet.sh to run the DaemonSet of deploy/kubernetes/ in the
netns lab. Prints the podman arguments (after `podman [global options] run`), each ended by a NUL
byte; the container's args follow the image.

What is translated, and how (only what the manifests here use; anything else is an error,
never silently dropped):
  hostNetwork: true            --network ns:/run/netns/NETNS (required: a lab node's netns is
                               its host network)
  command / args               --entrypoint (JSON), args after the image; $(VAR) expanded from
                               the container's env the way the kubelet does ($$ escapes)
  env value / fieldRef         -e NAME=VALUE; spec.nodeName = --node-name, status.hostIP and
                               status.podIP = --node-ip, metadata.name/namespace, serviceAccount
  env secretKeyRef             the file KEY of that secret's directory
  volumes secret               the secret's files copied to STAGE with defaultMode, bound ro
  volumes hostPath             bound from --host-root (kept apart per node) except the host's
                               kernel interfaces (/sys, /proc, /dev, /lib/modules), which are
                               shared; CharDevice -> --device; DirectoryOrCreate -> mkdir
  volumes emptyDir             Memory -> --tmpfs with sizeLimit; otherwise a directory in STAGE
  mountPropagation             HostToContainer -> rslave; Bidirectional -> rshared
  securityContext              capabilities drop/add, readOnlyRootFilesystem -> --read-only,
                               privileged, runAsUser/runAsGroup -> --user,
                               allowPrivilegeEscalation false -> no-new-privileges,
                               seccompProfile Unconfined -> seccomp=unconfined (RuntimeDefault
                               is podman's default profile), AppArmor annotation (only where
                               the kernel has AppArmor)
  resources                    not applied (cgroup limits are not what is tested here); noted
  probes, ports                nothing to do with hostNetwork; reported on stderr
"""
import argparse
import json
import os
import re
import shutil
import sys

import yaml

SHARED_HOST_PATHS = ("/sys", "/proc", "/dev", "/lib/modules")


def die(msg):
    print("pod_to_podman: " + msg, file=sys.stderr)
    sys.exit(2)


def note(msg):
    print("pod_to_podman: " + msg, file=sys.stderr)


def expand(s, env):
    """Kubernetes' $(VAR) expansion: defined names are replaced, $$ is a literal $, anything
    else stays as written."""
    out, i = [], 0
    while i < len(s):
        if s.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        m = re.match(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", s[i:])
        if m and m.group(1) in env:
            out.append(env[m.group(1)])
            i += m.end()
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def find_workload(docs, want):
    for d in docs:
        if not isinstance(d, dict):
            continue
        kind, name = d.get("kind"), (d.get("metadata") or {}).get("name")
        if want:
            if "%s/%s" % (kind, name) == want:
                return d
        elif kind == "DaemonSet":
            return d
    die("no %s in the manifest" % (want or "DaemonSet"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("netns")
    ap.add_argument("--object", default="", help="KIND/NAME of the workload (default: the first DaemonSet)")
    ap.add_argument("--container", default="")
    ap.add_argument("--node-name", required=True)
    ap.add_argument("--node-ip", required=True)
    ap.add_argument("--secret", action="append", default=[], help="NAME=DIR; NAME '*' for every secret")
    ap.add_argument("--host-root", required=True)
    ap.add_argument("--stage", required=True, help="directory for copied secrets and emptyDirs")
    ap.add_argument("--image", required=True)
    ap.add_argument("--name", required=True, help="container name")
    ap.add_argument("--apparmor", action="store_true", help="the kernel has AppArmor")
    ap.add_argument("--skip-missing-host-paths", action="store_true",
                    help="leave out shared hostPaths this machine lacks (a kubelet would refuse)")
    ap.add_argument("--command", nargs=argparse.REMAINDER, default=None,
                    help="replace the container's args (the entrypoint stays)")
    o = ap.parse_args()

    with open(o.manifest) as f:
        docs = list(yaml.safe_load_all(f))
    wl = find_workload(docs, o.object)
    meta = wl.get("metadata") or {}
    tpl = (wl.get("spec") or {}).get("template") or {}
    tmeta = tpl.get("metadata") or {}
    ps = tpl.get("spec") or {}
    if not ps.get("hostNetwork"):
        die("only hostNetwork pods can run in a lab node's namespace")
    containers = ps.get("containers") or []
    c = next((x for x in containers if not o.container or x.get("name") == o.container), None)
    if c is None:
        die("no container %r" % o.container)

    secrets = {}
    for s in o.secret:
        k, _, v = s.partition("=")
        secrets[k] = v
    pod_name = "%s-%s" % (meta.get("name"), o.node_name)
    fields = {
        "spec.nodeName": o.node_name, "status.hostIP": o.node_ip, "status.podIP": o.node_ip,
        "status.podIPs": o.node_ip, "metadata.name": pod_name,
        "metadata.namespace": meta.get("namespace", "default"),
        "spec.serviceAccountName": ps.get("serviceAccountName", "default"),
    }

    def secret_dir(name):
        d = secrets.get(name) or secrets.get("*")
        if not d:
            die("no directory for secret %r (--secret %s=DIR)" % (name, name))
        return d

    args = ["--rm", "--name", o.name, "--network", "ns:/run/netns/" + o.netns,
            "--hostname", o.node_name]
    # env, in order: later values may refer to earlier ones
    env = {}
    for e in c.get("env") or []:
        name = e["name"]
        if "value" in e:
            val = expand(str(e["value"]), env)
        elif "valueFrom" in e:
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                fp = vf["fieldRef"]["fieldPath"]
                if fp not in fields:
                    die("fieldRef %s not supported" % fp)
                val = fields[fp]
            elif "secretKeyRef" in vf:
                ref = vf["secretKeyRef"]
                with open(os.path.join(secret_dir(ref["name"]), ref["key"])) as f:
                    val = f.read()
            else:
                die("env %s: valueFrom %s not supported" % (name, list(vf)))
        else:
            val = ""
        env[name] = val
        args += ["-e", "%s=%s" % (name, val)]

    # volumes
    vols = {v["name"]: v for v in ps.get("volumes") or []}
    for vm in c.get("volumeMounts") or []:
        v = vols.get(vm["name"])
        if v is None:
            die("volumeMount %s names no volume" % vm["name"])
        target = vm["mountPath"]
        opts = ["ro"] if vm.get("readOnly") else ["rw"]
        prop = {"HostToContainer": "rslave", "Bidirectional": "rshared"}.get(vm.get("mountPropagation"))
        if prop:
            opts.append(prop)
        if "secret" in v:
            src = secret_dir(v["secret"]["secretName"])
            mode = v["secret"].get("defaultMode", 0o644)
            dst = os.path.join(o.stage, "secret-" + vm["name"])
            shutil.rmtree(dst, ignore_errors=True)
            os.makedirs(dst, mode=0o755)
            for fn in sorted(os.listdir(src)):
                p = os.path.join(src, fn)
                if os.path.isfile(p) and not fn.startswith("."):
                    shutil.copyfile(p, os.path.join(dst, fn))
                    os.chmod(os.path.join(dst, fn), mode)
            args += ["-v", "%s:%s:%s" % (dst, target, ",".join(["ro"] + opts[1:]))]
        elif "hostPath" in v:
            hp = v["hostPath"]
            path, typ = hp["path"], hp.get("type", "")
            shared = any(path == s or path.startswith(s + "/") for s in SHARED_HOST_PATHS)
            src = path if shared else os.path.join(o.host_root, path.lstrip("/"))
            if typ == "CharDevice":
                if not os.path.exists(path):
                    die("hostPath %s: no such device" % path)
                args += ["--device", "%s:%s" % (path, target)]
                continue
            if typ == "DirectoryOrCreate":
                os.makedirs(src, exist_ok=True)
            elif typ == "Directory" and not os.path.isdir(src):
                if shared and o.skip_missing_host_paths and not os.path.exists(src):
                    note("hostPath %s is missing on this machine: not mounted (a kubelet "
                         "would refuse to start the pod)" % path)
                    continue
                die("hostPath %s: not a directory (%s)" % (path, src))
            args += ["-v", "%s:%s:%s" % (src, target, ",".join(opts))]
        elif "emptyDir" in v:
            ed = v["emptyDir"]
            if ed.get("medium") == "Memory":
                size = ed.get("sizeLimit")
                tmpfs = target + ":rw,mode=1777" + (",size=" + str(size).replace("Mi", "m").replace("Gi", "g") if size else "")
                args += ["--tmpfs", tmpfs]
            else:
                dst = os.path.join(o.stage, "emptydir-" + vm["name"])
                shutil.rmtree(dst, ignore_errors=True)
                os.makedirs(dst, mode=0o777)
                os.chmod(dst, 0o777)
                args += ["-v", "%s:%s:%s" % (dst, target, ",".join(opts))]
        else:
            die("volume %s: kind %s not supported" % (vm["name"], [k for k in v if k != "name"]))

    # security context: the container's over the pod's
    psc = ps.get("securityContext") or {}
    sc = c.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    for cap in caps.get("drop") or []:
        args += ["--cap-drop", "all" if cap == "ALL" else cap]
    for cap in caps.get("add") or []:
        args += ["--cap-add", cap]
    if sc.get("privileged"):
        args.append("--privileged")
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    gid = sc.get("runAsGroup", psc.get("runAsGroup"))
    if uid is not None:
        args += ["--user", "%d%s" % (uid, ":%d" % gid if gid is not None else "")]
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    if seccomp == "Unconfined":
        args += ["--security-opt", "seccomp=unconfined"]
    elif seccomp != "RuntimeDefault":
        die("seccompProfile %s not supported" % seccomp)
    aa = (tmeta.get("annotations") or {}).get(
        "container.apparmor.security.beta.kubernetes.io/" + c["name"])
    if aa and o.apparmor:
        args += ["--security-opt", "apparmor=" + ("unconfined" if aa == "unconfined" else aa.split("/", 1)[-1])]
    if c.get("resources"):
        note("resources not applied: %s" % json.dumps(c["resources"], sort_keys=True))
    for p in ("livenessProbe", "readinessProbe", "startupProbe"):
        if c.get(p):
            note("%s not run: %s" % (p, json.dumps(c[p], sort_keys=True)))

    # command and args, expanded like the kubelet does
    if c.get("command"):
        cmd = [expand(str(x), env) for x in c["command"]]
        args += ["--entrypoint", json.dumps(cmd[:1])]
        argv = cmd[1:]
    else:
        argv = []
    if o.command is not None:
        argv += o.command
    else:
        argv += [expand(str(x), env) for x in c.get("args") or []]
    args.append(o.image)
    args += argv
    for a in args:
        if "\0" in a:
            die("argument with a NUL byte: %r" % a)
    sys.stdout.write("".join(a + "\0" for a in args))


if __name__ == "__main__":
    main()
