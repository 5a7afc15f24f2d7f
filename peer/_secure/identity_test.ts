import assert from "node:assert/strict";
import * as fs from "node:fs";
import { toHex } from "./crypto.ts";
import {
  bindsTo,
  encodePublicKey,
  formatIdentityFile,
  generateIdentity,
  IdentityFileError,
  identityFromSecret,
  loadIdentity,
  loadOrCreateIdentity,
  parsePublicKey,
  staticKeyOf,
} from "./identity.ts";
import { roomKeys } from "./room_keys.ts";

Deno.test("identity file: created 0600 when missing, loaded back the same, never overwritten", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/id.json`;
    const created = loadOrCreateIdentity(path);
    if (Deno.build.os !== "windows") assert.equal(fs.statSync(path).mode & 0o777, 0o600);
    const loaded = loadOrCreateIdentity(path);
    assert.equal(toHex(loaded.publicKey), toHex(created.publicKey));
    assert.equal(toHex(loadIdentity(path).secretKey), toHex(created.secretKey));
    assert.equal(
      JSON.parse(Deno.readTextFileSync(path)).publicKey,
      encodePublicKey(created.publicKey),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("identity file: bad files give a clear IdentityFileError naming the file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const cases: [string, RegExp][] = [
      ["not json", /not JSON/],
      ['{"type":"other"}', /type is not olaf-identity-v1/],
      ['{"type":"olaf-identity-v1","secretKey":"abc"}', /64 lowercase hex/],
      [
        formatIdentityFile(generateIdentity()).replace(
          /"publicKey":"[0-9a-f]+"/,
          `"publicKey":"${"00".repeat(32)}"`,
        ),
        /does not match/,
      ],
    ];
    for (const [i, [text, why]] of cases.entries()) {
      const path = `${dir}/bad${i}.json`;
      Deno.writeTextFileSync(path, text, { mode: 0o600 });
      Deno.chmodSync(path, 0o600);
      assert.throws(
        () => loadOrCreateIdentity(path),
        (e: unknown) =>
          e instanceof IdentityFileError && why.test(e.message) && e.message.includes(path),
      );
    }
    if (Deno.build.os !== "windows") {
      const path = `${dir}/open.json`;
      Deno.writeTextFileSync(path, formatIdentityFile(generateIdentity()));
      Deno.chmodSync(path, 0o644);
      assert.throws(() => loadIdentity(path), /readable by others \(mode 644\); run chmod 600/);
    }
    assert.throws(() => loadIdentity(`${dir}/missing.json`), /cannot read identity file/);
    assert.throws(() => loadOrCreateIdentity(`${dir}/no/such/dir/id.json`), /cannot create/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the Noise static key is bound to the Ed25519 identity", () => {
  const a = identityFromSecret(new Uint8Array(32).fill(1));
  const b = generateIdentity();
  assert.equal(toHex(staticKeyOf(a.publicKey)), toHex(a.staticKey.publicKey));
  assert.equal(bindsTo(a.publicKey, a.staticKey.publicKey), true);
  assert.equal(bindsTo(b.publicKey, a.staticKey.publicKey), false);
  assert.equal(bindsTo(new Uint8Array(32).fill(0xff), a.staticKey.publicKey), false);
});

Deno.test("public keys: 64 hex digits; bad text gets a clear error", () => {
  const a = generateIdentity();
  assert.equal(
    toHex(parsePublicKey(encodePublicKey(a.publicKey).toUpperCase())),
    toHex(a.publicKey),
  );
  assert.throws(() => parsePublicKey("abc"), /64 hex digits/);
  assert.throws(() => parsePublicKey("zz".repeat(32)), /64 hex digits/);
});

Deno.test("room keys: distinct labels; the tag depends on secret and name and reveals neither", () => {
  const k = roomKeys("lobby", "s");
  const all = [k.psk, k.macKey, k.tag].map(toHex);
  assert.equal(new Set(all).size, 3);
  assert.notEqual(roomKeys("lobby", "t").tagHex, k.tagHex);
  assert.notEqual(roomKeys("lobby2", "s").tagHex, k.tagHex);
  assert.equal(roomKeys("lobby", new TextEncoder().encode("s")).tagHex, k.tagHex);
  assert.equal(k.tagHex.length, 32);
  assert.ok(!k.tagHex.includes(toHex(new TextEncoder().encode("lobby"))));
  assert.equal(k.secure, true);
  assert.equal(roomKeys("lobby").secure, false);
});
