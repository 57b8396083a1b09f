import { test } from "node:test";
import assert from "node:assert/strict";
import { Router } from "../../../src/control/router.js";
import { ApiError } from "../../../src/control/api-error.js";

test("matches methods and named segments; 404 and 405 otherwise", async () => {
  const r = new Router()
    .get("/v1/usage/:name", async (req) => req.params.name)
    .post("/v1/accounts", async () => "created");
  const m = r.match("GET", "/v1/usage/al%20ice");
  assert.equal(
    await m.handler({
      method: "GET",
      path: "",
      params: m.params,
      query: new URLSearchParams(),
      body: undefined,
    }),
    "al ice",
  );
  assert.throws(
    () => r.match("DELETE", "/v1/accounts"),
    (e: unknown) => e instanceof ApiError && e.status === 405,
  );
  assert.throws(
    () => r.match("GET", "/v2/x"),
    (e: unknown) => e instanceof ApiError && e.status === 404,
  );
});
