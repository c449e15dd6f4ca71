import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startServer, type TestServer } from "../testing/http-server";
import { ApiError, createItemsApi, serviceBaseUrl } from "./client";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const ITEM = { id: 1, name: "first", description: null, created_at: "2026-01-02T03:04:05Z" };

let server: TestServer;

beforeAll(async () => {
  server = await startServer((request) => {
    if (request.method === "GET" && request.path.startsWith("/api/orders/items?")) {
      return { status: 200, json: [ITEM] };
    }
    if (request.method === "POST" && request.path === "/api/orders/items") {
      const body = JSON.parse(request.body) as { name: string; description: string | null };
      if (body.name === "taken") {
        return {
          status: 409,
          contentType: "application/problem+json",
          json: { title: "Conflict", status: 409, detail: "an item with this name already exists", trace_id: TRACE_ID },
        };
      }
      return { status: 201, json: { ...body, id: 2, created_at: "2026-01-02T03:04:06Z" } };
    }
    if (request.method === "POST" && request.path === "/api/orders/items/1/publish") {
      return { status: 202, json: { item_id: 1, routing_key: "orders.item.published", message_id: "m-1" } };
    }
    if (request.method === "POST" && request.path === "/api/orders/items/9/publish") {
      return { status: 404, contentType: "application/problem+json", json: { title: "Not Found", status: 404 } };
    }
    if (request.path.startsWith("/api/secured/items")) {
      return request.headers.authorization === "Bearer good-token"
        ? { status: 200, json: [ITEM] }
        : { status: 401, contentType: "application/problem+json", json: { title: "Unauthorized", status: 401 } };
    }
    if (request.path === "/api/down/items?limit=50") {
      return {
        status: 503,
        contentType: "application/problem+json",
        json: { title: "Service Unavailable", status: 503, detail: "the database is unavailable", trace_id: TRACE_ID },
      };
    }
    if (request.path === "/api/broken/items?limit=50") {
      return { status: 422, json: { detail: [{ loc: ["query", "limit"], msg: "too large", type: "x" }] } };
    }
    return { status: 502 };
  });
});

afterAll(() => server.close());

describe("serviceBaseUrl", () => {
  it("puts the service under /api/ of the gateway", () => {
    expect(serviceBaseUrl("https://shop.example.com/", "order-history")).toBe(
      "https://shop.example.com/api/order-history",
    );
  });
});

describe("createItemsApi", () => {
  it("lists items with a limit", async () => {
    const api = createItemsApi(serviceBaseUrl(server.url, "orders"));
    expect(await api.list(10)).toEqual([ITEM]);
    expect(server.requests.at(-1)?.path).toBe("/api/orders/items?limit=10");
  });

  it("creates an item with a JSON body", async () => {
    const api = createItemsApi(serviceBaseUrl(server.url, "orders"));
    const created = await api.create({ name: "second", description: "two" });
    expect(created).toMatchObject({ id: 2, name: "second", description: "two" });
    const request = server.requests.at(-1);
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request?.body ?? "")).toEqual({ name: "second", description: "two" });
  });

  it("publishes an item by its id", async () => {
    const api = createItemsApi(serviceBaseUrl(server.url, "orders"));
    expect(await api.publish(1)).toEqual({ item_id: 1, routing_key: "orders.item.published", message_id: "m-1" });
    expect(server.requests.at(-1)).toMatchObject({ method: "POST", path: "/api/orders/items/1/publish" });
    await expect(api.publish(9)).rejects.toMatchObject({ status: 404, message: "Not Found" });
  });

  it("turns error answers into ApiError with the API's message", async () => {
    const api = createItemsApi(serviceBaseUrl(server.url, "orders"));
    const conflict = await api.create({ name: "taken" }).catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(ApiError);
    expect(conflict).toMatchObject({
      status: 409,
      message: "an item with this name already exists",
      traceId: TRACE_ID,
    });

    const down = await createItemsApi(serviceBaseUrl(server.url, "down"))
      .list()
      .catch((error: unknown) => error);
    expect(down).toMatchObject({ status: 503, message: "the database is unavailable", traceId: TRACE_ID });

    const invalid = await createItemsApi(serviceBaseUrl(server.url, "broken"))
      .list()
      .catch((error: unknown) => error);
    expect(invalid).toMatchObject({ status: 422, message: "too large" });

    const gateway = await createItemsApi(serviceBaseUrl(server.url, "missing"))
      .list()
      .catch((error: unknown) => error);
    expect(gateway).toMatchObject({ status: 502, message: "the API answered 502" });
  });
});

describe("createItemsApi with credentials", () => {
  function secured(token: string | undefined) {
    const refusals: number[] = [];
    const api = createItemsApi(serviceBaseUrl(server.url, "secured"), {
      accessToken: () => token,
      onUnauthorized: () => refusals.push(1),
    });
    return { api, refusals };
  }

  it("sends the token as Authorization: Bearer", async () => {
    const { api, refusals } = secured("good-token");
    expect(await api.list()).toEqual([ITEM]);
    expect(server.requests.at(-1)?.headers.authorization).toBe("Bearer good-token");
    expect(refusals).toEqual([]);
  });

  it("reports a 401, with a token or without one", async () => {
    const stale = secured("stale-token");
    await expect(stale.api.list()).rejects.toMatchObject({ status: 401, message: "Unauthorized" });
    expect(stale.refusals).toHaveLength(1);

    const none = secured(undefined);
    await expect(none.api.create({ name: "x" })).rejects.toMatchObject({ status: 401 });
    expect(server.requests.at(-1)?.headers.authorization).toBeUndefined();
    expect(none.refusals).toHaveLength(1);
  });

  it("sends no Authorization header without credentials", async () => {
    await createItemsApi(serviceBaseUrl(server.url, "orders")).list();
    expect(server.requests.at(-1)?.headers.authorization).toBeUndefined();
  });
});
