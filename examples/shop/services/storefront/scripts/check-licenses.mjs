// Fail when an installed package is not under an allowed (permissive) licence.
//
// Every package of package-lock.json that is installed in node_modules is checked, by the
// `license` of its own package.json (an SPDX expression). A package outside the allow-list needs
// an entry in EXCEPTIONS with the reason it is acceptable.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");

const ALLOWED = new Set([
  "0BSD",
  "Apache-2.0",
  "BlueOak-1.0.0",
  "BSD-2-Clause",
  "BSD-3-Clause",
  "CC0-1.0",
  "ISC",
  "MIT",
  "MIT-0",
  "Python-2.0",
  "Unlicense",
  "Zlib",
]);

// [package name pattern, reason]
const EXCEPTIONS = [
  [/^caniuse-lite$/, "CC-BY-4.0: browser-support data read by the build tools, not shipped in the page"],
  [/^lightningcss$/, "MPL-2.0 (file-level copyleft): Vite's CSS minifier, used unmodified at build time"],
  [/^lightningcss-[a-z0-9]+-[a-z0-9]+(-[a-z]+)?$/, "MPL-2.0: an unmodified native build of lightningcss"],
];

/** SPDX: every AND term needs one allowed OR choice (parentheses are flattened). */
function allowed(expression) {
  const terms = expression.replace(/[()]/g, " ").split(/\s+AND\s+/i);
  return terms.every((term) => term.split(/\s+OR\s+/i).some((choice) => ALLOWED.has(choice.trim())));
}

function licenceOf(manifest) {
  if (typeof manifest.license === "string") {
    return manifest.license;
  }
  // Old manifests: {"type": "MIT"} or [{"type": "MIT"}, ...] (any of them).
  const old = manifest.license ?? manifest.licenses;
  const types = (Array.isArray(old) ? old : old ? [old] : []).map((entry) => entry.type).filter(Boolean);
  return types.length > 0 ? types.join(" OR ") : "UNKNOWN";
}

function main() {
  const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8"));
  const refused = [];
  let checked = 0;
  for (const location of Object.keys(lock.packages)) {
    const manifestPath = path.join(ROOT, location, "package.json");
    if (location === "" || !existsSync(manifestPath)) {
      continue; // the project itself, or an optional package for another platform
    }
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    const licence = licenceOf(manifest);
    checked += 1;
    const exception = EXCEPTIONS.find(([pattern]) => pattern.test(manifest.name));
    if (exception) {
      console.log(`exception  ${manifest.name} ${manifest.version}: ${exception[1]}`);
    } else if (!allowed(licence)) {
      refused.push(`${manifest.name} ${manifest.version}: ${licence}`);
    }
  }
  console.log(`${checked} packages checked`);
  if (checked === 0) {
    console.error("no installed package found: run `npm ci` first");
    return 2;
  }
  if (refused.length > 0) {
    console.error(["licences outside the allow-list:", ...refused].join("\n  "));
    return 1;
  }
  return 0;
}

process.exitCode = main();
