// The crowd's endpoint in bench:delivery (scenario crowd): one host that answers every request after a delay,
// in a process of its own, as a real host is. In the bench's process it shared the thread of the fast
// subscriber being measured: its 256 answers, all due in the same millisecond, and the 256 requests that
// follow them, delayed that subscriber's arrivals, which then read as the hub's latency.
//   tsx bench/crowd-host.ts <port> <delay ms>; GET /stats answers {"open", "mostOpen"}.
import http from "node:http";

const port = Number(process.argv[2]);
const delayMs = Number(process.argv[3] ?? 8000);
let open = 0;
let mostOpen = 0;
let connections = 0;

const server = http.createServer((req, res) => {
  if (req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ open, mostOpen, connections }));
    return;
  }
  req.resume();
  req.on("end", () => {
    open += 1;
    mostOpen = Math.max(mostOpen, open);
    setTimeout(() => {
      open -= 1;
      res.writeHead(204).end();
    }, delayMs);
  });
});
server.on("connection", () => {
  connections += 1;
});
// As the bench's subscribers (bench/topology.ts): an idle connection is kept 30 s. (Node's client keeps a
// connection only while the server's Keep-Alive hint, less a second, allows: with 1 s it kept none, and every
// wave of 256 requests opened 256 new connections.)
server.keepAliveTimeout = 30_000;
server.listen(port, "127.0.0.1", () => console.log(`crowd host listening on ${port}`));
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
