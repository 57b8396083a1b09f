// Runs one suite of the node:test files under test/<suite>/ with tsx.
// Node 20's --test does not expand globs, so the file list is built here.
// Integration tests drive shared kernel state (namespaces, nft, users): one file at a time.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const suite = process.argv[2];
if (suite !== "unit" && suite !== "integration") {
  console.error("usage: run-tests.mjs unit|integration [name-filter]");
  process.exit(2);
}
const filter = process.argv[3] ?? process.env.KUOTA_TEST_FILTER ?? "";

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith(".test.ts") && path.includes(filter)) out.push(path);
  }
  return out;
}

const files = collect(join("test", suite));
if (files.length === 0) {
  console.error(`no test files in test/${suite} matching "${filter}"`);
  process.exit(1);
}
const args = ["--import", "tsx", "--test", "--test-reporter=spec"];
// Unit files run their property tests from a fixed seed unless KUOTA_FUZZ_SEED says otherwise.
if (suite === "unit") args.splice(2, 0, "--import", "./test/fuzz-seed.ts");
if (suite === "integration") args.push("--test-concurrency=1");
const result = spawnSync(process.execPath, [...args, ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
