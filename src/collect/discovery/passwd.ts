/** Shells that cannot log in: sellers' SSH-tunnel accounts have one of these. */
export const NON_LOGIN_SHELLS = new Set([
  "/bin/false",
  "/usr/sbin/nologin",
  "/sbin/nologin",
  "/usr/bin/false",
]);

/** The uid range of ordinary accounts (Debian/Ubuntu adduser defaults). */
export const MIN_ACCOUNT_UID = 1000;
export const MAX_ACCOUNT_UID = 59999;

export type PasswdEntry = { name: string; uid: number; gid: number; home: string; shell: string };

/** Parses /etc/passwd text; malformed lines are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length !== 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({
      name: f[0] as string,
      uid,
      gid,
      home: f[5] as string,
      shell: (f[6] as string).trim(),
    });
  }
  return out;
}

/**
 * Whether a passwd entry is an SSH account kuota counts and may manage: uid in
 * 1000-59999 and a non-login shell. Anything else (root, system users, a seller's
 * own login user) is never touched.
 */
export function isSshAccount(e: PasswdEntry): boolean {
  return e.uid >= MIN_ACCOUNT_UID && e.uid <= MAX_ACCOUNT_UID && NON_LOGIN_SHELLS.has(e.shell);
}
