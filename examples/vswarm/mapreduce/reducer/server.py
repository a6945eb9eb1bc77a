# The reducer of Hivelab's vSwarm-style MapReduce (examples/vswarm/mapreduce/README.md): adds up the
# mappers' counts. helloworld.Greeter/SayHello {name: JSON list of counts} -> {message: JSON counts}.
import json
import os
from collections import Counter
from concurrent import futures

import grpc

from proto.helloworld import helloworld_pb2
import helloworld_pb2_grpc


class Reducer(helloworld_pb2_grpc.GreeterServicer):
    def SayHello(self, request, context):
        try:
            parts = json.loads(request.name)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name must be a JSON list of word counts: %s" % exc)
        total = Counter()
        for part in parts:
            total.update(part)
        return helloworld_pb2.HelloReply(message=json.dumps(total, sort_keys=True))


def serve():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    helloworld_pb2_grpc.add_GreeterServicer_to_server(Reducer(), server)
    server.add_insecure_port("0.0.0.0:%s" % os.environ.get("PORT", "50051"))
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    serve()
