import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { createItemsApi, serviceBaseUrl } from "./api/client";
import { parseConfig, type TracingConfig } from "./config";
import { eventually, startServer, type TestServer } from "./testing/http-server";
import { makeSampler, startTracing, type Tracing } from "./tracing";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

interface ExportedSpan {
  traceId: string;
  spanId: string;
  name: string;
}

interface ExportRequest {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: ExportedSpan[] }[];
  }[];
}

/** A gateway stand-in: the API under /api/orders/ and an OTLP/HTTP (JSON) sink under /otlp/. */
let gateway: TestServer;
let tracing: Tracing | undefined;

function tracingConfig(env: Record<string, string>): TracingConfig {
  return parseConfig({ OTEL_BSP_SCHEDULE_DELAY: "50", ...env }, gateway.url).tracing;
}

function exportedSpans(): { service: string | undefined; span: ExportedSpan }[] {
  return gateway.requests
    .filter((request) => request.path === "/otlp/v1/traces")
    .flatMap((request) => (JSON.parse(request.body) as ExportRequest).resourceSpans)
    .flatMap((resourceSpans) => {
      const service = resourceSpans.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue;
      return resourceSpans.scopeSpans.flatMap((scope) => scope.spans.map((span) => ({ service, span })));
    });
}

function apiRequests() {
  return gateway.requests.filter((request) => request.path.startsWith("/api/"));
}

beforeEach(async () => {
  gateway = await startServer((request) =>
    request.path.startsWith("/otlp/") ? { status: 200, json: {} } : { status: 200, json: [] },
  );
});

afterEach(async () => {
  await tracing?.shutdown();
  tracing = undefined;
  await gateway.close();
});

describe("startTracing", () => {
  it("sends traceparent with API calls and exports their spans with the same trace id", async () => {
    tracing = startTracing(tracingConfig({ OTEL_SERVICE_NAME: "web-test" }), gateway.url);
    await createItemsApi(serviceBaseUrl(gateway.url, "orders")).list();

    const header = apiRequests()[0]?.headers.traceparent;
    expect(header).toMatch(TRACEPARENT);
    const [, traceId, parentSpanId] = TRACEPARENT.exec(String(header)) ?? [];

    await tracing.flush();
    await eventually(() => exportedSpans().length > 0);
    const [exported] = exportedSpans();
    expect(exported?.service).toBe("web-test");
    expect(exported?.span.traceId).toBe(traceId);
    expect(exported?.span.spanId).toBe(parentSpanId);
  });

  it("starts a new trace for every call that has no parent", async () => {
    tracing = startTracing(tracingConfig({ OTEL_TRACES_EXPORTER: "none" }), gateway.url);
    const api = createItemsApi(serviceBaseUrl(gateway.url, "orders"));
    await api.list();
    await api.list();
    const traceIds = apiRequests().map((request) => TRACEPARENT.exec(String(request.headers.traceparent))?.[1]);
    expect(traceIds).toHaveLength(2);
    expect(traceIds[0]).toBeDefined();
    expect(traceIds[0]).not.toBe(traceIds[1]);
  });

  it("propagates but exports nothing with OTEL_TRACES_EXPORTER=none", async () => {
    tracing = startTracing(tracingConfig({ OTEL_TRACES_EXPORTER: "none" }), gateway.url);
    await createItemsApi(serviceBaseUrl(gateway.url, "orders")).list();
    await tracing.flush();
    expect(apiRequests()[0]?.headers.traceparent).toMatch(TRACEPARENT);
    expect(gateway.requests.filter((request) => request.path.startsWith("/otlp/"))).toEqual([]);
  });

  it("marks unsampled traces in traceparent and does not export them", async () => {
    tracing = startTracing(tracingConfig({ OTEL_TRACES_SAMPLER: "always_off" }), gateway.url);
    await createItemsApi(serviceBaseUrl(gateway.url, "orders")).list();
    await tracing.flush();
    expect(String(apiRequests()[0]?.headers.traceparent)).toMatch(/-00$/);
    expect(exportedSpans()).toEqual([]);
  });

  it("does nothing with OTEL_SDK_DISABLED=true", async () => {
    tracing = startTracing(tracingConfig({ OTEL_SDK_DISABLED: "true" }), gateway.url);
    await createItemsApi(serviceBaseUrl(gateway.url, "orders")).list();
    await tracing.flush();
    expect(apiRequests()[0]?.headers.traceparent).toBeUndefined();
    expect(gateway.requests.filter((request) => request.path.startsWith("/otlp/"))).toEqual([]);
  });
});

describe("makeSampler", () => {
  it.each([
    ["always_on", "AlwaysOnSampler"],
    ["always_off", "AlwaysOffSampler"],
    ["traceidratio", "TraceIdRatioBased{0.5}"],
    ["parentbased_always_on", "ParentBased{root=AlwaysOnSampler"],
    ["parentbased_always_off", "ParentBased{root=AlwaysOffSampler"],
    ["parentbased_traceidratio", "ParentBased{root=TraceIdRatioBased{0.5}"],
  ] as const)("%s", (sampler, description) => {
    expect(makeSampler({ sampler, samplerRatio: 0.5 }).toString()).toContain(description);
  });
});
