/**
 * Whether a name may become a file name under the data folder. Names come from
 * the engine config and from login lines, so they are untrusted: anything that
 * could escape the folder or confuse a shell menu is refused.
 */
export function isSafeFileName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 64 &&
    name !== "." &&
    name !== ".." &&
    !name.startsWith(".") &&
    /^[A-Za-z0-9._@+-]+$/.test(name)
  );
}
