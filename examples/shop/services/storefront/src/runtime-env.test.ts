import { describe, expect, it } from "vitest";

import { pickRuntimeEnv, RUNTIME_VARIABLES } from "./runtime-env";

describe("pickRuntimeEnv", () => {
  it("passes the runtime variables that are set and nothing else", () => {
    const picked = pickRuntimeEnv({
      API_BASE_URL: "",
      OTEL_SERVICE_NAME: "web",
      DATABASE_URL: "postgresql://user:secret@db/app",
      HOME: "/root",
      OTEL_TRACES_EXPORTER: undefined,
    });
    expect(picked).toEqual({ API_BASE_URL: "", OTEL_SERVICE_NAME: "web" });
  });

  it("knows only API_BASE_URL, AUTH_* and OTEL_* variables", () => {
    for (const name of RUNTIME_VARIABLES) {
      expect(name === "API_BASE_URL" || name.startsWith("AUTH_") || name.startsWith("OTEL_")).toBe(true);
    }
  });
});
