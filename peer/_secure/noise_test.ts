import assert from "node:assert/strict";
import { fromHex, keyPairFromSecret, nobleDh, nodeDh, toHex } from "./crypto.ts";
import { HandshakeState } from "./noise_handshake.ts";
import { pattern } from "./noise_patterns.ts";
import { NoiseError } from "./noise_symmetric.ts";

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_psks?: string[];
  init_static?: string;
  init_ephemeral: string;
  resp_prologue: string;
  resp_psks?: string[];
  resp_static?: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../../tests/fixtures/noise-cacophony.json", import.meta.url)),
) as { vectors: Vector[] };

for (const dh of [nodeDh, nobleDh]) {
  for (const v of fixture.vectors) {
    Deno.test(`cacophony ${v.protocol_name} (${dh.name} X25519)`, () => {
      const p = pattern(v.protocol_name.split("_")[1]);
      const kp = (hex?: string) => hex ? keyPairFromSecret(fromHex(hex), dh) : undefined;
      const rs = kp(v.resp_static)!;
      const init = new HandshakeState({
        pattern: p,
        initiator: true,
        prologue: fromHex(v.init_prologue),
        s: kp(v.init_static),
        e: kp(v.init_ephemeral),
        rs: p.responderPre.length ? rs.publicKey : undefined,
        psk: v.init_psks ? fromHex(v.init_psks[0]) : undefined,
        dh,
      });
      const resp = new HandshakeState({
        pattern: p,
        initiator: false,
        prologue: fromHex(v.resp_prologue),
        s: rs,
        e: kp(v.resp_ephemeral),
        psk: v.resp_psks ? fromHex(v.resp_psks[0]) : undefined,
        dh,
      });
      const n = p.messages.length;
      v.messages.forEach((m, i) => {
        const fromInit = i % 2 === 0;
        const [tx, rx] = fromInit ? [init, resp] : [resp, init];
        if (i < n) {
          const ct = tx.writeMessage(fromHex(m.payload));
          assert.equal(toHex(ct), m.ciphertext, `message ${i}`);
          assert.equal(toHex(rx.readMessage(ct)), m.payload);
        } else {
          const send = tx.result!.send, receive = rx.result!.receive;
          const ct = send.encryptWithAd(new Uint8Array(0), fromHex(m.payload));
          assert.equal(toHex(ct), m.ciphertext, `transport message ${i}`);
          assert.equal(toHex(receive.decryptWithAd(new Uint8Array(0), ct)), m.payload);
        }
      });
      assert.equal(toHex(init.result!.handshakeHash), v.handshake_hash);
      assert.equal(toHex(resp.result!.handshakeHash), v.handshake_hash);
    });
  }
}

Deno.test("a different psk fails the XXpsk3 handshake at message 3, never yields keys", () => {
  const v = fixture.vectors.find((x) => x.protocol_name.startsWith("Noise_XXpsk3"))!;
  const p = pattern("XXpsk3");
  const init = new HandshakeState({
    pattern: p,
    initiator: true,
    s: keyPairFromSecret(fromHex(v.init_static!)),
    psk: new Uint8Array(32).fill(1),
  });
  const resp = new HandshakeState({
    pattern: p,
    initiator: false,
    s: keyPairFromSecret(fromHex(v.resp_static!)),
    psk: new Uint8Array(32).fill(2),
  });
  resp.readMessage(init.writeMessage());
  init.readMessage(resp.writeMessage());
  const m3 = init.writeMessage();
  assert.throws(() => resp.readMessage(m3), NoiseError);
  assert.equal(resp.result, undefined);
});

Deno.test("pattern(): psk placement and unsupported names", () => {
  assert.deepEqual(pattern("XXpsk3").messages[2], ["s", "se", "psk"]);
  assert.deepEqual(pattern("IKpsk2").messages[1], ["e", "ee", "se", "psk"]);
  assert.deepEqual(pattern("XXpsk0").messages[0], ["psk", "e"]);
  assert.throws(() => pattern("NN"), /unsupported/);
  assert.throws(() => pattern("IKpsk3"), /past the last/);
});
