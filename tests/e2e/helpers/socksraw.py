#!/usr/bin/python3
"""Raw SOCKS bytes against a SOCKS5 server on 127.0.0.1, for local_socks.sh (stdlib only).

Each case prints one line: what the server sent back (hex) and how the
connection ended, e.g. "reply 05ff then eof". Every read is bounded.

  socks4 PORT           a SOCKS4 CONNECT request
  userpass-only PORT    greeting offering only method 0x02 (username/password)
  bind PORT             greeting, then a BIND request (cmd 2)
  udp-associate PORT    greeting, then a UDP ASSOCIATE request (cmd 3)
  bad-atyp PORT         greeting, then a CONNECT with ATYP 0x02
  no-methods PORT       greeting offering zero methods (05 00)
  pipelined PORT HPORT  greeting, CONNECT 127.0.0.1:HPORT and an HTTP/1.0 request for
                        /index.html, all in one write; prints the two SOCKS replies
                        (hex) and the HTTP body: "pipelined 0500 0500... body <text>"
  stall PORT            sends half a greeting (0x05 only), prints "stalled",
                        then reads until the server closes (bounded by the caller)
"""
import errno
import socket
import struct
import sys

IO_TIMEOUT = 10


def out(*a):
    print(*a, flush=True)


def _connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    return s


def _recv_all(s):
    """Reads until EOF, error or timeout; returns (bytes, how)."""
    buf = bytearray()
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return bytes(buf), "eof"
            buf += d
    except socket.timeout:
        return bytes(buf), "still open"
    except OSError as e:
        return bytes(buf), f"error {errno.errorcode.get(e.errno, e.errno)}"


def _recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return bytes(buf)


def _report(pre, s):
    rest, how = _recv_all(s)
    out(f"reply {(pre + rest).hex() or '-'} then {how}")


def socks4(port):
    s = _connect(port)
    s.sendall(b"\x04\x01" + struct.pack(">H", 80) + socket.inet_aton("127.0.0.1") + b"user\x00")
    _report(b"", s)


def userpass_only(port):
    s = _connect(port)
    s.sendall(b"\x05\x01\x02")
    _report(b"", s)


def _after_greeting(port, request):
    s = _connect(port)
    s.sendall(b"\x05\x01\x00")
    g = _recv_exact(s, 2)
    if g != b"\x05\x00":
        out(f"greeting reply {g.hex() or '-'}, not 0500")
        return 1
    s.sendall(request)
    _report(b"", s)
    return 0


def bind(port):
    return _after_greeting(port, b"\x05\x02\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", 80))


def udp_associate(port):
    return _after_greeting(port, b"\x05\x03\x00\x01" + socket.inet_aton("0.0.0.0") + struct.pack(">H", 0))


def bad_atyp(port):
    return _after_greeting(port, b"\x05\x01\x00\x02" + b"\x7f\x00\x00\x01" + struct.pack(">H", 80))


def no_methods(port):
    s = _connect(port)
    s.sendall(b"\x05\x00")
    _report(b"", s)


def pipelined(port, hport):
    s = _connect(port)
    s.sendall(b"\x05\x01\x00" + b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1")
              + struct.pack(">H", int(hport)) + b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
    g = _recv_exact(s, 2)
    r = _recv_exact(s, 10)
    rest, how = _recv_all(s)
    body = rest.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
    out(f"pipelined {g.hex()} {r.hex()} {how} body {body}")


def stall(port):
    s = _connect(port)
    s.sendall(b"\x05")
    out("stalled")
    s.settimeout(None)  # the caller bounds this with `timeout`
    rest, how = _recv_all(s)
    out(f"stall ended: reply {rest.hex() or '-'} then {how}")


def main():
    cmds = {
        "socks4": socks4, "userpass-only": userpass_only, "bind": bind,
        "udp-associate": udp_associate, "bad-atyp": bad_atyp, "stall": stall,
        "no-methods": no_methods, "pipelined": pipelined,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    try:
        return cmds[sys.argv[1]](*sys.argv[2:]) or 0
    except OSError as e:
        out(f"error {type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
