// Reports the gzipped size of the JavaScript a first visit downloads: the entry script and the
// modules index.html preloads (lazy chunks are not counted). Fails above the budget.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 300;
const dir = new URL("../../nanobrain/web/static/", import.meta.url).pathname;
const html = readFileSync(join(dir, "index.html"), "utf8");
const initial = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
let total = 0;
for (const file of initial) {
  const size = gzipSync(readFileSync(join(dir, file))).length;
  total += size;
  console.log(`${(size / 1024).toFixed(1).padStart(8)} KB  ${file}`);
}
console.log(
  `${(total / 1024).toFixed(1).padStart(8)} KB  initial JavaScript, gzipped (budget ${BUDGET_KB} KB)`,
);
if (total / 1024 > BUDGET_KB) {
  console.error("over budget: move heavy modules behind a lazy import()");
  process.exit(1);
}
