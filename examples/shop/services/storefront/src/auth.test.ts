import { createHash } from "node:crypto";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { Auth, AuthError, challengeOf, discover } from "./auth";
import type { AuthConfig } from "./config";
import { startServer, type TestServer } from "./testing/http-server";

const REDIRECT = "http://127.0.0.1:8080/";
// A JWT's shape with the claims the page shows (the page never verifies tokens: the API does).
const TOKEN = `eyJhbGciOiJSUzI1NiJ9.${btoa(JSON.stringify({ sub: "u-1", preferred_username: "alice" })).replace(/=+$/, "")}.c2ln`;

let issuer: TestServer;
let endSession = false;
let tokenAnswer: { status: number; json: unknown } = {
  status: 200,
  json: { access_token: TOKEN, token_type: "Bearer", expires_in: 300 },
};

/** A real HTTP server playing the issuer: its discovery document and token endpoint. */
beforeEach(async () => {
  sessionStorage.clear();
  endSession = false;
  tokenAnswer = { status: 200, json: { access_token: TOKEN, token_type: "Bearer", expires_in: 300 } };
  issuer = await startServer((request) => {
    const base = `${issuer.url}/realms/shop`;
    if (request.path === "/realms/shop/.well-known/openid-configuration") {
      return {
        status: 200,
        json: {
          issuer: base,
          authorization_endpoint: `${base}/authorize`,
          token_endpoint: `${base}/token`,
          ...(endSession ? { end_session_endpoint: `${base}/logout` } : {}),
        },
      };
    }
    if (request.method === "POST" && request.path === "/realms/shop/token") {
      return tokenAnswer;
    }
    return { status: 404 };
  });
});

afterEach(() => issuer.close());

function config(overrides: Partial<AuthConfig> = {}): AuthConfig {
  return { issuer: `${issuer.url}/realms/shop`, clientId: "web", scope: "openid", audience: "", ...overrides };
}

function auth(options: { now?: () => number; overrides?: Partial<AuthConfig> } = {}) {
  const visited: string[] = [];
  const login = new Auth({
    config: config(options.overrides),
    redirectUri: REDIRECT,
    storage: sessionStorage,
    navigate: (url) => visited.push(url),
    ...(options.now ? { now: options.now } : {}),
  });
  return { login, visited };
}

/** Starts a login and returns the issuer's answer as the page would receive it. */
async function answerOf(login: Auth, visited: string[], returnTo = "/"): Promise<URL> {
  await login.login(returnTo);
  const authorize = new URL(visited.at(-1) ?? "");
  return new URL(`${REDIRECT}?code=the-code&state=${authorize.searchParams.get("state") ?? ""}`);
}

describe("challengeOf", () => {
  it("is RFC 7636's S256: BASE64URL(SHA-256(verifier)), as Node's own crypto computes it", async () => {
    for (const verifier of ["a".repeat(43), "0123456789-._~".repeat(9).slice(0, 128), btoa("PKCE").repeat(11)]) {
      const expected = createHash("sha256").update(verifier).digest("base64url");
      expect(await challengeOf(verifier)).toBe(expected);
    }
  });
});

describe("discover", () => {
  it("reads the endpoints of the issuer's discovery document", async () => {
    const endpoints = await discover(config().issuer);
    expect(endpoints).toEqual({
      authorization: `${config().issuer}/authorize`,
      token: `${config().issuer}/token`,
      endSession: null,
    });
  });

  it("refuses a document that names another issuer, and an issuer that is not there", async () => {
    await expect(discover(`${issuer.url}/realms/other`)).rejects.toThrow(AuthError);
    await expect(discover(`${issuer.url}/realms/shop/x`)).rejects.toThrow("answered 404");
  });
});

describe("Auth", () => {
  it("sends the person to the authorization endpoint with PKCE S256 and a state", async () => {
    const { login, visited } = auth({ overrides: { audience: "shop-api" } });
    await login.login("/orders?page=2");
    const url = new URL(visited[0] ?? "");
    expect(`${url.origin}${url.pathname}`).toBe(`${config().issuer}/authorize`);
    const query = Object.fromEntries(url.searchParams);
    expect(query).toMatchObject({
      response_type: "code",
      client_id: "web",
      redirect_uri: REDIRECT,
      scope: "openid",
      code_challenge_method: "S256",
      audience: "shop-api",
    });
    const pending = JSON.parse(sessionStorage.getItem("auth.pending") ?? "{}") as Record<string, string>;
    expect(query.state).toBe(pending.state);
    expect(query.code_challenge).toBe(await challengeOf(pending.verifier ?? ""));
    expect(pending.returnTo).toBe("/orders?page=2");
    expect(query.code_challenge).not.toBe(pending.verifier);
  });

  it("exchanges the code with its verifier for a token, kept for the tab", async () => {
    const { login, visited } = auth();
    expect(login.session()).toBeNull();
    const answer = await answerOf(login, visited, "/orders");
    const verifier = (JSON.parse(sessionStorage.getItem("auth.pending") ?? "{}") as Record<string, string>).verifier;

    expect(await login.completeLogin(answer)).toBe("/orders");

    const exchange = issuer.requests.find((request) => request.method === "POST");
    expect(exchange?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(exchange?.body))).toEqual({
      grant_type: "authorization_code",
      code: "the-code",
      redirect_uri: REDIRECT,
      client_id: "web",
      code_verifier: verifier,
    });
    expect(login.session()).toMatchObject({ accessToken: TOKEN, user: "alice" });
    expect(sessionStorage.getItem("auth.pending")).toBeNull();
  });

  it("leaves a page that is no answer of the issuer alone", async () => {
    const { login } = auth();
    expect(await login.completeLogin(new URL(`${REDIRECT}?page=2`))).toBeNull();
    expect(issuer.requests).toEqual([]);
  });

  it("refuses an answer to a login it did not start (state), and the issuer's refusal", async () => {
    const { login, visited } = auth();
    await login.login();
    await expect(login.completeLogin(new URL(`${REDIRECT}?code=stolen&state=forged`))).rejects.toThrow(
      "does not belong to a login started here",
    );
    const denied = await answerOf(login, visited);
    denied.search = `?error=access_denied&error_description=no+access&state=${denied.searchParams.get("state") ?? ""}`;
    await expect(login.completeLogin(denied)).rejects.toThrow("the issuer refused the login: no access");
    expect(issuer.requests.filter((request) => request.method === "POST")).toEqual([]);
    expect(login.session()).toBeNull();
  });

  it("says so when the token endpoint refuses the code", async () => {
    const { login, visited } = auth();
    tokenAnswer = { status: 400, json: { error: "invalid_grant" } };
    await expect(login.completeLogin(await answerOf(login, visited))).rejects.toThrow(
      "the issuer did not give a token (400 invalid_grant)",
    );
    expect(login.session()).toBeNull();
  });

  it("stops using a token once it expires", async () => {
    let now = 1_000_000;
    const { login, visited } = auth({ now: () => now });
    await login.completeLogin(await answerOf(login, visited));
    now += 290_000;
    expect(login.session()?.accessToken).toBe(TOKEN);
    now += 10_000; // 300 s of expires_in, less the margin
    expect(login.session()).toBeNull();
    expect(sessionStorage.getItem("auth.session")).toBeNull();
  });

  it("after a 401 logs in again, unless the refused token is brand new", async () => {
    let now = 1_000_000;
    const { login, visited } = auth({ now: () => now });
    await login.completeLogin(await answerOf(login, visited));
    expect(login.refused()).toBe(false); // the API refuses what the issuer just gave: no loop
    expect(login.session()).toBeNull();

    await login.completeLogin(await answerOf(login, visited));
    now += 60_000;
    expect(login.refused()).toBe(true);
    expect(login.session()).toBeNull();
  });

  it("logs out: forgets the token, and ends the issuer's session when it can", async () => {
    const { login, visited } = auth();
    await login.completeLogin(await answerOf(login, visited));
    await login.logout();
    expect(login.session()).toBeNull();
    expect(visited).toHaveLength(1); // no end_session_endpoint: nothing more to visit

    endSession = true;
    const other = auth();
    await other.login.completeLogin(await answerOf(other.login, other.visited));
    await other.login.logout();
    const url = new URL(other.visited.at(-1) ?? "");
    expect(`${url.origin}${url.pathname}`).toBe(`${config().issuer}/logout`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: "web", post_logout_redirect_uri: REDIRECT });
    expect(other.login.session()).toBeNull();
  });
});
