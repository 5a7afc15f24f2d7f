import assert from "node:assert/strict";
import { decode, encode } from "@olaf/protocol";
import { toHex } from "./crypto.ts";
import { endpoint, events, fixedIdentity, pump, seededRandom, type Wire } from "./_test_util.ts";
import { memberKey, staticKeyOf, twinOf } from "./identity.ts";
import { REPLAY_WINDOW } from "./replay.ts";
import { HANDSHAKE_CODE, SEALED_CODE, Step } from "./wire.ts";

const ping = (n: number) => encode({ type: "APP_R", peers: [], payload: new Uint8Array([n]) });
const A = fixedIdentity(1).publicKey;
const B = fixedIdentity(2).publicKey;

function connected(pattern: "XX" | "IK" = "XX") {
  const a = endpoint(1), b = endpoint(2);
  a.connect(0, "b", pattern === "IK" ? B : undefined);
  const log = pump(0, { a, b });
  return { a, b, log, ea: events(a), eb: events(b) };
}

Deno.test("XXpsk3 first contact: both sides get one session and sealed datagrams flow", () => {
  const { a, b, log, ea, eb } = connected();
  assert.deepEqual(log.map((w) => [w.from, w.data[0], w.data[7]]), [
    ["a", HANDSHAKE_CODE, Step.XX1],
    ["b", HANDSHAKE_CODE, Step.XX2],
    ["a", HANDSHAKE_CODE, Step.XX3],
  ]);
  assert.deepEqual(ea.map((e) => e.type), ["session"]);
  assert.deepEqual(eb.map((e) => e.type), ["session"]);
  assert.equal(ea[0].type === "session" && toHex(ea[0].publicKey), toHex(B));
  assert.equal(eb[0].type === "session" && toHex(eb[0].publicKey), toHex(A));
  assert.equal(a.send(1, B, ping(7)), "sent");
  assert.equal(b.send(1, A, ping(8)), "sent");
  pump(1, { a, b });
  const [ma] = events(a), [mb] = events(b);
  assert.equal(mb.type, "message");
  assert.equal(ma.type, "message");
  if (mb.type === "message" && ma.type === "message") {
    assert.deepEqual(mb.datagram, ping(7));
    assert.equal(toHex(mb.publicKey), toHex(A));
    assert.deepEqual(ma.datagram, ping(8));
  }
});

Deno.test("IKpsk2 when the key is known: responder sends only after the initiator confirms", () => {
  const { a, b, log, ea, eb } = connected("IK");
  // message 1, message 2, then the initiator's keepalive that confirms the session
  assert.deepEqual(log.map((w) => [w.from, w.data[0]]), [
    ["a", HANDSHAKE_CODE],
    ["b", HANDSHAKE_CODE],
    ["a", SEALED_CODE],
  ]);
  assert.equal(ea[0].type === "session" && ea[0].pattern, "IKpsk2");
  assert.equal(eb.length, 1);
  assert.equal(b.send(1, A, ping(1)), "sent");
  pump(1, { a, b });
  assert.deepEqual(events(a).map((e) => e.type), ["message"]);
});

Deno.test("IK responder queues until confirmed: a lost keepalive delays, never loses, data", () => {
  const a = endpoint(1), b = endpoint(2);
  a.connect(0, "b", B);
  pump(0, { a, b }, (w) => w.data[0] === SEALED_CODE ? undefined : w.data);
  assert.equal(b.send(0, A, ping(3)), "queued");
  assert.equal(a.send(1, B, ping(4)), "sent");
  pump(1, { a, b });
  assert.deepEqual(events(a).filter((e) => e.type === "message").length, 1);
  assert.deepEqual(events(b).filter((e) => e.type === "message").length, 1);
});

Deno.test("a wrong secret never yields a session: the responder reports it, the initiator times out", () => {
  for (const pattern of ["XX", "IK"] as const) {
    const a = endpoint(1, "right"), b = endpoint(2, "wrong");
    a.connect(0, "b", pattern === "IK" ? B : undefined);
    for (let t = 0; t <= 10_000; t += 500) {
      a.handleTimeout(t);
      b.handleTimeout(t);
      pump(t, { a, b });
    }
    const ea = events(a), eb = events(b);
    assert.deepEqual(eb.map((e) => e.type), ["wrong-secret"], pattern);
    assert.deepEqual(ea.map((e) => e.type), ["handshake-timeout"], pattern);
    assert.equal(a.peers.length + b.peers.length, 0);
    assert.equal(a.send(0, B, ping(1)), "unknown");
  }
});

Deno.test("an open room (no secret) and a secure room of the same name do not meet", () => {
  const a = endpoint(1, ""), b = endpoint(2, "s3cret");
  a.connect(0, "b");
  pump(0, { a, b });
  assert.deepEqual(events(b).map((e) => e.type), ["wrong-secret"]);
});

Deno.test("refused keys are reported on the side that learns the key", () => {
  // Responder refuses the initiator (learns its key at XX message 3).
  const a = endpoint(1), b = endpoint(2, "s3cret", { allow: (k) => toHex(k) === "00" });
  a.connect(0, "b");
  pump(0, { a, b });
  const eb = events(b);
  assert.deepEqual(eb.map((e) => e.type), ["refused-key"]);
  assert.equal(eb[0].type === "refused-key" && toHex(eb[0].publicKey), toHex(A));
  assert.equal(b.peers.length, 0);
  // Initiator refuses the responder (learns its key at XX message 2): no message 3 is sent.
  const c = endpoint(1, "s3cret", { allow: () => false }), d = endpoint(2);
  c.connect(0, "d");
  const log = pump(0, { c, d });
  assert.equal(log.length, 2);
  assert.deepEqual(events(c).map((e) => e.type), ["refused-key"]);
  assert.equal(d.peers.length, 0);
  // IK: refused before anything is sent.
  const e = endpoint(1, "s3cret", { allow: () => false });
  e.connect(0, "f", B);
  assert.equal(e.pollTransmit(), undefined);
  assert.deepEqual(events(e).map((x) => x.type), ["refused-key"]);
});

Deno.test("tampering with any byte of any handshake message or sealed datagram is rejected", () => {
  for (const pattern of ["XX", "IK"] as const) {
    const messages = connected(pattern).log.length;
    for (let k = 0; k < messages; k++) {
      const length = connected(pattern).log[k].data.length;
      for (let i = 0; i < length; i++) {
        const a = endpoint(1), b = endpoint(2);
        a.connect(0, "b", pattern === "IK" ? B : undefined);
        let n = 0;
        pump(0, { a, b }, (w: Wire) => {
          if (n++ !== k) return w.data;
          const bad = w.data.slice();
          bad[i] ^= 0x01;
          return bad;
        });
        const receiver = k % 2 === 0 ? b : a;
        const sessions = events(receiver).filter((e) => e.type === "session");
        // IK's confirmation keepalive (k = 2) is the first SEALED: the responder then has only
        // its unconfirmed session, never a usable one.
        if (pattern === "IK" && k === 2) assert.equal(receiver.peers.length, 0, `${k}/${i}`);
        else assert.equal(sessions.length, 0, `${pattern} message ${k} byte ${i}`);
      }
    }
  }
  const { a, b } = connected();
  a.send(1, B, ping(9));
  const sealed = a.pollTransmit()!.data;
  for (let i = 0; i < sealed.length; i++) {
    const bad = sealed.slice();
    bad[i] ^= 0x80;
    b.handleDatagram(1, bad, "a");
  }
  assert.equal(events(b).length, 0);
  b.handleDatagram(1, sealed, "a");
  assert.deepEqual(events(b).map((e) => e.type), ["message"]);
});

Deno.test("replayed datagrams are dropped: sealed, and handshake messages", () => {
  const { a, b, log } = connected();
  a.send(1, B, ping(1));
  const sealed = a.pollTransmit()!.data;
  assert.equal(b.handleDatagram(1, sealed, "a"), true);
  b.handleDatagram(1, sealed, "a");
  b.handleDatagram(2, sealed, "a");
  assert.deepEqual(events(b).map((e) => e.type), ["message"]);
  assert.equal(b.drops.replay, 2);
  // Before completion, a repeated message 1 (our message 2 was lost) gets the same message 2.
  const c = endpoint(1), d = endpoint(2);
  c.connect(0, "d");
  const m1 = c.pollTransmit()!.data;
  d.handleDatagram(0, m1, "c");
  const m2 = d.pollTransmit()!.data;
  d.handleDatagram(1, m1, "c");
  assert.deepEqual(d.pollTransmit()?.data, m2);
  // Replayed handshake messages of a completed handshake get no answer and make no state.
  b.handleDatagram(3, log[0].data, "a");
  assert.equal(b.pollTransmit(), undefined);
  b.handleDatagram(3, log[2].data, "a");
  assert.equal(b.pollTransmit(), undefined);
  assert.deepEqual(events(b), []);
});

Deno.test("counters out of order inside the window are accepted once; older ones are refused", () => {
  const { a, b } = connected();
  const sealed: Uint8Array[] = [];
  for (let i = 0; i < REPLAY_WINDOW + 100; i++) {
    a.send(1, B, ping(i & 0xff));
    sealed.push(a.pollTransmit()!.data);
  }
  const last = sealed.length - 1;
  b.handleDatagram(1, sealed[last], "a");
  b.handleDatagram(1, sealed[last - 5], "a"); // reordered, inside: accepted
  b.handleDatagram(1, sealed[last - 5], "a"); // replay
  b.handleDatagram(1, sealed[last - REPLAY_WINDOW + 1], "a"); // oldest inside
  b.handleDatagram(1, sealed[last - REPLAY_WINDOW], "a"); // just outside
  b.handleDatagram(1, sealed[0], "a"); // far outside
  assert.equal(events(b).filter((e) => e.type === "message").length, 3);
  assert.equal(b.drops.replay, 3);
});

Deno.test("rekeying after N messages keeps every message flowing, on a new session", () => {
  const a = endpoint(1, "s3cret", { rekeyAfterMessages: 10 });
  const b = endpoint(2, "s3cret", { rekeyAfterMessages: 10 });
  a.connect(0, "b");
  pump(0, { a, b });
  events(a), events(b);
  const first = a.session(B)!.localIndex;
  const got: number[] = [];
  for (let i = 0; i < 50; i++) {
    assert.notEqual(a.send(i, B, ping(i)), "unknown");
    if (i % 3 === 0) b.send(i, A, ping(200));
    pump(i, { a, b });
    for (const e of events(b)) {
      if (e.type === "message") got.push(e.datagram[e.datagram.length - 1]);
    }
  }
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
  assert.notEqual(a.session(B)!.localIndex, first);
  assert.equal(a.session(B)!.remoteIndex, b.session(A)!.localIndex);
  assert.equal(b.session(A)!.remoteIndex, a.session(B)!.localIndex);
  assert.equal(events(a).filter((e) => e.type === "message").length > 0, true);
});

Deno.test("rekeying after T ms: the initiator starts an IK handshake on its next send", () => {
  const a = endpoint(1, "s3cret", { rekeyAfterMs: 1_000 }), b = endpoint(2);
  a.connect(0, "b");
  pump(0, { a, b });
  events(a), events(b);
  const first = a.session(B)!.localIndex;
  a.send(2_000, B, ping(1));
  pump(2_000, { a, b });
  const eb = events(b);
  assert.deepEqual(eb.map((e) => e.type), ["message", "session"]);
  assert.equal(eb[1].type === "session" && eb[1].rekey && eb[1].pattern, "IKpsk2");
  assert.notEqual(a.session(B)!.localIndex, first);
  a.send(2_001, B, ping(2));
  pump(2_001, { a, b });
  assert.deepEqual(events(b).map((e) => e.type), ["message"]);
});

Deno.test("simultaneous open converges to one session on both sides", () => {
  for (const pattern of ["XX", "IK"] as const) {
    const a = endpoint(1), b = endpoint(2);
    a.connect(0, "b", pattern === "IK" ? B : undefined);
    b.connect(0, "a", pattern === "IK" ? A : undefined);
    pump(0, { a, b });
    const sa = events(a).filter((e) => e.type === "session");
    const sb = events(b).filter((e) => e.type === "session");
    assert.equal(sa.length, 1, pattern);
    assert.equal(sb.length, 1, pattern);
    assert.notEqual(
      sa[0].type === "session" && sa[0].initiator,
      sb[0].type === "session" && sb[0].initiator,
    );
    assert.equal(a.session(B)!.remoteIndex, b.session(A)!.localIndex);
    assert.equal(a.session(B)!.localIndex, b.session(A)!.remoteIndex);
    assert.equal(a.send(1, B, ping(1)), "sent");
    assert.equal(b.send(1, A, ping(2)), "sent");
    pump(1, { a, b });
    assert.equal(events(a).length + events(b).length, 2);
  }
});

Deno.test("amplification: no responder sends more than 3x what the initiator sent it", () => {
  for (const pattern of ["XX", "IK"] as const) {
    const { log } = connected(pattern);
    assert.ok(log[1].data.length <= 3 * log[0].data.length, `${pattern} first reply`);
  }
  // A forged message 1 from a spoofed address, never followed up: retransmits of message 2 stop
  // at the 3x budget.
  const a = endpoint(1), b = endpoint(2, "s3cret", { maxRetries: 10 });
  a.connect(0, "victim");
  const m1 = a.pollTransmit()!.data;
  b.handleDatagram(0, m1, "victim");
  let sent = 0;
  for (let t = 0; t <= 20_000; t += 1_000) {
    b.handleTimeout(t);
    for (let x = b.pollTransmit(); x; x = b.pollTransmit()) sent += x.data.length;
  }
  assert.ok(sent <= 3 * m1.length, `${sent} > 3 x ${m1.length}`);
  assert.ok(sent > 0);
  assert.ok(b.drops["amplification-limit"] > 0);
});

Deno.test("a peer's session survives an address change (roaming on authenticated datagrams)", () => {
  const { a, b } = connected();
  assert.equal(b.addressOf(A), "a");
  a.send(1, B, ping(1));
  const d = a.pollTransmit()!.data;
  b.handleDatagram(1, d, "a-new-port");
  assert.equal(b.addressOf(A), "a-new-port");
  b.send(2, A, ping(2));
  assert.equal(b.pollTransmit()!.to, "a-new-port");
  // A forged or replayed datagram from elsewhere does not move it.
  b.handleDatagram(3, d, "attacker");
  assert.equal(b.addressOf(A), "a-new-port");
});

Deno.test("non-secure and malformed datagrams: not ours, or dropped and counted, never a throw", () => {
  const { b } = connected();
  assert.equal(
    b.handleDatagram(0, encode({ type: "PING", peers: [], payload: new Uint8Array() }), "x"),
    false,
  );
  for (const bytes of [[18], [19], [18, 0, 0, 0, 0, 0, 1, 9], [19, 0, 0, 0, 0, 0, 0]]) {
    assert.equal(b.handleDatagram(0, new Uint8Array(bytes), "x"), true);
  }
  for (let i = 0; i < 200; i++) {
    const junk = crypto.getRandomValues(new Uint8Array(1 + (i % 180)));
    junk[0] = i % 2 ? HANDSHAKE_CODE : SEALED_CODE;
    b.handleDatagram(0, junk, "x");
  }
  assert.deepEqual(events(b), []);
  assert.ok(b.drops.malformed > 0);
  assert.equal(decode(new Uint8Array([19, 0, 0, 0, 0, 0, 0])).type, "EXTENSION");
});

Deno.test("remove(): a forgotten peer's sealed datagrams are dropped; a new handshake works", () => {
  const { a, b } = connected();
  a.send(1, B, ping(1));
  const d = a.pollTransmit()!.data;
  assert.equal(b.remove(A), true);
  assert.equal(b.remove(A), false);
  b.handleDatagram(1, d, "a");
  assert.deepEqual(events(b), []);
  assert.equal(b.drops["unknown-session"], 1);
  assert.equal(b.send(1, A, ping(2)), "unknown");
  a.connect(2, "b", B);
  pump(2, { a, b });
  assert.deepEqual(events(b).map((e) => e.type), ["session"]);
});

Deno.test("seal(): bytes for a link to send itself, or undefined without a session", () => {
  const { a, b } = connected();
  const t = a.seal(1, B, ping(5))!;
  assert.equal(t.to, "b");
  assert.equal(a.pollTransmit(), undefined);
  b.handleDatagram(1, t.data, "a");
  const [m] = events(b);
  assert.ok(m.type === "message" && m.datagram[m.datagram.length - 1] === 5);
  assert.equal(a.seal(1, fixedIdentity(9).publicKey, ping(1)), undefined);
});

Deno.test("the plaintext of a message never appears in any datagram, handshakes included", () => {
  const a = endpoint(1), b = endpoint(2);
  a.connect(0, "b");
  const log = pump(0, { a, b });
  const secret = new TextEncoder().encode("attack at dawn, the password is swordfish");
  const inner = encode({ type: "APP_R", peers: [], payload: secret });
  a.send(1, B, inner);
  b.send(1, A, inner);
  log.push(...pump(1, { a, b }));
  const needle = toHex(secret.subarray(0, 12));
  for (const w of log) assert.ok(!toHex(w.data).includes(needle), `${w.from} leaked plaintext`);
  assert.equal(events(b).filter((e) => e.type === "message").length, 1);
});

Deno.test("rekey continuity: datagrams sealed on the old session still open after the rekey", () => {
  const a = endpoint(1, "s3cret", { rekeyAfterMessages: 3 }), b = endpoint(2);
  a.connect(0, "b");
  pump(0, { a, b });
  events(a), events(b);
  const inFlight: Uint8Array[] = [];
  for (let i = 0; i < 3; i++) {
    a.send(1, B, ping(i));
    inFlight.push(a.pollTransmit()!.data); // held back, as if delayed on the path
  }
  pump(1, { a, b }); // the third send started an IK rekey; it completes now
  assert.deepEqual(events(b).map((e) => e.type), ["session"]);
  a.send(2, B, ping(3)); // on the new session
  pump(2, { a, b });
  for (const d of inFlight) b.handleDatagram(3, d, "a"); // late arrivals on the old one
  const got = events(b).flatMap((e) => e.type === "message" ? [e.datagram.at(-1)] : []);
  assert.deepEqual(got, [3, 0, 1, 2]);
});

Deno.test("default randomness (native key generation): XX then IK complete, fresh ephemerals", () => {
  const a = endpoint(1, "s3cret", { random: undefined });
  const b = endpoint(2, "s3cret", { random: undefined });
  const ephemerals = new Set<string>();
  // Message 1 of either pattern starts (after framing 7, step 1, two indexes 8) with e.
  const seen = (w: Wire) => {
    if (w.from === "a" && (w.data[7] === Step.XX1 || w.data[7] === Step.IK1)) {
      ephemerals.add(toHex(w.data.subarray(16, 48)));
    }
    return w.data;
  };
  a.connect(0, "b");
  pump(0, { a, b }, seen);
  a.connect(1, "b", B); // a second handshake with the key now known: IK
  pump(1, { a, b }, seen);
  const ea = events(a), eb = events(b);
  assert.deepEqual(ea.map((e) => e.type === "session" && [e.pattern, e.rekey]), [
    ["XXpsk3", false],
    ["IKpsk2", true],
  ]);
  assert.deepEqual(eb.map((e) => e.type), ["session", "session"]);
  assert.equal(ephemerals.size, 2);
  assert.equal(a.send(2, B, ping(9)), "sent");
  pump(2, { a, b });
  const [m] = events(b);
  assert.ok(m.type === "message" && toHex(m.publicKey) === toHex(A));
});

Deno.test("twin keys: a member presenting the sign-flipped twin of an allowed key is that member", () => {
  // The twin maps to the same Noise static key: the handshake proves both spellings equally.
  const real = fixedIdentity(1);
  const twin = { ...real, publicKey: twinOf(real.publicKey) };
  assert.notEqual(toHex(twin.publicKey), toHex(real.publicKey));
  assert.equal(toHex(staticKeyOf(twin.publicKey)), toHex(real.staticKey.publicKey));
  assert.equal(memberKey(twin.publicKey), memberKey(real.publicKey));
  // b allows exactly the real spelling.
  const b = endpoint(2, "s3cret", { allow: (k) => toHex(k) === toHex(real.publicKey) });
  const a1 = endpoint(1, "s3cret", { identity: twin });
  a1.connect(0, "b");
  pump(0, { a1, b });
  const first = events(b);
  assert.deepEqual(first.map((e) => e.type), ["session"]); // admitted, not refused
  assert.equal(first[0].type === "session" && toHex(first[0].publicKey), toHex(twin.publicKey));
  // The same member later shows its other spelling (new process, new port): still one member,
  // its session replaced (a rekey), reported under the spelling it presented first.
  const a2 = endpoint(1, "s3cret", { random: seededRandom("peer-1-again") });
  a2.connect(1, "b");
  pump(1, { a2, b });
  assert.deepEqual(events(a2).map((e) => e.type), ["session"]);
  const second = events(b);
  assert.equal(second.length, 1);
  if (second[0].type !== "session") throw new Error("expected a session");
  assert.equal(second[0].rekey, true);
  assert.equal(toHex(second[0].publicKey), toHex(twin.publicKey));
  assert.deepEqual(b.peers, [toHex(twin.publicKey)]);
  // Either spelling finds the session and sends to the member's current address.
  assert.equal(b.addressOf(real.publicKey), "a2");
  assert.equal(b.session(twin.publicKey), b.session(real.publicKey));
  assert.equal(b.send(2, real.publicKey, ping(9)), "sent");
  pump(2, { a2, b });
  const got = events(a2);
  assert.equal(got.length, 1);
  assert.equal(got[0].type === "message" && toHex(got[0].datagram), toHex(ping(9)));
  // A key that is not the twin of an allowed one is still refused.
  const c = endpoint(3);
  c.connect(3, "b");
  pump(3, { c, b });
  assert.deepEqual(events(b).map((e) => e.type), ["refused-key"]);
});
