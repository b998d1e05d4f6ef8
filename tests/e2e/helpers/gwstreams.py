#!/usr/bin/python3
"""Servers and clients for gateway_streams.sh (stdlib only). Each runs inside a
network namespace; clients print one line saying how things went.

  banner HOST PORT TEXT
      a threaded TCP server that speaks first: sends TEXT (with \\r\\n) on
      accept, then echoes whatever it reads until EOF, then closes.
  banner-client HOST PORT TEXT SECS
      connects and, without sending anything, reads until TEXT\\r\\n arrived;
      then sends a line and must get it echoed. "banner ok after X s" or
      "banner FAIL: why".
  connect HOST PORT SECS
      a TCP connect only (then close): "connect ok", "connect refused",
      "connect unreachable (ERRNO)", "connect timeout" or "connect error ...",
      with the time it took.
  halfclose HOST PORT SECS
      connects, shuts down its sending side at once (no byte sent) and reads:
      "halfclose eof after X s (N bytes before)", "halfclose reset ...",
      "halfclose timeout ...", or "halfclose connect ..." when the connect failed.
  udp-count HOST PORT
      a UDP server with a large receive buffer: echoes every data datagram
      (b"D" + 8-byte burst id + 4-byte sequence + padding) to its sender and
      counts the distinct ones per burst; a query b"Q" + burst id is answered
      b"C" + burst id + count (4 bytes, big-endian).
  udp-burst HOST PORT N SIZE SECS
      sends N data datagrams of SIZE bytes back to back from one socket, then
      asks the server (repeating the query until an answer comes, at most SECS)
      how many arrived, and counts the echoes that came back:
      "burst sent N got G echoed E" or "burst FAIL: why".
"""
import errno
import os
import select
import socket
import struct
import sys
import threading
import time

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def out(*a):
    print(*a, flush=True)


def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def big_rcvbuf(s, size=16 << 20):
    # root in our namespaces: force past rmem_max, so our own ends never drop
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def banner(host, port, text):
    ls = socket.socket(fam(host), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(512)
    hello = text.encode() + b"\r\n"

    def serve(c):
        try:
            c.sendall(hello)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def _recv_until(s, want, deadline):
    got = b""
    while len(got) < len(want):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        s.settimeout(left)
        d = s.recv(65536)
        if not d:
            break
        got += d
    return got


def banner_client(host, port, text, secs):
    secs = float(secs)
    t0 = time.monotonic()
    deadline = t0 + secs
    want = text.encode() + b"\r\n"
    s = socket.socket(fam(host), socket.SOCK_STREAM)
    s.settimeout(secs)
    try:
        s.connect((host, int(port)))
        got = _recv_until(s, want, deadline)
        if got != want:
            out(f"banner FAIL: got {got!r} before EOF, wanted {want!r}")
            return 1
        s.sendall(b"ping\r\n")
        echo = _recv_until(s, b"ping\r\n", deadline)
        if echo != b"ping\r\n":
            out(f"banner FAIL: banner ok, then echo {echo!r}")
            return 1
    except socket.timeout:
        out(f"banner FAIL: nothing from the server in {secs:.0f} s without sending first")
        return 1
    except OSError as e:
        out(f"banner FAIL: {type(e).__name__} {e}")
        return 1
    finally:
        s.close()
    out(f"banner ok after {time.monotonic() - t0:.2f} s")
    return 0


def _errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__


def connect(host, port, secs):
    secs = float(secs)
    s = socket.socket(fam(host), socket.SOCK_STREAM)
    s.settimeout(secs)
    t0 = time.monotonic()
    try:
        s.connect((host, int(port)))
        what = "ok"
    except ConnectionRefusedError:
        what = "refused"
    except socket.timeout:
        what = "timeout"
    except OSError as e:
        if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            what = f"unreachable ({_errname(e)})"
        else:
            what = f"error {_errname(e)}"
    finally:
        s.close()
    out(f"connect {what} after {time.monotonic() - t0:.2f} s")
    return 0


def halfclose(host, port, secs):
    secs = float(secs)
    s = socket.socket(fam(host), socket.SOCK_STREAM)
    s.settimeout(secs)
    t0 = time.monotonic()
    try:
        s.connect((host, int(port)))
    except OSError as e:
        out(f"halfclose connect {_errname(e)}")
        return 0
    n = 0
    deadline = t0 + secs
    try:
        s.shutdown(socket.SHUT_WR)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            s.settimeout(left)
            d = s.recv(65536)
            if not d:
                break
            n += len(d)
        what = "eof"
    except ConnectionResetError:
        what = "reset"
    except socket.timeout:
        what = "timeout"
    except OSError as e:
        what = f"error {_errname(e)}"
    finally:
        s.close()
    out(f"halfclose {what} after {time.monotonic() - t0:.2f} s ({n} bytes before)")
    return 0


def udp_count(host, port):
    s = socket.socket(fam(host), socket.SOCK_DGRAM)
    big_rcvbuf(s)
    s.bind((host, int(port)))
    seen = {}
    while True:
        d, a = s.recvfrom(65536)
        if d[:1] == b"D" and len(d) >= 13:
            seen.setdefault(d[1:9], set()).add(d[9:13])
            try:
                s.sendto(d, a)
            except OSError:
                pass
        elif d[:1] == b"Q" and len(d) == 9:
            try:
                s.sendto(b"C" + d[1:9] + struct.pack(">I", len(seen.get(d[1:9], ()))), a)
            except OSError:
                pass


# after the count answer, echoes still in flight are taken until none has come
# for this long (a loaded machine may stall a flow for a second)
ECHO_QUIET_SECS = 2.0


def udp_burst(host, port, n, size, secs):
    n, size, secs = int(n), int(size), float(secs)
    dst = (host, int(port))
    s = socket.socket(fam(host), socket.SOCK_DGRAM)
    big_rcvbuf(s)
    bid = os.urandom(8)
    pad = os.urandom(max(0, size - 13))
    send_err = 0
    for i in range(n):
        try:
            s.sendto(b"D" + bid + struct.pack(">I", i) + pad, dst)
        except OSError:
            send_err += 1
    echoes = set()
    count = None
    t0 = time.monotonic()
    deadline = t0 + secs
    next_q = t0
    quiet_until = None
    while True:
        now = time.monotonic()
        if now >= deadline or (quiet_until is not None and now >= quiet_until):
            break
        if count is None and now >= next_q:
            s.sendto(b"Q" + bid, dst)
            next_q = now + 0.5
        wake = min(deadline, next_q if count is None else quiet_until)
        r, _, _ = select.select([s], [], [], max(0.0, wake - now))
        if not r:
            continue
        d, a = s.recvfrom(65536)
        if d[:1] == b"D" and d[1:9] == bid:
            echoes.add(d[9:13])
            if quiet_until is not None:
                quiet_until = time.monotonic() + ECHO_QUIET_SECS
        elif d[:1] == b"C" and d[1:9] == bid and count is None:
            count = struct.unpack(">I", d[9:13])[0]
            # echoes travel on the same flow ahead of this answer; take what
            # is still in flight until the socket has been quiet for a moment
            quiet_until = time.monotonic() + ECHO_QUIET_SECS
    if count is None:
        out(f"burst FAIL: no answer to the count query in {secs:.0f} s "
            f"(sent {n - send_err} of {n}, {len(echoes)} echoed)")
        return 1
    out(f"burst sent {n - send_err} got {count} echoed {len(echoes)}")
    return 0


def main():
    cmds = {"banner": banner, "banner-client": banner_client, "connect": connect,
            "halfclose": halfclose, "udp-count": udp_count, "udp-burst": udp_burst}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    return cmds[sys.argv[1]](*sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
