#!/usr/bin/python3
"""TCP servers and clients for kcp.sh, all on 127.0.0.1 (stdlib only).

Streams are SIZE bytes of random.Random(SEED), so both ends know the sha256
without sharing a file. Results are single lines that the script greps; every
wait is bounded (IO_TIMEOUT of silence is a failure, reported as a line).

  sha SIZE SEED                    prints the sha256 of that stream
  recv-server PORT OUTFILE [FLAG]  per connection (threads): appends "accepted PORT"
                                   then, after FLAG exists (if given), reads to EOF and
                                   appends "got N bytes sha256 HEX from PORT" to OUTFILE
  send-server PORT SIZE SEED       per connection: sends the stream, shuts down its
                                   write side, reads until the client closes
  send-client PORT SIZE SEED       prints "port P", sends the stream, SHUT_WR, reads to
                                   EOF; prints "stalled at N" each time a send waits
                                   STALL_S without room, then "sent N bytes" or
                                   "send FAIL: why"
  recv-client PORT [TIMEOUT]       prints "port P", sends "go\n" (the flow opens on the
                                   first bytes), reads to EOF: "got N bytes sha256 HEX"
                                   (or "recv FAIL: why, got N bytes sha256 HEX")
  echo-client PORT SIZE SEED       sends the stream to an echo server while reading
                                   the echo: "echo sent N sha256 A got M sha256 B"
  junk HOST PORT TOPIC...          publishes the bad KCP payloads on each TOPIC
"""
import hashlib
import os
import random
import select
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
IO_TIMEOUT = 30
STALL_S = 2.0
CHUNK = 65536


def out(*a):
    print(*a, flush=True)


def stream(size, seed):
    return random.Random(int(seed)).randbytes(int(size))


def sha(size, seed):
    out(hashlib.sha256(stream(size, seed)).hexdigest())


def _append(path, line, lock=threading.Lock()):
    with lock, open(path, "a") as f:
        f.write(line + "\n")


def _listen(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((HOST, int(port)))
    ls.listen(64)
    return ls


def _wait_file(path, secs):
    end = time.monotonic() + secs
    while not os.path.exists(path):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def _read_to_eof(s, h):
    n = 0
    while True:
        d = s.recv(CHUNK)
        if not d:
            return n
        h.update(d)
        n += len(d)


def _recv_one(c, peer, outfile, flag):
    _append(outfile, f"accepted {peer}")
    h = hashlib.sha256()
    n = 0
    try:
        if flag and not _wait_file(flag, 300):
            _append(outfile, f"error flag never came from {peer}")
            return
        c.settimeout(IO_TIMEOUT)
        n = _read_to_eof(c, h)
        _append(outfile, f"got {n} bytes sha256 {h.hexdigest()} from {peer}")
    except OSError as e:
        _append(outfile, f"error {type(e).__name__} after {n} bytes from {peer}")
    finally:
        c.close()


def recv_server(port, outfile, flag=""):
    ls = _listen(port)
    while True:
        c, a = ls.accept()
        threading.Thread(target=_recv_one, args=(c, a[1], outfile, flag), daemon=True).start()


def _send_one(c, data):
    try:
        c.settimeout(IO_TIMEOUT)
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        while c.recv(CHUNK):
            pass
    except OSError:
        pass
    finally:
        c.close()


def send_server(port, size, seed):
    data = stream(size, seed)
    ls = _listen(port)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=_send_one, args=(c, data), daemon=True).start()


def _connect(port):
    s = socket.create_connection((HOST, int(port)), timeout=IO_TIMEOUT)
    out(f"port {s.getsockname()[1]}")
    return s


def send_client(port, size, seed):
    data = stream(size, seed)
    sent = 0
    try:
        s = _connect(port)
        s.setblocking(False)
        stalled = False
        while sent < len(data):
            _, w, _ = select.select([], [s], [], STALL_S)
            if not w:
                if not stalled:
                    out(f"stalled at {sent}")
                stalled = True
                continue
            if stalled:
                out(f"resumed at {sent}")
            stalled = False
            try:
                sent += s.send(data[sent:sent + CHUNK])
            except BlockingIOError:
                pass
        s.setblocking(True)
        s.settimeout(IO_TIMEOUT)
        s.shutdown(socket.SHUT_WR)
        _read_to_eof(s, hashlib.sha256())
    except Exception as e:  # noqa: BLE001 - reported to the script
        out(f"send FAIL: {type(e).__name__}: {e} after {sent} bytes")
        return 1
    out(f"sent {sent} bytes")
    return 0


def recv_client(port, timeout=IO_TIMEOUT):
    h = hashlib.sha256()
    n = 0
    try:
        s = _connect(port)
        s.settimeout(float(timeout))
        s.sendall(b"go\n")
        while True:
            d = s.recv(CHUNK)
            if not d:
                break
            h.update(d)
            n += len(d)
    except Exception as e:  # noqa: BLE001 - reported to the script
        out(f"recv FAIL: {type(e).__name__}: {e}, got {n} bytes sha256 {h.hexdigest()}")
        return 1
    out(f"got {n} bytes sha256 {h.hexdigest()}")
    return 0


def echo_client(port, size, seed):
    data = stream(size, seed)
    got = hashlib.sha256()
    n = sent = 0
    try:
        s = _connect(port)
        s.setblocking(False)
        last = time.monotonic()
        while n < len(data):
            if time.monotonic() - last > IO_TIMEOUT:
                raise TimeoutError(f"no progress in {IO_TIMEOUT} s")
            r, w, _ = select.select([s], [s] if sent < len(data) else [], [], 1.0)
            if w:
                try:
                    sent += s.send(data[sent:sent + CHUNK])
                    last = time.monotonic()
                except BlockingIOError:
                    pass
            if r:
                d = s.recv(CHUNK)
                if not d:
                    raise EOFError("EOF before the whole echo")
                got.update(d)
                n += len(d)
                last = time.monotonic()
        s.close()
    except Exception as e:  # noqa: BLE001 - reported to the script
        out(f"echo FAIL: {type(e).__name__}: {e}, sent {sent} got {n}")
        return 1
    out(f"echo sent {sent} sha256 {hashlib.sha256(data).hexdigest()} got {n} sha256 {got.hexdigest()}")
    return 0


def junk_payloads():
    hdr = struct.Struct("<IBBHIIII")  # conv cmd frg wnd ts sn una len (ikcp)
    return [
        b"\x00",                                            # short
        b"\x00" * 23,                                       # one byte short of a header
        hdr.pack(0xDEADBEEF, 81, 0, 128, 0, 0, 0, 0),       # wrong conv
        hdr.pack(0, 81, 0, 128, 0, 0, 0, 0x7FFFFFF0),       # absurd length
        hdr.pack(0, 81, 0, 128, 0, 0, 0, 0xFFFFFFFF),       # negative length
        hdr.pack(0, 81, 0, 128, 0, 0, 0, 100) + b"x" * 10,  # length past the payload
        hdr.pack(0, 99, 0, 128, 0, 0, 0, 0),                # unknown command
        hdr.pack(0, 99, 0, 0, 0, 0, 0xFFFFFFFF, 0),         # unknown command, wild una
        hdr.pack(0xDEADBEEF, 82, 0, 0, 0, 0, 0xFFFFFFFF, 0) + b"\x00" * 7,  # wrong conv, trailing bytes
    ]


def junk(host, port, *topics):
    import paho.mqtt.client as mqtt  # python3-paho-mqtt, only this command needs it

    c = mqtt.Client()
    c.connect(host, int(port))
    c.loop_start()
    def payloads(topic):
        # a kcpx flow (ours, framed) reads a KCP datagram after a 'K': junk as frames, and junk KCP
        raw = junk_payloads()
        return raw + [b"K" + p for p in raw] if "/kcpx/" in topic else raw

    infos = [c.publish(t, p, qos=1) for t in topics for p in payloads(t)]
    for i in infos:
        i.wait_for_publish()
    c.loop_stop()
    c.disconnect()
    out(f"junk: published {len(infos)} payloads")
    return 0


def main():
    cmds = {
        "sha": sha, "recv-server": recv_server, "send-server": send_server,
        "send-client": send_client, "recv-client": recv_client, "echo-client": echo_client,
        "junk": junk,
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
