#!/usr/bin/python3
"""Long-lived flows and UDP floods for faults.sh, udp_flood.sh and soak.sh (stdlib only).

Every wait is bounded (or bounded by the caller's `timeout`); results are one
line on stdout that the calling script greps.

  hold PORT
  socks-hold PORT DST_HOST DST_PORT
      opens a connection to 127.0.0.1:PORT (through SOCKS5 to DST_HOST:DST_PORT,
      an IPv4 address, for socks-hold) whose far end is an echo server; does one
      echo round and prints "up". Then, for each line on stdin, one more echo
      round: "round ok" or "round FAIL: why". When the connection ends (the
      server side closes or resets it), prints "ended: eof", "ended: error
      ECONNRESET" or "ended: unexpected N bytes" and exits.
  udp-flood PORT N BATCH FIRST_PORT
      sends one datagram to 127.0.0.1:PORT from each of N distinct source ports
      (tried upwards from FIRST_PORT, skipping those in use), BATCH sockets at a
      time; each batch waits for its echoes until all are back or none came for
      1 s, then closes its sockets. Prints
      "udp-flood: N sent from N ports in S s, R replied, W wrong".
  short PORT N CONC [DST_HOST DST_PORT]
      N short connections, CONC at a time, to an echo server at 127.0.0.1:PORT
      (through SOCKS5 to DST_HOST:DST_PORT if given): each sends 1..20000
      random bytes, reads them back, closes. Prints "short: N ok, F failed"
      (and the first error).
"""
import asyncio
import errno
import os
import select
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
IO_TIMEOUT = 15


def out(*a):
    print(*a, flush=True)


def _recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += d
    return bytes(buf)


def _socks_connect(port, dst_host, dst_port):
    s = socket.create_connection((HOST, int(port)), timeout=IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    s.sendall(b"\x05\x01\x00")
    if _recv_exact(s, 2) != b"\x05\x00":
        raise ValueError("SOCKS greeting refused")
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(dst_host) + struct.pack(">H", int(dst_port)))
    rep = _recv_exact(s, 10)
    if rep[1] != 0:
        raise ValueError(f"SOCKS reply {rep[1]}")
    return s


def _round(s, size=1000):
    data = os.urandom(size)
    s.sendall(data)
    if _recv_exact(s, size) != data:
        raise ValueError("echo differs")


def _hold(s):
    _round(s)
    out("up")
    s.settimeout(None)
    fds = [s, 0]
    while True:
        r, _, _ = select.select(fds, [], [])
        if s in r:
            try:
                d = s.recv(65536)
                out("ended: eof" if not d else f"ended: unexpected {len(d)} bytes")
            except OSError as e:
                out(f"ended: error {errno.errorcode.get(e.errno, e.errno)}")
            return 0
        if 0 in r:
            lines = os.read(0, 4096)
            if not lines:
                fds = [s]  # no more rounds: only wait for the end
                continue
            for _ in range(lines.count(b"\n")):
                s.settimeout(IO_TIMEOUT)
                try:
                    _round(s)
                    out("round ok")
                except Exception as e:  # noqa: BLE001 - reported, the script asserts on it
                    out(f"round FAIL: {type(e).__name__}: {e}")
                    return 1
                s.settimeout(None)


def hold(port):
    s = socket.create_connection((HOST, int(port)), timeout=IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    return _hold(s)


def socks_hold(port, dst_host, dst_port):
    try:
        s = _socks_connect(port, dst_host, dst_port)
    except Exception as e:  # noqa: BLE001 - reported
        out(f"socks FAIL: {type(e).__name__}: {e}")
        return 1
    return _hold(s)


# a batch's replies are awaited until none has come for this long: a loaded
# machine (two scripts at once, the sanitizers) may stall a second or more
QUIET_SECS = 5.0


def udp_flood(port, n, batch, first_port):
    n, batch, cand = int(n), int(batch), int(first_port)
    dst = (HOST, int(port))
    sent = replied = wrong = 0
    t0 = time.monotonic()
    while sent < n:
        socks, want = [], {}
        while len(socks) < min(batch, n - sent):
            if cand > 65535:
                out(f"udp-flood: ran out of ports after {sent + len(socks)}")
                return 1
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((HOST, cand))
            except OSError:
                s.close()
                cand += 1
                continue
            cand += 1
            s.setblocking(False)
            want[s.fileno()] = f"flood {sent + len(socks)} from {cand - 1} ".encode() + os.urandom(8).hex().encode()
            socks.append(s)
        for s in socks:
            s.sendto(want[s.fileno()], dst)
        sent += len(socks)
        byfd = {s.fileno(): s for s in socks}
        poll = select.poll()
        for s in socks:
            poll.register(s, select.POLLIN)
        got = set()
        last = time.monotonic()
        while len(got) < len(socks) and time.monotonic() - last < QUIET_SECS:
            for fd, _ in poll.poll(200):
                try:
                    d = byfd[fd].recv(65536)
                except OSError:
                    continue
                last = time.monotonic()
                if d == want[fd] and fd not in got:
                    got.add(fd)
                else:
                    wrong += 1
        replied += len(got)
        for s in socks:
            s.close()
    out(f"udp-flood: {sent} sent from {sent} ports in {time.monotonic() - t0:.1f} s, "
        f"{replied} replied, {wrong} wrong")
    return 0


async def _short_one(port, dst, size):
    r, w = await asyncio.open_connection(HOST, int(port))
    try:
        if dst:
            w.write(b"\x05\x01\x00")
            if await r.readexactly(2) != b"\x05\x00":
                raise ValueError("SOCKS greeting refused")
            w.write(b"\x05\x01\x00\x01" + socket.inet_aton(dst[0]) + struct.pack(">H", int(dst[1])))
            rep = await r.readexactly(10)
            if rep[1] != 0:
                raise ValueError(f"SOCKS reply {rep[1]}")
        data = os.urandom(size)
        w.write(data)
        if await r.readexactly(size) != data:
            raise ValueError("echo differs")
    finally:
        w.close()


async def _short(port, n, conc, dst):
    sem = asyncio.Semaphore(conc)
    errs = []

    async def one(i):
        async with sem:
            try:
                await asyncio.wait_for(_short_one(port, dst, 1 + (i * 7919) % 20000), IO_TIMEOUT)
            except Exception as e:  # noqa: BLE001 - counted and reported
                errs.append(f"{type(e).__name__}: {e}"[:100])

    await asyncio.gather(*(one(i) for i in range(n)))
    out(f"short: {n - len(errs)} ok, {len(errs)} failed" + (f"; first: {errs[0]}" if errs else ""))
    return 1 if errs else 0


def short(port, n, conc, dst_host=None, dst_port=None):
    dst = (dst_host, dst_port) if dst_host else None
    return asyncio.run(_short(port, int(n), int(conc), dst))


def main():
    cmds = {"hold": hold, "socks-hold": socks_hold, "udp-flood": udp_flood, "short": short}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    try:
        return cmds[sys.argv[1]](*sys.argv[2:]) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
