// The least any Node program can take for a case: Node's start-up plus the same
// Engine API calls, with nothing else loaded. The benchmark reports it next to
// claude-bottle so a ratio can be read against what Node itself costs.
//   node bench/node-floor.mjs run <image>   what `docker run --rm --network none <image> true` does
//   node bench/node-floor.mjs ps            what `docker ps --filter label=dev.claude-bottle` does
import { createRequire } from "node:module";

// Required, not imported: since Node 22 an ES import of node:http loads undici (lazy WebSocket getters).
// servername "": plain HTTP has none, and working one out runs net.isIP (~2-5 ms a request), as in EngineApi.
const { request } = createRequire(import.meta.url)("node:http");

const SOCKET = (process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock").replace(/^unix:\/\//, "");

/** Resolves at the answer's headers with a promise of its parsed body (a wait is answered at once, its body at the exit). */
function send(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: SOCKET, servername: "", method, path, headers: body ? { "Content-Type": "application/json" } : {} }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      const parsed = new Promise((done, fail) =>
        res.on("end", () => (res.statusCode < 400 ? done(text ? JSON.parse(text) : undefined) : fail(new Error(`${path}: ${text}`)))),
      );
      resolve({ body: parsed });
    });
    req.on("error", reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

const call = async (method, path, body) => (await send(method, path, body)).body;

function attach(id) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: SOCKET, servername: "", method: "POST", path: `/containers/${id}/attach?stream=1&stdout=1&stderr=1`, headers: { Connection: "Upgrade", Upgrade: "tcp" } });
    req.on("upgrade", (_res, socket) => resolve(socket));
    req.on("error", reject);
    req.end();
  });
}

const [mode, image] = process.argv.slice(2);
if (mode === "ps") {
  await call("GET", `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: ["dev.claude-bottle"] }))}`);
} else if (mode === "run" && image) {
  const { Id: id } = await call("POST", "/containers/create", {
    Image: image,
    Cmd: ["true"],
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: { AutoRemove: true, NetworkMode: "none" },
  });
  // Registered before the start, as docker run does, so the exit cannot be missed.
  const exited = (await send("POST", `/containers/${id}/wait?condition=removed`)).body;
  const output = await attach(id);
  output.resume();
  await call("POST", `/containers/${id}/start`);
  process.exitCode = (await exited).StatusCode;
  output.destroy();
} else {
  throw new Error("usage: node bench/node-floor.mjs run <image> | ps");
}
