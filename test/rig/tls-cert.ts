/**
 * A throwaway self-signed certificate for the Trojan (and optional VLESS/VMess) TLS inbounds.
 * Clients connect with `allowInsecure`, so only the key pair matters, not the chain.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { execa } from "execa";

export interface TlsCert {
  /** Temporary directory holding both files; removed by `remove()` or at the end of the test file. */
  dir: string;
  /** PEM certificate, CN and subjectAltName `commonName` (default "localhost"). */
  certFile: string;
  /** PEM private key (RSA 2048, unencrypted). */
  keyFile: string;
  /** Deletes `dir`. Safe to call twice. */
  remove(): void;
}

const liveDirs = new Set<string>();

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

// Module-level hooks attach to the test file's root, so they run after its last test.
after(() => {
  for (const dir of [...liveDirs]) removeDir(dir);
});
process.on("exit", () => {
  for (const dir of [...liveDirs]) removeDir(dir);
});

/**
 * Creates a self-signed certificate valid for 2 days with `openssl req -x509`.
 * Throws execa's error (with openssl's stderr) if openssl fails.
 */
export async function makeSelfSignedCert(commonName = "localhost"): Promise<TlsCert> {
  const dir = mkdtempSync(join(tmpdir(), "kuota-tls-"));
  liveDirs.add(dir);
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  try {
    await execa("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${commonName}`,
      "-addext",
      `subjectAltName=DNS:${commonName}`,
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ]);
  } catch (error) {
    removeDir(dir);
    throw error;
  }
  return { dir, certFile, keyFile, remove: () => removeDir(dir) };
}
