#!/usr/bin/python3
"""DNS for the gateway tests, standard library only.

serve ADDR PORT NAME=IPV4...   a tiny resolver on UDP ADDR:PORT: A records for
                               the names given, NXDOMAIN for the rest; prints
                               "query NAME TYPE" per query (flushed).
raw ADDR PORT HEX              sends the bytes HEX as one datagram and prints
                               "rcode N qdcount M" of the reply, or "no reply".
garbage ADDR PORT COUNT        sends COUNT malformed datagrams (short, truncated,
                               looping pointers, responses); prints "sent N".
"""
import random
import socket
import struct
import sys


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


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    elif cmd == "raw":
        raw(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "garbage":
        garbage(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
