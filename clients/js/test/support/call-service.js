/**
 * A stand-in for as-call-service (a service we do not own): records each request (method, path, headers, JSON
 * body) and answers 200 `{"ok": true, "path": …}`, or what `answer(path, status, body)` set for that path.
 */

import { createServer } from "node:http";

export class CallService {
  /** @type {{method: string, path: string, headers: import("node:http").IncomingHttpHeaders, body: any}[]} */
  requests = [];
  /** @type {Map<string, {status: number, body: unknown}>} */
  #answers = new Map();

  #server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const path = request.url ?? "";
      this.requests.push({ method: request.method ?? "", path, headers: request.headers, body: raw ? JSON.parse(raw) : null });
      const { status, body } = this.#answers.get(path) ?? { status: 200, body: { ok: true, path } };
      response.writeHead(status, { "Content-Type": "application/json" });
      response.end(JSON.stringify(body));
    });
  });

  async start() {
    await new Promise((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return this;
  }

  get url() {
    const { port } = /** @type {import("node:net").AddressInfo} */ (this.#server.address());
    return `http://127.0.0.1:${port}`;
  }

  answer(path, status, body) {
    this.#answers.set(path, { status, body });
  }

  stop() {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(resolve));
  }
}
