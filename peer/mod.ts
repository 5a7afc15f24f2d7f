/**
 * @olaf/peer: join an Olaf room by name and talk to its members directly over UDP.
 *
 * Words: a *peer* is any node of the protocol (a `PeerRecord`); a *member*
 * is a peer of our room heard from directly and not timed out. The events
 * `peer-joined` / `peer-left` say a peer became / stopped being a member.
 *
 * Transport and time types (`NetAddress`, `Clock`, `DatagramBinder`, ...)
 * come from `@olaf/protocol/sans-io` and `@olaf/protocol/net`.
 *
 * @module
 */
export {
  DeliveryError,
  type NatClass, // issue 11
  type NatTraversalOptions, // issue 11
  type PathKind, // issue 11
  type PeerDropReason,
  type PeerErrorCode,
  type PeerEvent,
  PeerLeftError,
  type PeerLeftReason,
  PeerMachine,
  type PeerMachineOptions,
  type PeerMachineStats,
  type ReliableSendRefusal,
  type ReliableSendResult,
} from "./peer_machine.ts";
export type { Introduction, OlafJoinOptions, OlafJoinState } from "./_bootstrap_client.ts";
export {
  JoinError,
  type JoinErrorCode,
  joinRoom,
  type JoinRoomOptions,
  ReliableSendError,
  type ReliableSendOptions,
  type ReliableSendOutcome,
  Room,
  type RoomEventListener,
  type RoomEventMap,
  type RoomMessage,
} from "./room.ts";
export { parseHostPort, resolveHostPort } from "./address.ts";
export type { MemberRecord } from "./_membership.ts";
export {
  encodePublicKey,
  generateIdentity,
  type Identity,
  IdentityFileError,
  loadOrCreateIdentity,
  parsePublicKey,
} from "./identity.ts";
export type { PeerRecord } from "@olaf/protocol";

export { VERSION } from "./_version.ts";

if (import.meta.main) {
  const { main } = await import("./cli.ts");
  Deno.exit(await main(Deno.args));
}
