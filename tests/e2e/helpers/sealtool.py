#!/usr/bin/python3
"""A broker participant who records and replays encrypted flows' messages, for tests/e2e/seal.sh.

  record HOST PORT FILTER OUT
      subscribes to FILTER and appends every message to OUT as "TOPIC HEX" lines
      (flushed as they come) until killed; prints "recording" once subscribed.
  replay HOST PORT IN MATCH TYPE [flip]
      publishes again the last message recorded in IN whose topic contains MATCH
      and whose payload is of TYPE (H open, R reply, D data: its second byte);
      with "flip", the top bit of its counter flipped first (a data message:
      a counter not seen yet, which its tag no longer matches). Prints
      "replayed TOPIC LEN", or "nothing to replay".
  scan IN NEEDLE...
      prints "found NEEDLE" for each NEEDLE in any recorded topic or payload,
      then "scanned N messages".

Run with /usr/bin/python3 (python3-paho-mqtt).
"""
import os
import sys

import paho.mqtt.client as mqtt

IO_TIMEOUT = 15


def client(host, port, name):
    c = mqtt.Client(client_id=f"{name}-{os.getpid()}", protocol=mqtt.MQTTv311)
    c.connect(host, int(port))
    return c


def record(host, port, flt, out):
    f = open(out, "a", buffering=1)

    def on_message(_c, _u, m):
        f.write(f"{m.topic} {m.payload.hex()}\n")

    def on_subscribe(*_a):
        print("recording", flush=True)

    c = client(host, port, "record")
    c.on_message = on_message
    c.on_subscribe = on_subscribe
    c.subscribe(flt, qos=0)
    c.loop_forever()


def messages(path):
    with open(path) as f:
        for line in f:
            topic, _, payload = line.rstrip("\n").partition(" ")
            yield topic, bytes.fromhex(payload)


def replay(host, port, path, match, kind, flip=None):
    chosen = None
    for topic, payload in messages(path):
        if match in topic and len(payload) > 2 and payload[1:2] == kind.encode():
            chosen = (topic, payload)
    if not chosen:
        print("nothing to replay", flush=True)
        return 1
    topic, payload = chosen
    if flip:
        b = bytearray(payload)
        b[2] ^= 0x80  # the counter's top byte: a counter never used, a tag that fails
        payload = bytes(b)
    c = client(host, port, "replay")
    c.loop_start()
    c.publish(topic, payload, qos=1).wait_for_publish(IO_TIMEOUT)
    c.loop_stop()
    c.disconnect()
    print(f"replayed {topic} {len(payload)}", flush=True)
    return 0


def scan(path, needles):
    n = 0
    found = set()
    for topic, payload in messages(path):
        n += 1
        for needle in needles:
            if needle in topic or needle.encode() in payload:
                found.add(needle)
    for needle in needles:
        if needle in found:
            print(f"found {needle}")
    print(f"scanned {n} messages")
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "record":
        return record(*args)
    if cmd == "replay":
        return replay(*args)
    if cmd == "scan":
        return scan(args[0], args[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
