import assert from "node:assert/strict";
import { endpointKey } from "@olaf/protocol/internal";
import { AddressValidation } from "./_validation.ts";

const A = endpointKey(0x7f000001, 4000);
const B = endpointKey(0x7f000001, 4001);
const C = endpointKey(0x7f000002, 4000);

Deno.test("an address is validated until its ttl passes, then forgotten", () => {
  const v = new AddressValidation({ ttlMs: 1000, capacity: 10 });
  assert.equal(v.isValidated(A, 0), false);
  v.validate(A, 0);
  assert.equal(v.isValidated(A, 999), true);
  assert.equal(v.isValidated(B, 999), false, "another port of the same IP is not validated");
  assert.equal(v.isValidated(A, 1000), false);
  assert.equal(v.size, 0);
});

Deno.test("fresh proof extends a validation; past capacity the oldest proof goes", () => {
  const v = new AddressValidation({ ttlMs: 1000, capacity: 2 });
  v.validate(A, 0);
  v.validate(B, 10);
  v.validate(A, 20); // A is now the most recent
  v.validate(C, 30); // evicts B, the oldest
  assert.equal(v.isValidated(A, 1019), true);
  assert.equal(v.isValidated(B, 40), false);
  assert.equal(v.isValidated(C, 40), true);
  v.forget(C);
  assert.equal(v.isValidated(C, 40), false);
});
