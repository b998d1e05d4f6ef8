#!/usr/bin/python3
"""DNS for the gateway tests, standard library only.

serve ADDR PORT NAME=IPV4...   a tiny resolver on UDP ADDR:PORT: A records for
                               the names given, NXDOMAIN for the rest; prints
                               "query NAME TYPE" per query (flushed).
raw ADDR PORT HEX              sends the bytes HEX as one datagram and prints
                               "rcode N qdcount M" of the reply, or "no reply".
garbage ADDR PORT COUNT        sends COUNT malformed datagrams (short, truncated,
                               looping pointers, responses); prints "sent N".
pipeline ADDR PORT NAME COUNT  COUNT A queries for NAME in one TCP write; prints
                               "answers N" (all within 10 s, or what came).
tcp-many ADDR PORT COUNT       opens COUNT idle TCP connections, then asks one
                               query on a new one; prints "closed K of COUNT,
                               fresh rcode R" (R -1: no answer).
"""
import random
import select
import socket
import struct
import sys
import time


def read_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def serve(addr, port, records):
    table = {}
    for r in records:
        name, ip = r.split("=")
        table[name.lower().rstrip(".")] = socket.inet_aton(ip)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    while True:
        msg, peer = s.recvfrom(4096)
        if len(msg) < 12:
            continue
        qid, flags, qd = struct.unpack("!HHH", msg[:6])
        if qd != 1:
            continue
        name, off = read_name(msg, 12)
        qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        question = msg[12:off + 4]
        print("query %s %d" % (name, qtype), flush=True)
        ip = table.get(name)
        rflags = 0x8180 | (flags & 0x0100)
        if ip is None:
            s.sendto(struct.pack("!HHHHHH", qid, rflags | 3, 1, 0, 0, 0) + question, peer)
        elif qtype != 1:
            s.sendto(struct.pack("!HHHHHH", qid, rflags, 1, 0, 0, 0) + question, peer)
        else:
            answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 30, 4) + ip
            s.sendto(struct.pack("!HHHHHH", qid, rflags, 1, 1, 0, 0) + question + answer, peer)


def exchange(addr, port, data, timeout=3.0):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(data, (addr, port))
    try:
        return s.recv(65536)
    except socket.timeout:
        return None


def raw(addr, port, hexdata):
    reply = exchange(addr, port, bytes.fromhex(hexdata))
    if reply is None or len(reply) < 12:
        print("no reply")
        return
    flags, qd = struct.unpack("!HH", reply[2:6])
    print("rcode %d qdcount %d" % (flags & 15, qd))


def garbage(addr, port, count):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    rnd = random.Random(1234)
    query = bytes.fromhex("abcd01000001000000000000") + b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    for i in range(count):
        kind = i % 5
        if kind == 0:
            data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(12)))
        elif kind == 1:
            data = query[:rnd.randrange(12, len(query))]
        elif kind == 2:
            data = query[:12] + b"\xc0\x0c\x00\x01\x00\x01"  # a pointer to itself
        elif kind == 3:
            data = b"\xab\xcd\x81\x80" + query[4:]  # a response
        else:
            data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(12, 600)))
        s.sendto(data, (addr, port))
    print("sent %d" % count)


def query(name, qid):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", 1, 1)


def tcp_connect(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return socket.create_connection((addr, port), timeout=5) if fam == socket.AF_INET else \
        socket.create_connection((addr, port, 0, 0), timeout=5)


def read_answers(s, want, deadline):
    buf, n = b"", 0
    while n < want and time.time() < deadline:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2 and len(buf) >= 2 + (buf[0] << 8 | buf[1]):
            ln = buf[0] << 8 | buf[1]
            yield buf[2:2 + ln]
            buf = buf[2 + ln:]
            n += 1


def pipeline(addr, port, name, count):
    s = tcp_connect(addr, port)
    data = b"".join(struct.pack("!H", len(q)) + q for q in (query(name, i) for i in range(count)))
    s.sendall(data)
    got = sum(1 for _ in read_answers(s, count, time.time() + 10))
    print("answers %d" % got)


def tcp_many(addr, port, count):
    conns = [tcp_connect(addr, port) for _ in range(count)]
    fresh = tcp_connect(addr, port)
    q = query("x.invalid", 7)
    fresh.sendall(struct.pack("!H", len(q)) + q)
    rcode = -1
    for msg in read_answers(fresh, 1, time.time() + 5):
        rcode = msg[3] & 15
    open_ = set(conns)
    deadline = time.time() + 3
    while open_ and time.time() < deadline:  # the server's FINs may still be on their way
        ready, _, _ = select.select(list(open_), [], [], max(0.05, deadline - time.time()))
        if not ready:
            break
        for c in ready:
            try:
                if c.recv(1) == b"":
                    open_.discard(c)
            except OSError:
                open_.discard(c)
    print("closed %d of %d, fresh rcode %d" % (count - len(open_), count, rcode))


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    elif cmd == "raw":
        raw(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "garbage":
        garbage(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "pipeline":
        pipeline(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    elif cmd == "tcp-many":
        tcp_many(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
