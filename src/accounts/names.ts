/**
 * Account names double as Linux user names and Xray client emails, and end up in file names
 * (`usage/<name>.json`) and shell-adjacent places, so they are kept to a small safe alphabet.
 */

/** Longest accepted name, in characters. */
export const MAX_NAME_LENGTH = 32;

/**
 * Why `name` cannot be an account name, in one line; null when it can. Accepted: 1–32 characters
 * of `a-z 0-9 . _ -`, starting with a letter or digit.
 */
export function accountNameProblem(name: string): string | null {
  if (name.length === 0) return "the name is empty";
  if (name.length > MAX_NAME_LENGTH) {
    return `the name has ${name.length} characters; at most ${MAX_NAME_LENGTH} are allowed`;
  }
  for (const ch of name) {
    if (isAllowed(ch)) continue;
    if (ch >= "A" && ch <= "Z") return `use lowercase letters (${ch} → ${ch.toLowerCase()})`;
    return `${JSON.stringify(ch)} is not allowed; use a-z, 0-9, dot, underscore or hyphen`;
  }
  const first = name[0] ?? "";
  if (!isLetterOrDigit(first)) {
    return `the name starts with ${JSON.stringify(first)}; start it with a letter or digit`;
  }
  return null;
}

function isLetterOrDigit(ch: string): boolean {
  return (ch >= "a" && ch <= "z") || (ch >= "0" && ch <= "9");
}

function isAllowed(ch: string): boolean {
  return isLetterOrDigit(ch) || ch === "." || ch === "_" || ch === "-";
}
