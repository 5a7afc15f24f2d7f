// Temporary local copy of the control plane's view types (control/bootstrap_view.ts),
// until @olaf/control exports them; the shapes are identical.
export interface BootstrapView {
  stats(): BootstrapStats;
  listRooms(options: { offset: number; limit: number }): { total: number; rooms: RoomSummary[] };
  room(name: string): RoomDetail | undefined;
  subscribe(listener: (event: BootstrapEvent) => void): () => void;
}
export interface BootstrapStats {
  startedAt: number;
  uptimeMs: number;
  rooms: number;
  members: number;
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  drops: Record<string, number>;
}
export interface RoomSummary {
  name: string;
  memberCount: number;
  createdAt: number;
  lastActivity: number;
}
export interface MemberInfo {
  ip: string;
  port: number;
  id: number;
  lastSeen: number;
}
export interface RoomDetail extends RoomSummary {
  members: MemberInfo[];
}
export type BootstrapEvent =
  | { type: "room-created"; room: string; at: number }
  | { type: "room-expired"; room: string; at: number }
  | {
    type: "member-joined";
    room: string;
    member: { ip: string; port: number; id: number };
    at: number;
  }
  | {
    type: "member-left";
    room: string;
    member: { ip: string; port: number; id: number };
    reason: "reconciled" | "expired" | "room-expired";
    at: number;
  };
