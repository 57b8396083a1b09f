import { readFileSync } from "node:fs";

/**
 * Reads a `KEY=value` environment file (the format of systemd's EnvironmentFile and
 * of .env.example). Blank lines and `#` comments are skipped; values may be wrapped
 * in single or double quotes. Written by hand because the only non-trivial rule is
 * quoting, and dotenv's extra features (expansion, multiline) would let a value mean
 * something different under systemd than under `kuota`.
 *
 * @returns the variables, or null when the file does not exist
 */
export function readEnvFile(path: string): Map<string, string> | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const vars = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line
      .slice(0, eq)
      .trim()
      .replace(/^export\s+/, "");
    let value = line.slice(eq + 1).trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1);
    }
    vars.set(key, value);
  }
  return vars;
}
