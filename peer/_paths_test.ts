// PathTable on its own: the punch token of a bootstrap introduction lets a probe from an
// unlisted (LAN) address confirm a path; without it such a probe is answered but not taken.
import assert from "node:assert/strict";
import { addressKey } from "@olaf/protocol";
import { PathTable, takeIntroductions } from "./_paths.ts";

const bootstrap = { hostname: "203.0.113.1", port: 5000 };
const aPublic = { hostname: "198.51.100.1", port: 4000 };
const bPublic = { hostname: "198.51.100.1", port: 4001 }; // one NAT, no hairpinning
const aLan = { hostname: "10.1.0.2", port: 4000 };
const bLan = { hostname: "10.1.0.3", port: 4000 };
const token = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

function table(changes: string[]) {
  const t = new PathTable(
    {},
    (key) => key === addressKey(bootstrap.hostname, bootstrap.port),
    () => bootstrap,
    (key, path) => changes.push(`${key} ${path}`),
  );
  return t;
}

for (const withToken of [true, false]) {
  Deno.test(`paths: an introduction ${withToken ? "with" : "without"} a punch token`, () => {
    const changesA: string[] = [];
    const changesB: string[] = [];
    const a = table(changesA);
    const b = table(changesB);
    a.setSelf({ ip: aPublic.hostname, port: aPublic.port, id: 1 });
    b.setSelf({ ip: bPublic.hostname, port: bPublic.port, id: 2 });
    a.pollTransmit(); // the NAT_CHECKs
    b.pollTransmit();
    // The bootstrap told A of B's LAN address; B knows only A's public one.
    a.introduce(bPublic, [bLan], withToken ? token : undefined, 0);
    b.introduce(aPublic, [], withToken ? token : undefined, 0);
    a.handleTimeout(0);
    // A's probe to B's LAN address leaves from A's LAN address (same LAN, no NAT between).
    const probes = [];
    for (let t = a.pollTransmit(); t !== undefined; t = a.pollTransmit()) probes.push(t);
    const toLan = probes.find((t) => t.to.hostname === bLan.hostname)!;
    assert.ok(toLan, "LAN candidate probed");
    assert.equal(b.incoming(toLan.data, aLan, 1), undefined, "a probe is consumed");
    const reply = b.pollTransmit()!;
    assert.deepEqual(reply.to, aLan, "answered where it came from");
    a.incoming(reply.data, bLan, 2);
    assert.equal(a.kind(addressKey(bPublic.hostname, bPublic.port)), "lan", "A confirmed B's LAN");
    // B takes A's LAN address as A's path only with the token.
    const want = withToken ? "lan" : "direct";
    assert.equal(b.kind(addressKey(aPublic.hostname, aPublic.port)), want);
    // Datagrams from A's LAN address reach B's machine as A's public address (only with it).
    const handed = b.incoming(Uint8Array.of(0, 0, 0), aLan, 3)!;
    assert.deepEqual(handed.from, withToken ? aPublic : aLan);
  });
}

Deno.test("paths: introductions from the dialect's join client are punched at once, LAN first", () => {
  const t = table([]);
  t.setSelf({ ip: aPublic.hostname, port: aPublic.port, id: 1 });
  t.pollTransmit(); // NAT_CHECK
  const newcomer = {
    record: { ip: bPublic.hostname, port: bPublic.port },
    olaf: true,
    candidates: [{ ip: bLan.hostname, port: bLan.port }],
    nat: "dependent" as const,
    introduced: false,
  };
  const queue = [{ peer: newcomer, punchToken: token }];
  const v1 = { ...newcomer, record: { ip: "192.0.2.9", port: 9 }, olaf: false };
  takeIntroductions(
    t,
    {
      introductions: { shift: () => queue.shift() },
      members: new Map([["192.0.2.9:9", v1]]),
      punchToken: undefined,
    },
    0,
    true,
  );
  assert.equal(queue.length, 0, "the queue was taken");
  t.handleTimeout(0);
  const out = [];
  for (let x = t.pollTransmit(); x !== undefined; x = t.pollTransmit()) out.push(x);
  assert.deepEqual(out.map((x) => x.to.hostname), [bLan.hostname, bPublic.hostname], "LAN first");
  assert.ok(out.every((x) => x.data.subarray(26, 34).every((b, i) => b === token[i])), "tokened");
  assert.ok(!out.some((x) => x.to.hostname === "192.0.2.9"), "v1 members are not probed");
});
