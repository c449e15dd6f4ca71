import { describe, expect, it } from "vitest";

import { ConfigError, loadConfig, parseConfig, parseResourceAttributes } from "./config";
import { SERVICE_NAME } from "./service";
import { startServer } from "./testing/http-server";

const ORIGIN = "https://shop.example.com";

describe("parseConfig", () => {
  it("defaults to the gateway: API on the page's origin, traces to /otlp", () => {
    const config = parseConfig({}, ORIGIN);
    expect(config.apiBaseUrl).toBe(ORIGIN);
    expect(config.auth).toBeNull();
    expect(config.warnings).toEqual([]);
    expect(config.tracing).toEqual({
      enabled: true,
      serviceName: SERVICE_NAME,
      resourceAttributes: {},
      exporters: ["otlp"],
      tracesUrl: `${ORIGIN}/otlp/v1/traces`,
      sampler: "parentbased_always_on",
      samplerRatio: 1,
      exportDelayMs: 5000,
    });
  });

  it("takes an absolute API base URL or a path, without a trailing slash", () => {
    expect(parseConfig({ API_BASE_URL: "https://api.example.com/" }, ORIGIN).apiBaseUrl).toBe(
      "https://api.example.com",
    );
    expect(parseConfig({ API_BASE_URL: "/gateway/" }, ORIGIN).apiBaseUrl).toBe(`${ORIGIN}/gateway`);
    expect(parseConfig({ API_BASE_URL: "  " }, ORIGIN).apiBaseUrl).toBe(ORIGIN);
  });

  it.each(["api.example.com", "ftp://files.example.com", "javascript:alert(1)"])(
    "refuses the API base URL %s",
    (url) => {
      expect(() => parseConfig({ API_BASE_URL: url }, ORIGIN)).toThrow(ConfigError);
    },
  );

  it("logs in with the issuer of AUTH_ISSUER, as this app's client by default", () => {
    expect(parseConfig({ AUTH_ISSUER: "https://sso.example.com/realms/shop/" }, ORIGIN).auth).toEqual({
      issuer: "https://sso.example.com/realms/shop",
      clientId: SERVICE_NAME,
      scope: "openid",
      audience: "",
    });
    const local = parseConfig(
      {
        AUTH_ISSUER: "http://127.0.0.1:8080/auth",
        AUTH_CLIENT_ID: "shop-web",
        AUTH_SCOPE: "openid profile",
        AUTH_AUDIENCE: "shop-api",
      },
      ORIGIN,
    ).auth;
    expect(local).toEqual({
      issuer: "http://127.0.0.1:8080/auth",
      clientId: "shop-web",
      scope: "openid profile",
      audience: "shop-api",
    });
    expect(parseConfig({ AUTH_ISSUER: " " }, ORIGIN).auth).toBeNull();
  });

  it.each([
    ["AUTH_ISSUER", "http://sso.example.com/realms/shop", "must be an https:// URL"],
    ["AUTH_ISSUER", "sso.example.com", "is not an absolute URL"],
    ["AUTH_ISSUER", "https://sso.example.com/?next=evil", "must not have a query"],
    ["AUTH_CLIENT_ID", "web&redirect_uri=https://evil.example.com", "must be words"],
    ["AUTH_SCOPE", "openid  profile", "must be words"],
    ["AUTH_AUDIENCE", "<api>", "must be words"],
  ])("refuses %s=%s", (name, raw, message) => {
    const env = { AUTH_ISSUER: "https://sso.example.com", [name]: raw };
    expect(() => parseConfig(env, ORIGIN)).toThrow(message);
  });

  it("appends /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT and uses the traces endpoint as it is", () => {
    expect(parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example.com/" }, ORIGIN).tracing.tracesUrl).toBe(
      "https://otel.example.com/v1/traces",
    );
    const both = parseConfig(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example.com",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "/collector/traces",
      },
      ORIGIN,
    );
    expect(both.tracing.tracesUrl).toBe(`${ORIGIN}/collector/traces`);
  });

  it("reads the service name, resource attributes, exporters, sampler and export delay", () => {
    const config = parseConfig(
      {
        OTEL_SERVICE_NAME: "storefront",
        OTEL_RESOURCE_ATTRIBUTES: "service.namespace=shop,deployment.environment.name=staging,team=web%20shop",
        OTEL_TRACES_EXPORTER: "console, otlp",
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.25",
        OTEL_BSP_SCHEDULE_DELAY: "200",
      },
      ORIGIN,
    ).tracing;
    expect(config.serviceName).toBe("storefront");
    expect(config.resourceAttributes).toEqual({
      "service.namespace": "shop",
      "deployment.environment.name": "staging",
      team: "web shop",
    });
    expect(config.exporters).toEqual(["console", "otlp"]);
    expect(config.sampler).toBe("parentbased_traceidratio");
    expect(config.samplerRatio).toBe(0.25);
    expect(config.exportDelayMs).toBe(200);
  });

  it("takes service.name from the resource attributes when OTEL_SERVICE_NAME is unset", () => {
    expect(parseConfig({ OTEL_RESOURCE_ATTRIBUTES: "service.name=shopfront" }, ORIGIN).tracing.serviceName).toBe(
      "shopfront",
    );
  });

  it("switches exporting or tracing off", () => {
    expect(parseConfig({ OTEL_TRACES_EXPORTER: "none" }, ORIGIN).tracing.exporters).toEqual([]);
    expect(parseConfig({ OTEL_SDK_DISABLED: "TRUE" }, ORIGIN).tracing.enabled).toBe(false);
    expect(parseConfig({ OTEL_SDK_DISABLED: "false" }, ORIGIN).tracing.enabled).toBe(true);
  });

  it("falls back to the defaults on invalid tracing values instead of breaking the page", () => {
    const { tracing: config, warnings } = parseConfig(
      {
        OTEL_TRACES_SAMPLER: "sometimes",
        OTEL_TRACES_SAMPLER_ARG: "2",
        OTEL_BSP_SCHEDULE_DELAY: "soon",
        OTEL_TRACES_EXPORTER: "zipkin",
      },
      ORIGIN,
    );
    expect(config.sampler).toBe("parentbased_always_on");
    expect(config.samplerRatio).toBe(1);
    expect(config.exportDelayMs).toBe(5000);
    expect(config.exporters).toEqual([]);
    expect(warnings).toEqual([
      'ignoring the unknown traces exporter "zipkin" (known: otlp, console, none)',
      'unknown OTEL_TRACES_SAMPLER "sometimes", using parentbased_always_on',
      "OTEL_TRACES_SAMPLER_ARG=2 is not a ratio between 0 and 1, using 1",
      "OTEL_BSP_SCHEDULE_DELAY=soon is not a number of milliseconds, using 5000",
    ]);
  });

  it("refuses a document that is not an object of strings", () => {
    expect(() => parseConfig([], ORIGIN)).toThrow(ConfigError);
    expect(() => parseConfig(null, ORIGIN)).toThrow(ConfigError);
    expect(() => parseConfig({ API_BASE_URL: 42 }, ORIGIN)).toThrow("API_BASE_URL must be a string");
  });

  it("ignores settings it does not know, and says so", () => {
    const config = parseConfig({ DATABASE_URL: "postgresql://secret" }, ORIGIN);
    expect(config.warnings).toEqual(["ignoring the unknown setting DATABASE_URL"]);
    expect({ ...config, warnings: [] }).toEqual(parseConfig({}, ORIGIN));
  });
});

describe("parseResourceAttributes", () => {
  it("skips malformed pairs and keeps the rest", () => {
    const warnings: string[] = [];
    const attributes = parseResourceAttributes("a=1,,=2,b,c=%E0%A4%A,d= x ", (message) => warnings.push(message));
    expect(attributes).toEqual({ a: "1", d: "x" });
    expect(warnings).toEqual([
      'ignoring the resource attribute "=2": expected key=value',
      'ignoring the resource attribute "b": expected key=value',
      'ignoring the resource attribute "c=%E0%A4%A": invalid percent-encoding',
    ]);
  });
});

describe("loadConfig", () => {
  it("fetches /config.json from the page's origin", async () => {
    const server = await startServer((request) =>
      request.path === "/config.json"
        ? { status: 200, json: { API_BASE_URL: "https://api.example.com", OTEL_SERVICE_NAME: "from-server" } }
        : { status: 404 },
    );
    try {
      const config = await loadConfig(server.url);
      expect(config.apiBaseUrl).toBe("https://api.example.com");
      expect(config.tracing.serviceName).toBe("from-server");
      expect(server.requests.map((r) => r.path)).toEqual(["/config.json"]);
    } finally {
      await server.close();
    }
  });

  it("fails with the status when /config.json is missing", async () => {
    const server = await startServer(() => ({ status: 404 }));
    try {
      await expect(loadConfig(server.url)).rejects.toThrow("GET /config.json answered 404");
    } finally {
      await server.close();
    }
  });
});
