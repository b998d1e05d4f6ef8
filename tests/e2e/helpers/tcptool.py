#!/usr/bin/python3
"""TCP servers and clients for local_port_tcp.sh and half_close.sh (stdlib only).

Every wait is bounded; results are one line on stdout that the script greps.

  line-server HOST PORT OUTFILE REPLY
      serves connections one after another: reads up to the first newline,
      writes exactly those bytes to OUTFILE, sends REPLY + "\\n", closes.
  eof-server HOST PORT REPLYSIZE OUTFILE
      per connection: reads until EOF, then sends "sha256 <hex of what it
      read>\\n" followed by REPLYSIZE deterministic bytes, closes; writes
      "read N bytes" to OUTFILE.
  shut-client HOST PORT SIZE REPLYSIZE
      sends SIZE random bytes, shuts down its write side, reads until EOF and
      checks the reply of eof-server: prints "halfclose ok" or "halfclose FAIL: why".
  first-server HOST PORT GREETING OUTFILE
      per connection: reads the client's first line, sends GREETING, shuts
      down its write side, reads until EOF, writes everything it read to OUTFILE.
  late-client HOST PORT FIRST LATE
      sends FIRST, reads until EOF (the server's greeting), then sends LATE
      and shuts down its write side; prints "got <repr of what it read>" and
      "late sent", then waits until the server closes.
"""
import hashlib
import os
import socket
import sys

IO_TIMEOUT = 20


def out(*a):
    print(*a, flush=True)


def _listen(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(16)
    return ls


def _read_to_eof(c):
    buf = bytearray()
    while True:
        d = c.recv(65536)
        if not d:
            return bytes(buf)
        buf += d


def _reply_bytes(n):
    # deterministic, not trivially compressible pattern
    seed = b"net4mqtt half-close reply"
    outb = bytearray()
    i = 0
    while len(outb) < n:
        outb += hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(outb[:n])


def _read_line(c, buf):
    """Reads into buf until a newline or the end of the stream (buf keeps what came on error)."""
    while b"\n" not in buf:
        d = c.recv(4096)
        if not d:
            break
        buf += d
    return buf


def line_server(host, port, outfile, reply):
    ls = _listen(host, port)
    while True:
        c, _ = ls.accept()
        c.settimeout(IO_TIMEOUT)
        buf = bytearray()
        try:
            _read_line(c, buf)
            with open(outfile, "wb") as f:
                f.write(bytes(buf))
            c.sendall(reply.encode() + b"\n")
        except OSError:
            pass
        c.close()


def eof_server(host, port, replysize, outfile):
    ls = _listen(host, port)
    reply_tail = _reply_bytes(int(replysize))
    while True:
        c, _ = ls.accept()
        c.settimeout(IO_TIMEOUT)
        try:
            got = _read_to_eof(c)
            with open(outfile, "w") as f:
                f.write(f"read {len(got)} bytes\n")
            c.sendall(f"sha256 {hashlib.sha256(got).hexdigest()}\n".encode() + reply_tail)
        except OSError as e:
            with open(outfile, "w") as f:
                f.write(f"error {e}\n")
        c.close()


def shut_client(host, port, size, replysize):
    data = os.urandom(int(size))
    want = f"sha256 {hashlib.sha256(data).hexdigest()}\n".encode() + _reply_bytes(int(replysize))
    try:
        s = socket.create_connection((host, int(port)), timeout=IO_TIMEOUT)
        s.settimeout(IO_TIMEOUT)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = _read_to_eof(s)
    except Exception as e:  # noqa: BLE001 - reported to the script
        out(f"halfclose FAIL: {type(e).__name__}: {e}")
        return 1
    if got != want:
        line = got.split(b"\n", 1)[0][:80]
        out(f"halfclose FAIL: reply of {len(got)} bytes differs (want {len(want)}), first line {line!r}")
        return 1
    out(f"halfclose ok ({len(data)} bytes up, {len(got)} bytes down)")
    return 0


def first_server(host, port, greeting, outfile):
    ls = _listen(host, port)
    while True:
        c, _ = ls.accept()
        c.settimeout(IO_TIMEOUT)
        buf = bytearray()
        try:
            _read_line(c, buf)
            c.sendall(greeting.encode())
            c.shutdown(socket.SHUT_WR)
            buf += _read_to_eof(c)
            res = bytes(buf)
        except OSError as e:
            res = f"error {e}: after {bytes(buf)!r}".encode()
        with open(outfile + ".tmp", "wb") as f:
            f.write(res)
        os.replace(outfile + ".tmp", outfile)
        c.close()


def late_client(host, port, first, late):
    try:
        s = socket.create_connection((host, int(port)), timeout=IO_TIMEOUT)
        s.settimeout(IO_TIMEOUT)
        s.sendall(first.encode())
        got = _read_to_eof(s)
        out(f"got {got!r}")
        s.sendall(late.encode())
        s.shutdown(socket.SHUT_WR)
        out("late sent")
        rest = _read_to_eof(s)
        out(f"closed ({len(rest)} more bytes)")
    except Exception as e:  # noqa: BLE001 - reported to the script
        out(f"late FAIL: {type(e).__name__}: {e}")
        return 1
    return 0


def main():
    cmds = {
        "line-server": line_server, "eof-server": eof_server, "shut-client": shut_client,
        "first-server": first_server, "late-client": late_client,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    return cmds[sys.argv[1]](*sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
