// Headless Chromium against the ecosystem's gateway (tests/test_gateway_browser.py runs it with a
// frontend's node_modules, for playwright-core):
//   1. log in through the local development issuer's page (/auth/login) and read the token;
//   2. from the page, call a backend through the gateway without the token, then with it;
//   3. open the one API document (/api/docs/), give the token in Swagger UI's Authorize dialog,
//      and try a call from it ("Try it out", "Execute").
// GATEWAY_URL is the gateway; API_PATH the operation to call (e.g. /api/orders/items).
// The last line printed is a JSON summary.
import { chromium } from "playwright-core";

const GATEWAY = process.env.GATEWAY_URL.replace(/\/$/, "");
const API_PATH = process.env.API_PATH;
const TIMEOUT_MS = 20_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
});
const summary = { problems: [] };
try {
  const page = await browser.newPage();
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
} catch (error) {
  summary.error = String(error);
  process.exitCode = 1;
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
