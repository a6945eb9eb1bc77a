# The mapper of Hivelab's vSwarm-style MapReduce (examples/vswarm/mapreduce/README.md): counts the
# words of the text it is given. helloworld.Greeter/SayHello {name: text} -> {message: JSON counts}.
import json
import os
import re
from collections import Counter
from concurrent import futures

import grpc

from proto.helloworld import helloworld_pb2
import helloworld_pb2_grpc


class Mapper(helloworld_pb2_grpc.GreeterServicer):
    def SayHello(self, request, context):
        counts = Counter(re.findall(r"[a-z']+", request.name.lower()))
        return helloworld_pb2.HelloReply(message=json.dumps(counts, sort_keys=True))


def serve():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    helloworld_pb2_grpc.add_GreeterServicer_to_server(Mapper(), server)
    server.add_insecure_port("0.0.0.0:%s" % os.environ.get("PORT", "50051"))
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    serve()
