// PathTable on its own: the punch token of a bootstrap introduction lets a probe from an
// unlisted (LAN) address confirm a path; without it such a probe is answered but not taken.
import assert from "node:assert/strict";
import { addressKey } from "@olaf/protocol";
import { PathTable } from "./_paths.ts";

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
