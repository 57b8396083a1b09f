import { readFileSync } from "node:fs";
import type { Command } from "../command.js";
import { loadConfig } from "../../config/config.js";
import { UsageError } from "../../core/errors.js";
import { readXrayConfig, type XrayInbound } from "../../accounts/xray-config.js";
import { CaptureParser, type Sighting } from "../../capture/sightings.js";
import { readPcapFile } from "../../capture/read-pcap-file.js";
import { ServiceResolver } from "../../capture/service-map.js";

export const captureCommand: Command = {
  name: "capture",
  summary: "read a saved capture and print the host of each connection (offline)",
  options: { pcap: { type: "string" } },
  help: `Usage: kuota capture --pcap FILE [--json]

Reads a saved capture (classic pcap from tcpdump -w; NFLOG, Ethernet, Linux
cooked or raw IP) and prints, for every TCP connection whose first bytes name a
host, one line: client, server, kind (sni for a TLS ClientHello, http for a
request), host, service, and for HTTP the path and any X-Forwarded-Host /
X-Real-Host. Nothing is deduplicated or recorded; no worker is needed. Services
come from the configuration when it is readable (CAPTURE_SERVICE_MAP,
XRAY_CONFIG, SSH_PORTS), else the port is shown. A summary goes to stderr.

With --json, one JSON object per line: host, service, source_ip, source_port,
dest_ip, dest_port, kind, time, and path / forwarded_host / real_host for HTTP.

Examples:
  tcpdump -i nflog:41 -s 4096 -w /tmp/hosts.pcap     # stop with Ctrl-C
  kuota capture --pcap /tmp/hosts.pcap
  kuota capture --pcap /tmp/hosts.pcap --json | jq -r 'select(.kind == "sni") | .host'`,
  async run({ args, values, out }) {
    const file = typeof values.pcap === "string" ? values.pcap : args[0];
    if (file === undefined || file === "") {
      throw new UsageError("give the capture file with --pcap FILE", "see `kuota capture --help`");
    }
    const resolver = configuredResolver();
    const parser = new CaptureParser();
    let connections = 0;
    for await (const s of readPcapFile(file, parser)) {
      connections++;
      const service = resolver.resolve(
        s.path === undefined
          ? { destPort: s.destPort, host: s.host }
          : { destPort: s.destPort, host: s.host, path: s.path },
      );
      out(values.json ? JSON.stringify(jsonLine(s, service)) : textLine(s, service));
    }
    const st = parser.stats;
    process.stderr.write(
      `${connections} connections with a host; ${st.records} records, ${st.unrecognized} ` +
        `connections without one, ${st.abandoned} incomplete\n`,
    );
    return 0;
  },
};

function textLine(s: Sighting, service: string): string {
  const parts = [
    `${endpoint(s.sourceIp, s.sourcePort)} -> ${endpoint(s.destIp, s.destPort)}`,
    s.kind,
    s.host,
    service,
  ];
  if (s.path !== undefined) parts.push(s.path);
  if (s.forwardedHost !== undefined) parts.push(`x-forwarded-host=${s.forwardedHost}`);
  if (s.realHost !== undefined) parts.push(`x-real-host=${s.realHost}`);
  return parts.join(" ");
}

function jsonLine(s: Sighting, service: string): Record<string, string | number> {
  const line: Record<string, string | number> = {
    host: s.host,
    service,
    source_ip: s.sourceIp,
    source_port: s.sourcePort,
    dest_ip: s.destIp,
    dest_port: s.destPort,
    kind: s.kind,
    time: new Date(s.tsMs).toISOString(),
  };
  if (s.path !== undefined) line.path = s.path;
  if (s.forwardedHost !== undefined) line.forwarded_host = s.forwardedHost;
  if (s.realHost !== undefined) line.real_host = s.realHost;
  return line;
}

function endpoint(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Services from the configuration when it can be read; ports only otherwise. */
function configuredResolver(): ServiceResolver {
  let config;
  try {
    config = loadConfig();
  } catch {
    return new ServiceResolver([], [], []);
  }
  let inbounds: XrayInbound[] = [];
  try {
    inbounds = readXrayConfig(readFileSync(config.xrayConfig, "utf8"), config.xrayConfig).inbounds;
  } catch {
    // no engine config here: paths and ports from CAPTURE_SERVICE_MAP and SSH_PORTS only
  }
  return new ServiceResolver(config.captureServiceMap, inbounds, config.sshPorts);
}
