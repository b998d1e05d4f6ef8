#!/usr/bin/python3
"""Servers and clients for gateway.sh (stdlib only). Each runs inside a network
namespace; clients print one "WHAT ok ..." or "WHAT FAIL: why" line.

  http HOST PORT DIR LOGFILE
      a threaded HTTP/1.0 server for DIR with a deep accept queue; appends
      "CLIENT-ADDR REQUEST-LINE STATUS" to LOGFILE for every request.
  udp-echo HOST PORT LOGFILE
      echoes every datagram to its sender; appends "LEN from ADDR:PORT".
  udp HOST PORT SIZE...
      one socket sends one random datagram of each SIZE to HOST:PORT, then
      receives: each reply must be exactly one datagram sent (boundaries kept),
      each sent one must come back once, from HOST:PORT.
  conc HOST PORT N BODYFILE
      N TCP connections at once: all are opened first and held, then each asks
      for / and must get BODYFILE's bytes back.
  frag-flood SRC DST PORT SECS
      for SECS seconds, first fragments (MF set, 1208 bytes of a UDP datagram
      to DST:PORT) from SRC, each with a random identification: datagrams
      that never complete. Raw IPv4 (root). Prints how many it sent.
  probe HOST PORT SECS
      a TCP connection that sends a request and reads: prints how it ended
      ("probe refused", "probe reset", "probe eof", "probe data", "probe timeout")
      and how long that took.
"""
import asyncio
import http.server
import os
import select
import socket
import socketserver
import struct
import sys
import threading
import time

from udptool import check_echoes

IO_TIMEOUT = float(os.environ.get("GWTOOL_TIMEOUT", "15"))


def out(*a):
    print(*a, flush=True)


def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def http_server(host, port, root, logfile):
    lock = threading.Lock()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=root, **k)

        def log_request(self, code="-", size="-"):
            with lock, open(logfile, "a") as f:
                f.write(f"{self.client_address[0]} {self.requestline} {code}\n")

        def log_message(self, fmt, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = fam(host)
        request_queue_size = 1024
        daemon_threads = True

        def server_bind(self):
            # HTTPServer's own looks up the host's name (getfqdn): a DNS query
            # that, inside these namespaces, only times out
            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = host, int(port)

    Server((host, int(port)), Handler).serve_forever()


def udp_echo(host, port, logfile):
    s = socket.socket(fam(host), socket.SOCK_DGRAM)
    s.bind((host, int(port)))
    while True:
        d, a = s.recvfrom(65536)
        with open(logfile, "a") as f:
            f.write(f"{len(d)} from {a[0]}:{a[1]}\n")
        try:
            s.sendto(d, a)
        except OSError:
            pass


def udp(host, port, *szs):
    port = int(port)
    s = socket.socket(fam(host), socket.SOCK_DGRAM)
    sent = [os.urandom(int(n)) for n in szs]
    for d in sent:
        s.sendto(d, (host, port))
    got = []
    deadline = time.monotonic() + IO_TIMEOUT
    while len(got) < len(sent):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if r:
            got.append(s.recvfrom(65536))
    return check_echoes("udp", s, sent, got, host, port)


async def _conc(host, port, n, body):
    opened = await asyncio.gather(
        *(asyncio.wait_for(asyncio.open_connection(host, port), IO_TIMEOUT) for _ in range(n)),
        return_exceptions=True)
    conns = [c for c in opened if not isinstance(c, BaseException)]
    errs = [f"connect: {type(c).__name__} {c}" for c in opened if isinstance(c, BaseException)]

    async def fetch(r, w):
        try:
            w.write(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            await w.drain()
            data = await asyncio.wait_for(r.read(), IO_TIMEOUT * 2)
            head, _, got = data.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.0 200"):
                return f"status: {head[:40]!r}"
            if got != body:
                return f"body differs ({len(got)} bytes)"
            return None
        except Exception as e:  # noqa: BLE001 -- reported, counted
            return f"fetch: {type(e).__name__} {e}"
        finally:
            w.close()

    res = await asyncio.gather(*(fetch(r, w) for r, w in conns))
    errs += [e for e in res if e]
    return errs


def conc(host, port, n, bodyfile):
    n = int(n)
    with open(bodyfile, "rb") as f:
        body = f.read()
    t0 = time.monotonic()
    errs = asyncio.run(_conc(host, int(port), n, body))
    secs = time.monotonic() - t0
    if errs:
        kinds = {}
        for e in errs:
            kinds[e] = kinds.get(e, 0) + 1
        summary = "; ".join(f"{v}x {k}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])[:5])
        out(f"conc FAIL: {len(errs)} of {n} failed in {secs:.1f} s: {summary}")
        return 1
    out(f"conc ok: {n} of {n} in {secs:.1f} s")
    return 0


def probe(host, port, secs):
    secs = float(secs)
    s = socket.socket(fam(host), socket.SOCK_STREAM)
    s.settimeout(secs)
    t0 = time.monotonic()
    try:
        s.connect((host, int(port)))
        s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        d = s.recv(4096)
        what = "data" if d else "eof"
    except ConnectionRefusedError:
        what = "refused"
    except ConnectionResetError:
        what = "reset"
    except socket.timeout:
        what = "timeout"
    except OSError as e:
        what = f"error {e.strerror}"
    out(f"probe {what} after {time.monotonic() - t0:.2f} s")
    return 0


def frag_flood(src, dst, port, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
    data = os.urandom(1200)
    udp_hdr = struct.pack("!HHHH", 40000, int(port), 8 + 3000, 0)
    src_b, dst_b = socket.inet_aton(src), socket.inet_aton(dst)
    sent, end = 0, time.monotonic() + float(secs)
    while time.monotonic() < end:
        for _ in range(256):
            ident = int.from_bytes(os.urandom(2), "big")
            # version/IHL, TOS, total length, id, MF + offset 0, TTL, UDP, checksum (the kernel's)
            ip_hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(data), ident, 0x2000, 64, 17, 0, src_b, dst_b)
            try:
                s.sendto(ip_hdr + udp_hdr + data, (dst, 0))
                sent += 1
            except OSError:
                pass  # the qdisc is full: go on
    out(f"frag-flood sent {sent}")
    return 0


def main():
    cmds = {"http": http_server, "udp-echo": udp_echo, "udp": udp, "conc": conc, "probe": probe,
            "frag-flood": frag_flood}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    return cmds[sys.argv[1]](*sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
