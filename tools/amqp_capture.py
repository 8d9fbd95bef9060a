#!/usr/bin/env python3
"""A loopback TCP proxy that records AMQP 0-9-1 traffic frame by frame.

Listens on 127.0.0.1:<listen>, forwards every accepted connection to <upstream>, and when a
connection ends appends its frames (both directions, in arrival order per direction) to <out> as
lines of the form

    <conn> <dir> <type> <channel> <class.method or -> <hex of the whole frame>

where <dir> is C (client to server) or S (server to client). The protocol header is written as
type "header". Used to capture the golden frames in tests/protocol/golden_test.cpp:

    tools/amqp_capture.py --listen 5791 --upstream 127.0.0.1:5790 --out /tmp/capture.txt
    # then point a client (pika, amqplib, ...) at port 5791; stop with Ctrl-C.

Standard library only. Not a test dependency.
"""

import argparse
import socket
import struct
import threading

FRAME_NAMES = {1: "method", 2: "header", 3: "body", 8: "heartbeat"}


def split_frames(data):
    """Yields (type, channel, ids, frame bytes) for every complete frame in data."""
    pos = 0
    if data.startswith(b"AMQP"):
        yield ("header", 0, "-", data[:8])
        pos = 8
    while len(data) - pos >= 7:
        ftype, channel, size = struct.unpack_from(">BHI", data, pos)
        end = pos + 7 + size + 1
        if end > len(data):
            break
        frame = data[pos:end]
        ids = "-"
        if ftype == 1 and size >= 4:
            cls, mth = struct.unpack_from(">HH", frame, 7)
            ids = f"{cls}.{mth}"
        yield (FRAME_NAMES.get(ftype, str(ftype)), channel, ids, frame)
        pos = end


def pump(src, dst, sink):
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            sink.extend(chunk)
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(conn_no, client, upstream, out_path, lock):
    server = socket.create_connection(upstream)
    c2s, s2c = bytearray(), bytearray()
    threads = [threading.Thread(target=pump, args=(client, server, c2s)),
               threading.Thread(target=pump, args=(server, client, s2c))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    server.close()
    with lock, open(out_path, "a", encoding="ascii") as out:
        for direction, data in (("C", bytes(c2s)), ("S", bytes(s2c))):
            for ftype, channel, ids, frame in split_frames(data):
                out.write(f"{conn_no} {direction} {ftype} {channel} {ids} {frame.hex()}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the real broker")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    lock = threading.Lock()
    listener = socket.create_server(("127.0.0.1", args.listen))
    conn_no = 0
    while True:
        client, _ = listener.accept()
        conn_no += 1
        threading.Thread(target=serve, daemon=True,
                         args=(conn_no, client, (host, int(port)), args.out, lock)).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
