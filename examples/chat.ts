// A P2P chat in ten lines: deno run -A examples/chat.ts [BOOTSTRAP_HOST:PORT] [ROOM]
import { joinRoom } from "@olaf/peer";

const [bootstrap = "127.0.0.1:5000", name = "lobby"] = Deno.args;
await using room = await joinRoom(name, { bootstraps: [bootstrap] }).catch((error) => {
  console.error(`chat: ${error.message}`); // e.g. no answer from the bootstrap: one line, exit 1
  Deno.exit(1);
});
console.log(`joined ${name} as ${room.self.ip}:${room.self.port}`);
room.onPeerJoin((peer) => console.log(`+ ${peer.ip}:${peer.port}`));
room.onPeerLeave((peer, reason) => console.log(`- ${peer.ip}:${peer.port} (${reason})`));
room.onMessage((msg) => console.log(`<${msg.from.ip}:${msg.from.port}> ${msg.text()}`));
Deno.addSignalListener("SIGINT", () => room.leave().then(() => Deno.exit(0))); // Ctrl-C: bye too
let rest = ""; // a line can be cut between two chunks of input
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  const lines = (rest + chunk).split("\n");
  rest = lines.pop()!;
  for (const line of lines) if (line.trim()) room.send(line);
}
if (rest.trim()) room.send(rest); // end of input: `await using` leaves the room (bye to everyone)
