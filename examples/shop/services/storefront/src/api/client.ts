/**
 * The typed client of the backend's API. The types come from the backend's OpenAPI document
 * (openapi/*.json) by `npm run generate:api`; a change of the API that breaks this page is a
 * type error, found by `npm run typecheck` before anything runs.
 */
import createClient from "openapi-fetch";

import type { components, paths } from "./schema";

export type Item = components["schemas"]["ItemRead"];
export type ItemCreate = components["schemas"]["ItemCreate"];
export type ItemPublished = components["schemas"]["ItemPublished"];
/** Every error the API answers (RFC 9457, `application/problem+json`), but request validation. */
export type Problem = components["schemas"]["Problem"];

export class ApiError extends Error {
  override name = "ApiError";

  constructor(
    readonly status: number,
    message: string,
    /** The trace of the failed request, when the API sent one: quote it when reporting a problem. */
    readonly traceId?: string,
  ) {
    super(message);
  }
}

function isProblem(body: unknown): body is Problem {
  return typeof body === "object" && body !== null && "status" in body && "title" in body;
}

/** The message of an error body: a Problem's detail (or title), or FastAPI's validation
 * `{"detail": [{"msg": ...}]}`. */
function describe(status: number, body: unknown): string {
  if (isProblem(body)) {
    return body.detail ?? body.title;
  }
  const detail = typeof body === "object" && body !== null && "detail" in body ? body.detail : undefined;
  if (typeof detail === "string") {
    return detail;
  }
  if (Array.isArray(detail)) {
    const messages = detail.map((entry: unknown) =>
      typeof entry === "object" && entry !== null && "msg" in entry ? String(entry.msg) : JSON.stringify(entry),
    );
    return messages.join("; ");
  }
  return `the API answered ${status}`;
}

function apiError(status: number, body: unknown): ApiError {
  return new ApiError(status, describe(status, body), isProblem(body) ? (body.trace_id ?? undefined) : undefined);
}

/** `<apiBaseUrl>/api/<service>`: the gateway routes it to the service (the prefix is stripped). */
export function serviceBaseUrl(apiBaseUrl: string, service: string): string {
  return `${apiBaseUrl.replace(/\/+$/, "")}/api/${encodeURIComponent(service)}`;
}

export interface ItemsApi {
  list(limit?: number): Promise<Item[]>;
  create(item: ItemCreate): Promise<Item>;
  /** Announce the item to the ecosystem: the backend publishes `<service>.item.published`. */
  publish(itemId: number): Promise<ItemPublished>;
}

/** The caller's bearer token, when the ecosystem's API takes tokens (`auth:`). */
export interface Credentials {
  /** The token to send now, or undefined (then no Authorization header). */
  accessToken(): string | undefined;
  /** The API answered 401: the token expired or was refused. */
  onUnauthorized(): void;
}

export function createItemsApi(baseUrl: string, credentials?: Credentials): ItemsApi {
  const client = createClient<paths>({
    baseUrl,
    // Looked up on every call, so that the fetch instrumented by tracing is the one used.
    fetch: async (request) => {
      const token = credentials?.accessToken();
      if (token !== undefined) {
        request.headers.set("Authorization", `Bearer ${token}`);
      }
      const response = await globalThis.fetch(request);
      if (response.status === 401) {
        credentials?.onUnauthorized();
      }
      return response;
    },
  });

  return {
    async list(limit = 50) {
      const { data, error, response } = await client.GET("/items", { params: { query: { limit } } });
      if (data === undefined) {
        throw apiError(response.status, error);
      }
      return data;
    },
    async create(item) {
      const { data, error, response } = await client.POST("/items", { body: item });
      if (data === undefined) {
        throw apiError(response.status, error);
      }
      return data;
    },
    async publish(itemId) {
      const { data, error, response } = await client.POST("/items/{item_id}/publish", {
        params: { path: { item_id: itemId } },
      });
      if (data === undefined) {
        throw apiError(response.status, error);
      }
      return data;
    },
  };
}
