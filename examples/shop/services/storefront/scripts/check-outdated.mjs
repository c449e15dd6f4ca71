// Exit 1 when a dependency of package.json has a newer release (npm's `latest` tag), 2 when the
// registry could not be asked. scripts/check.sh reports either and fails on them only with
// CHECK_STRICT=1; CHECK_OUTDATED=0 skips this check.
import { execFileSync } from "node:child_process";

// Pins kept below the newest release on purpose, with the reason; reported, not failed.
const HELD = {
  "@opentelemetry/api": "@opentelemetry/core 2.12 (the SDK's exact dependency) accepts @opentelemetry/api < 1.10",
  "@opentelemetry/exporter-trace-otlp-http":
    "kept on the release of @opentelemetry/sdk-trace-web 2.12.0, whose exact dependencies it shares (one copy of each SDK package in the bundle)",
  "@opentelemetry/resources":
    "kept on the release of @opentelemetry/sdk-trace-web 2.12.0, whose exact dependencies it shares (one copy of each SDK package in the bundle)",
  "@types/node": "the API of the oldest Node.js the project supports (20.19)",
  typescript: "openapi-typescript 7.13 and typescript-eslint 8.74 support TypeScript < 6",
};

function outdated() {
  try {
    return execFileSync("npm", ["outdated", "--json"], { encoding: "utf8" });
  } catch (error) {
    // npm exits 1 when something is outdated; the JSON is on stdout all the same.
    if (error.status === 1 && error.stdout) {
      return error.stdout;
    }
    return null;
  }
}

function main() {
  const output = outdated();
  if (output === null) {
    console.error("cannot check: npm outdated failed (is the registry reachable?)");
    return 2;
  }
  const report = JSON.parse(output || "{}");
  if (report.error) {
    // npm reports a failure to reach the registry as JSON on stdout, with exit code 1.
    console.error(`cannot check: ${report.error.summary ?? report.error.code ?? "npm outdated failed"}`);
    return 2;
  }
  const newer = [];
  for (const [name, { current, latest }] of Object.entries(report)) {
    if (name in HELD) {
      console.log(`held       ${name} ${current} (${latest} exists): ${HELD[name]}`);
    } else {
      newer.push(`${name} ${current} -> ${latest}`);
    }
  }
  console.log("dependencies of package.json checked");
  if (newer.length > 0) {
    console.error(["newer releases exist:", ...newer].join("\n  "));
    return 1;
  }
  return 0;
}

process.exitCode = main();
