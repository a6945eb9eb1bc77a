// helloworld.Greeter/SayHello answering at once, on $PORT (Knative's runtime contract).
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const def = loader.loadSync(`${__dirname}/helloworld.proto`, { keepCase: true });
const hello = grpc.loadPackageDefinition(def).helloworld;
const server = new grpc.Server();
server.addService(hello.Greeter.service, { SayHello: (call, cb) => cb(null, { message: `Hello, ${call.request.name}` }) });
server.bindAsync(`0.0.0.0:${process.env.PORT}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
});
