// Headless Chromium against the ecosystem's gateway (tests/test_gateway_browser.py runs it in the
// generated frontend's directory, for playwright-core):
//   0. the generated frontend (on the gateway's /): log in through it at the local issuer (the
//      code flow with PKCE), see the items it loads through the gateway with the token, create
//      one; reload (still logged in); a token the API refuses (401) sends it back to the issuer;
//      log out;
//   1. log in through the local development issuer's page (/auth/login) and read the token;
//   2. from the page, call a backend through the gateway without the token, then with it;
//   3. open the one API document (/api/docs/), give the token in Swagger UI's Authorize dialog,
//      and try a call from it ("Try it out", "Execute");
//   4. open each backend's own API document through the gateway (DOCS_PATHS, e.g.
//      /api/orders/docs), at DOCS_HOST: a name that is not loopback's (Chromium maps it to
//      127.0.0.1), as a user's browser sees a deployed gateway, and read the operations it shows.
// Every request the browser makes is recorded by origin (scheme, host and port): none may leave
// the gateway.
// GATEWAY_URL is the gateway; API_PATH the operation to call (e.g. /api/orders/items), the one the
// frontend lists its items with.
// The last line printed is a JSON summary.
import { chromium } from "playwright-core";

const GATEWAY = process.env.GATEWAY_URL.replace(/\/$/, "");
const API_PATH = process.env.API_PATH;
const DOCS_PATHS = process.env.DOCS_PATHS.split(",");
const DOCS_HOST = process.env.DOCS_HOST;
const TIMEOUT_MS = 20_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-sync",
    `--host-resolver-rules=MAP ${DOCS_HOST} 127.0.0.1`,
  ],
});
const summary = { problems: [] };
const page = await browser.newPage();
// The origins each step asked: steps 0 to 3 as "pages", then each backend's document by its path.
const origins = {};
let step = "pages";
try {
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on("pageerror", (error) => summary.problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // Answers of 4xx/5xx are listed below with their address (the call without a token is one).
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      summary.problems.push(`console: ${message.text()}`);
    }
  });
  summary.refused = [];
  page.on("response", (response) => {
    if (response.status() >= 400) summary.refused.push([response.status(), new URL(response.url()).pathname]);
  });
  page.on("requestfailed", (request) => summary.problems.push(`failed: ${request.url()}`));
  page.on("request", (request) => (origins[step] ??= new Set()).add(new URL(request.url()).origin));

  // 0. The generated frontend logs in, and calls the API with its token.
  const apiCalls = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith(API_PATH)) {
      apiCalls.push({ method: request.method(), authorization: request.headers().authorization ?? null });
    }
  });
  const apiAnswers = [];
  page.on("response", (response) => {
    if (new URL(response.url()).pathname.startsWith(API_PATH)) apiAnswers.push(response.status());
  });
  const issuerLogin = async (user) => {
    await page.waitForURL((url) => url.pathname === "/auth/authorize");
    summary.frontend.authorizeQuery ??= Object.fromEntries(new URL(page.url()).searchParams);
    await page.fill("#user", user);
    await page.click("#login");
  };
  summary.frontend = {};
  await page.goto(`${GATEWAY}/`);
  await page.getByRole("button", { name: "Log in" }).click();
  await issuerLogin("alice");
  await page.getByRole("banner", { name: "account" }).waitFor();
  summary.frontend.account = await page.getByRole("banner", { name: "account" }).innerText();
  summary.frontend.addressAfterLogin = page.url();
  await page.getByText("No items yet.").or(page.getByRole("list", { name: "items" })).waitFor();
  await page.getByRole("textbox", { name: "Name" }).fill("made-in-the-browser");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("list", { name: "items" }).getByText("made-in-the-browser").waitFor();
  summary.frontend.items = await page.getByRole("list", { name: "items" }).locator("strong").allInnerTexts();
  // A reload keeps the login (sessionStorage): the items come straight back.
  await page.reload();
  await page.getByRole("list", { name: "items" }).getByText("made-in-the-browser").waitFor();
  summary.frontend.loggedInAfterReload = await page.getByRole("button", { name: "Log out" }).isVisible();
  // A token the API refuses (as an expired one would be): the page goes back to the issuer.
  await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem("auth.session"));
    sessionStorage.setItem("auth.session", JSON.stringify({ ...session, accessToken: "not.a.token", obtainedAt: 0 }));
  });
  await page.reload();
  await issuerLogin("bob");
  await page.getByRole("list", { name: "items" }).getByText("made-in-the-browser").waitFor();
  summary.frontend.accountAfter401 = await page.getByRole("banner", { name: "account" }).innerText();
  await page.getByRole("button", { name: "Log out" }).click();
  summary.frontend.afterLogout = await page.getByRole("alert").innerText();
  summary.frontend.storedAfterLogout = await page.evaluate(() => sessionStorage.getItem("auth.session"));
  summary.frontend.apiCalls = apiCalls.slice(); // the frontend's calls only: the steps below call too
  summary.frontend.apiAnswers = apiAnswers.slice();

  // 1. The local issuer's login page, as a person uses it.
  await page.goto(`${GATEWAY}/auth/login`);
  await page.fill("#user", "alice");
  await page.click("#login");
  const token = (await page.inputValue("#token")).trim();
  summary.tokenParts = token.split(".").length;

  // 2. The browser calls the backend through the gateway.
  summary.calls = await page.evaluate(
    async ({ path, token }) => {
      const without = await fetch(path);
      const withToken = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
      return {
        without: without.status,
        challenge: without.headers.get("WWW-Authenticate"),
        withoutBody: await without.json(),
        withToken: withToken.status,
        body: await withToken.json(),
      };
    },
    { path: API_PATH, token },
  );

  // 3. The one API document: every backend's paths, a call tried from the page with the token.
  await page.goto(`${GATEWAY}/api/docs/`);
  await page.waitForFunction(() => window.apiDocument !== undefined);
  summary.documentPaths = await page.evaluate(() => Object.keys(window.apiDocument.paths));
  summary.documentTags = await page.evaluate(() => window.apiDocument.tags.map((t) => t.name));
  await page.click("button.btn.authorize");
  await page.fill(".modal-ux input[type=text]", token);
  await page.click(".modal-ux button.modal-btn.auth.authorize");
  await page.click(".modal-ux button.btn-done");
  const operation = page.locator(`.opblock-get:has(.opblock-summary-path[data-path="${API_PATH}"])`);
  await operation.locator(".opblock-summary").first().click();
  await operation.locator("button.try-out__btn").click();
  const answered = page.waitForResponse((response) => new URL(response.url()).pathname === API_PATH);
  await operation.locator("button.execute").click();
  const response = await answered;
  summary.tried = {
    url: new URL(response.url()).pathname,
    status: response.status(),
    sentToken: (await response.request().headerValue("authorization")) === `Bearer ${token}`,
  };
  await operation.locator(".live-responses-table tr.response .response-col_status").first().waitFor();
  summary.shownStatus = (await operation.locator(".live-responses-table tr.response .response-col_status").first().innerText()).trim();

  // 4. Each backend's own API document, through the gateway, at a name that is not loopback's.
  const docsOrigin = `${new URL(GATEWAY).protocol}//${DOCS_HOST}:${new URL(GATEWAY).port}`;
  summary.backendDocs = {};
  for (const path of DOCS_PATHS) {
    step = path;
    await page.goto(`${docsOrigin}${path}`);
    await page.locator(".opblock .opblock-summary-path").first().waitFor();
    await page.waitForLoadState("networkidle");
    summary.backendDocs[path] = {
      title: (await page.locator(".information-container .title").first().innerText()).trim(),
      operations: await page
        .locator(".opblock")
        .evaluateAll((blocks) =>
          blocks.map(
            (b) =>
              `${b.querySelector(".opblock-summary-method").textContent.trim()} ` +
              b.querySelector(".opblock-summary-path").getAttribute("data-path"),
          ),
        ),
    };
  }
} catch (error) {
  summary.error = String(error);
  summary.at = { url: page.url(), text: await page.locator("body").innerText().catch(() => "") };
  process.exitCode = 1;
} finally {
  await browser.close();
  summary.origins = Object.fromEntries(Object.entries(origins).map(([name, seen]) => [name, [...seen]]));
}
console.log(JSON.stringify(summary));
