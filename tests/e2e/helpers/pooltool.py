#!/usr/bin/python3
"""Clients for pool.sh (stdlib only); every wait has a deadline.

  hold HOST PORT N READYFILE GOFILE
      opens N TCP connections to HOST:PORT and has each echo a line;
      writes READYFILE (how many echoed); waits (at most 60 s) for GOFILE;
      then has each echo a second line and prints "hold: N ok, M failed".
  burst HOST PORT N
      N new connections, one after another, each echoing one line: prints
      "burst: N ok, M failed".
"""
import os
import socket
import sys
import time

TIMEOUT = 10.0


def echo(s, line):
    s.sendall(line)
    got = b""
    while len(got) < len(line):
        d = s.recv(len(line) - len(got))
        if not d:
            raise ConnectionError("closed")
        got += d
    if got != line:
        raise ConnectionError("wrong echo")


def connect(host, port):
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def hold(host, port, n, readyfile, gofile):
    conns = []
    for i in range(int(n)):
        try:
            s = connect(host, port)
            echo(s, b"first %d\n" % i)
            conns.append(s)
        except OSError:
            conns.append(None)
    with open(readyfile, "w") as f:
        f.write("%d\n" % sum(c is not None for c in conns))
    deadline = time.monotonic() + 60
    while not os.path.exists(gofile) and time.monotonic() < deadline:
        time.sleep(0.05)
    ok = failed = 0
    for i, s in enumerate(conns):
        try:
            if s is None:
                raise ConnectionError("never opened")
            echo(s, b"second %d\n" % i)
            ok += 1
        except OSError:
            failed += 1
    print("hold: %d ok, %d failed" % (ok, failed), flush=True)
    return 0


def burst(host, port, n):
    ok = failed = 0
    for i in range(int(n)):
        try:
            s = connect(host, port)
            echo(s, b"burst %d\n" % i)
            s.close()
            ok += 1
        except OSError:
            failed += 1
    print("burst: %d ok, %d failed" % (ok, failed), flush=True)
    return 0


def main():
    cmds = {"hold": hold, "burst": burst}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    return cmds[sys.argv[1]](*sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
