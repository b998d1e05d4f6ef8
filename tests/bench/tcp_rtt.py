#!/usr/bin/python3
"""TCP request/response round trip for `make bench` (stdlib only).

  tcp_rtt.py server HOST PORT             echo server, one thread per connection
  tcp_rtt.py client HOST PORT SIZE COUNT  SIZE-byte messages, waits for each echo;
                                          prints "rtt_us_median=<us> rtt_us_p99=<us>"

The client runs WARMUP rounds first (not counted), like mqtt_ceiling rtt, so
connection setup through the tunnel is not part of the figure. Every wait is
bounded; exit 1 with one line on stderr on failure.
"""
import math
import socket
import socketserver
import statistics
import sys
import time

WARMUP = 10
TIMEOUT = 10.0


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(120)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                s.sendall(data)
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def client(host, port, size, count):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = bytes((i * 131 + 7) & 0xFF for i in range(size))
    samples = []
    for i in range(WARMUP + count):
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        got = recv_exact(s, size)
        t1 = time.perf_counter_ns()
        if got != msg:
            raise OSError("round %d: echo differs from what was sent" % i)
        if i >= WARMUP:
            samples.append((t1 - t0) / 1000.0)
    s.close()
    samples.sort()
    p99 = samples[max(0, math.ceil(0.99 * len(samples)) - 1)]
    print("rtt_us_median=%.1f rtt_us_p99=%.1f" % (statistics.median(samples), p99))


def main(argv):
    try:
        if len(argv) == 4 and argv[1] == "server":
            with Server((argv[2], int(argv[3])), Echo) as srv:
                srv.serve_forever()
        elif len(argv) == 6 and argv[1] == "client":
            client(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
        else:
            sys.stderr.write(__doc__)
            return 1
    except (OSError, ValueError) as e:
        sys.stderr.write("tcp_rtt: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
