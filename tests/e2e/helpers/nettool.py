#!/usr/bin/python3
"""Servers and clients for the end-to-end tests, all on 127.0.0.1.

Run with /usr/bin/python3 (stdlib; `barrage` also needs python3-paho-mqtt).
Every client bounds each of its waits; results are printed as one line that
the calling script greps.

  echo-tcp PORT                  asyncio echo server
  echo-udp PORT                  UDP echo server
  sink PORT                      accepts and never reads; prints "accepted N" per connection
  flood PORT BYTES               sends BYTES (0: without end) to each client as fast as it takes them
  echo-once PORT SIZE            one round of SIZE random bytes through an echo server
  hold PORT                      one echo round, prints "up", then reads until the connection ends
  rounds PORT SIZE STOPFILE PROGRESSFILE
                                 request/echo rounds of SIZE random bytes until STOPFILE exists
  concurrent PORT N MIN MAX      N connections at once, each echoing its own MIN..MAX random bytes
  udp-once PORT SRC_PORT         one datagram from a chosen source port, waits for its reply
  udp-many PORT N                N sockets, one distinct datagram each, waits for every reply
  upload PORT BYTES [hold]       pushes BYTES, reports how far it got and how it ended;
                                 with hold, each stdin line sends 64 KB more
  noread PORT                    connects, never reads, waits until the connection ends
  barrage HOST PORT PREFIX AGENT LOCAL CLOSED_PORT COUNT LIVE_SRC
                                 publishes malformed and hostile messages
"""
import asyncio
import errno
import os
import random
import select
import socket
import sys
import time

HOST = "127.0.0.1"
IO_TIMEOUT = 30  # seconds: a hang becomes a reported failure, never a stuck test
STALL_S = 15  # an upload that makes no progress this long is reported as stalled


def out(*a):
    print(*a, flush=True)


# ---- servers ----

async def _echo_tcp(port):
    async def handle(r, w):
        try:
            while True:
                d = await r.read(65536)
                if not d:
                    break
                w.write(d)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    srv = await asyncio.start_server(handle, HOST, port, backlog=4096, limit=1 << 20)
    async with srv:
        await srv.serve_forever()


def echo_tcp(port):
    asyncio.run(_echo_tcp(int(port)))


def echo_udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((HOST, int(port)))
    while True:
        d, a = s.recvfrom(65536)
        try:
            s.sendto(d, a)
        except OSError:
            pass


def sink(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((HOST, int(port)))
    ls.listen(64)
    held, n = [], 0
    while True:
        c, _ = ls.accept()
        held.append(c)  # never read, never closed
        n += 1
        out(f"accepted {n}")


async def _flood(port, total):
    chunk = b"\xa5" * 65536

    async def handle(r, w):
        sent = 0
        how = "ok"
        out("flood: client connected")
        try:
            while sent < total or total == 0:
                n = min(len(chunk), total - sent) if total else len(chunk)
                w.write(chunk[:n])
                await w.drain()
                sent += n
        except (ConnectionError, OSError) as e:
            how = f"error: {type(e).__name__}"
        out(f"flood: sent {sent} bytes, {how}")
        w.close()

    srv = await asyncio.start_server(handle, HOST, port)
    async with srv:
        await srv.serve_forever()


def flood(port, total):
    asyncio.run(_flood(int(port), int(total)))


# ---- clients ----

def _connect(port):
    s = socket.create_connection((HOST, int(port)), timeout=IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    return s


def _recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(min(65536, n - len(buf)))
        if not d:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += d
    return bytes(buf)


def _send_and_echo(s, data):
    """Sends data while reading its echo (no deadlock on big payloads)."""
    s.setblocking(False)
    got = bytearray()
    sent = 0
    deadline = time.monotonic() + IO_TIMEOUT
    while len(got) < len(data):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"echo stalled: sent {sent}, got {len(got)} of {len(data)}")
        wl = [s] if sent < len(data) else []
        r, w, _ = select.select([s], wl, [], left)
        if w:
            try:
                sent += s.send(data[sent:sent + 65536])
            except BlockingIOError:
                pass
        if r:
            d = s.recv(65536)
            if not d:
                raise EOFError(f"EOF after {len(got)} of {len(data)} echoed bytes")
            got += d
    s.settimeout(IO_TIMEOUT)
    if bytes(got) != data:
        first = next(i for i in range(len(data)) if got[i] != data[i])
        raise ValueError(f"echo differs from byte {first} of {len(data)}")


def echo_once(port, size):
    try:
        s = _connect(port)
        _send_and_echo(s, os.urandom(int(size)))
    except Exception as e:  # noqa: BLE001 - reported, the script asserts on it
        out(f"echo FAIL: {type(e).__name__}: {e}")
        return 1
    s.close()
    out("echo ok")
    return 0


def hold(port):
    s = _connect(port)
    _send_and_echo(s, b"hello through the tunnel\n")
    out("up")
    s.settimeout(None)  # the caller bounds this one with `timeout`
    try:
        d = s.recv(65536)
        out("ended: eof" if not d else f"ended: unexpected {len(d)} bytes")
    except OSError as e:
        out(f"ended: error {errno.errorcode.get(e.errno, e.errno)}")


def rounds(port, size, stopfile, progressfile):
    size = int(size)
    rng = random.Random(os.getpid())
    s = _connect(port)
    out(f"port {s.getsockname()[1]}")
    n = 0
    try:
        while not os.path.exists(stopfile):
            data = rng.randbytes(size)
            _send_and_echo(s, data)
            n += 1
            if n % 5 == 0:
                with open(progressfile + ".tmp", "w") as f:
                    f.write(f"{n}\n")
                os.replace(progressfile + ".tmp", progressfile)
    except Exception as e:  # noqa: BLE001 - reported, the script asserts on it
        out(f"rounds FAIL after {n}: {type(e).__name__}: {e}")
        return 1
    s.close()
    out(f"rounds ok {n}")
    return 0


async def _one(port, payload):
    r, w = await asyncio.open_connection(HOST, port, limit=1 << 20)
    try:
        w.write(payload)
        await w.drain()
        got = await r.readexactly(len(payload))
        if got != payload:
            raise ValueError("echo differs")
    finally:
        w.close()
    return True


async def _concurrent(port, n, lo, hi):
    rng = random.Random(12345)
    payloads = [rng.randbytes(rng.randint(lo, hi)) for _ in range(n)]
    assert len(set(payloads)) == n
    tasks = [asyncio.wait_for(_one(port, p), IO_TIMEOUT * 2) for p in payloads]
    res = await asyncio.gather(*tasks, return_exceptions=True)
    errs = [r for r in res if r is not True]
    kinds = {}
    for e in errs:
        k = f"{type(e).__name__}: {e}"[:80]
        kinds[k] = kinds.get(k, 0) + 1
    out(f"concurrent: {n - len(errs)} ok, {len(errs)} failed, {sum(map(len, payloads))} bytes")
    for k, c in sorted(kinds.items(), key=lambda x: -x[1])[:5]:
        out(f"  {c} x {k}")
    return 0 if not errs else 1


def concurrent(port, n, lo, hi):
    return asyncio.run(_concurrent(int(port), int(n), int(lo), int(hi)))


def udp_many(port, n):
    n = int(n)
    socks = []
    want = {}
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((HOST, 0))
        s.setblocking(False)
        msg = f"datagram {i} from {s.getsockname()[1]} ".encode() + os.urandom(16).hex().encode()
        socks.append(s)
        want[s.fileno()] = msg
    for s in socks:
        s.sendto(want[s.fileno()], (HOST, int(port)))
    ok, bad = set(), 0
    deadline = time.monotonic() + IO_TIMEOUT
    poll = select.poll()
    for s in socks:
        poll.register(s, select.POLLIN)
    byfd = {s.fileno(): s for s in socks}
    while len(ok) < n and time.monotonic() < deadline:
        for fd, _ in poll.poll(500):
            try:
                d = byfd[fd].recv(65536)
            except OSError:
                continue
            if d == want[fd]:
                ok.add(fd)
            else:
                bad += 1
    out(f"udp: {len(ok)} of {n} replied, {bad} wrong")
    return 0 if len(ok) == n and not bad else 1


def udp_once(port, src_port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, int(src_port)))
    s.settimeout(IO_TIMEOUT)
    msg = f"one datagram from {src_port} ".encode() + os.urandom(8).hex().encode()
    s.sendto(msg, (HOST, int(port)))
    try:
        d = s.recv(65536)
    except socket.timeout:
        out(f"udp-once: no reply in {IO_TIMEOUT} s")
        return 1
    out("udp-once: reply ok" if d == msg else f"udp-once: wrong reply {d[:40]!r}")
    return 0 if d == msg else 1


def upload(port, total, hold=""):
    """Pushes `total` bytes (without reading), then reports how it went.

    With `hold`, keeps the connection open afterwards: on each line of stdin it
    sends 64 KB more ("late" bytes) and reports; at EOF of stdin it closes."""
    total = int(total)
    s = _connect(port)
    s.setblocking(False)
    chunk = b"\x5a" * 65536
    sent, how, read_side = 0, "all sent", "open"
    last_progress = time.monotonic()
    while sent < total:
        r, w, _ = select.select([s] if read_side == "open" else [], [s], [], 1)
        if r:
            try:
                d = s.recv(65536)
                read_side = "eof" if not d else read_side
            except OSError as e:
                read_side = f"error {errno.errorcode.get(e.errno, e.errno)}"
        if w:
            try:
                sent += s.send(chunk[:min(len(chunk), total - sent)])
                last_progress = time.monotonic()
            except BlockingIOError:
                pass
            except OSError as e:
                how = f"error {errno.errorcode.get(e.errno, e.errno)}"
                break
        elif time.monotonic() - last_progress > STALL_S:
            how = f"stalled: no progress for {STALL_S} s"
            break
    if read_side == "open":
        r, _, _ = select.select([s], [], [], 0)
        if r:
            try:
                read_side = "eof" if not s.recv(65536) else "data"
            except OSError as e:
                read_side = f"error {errno.errorcode.get(e.errno, e.errno)}"
    out(f"upload: {sent} of {total} bytes, {how}; read side: {read_side}")
    if not hold:
        s.close()
        return 0
    while sys.stdin.readline():
        s.setblocking(True)
        s.settimeout(STALL_S)
        try:
            s.sendall(chunk)
            out(f"late: sent {len(chunk)} bytes")
        except socket.timeout:
            out("late: stalled")
        except OSError as e:
            out(f"late: error {errno.errorcode.get(e.errno, e.errno)}")
    s.close()
    return 0


def noread(port):
    s = _connect(port)
    s.sendall(b"GET /200MB\n")  # the agent opens the flow when the first bytes arrive
    out("connected")
    s.settimeout(None)  # bounded by the caller; first wait for the end it is told about
    sys.stdin.readline()
    got, how = 0, "eof"
    s.settimeout(IO_TIMEOUT)
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            got += len(d)
    except socket.timeout:
        how = "still open"
    except OSError as e:
        how = f"error {errno.errorcode.get(e.errno, e.errno)}"
    out(f"noread: received {got} bytes, then {how}")


def barrage(host, port, prefix, agent, local, closed_port, count, live_src):
    import paho.mqtt.client as mqtt

    count = int(count)
    c = mqtt.Client(client_id=f"barrage-{os.getpid()}", protocol=mqtt.MQTTv311)
    c.max_queued_messages_set(0)
    P, A, L = prefix, agent, local
    src = "127.0.0.1:1"
    # the agent should answer a flow it cannot open with an empty payload
    answer_topic = f"{P}/{A}/l/o/tcp/{src}/127.0.0.1:{closed_port}"
    answers = []
    subscribed = []
    c.on_message = lambda cl, ud, m: answers.append(m.payload) if m.topic == answer_topic else None
    c.on_subscribe = lambda cl, ud, mid, q: subscribed.append(mid)
    c.connect(host, int(port))
    c.loop_start()
    _, mid = c.subscribe(answer_topic, 0)
    deadline = time.monotonic() + IO_TIMEOUT
    while mid not in subscribed and time.monotonic() < deadline:
        time.sleep(0.02)
    junk = bytes(range(256)) * 4
    msgs = [
        # wrong number of levels
        (f"{P}/a", b"x"),
        (f"{P}/{A}/l/i/tcp/s/d/extra/more", b"x"),
        (f"{P}/{A}/{L}/o/tcp/s/d/extra/more", b"x"),
        (f"{P}/{A}/l/i/tcp/{src}/-/x", b"x"),
        # unknown label, unknown protocol
        (f"{P}/{A}/l/q/tcp/s/d", b"x"),
        (f"{P}/{A}/l/i/sctp/{src}/-", b"x"),
        (f"{P}/{A}/{L}/o/sctp/{src}/-", b"x"),
        # garbage destinations
        (f"{P}/{A}/l/i/tcp/1.2.3.4:5/not-an-address", b"x"),
        (f"{P}/{A}/l/i/tcp/x/999.1.1.1:99999", b"x"),
        (f"{P}/{A}/l/i/tcp/{src}/a host with spaces:80", b"x"),
        (f"{P}/{A}/l/i/tcp/{src}/127.0.0.1:0", b"x"),
        (f"{P}/{A}/l/i/tcp/{src}/[::1", b"x"),
        (f"{P}/{A}/l/i/udp/{src}/:::::", b"x"),
        # empty levels
        (f"{P}/{A}//i/tcp/a/b", b"x"),
        (f"{P}/{A}/l/i//{src}/-", b"x"),
        (f"{P}/{A}/{L}/o/tcp//-", b"x"),
        # levels at and over the length limits, a trailing slash, non-ASCII
        (f"{P}/{A}/{'l' * 271}/i/tcp/{'s' * 271}/{'d' * 265}:1", b"x"),
        (f"{P}/{A}/{'l' * 271}/i/tcp/{'s' * 271}/127.0.0.1:{closed_port}", b"x"),
        (f"{P}/{A}/l/i/tcp/{'s' * 5000}/-", b"x"),
        (f"{P}/{A}/{L}/o/tcp/{'s' * 5000}/-", b"x"),
        (f"{P}/{A}/l/i/tcp/{src}/-/", b"x"),
        (f"{P}/{A}/l/i/tcp/\u00fcn\u00efc\u00f6d\u00e9/127.0.0.1:{closed_port}", b"x"),
        # junk and extremes on status topics of other peers
        (f"{P}/-/junk-local/v/-", b"{" * 4000),
        (f"{P}/junk-agent/-/v/-", b'{"online":true,"role":"agent","max_packet":99999999999999999999}'),
        (f"{P}/junk-agent2/-/v/-", b'{"online":true,"role":"agent","max_packet":-5,"id":'),
        # binary junk opening a flow to a closed port
        (f"{P}/{A}/l/i/tcp/{src}/127.0.0.1:{closed_port}", junk),
        (f"{P}/{A}/l/i/udp/{src}/127.0.0.1:{closed_port}", junk),
        # oversized payloads on data topics
        (f"{P}/{A}/l/i/tcp/127.0.0.1:2/127.0.0.1:{closed_port}", os.urandom(200 * 1024)),
        (f"{P}/{A}/{L}/o/tcp/127.0.0.1:2/-", os.urandom(200 * 1024)),
        # oversized payloads on the topics of a live flow: dropped, the flow goes on
        (f"{P}/{A}/{L}/i/tcp/{live_src}/-", os.urandom(200 * 1024)),
        (f"{P}/{A}/{L}/o/tcp/{live_src}/-", os.urandom(200 * 1024)),
        # stray empty payloads on unknown flows
        (f"{P}/{A}/l/i/tcp/127.0.0.1:3/-", b""),
        (f"{P}/{A}/{L}/o/tcp/127.0.0.1:3/-", b""),
        # junk on a peer status topic
        (f"{P}/{A}/l/v/-", b"\x00\xff not json at all"),
        # icmp (ours): empty, one byte (no whole sequence number), a port where 0 belongs, a
        # name that resolves nowhere, an oversized echo, and the agent's own o topic
        (f"{P}/{A}/l/i/icmp/127.0.0.1:7/127.0.0.1:0", b""),
        (f"{P}/{A}/l/i/icmp/127.0.0.1:8/127.0.0.1:0", b"\x01"),
        (f"{P}/{A}/l/i/icmp/127.0.0.1:9/127.0.0.1:80", b"\x00\x01ping"),
        (f"{P}/{A}/l/i/icmp/127.0.0.1:10/no.such.name.invalid:0", b"\x00\x01ping"),
        (f"{P}/{A}/l/i/icmp/127.0.0.1:11/127.0.0.1:0", os.urandom(200 * 1024)),
        (f"{P}/{A}/l/i/icmp/x/-", b"\x00\x01"),
        (f"{P}/{A}/{L}/o/icmp/127.0.0.1:12/127.0.0.1:0", b"\x00\x01junk"),
    ]
    for t, p in msgs:
        c.publish(t, p, qos=0)
    kinds = [
        lambda i: (f"{P}/{A}/l/i/tcp/s/d/extra/{i}", os.urandom(i % 64)),
        lambda i: (f"{P}/{A}/l/i/sctp/127.0.0.1:{i}/-", b"x"),
        lambda i: (f"{P}/{A}/{L}/o/tcp/127.0.0.1:{i}/-", os.urandom(i % 100)),
        lambda i: (f"{P}/{A}/{L}/o/zzz/127.0.0.1:{i}/-", b"x"),
        lambda i: (f"{P}/{A}/l{i}/i/tcp/127.0.0.1:{i}/not-an-address", b"x"),
        lambda i: (f"{P}/{A}/l/i/tcp/127.0.0.1:{i}/-", b""),
    ]
    for i in range(count):
        t, p = kinds[i % len(kinds)](i)
        c.publish(t, p, qos=0)
    # a QoS 1 marker: once it is acknowledged, everything before it reached the broker
    info = c.publish(f"{P}/barrage/done", b"1", qos=1)
    info.wait_for_publish(IO_TIMEOUT)
    out(f"barrage: {len(msgs) + count} messages published")
    deadline = time.monotonic() + IO_TIMEOUT
    while not answers and time.monotonic() < deadline:
        time.sleep(0.02)
    if answers:
        out(f"closed-port flow answered: {len(answers[0])}-byte payload")
    else:
        out(f"closed-port flow answered: nothing in {IO_TIMEOUT} s")
    c.loop_stop()
    c.disconnect()
    return 0


def main():
    cmds = {
        "echo-tcp": echo_tcp, "echo-udp": echo_udp, "sink": sink, "flood": flood,
        "hold": hold, "echo-once": echo_once, "rounds": rounds, "concurrent": concurrent, "udp-many": udp_many, "udp-once": udp_once,
        "upload": upload, "noread": noread, "barrage": barrage,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    try:
        return cmds[sys.argv[1]](*sys.argv[2:]) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
