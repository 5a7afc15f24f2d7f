import assert from "node:assert/strict";

interface DocSymbol {
  name: string;
  declarations: { def?: { methods?: { name: string }[]; properties?: { name: string }[] } }[];
}

/** The public surface as `deno doc` shows it (types included). */
async function publicSymbols(): Promise<DocSymbol[]> {
  const entry = new URL("./mod.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry.href],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  return doc.nodes[entry.href].symbols;
}

Deno.test("@olaf/peer exports its own API only: no net types, no Room internals", async () => {
  const symbols = await publicSymbols();
  assert.deepEqual(symbols.map((s) => s.name).sort(), [
    "DeliveryError",
    "Identity",
    "IdentityFileError",
    "Introduction",
    "JoinError",
    "JoinErrorCode",
    "JoinRoomOptions",
    "MemberRecord",
    "NatClass", // issue 11
    "NatTraversalOptions", // issue 11
    "OlafJoinOptions",
    "OlafJoinState",
    "PathKind", // issue 11
    "PeerDropReason",
    "PeerErrorCode",
    "PeerEvent",
    "PeerLeftError",
    "PeerLeftReason",
    "PeerMachine",
    "PeerMachineOptions",
    "PeerMachineStats",
    "PeerRecord",
    "ReliableSendError",
    "ReliableSendOptions",
    "ReliableSendOutcome",
    "ReliableSendRefusal",
    "ReliableSendResult",
    "Room",
    "RoomEventListener",
    "RoomEventMap",
    "RoomMessage",
    "VERSION",
    "encodePublicKey",
    "generateIdentity",
    "joinRoom",
    "loadOrCreateIdentity",
    "parseHostPort",
    "parsePublicKey",
    "resolveHostPort",
  ]);
  const room = symbols.find((s) => s.name === "Room")!;
  const members = room.declarations.flatMap((d) => [
    ...(d.def?.methods ?? []),
    ...(d.def?.properties ?? []),
  ]).map((m) => m.name);
  assert.ok(members.includes("leave"));
  for (const name of members) assert.ok(!name.startsWith("_"), `Room.${name} is public`);
});
