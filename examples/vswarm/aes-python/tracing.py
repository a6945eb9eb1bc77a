# Hivelab's stand-in for vSwarm's utils/tracing/python/tracing.py (same API, no OpenTelemetry):
# Debian has no python3-opentelemetry, and vSwarm's module imports the SDK even with tracing off.
# Hivelab traces each call at the gateway and queue-proxy instead.
import contextlib


def IsTracingEnabled():
    return False


def initTracer(name, debug=False, url=None):
    pass


def grpcInstrumentClient():
    pass


def grpcInstrumentServer():
    pass


class Span(contextlib.ContextDecorator):
    def __init__(self, name=None, attributes=None):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def addEvent(self, *args, **kwargs):
        pass

    def setAttribute(self, *args, **kwargs):
        pass
