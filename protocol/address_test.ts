import assert from "node:assert/strict";
import { addressKey, normaliseHostname } from "./address.ts";

Deno.test("normaliseHostname strips ::ffff: from mapped IPv4 only", () => {
  assert.equal(normaliseHostname("::ffff:1.2.3.4"), "1.2.3.4");
  assert.equal(normaliseHostname("::FfFf:10.0.0.1"), "10.0.0.1");
  assert.equal(normaliseHostname("1.2.3.4"), "1.2.3.4");
  // Not dotted-quad IPv4 after the prefix: unchanged (the caller decides what it is).
  assert.equal(normaliseHostname("::ffff:7f00:1"), "::ffff:7f00:1");
  assert.equal(normaliseHostname("::ffff:1.2.3.999"), "::ffff:1.2.3.999");
  assert.equal(normaliseHostname("::ffff:"), "::ffff:");
  assert.equal(normaliseHostname("2001:db8::1"), "2001:db8::1");
  assert.equal(normaliseHostname("localhost"), "localhost");
});

Deno.test("addressKey is one key for both spellings of an endpoint", () => {
  assert.equal(addressKey("::ffff:127.0.0.1", 5000), "127.0.0.1:5000");
  assert.equal(addressKey("127.0.0.1", 5000), "127.0.0.1:5000");
  assert.equal(addressKey("::1", 5000), "::1:5000");
});
