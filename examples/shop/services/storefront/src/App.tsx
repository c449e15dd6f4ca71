import { type SubmitEvent, useEffect, useState } from "react";

import { type Item, type ItemsApi } from "./api/client";

/** Who is logged in, when the page logs in (AUTH_ISSUER); absent otherwise. */
export interface Account {
  user: string;
  logOut: () => void;
}

interface Props {
  api: ItemsApi;
  /** The backend's name, shown in the heading. */
  service: string;
  account?: Account | undefined;
}

type Load = { state: "loading" } | { state: "failed"; message: string } | { state: "loaded"; items: Item[] };

type Publish =
  | { state: "idle" }
  | { state: "publishing" }
  | { state: "published"; routingKey: string }
  | { state: "failed"; message: string };

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ItemRow({ api, item }: { api: ItemsApi; item: Item }) {
  const [publish, setPublish] = useState<Publish>({ state: "idle" });

  async function announce() {
    setPublish({ state: "publishing" });
    try {
      const published = await api.publish(item.id);
      setPublish({ state: "published", routingKey: published.routing_key });
    } catch (error) {
      setPublish({ state: "failed", message: messageOf(error) });
    }
  }

  return (
    <li>
      <strong>{item.name}</strong>
      {item.description && <span> — {item.description}</span>}{" "}
      <button
        type="button"
        aria-label={`Publish ${item.name}`}
        disabled={publish.state === "publishing"}
        onClick={() => void announce()}
      >
        Publish
      </button>
      {publish.state === "published" && <span role="status"> published as {publish.routingKey}</span>}
      {publish.state === "failed" && <span role="alert"> could not publish: {publish.message}</span>}
    </li>
  );
}

export function App({ api, service, account }: Props) {
  const [load, setLoad] = useState<Load>({ state: "loading" });
  // Incremented by "Try again": the list is loaded again.
  const [attempt, setAttempt] = useState(0);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    api.list().then(
      (items) => {
        if (current) {
          setLoad({ state: "loaded", items });
        }
      },
      (error: unknown) => {
        if (current) {
          setLoad({ state: "failed", message: messageOf(error) });
        }
      },
    );
    return () => {
      current = false;
    };
  }, [api, attempt]);

  function retry() {
    setLoad({ state: "loading" });
    setAttempt((n) => n + 1);
  }

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    setSaving(true);
    setSaveError(null);
    try {
      const created = await api.create({ name: name.trim(), description: description.trim() || null });
      setLoad((current) => ({
        state: "loaded",
        items: [...(current.state === "loaded" ? current.items : []), created],
      }));
      setName("");
      setDescription("");
    } catch (error) {
      setSaveError(messageOf(error));
    } finally {
      setSaving(false);
    }
  }

  return (
    <>
      {account !== undefined && (
        <header aria-label="account">
          Logged in as <strong>{account.user}</strong>{" "}
          <button
            type="button"
            onClick={() => {
              account.logOut();
            }}
          >
            Log out
          </button>
        </header>
      )}
      <main>
        <h1>Items of {service}</h1>

        <section aria-labelledby="items-heading">
          <h2 id="items-heading">Items</h2>
          {load.state === "loading" && <p role="status">Loading…</p>}
          {load.state === "failed" && (
            <div role="alert">
              <p>Could not load the items: {load.message}</p>
              <button type="button" onClick={retry}>
                Try again
              </button>
            </div>
          )}
          {load.state === "loaded" &&
            (load.items.length === 0 ? (
              <p>No items yet.</p>
            ) : (
              <ul aria-label="items">
                {load.items.map((item) => (
                  <ItemRow key={item.id} api={api} item={item} />
                ))}
              </ul>
            ))}
        </section>

        <section aria-labelledby="new-item-heading">
          <h2 id="new-item-heading">New item</h2>
          <form onSubmit={(event) => void submit(event)}>
            <label>
              Name
              <input
                name="name"
                required
                maxLength={200}
                value={name}
                onChange={(e) => {
                  setName(e.target.value);
                }}
              />
            </label>
            <label>
              Description
              <input
                name="description"
                maxLength={2000}
                value={description}
                onChange={(e) => {
                  setDescription(e.target.value);
                }}
              />
            </label>
            <button type="submit" disabled={saving || name.trim() === ""}>
              {saving ? "Saving…" : "Create"}
            </button>
            {saveError !== null && <p role="alert">Could not create the item: {saveError}</p>}
          </form>
        </section>
      </main>
    </>
  );
}
