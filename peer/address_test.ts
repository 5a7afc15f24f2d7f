import assert from "node:assert/strict";
import { parseHostPort, resolveHostPort } from "./address.ts";

Deno.test("parseHostPort accepts HOST:PORT and explains what is wrong otherwise", () => {
  assert.deepEqual(parseHostPort("10.0.0.1:5000"), { hostname: "10.0.0.1", port: 5000 });
  assert.deepEqual(parseHostPort(" boot.example.org:65535 "), {
    hostname: "boot.example.org",
    port: 65535,
  });
  for (
    const [text, why] of [
      ["10.0.0.1", /HOST:PORT/],
      [":5000", /HOST:PORT/],
      ["10.0.0.1:", /HOST:PORT/],
      ["10.0.0.1:0", /port/],
      ["10.0.0.1:70000", /port/],
      ["10.0.0.1:50a", /port/],
      ["[::1]:5000", /IPv4/],
      ["::1:5000", /IPv4/],
    ] as const
  ) {
    assert.throws(
      () => parseHostPort(text),
      (e: Error) => e instanceof TypeError && why.test(e.message),
      text,
    );
  }
});

Deno.test("resolveHostPort keeps IPv4 text and maps localhost without DNS", async () => {
  assert.deepEqual(await resolveHostPort("192.0.2.1:5000"), { hostname: "192.0.2.1", port: 5000 });
  assert.deepEqual(await resolveHostPort("LOCALHOST:5000"), { hostname: "127.0.0.1", port: 5000 });
  await assert.rejects(() => resolveHostPort("localhost"), TypeError);
});
