/**
 * Free TCP ports on 127.0.0.1 for test processes (v2ray inbounds, payload servers).
 *
 * A port is found by binding port 0 and closing the socket again, so another process can still take
 * it before ours binds; callers that spawn a listener should retry with fresh ports on EADDRINUSE
 * (`startV2rayServer` in v2ray.ts does). Ports handed out in this run are remembered so two calls
 * never return the same port, even after the kernel would hand it out again.
 */
import { createServer } from "node:net";

const handedOut = new Set<number>();

function bindEphemeral(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One free TCP port on 127.0.0.1, never returned before in this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindEphemeral();
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free TCP port on 127.0.0.1 after 50 attempts");
}

/** `count` distinct free TCP ports on 127.0.0.1. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}
