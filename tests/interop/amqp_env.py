"""Connection settings for the interop scripts, taken from the environment that
harness.py sets (AMQP_HOST, AMQP_PORT); defaults 127.0.0.1:5672 for running by hand."""

import os

import pika


def host():
    return os.environ.get("AMQP_HOST", "127.0.0.1")


def port():
    return int(os.environ.get("AMQP_PORT", "5672"))


def params(**overrides):
    """pika.ConnectionParameters(host, port) with timeouts, so that a script never blocks
    forever on a broker that stops answering. Keyword arguments override the defaults."""
    kwargs = {
        "blocked_connection_timeout": 30,
        "socket_timeout": 10,
        "stack_timeout": 15,
    }
    kwargs.update(overrides)
    return pika.ConnectionParameters(host=host(), port=port(), **kwargs)
