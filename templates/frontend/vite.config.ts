/// <reference types="vitest/config" />
import type { IncomingMessage, ServerResponse } from "node:http";

import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin, type ProxyOptions } from "vite";

import { pickRuntimeEnv } from "./src/runtime-env.ts";

/** Serves /config.json from this process's environment, as docker/entrypoint.sh does in the image. */
function runtimeConfig(): Plugin {
  const serve = (_request: IncomingMessage, response: ServerResponse) => {
    response.setHeader("Content-Type", "application/json");
    response.setHeader("Cache-Control", "no-store");
    response.end(JSON.stringify(pickRuntimeEnv(process.env)));
  };
  return {
    name: "runtime-config",
    configureServer(server) {
      server.middlewares.use("/config.json", serve);
    },
    configurePreviewServer(server) {
      server.middlewares.use("/config.json", serve);
    },
  };
}

/** GATEWAY_URL (e.g. the ecosystem's gateway, http://127.0.0.1:8080): where the dev server
 * forwards the API and the browser's traces, so that the page keeps calling its own origin. */
function gatewayProxy(): { proxy: Record<string, ProxyOptions> } | Record<string, never> {
  const target = process.env.GATEWAY_URL;
  if (!target) {
    return {};
  }
  return { proxy: { "/api/": { target, changeOrigin: true }, "/otlp/": { target, changeOrigin: true } } };
}

export default defineConfig({
  plugins: [react(), runtimeConfig()],
  // Vite's caches go where the process may write: /tmp in the dev and test images.
  cacheDir: process.env.VITE_CACHE_DIR ?? "node_modules/.vite",
  server: gatewayProxy(),
  preview: gatewayProxy(),
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    // The test image runs on shared CI runners: a render-and-click test can take seconds there.
    testTimeout: 20_000,
  },
});
