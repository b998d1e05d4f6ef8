#!/usr/bin/python3
"""A participant of the broker without keys, for tests/e2e/spoof.sh.

  statuses HOST PORT PREFIX COUNT   online statuses of COUNT made-up agents and
                                    as many locals (retained), then their wills
  opens HOST PORT PREFIX AGENT LOCAL COUNT
                                    tcpx OPEN frames (docs/protocol.md) from one
                                    made-up local id, each with its own SRC: COUNT
                                    flows the agent is asked to open

Prints one line, "NAME: N published". Run with /usr/bin/python3 (python3-paho-mqtt).
"""
import os
import struct
import sys
import time

import paho.mqtt.client as mqtt

IO_TIMEOUT = 30


def client(host, port, name):
    c = mqtt.Client(client_id=f"{name}-{os.getpid()}", protocol=mqtt.MQTTv311)
    c.max_queued_messages_set(0)
    c.connect(host, int(port))
    c.loop_start()
    return c


def publish_all(c, msgs, qos, retain):
    last = None
    for topic, payload in msgs:
        last = c.publish(topic, payload, qos=qos, retain=retain)
    if last is not None:
        last.wait_for_publish(IO_TIMEOUT)  # in order on one connection: all went before it


def statuses(host, port, prefix, count):
    count = int(count)
    c = client(host, port, "statuses")
    online = '{"online":true,"id":"%s","role":"%s","version":"0.1.0","max_packet":65536,"streams":1}'
    msgs = []
    for i in range(count):
        msgs.append((f"{prefix}/fake-agent-{i}/-/v/-", online % (f"fake-agent-{i}", "agent")))
        msgs.append((f"{prefix}/-/fake-local-{i}/v/-", online % (f"fake-local-{i}", "local")))
    publish_all(c, msgs, 1, True)
    publish_all(c, [(t, "{}") for t, _ in msgs], 1, True)
    c.loop_stop()
    c.disconnect()
    print(f"statuses: {2 * len(msgs)} published")


def opens(host, port, prefix, agent, local, count):
    count = int(count)
    c = client(host, port, "opens")
    frame = b"O" + struct.pack(">Q", 2 << 20)  # OPEN, u64 window
    msgs = [(f"{prefix}/{agent}/{local}/i/tcpx/10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:{1000 + i % 60000}/-", frame)
            for i in range(count)]
    publish_all(c, msgs, 0, False)
    c.loop_stop()
    c.disconnect()
    print(f"opens: {len(msgs)} published")


def main():
    cmds = {"statuses": statuses, "opens": opens}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
