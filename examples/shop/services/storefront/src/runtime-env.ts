/**
 * The environment variables that reach the browser, as `/config.json`.
 *
 * The page is built once and configured when its container starts: docker/entrypoint.sh writes
 * these variables (and only these: the container may hold others that must not leak to browsers)
 * to /config.json, and the Vite dev server serves the same document from its own environment.
 */
export const RUNTIME_VARIABLES = [
  "API_BASE_URL",
  "AUTH_ISSUER",
  "AUTH_CLIENT_ID",
  "AUTH_SCOPE",
  "AUTH_AUDIENCE",
  "OTEL_SDK_DISABLED",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_TRACES_EXPORTER",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
  "OTEL_BSP_SCHEDULE_DELAY",
] as const;

export type RuntimeVariable = (typeof RUNTIME_VARIABLES)[number];
export type RuntimeEnv = Partial<Record<RuntimeVariable, string>>;

/** The runtime variables that are set in `env`, nothing else. */
export function pickRuntimeEnv(env: Record<string, string | undefined>): RuntimeEnv {
  const picked: RuntimeEnv = {};
  for (const name of RUNTIME_VARIABLES) {
    const value = env[name];
    if (value !== undefined) {
      picked[name] = value;
    }
  }
  return picked;
}
