// Compile-time guard: @olaf/control declares the view types by structure (see
// control/bootstrap_view.ts); they must stay exactly @olaf/bootstrap's.
import assert from "node:assert/strict";
import type * as Control from "@olaf/control";
import type * as Own from "./types.ts";

/** `true` only when `A` and `B` are mutually assignable. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const checks: {
  event: Same<Own.BootstrapEvent, Control.BootstrapEvent>;
  stats: Same<Own.BootstrapStats, Control.BootstrapStats>;
  summary: Same<Own.RoomSummary, Control.RoomSummary>;
  detail: Same<Own.RoomDetail, Control.RoomDetail>;
  member: Same<Own.MemberInfo, Control.MemberInfo>;
  view: Same<Own.BootstrapView, Control.BootstrapView>;
} = { event: true, stats: true, summary: true, detail: true, member: true, view: true };

Deno.test("@olaf/control's view types are @olaf/bootstrap's", () => {
  assert.ok(Object.values(checks).every((ok) => ok));
});
