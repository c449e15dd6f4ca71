import { cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";

import { createItemsApi, serviceBaseUrl } from "./api/client";
import { App } from "./App";
import { startServer, type TestServer } from "./testing/http-server";

interface StoredItem {
  id: number;
  name: string;
  description: string | null;
  created_at: string;
}

/** A small real backend: the items API of the template, kept in memory. */
async function itemsBackend(
  initial: string[],
  options: { listFailures?: number; brokerDown?: boolean } = {},
): Promise<TestServer> {
  let listFailures = options.listFailures ?? 0;
  const items: StoredItem[] = initial.map((name, index) => ({
    id: index + 1,
    name,
    description: null,
    created_at: "2026-01-02T03:04:05Z",
  }));
  return startServer((request) => {
    if (request.method === "GET" && request.path.startsWith("/api/orders/items")) {
      if (listFailures > 0) {
        listFailures -= 1;
        return { status: 503, json: { detail: "database unavailable" } };
      }
      return { status: 200, json: items };
    }
    const publish = /^\/api\/orders\/items\/(\d+)\/publish$/.exec(request.path);
    if (request.method === "POST" && publish) {
      const item = items.find((candidate) => candidate.id === Number(publish[1]));
      if (item === undefined) {
        return { status: 404, json: { detail: "item not found" } };
      }
      if (options.brokerDown) {
        return { status: 503, json: { detail: "the message broker is unavailable, try again later" } };
      }
      return {
        status: 202,
        json: { item_id: item.id, routing_key: "orders.item.published", message_id: `message-${item.id}` },
      };
    }
    if (request.method === "POST" && request.path === "/api/orders/items") {
      const body = JSON.parse(request.body) as { name: string; description: string | null };
      if (items.some((item) => item.name === body.name)) {
        return { status: 409, json: { detail: "an item with this name already exists" } };
      }
      const item = { id: items.length + 1, created_at: "2026-01-02T03:04:06Z", ...body };
      items.push(item);
      return { status: 201, json: item };
    }
    return { status: 404, json: { detail: "Not Found" } };
  });
}

let server: TestServer | undefined;

afterEach(async () => {
  cleanup();
  await server?.close();
  server = undefined;
});

/** The rows of the list as "name — description". */
function rows(list: HTMLElement): string[] {
  return within(list)
    .getAllByRole("listitem")
    .map((row) => row.textContent.replace(/\s*Publish.*$/, ""));
}

function renderApp(backend: TestServer) {
  render(<App api={createItemsApi(serviceBaseUrl(backend.url, "orders"))} service="orders" />);
}

describe("App", () => {
  it("lists the items of the API", async () => {
    server = await itemsBackend(["first", "second"]);
    renderApp(server);
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Items of orders");
    const list = await screen.findByRole("list", { name: "items" });
    expect(rows(list)).toEqual(["first", "second"]);
    expect(screen.queryByRole("button", { name: "Log out" })).toBeNull(); // no login without AUTH_ISSUER
  });

  it("shows who is logged in, and logs out", async () => {
    server = await itemsBackend(["first"]);
    let loggedOut = 0;
    const account = { user: "alice", logOut: () => (loggedOut += 1) };
    render(<App api={createItemsApi(serviceBaseUrl(server.url, "orders"))} service="orders" account={account} />);
    await screen.findByRole("list", { name: "items" });
    expect(screen.getByRole("banner", { name: "account" }).textContent).toBe("Logged in as alice Log out");
    await userEvent.setup().click(screen.getByRole("button", { name: "Log out" }));
    expect(loggedOut).toBe(1);
  });

  it("says so when there is no item yet", async () => {
    server = await itemsBackend([]);
    renderApp(server);
    expect(await screen.findByText("No items yet.")).toBeDefined();
  });

  it("creates an item and shows it", async () => {
    server = await itemsBackend(["first"]);
    renderApp(server);
    await screen.findByRole("list", { name: "items" });

    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Name" }), "  third  ");
    await user.type(screen.getByRole("textbox", { name: "Description" }), "made by the test");
    await user.click(screen.getByRole("button", { name: "Create" }));

    const list = await screen.findByRole("list", { name: "items" });
    await within(list).findByText("third");
    expect(rows(list)).toEqual(["first", "third — made by the test"]);
    const created = server.requests.find((request) => request.method === "POST");
    expect(JSON.parse(created?.body ?? "")).toEqual({ name: "third", description: "made by the test" });
    expect(screen.getByRole<HTMLInputElement>("textbox", { name: "Name" }).value).toBe("");
  });

  it("shows the API's message when creating fails", async () => {
    server = await itemsBackend(["first"]);
    renderApp(server);
    await screen.findByRole("list", { name: "items" });

    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Name" }), "first");
    await user.click(screen.getByRole("button", { name: "Create" }));

    expect((await screen.findByRole("alert")).textContent).toBe(
      "Could not create the item: an item with this name already exists",
    );
  });

  it("shows an error when the list cannot be loaded, and loads it again on request", async () => {
    server = await itemsBackend(["first"], { listFailures: 1 });
    renderApp(server);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Could not load the items: database unavailable");

    await userEvent.setup().click(within(alert).getByRole("button", { name: "Try again" }));
    const list = await screen.findByRole("list", { name: "items" });
    expect(rows(list)).toEqual(["first"]);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("publishes an item and shows its routing key", async () => {
    server = await itemsBackend(["first", "second"]);
    renderApp(server);
    await screen.findByRole("list", { name: "items" });

    await userEvent.setup().click(screen.getByRole("button", { name: "Publish second" }));

    const row = screen.getByRole("button", { name: "Publish second" }).closest("li");
    expect(row).not.toBeNull();
    expect((await within(row as HTMLElement).findByRole("status")).textContent).toBe(
      " published as orders.item.published",
    );
    const published = server.requests.filter((request) => request.path.endsWith("/publish"));
    expect(published.map((request) => [request.method, request.path])).toEqual([
      ["POST", "/api/orders/items/2/publish"],
    ]);
  });

  it("shows why publishing failed", async () => {
    server = await itemsBackend(["first"], { brokerDown: true });
    renderApp(server);
    await screen.findByRole("list", { name: "items" });

    await userEvent.setup().click(screen.getByRole("button", { name: "Publish first" }));

    expect((await screen.findByRole("alert")).textContent).toBe(
      " could not publish: the message broker is unavailable, try again later",
    );
  });

  it("keeps the Create button disabled until a name is typed", async () => {
    server = await itemsBackend([]);
    renderApp(server);
    expect(screen.getByRole<HTMLButtonElement>("button", { name: "Create" }).disabled).toBe(true);
  });
});
