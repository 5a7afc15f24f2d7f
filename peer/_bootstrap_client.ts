/**
 * The peer's side of the bootstrap protocol: ranking of the bootstraps
 * (rendezvous hashing of the room name), failover after unanswered
 * requests, the way back to the preferred one, and the `JOIN_B` /
 * `PEER_COLLECTOR` requests themselves.
 */
import { type AddressKey, addressKey, type PeerRecord } from "@olaf/protocol";
import type { NetAddress } from "@olaf/protocol/sans-io";
import { Frame } from "./_link.ts";
import { rendezvousOrder } from "./_util.ts";

/** Bootstrap selection and request bookkeeping for one room. */
export class BootstrapClient {
  readonly #room: string;
  readonly #list: NetAddress[];
  readonly #keys: Set<AddressKey>;
  readonly #maxMisses: number;
  readonly #retryMs: number;
  #index = 0;
  #fallbackSince = 0;
  #awaitingReply = false;
  #misses = 0;
  /** The bootstrap does not list us (it forgot the room): the next request is a `JOIN_B`. */
  rejoinNeeded = false;
  #roomFullReported = false;
  #unreachableReported = false;

  constructor(room: string, bootstraps: readonly NetAddress[], misses: number, retryMs: number) {
    this.#room = room;
    this.#list = rendezvousOrder(room, bootstraps);
    this.#keys = new Set(this.#list.map((b) => addressKey(b.hostname, b.port)));
    this.#maxMisses = misses;
    this.#retryMs = retryMs;
  }

  /** The bootstrap in use. */
  get current(): NetAddress {
    return this.#list[this.#index]!;
  }

  /** Unanswered requests in a row to the current bootstrap. */
  get misses(): number {
    return this.#misses;
  }

  /** Whether `pathKey` is one of the bootstraps. */
  isBootstrap(pathKey: AddressKey): boolean {
    return this.#keys.has(pathKey);
  }

  /** A datagram came from bootstrap `pathKey`: an answer, if it is the current one. */
  heardFrom(pathKey: AddressKey): void {
    const current = this.current;
    if (pathKey !== addressKey(current.hostname, current.port)) return;
    this.#awaitingReply = false;
    this.#misses = 0;
    this.#unreachableReported = false;
  }

  /**
   * A `ROOM_FULL`: the description to report, once until the next `BOOTSTRAP_R`.
   *
   * @returns The message, or `undefined` when it was reported already.
   */
  roomFull(pathKey: AddressKey): string | undefined {
    if (this.#roomFullReported) return undefined;
    this.#roomFullReported = true;
    return `bootstrap ${pathKey} refused room ${JSON.stringify(this.#room)}: ROOM_FULL ` +
      "(it is at its room or member limit)";
  }

  /** A `BOOTSTRAP_R` arrived: a later `ROOM_FULL` is news again. */
  replied(): void {
    this.#roomFullReported = false;
  }

  /**
   * Once a heartbeat: counts an unanswered request, fails over after too
   * many, and returns to the preferred bootstrap after the retry time.
   *
   * @returns A `bootstrap-unreachable` description to report, if any.
   */
  track(now: number): string | undefined {
    if (this.#awaitingReply) {
      this.#awaitingReply = false;
      this.#misses++;
    }
    if (this.#misses >= this.#maxMisses) {
      const dead = this.current;
      const many = this.#list.length > 1;
      this.#misses = 0;
      if (many) {
        this.#index = (this.#index + 1) % this.#list.length;
        this.#fallbackSince = now;
      }
      if (this.#unreachableReported) return undefined;
      this.#unreachableReported = !many;
      const next = this.current;
      return `bootstrap ${dead.hostname}:${dead.port} did not answer ` +
        `${this.#maxMisses} requests in a row` +
        (many ? `; trying ${next.hostname}:${next.port}` : "");
    }
    if (this.#index !== 0 && now - this.#fallbackSince >= this.#retryMs) {
      this.#index = 0; // come back to the preferred bootstrap: it may be up again
      this.#misses = 0;
    }
    return undefined;
  }

  /**
   * A request to the current bootstrap (an answer is now awaited).
   *
   * @param peers `JOIN_B`: our record once known; `PEER_COLLECTOR`: the member report.
   */
  request(
    type: "JOIN_B" | "PEER_COLLECTOR",
    peers: PeerRecord[],
  ): { frame: Frame; to: NetAddress } {
    if (type === "JOIN_B") this.rejoinNeeded = false;
    this.#awaitingReply = true;
    return { frame: new Frame({ type, peers, room: this.#room }), to: this.current };
  }
}
