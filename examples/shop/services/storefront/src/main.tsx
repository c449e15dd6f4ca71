import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { createItemsApi, serviceBaseUrl } from "./api/client";
import { App } from "./App";
import { loadConfig } from "./config";
import { API_SERVICE } from "./service";
import "./styles.css";
import { startTracing } from "./tracing";

async function main(root: HTMLElement): Promise<void> {
  const reactRoot = createRoot(root);
  try {
    const config = await loadConfig(window.location.origin);
    for (const warning of config.warnings) {
      console.warn(`config.json: ${warning}`);
    }
    // Before the first API call, so that every call carries `traceparent`.
    const tracing = startTracing(config.tracing, config.apiBaseUrl);
    window.addEventListener("pagehide", () => void tracing.flush());
    const api = createItemsApi(serviceBaseUrl(config.apiBaseUrl, API_SERVICE));
    reactRoot.render(
      <StrictMode>
        <App api={api} service={API_SERVICE} />
      </StrictMode>,
    );
  } catch (error) {
    console.error(error);
    reactRoot.render(
      <main>
        <p role="alert">The page could not start: {error instanceof Error ? error.message : String(error)}</p>
      </main>,
    );
  }
}

const root = document.getElementById("root");
if (root === null) {
  throw new Error("index.html has no #root element");
}
void main(root);
