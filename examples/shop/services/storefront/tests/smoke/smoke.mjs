// Smoke test of the built page in headless Chromium: the page lists the API's items, creates one
// through its form and publishes it, sends a W3C `traceparent` with every API call, and exports
// those spans to the OTLP/HTTP endpoint of its configuration.
//
//   npm run build && npm run test:smoke
//
// Without SMOKE_URL, one local HTTP server plays the ecosystem's gateway: it serves dist/ (with
// the single-page fallback), /config.json, a small items API under /api/<service>/ and an OTLP
// sink under /otlp/, and checks on its side that it received what the browser sent.
// With SMOKE_URL (e.g. the ecosystem's gateway, http://127.0.0.1:8080/), the page is opened
// there, against the real API and collector, and only what the browser sent and received counts.
//
//   CHROMIUM_PATH    the browser (default /usr/bin/chromium; playwright's own download is not used)
//   SMOKE_SCREENSHOT write a PNG of the page there
//
// The last line printed is a JSON summary: the items seen, the API requests with their
// `traceparent`, and the exported spans of those traces.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createServer } from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";

const DIST = path.resolve(import.meta.dirname, "../../dist");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const DEADLINE_MS = 20_000;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])$/;
const API_PATH = /^\/api\/[^/]+\/items(\/|$)/;
const STAND_IN_ITEMS = [
  { id: 1, name: "smoke-first", description: "served by the smoke test", created_at: "2026-01-02T03:04:05Z" },
  { id: 2, name: "smoke-second", description: null, created_at: "2026-01-02T03:04:06Z" },
];
// What docker/entrypoint.sh would write; a short export delay so that traces arrive quickly.
const STAND_IN_CONFIG = { OTEL_SERVICE_NAME: "smoke-test", OTEL_BSP_SCHEDULE_DELAY: "100" };
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};

function send(response, status, type, body) {
  response.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
  response.end(body);
}

async function serveStatic(pathname, response) {
  const file = path.join(DIST, path.normalize(decodeURIComponent(pathname)));
  if (!file.startsWith(DIST + path.sep)) {
    send(response, 400, "text/plain", "bad path");
    return;
  }
  const found = await stat(file).then(
    (info) => info.isFile(),
    () => false,
  );
  if (found) {
    send(response, 200, TYPES[path.extname(file)] ?? "application/octet-stream", await readFile(file));
  } else if (path.extname(pathname) === "") {
    send(response, 200, TYPES[".html"], await readFile(path.join(DIST, "index.html")));
  } else {
    send(response, 404, "text/plain", "not found");
  }
}

/** The gateway stand-in: dist/, /config.json, the items API and an OTLP sink; it records what it got. */
async function startStandIn() {
  await stat(path.join(DIST, "index.html")).catch(() => {
    throw new Error(`${DIST}/index.html not found: run \`npm run build\` first`);
  });
  const items = [...STAND_IN_ITEMS];
  const received = { api: [], spans: [] };

  async function handle(request, response) {
    const chunks = [];
    for await (const chunk of request) {
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks).toString("utf8");
    const { pathname } = new URL(request.url ?? "/", "http://localhost");
    if (API_PATH.test(pathname)) {
      received.api.push({ method: request.method, path: pathname, traceparent: request.headers.traceparent ?? null });
    }
    if (pathname === "/config.json") {
      send(response, 200, "application/json", JSON.stringify(STAND_IN_CONFIG));
    } else if (/^\/api\/[^/]+\/items$/.test(pathname) && request.method === "GET") {
      send(response, 200, "application/json", JSON.stringify(items));
    } else if (/^\/api\/[^/]+\/items$/.test(pathname) && request.method === "POST") {
      const item = {
        description: null,
        ...JSON.parse(body),
        id: items.length + 1,
        created_at: new Date().toISOString(),
      };
      items.push(item);
      send(response, 201, "application/json", JSON.stringify(item));
    } else if (/^\/api\/[^/]+\/items\/\d+\/publish$/.test(pathname) && request.method === "POST") {
      const id = Number(pathname.split("/")[4]);
      const routing = `${pathname.split("/")[2]}.item.published`;
      send(
        response,
        202,
        "application/json",
        JSON.stringify({ item_id: id, routing_key: routing, message_id: `m-${id}` }),
      );
    } else if (pathname === "/otlp/v1/traces" && request.method === "POST") {
      received.spans.push(...spansOf(body));
      send(response, 200, "application/json", "{}");
    } else if (request.method === "GET") {
      await serveStatic(pathname === "/" ? "/index.html" : pathname, response);
    } else {
      send(response, 405, "text/plain", "method not allowed");
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error) => {
      console.error(error);
      send(response, 500, "text/plain", String(error));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    received,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** The spans of an OTLP/HTTP JSON export request, with their service.name. */
function spansOf(body) {
  return JSON.parse(body).resourceSpans.flatMap((resourceSpans) => {
    const service = resourceSpans.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue;
    return resourceSpans.scopeSpans.flatMap((scope) =>
      scope.spans.map((span) => ({ service, name: span.name, traceId: span.traceId, spanId: span.spanId })),
    );
  });
}

async function eventually(condition, what) {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function run(url, standIn) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage();
    const problems = [];
    const sent = { api: [], spans: [] };
    const pending = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") {
        problems.push(`console ${message.type()}: ${message.text()}`);
      }
    });
    page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
    page.on("request", (request) => {
      const { pathname } = new URL(request.url());
      if (API_PATH.test(pathname)) {
        pending.push(
          request.allHeaders().then((headers) => {
            sent.api.push({ method: request.method(), path: pathname, traceparent: headers.traceparent ?? null });
          }),
        );
      }
    });
    page.on("response", (response) => {
      const request = response.request();
      if (new URL(request.url()).pathname.endsWith("/v1/traces") && request.method() === "POST") {
        if (!response.ok()) {
          problems.push(`the trace export answered ${response.status()}`);
        }
        sent.spans.push(...spansOf(request.postData() ?? "{}"));
      }
    });

    await page.goto(url);
    const items = page.getByRole("list", { name: "items" });
    await items.or(page.getByText("No items yet.")).waitFor({ timeout: DEADLINE_MS });

    const created = `smoke-${randomBytes(4).toString("hex")}`;
    await page.getByRole("textbox", { name: "Name" }).fill(created);
    await page.getByRole("textbox", { name: "Description" }).fill("created by the smoke test");
    await page.getByRole("button", { name: "Create" }).click();
    await items.getByText(created, { exact: true }).waitFor({ timeout: DEADLINE_MS });
    await page.getByRole("button", { name: `Publish ${created}` }).click();
    const row = items.getByRole("listitem").filter({ hasText: created });
    const published = (await row.getByRole("status").textContent({ timeout: DEADLINE_MS })).trim();
    const rendered = await items.getByRole("listitem").locator("strong").allTextContents();
    if (process.env.SMOKE_SCREENSHOT) {
      await page.screenshot({ path: process.env.SMOKE_SCREENSHOT, fullPage: true });
    }
    await Promise.all(pending);

    assert.deepEqual(
      sent.api.map((request) => request.method),
      ["GET", "POST", "POST"],
      "the page lists the items, creates one and publishes it",
    );
    const traces = sent.api.map((request) => {
      const match = TRACEPARENT.exec(request.traceparent ?? "");
      assert.ok(match, `${request.method} ${request.path} carries a W3C traceparent, got ${request.traceparent}`);
      return { traceId: match[1], spanId: match[2], sampled: match[3] === "1" };
    });
    assert.equal(new Set(traces.map((trace) => trace.traceId)).size, traces.length, "each action starts a trace");
    assert.match(published, /^published as [a-z0-9-]+\.item\.published$/, "the page confirms the publication");
    const sampled = traces.filter((trace) => trace.sampled);
    await eventually(
      () => sampled.every((trace) => sent.spans.some((span) => span.spanId === trace.spanId)),
      "the spans of the API calls at the OTLP endpoint",
    );

    if (standIn) {
      assert.deepEqual(rendered, [...STAND_IN_ITEMS.map((item) => item.name), created], "the page shows the items");
      assert.deepEqual(standIn.received.api, sent.api, "the API received what the browser sent");
      assert.equal(sampled.length, traces.length, "every trace is sampled (parentbased_always_on)");
      await eventually(
        () => sampled.every((trace) => standIn.received.spans.some((span) => span.spanId === trace.spanId)),
        "the spans at the stand-in's OTLP sink",
      );
      for (const span of standIn.received.spans) {
        assert.equal(span.service, STAND_IN_CONFIG.OTEL_SERVICE_NAME, "service.name comes from /config.json");
      }
    } else {
      assert.ok(rendered.includes(created), "the page shows the created item");
    }
    assert.deepEqual(problems, [], "no errors or warnings in the page");

    return {
      url,
      items: rendered,
      created,
      published,
      apiRequests: sent.api,
      spans: sent.spans.filter((span) => traces.some((trace) => trace.spanId === span.spanId)),
    };
  } finally {
    await browser.close();
  }
}

async function main() {
  const standIn = process.env.SMOKE_URL ? undefined : await startStandIn();
  try {
    const summary = await run(process.env.SMOKE_URL ?? standIn.url, standIn);
    console.log(JSON.stringify(summary));
  } finally {
    standIn?.close();
  }
}

main().catch((error) => {
  console.error(`smoke test failed: ${error.message}`);
  process.exitCode = 1;
});
