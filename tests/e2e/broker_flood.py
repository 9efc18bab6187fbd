#!/usr/bin/env python3
"""Opens many connections to a broker the way a client that wants to starve it would, holds
them, and prints what happened as one line of key=value pairs. Used by
tests/e2e/test_broker_limits.sh and tests/bench/bench_broker_limits.sh.

  body  HOST PORT CA N SECS  N TLS connections, each sends a POST with Content-Length
                              1 MiB and no token, then up to 1 MiB of body, and stays open
                              SECS seconds; answered=how many got a status line before their
                              body was sent, codes=the status codes seen
  idle  HOST PORT SRC N SECS  N plain TCP connections from address SRC (nothing sent), held
                              SECS seconds; open=how many the broker still held at the end
  quiet HOST PORT SECS        one TLS connection that sends nothing: closed_after=seconds
                              until the broker closed it (or "no")
  puts  HOST PORT CA TOKEN NAME N SIZE  creates the Endpoint NAME ("c1.gw") of cluster c1
                              (10.1.0.0/16), then PUTs it N times with a body of about SIZE
                              bytes (a padded field): codes=the status codes seen
"""
import json, os, select, socket, ssl, sys, time

MIB = 1 << 20


def tls_ctx(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # the test certificate names 127.0.0.1 and localhost
    return ctx


def body(host, port, ca, n, secs):
    ctx = tls_ctx(ca)
    conns, codes, answered = [], {}, 0
    head = (f"POST /apis/subagent.io/v1/endpoints HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {MIB}\r\n\r\n").encode()
    for _ in range(n):
        try:
            s = socket.create_connection((host, port), timeout=5)
            t = ctx.wrap_socket(s, server_hostname="localhost")
            t.sendall(head)
            conns.append(t)
        except OSError:
            pass
    # each sends its body in 64 KiB pieces, as far as the broker reads it
    chunk = b" " * 65536
    sent = {id(c): 0 for c in conns}
    deadline = time.time() + secs
    seen = set()
    while time.time() < deadline:
        progress = False
        for c in conns:
            if id(c) in seen:
                continue
            r, w, _ = select.select([c], [c] if sent[id(c)] < MIB else [], [], 0)
            if r:
                try:
                    data = c.recv(4096)
                except (OSError, ssl.SSLError):
                    data = b""
                seen.add(id(c))
                if data.startswith(b"HTTP/1."):
                    code = data.split(b" ", 2)[1].decode()
                    codes[code] = codes.get(code, 0) + 1
                    if sent[id(c)] < MIB:
                        answered += 1
                continue
            if w:
                try:
                    c.setblocking(False)
                    k = c.send(chunk)
                    sent[id(c)] += k
                    progress = True
                except (ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except OSError:
                    seen.add(id(c))
        if not progress:
            time.sleep(0.05)
    print(f"opened={len(conns)} answered={answered} sent_mib={sum(sent.values()) / MIB:.0f} "
          f"codes={','.join(f'{k}x{v}' for k, v in sorted(codes.items())) or 'none'}")
    sys.stdout.flush()
    for c in conns:
        c.close()


def idle(host, port, src, n, secs):
    conns = []
    for _ in range(n):
        try:
            s = socket.socket()
            s.bind((src, 0))
            s.settimeout(2)
            s.connect((host, port))
            conns.append(s)
        except OSError:
            s.close()
    print(f"connected={len(conns)}", end=" ")
    sys.stdout.flush()
    time.sleep(secs)
    alive = 0
    for s in conns:  # closed by the broker: readable with EOF (or reset)
        p = select.poll()
        p.register(s, select.POLLIN)
        if not p.poll(0):
            alive += 1
            continue
        try:
            if s.recv(1, socket.MSG_PEEK):
                alive += 1
        except OSError:
            pass
    print(f"open={alive}")
    for s in conns:
        s.close()


def quiet(host, port, secs):
    s = socket.create_connection((host, port), timeout=5)
    start = time.time()
    deadline = start + secs
    try:  # the broker may send a TLS alert before it closes: read to the end
        while time.time() < deadline:
            s.settimeout(max(0.01, deadline - time.time()))
            if not s.recv(4096):
                print(f"closed_after={time.time() - start:.1f}")
                return
        print("closed_after=no")
    except socket.timeout:
        print("closed_after=no")
    except OSError:
        print(f"closed_after={time.time() - start:.1f}")
    finally:
        s.close()


def endpoint(name, size, rv=None):
    cid = name.split(".")[0].split("-")[0]
    o = {"apiVersion": "subagent.io/v1", "kind": "Endpoint", "metadata": {"name": name},
         "spec": {"clusterID": cid, "hostname": "gw", "privateIP": "10.1.0.5",
                  "subnets": ["10.1.0.0/16"], "cableDriver": "ipsec", "epoch": 1, "backend": {}}}
    if rv:
        o["metadata"]["resourceVersion"] = rv
    base = len(json.dumps(o))
    if size > base:  # a field the broker does not know: kept, bounded only by size limits
        o["spec"]["padding"] = "x" * (size - base - 16)
    return json.dumps(o)


def request(host, port, ctx, token, method, path, body):
    """One request on its own connection, with Expect: 100-continue as curl sends it: a
    broker that answers before the body (401, 413, 429) gets no body. (status, body)."""
    s = ctx.wrap_socket(socket.create_connection((host, port), timeout=30),
                        server_hostname="localhost")
    data = body.encode()
    s.sendall((f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
               f"Expect: 100-continue\r\nConnection: close\r\n\r\n").encode())
    s.settimeout(1)
    got = b""
    try:
        got = s.recv(65536)
    except socket.timeout:
        pass
    if not got or got.startswith(b"HTTP/1.1 100"):
        got = b""
        s.settimeout(30)
        s.sendall(data)
    s.settimeout(30)
    while True:
        try:
            d = s.recv(65536)
        except (OSError, ssl.SSLError):
            break
        if not d:
            break
        got += d
    s.close()
    if not got.startswith(b"HTTP/1."):
        return 0, b""
    head, _, rest = got.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


def puts(host, port, ca, token, name, n, size):
    ctx = tls_ctx(ca)
    codes = {}
    st, b = request(host, port, ctx, token, "POST", "/apis/subagent.io/v1/endpoints",
                    endpoint(name, 0))
    rv = json.loads(b)["metadata"]["resourceVersion"] if st == 201 else "1"
    for _ in range(n):
        st, b = request(host, port, ctx, token, "PUT", f"/apis/subagent.io/v1/endpoints/{name}",
                        endpoint(name, size, rv))
        codes[st] = codes.get(st, 0) + 1
        if st == 200:
            try:
                rv = json.loads(b)["metadata"]["resourceVersion"]
            except ValueError:
                pass
    print("codes=" + ",".join(f"{k}x{v}" for k, v in sorted(codes.items())))


def main(a):
    if a[0] == "body":
        body(a[1], int(a[2]), a[3], int(a[4]), float(a[5]))
    elif a[0] == "idle":
        idle(a[1], int(a[2]), a[3], int(a[4]), float(a[5]))
    elif a[0] == "quiet":
        quiet(a[1], int(a[2]), float(a[3]))
    elif a[0] == "puts":
        puts(a[1], int(a[2]), a[3], a[4], a[5], int(a[6]), int(a[7]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
