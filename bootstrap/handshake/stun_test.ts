// RFC 5769 test vectors (sections 2.1 to 2.3), checked byte for byte.
import assert from "node:assert/strict";
import {
  crc32,
  decodeStun,
  encodeBindingSuccess,
  readXorMappedAddress,
  xorAddress,
} from "./stun.ts";

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g)!.map((b) => parseInt(b, 16)));
}

const TID = hex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae");

/** RFC 5769 section 2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MI, FINGERPRINT). */
const REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);

/** RFC 5769 section 2.2: sample IPv4 response, 192.0.2.1 port 32853. */
const RESPONSE_V4 = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);

/** RFC 5769 section 2.3: sample IPv6 response, 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
const RESPONSE_V6 = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);

Deno.test("RFC 5769 2.1: the sample request decodes as a Binding request, fingerprint ok", () => {
  const message = decodeStun(REQUEST)!;
  assert.equal(message.type, 0x0001);
  assert.deepEqual(message.transactionId, TID);
  assert.deepEqual(message.attributes.map((a) => a.type), [
    0x8022,
    0x0024,
    0x8029,
    0x0006,
    0x0008,
    0x8028,
  ]);
  assert.equal(new TextDecoder().decode(message.attributes[0]!.value), "STUN test client");
  assert.equal(message.fingerprintOk, true);
  const corrupted = REQUEST.slice();
  corrupted[30]! ^= 1;
  assert.equal(decodeStun(corrupted)!.fingerprintOk, false);
});

Deno.test("RFC 5769 2.2: IPv4 XOR-MAPPED-ADDRESS, read and written", () => {
  const message = decodeStun(RESPONSE_V4)!;
  assert.equal(message.type, 0x0101);
  assert.equal(message.fingerprintOk, true);
  assert.deepEqual(readXorMappedAddress(message), { hostname: "192.0.2.1", port: 32853 });
  assert.deepEqual(
    xorAddress({ hostname: "192.0.2.1", port: 32853 }, TID),
    hex("00 01 a1 47 e1 12 a6 43"),
  );
});

Deno.test("RFC 5769 2.3: IPv6 XOR-MAPPED-ADDRESS, read and written", () => {
  const message = decodeStun(RESPONSE_V6)!;
  assert.equal(message.fingerprintOk, true);
  const address = { hostname: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853 };
  assert.deepEqual(readXorMappedAddress(message), address);
  assert.deepEqual(
    xorAddress(address, TID),
    hex("00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"),
  );
});

Deno.test("our Binding success: XOR-MAPPED-ADDRESS then a valid FINGERPRINT", () => {
  const bytes = encodeBindingSuccess(TID, { hostname: "192.0.2.1", port: 32853 });
  assert.deepEqual(
    bytes,
    hex(`01 01 00 14 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         00 20 00 08 00 01 a1 47 e1 12 a6 43
         80 28 00 04 ${
      ((crc32(bytes.subarray(0, 32)) ^ 0x5354554e) >>> 0).toString(16).padStart(8, "0")
    }`),
  );
  assert.equal(decodeStun(bytes)!.fingerprintOk, true);
});

Deno.test("not STUN: short, wrong cookie, bad length, top bits set", () => {
  assert.equal(decodeStun(REQUEST.subarray(0, 19)), undefined);
  const cookie = REQUEST.slice();
  cookie[4] = 0;
  assert.equal(decodeStun(cookie), undefined);
  assert.equal(decodeStun(REQUEST.subarray(0, 100)), undefined);
  const json = new TextEncoder().encode('{"id":"x","message_type":"Ping","payload":null}');
  assert.equal(decodeStun(json), undefined);
});
