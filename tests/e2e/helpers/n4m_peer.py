#!/usr/bin/python3
"""Plays a net4mqtt (Rust) peer on the wire, for tests/e2e/interop.sh.

Each subcommand runs one scenario against a mosquitto on 127.0.0.1 and prints
"PASS: ..." / "FAIL: ..." lines (plus "INFO: ..." details); the exit status is
0 unless the helper itself broke. Every wait has a deadline.

  local-vs-agent  we are a net4mqtt LOCAL, the C agent is under test (A)
  agent-vs-local  we are a net4mqtt AGENT, C local-ports are under test (B)
  pair            C local-port <-> C agent, we only watch the topics (C)
  status-offline  the retained status on TOPIC becomes offline (<= 5 bytes)

What a Rust peer does (libs/net4mqtt/src/proxy.rs): data is QoS 0, not
retained, raw bytes; the agent answers on the `i` topic with `i`->`o`; an empty
payload ends a tcp flow; its rumqttc client refuses packets over 10 KiB.
"""
import argparse
import json
import os
import select
import socket
import sys
import threading
import time
import traceback

import paho.mqtt.client as mqtt

COMPAT_PACKET = 10240  # rumqttc's default max incoming packet size, topic included
FAILS = 0


def say(kind, what):
    print(f"{kind}: {what}", flush=True)


def check(ok, what, detail=""):
    global FAILS
    if ok:
        say("PASS", what)
    else:
        FAILS += 1
        say("FAIL", what + (f" ({detail})" if detail else ""))
    return ok


def info(what):
    say("INFO", what)


def packet_size(topic, payload, qos=0):
    """Bytes of the MQTT 3.1.1 PUBLISH packet carrying this message."""
    rem = 2 + len(topic) + len(payload) + (2 if qos else 0)
    vl = 1 if rem < 128 else 2 if rem < 16384 else 3 if rem < 2097152 else 4
    return 1 + vl + rem


def swap_label(topic, new):
    lv = topic.split("/")
    lv[3] = new
    return "/".join(lv)


def short(b, n=60):
    return repr(bytes(b[:n])) + ("..." if len(b) > n else "")


class Msg:
    __slots__ = ("topic", "payload", "qos", "retain", "t")

    def __init__(self, m):
        self.topic = m.topic
        self.payload = bytes(m.payload)
        self.qos = m.qos
        self.retain = bool(m.retain)
        self.t = time.monotonic()

    @property
    def size(self):  # as a QoS 0 subscriber (every Rust peer) receives it
        return packet_size(self.topic.encode(), self.payload, 0)


class Peer:
    """One MQTT 3.1.1 client; remembers every message it receives, in order."""

    def __init__(self, port, name):
        self.cond = threading.Condition()
        self.msgs = []
        self.subacks = set()
        self.connected = False
        cid = f"{name}-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
        self.c = mqtt.Client(client_id=cid, clean_session=True, protocol=mqtt.MQTTv311)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not self.wait(lambda: self.connected, 10):
            raise RuntimeError(f"MQTT client {cid} did not connect to 127.0.0.1:{port}")

    def _on_connect(self, c, u, flags, rc):
        with self.cond:
            self.connected = rc == 0
            self.cond.notify_all()

    def _on_message(self, c, u, m):
        with self.cond:
            self.msgs.append(Msg(m))
            self.cond.notify_all()

    def _on_subscribe(self, c, u, mid, granted):
        with self.cond:
            self.subacks.add(mid)
            self.cond.notify_all()

    def wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                r = pred()
                if r:
                    return r
                left = deadline - time.monotonic()
                if left <= 0:
                    return r
                self.cond.wait(min(left, 0.2))

    def subscribe(self, *topics):
        """Subscribes with QoS 2 so that a message arrives with the QoS it was published with."""
        for t in topics:
            rc, mid = self.c.subscribe(t, qos=2)
            if rc != mqtt.MQTT_ERR_SUCCESS or not self.wait(lambda: mid in self.subacks, 10):
                raise RuntimeError(f"subscribe {t} failed")

    def publish(self, topic, payload):
        info_ = self.c.publish(topic, payload, qos=0, retain=False)
        if info_.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish to {topic} failed: rc {info_.rc}")

    def on(self, topic):
        with self.cond:
            return [m for m in self.msgs if m.topic == topic]

    def count(self, topic):
        with self.cond:
            return sum(1 for m in self.msgs if m.topic == topic)

    def data(self, topic):
        with self.cond:
            return b"".join(m.payload for m in self.msgs if m.topic == topic)

    def ended(self, topic):
        """net4mqtt's end (an empty payload) on tcp/kcp; an END frame on tcpx/kcpx."""
        framed = topic.split("/")[-3] in ("tcpx", "kcpx")
        with self.cond:
            return any(m.topic == topic and (m.payload[:1] == b"E" if framed else not m.payload)
                       for m in self.msgs)

    def barrier(self, prefix):
        """Returns once everything the broker queued to us before now has arrived."""
        t = f"{prefix}/zz-barrier/{os.getpid()}-{time.monotonic_ns()}"
        self.subscribe(t)
        self.publish(t, b"b")
        if not self.wait(lambda: self.count(t), 10):
            raise RuntimeError("barrier message did not come back")

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def flow_summary(msgs):
    sizes = [len(m.payload) for m in msgs]
    return f"{len(msgs)} messages, payload sizes {sizes[:12]}{'...' if len(sizes) > 12 else ''}"


def check_data_messages(msgs, what, limit=COMPAT_PACKET):
    """QoS 0, every packet within limit (topic and header included)."""
    if not msgs:
        return check(False, f"{what}: messages arrived", "none")
    bad_qos = [m.qos for m in msgs if m.qos != 0]
    check(not bad_qos, f"{what}: published with QoS 0", f"QoS seen {sorted(set(bad_qos))}")
    big = max(msgs, key=lambda m: m.size)
    info(f"{what}: {len(msgs)} messages, largest packet {big.size} bytes "
         f"(payload {len(big.payload)}, topic {len(big.topic)})")
    over = [m for m in msgs if m.size > limit]
    check(not over, f"{what}: every packet <= {limit} bytes including topic and header",
          f"{len(over)} over, largest {big.size} bytes (payload {len(big.payload)}) on {big.topic}")


def status_of(peer, topic, timeout=10):
    m = peer.wait(lambda: next((x for x in reversed(peer.msgs) if x.topic == topic), None), timeout)
    return m


def check_status(port, prefix, topic, role):
    """A fresh subscriber gets the retained online status JSON on exactly `topic`."""
    p = Peer(port, "py-status")
    try:
        p.subscribe(f"{prefix}/+/+/v/#")
        m = status_of(p, topic)
        if m is not None and not m.retain:
            # it was published live, after we subscribed: ask again, the broker keeps it now
            p.close()
            p = Peer(port, "py-status2")
            p.subscribe(f"{prefix}/+/+/v/#")
            m = status_of(p, topic)
        if not check(m is not None, f"{role} status arrives on exactly {topic}",
                     "seen: " + (", ".join(sorted({x.topic for x in p.msgs})) or "nothing")):
            return None
        check(m.retain, f"{role} status on {topic} is retained")
        check(len(m.payload) > 5, f"{role} status payload longer than 5 bytes (liveman: online)",
              f"{len(m.payload)} bytes")
        try:
            st = json.loads(m.payload)
        except ValueError as e:
            check(False, f"{role} status is JSON", f"{e}: {short(m.payload, 200)}")
            return None
        info(f"{role} status {topic}: {m.payload.decode(errors='replace')}")
        check(isinstance(st, dict) and st.get("online") is True, f'{role} status has "online":true')
        mp = st.get("max_packet") if isinstance(st, dict) else None
        check(isinstance(mp, int) and mp >= COMPAT_PACKET, f'{role} status has an integer "max_packet"',
              f"max_packet {mp!r}")
        return st
    finally:
        p.close()


def check_no_retained_data(port, prefix, what):
    p = Peer(port, "py-retained")
    try:
        p.subscribe(f"{prefix}/+/+/i/#", f"{prefix}/+/+/o/#")
        p.barrier(prefix)
        ret = [m for m in p.msgs if "/zz-barrier/" not in m.topic]
        check(not ret, f"{what}: no retained messages on data topics",
              ", ".join(f"{m.topic} ({len(m.payload)} bytes)" for m in ret[:5]))
    finally:
        p.close()


# ---------------------------------------------------------------- echo servers

class TcpEcho:
    """Echoes each connection; batches what it reads (up to 32 KiB) so the side
    under test gets big reads it must split. Records bytes and EOF per connection."""

    def __init__(self, port):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(64)
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            c = {"received": bytearray(), "eof": threading.Event(), "closed": threading.Event()}
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(s, c), daemon=True).start()

    def _serve(self, s, c):
        pending = bytearray()
        try:
            while True:
                r, _, _ = select.select([s], [], [], 0.05)
                if not r:
                    if pending:
                        s.sendall(pending)
                        pending.clear()
                    continue
                b = s.recv(65536)
                if not b:
                    c["eof"].set()
                    if pending:
                        s.sendall(pending)
                    s.shutdown(socket.SHUT_WR)
                    s.settimeout(10)
                    while s.recv(65536):
                        pass
                    break
                c["received"] += b
                pending += b
                if len(pending) >= 32768:
                    s.sendall(pending)
                    pending.clear()
        except OSError:
            pass
        finally:
            c["closed"].set()
            s.close()

    def conn(self, i, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.conns) > i:
                    return self.conns[i]
            time.sleep(0.02)
        return None


class UdpEcho:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", port))
        self.seen = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                b, a = self.s.recvfrom(65536)
            except OSError:
                return
            self.seen.append(b)
            self.s.sendto(b, a)


def recv_exactly(s, n, timeout):
    """Reads n bytes, or less if EOF or the deadline comes first."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            b = s.recv(n - len(out))
        except socket.timeout:
            break
        if not b:
            break
        out += b
    return bytes(out)


def sees_eof(s, timeout):
    """True if the next read is EOF (nothing more) before the deadline."""
    s.settimeout(timeout)
    try:
        b = s.recv(65536)
    except socket.timeout:
        return "timeout"
    except ConnectionResetError:
        return "reset"
    return True if not b else f"{len(b)} more bytes"


# ---------------------------------------------------------------- A

def local_vs_agent(a):
    pfx, agent, local = a.prefix, a.agent, "py-local"
    tcp_echo = TcpEcho(a.echo)
    udp_echo = UdpEcho(a.udp_echo)

    # what net4mqtt's local subscribes to; no status published, like the Rust CLI
    p = Peer(a.port, local)
    p.subscribe(f"{pfx}/+/{local}/o/#")

    st = check_status(a.port, pfx, f"{pfx}/{agent}/-/v/-", "agent")

    # -- tcp to the agent's default target
    ti = f"{pfx}/{agent}/{local}/i/tcp/127.0.0.1:40000/-"
    to = f"{pfx}/{agent}/{local}/o/tcp/127.0.0.1:40000/-"
    chunks = [b"hello agent\n", os.urandom(1000), os.urandom(10000), os.urandom(4096),
              os.urandom(10000), os.urandom(7), os.urandom(10000), os.urandom(9999)]
    sent = b"".join(chunks)
    info(f"tcp: publishing {len(chunks)} chunks, {len(sent)} bytes, sizes {[len(c) for c in chunks]} on {ti}")
    for c in chunks:
        p.publish(ti, c)
    p.wait(lambda: len(p.data(to)) >= len(sent) or p.ended(to), 10)
    got = p.data(to)
    conn = tcp_echo.conn(0, 0.5)
    echo_in = bytes(conn["received"]) if conn else b""
    check(conn is not None, "tcp: the agent connected to its default target (-t)")
    check(echo_in == sent, "tcp: the echo server received exactly the published bytes",
          f"{len(echo_in)} of {len(sent)} bytes")
    check(got == sent, f"tcp: concatenated payloads on {to} equal the echo",
          f"got {len(got)} bytes, want {len(sent)}; first diff at "
          f"{next((i for i in range(min(len(got), len(sent))) if got[i] != sent[i]), min(len(got), len(sent)))}")

    if conn is not None:  # else the rest of this flow can only time out
        p.publish(ti, b"")
        check(conn["eof"].wait(10), "tcp: empty payload on i -> the echo server sees EOF")
        check(p.wait(lambda: p.ended(to), 10), f"tcp: the agent then publishes an empty payload on {to}")
        msgs = p.on(to)
        empties = [i for i, m in enumerate(msgs) if not m.payload]
        check(len(empties) == 1 and empties[0] == len(msgs) - 1,
              "tcp: exactly one empty payload, and it is the last message of the flow",
              f"empty at positions {empties} of {len(msgs)}")
        check_data_messages(msgs, "tcp agent->local")
        info(f"tcp agent->local: {flow_summary(msgs)}")

    # -- udp: each datagram is one message each way
    ui = f"{pfx}/{agent}/{local}/i/udp/127.0.0.1:40001/127.0.0.1:{a.udp_echo}"
    uo = swap_label(ui, "o")
    dgrams = [b"x", os.urandom(100), os.urandom(1400), os.urandom(4096), os.urandom(9000), b"last"]
    ok = True
    for i, d in enumerate(dgrams):
        p.publish(ui, d)
        if not p.wait(lambda: p.count(uo) > i, 5):
            ok = check(False, f"udp: datagram {i} ({len(d)} bytes) comes back on {uo}", "no reply in 5 s")
            break
        back = p.on(uo)[i].payload
        if back != d:
            ok = check(False, f"udp: datagram {i} comes back as one message, byte for byte",
                       f"sent {len(d)} bytes, got {len(back)}")
            break
    if ok:
        check(True, f"udp: {len(dgrams)} datagrams (1..9000 bytes) each came back as one message on {uo}")
    check(udp_echo.seen == dgrams, "udp: the echo server received each message as one datagram",
          f"sizes seen {[len(x) for x in udp_echo.seen]}")
    check_data_messages(p.on(uo), "udp agent->local")

    # -- unreachable destination: fail fast with one empty payload
    ci = f"{pfx}/{agent}/{local}/i/tcp/127.0.0.1:40002/127.0.0.1:{a.closed}"
    co = swap_label(ci, "o")
    p.publish(ci, b"anyone there?")
    check(p.wait(lambda: p.count(co), 10), f"closed port: the agent answers on {co}")
    # a round trip on another flow after it: anything more on co would be queued before
    p.publish(ui, b"barrier")
    p.wait(lambda: p.count(uo) > len(dgrams), 5)
    p.barrier(pfx)
    cm = p.on(co)
    check(len(cm) == 1 and cm[0].payload == b"", "closed port: exactly one message, an empty payload",
          f"{len(cm)} messages, sizes {[len(m.payload) for m in cm]}")

    # -- nothing anywhere else
    want = {to, uo, co}
    other = sorted({m.topic for m in p.msgs if m.topic not in want and "/zz-barrier/" not in m.topic})
    check(not other, "replies arrive only on the expected o topics", "also seen: " + ", ".join(other))
    p.close()
    check_no_retained_data(a.port, pfx, "agent")
    tcp_echo.ls.close()
    return st


# ---------------------------------------------------------------- B

def tcp_case(p, pfx, agent, local, lport, dst, label, send_big=True):
    """One client through a C local-port to us, the 'agent'."""
    s = socket.create_connection(("127.0.0.1", lport), timeout=5)
    cport = s.getsockname()[1]
    ti = f"{pfx}/{agent}/{local}/i/tcp/127.0.0.1:{cport}/{dst}"
    to = swap_label(ti, "o")
    first = b"hello from the client " + label.encode()
    s.sendall(first)
    sent = first
    if not check(p.wait(lambda: len(p.data(ti)) >= len(first), 10),
                 f"{label}: data from client port {cport} arrives on exactly {ti}",
                 "seen: " + ", ".join(sorted({m.topic for m in p.msgs})[-5:])):
        s.close()
        return None
    if send_big:
        big = os.urandom(100 * 1024)
        try:
            s.sendall(big)
        except OSError as e:
            check(False, f"{label}: the local-port takes 100 KiB from the client", str(e))
        sent += big
        p.wait(lambda: len(p.data(ti)) >= len(sent) or p.ended(ti), 10)
    got = p.data(ti)
    check(got == sent, f"{label}: payloads on the i topic equal the {len(sent)} bytes sent",
          f"got {len(got)} bytes")
    check_data_messages(p.on(ti), f"{label} local->agent")

    # the agent answers on the o topic, in chunks like a Rust agent (<= 4096) and one of 10000
    reply = [b"reply from the agent\n", os.urandom(4096), os.urandom(4096), os.urandom(10000), b"end"]
    want = b"".join(reply)
    for c in reply:
        p.publish(to, c)
    back = recv_exactly(s, len(want), 10)
    check(back == want, f"{label}: the client receives the o payloads exactly",
          f"got {len(back)} of {len(want)} bytes")
    return s, cport, ti, to


def tcp_end_agent_first(p, s, ti, to, label):
    p.publish(to, b"")
    r = sees_eof(s, 10)
    check(r is True, f"{label}: empty payload on o -> the client sees EOF", f"got {r}")
    n_before = len(p.on(ti))
    s.close()
    check(p.wait(lambda: p.ended(ti), 10), f"{label}: the client closing -> empty payload on i")
    msgs = p.on(ti)
    empties = [i for i, m in enumerate(msgs) if not m.payload]
    check(len(empties) == 1 and empties[0] == len(msgs) - 1 and n_before <= len(msgs),
          f"{label}: exactly one empty payload on i, after all the data", f"empty at {empties} of {len(msgs)}")


def agent_vs_local(a):
    pfx, agent = a.prefix, "py-agent"
    p = Peer(a.port, agent)
    p.subscribe(f"{pfx}/{agent}/+/i/#")  # what net4mqtt's agent subscribes to; no status

    check_status(a.port, pfx, f"{pfx}/-/{a.local}/v/-", "local-port")

    # 1. default target: agent first ends the stream, then the client closes
    r = tcp_case(p, pfx, agent, a.local, a.lport, "-", "tcp")
    if r:
        tcp_end_agent_first(p, r[0], r[2], r[3], "tcp")

    # 2. the client closes first (full close): the data, then one empty payload on i
    s = socket.create_connection(("127.0.0.1", a.lport), timeout=5)
    cport = s.getsockname()[1]
    ti2 = f"{pfx}/{agent}/{a.local}/i/tcp/127.0.0.1:{cport}/-"
    s.sendall(b"short and gone")
    s.close()
    check(p.wait(lambda: p.ended(ti2), 10), "tcp close first: the client closing -> empty payload on i")
    m2 = p.on(ti2)
    check(b"".join(x.payload for x in m2) == b"short and gone" and m2 and not m2[-1].payload,
          "tcp close first: the bytes, then the empty payload, on exactly " + ti2,
          flow_summary(m2))

    # 3. half-close: the client shuts down its sending side, still reads the answer
    s = socket.create_connection(("127.0.0.1", a.lport), timeout=5)
    cport = s.getsockname()[1]
    ti3 = f"{pfx}/{agent}/{a.local}/i/tcp/127.0.0.1:{cport}/-"
    to3 = swap_label(ti3, "o")
    s.sendall(b"question")
    s.shutdown(socket.SHUT_WR)
    if check(p.wait(lambda: p.ended(ti3), 10), "tcp half-close: shutdown(SHUT_WR) -> empty payload on i"):
        p.publish(to3, b"late answer")
        back = recv_exactly(s, len(b"late answer"), 10)
        check(back == b"late answer",
              "tcp half-close: the client still receives what the agent sends after", f"got {short(back)}")
        p.publish(to3, b"")
        r = sees_eof(s, 10)
        check(r is True, "tcp half-close: then an empty payload on o -> EOF", f"got {r}")
    s.close()

    # 4. a local-port with -t: the DST level is that target
    r = tcp_case(p, pfx, agent, a.local2, a.lport2, a.dst2, "tcp -t " + a.dst2, send_big=False)
    if r:
        tcp_end_agent_first(p, r[0], r[2], r[3], "tcp -t " + a.dst2)

    # 5. udp local-port
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    uport = u.getsockname()[1]
    ui = f"{pfx}/{agent}/{a.local_udp}/i/udp/127.0.0.1:{uport}/-"
    uo = swap_label(ui, "o")
    dgrams = [b"ping", os.urandom(1), os.urandom(1400), os.urandom(4096), os.urandom(9000)]
    ok = True
    for i, d in enumerate(dgrams):
        u.sendto(d, ("127.0.0.1", a.lport_udp))
        if not p.wait(lambda: p.count(ui) > i, 5):
            ok = check(False, f"udp: datagram {i} ({len(d)} bytes) arrives on {ui}",
                       "seen: " + ", ".join(sorted({m.topic for m in p.msgs})[-5:]))
            break
        if p.on(ui)[i].payload != d:
            ok = check(False, f"udp: datagram {i} is one message, byte for byte",
                       f"sent {len(d)}, got {len(p.on(ui)[i].payload)}")
            break
    if ok:
        check(True, f"udp: {len(dgrams)} datagrams each arrived as one message on {ui}")
    check_data_messages(p.on(ui), "udp local->agent")
    for i, d in enumerate([b"pong", os.urandom(3000), os.urandom(9000)]):
        p.publish(uo, d)
        u.settimeout(5)
        try:
            back, src = u.recvfrom(65536)
        except socket.timeout:
            check(False, f"udp: message {i} on o comes back to the client as a datagram", "timeout")
            break
        check(back == d and src == ("127.0.0.1", a.lport_udp),
              f"udp: message {i} on o ({len(d)} bytes) -> one datagram from 127.0.0.1:{a.lport_udp}",
              f"got {len(back)} bytes from {src}")
    u.close()

    # 6. a port scanner's connect and close: net4mqtt's agent opens a flow on its first
    # data, so it must hear nothing of it (our local closes such a flow at home)
    s = socket.create_connection(("127.0.0.1", a.lport), timeout=5)
    ti6 = f"{pfx}/{agent}/{a.local}/i/tcp/127.0.0.1:{s.getsockname()[1]}/-"
    s.close()
    s = socket.create_connection(("127.0.0.1", a.lport), timeout=5)
    ti7 = f"{pfx}/{agent}/{a.local}/i/tcp/127.0.0.1:{s.getsockname()[1]}/-"
    s.sendall(b"after the scan")
    s.close()
    # one publisher's messages reach us in order: once ti7 ended, ti6 has said all it will
    check(p.wait(lambda: p.ended(ti7), 10) and not p.on(ti6),
          "connect and close without a byte: nothing published toward a net4mqtt agent",
          flow_summary(p.on(ti6)))

    p.barrier(pfx)
    protos = sorted({m.topic.split("/")[-3] for m in p.msgs if "/zz-barrier/" not in m.topic})
    check(set(protos) <= {"tcp", "udp"},
          "a net4mqtt agent sees only tcp and udp flows: none of our stream frames (tcpx)",
          ", ".join(protos))
    locals_ = (a.local, a.local2, a.local_udp)
    other = sorted({m.topic for m in p.msgs if m.topic.split("/")[2] not in locals_
                    and "/zz-barrier/" not in m.topic})
    check(not other, "the local-ports publish only on their own i topics", ", ".join(other))
    p.close()
    check_no_retained_data(a.port, pfx, "local-port")


def live_agent(a):
    """An agent that publishes the status live777's liveion publishes ({"online":true}, no
    max_packet): the local-port must still keep every packet within 10 KiB."""
    pfx, agent = a.prefix, a.agent
    p = Peer(a.port, agent)
    p.subscribe(f"{pfx}/{agent}/+/i/#")
    r = tcp_case(p, pfx, agent, a.local, a.lport, "-", "tcp to a liveion-like agent")
    if r:
        tcp_end_agent_first(p, r[0], r[2], r[3], "tcp to a liveion-like agent")
    p.close()


def publish_retained(a):
    p = Peer(a.port, "py-retain")
    info_ = p.c.publish(a.topic, a.payload.encode(), qos=0, retain=True)
    p.barrier(a.prefix)  # the broker has handled our publish once our own message is back
    check(info_.rc == mqtt.MQTT_ERR_SUCCESS, f"retained {a.payload} published on {a.topic}")
    p.close()


# ---------------------------------------------------------------- C

def pair(a):
    pfx = a.prefix
    echo = TcpEcho(a.echo)
    p = Peer(a.port, "py-sniff")
    p.subscribe(f"{pfx}/+/+/i/#", f"{pfx}/+/+/o/#", f"{pfx}/+/+/v/#")
    sa = status_of(p, f"{pfx}/{a.agent}/-/v/-")
    sl = status_of(p, f"{pfx}/-/{a.local}/v/-")
    mp_a = json.loads(sa.payload).get("max_packet", 0) if sa else 0
    mp_l = json.loads(sl.payload).get("max_packet", 0) if sl else 0
    check(mp_a == 65536 and mp_l == 65536, "pair: agent and local-port both publish max_packet 65536",
          f"agent {mp_a}, local {mp_l}")

    s = socket.create_connection(("127.0.0.1", a.lport), timeout=5)
    cport = s.getsockname()[1]
    # between our own peers a stream is framed (tcpx: docs/protocol.md)
    ti = f"{pfx}/{a.agent}/{a.local}/i/tcpx/127.0.0.1:{cport}/-"
    to = swap_label(ti, "o")
    data = os.urandom(1 << 20)
    t0 = time.monotonic()
    err = []

    def sender():
        try:
            s.sendall(data)
        except OSError as e:
            err.append(e)

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    back = recv_exactly(s, len(data), 30)
    th.join(5)
    info(f"pair: 1 MiB round trip in {time.monotonic() - t0:.2f} s")
    check(back == data and not err, "pair: 1 MiB through local-port -> agent -> echo comes back intact",
          f"got {len(back)} bytes, sender error {err}")
    s.close()
    check(p.wait(lambda: p.ended(ti) and p.ended(to), 10), "pair: the flow ends on both topics")
    if not check(echo.conn(0, 1) is not None and echo.conn(0, 1)["eof"].wait(5),
                 "pair: the echo server saw EOF"):
        pass
    for topic, lim, what in ((ti, mp_a, "local->agent"), (to, mp_l, "agent->local")):
        msgs = p.on(topic)
        if not msgs:
            check(False, f"pair {what}: messages seen on {topic}")
            continue
        big = max(msgs, key=lambda m: m.size)
        info(f"pair {what}: {len(msgs)} messages, largest packet {big.size} bytes "
             f"(payload {len(big.payload)})")
        check(any(m.size > COMPAT_PACKET for m in msgs),
              f"pair {what}: messages larger than 10 KiB are used between our peers",
              f"largest {big.size}")
        lim = lim or 65536
        check(big.size <= lim, f"pair {what}: no packet over the peer's max_packet {lim} "
              "(topic and header included)", f"largest {big.size} bytes, payload {len(big.payload)}")
        check(all(m.qos == 0 for m in msgs), f"pair {what}: QoS 0")
    p.close()


# ---------------------------------------------------------------- misc

def status_offline(a):
    p = Peer(a.port, "py-offline")
    p.subscribe(a.topic)
    m = p.wait(lambda: next((x for x in p.msgs if x.topic == a.topic and len(x.payload) <= 5), None), 10)
    last = p.on(a.topic)
    check(m is not None and m.payload == b"{}",
          f"after SIGTERM the retained status on {a.topic} is {{}} (offline)",
          f"seen {[short(x.payload, 80) for x in last]}")
    p.close()


def status_online(a):
    """Waits (10 s in all) until each topic holds an online status (> 5 bytes)."""
    p = Peer(a.port, "py-online")
    for t in a.topic:
        p.subscribe(t)
    ok = p.wait(lambda: all(any(x.topic == t and len(x.payload) > 5 for x in p.msgs) for t in a.topic), 10)
    missing = [t for t in a.topic if not any(x.topic == t and len(x.payload) > 5 for x in p.msgs)]
    check(ok, "online status published on " + ", ".join(a.topic), "missing: " + ", ".join(missing))
    p.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="broker port on 127.0.0.1")
    ap.add_argument("--prefix", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("local-vs-agent")
    s.add_argument("--agent", required=True)
    s.add_argument("--echo", type=int, required=True)
    s.add_argument("--udp-echo", type=int, required=True)
    s.add_argument("--closed", type=int, required=True)
    s = sub.add_parser("agent-vs-local")
    s.add_argument("--local", required=True)
    s.add_argument("--lport", type=int, required=True)
    s.add_argument("--local2", required=True)
    s.add_argument("--lport2", type=int, required=True)
    s.add_argument("--dst2", required=True)
    s.add_argument("--local-udp", required=True)
    s.add_argument("--lport-udp", type=int, required=True)
    s = sub.add_parser("live-agent")
    s.add_argument("--agent", required=True)
    s.add_argument("--local", required=True)
    s.add_argument("--lport", type=int, required=True)
    s = sub.add_parser("publish-retained")
    s.add_argument("--topic", required=True)
    s.add_argument("--payload", required=True)
    s = sub.add_parser("pair")
    s.add_argument("--agent", required=True)
    s.add_argument("--local", required=True)
    s.add_argument("--lport", type=int, required=True)
    s.add_argument("--echo", type=int, required=True)
    s = sub.add_parser("status-offline")
    s.add_argument("--topic", required=True)
    s = sub.add_parser("status-online")
    s.add_argument("--topic", action="append", required=True)
    a = ap.parse_args()
    try:
        {"local-vs-agent": local_vs_agent, "agent-vs-local": agent_vs_local, "pair": pair,
         "live-agent": live_agent, "publish-retained": publish_retained,
         "status-offline": status_offline, "status-online": status_online}[a.cmd](a)
    except Exception:
        traceback.print_exc()
        check(False, f"helper {a.cmd} ran to the end", "exception above")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
