/**
 * Login with the ecosystem's OpenID Connect issuer (AUTH_ISSUER): the authorization code flow with
 * PKCE (S256) of a public client, as OAuth 2.0 for browser-based apps recommends; a page keeps no
 * client secret. The page sends the person to the issuer's authorization endpoint; the issuer sends
 * them back to `redirectUri` with a code, which the page exchanges, with the PKCE verifier only it
 * knows, for an access token at the token endpoint. The API gets that token as
 * `Authorization: Bearer` (api/client.ts).
 *
 * The token is kept in sessionStorage, not in a cookie (the API takes bearer tokens, and no cookie
 * means no cross-site request forgery) and not in localStorage: sessionStorage belongs to this tab
 * and this origin and is gone when the tab closes, yet survives a reload, so that reloading does
 * not send the person through the issuer again. Script injection is what could read it; the
 * page's Content-Security-Policy allows only its own scripts. The state and PKCE verifier of a
 * login under way are kept there too: they must outlive the trip to the issuer.
 */
import type { AuthConfig } from "./config";

export interface Session {
  accessToken: string;
  /** Epoch milliseconds after which the token is not used; null when the issuer did not say. */
  expiresAt: number | null;
  /** Epoch milliseconds of the exchange. */
  obtainedAt: number;
  /** Who is logged in, for display: the token's `preferred_username` or `sub` when it is a JWT. */
  user: string;
}

interface Endpoints {
  authorization: string;
  token: string;
  /** RP-initiated logout, when the issuer has it. */
  endSession: string | null;
}

interface PendingLogin {
  state: string;
  verifier: string;
  /** The page's path (and query) to return to once logged in. */
  returnTo: string;
}

export class AuthError extends Error {
  override name = "AuthError";
}

const SESSION_KEY = "auth.session";
const PENDING_KEY = "auth.pending";
// A token this young that the API refuses is refused for its content (issuer, audience), not its
// age: logging in again would loop.
const FRESH_MS = 10_000;
// Leave a margin before the issuer's expiry: a request started now must not arrive expired.
const EXPIRY_MARGIN_MS = 5_000;

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** PKCE's S256 challenge of a verifier (RFC 7636). */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** Who a token names, for display only (the page does not verify tokens: the API does). */
function userOf(token: string): string {
  const payload = token.split(".")[1];
  if (payload === undefined) {
    return "you";
  }
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as Record<string, unknown>;
    const name = claims.preferred_username ?? claims.sub;
    return typeof name === "string" && name !== "" ? name : "you";
  } catch {
    return "you";
  }
}

function httpUrl(document: Record<string, unknown>, field: string): string | null {
  const raw = document[field];
  if (raw === undefined) {
    return null;
  }
  if (typeof raw !== "string" || !/^https?:\/\//i.test(raw)) {
    throw new AuthError(`the issuer's ${field} is not an http(s) URL`);
  }
  return raw;
}

/** The issuer's endpoints from its discovery document (OpenID Connect Discovery 1.0). */
export async function discover(issuer: string, fetchImpl: typeof fetch = fetch): Promise<Endpoints> {
  const address = `${issuer}/.well-known/openid-configuration`;
  let document: unknown;
  try {
    const response = await fetchImpl(address);
    if (!response.ok) {
      throw new AuthError(`${address} answered ${response.status}`);
    }
    document = await response.json();
  } catch (error) {
    throw error instanceof AuthError ? error : new AuthError(`the issuer could not be reached at ${address}`);
  }
  if (typeof document !== "object" || document === null) {
    throw new AuthError(`${address} is not a JSON object`);
  }
  const fields = document as Record<string, unknown>;
  if (typeof fields.issuer !== "string" || fields.issuer.replace(/\/+$/, "") !== issuer) {
    throw new AuthError(`${address} names another issuer: ${String(fields.issuer)}`);
  }
  const authorization = httpUrl(fields, "authorization_endpoint");
  const token = httpUrl(fields, "token_endpoint");
  if (authorization === null || token === null) {
    throw new AuthError(`${address} has no authorization_endpoint or token_endpoint`);
  }
  return { authorization, token, endSession: httpUrl(fields, "end_session_endpoint") };
}

export interface AuthOptions {
  config: AuthConfig;
  /** Where the issuer sends the person back: registered at the issuer for this client. */
  redirectUri: string;
  storage: Storage;
  /** Leaves the page for the issuer (window.location.assign in the browser). */
  navigate: (url: string) => void;
  fetch?: typeof fetch;
  now?: () => number;
}

/** The page's login: start it, finish it when the issuer sends the person back, end it. */
export class Auth {
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private endpoints: Promise<Endpoints> | undefined;

  constructor(private readonly options: AuthOptions) {
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? Date.now;
  }

  private discovered(): Promise<Endpoints> {
    this.endpoints ??= discover(this.options.config.issuer, this.fetch).catch((error: unknown) => {
      this.endpoints = undefined; // ask again next time
      throw error;
    });
    return this.endpoints;
  }

  /** The session with a token still usable, or null. */
  session(): Session | null {
    const raw = this.options.storage.getItem(SESSION_KEY);
    if (raw === null) {
      return null;
    }
    try {
      const session = JSON.parse(raw) as Session;
      if (session.expiresAt === null || session.expiresAt - EXPIRY_MARGIN_MS > this.now()) {
        return session;
      }
    } catch {
      // not ours: dropped below
    }
    this.options.storage.removeItem(SESSION_KEY);
    return null;
  }

  /** Sends the person to the issuer; `returnTo` is the page's path to come back to. */
  async login(returnTo = "/"): Promise<void> {
    const { config, redirectUri, storage } = this.options;
    const endpoints = await this.discovered();
    const pending: PendingLogin = {
      state: randomString(),
      verifier: randomString(),
      returnTo: returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/",
    };
    storage.setItem(PENDING_KEY, JSON.stringify(pending));
    const url = new URL(endpoints.authorization);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", config.clientId);
    url.searchParams.set("redirect_uri", redirectUri);
    url.searchParams.set("scope", config.scope);
    url.searchParams.set("state", pending.state);
    url.searchParams.set("code_challenge", await challengeOf(pending.verifier));
    url.searchParams.set("code_challenge_method", "S256");
    if (config.audience !== "") {
      url.searchParams.set("audience", config.audience);
    }
    this.options.navigate(url.href);
  }

  /**
   * Finishes a login when `location` is the issuer's answer (`code` and `state`, or `error`):
   * exchanges the code and returns the path to go back to; null when `location` is no answer.
   */
  async completeLogin(location: URL): Promise<string | null> {
    const { searchParams } = location;
    const state = searchParams.get("state");
    if (state === null || (!searchParams.has("code") && !searchParams.has("error"))) {
      return null;
    }
    const { storage, config, redirectUri } = this.options;
    const raw = storage.getItem(PENDING_KEY);
    storage.removeItem(PENDING_KEY);
    const pending = raw === null ? null : (JSON.parse(raw) as PendingLogin);
    if (pending?.state !== state) {
      throw new AuthError("this login answer does not belong to a login started here: log in again");
    }
    const code = searchParams.get("code");
    if (code === null) {
      const reason = searchParams.get("error_description") ?? searchParams.get("error") ?? "unknown error";
      throw new AuthError(`the issuer refused the login: ${reason}`);
    }
    const endpoints = await this.discovered();
    const response = await this.fetch(endpoints.token, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri,
        client_id: config.clientId,
        code_verifier: pending.verifier,
      }),
    });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok || typeof body.access_token !== "string") {
      const reason = typeof body.error === "string" ? ` ${body.error}` : "";
      throw new AuthError(`the issuer did not give a token (${response.status}${reason})`);
    }
    const obtainedAt = this.now();
    const session: Session = {
      accessToken: body.access_token,
      expiresAt: typeof body.expires_in === "number" ? obtainedAt + body.expires_in * 1000 : null,
      obtainedAt,
      user: userOf(body.access_token),
    };
    storage.setItem(SESSION_KEY, JSON.stringify(session));
    return pending.returnTo;
  }

  /**
   * The API refused the token (401): it is dropped. True when logging in again may help; false
   * when the token was just obtained, so the API refuses what the issuer gives (its settings differ).
   */
  refused(): boolean {
    const session = this.session();
    this.options.storage.removeItem(SESSION_KEY);
    return session === null || this.now() - session.obtainedAt > FRESH_MS;
  }

  /** Forgets the token, and ends the issuer's session too when it has an end-session endpoint. */
  async logout(): Promise<void> {
    const { storage, config, redirectUri, navigate } = this.options;
    storage.removeItem(SESSION_KEY);
    storage.removeItem(PENDING_KEY);
    const endpoints = await this.discovered().catch(() => null);
    if (endpoints?.endSession) {
      const url = new URL(endpoints.endSession);
      url.searchParams.set("client_id", config.clientId);
      url.searchParams.set("post_logout_redirect_uri", redirectUri);
      navigate(url.href);
    }
  }
}
