/**
 * Loaded before every unit test file (scripts/run-tests.mjs). The gate is repeatable: property
 * tests and fuzzers run from a fixed seed, so `npm test` passes or fails the same way on every
 * machine, and a failure names its seed and path for fast-check to replay. New inputs are
 * explored with `npm run fuzz` (KUOTA_FUZZ_SEED=random: a new seed each run, printed on failure)
 * or any other seed in KUOTA_FUZZ_SEED. A test that passes its own `seed` keeps it.
 */
import fc from "fast-check";

const DEFAULT_SEED = 20261204;
const wanted = process.env["KUOTA_FUZZ_SEED"] ?? String(DEFAULT_SEED);
if (wanted !== "random") {
  const seed = Number(wanted);
  if (!Number.isInteger(seed)) {
    throw new Error(`KUOTA_FUZZ_SEED must be an integer or "random", not "${wanted}"`);
  }
  fc.configureGlobal({ seed });
}
