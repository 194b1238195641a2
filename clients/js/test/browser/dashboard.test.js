/**
 * The dashboard page in headless Chromium (Debian's, driven by puppeteer-core; no browser download), served by
 * `python3 -m http.server` as the README shows, talking to the real local gateway.
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import puppeteer from "puppeteer-core";

import { CallService } from "../support/call-service.js";
import { freshTenant, Gateway, startRedis, startStaticServer, token } from "../support/stack.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const PACKAGE = fileURLToPath(new URL("../../", import.meta.url));
const WAIT = { polling: "mutation", timeout: 20000 };
let redis;
let callService;
let site;
let gateway;
let browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM)`);
  redis = await startRedis();
  callService = await new CallService().start();
  site = await startStaticServer(PACKAGE);
  gateway = await new Gateway({
    redisUrl: redis.url,
    env: { ALLOWED_ORIGINS: `http://localhost:${site.port}`, AS_CALL_SERVICE_URL: callService.url },
  }).start();
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await gateway?.stop();
  await site?.stop();
  await callService?.stop();
  await redis?.stop();
});

/** The dashboard page from `origin`, one panel per token. */
async function openPage(origin, tokens) {
  const page = await browser.newPage();
  const fragment = new URLSearchParams([["url", gateway.wsUrl], ...tokens.map((t) => ["token", t])]);
  await page.goto(`${origin}/examples/dashboard.html#${fragment}`);
  return page;
}

const panel = (index) => `.dashboard[data-index="${index}"]`;

function untilOpen(page, index) {
  return page.waitForFunction((p) => document.querySelector(`${p} .state`)?.dataset.state === "open", WAIT, panel(index));
}

function untilIds(page, index, ids) {
  return page.waitForFunction(
    (p, wanted) => wanted.every((id) => document.querySelector(`${p} li[data-id="${id}"]`)),
    WAIT,
    panel(index),
    ids,
  );
}

function listedIds(page, index) {
  return page.$$eval(`${panel(index)} li[data-id]`, (items) => items.map((item) => item.dataset.id).reverse());
}

test("two dashboards of different tenants on one page each list only their own tenant's events, live", async () => {
  const [tenantA, tenantB] = [freshTenant("a"), freshTenant("b")];
  const page = await openPage(`http://localhost:${site.port}`, [token(tenantA, "ann"), token(tenantB, "bob")]);
  await untilOpen(page, 0);
  await untilOpen(page, 1);

  const idsA = [];
  const idsB = [];
  for (let i = 0; i < 3; i += 1) {
    idsA.push(await gateway.broadcast(tenantA, "call_incoming", { callId: `a${i}`, from: "+1555", to: "+1666" }));
    idsB.push(await gateway.broadcast(tenantB, "call_missed", { callId: `b${i}`, from: "+1555" }));
  }
  await untilIds(page, 0, idsA);
  await untilIds(page, 1, idsB);

  assert.deepEqual(await listedIds(page, 0), idsA);
  assert.deepEqual(await listedIds(page, 1), idsB);
  assert.equal(await page.$eval(`${panel(0)} .who`, (e) => e.textContent), `${tenantA} · ann`);
  assert.equal(await page.$eval(`${panel(0)} .last-event-id`, (e) => e.textContent), idsA.at(-1));
  await page.close();
});

test("a dropped connection recovers on its own and the event it was dropped on appears", async () => {
  const tenant = freshTenant();
  const page = await openPage(`http://localhost:${site.port}`, [token(tenant)]);
  await untilOpen(page, 0);
  const first = await gateway.broadcast(tenant, "call_missed", { callId: "c1", from: "+1555" });
  await untilIds(page, 0, [first]);

  await gateway.addFaults("drop@post#1");
  const dropped = await gateway.broadcast(tenant, "call_missed", { callId: "c2", from: "+1555" });
  await untilIds(page, 0, [dropped]);
  await untilOpen(page, 0);

  assert.deepEqual(await listedIds(page, 0), [first, dropped]);
  assert.equal(await page.$eval(`${panel(0)} .reconnects`, (e) => e.textContent), "1");
  await page.close();
});

test("the page's actions reach as-call-service and the tenant hears of them", async () => {
  const tenant = freshTenant();
  const page = await openPage(`http://localhost:${site.port}`, [token(tenant, "carol")]);
  await untilOpen(page, 0);

  await page.type(`${panel(0)} [data-action="takeover"] [name="conversationId"]`, "conv-42");
  await page.click(`${panel(0)} [data-action="takeover"] button`);
  await page.waitForFunction(
    (p) => document.querySelector(`${p} li[data-event="conversation_taken_over"]`) &&
      document.querySelector(`${p} .result`)?.dataset.ok === "true",
    WAIT,
    panel(0),
  );

  const result = JSON.parse(await page.$eval(`${panel(0)} .result`, (e) => e.textContent));
  assert.deepEqual(result, { action: "takeover_conversation", result: { ok: true, path: "/conversations/conv-42/takeover" } });
  const request = callService.requests.find((r) => r.path === "/conversations/conv-42/takeover");
  assert.equal(request.headers["x-tenant-id"], tenant);
  assert.equal(request.headers["x-user-id"], "carol");
  await page.close();
});

test("a page from an origin the service does not allow is refused (a browser sees only 1006) and never opens", async () => {
  const tenant = freshTenant();
  const since = gateway.log.mark();

  const page = await openPage(`http://127.0.0.1:${site.port}`, [token(tenant)]);
  const refused = / CONNECT +(\S+) \$connect -> \S+ 403 /;
  await gateway.log.waitFor(refused, { since });
  await gateway.log.waitFor(refused, { since: gateway.log.mark() }); // and it keeps trying, with backoff

  const state = await page.$eval(`${panel(0)} .state`, (e) => e.dataset.state);
  assert.equal(state, "connecting");
  const closeCode = await page.evaluate(
    (url) =>
      new Promise((resolve) => {
        const socket = new WebSocket(url);
        socket.onclose = (event) => resolve(event.code);
      }),
    `${gateway.wsUrl}?token=${token(tenant)}`,
  );
  assert.equal(closeCode, 1006);
  assert.ok(!gateway.log.lines.slice(since).some((line) => / CONNECT .* 200 /.test(line)));
  await page.close();
});
