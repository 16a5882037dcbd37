// A load generator that costs less CPU than the server it drives: Node's event loop,
// keep-alive HTTP and the `ws` package (installed with npm `convex`). Python load
// generators saturate the second core of a 2-core machine before the server does.
//
//   node bench/load.mjs http|http-agent|ws|channels|pocketbase URL[,URL...] CLIENTS SECONDS
//   ->  prints mutations/s
// (and, on stderr, its own CPU time per mutation)
// (HTTP clients are spread round-robin over the URLs.)
//
// `http`: each client is one keep-alive TCP connection that writes a prebuilt request and
// reads the response by its Content-Length, as wrk does. `http-agent` drives the same
// requests through node:http's keep-alive Agent, which spends about 40 µs of CPU per
// request on parsing and its stream machinery, against 18 µs (measured 2026-12-01): on
// a 2-core machine that is CPU taken from the server under test, so it is kept only for
// comparison. `channels` and `pocketbase` are `http` with the request bench/peer.py
// compares: a post into a channel, as a pyconvex mutation and as a PocketBase record.
import http from "node:http";
import net from "node:net";
import { randomUUID } from "node:crypto";
import WebSocket from "ws";

const [mode, url, clientsArg, secondsArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const seconds = Number(secondsArg);
const body = JSON.stringify({ path: "bench:insert", args: { body: "x".repeat(100) } });

const urls = url.split(",");

const post = { channel: "hot", body: "x".repeat(100) };
const requests = {
  http: { path: "/api/mutation", body, ok: '"status":"success"' },
  channels: { path: "/api/mutation", body: JSON.stringify({ path: "channels:post", args: post }),
              ok: '"status":"success"' },
  pocketbase: { path: "/api/collections/posts/records", body: JSON.stringify(post),
                ok: '"collectionName":"posts"' },
};

function rawClient(target, stopAt, { path, body, ok } = requests.http) {
  const { hostname, port } = new URL(target);
  const head =
    `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const request = Buffer.from(head + body);
  return new Promise((resolve, reject) => {
    let done = 0;
    let buffer = Buffer.alloc(0);
    const socket = net.connect({ host: hostname, port: Number(port), noDelay: true });
    const send = () => {
      if (performance.now() >= stopAt) {
        socket.end();
        return resolve(done);
      }
      socket.write(request);
    };
    socket.on("connect", send);
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      while (true) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const headers = buffer.subarray(0, end).toString("latin1");
        const match = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
        if (!headers.startsWith("HTTP/1.1 200 ") || !match) {
          return reject(new Error(`unexpected response: ${buffer.toString()}`));
        }
        const total = end + 4 + Number(match[1]);
        if (buffer.length < total) return;
        const text = buffer.subarray(end + 4, total).toString();
        if (!text.includes(ok)) return reject(new Error(text));
        buffer = buffer.subarray(total);
        done += 1;
        send();
      }
    });
  });
}

async function runRaw(request = requests.http) {
  const stopAt = performance.now() + seconds * 1000;
  const start = performance.now();
  const counts = await Promise.all(
    Array.from({ length: clients }, (_, c) => rawClient(urls[c % urls.length], stopAt, request)),
  );
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - start) / 1000);
}

async function runHttp() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let done = 0;
  const stopAt = performance.now() + seconds * 1000;
  const one = (target) =>
    new Promise((resolve, reject) => {
      const { hostname, port } = new URL(target);
      const req = http.request(
        { hostname, port, path: "/api/mutation", method: "POST", agent,
          headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } },
        (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => (text.includes('"success"') ? resolve() : reject(new Error(text))));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < stopAt) {
        await one(urls[c % urls.length]);
        done += 1;
      }
    }),
  );
  agent.destroy();
  return done / ((performance.now() - start) / 1000);
}

function wsClient() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(urls[0].replace("http", "ws") + "/api/sync", { perMessageDeflate: false });
    ws.on("open", () => {
      ws.send(JSON.stringify({ type: "Connect", sessionId: randomUUID(), connectionCount: 0,
                               lastCloseReason: "InitialConnect" }));
      resolve(ws);
    });
    ws.on("error", reject);
  });
}

async function runWs() {
  const sockets = await Promise.all(Array.from({ length: clients }, wsClient));
  let done = 0;
  const stopAt = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve, reject) => {
          let requestId = 0;
          let gotResponse = false;
          let gotTransition = false;
          const send = () => {
            if (performance.now() >= stopAt) return resolve();
            requestId += 1;
            gotResponse = gotTransition = false;
            ws.send(`{"type":"Mutation","requestId":${requestId},"udfPath":"bench:insert","args":[{"body":"${"x".repeat(100)}"}]}`);
          };
          // A client's mutation is done when its response and the Transition that
          // reaches its commit timestamp have both arrived (as the official client waits).
          ws.on("message", (data) => {
            const text = data.toString();
            if (text.includes('"MutationResponse"')) {
              if (!text.includes('"success":true')) return reject(new Error(text));
              gotResponse = true;
            } else if (text.includes('"Transition"')) {
              gotTransition = gotResponse || gotTransition;
            }
            if (gotResponse && gotTransition) {
              done += 1;
              send();
            }
          });
          send();
        }),
    ),
  );
  const rate = done / ((performance.now() - start) / 1000);
  for (const ws of sockets) ws.close();
  return rate;
}

const runners = {
  http: runRaw, "http-agent": runHttp, ws: runWs,
  channels: () => runRaw(requests.channels), pocketbase: () => runRaw(requests.pocketbase),
};
if (!(mode in runners)) throw new Error(`mode must be one of ${Object.keys(runners)}`);
const cpuBefore = process.cpuUsage();
const rate = await runners[mode]();
const cpu = process.cpuUsage(cpuBefore);
console.log(rate.toFixed(2));
// The generator's own CPU per mutation, for judging what it takes from the server.
console.error(`load.mjs ${mode}: ${((cpu.user + cpu.system) / (rate * seconds)).toFixed(1)} µs CPU per mutation`);
process.exit(0);
