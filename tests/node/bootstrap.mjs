// Runs on Node: the bootstrap over node:dgram, with the control plane's Hono app served through
// node:http (Deno.serve is Deno's; on Node a Hono app needs an adapter such as these lines).
// Usage: node bootstrap.mjs BUNDLE.mjs; prints {"event":"listening","udp":PORT,"http":PORT}.
import http from "node:http";
import { pathToFileURL } from "node:url";

const olaf = await import(pathToFileURL(process.argv[2]).href);
const server = await olaf.startBootstrap({ hostname: "127.0.0.1", port: 0 });
const app = olaf.createControlApp({ bootstrap: server });
const web = http.createServer(async (request, response) => {
  const answer = await app.fetch(new Request(`http://127.0.0.1${request.url}`));
  response.writeHead(answer.status, Object.fromEntries(answer.headers));
  response.end(Buffer.from(await answer.arrayBuffer()));
});
await new Promise((resolve) => web.listen(0, "127.0.0.1", resolve));
console.log(JSON.stringify({
  event: "listening",
  udp: server.localAddress.port,
  http: web.address().port,
}));
process.on("SIGTERM", async () => {
  web.close();
  await server.close();
  process.exit(0);
});
