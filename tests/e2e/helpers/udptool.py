#!/usr/bin/python3
"""UDP echo server and datagram clients for local_port_udp.sh (stdlib only).

  echo HOST PORT LOGFILE
      echoes every datagram to its sender; appends "LEN from ADDR" to LOGFILE.
  sizes HOST PORT SIZE...
      one socket sends one random datagram of each SIZE, then receives as many:
      each reply must be exactly one of the datagrams sent (boundaries kept),
      every one must come back once, from HOST:PORT.
      Prints "sizes ok" or "sizes FAIL: why".
  pair HOST PORT
      two sockets, each sends its own datagrams (3 each, interleaved), each
      must get back exactly its own ones. Prints "pair ok" or "pair FAIL: why".
"""
import os
import select
import socket
import sys
import time

IO_TIMEOUT = 15


def out(*a):
    print(*a, flush=True)


def _sock(host):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return s


def echo(host, port, logfile):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, int(port)))
    while True:
        d, a = s.recvfrom(65536)
        with open(logfile, "a") as f:
            f.write(f"{len(d)} from {a[0]}:{a[1]}\n")
        try:
            s.sendto(d, a)
        except OSError:
            pass


def _recv_n(socks, n_total, deadline):
    """Receives until n_total datagrams arrived over all socks or deadline; returns {sock: [(data, addr)]}."""
    got = {s: [] for s in socks}
    count = 0
    while count < n_total:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select(socks, [], [], left)
        for s in r:
            d, a = s.recvfrom(65536)
            got[s].append((d, a))
            count += 1
    return got


def check_echoes(tag, s, sent, got, host, port):
    """Each datagram sent came back once, whole, from port (and host, unless None)."""
    # a stray extra datagram would also be wrong: look briefly for one more
    # (bounded; absence is the normal case and costs at most 0.3 s)
    r, _, _ = select.select([s], [], [], 0.3)
    if r:
        got.append(s.recvfrom(65536))
    lens = [len(d) for d, _ in got]
    if len(got) != len(sent):
        out(f"{tag} FAIL: sent {len(sent)} datagrams {[len(d) for d in sent]}, received {len(got)} {lens}")
        return 1
    left = list(sent)
    for d, a in got:
        if d not in left:
            out(f"{tag} FAIL: a {len(d)}-byte reply matches no datagram sent (received sizes {lens})")
            return 1
        left.remove(d)
        if a[1] != port or (host is not None and a[0] != host):
            out(f"{tag} FAIL: reply came from {a}, not from {host or 'port'}:{port}")
            return 1
    out(f"{tag} ok: {lens}")
    return 0


def sizes(host, port, *szs):
    port = int(port)
    s = _sock(host)
    sent = [os.urandom(int(n)) for n in szs]
    for d in sent:
        s.sendto(d, (host, port))
    got = _recv_n([s], len(sent), time.monotonic() + IO_TIMEOUT)[s]
    return check_echoes("sizes", s, sent, got, None, port)


def pair(host, port):
    port = int(port)
    a, b = _sock(host), _sock(host)
    want = {a: [], b: []}
    for i in range(3):
        for s, name in ((a, "A"), (b, "B")):
            d = f"socket {name} datagram {i} ".encode() + os.urandom(8).hex().encode()
            want[s].append(d)
            s.sendto(d, (host, port))
    got = _recv_n([a, b], 6, time.monotonic() + IO_TIMEOUT)
    for s, name in ((a, "A"), (b, "B")):
        datas = sorted(d for d, _ in got[s])
        if datas != sorted(want[s]):
            out(f"pair FAIL: socket {name} received {[d[:20] for d in datas]}, wanted its own 3 datagrams")
            return 1
    out("pair ok")
    return 0


def main():
    cmds = {"echo": echo, "sizes": sizes, "pair": pair}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    return cmds[sys.argv[1]](*sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
