#!/usr/bin/env python3
"""connection.start / tune / open-ok contents (docs/rabbitmq-behaviour.md section 6), raw AMQP and pika."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amqp_raw import WARREN, HOST, PORT, Runner, check, check_eq, connect  # noqa: E402

R = Runner("server_properties")
c = connect()
start, tune = c.start, c.tune
props = start.server_properties

CAPS = ["publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
        "connection.blocked", "consumer_priorities", "authentication_failure_close", "per_consumer_qos",
        "direct_reply_to"]


@R.case("protocol version 0-9")
def _():
    check_eq((start.version_major, start.version_minor), (0, 9), "version")


@R.case("server_properties keys, in order")
def _():
    check_eq(list(props), ["capabilities", "cluster_name", "copyright", "information", "platform", "product",
                           "version"], "keys")


@R.case("capabilities: exactly these nine, all boolean true, in this order")
def _():
    check_eq(list(props["capabilities"].items()), [(k, True) for k in CAPS], "capabilities")


@R.case("product / version / platform / copyright / information / cluster_name values")
def _():
    if WARREN:
        check_eq(props["product"], b"Warren", "product")
        check(re.fullmatch(rb"\d+\.\d+\.\d+", props["version"]) is not None, f"version {props['version']!r}")
        for key in ("platform", "copyright", "information", "cluster_name"):
            check(isinstance(props[key], bytes) and props[key], f"{key} {props[key]!r}")
        return
    check_eq(props["product"], b"RabbitMQ", "product")
    check(re.fullmatch(rb"3\.10\.\d+", props["version"]) is not None, f"version {props['version']!r}")
    check(re.fullmatch(rb"Erlang/OTP \d+(\.\d+)*", props["platform"]) is not None, f"platform {props['platform']!r}")
    check_eq(props["copyright"], b"Copyright (c) 2007-2022 VMware, Inc. or its affiliates.", "copyright")
    check_eq(props["information"], b"Licensed under the MPL 2.0. Website: https://rabbitmq.com", "information")
    check(re.fullmatch(rb"[^@]+@[^@]+", props["cluster_name"]) is not None, f"cluster_name {props['cluster_name']!r}")


@R.case("mechanisms AMQPLAIN and PLAIN, locales 'en_US'")
def _():
    # RabbitMQ 3.10 sent 'AMQPLAIN PLAIN' in every run until one node start on 2026-12-04
    # (a CI run) sent 'PLAIN AMQPLAIN': its order is not fixed. A client picks the mechanism
    # it supports from the list, so only the set is checked; Warren sends 'AMQPLAIN PLAIN'.
    check_eq(sorted(start.mechanisms.split(b" ")), [b"AMQPLAIN", b"PLAIN"], "mechanisms")
    if WARREN:
        check_eq(start.mechanisms, b"AMQPLAIN PLAIN", "mechanisms")
    check_eq(start.locales, b"en_US", "locales")


@R.case("tune: channel_max 2047, frame_max 131072, heartbeat 60")
def _():
    check_eq((tune.channel_max, tune.frame_max, tune.heartbeat), (2047, 131072, 60), "tune")


@R.case("open-ok known_hosts '' and channel.open-ok channel_id ''")
def _():
    m = c.open_channel(1)
    check_eq(m.channel_id, b"", "channel_id")


@R.case("pika sees the same server properties and negotiates 2047/131072/60")
def _():
    import pika
    params = pika.ConnectionParameters(host=HOST, port=PORT, socket_timeout=5, blocked_connection_timeout=5,
                                       stack_timeout=10)
    conn = pika.BlockingConnection(params)
    try:
        impl = conn._impl
        sp = impl.server_properties
        check_eq(sp["product"], "Warren" if WARREN else "RabbitMQ", "pika product")
        check_eq(sorted(sp["capabilities"]), sorted(CAPS), "pika capabilities")
        check_eq((impl.params.channel_max, impl.params.frame_max, impl.params.heartbeat), (2047, 131072, 60),
                 "pika negotiated")
    finally:
        conn.close()


c.close()
R.finish()
