import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { bashCompletion } from "../../../src/cli/commands/completion.js";
import { COMMANDS } from "../../../src/cli/commands/index.js";

/** Runs the script in bash and asks it to complete `line` (cursor at the end). */
function complete(line: string): string[] {
  const words = line.split(" ");
  const script = `${bashCompletion(COMMANDS)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length - 1}
_kuota
printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync("bash", ["-c", script], { encoding: "utf8" }).split("\n").filter(Boolean);
}

test("completes every top-level command from the registry", () => {
  const got = complete("kuota ");
  for (const c of COMMANDS) assert.ok(got.includes(c.name), c.name);
  assert.ok(got.includes("top") && got.includes("completion"));
});

test("completes subcommands and each command's own options", () => {
  assert.deepEqual(complete("kuota account l"), ["list", "limit"]);
  assert.deepEqual(complete("kuota account list --j"), ["--json"]);
  assert.deepEqual(complete("kuota top --i"), ["--interval"]);
  assert.deepEqual(complete("kuota top --interval 250ms --j"), ["--json"]);
  assert.deepEqual(complete("kuota usage alice --h"), ["--help"]);
});

test("completes known values, and top-level options after an unknown command", () => {
  assert.deepEqual(complete("kuota worker --log-level d"), ["debug"]);
  assert.deepEqual(complete("kuota completion "), ["bash", "--help", "--json", "--log-level"]);
  assert.deepEqual(complete("kuota nosuch --"), ["--help", "--version"]);
  assert.deepEqual(complete("kuota top --interval "), ["100ms", "250ms", "500ms", "1s"]);
  assert.deepEqual(complete("kuota account renew alice --expires n"), ["never"]);
});
