/**
 * Collector election: the Olaf member with the lowest id reports the room
 * to the bootstrap every heartbeat (`PEER_COLLECTOR`), and re-joins with
 * `JOIN_B` often enough for a deployed bootstrap to keep the room.
 */
import type { PeerRecord } from "@olaf/protocol";
import { byId, type Member, record } from "./_membership.ts";

/** The collector re-joins at least this often: deployed bootstraps forget rooms idle for 15 s. */
const JOIN_REFRESH_MS = 10_000;

/** Who collects, and what the collector sends each heartbeat. */
export class Collector {
  readonly #joinRefreshRounds: number;
  #rounds = 1;

  constructor(heartbeatMs: number) {
    this.#joinRefreshRounds = Math.max(1, Math.floor(JOIN_REFRESH_MS / heartbeatMs));
  }

  /**
   * Whether we hold the duty: lowest id among the Olaf members with a known
   * id (ties: lowest ip:port). Deployed members are left out: their empty
   * `PEER_COLLECTOR` does not even count as activity at a deployed bootstrap.
   * With `counts`, only members it accepts take part (issue 12: ids the
   * bootstrap issued, not ids a stranger claims).
   */
  static elected(
    self: PeerRecord | undefined,
    selfKey: string,
    members: Iterable<Member>,
    size: number,
    counts: (m: Member) => boolean = () => true,
  ): boolean {
    if (self === undefined || size === 0) return false;
    for (const m of members) {
      if (!m.olaf || m.id === 0 || !counts(m)) continue;
      if (m.id < self.id || (m.id === self.id && m.link.pathKey < selfKey)) return false;
    }
    return true;
  }

  /**
   * The collector's request this heartbeat: `JOIN_B` every ~10 s, or when
   * the bootstrap lost us or missed an answer; `PEER_COLLECTOR` otherwise.
   */
  nextRequest(rejoinNeeded: boolean, misses: number): "JOIN_B" | "PEER_COLLECTOR" {
    const refresh = this.#rounds++ % this.#joinRefreshRounds === 0;
    return refresh || rejoinNeeded || misses > 0 ? "JOIN_B" : "PEER_COLLECTOR";
  }

  /** Not the collector this heartbeat: a new collector reports first, then refreshes. */
  stepDown(): void {
    this.#rounds = 1;
  }

  /**
   * The member report: ourselves, then the oldest members that fit (unknown
   * ids last, as 0). With `vouched`, a member it refuses is reported with id
   * 0 (issue 12): the bootstrap keeps the id it issued, or issues a new one,
   * so a stranger's claimed id is never laundered into the bootstrap's list.
   */
  static report(
    self: PeerRecord,
    members: Iterable<Member>,
    fit: number,
    vouched: (m: Member) => boolean = () => true,
  ): PeerRecord[] {
    const sorted = [...members].sort(byId);
    return [
      self,
      ...sorted.slice(0, fit - 1).map((m) => vouched(m) ? record(m) : { ...record(m), id: 0 }),
    ];
  }
}
