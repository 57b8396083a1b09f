/**
 * Reads a saved capture (classic pcap: NFLOG, Ethernet, Linux cooked or raw IP) for
 * `kuota capture --pcap FILE`.
 */
import { createReadStream } from "node:fs";
import { OperatorError } from "../core/errors.js";
import { CaptureParser, type Sighting } from "./sightings.js";

/**
 * Yields one sighting per connection found in the file at `path`, in capture order. Pass a
 * `parser` to read its `stats` afterwards. Throws `OperatorError` when the file is not a
 * classic pcap; read errors (missing file, permissions) surface as the fs error.
 */
export async function* readPcapFile(
  path: string,
  parser: CaptureParser = new CaptureParser(),
): AsyncGenerator<Sighting> {
  const file = createReadStream(path, { highWaterMark: 256 * 1024 });
  try {
    for await (const chunk of file) {
      yield* parser.feed(chunk as Buffer);
      const reason = parser.stats.streamError;
      if (reason !== undefined) {
        throw new OperatorError(
          `${path} cannot be read as a capture: ${reason}`,
          "save captures with `tcpdump -w FILE` (classic pcap), or convert with `editcap -F pcap`",
        );
      }
    }
  } finally {
    file.destroy();
  }
}
