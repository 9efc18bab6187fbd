#!/usr/bin/env python3
"""Records election heartbeats off the node network and replays them later, the way an
attacker on that network would (tests/e2e/test_election_replay.sh).

  record PORT SRC FLAGBIT N OUTDIR   saves the first N datagrams from address SRC whose
                                     flags byte (offset 5) has FLAGBIT set, as OUTDIR/0, 1...
                                     (OUTDIR/ready once it listens)
  replay BCAST PORT DIR EVERY        broadcasts DIR/0, DIR/1, ... one every EVERY seconds
"""
import os, socket, sys, time


def record(port, src, bit, n, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    open(os.path.join(out, "ready"), "w").close()
    got = 0
    while got < n:
        data, addr = s.recvfrom(2048)
        if addr[0] == src and len(data) > 5 and data[5] & (1 << bit):
            with open(os.path.join(out, str(got)), "wb") as f:
                f.write(data)
            got += 1


def replay(bcast, port, d, every):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    i = 0
    while os.path.exists(os.path.join(d, str(i))):
        with open(os.path.join(d, str(i)), "rb") as f:
            s.sendto(f.read(), (bcast, port))
        print(f"replayed {i}", flush=True)
        i += 1
        time.sleep(every)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "record":
        record(int(a[1]), a[2], int(a[3]), int(a[4]), a[5])
    elif a and a[0] == "replay":
        replay(a[1], int(a[2]), a[3], float(a[4]))
    else:
        sys.exit(__doc__)
