# The driver of Hivelab's vSwarm-style MapReduce (examples/vswarm/mapreduce/README.md), invoked as
# vSwarm invokes its drivers: helloworld.Greeter/SayHello {name: text}. It splits the text's lines
# into MAPPERS chunks, calls mapreduce-mapper on each in parallel, then mapreduce-reducer on their
# answers, and returns the reducer's JSON word counts. The calls go through the platform: gRPC to
# HIVELAB_GRPC_TARGET (the instance's egress socket), the callee named by :authority in Knative's
# cluster-local form, as vSwarm's chained functions name theirs.
import json
import os
from concurrent import futures

import grpc

from proto.helloworld import helloworld_pb2
import helloworld_pb2_grpc

TARGET = os.environ.get("HIVELAB_GRPC_TARGET", "127.0.0.1:80")
MAPPERS = int(os.environ.get("MAPPERS", "3"))
CALL_TIMEOUT_S = float(os.environ.get("CALL_TIMEOUT_S", "60"))


def stub_for(function):
    channel = grpc.insecure_channel(TARGET, options=[("grpc.default_authority", "%s.default.svc.cluster.local" % function)])
    return helloworld_pb2_grpc.GreeterStub(channel)


MAPPER = stub_for("mapreduce-mapper")
REDUCER = stub_for("mapreduce-reducer")
POOL = futures.ThreadPoolExecutor(max_workers=MAPPERS)


class Driver(helloworld_pb2_grpc.GreeterServicer):
    def SayHello(self, request, context):
        lines = request.name.splitlines()
        chunks = ["\n".join(lines[i::MAPPERS]) for i in range(MAPPERS)]
        calls = [POOL.submit(MAPPER.SayHello, helloworld_pb2.HelloRequest(name=c), timeout=CALL_TIMEOUT_S) for c in chunks if c]
        try:
            mapped = [json.loads(f.result().message) for f in calls]
            reduced = REDUCER.SayHello(helloworld_pb2.HelloRequest(name=json.dumps(mapped)), timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as exc:
            context.abort(exc.code(), "a call of the MapReduce failed: %s" % exc.details())
        return helloworld_pb2.HelloReply(message=reduced.message)


def serve():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    helloworld_pb2_grpc.add_GreeterServicer_to_server(Driver(), server)
    server.add_insecure_port("0.0.0.0:%s" % os.environ.get("PORT", "50051"))
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    serve()
