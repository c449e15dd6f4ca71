/**
 * The page's configuration, read at run time from `/config.json` (see runtime-env.ts), so one
 * image serves test, staging and production. Tracing follows the OpenTelemetry environment
 * variable specification; the OTLP endpoint is the one the *browser* reaches (by default the
 * gateway's `/otlp`, same origin). With AUTH_ISSUER set the page logs in there (auth.ts) and
 * sends its token to the API; without it the page calls the API as it is.
 */
import { RUNTIME_VARIABLES, type RuntimeEnv } from "./runtime-env";
import { SERVICE_NAME } from "./service";

export type Sampler =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

export const SAMPLERS: readonly Sampler[] = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
];

export type TracesExporter = "otlp" | "console";

export interface TracingConfig {
  /** False when OTEL_SDK_DISABLED=true: no spans, no `traceparent`. */
  enabled: boolean;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  /** Empty when OTEL_TRACES_EXPORTER=none: spans are made (and propagated) but not sent. */
  exporters: TracesExporter[];
  /** Absolute URL of the OTLP/HTTP traces endpoint. */
  tracesUrl: string;
  sampler: Sampler;
  samplerRatio: number;
  /** Milliseconds between two batch exports. */
  exportDelayMs: number;
}

/** The OpenID Connect issuer the page logs in with (authorization code flow with PKCE). */
export interface AuthConfig {
  /** The issuer's URL, without a trailing slash: its discovery document is under it. */
  issuer: string;
  /** The page's client id at the issuer: a public client (a page keeps no secret). */
  clientId: string;
  /** Space-separated scopes asked for. */
  scope: string;
  /** The API's audience, sent as `audience` for issuers that want it (e.g. Auth0); empty: not sent. */
  audience: string;
}

export interface AppConfig {
  /** Absolute URL the API paths are appended to: `<apiBaseUrl>/api/<service>/...`. */
  apiBaseUrl: string;
  /** Null without AUTH_ISSUER: no login, the API is called without a token. */
  auth: AuthConfig | null;
  tracing: TracingConfig;
  /** Settings that were ignored or replaced by their default, and why (the page logs them). */
  warnings: string[];
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const DEFAULT_OTLP_ENDPOINT = "/otlp";
const DEFAULT_EXPORT_DELAY_MS = 5000;

/** Values that are unset or blank count as unset, as the OpenTelemetry specification asks. */
function value(env: RuntimeEnv, name: keyof RuntimeEnv): string | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === "" ? undefined : raw;
}

type Warn = (message: string) => void;

/** An absolute http(s) URL, or a path resolved against the page's origin. */
function absoluteUrl(name: string, raw: string, origin: string): string {
  let url: URL;
  try {
    url = new URL(raw, origin);
  } catch {
    throw new ConfigError(`${name}=${raw} is not a URL or an absolute path`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`${name}=${raw} must be an http(s) URL or a path starting with /`);
  }
  if (!/^(https?:)?\/\//i.test(raw) && !raw.startsWith("/")) {
    throw new ConfigError(`${name}=${raw} must be an http(s) URL or a path starting with /`);
  }
  return url.href;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
const DEFAULT_SCOPE = "openid";
// The characters of a client id, a scope list or an audience that the issuer's query can carry.
const AUTH_WORDS = /^[A-Za-z0-9._~:/@+-]+( [A-Za-z0-9._~:/@+-]+)*$/;

/** Tokens travel only over https, but to an issuer on this machine (the local development one). */
function issuerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`AUTH_ISSUER=${raw} is not an absolute URL`);
  }
  const secure = url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname));
  if (!secure) {
    throw new ConfigError(`AUTH_ISSUER=${raw} must be an https:// URL (http:// only on 127.0.0.1 or localhost)`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new ConfigError(`AUTH_ISSUER=${raw} must not have a query, a fragment or credentials`);
  }
  return url.href.replace(/\/+$/, "");
}

function authWords(name: string, raw: string): string {
  if (!AUTH_WORDS.test(raw)) {
    throw new ConfigError(`${name}=${raw} must be words of letters, digits and . _ ~ : / @ + - separated by spaces`);
  }
  return raw;
}

function parseAuth(env: RuntimeEnv): AuthConfig | null {
  const issuer = value(env, "AUTH_ISSUER");
  if (issuer === undefined) {
    return null;
  }
  const audience = value(env, "AUTH_AUDIENCE");
  return {
    issuer: issuerUrl(issuer),
    clientId: authWords("AUTH_CLIENT_ID", value(env, "AUTH_CLIENT_ID") ?? SERVICE_NAME),
    scope: authWords("AUTH_SCOPE", value(env, "AUTH_SCOPE") ?? DEFAULT_SCOPE),
    audience: audience === undefined ? "" : authWords("AUTH_AUDIENCE", audience),
  };
}

/** `key1=value1,key2=value2`, values percent-encoded (OTEL_RESOURCE_ATTRIBUTES). */
export function parseResourceAttributes(raw: string | undefined, warn: Warn): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of (raw ?? "").split(",")) {
    if (pair.trim() === "") {
      continue;
    }
    const separator = pair.indexOf("=");
    const key = separator > 0 ? pair.slice(0, separator).trim() : "";
    if (key === "") {
      warn(`ignoring the resource attribute "${pair}": expected key=value`);
      continue;
    }
    try {
      attributes[key] = decodeURIComponent(pair.slice(separator + 1).trim());
    } catch {
      warn(`ignoring the resource attribute "${pair}": invalid percent-encoding`);
    }
  }
  return attributes;
}

function parseExporters(raw: string | undefined, warn: Warn): TracesExporter[] {
  const names = (raw ?? "otlp").split(",").map((name) => name.trim().toLowerCase());
  const exporters: TracesExporter[] = [];
  for (const name of names) {
    if (name === "otlp" || name === "console") {
      exporters.push(name);
    } else if (name !== "none" && name !== "") {
      warn(`ignoring the unknown traces exporter "${name}" (known: otlp, console, none)`);
    }
  }
  return names.includes("none") ? [] : [...new Set(exporters)];
}

function parseSampler(raw: string | undefined, warn: Warn): Sampler {
  const name = (raw ?? "parentbased_always_on").toLowerCase();
  if ((SAMPLERS as readonly string[]).includes(name)) {
    return name as Sampler;
  }
  warn(`unknown OTEL_TRACES_SAMPLER "${name}", using parentbased_always_on`);
  return "parentbased_always_on";
}

function parseRatio(raw: string | undefined, warn: Warn): number {
  if (raw === undefined) {
    return 1;
  }
  const ratio = Number(raw);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    warn(`OTEL_TRACES_SAMPLER_ARG=${raw} is not a ratio between 0 and 1, using 1`);
    return 1;
  }
  return ratio;
}

function parseDelay(raw: string | undefined, warn: Warn): number {
  if (raw === undefined) {
    return DEFAULT_EXPORT_DELAY_MS;
  }
  const delay = Number(raw);
  if (!Number.isInteger(delay) || delay < 0) {
    warn(`OTEL_BSP_SCHEDULE_DELAY=${raw} is not a number of milliseconds, using ${DEFAULT_EXPORT_DELAY_MS}`);
    return DEFAULT_EXPORT_DELAY_MS;
  }
  return delay;
}

function tracesUrl(env: RuntimeEnv, origin: string): string {
  const traces = value(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (traces !== undefined) {
    return absoluteUrl("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces, origin);
  }
  const base = value(env, "OTEL_EXPORTER_OTLP_ENDPOINT") ?? DEFAULT_OTLP_ENDPOINT;
  const url = new URL(absoluteUrl("OTEL_EXPORTER_OTLP_ENDPOINT", base, origin));
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/traces`;
  return url.href;
}

/** The configuration from the variables of /config.json; `origin` is the page's origin. */
export function parseConfig(input: unknown, origin: string): AppConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigError("config.json must hold a JSON object");
  }
  const warnings: string[] = [];
  const warn: Warn = (message) => warnings.push(message);
  const env: RuntimeEnv = {};
  for (const [name, raw] of Object.entries(input)) {
    if (!(RUNTIME_VARIABLES as readonly string[]).includes(name)) {
      warn(`ignoring the unknown setting ${name}`);
    } else if (typeof raw !== "string") {
      throw new ConfigError(`${name} must be a string`);
    } else {
      env[name as keyof RuntimeEnv] = raw;
    }
  }

  const apiBase = value(env, "API_BASE_URL");
  const apiBaseUrl = (apiBase === undefined ? origin : absoluteUrl("API_BASE_URL", apiBase, origin)).replace(
    /\/+$/,
    "",
  );
  const resourceAttributes = parseResourceAttributes(value(env, "OTEL_RESOURCE_ATTRIBUTES"), warn);
  const serviceName = value(env, "OTEL_SERVICE_NAME") ?? resourceAttributes["service.name"] ?? SERVICE_NAME;
  return {
    apiBaseUrl,
    auth: parseAuth(env),
    tracing: {
      enabled: value(env, "OTEL_SDK_DISABLED")?.toLowerCase() !== "true",
      serviceName,
      resourceAttributes,
      exporters: parseExporters(value(env, "OTEL_TRACES_EXPORTER"), warn),
      tracesUrl: tracesUrl(env, origin),
      sampler: parseSampler(value(env, "OTEL_TRACES_SAMPLER"), warn),
      samplerRatio: parseRatio(value(env, "OTEL_TRACES_SAMPLER_ARG"), warn),
      exportDelayMs: parseDelay(value(env, "OTEL_BSP_SCHEDULE_DELAY"), warn),
    },
    warnings,
  };
}

/** Fetch and parse `/config.json` (never cached: it changes with the deployment, not the build). */
export async function loadConfig(origin: string, fetchImpl: typeof fetch = fetch): Promise<AppConfig> {
  const response = await fetchImpl(new URL("/config.json", origin), { cache: "no-store" });
  if (!response.ok) {
    throw new ConfigError(`GET /config.json answered ${response.status}`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new ConfigError("/config.json is not JSON");
  }
  return parseConfig(body, origin);
}
