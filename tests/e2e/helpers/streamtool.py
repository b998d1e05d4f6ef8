#!/usr/bin/python3
"""Servers and clients for the streams_*.sh and udp_burst.sh tests, all on 127.0.0.1 (stdlib only).

Every wait is bounded; results are single lines that the scripts grep.

Servers (run in the background until killed):
  echo PORT                    asyncio echo server
  banner PORT                  sends "220 hello\\r\\n" on accept (the server speaks first), then echoes
  verify PORT LOG [TIMEOUT]    the stream checker: per connection, reads the header and the
                               upload, checking it against the pattern; if all of it came, sends
                               "OK" and the reply pattern, then closes. One line per connection
                               in LOG: "server ID intact|reset|hole|corrupt|hang: ...", or
                               "server midstream ..." (the first bytes were not a header), or
                               "server empty ..." (a clean EOF before any byte). A stream it
                               finds broken (hole, corrupt, hang, midstream) it ends with a RST.
                               TIMEOUT (default 30) s without progress is a hang.
  udp-echo PORT LOG            UDP: echoes every datagram, keeps the count in LOG ("udp-echo got N")

Clients:
  streams PORT N SIZE DSIZE [TIMEOUT [GOFILE FIRST [IDBASE]]]
      N streams at once to a verify server (directly or through a tunnel). Each sends a
      24-byte header (magic, id, sizes) then SIZE bytes of a known pattern, shuts down its
      sending side, then reads the server's reply: "OK" and DSIZE pattern bytes, then EOF.
      With GOFILE (not ""): each sends the header and FIRST bytes, the tool prints "started N"
      once all did, and the rest goes once GOFILE exists. IDBASE: the first stream's id
      (ids are IDBASE..IDBASE+N-1, in the server's lines). Every read and write waits at most
      TIMEOUT s (default 30): longer is a "hang". Prints one line
        "streams: N intact, R reset, H hole, C corrupt, G hang"
      then one line per stream that was not intact. Outcomes, by what the client saw first:
        intact  everything sent, reply complete and correct, then a clean EOF
        reset   a connection error (refused, reset, broken pipe) at any point
        hole    a clean EOF before the whole reply
        corrupt reply bytes differ from the pattern
        hang    TIMEOUT s without progress
  halfclose PORT [socks DPORT]
      connects (with a SOCKS5 CONNECT to 127.0.0.1:DPORT first), shuts down its sending
      side without sending a byte, reads (10 s at most): "halfclose eof after N bytes" or
      "halfclose FAIL: why"
  socks-close PORT DPORT N MODE
      N times: SOCKS5 greeting and CONNECT 127.0.0.1:DPORT, then close; MODE "reply" reads
      the CONNECT reply before closing, "noreply" closes right after the request.
      Prints "socks-close: N done, replies {code: count}"
  socks-connect PORT HOST DPORT
      one SOCKS5 CONNECT (ATYP 1 for an IPv4 address, 3 for a name), prints
      "rep XX" (the reply code, hex) or "rep - (how it ended)"
  banner-client PORT [socks DPORT]
      connects (through SOCKS5 to 127.0.0.1:DPORT if asked) and, without sending a byte,
      reads the first line; then sends "ping\\n" and reads its echo.
      Prints "banner ok: '220 hello'" or "banner FAIL: why"
  many PORT N CONC
      N connections, CONC at a time: connect, send 16 bytes, read their echo, close.
      Prints "many: N ok, F failed" and the commonest errors
  udp-burst PORT N SIZE
      one socket sends N datagrams of SIZE bytes (numbered) back to back, then counts the
      echoes until all came or none came for 5 s (at most 60 s):
      "udp-burst: sent N, echoed M distinct, W wrong"
"""
import asyncio
import errno
import os
import random
import select
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
MAGIC = b"N4MS"
HDR = struct.Struct(">4sIQQ")  # magic, id, upload size, download size: 24 bytes
CHUNK = 65536
PLEN = (1 << 20) + 7  # the pattern's period: not a multiple of any chunk size
_PAT = random.Random(4242).randbytes(PLEN)
_PAT2 = _PAT + _PAT


def out(*a):
    print(*a, flush=True)


def pattern(key, start, n):
    """n bytes (n <= PLEN) of stream `key` from offset `start`: a rotation of one random buffer."""
    j = (start + key * 7919) % PLEN
    return _PAT2[j:j + n]


def up_key(sid):
    return 2 * sid + 1


def down_key(sid):
    return 2 * sid + 2


def _err(e):
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


# ---------------------------------------------------------------- servers

async def _echo_handle(r, w, banner=b""):
    try:
        if banner:
            w.write(banner)
            await w.drain()
        while True:
            d = await r.read(CHUNK)
            if not d:
                break
            w.write(d)
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        w.close()


async def _serve(handler, port):
    srv = await asyncio.start_server(handler, HOST, int(port), backlog=4096, limit=1 << 20)
    async with srv:
        await srv.serve_forever()


def echo(port):
    asyncio.run(_serve(_echo_handle, port))


def banner(port):
    async def h(r, w):
        await _echo_handle(r, w, b"220 hello\r\n")
    asyncio.run(_serve(h, port))


class _Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, line):
        self.f.write(line + "\n")


def _reset(w):
    """Ends the connection with a RST: a stream the server found broken is not ended cleanly."""
    try:
        w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    w.transport.abort()


async def _verify_conn(r, w, log, timeout):
    """One stream: header, upload checked against the pattern, then the reply if it was intact."""
    peer = w.get_extra_info("peername")
    sid, got, what = "-", 0, None  # "-": the header has not come yet
    try:
        hdr = b""
        while len(hdr) < HDR.size:
            d = await asyncio.wait_for(r.read(HDR.size - len(hdr)), timeout)
            if not d:
                break
            hdr += d
        if len(hdr) < HDR.size or hdr[:4] != MAGIC:
            if not hdr:
                log(f"server empty from {peer[1]}")
            else:
                # the flow reached the server in the middle of what the client sent
                log(f"server midstream from {peer[1]}: first bytes {hdr[:12].hex()}")
                _reset(w)
            return
        _, sid, size, dsize = HDR.unpack(hdr)
        key = up_key(sid)
        while True:
            d = await asyncio.wait_for(r.read(CHUNK), timeout)
            if not d:
                break
            if what is None:
                if got + len(d) > size or d != pattern(key, got, len(d)):
                    what = f"corrupt: bytes from offset {got} differ"
            got += len(d)
        if what is None and got < size:
            what = f"hole: clean EOF after {got} of {size} bytes"
        if what:
            log(f"server {sid} {what}")
            _reset(w)
            return
        w.write(b"OK")
        sent = 0
        while sent < dsize:
            n = min(CHUNK, dsize - sent)
            w.write(pattern(down_key(sid), sent, n))
            sent += n
            await asyncio.wait_for(w.drain(), timeout)
        log(f"server {sid} intact: {got} bytes in, {dsize} out")
    except asyncio.TimeoutError:
        log(f"server {sid} hang: {timeout} s without progress after {got} bytes")
        _reset(w)
    except (ConnectionError, OSError) as e:
        log(f"server {sid} reset: {_err(e)} after {got} bytes")
    finally:
        w.close()


def verify(port, logfile, timeout=30):
    log = _Log(logfile)

    async def h(r, w):
        await _verify_conn(r, w, log, float(timeout))
    asyncio.run(_serve(h, port))


def udp_echo(port, logfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _big_rcvbuf(s)
    s.bind((HOST, int(port)))
    s.setblocking(False)
    n, written = 0, -1
    while True:
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            if n != written:
                with open(logfile + ".tmp", "w") as f:
                    f.write(f"udp-echo got {n}\n")
                os.replace(logfile + ".tmp", logfile)
                written = n
            continue
        while True:
            try:
                d, a = s.recvfrom(65536)
            except BlockingIOError:
                break
            n += 1
            try:
                s.sendto(d, a)
            except OSError:
                pass


def _big_rcvbuf(s, size=8 << 20):
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, size)  # SO_RCVBUFFORCE: as root, past rmem_max
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


# ---------------------------------------------------------------- stream clients

async def _one_stream(sid, port, size, dsize, timeout, go, first, started):
    """Returns (outcome, detail)."""
    events = []  # the first abnormal thing either direction saw decides
    sent, got = 0, 0
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(HOST, port, limit=1 << 20), timeout)
    except asyncio.TimeoutError:
        started.append(sid)
        return "hang", "connect"
    except (ConnectionError, OSError) as e:
        started.append(sid)
        return "reset", f"connect: {_err(e)}"
    ukey, dkey = up_key(sid), down_key(sid)

    async def upload():
        nonlocal sent
        try:
            w.write(HDR.pack(MAGIC, sid, size, dsize))
            limit = min(first, size) if go else size
            while sent < limit:
                n = min(CHUNK, limit - sent)
                w.write(pattern(ukey, sent, n))
                sent += n
                await asyncio.wait_for(w.drain(), timeout)
            if go:
                started.append(sid)
                while not os.path.exists(go):
                    await asyncio.sleep(0.05)
                while sent < size:
                    n = min(CHUNK, size - sent)
                    w.write(pattern(ukey, sent, n))
                    sent += n
                    await asyncio.wait_for(w.drain(), timeout)
            w.write_eof()
            await asyncio.wait_for(w.drain(), timeout)
        except asyncio.TimeoutError:
            events.append(("hang", f"sending, {sent} of {size} bytes written"))
        except (ConnectionError, OSError) as e:
            events.append(("reset", f"sending: {_err(e)} after {sent} bytes"))
        finally:
            if sid not in started:
                started.append(sid)

    async def download():
        nonlocal got
        want = 2 + dsize
        bad = None
        try:
            while True:
                d = await asyncio.wait_for(r.read(CHUNK), timeout)
                if not d:
                    break
                if bad is None:
                    for i in range(len(d)):  # the "OK" prefix, byte by byte (rare: 2 bytes)
                        if got + i >= 2:
                            break
                        if d[i] != b"OK"[got + i]:
                            bad = f"reply starts {d[:8]!r}, not OK"
                    off = max(0, 2 - got)
                    body = d[off:]
                    p = got + off - 2
                    if bad is None and body and (p + len(body) > dsize or body != pattern(dkey, p, len(body))):
                        bad = f"reply bytes from offset {p} differ"
                got += len(d)
            if bad:
                events.append(("corrupt", bad))
            elif got < want:
                events.append(("hole", f"clean EOF after {max(0, got - 2)} of {dsize} reply bytes"))
        except asyncio.TimeoutError:
            events.append(("hang", f"reading, {got} of {want} bytes read"))
        except (ConnectionError, OSError) as e:
            events.append(("reset", f"reading: {_err(e)} after {got} bytes"))

    up = asyncio.ensure_future(upload())
    await download()
    if not up.done():
        # the reply ended (or failed) before our upload did; a paused upload goes on with
        # GOFILE, which the script creates after "started" (the outer `timeout` bounds this)
        while go and not os.path.exists(go):
            await asyncio.sleep(0.05)
        try:
            await asyncio.wait_for(up, timeout)
        except asyncio.TimeoutError:
            events.append(("hang", "sending after the reply ended"))
    w.close()
    if not events:
        return "intact", ""
    return events[0]


async def _streams(port, n, size, dsize, timeout, go, first, idbase):
    started = []

    async def announce():
        while len(started) < n:
            await asyncio.sleep(0.02)
        out(f"started {n}")

    ann = asyncio.ensure_future(announce())
    res = await asyncio.gather(*[
        _one_stream(idbase + i, port, size, dsize, timeout, go, first, started) for i in range(n)])
    await ann
    counts = {k: 0 for k in ("intact", "reset", "hole", "corrupt", "hang")}
    for o, _ in res:
        counts[o] += 1
    out("streams: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for i, (o, d) in enumerate(res):
        if o != "intact":
            out(f"  stream {idbase + i}: {o}: {d}")
    return 0


def streams(port, n, size, dsize, timeout=30, go="", first=0, idbase=0):
    return asyncio.run(_streams(int(port), int(n), int(size), int(dsize), float(timeout), go,
                                int(first), int(idbase)))


# ---------------------------------------------------------------- small clients

IO_TIMEOUT = 10


def _connect(port):
    s = socket.create_connection((HOST, int(port)), timeout=IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    return s


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return buf


def _socks_request(host, dport):
    try:
        return b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", int(dport))
    except OSError:
        name = host.encode()
        return b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", int(dport))


def _socks_open(s, host, dport):
    """Greeting and CONNECT; returns the reply code (int) or raises."""
    s.sendall(b"\x05\x01\x00")
    g = _recv_exact(s, 2)
    if g != b"\x05\x00":
        raise ConnectionError(f"greeting reply {g.hex() or '-'}")
    s.sendall(_socks_request(host, dport))
    rep = _recv_exact(s, 4)
    if len(rep) < 4:
        raise EOFError(f"CONNECT reply cut short: {rep.hex() or '-'} then EOF")
    atyp = rep[3]
    rest = {1: 6, 4: 18}.get(atyp)
    if rest is None and atyp == 3:
        rest = _recv_exact(s, 1)[0] + 2
    _recv_exact(s, rest or 0)
    return rep[1]


def halfclose(port, mode="", dport=0):
    n = 0
    try:
        s = _connect(port)
        if mode == "socks":
            rep = _socks_open(s, HOST, dport)
            if rep != 0:
                out(f"halfclose FAIL: SOCKS reply {rep:02x}")
                return 1
        s.shutdown(socket.SHUT_WR)
        while True:
            d = s.recv(CHUNK)
            if not d:
                break
            n += len(d)
    except socket.timeout:
        out(f"halfclose FAIL: no EOF in {IO_TIMEOUT} s ({n} bytes read)")
        return 1
    except Exception as e:  # noqa: BLE001 - reported to the script
        out(f"halfclose FAIL: {type(e).__name__}: {e}")
        return 1
    out(f"halfclose eof after {n} bytes")
    return 0


def socks_close(port, dport, n, mode):
    replies = {}
    for _ in range(int(n)):
        try:
            s = _connect(port)
            if mode == "reply":
                k = f"{_socks_open(s, HOST, dport):02x}"
            else:
                s.sendall(b"\x05\x01\x00" + _socks_request(HOST, dport))
                k = "not read"
            s.close()
        except Exception as e:  # noqa: BLE001 - counted and reported
            k = f"{type(e).__name__}"
        replies[k] = replies.get(k, 0) + 1
    out(f"socks-close: {n} done, replies {dict(sorted(replies.items()))}")
    return 0


def socks_connect(port, host, dport):
    try:
        s = _connect(port)
        rep = _socks_open(s, host, dport)
    except socket.timeout:
        out(f"rep - (no reply in {IO_TIMEOUT} s)")
        return 1
    except Exception as e:  # noqa: BLE001 - reported to the script
        out(f"rep - ({type(e).__name__}: {e})")
        return 1
    out(f"rep {rep:02x}")
    return 0


def banner_client(port, mode="", dport=0):
    try:
        s = _connect(port)
        if mode == "socks":
            rep = _socks_open(s, HOST, dport)
            if rep != 0:
                out(f"banner FAIL: SOCKS reply {rep:02x}")
                return 1
        line = b""
        while not line.endswith(b"\n"):
            d = s.recv(1)
            if not d:
                out(f"banner FAIL: EOF after {line!r}")
                return 1
            line += d
        s.sendall(b"ping\n")
        echo = _recv_exact(s, 5)
        if echo != b"ping\n":
            out(f"banner FAIL: banner {line!r} but echo {echo!r}")
            return 1
    except socket.timeout:
        out(f"banner FAIL: nothing in {IO_TIMEOUT} s without sending (server-first protocol hangs)")
        return 1
    except Exception as e:  # noqa: BLE001 - reported to the script
        out(f"banner FAIL: {type(e).__name__}: {e}")
        return 1
    out(f"banner ok: {line.decode().strip()!r}")
    return 0


async def _many(port, n, conc):
    sem = asyncio.Semaphore(conc)
    errs = {}

    async def one(i):
        async with sem:
            msg = f"{i:015d}\n".encode()
            w = None
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(HOST, port), 30)
                w.write(msg)
                await w.drain()
                got = await asyncio.wait_for(r.readexactly(len(msg)), 30)
                if got != msg:
                    raise ValueError("echo differs")
                return True
            except Exception as e:  # noqa: BLE001 - counted and reported
                k = f"{type(e).__name__}: {e}"[:60]
                errs[k] = errs.get(k, 0) + 1
                return False
            finally:
                if w:
                    w.close()

    res = await asyncio.gather(*[one(i) for i in range(n)])
    ok = sum(res)
    out(f"many: {ok} ok, {n - ok} failed")
    for k, c in sorted(errs.items(), key=lambda x: -x[1])[:5]:
        out(f"  {c} x {k}")
    return 0 if ok == n else 1


def many(port, n, conc):
    return asyncio.run(_many(int(port), int(n), int(conc)))


def udp_burst(port, n, size):
    n, size = int(n), int(size)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _big_rcvbuf(s)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    s.bind((HOST, 0))
    fill = os.urandom(size)
    want = {}
    for i in range(n):
        d = struct.pack(">I", i) + fill[4:]
        want[i] = d
        s.sendto(d, (HOST, int(port)))
    seen, wrong = set(), 0
    end = time.monotonic() + 60
    quiet = 5.0
    while len(seen) < n and time.monotonic() < end:
        r, _, _ = select.select([s], [], [], quiet)
        if not r:
            break
        d, _ = s.recvfrom(65536)
        i = struct.unpack(">I", d[:4])[0] if len(d) >= 4 else -1
        if want.get(i) == d:
            seen.add(i)
        else:
            wrong += 1
    out(f"udp-burst: sent {n}, echoed {len(seen)} distinct, {wrong} wrong")
    return 0


def main():
    cmds = {
        "echo": echo, "banner": banner, "verify": verify, "udp-echo": udp_echo,
        "streams": streams, "halfclose": halfclose, "socks-close": socks_close,
        "socks-connect": socks_connect, "banner-client": banner_client, "many": many,
        "udp-burst": udp_burst,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    return cmds[sys.argv[1]](*sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
